//! Security of the daemon's process: started as root with `user = …` it becomes that user
//! before it opens anything; an unknown user is a config error; `password_command` runs
//! without a shell. (Keyring file and directory permissions: `src/keys/tests.rs`.)

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backscatter::day::Day;
use backscatter::keys::Keyring;
use support::{wait_for, Daemon, Dovecot};

fn today() -> Day {
    Day::from_unix_seconds(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64)
}

/// The uid lines of `/proc/PID/status`: real, effective, saved, filesystem.
fn uids(pid: u32) -> Vec<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap_or_default();
    line.split_whitespace().skip(1).filter_map(|n| n.parse().ok()).collect()
}

fn chown_nobody(path: &Path) {
    assert!(Command::new("chown").args(["-R", "nobody:nogroup"]).arg(path).status().unwrap().success());
}

#[test]
fn started_as_root_watch_becomes_the_configured_user_before_opening_anything() {
    assert!(nix_is_root(), "this test needs root, as CI has");
    let dir = support::open_temp_dir();
    let root = dir.path();
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join("Maildir").join(sub)).unwrap();
    }
    let keyring = root.join("keys/keyring.toml");
    fs::create_dir_all(root.join("keys")).unwrap();
    Keyring::new(&keyring, Day(today().0 - 60), "privileges-test-secret-43-characters-xxxxx".into()).create().unwrap();
    let config = root.join("config.toml");
    fs::write(
        &config,
        format!(
            "user = \"nobody\"\nkeyring = \"{0}/keys/keyring.toml\"\nstate_dir = \"{0}/state\"\n[policy]\nmode = \"enforce\"\ngrace_days = 0\n[[maildir]]\npath = \"{0}/Maildir\"\n",
            root.display()
        ),
    )
    .unwrap();
    fs::create_dir_all(root.join("state")).unwrap();
    chown_nobody(root);
    fs::set_permissions(root.join("keys"), fs::Permissions::from_mode(0o700)).unwrap();
    let log = root.join("watch.log");
    let mut watch = Daemon::spawn(
        Command::new(env!("CARGO_BIN_EXE_backscatter"))
            .arg("-c")
            .arg(&config)
            .args(["-v", "watch"])
            .stderr(fs::File::create(&log).unwrap()),
    );
    wait_for("watch to start", Duration::from_secs(10), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("watch started"))
    });
    assert_eq!(uids(watch.0.id()), [65534; 4], "every uid is nobody's");
    // It works as nobody: a forged bounce moves, and the journal is nobody's.
    let bounce = support::forged_bounce(&support::now_date());
    fs::write(root.join("Maildir/tmp/1.b.host"), bounce).unwrap();
    chown_nobody(&root.join("Maildir"));
    fs::rename(root.join("Maildir/tmp/1.b.host"), root.join("Maildir/new/1.b.host")).unwrap();
    wait_for("the move", Duration::from_secs(10), || root.join("Maildir/.Backscatter/cur/1.b.host:2,").exists());
    use std::os::unix::fs::MetadataExt;
    assert_eq!(fs::metadata(root.join("state/journal.jsonl")).unwrap().uid(), 65534);
    assert_eq!(watch.terminate().code(), Some(0));
    let log = fs::read_to_string(&log).unwrap();
    assert!(log.contains("dropped root"), "{log}");
}

#[test]
fn an_unknown_user_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    fs::write(&config, format!("user = \"no-such-user-here\"\nstate_dir = \"{}/state\"\n", dir.path().display()))
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_backscatter")).arg("-c").arg(&config).arg("watch").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("no-such-user-here") && stderr.contains("no such user"), "{stderr}");
}

#[test]
fn password_command_runs_without_a_shell() {
    let dovecot = Dovecot::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("expanded");
    let config = dir.path().join("config.toml");
    fs::write(
        &config,
        format!(
            "state_dir = \"{0}/state\"\n[[imap]]\nname = \"a\"\nhost = \"127.0.0.1\"\nport = {1}\ntls = \"none\"\nusername = \"alice\"\npassword_command = [\"printf\", \"%s\\\\n\", \"$(touch {2})\"]\n",
            dir.path().display(),
            dovecot.port,
            mark.display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_backscatter"))
        .arg("-c")
        .arg(&config)
        .args(["scan", "--imap", "a", "--dry-run"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The password is the literal text, so the login is refused; nothing was expanded.
    assert_eq!(out.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("login refused"), "{stderr}");
    assert!(!mark.exists(), "the argument was given to a shell");
}

fn nix_is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
}
