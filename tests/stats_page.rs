//! `backscatter stats --html FILE` on a generated journal — a month of backscatter with a
//! three-day storm, moved messages from a dozen reporting MTAs in a Maildir's Backscatter folder,
//! some IMAP moves (origin unknown), some restored — rendered by a real headless Chromium (Debian
//! package `chromium`). The screenshot is decoded and must show the chart: many colours, much
//! ink, and the storm's red bars. Page and screenshot are kept as target/tmp/stats-page.{html,png} for a person to look at.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backscatter::classify::{Kind, Reason};
use backscatter::day::Day;
use backscatter::journal::{self, Journal, Line, Move, Place, Time};
use backscatter::policy::Verdict;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The red of `ndr` bars on the page (src/metrics/page.rs).
const NDR_RED: [u8; 3] = [0xe0, 0x31, 0x31];

/// A forged bounce from `mta` to `target`, as it sits in the Backscatter folder.
fn bounce(mta: &str, target: &str) -> String {
    format!(
        "Return-Path: <>\r\nX-Original-To: {target}\r\nDelivered-To: {target}\r\nFrom: MAILER-DAEMON@{mta}\r\n\
         To: {target}\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\n\
         Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; {mta}\r\n\r\n\
         Final-Recipient: rfc822; nobody@{mta}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--B--\r\n"
    )
}

/// An auto-reply from `who` to `target`.
fn autoreply(who: &str, target: &str) -> String {
    format!("From: {who}\r\nTo: {target}\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\nAway.\r\n")
}

/// Writes the journal and the moved messages; returns the config file.
fn generate(root: &Path) -> PathBuf {
    let maildir = root.join("Maildir");
    let folder = maildir.join(".Backscatter/cur");
    std::fs::create_dir_all(&folder).expect("Backscatter folder");
    let state = root.join("state");
    let mut journal = Journal::open(&state).expect("journal");
    let mtas = [
        "mx1.victim-isp.test",
        "mail.example-corp.test",
        "smtp.university.test",
        "mx.bigmail.test",
        "relay.hosting.test",
        "mx2.victim-isp.test",
        "gw.bank.test",
        "mx.shop.test",
        "mail.club.test",
        "mx.news.test",
        "mx.lists.test",
        "smtp.farm.test",
    ];
    let targets = ["ann@example.test", "info@example.test", "sales@example.test", "bob@example.test"];
    let start = Day::from_ymd(2026, 11, 1).expect("date").0;
    let mut n = 0u64;
    let mut add = |journal: &mut Journal, day: i64, kind: Kind, reason: Option<Reason>, imap: bool, restored: bool| {
        n += 1;
        let time = (start + day) * 86_400 + (n as i64 * 37) % 86_000;
        let (from, to) = if imap {
            let place = |mailbox: &str| Place::Imap {
                account: "work".into(),
                mailbox: mailbox.into(),
                uid_validity: Some(1),
                uid: Some(n as u32),
            };
            (place("INBOX"), place("Backscatter"))
        } else {
            let name = format!("{time}.M{n}P1.host:2,S");
            let body = if kind == Kind::AutoReply {
                autoreply(&format!("person{}@{}", n % 5, mtas[(n % 4) as usize]), targets[(n % 4) as usize])
            } else {
                // Skewed, so the ranking has a clear top: the first hosts send most.
                let mta = mtas[((n * n) % 144) as usize / 12];
                bounce(mta, targets[(n % 7).min(3) as usize])
            };
            std::fs::write(folder.join(&name), body).expect("message");
            let place = |path: PathBuf| Place::Maildir { root: maildir.clone(), path };
            (place(maildir.join("new").join(&name)), place(folder.join(&name)))
        };
        let id = journal::new_id(time);
        let intent = Move {
            id: id.clone(),
            time: Time(time),
            from: from.clone(),
            to: to.clone(),
            message_id: None,
            kind,
            reason,
            verdict: Verdict::Backscatter,
            why: "no carrier".into(),
        };
        let mut lines = vec![Line::Intent(intent), Line::Done { id: id.clone(), time: Time(time), at: to }];
        if restored {
            lines.push(Line::Restore { id, time: Time(time + 60), at: from });
        }
        journal.append(&lines).expect("move recorded");
    };
    for day in 0..30i64 {
        // A quiet month: a few bounces a day, an auto-reply now and then ...
        let quiet = 2 + (day * 7 % 5);
        for i in 0..quiet {
            add(&mut journal, day, Kind::Ndr, Some(Reason::UserUnknown), i == 3, day == 4 && i == 0);
        }
        if day % 3 == 0 {
            add(&mut journal, day, Kind::AutoReply, None, false, false);
        }
        if day % 4 == 1 {
            add(&mut journal, day, Kind::Delay, Some(Reason::Expired), false, false);
        }
        // ... and a storm: someone forged our addresses for a spam run.
        if (18..21).contains(&day) {
            let storm = [60, 140, 45][(day - 18) as usize];
            for i in 0..storm {
                let kind = if i % 9 == 0 {
                    Kind::AutoReply
                } else if i % 13 == 0 {
                    Kind::Challenge
                } else {
                    Kind::Ndr
                };
                add(&mut journal, day, kind, (kind == Kind::Ndr).then_some(Reason::UserUnknown), i % 10 == 0, false);
            }
        }
    }
    let config = root.join("config.toml");
    std::fs::write(&config, format!("state_dir = \"{}\"\n", state.display())).expect("config");
    config
}

