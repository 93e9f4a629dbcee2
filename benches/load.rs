//! `watch` under load (issue 15): `cargo bench --bench load` (release) watches 10,000 Maildirs
//! (one glob) with one process while 1,000 messages a second arrive for a minute (5% forged
//! bounces, the rest ordinary mail, each into a random mailbox), and reports the watcher's
//! arrival-to-move latency (p50/p99, of the bounces), its peak RSS and CPU, and what was
//! dropped: every bounce must be moved and every other message left where it was. Aims: p99 ≤
//! 5 ms, ≤ 64 MB RSS. Without `--bench` (`cargo test --all-targets`) a tiny run: 50 Maildirs,
//! 100 messages a second for 2 seconds.

#[path = "common/process.rs"]
mod process;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backscatter::day::Day;
use backscatter::keys::Keyring;

use process::{percentile, usage};

/// (mailboxes, messages per second, seconds).
fn sizes() -> (usize, u64, u64) {
    if std::env::args().any(|a| a == "--bench") {
        (10_000, 1_000, 60)
    } else {
        (50, 100, 2)
    }
}

fn now_date() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let (y, m, d) = Day::from_unix_seconds(secs).ymd();
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let t = secs.rem_euclid(86_400);
    format!("{d:02} {} {y} {:02}:{:02}:{:02} +0000", months[(m as usize) - 1], t / 3600, t / 60 % 60, t % 60)
}

fn bounce(date: &str) -> String {
    format!(
        "Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.victim.test\r\nTo: ann@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.victim.test\r\n\r\nFinal-Recipient: rfc822; nobody@victim.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
         --B\r\nContent-Type: message/rfc822\r\n\r\nFrom: ann@example.test\r\nTo: nobody@victim.test\r\nSubject: offer\r\n\
         Message-ID: <x@spam.example>\r\n\r\nbuy now\r\n--B--\r\n"
    )
}

fn ordinary(n: u64) -> String {
    format!("From: bob@example.net\r\nTo: ann@example.test\r\nSubject: note {n}\r\nMessage-ID: <{n}@load.test>\r\n\r\n{}\r\n", "text ".repeat(400))
}

fn main() {
    let (mailboxes, rate, seconds) = sizes();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("vmail");
    let boxes: Vec<PathBuf> = (0..mailboxes).map(|i| root.join(format!("u{i:05}")).join("Maildir")).collect();
    for b in &boxes {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(b.join(sub)).unwrap();
        }
    }
    let keyring = tmp.path().join("keyring.toml");
    let today = Day::from_unix_seconds(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64);
    Keyring::new(&keyring, Day(today.0 - 60), "load-bench-secret-of-43-characters-xxxxxxx".into()).create().unwrap();
    let config = tmp.path().join("config.toml");
    fs::write(
        &config,
        format!(
            "keyring = \"{}\"\nstate_dir = \"{}/state\"\n[policy]\nmode = \"enforce\"\ngrace_days = 0\n[[maildir]]\npath = \"{}/*/Maildir\"\n",
            keyring.display(),
            tmp.path().display(),
            root.display()
        ),
    )
    .unwrap();
    let log = tmp.path().join("watch.log");
    let started = Instant::now();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_backscatter"))
        .arg("-c")
        .arg(&config)
        .args(["-v", "watch"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Every mailbox watched (its task logs "watching" once inotify has it).
    while fs::read_to_string(&log).map_or(0, |l| l.matches(": watching mailbox=").count()) < mailboxes {
        assert!(started.elapsed() < Duration::from_secs(300), "watch did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, cpu_before) = usage(watch.id());
    println!("{mailboxes} Maildirs watched after {:.1?}", started.elapsed());

    let date = now_date();
    let forged = bounce(&date);
    let mut random: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut pending: HashMap<PathBuf, Instant> = HashMap::new();
    let mut ordinary_paths: Vec<PathBuf> = Vec::new();
    let mut latencies: Vec<Duration> = Vec::new();
    let total = rate * seconds;
    let gap = Duration::from_secs(1).div_f64(rate as f64);
    let load_start = Instant::now();
    let look = |pending: &mut HashMap<PathBuf, Instant>, latencies: &mut Vec<Duration>| {
        pending.retain(|moved, at| {
            if moved.exists() {
                latencies.push(at.elapsed());
                false
            } else {
                true
            }
        });
    };
    for n in 0..total {
        random = random.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let mailbox = &boxes[((random >> 33) % mailboxes as u64) as usize];
        let name = format!("{n}.M{n}P1.load");
        let is_bounce = n % 20 == 0;
        let tmp_path = mailbox.join("tmp").join(&name);
        fs::write(&tmp_path, if is_bounce { forged.clone() } else { ordinary(n) }).unwrap();
        fs::rename(&tmp_path, mailbox.join("new").join(&name)).unwrap();
        if is_bounce {
            pending.insert(mailbox.join(".Backscatter/cur").join(format!("{name}:2,")), Instant::now());
        } else {
            ordinary_paths.push(mailbox.join("new").join(&name));
        }
        // Keep the pace; look for moves in the gaps.
        let due = load_start + gap.mul_f64((n + 1) as f64);
        while Instant::now() < due {
            look(&mut pending, &mut latencies);
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let offered = load_start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pending.is_empty() && Instant::now() < deadline {
        look(&mut pending, &mut latencies);
        std::thread::sleep(Duration::from_millis(1));
    }
    let (hwm, cpu_after) = usage(watch.id());
    let _ = Command::new("kill").args(["-TERM", &watch.id().to_string()]).status();
    let status = watch.wait().unwrap();
    let ticks = 100.0; // USER_HZ on Linux
    let cpu = (cpu_after - cpu_before) as f64 / ticks / offered.as_secs_f64() * 100.0;
    let kept = ordinary_paths.iter().filter(|p| p.exists()).count();
    latencies.sort();
    println!(
        "offered {total} messages in {offered:.1?} ({:.0}/s) to {mailboxes} Maildirs: {} bounces moved, {} not moved; {kept} of {} ordinary left in place",
        total as f64 / offered.as_secs_f64(),
        latencies.len(),
        pending.len(),
        ordinary_paths.len()
    );
    println!(
        "arrival-to-move latency: p50 {:.2?}, p99 {:.2?}, max {:.2?}; watch peak RSS {:.1} MB, CPU {cpu:.0}% of one core",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default(),
        hwm as f64 / 1024.0
    );
    assert!(pending.is_empty(), "{} bounces never moved", pending.len());
    assert_eq!(kept, ordinary_paths.len(), "ordinary mail moved or lost");
    assert!(status.success(), "watch exited with {status}");
}
