//! The IMAP store against a real Dovecot: moves over IDLE, \Seen untouched, server restarts,
//! catch-up after downtime, UIDVALIDITY changes, the COPY fallback, STARTTLS, many accounts.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backscatter::config::{Auth, Config, Imap, Mode, Tls};
use backscatter::engine::daemon::{self, Engine, Timing};
use backscatter::engine::imap::{self, Options, Sweeper};
use backscatter::engine::{Mover, Pipeline, SystemClock};
use backscatter::journal::{self, Journal, State};
use support::{wait_for, Daemon, Dovecot};
use tokio_util::sync::CancellationToken;

/// The real pipeline under attack settings: every bounce is backscatter (`all_bounces`), ordinary
/// mail stays; moves journaled in `state_dir` (none: a dry run).
fn sweeper(accounts: Vec<Imap>, state_dir: Option<&Path>) -> Sweeper {
    sweeper_into("Backscatter", accounts, state_dir)
}

/// [`sweeper`], moving into `folder`.
fn sweeper_into(folder: &str, accounts: Vec<Imap>, state_dir: Option<&Path>) -> Sweeper {
    let mut config = Config::default();
    config.policy.folder = folder.to_owned();
    config.policy.all_bounces = true;
    config.policy.mode = Mode::Enforce;
    config.imap = accounts;
    let pipeline = Pipeline::new(config, None, Arc::new(SystemClock)).unwrap();
    let journal = state_dir.map(|dir| Journal::open(dir).unwrap());
    Sweeper { pipeline, mover: Mover::new(journal, Arc::new(SystemClock)), observer: None, sent: None }
}

/// Moves done according to the journal in `state_dir`.
fn moves(state_dir: &Path) -> usize {
    let ledger = journal::read(&state_dir.join(journal::FILE_NAME)).unwrap();
    ledger.records().iter().filter(|r| matches!(r.state, State::Done { .. })).count()
}

/// `watch`'s engine on a thread of its own for `accounts`; stopped (and joined) on drop.
struct Watcher {
    token: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.token.cancel();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.halt();
    }
}

fn account(dovecot: &Dovecot, user: &str) -> Imap {
    dovecot.account(user, user)
}

fn options() -> Options {
    Options {
        idle_interval: Duration::from_secs(20),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(800),
        scan_existing: false,
    }
}

/// Delivers a message into `maildir` as an MDA does (tmp/ then rename into new/): a real bounce
/// (`forged`: backscatter under [`sweeper`]'s settings) or an ordinary message.
fn deliver(maildir: &Path, name: &str, forged: bool) -> PathBuf {
    let text = if forged {
        fixture_bounce(name, None)
    } else {
        format!("From: bob@example.net\r\nTo: alice@example.com\r\nSubject: lunch\r\nMessage-ID: <{name}@example.net>\r\n\r\nNoon?\r\n")
    };
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, text).unwrap();
    let new = maildir.join("new").join(name);
    std::fs::rename(&tmp, &new).unwrap();
    new
}

/// Messages delivered as `name` in the Maildir folder `dir` (`cur/` or `new/`), found by their
/// Message-ID: Dovecot gives a moved message a new file name.
fn find(dir: &Path, name: &str) -> Vec<PathBuf> {
    let id = format!("Message-ID: <{name}@example.net>");
    ["cur", "new"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|text| text.contains(&id)))
        .collect()
}

fn backscatter_dir(maildir: &Path) -> PathBuf {
    maildir.join(".Backscatter")
}

/// The engine watching `accounts` on a thread of its own, as `watch` runs it; stopped on drop.
fn watcher(accounts: Vec<Imap>, state_dir: &Path) -> Watcher {
    let sweeper = sweeper(accounts, Some(state_dir));
    let engine = Engine {
        pipeline: sweeper.pipeline,
        mover: sweeper.mover,
        state_dir: state_dir.to_path_buf(),
        spf_snapshot: None,
        timing: Timing::default(),
        imap: options(),
        page: None,
    };
    let token = CancellationToken::new();
    let stop = token.clone();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(daemon::run(engine, stop, tokio::sync::mpsc::channel(1).1)).unwrap();
    });
    Watcher { token, thread: Some(thread) }
}

fn state_file(state_dir: &Path, account: &str) -> PathBuf {
    state_dir.join("imap").join(format!("{account}.json"))
}

fn wait_watching(state_dir: &Path, account: &str) {
    let file = state_file(state_dir, account);
    wait_for("the watcher to record its state", Duration::from_secs(10), || file.exists());
}

