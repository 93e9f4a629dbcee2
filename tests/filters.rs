//! The delivery-time filters in contrib/ through the real delivery agents: the Sieve scripts
//! through `dovecot-lda` with Pigeonhole (Debian packages `dovecot-core`, `dovecot-sieve`),
//! installed as a global sieve_before script the way contrib/dovecot/90-backscatter.conf says;
//! the procmail and maildrop recipes through `procmail` and `maildrop`. Messages are delivered
//! into a temp Maildir and the test looks where each one landed. All but the header script run
//! the real `backscatter check`, which finds the mail user's config and keyring under HOME.

mod support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use backscatter::day::Day;
use backscatter::keys::Keyring;
use backscatter::sign::header;

const LDA: &str = "/usr/lib/dovecot/dovecot-lda";
const SIEVE_PLUGIN: &str = "/usr/lib/dovecot/modules/lib90_sieve_plugin.so";
const EXTPROGRAMS: &str = "/usr/lib/dovecot/modules/sieve/lib90_sieve_extprograms_plugin.so";
/// The bounces' arrival, and the day their originals were signed.
const ARRIVED: &str = "Thu, 03 Dec 2026 10:00:00 +0000";

fn contrib(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib").join(rel)
}

/// The user mail is delivered as: `nobody` when the test runs as root (Dovecot refuses to
/// deliver as root), else the test's own user.
fn mail_user() -> Option<(u32, u32)> {
    let id = |flag: &str, who: &str| -> u32 {
        let out = Command::new("id").args([flag, who]).output().expect("id(1) runs");
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
    };
    let root = Command::new("id").arg("-u").output().expect("id(1) runs").stdout == b"0\n";
    root.then(|| (id("-u", "nobody"), id("-g", "nobody")))
}

/// Where a delivered message ended up.
#[derive(Debug, PartialEq, Eq)]
enum Folder {
    Inbox,
    Backscatter,
}

/// A temp dir holding alice's home — her Maildir, backscatter config and a keyring made in
/// 2020 (so the grace period is long over when the 2026 bounces arrive) — and the binary where
/// the mail user can run it (a temp dir is reachable; target/ may not be).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let dir = support::open_temp_dir();
        let home = dir.path().join("home/alice");
        for sub in ["Maildir/cur", "Maildir/new", "Maildir/tmp", ".config/backscatter", ".local/share/backscatter"] {
            std::fs::create_dir_all(home.join(sub)).expect("home dirs");
        }
        let bin = dir.path().join("backscatter");
        let built = env!("CARGO_BIN_EXE_backscatter");
        if std::fs::hard_link(built, &bin).is_err() {
            std::fs::copy(built, &bin).expect("binary copied");
        }
        // An empty config: the defaults enforce.
        std::fs::write(home.join(".config/backscatter/config.toml"), "").expect("config");
        Keyring::new(
            &home.join(".local/share/backscatter/keyring.toml"),
            Day::from_ymd(2020, 1, 1).expect("date"),
            "filters-test-secret-0123456789abcdef".into(),
        )
        .create()
        .expect("keyring");
        Home { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home/alice")
    }

    fn keyring(&self) -> PathBuf {
        self.home().join(".local/share/backscatter/keyring.toml")
    }

    /// contrib/`rel` with /usr/bin/backscatter replaced by the binary, written to `to` (`mode`).
    fn install(&self, rel: &str, to: &Path, mode: u32) {
        let text = std::fs::read_to_string(contrib(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let bin = self.root().join("backscatter");
        std::fs::write(to, text.replace("/usr/bin/backscatter", bin.to_str().expect("UTF-8 path"))).expect("installed");
        set_mode(to, mode);
    }

    /// Gives the mail user everything under `paths` (when the test runs as root).
    fn chown(&self, paths: &[PathBuf]) {
        if let Some((uid, gid)) = mail_user() {
            let status =
                Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).args(paths).status().expect("chown runs");
            assert!(status.success(), "chown the mail user's files");
        }
    }

    /// Runs `cmd` as the mail user with `message` on stdin and the environment an MTA gives a
    /// delivery agent; returns where the message landed and the program's stderr.
    fn deliver(&self, mut cmd: Command, message: &str) -> (Folder, String) {
        let before = (self.count("Maildir"), self.count("Maildir/.Backscatter"));
        cmd.env_clear()
            .env("HOME", self.home())
            .env("USER", "alice")
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = mail_user() {
            cmd.uid(uid).gid(gid);
        }
        let mut child = cmd.spawn().expect("the delivery agent starts");
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(message.as_bytes()).expect("message piped");
        let out = child.wait_with_output().expect("the delivery agent ends");
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "delivery failed ({}):\n{log}", out.status);
        let after = (self.count("Maildir"), self.count("Maildir/.Backscatter"));
        let folder = match (after.0 - before.0, after.1 - before.1) {
            (1, 0) => Folder::Inbox,
            (0, 1) => Folder::Backscatter,
            moved => panic!("expected one new message in one folder, got {moved:?}:\n{log}"),
        };
        (folder, log)
    }

    /// Messages in `new/` of the Maildir (or folder) at `rel` under alice's home.
    fn count(&self, rel: &str) -> usize {
        std::fs::read_dir(self.home().join(rel).join("new")).map_or(0, |d| d.count())
    }
}

