//! IMAP under faults: a proxy on loopback between the engine and a real Dovecot cuts the
//! connection at random byte counts (mid-FETCH, mid-MOVE or mid-COPY/EXPUNGE, mid-IDLE) and
//! delays it, a hundred times and more, while mail keeps arriving. Afterwards every message is
//! exactly once where it belongs, and every journaled move is settled.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backscatter::config::{Config, Imap, Mode};
use backscatter::engine::daemon::{self, Engine, Timing};
use backscatter::engine::imap::Options;
use backscatter::engine::{Mover, Pipeline, SystemClock};
use backscatter::journal::{self, Journal, State};
use support::{wait_for, Dovecot};
use tokio_util::sync::CancellationToken;

/// A TCP proxy to `upstream` that cuts each connection after a random number of bytes (while
/// `faulty`), sometimes after a pause; counts the cuts.
struct Proxy {
    port: u16,
    faulty: Arc<AtomicBool>,
    cuts: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: u16, seed: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (faulty, cuts) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicU64::new(0)));
        let (f, c) = (faulty.clone(), cuts.clone());
        std::thread::spawn(move || {
            let mut random = seed;
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                random = random.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                // Cut after 100 B … 64 KiB of server output: greeting, login, SELECT, FETCH, MOVE.
                let budget = 100 + (random >> 33) % 65_536;
                let pause = (random >> 20).is_multiple_of(4);
                let cut = f.load(Ordering::Relaxed).then_some(budget);
                pump(client, server, cut, pause, c.clone());
            }
        });
        Proxy { port, faulty, cuts }
    }
}

/// Copies both ways; after `cut` bytes from the server, shuts both sockets down.
fn pump(client: TcpStream, server: TcpStream, cut: Option<u64>, pause: bool, cuts: Arc<AtomicU64>) {
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        while let Ok(n) = c_read.read(&mut buffer) {
            if n == 0 || s_write.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 8192];
        let mut sent = 0u64;
        while let Ok(n) = s_read.read(&mut buffer) {
            if n == 0 {
                break;
            }
            let room = cut.map_or(n as u64, |cut| cut.saturating_sub(sent).min(n as u64)) as usize;
            if c_write.write_all(&buffer[..room]).is_err() {
                break;
            }
            sent += room as u64;
            if room < n {
                if pause {
                    std::thread::sleep(Duration::from_millis(200));
                }
                cuts.fetch_add(1, Ordering::Relaxed);
                let _ = c_write.shutdown(Shutdown::Both);
                let _ = s_read.shutdown(Shutdown::Both);
                break;
            }
        }
        let _ = c_write.shutdown(Shutdown::Write);
    });
}

fn fixture_bounce(id: &str) -> String {
    let raw =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ndr/001.eml")).unwrap();
    raw.replacen(
        "Message-Id: <201310160515.r9G5FZh9018575@smtpgw.example.jp>",
        &format!("Message-ID: <{id}@faults.test>"),
        1,
    )
}

fn ham(id: &str) -> String {
    format!("From: bob@example.net\r\nTo: alice@example.com\r\nSubject: lunch\r\nMessage-ID: <{id}@faults.test>\r\n\r\nNoon?\r\n")
}

fn deliver(maildir: &Path, name: &str, text: &str) {
    let tmp = maildir.join("tmp").join(name);
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
}

/// Message-IDs found in a Maildir folder (`cur/` and `new/`).
fn ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = ["cur", "new"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter_map(|text| {
            let line = text.lines().find(|l| l.starts_with("Message-ID: <") && l.ends_with("@faults.test>"))?;
            Some(line.trim_start_matches("Message-ID: ").to_owned())
        })
        .collect();
    ids.sort();
    ids
}