#[test]
fn forged_bounce_moves_within_two_seconds_and_a_genuine_one_stays_unread() {
    let dovecot = Dovecot::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let running = watcher(vec![account(&dovecot, "alice")], state.path());
    wait_watching(state.path(), "alice");
    let maildir = dovecot.maildir();
    deliver(&maildir, "genuine", false);
    let arrived = Instant::now();
    deliver(&maildir, "forged", true);
    // Moved, not copied: in the folder and gone from INBOX (Dovecot links first, then unlinks).
    wait_for("the forged bounce moved to Backscatter", Duration::from_secs(2), || {
        !find(&backscatter_dir(&maildir), "forged").is_empty() && find(&maildir, "forged").is_empty()
    });
    let latency = arrived.elapsed();
    running.stop();
    let genuine = find(&maildir, "genuine");
    assert_eq!(genuine.len(), 1, "the genuine bounce stays in INBOX");
    let name = genuine[0].file_name().unwrap().to_str().unwrap().to_owned();
    let flags = name.split_once(":2,").map(|(_, f)| f).unwrap_or("");
    assert!(!flags.contains('S'), "the genuine bounce is still unread: {name}");
    assert_eq!(moves(state.path()), 1);
    // The folder is created and subscribed (Dovecot keeps subscriptions in the Maildir root).
    let subscriptions = std::fs::read_to_string(maildir.join("subscriptions")).unwrap();
    assert!(subscriptions.lines().any(|l| l == "Backscatter"), "{subscriptions}");
    eprintln!("arrival-to-move latency: {latency:?}");
}

#[test]
fn a_dovecot_restart_during_idle_is_survived_and_the_password_command_reruns() {
    let _ = tracing_subscriber::fmt().with_env_filter("info").with_test_writer().try_init();
    let mut dovecot = Dovecot::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let runs = state.path().join("password-runs");
    let mut alice = account(&dovecot, "alice");
    let script = format!("echo run >> '{}'; echo secret", runs.display());
    alice.auth = Auth::PasswordCommand(vec!["sh".into(), "-c".into(), script]);
    let _running = watcher(vec![alice], state.path());
    wait_watching(state.path(), "alice");
    dovecot.restart(&[]);
    let maildir = dovecot.maildir();
    deliver(&maildir, "after-restart", true);
    wait_for("the bounce delivered after the restart in Backscatter", Duration::from_secs(15), || {
        !find(&backscatter_dir(&maildir), "after-restart").is_empty()
    });
    let runs = std::fs::read_to_string(&runs).unwrap().lines().count();
    assert!(runs >= 2, "the password command runs on every connect: {runs}");
}

#[test]
fn mail_that_arrived_while_stopped_is_handled_on_start_and_a_uidvalidity_change_rescans() {
    let dovecot = Dovecot::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let maildir = dovecot.maildir();
    let running = watcher(vec![account(&dovecot, "alice")], state.path());
    wait_watching(state.path(), "alice");
    running.stop();
    deliver(&maildir, "while-down", true);
    let running = watcher(vec![account(&dovecot, "alice")], state.path());
    wait_for("the bounce delivered while stopped in Backscatter", Duration::from_secs(5), || {
        !find(&backscatter_dir(&maildir), "while-down").is_empty()
    });
    running.stop();

    // A state from another UIDVALIDITY claims everything was seen; the watcher must not trust it.
    deliver(&maildir, "old-epoch", true);
    let file = state_file(state.path(), "alice");
    let text = std::fs::read_to_string(&file).unwrap();
    let mut marks: serde_json::Value = serde_json::from_str(&text).unwrap();
    marks["INBOX"]["uid_validity"] = serde_json::json!(1);
    marks["INBOX"]["last_uid"] = serde_json::json!(999_999);
    std::fs::write(&file, marks.to_string()).unwrap();
    let _running = watcher(vec![account(&dovecot, "alice")], state.path());
    wait_for("the rescan after a UIDVALIDITY change", Duration::from_secs(5), || {
        !find(&backscatter_dir(&maildir), "old-epoch").is_empty()
    });
}

fn scan(account: &Imap, dry_run: bool) -> imap::ScanSummary {
    try_scan(account, "Backscatter", dry_run).unwrap()
}

fn try_scan(
    account: &Imap,
    folder: &str,
    dry_run: bool,
) -> Result<imap::ScanSummary, backscatter::store::imap::ImapError> {
    let state = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let sweeper = sweeper_into(folder, vec![account.clone()], (!dry_run).then_some(state.path()));
        imap::scan(account, &sweeper, &mut |_, _, _| {}).await
    })
}

