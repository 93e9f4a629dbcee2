//! The flow: reading the message, refusing ourselves, fail-safe and fail-open paths, the spool.

use std::io::Read;
use std::os::unix::fs::symlink;

use super::*;
use crate::config::Sign;

/// A reader that hands out its bytes in pieces of `step`, as a pipe may.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        buf[..n].copy_from_slice(head);
        self.data = tail;
        Ok(n)
    }
}

fn read(data: &[u8], dot_ends: bool, step: usize) -> Vec<u8> {
    read_message(Trickle { data, step }, dot_ends).unwrap()
}

#[test]
fn a_lone_dot_ends_the_message_unless_i() {
    for step in [1, 2, 3, 7, 4096] {
        assert_eq!(read(b"a\n.\nafter\n", true, step), b"a\n", "{step}");
        assert_eq!(read(b"a\r\n.\r\nafter\n", true, step), b"a\r\n", "{step}");
        assert_eq!(read(b".\n", true, step), b"", "{step}");
        assert_eq!(read(b"a\n.", true, step), b"a\n", "{step}");
        assert_eq!(read(b"a\n..\n.x\n x.\n", true, step), b"a\n..\n.x\n x.\n", "{step}");
        assert_eq!(read(b"a.\nb", true, step), b"a.\nb", "{step}");
        assert_eq!(read(b"a\n.\nafter\n", false, step), b"a\n.\nafter\n", "{step}");
        assert_eq!(read(b"a\n.", false, step), b"a\n.", "{step}");
    }
}

#[test]
fn never_ourselves() {
    // The test binary stands in for backscatter: /proc/self/exe is it.
    let me = Path::new("/proc/self/exe").canonicalize().unwrap();
    assert!(matches!(real_sendmail(&me), Err(SendmailError::Loop(_))));
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sendmail");
    symlink(&me, &link).unwrap();
    assert!(matches!(real_sendmail(&link), Err(SendmailError::Loop(_))));
    assert!(real_sendmail(Path::new("/bin/cat")).is_ok());
    let missing = real_sendmail(&dir.path().join("nope"));
    assert!(matches!(missing, Err(SendmailError::NoSendmail { .. })), "{missing:?}");
}

fn config(sign: Sign) -> Config {
    Config { sign, protected_domains: vec!["example.com".into()], ..Config::default() }
}

fn cat_sign() -> Sign {
    Sign { sendmail_path: PathBuf::from("/bin/cat"), myorigin: Some("example.com".into()), ..Sign::default() }
}

fn run(line: &str, config: &Config, keyring: &Path, input: &[u8]) -> Result<Handoff, SendmailError> {
    let invocation = Invocation::parse(line.split_whitespace().map(OsString::from).collect());
    let cx = Context { config, keyring: keyring.to_owned(), today: Day(20_414) };
    prepare(&invocation, &cx, input)
}

fn keyring(dir: &Path) -> PathBuf {
    let path = dir.join("keyring.toml");
    Keyring::new(&path, Day(20_400), "0123456789abcdef0123456789abcdef0123456789a".into()).create().unwrap();
    path
}

#[test]
fn stamps_tags_and_adds_the_envid() {
    let dir = tempfile::tempdir().unwrap();
    let ring = keyring(dir.path());
    let mut handoff = run("-oi -f Me@Example.COM -- a b", &config(cat_sign()), &ring, b"Subject: x\n\nbody\n").unwrap();
    let args: Vec<String> = handoff.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    assert_eq!(args[0], "-V");
    assert!(args[1].starts_with("bs1.20414."), "{args:?}");
    assert_eq!(args[2..4], ["-oi", "-f"]);
    assert!(args[4].starts_with("prvs=0421") && args[4].ends_with("=Me@example.com"), "{args:?}");
    assert_eq!(args[5..], ["--", "a", "b"]);
    let mut stamped = Vec::new();
    handoff.stdin.take().unwrap().read_to_end(&mut stamped).unwrap();
    assert!(stamped.starts_with(b"X-Backscatter-Sig: v1.0.20414."));
    assert!(stamped.ends_with(b"@example.com>\nSubject: x\n\nbody\n"), "{}", String::from_utf8_lossy(&stamped));
    assert!(handoff.summary.contains("tagged as prvs="), "{}", handoff.summary);
    // The spool file is already gone from the temp dir.
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(&format!(".backscatter-sendmail.{}.", std::process::id())))
        .count();
    assert_eq!(leftovers, 0);

    // -V given, sender outside protected_domains: neither touched.
    let handoff = run("-V mine -f me@other.org a", &config(cat_sign()), &ring, b"x").unwrap();
    assert_eq!(handoff.args, ["-V", "mine", "-f", "me@other.org", "a"]);
    assert!(handoff.summary.contains("not in protected_domains"), "{}", handoff.summary);
    // sign_envid off and the null sender.
    let quiet = config(Sign { sign_envid: false, ..cat_sign() });
    assert_eq!(run("-f <> a", &quiet, &ring, b"x").unwrap().args, ["-f", "<>", "a"]);
}

