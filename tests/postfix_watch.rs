//! End to end with a real Postfix: a message sent with a BATV-tagged envelope sender to an unknown
//! user comes back as a real DSN to the tagged address; `backscatter watch` (the real binary) on
//! the sender's Maildir keeps it, and moves a forged DSN dropped beside it, each within a second.

mod support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backscatter::day::Day;
use backscatter::keys::Keyring;
use backscatter::sign;

use support::{open_temp_dir, wait_for, Daemon, Postfix};

const SECRET: &str = "postfix-end-to-end-test-secret-43-chars-xxx";

fn today() -> Day {
    Day::from_unix_seconds(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

fn inbox(maildir: &Path) -> Vec<PathBuf> {
    let mut all = files(&maildir.join("new"));
    all.extend(files(&maildir.join("cur")));
    all
}

#[test]
fn watch_keeps_a_genuine_dsn_and_moves_a_forged_one() {
    // Postfix must accept the tagged recipient of the DSN: strip the tag to find the mailbox, so
    // that X-Original-To keeps it (NOTES: Postfix).
    let maps = open_temp_dir();
    let regexp = maps.path().join("batv.regexp");
    fs::write(&regexp, "/^prvs=[0-9a-z]+=(.+@test\\.invalid)$/ ${1}\n").unwrap();
    let postfix = Postfix::start(&format!("virtual_alias_maps = regexp:{}", regexp.display()));
    let send = |from: &str, to: &str, body: &str| {
        let mut child = postfix.sendmail().args(["-f", from, to]).stdin(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    };
    // Bob's Maildir exists once he has mail.
    send("alice@test.invalid", "bob@test.invalid", "Subject: hello\n\nhi\n");
    postfix.wait_for_mail("bob", 1, Duration::from_secs(10));
    let maildir = postfix.maildir("bob");

    let work = tempfile::tempdir().unwrap();
    let keyring = work.path().join("keyring.toml");
    Keyring::new(&keyring, Day(today().0 - 30), SECRET.to_owned()).create().unwrap();
    let config = work.path().join("config.toml");
    fs::write(
        &config,
        format!(
            "keyring = \"{}\"\nstate_dir = \"{}\"\n[policy]\nmode = \"enforce\"\ngrace_days = 0\n[[maildir]]\npath = \"{}\"\n",
            keyring.display(),
            work.path().join("state").display(),
            maildir.display()
        ),
    )
    .unwrap();
    let log = fs::File::create(work.path().join("watch.log")).unwrap();
    let _watch = Daemon::spawn(
        Command::new(env!("CARGO_BIN_EXE_backscatter")).arg("-c").arg(&config).args(["-v", "watch"]).stderr(log),
    );
    let log_text = || fs::read_to_string(work.path().join("watch.log")).unwrap_or_default();
    wait_for("watch to start", Duration::from_secs(10), || log_text().contains("mailboxes"));

    // A real DSN to the tagged sender.
    let key = sign::Key { id: sign::KeyId::ZERO, secret: SECRET.as_bytes() };
    let tagged = sign::batv::make("bob@test.invalid", &key, today());
    send(&tagged, "nobody@test.invalid", "Subject: to nobody\nMessage-ID: <e2e-1@test.invalid>\n\nhello?\n");
    let mail = postfix.wait_for_mail("bob", 2, Duration::from_secs(10));
    let dsn_path =
        mail.iter().find(|p| fs::read_to_string(p).unwrap().contains("report-type=delivery-status")).unwrap();
    let dsn = fs::read_to_string(dsn_path).unwrap();
    assert!(dsn.contains(&format!("X-Original-To: {tagged}")), "{dsn}");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(inbox(&maildir).len(), 2, "the genuine DSN stays in INBOX: {}", log_text());
    assert!(files(&maildir.join(".Backscatter/cur")).is_empty());

    // The same DSN to a forged tag, dropped in as an MDA would.
    let other = sign::Key { id: sign::KeyId::ZERO, secret: b"not our secret" };
    let forged = dsn.replace(&tagged, &sign::batv::make("bob@test.invalid", &other, today()));
    let tmp = maildir.join("tmp").join("1.forged.host");
    fs::write(&tmp, forged).unwrap();
    fs::rename(&tmp, maildir.join("new").join("1.forged.host")).unwrap();
    let landed = Instant::now();
    wait_for("the forged DSN to move", Duration::from_secs(1), || {
        files(&maildir.join(".Backscatter/cur")).iter().any(|p| p.ends_with("1.forged.host:2,"))
    });
    assert!(landed.elapsed() < Duration::from_secs(1));
    assert_eq!(inbox(&maildir).len(), 2, "{}", log_text());
}
