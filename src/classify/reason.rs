//! Bounce reasons (Sisimai's names plus `greylisted`) and temporary vs permanent, judged from
//! the diagnostic text first, then the enhanced status code (RFC 3463), then the SMTP reply code.
//!
//! The phrase tables follow Sisimai's `lib/Sisimai/Reason/*.pm` (`match` lists) in spirit and
//! order: specific reasons (mailbox full, too big, suspended …) are tried before the broad ones
//! (rejected, blocked), because one diagnostic often says several things ("550 5.7.1 … mailbox
//! full, message rejected").

use serde::Serialize;

mod phrases;

use super::lhost::text::{reply_code_in, status_in};
use phrases::PHRASES;

/// Why a delivery failed or was delayed. Names follow Sisimai so figures compare directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
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
        "7.7" => Reason::PolicyViolation,
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
/// without a Status field, text saying "temporary" / "try again later" makes it temporary and
/// "permanent" with no code permanent; `greylisted` is always temporary.
pub fn judge(status: Option<&str>, diagnostic: Option<&str>) -> (Reason, Option<bool>) {
    // RFC 3463 class 2 in the Status field: success (a delivered/relayed/expanded record).
    if status.is_some_and(|s| s.trim_start().starts_with("2.")) {
        return (Reason::Delivered, None);
    }
    // A Status field's comment ("5.4.4 (Illegal host/domain name found)") is text too.
    let comment = status.and_then(|s| s.split_once('(')).map_or("", |(_, c)| c);
    let text = format!("{} {comment}", diagnostic.unwrap_or_default());
    let diag = text.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let diag = without_banners(&diag);
    let diag = diag.as_ref();
    // A DSN's Status field is authoritative; a status stated in the text is the next best.
    // An unspecific x.0.0 gives way to a specific code quoted in the text ("550 5.7.26 …").
    let field = status.and_then(status_in);
    let status = match (field.clone(), status_in(diag)) {
        (Some(s), Some(t)) if s.ends_with(".0.0") && !t.ends_with(".0.0") => Some(t),
        (s, t) => s.or(t),
    };
    let reply = reply_code_in(diag);
    let permanent = match status.as_deref().and_then(|s| s.chars().next()) {
        // Without a Status field, the words can overrule a code quoted in them ("550 … this is
        // a temporary failure, try again later").
        _ if field.is_none() && says_temporary(diag) => Some(false),
        Some('5') => Some(true),
        Some('4') => Some(false),
        _ => reply.map(|r| r >= 500).or_else(|| diag.contains("permanent").then_some(true)),
    };
    if let Some(r) = orange(diag) {
        return (r, permanent);
    }
    let pairs = Pairs::of(diag);
    let by_text = PHRASES
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| pairs.may_contain(p) && diag.contains(p)))
        .map(|(r, _)| *r)
        .or_else(|| no_account_here(diag).then_some(Reason::UserUnknown));
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
            if at_data(diag) && status.as_deref().is_none_or(|s| s.get(1..4) != Some(".1.")) =>
        {
            Reason::Filtered
        }
        // Refused at MAIL FROM: whatever the words, the sender was rejected (RFC 5321 §3.3).
        (Some(Reason::UserUnknown | Reason::HostUnknown), _) if at_mail_from(diag) => Reason::Rejected,
        // x.4.7 "delivery time expired" while the network kept failing: it expired.
        (Some(Reason::NetworkError), Some(Reason::Expired)) => Reason::Expired,
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

/// The reason the diagnostic's words alone give (the phrase tables; no status or reply code).
pub fn by_text(diagnostic: &str) -> Option<Reason> {
    let diag = diagnostic.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
    let diag = without_banners(&diag);
    let pairs = Pairs::of(&diag);
    PHRASES
        .iter()
        .find(|(_, phrases)| phrases.iter().any(|p| pairs.may_contain(p) && diag.contains(p)))
        .map(|(r, _)| *r)
        .or_else(|| no_account_here(&diag).then_some(Reason::UserUnknown))
}

