//! The engine under an operator's worst days, with the real binary: SIGKILL storms during busy
//! moves (every message exactly once, the journal matching the folders, `restore --all` bringing
//! back every one), a full disk under the journal and under the Maildir, FIFOs and links in
//! `new/`, a corrupt IMAP state file beside a healthy account, a kill between COPY and EXPUNGE on
//! a Dovecot without MOVE, and SPF on an IMAP message and in `check` against a real dnsmasq.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backscatter::day::Day;
use backscatter::journal::{self, Place, State};
use backscatter::keys::Keyring;
use support::{wait_for, Daemon, Dns, Dovecot};

/// A temp dir with a Maildir, a keyring made 60 days ago, a config (`extra` appended) and a
/// state dir.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(extra: &str) -> World {
        World::with("", extra)
    }

    /// `top`: root keys (before any table); `extra`: tables after the Maildir's.
    fn with(top: &str, extra: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.path().join("Maildir").join(sub)).unwrap();
        }
        let secret = "engine-test-secret-of-43-characters-xxxxxx".to_owned();
        Keyring::new(&dir.path().join("keyring.toml"), Day(today().0 - 60), secret).create().unwrap();
        let config = format!(
            "keyring = \"{0}/keyring.toml\"\nstate_dir = \"{0}/state\"\n{top}\n[policy]\nmode = \"enforce\"\ngrace_days = 0\n\
             [[maildir]]\npath = \"{0}/Maildir\"\n{extra}",
            dir.path().display()
        );
        fs::write(dir.path().join("config.toml"), config).unwrap();
        World { dir }
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_backscatter"));
        command.arg("-c").arg(self.dir.path().join("config.toml")).args(args).env_remove("BACKSCATTER_CONFIG");
        command
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    fn scan(&self) -> Output {
        self.output(&["scan", &self.maildir().to_string_lossy()])
    }

    /// Delivers as an MDA does: written in `tmp/`, renamed into `new/`.
    fn deliver(&self, name: &str, message: &[u8]) {
        let tmp = self.maildir().join("tmp").join(name);
        fs::write(&tmp, message).unwrap();
        fs::rename(&tmp, self.maildir().join("new").join(name)).unwrap();
    }

    /// Message-ID → where each copy of it is (`inbox` or `folder`), over every file of the Maildir.
    fn census(&self) -> BTreeMap<String, Vec<&'static str>> {
        let mut found: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
        let places =
            [("new", "inbox"), ("cur", "inbox"), (".Backscatter/cur", "folder"), (".Backscatter/new", "folder")];
        for (dir, place) in places {
            let Ok(entries) = fs::read_dir(self.maildir().join(dir)) else { continue };
            // Regular files only: reading a FIFO would wait for a writer.
            let files =
                entries.flatten().map(|e| e.path()).filter(|p| fs::symlink_metadata(p).is_ok_and(|m| m.is_file()));
            for path in files {
                if let Some(id) = fs::read(&path).ok().as_deref().and_then(message_id) {
                    found.entry(id).or_default().push(place);
                }
            }
        }
        found
    }

    fn ledger(&self) -> journal::Ledger {
        journal::read(&self.state().join(journal::FILE_NAME)).unwrap()
    }
}

fn today() -> Day {
    Day::from_unix_seconds(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64)
}

use support::now_date;

/// An unsigned (so forged) bounce with its own Message-ID `<id@engine.test>`.
fn bounce(id: &str) -> Vec<u8> {
    format!("Message-ID: <{id}@engine.test>\r\n{}", support::forged_bounce(&now_date())).into_bytes()
}

/// An ordinary message with Message-ID `<id@engine.test>`.
fn ham(id: &str) -> Vec<u8> {
    format!("From: bob@example.net\r\nTo: ann@example.test\r\nSubject: lunch\r\nMessage-ID: <{id}@engine.test>\r\n\r\nNoon?\r\n")
        .into_bytes()
}

/// The first header's Message-ID of a message (ours come first).
fn message_id(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.lines().find(|l| l.starts_with("Message-ID: <") && l.contains("@engine.test>"))?;
    Some(line.trim_start_matches("Message-ID: ").trim().to_owned())
}

