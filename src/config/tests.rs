//! Unit tests of the config: defaults, the example, every kind of problem with its line, and
//! the lookup order.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;

const HOME: &str = "/home/ann";

fn ok(text: &str) -> Config {
    match parse(text, Path::new("t.toml"), Some(Path::new(HOME))) {
        Ok(config) => config,
        Err(err) => panic!("expected a valid config, got:\n{err}"),
    }
}

/// Every problem as `LINE: what — fix`.
fn problems(text: &str) -> Vec<String> {
    problems_with_home(text, Some(Path::new(HOME)))
}

fn problems_with_home(text: &str, home: Option<&Path>) -> Vec<String> {
    match parse(text, Path::new("t.toml"), home) {
        Ok(config) => panic!("expected problems, got {config:?}"),
        Err(ConfigError::Invalid { problems, .. }) => problems.iter().map(Problem::to_string).collect(),
        Err(err) => panic!("expected ConfigError::Invalid, got {err}"),
    }
}

/// The one problem in `text`.
fn problem(text: &str) -> String {
    let mut all = problems(text);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.remove(0)
}

#[test]
fn an_empty_file_gives_the_defaults() {
    let config = ok("");
    assert_eq!(config, Config::default());
    assert_eq!(config.keyring, None);
    assert_eq!(config.policy.mode, Mode::Enforce);
    assert_eq!(config.policy.grace_days, 7);
    assert_eq!(config.policy.folder, "Backscatter");
    let check =
        [Kind::Ndr, Kind::Delay, Kind::Delivered, Kind::AutoReply, Kind::Challenge, Kind::VirusNotice, Kind::Mdn];
    assert_eq!(config.policy.check, check);
    assert_eq!(config.sign.header, "X-Backscatter-Sig");
    assert_eq!(config.sign.sendmail_path, Path::new("/usr/sbin/sendmail.real"));
    assert!(config.sign.enabled && config.sign.batv && config.sign.message_id && !config.sign.fail_open);
    assert!(!config.sign.sent_log, "the sent log is opt-in");
    assert!(!config.spf.enabled && config.spf.helo && config.spf.skip_authenticated);
    assert_eq!((config.spf.dns, config.spf.void_lookups, config.spf.trusted_hops), (Dns::System, 2, 1));
    assert_eq!(config.spf.fail_action, SpfAction::Nothing);
    assert_eq!(config.metrics.listen, None);
    assert!(config.maildir.is_empty() && config.imap.is_empty());
    // Empty sections change nothing either.
    assert_eq!(ok("[sign]\n[policy]\n[spf]\n[metrics]\n"), Config::default());
}

#[test]
fn the_example_parses_and_validates() {
    let config = ok(EXAMPLE);
    assert_eq!(config.keyring, Some(PathBuf::from("/home/ann/.local/share/backscatter/keyring.toml")));
    assert_eq!(config.protected_domains, ["example.com"]);
    assert_eq!(config.policy.mode, Mode::Monitor, "the example starts safe");
    assert!(config.sign.sent_log);
    assert_eq!(config.maildir, [Maildir { path: "/home/ann/Maildir".to_owned(), sent: None }]);
    let imap = config.imap.first().expect("the example has an [[imap]]");
    assert_eq!((imap.name.as_str(), imap.port, imap.tls), ("work", 993, Tls::Implicit));
    assert_eq!(imap.auth, Auth::PasswordCommand(vec!["pass".into(), "show".into(), "mail/work".into()]));
    assert_eq!(config.metrics.listen, Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9911))));
}

#[test]
fn the_example_documents_every_key() {
    // Each key of each section is written (or shown commented out) in the example.
    for (section, keys) in schema::section_keys() {
        for key in keys {
            let written = EXAMPLE.lines().any(|line| {
                let line = line.trim_start_matches(['#', ' ']);
                line.starts_with(&format!("{key} ="))
                    || line.starts_with(&format!("[{key}]"))
                    || line.starts_with(&format!("[[{key}]]"))
                    || line.contains(&format!(" {key} = "))
            });
            assert!(written, "{section} key `{key}` is not in config/backscatter.toml");
        }
    }
}

