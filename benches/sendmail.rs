//! What the sendmail drop-in costs per message: `cargo bench --bench sendmail` (release build).
//!
//! Each message is handed (1) straight to a trivial "real sendmail" (`cat > /dev/null`) and (2)
//! through `backscatter sendmail` configured to exec that same script, so the difference is our
//! overhead: process start, config and keyring load, reading, stamping, spooling, exec. Sizes:
//! 2 KB and 10 MB; medians of [`REPEATS`] runs, interleaved so drift hits both alike. Peak RSS of
//! the wrapped 10 MB run comes from GNU time (`/usr/bin/time -f %M`, Debian package `time`),
//! which counts the whole process, before and after exec. With `-- --postfix` (root), one more row
//! hands the 2 KB message to a real Postfix instance started in a temp dir by
//! `tests/support/postfix-start.sh` and stopped afterwards.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");

/// Runs per measurement (odd, so the median is one run).
const REPEATS: usize = 21;

/// `cargo bench` passes `--bench`; under `cargo test --all-targets` one run of each shows that
/// the bench still works.
fn repeats() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        REPEATS
    } else {
        1
    }
}

/// A temp dir with a keyring, a config and the trivial sendmail script.
struct Rig {
    dir: tempfile::TempDir,
    /// `MAIL_CONFIG` for the real Postfix sendmail, when that is the target.
    mail_config: Option<PathBuf>,
}

impl Rig {
    fn new(sendmail_path: Option<&Path>, mail_config: Option<PathBuf>) -> Rig {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("null-sendmail");
        std::fs::write(&script, "#!/bin/sh\nexec cat > /dev/null\n").expect("write script");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod script");
        let rig = Rig { dir, mail_config };
        let target = sendmail_path.map_or(script, Path::to_path_buf);
        let config = format!(
            "keyring = {:?}\nprotected_domains = [\"test.invalid\"]\n[sign]\nsendmail_path = {target:?}\nmyorigin = \"test.invalid\"\n",
            rig.dir.path().join("keyring.toml"),
        );
        std::fs::write(rig.config(), config).expect("write config");
        let init = Command::new(BIN).arg("-c").arg(rig.config()).args(["keys", "init"]).output().expect("keys init");
        assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
        rig
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    fn script(&self) -> PathBuf {
        self.dir.path().join("null-sendmail")
    }

    /// The wrapped command: `backscatter sendmail -i -f bob@test.invalid alice@test.invalid`.
    fn wrapped(&self) -> Command {
        let mut command = Command::new(BIN);
        command.args(["sendmail", "-i", "-f", "bob@test.invalid", "alice@test.invalid"]);
        command.env("BACKSCATTER_CONFIG", self.config());
        if let Some(dir) = &self.mail_config {
            command.env("MAIL_CONFIG", dir);
        }
        command
    }
}

/// Wall time of one run of `command` with `message` on stdin, until it has exited.
fn time(mut command: Command, message: &[u8]) -> Duration {
    let start = Instant::now();
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().expect("spawn");
    child.stdin.take().expect("stdin").write_all(message).expect("write message");
    let status = child.wait().expect("wait");
    let elapsed = start.elapsed();
    assert!(status.success(), "{command:?} exited {status}");
    elapsed
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs.get(runs.len() / 2).copied().unwrap_or_default()
}

/// A message of about `size` bytes: headers, then 76-character lines.
fn message(size: usize) -> Vec<u8> {
    let mut out = b"From: bob@test.invalid\nTo: alice@test.invalid\nSubject: bench\n\n".to_vec();
    let line = b"The quick brown fox jumps over the lazy dog, again and again and again, ok.\n";
    while out.len() < size {
        out.extend_from_slice(line);
    }
    out.truncate(size);
    out
}

/// Peak RSS in KiB of the wrapped run, through GNU time; `None` when it is not installed.
fn peak_rss_kib(rig: &Rig, message: &[u8]) -> Option<u64> {
    if !Path::new("/usr/bin/time").exists() {
        return None;
    }
    let wrapped = rig.wrapped();
    let mut command = Command::new("/usr/bin/time");
    command.args(["-f", "%M"]).arg(wrapped.get_program()).args(wrapped.get_args());
    command.env("BACKSCATTER_CONFIG", rig.config());
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn time");
    child.stdin.take().expect("stdin").write_all(message).expect("write message");
    let out = child.wait_with_output().expect("wait");
    String::from_utf8_lossy(&out.stderr).lines().last()?.trim().parse().ok()
}

fn row(rig: &Rig, name: &str, message: &[u8], direct: impl Fn() -> Command) {
    let (mut plain, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..repeats() {
        plain.push(time(direct(), message));
        ours.push(time(rig.wrapped(), message));
    }
    let (plain, ours) = (median(plain), median(ours));
    let overhead = ours.saturating_sub(plain);
    println!(
        "{name:<24} direct {:>9.2} ms   wrapped {:>9.2} ms   overhead {:>8.2} ms   ratio {:>5.2}",
        plain.as_secs_f64() * 1e3,
        ours.as_secs_f64() * 1e3,
        overhead.as_secs_f64() * 1e3,
        ours.as_secs_f64() / plain.as_secs_f64().max(1e-9),
    );
}

fn main() {
    let rig = Rig::new(None, None);
    println!("sendmail drop-in overhead, medians of {} run(s)", repeats());
    for (name, size) in [("2 KB, null sendmail", 2_048), ("10 MB, null sendmail", 10 * 1024 * 1024)] {
        let body = message(size);
        row(&rig, name, &body, || Command::new(rig.script()));
    }
    let big = message(10 * 1024 * 1024);
    match peak_rss_kib(&rig, &big) {
        Some(kib) => println!("peak RSS, 10 MB wrapped: {:.1} MiB", kib as f64 / 1024.0),
        None => println!("peak RSS: /usr/bin/time not installed (apt-get install time)"),
    }
    if std::env::args().any(|a| a == "--postfix") {
        postfix_row();
    }
}

/// The 2 KB row against a real Postfix instance in a temp dir (root needed).
fn postfix_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let root = dir.path().join("pf");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/postfix-start.sh");
    let started = Command::new("bash").arg(script).arg(&root).output().expect("run postfix-start.sh");
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let etc = root.join("etc");
    let rig = Rig::new(Some(Path::new("/usr/sbin/sendmail")), Some(etc.clone()));
    let body = message(2_048);
    row(&rig, "2 KB, Postfix sendmail", &body, || {
        let mut command = Command::new("/usr/sbin/sendmail");
        command.args(["-i", "-f", "bob@test.invalid", "alice@test.invalid"]).env("MAIL_CONFIG", &etc);
        command
    });
    let _ = Command::new("postfix").arg("-c").arg(&etc).arg("stop").output();
}
