//! The Sent folder as evidence (issue 12), with the real binary on temp Maildirs and against a
//! real Dovecot with a `\Sent` mailbox: real corpus bounces whose originals are in Sent stay,
//! the others move at once (a keyring made today, or none at all); auto-replies through
//! In-Reply-To; a Sent that starts too late leaves it to the carriers; a recipient the sent
//! message never had proves nothing; mail sent while `watch` runs counts; a new UIDVALIDITY of
//! Sent rebuilds the index.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use backscatter::classify::Classification;
use backscatter::config::Imap;
use backscatter::day::Day;
use backscatter::evidence::file;
use backscatter::evidence::imap::ImapSent;
use backscatter::evidence::index::Record;
use backscatter::keys::Keyring;
use backscatter::message::Message;
use support::{wait_for, Daemon, Dovecot};

/// Reads `bytes` once, as the pipeline does, and classifies them.
fn classify(bytes: &[u8]) -> Classification {
    backscatter::classify::classify(&Message::parse(bytes))
}

/// Real bounces (Sisimai's corpus) whose returned original names the failed recipient.
const KEPT: [&str; 3] = ["lhost-courier-02.eml", "lhost-messagingserver-04.eml", "lhost-office365-05.eml"];
const MOVED: [&str; 3] = ["lhost-exim-49.eml", "lhost-postfix-04.eml", "lhost-outlook-07.eml"];
const AUTOREPLY: &str = "tests/fixtures/autoreply/001.eml";

/// A message sent long before any of the corpus: Sent covers 2009 on.
const OLD_SENT: &str =
    "Message-ID: <old@example.org>\nDate: Thu, 1 Jan 2009 10:00:00 +0000\nTo: x@example.net\nSubject: old\n\nhi\n";

fn corpus(name: &str) -> Vec<u8> {
    fs::read(Path::new("tests/corpus/sisimai/maildir/bsd").join(name)).unwrap()
}

/// The header block a bounce returned: the original as it was sent.
fn original_of(bounce: &[u8]) -> Vec<u8> {
    let mut head = classify(bounce).original.expect("a returned original").headers;
    head.extend_from_slice(b"\n\nthe body\n");
    head
}

fn message_id_of(bounce: &[u8]) -> String {
    classify(bounce).original.and_then(|o| o.message_id).expect("the original's Message-ID")
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn today() -> Day {
    Day::from_unix_seconds(now())
}

/// Now as an RFC 5322 date.
fn date_now() -> String {
    let secs = now();
    let day = Day::from_unix_seconds(secs);
    let (y, m, d) = day.ymd();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m as usize - 1];
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][day.0.rem_euclid(7) as usize];
    let t = secs.rem_euclid(86_400);
    format!("{weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} +0000", t / 3600, t / 60 % 60, t % 60)
}

/// Writes `bytes` into the Maildir folder `dir` as an MDA would: tmp/, then rename into `sub`.
fn put(dir: &Path, sub: &str, name: &str, bytes: &[u8]) {
    for s in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(s)).unwrap();
    }
    fs::write(dir.join("tmp").join(name), bytes).unwrap();
    fs::rename(dir.join("tmp").join(name), dir.join(sub).join(name)).unwrap();
}

/// The names of the messages in a Maildir folder's `new/` and `cur/` (flags cut off).
fn names(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = ["new", "cur"]
        .iter()
        .filter_map(|sub| fs::read_dir(dir.join(sub)).ok())
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().split(':').next().unwrap_or_default().to_owned())
        .collect();
    found.sort();
    found
}

