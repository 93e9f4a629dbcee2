//! `backscatter check` end to end: the real binary's exit codes (0 backscatter, 1 keep, 75
//! undecided) on fixtures, stdin and unreadable input, and on real DSNs made by a real Postfix
//! for a BATV-tagged sender, a signed original and an unsigned one.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use backscatter::day::Day;
use backscatter::keys::Keyring;
use backscatter::sign::{batv, header, msgid};

const SECRET: &str = "check-cli-test-secret-0123456789";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

fn today() -> Day {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).expect("after 1970").as_secs();
    Day::from_unix_seconds(i64::try_from(secs).expect("fits"))
}

/// Days before the fixtures' 2013 arrival dates: a keyring this old is past its grace period.
const OLD: i64 = 6000;

/// A temp dir with a config and a keyring whose key was made `age` days ago.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(age: i64, config: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("config.toml"), config).expect("config written");
        Keyring::new(&dir.path().join("keyring.toml"), Day(today().0 - age), SECRET.to_owned())
            .create()
            .expect("keyring written");
        Setup { dir }
    }

    fn keyring(&self) -> Keyring {
        Keyring::load(&self.dir.path().join("keyring.toml")).expect("keyring loads")
    }

    /// Runs `backscatter check` with this config and keyring (or `keyring` instead).
    fn check(&self, args: &[&str], stdin: Option<&[u8]>, keyring: Option<&Path>) -> (i32, String) {
        let keyring = keyring.map_or_else(|| self.dir.path().join("keyring.toml"), Path::to_path_buf);
        let mut child = Command::new(env!("CARGO_BIN_EXE_backscatter"))
            .arg("-c")
            .arg(self.dir.path().join("config.toml"))
            .arg("--keyring")
            .arg(keyring)
            .arg("check")
            .args(args)
            .env("HOME", self.dir.path())
            .env_remove("BACKSCATTER_CONFIG")
            .env_remove("RUST_LOG")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input).expect("stdin written");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("the binary ends");
        assert!(out.stdout.is_empty(), "check prints nothing on stdout");
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn exit_codes_on_fixtures_and_stdin() {
    let setup = Setup::new(OLD, "");
    let bounce = fixture("ndr/001.eml");
    let bounce_path = bounce.to_string_lossy();
    // An unsigned bounce is backscatter; silent without -v.
    assert_eq!(setup.check(&[&bounce_path], None, None), (0, String::new()));
    // The same from stdin, `-` or nothing.
    let bytes = std::fs::read(&bounce).expect("fixture");
    assert_eq!(setup.check(&["-"], Some(&bytes), None).0, 0);
    assert_eq!(setup.check(&[], Some(&bytes), None).0, 0);
    // Ordinary mail and a mailing-list message are kept.
    assert_eq!(setup.check(&[], Some(b"From: a@b.example\nSubject: hi\n\nhello\n"), None), (1, String::new()));
    assert_eq!(setup.check(&[&fixture("list/001.eml").to_string_lossy()], None, None).0, 1);
    // -v: one line on stderr saying why.
    let (code, err) = setup.check(&["-v", &bounce_path], None, None);
    assert_eq!(code, 0);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("backscatter (move): no carrier"), "{err}");
}

#[test]
fn a_signed_bounce_is_kept() {
    let setup = Setup::new(OLD, "");
    let keyring = setup.keyring();
    let key = keyring.signing_key().expect("a key").as_key();
    // Signed on the bounce's own arrival day (its top Received: 2013-10-16).
    let sig = header::make(&key, Day::from_ymd(2013, 10, 16).expect("date"), 42);
    let bounce = std::fs::read_to_string(fixture("ndr/001.eml")).expect("fixture");
    let signed = bounce.replacen(
        "Return-Path: <kijitora@example.org>",
        &format!("X-Backscatter-Sig: {sig}\nReturn-Path: <kijitora@example.org>"),
        1,
    );
    let (code, err) = setup.check(&["-v"], Some(signed.as_bytes()), None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("genuine (keep): valid signature header in the returned original"), "{err}");
}

#[test]
fn undecided_exits_75() {
    let setup = Setup::new(OLD, "");
    let bounce = fixture("ndr/001.eml").to_string_lossy().into_owned();
    // Unreadable input.
    let (code, err) = setup.check(&["/nonexistent/message"], None, None);
    assert_eq!(code, 75);
    assert!(err.contains("/nonexistent/message") && err.contains("keeping the message"), "{err}");
    // No keyring: a checked message cannot be decided; ordinary mail still can.
    let missing = setup.dir.path().join("no-such-keyring.toml");
    let (code, err) = setup.check(&[&bounce], None, Some(&missing));
    assert_eq!(code, 75);
    assert!(err.contains("no keyring at") && err.lines().count() == 1, "{err}");
    assert_eq!(setup.check(&[], Some(b"From: a@b.example\n\nhi\n"), Some(&missing)), (1, String::new()));
    // A config that cannot be used.
    let broken = Setup::new(OLD, "[policy]\nmode = \"sometimes\"\n");
    let (code, err) = broken.check(&[&bounce], None, None);
    assert_eq!(code, 75);
    assert!(err.contains("mode"), "{err}");
}