#[test]
fn without_move_the_uidplus_fallback_moves_and_without_uidplus_nothing_is_expunged() {
    let no_move = Dovecot::start(&[("EXTRA", "imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS")]);
    deliver(&no_move.maildir(), "forged", true);
    deliver(&no_move.maildir(), "genuine", false);
    let dry = scan(&account(&no_move, "alice"), true);
    assert_eq!((dry.scanned, dry.would_move, dry.moved), (2, 1, 0));
    assert!(!find(&no_move.maildir(), "forged").is_empty(), "a dry run moves nothing");
    let done = scan(&account(&no_move, "alice"), false);
    assert_eq!((done.scanned, done.moved, done.left), (2, 1, 0));
    assert_eq!(find(&backscatter_dir(&no_move.maildir()), "forged").len(), 1);
    assert!(find(&no_move.maildir(), "forged").is_empty());
    assert_eq!(find(&no_move.maildir(), "genuine").len(), 1);

    let neither = Dovecot::start(&[("EXTRA", "imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE")]);
    deliver(&neither.maildir(), "forged", true);
    let done = scan(&account(&neither, "alice"), false);
    assert_eq!((done.scanned, done.moved, done.left), (1, 0, 1));
    assert_eq!(find(&neither.maildir(), "forged").len(), 1, "left in place, not expunged");
}

#[test]
fn starttls_with_the_ca_file_and_a_clear_error_without_it() {
    let dovecot = Dovecot::start(&[("SSL", "yes")]);
    deliver(&dovecot.maildir(), "forged", true);
    let mut tls = account(&dovecot, "alice");
    tls.tls = Tls::Starttls;
    tls.ca_file = Some(dovecot.cert());
    assert_eq!(scan(&tls, false).moved, 1);

    tls.ca_file = None;
    let err = try_scan(&tls, "Backscatter", true).unwrap_err().to_string();
    assert!(err.contains("certificate") && err.contains("ca_file"), "{err}");
}

#[test]
fn non_ascii_mailbox_and_folder_names() {
    let dovecot = Dovecot::start(&[]);
    let mut alice = account(&dovecot, "alice");
    // Dovecot's Maildir++ keeps modified UTF-7 names on disk.
    let entwuerfe = dovecot.maildir().join(".Entw&APw-rfe");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(entwuerfe.join(sub)).unwrap();
    }
    support_chown(&dovecot.maildir());
    deliver(&entwuerfe, "forged", true);
    alice.mailboxes = vec!["Entwürfe".to_owned()];
    let summary = try_scan(&alice, "Rückläufer", false).unwrap();
    assert_eq!(summary.moved, 1);
    assert_eq!(find(&dovecot.maildir().join(".R&APw-ckl&AOQ-ufer"), "forged").len(), 1);
}

/// Dovecot's mail processes run as `nobody`: directories made by the test must be theirs.
fn support_chown(dir: &Path) {
    let status = std::process::Command::new("chown").args(["-R", "nobody:nogroup"]).arg(dir).status().unwrap();
    assert!(status.success());
}

#[test]
fn fifty_accounts_in_one_process() {
    let dovecot = Dovecot::start(&[]);
    let users: Vec<String> = (0..50).map(|i| format!("user{i:02}")).collect();
    let passwd: String = users.iter().map(|u| format!("{u}:{{PLAIN}}secret\n")).collect();
    let passwd_file = dovecot.dir.path().join("dovecot/passwd");
    let mut all = std::fs::read_to_string(&passwd_file).unwrap();
    all.push_str(&passwd);
    std::fs::write(&passwd_file, all).unwrap();
    let state = tempfile::tempdir().unwrap();
    let accounts = users.iter().map(|u| account(&dovecot, u)).collect();
    let _running = watcher(accounts, state.path());
    for user in &users {
        wait_watching(state.path(), user);
    }
    let home = dovecot.dir.path().join("dovecot/home");
    for user in &users {
        deliver(&home.join(user).join("Maildir"), "forged", true);
    }
    wait_for("50 moves", Duration::from_secs(15), || moves(state.path()) == 50);
    for user in &users {
        assert_eq!(find(&backscatter_dir(&home.join(user).join("Maildir")), "forged").len(), 1, "{user}");
    }
}

