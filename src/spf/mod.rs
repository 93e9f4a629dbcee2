//! SPF (RFC 7208) for a post-delivery scanner: the facts a delivered message carries
//! ([`facts`]), their check through mail-auth with a TTL cache, the void-lookup limit and an
//! allow-list ([`check`]), the origin check of a bounce's returned original ([`origin`]) and the
//! `Received-SPF` header ([`header`]).
//!
//! The facts, the origin hop and the header are pure; only [`check`] does DNS, and it is async:
//! commands run it on a tokio current-thread runtime beside the pure judgement.

mod cache;
pub mod check;
pub mod facts;
pub mod header;
pub mod origin;
pub mod step;

use std::fmt;
use std::net::IpAddr;

pub use cache::Entry;
pub use check::{read_snapshot, Checker, SpfError};

/// An SPF result (RFC 7208 §2.6), a value rather than an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpfResult {
    /// The client is authorised.
    Pass,
    /// The client is explicitly not authorised (`-all`).
    Fail,
    /// Probably not authorised (`~all`).
    SoftFail,
    /// The domain makes no assertion (`?all`, or no match).
    Neutral,
    /// No record, or no usable domain.
    None,
    /// A transient DNS error.
    TempError,
    /// The record is broken (syntax, too many lookups, too many void lookups).
    PermError,
}

impl SpfResult {
    /// The RFC 7208 §2.6 word, as in `Received-SPF` and `Authentication-Results`.
    pub fn word(self) -> &'static str {
        match self {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::None => "none",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
        }
    }

    /// Reads a result word in any case (RFC 4408's `error` words too, as older filters write them).
    pub fn from_word(word: &str) -> Option<SpfResult> {
        Some(match word.to_ascii_lowercase().as_str() {
            "pass" => SpfResult::Pass,
            "fail" | "hardfail" => SpfResult::Fail,
            "softfail" => SpfResult::SoftFail,
            "neutral" => SpfResult::Neutral,
            "none" => SpfResult::None,
            "temperror" | "error" => SpfResult::TempError,
            "permerror" | "unknown" => SpfResult::PermError,
            _ => return None,
        })
    }
}

impl fmt::Display for SpfResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl From<mail_auth::SpfResult> for SpfResult {
    fn from(r: mail_auth::SpfResult) -> Self {
        match r {
            mail_auth::SpfResult::Pass => SpfResult::Pass,
            mail_auth::SpfResult::Fail => SpfResult::Fail,
            mail_auth::SpfResult::SoftFail => SpfResult::SoftFail,
            mail_auth::SpfResult::Neutral => SpfResult::Neutral,
            mail_auth::SpfResult::TempError => SpfResult::TempError,
            mail_auth::SpfResult::PermError => SpfResult::PermError,
            mail_auth::SpfResult::None => SpfResult::None,
        }
    }
}

/// Which identity was checked (RFC 7208 §2.3, §2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The domain of MAIL FROM.
    MailFrom,
    /// The HELO/EHLO name (also for the null sender, RFC 7208 §2.4).
    Helo,
}

impl Identity {
    /// `mailfrom` or `helo`, as `Received-SPF`'s `identity=` writes them.
    pub fn word(self) -> &'static str {
        match self {
            Identity::MailFrom => "mailfrom",
            Identity::Helo => "helo",
        }
    }

    /// Reads `mailfrom` or `helo` in any case.
    pub fn from_word(word: &str) -> Option<Identity> {
        match word.to_ascii_lowercase().as_str() {
            "mailfrom" => Some(Identity::MailFrom),
            "helo" | "ehlo" => Some(Identity::Helo),
            _ => None,
        }
    }
}

/// What SPF says about one message, or why it was not checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The result; `None` when the check was skipped (authenticated, allow-listed, no facts).
    pub result: Option<SpfResult>,
    /// The identity the result is for.
    pub identity: Option<Identity>,
    /// The domain checked.
    pub domain: Option<String>,
    /// The client IP checked.
    pub ip: Option<IpAddr>,
    /// One line saying why.
    pub why: String,
}

impl Outcome {
    /// A check that was not made, and why.
    pub fn skipped(why: impl Into<String>) -> Outcome {
        Outcome { result: None, identity: None, domain: None, ip: None, why: why.into() }
    }

    /// The `spf` field of `classify --json`: `result` (an RFC 7208 word or `skipped`),
    /// `identity`, `why`, and `domain`/`ip` when known.
    pub fn to_json(&self) -> serde_json::Value {
        let mut o = serde_json::Map::new();
        o.insert("result".into(), self.result.map_or("skipped", SpfResult::word).into());
        if let Some(identity) = self.identity {
            o.insert("identity".into(), identity.word().into());
        }
        if let Some(domain) = &self.domain {
            o.insert("domain".into(), domain.as_str().into());
        }
        if let Some(ip) = self.ip {
            o.insert("ip".into(), ip.to_string().into());
        }
        o.insert("why".into(), self.why.as_str().into());
        serde_json::Value::Object(o)
    }
}

/// The RFC 7208 §2.6 wording of a result for `ip` and `domain`, used in `why` and in
/// `Received-SPF` comments.
pub fn explain(result: SpfResult, ip: IpAddr, domain: &str) -> String {
    match result {
        SpfResult::Pass => format!("{ip} is allowed by {domain}'s SPF"),
        SpfResult::Fail => format!("{ip} is not allowed by {domain}'s SPF"),
        SpfResult::SoftFail => format!("{ip} is probably not allowed by {domain}'s SPF (softfail)"),
        SpfResult::Neutral => format!("{domain}'s SPF says nothing about {ip} (neutral)"),
        SpfResult::None => format!("{domain} has no SPF record"),
        SpfResult::TempError => format!("DNS error while checking {domain}'s SPF for {ip}"),
        SpfResult::PermError => format!("{domain}'s SPF record is broken (permerror)"),
    }
}