#[test]
fn kind_names_are_the_classifier_words() {
    for (name, kind) in schema::KINDS {
        assert_eq!(serde_json::to_string(&kind).ok(), Some(format!("\"{name}\"")));
    }
}

#[test]
fn values_are_typed_and_expanded() {
    let config = ok(r#"
state_dir = "~"
protected_domains = ["Example.COM"]
[sign]
myorigin = "Mail.Example.com"
batv_exclude = ["*@lists.example.org"]
[policy]
mode = "enforce"
check = ["ndr", "auto-notice", "ndr", "forwarded-bounce"]
exempt_ips = ["192.0.2.0/24", "2001:db8::1"]
own_relays = ["198.51.100.7"]
[[maildir]]
path = "/var/vmail/*/*/Maildir"
[[maildir]]
path = "~/Maildir"
[[imap]]
host = "imap.example.net"
tls = "starttls"
username = "u"
password_env = "IMAP_PASSWORD"
[[imap]]
name = "b"
host = "imap.example.net"
tls = "none"
allow_plaintext = true
port = 10143
username = "u"
oauth2_token_command = ["token"]
mailboxes = ["INBOX", "Archive"]
[spf]
dns = "[::1]:5353"
"#);
    assert_eq!(config.state_dir, Some(PathBuf::from(HOME)));
    assert_eq!(config.protected_domains, ["example.com"]);
    assert_eq!(config.sign.myorigin.as_deref(), Some("mail.example.com"));
    assert_eq!(config.policy.check, [Kind::Ndr, Kind::AutoNotice, Kind::ForwardedBounce]);
    assert_eq!(config.policy.exempt_ips.len(), 2);
    assert!(config.policy.own_relays.iter().any(|net| net.contains([198, 51, 100, 7].into())));
    let paths: Vec<&str> = config.maildir.iter().map(|m| m.path.as_str()).collect();
    assert_eq!(paths, ["/var/vmail/*/*/Maildir", "/home/ann/Maildir"]);
    let [first, second] = config.imap.as_slice() else { panic!("two accounts: {:?}", config.imap) };
    assert_eq!((first.name.as_str(), first.port, first.tls), ("imap.example.net", 143, Tls::Starttls));
    assert_eq!(first.mailboxes, ["INBOX"]);
    assert_eq!(first.auth, Auth::PasswordEnv("IMAP_PASSWORD".into()));
    assert_eq!((second.name.as_str(), second.port, second.tls), ("b", 10143, Tls::None));
    assert_eq!(second.auth, Auth::OAuth2TokenCommand(vec!["token".into()]));
    assert_eq!(second.mailboxes, ["INBOX", "Archive"]);
    assert_eq!(config.spf.dns, Dns::Server("[::1]:5353".parse().expect("address")));
}

#[test]
fn spf_keys() {
    let config = ok(r#"[spf]
trusted_receivers = ["MX.example.com"]
trusted_hops = 2
allow_ips = ["192.0.2.0/24"]
void_lookups = 3
fail_action = "move"
fail_folder = "Spam"
pass_score = -4
"#);
    assert_eq!(config.spf.trusted_receivers, ["mx.example.com"]);
    assert_eq!((config.spf.trusted_hops, config.spf.void_lookups, config.spf.pass_score), (2, 3, -4));
    assert_eq!((config.spf.fail_action, config.spf.fail_folder.as_str()), (SpfAction::Move, "Spam"));
    assert!(config.spf.allow_ips[0].contains([192, 0, 2, 9].into()));
    // RFC 7208 §4.6.4: fewer than two void lookups is not allowed.
    assert!(problem("[spf]\nvoid_lookups = 1\n").starts_with("2: spf.void_lookups = 1 is out of range — use 2 to 10"));
    assert!(
        problem("[spf]\nfail_action = \"drop\"\n").starts_with("2: spf.fail_action = \"drop\" is not a fail action")
    );
}

#[test]
fn an_inline_password_is_never_printed() {
    let config = ok("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword = \"hunter2\"\n");
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2") && shown.contains("Password(<redacted>)"), "{shown}");
}

#[test]
fn unknown_keys_suggest_near_misses() {
    assert_eq!(problem("polcy = 1\n"), "1: unknown key `polcy` in [root] — did you mean `policy`?");
    assert_eq!(problem("\n[polcy]\nmode = \"x\"\n"), "2: unknown key `polcy` in [root] — did you mean `policy`?");
    assert_eq!(
        problem("[policy]\n\ngrace_day = 3\n"),
        "3: unknown key `grace_day` in [policy] — did you mean `grace_days`?"
    );
    assert_eq!(
        problem("[[maildir]]\npath = \"/m\"\nPath = \"/n\"\n"),
        "3: unknown key `Path` in [[maildir]] — did you mean `path`?"
    );
}

#[test]
fn unknown_keys_say_where_they_belong_or_what_is_known() {
    assert_eq!(
        problem("mode = \"monitor\"\n"),
        "1: unknown key `mode` in [root] — it belongs in [policy]; move it there"
    );
    assert_eq!(
        problem("[metrics]\nport = 9\n"),
        "2: unknown key `port` in [metrics] — it belongs in [[imap]]; move it there"
    );
    assert_eq!(
        problem("[spf]\nzzz = 1\n"),
        "2: unknown key `zzz` in [spf] — remove it; the keys of [spf] are enabled, dns, trusted_receivers, trusted_hops, authserv_id, skip_authenticated, allow_ips, helo, void_lookups, fail_action, fail_folder, fail_score, trusted_domains, pass_score"
    );
}

#[test]
fn wrong_types_say_how_to_write_the_key() {
    assert_eq!(
        problem("[policy]\ngrace_days = \"7\"\n"),
        "2: policy.grace_days is a string, not an integer — write it like `grace_days = 7`"
    );
    assert_eq!(
        problem("[sign]\nbatv = \"yes\"\n"),
        "2: sign.batv is a string, not true or false — write it like `batv = true`"
    );
    assert_eq!(problem("policy = 3\n"), "1: policy is an integer, not a table — write it like `[policy]`");
    assert_eq!(
        problem("[maildir]\npath = \"/m\"\n"),
        "1: maildir is a table, not an array of tables — write it like `[[maildir]] (one per Maildir)`"
    );
    assert_eq!(
        problem("protected_domains = [\"a.example\",\n  7]\n"),
        "2: protected_domains[1] is an integer, not a string — write it like `protected_domains = [\"example.com\"]`"
    );
    assert_eq!(
        problem("keyring = 1.5\n"),
        "1: keyring is a float, not a string — write it like `keyring = \"/etc/backscatter/keyring.toml\"`"
    );
}

#[test]
fn bad_choices_list_the_good_ones() {
    assert_eq!(
        problem("[policy]\nmode = \"enforcing\"\n"),
        "2: policy.mode = \"enforcing\" is not a mode — use \"monitor\" or \"enforce\""
    );
    assert_eq!(
        problem("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\ntls = \"ssl\"\n"),
        "5: imap.tls = \"ssl\" is not a TLS mode — use \"implicit\", \"starttls\" or \"none\""
    );
    let near = problem("[policy]\ncheck = [\"ndr\", \"autoreplies\"]\n");
    assert!(
        near.starts_with("2: policy.check: \"autoreplies\" is not a kind — did you mean \"autoreply\"? (one of ndr,"),
        "{near}"
    );
    let far = problem("[policy]\ncheck = [\"bounce\"]\n");
    assert!(far.starts_with("2: policy.check: \"bounce\" is not a kind — use one of ndr, delay,"), "{far}");
}

#[test]
fn bad_values_are_named_with_the_fix() {
    assert_eq!(problem("[policy]\ngrace_days = -1\n"), "2: policy.grace_days = -1 is out of range — use 0 to 365 days");
    assert_eq!(
        problem("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\nport = 70000\n"),
        "5: imap.port = 70000 is out of range — use a port from 1 to 65535"
    );
    assert_eq!(
        problem("[sign]\nsendmail_path = \"\"\n"),
        "2: sign.sendmail_path is empty — write a path starting with / or ~/, like `sendmail_path = \"/usr/sbin/sendmail.real\"`"
    );
    assert_eq!(
        problem("[sign]\nheader = \"X-Sig:\"\n"),
        "2: sign.header = \"X-Sig:\" is not a header field name — use letters, digits and `-`, e.g. \"X-Backscatter-Sig\""
    );
    assert_eq!(
        problem("keyring = \"keys.toml\"\n"),
        "1: keyring = \"keys.toml\" is not a full path — write a path starting with / or ~/, like `keyring = \"/etc/backscatter/keyring.toml\"`"
    );
    assert_eq!(
        problem("[policy]\nown_relays = [\"10.1.2.3/8\"]\n"),
        "2: policy.own_relays: \"10.1.2.3/8\" is not an IP address or network — host bits are set; the network is \"10.0.0.0/8\""
    );
    assert!(problem("protected_domains = [\"me@example.com\"]\n")
        .starts_with("1: protected_domains: \"me@example.com\" is not a domain name — "));
    assert!(problem("[policy]\nfolder = \"a//b\"\n").starts_with("2: policy.folder = \"a//b\" is not a folder name — "));
    assert!(problem("[spf]\nfail_folder = \".Junk\"\n")
        .starts_with("2: spf.fail_folder = \".Junk\" is not a folder name — "));
    // `\Junk` is the IMAP server's mark: a Maildir has none to go by.
    assert_eq!(
        problem("[policy]\nfolder = \"\\\\Junk\"\n[[maildir]]\npath = \"/var/mail/a\"\n"),
        "2: policy.folder = \"\\\\Junk\" names the folder an IMAP server marks \\Junk, but Maildirs carry no such mark — write the folder's name, e.g. \"Junk\""
    );
    assert!(problem("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\npoll_seconds = 1800\n")
        .starts_with("5: imap.poll_seconds = 1800 is out of range — "));
    assert!(problem("[spf]\ndns = \"8.8.8.8\"\n")
        .starts_with("2: spf.dns = \"8.8.8.8\" is not \"system\" or an IP:PORT address — "));
    assert!(problem("[metrics]\nlisten = \"localhost:9911\"\n")
        .starts_with("2: metrics.listen = \"localhost:9911\" is not an IP:PORT address — "));
    assert!(problem("[sign]\nbatv_exclude = [\"\"]\n").starts_with("2: sign.batv_exclude has an empty string — "));
}

#[test]
fn home_is_needed_only_for_tilde_paths() {
    let found = problems_with_home("[[maildir]]\npath = \"~/Maildir\"\n", None);
    assert_eq!(found, ["2: maildir.path = \"~/Maildir\" needs $HOME, which is not set — write the full path"]);
    assert!(parse("[[maildir]]\npath = \"/m\"\n", Path::new("t"), None).is_ok());
}

#[test]
fn imap_accounts_need_host_user_and_exactly_one_secret() {
    assert_eq!(
        problems("\n[[imap]]\nport = 993\n"),
        [
            "2: [[imap]] has no host — add `host = \"imap.example.com\"`",
            "2: [[imap]] has no username — add `username = \"me@example.com\"`",
            "2: [[imap]] has no password or token source — add one of password, password_file, password_env, password_command, oauth2_token_command",
        ]
    );
    assert_eq!(
        problem("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword_file = \"/p\"\npassword_command = [\"pass\"]\n"),
        "5: imap.password_command is set as well as imap.password_file — keep exactly one password or token source"
    );
    assert!(problem("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword_command = []\n")
        .starts_with("4: imap.password_command is empty — name the program and its arguments"));
    assert!(problem("[[imap]]\nhost = \"imaps://h:993\"\nusername = \"u\"\npassword = \"p\"\n")
        .starts_with("2: imap.host = \"imaps://h:993\" is not a host name — "));
    assert!(problem("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\nmailboxes = []\n")
        .starts_with("5: imap.mailboxes is empty — "));
}

#[test]
fn imap_names_are_unique() {
    let account = "host = \"h\"\nusername = \"u\"\npassword = \"p\"\n";
    // The second account's name defaults to the host, which the first already uses.
    assert_eq!(
        problem(&format!("[[imap]]\n{account}[[imap]]\n{account}")),
        "5: [[imap]] has no name, and its host \"h\" names an earlier [[imap]] — give each [[imap]] its own name = \"…\""
    );
    // An account with problems of its own still claims its name.
    let broken = "[[imap]]\nname = \"a\"\nhost = \"h\"\n";
    assert_eq!(
        problems(&format!("{broken}[[imap]]\nname = \"a\"\n{account}")),
        [
            "1: [[imap]] has no username — add `username = \"me@example.com\"`",
            "1: [[imap]] has no password or token source — add one of password, password_file, password_env, password_command, oauth2_token_command",
            "5: imap.name = \"a\" is the name of an earlier [[imap]] — give each [[imap]] its own name = \"…\"",
        ]
    );
    assert_eq!(ok("[[imap]]\nname = \"v6\"\nhost = \"::1\"\nusername = \"u\"\npassword = \"p\"\n").imap.len(), 1);
    assert!(ok(&format!("[[imap]]\n{account}[[imap]]\nname = \"two\"\n{account}")).imap.len() == 2);
}

#[test]
fn every_problem_is_reported_in_line_order() {
    let text = "\
polcy = 1
[policy]
mode = \"enforcing\"
grace_days = \"7\"
check = [\"ndr\", \"nope\"]
[[maildir]]
[sign]
sendmail_path = \"\"
";
    let found = problems(text);
    let lines: Vec<&str> = found.iter().filter_map(|p| p.split(':').next()).collect();
    assert_eq!(lines, ["1", "3", "4", "5", "6", "8"], "{found:#?}");
}

#[test]
fn syntax_errors_have_their_line() {
    let found = problem("a = 1\n\n[policy\nmode = 1\n");
    assert!(found.starts_with("3: TOML syntax error: "), "{found}");
    assert!(found.ends_with("— fix the syntax (see https://toml.io); no other check ran"), "{found}");
    let duplicate = problem("[sign]\nbatv = true\nbatv = false\n");
    assert!(duplicate.starts_with("3: TOML syntax error: duplicate key"), "{duplicate}");
    assert_eq!(
        problem("\nkeyring = 1979-05-27\n"),
        "2: a date-time value, which no key takes — put it in quotes or remove it"
    );
}

#[test]
fn the_error_prints_one_problem_per_line_with_the_file() {
    let err = parse("polcy = 1\nmode = 2\n", Path::new("/etc/backscatter/config.toml"), None).expect_err("bad");
    assert_eq!(
        err.to_string(),
        "/etc/backscatter/config.toml:1: unknown key `polcy` in [root] — did you mean `policy`?\n\
         /etc/backscatter/config.toml:2: unknown key `mode` in [root] — it belongs in [policy]; move it there"
    );
}

#[test]
fn load_reads_the_file_or_says_why_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("config.toml");
    assert!(matches!(load(&path), Err(ConfigError::Read { .. })));
    std::fs::write(&path, "[policy]\nmode = \"monitor\"\n").expect("write");
    assert_eq!(load(&path).map(|c| c.policy.mode).ok(), Some(Mode::Monitor));
}

/// An environment made of `vars`, where only `files` exist.
fn lookup(explicit: Option<&str>, vars: &[(&str, &str)], files: &[&str]) -> Option<PathBuf> {
    let env = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v));
    let exists = |path: &Path| files.iter().any(|f| Path::new(f) == path);
    locate(explicit.map(Path::new), env, exists)
}

