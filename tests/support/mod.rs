//! Real servers for integration tests: each starts in its own temp dir on loopback and is stopped
//! by PID when dropped. A missing server binary fails the test naming the Debian package
//! (`tests/run` installs them); nothing is mocked and nothing is skipped.
//!
//! Use from a test crate with `mod support;`.

// Each test crate uses a different subset of these servers.
#![allow(dead_code)]

pub mod cyrus;

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The scripts beside this file, which set up each server's config (the shared recipes).
fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support").join(name)
}

/// Panics with the package to install when `binary` is not on this machine.
pub fn require(binary: &str, package: &str) {
    if !Path::new(binary).exists() {
        panic!(
            "{binary} is missing: install the Debian package `{package}` (tests/run does: apt-get install {package})"
        );
    }
}

/// A temp dir the servers' unprivileged processes can enter (temp dirs are created 0700).
pub fn open_temp_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create temp dir");
    set_mode(dir.path(), 0o755);
    dir
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod temp dir");
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// Waits until `ready` holds, panicking with `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        sleep(Duration::from_millis(20));
    }
}

fn kill(pid: i32) {
    // SIGTERM, as an operator would; the servers clean up after themselves.
    let _ = Command::new("kill").arg(pid.to_string()).status();
}

/// The processes whose parent is `pid` (from `/proc/*/stat`).
fn children(pid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces, so split after the last ')'.
            let after = stat.get(stat.rfind(')')? + 1..)?;
            let ppid: i32 = after.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then(|| e.file_name().to_str()?.parse().ok()).flatten()
        })
        .collect()
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// An isolated Postfix (root needed) for the domain `test.invalid`, delivering
/// `alice@test.invalid` and `bob@test.invalid` to Maildirs; mail to any other user there bounces
/// with a real RFC 3464 DSN. No mail leaves the machine.
pub struct Postfix {
    /// The instance's root: `etc/` (main.cf, master.cf), `spool/`, `mail/<user>/Maildir/`.
    pub dir: tempfile::TempDir,
    pid: i32,
}

impl Postfix {
    /// Starts an instance; `extra_main_cf` lines are appended to its main.cf before start.
    pub fn start(extra_main_cf: &str) -> Postfix {
        require("/usr/sbin/postfix", "postfix");
        let dir = open_temp_dir();
        let root = dir.path().join("pf");
        let mut setup = Command::new("bash");
        setup.arg(script("postfix-start.sh")).arg(&root).env("EXTRA_MAIN_CF", extra_main_cf);
        let out = setup.output().expect("run postfix-start.sh");
        let pid_file = root.join("spool/pid/master.pid");
        wait_for("postfix master.pid", Duration::from_secs(10), || read_pid(&pid_file).is_some());
        let pid = read_pid(&pid_file).unwrap_or_else(|| {
            panic!(
                "postfix did not start: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        Postfix { dir, pid }
    }

    /// The instance's root directory.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("pf")
    }

    /// Sets `settings` in main.cf and adds an smtpd on loopback for each `(port, options)` in
    /// `listeners` (`options`: its master.cf `-o` overrides, or ""), then reloads until every
    /// one greets. `postconf -e` writes no key twice: Postfix warns about each duplicate at
    /// every start of every program, and a flood of warnings can block on a full postlog socket.
    pub fn serve_smtpd(&self, settings: &[(&str, &str)], listeners: &[(u16, &str)]) {
        use std::io::Write;
        let etc = self.config_dir();
        let mut postconf = Command::new("postconf");
        postconf.arg("-c").arg(&etc).arg("-e").arg("master_service_disable =");
        for (key, value) in settings {
            postconf.arg(format!("{key} = {value}"));
        }
        assert!(postconf.status().unwrap().success(), "postconf -e in {}", etc.display());
        let mut master = std::fs::OpenOptions::new().append(true).open(etc.join("master.cf")).unwrap();
        for (port, options) in listeners {
            writeln!(master, "127.0.0.1:{port} inet n - n - - smtpd {options}").unwrap();
        }
        drop(master);
        let all_greet = || listeners.iter().all(|(port, _)| smtp_greets(*port));
        let start = Instant::now();
        // A reload is repeated until the new master.cf is read.
        while !all_greet() {
            assert!(start.elapsed() < Duration::from_secs(30), "postfix smtpd on {listeners:?} did not come up");
            let mut reload = Command::new("postfix");
            reload.arg("-c").arg(&etc).arg("reload").stdout(Stdio::null()).stderr(Stdio::null());
            reload.status().unwrap();
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until && !all_greet() {
                sleep(Duration::from_millis(50));
            }
        }
    }

    /// The config directory; the real `/usr/sbin/sendmail` uses it with `MAIL_CONFIG` set to it.
    pub fn config_dir(&self) -> PathBuf {
        self.root().join("etc")
    }

    /// The Maildir of `user` (`alice` or `bob`); it exists once something was delivered.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.root().join("mail").join(user).join("Maildir")
    }

    /// The real sendmail, pointed at this instance.
    pub fn sendmail(&self) -> Command {
        let mut cmd = Command::new("/usr/sbin/sendmail");
        cmd.env("MAIL_CONFIG", self.config_dir());
        cmd
    }

    /// Files in `user`'s `new/` and `cur/`, waiting up to `limit` for at least `count`.
    pub fn wait_for_mail(&self, user: &str, count: usize, limit: Duration) -> Vec<PathBuf> {
        let maildir = self.maildir(user);
        let list = || maildir_messages(&maildir);
        wait_for(&format!("{count} message(s) for {user}"), limit, || list().len() >= count);
        list()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        kill(self.pid);
    }
}

/// A standalone Dovecot IMAP server on 127.0.0.1 with user `alice`, password `secret`, whose
/// mail lives in `home/alice/Maildir`. `SSL=yes` in `extra` env enables STARTTLS with a
/// generated certificate (`cert.pem`).
pub struct Dovecot {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pid: i32,
}

impl Dovecot {
    /// Starts Dovecot; `env` (e.g. `[("SSL", "yes"), ("EXTRA", "imap_capability = …")]`) tunes
    /// the generated config.
    pub fn start(env: &[(&str, &str)]) -> Dovecot {
        require("/usr/sbin/dovecot", "dovecot-imapd");
        let dir = open_temp_dir();
        let port = free_port();
        let root = dir.path().join("dovecot");
        let mut setup = Command::new("bash");
        setup.arg(script("dovecot-start.sh")).arg(&root).arg(port.to_string());
        setup.envs(env.iter().copied()).stdout(Stdio::null()).stderr(Stdio::null());
        setup.status().expect("run dovecot-start.sh");
        let pid_file = root.join("dovecot.pid");
        wait_for("dovecot pid", Duration::from_secs(10), || read_pid(&pid_file).is_some());
        let pid = read_pid(&pid_file).expect("dovecot pid");
        wait_for("dovecot to listen", Duration::from_secs(10), || {
            std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
        });
        Dovecot { dir, port, pid }
    }

