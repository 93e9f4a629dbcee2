//! The TOML config: the file as written ([`raw`]), checked against the schema into a validated
//! [`Config`]; every problem reported at once as `file:line: what is wrong — what to do`
//! (DESIGN §1, §9; STYLE 10–11).
//!
//! The program never writes its config. With no config file at all, [`Config::default`] applies.

mod net;
mod raw;
mod schema;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::classify::Kind;

pub use net::{Cidr, Dns, Listen};

/// The annotated example config, documenting every key (`backscatter config describe`).
pub const EXAMPLE: &str = include_str!("../../config/backscatter.toml");

/// The validated runtime config. Every field has its default when the file does not set it.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `keyring`: the keyring file; `None` means the default under the data dir ([`data_dir`]).
    pub keyring: Option<PathBuf>,
    /// `state_dir`: journal, IMAP state, sent log; `None` means the data dir ([`data_dir`]).
    pub state_dir: Option<PathBuf>,
    /// `protected_domains`, lowercased: whose senders get tagged; whose tags we accept.
    pub protected_domains: Vec<String>,
    /// `max_message_size` (bytes): bigger messages are kept and logged, never read whole.
    pub max_message_size: u64,
    /// `user`: the user `watch` and `milter` become when started as root.
    pub user: Option<String>,
    /// `[sign]`: the sendmail drop-in.
    pub sign: Sign,
    /// `[policy]`: what happens to checked mail.
    pub policy: Policy,
    /// `[[maildir]]`: Maildirs to watch, in file order.
    pub maildir: Vec<Maildir>,
    /// `[[imap]]`: IMAP accounts to watch, in file order; names are unique.
    pub imap: Vec<Imap>,
    /// `[spf]`: SPF as fallback evidence (DESIGN §6).
    pub spf: Spf,
    /// `[metrics]`: the Prometheus endpoint of `watch`.
    pub metrics: Metrics,
    /// `[milter]`: the MTA side, `backscatter milter` (DESIGN §8b).
    pub milter: Milter,
}

/// 64 MiB: bigger than any message a real MTA accepts by default (Postfix: 10 MB).
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 64 << 20;

impl Default for Config {
    fn default() -> Self {
        Config {
            keyring: None,
            state_dir: None,
            protected_domains: Vec::new(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            user: None,
            sign: Sign::default(),
            policy: Policy::default(),
            maildir: Vec::new(),
            imap: Vec::new(),
            spf: Spf::default(),
            metrics: Metrics::default(),
            milter: Milter::default(),
        }
    }
}

/// `[sign]`: how the sendmail drop-in stamps outgoing mail (DESIGN §8).
#[derive(Debug, Clone, PartialEq)]
pub struct Sign {
    /// `enabled`: stamp at all; when false the drop-in hands mail on untouched.
    pub enabled: bool,
    /// `sendmail_path`: the real sendmail we hand the message to. Never empty; that it is not
    /// backscatter itself is checked where it is used.
    pub sendmail_path: PathBuf,
    /// `header`: the signature header's field name.
    pub header: String,
    /// `batv`: tag the envelope sender with a BATV `prvs=` tag.
    pub batv: bool,
    /// `batv_exclude`: sender patterns (`*` wildcards) never tagged, e.g. for mailing lists.
    pub batv_exclude: Vec<String>,
    /// `message_id`: add a signed Message-ID when the message has none.
    pub message_id: bool,
    /// `sign_envid`: pass a signed ENVID with `-V` (RFC 3461).
    pub sign_envid: bool,
    /// `myorigin`: domain for a sender without one and for the Message-ID; `None`: the host name.
    pub myorigin: Option<String>,
    /// `fail_open`: when stamping fails, send unstamped instead of exiting 75.
    pub fail_open: bool,
    /// `sent_log`: the drop-in and the milter log every signed message (nonce, Message-ID,
    /// day, hashed recipients) in `state_dir/sent-log/`, and the judgement checks valid
    /// carriers against it (DESIGN §4.4).
    pub sent_log: bool,
}

impl Default for Sign {
    fn default() -> Self {
        Sign {
            enabled: true,
            sendmail_path: PathBuf::from("/usr/sbin/sendmail.real"),
            header: "X-Backscatter-Sig".to_owned(),
            batv: true,
            batv_exclude: Vec::new(),
            message_id: true,
            sign_envid: true,
            myorigin: None,
            fail_open: false,
            sent_log: false,
        }
    }
}

/// `policy.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Log what would move; move nothing.
    Monitor,
    /// Move backscatter into the folder (after the grace period).
    #[default]
    Enforce,
}

