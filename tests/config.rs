//! `backscatter config check|describe`, run as the real binary.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `backscatter ARGS` with a clean config environment: no $BACKSCATTER_CONFIG, and
/// $XDG_CONFIG_HOME and $HOME in `home`, plus `vars`.
fn run(home: &Path, vars: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backscatter"));
    command.args(args).env_remove("BACKSCATTER_CONFIG").env("HOME", home).env("XDG_CONFIG_HOME", home.join("xdg"));
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().expect("run backscatter")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn describe_prints_a_config_that_check_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let described = run(dir.path(), &[], &["config", "describe"]);
    assert!(described.status.success());
    assert_eq!(text(&described.stdout), include_str!("../config/backscatter.toml"));
    let path = dir.path().join("example.toml");
    std::fs::write(&path, &described.stdout).expect("write");
    let checked = run(dir.path(), &[], &["config", "check", path.to_str().expect("utf-8 path")]);
    assert_eq!(checked.status.code(), Some(0), "{}", text(&checked.stderr));
    assert_eq!(text(&checked.stdout), format!("{}: ok\n", path.display()));
}

#[test]
fn a_bad_file_exits_1_with_every_problem() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "polcy = 1\n[policy]\nmode = \"enforcing\"\n[[imap]]\nport = 0\n").expect("write");
    let out = run(dir.path(), &[], &["config", "check", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let p = path.display();
    for expected in [
        format!("{p}:1: unknown key `polcy` in [root] — did you mean `policy`?"),
        format!("{p}:3: policy.mode = \"enforcing\" is not a mode — use \"monitor\" or \"enforce\""),
        format!("{p}:4: [[imap]] has no host — "),
        format!("{p}:4: [[imap]] has no username — "),
        format!("{p}:4: [[imap]] has no password or token source — "),
        format!("{p}:5: imap.port = 0 is out of range — use a port from 1 to 65535"),
        format!("{p}: 6 problems"),
    ] {
        assert!(stderr.contains(&expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(out.stdout.is_empty());
}

#[test]
fn backscatter_config_is_honoured_and_c_beats_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("good.toml");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&good, "[policy]\nmode = \"monitor\"\n").expect("write");
    std::fs::write(&bad, "[policy]\nmode = \"loud\"\n").expect("write");

    let from_env = run(dir.path(), &[("BACKSCATTER_CONFIG", &bad)], &["config", "check"]);
    assert_eq!(from_env.status.code(), Some(1));
    assert!(text(&from_env.stderr).contains(&format!("{}:2: policy.mode = \"loud\"", bad.display())));

    let good_arg = good.to_str().expect("utf-8 path");
    let from_c = run(dir.path(), &[("BACKSCATTER_CONFIG", &bad)], &["-c", good_arg, "config", "check"]);
    assert_eq!(from_c.status.code(), Some(0), "{}", text(&from_c.stderr));
    assert_eq!(text(&from_c.stdout), format!("{}: ok\n", good.display()));
}

#[test]
fn the_xdg_config_is_found() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("xdg").join("backscatter").join("config.toml");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(&path, "keyring = \"~/keys.toml\"\n").expect("write");
    let out = run(dir.path(), &[], &["config", "check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{}: ok\n", path.display()));
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nope.toml");
    let out = run(dir.path(), &[], &["config", "check", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!("cannot read config {}: ", path.display())), "{}", text(&out.stderr));
}