/// A temp dir with a Maildir, a config, a state dir and (optionally) a keyring.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    /// `key_created`: the keyring's first key's day; `None`: no keyring at all.
    fn new(key_created: Option<Day>, extra: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.path().join("Maildir").join(sub)).unwrap();
        }
        if let Some(day) = key_created {
            let secret = "integration-test-secret-of-43-characters-xx".to_owned();
            Keyring::new(&dir.path().join("keyring.toml"), day, secret).create().unwrap();
        }
        let config = format!(
            "keyring = \"{0}/keyring.toml\"\nstate_dir = \"{0}/state\"\n[[maildir]]\npath = \"{0}/Maildir\"\n{extra}",
            dir.path().display()
        );
        fs::write(dir.path().join("config.toml"), config).unwrap();
        World { dir }
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    fn sent(&self) -> PathBuf {
        self.maildir().join(".Sent")
    }

    fn command(&self, args: &[&str]) -> Command {
        support::backscatter(&self.dir.path().join("config.toml"), args)
    }

    fn run(&self, args: &[&str]) -> Output {
        support::backscatter_ok(&self.dir.path().join("config.toml"), args)
    }

    /// The corpus bounces into INBOX, the originals of [`KEPT`] into `.Sent` (with an old
    /// message that makes Sent cover their dates).
    fn corpus_case(&self) {
        put(&self.sent(), "cur", "0.old:2,S", OLD_SENT.as_bytes());
        for name in KEPT {
            put(&self.sent(), "cur", &format!("sent-{name}:2,S"), &original_of(&corpus(name)));
        }
        for name in KEPT.iter().chain(&MOVED) {
            put(&self.maildir(), "new", name, &corpus(name));
        }
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[test]
fn bounces_of_mail_in_sent_stay_and_the_others_move_at_once_with_a_new_keyring_or_none() {
    for key in [Some(today()), None] {
        let world = World::new(key, "");
        world.corpus_case();
        let out = stdout(&world.run(&["scan", world.maildir().to_str().unwrap()]));
        assert_eq!(names(&world.maildir()), sorted(&KEPT), "{key:?}: {out}");
        assert_eq!(names(&world.maildir().join(".Backscatter")), sorted(&MOVED), "{key:?}: {out}");
        for name in MOVED {
            let id = message_id_of(&corpus(name));
            let line = out.lines().find(|l| l.contains(name)).unwrap_or_default();
            assert!(line.starts_with("moved"), "{line}");
            assert!(
                line.contains(&format!("{id} is not in Sent, which holds what you sent since 2009-01-01")),
                "{line}"
            );
        }
        for name in KEPT {
            let line = out.lines().find(|l| l.contains(name)).unwrap_or_default();
            assert!(line.contains("genuine") && line.contains("is in Sent, sent"), "{line}");
        }
    }
}

#[test]
fn auto_replies_are_matched_through_in_reply_to() {
    let world = World::new(None, "");
    let reply = fs::read(AUTOREPLY).unwrap();
    let id = classify(&reply).original.and_then(|o| o.message_id).unwrap();
    let sent = format!("Message-ID: {id}\nDate: Tue, 17 Dec 2019 02:50:00 +0000\nTo: kijitora@me.com\n\nhi\n");
    put(&world.sent(), "cur", "0.old:2,S", OLD_SENT.as_bytes());
    put(&world.sent(), "cur", "1.reply:2,S", sent.as_bytes());
    put(&world.maildir(), "new", "ours", &reply);
    let text = String::from_utf8_lossy(&reply);
    let forged = text.replace(&id, "<not-ours@libsisimai.org>");
    put(&world.maildir(), "new", "theirs", forged.as_bytes());
    let out = stdout(&world.run(&["scan", world.maildir().to_str().unwrap()]));
    assert_eq!(names(&world.maildir()), ["ours"], "{out}");
    assert_eq!(names(&world.maildir().join(".Backscatter")), ["theirs"], "{out}");
    assert!(out.contains(&format!("the message replied to {id} is in Sent")), "{out}");
}

#[test]
fn a_sent_folder_that_starts_after_the_original_leaves_it_to_the_carriers() {
    // Sent holds only this year's mail; the corpus bounces are about mail from 2010–2018.
    let recent = format!("Message-ID: <recent@example.org>\nDate: {}\nTo: x@example.net\n\nhi\n", date_now());
    // A keyring made today: the carriers' grace period keeps everything.
    let world = World::new(Some(today()), "");
    put(&world.sent(), "cur", "0.recent:2,S", recent.as_bytes());
    for name in MOVED {
        put(&world.maildir(), "new", name, &corpus(name));
    }
    let out = stdout(&world.run(&["scan", world.maildir().to_str().unwrap()]));
    assert_eq!(names(&world.maildir()), sorted(&MOVED), "{out}");
    assert!(out.lines().filter(|l| l.starts_with("would-move")).all(|l| l.contains("but Sent starts on")), "{out}");
    // A keyring older than the grace period, bounces arriving today: the carriers move them.
    let world = World::new(Some(Day(today().0 - 60)), "");
    put(&world.sent(), "cur", "0.recent:2,S", recent.as_bytes());
    for name in MOVED {
        let mut arriving = format!("Received: from mx.example.net by mail.example.com; {}\n", date_now()).into_bytes();
        arriving.extend_from_slice(&corpus(name));
        put(&world.maildir(), "new", name, &arriving);
    }
    let out = stdout(&world.run(&["scan", world.maildir().to_str().unwrap()]));
    assert_eq!(names(&world.maildir().join(".Backscatter")), sorted(&MOVED), "{out}");
    assert!(out.contains("no carrier") && out.contains("but Sent starts on"), "{out}");
}

#[test]
fn a_bounce_naming_a_recipient_the_sent_message_never_had_is_not_made_genuine() {
    let world = World::new(None, "");
    let name = KEPT[0];
    let bounce = corpus(name);
    let id = message_id_of(&bounce);
    let sent = format!("Message-ID: {id}\nDate: Fri, 10 Dec 2010 13:21:19 +0900\nTo: someone-else@example.net\n\nhi\n");
    put(&world.sent(), "cur", "0.old:2,S", OLD_SENT.as_bytes());
    put(&world.sent(), "cur", "1.other:2,S", sent.as_bytes());
    put(&world.maildir(), "new", name, &bounce);
    let out = stdout(&world.run(&["scan", world.maildir().to_str().unwrap()]));
    let line = out.lines().find(|l| l.contains(name)).unwrap_or_default();
    assert!(line.starts_with("would-move") && line.contains("backscatter"), "{out}");
    assert!(line.contains(&format!("{id} is in Sent, but not to kijitora@example.jp")), "{line}");
}

#[test]
fn sent_can_be_named_or_turned_off_in_the_config() {
    let world = World::new(None, "sent = []\n");
    world.corpus_case();
    let out = stdout(&world.run(&["scan", world.maildir().to_str().unwrap()]));
    assert!(names(&world.maildir().join(".Backscatter")).is_empty(), "sent = [] is no evidence: {out}");
    let world = World::new(None, "sent = [\".Outbox\"]\n");
    world.corpus_case();
    fs::rename(world.sent(), world.maildir().join(".Outbox")).unwrap();
    world.run(&["scan", world.maildir().to_str().unwrap()]);
    assert_eq!(names(&world.maildir().join(".Backscatter")), sorted(&MOVED));
}

/// A bounce about a message sent now from us (`id`) to nobody@victim.test, arriving now.
fn fresh_bounce(id: &str) -> String {
    let date = date_now();
    support::forged_bounce(&date).replace("<x@spam.example>", id)
}

#[test]
fn a_message_sent_while_watch_runs_counts() {
    let world = World::new(None, "");
    put(&world.sent(), "cur", "0.old:2,S", OLD_SENT.as_bytes());
    let log = world.dir.path().join("watch.log");
    let mut watch =
        Daemon::spawn(world.command(&["-v", "watch"]).stdout(Stdio::null()).stderr(fs::File::create(&log).unwrap()));
    // Sent after watch started, then bounced; and a bounce about mail we never sent.
    let sent = format!("Message-ID: <now@example.test>\nDate: {}\nTo: nobody@victim.test\n\nhi\n", date_now());
    put(&world.sent(), "new", "1.now", sent.as_bytes());
    put(&world.maildir(), "new", "1-ours", fresh_bounce("<now@example.test>").as_bytes());
    put(&world.maildir(), "new", "2-theirs", fresh_bounce("<never@example.test>").as_bytes());
    wait_for("the forged bounce moved", Duration::from_secs(20), || {
        names(&world.maildir().join(".Backscatter")) == ["2-theirs"]
    });
    wait_for("the genuine bounce judged", Duration::from_secs(20), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("<now@example.test> is in Sent"))
    });
    watch.terminate();
    assert_eq!(names(&world.maildir()), ["1-ours"]);
}