#[test]
fn monitor_grace_and_all_bounces() {
    let bounce = fixture("ndr/001.eml").to_string_lossy().into_owned();
    let monitor = Setup::new(OLD, "[policy]\nmode = \"monitor\"\n");
    assert_eq!(monitor.check(&[&bounce], None, None).0, 1);
    // A key made today: the grace period holds whether the bounce arrived before the key
    // (2013) or now (no date in it, read from stdin).
    let fresh = Setup::new(0, "");
    assert_eq!(fresh.check(&[&bounce], None, None).0, 1);
    let undated = std::fs::read_to_string(&bounce).expect("fixture").replacen(
        "Received: from localhost (localhost)",
        "X-Received: from localhost",
        1,
    );
    let (code, err) = fresh.check(&["-v"], Some(undated.as_bytes()), None);
    assert_eq!(code, 1);
    assert!(err.contains("grace period until"), "{err}");
    assert_eq!(Setup::new(OLD, "").check(&[], Some(undated.as_bytes()), None).0, 0);
    let attack = Setup::new(0, "[policy]\nall_bounces = true\n");
    assert_eq!(attack.check(&[], Some(undated.as_bytes()), None).0, 0);
}

/// A real Postfix reports on six messages to bob, each signed another way or not at all:
/// failures to an unknown user sent with a BATV-tagged envelope sender, with the signature
/// header, with a signed ENVID (`-V`), with a signed Message-ID, with nothing; and a success DSN
/// (`-N success`) for a delivery to alice with a tagged sender. Every signed report is kept, the
/// unsigned one is backscatter.
#[test]
fn real_postfix_dsns() {
    let maps = support::open_temp_dir();
    let regexp = maps.path().join("batv.regexp");
    // Inbound tagged recipients reach the mailbox (DESIGN §8, contrib's Postfix map).
    std::fs::write(&regexp, "/^prvs=[0-9a-z]+=(.+@test\\.invalid)$/ ${1}\n").expect("map written");
    let postfix = support::Postfix::start(&format!("virtual_alias_maps = regexp:{}\n", regexp.display()));
    let setup = Setup::new(OLD, "");
    let keyring = setup.keyring();
    let key = keyring.signing_key().expect("a key").as_key();
    let tagged = batv::make("bob@test.invalid", &key, today());
    let sig = header::make(&key, today(), 7);
    let envid = msgid::make_envid(&key, today(), 8);
    let message_id = msgid::make_message_id(&key, today(), 9, "test.invalid");
    let send = |flags: &[&str], to: &str, extra: &str, subject: &str| {
        let mut child = postfix.sendmail().args(flags).arg(to).stdin(Stdio::piped()).spawn().expect("sendmail runs");
        let message = format!("{extra}From: bob@test.invalid\nTo: {to}\nSubject: {subject}\n\nhi\n");
        child.stdin.take().expect("stdin").write_all(message.as_bytes()).expect("written");
        assert!(child.wait().expect("sendmail ends").success());
    };
    let nobody = "nobody@test.invalid";
    send(&["-f", &tagged], nobody, "", "tagged");
    send(&["-f", "bob@test.invalid"], nobody, &format!("X-Backscatter-Sig: {sig}\n"), "signed");
    send(&["-f", "bob@test.invalid", "-V", &envid], nobody, "", "envid");
    send(&["-f", "bob@test.invalid"], nobody, &format!("Message-ID: {message_id}\n"), "msgid");
    send(&["-f", "bob@test.invalid"], nobody, "", "unsigned");
    send(&["-f", &tagged, "-N", "success"], "alice@test.invalid", "", "notify");
    let dsns = postfix.wait_for_mail("bob", 6, Duration::from_secs(20));
    let mut seen = Vec::new();
    for dsn in &dsns {
        let text = std::fs::read_to_string(dsn).expect("DSN readable");
        let subject = ["tagged", "signed", "envid", "msgid", "unsigned", "notify"]
            .into_iter()
            .find(|s| text.contains(&format!("Subject: {s}\n")));
        let (code, err) = setup.check(&["-v", &dsn.to_string_lossy()], None, None);
        seen.push((subject.unwrap_or("?"), code, err.trim().to_owned()));
    }
    seen.sort();
    let codes: Vec<(&str, i32)> = seen.iter().map(|(s, c, _)| (*s, *c)).collect();
    let want = [("envid", 1), ("msgid", 1), ("notify", 1), ("signed", 1), ("tagged", 1), ("unsigned", 0)];
    assert_eq!(codes, want, "{seen:#?}");
    let why = |subject: &str| seen.iter().find(|(s, _, _)| *s == subject).map_or("", |(_, _, e)| e.as_str());
    assert!(why("envid").contains("valid signed ENVID in Original-Envelope-Id"), "{seen:#?}");
    assert!(why("msgid").contains("valid signed Message-ID in the Message-ID of the returned original"), "{seen:#?}");
    assert!(why("notify").contains("valid BATV tag on X-Original-To"), "{seen:#?}");
    assert!(why("signed").contains("valid signature header in the returned original"), "{seen:#?}");
    assert!(why("tagged").contains("valid BATV tag on X-Original-To"), "{seen:#?}");
    assert!(why("unsigned").contains("backscatter (move): no carrier"), "{seen:#?}");
}