#[test]
fn restore_moves_messages_back_by_their_message_id_over_one_connection() {
    let dovecot = Dovecot::start(&[]);
    deliver(&dovecot.maildir(), "forged", true);
    deliver(&dovecot.maildir(), "forged-too", true);
    let alice = account(&dovecot, "alice");
    let state = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sweeper = rt.block_on(async { sweeper(vec![alice.clone()], Some(state.path())) });
    let summary = rt.block_on(imap::scan(&alice, &sweeper, &mut |_, _, _| {})).unwrap();
    assert_eq!(summary.moved, 2);
    let ledger = sweeper.mover.ledger().unwrap();
    let records: Vec<_> = ledger.restorable(&[], None).into_iter().cloned().collect();
    assert_eq!(records.len(), 2);
    let config = sweeper.pipeline.config().clone();
    // Dovecot logs each login: the restore of both adds one.
    let logins = || {
        let log = std::fs::read_to_string(dovecot.dir.path().join("dovecot/dovecot.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("Login: user=<alice>")).count()
    };
    let before = logins();
    let mut restorer = backscatter::engine::restore::Restorer::new(&config);
    for record in &records {
        let restored = rt.block_on(restorer.restore(&sweeper.mover, record)).unwrap();
        assert!(matches!(restored, backscatter::engine::restore::Restored::Restored { .. }), "{restored:?}");
    }
    rt.block_on(restorer.finish());
    // Dovecot's log process writes a moment later.
    wait_for("the login in dovecot.log", Duration::from_secs(5), || logins() > before);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(logins() - before, 1, "one connection for the account");
    assert_eq!(find(&dovecot.maildir(), "forged").len(), 1);
    assert_eq!(find(&dovecot.maildir(), "forged-too").len(), 1);
    assert!(find(&backscatter_dir(&dovecot.maildir()), "forged").is_empty());
    assert!(sweeper.mover.ledger().unwrap().restorable(&[], None).is_empty(), "nothing left to restore");
    // Put back by a person: they carry $BackscatterKept and are not moved again.
    let rescan = rt.block_on(imap::scan(&alice, &sweeper, &mut |_, _, _| {})).unwrap();
    assert_eq!((rescan.scanned, rescan.moved), (2, 0));
    assert_eq!(find(&dovecot.maildir(), "forged").len(), 1);
}

/// The fixture bounce, renamed to `name` by its own Message-ID; `sig` puts a signature header into
/// its returned original.
fn fixture_bounce(name: &str, sig: Option<&str>) -> String {
    let raw =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ndr/001.eml")).unwrap();
    let raw = raw.replacen(
        "Message-Id: <201310160515.r9G5FZh9018575@smtpgw.example.jp>",
        &format!("Message-ID: <{name}@example.net>"),
        1,
    );
    match sig {
        Some(sig) => raw.replacen(
            "Return-Path: <kijitora@example.org>",
            &format!("X-Backscatter-Sig: {sig}\nReturn-Path: <kijitora@example.org>"),
            1,
        ),
        None => raw,
    }
}

/// A config (and keyring, id 3 secret "secret", and password file) for alice on `dovecot` as
/// account `test`, state in `DIR/state`.
fn cli_config(dovecot: &Dovecot) -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let keyring = dir.path().join("keyring.toml");
    std::fs::write(&keyring, "[[key]]\nid = 3\ncreated = \"1980-01-01\"\nsecret = \"secret\"\n").unwrap();
    std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o600)).unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "secret\n").unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "keyring = {keyring:?}\nstate_dir = {:?}\n\n[[imap]]\nname = \"test\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"alice\"\npassword_file = {password:?}\n",
            dir.path().join("state"),
            dovecot.port
        ),
    )
    .unwrap();
    (dir, config)
}

