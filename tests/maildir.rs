//! `scan`, `restore`, `stats` and `watch` of the real binary on temp Maildirs of corpus mail:
//! unsigned, forged and expired bounces move, signed ones and ordinary mail stay, dry runs and
//! monitor mode move nothing, restore brings everything back byte for byte, a killed watcher
//! loses and duplicates nothing.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backscatter::day::Day;
use backscatter::keys::Keyring;
use backscatter::sign;

const BOUNCES: [&str; 3] = ["tests/fixtures/ndr/001.eml", "tests/fixtures/ndr/004.eml", "tests/fixtures/ndr/114.eml"];
const HAM: [&str; 2] = [
    "tests/corpus/ham/spamassassin-corpus/easy_ham/00001.7c53336b37003a9286aba55d2945844c",
    "tests/corpus/ham/spamassassin-corpus/easy_ham/00006.253ea2f9a9cc36fa0b1129b04b806608",
];

/// A temp dir with a Maildir, a keyring (key created 60 days ago), a config and a state dir.
struct World {
    dir: tempfile::TempDir,
    secret: String,
}

impl World {
    fn new(mode: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.path().join("Maildir").join(sub)).unwrap();
        }
        let secret = "integration-test-secret-of-43-characters-xx".to_owned();
        let keyring = Keyring::new(&dir.path().join("keyring.toml"), Day(today().0 - 60), secret.clone());
        keyring.create().unwrap();
        let config = format!(
            "keyring = \"{0}/keyring.toml\"\nstate_dir = \"{0}/state\"\n[policy]\nmode = \"{mode}\"\ngrace_days = 0\n\
             [[maildir]]\npath = \"{0}/Maildir\"\n",
            dir.path().display()
        );
        fs::write(dir.path().join("config.toml"), config).unwrap();
        World { dir, secret }
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

    fn key(&self) -> sign::Key<'_> {
        sign::Key { id: sign::KeyId::ZERO, secret: self.secret.as_bytes() }
    }

    /// Delivers `message` into `new/` as an MDA would (tmp/ then rename), with a top Received
    /// header dated now, so that its arrival time is today.
    fn deliver(&self, name: &str, message: &[u8]) -> PathBuf {
        let tmp = self.maildir().join("tmp").join(name);
        let mut bytes = received_now();
        bytes.extend_from_slice(message);
        fs::write(&tmp, bytes).unwrap();
        let new = self.maildir().join("new").join(name);
        fs::rename(&tmp, &new).unwrap();
        new
    }

    /// Every file below the Maildir, by path relative to it, with its bytes.
    fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        walk(&self.maildir(), &self.maildir(), &mut files);
        files
    }

    fn folder_files(&self) -> Vec<String> {
        let cur = self.maildir().join(".Backscatter/cur");
        let mut names: Vec<String> = fs::read_dir(cur)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    fn inbox_files(&self) -> Vec<String> {
        let mut names = Vec::new();
        for sub in ["new", "cur"] {
            for entry in fs::read_dir(self.maildir().join(sub)).unwrap().flatten() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        names
    }
}

fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files);
        } else {
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            files.insert(rel, fs::read(&path).unwrap());
        }
    }
}

fn today() -> Day {
    Day::from_unix_seconds(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64)
}

/// `Received:` dated now, RFC 5322 §3.3 form.
fn received_now() -> Vec<u8> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let day = Day::from_unix_seconds(secs);
    let (y, m, d) = day.ymd();
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][m as usize - 1];
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][day.0.rem_euclid(7) as usize];
    let t = secs.rem_euclid(86_400);
    format!(
        "Received: from mx.example.net (mx.example.net [198.51.100.25])\n\tby mail.example.com (Postfix) with ESMTP id TEST\n\tfor <user@example.com>; {weekday}, {d:02} {month} {y} {:02}:{:02}:{:02} +0000\n",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
    .into_bytes()
}

/// `bounce` with `header_line` inserted as the first header of its returned message/rfc822.
fn sign_original(bounce: &[u8], header_line: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(bounce);
    let at = text.to_ascii_lowercase().find("content-type: message/rfc822").expect("a message/rfc822 part");
    let blank = text[at..].find("\n\n").expect("the part's header ends") + at + 2;
    let mut signed = text[..blank].to_owned();
    signed.push_str(header_line);
    signed.push_str(&text[blank..]);
    signed.into_bytes()
}

