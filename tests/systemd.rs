//! The units in contrib/systemd/ through a real `systemd-analyze verify` (Debian package
//! `systemd`): each is copied into a temp dir with ExecStart pointing at the built binary (verify
//! wants the executable to exist) and the man pages from `backscatter man --dir` on MANPATH
//! (verify runs man(1) on every `Documentation=man:` link). verify exits 0 on unknown keys and
//! bad values, only warning, so any warning naming a unit fails the test too.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_backscatter");

fn contrib(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd").join(rel)
}

/// A temp dir with the man pages (`man/man1`) and an XDG runtime dir for `--user`.
struct Bench {
    dir: tempfile::TempDir,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().expect("temp dir");
        let man = dir.path().join("man/man1");
        let out = Command::new(BIN).arg("man").arg("--dir").arg(&man).output().expect("the binary runs");
        assert!(out.status.success(), "backscatter man --dir: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::create_dir_all(dir.path().join("runtime")).expect("runtime dir");
        Bench { dir }
    }

    /// Copies `text` as `name` into the units dir, the binary path rewritten.
    fn install(&self, name: &str, text: &str, user: bool) -> PathBuf {
        let units = self.dir.path().join(if user { "user" } else { "system" });
        std::fs::create_dir_all(&units).expect("units dir");
        let path = units.join(name);
        std::fs::write(&path, text.replace("/usr/bin/backscatter", BIN)).expect("unit written");
        path
    }

    /// Runs `systemd-analyze [--user] verify UNIT` (`unit` may name a template's instance in the
    /// same dir) and returns (success, stderr).
    fn verify(&self, dir_of: &Path, unit: &str, user: bool) -> (bool, String) {
        let mut cmd = Command::new("systemd-analyze");
        if user {
            cmd.arg("--user");
        }
        let out = cmd
            .arg("verify")
            .arg(dir_of.parent().expect("in a dir").join(unit))
            .env("MANPATH", self.dir.path().join("man"))
            .env("XDG_RUNTIME_DIR", self.dir.path().join("runtime"))
            .env("SYSTEMD_LOG_LEVEL", "notice")
            .env_remove("SYSTEMD_UNIT_PATH")
            .output()
            .expect("systemd-analyze runs (Debian package systemd)");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let base = unit.split('@').next().expect("a name");
        let clean = !stderr.lines().any(|l| l.contains(base));
        (out.status.success() && clean, stderr)
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(contrib(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn system_units_verify_and_are_hardened() {
    let bench = Bench::new();
    for name in ["backscatter-watch.service", "backscatter-milter.service", "backscatter-watch@.service"] {
        let text = read(name);
        for line in [
            "ExecStart=/usr/bin/backscatter ",
            "User=backscatter",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "SystemCallFilter=@system-service",
            "PrivateTmp=yes",
            "ProtectHome=yes",
            "Restart=on-failure",
            "RestartSec=",
            "RestartPreventExitStatus=78",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "CapabilityBoundingSet=\n",
        ] {
            assert!(text.contains(line), "{name} lacks {line:?}");
        }
        let path = bench.install(name, &text, false);
        let unit = if name.ends_with("@.service") { "backscatter-watch@shard0.service" } else { name };
        let (ok, stderr) = bench.verify(&path, unit, false);
        assert!(ok, "systemd-analyze verify {unit}:\n{stderr}");
    }
    assert!(read("backscatter-watch.service").contains("ReadWritePaths="), "watch must be allowed to move mail");
    assert!(read("backscatter-watch@.service").contains("--config /etc/backscatter/%i.toml"));
}

#[test]
fn user_unit_verifies() {
    let bench = Bench::new();
    let text = read("user/backscatter.service");
    for line in ["ExecStart=/usr/bin/backscatter watch", "WantedBy=default.target", "Restart=on-failure"] {
        assert!(text.contains(line), "the user unit lacks {line:?}");
    }
    let path = bench.install("backscatter.service", &text, true);
    let (ok, stderr) = bench.verify(&path, "backscatter.service", true);
    assert!(ok, "systemd-analyze --user verify:\n{stderr}");
}

/// The warning check works on this systemd: a bad value and a missing binary are caught.
#[test]
fn verify_catches_broken_units() {
    let bench = Bench::new();
    let good = read("backscatter-watch.service");
    let bad_value = good.replace("ProtectSystem=strict", "ProtectSystem=sometimes");
    let path = bench.install("backscatter-bad.service", &bad_value, false);
    let (ok, stderr) = bench.verify(&path, "backscatter-bad.service", false);
    assert!(!ok, "a bad ProtectSystem value passed: {stderr}");
    let no_binary = good.replace("ExecStart=/usr/bin/backscatter ", "ExecStart=/nowhere/backscatter ");
    let path = bench.install("backscatter-gone.service", &no_binary, false);
    let (ok, _) = bench.verify(&path, "backscatter-gone.service", false);
    assert!(!ok, "a missing ExecStart binary passed");
}