#[test]
fn scan_imap_end_to_end_with_the_real_verdict() {
    use backscatter::day::Day;
    use backscatter::sign::{header, Key, KeyId};
    let dovecot = Dovecot::start(&[]);
    let maildir = dovecot.maildir();
    let key = Key { id: KeyId::new(3).unwrap(), secret: b"secret" };
    // The fixture's top Received: is dated 2013-10-16: the signature is judged on that day.
    let sig = header::make(&key, Day::from_ymd(2013, 10, 16).unwrap(), 0x0123_4567_89ab_cdef);
    std::fs::write(maildir.join("new/1.forged"), fixture_bounce("cli-forged", None)).unwrap();
    std::fs::write(maildir.join("new/2.genuine"), fixture_bounce("cli-genuine", Some(&sig))).unwrap();

    let (_dir, config) = cli_config(&dovecot);
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_backscatter"))
            .arg("-c")
            .arg(&config)
            .args(["scan", "--imap"])
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout, String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, stdout, stderr) = run(&["test", "--dry-run", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let verdicts: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["path"].as_str().unwrap(), l["verdict"].as_str().unwrap())).collect();
    assert_eq!(verdicts.len(), 2, "{stdout}");
    assert!(verdicts.iter().all(|(path, _)| path.starts_with("imap:test/INBOX UID ")), "{verdicts:?}");
    let mut words: Vec<&str> = verdicts.iter().map(|(_, v)| *v).collect();
    words.sort_unstable();
    assert_eq!(words, ["backscatter", "genuine"], "{stdout}");
    assert_eq!(find(&maildir, "cli-forged").len(), 1, "a dry run moves nothing");

    let (code, stdout, stderr) = run(&["test"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("2 scanned (1 backscatter, 1 genuine), 1 moved to Backscatter"), "{stdout}");
    assert_eq!(find(&backscatter_dir(&maildir), "cli-forged").len(), 1);
    assert_eq!(find(&maildir, "cli-genuine").len(), 1);

    let (code, _, stderr) = run(&["nope"]);
    assert_eq!(code, Some(78), "{stderr}");
    assert!(stderr.contains("no [[imap]] account named \"nope\" in the config (accounts: test)"), "{stderr}");
}

#[test]
fn without_idle_the_watcher_polls_with_noop() {
    let dovecot = Dovecot::start(&[("EXTRA", "imap_capability = IMAP4rev1 LITERAL+ SASL-IR UIDPLUS MOVE")]);
    let state = tempfile::tempdir().unwrap();
    let alice = Imap { poll_interval: Duration::from_secs(1), ..account(&dovecot, "alice") };
    let _running = watcher(vec![alice], state.path());
    wait_watching(state.path(), "alice");
    deliver(&dovecot.maildir(), "polled", true);
    // imap.poll_seconds = 1.
    wait_for("the polled bounce in Backscatter", Duration::from_secs(5), || {
        !find(&backscatter_dir(&dovecot.maildir()), "polled").is_empty()
    });
}

#[test]
fn watch_daemon_moves_journals_and_restore_puts_back() {
    let dovecot = Dovecot::start(&[]);
    let maildir = dovecot.maildir();
    let (dir, config) = cli_config(&dovecot);
    let mut daemon = Daemon::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_backscatter"))
            .arg("-c")
            .arg(&config)
            .arg("watch")
            .stderr(std::process::Stdio::null()),
    );
    let state = dir.path().join("state");
    wait_watching(&state, "test");
    std::fs::write(maildir.join("tmp/1.forged"), fixture_bounce("daemon-forged", None)).unwrap();
    std::fs::rename(maildir.join("tmp/1.forged"), maildir.join("new/1.forged")).unwrap();
    wait_for("the daemon's move", Duration::from_secs(3), || {
        !find(&backscatter_dir(&maildir), "daemon-forged").is_empty()
    });
    // The journal line follows the move.
    let journal_file = state.join("journal.jsonl");
    wait_for("the journal line", Duration::from_secs(3), || {
        std::fs::read_to_string(&journal_file).is_ok_and(|j| j.ends_with('\n'))
    });
    let journal = std::fs::read_to_string(&journal_file).unwrap();
    let intent: serde_json::Value = serde_json::from_str(journal.lines().next().unwrap()).unwrap();
    assert_eq!(intent["op"], "intent", "{journal}");
    assert_eq!(intent["from"]["store"], "imap");
    assert_eq!((&intent["from"]["account"], &intent["from"]["mailbox"]), (&"test".into(), &"INBOX".into()));
    assert_eq!(intent["to"]["mailbox"], "Backscatter");
    assert_eq!(intent["message_id"], "<daemon-forged@example.net>");
    wait_for("the done line", Duration::from_secs(3), || {
        std::fs::read_to_string(&journal_file).is_ok_and(|j| j.contains("\"op\":\"done\""))
    });
    // SIGTERM, as systemd stops it: a clean exit.
    assert_eq!(daemon.terminate().code(), Some(0));

    let restore = std::process::Command::new(env!("CARGO_BIN_EXE_backscatter"))
        .arg("-c")
        .arg(&config)
        .args(["restore", "--all"])
        .output()
        .unwrap();
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    assert_eq!(find(&maildir, "daemon-forged").len(), 1);
    assert!(find(&backscatter_dir(&maildir), "daemon-forged").is_empty());
    let journal = std::fs::read_to_string(state.join("journal.jsonl")).unwrap();
    assert!(journal.lines().nth(2).is_some_and(|l| l.contains("\"op\":\"restore\"")), "{journal}");
}