/// Sisimai's last resorts (`Sisimai::Reason::get` and `anotherone`), for a recipient whose
/// reason is still vague once every source was read: a delayed recipient whose words name no
/// reason has `expired` (its status says only that the network or host is trying), and a
/// failure whose words name no reason but exist is `onhold` rather than `undefined`.
pub fn last_resort(reason: Reason, delayed: bool, diagnostic: Option<&str>) -> Reason {
    let words = diagnostic.map(str::trim).filter(|d| !d.is_empty());
    let named = words.and_then(by_text);
    match reason {
        Reason::Undefined | Reason::NetworkError if delayed && named.is_none() => Reason::Expired,
        Reason::Undefined if words.is_some() && named.is_none() => Reason::OnHold,
        r => r,
    }
}

/// "This user doesn't have a yahoo.com account", "… does not have an account here": the
/// address names nobody (Sisimai `Reason::UserUnknown`).
fn no_account_here(diag: &str) -> bool {
    ["doesn't have a", "does not have a"]
        .iter()
        .filter_map(|p| diag.find(p).map(|i| i + p.len()))
        .any(|end| diag.get(end..).is_some_and(|rest| rest.split(' ').take(4).any(|w| w.starts_with("account"))))
}

/// Sentences that scanners and mail gateways append to any message they pass ("This email has
/// been scanned for viruses by …"): they say nothing about why delivery failed, but their
/// words ("virus", "spam") would outvote the report's own status. Dropped before judging.
fn without_banners(diag: &str) -> std::borrow::Cow<'_, str> {
    const BANNER: [&str; 5] = ["scanned", "virus-free", "virus free", "antivirus", "anti-virus"];
    if !BANNER.iter().any(|b| diag.contains(b)) {
        return std::borrow::Cow::Borrowed(diag);
    }
    let kept: Vec<&str> =
        diag.split_inclusive(['.', '!', '|']).filter(|s| !BANNER.iter().any(|b| s.contains(b))).collect();
    std::borrow::Cow::Owned(kept.concat())
}

/// A 4096-bit set of the (hashed) adjacent byte pairs of a text: a phrase with a pair the text
/// lacks cannot occur in it. Rules out nearly all of the several hundred phrases with a few bit
/// tests each, so only plausible ones pay for a substring search.
struct Pairs([u64; 64]);

impl Pairs {
    /// The bucket of the byte pair `a b`.
    fn slot(a: u8, b: u8) -> usize {
        (usize::from(a).wrapping_mul(31) ^ usize::from(b).wrapping_mul(131)) & 4095
    }

    fn of(text: &str) -> Pairs {
        let mut bits = [0u64; 64];
        for w in text.as_bytes().windows(2) {
            let i = Self::slot(w[0], w[1]);
            if let Some(word) = bits.get_mut(i / 64) {
                *word |= 1 << (i % 64);
            }
        }
        Pairs(bits)
    }

