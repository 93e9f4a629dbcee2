//! Bounce reasons (Sisimai's names plus `greylisted`) and temporary vs permanent, judged from
//! the diagnostic text first, then the enhanced status code (RFC 3463), then the SMTP reply code.
//!
//! The phrase tables follow Sisimai's `lib/Sisimai/Reason/*.pm` (`match` lists) in spirit and
//! order: specific reasons (mailbox full, too big, suspended …) are tried before the broad ones
//! (rejected, blocked), because one diagnostic often says several things ("550 5.7.1 … mailbox
//! full, message rejected").

use serde::Serialize;

use super::lhost::text::{reply_code_in, status_in};

/// Why a delivery failed or was delayed. Names follow Sisimai so figures compare directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    AuthFailure,
    BadReputation,
    Blocked,
    ContentError,
    Delivered,
    ExceedLimit,
    Expired,
    FailedStartTls,
    Feedback,
    Filtered,
    Greylisted,
    HasMoved,
    HostUnknown,
    MailboxFull,
    MailerError,
    MesgTooBig,
    NetworkError,
    NoRelaying,
    NotAccept,
    NotCompliantRfc,
    OnHold,
    PolicyViolation,
    RateLimited,
    Rejected,
    RequirePtr,
    SecurityError,
    SpamDetected,
    Speeding,
    Suppressed,
    Suspend,
    SyntaxError,
    SystemError,
    SystemFull,
    TooManyConn,
    Undefined,
    UserUnknown,
    Vacation,
    VirusDetected,
}

