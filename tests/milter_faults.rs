//! `backscatter milter` SIGKILLed and restarted again and again under SMTP load, in front of a
//! real Postfix with `milter_default_action = tempfail` (as README and contrib/postfix/ say).
//!
//! The load is written here rather than taken from Postfix's `smtp-source`: smtp-source says
//! neither which message got which reply nor carries on after a 4xx, and the point is exact
//! accounting. [`WORKERS`] concurrent SMTP sessions (tokio) send numbered messages to alice; half
//! come from 127.0.0.1 (in `sign_networks`: signed), half from 127.0.0.2 (a stranger: judged). A
//! message that gets a 4xx at any stage is sent again on a new session, as an MTA's queue would;
//! a 5xx or a connection that ends without a reply fails the test. Meanwhile the milter is
//! killed [`KILLS`] times; each time the controller waits until a message was tempfailed while
//! it was down, and after each restart until messages were accepted again: no step depends on
//! timing luck. At the end every message got exactly one 250, and alice's Maildir holds each
//! exactly once, every one signed or judged (a 250 without the milter would be
//! `milter_default_action = accept`, a silent pass).

mod support;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{Daemon, Postfix};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::{TcpSocket, TcpStream as AsyncTcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");
/// Concurrent SMTP sessions.
const WORKERS: usize = 8;
/// Times the milter is SIGKILLed and restarted.
const KILLS: usize = 8;
/// Messages accepted after each restart before the next kill.
const ACCEPTED_PER_ROUND: usize = 100;

/// The milter process, killed and started again on the same socket.
struct Milter {
    config: PathBuf,
    log: PathBuf,
    port: u16,
    daemon: Option<Daemon>,
}

impl Milter {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        let mut command = Command::new(BIN);
        command.arg("-c").arg(&self.config).arg("milter").stderr(Stdio::from(log));
        self.daemon = Some(Daemon::spawn(&mut command));
        let port = self.port;
        support::wait_for("the milter to listen", Duration::from_secs(10), || {
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
        });
    }

    /// SIGKILL: no shutdown, sessions in flight cut off mid-stage.
    fn kill(&mut self) {
        let mut daemon = self.daemon.take().expect("a running milter");
        daemon.0.kill().unwrap();
        daemon.0.wait().unwrap();
    }
}

/// How one attempt to send a message ended.
#[derive(Debug)]
enum Attempt {
    /// 250 after the final dot: the MTA has it.
    Accepted,
    /// A 4xx reply, at the stage named: the client keeps the message and tries again.
    Tempfailed(&'static str),
}

/// What the load saw, shared between the workers and the controller.
#[derive(Default)]
struct Tally {
    accepted: AtomicUsize,
    tempfailed: AtomicUsize,
    /// Tempfails on sessions opened while the milter was down (not cut off mid-session).
    tempfailed_down: AtomicUsize,
    /// Whether the milter is down now.
    down: AtomicBool,
    /// Tempfails by stage (connect, MAIL, RCPT, DATA, end of data).
    stages: Mutex<HashMap<&'static str, usize>>,
    /// Per message: (sequence number, signed session, attempts).
    messages: Mutex<Vec<(usize, bool, usize)>>,
    next: AtomicUsize,
    stop: AtomicBool,
}

impl Tally {
    /// Counts a tempfail, on a session opened while the milter was `down` or not.
    fn tempfail(&self, attempt: Attempt, down: bool) {
        let Attempt::Tempfailed(stage) = attempt else { return };
        self.tempfailed.fetch_add(1, Ordering::SeqCst);
        if down {
            self.tempfailed_down.fetch_add(1, Ordering::SeqCst);
        }
        *self.stages.lock().unwrap().entry(stage).or_default() += 1;
    }
}

/// One SMTP session's reader and writer.
type Session = AsyncBufReader<AsyncTcpStream>;

/// Reads one (possibly multi-line) reply; its code and last line. A connection that ends
/// without a reply is an error: it would leave the message's fate unknown.
async fn reply(session: &mut Session) -> (u16, String) {
    let mut line = String::new();
    loop {
        line.clear();
        let read = tokio::time::timeout(Duration::from_secs(60), session.read_line(&mut line)).await;
        let n = read.expect("a reply within 60 s").expect("read a reply");
        assert!(n > 0, "the connection ended without a reply: the message's fate would be unknown");
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            break;
        }
    }
    let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, line.trim_end().to_owned())
}

async fn command(session: &mut Session, line: &str) -> (u16, String) {
    session.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
    reply(session).await
}

/// `code` as the outcome of `stage`: `None` when it is the `want`ed success; a 5xx fails the test.
fn judge_reply(stage: &'static str, (code, line): &(u16, String), want: u16) -> Option<Attempt> {
    match code {
        c if *c == want => None,
        400..=499 => Some(Attempt::Tempfailed(stage)),
        _ => panic!("{stage}: {line:?} — neither {want} nor a tempfail"),
    }
}

