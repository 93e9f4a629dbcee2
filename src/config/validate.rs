//! The schema: walks the file's tree section by section, checks every key and value against
//! what it may be, collects every problem (never just the first) and builds the [`Config`].
//!
//! Each section is a [`Schema`] table of its keys; unknown keys, wrong types and near-miss
//! suggestions all come from these tables.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::raw::{Lines, Node, Table};
use super::{Auth, Cidr, Config, Dns, Imap, Maildir, Metrics, Mode, Policy, Problem, Sign, Spf, Tls};
use crate::classify::Kind;

/// A section: how messages name it, the prefix of its dotted key names, and its keys, each
/// with an example of how it is written (the "what to do" of a wrong-type problem).
struct Schema {
    name: &'static str,
    prefix: &'static str,
    keys: &'static [(&'static str, &'static str)],
}

const ROOT: Schema = Schema {
    name: "[root]",
    prefix: "",
    keys: &[
        ("keyring", "keyring = \"/etc/backscatter/keyring.toml\""),
        ("state_dir", "state_dir = \"/var/lib/backscatter\""),
        ("protected_domains", "protected_domains = [\"example.com\"]"),
        ("sign", "[sign]"),
        ("policy", "[policy]"),
        ("maildir", "[[maildir]] (one per Maildir)"),
        ("imap", "[[imap]] (one per account)"),
        ("spf", "[spf]"),
        ("metrics", "[metrics]"),
    ],
};

const SIGN: Schema = Schema {
    name: "[sign]",
    prefix: "sign.",
    keys: &[
        ("enabled", "enabled = true"),
        ("sendmail_path", "sendmail_path = \"/usr/sbin/sendmail.real\""),
        ("header", "header = \"X-Backscatter-Sig\""),
        ("batv", "batv = true"),
        ("batv_exclude", "batv_exclude = [\"*@lists.example.org\"]"),
        ("message_id", "message_id = true"),
        ("sign_envid", "sign_envid = true"),
        ("myorigin", "myorigin = \"example.com\""),
        ("fail_open", "fail_open = false"),
    ],
};

const POLICY: Schema = Schema {
    name: "[policy]",
    prefix: "policy.",
    keys: &[
        ("mode", "mode = \"monitor\""),
        ("grace_days", "grace_days = 7"),
        ("check", "check = [\"ndr\", \"delay\"]"),
        ("folder", "folder = \"Backscatter\""),
        ("exempt_domains", "exempt_domains = [\"example.net\"]"),
        ("exempt_ips", "exempt_ips = [\"192.0.2.0/24\"]"),
        ("own_relays", "own_relays = [\"198.51.100.7\"]"),
        ("all_bounces", "all_bounces = false"),
    ],
};

const MAILDIR: Schema = Schema { name: "[[maildir]]", prefix: "maildir.", keys: &[("path", "path = \"~/Maildir\"")] };

/// The keys that name an IMAP secret's source; exactly one must be set.
const AUTH_KEYS: [&str; 5] = ["password", "password_file", "password_env", "password_command", "oauth2_token_command"];

const IMAP: Schema = Schema {
    name: "[[imap]]",
    prefix: "imap.",
    keys: &[
        ("name", "name = \"work\""),
        ("host", "host = \"imap.example.com\""),
        ("port", "port = 993"),
        ("tls", "tls = \"implicit\""),
        ("ca_file", "ca_file = \"/etc/ssl/certs/my-ca.pem\""),
        ("username", "username = \"me@example.com\""),
        ("password", "password = \"secret\""),
        ("password_file", "password_file = \"~/.config/backscatter/imap-password\""),
        ("password_env", "password_env = \"IMAP_PASSWORD\""),
        ("password_command", "password_command = [\"pass\", \"show\", \"mail/work\"]"),
        ("oauth2_token_command", "oauth2_token_command = [\"oauth2-token\", \"work\"]"),
        ("mailboxes", "mailboxes = [\"INBOX\"]"),
    ],
};

const SPF: Schema =
    Schema { name: "[spf]", prefix: "spf.", keys: &[("enabled", "enabled = true"), ("dns", "dns = \"system\"")] };

