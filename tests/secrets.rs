//! No secret in the output: a full run — `keys init`, `sendmail` (a recording script as the real
//! sendmail), `classify --json`, `check -v`, `scan`, `keys list`, `stats` — every command at
//! `-vvv` with `RUST_LOG=trace` (every crate's logs too), and every line printed on stdout and
//! stderr searched for the keyring's secret and for the full signature we stamped (its header
//! value and its 128-bit MAC), in any case.
//!
//! Not searched for: the signed Message-ID and the BATV-tagged address (`sendmail -v` logs "sender
//! tagged as prvs=…", as the MTA's own log does). They are identifiers that
//! every copy of the message carries (a Message-ID header, an envelope sender), and DESIGN §5
//! prints the returned original's Message-ID as `original.message_id`; the signature header is
//! the carrier that only our signer can make and is never printed.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");

/// Runs the binary with `args` (after `-c CONFIG -vvv`), `stdin` piped in; returns its output.
fn run(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("-c")
        .arg(dir.join("config.toml"))
        .arg("-vvv")
        .args(args)
        .env("BACKSCATTER_CONFIG", dir.join("config.toml"))
        .env("HOME", dir)
        .env("RUST_LOG", "trace")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary runs");
    let _ = child.stdin.take().expect("stdin").write_all(stdin);
    child.wait_with_output().expect("the binary ends")
}

/// The value of header `name` in `message` (first occurrence, unfolded, trimmed).
fn header_value(message: &str, name: &str) -> String {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let line = message.lines().find(|l| l.to_ascii_lowercase().starts_with(&prefix)).expect("the header");
    line[prefix.len()..].trim().to_owned()
}

#[test]
fn no_command_prints_the_secret_or_a_full_signature() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let recorder = dir.join("sendmail.real");
    std::fs::write(
        &recorder,
        "#!/bin/sh\nd=$(dirname \"$0\")\nprintf '%s\\n' \"$@\" > \"$d/args\"\ncat > \"$d/stdin\"\n",
    )
    .expect("recorder");
    std::fs::set_permissions(&recorder, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let maildir = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("maildir");
    }
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "keyring = {:?}\nstate_dir = {:?}\nprotected_domains = [\"example.com\"]\n\
             [sign]\nsendmail_path = {:?}\nmyorigin = \"example.com\"\n\
             [policy]\nmode = \"enforce\"\ngrace_days = 0\n\
             [[maildir]]\npath = {:?}\n",
            dir.join("keyring.toml"),
            dir.join("state"),
            recorder,
            maildir,
        ),
    )
    .expect("config");

    let mut outputs: Vec<(String, Output)> = Vec::new();
    let mut step = |name: &str, args: &[&str], stdin: &[u8]| {
        let out = run(dir, args, stdin);
        outputs.push((name.to_owned(), out.clone()));
        out
    };

    let init = step("keys init", &["keys", "init"], b"");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let keyring = std::fs::read_to_string(dir.join("keyring.toml")).expect("keyring");
    let secret = header_value(&keyring.replace(" = ", ": "), "secret").trim_matches('"').to_owned();
    assert!(secret.len() >= 32, "a generated secret: {secret:?}");

    let message = b"From: ann@example.com\nTo: nobody@victim.test\nSubject: hello\n\nhi\n";
    let sent = step("sendmail", &["sendmail", "-f", "ann@example.com", "-i", "nobody@victim.test"], message);
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    let stamped = std::fs::read_to_string(dir.join("stdin")).expect("what the real sendmail got");
    let signature = header_value(&stamped, "X-Backscatter-Sig");
    let mac = signature.rsplit('.').next().expect("v1.K.D.N.S").to_owned();
    assert_eq!(mac.len(), 32, "{signature}");
    let args = std::fs::read_to_string(dir.join("args")).expect("recorded args");
    let tag = args.lines().find(|l| l.starts_with("prvs=")).expect("a BATV-tagged sender").to_owned();

    // A genuine bounce of that message (tag and header), a forged one, an ordinary message.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let date = backscatter::journal::format_time(now as i64);
    let bounce = |delivered_to: &str, original: &str| {
        format!(
            "Return-Path: <>\nDelivered-To: {delivered_to}\nFrom: MAILER-DAEMON@mx.victim.test\nTo: ann@example.com\n\
             Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n\
             Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n\
             --B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.victim.test\n\n\
             Final-Recipient: rfc822; nobody@victim.test\nAction: failed\nStatus: 5.1.1\n\n\
             --B\nContent-Type: message/rfc822\n\n{original}\n--B--\n"
        )
    };
    let genuine = maildir.join(format!("new/{now}.1.host"));
    std::fs::write(&genuine, bounce(&tag, &stamped)).expect("genuine bounce");
    let forged = maildir.join(format!("new/{now}.2.host"));
    std::fs::write(&forged, bounce("ann@example.com", "From: ann@example.com\nSubject: offer\n\nbuy\n"))
        .expect("forged");
    std::fs::write(maildir.join(format!("new/{now}.3.host")), format!("From: bob@example.org\nDate: {date}\n\nhi\n"))
        .expect("ordinary");

    let classified = step("classify", &["classify", "--json", maildir.to_str().expect("utf-8")], b"");
    let text = String::from_utf8_lossy(&classified.stdout);
    assert!(text.contains("\"verdict\":\"genuine\"") && text.contains("\"verdict\":\"backscatter\""), "{text}");
    let checked = step("check", &["check", "-v", genuine.to_str().expect("utf-8")], b"");
    assert_eq!(checked.status.code(), Some(1), "genuine is kept: {}", String::from_utf8_lossy(&checked.stderr));
    let scanned = step("scan", &["scan", maildir.to_str().expect("utf-8")], b"");
    assert!(scanned.status.success(), "{}", String::from_utf8_lossy(&scanned.stderr));
    assert!(!forged.exists(), "the forged bounce was moved");
    step("keys list", &["keys", "list"], b"");
    let stats = step("stats", &["stats"], b"");
    assert!(String::from_utf8_lossy(&stats.stdout).contains('1'), "one move in the stats");

    let forbidden = [("the keyring secret", secret.as_str()), ("the signature header", &signature), ("its MAC", &mac)];
    let mut lines = 0;
    for (name, out) in &outputs {
        for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            for line in String::from_utf8_lossy(bytes).lines() {
                lines += 1;
                let lower = line.to_ascii_lowercase();
                for (what, value) in forbidden {
                    assert!(!lower.contains(&value.to_ascii_lowercase()), "{name} printed {what} on {stream}: {line}");
                }
            }
        }
    }
    // The search saw real logs (trace level prints plenty), and would find what it looks for.
    println!("{lines} lines searched");
    assert!(lines > 20, "only {lines} lines printed");
    assert!(stamped.contains(&signature) && signature.ends_with(&mac) && keyring.contains(&secret));
}
