//! The replay rule (DESIGN §4.4): a valid carrier proves that its message passed our signer,
//! not that this bounce is about that message. The sent log says to whom the message went; a
//! report naming a failed recipient the message never went to is a forged bounce quoting a
//! signature copied from another message. Pure: carriers, classification and the log in, a
//! [`ReplayFinding`] out.
//!
//! What the log can and cannot tell:
//! - **signature header, signed Message-ID, signed ENVID** carry the nonce: the message is found
//!   by it (and must have the carrier's key and day too);
//! - **BATV** `prvs=` tags carry no nonce (Exim's format: key, day, hash of the sender), so a
//!   tag names no message. A bounce whose only valid carrier is a tag is checked through the
//!   returned original's Message-ID instead, when the log has it (we log the Message-ID of
//!   every message we sign); with no returned header block the log cannot help, and a tag
//!   replayed within its 7 days stays genuine;
//! - **a valid carrier whose message is not in the log** is not a replay: its MAC proves we made
//!   it, and a replay reuses a carrier of a message we sent — which the log holds for as long
//!   as any carrier of it can verify ([`super::KEEP_DAYS`], by construction). What is missing
//!   was signed on another host sharing the keyring, or while the log was off or failed to
//!   write; nothing says which, so the carrier rule stands ([`ReplayFinding::Unknown`]). Unlike
//!   the Sent index, the log needs no coverage check: it cannot be "younger than the message"
//!   for a carrier that is both valid and ours, only incomplete;
//! - **auto-replies and reports that name no recipient** give nothing to compare: no finding.

use std::fmt;

use super::{Logged, SentLog};
use crate::classify::Classification;
use crate::message::Message;
use crate::sign::{header, msgid, Key};
use crate::verify::fields;
use crate::verify::{Carrier, CarrierKind};

/// What the sent log says about a checked message with a valid carrier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayFinding {
    /// The signed message went to a recipient the report names: proof beyond replay.
    Sent {
        /// One line, e.g. "the signed message was sent to bob@example.net (sent log)".
        why: String,
    },
    /// The signed message is in the log, and went to none of the recipients the report names:
    /// backscatter.
    Replayed {
        /// One line, e.g. "replayed signature: the signed message was never sent to …".
        why: String,
    },
    /// The log cannot tell (the message is not in it, or its recipients cannot be checked):
    /// the carrier rule decides.
    Unknown {
        /// One line, e.g. "not in the sent log: signed on another host or while it was off".
        why: String,
    },
}

impl ReplayFinding {
    /// The one-line explanation.
    pub fn why(&self) -> &str {
        match self {
            ReplayFinding::Sent { why } | ReplayFinding::Replayed { why } | ReplayFinding::Unknown { why } => why,
        }
    }
}

impl fmt::Display for ReplayFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.why())
    }
}

