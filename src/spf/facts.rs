//! Where the SPF facts of a delivered message come from: the connecting IP, HELO name and MAIL
//! FROM as our own border MTA recorded them in its `Received:` line and `Return-Path:`, and a
//! result the border MTA already wrote (`Received-SPF`, `Authentication-Results`). Pure.

use std::net::IpAddr;

use super::{Identity, SpfResult};
use crate::message::Message;

/// Which `Received:` line is our border MTA's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trust {
    /// Host names of our receiving MTAs (`spf.trusted_receivers`, lowercased). When set, the
    /// border line is the first (from the top) whose `by` is one of them and whose `from` is not.
    pub receivers: Vec<String>,
    /// Without `receivers`: the border line is this many lines from the top (`spf.trusted_hops`).
    pub hops: usize,
    /// Our `Authentication-Results` authserv-id (`spf.authserv_id`, lowercased); `None`: the
    /// receivers' names.
    pub authserv_id: Option<String>,
}

impl Default for Trust {
    fn default() -> Self {
        Trust { receivers: Vec::new(), hops: 1, authserv_id: None }
    }
}

/// One `Received:` line, read the way Postfix, Exim and Sendmail write it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Received {
    /// The name after `from` (the HELO/EHLO name in Postfix and Sendmail lines).
    pub from: Option<String>,
    /// Exim's `helo=NAME` inside the parentheses, which beats `from`.
    pub helo: Option<String>,
    /// The connecting IP: the first `[address]` in the `from` part.
    pub ip: Option<IpAddr>,
    /// The host name after `by`.
    pub by: Option<String>,
    /// The protocol word after `with`, uppercased (`ESMTPS`, `ESMTPSA`, `LMTP`).
    pub with: Option<String>,
    /// Exim's `(envelope-from <…>)`.
    pub envelope_from: Option<String>,
}

impl Received {
    /// The HELO/EHLO name: Exim's `helo=` if present, else the `from` name.
    pub fn helo_name(&self) -> Option<&str> {
        self.helo.as_deref().or(self.from.as_deref())
    }

    /// Whether the client authenticated: the RFC 3848 `with` words ending in `A` (ESMTPA,
    /// ESMTPSA, LMTPA, LMTPSA).
    pub fn authenticated(&self) -> bool {
        matches!(self.with.as_deref(), Some("ESMTPA" | "ESMTPSA" | "LMTPA" | "LMTPSA"))
    }
}

/// A result the border MTA already recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The result word.
    pub result: SpfResult,
    /// Which identity, when the header says.
    pub identity: Option<Identity>,
    /// Which header: `Received-SPF` or `Authentication-Results`.
    pub header: &'static str,
}

/// What a delivered message tells about its SMTP transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    /// The connecting client's IP, from the border line.
    pub ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub helo: Option<String>,
    /// The MAIL FROM address: `Some("")` for the null sender `<>`, `None` when unknown.
    pub mail_from: Option<String>,
    /// The receiving host (the border line's `by`), for `%{r}` and `receiver=`.
    pub receiver: Option<String>,
    /// The client authenticated (a submission, not a delivery from outside).
    pub authenticated: bool,
    /// A result the border MTA already wrote.
    pub recorded: Option<Recorded>,
    /// Why there are no facts, when the border line was not found.
    pub missing: Option<String>,
}

/// The header fields of `message`, names lowercased, values unfolded, in order.
pub fn fields(message: &Message<'_>) -> Vec<(String, String)> {
    message.fields().map(|f| (String::from_utf8_lossy(f.name()).to_ascii_lowercase(), f.value())).collect()
}