#[test]
fn lookup_order() {
    let all = [
        "/x/c.toml",
        "/env.toml",
        "/xdg/backscatter/config.toml",
        "/home/ann/.config/backscatter/config.toml",
        "/etc/backscatter/config.toml",
    ];
    let vars = [("BACKSCATTER_CONFIG", "/env.toml"), ("XDG_CONFIG_HOME", "/xdg"), ("HOME", HOME)];
    let found = |explicit, vars: &[(&str, &str)], files: &[&str]| {
        lookup(explicit, vars, files).map(|p| p.display().to_string())
    };
    // -c wins, then $BACKSCATTER_CONFIG, both even when the file is missing (reported by load).
    assert_eq!(found(Some("/x/c.toml"), &vars, &all).as_deref(), Some("/x/c.toml"));
    assert_eq!(found(Some("/missing"), &vars, &all).as_deref(), Some("/missing"));
    assert_eq!(found(None, &vars, &all).as_deref(), Some("/env.toml"));
    assert_eq!(found(None, &vars, &[]).as_deref(), Some("/env.toml"));
    // Then the first of the default places that exists.
    let no_env = &vars[1..];
    assert_eq!(found(None, no_env, &all).as_deref(), Some("/xdg/backscatter/config.toml"));
    assert_eq!(found(None, no_env, &all[3..]).as_deref(), Some("/etc/backscatter/config.toml"));
    let home_only = [("HOME", HOME), ("XDG_CONFIG_HOME", ""), ("BACKSCATTER_CONFIG", "")];
    assert_eq!(found(None, &home_only, &all).as_deref(), Some("/home/ann/.config/backscatter/config.toml"));
    assert_eq!(found(None, &[], &all).as_deref(), Some("/etc/backscatter/config.toml"));
    assert_eq!(found(None, &vars[1..], &["/elsewhere"]), None);
}