/// A session from `local` to the smtpd, greeted and EHLO'd; the outcome when it was refused.
async fn open(smtp: u16, local: IpAddr) -> Result<Session, Attempt> {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(local, 0)).unwrap();
    let stream = socket.connect(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), smtp)).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let mut session = AsyncBufReader::new(stream);
    let greeting = reply(&mut session).await;
    if let Some(refused) = judge_reply("connect", &greeting, 220) {
        return Err(refused);
    }
    match judge_reply("EHLO", &command(&mut session, "EHLO client.test").await, 250) {
        Some(refused) => Err(refused),
        None => Ok(session),
    }
}

/// One transaction for message `seq` on `session`.
async fn send(session: &mut Session, seq: usize, signed: bool) -> Attempt {
    let from = if signed { "bob@test.invalid" } else { "ann@remote.invalid" };
    let steps = [
        ("MAIL", format!("MAIL FROM:<{from}>"), 250),
        ("RCPT", "RCPT TO:<alice@test.invalid>".to_owned(), 250),
        ("DATA", "DATA".to_owned(), 354),
    ];
    for (stage, line, want) in steps {
        if let Some(refused) = judge_reply(stage, &command(session, &line).await, want) {
            return refused;
        }
    }
    let data = format!(
        "From: {from}\r\nTo: alice@test.invalid\r\nSubject: load {seq}\r\nX-Load-Seq: {seq}\r\n\r\n{}.\r\n",
        "A line of an ordinary message under load.\r\n".repeat(20)
    );
    session.get_mut().write_all(data.as_bytes()).await.unwrap();
    judge_reply("end of data", &reply(session).await, 250).unwrap_or(Attempt::Accepted)
}

