//! The sent log (DESIGN §4.4): bytes on disk per signed message, the time of one append (what
//! the drop-in and every milter session add to signing), the time and heap a reader takes to
//! load 1,000,000 messages, a refresh with nothing new, and the time to judge a bounce with a
//! valid signature against that log (with and without it). `cargo bench --bench sentlog`
//! (release); `cargo test --all-targets` runs a tiny version (10,000 messages).

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backscatter::config::Config;
use backscatter::day::Day;
use backscatter::evidence::sentlog::{file, Entry};
use backscatter::keys::Keyring;
use backscatter::message::Message;
use backscatter::policy::Verdict;
use backscatter::sign::header;
use backscatter::verdict;

#[path = "common/heap.rs"]
mod heap;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn today() -> Day {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    Day::from_unix_seconds(i64::try_from(now).expect("seconds"))
}

/// A DSN for `failed`, returning the headers of a message signed with `sig`.
fn bounce(failed: &str, sig: &str) -> String {
    format!(
        "Delivered-To: ann@example.com\nFrom: MAILER-DAEMON@mx.example.net\nTo: ann@example.com\n\
Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
Content-Type: text/plain\n\nI could not deliver it.\n\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; {failed}\nAction: failed\nStatus: 5.1.1\n\n\
--B\nContent-Type: text/rfc822-headers\n\nX-Backscatter-Sig: {sig}\nMessage-ID: <1@example.com>\n\
From: ann@example.com\nTo: {failed}\nSubject: hi\n\n--B--\n"
    )
}

/// Mean time of `f` over `n` runs.
fn mean(n: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

fn main() {
    let n: u64 = if full() { 1_000_000 } else { 10_000 };
    let dir = tempfile::tempdir().unwrap();
    let keyring = Keyring::new(&dir.path().join("keyring.toml"), Day(today().0 - 30), "bench-secret-0123456789".into());
    let key = keyring.signing_key().unwrap().as_key();
    let state = dir.path().join("state");
    let day = Day(today().0 - 1);

    // On disk: one line per message.
    let one = Entry::new(&key, day, 1, Some("<a.1@example.com>"), ["friend@example.net"]).line().len();
    let three =
        Entry::new(&key, day, 2, Some("<a.2@example.com>"), ["a@example.net", "b@example.net", "c@example.org"]);
    let three = three.line().len();

    // One append, as the drop-in and the milter do it (open, one write, close).
    let appends = if full() { 10_000 } else { 1_000 };
    let mut nonce = 0u64;
    let append = mean(appends, || {
        nonce += 1;
        let entry = Entry::new(&key, day, nonce, Some("<x@example.com>"), ["friend@example.net"]);
        file::append(&state, &entry).unwrap();
    });

    // N messages in the day files (written in bulk: the load is what is timed).
    std::fs::remove_dir_all(file::dir(&state)).unwrap();
    std::fs::create_dir_all(file::dir(&state)).unwrap();
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(file::dir(&state).join(format!("{}.log", day.0))).unwrap());
    for i in 0..n {
        let to = format!("friend{i}@example.net");
        let id = format!("<{i:x}@example.com>");
        out.write_all(Entry::new(&key, day, i, Some(&id), [to.as_str()]).line().as_bytes()).unwrap();
    }
    out.flush().unwrap();
    drop(out);
    let bytes = std::fs::metadata(file::dir(&state).join(format!("{}.log", day.0))).unwrap().len();

    let before = heap::live();
    let start = Instant::now();
    let mut reader = file::Reader::new(&state);
    reader.refresh(today()).unwrap();
    let load = start.elapsed();
    let heap = heap::live().saturating_sub(before);
    assert_eq!(reader.log().len() as u64, n);
    let refresh = mean(1_000, || reader.refresh(today()).unwrap());

    // Judging: a bounce quoting the signature of message 7 (sent to friend7), for friend7 and
    // for someone else; and the same without a log.
    let mut config = Config::default();
    config.sign.sent_log = true;
    let sig = header::make(&key, day, 7);
    let (real, forged) = (bounce("friend7@example.net", &sig), bounce("eve@example.org", &sig));
    let keys = keyring.keys();
    let log = Some(reader.log());
    let arrival = today().0 * 86_400 + 3_600;
    let (real, forged) = (Message::parse(real.as_bytes()), Message::parse(forged.as_bytes()));
    let judge = |m: &Message<'_>, log| verdict::judge_with_log(m, arrival, keys, None, log, &config).decision.verdict;
    assert_eq!(judge(&real, log), Verdict::Genuine);
    assert_eq!(judge(&forged, log), Verdict::Backscatter);
    assert_eq!(judge(&forged, None), Verdict::Genuine);
    let runs = if full() { 2_000 } else { 200 };
    let with_log = mean(runs, || assert_eq!(judge(&forged, log), Verdict::Backscatter));
    let without = mean(runs, || assert_eq!(judge(&forged, None), Verdict::Genuine));

    println!(
        "sent log: {one} bytes per message to one recipient, {three} to three; {n} messages: file {:.1} MB \
         ({:.1} bytes each), loaded in {:.0} ms into {:.1} MB of heap ({:.0} bytes each); a refresh with nothing new \
         {:.1} µs; one append {:.1} µs; judging a bounce with a valid signature {:.1} µs with the log, {:.1} µs without",
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        load.as_secs_f64() * 1e3,
        heap as f64 / 1e6,
        heap as f64 / n as f64,
        refresh.as_secs_f64() * 1e6,
        append.as_secs_f64() * 1e6,
        with_log.as_secs_f64() * 1e6,
        without.as_secs_f64() * 1e6,
    );
}