/// A tiny deterministic generator (the seed is printed, so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Every message exactly once; bounces in the folder, ham in the inbox; the journal's done moves
/// are exactly the folder's messages and none is unfinished.
fn assert_accounted(world: &World, bounces: usize, hams: usize) {
    let census = world.census();
    assert_eq!(census.len(), bounces + hams, "every message is somewhere");
    for (id, places) in &census {
        assert_eq!(places.len(), 1, "{id} exactly once: {places:?}");
        let want = if id.starts_with("<b") { "folder" } else { "inbox" };
        assert_eq!(places[0], want, "{id}");
    }
    let ledger = world.ledger();
    assert_eq!(ledger.unfinished().count(), 0, "every intent settled");
    let mut done: Vec<String> = ledger
        .records()
        .iter()
        .filter(|r| matches!(r.state, State::Done { .. }))
        .map(|r| r.intent.message_id.clone().unwrap_or_default())
        .collect();
    done.sort();
    let mut moved: Vec<String> = census.iter().filter(|(_, p)| p[0] == "folder").map(|(id, _)| id.clone()).collect();
    moved.sort();
    assert_eq!(done, moved, "the journal's done moves are the folder's messages, once each");
    for r in ledger.records() {
        if let State::Done { at: Place::Maildir { path, .. } } = &r.state {
            assert!(path.exists(), "{} is where the journal says", path.display());
        }
    }
}

#[test]
fn sigkill_storms_during_busy_moves_lose_and_duplicate_nothing_and_restore_brings_all_back() {
    let world = World::new("");
    let (bounces, hams) = (1200, 300);
    for i in 0..bounces {
        world.deliver(&format!("{i:05}.b.host"), &bounce(&format!("b{i}")));
    }
    for i in 0..hams {
        world.deliver(&format!("{i:05}.h.host"), &ham(&format!("h{i}")));
    }
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("kill storm seed {seed}");
    let mut random = Lcg(seed);
    let (mut kills, started) = (0, Instant::now());
    // Kill at random points while the watcher's first scan is busy moving.
    while kills < 60 && started.elapsed() < Duration::from_secs(40) {
        let mut watch =
            world.command(&["watch"]).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(40 + random.below(200)));
        watch.kill().unwrap();
        watch.wait().unwrap();
        kills += 1;
    }
    let before = world.ledger();
    let unfinished = before.unfinished().count();
    let done = before.records().iter().filter(|r| matches!(r.state, State::Done { .. })).count();
    // The last run settles what the kills left unfinished and finishes the work.
    let scan = world.scan();
    assert!(scan.status.success(), "{}", String::from_utf8_lossy(&scan.stderr));
    eprintln!("{kills} kills; after them {done} moves done and {unfinished} intents unfinished");
    assert_accounted(&world, bounces, hams);

    let restore = world.output(&["restore", "--all"]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    let census = world.census();
    assert_eq!(census.len(), bounces + hams);
    assert!(census.values().all(|p| p == &["inbox"]), "restore --all brings back every one");
}