/// Screenshots `page` with a real headless Chromium; returns the PNG's bytes.
fn screenshot(dir: &Path, page: &Path) -> Vec<u8> {
    support::require(CHROMIUM, "chromium");
    let png = dir.join("shot.png");
    let profile = dir.join("chromium-profile");
    let mut child = Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .args(["--disable-background-networking", "--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,1400")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish the screenshot within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    use std::io::Read;
    let _ = child.stderr.take().expect("stderr").read_to_string(&mut stderr);
    assert!(status.success(), "chromium failed ({status}):\n{stderr}");
    std::fs::read(&png).unwrap_or_else(|e| panic!("no screenshot at {}: {e}\n{stderr}", png.display()))
}

/// The decoded screenshot: (width, height, RGB pixels).
fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<[u8; 3]>) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected PNG colour type {other:?}"),
    };
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buf[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    (info.width, info.height, pixels)
}

#[test]
fn stats_page_renders_in_chromium() {
    let dir = support::open_temp_dir();
    let config = generate(dir.path());
    let page = dir.path().join("stats.html");
    let out = Command::new(env!("CARGO_BIN_EXE_backscatter"))
        .arg("-c")
        .arg(&config)
        .arg("stats")
        .arg("--html")
        .arg(&page)
        .env_remove("BACKSCATTER_CONFIG")
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "stats --html: {}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).expect("page written");
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(kept.join("stats-page.html"), &html).expect("page kept");

    // Self-contained: nothing fetched, nothing run.
    for banned in ["<script", "http://", "https://", "src=", "@import", "url("] {
        assert!(!html.contains(banned), "the page contains {banned:?}");
    }
    assert!(html.contains("<svg") && html.contains("Content-Security-Policy"));
    // The numbers, derived from the journal and the moved messages.
    // The storm's peak: day 19 of the month (2026-11-20), 140 storm moves + 5 quiet ones.
    assert!(html.contains(">145 on 2026-11-20</text>"), "the storm's peak is named");
    assert!(html.contains("mx1.victim-isp.test"), "reporting MTAs come from the moved DSNs");
    assert!(html.contains("ann@example.test"), "targeted addresses come from the moved messages");
    assert!(html.contains("<span class=\"unknown\">unknown</span>"), "IMAP moves have no known origin");
    assert!(html.contains("put back by restore"));

    let png = screenshot(dir.path(), &page);
    let kept = kept.join("stats-page.png");
    std::fs::write(&kept, &png).expect("screenshot kept");
    let (width, height, pixels) = decode(&png);
    assert_eq!((width, height), (1200, 1400));
    let ink = pixels.iter().filter(|p| p.iter().any(|&c| c < 235)).count();
    let mut colours: Vec<[u8; 3]> = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    let is_red = |p: &[u8; 3]| p.iter().zip(NDR_RED).all(|(&a, b)| a.abs_diff(b) <= 6);
    // Rows crossing the storm's red bars: the chart is the only tall red thing on the page (the
    // genuine-vs-backscatter bar is 30 px high, legends and headings less).
    let red_rows = pixels.chunks(width as usize).filter(|row| row.iter().filter(|p| is_red(p)).count() >= 10).count();
    // A blank or unstyled page has a handful of colours and no red; this one has bars and text.
    assert!(colours.len() > 200, "only {} colours: {}", colours.len(), kept.display());
    assert!(ink > (width * height / 50) as usize, "only {ink} non-white pixels: {}", kept.display());
    assert!(red_rows >= 150, "only {red_rows} rows with the ndr red: the chart did not render ({})", kept.display());
}
