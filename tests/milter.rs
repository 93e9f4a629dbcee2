//! `backscatter milter` in a real Postfix on loopback: its smtpd on a fresh port with the milter
//! as `smtpd_milters` and `non_smtpd_milters` (`milter_default_action = tempfail`), swaks as the
//! client — from 127.0.0.1 (in `sign_networks`: our users) or bound to 127.0.0.2 (a remote MTA)
//! — and, for a real DSN, a second Postfix as the remote domain.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{Daemon, Dns, Postfix};

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A Postfix for `test.invalid` with an smtpd on `smtp` and the milter on `milter_port`.
struct Rig {
    postfix: Postfix,
    smtp: u16,
    milter_port: u16,
    dir: tempfile::TempDir,
    milter: Option<Daemon>,
}

impl Rig {
    /// `config` is added to the milter's config (after the top-level keys), `milter` to its
    /// `[milter]` section.
    fn start(config: &str, milter: &str) -> Rig {
        Rig::with_postfix(config, milter, &[])
    }

    /// [`Rig::start`] with more main.cf `settings` for our Postfix.
    fn with_postfix(config: &str, milter: &str, settings: &[(&str, &str)]) -> Rig {
        support::require("/usr/bin/swaks", "swaks");
        let dir = support::open_temp_dir();
        let milter_port = support::free_port();
        let regexp = dir.path().join("batv.regexp");
        std::fs::write(&regexp, "/^prvs=[0-9a-z]+=(.+@test\\.invalid)$/ ${1}\n").unwrap();
        let postfix = Postfix::start("");
        let socket = format!("inet:127.0.0.1:{milter_port}");
        let alias = format!("regexp:{}", regexp.display());
        let mut main_cf = vec![
            ("smtpd_milters", socket.as_str()),
            ("non_smtpd_milters", &socket),
            ("milter_default_action", "tempfail"),
            ("virtual_alias_maps", &alias),
            ("mynetworks", "127.0.0.1/32"),
        ];
        main_cf.extend_from_slice(settings);
        let smtp = support::free_port();
        postfix.serve_smtpd(&main_cf, &[(smtp, "")]);
        let text = format!(
            "keyring = {:?}\nprotected_domains = [\"test.invalid\"]\n{config}\n[milter]\nlisten = \"{socket}\"\nsign_networks = [\"127.0.0.1/32\"]\n{milter}\n",
            dir.path().join("keyring.toml")
        );
        std::fs::write(dir.path().join("config.toml"), text).unwrap();
        let init = Command::new(BIN).arg("-c").arg(dir.path().join("config.toml")).args(["keys", "init"]).output();
        assert!(init.unwrap().status.success());
        let mut rig = Rig { postfix, smtp, milter_port, dir, milter: None };
        rig.start_milter();
        rig
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn start_milter(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("milter.log"));
        let mut command = Command::new(BIN);
        command.arg("-c").arg(self.config()).arg("-v").arg("milter").stderr(Stdio::from(log.unwrap()));
        self.milter = Some(Daemon::spawn(&mut command));
        let port = self.milter_port;
        support::wait_for("the milter to listen", Duration::from_secs(10), || {
            TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
        });
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("milter.log")).unwrap_or_default()
    }

    /// swaks to our smtpd from `from_ip` with `args`; its whole transcript.
    fn swaks(&self, from_ip: &str, args: &[&str]) -> String {
        let out = Command::new("swaks")
            .args([
                "--server",
                &format!("127.0.0.1:{}", self.smtp),
                "--local-interface",
                from_ip,
                "--helo",
                "client.test",
            ])
            .args(["--timeout", "30"])
            .args(args)
            .output()
            .unwrap();
        transcript(&out)
    }

    /// A message from a remote MTA (127.0.0.2) with the null sender to `to`, the file `data`.
    fn bounce(&self, to: &str, data: &Path) -> String {
        self.swaks("127.0.0.2", &["--from", "<>", "--to", to, "--data", &format!("@{}", data.display())])
    }

    /// The newest message in `user`'s Maildir once there are `count`.
    fn delivered(&self, user: &str, count: usize) -> String {
        let mut files = self.postfix.wait_for_mail(user, count, Duration::from_secs(20));
        files.sort_by_key(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok());
        std::fs::read_to_string(files.last().unwrap()).unwrap()
    }

    /// `backscatter keys verify TAGGED` against this rig's keyring.
    fn verify(&self, tagged: &str) -> String {
        let out = Command::new(BIN).arg("-c").arg(self.config()).args(["keys", "verify", tagged]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn transcript(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The value of the first `name:` header of `message`.
fn header<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    message
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim())
}

/// The header names of `message` in order, delivery headers included.
fn header_names(message: &str) -> Vec<String> {
    message
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with([' ', '\t']))
        .filter_map(|l| l.split_once(':').map(|(n, _)| n.to_owned()))
        .collect()
}