/// Phrase tables, tried in order; the first reason with a phrase in the (lowercased,
/// whitespace-collapsed) diagnostic wins.
const PHRASES: &[(Reason, &[&str])] = &[
    // Named block lists and content-security wording first: "spamhaus" must not read as spam.
    (Reason::SpamDetected, &["blacklisted url"]),
    (Reason::HostUnknown, &["domain may not exist"]),
    (
        Reason::Blocked,
        &[
            "use the smtp server of your isp",
            "open relay",
            "spamhaus",
            "spamcop",
            "blacklisted",
            "dnsbl",
            "invalid ip for sending",
            "barracudacentral",
        ],
    ),
    (Reason::PolicyViolation, &["content presents a potential", "violates our policy", "policy violation"]),
    (
        Reason::Greylisted,
        &["greylist", "graylist", "grey-list", "gray-list", "greylisting", "try again in a few minutes"],
    ),
    (
        Reason::SystemFull,
        &[
            "insufficient disk space",
            "mail system full",
            "system full",
            "insufficient system storage",
            "disk full",
            "out of disk space",
            "no space left",
        ],
    ),
    (
        Reason::MailboxFull,
        &[
            "recipient's mailbox exceeded",
            "mailbox exceeded the local limit",
            "mailbox full",
            "mailbox is full",
            "mailbox has exceeded",
            "mailbox size limit exceeded",
            "mailbox exceeds allowed size",
            "mailfolder is full",
            "mail box full",
            "box is full",
            "inbox is full",
            "over quota",
            "overquota",
            "over the quota",
            "quota exceeded",
            "exceeded quota",
            "quota violation",
            "exceeds quota",
            "would exceed quota",
            "exceed mailbox quota",
            "exceeded storage allocation",
            "exceeded their storage",
            "out of storage space",
            "not enough storage",
            "user has exhausted allowed storage space",
            "disk quota",
            "account is full",
            "account is over",
            "recipient's mailbox is full",
            "maildir over quota",
            "too much mail data",
            "user is over",
            "quota full",
            "mailbox space",
            "is over the allowed quota",
            "the user's space has been used up",
        ],
    ),
    (
        Reason::MesgTooBig,
        &[
            "message too large",
            "message is too large",
            "message too big",
            "message is too big",
            "message size exceeds",
            "message size exceeded",
            "message exceeds maximum",
            "exceeds the size limit",
            "size limit",
            "message length exceeds",
            "message larger than",
            "maximum message size",
            "max message size",
            "mail size exceeds",
            "size exceeds maximum",
            "email size",
            "too large for",
        ],
    ),
    (Reason::ExceedLimit, &["message header size exceeds", "exceeded the limit of", "recipients limit exceeded"]),
    (
        Reason::Suspend,
        &[
            "account disabled",
            "account has been disabled",
            "account is disabled",
            "account is suspended",
            "account has been suspended",
            "account suspended",
            "mailbox disabled",
            "mailbox is disabled",
            "mailbox has been disabled",
            "mailbox is inactive",
            "account is inactive",
            "inactive account",
            "inactive user",
            "account has been locked",
            "recipient suspended",
            "user suspended",
            "suspended due to",
            "is disabled",
            "has been disabled",
            "is inactive",
            "account is frozen",
            "mailbox unavailable or inactive",
            "account that you tried to reach is disabled",
            "temporarily disabled",
            "not an active address",
            "temporary locked",
            "temporarily locked",
        ],
    ),
    (Reason::HasMoved, &["has moved", "has been replaced by", "address has changed"]),
    (
        Reason::NoRelaying,
        &[
            "insecure mail relay",
            "relay access denied",
            "relaying denied",
            "relay denied",
            "relay not permitted",
            "relaying not allowed",
            "relaying not permitted",
            "not permitted to relay",
            "unable to relay",
            "we do not relay",
            "relay not allowed",
            "no relaying allowed",
            "relaying mail to",
            "not allowed to relay",
            "relaying to",
            "not configured to relay",
            "relay prohibited",
        ],
    ),
    (
        Reason::NotCompliantRfc,
        &[
            "addresses in from: header",
            "rfc 5322",
            "rfc5322",
            "rfc 2822",
            "rfc2822",
            "not rfc compliant",
            "duplicate header",
            "multiple addresses in from",
            "message is not rfc",
            "message contains invalid header",
            "bare lf",
            "bare <lf>",
        ],
    ),
    (
        Reason::AuthFailure,
        &[
            "authentication checks failed",
            "spf settings",
            "spf check",
            "spf fail",
            "spf validation",
            "sender policy framework",
            "spf: ",
            "spf)",
            "spf=",
            "dmarc",
            "dkim",
            "unauthenticated email",
            "is not authorized to send",
            "not designated as permitted sender",
            "authentication failure",
            "sender authentication",
            "authentication information",
            "fails to pass authentication",
        ],
    ),
    (
        Reason::RequirePtr,
        &[
            "ptr record",
            "reverse dns",
            "reverse lookup",
            "reverse-dns",
            "no ptr",
            "rdns",
            "ptr lookup",
            "cannot find your hostname",
            "cannot find your reverse hostname",
            "cannot resolve your address",
            "no reverse",
            "reverse hostname",
            "mismatches client ip",
            "unresolvable ip",
            "not have reverse",
            "ip name lookup failed",
            "your ip has no",
            "dns ptr",
            "client host rejected: cannot find your hostname",
        ],
    ),
    (
        Reason::NotAccept,
        &[
            "no mx",
            "mx record",
            "type=mx",
            "does not accept mail",
            "not accept mail",
            "doesn't accept mail",
            "null mx",
            "doesn't receive email",
            "couldn't find a mail exchanger",
            "accepts no mail",
            "not accepting mail",
            "mail is not accepted",
            "no mail accepted",
        ],
    ),
    (
        Reason::HostUnknown,
        &[
            "dns lookup failure",
            "host unknown",
            "unknown host",
            "host not found",
            "domain not found",
            "no such domain",
            "domain does not exist",
            "name or service not known",
            "unrouteable mail domain",
            "unrouteable address",
            "domain is not reachable",
            "unroutable",
            "name server",
            "nxdomain",
            "hostname lookup failed",
            "all relevant mx records point to non-existent hosts",
            "dns error",
            "domain name not found",
            "host or domain name not found",
            "invalid domain",
            "unknown domain",
        ],
    ),
    (
        Reason::UserUnknown,
        &[
            "address couldn't be found",
            "couldn't be found",
            "the recipient name is not recognized",
            "not listed in",
            "invalid final delivery userid",
            "recipnotfound",
            "recipientnotfound",
            "e-mail address was not found",
            "email address was not found",
            "user unknown",
            "unknown user",
            "no such user",
            "no such mailbox",
            "no such recipient",
            "no such address",
            "no such account",
            "no mailbox",
            "mailbox not found",
            "mailbox does not exist",
            "mailbox unavailable",
            "mailbox is unavailable",
            "recipient unknown",
            "unknown recipient",
            "recipient not found",
            "recipient address rejected: user unknown",
            "recipient address rejected: unknown",
            "invalid recipient",
            "invalid mailbox",
            "invalid address",
            "not a valid mailbox",
            "user not found",
            "user not known",
            "user does not exist",
            "user doesn't exist",
            "address does not exist",
            "account does not exist",
            "does not exist",
            "doesn't exist",
            "unknown local part",
            "unknown address",
            "address unknown",
            "no such local user",
            "not our customer",
            "unknown or illegal alias",
            "user doesn't have a",
            "is not a known user",
            "bad destination mailbox",
            "no account by that name",
            "recipient rejected",
            "address rejected",
            "mailbox not available",
            "no longer available",
            "destination address does not exist",
            "unknown mailbox",
            "user invalid",
            "no valid recipients",
            "not a valid user",
            "not exist",
            "no user",
        ],
    ),
    (
        Reason::Filtered,
        &[
            "due to the recipient's policy",
            "due to recipients policy",
            "refused due to recipient preferences",
            "rejected by recipient",
            "user refuses to receive",
            "user reject",
            "message filtered",
            "message rejected due to user rules",
            "is not accepting any mail",
            "only accepting mail from specific",
            "you have been blocked by the recipient",
            "has restricted sms e-mail",
            "delivery not authorized",
            "not accepting mail with attachments",
            "because the recipient is not accepting",
        ],
    ),
    (
        Reason::Rejected,
        &[
            "purported responsible address",
            "sender rejected",
            "sender address rejected",
            "sender denied",
            "sender blocked",
            "domain of sender address",
            "sender verify failed",
            "sender verification",
            "rejected sender",
            "invalid sender",
            "sender domain",
            "envelope blocked",
            "address of sender",
            "access denied",
            "sender was rejected",
            "domain is invalid",
        ],
    ),
    (
        Reason::BadReputation,
        &[
            "user complaints",
            "[tss04]",
            "bad reputation",
            "poor reputation",
            "low reputation",
            "ip reputation",
            "sender reputation",
            "domain reputation",
            "reputation of",
            "temporarily rate limited due to ip reputation",
        ],
    ),
    (Reason::VirusDetected, &["virus", "malware", "infected", "worm"]),
    (
        Reason::SpamDetected,
        &[
            "spam",
            "junk mail",
            "unsolicited",
            "content filter",
            "message content rejected",
            "bulk mail",
            "considered as spam",
            "scored too high",
            "blocked by filter",
            "classified as",
            "phishing",
        ],
    ),
    (
        Reason::Speeding,
        &[
            "recipients this hour",
            "rate limit",
            "rate-limit",
            "ratelimit",
            "too many messages",
            "sending too fast",
            "too many emails",
            "exceeded the rate",
        ],
    ),
    (
        Reason::TooManyConn,
        &[
            "too many recipients",
            "connection frequency limited",
            "too many connections",
            "too many simultaneous",
            "too many concurrent",
            "connection limit",
            "too many sessions",
        ],
    ),
    (
        Reason::Blocked,
        &[
            "blocked",
            "blacklisted",
            "blacklist",
            "block list",
            "blocklist",
            "denylist",
            "listed at",
            "listed in",
            "listed on",
            "spamhaus",
            "spamcop",
            "sorbs",
            "barracudacentral",
            "rbl",
            "dnsbl",
            "client host rejected",
            "connection refused",
            "not allowed to send mail",
            "your ip",
            "your host",
            "your network",
            "banned",
            "refused to talk",
            "service unavailable; client",
        ],
    ),
    (
        Reason::PolicyViolation,
        &[
            "policy violation",
            "violates our policy",
            "violation of our policy",
            "policy reasons",
            "local policy",
            "content policy",
            "prohibited attachment",
            "attachment not allowed",
            "banned attachment",
            "executable",
            "policy",
        ],
    ),
    (
        Reason::Expired,
        &[
            "was aborted after",
            "retry timeout exceeded",
            "retry time not reached",
            "delivery time expired",
            "delivery expired",
            "message expired",
            "has been expired",
            "queue too long",
            "too long in queue",
            "could not be delivered for",
            "giving up",
            "given up",
            "deferred for too long",
            "timeout",
            "timed out",
            "time out",
            "expired",
            "i'm not going to try again",
            "was not delivered within",
        ],
    ),
    (
        Reason::NetworkError,
        &[
            "host name lookup failure",
            "connection refused",
            "network is unreachable",
            "host is unreachable",
            "could not connect",
            "unable to connect",
            "connection reset",
            "lost connection",
            "connection dropped",
            "no route to host",
            "routing loop",
            "mail loop",
            "too many hops",
            "loop detected",
        ],
    ),
    (Reason::FailedStartTls, &["starttls", "tls required", "requires tls", "tls is required", "must issue a starttls"]),
    (
        Reason::MailerError,
        &[
            "pipe to",
            "command failed",
            "unknown mailer",
            "mailer error",
            "x-unix",
            "exit code",
            "exited with",
            "command died",
        ],
    ),
    (
        Reason::SystemError,
        &[
            "service currently unavailable",
            "service unavailable",
            "system error",
            "internal error",
            "server error",
            "local error",
            "temporary failure",
            "temporarily unavailable",
            "service not available",
            "try again later",
            "configuration error",
            "system config error",
            "mail system",
            "error in processing",
            "transaction failed",
        ],
    ),
    (
        Reason::SyntaxError,
        &["syntax error", "command unrecognized", "unrecognized command", "bad sequence", "invalid command"],
    ),
    (Reason::SecurityError, &["authentication required", "unauthenticated", "security", "not authorized", "tls"]),
];

