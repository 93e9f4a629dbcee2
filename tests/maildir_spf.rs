//! The SPF step of `scan` and `watch` on temp Maildirs, against a real DNS server (dnsmasq on
//! loopback): results in the JSON, the log and the journal — delivered mail is never rewritten —
//! `fail_action = "move"`, the origin of a forged bounce in its why, and the cache snapshot of a
//! running watcher.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use support::{Daemon, Dns};

/// `example.test` (from dnsmasq.sh) allows 192.0.2.0/24 and fails the rest; `mail.test`, the
/// HELO name of the genuine senders, passes its own address. A TTL, so that answers are cached.
const ZONE: &[&str] = &["--local-ttl=300", "--txt-record=mail.test,v=spf1 ip4:192.0.2.0/24 -all"];

/// A temp dir with a Maildir, a keyring, a config with `[spf]` on and a state dir.
struct World {
    dir: tempfile::TempDir,
}

impl World {
    fn new(dns: &Dns, spf: &str) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.path().join("Maildir").join(sub)).expect("mkdir");
        }
        let config = format!(
            "keyring = \"{0}/keyring.toml\"\nstate_dir = \"{0}/state\"\nprotected_domains = [\"example.test\"]\n\
             [policy]\nmode = \"enforce\"\ngrace_days = 0\n[[maildir]]\npath = \"{0}/Maildir\"\n\
             [spf]\nenabled = true\ndns = \"127.0.0.1:{1}\"\ntrusted_receivers = [\"mx.example.org\"]\n{spf}",
            dir.path().display(),
            dns.port
        );
        fs::write(dir.path().join("config.toml"), config).expect("config");
        let world = World { dir };
        world.run(&["keys", "init"]);
        world
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    fn command(&self, args: &[&str]) -> Command {
        support::backscatter(&self.dir.path().join("config.toml"), args)
    }

    fn run(&self, args: &[&str]) -> Output {
        support::backscatter_ok(&self.dir.path().join("config.toml"), args)
    }

    /// `scan --json` (with `extra` arguments): one object per message, by file name.
    fn scan(&self, extra: &[&str]) -> Vec<(String, serde_json::Value)> {
        let maildir = self.maildir().to_string_lossy().into_owned();
        let mut args = vec!["scan", "--json"];
        args.extend_from_slice(extra);
        args.push(&maildir);
        let out = String::from_utf8(self.run(&args).stdout).expect("utf-8");
        out.lines()
            .map(|line| {
                let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
                let path = v["path"].as_str().unwrap_or_default();
                let name = Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                (name, v)
            })
            .collect()
    }

    /// Delivers `message` into `new/` as an MDA would (tmp/ then rename).
    fn deliver(&self, name: &str, message: &str) -> PathBuf {
        let tmp = self.maildir().join("tmp").join(name);
        fs::write(&tmp, message).expect("write");
        let new = self.maildir().join("new").join(name);
        fs::rename(&tmp, &new).expect("rename");
        new
    }

    /// Every file below the Maildir, by path relative to it, with its bytes.
    fn files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        walk(&self.maildir(), &self.maildir(), &mut files);
        files.sort();
        files
    }

    /// The bytes of the one file named `name*` anywhere below the Maildir, and where it is.
    fn find(&self, name: &str) -> (String, String) {
        let found: Vec<_> = self.files().into_iter().filter(|(path, _)| file_name(path).starts_with(name)).collect();
        assert_eq!(found.len(), 1, "{name}: {:?}", found.iter().map(|f| &f.0).collect::<Vec<_>>());
        let (path, bytes) = found.into_iter().next().expect("one");
        (path, String::from_utf8(bytes).expect("utf-8"))
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    for entry in fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files);
        } else if let Ok(rel) = path.strip_prefix(root) {
            files.push((rel.to_string_lossy().into_owned(), fs::read(&path).expect("read")));
        }
    }
}

use support::now_date;

