//! The sendmail drop-in as a caller sees it: the real binary, a temp config and keyring, and as
//! the "real sendmail" either a recording script or a real Postfix (`support::Postfix`).

mod support;

use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::Postfix;

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");

/// A config + keyring in a temp dir, and a recording "sendmail" that saves its arguments and
/// stdin and exits with the status in `$FAKE_STATUS` (default 0).
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(sendmail_path: Option<&Path>, extra_sign: &str) -> Setup {
        let dir = support::open_temp_dir();
        let recorder = dir.path().join("recorder");
        std::fs::write(
            &recorder,
            "#!/bin/sh\nd=$(dirname \"$0\")\nprintf '%s\\n' \"$@\" > \"$d/args\"\ncat > \"$d/stdin\"\nexit ${FAKE_STATUS:-0}\n",
        )
        .unwrap();
        std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).unwrap();
        let setup = Setup { dir };
        let sendmail_path = sendmail_path.map_or(recorder, Path::to_path_buf);
        let config = format!(
            "keyring = {:?}\nstate_dir = {:?}\nprotected_domains = [\"test.invalid\"]\n[sign]\nsendmail_path = {:?}\nmyorigin = \"test.invalid\"\n{extra_sign}\n",
            setup.keyring(),
            setup.dir.path().join("state"),
            sendmail_path,
        );
        std::fs::write(setup.config(), config).unwrap();
        let init = Command::new(BIN).arg("-c").arg(setup.config()).args(["keys", "init"]).output().unwrap();
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        setup
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn keyring(&self) -> PathBuf {
        self.dir.path().join("keyring.toml")
    }

    /// `backscatter sendmail ARGS` with `input` on stdin.
    fn run(&self, args: &[&str], input: &[u8], env: &[(&str, &str)]) -> Output {
        self.run_as(Command::new(BIN).arg("sendmail"), args, input, env)
    }

    fn run_as(&self, command: &mut Command, args: &[&str], input: &[u8], env: &[(&str, &str)]) -> Output {
        command.args(args).env("BACKSCATTER_CONFIG", self.config()).envs(env.iter().copied());
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        // The drop-in may stop reading early (a lone dot) or never read (-bp): ignore EPIPE.
        let _ = child.stdin.take().unwrap().write_all(input);
        child.wait_with_output().unwrap()
    }

    fn recorded_args(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("args")).unwrap().lines().map(str::to_owned).collect()
    }

    fn recorded_stdin(&self) -> Vec<u8> {
        std::fs::read(self.dir.path().join("stdin")).unwrap()
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Splits what the real sendmail got into our added lines and the rest; asserts the rest is
/// the input.
fn added_lines(received: &[u8], input: &[u8]) -> String {
    assert!(received.len() >= input.len(), "lost bytes");
    let added = &received[..received.len() - input.len()];
    assert_eq!(&received[added.len()..], input, "the message itself changed");
    String::from_utf8(added.to_vec()).unwrap()
}

#[test]
fn stamps_tags_and_hands_over_with_the_real_exit_status() {
    let setup = Setup::new(None, "");
    let input =
        b"From: Bob <bob@test.invalid>\r\nTo: alice@test.invalid\r\nSubject: hi\r\n\r\nbody\xe9\r\n.\r\nstill body";
    let out = setup.run(&["-oi", "-f", "Bob@Test.Invalid", "-v", "--", "alice@test.invalid"], input, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let added = added_lines(&setup.recorded_stdin(), input);
    let lines: Vec<&str> = added.split_inclusive("\r\n").collect();
    assert_eq!(lines.len(), 2, "{added:?}");
    assert!(lines[0].starts_with("X-Backscatter-Sig: v1.0."), "{added:?}");
    assert!(lines[1].starts_with("Message-ID: <bs1.") && lines[1].ends_with("@test.invalid>\r\n"), "{added:?}");
    let args = setup.recorded_args();
    assert_eq!(args[0], "-V");
    assert!(args[1].starts_with("bs1."), "{args:?}");
    assert_eq!(args[2..4], ["-oi", "-f"]);
    let tagged = &args[4];
    assert!(tagged.starts_with("prvs=0") && tagged.ends_with("=Bob@test.invalid"), "{args:?}");
    let verify = Command::new(BIN).arg("-c").arg(setup.config()).args(["keys", "verify", tagged]).output().unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    assert_eq!(args[5..], ["-v", "--", "alice@test.invalid"]);

    // The real sendmail's exit status is ours.
    let out = setup.run(&["-i", "a@test.invalid"], b"x\n", &[("FAKE_STATUS", "67")]);
    assert_eq!(out.status.code(), Some(67), "{}", stderr(&out));
}

#[test]
fn without_i_a_lone_dot_ends_the_message() {
    let setup = Setup::new(None, "");
    let out = setup.run(&["a@test.invalid"], b"Subject: x\n\nline\n.\nnot sent\n", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    added_lines(&setup.recorded_stdin(), b"Subject: x\n\nline\n");
}

#[test]
fn the_sender_is_derived_and_existing_ids_kept() {
    let setup = Setup::new(None, "");
    let input = b"Message-ID: <mine@example.org>\nSubject: x\n\nbody";
    let out = setup.run(&["-t", "-V", "envid1"], input, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let added = added_lines(&setup.recorded_stdin(), input);
    assert!(added.starts_with("X-Backscatter-Sig: ") && added.matches('\n').count() == 1, "{added:?}");
    let args = setup.recorded_args();
    // No -f given: user@myorigin, tagged, put first; the caller's -V kept and none added.
    assert_eq!(args[0], "-f");
    assert!(args[1].starts_with("prvs=") && args[1].ends_with("@test.invalid"), "{args:?}");
    assert_eq!(args[2..], ["-t", "-V", "envid1"]);
}

/// Pseudo-random messages (seeded, so a failure reproduces) through the real binary: what
/// reaches the real sendmail is the input plus the stamped header lines, nothing else.
#[test]
fn arbitrary_bytes_arrive_intact() {
    let setup = Setup::new(None, "");
    let mut state: u64 = 0x853c_49e6_748f_ea9b;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..25 {
        let len = (next() % 3000) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| match next() % 8 {
                0 => b'\n',
                1 => b'\r',
                2 => b'.',
                _ => (next() % 256) as u8,
            })
            .collect();
        let out = setup.run(&["-i", "x@test.invalid"], &input, &[]);
        assert!(out.status.success(), "round {round}: {}", stderr(&out));
        let added = added_lines(&setup.recorded_stdin(), &input);
        for line in added.lines() {
            let ours = line.starts_with("X-Backscatter-Sig: v1.") || line.starts_with("Message-ID: <bs1.");
            // The empty line that keeps a first line starting with a blank out of our header.
            let separator = line.is_empty() && matches!(input.first(), Some(b' ' | b'\t'));
            assert!(ours || separator, "{line:?}");
        }
    }
}

#[test]
fn a_sendmail_symlink_passes_every_flag_through() {
    let setup = Setup::new(None, "");
    let link = setup.dir.path().join("sendmail");
    symlink(BIN, &link).unwrap();
    // -v, -V and -c are sendmail's here, not backscatter's --verbose, --version and --config.
    let args = ["-v", "-V", "e1", "-c", "-N", "never", "-oi", "-fme@other.org", "a"];
    let out = setup.run_as(&mut Command::new(&link), &args, b"x\n", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(setup.recorded_args(), args);
    // Not sending: handed over untouched, stdin not read.
    let out = setup.run_as(&mut Command::new(&link), &["-bp"], b"", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(setup.recorded_args(), ["-bp"]);
}

#[test]
fn failures_before_the_handoff_exit_75() {
    // Missing keyring.
    let setup = Setup::new(None, "");
    std::fs::remove_file(setup.keyring()).unwrap();
    let out = setup.run(&["-t"], b"x\n", &[]);
    assert_eq!(out.status.code(), Some(75));
    let message = stderr(&out);
    assert!(message.contains("keys init") && message.contains("not sent") && message.lines().count() == 1, "{message}");
    // A keyring others can read.
    let setup = Setup::new(None, "");
    std::fs::set_permissions(setup.keyring(), std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(setup.run(&["-t"], b"x\n", &[]).status.code(), Some(75));
    // sendmail_path is backscatter itself, directly or through a symlink.
    let link = support::open_temp_dir();
    symlink(BIN, link.path().join("sendmail.real")).unwrap();
    for path in [Path::new(BIN).to_path_buf(), link.path().join("sendmail.real")] {
        let setup = Setup::new(Some(&path), "fail_open = true");
        let out = setup.run(&["-t"], b"x\n", &[]);
        assert_eq!(out.status.code(), Some(75), "{path:?}");
        assert!(stderr(&out).contains("backscatter itself"), "{}", stderr(&out));
    }
    // sendmail_path missing.
    let setup = Setup::new(Some(Path::new("/nonexistent/sendmail")), "");
    let out = setup.run(&["-t"], b"x\n", &[]);
    assert_eq!(out.status.code(), Some(75));
    assert!(stderr(&out).contains("/nonexistent/sendmail"), "{}", stderr(&out));
    // A broken config.
    let setup = Setup::new(None, "");
    std::fs::write(setup.config(), "[sign]\nenabled = \"yes\"\nbatv = 3\n").unwrap();
    let out = setup.run(&["-t"], b"x\n", &[]);
    assert_eq!(out.status.code(), Some(75));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
}

#[test]
fn a_message_too_large_for_memory_exits_75() {
    let setup = Setup::new(None, "");
    // 256 MiB of address space; the message is larger.
    let mut limited = Command::new("sh");
    limited.args(["-c", "ulimit -v 262144 && exec \"$0\" sendmail -i a@test.invalid", BIN]);
    let input = vec![b'x'; 400 << 20];
    let out = setup.run_as(&mut limited, &[], &input, &[]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(stderr(&out).contains("too large"), "{}", stderr(&out));
}

#[test]
fn fail_open_and_disabled_pass_the_message_untouched() {
    let setup = Setup::new(None, "fail_open = true");
    std::fs::remove_file(setup.keyring()).unwrap();
    let input = b"Subject: unsigned\n\nbody\n";
    let out = setup.run(&["-i", "-f", "me@test.invalid", "a@test.invalid"], input, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(setup.recorded_stdin(), input);
    assert_eq!(setup.recorded_args(), ["-i", "-f", "me@test.invalid", "a@test.invalid"]);

    let setup = Setup::new(None, "enabled = false");
    let out = setup.run(&["-t"], input, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(setup.recorded_stdin(), input);
}

/// The whole loop with a real Postfix: sign on the way out, deliver, bounce, and the bounce comes
/// back to the sender classified and verified.
#[test]
fn real_postfix_delivers_signed_and_the_bounce_verifies() {
    // contrib's inbound map, for our test domain: it must bring the tagged DSN to bob.
    let maps = support::open_temp_dir();
    let regexp = maps.path().join("batv.regexp");
    let contrib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/postfix/prvs-strip.regexp"));
    let ours = contrib.unwrap().replace("example\\.com", "test\\.invalid");
    assert!(ours.contains("test\\.invalid"), "{ours}");
    std::fs::write(&regexp, ours).unwrap();
    let postfix = Postfix::start(&format!("virtual_alias_maps = regexp:{}", regexp.display()));
    let setup = Setup::new(Some(Path::new("/usr/sbin/sendmail")), "");
    let mail_config = postfix.config_dir();
    let env = [("MAIL_CONFIG", mail_config.to_str().unwrap())];

    // 1. To alice, Bcc bob, no -f: the sender is user@myorigin, tagged; Bcc never shown.
    let input = b"From: root@test.invalid\nTo: alice@test.invalid\nBcc: bob@test.invalid\nSubject: signed\n\nhello\n";
    let out = setup.run(&["-t", "-i"], input, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let alice = postfix.wait_for_mail("alice", 1, Duration::from_secs(20));
    let got = std::fs::read_to_string(&alice[0]).unwrap();
    let return_path = got.lines().find_map(|l| l.strip_prefix("Return-Path: ")).unwrap_or_default();
    assert!(return_path.starts_with("<prvs=0") && return_path.ends_with("@test.invalid>"), "{got}");
    assert!(got.contains("\nX-Backscatter-Sig: v1.0."), "{got}");
    assert!(got.contains("\nMessage-ID: <bs1."), "{got}");
    // On header lines: a random hex nonce elsewhere may well contain "bcc".
    let head = got.split("\n\n").next().unwrap_or_default();
    assert!(!head.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")), "{got}");
    let bob = postfix.wait_for_mail("bob", 1, Duration::from_secs(20));
    let copy = std::fs::read_to_string(&bob[0]).unwrap();
    assert!(
        copy.contains("Subject: signed") && !copy.lines().any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{copy}"
    );

    // 2. From bob to an unknown user: the DSN goes to bob's tagged address and reaches him.
    let input = b"From: bob@test.invalid\nTo: nobody@test.invalid\nSubject: will bounce\n\nhello\n";
    let out = setup.run(&["-t", "-i", "-f", "bob@test.invalid"], input, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let bob = postfix.wait_for_mail("bob", 2, Duration::from_secs(20));
    let bounce = bob
        .iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("report-type=delivery-status")))
        .expect("a DSN in bob's Maildir");
    let dsn = std::fs::read_to_string(bounce).unwrap();
    assert!(dsn.contains("X-Original-To: prvs=0"), "{dsn}");
    assert!(dsn.contains("X-Backscatter-Sig: v1.0."), "{dsn}");
    assert!(dsn.contains("Original-Envelope-Id: bs1."), "{dsn}");

    let classify =
        Command::new(BIN).arg("-c").arg(setup.config()).args(["classify", "--json"]).arg(bounce).output().unwrap();
    assert!(classify.status.success(), "{}", stderr(&classify));
    let json: serde_json::Value = serde_json::from_slice(&classify.stdout).unwrap();
    assert_eq!(json["kind"], "ndr", "{json}");
    assert_eq!(json["original"]["via"], "message/rfc822", "{json}");
    assert_eq!(json["verdict"], "genuine", "{json}");
    // Every carrier we stamped comes back, valid: the tag (X-Original-To), the header and the
    // Message-ID in the returned original, and the ENVID (Original-Envelope-Id).
    let carriers = json["carriers"].as_array().unwrap();
    let valid: Vec<&str> =
        carriers.iter().filter(|c| c["result"] == "valid").filter_map(|c| c["type"].as_str()).collect();
    assert_eq!(valid.len(), carriers.len(), "{json}");
    for kind in ["batv", "header", "msgid", "envid"] {
        assert!(valid.contains(&kind), "{kind} missing: {json}");
    }
}

/// `backscatter check FILE` and `classify --json FILE` with the setup's config: the exit status
/// and the JSON line.
fn judged(setup: &Setup, file: &Path) -> (Option<i32>, serde_json::Value) {
    let check = Command::new(BIN).arg("-c").arg(setup.config()).arg("check").arg(file).output().unwrap();
    let classify =
        Command::new(BIN).arg("-c").arg(setup.config()).args(["classify", "--json"]).arg(file).output().unwrap();
    assert!(classify.status.success(), "{}", stderr(&classify));
    (check.status.code(), serde_json::from_slice(&classify.stdout).unwrap())
}

/// The sent log (DESIGN §4.4) through the real drop-in and a real Postfix: bob writes to alice
/// and to a user Postfix does not know. Postfix's own DSN for that user is genuine, with proof
/// beyond replay; a forged DSN for someone the message never went to, quoting the same valid
/// signature header (alice copied it from her copy), is backscatter — before the log, it was
/// genuine for 7 days.
#[test]
fn the_sent_log_tells_a_real_bounce_from_a_replayed_signature() {
    let postfix = Postfix::start("");
    // No BATV here: the DSN goes to plain bob (the tag's own path is tested above).
    let setup = Setup::new(Some(Path::new("/usr/sbin/sendmail")), "batv = false\nsent_log = true");
    let mail_config = postfix.config_dir();
    let env = [("MAIL_CONFIG", mail_config.to_str().unwrap())];
    let input = b"From: bob@test.invalid\nTo: alice@test.invalid, nobody@test.invalid\nSubject: hello\n\nhi\n";
    let out = setup.run(&["-t", "-i", "-f", "bob@test.invalid"], input, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let logs: Vec<_> = std::fs::read_dir(setup.dir.path().join("state/sent-log")).unwrap().collect();
    assert_eq!(logs.len(), 1, "one day file");
    let alice = postfix.wait_for_mail("alice", 1, Duration::from_secs(20));
    let copy = std::fs::read_to_string(&alice[0]).unwrap();
    let sig = copy.lines().find(|l| l.starts_with("X-Backscatter-Sig: ")).expect("signed").to_owned();
    let id = copy.lines().find(|l| l.starts_with("Message-ID: ")).expect("a Message-ID").to_owned();

    // Postfix's real DSN for nobody: genuine, and the log says the message went there.
    let bob = postfix.wait_for_mail("bob", 1, Duration::from_secs(20));
    let (code, json) = judged(&setup, &bob[0]);
    assert_eq!(json["kind"], "ndr", "{json}");
    assert_eq!((json["verdict"].as_str(), code), (Some("genuine"), Some(1)), "{json}");
    let why = json["why"].as_str().unwrap_or_default();
    assert!(why.ends_with("; the signed message was sent to nobody@test.invalid (sent log)"), "{json}");

    // Alice forges a DSN for carol, who never got the message, quoting its valid header.
    let forged = format!(
        "Return-Path: <>\nDelivered-To: bob@test.invalid\nFrom: MAILER-DAEMON@mx.elsewhere.example\n\
To: bob@test.invalid\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
Content-Type: text/plain\n\nI could not deliver your message.\n\n--B\n\
Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.elsewhere.example\n\n\
Final-Recipient: rfc822; carol@elsewhere.example\nAction: failed\nStatus: 5.1.1\n\n--B\n\
Content-Type: text/rfc822-headers\n\n{sig}\n{id}\nFrom: bob@test.invalid\nTo: carol@elsewhere.example\n\
Subject: hello\n\n--B--\n"
    );
    let file = setup.dir.path().join("forged.eml");
    std::fs::write(&file, forged).unwrap();
    let (code, json) = judged(&setup, &file);
    assert_eq!((json["verdict"].as_str(), json["action"].as_str()), (Some("backscatter"), Some("move")), "{json}");
    assert_eq!(code, Some(0), "check files it away: {json}");
    let why = json["why"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("replayed signature: the signed message was never sent to carol@elsewhere.example"),
        "{json}"
    );
    let valid = json["carriers"].as_array().unwrap().iter().filter(|c| c["result"] == "valid").count();
    assert_eq!(valid, 2, "the header and the signed Message-ID are ours and valid: {json}");
}