/// The mailbox of every test: three unsigned bounces, one signed, one forged, one expired, two
/// ordinary messages.
fn populate(world: &World) {
    for (i, path) in BOUNCES.iter().enumerate() {
        world.deliver(&format!("1000{i}.unsigned.host"), &fs::read(path).unwrap());
    }
    let bounce = fs::read(BOUNCES[0]).unwrap();
    let good = sign::header::make(&world.key(), today(), 1);
    world.deliver("20000.good.host", &sign_original(&bounce, &format!("X-Backscatter-Sig: {good}\n")));
    let other = sign::Key { id: sign::KeyId::ZERO, secret: b"someone else's secret" };
    let forged = sign::header::make(&other, today(), 2);
    world.deliver("20001.forged.host", &sign_original(&bounce, &format!("X-Backscatter-Sig: {forged}\n")));
    let old = sign::header::make(&world.key(), Day(today().0 - 30), 3);
    world.deliver("20002.expired.host", &sign_original(&bounce, &format!("X-Backscatter-Sig: {old}\n")));
    for (i, path) in HAM.iter().enumerate() {
        world.deliver(&format!("3000{i}.ham.host"), &fs::read(path).unwrap());
    }
}

#[test]
fn scan_moves_backscatter_keeps_the_rest_and_restore_undoes_it() {
    let world = World::new("enforce");
    populate(&world);
    let before = world.snapshot();

    let output = world.run(&["scan", "--json", &world.maildir().to_string_lossy()]);
    let lines: Vec<serde_json::Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 8);
    let verdict_of = |name: &str| {
        let line = lines.iter().find(|l| l["path"].as_str().unwrap().contains(name)).unwrap();
        (line["verdict"].as_str().unwrap().to_owned(), line["done"].as_str().unwrap().to_owned())
    };
    assert_eq!(verdict_of("good"), ("genuine".into(), "keep".into()));
    for name in ["10000", "10001", "10002", "forged", "expired"] {
        assert_eq!(verdict_of(name), ("backscatter".into(), "moved".into()), "{name}");
    }
    assert_eq!(verdict_of("30000").1, "keep");
    assert_eq!(
        world.folder_files(),
        [
            "10000.unsigned.host:2,",
            "10001.unsigned.host:2,",
            "10002.unsigned.host:2,",
            "20001.forged.host:2,",
            "20002.expired.host:2,"
        ]
    );
    assert_eq!(world.inbox_files(), ["20000.good.host", "30000.ham.host", "30001.ham.host"]);
    assert!(world.maildir().join(".Backscatter/maildirfolder").is_file());

    let stats = String::from_utf8(world.run(&["stats"]).stdout).unwrap();
    assert!(stats.starts_with("moved: 5  restored since: 0"), "{stats}");

    // A second scan finds nothing more to move.
    world.run(&["scan", &world.maildir().to_string_lossy()]);
    assert_eq!(world.folder_files().len(), 5);

    world.run(&["restore", "--all"]);
    let mut after = world.snapshot();
    after.retain(|name, _| !name.starts_with(".Backscatter/") && name != "subscriptions");
    assert_eq!(after, before, "restore puts every message back byte for byte, under its old name");
    // Restored once, never again; and a scan now spares what a person restored.
    let again = world.command(&["restore", "--all"]).output().unwrap();
    assert!(again.status.success() && again.stdout.is_empty());
    world.run(&["scan", &world.maildir().to_string_lossy()]);
    assert!(world.folder_files().is_empty());
    let journal = fs::read_to_string(world.dir.path().join("state/journal.jsonl")).unwrap();
    assert_eq!(journal.lines().count(), 15, "an intent and a done line per move, a line per restore");
}

#[test]
fn dry_run_and_monitor_move_nothing() {
    for (mode, args) in [("enforce", vec!["scan", "--dry-run"]), ("monitor", vec!["scan"])] {
        let world = World::new(mode);
        populate(&world);
        let before = world.snapshot();
        let mut args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        args.push(world.maildir().to_string_lossy().into_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = world.run(&args);
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains("would-move"), "{mode}: {text}");
        assert_eq!(world.snapshot(), before, "{mode}");
    }
}

/// A running `watch`, killed (SIGKILL) and reaped when dropped.
struct Watch(Child);

