//! The parser against real invocations: what cron, PHP, mutt, git send-email, msmtp users and
//! admins type.

use super::*;

fn parse(line: &str) -> Invocation {
    Invocation::parse(line.split_whitespace().map(OsString::from).collect())
}

fn strings(args: &[OsString]) -> Vec<String> {
    args.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}

fn sender(inv: &Invocation) -> Option<String> {
    inv.sender.as_ref().map(|s| s.value.to_string_lossy().into_owned())
}

/// (command line, mode is Send, sender, dot ends message, -t, recipients, -V given)
type Row = (&'static str, bool, Option<&'static str>, bool, bool, &'static [&'static str], bool);

const TABLE: &[Row] = &[
    // cron (Debian cron, cronie): full name, 8BITMIME body, error mode.
    ("-FCronDaemon -i -B8BITMIME -oem user", true, None, false, false, &["user"], false),
    // PHP mail(): sendmail_path = "sendmail -t -i".
    ("-t -i", true, None, false, true, &[], false),
    // mutt: `--` before the recipients.
    ("-oem -oi -- a b", true, None, false, false, &["a", "b"], false),
    // git send-email.
    ("-i -f me a", true, Some("me"), false, false, &["a"], false),
    // msmtp-style account selection: `acc` is -a's argument, not a recipient.
    ("-t -a acc", true, None, true, true, &[], false),
    // Null sender, joined.
    ("-f<> bob", true, Some("<>"), true, false, &["bob"], false),
    // -r: the obsolete synonym of -f.
    ("-r me bob", true, Some("me"), true, false, &["bob"], false),
    ("-fme bob", true, Some("me"), true, false, &["bob"], false),
    // The last -f wins, as in getopt loops.
    ("-f a -f b x", true, Some("b"), true, false, &["x"], false),
    // A cluster: -i and -f with its argument joined.
    ("-tif me", true, Some("me"), false, true, &[], false),
    (
        "-bm -v -V envid -N success,delay -R hdrs -L tag -odi -odb -B 8BITMIME -- -weird",
        true,
        None,
        true,
        false,
        &["-weird"],
        true,
    ),
    ("-O IgnoreDots=True x", true, None, false, false, &["x"], false),
    ("-o i x", true, None, false, false, &["x"], false),
    // Options after the first recipient are recipients (Postfix's getopt stops there).
    ("a -f me", true, None, true, false, &["a", "-f", "me"], false),
    ("- a", true, None, true, false, &["-", "a"], false),
    ("--read-envelope-from -t", true, None, true, true, &[], false),
    // Not sending: handed on untouched.
    ("-bs", false, None, true, false, &[], false),
    ("-bp", false, None, true, false, &[], false),
    ("-bi", false, None, true, false, &[], false),
    ("-bv a", false, None, true, false, &["a"], false),
    ("-q", false, None, true, false, &[], false),
    ("-q1h", false, None, true, false, &[], false),
    ("-I", false, None, true, false, &[], false),
    ("-i -f", false, None, false, false, &[], false),
];

#[test]
fn real_invocations() {
    for &(line, send, from, dot_ends, extract, recipients, envid) in TABLE {
        let inv = parse(line);
        assert_eq!(inv.mode == Mode::Send, send, "{line}: {:?}", inv.mode);
        assert_eq!(sender(&inv).as_deref(), from, "{line}");
        assert_eq!(inv.dot_ends, dot_ends, "{line}");
        assert_eq!(inv.extract_recipients, extract, "{line}");
        assert_eq!(strings(inv.recipients()), recipients, "{line}");
        assert_eq!(inv.envid_given, envid, "{line}");
    }
}

#[test]
fn other_modes_name_the_flag() {
    assert_eq!(parse("-bp").mode, Mode::Other("-bp".into()));
    assert_eq!(parse("-q").mode, Mode::Other("-q without its argument".into()));
    assert_eq!(parse("-I").mode, Mode::Other("-I (newaliases)".into()));
}

#[test]
fn rewriting_keeps_the_form_and_everything_else() {
    let joined = parse("-i -fme@x.org -- a");
    assert_eq!(strings(&joined.rewritten(Some("prvs=1=me@x.org"), None)), ["-i", "-fprvs=1=me@x.org", "--", "a"]);
    let separate = parse("-oi -r me a");
    assert_eq!(strings(&separate.rewritten(Some("t"), Some("bs1.x"))), ["-V", "bs1.x", "-oi", "-r", "t", "a"]);
    let cluster = parse("-tif me");
    assert_eq!(strings(&cluster.rewritten(Some("t"), None)), ["-tif", "t"]);
    let joined_cluster = parse("-tifme");
    assert_eq!(strings(&joined_cluster.rewritten(Some("t"), None)), ["-tift"]);
    let none = parse("-t -i");
    assert_eq!(strings(&none.rewritten(Some("u@h"), Some("e"))), ["-f", "u@h", "-V", "e", "-t", "-i"]);
    assert_eq!(strings(&none.rewritten(None, None)), ["-t", "-i"]);
}

#[test]
fn non_utf8_arguments_pass_through() {
    let full_name = OsString::from_vec(b"-F\xe9t\xe9".to_vec());
    let inv = Invocation::parse(vec![full_name.clone(), OsString::from_vec(b"-f\xff@x".to_vec()), "a".into()]);
    assert_eq!(inv.mode, Mode::Send);
    assert_eq!(inv.rewritten(None, None)[0], full_name);
    assert_eq!(inv.sender.as_ref().and_then(|s| sender_address(&s.value)), None);
}

#[test]
fn sender_addresses() {
    assert_eq!(sender_address(OsStr::new("<>")), Some(""));
    assert_eq!(sender_address(OsStr::new("")), Some(""));
    assert_eq!(sender_address(OsStr::new(" <me@x.org> ")), Some("me@x.org"));
    assert_eq!(sender_address(OsStr::new("me@x.org")), Some("me@x.org"));
}