#[test]
fn no_envid_for_exim_or_msmtp() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["exim4", "msmtp"] {
        let link = dir.path().join(name);
        symlink("/bin/cat", &link).unwrap();
        assert!(!takes_envid(&link), "{name}");
    }
    // Named by its link, but resolving to Exim.
    let exim = dir.path().join("sendmail");
    symlink(dir.path().join("exim4"), &exim).unwrap();
    assert!(!takes_envid(&exim));
    assert!(takes_envid(Path::new("/usr/sbin/sendmail")));
}

#[test]
fn untouched_when_not_sending_or_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-keyring.toml");
    let handoff = run("-bp", &config(cat_sign()), &missing, b"").unwrap();
    assert!(handoff.stdin.is_none() && handoff.args == ["-bp"] && handoff.summary.contains("-bp"));
    let off = config(Sign { enabled: false, ..cat_sign() });
    let handoff = run("-t -i", &off, &missing, b"").unwrap();
    assert!(handoff.stdin.is_none() && handoff.args == ["-t", "-i"], "{handoff:?}");
}

#[test]
fn a_missing_keyring_fails_safe_or_open() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-keyring.toml");
    let err = run("-t", &config(cat_sign()), &missing, b"x").unwrap_err();
    assert!(matches!(err, SendmailError::Keyring(KeyringError::Missing { .. })), "{err:?}");
    let open = config(Sign { fail_open: true, ..cat_sign() });
    let handoff = run("-t", &open, &missing, b"x").unwrap();
    assert!(handoff.stdin.is_none() && handoff.args == ["-t"] && handoff.summary.contains("fail_open"));
    // fail_open does not cover a loop back into ourselves.
    let me = Path::new("/proc/self/exe").canonicalize().unwrap();
    let looped = config(Sign { fail_open: true, sendmail_path: me, ..Sign::default() });
    assert!(matches!(run("-t", &looped, &missing, b"x"), Err(SendmailError::Loop(_))));
}

#[test]
fn a_failing_input_is_an_error() {
    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("boom"))
        }
    }
    assert!(matches!(read_message(Broken, false), Err(SendmailError::Read(_))));
}

#[test]
fn the_sent_log_gets_one_line_and_its_failure_never_holds_the_mail() {
    use crate::evidence::sentlog::{file::Reader, Recipients};
    let dir = tempfile::tempdir().unwrap();
    let ring = keyring(dir.path());
    let state = dir.path().join("state");
    let logged = Config { state_dir: Some(state.clone()), ..config(Sign { sent_log: true, ..cat_sign() }) };
    let input = b"To: Bob <bob@example.net>\nCc: carol@example.org\nSubject: x\n\nbody\n";
    run("-oi -t -f me@example.com -- dave", &logged, &ring, input).unwrap();
    let mut reader = Reader::new(&state);
    reader.refresh(Day(20_414)).unwrap();
    assert_eq!(reader.log().len(), 1);
    let keys = Keyring::load(&ring).unwrap();
    let key = keys.signing_key().unwrap().as_key();
    let text = std::fs::read_to_string(state.join("sent-log/20414.log")).unwrap();
    let entry = crate::evidence::sentlog::Entry::parse(text.as_bytes()).unwrap();
    assert!(entry.message_id.is_some(), "the added signed Message-ID: {text}");
    let Recipients::Hashed(hashes) = &entry.recipients else { panic!("{text}") };
    assert_eq!(hashes.len(), 3, "{text}");
    let logged_entry = reader.log().get(entry.nonce).unwrap();
    for to in ["bob@example.net", "Carol@Example.org", "dave@example.com"] {
        assert_eq!(logged_entry.was_sent_to(&[key], to), Some(true), "{to}");
    }
    assert_eq!(logged_entry.was_sent_to(&[key], "eve@example.net"), Some(false));

    // A state dir that cannot be made: the message still goes, unlogged.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let broken = Config { state_dir: Some(blocker.join("state")), ..logged.clone() };
    let mut handoff = run("-oi a@example.net", &broken, &ring, b"Subject: y\n\nbody\n").unwrap();
    let mut stamped = Vec::new();
    handoff.stdin.take().unwrap().read_to_end(&mut stamped).unwrap();
    assert!(stamped.starts_with(b"X-Backscatter-Sig: "), "still signed and handed over");
}