/// `[policy]`: what happens to checked mail (DESIGN §6).
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// `mode`: monitor or enforce.
    pub mode: Mode,
    /// `grace_days`: enforcement starts this many days after the first key's creation, because
    /// mail sent before signing began still bounces.
    pub grace_days: u32,
    /// `check`: the kinds that must carry a valid carrier, no duplicates, in file order.
    pub check: Vec<Kind>,
    /// `folder`: the folder backscatter is moved into.
    pub folder: String,
    /// `exempt_domains`, lowercased: sender or reporting-MTA domains never treated as backscatter.
    pub exempt_domains: Vec<String>,
    /// `exempt_ips`: relays whose reports are never treated as backscatter.
    pub exempt_ips: Vec<Cidr>,
    /// `own_relays`: our relays; seen in a returned original's `Received:` chain they are
    /// evidence the original was ours (SpamAssassin's `whitelist_bounce_relays`).
    pub own_relays: Vec<Cidr>,
    /// `all_bounces`: under attack, move every checked kind regardless of carriers.
    pub all_bounces: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            mode: Mode::Enforce,
            grace_days: 7,
            check: vec![
                Kind::Ndr,
                Kind::Delay,
                Kind::Delivered,
                Kind::AutoReply,
                Kind::Challenge,
                Kind::VirusNotice,
                Kind::Mdn,
            ],
            folder: "Backscatter".to_owned(),
            exempt_domains: Vec::new(),
            exempt_ips: Vec::new(),
            own_relays: Vec::new(),
            all_bounces: false,
        }
    }
}

/// One `[[maildir]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildir {
    /// `path`, with `~/` expanded; may hold glob patterns (`/var/vmail/*/*/Maildir`), kept as
    /// written for the store to expand.
    pub path: String,
    /// `sent`: the Sent folders to index (names under the Maildir, e.g. `".Sent"`, or absolute
    /// paths); `None`: look for the usual ones; empty: no Sent evidence (DESIGN §4.5).
    pub sent: Option<Vec<String>>,
}

/// `imap.tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tls {
    /// TLS from the first byte (port 993).
    #[default]
    Implicit,
    /// Plain connection upgraded with STARTTLS (port 143).
    Starttls,
    /// No TLS at all (loopback tests, a local Dovecot).
    None,
}

impl Tls {
    /// The port used when `imap.port` is not set.
    pub fn default_port(self) -> u16 {
        match self {
            Tls::Implicit => 993,
            Tls::Starttls | Tls::None => 143,
        }
    }
}

/// Where an IMAP account's secret comes from: exactly one of the `password*` keys or
/// `oauth2_token_command`. Commands are argv arrays, re-run on every reconnect (STYLE 12).
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `password`: written in the config itself.
    Password(String),
    /// `password_file`: the first line of this file.
    PasswordFile(PathBuf),
    /// `password_env`: this environment variable.
    PasswordEnv(String),
    /// `password_command`: the first line this command prints.
    PasswordCommand(Vec<String>),
    /// `oauth2_token_command`: an OAuth2 access token for XOAUTH2, printed by this command.
    OAuth2TokenCommand(Vec<String>),
}

/// Never prints a secret, only where it comes from.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Password(_) => f.write_str("Password(<redacted>)"),
            Auth::PasswordFile(p) => f.debug_tuple("PasswordFile").field(p).finish(),
            Auth::PasswordEnv(v) => f.debug_tuple("PasswordEnv").field(v).finish(),
            Auth::PasswordCommand(c) => f.debug_tuple("PasswordCommand").field(c).finish(),
            Auth::OAuth2TokenCommand(c) => f.debug_tuple("OAuth2TokenCommand").field(c).finish(),
        }
    }
}

/// One `[[imap]]` account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imap {
    /// `name`: names the account in logs, state and the journal; default the host.
    pub name: String,
    /// `host`.
    pub host: String,
    /// `port`: default by `tls` (993 or 143).
    pub port: u16,
    /// `tls`.
    pub tls: Tls,
    /// `allow_plaintext`: let `tls = "none"` reach a host that is not loopback, the password
    /// crossing the network in clear; default false.
    pub allow_plaintext: bool,
    /// `ca_file`: trust this CA bundle instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// `username`.
    pub username: String,
    /// The secret's source.
    pub auth: Auth,
    /// `mailboxes`: the mailboxes to watch; default `["INBOX"]`.
    pub mailboxes: Vec<String>,
    /// `sent`: the Sent mailbox, the first of these that exists; `None`: the one marked `\Sent`
    /// (RFC 6154), else a usual name; empty: no Sent evidence (DESIGN §4.5).
    pub sent: Option<Vec<String>>,
    /// `poll_seconds`: where the server has no IDLE (RFC 2177), look for new mail with NOOP this
    /// often; default 60 s, at most 29 minutes (RFC 3501 §5.4: servers log out idle clients
    /// after 30).
    pub poll_interval: std::time::Duration,
}