/// A tmpfs of `kb` KiB mounted at `dir` (needs root, as CI has); unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, kb: u32) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kb}k,mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .status();
        assert!(status.is_ok_and(|s| s.success()), "mount -t tmpfs failed: this test needs root (package util-linux)");
        Tmpfs(dir.to_path_buf())
    }

    /// Fills it up, leaving about `left` bytes free.
    fn fill(&self, left: u64) -> PathBuf {
        let fill = self.0.join("fill");
        let stat = Command::new("stat").args(["-f", "-c", "%a %S"]).arg(&self.0).output().unwrap();
        let text = String::from_utf8(stat.stdout).unwrap();
        let mut parts = text.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        let (blocks, size) = (parts.next().unwrap(), parts.next().unwrap());
        let free = blocks * size;
        let _ = fs::write(&fill, vec![0u8; free.saturating_sub(left) as usize]);
        fill
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_under_the_journal_moves_nothing_and_says_it_is_the_journal() {
    let world = World::new("");
    let tmpfs = Tmpfs::mount(&world.state(), 64);
    world.deliver("1.b.host", &bounce("b1"));
    world.deliver("2.h.host", &ham("h2"));
    // Room for less than one line: the intent is torn by the full disk.
    let fill = tmpfs.fill(120);
    let scan = world.scan();
    let stderr = String::from_utf8_lossy(&scan.stderr);
    assert_eq!(scan.status.code(), Some(74), "EX_IOERR: {stderr}");
    assert!(stderr.contains("journal") && stderr.contains("nothing was moved"), "{stderr}");
    assert_eq!(world.census().values().filter(|p| p == &&["inbox"]).count(), 2, "nothing moved");

    // `watch` does not move either while the journal cannot be written; it retries later.
    let log = world.dir.path().join("watch.log");
    let mut watch = Daemon::spawn(world.command(&["watch"]).stderr(fs::File::create(&log).unwrap()));
    wait_for("the journal error in the log", Duration::from_secs(10), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("retried later"))
    });
    assert_eq!(world.census().values().filter(|p| p == &&["inbox"]).count(), 2, "nothing moved unjournaled");
    // Space again: the retry moves it, and the torn line does not swallow the next one.
    fs::remove_file(fill).unwrap();
    wait_for("the retried move", Duration::from_secs(15), || {
        world.census().get("<b1@engine.test>") == Some(&vec!["folder"])
    });
    assert_eq!(watch.terminate().code(), Some(0));
    assert_accounted(&world, 1, 1);
    let restore = world.output(&["restore", "--all"]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    assert_eq!(world.census().get("<b1@engine.test>"), Some(&vec!["inbox"]));
    // A message a person restored is never moved again.
    assert!(world.scan().status.success());
    assert_eq!(world.census().get("<b1@engine.test>"), Some(&vec!["inbox"]));
}

#[test]
fn a_full_disk_under_the_maildir_loses_nothing() {
    let world = World::new("");
    let maildir = world.maildir();
    fs::remove_dir_all(&maildir).unwrap();
    let tmpfs = Tmpfs::mount(&maildir, 256);
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    for i in 0..20 {
        world.deliver(&format!("{i:03}.b.host"), &bounce(&format!("b{i}")));
        world.deliver(&format!("{i:03}.h.host"), &ham(&format!("h{i}")));
    }
    let fill = tmpfs.fill(0);
    let scan = world.scan();
    // Creating the folder may or may not find room; either way nothing is lost or half-moved.
    assert!(matches!(scan.status.code(), Some(0 | 74)), "{}", String::from_utf8_lossy(&scan.stderr));
    let census = world.census();
    assert_eq!(census.len(), 40);
    assert!(census.values().all(|p| p.len() == 1));
    assert_eq!(world.ledger().unfinished().count(), 0);
    fs::remove_file(fill).unwrap();
    assert!(world.scan().status.success());
    assert_accounted(&world, 20, 20);
}

#[test]
fn fifos_and_links_in_new_are_left_unread_and_stop_nothing() {
    let world = World::new("");
    let new = world.maildir().join("new");
    assert!(Command::new("mkfifo").arg(new.join("1.fifo.host")).status().unwrap().success());
    std::os::unix::fs::symlink("/dev/zero", new.join("2.zero.host")).unwrap();
    // A link out of the mailbox, to a forged bounce: never followed, never moved.
    let outside = world.dir.path().join("outside.eml");
    let outside_bytes = bounce("outside");
    fs::write(&outside, &outside_bytes).unwrap();
    std::os::unix::fs::symlink(&outside, new.join("3.out.host")).unwrap();
    world.deliver("4.b.host", &bounce("b4"));
    let start = Instant::now();
    let scan = world.scan();
    let stderr = String::from_utf8_lossy(&scan.stderr);
    assert!(scan.status.success(), "{stderr}");
    // Bounded: a FIFO opened without O_NONBLOCK, or /dev/zero read, would never finish.
    assert!(start.elapsed() < Duration::from_secs(60));
    assert!(stderr.contains("1.fifo.host: a FIFO, not a message file"), "{stderr}");
    assert!(stderr.contains("2.zero.host: a symbolic link is not a delivered message"), "{stderr}");
    assert!(stderr.contains("3.out.host: a symbolic link"), "{stderr}");
    assert_eq!(world.census().get("<b4@engine.test>"), Some(&vec!["folder"]));
    for name in ["1.fifo.host", "2.zero.host", "3.out.host"] {
        assert!(fs::symlink_metadata(new.join(name)).is_ok(), "{name} left in place");
    }
    assert_eq!(fs::read(&outside).unwrap(), outside_bytes, "the link's target untouched");

    // watch: the same files, a bounce arriving beside them, and SIGTERM still stops it at once.
    let mut watch = Daemon::spawn(world.command(&["watch"]).stderr(Stdio::null()));
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("mkfifo").arg(new.join("5.fifo.host")).status().unwrap().success());
    world.deliver("6.b.host", &bounce("b6"));
    wait_for("the bounce beside the FIFO moved", Duration::from_secs(5), || {
        world.census().get("<b6@engine.test>") == Some(&vec!["folder"])
    });
    let stopping = Instant::now();
    assert_eq!(watch.terminate().code(), Some(0));
    assert!(stopping.elapsed() < Duration::from_secs(3));
}