/// Looks the message's valid carriers up in `log`. `c` is its classification (the recipients
/// its report names, its returned original), `message` its bytes (for `Original-Recipient`),
/// `keys` the keyring's keys (the recipient hashes are keyed). `None` when no carrier is valid
/// or the report names no recipient: then there is nothing to check.
///
/// 1. every valid header, Message-ID and ENVID carrier is looked up by its nonce (key and day
///    must match too); a valid BATV tag, by the returned original's Message-ID;
/// 2. a message found that went to a named recipient (its `Final-Recipient` or
///    `Original-Recipient`, RFC 3464 §2.3.1–2: an alias or forward changes the first, not the
///    second) → [`ReplayFinding::Sent`];
/// 3. else a message found that went to none of them → [`ReplayFinding::Replayed`];
/// 4. else → [`ReplayFinding::Unknown`].
pub fn find(
    c: &Classification,
    message: &Message<'_>,
    carriers: &[Carrier],
    log: &SentLog,
    keys: &[Key<'_>],
) -> Option<ReplayFinding> {
    let valid: Vec<&Carrier> = carriers.iter().filter(|carrier| carrier.result.is_valid()).collect();
    if valid.is_empty() {
        return None;
    }
    let mut named: Vec<String> = c.recipients.iter().map(|r| r.address.clone()).filter(|a| a.contains('@')).collect();
    if named.is_empty() {
        return None;
    }
    named.extend(original_recipients(message));
    let mut found: Vec<(&Carrier, Logged<'_>)> = Vec::new();
    for carrier in &valid {
        let parts = match carrier.kind {
            CarrierKind::Header => header::parts(&carrier.token),
            CarrierKind::MessageId | CarrierKind::EnvId => msgid::parts(&carrier.token),
            CarrierKind::Batv => None,
        };
        let logged = match parts {
            Some((key, day, nonce)) => log.get(nonce).filter(|l| l.key == key && l.day == day),
            // No nonce in a tag: the returned original names the message, if the log knows it.
            None => c
                .original
                .as_ref()
                .filter(|o| !o.headers.is_empty())
                .and_then(|o| o.message_id.as_deref())
                .and_then(|id| log.get_by_message_id(id)),
        };
        if let Some(logged) = logged {
            found.push((carrier, logged));
        }
    }
    let Some((first, _)) = found.first() else {
        let why = "not in the sent log: signed on another host, or while the log was off".to_owned();
        return Some(ReplayFinding::Unknown { why });
    };
    for (_, logged) in &found {
        if let Some(to) = named.iter().find(|address| logged.was_sent_to(keys, address) == Some(true)) {
            let why = format!("the signed message was sent to {} (sent log)", bare(to));
            return Some(ReplayFinding::Sent { why });
        }
    }
    let never = found.iter().find(|(_, logged)| named.iter().all(|a| logged.was_sent_to(keys, a) == Some(false)));
    if let Some((carrier, logged)) = never {
        let failed: Vec<&str> = c.recipients.iter().map(|r| bare(&r.address)).filter(|a| a.contains('@')).collect();
        let what = if carrier.kind == CarrierKind::Batv { "carrier" } else { "signature" };
        let why = format!(
            "replayed {what}: the signed message was never sent to {} ({}, signed {}; sent log)",
            failed.join(", "),
            carrier.describe(),
            logged.day
        );
        return Some(ReplayFinding::Replayed { why });
    }
    let why = format!(
        "the sent log cannot tell who the message of the {} went to (too many recipients, or its key is gone)",
        first.kind.noun()
    );
    Some(ReplayFinding::Unknown { why })
}

/// The `Original-Recipient` fields of the message's own report part (not of a quoted or
/// returned message), without their `rfc822;` type.
fn original_recipients(message: &Message<'_>) -> Vec<String> {
    fields::body_fields(message.body(), &["original-recipient"])
        .into_iter()
        .filter(|f| !f.quoted)
        .map(|f| f.value)
        .filter(|v| v.contains('@'))
        .collect()
}

/// An address without its `rfc822;` type and angle brackets, for the why.
fn bare(address: &str) -> &str {
    let address = address.trim();
    let address = address.split_once(';').map_or(address, |(_, a)| a).trim();
    address.trim_start_matches('<').trim_end_matches('>')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::day::Day;
    use crate::evidence::sentlog::Entry;
    use crate::sign::{batv, KeyId, Verification};
    use crate::verify;

    const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"0123456789abcdef0123456789abcdef0123456789a" };
    const DAY: Day = Day(20_425);
    const NONCE: u64 = 0x0123_4567_89ab_cdef;

    /// A Postfix-style DSN for `failed`, returning the headers of our message signed with
    /// NONCE (header and Message-ID), delivered to `delivered_to`.
    fn bounce(failed: &str, delivered_to: &str, original_recipient: &str) -> String {
        let sig = header::make(&KEY, DAY, NONCE);
        let id = msgid::make_message_id(&KEY, DAY, NONCE, "example.com");
        format!(
            "Delivered-To: {delivered_to}\nFrom: MAILER-DAEMON@mx.example.net\nTo: {delivered_to}\n\
Subject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
Content-Type: text/plain\n\nI could not deliver it.\n\n--B\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; mx.example.net\n\n{original_recipient}Final-Recipient: rfc822; {failed}\nAction: failed\n\
Status: 5.1.1\n\n--B\nContent-Type: text/rfc822-headers\n\nX-Backscatter-Sig: {sig}\nMessage-ID: {id}\n\
From: ann@example.com\nTo: {failed}\nSubject: hi\n\n--B--\n"
        )
    }

    /// The message read, classified, and its carriers checked with `keys`.
    fn read<'m>(message: &'m str, keys: &[Key<'_>]) -> (Message<'m>, Classification, Vec<Carrier>) {
        let m = Message::parse(message.as_bytes());
        let c = classify(&m);
        let carriers = verify::carriers(&m, &c, keys, DAY, "X-Backscatter-Sig");
        (m, c, carriers)
    }

    fn finding(message: &str, log: &SentLog) -> Option<ReplayFinding> {
        let (m, c, carriers) = read(message, &[KEY]);
        find(&c, &m, &carriers, log, &[KEY])
    }

    fn log_of(recipients: &[&str]) -> SentLog {
        let mut log = SentLog::new();
        let id = msgid::make_message_id(&KEY, DAY, NONCE, "example.com");
        log.insert(Entry::new(&KEY, DAY, NONCE, Some(&id), recipients.iter().copied()));
        log
    }

    #[test]
    fn a_bounce_for_a_recipient_of_the_signed_message_is_proof() {
        let f = finding(&bounce("bob@example.net", "ann@example.com", ""), &log_of(&["Bob@example.net"]));
        assert_eq!(
            f,
            Some(ReplayFinding::Sent { why: "the signed message was sent to bob@example.net (sent log)".into() })
        );
    }

    #[test]
    fn a_bounce_for_someone_the_message_never_went_to_is_a_replay() {
        let f = finding(&bounce("eve@example.org", "ann@example.com", ""), &log_of(&["bob@example.net"]));
        let Some(ReplayFinding::Replayed { why }) = f else { panic!("{f:?}") };
        assert!(why.starts_with("replayed signature: the signed message was never sent to eve@example.org ("), "{why}");
        assert!(why.contains("valid signature header in the returned original"), "{why}");
    }

    #[test]
    fn an_original_recipient_counts_for_forwarded_mail() {
        let or = "Original-Recipient: rfc822; bob@example.net\n";
        let f = finding(&bounce("bob@forward.example", "ann@example.com", or), &log_of(&["bob@example.net"]));
        assert!(matches!(f, Some(ReplayFinding::Sent { .. })), "{f:?}");
    }

    #[test]
    fn a_message_not_in_the_log_leaves_the_carrier_rule() {
        let f = finding(&bounce("eve@example.org", "ann@example.com", ""), &SentLog::new());
        assert!(matches!(f, Some(ReplayFinding::Unknown { .. })), "{f:?}");
        // Same nonce, another day: another message.
        let mut log = SentLog::new();
        log.insert(Entry::new(&KEY, Day(DAY.0 - 1), NONCE, None, ["bob@example.net"]));
        assert!(matches!(
            finding(&bounce("eve@example.org", "a@example.com", ""), &log),
            Some(ReplayFinding::Unknown { .. })
        ));
        // Without the key that hashed its recipients, the log cannot tell.
        let message = bounce("eve@example.org", "a@example.com", "");
        let (m, c, carriers) = read(&message, &[KEY]);
        let f = find(&c, &m, &carriers, &log_of(&["bob@example.net"]), &[]);
        assert!(matches!(f, Some(ReplayFinding::Unknown { .. })), "{f:?}");
    }

    #[test]
    fn no_valid_carrier_or_no_named_recipient_is_no_finding() {
        let log = log_of(&["bob@example.net"]);
        let message = bounce("eve@example.org", "a@example.com", "");
        let other = Key { id: KEY.id, secret: b"another secret" };
        let (m, c, forged) = read(&message, &[other]);
        assert!(!forged.is_empty() && !forged.iter().any(|carrier| carrier.result.is_valid()));
        assert_eq!(find(&c, &m, &forged, &log, &[KEY]), None);
        let (m, c, _) = read("From: a@b.example\n\nhello\n", &[KEY]);
        let valid = Carrier {
            kind: CarrierKind::Header,
            found_in: "x".into(),
            result: Verification::Valid { key: KEY.id },
            token: header::make(&KEY, DAY, NONCE),
        };
        assert_eq!(find(&c, &m, &[valid], &log, &[KEY]), None);
    }

    #[test]
    fn a_batv_tag_checks_through_the_returned_message_id() {
        let tag = batv::make("ann@example.com", &KEY, DAY);
        let message = bounce("eve@example.org", &tag, "").replace("X-Backscatter-Sig:", "X-Other:");
        let only_batv = message.replace("Message-ID: <bs1.", "Message-ID: <plain.");
        let (_, c, _) = read(&only_batv, &[KEY]);
        let id = c.original.as_ref().and_then(|o| o.message_id.clone()).expect("the returned Message-ID");
        let mut log = SentLog::new();
        log.insert(Entry::new(&KEY, DAY, 9, Some(&id), ["bob@example.net"]));
        let f = finding(&only_batv, &log);
        let Some(ReplayFinding::Replayed { why }) = f else { panic!("{f:?} ({id})") };
        assert!(
            why.starts_with("replayed carrier: the signed message was never sent to eve@example.org (valid BATV tag"),
            "{why}"
        );
        assert!(matches!(finding(&only_batv, &SentLog::new()), Some(ReplayFinding::Unknown { .. })));
    }
}