/// `spf.fail_action`: what an SPF `fail` on ordinary (not checked-kind) mail does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpfAction {
    /// `"none"`: report it only.
    #[default]
    Nothing,
    /// `"move"`: move the message into `spf.fail_folder`.
    Move,
    /// `"score"`: add `spf.fail_score` to the message's score.
    Score,
}

/// `[spf]`: SPF checks of delivered mail and the origin check of bounces (issue 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spf {
    /// `enabled`: check SPF at all (delivered mail, and bounces' origins).
    pub enabled: bool,
    /// `dns`: the resolver.
    pub dns: Dns,
    /// `trusted_receivers`, lowercased: host names of our border MTAs, as in their `Received:`
    /// `by` part. Empty: use `trusted_hops`.
    pub trusted_receivers: Vec<String>,
    /// `trusted_hops`: without `trusted_receivers`, the border MTA's `Received:` is this many
    /// lines from the top (1–20).
    pub trusted_hops: u32,
    /// `authserv_id`, lowercased: our `Authentication-Results` id; `None`: the receivers' names.
    pub authserv_id: Option<String>,
    /// `skip_authenticated`: do not check authenticated submissions (`with ESMTPSA`…).
    pub skip_authenticated: bool,
    /// `allow_ips`: clients never checked.
    pub allow_ips: Vec<Cidr>,
    /// `helo`: check the HELO identity too (RFC 7208 §2.3); the null sender's is always checked.
    pub helo: bool,
    /// `void_lookups`: the RFC 7208 §4.6.4 limit on lookups that find nothing (2–10).
    pub void_lookups: u32,
    /// `fail_action`: what a `fail` does to ordinary mail.
    pub fail_action: SpfAction,
    /// `fail_folder`: where `fail_action = "move"` puts it.
    pub fail_folder: String,
    /// `fail_score`: what `fail_action = "score"` adds.
    pub fail_score: i64,
    /// `trusted_domains`, lowercased: senders whose `pass` earns `pass_score`.
    pub trusted_domains: Vec<String>,
    /// `pass_score`: added for a trusted domain's `pass` (negative: a bonus).
    pub pass_score: i64,
}

impl Default for Spf {
    fn default() -> Self {
        Spf {
            // Off without a config: which Received: line is our border MTA's is for the
            // config to say, and lookups must not go out unasked.
            enabled: false,
            dns: Dns::System,
            trusted_receivers: Vec::new(),
            trusted_hops: 1,
            authserv_id: None,
            skip_authenticated: true,
            allow_ips: Vec::new(),
            helo: true,
            void_lookups: 2,
            fail_action: SpfAction::Nothing,
            fail_folder: "Junk".to_owned(),
            fail_score: 5,
            trusted_domains: Vec::new(),
            pass_score: -2,
        }
    }
}

/// `milter.action`: what the milter does with backscatter in enforce mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MilterAction {
    /// `"reject"`: 550 5.7.1 with the one-line why; the message never enters.
    #[default]
    Reject,
    /// `"quarantine"`: accepted into the MTA's hold queue (SMFIR_QUARANTINE).
    Quarantine,
    /// `"header"`: accepted, only marked with `X-Backscatter`, for Sieve to file.
    Header,
}

/// `milter.spf_fail`: what an SPF `fail` at SMTP time does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpfFail {
    /// `"header"`: nothing beyond `Received-SPF` (when `milter.received_spf` is on).
    #[default]
    Header,
    /// `"score"`: adds `X-Backscatter-Score: <spf.fail_score>` for a filter to weigh.
    Score,
    /// `"reject"`: 550 5.7.23 (RFC 7372) to MAIL FROM; the message never enters.
    Reject,
}

