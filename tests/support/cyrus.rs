//! A standalone Cyrus IMAP 3.6 on loopback (a second real IMAP server beside Dovecot), with users
//! `alice` and `bob` (password "secret") and the admin `cyrusadm`, and a small blocking IMAP
//! client to put mail in and look at the folders afterwards.
//!
//! `cyrus-imapd` conflicts with `dovecot-imapd` as a package, so `tests/run` installs
//! `cyrus-common` (master), `cyrus-admin` and `sasl2-bin` (saslpasswd2) with apt and unpacks
//! `cyrus-imapd` (imapd, idled) into `/opt/cyrus-imapd` (or `$CYRUS_IMAPD`).

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::{children, free_port, kill, open_temp_dir, read_pid, require, script, wait_for};

/// Where `tests/run` unpacks the cyrus-imapd package.
fn unpacked() -> PathBuf {
    std::env::var_os("CYRUS_IMAPD").map_or_else(|| PathBuf::from("/opt/cyrus-imapd"), PathBuf::from)
}

/// A running Cyrus master and its services, stopped by PID on drop.
pub struct Cyrus {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The hierarchy delimiter (`/` with `unixhierarchysep: yes`).
    pub delimiter: char,
    pid: i32,
}

impl Cyrus {
    /// Starts Cyrus with Debian's defaults (`altnamespace: no`, `unixhierarchysep: no`) plus the
    /// imapd.conf lines `extra` (e.g. `"altnamespace: yes"`), and makes the users' INBOXes.
    pub fn start(extra: &str) -> Cyrus {
        require("/usr/lib/cyrus/bin/master", "cyrus-common");
        require("/usr/sbin/saslpasswd2", "sasl2-bin");
        let imapd = unpacked().join("usr/lib/cyrus/bin/imapd");
        assert!(
            imapd.exists(),
            "{} is missing: the Debian package `cyrus-imapd` must be unpacked there (it conflicts with dovecot-imapd) — tests/run does: apt-get download cyrus-imapd && dpkg-deb -x cyrus-imapd_*.deb {}",
            imapd.display(),
            unpacked().display()
        );
        let dir = open_temp_dir();
        let port = free_port();
        let root = dir.path().join("cyrus");
        let out = Command::new("bash")
            .arg(script("cyrus-start.sh"))
            .arg(&root)
            .arg(port.to_string())
            .env("EXTRA", extra)
            .env("CYRUS_IMAPD", unpacked())
            .stdin(Stdio::null())
            .output()
            .expect("run cyrus-start.sh");
        let pid_file = root.join("master.pid");
        wait_for("cyrus master.pid", Duration::from_secs(10), || read_pid(&pid_file).is_some());
        let pid = read_pid(&pid_file).unwrap_or_else(|| {
            panic!(
                "cyrus did not start: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let delimiter = if extra.contains("unixhierarchysep: yes") { '/' } else { '.' };
        let cyrus = Cyrus { dir, port, delimiter, pid };
        wait_for("cyrus to greet", Duration::from_secs(10), || Client::connect(port).is_some());
        let mut admin = cyrus.login("cyrusadm");
        for user in ["alice", "bob"] {
            admin.ok(&format!("CREATE user{delimiter}{user}"));
        }
        cyrus
    }

    /// A logged-in client for `user`.
    pub fn login(&self, user: &str) -> Client {
        let mut client = Client::connect(self.port).expect("connect to cyrus");
        client.ok(&format!("LOGIN {user} secret"));
        client
    }

    /// As the admin: `command` must succeed (e.g. `SETACL user.alice alice lrswipte`).
    pub fn admin(&self, command: &str) {
        self.login("cyrusadm").ok(command);
    }

    /// An `[[imap]]` account named `name` logging in as `user` over plain IMAP on loopback.
    pub fn account(&self, name: &str, user: &str) -> backscatter::config::Imap {
        super::plain_account(name, user, self.port)
    }

    /// `user`'s folders as `LIST "" "*"` names them (modified UTF-7), sorted.
    pub fn folders(&self, user: &str) -> Vec<String> {
        let mut names: Vec<String> =
            self.login(user).ok("LIST \"\" \"*\"").iter().filter_map(|line| list_name(line)).collect();
        names.sort();
        names
    }

    /// The UIDs of the messages in `user`'s `mailbox` whose Message-ID is `<name@example.net>`
    /// (none when there is no such mailbox).
    pub fn find(&self, user: &str, mailbox: &str, name: &str) -> Vec<u32> {
        let mut client = self.login(user);
        if client.run(&format!("EXAMINE \"{mailbox}\"")).is_err() {
            return Vec::new();
        }
        let lines = client.ok(&format!("UID SEARCH HEADER Message-ID \"<{name}@example.net>\""));
        lines
            .iter()
            .filter_map(|l| l.strip_prefix("* SEARCH"))
            .flat_map(|uids| uids.split_whitespace().filter_map(|u| u.parse().ok()).collect::<Vec<u32>>())
            .collect()
    }

    /// Puts `message` into `user`'s `mailbox` with APPEND, as a delivery would.
    pub fn deliver(&self, user: &str, mailbox: &str, message: &str) {
        let mut client = self.login(user);
        // RFC 7888 LITERAL+: the literal follows at once, no continuation awaited.
        let command = format!("APPEND \"{mailbox}\" {{{}+}}\r\n{message}", message.len());
        client.ok(&command);
    }
}

impl Drop for Cyrus {
    fn drop(&mut self) {
        for child in children(self.pid) {
            kill(child);
        }
        kill(self.pid);
    }
}

/// The mailbox name of a `* LIST (…) "." name` line.
fn list_name(line: &str) -> Option<String> {
    let rest = line.strip_prefix("* LIST (")?;
    let (_, rest) = rest.split_once(") ")?;
    let (_, name) = rest.split_once(' ')?;
    Some(name.trim_matches('"').to_owned())
}

/// A blocking IMAP client for looking at a server from a test.
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    tag: u32,
}

impl Client {
    /// Connects and reads the greeting; `None` when nothing greets yet.
    fn connect(port: u16) -> Option<Client> {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut greeting = String::new();
        reader.read_line(&mut greeting).ok()?;
        greeting.starts_with("* OK").then_some(Client { reader, writer: stream, tag: 0 })
    }

    /// Runs `command`; its untagged lines, or the tagged answer when it is not OK.
    pub fn run(&mut self, command: &str) -> Result<Vec<String>, String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        self.writer.write_all(format!("{tag} {command}\r\n").as_bytes()).expect("write to the server");
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).expect("read from the server") == 0 {
                return Err(format!("{command}: the server closed the connection"));
            }
            let line = line.trim_end().to_owned();
            if let Some(answer) = line.strip_prefix(&format!("{tag} ")) {
                return if answer.starts_with("OK") { Ok(lines) } else { Err(format!("{command}: {answer}")) };
            }
            lines.push(line);
        }
    }

    /// Runs `command`, which must succeed.
    pub fn ok(&mut self, command: &str) -> Vec<String> {
        self.run(command).unwrap_or_else(|e| panic!("{e}"))
    }
}