/// A Dovecot delivery setup around a [`Home`]: dovecot.conf, one global sieve_before script and
/// the execute bin dir with the backscatter-check wrapper.
struct Lda {
    home: Home,
}

impl Lda {
    fn new(script: &str) -> Lda {
        for (path, package) in [(LDA, "dovecot-core"), (SIEVE_PLUGIN, "dovecot-sieve"), (EXTPROGRAMS, "dovecot-sieve")]
        {
            support::require(path, package);
        }
        let home = Home::new();
        let root = home.root().to_path_buf();
        for sub in ["sieve-before", "execute", "run", "state"] {
            std::fs::create_dir_all(root.join(sub)).expect("dovecot dirs");
        }
        let name = Path::new(script).file_name().expect("a file name");
        std::fs::copy(contrib(script), root.join("sieve-before").join(name)).expect("script installed");
        let wrapper = std::fs::read_to_string(contrib("dovecot/sieve-execute/backscatter-check")).expect("wrapper");
        assert!(wrapper.contains("exec /usr/bin/backscatter check"), "{wrapper}");
        home.install("dovecot/sieve-execute/backscatter-check", &root.join("execute/backscatter-check"), 0o755);
        let r = root.display();
        let conf = format!(
            "base_dir = {r}/run\nstate_dir = {r}/state\nlog_path = /dev/stderr\ninfo_log_path = /dev/stderr\n\
             mail_location = maildir:~/Maildir\nfirst_valid_uid = 0\n\
             protocol lda {{\n  mail_plugins = $mail_plugins sieve\n}}\n\
             plugin {{\n  sieve = file:~/sieve;active=~/.dovecot.sieve\n  sieve_before = {r}/sieve-before/\n\
             \x20 sieve_plugins = sieve_extprograms\n  sieve_global_extensions = +vnd.dovecot.execute\n\
             \x20 sieve_execute_bin_dir = {r}/execute\n  sieve_execute_exec_timeout = 10s\n}}\n"
        );
        std::fs::write(root.join("dovecot.conf"), conf).expect("dovecot.conf");
        home.chown(&[root.join("home"), root.join("sieve-before")]);
        Lda { home }
    }