/// One worker: numbered messages until told to stop, each sent until it is accepted; after a
/// tempfail the session is closed (Postfix keeps tempfailing a session whose milter broke) and
/// a new one opened.
async fn worker(tally: Arc<Tally>, smtp: u16, signed: bool) {
    let local = IpAddr::V4(if signed { Ipv4Addr::new(127, 0, 0, 1) } else { Ipv4Addr::new(127, 0, 0, 2) });
    let mut session: Option<Session> = None;
    // Whether the current session was opened while the milter was down.
    let mut opened_down = false;
    while !tally.stop.load(Ordering::SeqCst) {
        let seq = tally.next.fetch_add(1, Ordering::SeqCst);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut refused = None;
            if session.is_none() {
                opened_down = tally.down.load(Ordering::SeqCst);
                match open(smtp, local).await {
                    Ok(s) => session = Some(s),
                    Err(r) => refused = Some(r),
                }
            }
            let outcome = match (refused, session.as_mut()) {
                (Some(r), _) => r,
                (None, s) => send(s.expect("an open session"), seq, signed).await,
            };
            match outcome {
                Attempt::Accepted => {
                    tally.accepted.fetch_add(1, Ordering::SeqCst);
                    break;
                }
                refused => {
                    tally.tempfail(refused, opened_down);
                    if let Some(mut s) = session.take() {
                        let _ = s.get_mut().write_all(b"QUIT\r\n").await;
                    }
                    assert!(attempts < 1000, "message {seq} tempfailed 1000 times");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
        tally.messages.lock().unwrap().push((seq, signed, attempts));
    }
    if let Some(mut s) = session {
        let _ = command(&mut s, "QUIT").await;
    }
}

/// Waits until `counter` passed `from + at_least`, panicking with `what` after 60 s.
fn wait_count(what: &str, counter: &AtomicUsize, from: usize, at_least: usize) {
    support::wait_for(what, Duration::from_secs(60), || counter.load(Ordering::SeqCst) >= from + at_least);
}

/// The header fields of a delivered message, names lower-cased.
fn fields(message: &str) -> HashMap<String, String> {
    message
        .lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn queue_empty(postfix: &Postfix) -> bool {
    let out = Command::new("postqueue").arg("-c").arg(postfix.config_dir()).arg("-p").output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains("Mail queue is empty")
}

#[test]
fn the_milter_killed_under_load_tempfails_and_loses_nothing() {
    let dir = support::open_temp_dir();
    let port = support::free_port();
    let socket = format!("inet:127.0.0.1:{port}");
    let config = dir.path().join("config.toml");
    let text = format!(
        "keyring = {:?}\nprotected_domains = [\"test.invalid\"]\n[policy]\ngrace_days = 0\n\
[milter]\nlisten = \"{socket}\"\nsign_networks = [\"127.0.0.1/32\"]\n",
        dir.path().join("keyring.toml")
    );
    std::fs::write(&config, text).unwrap();
    let init = Command::new(BIN).arg("-c").arg(&config).args(["keys", "init"]).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let mut milter = Milter { config, log: dir.path().join("milter.log"), port, daemon: None };
    milter.start();

    let postfix = Postfix::start("");
    let smtp = support::free_port();
    let settings =
        [("smtpd_milters", socket.as_str()), ("milter_default_action", "tempfail"), ("mynetworks", "127.0.0.1/32")];
    postfix.serve_smtpd(&settings, &[(smtp, "")]);

    let tally = Arc::new(Tally::default());
    let load = {
        let tally = Arc::clone(&tally);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async {
                let workers: Vec<_> =
                    (0..WORKERS).map(|w| tokio::spawn(worker(Arc::clone(&tally), smtp, w % 2 == 0))).collect();
                for w in workers {
                    w.await.expect("a worker failed");
                }
            });
        })
    };

    let started = Instant::now();
    wait_count("the first accepted messages", &tally.accepted, 0, ACCEPTED_PER_ROUND);
    for round in 1..=KILLS {
        let tempfailed = tally.tempfailed_down.load(Ordering::SeqCst);
        milter.kill();
        tally.down.store(true, Ordering::SeqCst);
        // Down: a session opened now must get a 4xx (milter_default_action = tempfail), never a
        // 250 or a 5xx. Sessions cut off mid-message by the kill tempfail too, but are not
        // counted here.
        let what = format!("a tempfail on a session opened while the milter is down (kill {round})");
        wait_count(&what, &tally.tempfailed_down, tempfailed, 1);
        let accepted = tally.accepted.load(Ordering::SeqCst);
        milter.start();
        tally.down.store(false, Ordering::SeqCst);
        // Up again: sessions opened now reach the new milter.
        wait_count(&format!("messages accepted after restart {round}"), &tally.accepted, accepted, ACCEPTED_PER_ROUND);
        assert!(!load.is_finished(), "the load stopped early");
    }
    tally.stop.store(true, Ordering::SeqCst);
    load.join().expect("the load failed");
    let took = started.elapsed();

    let messages = tally.messages.lock().unwrap().clone();
    let accepted = tally.accepted.load(Ordering::SeqCst);
    let tempfailed = tally.tempfailed.load(Ordering::SeqCst);
    let tempfailed_down = tally.tempfailed_down.load(Ordering::SeqCst);
    assert_eq!(accepted, messages.len(), "every message was accepted once in the end");
    assert_eq!(messages.iter().map(|m| m.2).sum::<usize>(), accepted + tempfailed, "every attempt accounted for");

    // Delivered: each message exactly once, and every one through the milter.
    let maildir = postfix.maildir("alice");
    support::wait_for("every accepted message delivered", Duration::from_secs(120), || {
        support::maildir_messages(&maildir).len() >= accepted && queue_empty(&postfix)
    });
    let mut delivered: HashMap<usize, usize> = HashMap::new();
    let mut unmarked = Vec::new();
    let signed: HashMap<usize, bool> = messages.iter().map(|&(seq, signed, _)| (seq, signed)).collect();
    for file in support::maildir_messages(&maildir) {
        let text = std::fs::read_to_string(&file).unwrap();
        let fields = fields(&text);
        let seq: usize = fields.get("x-load-seq").and_then(|s| s.parse().ok()).expect("X-Load-Seq in every message");
        *delivered.entry(seq).or_default() += 1;
        let mark = if signed[&seq] { "x-backscatter-sig" } else { "x-backscatter" };
        if !fields.contains_key(mark) {
            unmarked.push(seq);
        }
    }
    let twice: Vec<_> = delivered.iter().filter(|(_, &n)| n > 1).collect();
    let missing: Vec<_> = signed.keys().filter(|seq| !delivered.contains_key(seq)).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert!(missing.is_empty(), "accepted but never delivered: {missing:?}");
    assert_eq!(delivered.len(), accepted, "nothing delivered that was not accepted");
    assert!(unmarked.is_empty(), "accepted without the milter (neither signed nor judged): {unmarked:?}");

    // Recovery: after the last restart ACCEPTED_PER_ROUND more were accepted, all of them marked.
    let stages = tally.stages.lock().unwrap().clone();
    let retried = messages.iter().filter(|m| m.2 > 1).count();
    println!(
        "milter SIGKILLed {KILLS} times under {WORKERS} concurrent SMTP sessions in {took:.1?}: {accepted} messages \
         accepted and delivered exactly once ({} signed, {} judged), {tempfailed} tempfails on {retried} messages \
         ({tempfailed_down} on sessions opened while it was down; by stage: {stages:?}), none lost, none unmarked",
        messages.iter().filter(|m| m.1).count(),
        messages.iter().filter(|m| !m.1).count(),
    );
}