const METRICS: Schema =
    Schema { name: "[metrics]", prefix: "metrics.", keys: &[("listen", "listen = \"127.0.0.1:9911\"")] };

const LISTEN_FIX: &str = "write an IP address and port, e.g. \"127.0.0.1:9911\" or \"[::1]:9911\" (no host names)";
const DNS_FIX: &str = "write \"system\" or a server's IP address and port, e.g. \"127.0.0.1:53\"";

/// Every section, to say where a key that is unknown in one section belongs.
const SECTIONS: [&Schema; 7] = [&SIGN, &POLICY, &MAILDIR, &IMAP, &SPF, &METRICS, &ROOT];

/// Each section's name and keys, for the test that the example documents them all.
#[cfg(test)]
pub(super) fn section_keys() -> impl Iterator<Item = (&'static str, Vec<&'static str>)> {
    SECTIONS.into_iter().map(|schema| (schema.name, schema.keys.iter().map(|(key, _)| *key).collect()))
}

/// `policy.check` words (DESIGN §5; the same words `Kind` serializes to).
pub(super) const KINDS: [(&str, Kind); 12] = [
    ("ndr", Kind::Ndr),
    ("delay", Kind::Delay),
    ("delivered", Kind::Delivered),
    ("autoreply", Kind::AutoReply),
    ("auto-notice", Kind::AutoNotice),
    ("challenge", Kind::Challenge),
    ("virus-notice", Kind::VirusNotice),
    ("mdn", Kind::Mdn),
    ("feedback", Kind::Feedback),
    ("forwarded-bounce", Kind::ForwardedBounce),
    ("list", Kind::List),
    ("ordinary", Kind::Ordinary),
];

const MODES: [(&str, Mode); 2] = [("monitor", Mode::Monitor), ("enforce", Mode::Enforce)];
const TLS: [(&str, Tls); 3] = [("implicit", Tls::Implicit), ("starttls", Tls::Starttls), ("none", Tls::None)];

/// Checks the root table and builds the config, or returns every problem found.
pub fn config(root: &Table, lines: &Lines, home: Option<&Path>) -> Result<Config, Vec<Problem>> {
    let mut c = Checker { lines, home, problems: Vec::new() };
    let root = Section { table: root, schema: &ROOT, line: 1 };
    let config = c.root(&root);
    if c.problems.is_empty() {
        Ok(config)
    } else {
        Err(c.problems)
    }
}

/// One table of the file with its schema.
struct Section<'t> {
    table: &'t Table,
    schema: &'static Schema,
    /// The line of its `[header]`, for keys that are missing.
    line: usize,
}

impl<'t> Section<'t> {
    fn get(&self, key: &str) -> Option<&'t Spanned<Node>> {
        self.table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
    }
}

