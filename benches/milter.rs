//! What `backscatter milter` costs a real Postfix: `cargo bench --bench milter` (release build,
//! root: it starts a Postfix instance in a temp dir, `tests/support/postfix-start.sh`).
//!
//! One Postfix relays everything for `sink.invalid` to Postfix's own `smtp-sink`; three smtpd
//! services on loopback ports differ only in their milter: none, the milter judging inbound
//! mail (`sign_networks = []`, so 127.0.0.1 is a stranger and `sink.invalid` is protected), and
//! the milter signing outbound mail (127.0.0.1 in `sign_networks`).
//!
//! - Throughput: Postfix's `smtp-source` sends [`MESSAGES`] 4 KB messages over 4 sessions to
//!   each port; messages per second until the last is accepted, and the ratio to the port
//!   without a milter (aim ≥ 0.9). Median of [`REPEATS`] runs, ports interleaved.
//! - Latency: one SMTP session sends [`LATENCY_MESSAGES`] messages one after another, each timed
//!   from MAIL FROM to the 250 after the final dot; p50/p99 per port, and the milter's added
//!   latency (with − without) — for 4 KB ordinary mail and for a real bounce (a Postfix DSN,
//!   judged backscatter; `action = "header"` so it is accepted like the rest).
//!
//! - Concurrency: [`SESSIONS`] SMTP sessions at once, each sending [`PER_SESSION`] 4 KB
//!   messages back to back, to each port: messages per second, latency p50/p99 per message
//!   (MAIL FROM to the 250 after the final dot), the milter's peak RSS and CPU, and what was
//!   dropped — every message must get its 250 and reach the sink (`status=sent` in Postfix's
//!   log) — with the port without a milter, in the same run, as the baseline.
//!
//! Without `--bench` (`cargo test --all-targets`) a tiny run shows it still works.

#[path = "common/process.rs"]
mod process;
#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use process::{percentile, usage};
use support::{Daemon, Postfix};

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");
const BOUNCE: &str = include_str!("../tests/fixtures/ndr/001.eml");

/// Messages per throughput run.
const MESSAGES: usize = 2000;
/// Throughput runs per port (odd: the median is one run).
const REPEATS: usize = 5;
/// Messages per latency series.
const LATENCY_MESSAGES: usize = 1000;
/// Concurrent sessions in the concurrency run.
const SESSIONS: usize = 50;
/// Messages per session in the concurrency run.
const PER_SESSION: usize = 40;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The Postfix, the sink and the two milters.
struct Rig {
    postfix: Postfix,
    _dir: tempfile::TempDir,
    _sink: Daemon,
    /// The inbound milter, then the outbound one.
    milters: Vec<Daemon>,
    /// smtpd ports: no milter, the inbound milter, the outbound milter.
    plain: u16,
    inbound: u16,
    outbound: u16,
}