fn account(dovecot: &Dovecot) -> Imap {
    dovecot.account("alice", "alice")
}

/// Dovecot with a mailbox `Sent` marked `\Sent` (RFC 6154), stored as `.Sent`.
fn dovecot_with_sent() -> Dovecot {
    let extra = "namespace inbox {\n inbox = yes\n mailbox Sent {\n special_use = \\Sent\n auto = create\n }\n}\n";
    Dovecot::start(&[("EXTRA", extra)])
}

/// Puts `bytes` into a folder of Dovecot's Maildir as an MDA would, owned as Dovecot's mail
/// processes need it (the file is given its owner in `tmp/`, where Dovecot never touches it).
fn put_served(dovecot: &Dovecot, folder: &str, sub: &str, name: &str, bytes: &[u8]) {
    let dir = if folder.is_empty() { dovecot.maildir() } else { dovecot.maildir().join(folder) };
    let tmp = dir.join("tmp").join(name);
    let mut owned = vec![dir.clone()];
    for s in ["cur", "new", "tmp"] {
        fs::create_dir_all(dir.join(s)).unwrap();
        owned.push(dir.join(s));
    }
    fs::write(&tmp, bytes).unwrap();
    owned.push(tmp.clone());
    let status = Command::new("chown").arg("--reference").arg(dovecot.maildir()).args(&owned).status();
    assert!(status.unwrap().success(), "chown {owned:?}");
    fs::rename(&tmp, dir.join(sub).join(name)).unwrap();
}

