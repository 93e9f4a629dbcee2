//! The Maildir store at scale: `cargo bench --bench maildir` (release build). Builds a
//! 100,000-message Maildir (~5% bounces, the rest ham, all from `tests/corpus`) in a temp dir and
//! reports, in one run:
//! - `scan --dry-run` (the real binary) wall time ÷ the time to read every file once (the floor);
//! - watch latency from a file landing in `new/` (tmp→new rename, as an MDA does) to its move
//!   into the folder, median and p99 over 1,000 arrivals, the watcher running in this process;
//! - peak RSS (VmHWM) of this process after an in-process scan of the same Maildir (the corpus
//!   the bench itself holds included).
//!
//! Aims (issue 4): ratio ≤ 1.5, p99 ≤ 50 ms, RSS ≤ 64 MB. Without `--bench` (`cargo test
//! --all-targets`) one tiny run shows it still works.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use backscatter::config::{Config, Maildir as MaildirConfig};
use backscatter::day::Day;
use backscatter::engine::daemon::{self, Engine, Timing};
use backscatter::engine::{MaildirBox, Mover, Pipeline, SystemClock};
use backscatter::journal::Journal;
use backscatter::keys::Keyring;
use backscatter::message::Message;
use backscatter::policy::Action;
use backscatter::store::maildir::Maildir;
use backscatter::verdict;
use tokio_util::sync::CancellationToken;

/// (messages in the big Maildir, watch arrivals).
fn sizes() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (100_000, 1_000)
    } else {
        (500, 20)
    }
}

/// Files of a corpus `labels.tsv` whose kind column is `kind` (first of each `dup_of` group).
fn corpus(dir: &str, kind: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(dir);
    let labels = fs::read_to_string(root.join("labels.tsv")).expect("labels.tsv");
    let mut header = labels.lines().next().unwrap_or("").split('\t');
    let dup = header.position(|c| c == "dup_of");
    labels
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            let is_dup = dup.and_then(|i| cols.get(i)).is_some_and(|d| !d.is_empty());
            (cols.get(1) == Some(&kind) && !is_dup).then(|| fs::read(root.join(cols[0])).ok()).flatten()
        })
        .collect()
}

fn maildir(root: &Path) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
}

/// Peak resident set size of this process, kB.
fn vm_hwm_kb() -> u64 {
    vm_hwm_kb_of("/proc/self/status")
}

