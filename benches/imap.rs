//! The IMAP store against a real Dovecot: arrival-to-move latency over IDLE (median, p99), the
//! one-shot scan rate of a big mailbox over IMAP next to the same mailbox read as a Maildir with
//! the same verdict, and one `backscatter watch` process holding [`ACCOUNTS`] accounts of one
//! Dovecot in IDLE while mail arrives in them (its RSS and CPU, arrival-to-move p50/p99,
//! reconnects, and that every bounce was moved exactly once and every other message left).
//! `cargo bench --bench imap` (release): 200 arrivals, a 10,000-message mailbox, 200 accounts
//! with 1,000 arrivals; `cargo test --all-targets` runs a tiny version (10, 200, 10 accounts).

#[path = "common/process.rs"]
mod process;
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{HashMap, HashSet};
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

use process::{percentile, usage};

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

/// Accounts on one Dovecot in the many-accounts run.
const ACCOUNTS: usize = 200;

/// Dovecot settings for [`ACCOUNTS`] IDLE connections from one IP: the per-user-and-IP cap well
/// above the one connection each account holds, and imap processes serving 10 clients each.
/// An IDLE process takes an inotify instance and Linux allows a uid 128
/// (`fs.inotify.max_user_instances`); every mail process here runs as nobody, so with one
/// process per client (Dovecot's default) the IDLEs past 128 would poll every 30 s instead
/// (`mailbox_idle_check_interval`). Sharing processes is what Dovecot's docs advise when all
/// users have one uid (`service_count = 0` lets a process take more than one).
const MANY_CONNECTIONS: &str = "mail_max_userip_connections = 20
default_process_limit = 1024
default_client_limit = 4096
service imap {
  service_count = 0
  client_limit = 10
  process_limit = 1024
}
service imap-login {
  process_limit = 1024
}";