    /// Stops the server as `systemctl restart` does (SIGTERM to the master and its children —
    /// alone, an imap process outlives its master by ~10 s) and starts a new one on the same
    /// directory and port with the same `env`, retrying while the old one still holds the port.
    pub fn restart(&mut self, env: &[(&str, &str)]) {
        for child in children(self.pid) {
            kill(child);
        }
        kill(self.pid);
        // Until the old master is gone, the port answers for it: wait, so a new one is seen.
        let old = format!("/proc/{}", self.pid);
        wait_for("the old dovecot to exit", Duration::from_secs(15), || !Path::new(&old).exists());
        let root = self.dir.path().join("dovecot");
        let start = Instant::now();
        loop {
            let mut setup = Command::new("bash");
            setup.arg(script("dovecot-start.sh")).arg(&root).arg(self.port.to_string());
            setup.envs(env.iter().copied()).stdout(Stdio::null()).stderr(Stdio::null());
            setup.status().expect("run dovecot-start.sh");
            sleep(Duration::from_millis(300));
            let pid = read_pid(&root.join("dovecot.pid")).expect("dovecot pid");
            let alive = Path::new(&format!("/proc/{pid}")).exists();
            if alive && std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                self.pid = pid;
                return;
            }
            kill(pid);
            if start.elapsed() > Duration::from_secs(15) {
                panic!("dovecot did not come back on port {}", self.port);
            }
        }
    }

    /// The generated server certificate (PEM), for a client's CA file.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("dovecot/cert.pem")
    }

    /// An `[[imap]]` account named `name` logging in as `user` (password "secret", as the recipe
    /// sets for every user) over plain IMAP on loopback, watching INBOX.
    pub fn account(&self, name: &str, user: &str) -> backscatter::config::Imap {
        plain_account(name, user, self.port)
    }

    /// alice's Maildir, as Dovecot serves it.
    pub fn maildir(&self) -> PathBuf {
        self.dir.path().join("dovecot/home/alice/Maildir")
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        kill(self.pid);
    }
}

/// dnsmasq on 127.0.0.1 serving the SPF TXT records of `example.test` (see `dnsmasq.sh`) plus
/// any `--txt-record=…`/`--host-record=…` arguments given.
pub struct Dns {
    pub port: u16,
    child: Child,
}

impl Dns {
    pub fn start(extra_args: &[&str]) -> Dns {
        require("/usr/sbin/dnsmasq", "dnsmasq-base");
        // A port free for TCP may be taken for UDP (another test's resolver socket): dnsmasq
        // then exits at once, and another port is tried.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("sh")
                .arg(script("dnsmasq.sh"))
                .arg(port.to_string())
                .args(extra_args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start dnsmasq");
            // Ready when it answers a real query: a TCP connect could reach whoever took the port
            // in between, and then every lookup of the test would time out.
            let mut exited = false;
            wait_for("dnsmasq to answer", Duration::from_secs(10), || {
                exited = matches!(child.try_wait(), Ok(Some(_)));
                exited || query_txt(port, "example.test").is_some()
            });
            if !exited {
                return Dns { port, child };
            }
        }
        panic!("dnsmasq exited at once on five ports in a row");
    }
}