#[test]
fn data_dir_follows_xdg() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| OsString::from(v))
    };
    assert_eq!(data_dir(env(&[("XDG_DATA_HOME", "/d"), ("HOME", HOME)])), Some(PathBuf::from("/d/backscatter")));
    assert_eq!(data_dir(env(&[("HOME", HOME)])), Some(PathBuf::from("/home/ann/.local/share/backscatter")));
    assert_eq!(data_dir(env(&[])), None);
}

#[test]
fn mangled_files_never_panic() {
    // Deterministic mutations of the example (xorshift): whatever the bytes, `parse` returns a
    // config or problems, and every problem has a line inside the file (or the empty line after
    // its final newline, where an unterminated value ends).
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        usize::try_from(state % 1_000_003).unwrap_or(0)
    };
    let alphabet = "[]{}=\"'#\n .,~/:0123456789-_aZé\\".as_bytes();
    for _ in 0..3000 {
        let mut text = EXAMPLE.as_bytes().to_vec();
        for _ in 0..next() % 6 + 1 {
            let at = next() % (text.len() + 1);
            let byte = alphabet.get(next() % alphabet.len()).copied().unwrap_or(b'x');
            match next() % 3 {
                0 if at < text.len() => drop(text.remove(at)),
                1 => text.insert(at, byte),
                _ => text.get_mut(at).into_iter().for_each(|b| *b = byte),
            }
        }
        let Ok(text) = String::from_utf8(text) else { continue };
        if let Err(ConfigError::Invalid { problems, .. }) = parse(&text, Path::new("t"), Some(Path::new(HOME))) {
            let lines = text.lines().count() + 1;
            assert!(problems.iter().all(|p| (1..=lines).contains(&p.line)), "{problems:?} in\n{text}");
        }
    }
}