/// The reason an enhanced status code (RFC 3463 §3) means on its own, for codes that say
/// something specific. `x.0.0` and unlisted codes give `None`: the text or reply code decides.
fn from_status(status: &str) -> Option<Reason> {
    let rest = status.get(2..)?;
    let class5 = status.starts_with('5');
    Some(match rest {
        "1.0" | "1.7" | "1.8" => Reason::Rejected,
        "1.1" | "1.3" | "1.4" | "1.5" | "1.351" => Reason::UserUnknown,
        "1.2" => Reason::HostUnknown,
        "1.6" => Reason::HasMoved,
        "1.9" | "2.4" | "3.0" | "3.3" | "3.5" | "4.3" => Reason::SystemError,
        "1.10" | "3.2" | "7.27" => Reason::NotAccept,
        "2.0" | "2.1" => Reason::Filtered,
        "2.2" => Reason::MailboxFull,
        "2.3" => Reason::ExceedLimit,
        "3.1" | "4.5" => Reason::SystemFull,
        "3.4" => Reason::MesgTooBig,
        "4.0" | "4.2" | "4.6" | "4.8" => Reason::NetworkError,
        "4.1" if class5 => Reason::Rejected,
        "4.1" | "4.7" | "4.316" => Reason::Expired,
        "4.4" => Reason::HostUnknown,
        "5.0" | "5.1" | "5.2" | "5.4" | "5.5" => Reason::SyntaxError,
        "5.3" => Reason::ExceedLimit,
        "6.0" | "6.1" | "6.2" | "6.3" | "6.4" | "6.5" | "6.6" | "6.7" | "6.8" | "6.9" => Reason::ContentError,
        "7.13" | "7.18" | "7.19" | "7.20" => Reason::Suspend,
        "7.23" | "7.24" | "7.26" | "7.509" | "7.515" => Reason::AuthFailure,
        "7.25" => Reason::RequirePtr,
        "7.7" | "7.9" => Reason::PolicyViolation,
        "7.0" | "7.1" | "7.2" | "7.3" | "7.4" | "7.5" | "7.6" | "7.8" | "7.10" | "7.11" | "7.12" => {
            Reason::SecurityError
        }
        _ => return None,
    })
}