/// VmHWM from a `/proc/PID/status` file, kB (0 when it cannot be read).
fn vm_hwm_kb_of(status: &str) -> u64 {
    let status = fs::read_to_string(status).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let (count, arrivals) = sizes();
    let ham = corpus("ham", "not-bounce");
    let bounces = corpus("sisimai", "bounce");
    assert!(!ham.is_empty() && !bounces.is_empty(), "the corpus is missing");
    let tmp = tempfile::tempdir().unwrap();
    // A keyring long past its grace period, so that backscatter really moves.
    let keyring_path = tmp.path().join("keyring.toml");
    Keyring::new(&keyring_path, Day(0), "bench-secret-bench-secret-bench-secret-1234".to_owned()).create().unwrap();
    let keyring = Keyring::load(&keyring_path).unwrap();
    let big = tmp.path().join("big");
    maildir(&big);
    let start = Instant::now();
    let mut bytes = 0usize;
    for i in 0..count {
        // Every 20th message a bounce: 5%.
        let message = if i % 20 == 0 { &bounces[i / 20 % bounces.len()] } else { &ham[i % ham.len()] };
        bytes += message.len();
        let sub = if i % 2 == 0 { "cur" } else { "new" };
        let name = if sub == "cur" { format!("{i}.M{i}P1.bench:2,S") } else { format!("{i}.M{i}P1.bench") };
        fs::write(big.join(sub).join(name), message).unwrap();
    }
    println!("built {count} messages ({:.0} MB) in {:.1?}", bytes as f64 / 1e6, start.elapsed());

    // The floor: read every file once (warm page cache, like the scan after it).
    let paths: Vec<PathBuf> = Maildir::open(&big, "Backscatter").unwrap().messages().unwrap();
    let floor = {
        let start = Instant::now();
        let total: usize = paths.iter().map(|p| fs::read(p).map_or(0, |b| b.len())).sum();
        assert_eq!(total, bytes);
        start.elapsed()
    };

    // The real binary, as a user runs it.
    let (scan, child_kb) = {
        let start = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_backscatter"))
            .arg("--keyring")
            .arg(&keyring_path)
            .args(["scan", "--dry-run"])
            .arg(&big)
            .env("XDG_DATA_HOME", tmp.path().join("data"))
            .env_remove("BACKSCATTER_CONFIG")
            .env("XDG_CONFIG_HOME", tmp.path().join("config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The child's peak RSS: VmHWM only grows, so the last reading before it exits is close.
        let mut peak = 0;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            peak = peak.max(vm_hwm_kb_of(&format!("/proc/{}/status", child.id())));
            std::thread::sleep(Duration::from_millis(2));
        };
        assert!(status.success());
        (start.elapsed(), peak)
    };
    println!(
        "scan --dry-run: {scan:.2?} for {count} messages; reading them once: {floor:.2?}; ratio {:.2}; \
         its peak RSS ≥ {:.1} MB",
        scan.as_secs_f64() / floor.as_secs_f64(),
        child_kb as f64 / 1024.0
    );

    // In-process scan of the same Maildir, for the RSS figure.
    let config = Config::default();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let pipeline = Pipeline::new(config.clone(), Some(keyring.clone()), Arc::new(SystemClock)).unwrap();
        let md = MaildirBox::new(
            Maildir::open(&big, "Backscatter").unwrap(),
            pipeline,
            Mover::new(None, Arc::new(SystemClock)),
        );
        for path in &paths {
            md.handle(path).await.unwrap();
        }
    });
    let corpus_mb = (ham.iter().chain(&bounces).map(Vec::len).sum::<usize>()) as f64 / 1e6;
    println!(
        "peak RSS (VmHWM) after an in-process scan of all {count}: {:.1} MB, of which the corpus this bench holds: {corpus_mb:.1} MB",
        vm_hwm_kb() as f64 / 1024.0
    );

    // Where the scan's time goes: the same work in memory on a sample, classification alone and
    // the whole judgement (classification, arrival time, carriers, policy).
    let sample: Vec<Vec<u8>> = paths.iter().step_by((count / 5000).max(1)).filter_map(|p| fs::read(p).ok()).collect();
    let time = |f: &dyn Fn(&[u8])| {
        let start = Instant::now();
        for message in &sample {
            f(message);
        }
        start.elapsed().as_secs_f64() * 1e6 / sample.len() as f64
    };
    let classify_us = time(&|m| drop(std::hint::black_box(backscatter::classify::classify(&Message::parse(m)))));
    let judge_us =
        time(&|m| drop(std::hint::black_box(verdict::judge(&Message::parse(m), 0, keyring.keys(), None, &config))));
    let floor_us = floor.as_secs_f64() * 1e6 / count as f64;
    println!(
        "per message: read {floor_us:.1} µs, classify {classify_us:.1} µs, judge (incl. classify) {judge_us:.1} µs"
    );

    // Watch latency: arrivals one at a time into a small Maildir, of bounces the policy moves.
    let bounces: Vec<&Vec<u8>> = bounces
        .iter()
        .filter(|b| {
            verdict::judge(&Message::parse(b), 0, keyring.keys(), None, &config).decision.action == Action::Move
        })
        .collect();
    assert!(!bounces.is_empty(), "no corpus bounce is moved by the default policy");
    let small = tmp.path().join("small");
    maildir(&small);
    let mut watched = config.clone();
    watched.maildir = vec![MaildirConfig { path: small.to_string_lossy().into_owned(), sent: None }];
    let engine = Engine {
        pipeline: runtime
            .block_on(async { Pipeline::new(watched, Some(keyring.clone()), Arc::new(SystemClock)) })
            .unwrap(),
        mover: Mover::new(Some(Journal::open(&tmp.path().join("state")).unwrap()), Arc::new(SystemClock)),
        state_dir: tmp.path().join("state"),
        spf_snapshot: None,
        timing: Timing::default(),
        imap: Default::default(),
        page: None,
    };
    let token = CancellationToken::new();
    let watcher = runtime.spawn(daemon::run(engine, token.clone(), tokio::sync::mpsc::channel(1).1));
    let mut latencies = Vec::with_capacity(arrivals);
    // Wait until the watch is up: the folder appears with the first move.
    let folder = small.join(".Backscatter/cur");
    let deliver = |i: usize| -> Instant {
        let name = format!("{i}.watch.bench");
        fs::write(small.join("tmp").join(&name), bounces[i % bounces.len()]).unwrap();
        let landed = Instant::now();
        fs::rename(small.join("tmp").join(&name), small.join("new").join(&name)).unwrap();
        landed
    };
    let moved = |i: usize| folder.join(format!("{i}.watch.bench:2,")).exists();
    let wait = |i: usize| -> bool {
        let start = Instant::now();
        while !moved(i) {
            if start.elapsed() > Duration::from_secs(10) {
                return false;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        true
    };
    deliver(usize::MAX / 2);
    assert!(wait(usize::MAX / 2), "the watcher never moved the first message");
    for i in 0..arrivals {
        let landed = deliver(i);
        assert!(wait(i), "message {i} was not moved within 10 s");
        latencies.push(landed.elapsed());
    }
    token.cancel();
    runtime.block_on(watcher).unwrap().unwrap();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1];
    println!(
        "watch latency over {arrivals} arrivals: median {:.2?}, p99 {:.2?}, max {:.2?}",
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1]
    );
}