/// An ordinary message as our border MTA (Postfix on `by`) delivered it.
fn delivered(by: &str, client: &str, helo: &str, sender: &str) -> String {
    let date = now_date();
    format!(
        "Return-Path: <{sender}>\r\nReceived: from {helo} (unknown [{client}]) by {by} (Postfix) with ESMTP id 1; {date}\r\n\
         From: {sender}\r\nTo: bob@example.org\r\nSubject: hi\r\nDate: {date}\r\nMessage-ID: <{client}@{helo}>\r\n\r\nhello\r\n"
    )
}

/// An unsigned bounce to our domain, arriving now.
fn forged_bounce() -> String {
    support::forged_bounce(&now_date())
}

fn field<'a>(lines: &'a [(String, serde_json::Value)], name: &str, key: &str) -> &'a str {
    let (_, v) = lines.iter().find(|(n, _)| n.starts_with(name)).unwrap_or_else(|| panic!("{name} in {lines:?}"));
    v[key].as_str().unwrap_or_default()
}

#[test]
fn scan_reports_spf_moves_spf_fails_and_checks_bounce_origins() {
    let dns = Dns::start(ZONE);
    let world = World::new(&dns, "fail_action = \"move\"\nfail_folder = \"Junk\"\n");
    world.deliver("1.pass.host", &delivered("mx.example.org", "192.0.2.5", "mail.test", "ann@example.test"));
    world.deliver("2.fail.host", &delivered("mx.example.org", "203.0.113.9", "spam.test", "ann@example.test"));
    world.deliver("3.none.host", &delivered("mx.example.org", "192.0.2.5", "mail.test", "bob@nothing.test"));
    // Not received by our border MTA: no facts, nothing checked.
    world.deliver("4.foreign.host", &delivered("mx.elsewhere.test", "203.0.113.9", "spam.test", "ann@example.test"));
    world.deliver("5.bounce.host", &forged_bounce());
    let origin = "original sent from 203.0.113.9, not allowed by example.test's SPF";

    // A dry run writes nothing and moves nothing, but says what it would do.
    let before = world.files();
    let dry = world.scan(&["--dry-run"]);
    assert_eq!(world.files(), before, "a dry run changes nothing");
    assert_eq!(dry.len(), 5, "{dry:?}");
    assert_eq!(field(&dry, "2.fail", "done"), "would-move");
    assert_eq!(field(&dry, "1.pass", "done"), "keep");
    assert_eq!(field(&dry, "5.bounce", "verdict"), "backscatter");
    assert!(field(&dry, "5.bounce", "why").ends_with(origin), "{dry:?}");

    let done = world.scan(&[]);
    assert_eq!(field(&done, "2.fail", "done"), "moved");
    assert_eq!(field(&done, "5.bounce", "done"), "moved");
    assert!(field(&done, "5.bounce", "why").ends_with(origin), "{done:?}");
    let spf = |name: &str| done.iter().find(|(n, _)| n.starts_with(name)).map(|(_, v)| v["spf"].clone());
    assert_eq!(spf("2.fail").map(|s| s["result"].clone()), Some("fail".into()));
    assert_eq!(spf("2.fail").map(|s| s["action"].clone()), Some("move".into()));
    assert_eq!(spf("5.bounce").map(|s| s["origin"]["result"].clone()), Some("fail".into()));

    assert_eq!(spf("1.pass").map(|s| s["result"].clone()), Some("pass".into()));
    assert_eq!(spf("3.none").map(|s| s["result"].clone()), Some("none".into()));
    assert_eq!(spf("4.foreign").map(|s| s["result"].clone()), Some("skipped".into()), "not ours to check");
    // The bounce itself: a null sender checked through its HELO (RFC 7208 §2.4).
    assert_eq!(
        spf("5.bounce").map(|s| (s["result"].clone(), s["identity"].clone())),
        Some(("pass".into(), "helo".into()))
    );

    // Delivered mail is never rewritten: every message keeps its bytes, moved or not.
    let (path, pass) = world.find("1.pass");
    assert!(path.starts_with("new/"), "{path}");
    assert!(!pass.contains("Received-SPF"), "{pass}");
    let (path, fail) = world.find("2.fail");
    assert!(path.starts_with(".Junk/cur/"), "moved by fail_action: {path}");
    let bytes = |name: &str| before.iter().find(|(p, _)| file_name(p).starts_with(name)).map(|(_, b)| b.clone());
    assert_eq!(bytes("2.fail"), Some(fail.clone().into_bytes()));
    let (path, bounce) = world.find("5.bounce");
    assert!(path.starts_with(".Backscatter/cur/"), "{path}");
    assert_eq!(bytes("5.bounce"), Some(bounce.into_bytes()));

    // The journal records the SPF move with its reason, and restore brings it back.
    let journal = fs::read_to_string(world.dir.path().join("state/journal.jsonl")).expect("journal");
    let line =
        journal.lines().find(|l| l.contains("2.fail.host") && l.contains("\"op\":\"intent\"")).expect("journaled");
    let entry: serde_json::Value = serde_json::from_str(line).expect("json");
    assert_eq!(entry["why"], "SPF fail: 203.0.113.9 is not allowed by example.test's SPF");
    world.run(&["restore", entry["id"].as_str().unwrap_or_default()]);
    let (path, restored) = world.find("2.fail");
    assert!(!path.starts_with(".Junk/") && restored == fail, "{path}");
}

