//! The IMAP store against a real Dovecot: arrival-to-move latency over IDLE (median, p99) and
//! the one-shot scan rate of a big mailbox over IMAP, next to the same mailbox read as a
//! Maildir with the same verdict. `cargo bench --bench imap` (release): 200 arrivals and a
//! 10,000-message mailbox; `cargo test --all-targets` runs a tiny version (10 and 200).

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backscatter::config::{Config, Imap, Mode};
use backscatter::engine::daemon::{self, Engine, Timing};
use backscatter::engine::imap::{self, Options, Sweeper};
use backscatter::engine::{Mover, Pipeline, SystemClock};
use backscatter::keys::Keyring;
use backscatter::verdict;
use support::{wait_for, Dovecot};
use tokio_util::sync::CancellationToken;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Real bounces from the corpus (BSD newlines, as a Maildir holds them).
fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sisimai/maildir/bsd");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn keyring() -> Keyring {
    let text = "[[key]]\nid = 3\ncreated = \"1980-01-01\"\nsecret = \"secret\"\n";
    Keyring::parse(Path::new("keyring.toml"), text).unwrap()
}

fn config() -> Config {
    Config { policy: backscatter::config::Policy { mode: Mode::Enforce, ..Default::default() }, ..Config::default() }
}

fn pipeline() -> Pipeline {
    Pipeline::new(config(), Some(keyring()), Arc::new(SystemClock)).unwrap()
}

fn account(dovecot: &Dovecot) -> Imap {
    dovecot.account("bench", "alice")
}

