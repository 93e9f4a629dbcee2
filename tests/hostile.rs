//! Hostile input, end to end: each case is generated here (nothing big is committed), written to
//! a file and run through the real binary, `backscatter classify --json FILE`, with a bound on
//! its wall time (the child is killed past it) and on its peak resident memory (`VmHWM` of
//! /proc/PID/status, read every 2 ms while it runs; wait4's `ru_maxrss` would count the test
//! process's own memory, inherited across the exec). Every case must give a clear verdict or a
//! clear error — never a panic, a hang or memory without bound.
//!
//! What we accept, and why: without the sent log, a bounce whose returned original carries a
//! *valid* signature header is genuine even if that header was copied from a different message
//! of ours. The header proves that some message passed through our signer on day D (valid for
//! D..D+7); nothing in it binds it to this bounce's recipients or Message-ID. With `[sign]
//! sent_log = true` the log binds it (DESIGN §4.4: nonce + hashed recipients): a valid header
//! whose message never went to the failed recipient is a replay, and the bounce backscatter;
//! a valid header whose message is not in the log (signed on another host) stays genuine.
//! Outside its window the same header is expired, and the bounce backscatter.
//!
//! Bounds are for the debug build `cargo test` makes (the binary is unoptimised), with room for
//! a loaded CI machine; the figures measured here are noted beside each case. (Sampling can miss
//! a peak shorter than 2 ms; the big cases parse for hundreds of milliseconds.)

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backscatter::day::Day;
use backscatter::evidence::sentlog::{self, Entry};
use backscatter::sign::{batv, header, Key, KeyId};

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");
const SECRET: &str = "hostile-test-secret-0123456789";
const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: SECRET.as_bytes() };
const MB: u64 = 1024 * 1024;

/// What one run of the binary gave.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident set size, bytes.
    peak: u64,
    elapsed: Duration,
}

impl Run {
    /// The one JSON line `classify --json` printed.
    fn json(&self) -> serde_json::Value {
        assert_eq!(self.code, 0, "classify failed: {}", self.stderr);
        let mut lines = self.stdout.lines();
        let line = lines.next().unwrap_or_else(|| panic!("no output; stderr: {}", self.stderr));
        assert!(lines.next().is_none(), "one line per message: {}", self.stdout);
        serde_json::from_str(line).expect("a JSON object")
    }
}

/// A temp dir with a keyring (key 0, created 2020-01-01) and, optionally, a config.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(config: &str) -> Case {
        let dir = tempfile::tempdir().expect("temp dir");
        let keyring = dir.path().join("keyring.toml");
        std::fs::write(&keyring, format!("[[key]]\nid = 0\ncreated = \"2020-01-01\"\nsecret = \"{SECRET}\"\n"))
            .expect("keyring");
        std::fs::set_permissions(&keyring, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(dir.path().join("config.toml"), config).expect("config");
        Case { dir }
    }

    fn file(&self, message: &[u8]) -> PathBuf {
        let path = self.dir.path().join("message.eml");
        std::fs::write(&path, message).expect("message written");
        path
    }

    /// `backscatter classify --json FILE`, killed after `limit`; asserts the peak RSS stays
    /// under `max_rss` and that nothing panicked.
    fn classify(&self, message: &[u8], limit: Duration, max_rss: u64) -> Run {
        let file = self.file(message);
        self.run(file.as_os_str(), None, message.len(), limit, max_rss)
    }

    /// `backscatter classify --json -` with `message` on stdin; bounded like [`Case::classify`].
    fn classify_stdin(&self, message: Vec<u8>, limit: Duration, max_rss: u64) -> Run {
        let len = message.len();
        self.run("-".as_ref(), Some(message), len, limit, max_rss)
    }

    fn run(&self, input: &std::ffi::OsStr, stdin: Option<Vec<u8>>, len: usize, limit: Duration, max_rss: u64) -> Run {
        let run = spawn_bounded(
            Command::new(BIN)
                .arg("-c")
                .arg(self.dir.path().join("config.toml"))
                .arg("--keyring")
                .arg(self.dir.path().join("keyring.toml"))
                .args(["classify", "--json"])
                .arg(input)
                .env("HOME", self.dir.path())
                .env_remove("BACKSCATTER_CONFIG")
                .env_remove("XDG_CONFIG_HOME")
                .env_remove("XDG_DATA_HOME")
                .env_remove("RUST_LOG"),
            stdin,
            limit,
        );
        eprintln!("{len} bytes: {:?}, peak RSS {} MiB, exit {}", run.elapsed, run.peak / MB, run.code);
        assert!(!run.stderr.contains("panicked"), "a panic: {}", run.stderr);
        assert!(run.peak <= max_rss, "peak RSS {} MiB > {} MiB", run.peak / MB, max_rss / MB);
        run
    }
}