/// One `backscatter watch` process with `accounts` `[[imap]]` accounts of one Dovecot, while
/// `messages` arrive (`rate` a second) in random accounts, every fourth a forged bounce.
fn many_accounts(accounts: usize, messages: usize, rate: f64) {
    let dovecot = Dovecot::start(&[("EXTRA", MANY_CONNECTIONS)]);
    let root = dovecot.dir.path().join("dovecot");
    let users: Vec<String> = (0..accounts).map(|i| format!("u{i:03}")).collect();
    let mut passwd = std::fs::read_to_string(root.join("passwd")).unwrap();
    for user in &users {
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(root.join("home").join(user).join("Maildir").join(sub)).unwrap();
        }
        passwd.push_str(&format!("{user}:{{PLAIN}}secret\n"));
    }
    // Dovecot's passwd-file is read again when it changes; the mail processes run as nobody.
    std::fs::write(root.join("passwd"), passwd).unwrap();
    let chown = std::process::Command::new("chown").args(["-R", "nobody:nogroup"]).arg(root.join("home")).status();
    assert!(chown.unwrap().success());
    let maildir = |user: &str| root.join("home").join(user).join("Maildir");

    let dir = tempfile::tempdir().unwrap();
    let keyring = dir.path().join("keyring.toml");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let created = backscatter::day::Day(backscatter::day::Day::from_unix_seconds(now).0 - 60);
    Keyring::new(&keyring, created, "imap-bench-secret-of-43-characters-xxxxxxxx".into()).create().unwrap();
    let mut text = format!(
        "keyring = {:?}\nstate_dir = {:?}\n[policy]\nmode = \"enforce\"\ngrace_days = 0\n",
        keyring,
        dir.path().join("state")
    );
    for user in &users {
        text.push_str(&format!(
            "[[imap]]\nname = \"{user}\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{user}\"\npassword = \"secret\"\n",
            dovecot.port
        ));
    }
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text).unwrap();
    let log = dir.path().join("watch.log");
    let started = Instant::now();
    let watch = support::Daemon::spawn(
        std::process::Command::new(env!("CARGO_BIN_EXE_backscatter"))
            .arg("-c")
            .arg(&config)
            .args(["-v", "watch"])
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    let pid = watch.0.id();
    let count = |what: &str| std::fs::read_to_string(&log).map_or(0, |l| l.matches(what).count());
    wait_for("every account in IDLE", Duration::from_secs(300), || count("IMAP: watching") >= accounts);
    println!("{accounts} IMAP accounts on one Dovecot watching after {:.1?}", started.elapsed());
    let (_, cpu_before) = usage(pid);

    let bounce = support::forged_bounce(&support::now_date());
    let mut random: u64 = 0x9e37_79b9_7f4a_7c15;
    // Per account, the bounces not yet seen in its Backscatter folder (seq → arrival), and the
    // folder's files already read.
    let mut pending: HashMap<usize, HashMap<usize, Instant>> = HashMap::new();
    let mut seen: HashMap<usize, HashSet<PathBuf>> = HashMap::new();
    let mut latencies = Vec::new();
    let mut kept = Vec::new();
    let look = |pending: &mut HashMap<usize, HashMap<usize, Instant>>,
                seen: &mut HashMap<usize, HashSet<PathBuf>>,
                latencies: &mut Vec<Duration>| {
        for (&account, waiting) in pending.iter_mut() {
            let folder = maildir(&users[account]).join(".Backscatter");
            for sub in ["new", "cur"] {
                let Ok(entries) = std::fs::read_dir(folder.join(sub)) else { continue };
                for path in entries.flatten().map(|e| e.path()) {
                    if !seen.entry(account).or_default().insert(path.clone()) {
                        continue;
                    }
                    let Some(n) = std::fs::read(&path).ok().as_deref().and_then(seq) else { continue };
                    if let Some(at) = waiting.remove(&n) {
                        latencies.push(at.elapsed());
                    }
                }
            }
        }
        pending.retain(|_, waiting| !waiting.is_empty());
    };
    let gap = Duration::from_secs_f64(1.0 / rate);
    let load_start = Instant::now();
    for n in 0..messages {
        random = random.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let account = ((random >> 33) % accounts as u64) as usize;
        let is_bounce = n % 4 == 0;
        let body = if is_bounce {
            bounce.clone()
        } else {
            format!("From: bob@example.net\r\nTo: ann@example.test\r\nSubject: note {n}\r\n\r\nhello\r\n")
        };
        let name = format!("{n}.M{n}P1.imapbench");
        let tmp = maildir(&users[account]).join("tmp").join(&name);
        std::fs::write(&tmp, format!("X-Bench-Seq: {n}\r\n{body}")).unwrap();
        let new = maildir(&users[account]).join("new").join(&name);
        std::fs::rename(&tmp, &new).unwrap();
        if is_bounce {
            pending.entry(account).or_default().insert(n, Instant::now());
        } else {
            kept.push((account, n));
        }
        let due = load_start + gap.mul_f64((n + 1) as f64);
        while Instant::now() < due {
            look(&mut pending, &mut seen, &mut latencies);
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let offered = load_start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pending.is_empty() && Instant::now() < deadline {
        look(&mut pending, &mut seen, &mut latencies);
        std::thread::sleep(Duration::from_millis(2));
    }
    let (hwm, cpu_after) = usage(pid);
    let cpu = (cpu_after - cpu_before) as f64 / 100.0 / offered.as_secs_f64() * 100.0;
    // Ordinary mail stays in INBOX (new/ or, once Dovecot has seen it, cur/ under a new name).
    let in_inbox = |account: usize, n: usize| {
        ["new", "cur"].iter().any(|sub| {
            std::fs::read_dir(maildir(&users[account]).join(sub)).into_iter().flatten().flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with(&format!("{n}.M{n}P1.imapbench"))
                    || std::fs::read(e.path()).ok().as_deref().and_then(seq) == Some(n)
            })
        })
    };
    let lost_ordinary = kept.iter().filter(|&&(account, n)| !in_inbox(account, n)).count();
    // Moved exactly once: every copy in every Backscatter folder, counted once all is still.
    let mut moved: HashMap<usize, usize> = HashMap::new();
    for user in &users {
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(maildir(user).join(".Backscatter").join(sub)) else { continue };
            for n in entries.flatten().filter_map(|e| std::fs::read(e.path()).ok().as_deref().and_then(seq)) {
                *moved.entry(n).or_default() += 1;
            }
        }
    }
    let twice = moved.values().filter(|&&c| c > 1).count();
    assert_eq!(moved.len(), messages.div_ceil(4), "the moved messages are the bounces");
    let not_moved: usize = pending.values().map(HashMap::len).sum();
    latencies.sort();
    let reconnects = count("IMAP: reconnecting");
    println!(
        "offered {messages} messages in {offered:.1?} ({:.0}/s) to {accounts} accounts: {} bounces moved ({twice} twice), \
         {not_moved} not moved; {} of {} ordinary left in INBOX; {reconnects} reconnects",
        messages as f64 / offered.as_secs_f64(),
        latencies.len(),
        kept.len() - lost_ordinary,
        kept.len()
    );
    println!(
        "arrival-to-move latency (Dovecot's IDLE notice included): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; \
         watch peak RSS {:.1} MB, CPU {cpu:.1}% of one core",
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        hwm as f64 / 1024.0
    );
    assert_eq!(not_moved, 0, "bounces never moved");
    assert_eq!(twice, 0, "bounces moved twice");
    assert_eq!(lost_ordinary, 0, "ordinary mail moved or lost");
    assert_eq!(reconnects, 0, "no connection should drop under this load");
}

fn main() {
    let corpus = corpus();
    let (arrivals, mailbox) = if full() { (200, 10_000) } else { (10, 200) };
    latency(&corpus, arrivals);
    scan_rate(&corpus, mailbox);
    let (accounts, messages, rate) = if full() { (ACCOUNTS, 1_000, 50.0) } else { (10, 20, 20.0) };
    many_accounts(accounts, messages, rate);
}