fn seq(bytes: &[u8]) -> Option<usize> {
    let at = bytes.windows(12).position(|w| w == b"X-Bench-Seq:")?;
    let rest = bytes.get(at + 12..)?;
    let digits: String = rest.iter().skip(1).take_while(|b| b.is_ascii_digit()).map(|&b| char::from(b)).collect();
    digits.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// Delivers `count` bounces, one every `gap`, into a watched INBOX and measures each one's
/// arrival-to-move time.
fn latency(bounces: &[Vec<u8>], count: usize) {
    let dovecot = Dovecot::start(&[]);
    let state = tempfile::tempdir().unwrap();
    let mut watched = config();
    watched.imap = vec![account(&dovecot)];
    let engine = Engine {
        pipeline: Pipeline::new(watched, Some(keyring()), Arc::new(SystemClock)).unwrap(),
        mover: Mover::new(Some(backscatter::journal::Journal::open(state.path()).unwrap()), Arc::new(SystemClock)),
        state_dir: state.path().to_path_buf(),
        spf_snapshot: None,
        timing: Timing::default(),
        imap: Options::default(),
        page: None,
    };
    let token = CancellationToken::new();
    let stop = token.clone();
    let watcher = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(daemon::run(engine, stop, tokio::sync::mpsc::channel(1).1)).unwrap();
    });
    let state_file = state.path().join("imap/bench.json");
    wait_for("the watcher", Duration::from_secs(10), || state_file.exists());
    // Only messages the verdict moves count: pick bounces that are backscatter with this keyring.
    let (config, keys) = (config(), keyring());
    let movers: Vec<&Vec<u8>> = bounces
        .iter()
        .filter(|b| {
            verdict::judge(&backscatter::message::Message::parse(b), 0, keys.keys(), None, &config).decision.action
                == backscatter::policy::Action::Move
        })
        .collect();
    // The moment each message shows up in the folder, by its X-Bench-Seq (polled every 2 ms).
    let folder = dovecot.maildir().join(".Backscatter");
    let mut moved: HashMap<usize, Instant> = HashMap::new();
    let look = |moved: &mut HashMap<usize, Instant>| {
        for sub in ["cur", "new"] {
            let Ok(entries) = std::fs::read_dir(folder.join(sub)) else { continue };
            for path in entries.flatten().map(|e| e.path()) {
                if let Some(n) = std::fs::read(&path).ok().as_deref().and_then(seq) {
                    moved.entry(n).or_insert_with(Instant::now);
                }
            }
        }
    };
    let maildir = dovecot.maildir();
    let mut arrived = Vec::with_capacity(count);
    for n in 0..count {
        let body = movers[n % movers.len()];
        let mut message = format!("X-Bench-Seq: {n}\n").into_bytes();
        message.extend_from_slice(body);
        let tmp = maildir.join(format!("tmp/bench{n}"));
        std::fs::write(&tmp, &message).unwrap();
        std::fs::rename(&tmp, maildir.join(format!("new/bench{n}"))).unwrap();
        arrived.push(Instant::now());
        let until = Instant::now() + Duration::from_millis(50);
        while Instant::now() < until {
            look(&mut moved);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while moved.len() < count && Instant::now() < deadline {
        look(&mut moved);
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(moved.len(), count, "every message moved");
    token.cancel();
    watcher.join().unwrap();
    let mut times: Vec<Duration> = moved.iter().map(|(&n, &at)| at.duration_since(arrived[n])).collect();
    times.sort();
    println!(
        "arrival-to-move over IDLE: {} messages (one every 50 ms), median {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
}

/// Fills INBOX with `count` messages (cycling the corpus) and times a dry-run `scan --imap`
/// (cold: Dovecot indexes the new files; warm: a second run) against reading the same files as a
/// Maildir with the same verdict.
fn scan_rate(messages: &[Vec<u8>], count: usize) {
    let dovecot = Dovecot::start(&[]);
    let cur = dovecot.maildir().join("cur");
    let mut bytes = 0;
    for n in 0..count {
        let m = &messages[n % messages.len()];
        bytes += m.len();
        std::fs::write(cur.join(format!("{n}.bench:2,")), m).unwrap();
    }
    let status = std::process::Command::new("chown").args(["-R", "nobody:nogroup"]).arg(&cur).status().unwrap();
    assert!(status.success());
    let account = account(&dovecot);
    let (config, keys) = (config(), keyring());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for run in ["cold", "warm"] {
        let sweeper = Sweeper {
            pipeline: rt.block_on(async { pipeline() }),
            mover: Mover::new(None, Arc::new(SystemClock)),
            observer: None,
            sent: None,
        };
        let start = Instant::now();
        let summary = rt.block_on(imap::scan(&account, &sweeper, &mut |_, _, _| {})).unwrap();
        let took = start.elapsed();
        assert_eq!(summary.scanned, count);
        println!(
            "scan --imap --dry-run ({run} index): {count} messages, {:.1} MB in {:.2} s = {:.0} messages/s ({} would move)",
            bytes as f64 / 1e6,
            took.as_secs_f64(),
            count as f64 / took.as_secs_f64(),
            summary.would_move
        );
    }
    let start = Instant::now();
    let mut would_move = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&cur).unwrap().flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in &entries {
        let m = std::fs::read(path).unwrap();
        // The Maildir store's arrival fallback is the file's mtime, as INTERNALDATE is for IMAP.
        let modified = std::fs::metadata(path).unwrap().modified().unwrap();
        let mtime = modified.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let j = verdict::judge(&backscatter::message::Message::parse(&m), mtime, keys.keys(), None, &config);
        would_move += usize::from(j.decision.action == backscatter::policy::Action::Move);
    }
    let took = start.elapsed();
    println!(
        "same mailbox as a Maildir (read + judge): {} messages in {:.2} s = {:.0} messages/s ({would_move} would move)",
        entries.len(),
        took.as_secs_f64(),
        entries.len() as f64 / took.as_secs_f64()
    );
}

fn main() {
    let corpus = corpus();
    let (arrivals, mailbox) = if full() { (200, 10_000) } else { (10, 200) };
    latency(&corpus, arrivals);
    scan_rate(&corpus, mailbox);
}