    /// Delivers `message` (from `sender`) to alice with dovecot-lda.
    fn deliver(&self, sender: &str, message: &str) -> (Folder, String) {
        let mut cmd = Command::new(LDA);
        cmd.arg("-c").arg(self.home.root().join("dovecot.conf")).args(["-f", sender, "-a", "alice@test.invalid"]);
        self.home.deliver(cmd, message)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn ordinary() -> String {
    format!("From: bob@example.org\r\nTo: alice@test.invalid\r\nSubject: lunch\r\nDate: {ARRIVED}\r\n\r\nNoon?\r\n")
}

#[test]
fn header_script_files_what_the_milter_marked() {
    let lda = Lda::new("sieve/backscatter-header.sieve");
    let marked = |verdict: &str| format!("X-Backscatter: {verdict}\r\n{}", ordinary());
    let (folder, log) = lda.deliver("", &marked("backscatter; no carrier in the returned original"));
    assert_eq!(folder, Folder::Backscatter, "{log}");
    assert!(log.contains("stored mail into mailbox 'Backscatter'"), "{log}");
    for verdict in ["genuine; valid BATV tag on Delivered-To", "ordinary; not a bounce", "exempt; exempt sender domain"]
    {
        assert_eq!(lda.deliver("bob@example.org", &marked(verdict)).0, Folder::Inbox, "{verdict}");
    }
    assert_eq!(lda.deliver("bob@example.org", &ordinary()).0, Folder::Inbox);
}

#[test]
fn check_script_asks_backscatter_and_files_on_exit_0() {
    let lda = Lda::new("sieve/backscatter-check.sieve");
    files_backscatter_only(&lda.home, |sender, message| lda.deliver(sender, message));
    let (_, log) = lda.deliver("bob@example.org", &ordinary());
    assert!(log.contains("backscatter-check") && log.contains("exit code 1"), "check did not run: {log}");

    // No keyring: check cannot decide (75) and the message stays in the inbox.
    std::fs::remove_file(lda.home.keyring()).expect("keyring removed");
    let (folder, log) = lda.deliver("", &support::forged_bounce(ARRIVED));
    assert_eq!(folder, Folder::Inbox, "{log}");
    assert!(log.contains("exit code 75"), "{log}");
}

/// The forged bounce goes to Backscatter, ordinary mail and a bounce of our own signed mail (the
/// returned original carries our signature) to the inbox, through `deliver` (a delivery agent
/// with the recipe installed).
fn files_backscatter_only(home: &Home, deliver: impl Fn(&str, &str) -> (Folder, String)) {
    let forged = support::forged_bounce(ARRIVED);
    let (folder, log) = deliver("", &forged);
    assert_eq!(folder, Folder::Backscatter, "{log}");
    let (folder, log) = deliver("bob@example.org", &ordinary());
    assert_eq!(folder, Folder::Inbox, "{log}");
    let keyring = Keyring::load(&home.keyring()).expect("keyring");
    let key = keyring.signing_key().expect("a key").as_key();
    let sig = header::make(&key, Day::from_ymd(2026, 12, 3).expect("date"), 9);
    let signed = forged.replacen(
        "From: ann@example.test\r\n",
        &format!("X-Backscatter-Sig: {sig}\r\nFrom: ann@example.test\r\n"),
        1,
    );
    let (folder, log) = deliver("", &signed);
    assert_eq!(folder, Folder::Inbox, "{log}");
}

#[test]
fn procmail_recipe() {
    support::require("/usr/bin/procmail", "procmail");
    let home = Home::new();
    let recipe = home.root().join("backscatter.procmailrc");
    home.install("procmail/backscatter.procmailrc", &recipe, 0o644);
    // A user's ~/.procmailrc as the recipe's comment says. procmail takes HOME from the passwd
    // entry (nobody's is /nonexistent), so the rc sets the one backscatter reads.
    let rc = home.root().join("procmailrc");
    let h = home.home();
    std::fs::write(
        &rc,
        format!(
            "HOME={}\nMAILDIR=$HOME/Maildir/\nDEFAULT=$MAILDIR\nLOGFILE={}/procmail.log\nINCLUDERC={}\n",
            h.display(),
            h.display(),
            recipe.display()
        ),
    )
    .expect("procmailrc");
    home.chown(&[home.root().join("home"), rc.clone(), recipe]);
    files_backscatter_only(&home, |sender, message| {
        let mut cmd = Command::new("procmail");
        cmd.arg("-f").arg(if sender.is_empty() { "MAILER-DAEMON" } else { sender }).arg(&rc);
        home.deliver(cmd, message)
    });
}

#[test]
fn maildrop_recipe() {
    support::require("/usr/bin/maildrop", "maildrop");
    let home = Home::new();
    let recipe = home.root().join("backscatter.mailfilter");
    home.install("maildrop/backscatter.mailfilter", &recipe, 0o600);
    // A user's ~/.mailfilter as the recipe's comment says (maildrop wants it 0600 and the
    // user's own); HOME set for the same reason as procmail's.
    let filter = home.root().join("mailfilter");
    std::fs::write(
        &filter,
        format!(
            "HOME=\"{}\"\nMAILDIR=\"$HOME/Maildir\"\ninclude \"{}\"\nto \"$MAILDIR\"\n",
            home.home().display(),
            recipe.display()
        ),
    )
    .expect("mailfilter");
    set_mode(&filter, 0o600);
    home.chown(&[home.root().join("home"), filter.clone(), recipe]);
    files_backscatter_only(&home, |sender, message| {
        let mut cmd = Command::new("maildrop");
        cmd.arg("-f").arg(if sender.is_empty() { "MAILER-DAEMON" } else { sender }).arg(&filter);
        home.deliver(cmd, message)
    });
}