/// Collects problems while building the config.
struct Checker<'a> {
    lines: &'a Lines,
    home: Option<&'a Path>,
    problems: Vec<Problem>,
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
        if let Some(sign) = self.section(s, "sign", &SIGN) {
            config.sign = self.sign(&sign);
        }
        if let Some(policy) = self.section(s, "policy", &POLICY) {
            config.policy = self.policy(&policy);
        }
        for maildir in self.sections(s, "maildir", &MAILDIR) {
            config.maildir.extend(self.maildir(&maildir));
        }
        for imap in self.sections(s, "imap", &IMAP) {
            config.imap.extend(self.imap(&imap, &config.imap));
        }
        if let Some(spf) = self.section(s, "spf", &SPF) {
            config.spf = self.spf(&spf);
        }
        if let Some(metrics) = self.section(s, "metrics", &METRICS) {
            self.unknown_keys(&metrics);
            config.metrics = Metrics { listen: self.parsed(&metrics, "listen", "an IP:PORT address", LISTEN_FIX) };
        }
        config
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
        let folder = self.string(s, "folder").and_then(|(folder, span)| {
            let bad = folder.is_empty()
                || folder.starts_with('.')
                || folder.ends_with('.')
                || folder.contains('/')
                || folder.chars().any(char::is_control);
            if !bad {
                return Some(folder.to_owned());
            }
            let what = format!("policy.folder = {folder:?} is not a folder name");
            self.problem(&span, what, "use a name without `/` or a leading/trailing `.`, e.g. \"Backscatter\"");
            None
        });
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
        Some(Maildir { path: path.to_string_lossy().into_owned() })
    }

    fn imap(&mut self, s: &Section, earlier: &[Imap]) -> Option<Imap> {
        self.unknown_keys(s);
        let host = self.required(s, "host").and(self.string(s, "host")).and_then(|(host, span)| {
            if !host.is_empty() && !host.contains(char::is_whitespace) && !host.contains('/') && !host.contains(':') {
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
        let tls = self.string(s, "tls").and_then(|v| self.choice(s, "tls", v, &TLS, "TLS mode"));
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
            Some((name, span)) => self.imap_name(name, self.lines.of(&span), earlier),
            None => host.clone().and_then(|host| self.imap_name(&host, s.line, earlier)),
        };
        let ca_file = self.path(s, "ca_file");
        let auth = self.auth(s);
        let tls = tls.unwrap_or_default();
        Some(Imap {
            name: name?,
            host: host?,
            port: port.unwrap_or(tls.default_port()),
            tls,
            ca_file,
            username: username?,
            auth: auth?,
            mailboxes: mailboxes.unwrap_or_else(|| vec!["INBOX".to_owned()]),
        })
    }

    /// An account name: not empty, usable in a file name, not used by an earlier account.
    fn imap_name(&mut self, name: &str, line: usize, earlier: &[Imap]) -> Option<String> {
        if name.is_empty() || name.contains('/') || name.chars().any(char::is_control) {
            let fix = "use a short name without `/`, e.g. \"work\"";
            self.problem_at(line, format!("imap.name = {name:?} is not a usable account name"), fix);
            None
        } else if earlier.iter().any(|imap| imap.name == name) {
            let fix = "give each [[imap]] its own name = \"…\" (it names the account's state)";
            self.problem_at(line, format!("imap.name {name:?} is used by an earlier [[imap]]"), fix);
            None
        } else {
            Some(name.to_owned())
        }
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
        Spf {
            enabled: self.boolean(s, "enabled").unwrap_or(d.enabled),
            dns: self.parsed::<Dns>(s, "dns", "\"system\" or an IP:PORT address", DNS_FIX).unwrap_or(d.dns),
        }
    }
}

/// Typed getters: each reports a wrong type (or a bad value) and returns `None` for it.
impl Checker<'_> {
    fn problem(&mut self, span: &Range<usize>, what: String, fix: impl Into<String>) {
        self.problem_at(self.lines.of(span), what, fix);
    }

    fn problem_at(&mut self, line: usize, what: String, fix: impl Into<String>) {
        self.problems.push(Problem { line, what, fix: fix.into() });
    }

    /// A key's value is there but says nothing (an empty string or list).
    fn missing_value(&mut self, s: &Section, key: &str, fix: &str) {
        let line = s.get(key).map_or(s.line, |node| self.lines.of(&node.span()));
        self.problem_at(line, format!("{}{key} is empty", s.schema.prefix), fix);
    }

    fn unknown_keys(&mut self, s: &Section) {
        for (key, _) in s.table {
            let name = key.get_ref();
            if s.schema.keys.iter().any(|(known, _)| known == name) {
                continue;
            }
            let what = format!("unknown key `{name}` in {}", s.schema.name);
            let fix = suggest_key(s.schema, name);
            self.problem(&key.span(), what, fix);
        }
    }

    /// A required key: reported at the section's header when missing.
    fn required(&mut self, s: &Section, key: &str) -> Option<()> {
        if s.get(key).is_some() {
            return Some(());
        }
        let what = format!("{} has no {key}", s.schema.name);
        self.problem_at(s.line, what, format!("add {}", example(s.schema, key)));
        None
    }

    fn wrong_type(&mut self, s: &Section, key: &str, node: &Spanned<Node>, expected: &str) {
        let what = format!("{}{key} is {}, not {expected}", s.schema.prefix, node.get_ref().describe());
        self.problem(&node.span(), what, format!("write it like {}", example(s.schema, key)));
    }

    fn string<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<(&'t str, Range<usize>)> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Str(value) => Some((value.as_str(), node.span())),
            _ => {
                self.wrong_type(s, key, node, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, s: &Section, key: &str) -> Option<bool> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Bool(value) => Some(*value),
            _ => {
                self.wrong_type(s, key, node, "true or false");
                None
            }
        }
    }

    fn integer(&mut self, s: &Section, key: &str) -> Option<(i64, Range<usize>)> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Int(value) => Some((*value, node.span())),
            _ => {
                self.wrong_type(s, key, node, "an integer");
                None
            }
        }
    }

    /// An array of strings; a wrong element is reported and left out.
    fn strings<'t>(&mut self, s: &Section<'t>, key: &str) -> Option<Vec<(&'t str, Range<usize>)>> {
        let node = s.get(key)?;
        let Node::Array(items) = node.get_ref() else {
            self.wrong_type(s, key, node, "an array of strings");
            return None;
        };
        let mut strings = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                Node::Str(value) => strings.push((value.as_str(), item.span())),
                other => {
                    let what = format!("{}{key}[{i}] is {}, not a string", s.schema.prefix, other.describe());
                    self.problem(&item.span(), what, format!("write it like {}", example(s.schema, key)));
                }
            }
        }
        Some(strings)
    }

    /// Drops (and reports) empty strings.
    fn non_empty(&mut self, s: &Section, key: &str, values: Vec<(&str, Range<usize>)>) -> Vec<String> {
        let mut kept = Vec::new();
        for (value, span) in values {
            if value.is_empty() {
                let fix = format!("remove it or write it like {}", example(s.schema, key));
                self.problem(&span, format!("{}{key} has an empty string", s.schema.prefix), fix);
            } else {
                kept.push(value.to_owned());
            }
        }
        kept
    }

    /// A string that must be one of `choices`.
    fn choice<T: Copy>(
        &mut self,
        s: &Section,
        key: &str,
        (value, span): (&str, Range<usize>),
        choices: &[(&str, T)],
        noun: &str,
    ) -> Option<T> {
        if let Some((_, choice)) = choices.iter().find(|(name, _)| *name == value) {
            return Some(*choice);
        }
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        let quoted: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
        let fix = match quoted.as_slice() {
            [one, two] => format!("use {one} or {two}"),
            [rest @ .., last] if names.len() <= 3 => format!("use {} or {last}", rest.join(", ")),
            _ => match nearest(value, names.iter().copied()) {
                Some(near) => format!("did you mean \"{near}\"? (one of {})", names.join(", ")),
                None => format!("use one of {}", names.join(", ")),
            },
        };
        // A scalar reads `policy.mode = "x"`, an element of a list `policy.check: "x"`.
        let is = if s.get(key).is_some_and(|node| matches!(node.get_ref(), Node::Array(_))) { ":" } else { " =" };
        self.problem(&span, format!("{}{key}{is} {value:?} is not a {noun}", s.schema.prefix), fix);
        None
    }

    /// A string parsed with `FromStr`; `form` says what it should be, `fix` how to write it.
    fn parsed<T: std::str::FromStr>(&mut self, s: &Section, key: &str, form: &str, fix: &str) -> Option<T> {
        let (value, span) = self.string(s, key)?;
        if let Ok(parsed) = value.parse() {
            return Some(parsed);
        }
        self.problem(&span, format!("{}{key} = {value:?} is not {form}", s.schema.prefix), fix);
        None
    }

    /// A file path: `~/` expanded against $HOME, then absolute (a daemon's working directory
    /// is not the user's).
    fn path(&mut self, s: &Section, key: &str) -> Option<PathBuf> {
        let (value, span) = self.string(s, key)?;
        let dotted = format!("{}{key}", s.schema.prefix);
        let expanded = if value == "~" || value.starts_with("~/") {
            match self.home {
                Some(home) => home.join(value.get(2..).unwrap_or("")),
                None => {
                    self.problem(
                        &span,
                        format!("{dotted} = {value:?} needs $HOME, which is not set"),
                        "write the full path",
                    );
                    return None;
                }
            }
        } else {
            PathBuf::from(value)
        };
        if expanded.is_absolute() {
            return Some(expanded);
        }
        let what = if value.is_empty() {
            format!("{dotted} is empty")
        } else {
            format!("{dotted} = {value:?} is not a full path")
        };
        self.problem(&span, what, format!("write a path starting with / or ~/, like {}", example(s.schema, key)));
        None
    }

    /// A domain name, lowercased.
    fn domain(&mut self, s: &Section, key: &str, (value, span): (&str, Range<usize>)) -> Option<String> {
        if is_domain(value) {
            return Some(value.to_ascii_lowercase());
        }
        let what = format!("{}{key}: {value:?} is not a domain name", s.schema.prefix);
        self.problem(&span, what, "write a domain such as \"example.com\" (IDNs in xn-- form, no @ or scheme)");
        None
    }

    fn domains(&mut self, s: &Section, key: &str) -> Vec<String> {
        let values = self.strings(s, key).unwrap_or_default();
        values.into_iter().filter_map(|value| self.domain(s, key, value)).collect()
    }

    fn cidrs(&mut self, s: &Section, key: &str) -> Vec<Cidr> {
        let mut cidrs = Vec::new();
        for (value, span) in self.strings(s, key).unwrap_or_default() {
            match value.parse() {
                Ok(cidr) => cidrs.push(cidr),
                Err(super::net::CidrError(fix)) => {
                    let what = format!("{}{key}: {value:?} is not an IP address or network", s.schema.prefix);
                    self.problem(&span, what, fix);
                }
            }
        }
        cidrs
    }

    /// A sub-table such as `[policy]`.
    fn section<'t>(&mut self, s: &Section<'t>, key: &str, schema: &'static Schema) -> Option<Section<'t>> {
        let node = s.get(key)?;
        match node.get_ref() {
            Node::Table(table) => Some(Section { table, schema, line: self.lines.of(&node.span()) }),
            _ => {
                self.wrong_type(s, key, node, "a table");
                None
            }
        }
    }

    /// An array of tables such as `[[imap]]`.
    fn sections<'t>(&mut self, s: &Section<'t>, key: &str, schema: &'static Schema) -> Vec<Section<'t>> {
        let Some(node) = s.get(key) else { return Vec::new() };
        let Node::Array(items) = node.get_ref() else {
            self.wrong_type(s, key, node, "an array of tables");
            return Vec::new();
        };
        let mut sections = Vec::new();
        for item in items {
            match item.get_ref() {
                Node::Table(table) => sections.push(Section { table, schema, line: self.lines.of(&item.span()) }),
                other => {
                    let what = format!("{key} holds {}, not a table", other.describe());
                    self.problem(&item.span(), what, format!("write it like {}", example(s.schema, key)));
                }
            }
        }
        sections
    }
}