/// A config for IMAP `accounts` (name = user, password "secret") on `dovecot`; `top` and
/// `extra` as for [`World::with`].
fn imap_world(dovecot: &Dovecot, accounts: &[&str], top: &str, extra: &str) -> World {
    let mut text = String::new();
    for user in accounts {
        text.push_str(&format!(
            "[[imap]]\nname = \"{user}\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"{user}\"\npassword_command = [\"echo\", \"secret\"]\n",
            dovecot.port
        ));
    }
    let world = World::with(top, &format!("{extra}\n{text}"));
    // IMAP only: no Maildir of our own.
    let config = world.dir.path().join("config.toml");
    let without = fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("[[maildir]]\npath = \"{}\"\n", world.maildir().display()), "");
    fs::write(&config, without).unwrap();
    world
}

fn add_user(dovecot: &Dovecot, user: &str) -> PathBuf {
    let passwd = dovecot.dir.path().join("dovecot/passwd");
    let mut all = fs::read_to_string(&passwd).unwrap();
    all.push_str(&format!("{user}:{{PLAIN}}secret\n"));
    fs::write(&passwd, all).unwrap();
    dovecot.dir.path().join("dovecot/home").join(user).join("Maildir")
}

/// Delivers into a Dovecot Maildir as an MDA does (owned by Dovecot's `nobody`).
fn deliver_to(maildir: &Path, name: &str, message: &[u8]) {
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let tmp = maildir.join("tmp").join(name);
    fs::write(&tmp, message).unwrap();
    fs::rename(&tmp, maildir.join("new").join(name)).unwrap();
    let _ = Command::new("chown").args(["-R", "nobody:nogroup"]).arg(maildir.parent().unwrap()).status();
}

