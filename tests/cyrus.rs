//! The IMAP store against a real Cyrus IMAP 3.6, a server unlike Dovecot: Debian's default
//! personal namespace `INBOX.` (a top-level CREATE is refused), `altnamespace`,
//! `unixhierarchysep` (`INBOX/…`), MOVE and UIDPLUS suppressed, a SPECIAL-USE `\Junk` folder, and
//! a CREATE and a login the server refuses. Each through the real binary — `scan`, `scan --dry-run`,
//! `restore`, `watch` — and checked by LISTing the folders afterwards.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::cyrus::Cyrus;
use support::{wait_for, Daemon};

/// A real bounce (the ndr fixture) whose own Message-ID is `<name@example.net>`.
fn bounce(name: &str) -> String {
    let raw =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ndr/001.eml")).unwrap();
    let raw = raw.replacen(
        "Message-Id: <201310160515.r9G5FZh9018575@smtpgw.example.jp>",
        &format!("Message-ID: <{name}@example.net>"),
        1,
    );
    // IMAP wants CRLF line ends.
    raw.replace("\r\n", "\n").replace('\n', "\r\n")
}

fn ordinary(name: &str) -> String {
    format!("From: bob@example.net\r\nTo: alice@example.com\r\nSubject: lunch\r\nMessage-ID: <{name}@example.net>\r\n\r\nNoon?\r\n")
}

/// A config moving every bounce (`all_bounces`: no keyring needed) into `folder`, with one
/// `[[imap]]` account per user on `cyrus`, named as the user; state in `DIR/state`.
fn config(cyrus: &Cyrus, users: &[&str], folder: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "secret\n").unwrap();
    let mut text = format!(
        "keyring = {:?}\nstate_dir = {:?}\n\n[policy]\nall_bounces = true\nfolder = {folder:?}\n",
        dir.path().join("keyring.toml"),
        dir.path().join("state"),
    );
    for user in users {
        text.push_str(&format!(
            "\n[[imap]]\nname = \"{user}\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{user}\"\npassword_file = {password:?}\n",
            cyrus.port
        ));
    }
    let file = dir.path().join("config.toml");
    std::fs::write(&file, text).unwrap();
    (dir, file)
}