impl Rig {
    fn start() -> Rig {
        support::require("/usr/sbin/smtp-source", "postfix");
        let dir = support::open_temp_dir();
        let sink_port = support::free_port();
        let sink = Daemon::spawn(
            Command::new("/usr/sbin/smtp-sink")
                .args(["-u", "nobody", &format!("127.0.0.1:{sink_port}"), "1024"])
                .stderr(Stdio::null()),
        );
        // The milters' sockets: loopback TCP, or with MILTER_UNIX set Unix sockets (this Postfix
        // runs its smtpd outside a chroot, so it reaches them in the temp dir).
        let socket = |i: usize| match std::env::var_os("MILTER_UNIX") {
            Some(_) => format!("unix:{}", dir.path().join(format!("milter{i}.sock")).display()),
            None => format!("inet:127.0.0.1:{}", support::free_port()),
        };
        let milters: Vec<(String, &str)> = vec![(socket(0), "[]"), (socket(1), "[\"127.0.0.1/32\"]")];
        let mut daemons = Vec::new();
        for (i, (port, sign_networks)) in milters.iter().enumerate() {
            let config = dir.path().join(format!("config{i}.toml"));
            let text = format!(
                "keyring = {:?}\nprotected_domains = [\"sink.invalid\"]\n[policy]\ngrace_days = 0\n\
[milter]\nlisten = \"{port}\"\nsign_networks = {sign_networks}\naction = \"header\"\n",
                dir.path().join("keyring.toml")
            );
            std::fs::write(&config, text).unwrap();
            if i == 0 {
                let init = Command::new(BIN).arg("-c").arg(&config).args(["keys", "init"]).output().unwrap();
                assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
            }
            let log = std::fs::File::create(dir.path().join(format!("milter{i}.log"))).unwrap();
            let mut command = Command::new(BIN);
            command.arg("-c").arg(&config).args(["-v", "milter"]).stderr(Stdio::from(log));
            daemons.push(Daemon::spawn(&mut command));
            support::wait_for("the milter", Duration::from_secs(10), || listening(port));
            if let Some(path) = port.strip_prefix("unix:") {
                // The milter makes it 0660 for the MTA's group; this Postfix's smtpd is not in ours.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
            }
        }
        let postfix = Postfix::start("");
        let table = dir.path().join("transport");
        std::fs::write(&table, format!("sink.invalid smtp:[127.0.0.1]:{sink_port}\n")).unwrap();
        let transport = format!("texthash:{}", table.display());
        let settings = [
            ("transport_maps", transport.as_str()),
            ("mynetworks", "127.0.0.0/8"),
            ("milter_default_action", "tempfail"),
        ];
        let (plain, inbound, outbound) = (support::free_port(), support::free_port(), support::free_port());
        let options: Vec<String> = milters.iter().map(|(milter, _)| format!("-o smtpd_milters={milter}")).collect();
        let (inbound_options, outbound_options) = (options[0].as_str(), options[1].as_str());
        postfix.serve_smtpd(&settings, &[(plain, ""), (inbound, inbound_options), (outbound, outbound_options)]);
        Rig { postfix, _dir: dir, _sink: sink, milters: daemons, plain, inbound, outbound }
    }

    /// `smtp-source` to `port`: `messages` 4 KB messages over 4 sessions; messages per second.
    fn throughput(&self, port: u16, messages: usize) -> f64 {
        let start = Instant::now();
        let out = Command::new("/usr/sbin/smtp-source")
            .args(["-s", "4", "-l", "4096", "-m", &messages.to_string()])
            .args(["-f", "ann@remote.invalid", "-t", "bob@sink.invalid", "-M", "client.test"])
            .arg(format!("127.0.0.1:{port}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "smtp-source: {}", String::from_utf8_lossy(&out.stderr));
        messages as f64 / start.elapsed().as_secs_f64()
    }
}

/// What [`SESSIONS`] concurrent sessions to one port saw.
struct Concurrent {
    /// Per accepted message, MAIL FROM to the 250 after the final dot, sorted.
    times: Vec<Duration>,
    /// The replies of messages not accepted (must be none).
    refused: Vec<String>,
    /// Messages Postfix relayed to the sink (`status=sent` in its log).
    delivered: usize,
    /// Wall time until the last 250.
    took: Duration,
    /// The milter's CPU time over the run, and its peak RSS (kB) after it.
    milter: Option<(Duration, u64)>,
}

impl Rig {
    /// [`SESSIONS`] sessions to `port` at once, `per_session` messages each; `milter` is the
    /// process behind the port, if any.
    fn concurrent(&self, port: u16, per_session: usize, milter: Option<&Daemon>) -> Concurrent {
        self.drain();
        let sent_before = self.sent();
        let cpu_before = milter.map(|d| usage(d.0.id()).1);
        let start = Instant::now();
        let sessions: Vec<_> = (0..SESSIONS)
            .map(|_| {
                std::thread::spawn(move || {
                    let data = ordinary();
                    let mut client = Client::connect(port);
                    let (mut times, mut refused) = (Vec::new(), Vec::new());
                    for _ in 0..per_session {
                        match client.try_send("ann@remote.invalid", "bob@sink.invalid", &data) {
                            Ok(took) => times.push(took),
                            Err(reply) => {
                                refused.push(reply);
                                client = Client::connect(port);
                            }
                        }
                    }
                    let _ = client.command("QUIT");
                    (times, refused)
                })
            })
            .collect();
        let (mut times, mut refused) = (Vec::new(), Vec::new());
        for session in sessions {
            let (t, r) = session.join().expect("a session thread");
            times.extend(t);
            refused.extend(r);
        }
        let took = start.elapsed();
        let milter = milter.zip(cpu_before).map(|(d, before)| {
            let (hwm, after) = usage(d.0.id());
            (Duration::from_secs_f64((after - before) as f64 / 100.0), hwm)
        });
        // Relayed to the sink: the queue empty and the log showing every accepted message sent.
        self.drain();
        let until = Instant::now() + Duration::from_secs(10);
        while self.sent() - sent_before < times.len() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(100));
        }
        times.sort();
        Concurrent { delivered: self.sent() - sent_before, times, refused, took, milter }
    }

