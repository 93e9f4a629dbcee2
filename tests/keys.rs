//! `backscatter keys …` end to end: the real binary on a keyring in a temp dir.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `backscatter ARGS…` with a clean environment for the keyring lookup.
fn backscatter(env: &[(&str, &Path)], args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backscatter"));
    // No config or keyring of the machine's may leak in: the tests set what they need.
    for name in ["XDG_DATA_HOME", "XDG_CONFIG_HOME", "BACKSCATTER_CONFIG", "RUST_LOG"] {
        command.env_remove(name);
    }
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("run the backscatter binary");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A temp dir with a keyring path inside it (not yet created).
struct Fixture {
    _dir: tempfile::TempDir,
    keyring: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let keyring = dir.path().join("conf/keyring.toml");
        Fixture { _dir: dir, keyring }
    }

    /// `backscatter keys ARGS… --keyring K`.
    fn keys(&self, args: &[&str]) -> Run {
        let mut all = vec!["keys"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--keyring", self.keyring.to_str().unwrap()]);
        backscatter(&[], &all)
    }

    /// The `secret = "…"` values in the keyring file.
    fn secrets(&self) -> Vec<String> {
        let text = fs::read_to_string(&self.keyring).unwrap();
        text.lines().filter_map(|l| l.strip_prefix("secret = \"")?.strip_suffix('"').map(String::from)).collect()
    }
}

#[test]
fn init_list_tag_and_verify() {
    let f = Fixture::new();
    let init = f.keys(&["init", "--at", "2025-09-24"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert_eq!(fs::metadata(&f.keyring).unwrap().permissions().mode() & 0o777, 0o600);
    let secrets = f.secrets();
    assert_eq!(secrets.len(), 1);
    assert_eq!(secrets[0].len(), 43, "32 random bytes as unpadded base64url");

    let list = f.keys(&["list", "--at", "2025-09-25"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("0   2025-09-24  -           signing"), "{}", list.stdout);
    for out in [&init.stdout, &init.stderr, &list.stdout, &list.stderr] {
        assert!(!out.contains(&secrets[0]), "secret printed: {out}");
    }

    let tag = f.keys(&["tag", "user@example.com", "--at", "2025-09-24"]);
    assert_eq!(tag.code, 0, "{}", tag.stderr);
    let tagged = tag.stdout.trim();
    assert!(tagged.starts_with("prvs=0362") && tagged.ends_with("=user@example.com"), "{tagged}");

    let verify = |tagged: &str, at: &str| {
        let run = f.keys(&["verify", tagged, "--at", at]);
        (run.code, run.stdout.trim().to_string())
    };
    assert_eq!(verify(tagged, "2025-09-24"), (0, "valid key=0".into()));
    assert_eq!(verify(tagged, "2025-10-01"), (0, "valid key=0".into()));
    assert_eq!(verify(tagged, "2025-10-02"), (1, "expired".into()));
    assert_eq!(verify(tagged, "2025-09-23"), (1, "expired".into()));
    let forged = format!("prvs=0362000000={}", tagged.rsplit_once('=').unwrap().1);
    assert_eq!(verify(&forged, "2025-09-24"), (1, "forged".into()));
    assert_eq!(verify(&tagged.replacen("prvs=0", "prvs=7", 1), "2025-09-24"), (1, "unknown-key".into()));
    assert_eq!(verify("user@example.com", "2025-09-24"), (1, "not-tagged".into()));
}

#[test]
fn tag_is_exims_primitive() {
    // Like Exim's ${prvs}: the address is tagged exactly as given (case kept), even when it is
    // already tagged.
    let f = Fixture::new();
    assert_eq!(f.keys(&["init", "--at", "2025-09-24"]).code, 0);
    let once = f.keys(&["tag", "User@Example.COM", "--at", "2025-09-24"]).stdout;
    assert!(once.trim().ends_with("=User@Example.COM"), "{once}");
    let twice = f.keys(&["tag", once.trim(), "--at", "2025-09-24"]).stdout;
    assert!(twice.trim().ends_with(&format!("={}", once.trim())), "{twice}");
}

#[test]
fn rotate_keeps_old_tags_valid_then_prune_removes_the_key() {
    let f = Fixture::new();
    assert_eq!(f.keys(&["init", "--at", "2025-09-24"]).code, 0);
    let old = f.keys(&["tag", "a@example.com", "--at", "2025-09-24"]).stdout.trim().to_string();

    let rotate = f.keys(&["rotate", "--at", "2025-09-25"]);
    assert_eq!(rotate.code, 0, "{}", rotate.stderr);
    assert!(rotate.stdout.contains("key 1 created 2025-09-25"), "{}", rotate.stdout);
    assert!(
        rotate.stdout.contains("key 0 retired 2025-09-25: it still verifies until 2025-10-02"),
        "{}",
        rotate.stdout
    );
    assert_eq!(fs::metadata(&f.keyring).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(f.secrets().len(), 2);

    let verify_old = f.keys(&["verify", &old, "--at", "2025-09-30"]);
    assert_eq!((verify_old.code, verify_old.stdout.trim()), (0, "valid key=0"));
    let new = f.keys(&["tag", "a@example.com", "--at", "2025-09-25"]).stdout;
    assert!(new.starts_with("prvs=1"), "the new key signs: {new}");

    let list = f.keys(&["list", "--at", "2025-09-30"]).stdout;
    assert!(list.contains("0   2025-09-24  2025-09-25  verifying until 2025-10-02"), "{list}");
    assert!(list.contains("1   2025-09-25  -           signing"), "{list}");

    let early = f.keys(&["prune", "--at", "2025-10-02"]);
    assert_eq!(early.code, 0);
    assert!(early.stdout.contains("nothing to prune"), "{}", early.stdout);
    let prune = f.keys(&["prune", "--at", "2025-10-03"]);
    assert_eq!(prune.code, 0, "{}", prune.stderr);
    assert_eq!(prune.stdout.trim(), "removed key 0 (created 2025-09-24, retired 2025-09-25)");
    assert_eq!(f.secrets().len(), 1);
    let gone = f.keys(&["verify", &old, "--at", "2025-10-01"]);
    assert_eq!((gone.code, gone.stdout.trim()), (1, "unknown-key"));
}

#[test]
fn rotate_refuses_an_id_still_held() {
    let f = Fixture::new();
    assert_eq!(f.keys(&["init", "--at", "2025-01-01"]).code, 0);
    for n in 1..10 {
        let day = format!("2025-01-{:02}", n + 1);
        assert_eq!(f.keys(&["rotate", "--at", &day]).code, 0, "rotation {n}");
    }
    let refused = f.keys(&["rotate", "--at", "2025-01-11"]);
    assert_eq!(refused.code, 78, "{}", refused.stderr);
    assert!(refused.stderr.contains("run `backscatter keys prune`"), "{}", refused.stderr);
    assert_eq!(f.secrets().len(), 10, "a refused rotation writes nothing");
    assert_eq!(f.keys(&["prune", "--at", "2025-01-10"]).code, 0);
    assert_eq!(f.keys(&["rotate", "--at", "2025-01-11"]).code, 0);
}

#[test]
fn loose_permissions_are_refused_with_the_fix() {
    let f = Fixture::new();
    assert_eq!(f.keys(&["init"]).code, 0);
    for mode in [0o644, 0o640, 0o604] {
        fs::set_permissions(&f.keyring, fs::Permissions::from_mode(mode)).unwrap();
        for args in [&["list"][..], &["tag", "a@example.com"], &["verify", "prvs=0362aa5fa4=a@example.com"]] {
            let run = f.keys(args);
            assert_eq!(run.code, 78, "{args:?} at mode {mode:o}");
            let expected = format!(
                "keyring {} is readable or writable by group/other (mode {mode:04o}): run `chmod 600 {}`",
                f.keyring.display(),
                f.keyring.display()
            );
            assert!(run.stderr.contains(&expected), "{}", run.stderr);
            assert!(run.stdout.is_empty());
        }
    }
}

#[test]
fn init_twice_is_refused_and_the_keyring_kept() {
    let f = Fixture::new();
    assert_eq!(f.keys(&["init"]).code, 0);
    let before = fs::read(&f.keyring).unwrap();
    let again = f.keys(&["init"]);
    assert_eq!(again.code, 73, "{}", again.stderr);
    assert!(again.stderr.contains(&format!("keyring {} already exists", f.keyring.display())), "{}", again.stderr);
    assert_eq!(fs::read(&f.keyring).unwrap(), before);
}

#[test]
fn passphrases_shorter_than_eight_are_refused() {
    let f = Fixture::new();
    let pass = f.keyring.with_file_name("pass");
    fs::create_dir_all(pass.parent().unwrap()).unwrap();
    fs::write(&pass, "seven77\n").unwrap();
    let run = f.keys(&["init", "--passphrase-file", pass.to_str().unwrap()]);
    assert_eq!(run.code, 65, "{}", run.stderr);
    assert!(run.stderr.contains("has 7 characters; it must have at least 8"), "{}", run.stderr);
    assert!(!f.keyring.exists());
}

#[test]
fn a_passphrase_keyring_tags_like_exim() {
    // exim_vectors.tsv: user@example.com, secret "pässwörd", key 0, 2025-09-24.
    let f = Fixture::new();
    let pass = f.keyring.with_file_name("pass");
    fs::create_dir_all(pass.parent().unwrap()).unwrap();
    fs::write(&pass, "pässwörd\nignored second line\n").unwrap();
    let init = f.keys(&["init", "--passphrase-file", pass.to_str().unwrap(), "--at", "2025-09-24"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert!(init.stderr.contains("shorter than 16 characters"), "a weak passphrase warns: {}", init.stderr);
    assert!(!init.stderr.contains("pässwörd") && !init.stdout.contains("pässwörd"));
    let tag = f.keys(&["tag", "user@example.com", "--at", "2025-09-24"]);
    assert_eq!(tag.stdout.trim(), "prvs=0362350c32=user@example.com");
}

#[test]
fn missing_keyring_says_how_to_make_one() {
    let f = Fixture::new();
    let run = f.keys(&["list"]);
    assert_eq!(run.code, 78);
    assert!(run.stderr.contains("run `backscatter keys init`"), "{}", run.stderr);
}

#[test]
fn default_keyring_lives_under_xdg_data_home() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("XDG_DATA_HOME", dir.path()), ("XDG_CONFIG_HOME", dir.path()), ("HOME", Path::new("/nonexistent"))];
    let run = backscatter(&env, &["keys", "init"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(dir.path().join("backscatter/keyring.toml").exists());
    assert_eq!(fs::metadata(dir.path().join("backscatter")).unwrap().permissions().mode() & 0o777, 0o700);

    let home = tempfile::tempdir().unwrap();
    let run = backscatter(&[("HOME", home.path())], &["keys", "init"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(home.path().join(".local/share/backscatter/keyring.toml").exists());
}

#[test]
fn the_configs_keyring_is_used_and_the_flag_beats_it() {
    let dir = tempfile::tempdir().unwrap();
    let from_config = dir.path().join("from-config.toml");
    let config = dir.path().join("config.toml");
    fs::write(&config, format!("keyring = \"{}\"\n", from_config.display())).unwrap();
    let env = [("HOME", dir.path())];
    let run = backscatter(&env, &["-c", config.to_str().unwrap(), "keys", "init"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(from_config.exists());

    let flag = dir.path().join("flag.toml");
    let run = backscatter(&env, &["-c", config.to_str().unwrap(), "keys", "init", "--keyring", flag.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(flag.exists());

    // A broken config stops keyring commands that need it, with the config's exit code…
    fs::write(&config, "keyring = 1.5\n").unwrap();
    let run = backscatter(&env, &["-c", config.to_str().unwrap(), "keys", "list"]);
    assert_eq!(run.code, 78, "{}", run.stderr);
    // …but not when --keyring names the file.
    let run = backscatter(&env, &["-c", config.to_str().unwrap(), "keys", "list", "--keyring", flag.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn exim_export_says_it_holds_secrets() {
    let f = Fixture::new();
    assert_eq!(f.keys(&["init"]).code, 0);
    let run = f.keys(&["export", "--exim"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("THIS OUTPUT CONTAINS SECRETS"), "{}", run.stdout);
    assert!(run.stdout.contains("BACKSCATTER_PRVS_SECRET = ${extract{k$prvscheck_keynum}{k0=\""), "{}", run.stdout);
    assert!(run.stdout.contains("${prvscheck{$local_part@$domain}{BACKSCATTER_PRVS_SECRET}{1}}"));
}
