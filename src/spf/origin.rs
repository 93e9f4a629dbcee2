//! The origin check of a bounce without a carrier (DESIGN §6): which host first sent the
//! returned original out into the world, and which of our domains it claimed to be from. Pure;
//! [`Checker::check_origin`](super::Checker::check_origin) does the DNS part.
//!
//! A forged bounce returns mail someone else sent in our name: its first external hop is the
//! forger's host, which our SPF does not allow. Genuine mail leaves through our relays, which it
//! does allow.

use std::net::IpAddr;

use super::facts::{fields, received, return_path};
use super::SpfResult;
use crate::message::Message;

/// The returned original's first external hop and the domain it claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The IP of the host that handed the original to the first outside receiver.
    pub ip: IpAddr,
    /// Our domain the original claimed to come from (MAIL FROM, else From).
    pub domain: String,
}

/// What the returned original tells about its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hop {
    /// A hop and a domain to check.
    Found(Origin),
    /// Nothing to check, and why.
    Missing(String),
}

/// Finds the first external hop in `original_headers` (the returned original's header block):
/// walking its `Received:` lines from the bottom (the oldest), the first with a public client
/// IP that is not an authenticated submission (RFC 3848 `ESMTPSA`…: the MUA's own address,
/// which no SPF record lists) nor a webmail/local pickup. The domain is the original's
/// `Return-Path`, else `From`/`Sender`; with `protected` domains set it must be one of them
/// (or below one).
pub fn origin(original_headers: &[u8], protected: &[String]) -> Hop {
    let fields = fields(&Message::parse(original_headers));
    let domain = ["return-path", "from", "sender"].iter().find_map(|name| {
        let (_, value) = fields.iter().find(|(n, _)| n == name)?;
        let address = if *name == "return-path" { return_path(value)? } else { address(value)? };
        let (_, domain) = address.rsplit_once('@')?;
        Some(domain.trim_end_matches('.').to_ascii_lowercase()).filter(|d| !d.is_empty())
    });
    let Some(domain) = domain else {
        return Hop::Missing("the returned original names no sender domain".to_owned());
    };
    let ours = |p: &String| domain == *p || domain.strip_suffix(p.as_str()).is_some_and(|rest| rest.ends_with('.'));
    if !protected.is_empty() && !protected.iter().any(ours) {
        return Hop::Missing(format!("the returned original's sender domain {domain} is not a protected domain"));
    }
    let hop = fields.iter().rev().filter(|(name, _)| name == "received").map(|(_, value)| received(value)).find(|r| {
        let pickup = r.with.as_deref().is_some_and(|w| w.contains("HTTP") || w == "LOCAL");
        r.ip.is_some_and(is_public) && !r.authenticated() && !pickup
    });
    match hop.and_then(|r| r.ip) {
        Some(ip) => Hop::Found(Origin { ip, domain }),
        None => Hop::Missing("the returned original's Received: lines show no external hop".to_owned()),
    }
}

/// The address in a `From:`-like value: inside `<…>`, else the word with an `@`.
fn address(value: &str) -> Option<String> {
    if let (Some(open), Some(close)) = (value.rfind('<'), value.rfind('>')) {
        if open < close {
            return value.get(open + 1..close).map(|a| a.trim().to_owned());
        }
    }
    value.split_whitespace().find(|w| w.contains('@')).map(|w| w.trim_matches(['"', ',', ';']).to_owned())
}

/// Whether `ip` is on the public internet: not loopback, private (RFC 1918, RFC 6598 shared,
/// RFC 4193 unique-local), link-local or unspecified. Documentation ranges count as public, so
/// examples and tests can use them.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            let shared = a == 100 && (64..128).contains(&b);
            !(v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || shared)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments().first().copied().unwrap_or(0);
            let unique_local = first & 0xfe00 == 0xfc00;
            let link_local = first & 0xffc0 == 0xfe80;
            !(v6.is_loopback() || v6.is_unspecified() || unique_local || link_local)
        }
    }
}

/// The end of the origin check's `why`, after "original sent from ": e.g. "203.0.113.9, not
/// allowed by example.com's SPF".
pub fn why(result: SpfResult, ip: IpAddr, domain: &str) -> String {
    match result {
        SpfResult::Pass => format!("{ip}, allowed by {domain}'s SPF"),
        SpfResult::Fail => format!("{ip}, not allowed by {domain}'s SPF"),
        SpfResult::SoftFail => format!("{ip}, probably not allowed by {domain}'s SPF (softfail)"),
        other => format!("{ip}; {domain}'s SPF gives {other}"),
    }
}

/// Whether an origin outcome is evidence of backscatter: our SPF forbids the origin (`fail`;
/// `softfail` is only a hint and is logged, not counted).
pub fn forbidden(result: Option<SpfResult>) -> bool {
    result == Some(SpfResult::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(hop: Hop) -> Origin {
        match hop {
            Hop::Found(origin) => origin,
            Hop::Missing(why) => panic!("no origin: {why}"),
        }
    }

    #[test]
    fn the_first_external_hop_from_the_bottom() {
        // A forgery sent straight from 203.0.113.9 to the bouncing server.
        let forged =
            b"Received: from mx.victim.example (mx.victim.example [198.51.100.2]) by mx2.victim.example; d\r\n\
Received: from spam.example (unknown [203.0.113.9]) by mx.victim.example with ESMTP; d\r\n\
Received: from fake (localhost [127.0.0.1]) by fake; d\r\n\
Return-Path: <ann@Example.com>\r\nFrom: Ann <ann@example.com>\r\n";
        let forger = found(origin(forged, &["example.com".into()]));
        assert_eq!((forger.ip, forger.domain.as_str()), ("203.0.113.9".parse().expect("ip"), "example.com"));
        // Genuine: the laptop's authenticated submission is skipped; our relay is the origin.
        let genuine = b"Received: from out.example.com ([192.0.2.7]) by mx.remote.example with ESMTPS; d\r\n\
Received: from laptop ([198.51.100.99]) by out.example.com with ESMTPSA; d\r\nFrom: ann@mail.example.com\r\n";
        let relay = found(origin(genuine, &["example.com".into()]));
        assert_eq!((relay.ip, relay.domain.as_str()), ("192.0.2.7".parse().expect("ip"), "mail.example.com"));
    }

    #[test]
    fn nothing_to_check() {
        let other = b"Received: from x ([203.0.113.9]) by y; d\r\nFrom: a@example.org\r\n";
        assert!(matches!(origin(other, &["example.com".into()]), Hop::Missing(why) if why.contains("example.org")));
        let internal = b"Received: from x ([10.1.2.3]) by y; d\r\nFrom: a@example.com\r\n";
        assert!(matches!(origin(internal, &[]), Hop::Missing(_)));
        assert!(matches!(origin(b"", &[]), Hop::Missing(_)));
        assert!(matches!(origin(b"From: nobody\r\n", &[]), Hop::Missing(_)));
    }

    #[test]
    fn why_reads_as_the_issue_says() {
        let ip = "203.0.113.9".parse().expect("ip");
        assert_eq!(why(SpfResult::Fail, ip, "example.com"), "203.0.113.9, not allowed by example.com's SPF");
        assert!(forbidden(Some(SpfResult::Fail)) && !forbidden(Some(SpfResult::SoftFail)) && !forbidden(None));
    }
}
