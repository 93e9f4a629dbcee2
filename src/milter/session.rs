//! One SMTP session as the milter sees it, and its current message: who the client is, which
//! way the message goes, and the message as received (pure: filled by the callbacks, read by
//! [`outbound`](super::outbound) and [`inbound`](super::inbound)).

use std::net::IpAddr;

use super::inbound::{self, Rcpt};
use crate::config::{Cidr, Config};
use crate::day::Day;
use crate::sign::{Key, Verification};
use crate::spf::Outcome;

/// The most of a message's body kept for the judgement. Bounces put what matters (the report
/// and the returned original's head) first; a larger message is judged on its head and this
/// much of its body, and the rest is not buffered.
pub const JUDGED_BODY: usize = 2 * 1024 * 1024;

/// Why a message is ours to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// The client authenticated with SMTP AUTH (`{auth_authen}`) as this user.
    Authenticated(String),
    /// The client is in `[milter] sign_networks` (Postfix's local submissions come from
    /// 127.0.0.1 through `non_smtpd_milters`).
    SignNetwork(IpAddr),
}

/// Which way the current message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Direction {
    /// Ours, to be stamped.
    Outbound(Outbound),
    /// From someone else: judged if a recipient is in a protected domain.
    Inbound,
}

/// The connection: the same for every message of the session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// The client's IP address; `None` when the MTA gave none (a Unix socket, or unknown).
    pub client: Option<IpAddr>,
    /// The client's host name as the MTA found it (reverse DNS, verified), else `None`.
    pub client_name: Option<String>,
    /// The HELO/EHLO name.
    pub helo: Option<String>,
    /// The MTA's host name (macro `j`), for `Received-SPF`'s receiver.
    pub receiver: Option<String>,
    /// The current message; `None` between messages.
    pub message: Option<Message>,
    /// The MTA lets us skip the rest of a body (SMFIP_SKIP).
    pub skip: bool,
}

/// The current message, from MAIL FROM to end of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Which way it goes.
    pub direction: Direction,
    /// The envelope sender without angle brackets; empty for the null sender.
    pub sender: String,
    /// MAIL FROM's ESMTP parameters as given (`SIZE=…`, `RET=…`, `ENVID=…`).
    pub mail_params: Vec<String>,
    /// The envelope recipients accepted so far, without angle brackets.
    pub recipients: Vec<String>,
    /// Whether a recipient is in a protected domain (with none configured: every one is).
    pub protected_recipient: bool,
    /// BATV-tagged recipients checked at RCPT (only valid ones get this far).
    pub tags: Vec<(String, Verification)>,
    /// SPF of the connection for this sender (inbound, with `[spf] enabled`).
    pub spf: Option<Outcome>,
    /// Whether the header has a Message-ID.
    pub has_message_id: bool,
    /// The first Message-ID's value, for the sent log.
    pub message_id: Option<String>,
    /// How many `X-Backscatter` fields came with it (removed before ours is added).
    pub incoming_verdicts: i32,
    /// The header section as received, one `Name: value` line each, CRLF.
    pub head: Vec<u8>,
    /// The body as received, up to [`JUDGED_BODY`].
    pub body: Vec<u8>,
    /// The MTA's queue id (macro `i`), for the log line.
    pub queue_id: Option<String>,
}

/// The header our verdict is written in (and whose incoming copies are removed first).
pub const VERDICT_HEADER: &str = "X-Backscatter";

/// A recipient refused at RCPT TO (550 5.7.1): its BATV tag is ours but not valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The result word: `forged`, `expired`, `unknown-key`, `malformed`.
    pub result: &'static str,
    /// The reason, for the reply.
    pub why: String,
}