/// `[milter]`: `backscatter milter`, the MTA side (DESIGN §8b).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Milter {
    /// `listen`: where the milter listens, in Postfix's notation (`inet:127.0.0.1:8891`,
    /// `unix:/run/backscatter/milter.sock`).
    pub listen: Listen,
    /// `sign_networks`: clients whose mail is outbound (signed) even without SMTP AUTH.
    pub sign_networks: Vec<Cidr>,
    /// `action`: what happens to backscatter in enforce mode.
    pub action: MilterAction,
    /// `spf_fail`: what an SPF `fail` of the connection does (with `spf.enabled`).
    pub spf_fail: SpfFail,
    /// `received_spf`: insert `Received-SPF` (RFC 7208 §9.1) with the connection's result.
    pub received_spf: bool,
    /// `received_spf_none`: insert it for a `none` result too.
    pub received_spf_none: bool,
}

impl Default for Milter {
    fn default() -> Self {
        let loopback = ["127.0.0.0/8", "::1/128"];
        Milter {
            listen: Listen::Inet(std::net::SocketAddr::from(([127, 0, 0, 1], 8891))),
            sign_networks: loopback.iter().filter_map(|net| net.parse().ok()).collect(),
            action: MilterAction::default(),
            spf_fail: SpfFail::default(),
            received_spf: true,
            received_spf_none: true,
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metrics {
    /// `listen`: where `watch` serves Prometheus text; `None`: no endpoint.
    pub listen: Option<std::net::SocketAddr>,
}

/// One thing wrong in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the file.
    pub line: usize,
    /// What is wrong, naming the key and the value as written.
    pub what: String,
    /// What to do about it.
    pub fix: String,
}

/// `LINE: what — fix`; the file name is put in front by [`ConfigError`].
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} — {}", self.line, self.what, self.fix)
    }
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file was read but is wrong; every problem found, in line order.
    #[error("{}", show_problems(path, problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every problem, in line order.
        problems: Vec<Problem>,
    },
    /// The file could not be read.
    #[error("cannot read config {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn show_problems(path: &Path, problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("{}:{p}", path.display())).collect();
    lines.join("\n")
}

/// The config file to use: `explicit` (`-c FILE`) > `$BACKSCATTER_CONFIG` >
/// `$XDG_CONFIG_HOME/backscatter/config.toml` (XDG default `$HOME/.config`) >
/// `/etc/backscatter/config.toml` (DESIGN §1).
///
/// A file named by `-c` or `$BACKSCATTER_CONFIG` is returned even if it does not exist, so a
/// typo is reported instead of silently falling through to another file; the two default places
/// are taken only when they exist. `None`: no config, the defaults apply. `env` reads an
/// environment variable; `exists` checks a file.
pub fn locate(
    explicit: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_owned());
    }
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if let Some(path) = set("BACKSCATTER_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let config_home = set("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".config")));
    let user = config_home.map(|dir| dir.join("backscatter").join("config.toml"));
    let system = PathBuf::from("/etc/backscatter/config.toml");
    user.into_iter().chain([system]).find(|p| exists(p))
}

/// [`locate`] with the process environment and file system.
pub fn locate_from_env(explicit: Option<&Path>) -> Option<PathBuf> {
    locate(explicit, |name| std::env::var_os(name), Path::is_file)
}

/// The data dir, where the default keyring and state live: `$XDG_DATA_HOME/backscatter`
/// (XDG default `$HOME/.local/share`). `None` when neither variable is set.
pub fn data_dir(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let base = set("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| set("HOME").map(|home| PathBuf::from(home).join(".local").join("share")))?;
    Some(base.join("backscatter"))
}

impl Config {
    /// Where state lives: `state_dir`, else the data dir ([`data_dir`] from the process's
    /// environment); `None` when neither is known.
    pub fn state_dir_or_default(&self) -> Option<PathBuf> {
        self.state_dir.clone().or_else(|| data_dir(|name| std::env::var_os(name)))
    }
}

/// Reads and validates the config at `path`; `~/` is expanded against `$HOME`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    parse(&text, path, home.as_deref())
}

/// The config the command line asks for: the file [`locate_from_env`] finds (and its path), or
/// the defaults when there is none.
pub fn load_or_default(explicit: Option<&Path>) -> Result<(Option<PathBuf>, Config), ConfigError> {
    match locate_from_env(explicit) {
        Some(path) => load(&path).map(|config| (Some(path), config)),
        None => Ok((None, Config::default())),
    }
}

/// Validates config `text`; `path` names the file in problems, `home` expands `~/`.
pub fn parse(text: &str, path: &Path, home: Option<&Path>) -> Result<Config, ConfigError> {
    let lines = raw::Lines::new(text);
    let result = raw::parse(text, &lines).and_then(|root| validate::config(&root, &lines, home));
    result.map_err(|mut problems| {
        problems.sort_by_key(|p| p.line);
        ConfigError::Invalid { path: path.to_owned(), problems }
    })
}