/// The reason and permanence for one recipient, from its enhanced status code (RFC 3463), SMTP
/// reply code and diagnostic text. The text wins over a misleading code; the reply code is read
/// from the start of the diagnostic (`smtp; 550 …`, `550-5.1.1 …`).
///
/// Permanence: class 5 status (else a 5xx reply code) is permanent, class 4 (4xx) temporary;
/// `greylisted` is always temporary.
pub fn judge(status: Option<&str>, diagnostic: Option<&str>) -> (Reason, Option<bool>) {
    // A Status field's comment ("5.4.4 (Illegal host/domain name found)") is text too.
    let comment = status.and_then(|s| s.split_once('(')).map_or("", |(_, c)| c);
    let text = format!("{} {comment}", diagnostic.unwrap_or_default());
    let diag = text.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let diag = diag.as_str();
    // A DSN's Status field is authoritative; a status stated in the text is the next best.
    // An unspecific x.0.0 gives way to a specific code quoted in the text ("550 5.7.26 …").
    let status = match (status.and_then(status_in), status_in(diag)) {
        (Some(s), Some(t)) if s.ends_with(".0.0") && !t.ends_with(".0.0") => Some(t),
        (s, t) => s.or(t),
    };
    let reply = reply_code_in(diag);
    let permanent = match status.as_deref().and_then(|s| s.chars().next()) {
        Some('5') => Some(true),
        Some('4') => Some(false),
        _ => reply.map(|r| r >= 500),
    };
    let by_text = PHRASES.iter().find(|(_, phrases)| phrases.iter().any(|p| diag.contains(p))).map(|(r, _)| *r);
    let by_status = status.as_deref().and_then(from_status);
    let reason = match (by_text, by_status) {
        // Codes so specific that the text around them only repeats them in other words.
        (_, Some(s)) if status.as_deref().is_some_and(strong) => s,
        // "User unknown" under x.2.0/x.2.1: the mailbox exists but refused the message (Sisimai
        // reads these as filtered, or suspend for a disabled mailbox).
        (Some(Reason::UserUnknown), Some(s @ (Reason::Filtered | Reason::Suspend))) if !at_rcpt(diag) => s,
        // "User unknown" in reply to the message data: the address exists, the content was
        // refused (Sisimai: filtered).
        (Some(Reason::UserUnknown), _)
            if at_data(diag) && !status.as_deref().is_some_and(|s| s.get(1..4) == Some(".1.")) =>
        {
            Reason::Filtered
        }
        // Refused at MAIL FROM: whatever the words, the sender was rejected (RFC 5321 §3.3).
        (Some(Reason::UserUnknown | Reason::HostUnknown), _) if at_mail_from(diag) => Reason::Rejected,
        (Some(t), _) => t,
        (None, Some(s)) => s,
        (None, None) => reply.and_then(from_reply).unwrap_or(Reason::Undefined),
    };
    let reason = match reason {
        // A temporary DNS failure is the network's, not a verdict on the host (Sisimai).
        Reason::HostUnknown if permanent == Some(false) => Reason::NetworkError,
        r => r,
    };
    let permanent = if reason == Reason::Greylisted { Some(false) } else { permanent };
    (reason, permanent)
}

