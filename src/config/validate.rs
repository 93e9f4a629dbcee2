//! The walk: goes through the file's tree section by section, checks every key and value
//! against the [`schema`](super::schema), collects every problem (never just the first) and
//! builds the [`Config`].

use std::path::Path;

use toml::Spanned;

use super::raw::{Lines, Node, Table};
use super::schema::{
    example, Schema, AUTH_KEYS, DNS_FIX, IMAP, KINDS, LISTEN_FIX, MAILDIR, METRICS, MILTER, MILTER_ACTIONS,
    MILTER_LISTEN_FIX, MODES, POLICY, ROOT, SIGN, SPF, SPF_ACTIONS, SPF_FAILS, TLS,
};
use super::{Auth, Config, Dns, Imap, Listen, Maildir, Metrics, Milter, Policy, Problem, Sign, Spf, Tls};
use crate::classify::Kind;

/// Checks the root table and builds the config, or returns every problem found.
pub fn config(root: &Table, lines: &Lines, home: Option<&Path>) -> Result<Config, Vec<Problem>> {
    let mut c = Checker { lines, home, problems: Vec::new(), junk: Vec::new() };
    let root = Section { table: root, schema: &ROOT, line: 1 };
    let config = c.root(&root);
    if c.problems.is_empty() {
        Ok(config)
    } else {
        Err(c.problems)
    }
}

/// One table of the file with its schema.
pub(super) struct Section<'t> {
    /// Its keys and values.
    pub table: &'t Table,
    /// What it may hold.
    pub schema: &'static Schema,
    /// The line of its `[header]`, for keys that are missing.
    pub line: usize,
}

impl<'t> Section<'t> {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&'t Spanned<Node>> {
        self.table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
    }
}

/// Collects problems while building the config.
pub(super) struct Checker<'a> {
    /// Byte offsets to lines.
    pub lines: &'a Lines,
    /// `~/` expands to this.
    pub home: Option<&'a Path>,
    /// Every problem so far.
    pub problems: Vec<Problem>,
    /// Where a folder key says `\Junk` (line, key), which only IMAP servers can mark.
    junk: Vec<(usize, &'static str)>,
}