#[test]
fn plaintext_imap_only_to_loopback_unless_allowed() {
    let account = "[[imap]]\nhost = \"imap.example.com\"\nusername = \"u\"\npassword = \"p\"\ntls = \"none\"\n";
    assert_eq!(
        problem(account),
        "5: imap.tls = \"none\" would send the password for imap.example.com in clear — use tls = \"starttls\" or \"implicit\" (or, on a network you trust, allow_plaintext = true)"
    );
    assert!(ok(&format!("{account}allow_plaintext = true\n")).imap[0].allow_plaintext);
    for host in ["127.0.0.1", "::1", "localhost"] {
        let local = format!("[[imap]]\nhost = \"{host}\"\nusername = \"u\"\npassword = \"p\"\ntls = \"none\"\n");
        assert_eq!(ok(&local).imap[0].tls, Tls::None, "{host}");
    }
}

#[test]
fn milter_section_is_read_and_checked() {
    let d = ok("").milter;
    assert_eq!(d.listen.to_string(), "inet:127.0.0.1:8891");
    assert_eq!((d.action, d.spf_fail), (MilterAction::Reject, SpfFail::Header));
    assert!(d.sign_networks.iter().any(|n| n.contains("127.0.0.9".parse().expect("ip"))));
    let m = ok("[milter]\nlisten = \"unix:/run/m.sock\"\nsign_networks = [\"192.0.2.0/24\"]\naction = \"quarantine\"\nspf_fail = \"reject\"\n").milter;
    assert_eq!(m.listen, Listen::Unix(PathBuf::from("/run/m.sock")));
    assert!(!m.sign_networks.iter().any(|n| n.contains("127.0.0.1".parse().expect("ip"))), "replaces loopback");
    assert_eq!((m.action, m.spf_fail), (MilterAction::Quarantine, SpfFail::Reject));
    assert_eq!(ok("[milter]\nsign_networks = []\n").milter.sign_networks, []);
    let bad = problems("[milter]\nlisten = \"localhost:8891\"\naction = \"drop\"\n");
    assert!(
        bad[0].starts_with("2: milter.listen = \"localhost:8891\" is not a milter socket — write Postfix's notation"),
        "{bad:?}"
    );
    assert_eq!(
        bad[1],
        "3: milter.action = \"drop\" is not a milter action — use \"reject\", \"quarantine\" or \"header\""
    );
}