fn fixture(path: &str) -> PathBuf {
    Path::new(FIXTURES).join(path)
}

#[test]
fn outbound_mail_is_signed_over_smtp_and_through_local_sendmail() {
    let rig = Rig::start("[policy]\ngrace_days = 0", "");
    let out = rig.swaks("127.0.0.1", &["--from", "bob@test.invalid", "--to", "alice@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    let smtp = rig.delivered("alice", 1);
    // The stamp is the message's first header; only the delivery headers come before it.
    assert_eq!(header_names(&smtp)[..4], ["Return-Path", "X-Original-To", "Delivered-To", "X-Backscatter-Sig"]);
    let sender = header(&smtp, "Return-Path").unwrap().trim_matches(['<', '>']);
    assert!(sender.starts_with("prvs=") && sender.ends_with("=bob@test.invalid"), "{sender}");
    assert!(rig.verify(sender).starts_with("valid"), "{}", rig.verify(sender));

    let mut sendmail = rig.postfix.sendmail();
    sendmail.args(["-f", "bob@test.invalid", "alice@test.invalid"]).stdin(Stdio::piped());
    let mut child = sendmail.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"Subject: local\n\nfrom the shell\n").unwrap();
    assert!(child.wait().unwrap().success());
    let local = rig.delivered("alice", 2);
    assert!(local.contains("from the shell"), "{local}");
    assert_eq!(header_names(&local)[3], "X-Backscatter-Sig", "{local}");
    let sender = header(&local, "Return-Path").unwrap().trim_matches(['<', '>']);
    assert!(rig.verify(sender).starts_with("valid"), "{sender}");
    // Null senders are never tagged: a bounce of ours keeps <>.
    let out = rig.swaks("127.0.0.1", &["--from", "<>", "--to", "bob@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    assert_eq!(header(&rig.delivered("bob", 1), "Return-Path"), Some("<>"));
}

#[test]
fn a_sent_log_that_cannot_be_written_never_holds_the_mail() {
    // A state_dir under a regular file: no directory can be made there, even by root.
    let blocker = support::open_temp_dir();
    let file = blocker.path().join("file");
    std::fs::write(&file, b"").unwrap();
    let config = format!("state_dir = {:?}\n[sign]\nsent_log = true", file.join("state"));
    let rig = Rig::start(&config, "");
    let out = rig.swaks("127.0.0.1", &["--from", "bob@test.invalid", "--to", "alice@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    let signed = rig.delivered("alice", 1);
    assert!(header(&signed, "X-Backscatter-Sig").is_some(), "signed all the same: {signed}");
    assert!(rig.log().contains("goes on unlogged"), "{}", rig.log());
}

#[test]
fn a_forged_tag_is_refused_at_rcpt() {
    let rig = Rig::start("[policy]\ngrace_days = 0", "");
    let out = rig.swaks("127.0.0.2", &["--from", "<>", "--to", "prvs=0797906969=alice@test.invalid"]);
    assert!(out.contains("550 5.7.1 forged BATV tag: not a bounce of mail we sent"), "{out}");
    assert!(rig.log().contains("refused at RCPT TO"), "{}", rig.log());
}

#[test]
fn forged_dsns_and_autoreplies_are_refused_with_the_why() {
    let metrics = support::free_port();
    let rig = Rig::start(&format!("[policy]\ngrace_days = 0\n[metrics]\nlisten = \"127.0.0.1:{metrics}\""), "");
    let out = rig.bounce("alice@test.invalid", &fixture("ndr/001.eml"));
    assert!(
        out.contains(
            "550 5.7.1 backscatter: no carrier: neither the delivery address nor the returned original is signed"
        ),
        "{out}"
    );
    let out = rig.bounce("alice@test.invalid", &fixture("autoreply/001.eml"));
    assert!(out.contains("550 5.7.1 backscatter: "), "{out}");
    // Ordinary mail passes, marked, and a verdict that came with it is not kept.
    let out = rig.swaks(
        "127.0.0.2",
        &[
            "--from",
            "x@remote.invalid",
            "--to",
            "alice@test.invalid",
            "--add-header",
            "X-Backscatter: genuine; trust me",
        ],
    );
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    let kept = rig.delivered("alice", 1);
    assert_eq!(header(&kept, "X-Backscatter"), Some("ordinary; not a bounce or auto-reply"));
    assert!(!kept.contains("trust me"), "{kept}");
    assert!(rig.log().contains("verdict=\"backscatter\""), "one log line per verdict: {}", rig.log());
    // And a counter per verdict.
    let mut http = TcpStream::connect((Ipv4Addr::LOCALHOST, metrics)).unwrap();
    http.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut http, &mut text).unwrap();
    let counted = "backscatter_milter_verdicts_total{stage=\"eom\",verdict=\"backscatter\",action=\"reject\"} 2";
    assert!(text.contains(counted), "{text}");
}

#[test]
fn monitor_mode_only_adds_the_header() {
    let rig = Rig::start("[policy]\nmode = \"monitor\"\ngrace_days = 0", "");
    let out = rig.bounce("alice@test.invalid", &fixture("ndr/001.eml"));
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    let kept = rig.delivered("alice", 1);
    let verdict = header(&kept, "X-Backscatter").unwrap();
    assert!(verdict.starts_with("backscatter; no carrier") && verdict.ends_with("; monitor mode"), "{verdict}");
}

#[test]
fn the_header_action_accepts_backscatter_marked() {
    let rig = Rig::start("[policy]\ngrace_days = 0", "action = \"header\"");
    let out = rig.bounce("alice@test.invalid", &fixture("ndr/001.eml"));
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    let kept = rig.delivered("alice", 1);
    assert!(header(&kept, "X-Backscatter").unwrap().starts_with("backscatter; no carrier"), "{kept}");
}

#[test]
fn the_quarantine_action_holds_backscatter_in_postfix() {
    let rig = Rig::start("[policy]\ngrace_days = 0", "action = \"quarantine\"");
    let out = rig.bounce("alice@test.invalid", &fixture("ndr/001.eml"));
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    // postqueue marks a held message with `!` after its queue id.
    let held = || {
        let out = Command::new("postqueue").arg("-c").arg(rig.postfix.config_dir()).arg("-p").output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    support::wait_for("the message in the hold queue", Duration::from_secs(10), || {
        held().lines().any(|l| l.split_whitespace().next().is_some_and(|id| id.ends_with('!')))
    });
    assert!(held().contains("prvs=") || held().contains("alice@test.invalid"), "{}", held());
}

/// With `[sign] sent_log` on (DESIGN §4.4), which this test also covers: the milter logs what it
/// signs, and at end of message checks a bounce's valid carriers against that log.
#[test]
fn a_real_postfix_dsn_to_signed_mail_is_accepted_and_delivered() {
    let remote_smtp = support::free_port();
    let maps = support::open_temp_dir();
    let table = maps.path().join("transport");
    std::fs::write(&table, format!("remote.invalid smtp:[127.0.0.1]:{remote_smtp}\n")).unwrap();
    let transport = format!("texthash:{}", table.display());
    let state = maps.path().join("state");
    let config = format!("state_dir = {state:?}\n[sign]\nsent_log = true\n[policy]\ngrace_days = 0");
    let rig = Rig::with_postfix(&config, "", &[("transport_maps", &transport)]);
    // The remote domain: a second Postfix that takes any recipient at SMTP time, finds no such
    // user at delivery and so sends a real DSN, from 127.0.0.2, through our smtpd.
    let remote = Postfix::start("");
    let relayhost = format!("[127.0.0.1]:{}", rig.smtp);
    let settings = [
        ("myhostname", "mx.remote.invalid"),
        ("mydomain", "remote.invalid"),
        ("myorigin", "remote.invalid"),
        ("virtual_mailbox_domains", "remote.invalid"),
        ("smtpd_reject_unlisted_recipient", "no"),
        ("default_transport", "smtp"),
        ("relay_transport", "smtp"),
        ("relayhost", relayhost.as_str()),
        ("smtp_bind_address", "127.0.0.2"),
    ];
    remote.serve_smtpd(&settings, &[(remote_smtp, "")]);

    let out = rig.swaks("127.0.0.1", &["--from", "alice@test.invalid", "--to", "nobody@remote.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    let dsn = rig.delivered("alice", 1);
    assert_eq!(header(&dsn, "Return-Path"), Some("<>"), "{dsn}");
    assert!(header(&dsn, "X-Original-To").unwrap().starts_with("prvs="), "{dsn}");
    let verdict = header(&dsn, "X-Backscatter").unwrap();
    assert!(verdict.starts_with("genuine; valid BATV tag"), "{verdict}");
    // The sent log: the signed message went to the recipient the DSN names.
    assert!(verdict.ends_with("; the signed message was sent to nobody@remote.invalid (sent log)"), "{verdict}");
    // Postfix 3.7 takes the ENVID through SMFIR_CHGFROM and relays it: the DSN's
    // message/delivery-status part returns it (RFC 3464 §2.2.1).
    assert!(dsn.contains("\nOriginal-Envelope-Id: bs1."), "no ENVID returned in {dsn}");

    // Whoever saw that message forges a DSN for carol, who never got it, quoting its valid
    // signature header and sent to the same valid tag: refused as a replay.
    let sig = dsn.lines().find(|l| l.starts_with("X-Backscatter-Sig: ")).expect("the returned signature");
    let tagged = header(&dsn, "X-Original-To").unwrap();
    let forged = format!(
        "From: MAILER-DAEMON@mx.elsewhere.example\r\nTo: {tagged}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nI could not deliver your message.\r\n\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.elsewhere.example\r\n\r\n\
Final-Recipient: rfc822; carol@elsewhere.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{sig}\r\nFrom: alice@test.invalid\r\n\
To: carol@elsewhere.example\r\nSubject: test\r\n\r\n--B--\r\n"
    );
    let file = maps.path().join("forged.eml");
    std::fs::write(&file, forged).unwrap();
    let out = rig.bounce(tagged, &file);
    let refused =
        "550 5.7.1 backscatter: replayed signature: the signed message was never sent to carol@elsewhere.example";
    assert!(out.contains(refused), "{out}");
    let days: Vec<_> = std::fs::read_dir(state.join("sent-log")).unwrap().collect();
    assert_eq!(days.len(), 1, "one day file of signed messages");
}

#[test]
fn spf_at_smtp_time_from_the_real_connection() {
    let dns = Dns::start(&[
        "--txt-record=pass.test,v=spf1 ip4:127.0.0.2 -all",
        "--txt-record=fail.test,v=spf1 ip4:192.0.2.0/24 -all",
    ]);
    let spf =
        format!("[policy]\ngrace_days = 0\n[spf]\nenabled = true\ndns = \"127.0.0.1:{}\"\nhelo = false\n", dns.port);
    let rig = Rig::start(&spf, "");
    let out = rig.swaks("127.0.0.2", &["--from", "ann@pass.test", "--to", "alice@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    let pass = rig.delivered("alice", 1);
    let received = header(&pass, "Received-SPF").unwrap();
    assert!(received.starts_with("pass (") && received.contains("client-ip=127.0.0.2;"), "{received}");
    let out = rig.swaks("127.0.0.2", &["--from", "ann@none.test", "--to", "alice@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    assert!(header(&rig.delivered("alice", 2), "Received-SPF").unwrap().starts_with("none ("));
    let out = rig.swaks("127.0.0.2", &["--from", "ann@fail.test", "--to", "alice@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "spf_fail = header accepts: {out}");
    assert!(header(&rig.delivered("alice", 3), "Received-SPF").unwrap().starts_with("fail ("));
    // Our own users are not checked.
    let out = rig.swaks("127.0.0.1", &["--from", "bob@fail.test", "--to", "alice@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "{out}");
    assert_eq!(header(&rig.delivered("alice", 4), "Received-SPF"), None);

    let reject = Rig::start(&spf, "spf_fail = \"reject\"");
    let out = reject.swaks("127.0.0.2", &["--from", "ann@fail.test", "--to", "alice@test.invalid"]);
    assert!(out.contains("550 5.7.23 SPF validation failed: 127.0.0.2 is not allowed by fail.test's SPF"), "{out}");
}

/// One SMTP command; the reply's last line.
fn command(reader: &mut BufReader<TcpStream>, line: &str) -> String {
    if !line.is_empty() {
        reader.get_mut().write_all(format!("{line}\r\n").as_bytes()).unwrap();
    }
    let mut reply = String::new();
    loop {
        reply.clear();
        reader.read_line(&mut reply).unwrap();
        if reply.len() < 4 || reply.as_bytes()[3] != b'-' {
            return reply.trim_end().to_owned();
        }
    }
}

#[test]
fn a_killed_milter_means_tempfail_and_nothing_is_lost() {
    let mut rig = Rig::start("[policy]\ngrace_days = 0", "");
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, rig.smtp)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut smtp = BufReader::new(stream);
    assert!(command(&mut smtp, "").starts_with("220"));
    assert!(command(&mut smtp, "EHLO client.test").starts_with("250"));
    assert!(command(&mut smtp, "MAIL FROM:<bob@test.invalid>").starts_with("250"));
    assert!(command(&mut smtp, "RCPT TO:<alice@test.invalid>").starts_with("250"));
    // The milter dies in the middle of the session.
    let mut milter = rig.milter.take().unwrap();
    milter.0.kill().unwrap();
    milter.0.wait().unwrap();
    let data = command(&mut smtp, "DATA");
    let reply = if data.starts_with("354") { command(&mut smtp, "Subject: x\r\n\r\nbody\r\n.") } else { data };
    assert!(reply.starts_with("451") || reply.starts_with("421"), "milter_default_action = tempfail: {reply}");
    let _ = command(&mut smtp, "QUIT");
    // Nothing was delivered unsigned, nothing was dropped: the client keeps it and retries.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !rig.postfix.maildir("alice").join("new").exists()
            || std::fs::read_dir(rig.postfix.maildir("alice").join("new")).unwrap().count() == 0
    );
    rig.start_milter();
    let out = rig.swaks("127.0.0.1", &["--from", "bob@test.invalid", "--to", "alice@test.invalid"]);
    assert!(out.contains("250 2.0.0 Ok: queued"), "the retry goes through: {out}");
    assert!(header(&rig.delivered("alice", 1), "X-Backscatter-Sig").is_some());
}