/// A config in `dir` with the Dovecot account `alice` and no keyring; returns its path.
fn imap_config(dir: &Path, dovecot: &Dovecot) -> PathBuf {
    let config = format!(
        "state_dir = \"{0}/state\"\nkeyring = \"{0}/none.toml\"\n[[imap]]\nname = \"alice\"\nhost = \"127.0.0.1\"\nport = {1}\ntls = \"none\"\nusername = \"alice\"\npassword = \"secret\"\n",
        dir.display(),
        dovecot.port
    );
    fs::write(dir.join("config.toml"), config).unwrap();
    dir.join("config.toml")
}

#[test]
fn imap_scan_keeps_bounces_of_mail_in_sent_and_moves_the_rest() {
    let dovecot = dovecot_with_sent();
    put_served(&dovecot, ".Sent", "cur", "0.old:2,S", OLD_SENT.as_bytes());
    for name in KEPT {
        put_served(&dovecot, ".Sent", "cur", &format!("sent-{name}:2,S"), &original_of(&corpus(name)));
    }
    for name in KEPT.iter().chain(&MOVED) {
        put_served(&dovecot, "", "new", name, &corpus(name));
    }
    let dir = tempfile::tempdir().unwrap();
    let config = imap_config(dir.path(), &dovecot);
    let mut scan = Command::new(env!("CARGO_BIN_EXE_backscatter"));
    let output = scan.arg("-c").arg(config).args(["scan", "--imap", "alice"]).output().unwrap();
    let text = format!("{}{}", stdout(&output), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    let ids = |folder: &Path| -> Vec<String> {
        let mut found: Vec<String> = ["new", "cur"]
            .iter()
            .filter_map(|sub| fs::read_dir(folder.join(sub)).ok())
            .flatten()
            .flatten()
            .map(|e| message_id_of(&fs::read(e.path()).unwrap()))
            .collect();
        found.sort();
        found
    };
    let expect = |list: &[&str]| {
        let mut v: Vec<String> = list.iter().map(|n| message_id_of(&corpus(n))).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&dovecot.maildir()), expect(&KEPT), "{text}");
    assert_eq!(ids(&dovecot.maildir().join(".Backscatter")), expect(&MOVED), "{text}");
    assert!(file::path(&dir.path().join("state"), "imap-alice").is_file());
}