/// How `key` is written, from its schema.
fn example(schema: &Schema, key: &str) -> String {
    let example = schema.keys.iter().find(|(name, _)| *name == key).map_or(key, |(_, example)| *example);
    format!("`{example}`")
}

/// The "what to do" for an unknown key: a near-miss in this section, else the section the key
/// belongs to, else the section's keys.
fn suggest_key(schema: &Schema, name: &str) -> String {
    if let Some(near) = nearest(name, schema.keys.iter().map(|(key, _)| *key)) {
        return format!("did you mean `{near}`?");
    }
    for other in SECTIONS {
        if other.keys.iter().any(|(key, _)| *key == name) {
            return format!("it belongs in {}; move it there", other.name);
        }
    }
    let keys: Vec<&str> = schema.keys.iter().map(|(key, _)| *key).collect();
    format!("remove it; the keys of {} are {}", schema.name, keys.join(", "))
}

/// The candidate closest to `word`, if it is a plausible typo: at most 2 edits (a third of
/// the word for long words), and fewer than the word's length (so `a` does not suggest `tls`).
fn nearest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    let length = word.chars().count();
    let limit = (length / 3).max(2);
    candidates
        .map(|candidate| (edit_distance(&word, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit && distance < length)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance in chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            let delete = row.get(j + 1).copied().unwrap_or(usize::MAX).saturating_add(1);
            let insert = row.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            diagonal = row.get(j + 1).copied().unwrap_or(0);
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = substitute.min(delete).min(insert);
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

/// An ASCII domain name (RFC 1035 §2.3.1 labels, `_` allowed as DNS allows it in practice).
fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