    fn may_contain(&self, phrase: &str) -> bool {
        phrase.as_bytes().windows(2).all(|w| {
            let i = Self::slot(w[0], w[1]);
            self.0.get(i / 64).is_some_and(|word| word & (1 << (i % 64)) != 0)
        })
    }
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

/// Orange / Wanadoo / La Poste (France Télécom) replies end in a code like `LPN007_426` or
/// `OFR_506`; its last three digits name the cause (Sisimai `Rhost::FrancePTT`). The prose
/// around them ("Service refuse") is the same for very different causes, so the code decides.
fn orange(diag: &str) -> Option<Reason> {
    for tag in ["lpn", "ofr"] {
        let mut from = 0;
        while let Some(i) = diag.get(from..).and_then(|d| d.find(tag)) {
            let at = from + i + tag.len();
            from = at;
            let rest = diag.get(at..)?;
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let Some(code) = rest.get(digits..).and_then(|r| r.strip_prefix('_')).and_then(|r| r.get(..3)) else {
                continue;
            };
            let Ok(n) = code.parse::<u16>() else { continue };
            return Some(match n {
                100..=199 | 510 => Reason::Blocked,
                420..=429 => Reason::Suspend,
                505 => Reason::SystemError,
                506 => Reason::SpamDetected,
                600..=699 => Reason::PolicyViolation,
                _ => continue,
            });
        }
    }
    None
}

/// Whether the (lowercased) text says the failure is temporary.
fn says_temporary(diag: &str) -> bool {
    ["temporary failure", "temporarily", "temporary error", "try again later", "will be retried", "will keep trying"]
        .iter()
        .any(|p| diag.contains(p))
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
    fn smtp_stage_and_specific_codes() {
        // x.2.1 with "user unknown": the mailbox refused it, unless the reply was to RCPT TO.
        assert_eq!(judge(Some("5.2.1"), Some("smtp; 550 5.2.1 <a@b.c>... User Unknown")).0, Reason::Filtered);
        let rcpt = "SMTP error from remote mail server after RCPT TO:<a@b.c>: 550 5.2.1 User Unknown";
        assert_eq!(judge(None, Some(rcpt)).0, Reason::UserUnknown);
        // Refused at MAIL FROM: the sender was rejected, whatever the words.
        let mail_from = "SMTP error from remote mail server after MAIL FROM:<s@b.c>: 553 5.1.0 s does not exist";
        assert_eq!(judge(None, Some(mail_from)).0, Reason::Rejected);
        // An x.0.0 Status gives way to the specific code in the text.
        assert_eq!(judge(Some("5.0.0"), Some("550 5.7.26 <a@b.c>: Recipient address rejected")).0, Reason::AuthFailure);
        // Temporary DNS trouble is a network error, permanent is an unknown host.
        assert_eq!(judge(Some("4.0.0"), Some("Host not found")), (Reason::NetworkError, Some(false)));
        assert_eq!(judge(Some("5.0.0"), Some("Host not found")), (Reason::HostUnknown, Some(true)));
    }

    #[test]
    fn orange_codes_decide() {
        let d = "smtp; 550 5.5.0 Le compte du destinataire est bloque. LPN007_426";
        assert_eq!(judge(Some("5.5.0"), Some(d)).0, Reason::Suspend);
        let d = "smtp; 421 4.2.0 Service refuse. Service refused, please try later. OFR005_505 [505]";
        assert_eq!(judge(Some("4.2.0"), Some(d)), (Reason::SystemError, Some(false)));
    }

    #[test]
    fn permanence_from_words_without_a_status_field() {
        assert_eq!(judge(None, Some("550 mailbox busy, temporary failure, try again later")).1, Some(false));
        assert_eq!(judge(Some("5.2.2"), Some("550 5.2.2 mailbox full, try again later")).1, Some(true));
        assert_eq!(judge(None, Some("This is a permanent error.")).1, Some(true));
    }

    #[test]
    fn clear_words_beat_a_vague_status() {
        assert_eq!(judge(Some("5.7.1"), Some("smtp; 550 5.7.1 Nonexistent user")).0, Reason::UserUnknown);
        assert_eq!(judge(Some("5.3.0"), Some("smtp; 553 5.3.0 Unknown E-Mail Address")).0, Reason::UserUnknown);
        assert_eq!(judge(Some("5.0.0"), Some("550 This user doesn't have a yahoo.com account")).0, Reason::UserUnknown);
        assert_eq!(judge(Some("5.2.2"), Some("552 5.2.2 Mailbox quota usage exceeded")).0, Reason::MailboxFull);
        assert_eq!(judge(Some("5.0.0"), Some("550 unknown user account")).0, Reason::UserUnknown);
        assert_eq!(judge(Some("5.4.4"), Some("I couldn't find any host by that name.")).0, Reason::HostUnknown);
    }

    #[test]
    fn a_scanner_banner_does_not_decide() {
        let d = "550 5.1.1 <a@b.c>: mailbox unavailable. This email has been scanned for viruses and spam by Example.";
        assert_eq!(judge(Some("5.1.1"), Some(d)).0, Reason::UserUnknown);
        assert_eq!(judge(Some("5.7.1"), Some("554 5.7.1 Virus found in message")).0, Reason::VirusDetected);
    }

    #[test]
    fn success_status_is_delivered() {
        assert_eq!(judge(Some("2.1.5"), Some("250 2.1.5 Ok")), (Reason::Delivered, None));
    }

    #[test]
    fn greylisting_is_temporary() {
        assert_eq!(judge(Some("5.7.1"), Some("550 Greylisted, come back later")), (Reason::Greylisted, Some(false)));
    }
}