#[test]
fn sent_folders_per_mailbox() {
    let config = ok(r#"
[[maildir]]
path = "/m/a"
[[maildir]]
path = "/m/b"
sent = []
[[maildir]]
path = "/m/c"
sent = [".Sent", "/elsewhere/Sent"]
[[imap]]
host = "imap.example.com"
username = "me"
password = "x"
sent = ["Gesendet"]
"#);
    let sent: Vec<Option<Vec<String>>> = config.maildir.iter().map(|m| m.sent.clone()).collect();
    assert_eq!(sent, [None, Some(vec![]), Some(vec![".Sent".to_owned(), "/elsewhere/Sent".to_owned()])]);
    assert_eq!(config.imap[0].sent, Some(vec!["Gesendet".to_owned()]));
    let found = problems("[[maildir]]\npath = \"/m\"\nsent = [\"\", 3]\n");
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().any(|p| p.contains("maildir.sent has an empty string")), "{found:?}");
    assert!(found.iter().any(|p| p.contains("maildir.sent[1] is an integer, not a string")), "{found:?}");
}

#[test]
fn imap_folder_names_and_the_poll_interval() {
    // A delimiter-qualified name (Cyrus with unixhierarchysep) and the SPECIAL-USE junk folder.
    let config = ok("[policy]\nfolder = \"INBOX/Backscatter\"\n[spf]\nfail_folder = \"\\\\Junk\"\n[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\npoll_seconds = 5\n");
    assert_eq!((config.policy.folder.as_str(), config.spf.fail_folder.as_str()), ("INBOX/Backscatter", "\\Junk"));
    assert_eq!(config.imap[0].poll_interval, std::time::Duration::from_secs(5));
    let default = ok("[[imap]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\n");
    assert_eq!(default.imap[0].poll_interval, std::time::Duration::from_secs(60));
}