#[test]
fn a_new_uidvalidity_of_sent_rebuilds_the_index() {
    let dovecot = dovecot_with_sent();
    put_served(&dovecot, ".Sent", "cur", "0.old:2,S", OLD_SENT.as_bytes());
    put_served(&dovecot, ".Sent", "cur", "1.kept:2,S", &original_of(&corpus(KEPT[0])));
    let state = tempfile::tempdir().unwrap();
    let account = account(&dovecot);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut sent = ImapSent::open(&account, state.path()).unwrap();
    assert_eq!(runtime.block_on(sent.refresh(now())).unwrap(), 2);
    assert_eq!(runtime.block_on(sent.refresh(now())).unwrap(), 0, "incremental: nothing new");
    // The state claims another UIDVALIDITY, a message that is not there and every UID seen.
    let path = file::path(state.path(), "imap-alice");
    let mut stored = file::load_any(&path).unwrap();
    assert_ne!(stored.cursor.uid_validity, 0);
    stored.cursor.uid_validity = stored.cursor.uid_validity.wrapping_add(1);
    stored.cursor.last_uid = 1000;
    let stale = "Message-ID: <stale@example.org>\nDate: Thu, 1 Jan 2015 10:00:00 +0000\n\n";
    stored.index.insert(Record::from_header(stale.as_bytes(), 0));
    file::save(&path, &stored).unwrap();
    let mut sent = ImapSent::open(&account, state.path()).unwrap();
    assert_eq!(runtime.block_on(sent.refresh(now())).unwrap(), 2, "rebuilt from UID 1");
    assert!(sent.index().get("<stale@example.org>").is_none());
    assert!(sent.index().get(&message_id_of(&corpus(KEPT[0]))).is_some());
    assert_eq!(sent.index().len(), 2);
}

/// A bounce about `id` (sent to nobody@victim.test) delivered into Dovecot's INBOX as `name`.
fn deliver_bounce(dovecot: &Dovecot, name: &str, id: &str) {
    put_served(dovecot, "", "new", name, fresh_bounce(id).as_bytes());
}

#[test]
fn imap_watch_counts_a_message_sent_while_it_runs() {
    let dovecot = dovecot_with_sent();
    put_served(&dovecot, ".Sent", "cur", "0.old:2,S", OLD_SENT.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let config = imap_config(dir.path(), &dovecot);
    let log = dir.path().join("watch.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_backscatter"));
    command.arg("-c").arg(&config).args(["-v", "watch"]).stdout(Stdio::null());
    let mut watch = Daemon::spawn(command.stderr(fs::File::create(&log).unwrap()));
    let watching = dir.path().join("state/imap/alice.json");
    wait_for("the watcher to record its state", Duration::from_secs(20), || watching.exists());
    let moved = |id: &str| -> bool {
        ["new", "cur"]
            .iter()
            .filter_map(|sub| fs::read_dir(dovecot.maildir().join(".Backscatter").join(sub)).ok())
            .flatten()
            .flatten()
            .any(|e| fs::read_to_string(e.path()).is_ok_and(|t| t.contains(id)))
    };
    // The first bounce makes the watcher read Sent; then a message is sent and bounces.
    deliver_bounce(&dovecot, "1-theirs", "<never-1@example.test>");
    wait_for("the first forged bounce moved", Duration::from_secs(20), || moved("<never-1@example.test>"));
    let now_sent = format!("Message-ID: <now@example.test>\nDate: {}\nTo: nobody@victim.test\n\nhi\n", date_now());
    put_served(&dovecot, ".Sent", "new", "1.now", now_sent.as_bytes());
    deliver_bounce(&dovecot, "2-ours", "<now@example.test>");
    deliver_bounce(&dovecot, "3-theirs", "<never-2@example.test>");
    wait_for("the second forged bounce moved", Duration::from_secs(20), || moved("<never-2@example.test>"));
    wait_for("the genuine bounce judged", Duration::from_secs(20), || {
        fs::read_to_string(&log).is_ok_and(|l| l.contains("<now@example.test> is in Sent"))
    });
    watch.terminate();
    assert!(!moved("<now@example.test>"), "the bounce of the message sent meanwhile stays");
}