/// Reads a `Received:` value. Parenthesised comments are where Postfix puts the reverse name and
/// `[ip]` and Exim puts `[ip]` and `helo=`.
pub fn received(value: &str) -> Received {
    let mut r = Received::default();
    // Drop the date after the last `;` (RFC 5321 §4.4).
    let value = value.rsplit_once(';').map_or(value, |(v, _)| v);
    let mut part = "";
    let mut depth = 0usize;
    let mut word = String::new();
    for c in value.chars() {
        match c {
            '(' => {
                flush(&mut word, &mut part, depth, &mut r);
                depth += 1;
            }
            ')' => {
                flush(&mut word, &mut part, depth, &mut r);
                depth = depth.saturating_sub(1);
            }
            c if c.is_whitespace() => flush(&mut word, &mut part, depth, &mut r),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut part, depth, &mut r);
    r
}

/// Takes the word collected so far: a keyword (`from`, `by`, `with`…) switches the part being
/// read; otherwise the word is that part's value (or a comment word).
fn flush(word: &mut String, part: &mut &'static str, depth: usize, r: &mut Received) {
    let w = std::mem::take(word);
    if w.is_empty() {
        return;
    }
    if depth > 0 {
        comment_word(&w, part, r);
        return;
    }
    match w.to_ascii_lowercase().as_str() {
        "from" => *part = "from",
        "by" => *part = "by",
        "with" => *part = "with",
        "via" | "id" | "for" => *part = "other",
        _ => match *part {
            "from" if r.from.is_none() => {
                if let Some(ip) = bracketed_ip(&w) {
                    r.ip = r.ip.or(Some(ip));
                }
                r.from = Some(w.to_ascii_lowercase());
            }
            "by" if r.by.is_none() => r.by = Some(w.to_ascii_lowercase()),
            "with" if r.with.is_none() => r.with = Some(w.to_ascii_uppercase()),
            _ => {}
        },
    }
}

/// One word inside parentheses: `[192.0.2.1]`, `helo=NAME` (Exim), `<addr>` after
/// `envelope-from` (Exim).
fn comment_word(word: &str, part: &str, r: &mut Received) {
    if part == "from" && r.ip.is_none() {
        if let Some(ip) = bracketed_ip(word) {
            r.ip = Some(ip);
        }
    }
    if let Some(helo) = word.strip_prefix("helo=") {
        if part == "from" && !helo.is_empty() {
            r.helo = Some(helo.to_ascii_lowercase());
        }
    }
    if word.starts_with('<') && word.ends_with('>') && r.envelope_from.is_none() {
        r.envelope_from = Some(word.trim_start_matches('<').trim_end_matches('>').to_owned());
    }
}

/// The IP in a word such as `[192.0.2.1]`, `[IPv6:2001:db8::1]`, `rdns[192.0.2.1]` (Exim's
/// `host [ip]` written without a space) or a bare address.
fn bracketed_ip(word: &str) -> Option<IpAddr> {
    let inner = match (word.find('['), word.rfind(']')) {
        (Some(open), Some(close)) if open < close => word.get(open + 1..close)?,
        _ => word,
    };
    let inner = inner.strip_prefix("IPv6:").or_else(|| inner.strip_prefix("ipv6:")).unwrap_or(inner);
    // Exim may add `:port` after an IPv4 address inside the brackets.
    inner
        .parse()
        .ok()
        .or_else(|| inner.rsplit_once(':').and_then(|(a, _)| a.parse::<std::net::Ipv4Addr>().ok()).map(IpAddr::V4))
}

/// The address inside a `Return-Path:` value: `Some("")` for `<>`.
pub fn return_path(value: &str) -> Option<String> {
    let value = value.trim();
    let inner = match (value.find('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value.get(open + 1..close)?,
        _ => value,
    };
    Some(inner.trim().to_owned())
}

/// The facts of a delivered `message`, read from our border MTA's `Received:` line (chosen by
/// `trust`), `Return-Path:`, and any result the border MTA recorded.
pub fn facts(message: &Message<'_>, trust: &Trust) -> Facts {
    let fields = fields(message);
    let received: Vec<(usize, Received)> = fields
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| name == "received")
        .map(|(i, (_, value))| (i, received(value)))
        .collect();
    let border = if trust.receivers.is_empty() {
        trust.hops.checked_sub(1).and_then(|n| received.get(n))
    } else {
        let ours = |host: &Option<String>| host.as_deref().is_some_and(|h| trust.receivers.iter().any(|t| t == h));
        received.iter().take_while(|(_, r)| ours(&r.by)).find(|(_, r)| !ours(&r.from))
    };
    let mut facts = Facts::default();
    let Some((index, line)) = border else {
        facts.missing = Some(if trust.receivers.is_empty() {
            format!("no Received: line {} from the top", trust.hops)
        } else {
            format!("no Received: line by {}", trust.receivers.join(", "))
        });
        return facts;
    };
    facts.ip = line.ip;
    facts.helo = line.helo_name().map(str::to_owned);
    facts.receiver = line.by.clone();
    facts.authenticated = line.authenticated();
    // The header our MTA adds on delivery (Postfix, Dovecot LDA, Exim's return_path_add); else
    // Exim's `envelope-from` in the border line itself.
    facts.mail_from = fields
        .iter()
        .find(|(name, _)| name == "return-path")
        .and_then(|(_, value)| return_path(value))
        .or_else(|| line.envelope_from.clone());
    // RFC 7208 §9.1: the receiver prepends Received-SPF above its own Received: line (Postfix
    // PREPEND and milters do); anything lower came with the message and may be forged. The same
    // for Authentication-Results, which must also carry our authserv-id (RFC 8601 §5).
    facts.recorded = fields.get(..*index).unwrap_or(&[]).iter().find_map(|(name, value)| match name.as_str() {
        "received-spf" => received_spf(value, facts.ip),
        "authentication-results" => authentication_results(value, trust),
        _ => None,
    });
    facts
}

/// A `Received-SPF:` value (RFC 7208 §9.1): the result word first; `identity=` when given. A
/// header naming another `client-ip` is about another hop and is ignored.
fn received_spf(value: &str, ip: Option<IpAddr>) -> Option<Recorded> {
    let result = SpfResult::from_word(value.split_whitespace().next()?)?;
    let mut identity = None;
    for pair in value.split(';') {
        let pair = pair.rsplit_once(')').map_or(pair, |(_, rest)| rest);
        let Some((key, val)) = pair.trim().split_once('=') else { continue };
        let val = val.trim().trim_matches('"');
        // The first pair follows the result word and its comment: `pass (…) client-ip=…`.
        match key.split_whitespace().last().unwrap_or("").to_ascii_lowercase().as_str() {
            "client-ip" => {
                let stated = val.parse::<IpAddr>().ok();
                if ip.is_some() && stated.is_some() && stated != ip {
                    return None;
                }
            }
            "identity" => identity = Identity::from_word(val),
            _ => {}
        }
    }
    Some(Recorded { result, identity, header: "Received-SPF" })
}

/// An `Authentication-Results:` value (RFC 8601) whose authserv-id is ours: its `spf=` result
/// and the `smtp.mailfrom`/`smtp.helo` property that says which identity.
fn authentication_results(value: &str, trust: &Trust) -> Option<Recorded> {
    let (id, rest) = value.split_once(';')?;
    let id = id.split_whitespace().next()?.to_ascii_lowercase();
    let ours = match &trust.authserv_id {
        Some(ours) => *ours == id,
        None => trust.receivers.contains(&id),
    };
    if !ours {
        return None;
    }
    let spf = rest.split(';').map(str::trim).find(|m| m.get(..4).is_some_and(|k| k.eq_ignore_ascii_case("spf=")))?;
    let result = SpfResult::from_word(spf.get(4..)?.split(|c: char| c.is_whitespace() || c == '(').next()?)?;
    let lower = spf.to_ascii_lowercase();
    let identity = if lower.contains("smtp.mailfrom=") {
        Some(Identity::MailFrom)
    } else if lower.contains("smtp.helo=") {
        Some(Identity::Helo)
    } else {
        None
    };
    Some(Recorded { result, identity, header: "Authentication-Results" })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::facts`] of bytes.
    fn facts(message: &[u8], trust: &Trust) -> Facts {
        super::facts(&Message::parse(message), trust)
    }

    const POSTFIX: &str = "from mail.example.net (mail.example.net [203.0.113.9]) by mx.example.com (Postfix) with ESMTPS id 4ABC for <bob@example.com>; Sun, 22 Nov 2026 10:00:00 +0000";
    const EXIM: &str = "from [203.0.113.9] (port=4242 helo=Mail.Example.NET) by mx.example.com with esmtps (TLS1.3) (Exim 4.96) (envelope-from <ann@example.net>) id 1abc; Sun, 22 Nov 2026 10:00:00 +0000";

    #[test]
    fn postfix_and_exim_lines() {
        let r = received(POSTFIX);
        assert_eq!(r.ip, Some("203.0.113.9".parse().expect("ip")));
        assert_eq!(
            (r.helo_name(), r.by.as_deref(), r.with.as_deref()),
            (Some("mail.example.net"), Some("mx.example.com"), Some("ESMTPS"))
        );
        let r = received(EXIM);
        assert_eq!(r.ip, Some("203.0.113.9".parse().expect("ip")));
        assert_eq!(r.helo_name(), Some("mail.example.net"));
        assert_eq!(r.envelope_from.as_deref(), Some("ann@example.net"));
        let v6 = received("from x (unknown [IPv6:2001:db8::5]) by mx with ESMTPSA; date");
        assert_eq!(v6.ip, Some("2001:db8::5".parse().expect("ip")));
        assert!(v6.authenticated());
        // Garbage never panics and finds nothing.
        assert_eq!(received("((( [ ] ;;"), Received::default());
    }

    fn message(headers: &str) -> Vec<u8> {
        format!("{headers}\r\nSubject: hi\r\n\r\nbody Received: from evil ([198.51.100.1])\r\n").into_bytes()
    }

    #[test]
    fn the_border_line_by_hops_and_by_receivers() {
        let m = message(&format!(
            "Return-Path: <ann@example.net>\r\nReceived: from mx.example.com by imap.example.com with LMTP; d\r\nReceived: {POSTFIX}\r\nReceived: from forged ([192.0.2.66]) by mail.example.net; d"
        ));
        let by_hops = facts(&m, &Trust { hops: 2, ..Trust::default() });
        assert_eq!(by_hops.ip, Some("203.0.113.9".parse().expect("ip")));
        assert_eq!(by_hops.mail_from.as_deref(), Some("ann@example.net"));
        let trust = Trust { receivers: vec!["mx.example.com".into(), "imap.example.com".into()], ..Trust::default() };
        let by_names = facts(&m, &trust);
        assert_eq!(by_names, by_hops);
        assert_eq!(by_names.receiver.as_deref(), Some("mx.example.com"));
        // The first line is not by one of ours: nothing is trusted.
        let other = Trust { receivers: vec!["mx.example.org".into()], ..Trust::default() };
        assert!(facts(&m, &other).missing.is_some());
        assert!(facts(b"Subject: x\r\n\r\n", &Trust::default()).missing.is_some());
    }

    #[test]
    fn recorded_results_above_the_border_only() {
        let ours = format!(
            "Received-SPF: Fail (mx: not allowed) client-ip=203.0.113.9; identity=mailfrom\r\nReceived: {POSTFIX}"
        );
        let f = facts(&message(&ours), &Trust::default());
        let recorded = f.recorded.expect("recorded");
        assert_eq!((recorded.result, recorded.identity), (SpfResult::Fail, Some(Identity::MailFrom)));
        // A Received-SPF below the border line came with the message (a spammer's direct delivery
        // has no Received: line of its own): not ours.
        let theirs = format!("Received: {POSTFIX}\r\nReceived-SPF: pass client-ip=203.0.113.9");
        assert_eq!(facts(&message(&theirs), &Trust::default()).recorded, None);
        // Another hop's client-ip: not about this transaction.
        let other_ip = format!("Received-SPF: pass client-ip=192.0.2.1\r\nReceived: {POSTFIX}");
        assert_eq!(facts(&message(&other_ip), &Trust::default()).recorded, None);
        let ar = format!("Authentication-Results: mx.example.com; dkim=none; spf=softfail smtp.mailfrom=ann@example.net\r\nReceived: {POSTFIX}");
        let trust = Trust { authserv_id: Some("mx.example.com".into()), ..Trust::default() };
        let recorded = facts(&message(&ar), &trust).recorded.expect("ours");
        assert_eq!((recorded.result, recorded.identity), (SpfResult::SoftFail, Some(Identity::MailFrom)));
        assert_eq!(facts(&message(&ar), &Trust::default()).recorded, None, "not our authserv-id");
    }

    #[test]
    fn null_sender_and_submissions() {
        let m = message("Return-Path: <>\r\nReceived: from laptop ([198.51.100.20]) by mx.example.com with ESMTPSA; d");
        let f = facts(&m, &Trust::default());
        assert_eq!(f.mail_from.as_deref(), Some(""));
        assert!(f.authenticated);
    }
}
