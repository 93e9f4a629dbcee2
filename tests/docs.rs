//! `backscatter man` and `backscatter completions`: the real binary's man page names every
//! command `--help` lists and renders through man(1) without a troff warning; the bash script
//! loads in a real bash and completes commands and their flags; zsh and fish scripts name every
//! command.

use std::process::Command;

fn backscatter(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_backscatter")).args(args).output().expect("the binary runs");
    assert!(out.status.success(), "backscatter {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The commands `backscatter --help` lists (the "Commands:" block), less `help`: a source
/// independent of the generators under test.
fn commands() -> Vec<String> {
    let help = backscatter(&["--help"]);
    let block = help.split("Commands:\n").nth(1).expect("a Commands: block");
    let names: Vec<String> = block
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_owned)
        .collect();
    assert!(names.len() >= 10 && names.iter().any(|n| n == "scan"), "{names:?}");
    names
}

#[test]
fn man_page_names_every_command_and_renders_cleanly() {
    let page = backscatter(&["man"]);
    assert!(page.contains(".TH backscatter 1"), "{page}");
    for name in commands() {
        assert!(page.contains(&format!("backscatter\\-{name}(1)")), "the man page misses {name}");
    }
    for section in [".SH SYNOPSIS", ".SH OPTIONS", ".SH FILES", ".SH EXIT STATUS"] {
        assert!(page.contains(section), "no {section}");
    }
    assert!(page.is_ascii(), "non-ASCII left in the roff");

    let tmp = tempfile::tempdir().expect("temp dir");
    let file = tmp.path().join("backscatter.1");
    std::fs::write(&file, &page).expect("page written");
    let out = Command::new("man")
        .arg("-l")
        .arg(&file)
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_STDERR", "1")
        .output()
        .expect("man(1) runs (Debian package man-db)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !stderr.contains("warning"), "man -l: {stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("EXIT STATUS") && text.contains("EX_TEMPFAIL"), "{text}");
}

#[test]
fn man_dir_writes_a_page_per_command() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join("man1");
    backscatter(&["man", "--dir", dir.to_str().expect("UTF-8 path")]);
    for name in commands() {
        let page = std::fs::read_to_string(dir.join(format!("backscatter-{name}.1"))).expect("a page per command");
        assert!(page.contains(".SH SYNOPSIS"), "{name}");
    }
    assert!(dir.join("backscatter-keys-rotate.1").is_file(), "nested commands get pages too");
    assert!(dir.join("backscatter.1").is_file());
}

/// Runs the bash completion for the words typed so far (the last one being completed) in a real
/// bash and returns the candidates.
fn complete_in_bash(script: &str, words: &[&str]) -> Vec<String> {
    let words_quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "set -e\n{script}\ncomplete -p backscatter >/dev/null\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\n\
         COMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
         _backscatter backscatter \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words_quoted.join(" "),
        cword = words.len() - 1,
    );
    let out = Command::new("bash").arg("-c").arg(program).output().expect("bash runs");
    assert!(out.status.success(), "bash: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completion_loads_and_completes() {
    let script = backscatter(&["completions", "bash"]);
    let all = complete_in_bash(&script, &["backscatter", ""]);
    for name in commands() {
        assert!(all.contains(&name), "{name} not offered: {all:?}");
    }
    let c = complete_in_bash(&script, &["backscatter", "c"]);
    let mut c_sorted = c.clone();
    c_sorted.sort();
    assert_eq!(c_sorted, ["check", "classify", "completions", "config"]);
    let scan = complete_in_bash(&script, &["backscatter", "scan", "--d"]);
    assert_eq!(scan, ["--dry-run"]);
    let keys = complete_in_bash(&script, &["backscatter", "keys", "ro"]);
    assert_eq!(keys, ["rotate"]);
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    for shell in ["zsh", "fish"] {
        let script = backscatter(&["completions", shell]);
        for name in commands() {
            assert!(script.contains(name.as_str()), "{shell}: {name} missing");
        }
    }
    assert!(backscatter(&["completions", "zsh"]).starts_with("#compdef backscatter"));
}