impl Checker<'_> {
    fn root(&mut self, s: &Section) -> Config {
        self.unknown_keys(s);
        let mut config = Config {
            keyring: self.path(s, "keyring"),
            state_dir: self.path(s, "state_dir"),
            protected_domains: self.domains(s, "protected_domains"),
            ..Config::default()
        };
        config.user = self.string(s, "user").map(|(user, _)| user.to_owned());
        if let Some((size, span)) = self.integer(s, "max_message_size") {
            match u64::try_from(size) {
                Ok(size) if size >= 1024 => config.max_message_size = size,
                _ => {
                    self.problem(&span, format!("max_message_size = {size} is too small"), "give bytes, at least 1024")
                }
            }
        }
        if let Some(sign) = self.section(s, "sign", &SIGN) {
            config.sign = self.sign(&sign);
        }
        if let Some(policy) = self.section(s, "policy", &POLICY) {
            config.policy = self.policy(&policy);
        }
        for maildir in self.sections(s, "maildir", &MAILDIR) {
            config.maildir.extend(self.maildir(&maildir));
        }
        let mut names = Vec::new();
        for imap in self.sections(s, "imap", &IMAP) {
            config.imap.extend(self.imap(&imap, &mut names));
        }
        if let Some(spf) = self.section(s, "spf", &SPF) {
            config.spf = self.spf(&spf);
        }
        if let Some(metrics) = self.section(s, "metrics", &METRICS) {
            self.unknown_keys(&metrics);
            config.metrics = Metrics { listen: self.parsed(&metrics, "listen", "an IP:PORT address", LISTEN_FIX) };
        }
        if let Some(milter) = self.section(s, "milter", &MILTER) {
            config.milter = self.milter(&milter);
        }
        if !config.maildir.is_empty() {
            for (line, key) in std::mem::take(&mut self.junk) {
                let what = format!("{key} = \"\\\\Junk\" names the folder an IMAP server marks \\Junk, but Maildirs carry no such mark");
                self.problem_at(line, what, "write the folder's name, e.g. \"Junk\"");
            }
        }
        config
    }

    /// A folder name (`policy.folder`, `spf.fail_folder`): `\Junk` (RFC 6154: the mailbox the
    /// IMAP server marks so), or a name with `/` between hierarchy levels — each level not empty
    /// and not starting or ending with `.` (Maildir++ writes levels as `.A.B`). IMAP joins it
    /// with the server's namespace and delimiter, so `INBOX/Backscatter` and `INBOX.Backscatter`
    /// both work there.
    fn folder(&mut self, s: &Section, key: &'static str, example: &str) -> Option<String> {
        let (folder, span) = self.string(s, key)?;
        if folder.eq_ignore_ascii_case(crate::store::imap::folders::JUNK) {
            let name = if s.schema.prefix == "policy." { "policy.folder" } else { "spf.fail_folder" };
            self.junk.push((self.lines.of(&span), name));
            return Some(folder.to_owned());
        }
        let level_ok = |level: &str| !level.is_empty() && !level.starts_with('.') && !level.ends_with('.');
        if folder.split('/').all(level_ok) && !folder.chars().any(char::is_control) {
            return Some(folder.to_owned());
        }
        let what = format!("{}{key} = {folder:?} is not a folder name", s.schema.prefix);
        let fix = format!(
            "write levels with `/` (none empty, none starting or ending with `.`), e.g. \"{example}\" or \"INBOX/{example}\", or \"\\\\Junk\" for the server's junk folder"
        );
        self.problem(&span, what, fix);
        None
    }

    fn milter(&mut self, s: &Section) -> Milter {
        self.unknown_keys(s);
        let d = Milter::default();
        let listen = self.parsed::<Listen>(s, "listen", "a milter socket", MILTER_LISTEN_FIX);
        let action =
            self.string(s, "action").and_then(|v| self.choice(s, "action", v, &MILTER_ACTIONS, "milter action"));
        let spf_fail =
            self.string(s, "spf_fail").and_then(|v| self.choice(s, "spf_fail", v, &SPF_FAILS, "SPF fail action"));
        Milter {
            listen: listen.unwrap_or(d.listen),
            sign_networks: if s.get("sign_networks").is_some() {
                self.cidrs(s, "sign_networks")
            } else {
                d.sign_networks
            },
            action: action.unwrap_or(d.action),
            spf_fail: spf_fail.unwrap_or(d.spf_fail),
            received_spf: self.boolean(s, "received_spf").unwrap_or(d.received_spf),
            received_spf_none: self.boolean(s, "received_spf_none").unwrap_or(d.received_spf_none),
        }
    }

    fn sign(&mut self, s: &Section) -> Sign {
        self.unknown_keys(s);
        let d = Sign::default();
        let header = self.string(s, "header").and_then(|(header, span)| {
            if !header.is_empty() && header.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                return Some(header.to_owned());
            }
            let what = format!("sign.header = {header:?} is not a header field name");
            // RFC 5322 §3.6.8: field-name = 1*ftext, printable US-ASCII except ":".
            self.problem(&span, what, "use letters, digits and `-`, e.g. \"X-Backscatter-Sig\"");
            None
        });
        let batv_exclude = self.strings(s, "batv_exclude").map(|patterns| self.non_empty(s, "batv_exclude", patterns));
        Sign {
            enabled: self.boolean(s, "enabled").unwrap_or(d.enabled),
            // Refusing a path that is backscatter itself needs the file system: done at use.
            sendmail_path: self.path(s, "sendmail_path").unwrap_or(d.sendmail_path),
            header: header.unwrap_or(d.header),
            batv: self.boolean(s, "batv").unwrap_or(d.batv),
            batv_exclude: batv_exclude.unwrap_or(d.batv_exclude),
            message_id: self.boolean(s, "message_id").unwrap_or(d.message_id),
            sign_envid: self.boolean(s, "sign_envid").unwrap_or(d.sign_envid),
            myorigin: self.string(s, "myorigin").and_then(|value| self.domain(s, "myorigin", value)),
            fail_open: self.boolean(s, "fail_open").unwrap_or(d.fail_open),
            sent_log: self.boolean(s, "sent_log").unwrap_or(d.sent_log),
        }
    }

    fn policy(&mut self, s: &Section) -> Policy {
        self.unknown_keys(s);
        let d = Policy::default();
        let grace_days = self.integer(s, "grace_days").and_then(|(days, span)| match u32::try_from(days) {
            Ok(days) if days <= 365 => Some(days),
            _ => {
                self.problem(&span, format!("policy.grace_days = {days} is out of range"), "use 0 to 365 days");
                None
            }
        });
        let check = self.strings(s, "check").map(|names| {
            let mut kinds: Vec<Kind> = Vec::new();
            for kind in names.into_iter().filter_map(|name| self.choice(s, "check", name, &KINDS, "kind")) {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            kinds
        });
        let folder = self.folder(s, "folder", "Backscatter");
        Policy {
            mode: self.string(s, "mode").and_then(|v| self.choice(s, "mode", v, &MODES, "mode")).unwrap_or(d.mode),
            grace_days: grace_days.unwrap_or(d.grace_days),
            check: check.unwrap_or(d.check),
            folder: folder.unwrap_or(d.folder),
            exempt_domains: self.domains(s, "exempt_domains"),
            exempt_ips: self.cidrs(s, "exempt_ips"),
            own_relays: self.cidrs(s, "own_relays"),
            all_bounces: self.boolean(s, "all_bounces").unwrap_or(d.all_bounces),
        }
    }

    fn maildir(&mut self, s: &Section) -> Option<Maildir> {
        self.unknown_keys(s);
        let path = self.required(s, "path").and(self.path(s, "path"))?;
        // Glob patterns stay as written; the store expands them (and picks up new matches).
        let sent = self.strings(s, "sent").map(|names| self.non_empty(s, "sent", names));
        Some(Maildir { path: path.to_string_lossy().into_owned(), sent })
    }

    /// One account; `names` holds the names of the accounts before it.
    fn imap(&mut self, s: &Section, names: &mut Vec<String>) -> Option<Imap> {
        self.unknown_keys(s);
        let host = self.required(s, "host").and(self.string(s, "host")).and_then(|(host, span)| {
            let name_like = !host.is_empty() && !host.contains(char::is_whitespace) && !host.contains(['/', ':']);
            if name_like || host.parse::<std::net::Ipv6Addr>().is_ok() {
                return Some(host.to_owned());
            }
            let fix = "write only the host name, e.g. \"imap.example.com\"; port and tls are keys of their own";
            self.problem(&span, format!("imap.host = {host:?} is not a host name"), fix);
            None
        });
        let username = self
            .required(s, "username")
            .and(self.string(s, "username"))
            .and_then(|(name, span)| self.non_empty(s, "username", vec![(name, span)]).pop());
        let tls_value = self.string(s, "tls");
        let tls = tls_value.clone().and_then(|v| self.choice(s, "tls", v, &TLS, "TLS mode"));
        let allow_plaintext = self.boolean(s, "allow_plaintext").unwrap_or(false);
        let loopback = |h: &str| h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if let (Some(Tls::None), Some(host), Some((_, span))) = (tls, host.as_deref(), &tls_value) {
            if !loopback(host) && !allow_plaintext {
                let what = format!("imap.tls = \"none\" would send the password for {host} in clear");
                let fix = "use tls = \"starttls\" or \"implicit\" (or, on a network you trust, allow_plaintext = true)";
                self.problem(span, what, fix);
            }
        }
        let port = self.integer(s, "port").and_then(|(port, span)| match u16::try_from(port) {
            Ok(port) if port > 0 => Some(port),
            _ => {
                self.problem(&span, format!("imap.port = {port} is out of range"), "use a port from 1 to 65535");
                None
            }
        });
        let mailboxes = self.strings(s, "mailboxes").map(|names| self.non_empty(s, "mailboxes", names));
        if let Some(mailboxes) = &mailboxes {
            if mailboxes.is_empty() {
                self.missing_value(s, "mailboxes", "list at least one, e.g. mailboxes = [\"INBOX\"]");
            }
        }
        let name = match self.string(s, "name") {
            Some((name, span)) => self.imap_name(name, self.lines.of(&span), names),
            None => host.as_deref().and_then(|host| self.default_imap_name(host, s.line, names)),
        };
        let ca_file = self.path(s, "ca_file");
        let sent = self.strings(s, "sent").map(|names| self.non_empty(s, "sent", names));
        // RFC 3501 §5.4: a server may log out a client silent for 30 minutes.
        let poll_seconds = self.integer(s, "poll_seconds").and_then(|(seconds, span)| match u64::try_from(seconds) {
            Ok(seconds @ 1..=1740) => Some(seconds),
            _ => {
                let what = format!("imap.poll_seconds = {seconds} is out of range");
                self.problem(&span, what, "use 1 to 1740 seconds (servers log out clients silent for 30 minutes)");
                None
            }
        });
        let auth = self.auth(s);
        let tls = tls.unwrap_or_default();
        Some(Imap {
            name: name?,
            host: host?,
            port: port.unwrap_or(tls.default_port()),
            tls,
            allow_plaintext,
            ca_file,
            username: username?,
            auth: auth?,
            mailboxes: mailboxes.unwrap_or_else(|| vec!["INBOX".to_owned()]),
            sent,
            poll_interval: std::time::Duration::from_secs(poll_seconds.unwrap_or(60)),
        })
    }

    /// An account name: not empty, usable in a file name (it names the account's state), not
    /// used by an earlier account.
    fn imap_name(&mut self, name: &str, line: usize, names: &mut Vec<String>) -> Option<String> {
        if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
            let fix = "use a short name without `/`, e.g. \"work\"";
            self.problem_at(line, format!("imap.name = {name:?} is not a usable account name"), fix);
            return None;
        }
        if names.iter().any(|earlier| earlier == name) {
            let fix = "give each [[imap]] its own name = \"…\"";
            self.problem_at(line, format!("imap.name = {name:?} is the name of an earlier [[imap]]"), fix);
            return None;
        }
        names.push(name.to_owned());
        Some(name.to_owned())
    }

    /// The name of an account that has none: its host, if no earlier account has that name.
    fn default_imap_name(&mut self, host: &str, line: usize, names: &mut Vec<String>) -> Option<String> {
        if names.iter().any(|earlier| earlier == host) {
            let what = format!("[[imap]] has no name, and its host {host:?} names an earlier [[imap]]");
            self.problem_at(line, what, "give each [[imap]] its own name = \"…\"");
            return None;
        }
        names.push(host.to_owned());
        Some(host.to_owned())
    }

    /// Exactly one secret source (STYLE 12).
    fn auth(&mut self, s: &Section) -> Option<Auth> {
        let set: Vec<&str> = AUTH_KEYS.into_iter().filter(|key| s.get(key).is_some()).collect();
        match set.as_slice() {
            [] => {
                let what = "[[imap]] has no password or token source".to_owned();
                self.problem_at(s.line, what, format!("add one of {}", AUTH_KEYS.join(", ")));
                None
            }
            [key] => self.auth_source(s, key),
            [first, rest @ ..] => {
                for key in rest {
                    if let Some(node) = s.get(key) {
                        let what = format!("imap.{key} is set as well as imap.{first}");
                        self.problem(&node.span(), what, "keep exactly one password or token source");
                    }
                }
                None
            }
        }
    }

    fn auth_source(&mut self, s: &Section, key: &str) -> Option<Auth> {
        match key {
            "password" => {
                let (password, span) = self.string(s, key)?;
                self.non_empty(s, key, vec![(password, span)]).pop().map(Auth::Password)
            }
            "password_file" => self.path(s, key).map(Auth::PasswordFile),
            "password_env" => {
                let (name, span) = self.string(s, key)?;
                if !name.is_empty() && !name.contains(['=', '\0']) {
                    return Some(Auth::PasswordEnv(name.to_owned()));
                }
                let what = format!("imap.password_env = {name:?} is not an environment variable name");
                self.problem(&span, what, "name the variable, e.g. \"IMAP_PASSWORD\"");
                None
            }
            "password_command" => self.command(s, key).map(Auth::PasswordCommand),
            _ => self.command(s, key).map(Auth::OAuth2TokenCommand),
        }
    }

    /// A command as an argv array: not empty, the program named.
    fn command(&mut self, s: &Section, key: &str) -> Option<Vec<String>> {
        let argv = self.strings(s, key)?;
        if argv.first().is_some_and(|(program, _)| !program.is_empty()) {
            return Some(argv.into_iter().map(|(arg, _)| arg.to_owned()).collect());
        }
        let fix = format!("name the program and its arguments, e.g. {}", example(s.schema, key));
        self.missing_value(s, key, &fix);
        None
    }

    fn spf(&mut self, s: &Section) -> Spf {
        self.unknown_keys(s);
        let d = Spf::default();
        let mut ranged = |key: &str, low: i64, high: i64, fix: &str| {
            self.integer(s, key).and_then(|(value, span)| {
                if (low..=high).contains(&value) {
                    return u32::try_from(value).ok();
                }
                self.problem(&span, format!("spf.{key} = {value} is out of range"), fix);
                None
            })
        };
        // RFC 7208 §4.6.4: at least two void lookups must be allowed.
        let void_lookups = ranged("void_lookups", 2, 10, "use 2 to 10 (RFC 7208 recommends 2)");
        let trusted_hops = ranged("trusted_hops", 1, 20, "use 1 to 20 Received: lines from the top");
        let folder = self.folder(s, "fail_folder", "Junk");
        let action =
            self.string(s, "fail_action").and_then(|v| self.choice(s, "fail_action", v, &SPF_ACTIONS, "fail action"));
        Spf {
            enabled: self.boolean(s, "enabled").unwrap_or(d.enabled),
            dns: self.parsed::<Dns>(s, "dns", "\"system\" or an IP:PORT address", DNS_FIX).unwrap_or(d.dns),
            trusted_receivers: self.domains(s, "trusted_receivers"),
            trusted_hops: trusted_hops.unwrap_or(d.trusted_hops),
            authserv_id: self.string(s, "authserv_id").and_then(|value| self.domain(s, "authserv_id", value)),
            skip_authenticated: self.boolean(s, "skip_authenticated").unwrap_or(d.skip_authenticated),
            allow_ips: self.cidrs(s, "allow_ips"),
            helo: self.boolean(s, "helo").unwrap_or(d.helo),
            void_lookups: void_lookups.unwrap_or(d.void_lookups),
            fail_action: action.unwrap_or(d.fail_action),
            fail_folder: folder.unwrap_or(d.fail_folder),
            fail_score: self.integer(s, "fail_score").map_or(d.fail_score, |(v, _)| v),
            trusted_domains: self.domains(s, "trusted_domains"),
            pass_score: self.integer(s, "pass_score").map_or(d.pass_score, |(v, _)| v),
        }
    }
}