/// Runs the binary with `config`: (exit code, stdout, stderr).
fn run(config: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_backscatter")).arg("-c").arg(config).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn debian_default_namespace_dry_run_scan_and_restore_use_inbox_dot_backscatter() {
    let cyrus = Cyrus::start("");
    cyrus.deliver("alice", "INBOX", &bounce("forged"));
    cyrus.deliver("alice", "INBOX", &ordinary("kept"));
    let (_dir, config) = config(&cyrus, &["alice"], "Backscatter");

    let (code, out, err) = run(&config, &["scan", "--imap", "alice", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("0 moved to INBOX.Backscatter, 1 would move, 0 left in place; INBOX.Backscatter would be created (MYRIGHTS on INBOX: lrswipkxtecdan)"), "{out}");
    assert_eq!(cyrus.folders("alice"), ["INBOX"], "a dry run creates nothing");

    let (code, out, err) = run(&config, &["-v", "scan", "--imap", "alice"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("1 moved to INBOX.Backscatter, 0 would move, 0 left in place; INBOX.Backscatter created"),
        "{out}"
    );
    assert!(err.contains("created and subscribed the folder") && err.contains("INBOX.Backscatter"), "{err}");
    assert_eq!(cyrus.folders("alice"), ["INBOX", "INBOX.Backscatter"]);
    assert_eq!(cyrus.find("alice", "INBOX.Backscatter", "forged").len(), 1);
    assert!(cyrus.find("alice", "INBOX", "forged").is_empty());
    assert_eq!(cyrus.find("alice", "INBOX", "kept").len(), 1);

    // A second dry run finds the folder there.
    let (code, out, err) = run(&config, &["scan", "--imap", "alice", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.ends_with("; INBOX.Backscatter exists\n"), "{out}");

    let (code, out, err) = run(&config, &["restore", "--all"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("restored "), "{out}");
    assert_eq!(cyrus.find("alice", "INBOX", "forged").len(), 1);
    assert!(cyrus.find("alice", "INBOX.Backscatter", "forged").is_empty());
    assert_eq!(cyrus.folders("alice"), ["INBOX", "INBOX.Backscatter"]);
}

#[test]
fn altnamespace_gives_dovecot_like_names_and_junk_is_the_special_use_folder() {
    let cyrus = Cyrus::start("altnamespace: yes");
    cyrus.deliver("alice", "INBOX", &bounce("first"));
    let (_dir, plain) = config(&cyrus, &["alice"], "Backscatter");
    let (code, out, err) = run(&plain, &["scan", "--imap", "alice"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 moved to Backscatter,"), "{out}");
    assert_eq!(cyrus.folders("alice"), ["Backscatter", "INBOX"]);

    // `\Junk` with no mailbox marked so: the scan stops, saying what to do.
    cyrus.deliver("alice", "INBOX", &bounce("second"));
    let (_dir, junk) = config(&cyrus, &["alice"], "\\Junk");
    let (code, _, err) = run(&junk, &["scan", "--imap", "alice"]);
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("scan --imap alice: folder = \"\\\\Junk\": the server marks no mailbox \\Junk"), "{err}");
    // RFC 6154 §3: CREATE-SPECIAL-USE marks a new mailbox.
    cyrus.login("alice").ok("CREATE \"Spam\" (USE (\\Junk))");
    let (code, out, err) = run(&junk, &["scan", "--imap", "alice"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 moved to Spam,") && out.ends_with("; Spam exists\n"), "{out}");
    assert_eq!(cyrus.find("alice", "Spam", "second").len(), 1);
    assert_eq!(cyrus.folders("alice"), ["Backscatter", "INBOX", "Spam"]);
}

#[test]
fn unixhierarchysep_takes_the_slash_qualified_name() {
    let cyrus = Cyrus::start("unixhierarchysep: yes");
    cyrus.deliver("alice", "INBOX", &bounce("forged"));
    let (_dir, plain) = config(&cyrus, &["alice"], "Backscatter");
    let (code, out, err) = run(&plain, &["scan", "--imap", "alice", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("; INBOX/Backscatter would be created"), "{out}");

    let (_dir, qualified) = config(&cyrus, &["alice"], "INBOX/Backscatter");
    let (code, _, err) = run(&qualified, &["config", "check"]);
    assert_eq!(code, Some(0), "config check accepts a delimiter-qualified name: {err}");
    let (code, out, err) = run(&qualified, &["scan", "--imap", "alice"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 moved to INBOX/Backscatter,"), "{out}");
    assert_eq!(cyrus.folders("alice"), ["INBOX", "INBOX/Backscatter"]);
    assert_eq!(cyrus.find("alice", "INBOX/Backscatter", "forged").len(), 1);

    let (code, _, err) = run(&qualified, &["restore", "--all"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(cyrus.find("alice", "INBOX", "forged").len(), 1);
}

#[test]
fn without_move_the_fallback_moves_and_without_uidplus_the_scan_says_why_it_moved_nothing() {
    let no_move = Cyrus::start("suppress_capabilities: MOVE");
    no_move.deliver("alice", "INBOX", &bounce("forged"));
    let (_dir, config_a) = config(&no_move, &["alice"], "Backscatter");
    let (code, out, err) = run(&config_a, &["scan", "--imap", "alice"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 moved to INBOX.Backscatter,"), "{out}");
    assert_eq!(no_move.folders("alice"), ["INBOX", "INBOX.Backscatter"]);
    assert_eq!(no_move.find("alice", "INBOX.Backscatter", "forged").len(), 1);
    assert!(no_move.find("alice", "INBOX", "forged").is_empty(), "UID EXPUNGE removed the original");

    let neither = Cyrus::start("suppress_capabilities: MOVE UIDPLUS");
    neither.deliver("alice", "INBOX", &bounce("forged"));
    let mut client = neither.login("alice");
    client.ok("SELECT INBOX");
    client.ok("STORE 1 +FLAGS (\\Deleted)");
    neither.deliver("alice", "INBOX", &bounce("stays"));
    let (_dir, config_b) = config(&neither, &["alice"], "Backscatter");
    let (code, _, err) = run(&config_b, &["scan", "--imap", "alice", "--dry-run"]);
    assert_eq!(code, Some(69), "{err}");
    assert!(err.contains("2 message(s) would be left in place: the server offers neither MOVE"), "{err}");
    let (code, out, err) = run(&config_b, &["scan", "--imap", "alice"]);
    assert_eq!(code, Some(69), "{err}");
    assert!(out.contains("0 moved to INBOX.Backscatter, 0 would move, 2 left in place"), "{out}");
    assert!(err.contains("2 message(s) were left in place: the server offers neither MOVE"), "{err}");
    // Nothing expunged: not the bounces, not what the user had marked \Deleted.
    assert_eq!(neither.find("alice", "INBOX", "forged").len(), 1);
    assert_eq!(neither.find("alice", "INBOX", "stays").len(), 1);
    assert!(neither.find("alice", "INBOX.Backscatter", "stays").is_empty());
}

#[test]
fn a_refused_create_stops_scan_with_78_and_watch_keeps_the_other_account_running() {
    // Owners get only `l` implicitly; alice's INBOX lacks `k` (create), bob's keeps it.
    let cyrus = Cyrus::start("implicit_owner_rights: l");
    cyrus.admin("SETACL user.alice alice lrswipte");
    cyrus.deliver("alice", "INBOX", &bounce("alice-forged"));
    // carol has no login on the server at all.
    let (dir, config) = config(&cyrus, &["alice", "bob", "carol"], "Backscatter");

    let (code, _, err) = run(&config, &["scan", "--imap", "alice", "--dry-run"]);
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains(
            "scan --imap alice: \"INBOX.Backscatter\": MYRIGHTS on \"INBOX\" is \"lrswipted\", without k (create)"
        ),
        "{err}"
    );
    let (code, _, err) = run(&config, &["scan", "--imap", "alice"]);
    assert_eq!(code, Some(78), "{err}");
    assert!(
        err.contains("scan --imap alice: CREATE \"INBOX.Backscatter\": the server answered NO Permission denied — "),
        "{err}"
    );
    assert!(!err.contains("code: ") && !err.contains("Some("), "no debug text: {err}");
    assert_eq!(cyrus.folders("alice"), ["INBOX"]);
    let (code, _, err) = run(&config, &["scan", "--imap", "carol"]);
    assert_eq!(code, Some(78), "{err}");
    assert!(err.contains("login refused: 127.0.0.1 as carol: the server answered NO "), "{err}");

    let log = dir.path().join("watch.log");
    let mut daemon = Daemon::spawn(
        Command::new(env!("CARGO_BIN_EXE_backscatter"))
            .arg("-c")
            .arg(&config)
            .arg("watch")
            .env("RUST_LOG", "info")
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap())),
    );
    let bob_state = dir.path().join("state/imap/bob.json");
    wait_for("bob watched", Duration::from_secs(10), || bob_state.exists());
    cyrus.deliver("bob", "INBOX", &bounce("bob-forged"));
    let arrived = Instant::now();
    let moved = || cyrus.find("bob", "INBOX.Backscatter", "bob-forged").len() == 1;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !moved() {
        assert!(Instant::now() < deadline, "bob's bounce not moved: {}", std::fs::read_to_string(&log).unwrap());
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!("bob: arrival to move over IDLE on Cyrus {:?}", arrived.elapsed());
    assert_eq!(cyrus.folders("bob"), ["INBOX", "INBOX.Backscatter"]);
    // Refusals at the backoff's pace would be several lines by now.
    std::thread::sleep(Duration::from_secs(3));
    let text = std::fs::read_to_string(&log).unwrap();
    let refused: Vec<&str> = text.lines().filter(|l| l.contains("Permission denied")).collect();
    assert_eq!(refused.len(), 1, "logged once: {text}");
    assert!(refused[0].contains("ERROR") && refused[0].contains("imap:alice/INBOX"), "{text}");
    let login: Vec<&str> = text.lines().filter(|l| l.contains("login refused")).collect();
    assert_eq!(login.len(), 1, "logged once: {text}");
    assert!(login[0].contains("ERROR") && login[0].contains("imap:carol/INBOX"), "{text}");
    assert!(!text.contains("reconnecting"), "{text}");
    assert_eq!(cyrus.find("alice", "INBOX", "alice-forged").len(), 1);

    // Put right on the server, then SIGHUP: alice is tried again at once.
    cyrus.admin("SETACL user.alice alice lrswipkxte");
    let hup = Command::new("kill").args(["-HUP", &daemon.0.id().to_string()]).status().unwrap();
    assert!(hup.success());
    // Watched from now on, as on any first start (what came before is `scan --imap`'s).
    let alice_state = dir.path().join("state/imap/alice.json");
    wait_for("alice watched after SIGHUP", Duration::from_secs(10), || alice_state.exists());
    cyrus.deliver("alice", "INBOX", &bounce("alice-later"));
    wait_for("alice's new bounce in INBOX.Backscatter", Duration::from_secs(10), || {
        cyrus.find("alice", "INBOX.Backscatter", "alice-later").len() == 1
    });
    assert_eq!(cyrus.folders("alice"), ["INBOX", "INBOX.Backscatter"]);
    assert_eq!(daemon.terminate().code(), Some(0));
}