/// Message-IDs of the messages in a Dovecot Maildir folder (`""` for INBOX).
fn ids_in(maildir: &Path, folder: &str) -> Vec<String> {
    let dir = if folder.is_empty() { maildir.to_path_buf() } else { maildir.join(format!(".{folder}")) };
    let mut ids: Vec<String> = ["cur", "new"]
        .iter()
        .filter_map(|sub| fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .filter_map(|e| fs::read(e.ok()?.path()).ok())
        .filter_map(|b| message_id(&b))
        .collect();
    ids.sort();
    ids
}

#[test]
fn a_corrupt_imap_state_is_set_aside_and_the_healthy_account_goes_on() {
    let dovecot = Dovecot::start(&[]);
    let bob = add_user(&dovecot, "bob");
    let alice = dovecot.maildir();
    let world = imap_world(&dovecot, &["alice", "bob"], "", "");
    let state = world.state().join("imap");
    fs::create_dir_all(&state).unwrap();
    fs::write(state.join("alice.json"), "{not json").unwrap();
    deliver_to(&alice, "1.before", &bounce("b-alice-before"));
    let log = world.dir.path().join("watch.log");
    let mut watch = Daemon::spawn(world.command(&["-v", "watch"]).stderr(fs::File::create(&log).unwrap()));
    wait_for("both accounts watching", Duration::from_secs(15), || {
        fs::read_to_string(&log).is_ok_and(|l| l.matches("IMAP: watching").count() >= 2)
    });
    deliver_to(&bob, "2.bob", &bounce("b-bob"));
    deliver_to(&alice, "3.after", &bounce("b-alice-after"));
    wait_for("every bounce moved", Duration::from_secs(15), || {
        ids_in(&alice, "Backscatter").len() == 2 && ids_in(&bob, "Backscatter").len() == 1
    });
    assert_eq!(watch.terminate().code(), Some(0));
    // The broken file is kept for a person to look at; alice was rescanned from the start.
    assert_eq!(fs::read_to_string(state.join("alice.json.corrupt")).unwrap(), "{not json");
    let log = fs::read_to_string(&log).unwrap();
    assert!(log.lines().any(|l| l.contains("ERROR") && l.contains("IMAP state unreadable")), "{log}");
    assert!(ids_in(&alice, "").is_empty() && ids_in(&bob, "").is_empty());
}

#[test]
fn a_kill_between_copy_and_expunge_is_finished_without_two_copies() {
    // No MOVE: the UIDPLUS fallback (COPY, STORE \Deleted, UID EXPUNGE).
    let dovecot = Dovecot::start(&[("EXTRA", "imap_capability = IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS")]);
    let alice = dovecot.maildir();
    deliver_to(&alice, "1.forged", &bounce("b-copied"));
    deliver_to(&alice, "2.ham", &ham("h-stays"));
    let world = imap_world(&dovecot, &["alice"], "", "");
    // Learn the UIDs (and that nothing moves on a dry run).
    let dry = world.output(&["scan", "--imap", "alice", "--dry-run", "--json"]);
    assert!(dry.status.success(), "{}", String::from_utf8_lossy(&dry.stderr));
    let uidlist = fs::read_to_string(alice.join("dovecot-uidlist")).unwrap();
    let validity: u32 = uidlist.split_whitespace().find_map(|w| w.strip_prefix('V')?.parse().ok()).unwrap();
    let uid: u32 = uidlist
        .lines()
        .skip(1)
        .find(|l| l.contains("1.forged"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap();
    // The state a kill right after `UID COPY` leaves: the intent journaled, a copy in the folder,
    // the original still in INBOX.
    let folder = alice.join(".Backscatter");
    deliver_to(&folder, "copy.forged", &bounce("b-copied"));
    fs::write(folder.join("maildirfolder"), "").unwrap();
    fs::create_dir_all(world.state()).unwrap();
    let intent = serde_json::json!({
        "op": "intent", "id": "0-00000001", "time": "2026-01-01T00:00:00Z",
        "from": {"store": "imap", "account": "alice", "mailbox": "INBOX", "uid_validity": validity, "uid": uid},
        "to": {"store": "imap", "account": "alice", "mailbox": "Backscatter"},
        "message_id": "<b-copied@engine.test>", "kind": "ndr", "verdict": "backscatter", "why": "no carrier"
    });
    fs::write(world.state().join(journal::FILE_NAME), format!("{intent}\n")).unwrap();
    assert_eq!(ids_in(&alice, "Backscatter"), ["<b-copied@engine.test>"]);
    assert_eq!(ids_in(&alice, ""), ["<b-copied@engine.test>", "<h-stays@engine.test>"], "two copies now");

    let scan = world.output(&["scan", "--imap", "alice"]);
    assert!(scan.status.success(), "{}", String::from_utf8_lossy(&scan.stderr));
    assert_eq!(ids_in(&alice, "Backscatter"), ["<b-copied@engine.test>"], "one copy, in the folder");
    assert_eq!(ids_in(&alice, ""), ["<h-stays@engine.test>"]);
    let ledger = world.ledger();
    assert_eq!(ledger.unfinished().count(), 0);
    assert!(matches!(ledger.records()[0].state, State::Done { .. }), "{:?}", ledger.records());
    // And restore can undo it.
    let restore = world.output(&["restore", "--all"]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    assert_eq!(ids_in(&alice, ""), ["<b-copied@engine.test>", "<h-stays@engine.test>"]);
}

/// `example.test` allows 192.0.2.0/24 (dnsmasq.sh); `mail.test` passes its own address.
const ZONE: &[&str] = &["--local-ttl=300", "--txt-record=mail.test,v=spf1 ip4:192.0.2.0/24 -all"];

fn spf_config(dns: &Dns) -> String {
    format!("[spf]\nenabled = true\ndns = \"127.0.0.1:{}\"\ntrusted_receivers = [\"mx.example.org\"]\n", dns.port)
}

#[test]
fn spf_runs_on_imap_messages_and_in_check_through_the_one_pipeline() {
    let dns = Dns::start(ZONE);
    let dovecot = Dovecot::start(&[]);
    let date = now_date();
    let failing = format!(
        "Return-Path: <ann@example.test>\r\nReceived: from spam.test (unknown [203.0.113.9]) by mx.example.org (Postfix) with ESMTP id 1; {date}\r\n\
         From: ann@example.test\r\nTo: bob@example.org\r\nSubject: hi\r\nMessage-ID: <h-spf@engine.test>\r\n\r\nhello\r\n"
    );
    deliver_to(&dovecot.maildir(), "1.spf", failing.as_bytes());
    let world = imap_world(&dovecot, &["alice"], "protected_domains = [\"example.test\"]", &spf_config(&dns));
    let scan = world.output(&["scan", "--imap", "alice", "--dry-run", "--json"]);
    assert!(scan.status.success(), "{}", String::from_utf8_lossy(&scan.stderr));
    let line: serde_json::Value = serde_json::from_slice(scan.stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["spf"]["result"], "fail", "{line}");
    assert_eq!(line["spf"]["ip"], "203.0.113.9");

    // check: a forged bounce's why names its origin's SPF result.
    let file = world.dir.path().join("bounce.eml");
    fs::write(&file, support::forged_bounce(&date)).unwrap();
    let check = world.output(&["-v", "check", &file.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(0), "backscatter: {stderr}");
    assert!(stderr.contains("original sent from 203.0.113.9, not allowed by example.test's SPF"), "{stderr}");
}

#[test]
fn a_mailbox_that_cannot_work_ends_watch_naming_it_and_nothing_stops_silently() {
    // A CA file with no certificate in it: no retry can make that right. (The listener only
    // accepts the TCP connection, in its backlog.)
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    fs::write(&ca, "not a certificate\n").unwrap();
    let world = World::new(&format!(
        "[[imap]]\nname = \"broken\"\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"implicit\"\nca_file = {ca:?}\nusername = \"u\"\npassword_command = [\"echo\", \"x\"]\n"
    ));
    let start = Instant::now();
    let out = world.output(&["watch"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "EX_CONFIG: {stderr}");
    assert!(stderr.contains("imap:broken/INBOX") && stderr.contains("no certificate"), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// `GET path` over plain HTTP/1.1 on loopback: (status line, body).
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or_default().to_owned(), body.to_owned())
}

#[test]
fn metrics_are_served_after_a_real_move() {
    let port = support::free_port();
    let world = World::with(&format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"), "");
    let log = world.dir.path().join("watch.log");
    let mut watch = Daemon::spawn(world.command(&["-v", "watch"]).stderr(fs::File::create(&log).unwrap()));
    wait_for("serving /metrics", Duration::from_secs(10), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("serving /metrics"))
    });
    world.deliver("1.b.host", &bounce("b1"));
    world.deliver("2.h.host", &ham("h2"));
    wait_for("the move", Duration::from_secs(10), || world.census().get("<b1@engine.test>") == Some(&vec!["folder"]));
    wait_for("both messages judged", Duration::from_secs(10), || {
        http_get(port, "/metrics").1.contains("backscatter_judge_seconds_count 2")
    });
    let (status, body) = http_get(port, "/metrics");
    assert!(status.contains("200"), "{status}");
    for want in [
        "backscatter_moves_total{store=\"maildir\"} 1",
        "backscatter_messages_total{kind=\"ndr\",verdict=\"backscatter\"} 1",
        "backscatter_messages_total{kind=\"ordinary\",verdict=\"ordinary\"} 1",
        "backscatter_journal_errors_total 0",
        "backscatter_inotify_overflows_total 0",
        "backscatter_judge_seconds_count 2",
    ] {
        assert!(body.contains(want), "{want} in:\n{body}");
    }
    assert!(http_get(port, "/nope").0.contains("404"));
    // The stats page, live: the move just made is on it.
    let (status, page) = http_get(port, "/");
    assert!(status.contains("200") && page.contains("<svg"), "{status}");
    assert_eq!(watch.terminate().code(), Some(0));
}

#[test]
fn sighup_picks_up_a_new_mailbox_and_a_rotated_key() {
    use backscatter::sign::header;
    let world = World::new("");
    let log = world.dir.path().join("watch.log");
    let mut watch = Daemon::spawn(world.command(&["-v", "watch"]).stderr(fs::File::create(&log).unwrap()));
    wait_for("watch to start", Duration::from_secs(10), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("watch started"))
    });
    // A second Maildir, and a key rotated while watch runs.
    let second = world.dir.path().join("Second");
    for sub in ["cur", "new", "tmp"] {
        fs::create_dir_all(second.join(sub)).unwrap();
    }
    let config = world.dir.path().join("config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[[maildir]]\npath = \"{}\"\n", second.display()));
    fs::write(&config, text).unwrap();
    let rotate = world.output(&["keys", "rotate"]);
    assert!(rotate.status.success(), "{}", String::from_utf8_lossy(&rotate.stderr));
    let keyring = Keyring::load(&world.dir.path().join("keyring.toml")).unwrap();
    let key = keyring.signing_key().unwrap().as_key();
    let sig = header::make(&key, today(), 7);
    let signed = String::from_utf8(bounce("b-signed")).unwrap().replacen(
        "Content-Type: message/rfc822\r\n\r\n",
        &format!("Content-Type: message/rfc822\r\n\r\nX-Backscatter-Sig: {sig}\r\n"),
        1,
    );

    assert!(Command::new("kill").args(["-HUP", &watch.0.id().to_string()]).status().unwrap().success());
    wait_for("the reload", Duration::from_secs(10), || {
        fs::read_to_string(&log).is_ok_and(|l| l.matches("watch started").count() >= 2)
    });
    // The new mailbox is watched; the new key verifies at once.
    let tmp = second.join("tmp/1.b.host");
    fs::write(&tmp, bounce("b-second")).unwrap();
    fs::rename(&tmp, second.join("new/1.b.host")).unwrap();
    world.deliver("2.signed.host", signed.as_bytes());
    wait_for("the new mailbox's bounce moved", Duration::from_secs(10), || {
        fs::read_dir(second.join(".Backscatter/cur")).is_ok_and(|d| d.count() == 1)
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        world.census().get("<b-signed@engine.test>"),
        Some(&vec!["inbox"]),
        "signed with the rotated key: genuine"
    );
    assert_eq!(watch.terminate().code(), Some(0));
}

#[test]
fn scan_draws_a_progress_bar_on_a_terminal_and_never_when_piped_or_with_json() {
    let world = World::new("");
    for i in 0..300 {
        world.deliver(&format!("{i:05}.h.host"), &ham(&format!("h{i}")));
    }
    let config = world.dir.path().join("config.toml");
    let maildir = world.maildir();
    let command = |json: &str| {
        format!(
            "{} -c {} scan --dry-run {json} {}",
            env!("CARGO_BIN_EXE_backscatter"),
            config.display(),
            maildir.display()
        )
    };
    // `script` gives the command a terminal (util-linux).
    let on_terminal = |json: &str| {
        let out =
            Command::new("script").args(["-qec", &command(json), "/dev/null"]).stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = on_terminal("");
    assert!(shown.contains("] 0/300") || shown.contains("/300"), "a bar on a terminal: {shown:?}");
    assert!(shown.contains('#'), "{shown:?}");
    assert!(!on_terminal("--json").contains("/300"), "never with --json");
    let piped = world.output(&["scan", "--dry-run", &maildir.to_string_lossy()]);
    assert!(!String::from_utf8_lossy(&piped.stderr).contains("/300"), "never when piped");
}