impl Watch {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `watch`, its log in the world's dir.
fn start_watch(world: &World) -> Watch {
    let log = fs::File::create(world.dir.path().join(format!("watch-{}.log", now_nanos()))).unwrap();
    Watch(world.command(&["-v", "watch"]).stdout(Stdio::null()).stderr(log).spawn().unwrap())
}

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_killed_watcher_loses_and_duplicates_nothing() {
    let world = World::new("enforce");
    let bounce = fs::read(BOUNCES[1]).unwrap();
    let ham = fs::read(HAM[0]).unwrap();
    let mut watcher = start_watch(&world);
    // Deliver while the watcher works, kill it mid-run, deliver more, start it again.
    for i in 0..60 {
        world.deliver(&format!("{i:05}.b.host"), &bounce);
        world.deliver(&format!("{i:05}.h.host"), &ham);
        if i == 30 {
            watcher.kill();
        }
    }
    // A MUA takes some of the new mail to cur/ meanwhile.
    for i in 40..45 {
        let name = format!("{i:05}.b.host");
        let _ = fs::rename(world.maildir().join("new").join(&name), world.maildir().join("cur").join(name + ":2,S"));
    }
    let mut watcher = start_watch(&world);
    wait_until("every bounce moved", Duration::from_secs(30), || world.folder_files().len() >= 60);
    watcher.kill();
    let moved = world.folder_files();
    let kept = world.inbox_files();
    assert_eq!(moved.len(), 60, "{moved:?}");
    assert!(moved.iter().all(|n| n.contains(".b.host")));
    assert_eq!(kept.len(), 60, "{kept:?}");
    assert!(kept.iter().all(|n| n.contains(".h.host")));
    // Every move is journaled exactly once: the intent was on disk before the rename, and an
    // intent the kill left unfinished was settled at the restart.
    let done = done_moves(&world);
    assert_eq!(done.len(), 60, "{done:?}");
}

/// The file names of the moves the journal records as done, sorted; no move may be unfinished.
fn done_moves(world: &World) -> Vec<String> {
    use backscatter::journal::{self, Place, State};
    let ledger = journal::read(&world.dir.path().join("state").join(journal::FILE_NAME)).unwrap();
    assert_eq!(ledger.unfinished().count(), 0, "every intent settled");
    let mut names: Vec<String> = ledger
        .records()
        .iter()
        .filter_map(|r| match &r.state {
            State::Done { at: Place::Maildir { path, .. } } => Some(path.file_name()?.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    names.sort();
    let total = names.len();
    names.dedup();
    assert_eq!(names.len(), total, "no message moved twice");
    names
}

#[test]
fn watch_in_monitor_mode_moves_nothing_and_stops_on_sigterm() {
    let world = World::new("monitor");
    let mut watcher = start_watch(&world);
    let path = world.deliver("1.b.host", &fs::read(BOUNCES[0]).unwrap());
    std::thread::sleep(Duration::from_millis(500));
    assert!(path.exists());
    let pid = watcher.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let start = Instant::now();
    let status = watcher.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(world.folder_files().is_empty());
}

#[test]
fn mail_arriving_and_read_during_a_scan_is_neither_lost_nor_duplicated() {
    let world = World::new("enforce");
    let bounce = fs::read(BOUNCES[2]).unwrap();
    let ham = fs::read(HAM[1]).unwrap();
    for i in 0..150 {
        world.deliver(&format!("{i:05}.b.host"), &bounce);
        world.deliver(&format!("{i:05}.h.host"), &ham);
    }
    let scan = world.command(&["scan", &world.maildir().to_string_lossy()]).stdout(Stdio::null()).spawn().unwrap();
    // Meanwhile more mail arrives, and a MUA takes mail from new/ to cur/ and flags it.
    for i in 150..250 {
        world.deliver(&format!("{i:05}.b.host"), &bounce);
        world.deliver(&format!("{i:05}.h.host"), &ham);
        for kind in ["b", "h"] {
            let name = format!("{:05}.{kind}.host", i - 150);
            let _ =
                fs::rename(world.maildir().join("new").join(&name), world.maildir().join("cur").join(name + ":2,S"));
        }
    }
    let output = scan.wait_with_output().unwrap();
    assert!(output.status.success());
    // The next scan takes what arrived after the first listed the Maildir.
    world.run(&["scan", &world.maildir().to_string_lossy()]);
    let moved = world.folder_files();
    let kept = world.inbox_files();
    assert_eq!(moved.len(), 250);
    assert!(moved.iter().all(|n| n.contains(".b.host")), "{moved:?}");
    assert_eq!(kept.len(), 250);
    assert!(kept.iter().all(|n| n.contains(".h.host")), "{kept:?}");
    assert_eq!(done_moves(&world).len(), 250);
}

/// The README's first command: the demo Maildir, judged at its own arrival dates, keeps its four
/// genuine messages and would move its seven forged, expired or unsigned ones, whatever today is.
#[test]
fn the_demo_reports_genuine_kept_and_forged_would_move() {
    let tmp = tempfile::tempdir().unwrap();
    let keyring = tmp.path().join("keyring.toml");
    fs::copy("contrib/demo/keyring.toml", &keyring).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&keyring, fs::Permissions::from_mode(0o600)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_backscatter"))
        .arg("--keyring")
        .arg(&keyring)
        .args(["scan", "--dry-run", "--json", "contrib/demo/Maildir"])
        .env("XDG_CONFIG_HOME", tmp.path())
        .env("XDG_DATA_HOME", tmp.path())
        .env_remove("BACKSCATTER_CONFIG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut seen = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let path = v["path"].as_str().unwrap();
        let expected = if path.contains("demo-genuine") {
            ("genuine", "keep")
        } else if path.contains("demo-ordinary") {
            ("ordinary", "keep")
        } else {
            ("backscatter", "would-move")
        };
        assert_eq!((v["verdict"].as_str().unwrap(), v["done"].as_str().unwrap()), expected, "{path}: {}", v["why"]);
        *seen.entry(expected.0).or_insert(0) += 1;
    }
    assert_eq!(seen, BTreeMap::from([("backscatter", 7), ("genuine", 4), ("ordinary", 4)]));
}