/// The stages of a session, one method each, as the milter callbacks feed them (pure: the MTA's
/// values in, the state and what to answer out; a fuzz target drives them the same way).
impl Session {
    /// The client connected from `client` (an IPv4 address seen through a dual-stack socket as
    /// `::ffff:a.b.c.d` is the IPv4 address) with the host `name` the MTA found; the MTA's own
    /// name is `receiver`.
    pub fn connect(&mut self, client: Option<IpAddr>, name: &str, receiver: Option<String>) {
        self.client = client.map(|ip| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        });
        // Postfix passes "unknown" without a verified reverse name, Sendmail "[ip]".
        self.client_name = (name != "unknown" && !name.starts_with('[')).then(|| name.to_owned());
        self.receiver = receiver;
    }

    /// MAIL FROM `sender` with ESMTP `params`, `auth_authen` the SMTP AUTH user (if any): a
    /// new current message, which way it goes decided now. SPF, if on, is the caller's to add.
    pub fn mail(&mut self, sender: &str, params: Vec<String>, auth_authen: Option<&str>, sign_networks: &[Cidr]) {
        let direction = direction(self.client, auth_authen, sign_networks);
        self.message = Some(Message::new(direction, sender, params));
    }

    /// RCPT TO `recipient` (brackets optional): a BATV-tagged recipient of a protected domain
    /// on an inbound message is verified against the `keys` valid `today`; a bad tag refuses
    /// this recipient only. Without a current message there is nothing to do.
    pub fn rcpt(&mut self, recipient: &str, config: &Config, keys: &[Key<'_>], today: Day) -> Result<(), Refused> {
        let recipient = strip_brackets(recipient).to_owned();
        let Some(message) = self.message.as_mut() else { return Ok(()) };
        if message.direction == Direction::Inbound && is_protected(&recipient, config) {
            message.protected_recipient = true;
            match inbound::check_rcpt(&recipient, keys, today) {
                Rcpt::Untagged => {}
                Rcpt::Valid(v) => message.tags.push((recipient.clone(), v)),
                Rcpt::Refused { result, why } => return Err(Refused { result, why }),
            }
        }
        message.recipients.push(recipient);
        Ok(())
    }

    /// A header field of the current message.
    pub fn header(&mut self, name: &str, value: &str) {
        if let Some(message) = self.message.as_mut() {
            message.add_header(name, value);
        }
    }

    /// A body chunk: kept for the judgement up to its limit. Whether more of the body is
    /// wanted; `false` means the rest may be skipped (when the MTA allows it, [`Session::skip`]).
    pub fn body(&mut self, chunk: &[u8]) -> bool {
        match self.message.as_mut() {
            Some(message) if message.judged() => message.add_body(chunk),
            _ => false,
        }
    }

    /// The message was aborted (RSET, or the client went away): forgotten.
    pub fn abort(&mut self) {
        self.message = None;
    }
}

impl Message {
    /// A new message from `sender` (MAIL FROM's first argument, brackets optional) and its
    /// ESMTP parameters.
    pub fn new(direction: Direction, sender: &str, mail_params: Vec<String>) -> Message {
        Message {
            direction,
            sender: strip_brackets(sender).to_owned(),
            mail_params,
            recipients: Vec::new(),
            protected_recipient: false,
            tags: Vec::new(),
            spf: None,
            has_message_id: false,
            message_id: None,
            incoming_verdicts: 0,
            head: Vec::new(),
            body: Vec::new(),
            queue_id: None,
        }
    }

    /// Whether the message is judged at end of message: inbound, for a protected recipient.
    pub fn judged(&self) -> bool {
        self.direction == Direction::Inbound && self.protected_recipient
    }

    /// Takes one header field as the MTA passed it. Folded values keep their line breaks,
    /// written CRLF.
    pub fn add_header(&mut self, name: &str, value: &str) {
        if name.eq_ignore_ascii_case("message-id") && !self.has_message_id {
            self.has_message_id = true;
            self.message_id = Some(value.trim().to_owned());
        }
        if name.eq_ignore_ascii_case(VERDICT_HEADER) {
            self.incoming_verdicts = self.incoming_verdicts.saturating_add(1);
        }
        if !self.judged() {
            return;
        }
        self.head.extend_from_slice(name.as_bytes());
        self.head.extend_from_slice(b": ");
        for (i, line) in value.split('\n').enumerate() {
            if i > 0 {
                self.head.extend_from_slice(b"\r\n");
            }
            self.head.extend_from_slice(line.strip_suffix('\r').unwrap_or(line).as_bytes());
        }
        self.head.extend_from_slice(b"\r\n");
    }

    /// Takes a body chunk; `false` once [`JUDGED_BODY`] is reached (the rest may be skipped).
    pub fn add_body(&mut self, chunk: &[u8]) -> bool {
        let room = JUDGED_BODY.saturating_sub(self.body.len());
        self.body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        self.body.len() < JUDGED_BODY
    }
}

/// Which way a message from this session goes: outbound when the client authenticated
/// (`auth_authen`, the `{auth_authen}` macro) or is in `sign_networks`, else inbound.
pub fn direction(client: Option<IpAddr>, auth_authen: Option<&str>, sign_networks: &[Cidr]) -> Direction {
    if let Some(user) = auth_authen.filter(|u| !u.is_empty()) {
        return Direction::Outbound(Outbound::Authenticated(user.to_owned()));
    }
    match client {
        Some(ip) if sign_networks.iter().any(|net| net.contains(ip)) => Direction::Outbound(Outbound::SignNetwork(ip)),
        _ => Direction::Inbound,
    }
}

/// Whether `address` is in a protected domain (untagged first; every address when none is
/// configured).
pub fn is_protected(address: &str, config: &Config) -> bool {
    if config.protected_domains.is_empty() {
        return true;
    }
    let address = crate::sign::batv::untag(address).unwrap_or(address);
    let Some((_, domain)) = address.rsplit_once('@') else { return false };
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    config
        .protected_domains
        .iter()
        .any(|p| domain == *p || domain.strip_suffix(p.as_str()).is_some_and(|s| s.ends_with('.')))
}