/// Runs `command` with `stdin` (if any) written and its output read on threads; kills it after
/// `limit` (a failure: a hang).
fn spawn_bounded(command: &mut Command, stdin: Option<Vec<u8>>, limit: Duration) -> Run {
    let start = Instant::now();
    let input = if stdin.is_some() { Stdio::piped() } else { Stdio::null() };
    let mut child = command.stdin(input).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id() as libc::pid_t;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // The reader may stop early (too big): a broken pipe is expected then.
        std::thread::spawn(move || std::io::Write::write_all(&mut pipe, &bytes));
    }
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let mut status = 0;
    let mut peak = 0;
    let mut killed = false;
    loop {
        // Before reaping: a zombie has no memory to report.
        peak = peak.max(high_water_mark(pid).unwrap_or(0));
        // SAFETY: waitpid on our own child's pid with a valid out-pointer; we reap it only here
        // (std's Child is never waited on).
        let reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if reaped == pid {
            break;
        }
        assert!(reaped == 0, "waitpid failed: {}", std::io::Error::last_os_error());
        if start.elapsed() > limit && !killed {
            // SAFETY: signalling our own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = start.elapsed();
    let (stdout, stderr) = (stdout.join().expect("stdout"), stderr.join().expect("stderr"));
    assert!(!killed, "still running after {limit:?} (a hang?); stderr: {stderr}");
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -libc::WTERMSIG(status) };
    Run { code, stdout, stderr, peak, elapsed }
}

/// `VmHWM` (peak resident set size) of process `pid`, bytes (proc(5): in kB).
fn high_water_mark(pid: libc::pid_t) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// RFC 5322 date of `day` at 10:00 UTC.
fn date(day: Day) -> String {
    let (y, m, d) = day.ymd();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m as usize - 1];
    format!("{d} {month} {y} 10:00:00 +0000")
}

/// A Postfix-style DSN that arrived on `arrival` (its top `Received:`), to `delivered_to`, with
/// `extra_head` in its own head and `original` (header block and body) as its returned message.
fn bounce(arrival: Day, delivered_to: &str, extra_head: &str, original: &str) -> String {
    let date = date(arrival);
    format!(
        "Return-Path: <>\n\
         Delivered-To: {delivered_to}\n\
         Received: from mx.victim.test by mx.example.com; {date}\n\
         From: MAILER-DAEMON@mx.victim.test\n\
         To: ann@example.com\n\
         Subject: Undelivered Mail Returned to Sender\n\
         Date: {date}\n\
         {extra_head}\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\
         \n\
         --B\n\
         Content-Type: text/plain\n\
         \n\
         Delivery to nobody@victim.test failed.\n\
         \n\
         --B\n\
         Content-Type: message/delivery-status\n\
         \n\
         Reporting-MTA: dns; mx.victim.test\n\
         \n\
         Final-Recipient: rfc822; nobody@victim.test\n\
         Action: failed\n\
         Status: 5.1.1\n\
         \n\
         --B\n\
         Content-Type: message/rfc822\n\
         \n\
         {original}\n\
         --B--\n"
    )
}

/// A returned original from ann@example.com, with `extra` header lines first.
fn original(extra: &str) -> String {
    format!("{extra}From: ann@example.com\nTo: nobody@victim.test\nSubject: hello\nMessage-ID: <1@example.com>\n\nhi\n")
}

const SECOND: Duration = Duration::from_secs(1);

/// Small inputs: 30 s (a debug binary on a loaded machine) and 64 MiB.
fn small(case: &Case, message: &str) -> serde_json::Value {
    case.classify(message.as_bytes(), 30 * SECOND, 64 * MB).json()
}