#[test]
fn monitor_mode_moves_nothing_on_an_spf_fail() {
    let dns = Dns::start(ZONE);
    let world = World::new(&dns, "fail_action = \"move\"\n");
    let config = world.dir.path().join("config.toml");
    let text = fs::read_to_string(&config).expect("config").replace("mode = \"enforce\"", "mode = \"monitor\"");
    fs::write(&config, text).expect("config");
    world.deliver("2.fail.host", &delivered("mx.example.org", "203.0.113.9", "spam.test", "ann@example.test"));
    let done = world.scan(&[]);
    assert_eq!(field(&done, "2.fail", "done"), "would-move", "monitor mode: {done:?}");
    let (path, _) = world.find("2.fail");
    assert!(path.starts_with("new/"), "{path}");
}

#[test]
fn watch_logs_the_spf_result_rewrites_nothing_and_keeps_a_cache_snapshot() {
    let dns = Dns::start(ZONE);
    let world = World::new(&dns, "");
    let log = world.dir.path().join("watch.log");
    let mut watcher = Daemon::spawn(world.command(&["-vv", "watch"]).stderr(fs::File::create(&log).expect("log")));
    // Give inotify its watch before the delivery (the initial scan would also find it).
    std::thread::sleep(Duration::from_millis(500));
    let text = delivered("mx.example.org", "192.0.2.5", "mail.test", "ann@example.test");
    let path = world.deliver("1.pass.host", &text);
    let start = Instant::now();
    while !fs::read_to_string(&log).is_ok_and(|l| l.lines().any(|l| l.contains("verdict") && l.contains("1.pass.host")))
    {
        assert!(start.elapsed() < Duration::from_secs(20), "no verdict logged by watch");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The snapshot is written at every discovery (10 s) and on stop.
    let status = watcher.terminate();
    assert!(status.success(), "{status:?}");
    assert_eq!(fs::read_to_string(&path).expect("still in new/"), text, "never rewritten");
    let log = fs::read_to_string(&log).expect("log");
    assert!(log.lines().any(|l| l.contains("SPF") && l.contains("pass")), "{log}");
    // The snapshot `backscatter spf --cache` shows.
    let cache = String::from_utf8(world.run(&["spf", "--cache"]).stdout).expect("utf-8");
    assert!(cache.lines().any(|l| l.starts_with("example.test.") && l.contains("TXT")), "{cache}");
}