/// Asks the DNS server on 127.0.0.1:`port` for `name`'s TXT records; the raw answer, if any
/// came within 200 ms.
pub fn query_txt(port: u16, name: &str) -> Option<Vec<u8>> {
    // A hand-made query: id 1, RD, one question NAME TXT IN.
    let mut query = vec![0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 16, 0, 1]);
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    socket.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    socket.send_to(&query, (Ipv4Addr::LOCALHOST, port)).ok()?;
    let mut answer = [0u8; 512];
    let n = socket.recv(&mut answer).ok()?;
    answer.get(..n).map(<[u8]>::to_vec)
}

impl Drop for Dns {
    fn drop(&mut self) {
        kill(self.child.id() as i32);
        let _ = self.child.wait();
    }
}

/// A long-running `backscatter` (e.g. `watch`) started by a test: killed and reaped when dropped,
/// so a failing assertion never leaves a daemon behind holding the test runner's output pipe.
pub struct Daemon(pub Child);

impl Daemon {
    /// Starts `command` with stdin and stdout on /dev/null (stderr as the caller set it).
    pub fn spawn(command: &mut Command) -> Daemon {
        Daemon(command.stdin(Stdio::null()).stdout(Stdio::null()).spawn().expect("start the daemon"))
    }

    /// SIGTERM, as systemd stops it; returns its exit status (killed after 10 s).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        kill(self.0.id() as i32);
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().expect("wait for the daemon") {
                return status;
            }
            if start.elapsed() > Duration::from_secs(10) {
                panic!("the daemon did not stop within 10 s of SIGTERM");
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An RFC 5322 date for now (UTC), so that a message arrives after any key made in a test.
pub fn now_date() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let day = backscatter::day::Day::from_unix_seconds(secs);
    let (y, m, d) = day.ymd();
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = months.get((m as usize).saturating_sub(1)).copied().unwrap_or("Jan");
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"].get(day.0.rem_euclid(7) as usize).copied();
    let t = secs.rem_euclid(86_400);
    format!("{}, {d:02} {month} {y} {:02}:{:02}:{:02} +0000", weekday.unwrap_or("Thu"), t / 3600, t / 60 % 60, t % 60)
}

/// An unsigned bounce to our domain: the original was sent in example.test's name from
/// 203.0.113.9; the bounce came to our border MTA from 192.0.2.5, HELO example.test.
pub fn forged_bounce(date: &str) -> String {
    format!(
        "Return-Path: <>\r
Received: from example.test (unknown [192.0.2.5]) by mx.example.org (Postfix) with ESMTP id 2; {date}\r
From: MAILER-DAEMON@mx.victim.test\r
To: ann@example.test\r
Subject: Undelivered Mail Returned to Sender\r
Date: {date}\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r
\r
--B\r
Content-Type: text/plain\r
\r
Delivery to nobody@victim.test failed.\r
\r
--B\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.victim.test\r
\r
Final-Recipient: rfc822; nobody@victim.test\r
Action: failed\r
Status: 5.1.1\r
\r
--B\r
Content-Type: message/rfc822\r
\r
Received: from spam.example (unknown [203.0.113.9]) by mx.victim.test with ESMTP; {date}\r
From: ann@example.test\r
To: nobody@victim.test\r
Subject: offer\r
Message-ID: <x@spam.example>\r
\r
buy now\r
--B--\r
"
    )
}

/// An `[[imap]]` account named `name` logging in as `user` with the password "secret" over
/// plain IMAP to `port` on loopback, watching INBOX: what the Dovecot and Cyrus recipes set up.
pub fn plain_account(name: &str, user: &str, port: u16) -> backscatter::config::Imap {
    backscatter::config::Imap {
        name: name.to_owned(),
        host: "127.0.0.1".to_owned(),
        port,
        tls: backscatter::config::Tls::None,
        allow_plaintext: false,
        ca_file: None,
        username: user.to_owned(),
        auth: backscatter::config::Auth::Password("secret".to_owned()),
        mailboxes: vec!["INBOX".to_owned()],
        sent: None,
        poll_interval: Duration::from_secs(60),
    }
}

/// True if an SMTP server on loopback `port` greets with 220 within two seconds.
pub fn smtp_greets(port: u16) -> bool {
    use std::io::{BufRead, BufReader};
    let Ok(stream) = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("220")
}

/// The message files in a Maildir's `new/` and `cur/`.
pub fn maildir_messages(maildir: &Path) -> Vec<PathBuf> {
    ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect()
}

/// `backscatter -c CONFIG ARGS…`, with `$BACKSCATTER_CONFIG` removed so that only `config`
/// counts.
pub fn backscatter(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backscatter"));
    command.arg("-c").arg(config).args(args).env_remove("BACKSCATTER_CONFIG");
    command
}

/// Runs [`backscatter`], which must succeed; its output.
pub fn backscatter_ok(config: &Path, args: &[&str]) -> Output {
    let output = backscatter(config, args).output().expect("run backscatter");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}