#[test]
fn a_100_mb_message_is_refused_unread_by_default_and_bounded_when_allowed() {
    let mut message = bounce(Day(20_600), "ann@example.com", "", &original("")).into_bytes();
    // The returned original's body grows to 100 MB of text.
    let tail = message.split_off(message.len() - "--B--\n".len());
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again.\n";
    while message.len() < 100 * MB as usize {
        message.extend_from_slice(line);
    }
    message.extend_from_slice(&tail);

    // Default max_message_size (64 MiB): a file is not read at all, said so, exit 66
    // (EX_NOINPUT); measured 15 MiB, 30 ms.
    let case = Case::new("");
    let run = case.classify(&message, 30 * SECOND, 32 * MB);
    assert_eq!(run.code, 66, "{}", run.stderr);
    assert!(run.stderr.contains("is more than max_message_size") && run.stderr.contains("raise"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    // On stdin it is read up to the limit, then refused the same way.
    let run = case.classify_stdin(message.clone(), 60 * SECOND, 160 * MB);
    assert_eq!(run.code, 66, "{}", run.stderr);
    assert!(run.stderr.contains("stdin: more than max_message_size"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    // Allowed (128 MiB): classified, in bounded time and memory; measured 118 MiB, 1.8 s.
    let case = Case::new("max_message_size = 134217728\n");
    let v = case.classify(&message, 120 * SECOND, 400 * MB).json();
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
}

#[test]
fn a_million_header_lines() {
    let mut head = String::with_capacity(20 * 1_000_000);
    for n in 0..1_000_000 {
        head.push_str(&format!("X-Filler-{n}: v\n"));
    }
    let case = Case::new("");
    // A bounce with them in its own head (the full parse runs; measured 150 MiB, 7.5 s), and
    // ordinary mail (the fast path; 34 MiB, 1.3 s).
    let v =
        case.classify(bounce(Day(20_600), "ann@example.com", &head, &original("")).as_bytes(), 120 * SECOND, 500 * MB);
    let v = v.json();
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
    let ordinary = format!("From: bob@example.org\n{head}Subject: hi\n\nhello\n");
    let v = case.classify(ordinary.as_bytes(), 60 * SECOND, 128 * MB).json();
    assert_eq!(v["kind"], "ordinary", "{v}");
}

#[test]
fn ten_thousand_mime_parts() {
    let mut parts = String::new();
    for n in 0..10_000 {
        parts.push_str(&format!("--B\nContent-Type: text/plain\n\npart {n}\n"));
    }
    let message =
        bounce(Day(20_600), "ann@example.com", "", &original("")).replacen("--B\n", &format!("{parts}--B\n"), 1);
    // Measured 24 MiB, 0.2 s.
    let v = Case::new("").classify(message.as_bytes(), 60 * SECOND, 128 * MB).json();
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
}

#[test]
fn message_rfc822_nested_100_deep() {
    let case = Case::new("");
    // Forwarded 100 times, each level a multipart holding the next message.
    let mut inner = original("");
    for n in 0..100 {
        inner = format!(
            "From: fwd{n}@example.org\nSubject: Fwd\nContent-Type: multipart/mixed; boundary=\"L{n}\"\n\n--L{n}\nContent-Type: message/rfc822\n\n{inner}\n--L{n}--\n"
        );
    }
    let v = small(&case, &bounce(Day(20_600), "ann@example.com", "", &inner));
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
    // Each message directly the body of the one before: mail-parser's nesting assertions
    // (tests/regression.rs), caught by the classifier.
    let mut inner = original("");
    for _ in 0..100 {
        inner = format!("Content-Type: message/rfc822\n\n{inner}");
    }
    let v = small(&case, &bounce(Day(20_600), "ann@example.com", "", &inner));
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
}

#[test]
fn multipart_nested_2000_deep() {
    let mut inner = "Content-Type: text/plain\n\ndeep\n".to_owned();
    for n in (0..2000).rev() {
        inner = format!("Content-Type: multipart/mixed; boundary=\"N{n}\"\n\n--N{n}\n{inner}\n--N{n}--\n");
    }
    let message = bounce(Day(20_600), "ann@example.com", "", &original("")).replacen(
        "--B\nContent-Type: text/plain\n",
        &format!("--B\n{inner}\n--B\nContent-Type: text/plain\n"),
        1,
    );
    // Measured 19 MiB, 0.1 s.
    let v = Case::new("").classify(message.as_bytes(), 60 * SECOND, 64 * MB).json();
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
}

#[test]
fn nul_bytes_invalid_utf8_and_mixed_encodings_in_headers() {
    let case = Case::new("");
    let mut message = bounce(
        Day(20_600),
        "ann@example.com",
        "X-Nul: a\0b\nSubject: =?utf-8?B?w6nDqQ==?= =?iso-8859-1?Q?caf=E9?= =?x-unknown?Q?=FF?= =?utf-7?B?K0FPa0Et?=\n\
         Comments: =?shift_jis?B?gqCCoA==?= =?utf-8?B?broken base64?= =?gb2312?Q?=B0=A1?=\n",
        &original("X-Backscatter-Sig: v1.0.\0.\0\n"),
    )
    .into_bytes();
    // Raw bytes that are not UTF-8 in a header, in the report, and in the body.
    let at = message.windows(8).position(|w| w == b"Subject:").expect("subject");
    message.splice(at..at, b"X-Latin1: caf\xe9 \xff\xfe\x80\n".iter().copied());
    let at = message.windows(7).position(|w| w == b"Status:").expect("status");
    message.splice(at..at, b"Diagnostic-Code: smtp; 550 \xc3\x28 \0 unknown\n".iter().copied());
    message.extend_from_slice(b"\0\0\xff trailing\n");
    let v = case.classify(&message, 30 * SECOND, 64 * MB).json();
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
    assert_eq!(v["carriers"][0]["result"], "malformed", "{v}");
}

#[test]
fn a_forged_bounce_quoting_our_valid_signature_from_another_message() {
    let case = Case::new("");
    // Signed on day 20600 for some other message; pasted into a bounce of a message we never sent.
    let sig = header::make(&KEY, Day(20_600), 0x0123_4567_89ab_cdef);
    let forged = |arrival| bounce(arrival, "ann@example.com", "", &original(&format!("X-Backscatter-Sig: {sig}\n")));
    // Within its 7 days and without a sent log: accepted (see the module docs, and the next test).
    let v = small(&case, &forged(Day(20_603)));
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert_eq!(v["carriers"][0]["result"], "valid", "{v}");
    // After them: expired, so backscatter.
    let v = small(&case, &forged(Day(20_608)));
    assert_eq!(
        (v["verdict"].as_str(), v["carriers"][0]["result"].as_str()),
        (Some("backscatter"), Some("expired")),
        "{v}"
    );
    // Quoted in a plain-text bounce (`> `), the same.
    let quoted = format!(
        "Return-Path: <>\nReceived: from mx.victim.test by mx.example.com; {}\nFrom: MAILER-DAEMON@mx.victim.test\n\
         To: ann@example.com\nSubject: Undelivered Mail Returned to Sender\n\n\
         This is the mail system at host mx.victim.test.\n\n<nobody@victim.test>: host mx.victim.test said: 550 5.1.1 User unknown\n\n\
         > X-Backscatter-Sig: {sig}\n> From: ann@example.com\n> To: nobody@victim.test\n> Subject: hello\n",
        date(Day(20_601))
    );
    let v = small(&case, &quoted);
    assert_eq!(v["verdict"], "genuine", "{v}");
}

#[test]
fn with_the_sent_log_a_quoted_signature_from_another_message_is_a_replay() {
    let case = Case::new("");
    let state = case.dir.path().join("state");
    let config = format!("state_dir = {state:?}\n[sign]\nsent_log = true\n");
    std::fs::write(case.dir.path().join("config.toml"), config).expect("config");
    // The sent log keeps 14 days back from today: the signature is yesterday's.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let today = Day::from_unix_seconds(i64::try_from(now).expect("seconds"));
    let signed = Day(today.0 - 1);
    let nonce = 0x0123_4567_89ab_cdef;
    let sig = header::make(&KEY, signed, nonce);
    let forged = bounce(today, "ann@example.com", "", &original(&format!("X-Backscatter-Sig: {sig}\n")));
    // Not in the log (signed on another host, or before the log was on): the carrier rule.
    let v = small(&case, &forged);
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert!(v["why"].as_str().is_some_and(|w| w.contains("not in the sent log")), "{v}");
    // The message it was made for went to friend@elsewhere.test only: a replay.
    let entry = Entry::new(&KEY, signed, nonce, Some("<other@example.com>"), ["friend@elsewhere.test"]);
    sentlog::file::append(&state, &entry).expect("log line");
    let v = small(&case, &forged);
    assert_eq!((v["verdict"].as_str(), v["action"].as_str()), (Some("backscatter"), Some("move")), "{v}");
    let why = v["why"].as_str().unwrap_or_default();
    assert!(why.starts_with("replayed signature: the signed message was never sent to nobody@victim.test"), "{v}");
    assert_eq!(v["carriers"][0]["result"], "valid", "the carrier itself is ours: {v}");
    // A real bounce of that message, for its real recipient: proof beyond replay.
    let genuine = forged.replace("nobody@victim.test", "friend@elsewhere.test");
    let v = small(&case, &genuine);
    assert_eq!(v["verdict"], "genuine", "{v}");
    assert!(
        v["why"]
            .as_str()
            .is_some_and(|w| w.ends_with("the signed message was sent to friend@elsewhere.test (sent log)")),
        "{v}"
    );
}

#[test]
fn batv_tags_with_upper_case_hex_and_prefix_verify() {
    let case = Case::new("");
    let day = Day(20_600);
    let tag = batv::make("ann@example.com", &KEY, day);
    assert!(tag[9..15].bytes().any(|b| b.is_ascii_lowercase()) || tag[9..15].bytes().all(|b| b.is_ascii_digit()));
    let upper = format!("PRVS={}{}", &tag[5..9], tag[9..15].to_ascii_uppercase()) + &tag[15..];
    let v = small(&case, &bounce(day, &upper, "", &original("")));
    assert_eq!(v["verdict"], "genuine", "{upper}: {v}");
    assert_eq!(v["why"], "valid BATV tag on Delivered-To", "{v}");
}

#[test]
fn batv_day_numbers_wrap_from_999_to_000() {
    let case = Case::new("");
    // Signed on a day whose expiry DDD = (day + 7) mod 1000 wraps past 999 to 002.
    let signed = Day(20_995);
    let tag = batv::make("ann@example.com", &KEY, signed);
    assert_eq!(&tag[6..9], "002", "{tag}");
    for (offset, verdict) in [(0, "genuine"), (4, "genuine"), (7, "genuine"), (8, "backscatter"), (500, "backscatter")]
    {
        let v = small(&case, &bounce(Day(signed.0 + offset), &tag, "", &original("")));
        assert_eq!(v["verdict"], verdict, "arrival {offset} days after signing: {v}");
    }
    // A tag dated after its arrival (DDD − arrival ≥ 8, mod 1000) is refused too.
    let v = small(&case, &bounce(Day(signed.0 - 1), &tag, "", &original("")));
    assert_eq!(v["verdict"], "backscatter", "{v}");
}

#[test]
fn carriers_naming_keys_that_do_not_exist() {
    let case = Case::new("");
    let other = Key { id: KeyId::new(7).expect("7"), secret: SECRET.as_bytes() };
    let sig = header::make(&other, Day(20_600), 1);
    let tag = batv::make("ann@example.com", &other, Day(20_600));
    let v = small(&case, &bounce(Day(20_601), &tag, "", &original(&format!("X-Backscatter-Sig: {sig}\n"))));
    assert_eq!(v["verdict"], "backscatter", "{v}");
    let results: Vec<&str> =
        v["carriers"].as_array().expect("carriers").iter().filter_map(|c| c["result"].as_str()).collect();
    assert_eq!(results, ["unknown-key", "unknown-key"], "{v}");
}

#[test]
fn a_folded_or_duplicated_signature_header() {
    let case = Case::new("");
    let sig = header::make(&KEY, Day(20_600), 2);
    let forged = header::make(&Key { id: KeyId::ZERO, secret: b"not our secret" }, Day(20_600), 3);
    let judge = |extra: &str| small(&case, &bounce(Day(20_601), "ann@example.com", "", &original(extra)));
    // Folded after the colon (the only place a fold can go in one token): still ours.
    let v = judge(&format!("X-Backscatter-Sig:\n\t{sig}\n"));
    assert_eq!(v["verdict"], "genuine", "{v}");
    // Folded inside the token: not one token any more, so not valid.
    let v = judge(&format!("X-Backscatter-Sig: {}\n {}\n", &sig[..20], &sig[20..]));
    assert_eq!(v["verdict"], "backscatter", "{v}");
    // Duplicated: a forged one beside ours — ours proves the original; both are listed.
    let v = judge(&format!("X-Backscatter-Sig: {forged}\nX-Backscatter-Sig: {sig}\n"));
    assert_eq!(v["verdict"], "genuine", "{v}");
    let results: Vec<&str> =
        v["carriers"].as_array().expect("carriers").iter().filter_map(|c| c["result"].as_str()).collect();
    assert_eq!(results, ["forged", "valid"], "{v}");
    // The same valid header twice is one carrier.
    let v = judge(&format!("X-Backscatter-Sig: {sig}\nX-Backscatter-Sig: {sig}\n"));
    assert_eq!(v["carriers"].as_array().map(Vec::len), Some(1), "{v}");
    // Two forged ones: backscatter.
    let v = judge(&format!("X-Backscatter-Sig: {forged}\nx-backscatter-sig: {forged}x\n"));
    assert_eq!(v["verdict"], "backscatter", "{v}");
}