/// An SMTP path without its angle brackets (`<a@b>` → `a@b`, `<>` → ``).
pub fn strip_brackets(path: &str) -> &str {
    let path = path.trim();
    path.strip_prefix('<').and_then(|p| p.strip_suffix('>')).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Cidr {
        s.parse().expect("network")
    }

    #[test]
    fn authenticated_or_sign_network_is_outbound() {
        let nets = [net("127.0.0.0/8")];
        let remote = "192.0.2.7".parse().ok();
        assert_eq!(direction(remote, Some("ann"), &nets), Direction::Outbound(Outbound::Authenticated("ann".into())));
        assert_eq!(direction(remote, Some(""), &nets), Direction::Inbound, "an empty macro is no login");
        assert_eq!(direction(remote, None, &nets), Direction::Inbound);
        let local = "127.0.0.1".parse().ok();
        assert!(matches!(direction(local, None, &nets), Direction::Outbound(Outbound::SignNetwork(_))));
        assert_eq!(direction(None, None, &nets), Direction::Inbound, "unknown client: not ours");
    }

    #[test]
    fn protected_recipients_include_tagged_and_subdomains() {
        let config = Config { protected_domains: vec!["example.com".into()], ..Config::default() };
        assert!(is_protected("ann@example.com", &config));
        assert!(is_protected("ann@EXAMPLE.com", &config));
        assert!(is_protected("prvs=0123abcdef=ann@example.com", &config));
        assert!(is_protected("ann@mail.example.com", &config));
        assert!(!is_protected("ann@badexample.com", &config));
        assert!(!is_protected("ann", &config));
        assert!(is_protected("anyone@anywhere.test", &Config::default()));
    }

    #[test]
    fn headers_are_kept_for_judged_mail_only() {
        let mut m = Message::new(Direction::Inbound, "<>", Vec::new());
        m.protected_recipient = true;
        m.add_header("Subject", "a\n\tfolded");
        m.add_header("x-backscatter", "genuine; forged upstream");
        m.add_header("Message-Id", "<1@x>");
        assert_eq!(
            m.head,
            b"Subject: a\r\n\tfolded\r\nx-backscatter: genuine; forged upstream\r\nMessage-Id: <1@x>\r\n"
        );
        assert_eq!((m.incoming_verdicts, m.has_message_id, m.sender.as_str()), (1, true, ""));
        assert_eq!(m.message_id.as_deref(), Some("<1@x>"));
        let mut out = Message::new(direction("127.0.0.1".parse().ok(), None, &[net("127.0.0.1")]), "<a@b>", Vec::new());
        out.add_header("Message-ID", "<2@x>");
        assert!(out.head.is_empty() && out.has_message_id && !out.judged());
    }

    #[test]
    fn the_stages_fill_the_session() {
        let key = Key { id: crate::sign::KeyId::ZERO, secret: b"stage-test" };
        let today = Day(20_000);
        let config = Config { protected_domains: vec!["example.com".into()], ..Config::default() };
        let mut s = Session::default();
        s.connect("::ffff:192.0.2.7".parse().ok(), "unknown", Some("mx.example.com".into()));
        assert_eq!((s.client, s.client_name.as_deref()), ("192.0.2.7".parse().ok(), None));
        assert_eq!(s.rcpt("<ann@example.com>", &config, &[key], today), Ok(()), "no message: nothing to do");
        s.mail("<>", Vec::new(), None, &[]);
        let tagged = crate::sign::batv::make("ann@example.com", &key, today);
        assert_eq!(s.rcpt(&format!("<{tagged}>"), &config, &[key], today), Ok(()));
        assert_eq!(s.rcpt("carl@elsewhere.test", &config, &[key], today), Ok(()));
        let forged = tagged.replacen("=ann", "=bob", 1);
        let refused = s.rcpt(&forged, &config, &[key], today).expect_err("a forged tag");
        assert_eq!(refused.result, "forged");
        let m = s.message.as_ref().expect("a message");
        assert!(m.judged() && m.tags.len() == 1);
        assert_eq!(m.recipients, [tagged.as_str(), "carl@elsewhere.test"], "the refused one is not added");
        assert!(s.body(b"kept"));
        s.abort();
        assert!(s.message.is_none() && !s.body(b"after abort"));
        // Our own mail: nothing checked, nothing kept.
        s.mail("<ann@example.com>", Vec::new(), Some("ann"), &[]);
        assert_eq!(s.rcpt(&forged, &config, &[key], today), Ok(()));
        s.header("Subject", "x");
        assert!(!s.body(b"not judged") && s.message.as_ref().is_some_and(|m| m.head.is_empty()));
    }

    #[test]
    fn the_body_is_kept_up_to_the_limit() {
        let mut m = Message::new(Direction::Inbound, "a@b", Vec::new());
        assert!(m.add_body(&[b'x'; 1000]));
        assert!(!m.add_body(&vec![b'y'; JUDGED_BODY]));
        assert_eq!(m.body.len(), JUDGED_BODY);
        assert!(!m.add_body(b"more"));
        assert_eq!(m.body.len(), JUDGED_BODY);
    }
}