/// Status codes whose meaning the diagnostic never overrides: mailbox full (x.2.2), message
/// too big for the mailbox (x.2.3), sender rejected (x.1.7, x.1.8), moved (x.1.6), DMARC/PTR
/// (x.7.25, x.7.26), Microsoft's expiry (x.4.316).
fn strong(status: &str) -> bool {
    matches!(status.get(2..), Some("2.2" | "2.3" | "1.6" | "1.7" | "1.8" | "7.25" | "7.26" | "4.316"))
}

/// Whether the diagnostic says the reply came to `MAIL FROM` (Exim's "after MAIL FROM:",
/// Sendmail's ">>> MAIL From:").
fn at_mail_from(diag: &str) -> bool {
    diag.contains("after mail from") || diag.contains(">>> mail from")
}

/// Whether the diagnostic says the reply came to `RCPT TO` (Exim, qmail, Yahoo, dma wording).
fn at_rcpt(diag: &str) -> bool {
    ["after rcpt to", "rcpt to:", "after rcpt command", "[rcpt_to]", "does not like recipient", "in reply to rcpt to"]
        .iter()
        .any(|p| diag.contains(p))
}

/// Whether the (lowercased) diagnostic says the reply came to the message data (`DATA` / end
/// of data).
pub fn at_data(diag: &str) -> bool {
    ["after end of data", ">>> data", "in reply to end of data", "after data", "in reply to data"]
        .iter()
        .any(|p| diag.contains(p))
}

/// The reason a bare SMTP reply code (RFC 5321 §4.2.3) suggests when nothing else does.
fn from_reply(code: u16) -> Option<Reason> {
    Some(match code {
        421 => Reason::TooManyConn,
        500..=504 => Reason::SyntaxError,
        450 | 451 => Reason::SystemError,
        452 => Reason::SystemFull,
        550 | 551 => Reason::UserUnknown,
        552 => Reason::MailboxFull,
        553 => Reason::UserUnknown,
        554 => Reason::Rejected,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_beats_status() {
        assert_eq!(judge(Some("5.1.1"), Some("smtp; 550 5.1.1 Mailbox full")).0, Reason::MailboxFull);
        assert_eq!(
            judge(Some("5.1.1"), Some("smtp; 550 5.1.1 <a@b.c>... User Unknown")),
            (Reason::UserUnknown, Some(true))
        );
    }

    #[test]
    fn status_then_reply_code() {
        assert_eq!(judge(Some("5.2.2"), None), (Reason::MailboxFull, Some(true)));
        assert_eq!(judge(Some("4.4.7"), Some("")), (Reason::Expired, Some(false)));
        assert_eq!(judge(None, Some("552 sorry")), (Reason::MailboxFull, Some(true)));
        assert_eq!(judge(None, None), (Reason::Undefined, None));
    }

    #[test]
    fn greylisting_is_temporary() {
        assert_eq!(judge(Some("5.7.1"), Some("550 Greylisted, come back later")), (Reason::Greylisted, Some(false)));
    }
}