    /// Waits (up to a minute) until Postfix's queue is empty.
    fn drain(&self) {
        let etc = self.postfix.config_dir();
        support::wait_for("the postfix queue to drain", Duration::from_secs(60), || {
            let out = Command::new("postqueue").arg("-c").arg(&etc).arg("-p").output().unwrap();
            String::from_utf8_lossy(&out.stdout).contains("Mail queue is empty")
        });
    }

    /// How many deliveries Postfix logged as `status=sent` so far.
    fn sent(&self) -> usize {
        let log = std::fs::read_to_string(self.postfix.root().join("maillog")).unwrap_or_default();
        log.matches(" status=sent ").count()
    }
}

/// Whether the milter at `socket` (Postfix notation) accepts connections.
fn listening(socket: &str) -> bool {
    match (socket.strip_prefix("inet:"), socket.strip_prefix("unix:")) {
        (Some(addr), _) => TcpStream::connect(addr).is_ok(),
        (_, Some(path)) => std::os::unix::net::UnixStream::connect(path).is_ok(),
        _ => false,
    }
}

/// One SMTP session that sends messages and times each transaction.
struct Client(BufReader<TcpStream>);

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
        // As an MTA's client does: no Nagle delay on the short commands after the data.
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut client = Client(BufReader::new(stream));
        client.expect("", "220");
        client.expect("EHLO client.test", "250");
        client
    }

    fn expect(&mut self, line: &str, code: &str) {
        let reply = self.command(line);
        assert!(reply.starts_with(code), "{line:?} got {reply:?}, wanted {code}");
    }

    /// Sends `line` (unless empty) and reads the reply; its last line.
    fn command(&mut self, line: &str) -> String {
        if !line.is_empty() {
            self.0.get_mut().write_all(format!("{line}\r\n").as_bytes()).unwrap();
        }
        let mut reply = String::new();
        loop {
            reply.clear();
            if self.0.read_line(&mut reply).unwrap_or(0) == 0 {
                return "connection closed".to_owned();
            }
            if reply.len() < 4 || reply.as_bytes()[3] != b'-' {
                return reply.trim_end().to_owned();
            }
        }
    }

    /// One transaction: MAIL FROM `from`, RCPT TO `to`, DATA `data` (CRLF, dot-stuffed).
    fn send(&mut self, from: &str, to: &str, data: &[u8]) -> Duration {
        self.try_send(from, to, data).unwrap_or_else(|reply| panic!("refused: {reply}"))
    }

    /// [`Client::send`], with the reply that was not the one wanted as the error.
    fn try_send(&mut self, from: &str, to: &str, data: &[u8]) -> Result<Duration, String> {
        let start = Instant::now();
        for (line, code) in [(format!("MAIL FROM:<{from}>"), "250"), (format!("RCPT TO:<{to}>"), "250")] {
            let reply = self.command(&line);
            if !reply.starts_with(code) {
                return Err(format!("{line}: {reply}"));
            }
        }
        let reply = self.command("DATA");
        if !reply.starts_with("354") {
            return Err(format!("DATA: {reply}"));
        }
        self.0.get_mut().write_all(data).unwrap();
        let reply = self.command(".");
        if !reply.starts_with("250") {
            return Err(format!("end of data: {reply}"));
        }
        Ok(start.elapsed())
    }
}