fn run_with_faults(dovecot_env: &[(&str, &str)]) {
    // The engine's log, shown when the test fails.
    let _ = tracing_subscriber::fmt().with_test_writer().with_max_level(tracing::Level::INFO).try_init();
    let dovecot = Dovecot::start(dovecot_env);
    // FAULT_SEED=N replays a run's cuts (the connections' timing still varies).
    let seed = std::env::var("FAULT_SEED").ok().and_then(|s| s.parse().ok());
    let seed = seed.unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64);
    eprintln!("fault seed {seed} (FAULT_SEED={seed} replays it)");
    let proxy = Proxy::start(dovecot.port, seed);
    let state = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.policy.all_bounces = true;
    config.policy.mode = Mode::Enforce;
    config.imap = vec![Imap { port: proxy.port, ..dovecot.account("alice", "alice") }];
    let options = Options {
        idle_interval: Duration::from_secs(20),
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        scan_existing: true,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let engine = Engine {
        pipeline: runtime.block_on(async { Pipeline::new(config, None, Arc::new(SystemClock)) }).unwrap(),
        mover: Mover::new(Some(Journal::open(state.path()).unwrap()), Arc::new(SystemClock)),
        state_dir: state.path().to_path_buf(),
        spf_snapshot: None,
        timing: Timing::default(),
        imap: options,
        page: None,
    };
    let token = CancellationToken::new();
    let watcher = runtime.spawn(daemon::run(engine, token.clone(), tokio::sync::mpsc::channel(1).1));
    let maildir = dovecot.maildir();
    let (mut bounces, mut hams) = (0, 0);
    let started = Instant::now();
    // Mail keeps arriving while the proxy cuts connections.
    while proxy.cuts.load(Ordering::Relaxed) < 120 && started.elapsed() < Duration::from_secs(60) {
        for _ in 0..3 {
            deliver(&maildir, &format!("b{bounces}"), &fixture_bounce(&format!("b{bounces}")));
            bounces += 1;
        }
        deliver(&maildir, &format!("h{hams}"), &ham(&format!("h{hams}")));
        hams += 1;
        std::thread::sleep(Duration::from_millis(30));
    }
    let cuts = proxy.cuts.load(Ordering::Relaxed);
    proxy.faulty.store(false, Ordering::Relaxed);
    // Fault-free connections from now on (new ones; the current one may still be cut once).
    let folder = maildir.join(".Backscatter");
    // A connection left waiting is failed by the engine's 120 s command timeout (its recovery of
    // last resort), so the wait outlasts it; a passing run takes seconds.
    let settle = Duration::from_secs(150);
    wait_for("every bounce moved once the faults stop", settle, || ids(&folder).len() >= bounces);
    std::thread::sleep(Duration::from_millis(500));
    token.cancel();
    runtime.block_on(watcher).unwrap().unwrap();
    eprintln!("{cuts} connections cut; {bounces} bounces and {hams} ordinary messages delivered");
    assert!(cuts >= 100, "only {cuts} faults injected");

    let (moved, kept) = (ids(&folder), ids(&maildir));
    let mut unique = moved.clone();
    unique.dedup();
    assert_eq!(unique.len(), moved.len(), "no bounce moved twice");
    assert_eq!(moved.len(), bounces, "every bounce moved");
    assert!(moved.iter().all(|id| id.starts_with("<b")));
    assert_eq!(kept.len(), hams, "every ordinary message stays, once");
    assert!(kept.iter().all(|id| id.starts_with("<h")));
    let ledger = journal::read(&state.path().join(journal::FILE_NAME)).unwrap();
    assert_eq!(ledger.unfinished().count(), 0, "every intent settled");
    let mut done: Vec<String> = ledger
        .records()
        .iter()
        .filter(|r| matches!(r.state, State::Done { .. }))
        .filter_map(|r| r.intent.message_id.clone())
        .collect();
    done.sort();
    assert_eq!(done, moved, "the journal's done moves are the folder's messages, once each");
}

#[test]
fn cut_connections_with_move_lose_and_duplicate_nothing() {
    run_with_faults(&[]);
}

#[test]
fn cut_connections_with_the_copy_fallback_lose_and_duplicate_nothing() {
    run_with_faults(&[("EXTRA", "imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS")]);
}