/// `text` as SMTP DATA: CRLF line ends, leading dots doubled (RFC 5321 §4.5.2).
fn smtp_data(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    for line in text.lines() {
        if line.starts_with('.') {
            out.push(b'.');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An ordinary message of about 4 KB.
fn ordinary() -> Vec<u8> {
    let mut text = String::from(
        "From: Ann <ann@remote.invalid>\nTo: bob@sink.invalid\nSubject: the minutes\n\
Date: Thu, 3 Dec 2026 10:00:00 +0000\nMessage-ID: <minutes.1@remote.invalid>\nMIME-Version: 1.0\n\
Content-Type: text/plain; charset=us-ascii\n\n",
    );
    while text.len() < 4096 {
        text.push_str("The meeting agreed to move the review to Thursday and to keep the notes short.\n");
    }
    smtp_data(&text)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let (messages, repeats, latency_messages) =
        if full() { (MESSAGES, REPEATS, LATENCY_MESSAGES) } else { (20, 1, 10) };
    let rig = Rig::start();
    // Warm up every path (process pools, the milters' first sessions).
    for port in [rig.plain, rig.inbound, rig.outbound] {
        rig.throughput(port, 8);
    }

    let mut rates: [Vec<f64>; 3] = Default::default();
    for _ in 0..repeats {
        for (i, port) in [rig.plain, rig.inbound, rig.outbound].into_iter().enumerate() {
            rates[i].push(rig.throughput(port, messages));
        }
    }
    let [plain, inbound, outbound] = rates.map(median);
    println!("throughput, smtp-source -s 4 -l 4096 -m {messages}, median of {repeats} runs:");
    println!("  no milter                     {plain:8.0} msg/s");
    println!("  milter, inbound (judged)      {inbound:8.0} msg/s   ratio {:.2}", inbound / plain);
    println!("  milter, outbound (signed)     {outbound:8.0} msg/s   ratio {:.2}", outbound / plain);

    let bounce = smtp_data(BOUNCE);
    let ordinary = ordinary();
    println!("latency per message, one session, {latency_messages} messages each (ms):");
    println!("  {:<34} {:>7} {:>7}   {:>9} {:>9}", "", "p50", "p99", "added p50", "added p99");
    let series: [(&str, &str, &[u8]); 2] =
        [("4 KB ordinary", "ann@remote.invalid", &ordinary), ("bounce (Postfix DSN)", "", &bounce)];
    for (name, from, data) in series {
        let mut stats = Vec::new();
        for port in [rig.plain, rig.inbound] {
            let mut client = Client::connect(port);
            let mut times: Vec<Duration> =
                (0..latency_messages).map(|_| client.send(from, "bob@sink.invalid", data)).collect();
            times.sort();
            stats.push((percentile(&times, 0.5), percentile(&times, 0.99)));
        }
        let [(p50, p99), (m50, m99)] = [stats[0], stats[1]];
        println!("  {:<34} {:>7.2} {:>7.2}", format!("{name}, no milter"), ms(p50), ms(p99));
        println!(
            "  {:<34} {:>7.2} {:>7.2}   {:>9.2} {:>9.2}",
            format!("{name}, milter"),
            ms(m50),
            ms(m99),
            ms(m50) - ms(p50),
            ms(m99) - ms(p99)
        );
    }

    let per_session = if full() { PER_SESSION } else { 2 };
    println!("{SESSIONS} concurrent sessions, {per_session} 4 KB messages each, per port:");
    println!(
        "  {:<28} {:>8} {:>7} {:>7} {:>8} {:>9} {:>9} {:>9}",
        "", "msg/s", "p50 ms", "p99 ms", "refused", "delivered", "milter CPU", "milter RSS"
    );
    let ports = [("no milter", rig.plain, None), ("milter, inbound (judged)", rig.inbound, Some(&rig.milters[0]))];
    let ports = ports.into_iter().chain([("milter, outbound (signed)", rig.outbound, Some(&rig.milters[1]))]);
    let mut baseline = None;
    for (name, port, milter) in ports {
        let c = rig.concurrent(port, per_session, milter);
        let rate = c.times.len() as f64 / c.took.as_secs_f64();
        let (p50, p99) = (percentile(&c.times, 0.5), percentile(&c.times, 0.99));
        let (cpu, rss) = match c.milter {
            Some((cpu, hwm)) => (
                format!("{:.0}%", cpu.as_secs_f64() / c.took.as_secs_f64() * 100.0),
                format!("{:.1} MB", hwm as f64 / 1024.0),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        println!(
            "  {name:<28} {rate:>8.0} {:>7.2} {:>7.2} {:>8} {:>9} {cpu:>9} {rss:>9}",
            ms(p50),
            ms(p99),
            c.refused.len(),
            c.delivered
        );
        match baseline {
            None => baseline = Some((rate, p50, p99)),
            Some((base, b50, b99)) => println!(
                "  {:<28} ratio {:.2}, added p50 {:.2} ms, p99 {:.2} ms",
                "",
                rate / base,
                ms(p50) - ms(b50),
                ms(p99) - ms(b99)
            ),
        }
        assert!(c.refused.is_empty(), "{name}: refused {:?}", c.refused);
        assert_eq!(c.delivered, SESSIONS * per_session, "{name}: accepted but not relayed");
    }
}
