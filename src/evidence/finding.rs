//! What the Sent index says about a bounce or reply (DESIGN §4.5): the original it is about is
//! in Sent (genuine), is not although Sent covers its date (backscatter), or Sent cannot tell.
//! Pure: a classification, the message, its arrival time and an index in; a value out.

use std::fmt;

use super::index::{self, SentIndex};
use crate::classify::{Classification, Via};
use crate::day::Day;
use crate::message::Message;
use crate::verify::fields;

/// How long before its arrival a bounce's original may have been sent when the original's own
/// `Date` is not known: MTAs retry for 4–5 days before they give up (RFC 5321 §4.5.4.1), and a
/// queue may hold it a little longer. Sent must cover that far back to call it backscatter.
pub const MAX_BOUNCE_DELAY_DAYS: i64 = 7;

/// How far around the original's date a message with the same recipient and subject may have
/// been sent to count as the original, when the original has no Message-ID at all.
const SIMILAR_WINDOW_DAYS: i64 = 1;

/// The Sent index's answer for one checked message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentFinding {
    /// The original is in Sent (to the recipient the bounce names, if it names any).
    Genuine {
        /// One line, e.g. "the returned original <…> is in Sent, sent 2026-11-20".
        why: String,
    },
    /// The original is not in Sent, although Sent covers the day it was (or must have been) sent.
    Backscatter {
        /// One line, e.g. "<…> is not in Sent, which holds what you sent since 2019-03-01".
        why: String,
    },
    /// Sent cannot tell: the carriers decide; the why says what Sent could not settle.
    Unknown {
        /// One line, e.g. "Sent starts on 2026-11-01, after the original was sent".
        why: String,
    },
}

impl SentFinding {
    /// The one-line explanation.
    pub fn why(&self) -> &str {
        match self {
            SentFinding::Genuine { why } | SentFinding::Backscatter { why } | SentFinding::Unknown { why } => why,
        }
    }
}

impl fmt::Display for SentFinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.why())
    }
}

/// A Message-ID the message names, and how it names it (for the why).
struct Named {
    id: String,
    what: &'static str,
}

/// Judges `message` (classified as `c`, arrived at `arrival`, Unix seconds) by `index`. `None`
/// when the index is empty or was never read (there is no Sent evidence at all). The rules:
///
/// 1. the returned original's Message-ID, else the message's own `In-Reply-To`, the last
///    `References` ID, `Original-Message-ID` or `X-MS-Exchange-Parent-Message-Id`, found in Sent
///    → genuine — unless the report names recipients and none of them was one of that message's
///    (then Sent cannot vouch for it: unknown);
/// 2. none found, while Sent covers the original's `Date` (else the arrival day less
///    [`MAX_BOUNCE_DELAY_DAYS`]) and was read after the message arrived → backscatter;
/// 3. no Message-ID anywhere: a message in Sent to a recipient the report names, with the
///    returned original's subject, sent within a day of its date → genuine; else unknown.
pub fn judge(c: &Classification, message: &Message<'_>, arrival: i64, index: &SentIndex) -> Option<SentFinding> {
    let (Some((first, _)), Some(read_at)) = (index.span(), index.read_at()) else { return None };
    let returned = c.original.as_ref().filter(|o| !o.headers.is_empty()).map(|o| o.headers.as_slice());
    let recipients: Vec<&str> = c.recipients.iter().map(|r| r.address.as_str()).filter(|a| a.contains('@')).collect();
    let named = named_ids(c, message);
    for Named { id, what } in &named {
        let Some(sent) = index.get(id) else { continue };
        let id = bracketed(id);
        if !recipients.is_empty() && !sent.recipients.is_empty() && !recipients.iter().any(|r| sent.was_sent_to(r)) {
            let why =
                format!("{what} {id} is in Sent, but not to {} (the address the report names)", recipients.join(", "));
            return Some(SentFinding::Unknown { why });
        }
        return Some(SentFinding::Genuine { why: format!("{what} {id} is in Sent, sent {}", sent.day) });
    }
    let date = returned.and_then(original_date);
    let Some(Named { id, .. }) = named.first() else {
        return Some(similar(index, returned, &recipients, date, arrival));
    };
    let id = bracketed(id);
    if arrival > read_at {
        return Some(SentFinding::Unknown {
            why: format!("{id} is not in Sent, but it arrived after Sent was last read"),
        });
    }
    let (day, of) = match date {
        Some(date) => (Day::from_unix_seconds(date), "was sent"),
        None => (Day(Day::from_unix_seconds(arrival).0 - MAX_BOUNCE_DELAY_DAYS), "may have been sent"),
    };
    if day < first {
        let why = format!("{id} is not in Sent, but Sent starts on {first}, after the original {of} ({day})");
        return Some(SentFinding::Unknown { why });
    }
    Some(SentFinding::Backscatter { why: format!("{id} is not in Sent, which holds what you sent since {first}") })
}

/// The Message-IDs `message` names for its original, most telling first. A returned original's
/// own In-Reply-To/References never count (DESIGN §5: anyone can reply to our mail); our
/// ENVID is a carrier, not a Message-ID.
fn named_ids(c: &Classification, message: &Message<'_>) -> Vec<Named> {
    let mut named = Vec::new();
    if let Some(original) = &c.original {
        let what = match original.via {
            Via::OriginalEnvelopeId => None,
            Via::InReplyTo | Via::References => Some("the message replied to"),
            Via::OriginalMessageId | Via::ExchangeParentMessageId => Some("the original"),
            _ => Some("the returned original"),
        };
        if let (Some(what), Some(id)) = (what, original.message_id.as_deref()) {
            named.push(Named { id: id.to_owned(), what });
        }
    }
    for field in message.fields() {
        let what = if field.is("in-reply-to") {
            "the message replied to"
        } else if field.is("references") {
            "the message referred to"
        } else if field.is("original-message-id") || field.is("x-ms-exchange-parent-message-id") {
            "the original"
        } else {
            continue;
        };
        let value = field.value();
        // Only the last ID in References is the parent (RFC 5322 §3.6.4).
        if let Some(id) = fields::message_ids(&value).last().filter(|id| !index::normalise_id(id).is_empty()) {
            if !named.iter().any(|n| index::normalise_id(&n.id) == index::normalise_id(id)) {
                named.push(Named { id: (*id).to_owned(), what });
            }
        }
    }
    named
}

/// Rule 3: an original with no Message-ID, matched by recipient, subject and date.
fn similar(
    index: &SentIndex,
    returned: Option<&[u8]>,
    recipients: &[&str],
    date: Option<i64>,
    arrival: i64,
) -> SentFinding {
    let subject = returned.and_then(|h| fields::body_fields(h, &["subject"]).into_iter().next()).map(|f| f.value);
    let (Some(subject), false) = (subject, recipients.is_empty()) else {
        let why = "the original has no Message-ID, and no recipient and subject to look for in Sent".to_owned();
        return SentFinding::Unknown { why };
    };
    let (from, to) = match date {
        Some(date) => {
            let day = Day::from_unix_seconds(date).0;
            (Day(day - SIMILAR_WINDOW_DAYS), Day(day + SIMILAR_WINDOW_DAYS))
        }
        None => {
            let day = Day::from_unix_seconds(arrival).0;
            (Day(day - MAX_BOUNCE_DELAY_DAYS), Day(day))
        }
    };
    match index.find_similar(recipients, index::subject_hash(&subject), from, to) {
        Some(sent) => SentFinding::Genuine {
            why: format!(
                "the original has no Message-ID, but a message to {} with its subject is in Sent, sent {}",
                recipients.join(", "),
                sent.day
            ),
        },
        None => SentFinding::Unknown {
            why: "the original has no Message-ID, and nothing in Sent has its recipient and subject".to_owned(),
        },
    }
}

/// The returned original's `Date`, Unix seconds.
fn original_date(headers: &[u8]) -> Option<i64> {
    fields::body_fields(headers, &["date"]).into_iter().find_map(|f| index::parse_date(&f.value))
}

/// `<id>` for the why, whatever form it was named in.
fn bracketed(id: &str) -> String {
    format!("<{}>", id.trim().trim_start_matches('<').trim_end_matches('>').trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;
    use crate::evidence::index::Record;

    const BOUNCE: &[u8] = include_bytes!("../../tests/fixtures/ndr/001.eml");
    const REPLY: &[u8] = include_bytes!("../../tests/fixtures/autoreply/001.eml");
    const ORIGINAL: &str = "<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>";
    /// 2013-10-16 05:15:35 UTC, the bounce's arrival.
    const ARRIVAL: i64 = 1_381_900_535;

    fn sent(id: &str, date: &str, to: &str) -> Record {
        Record::from_header(format!("Message-ID: {id}\nDate: {date}\nTo: {to}\n\n").as_bytes(), 0)
    }

    /// An index covering 2013 (read after the bounce arrived) with `records` in it.
    fn index(records: Vec<Record>) -> SentIndex {
        let mut index = SentIndex::new();
        index.insert(sent("<first@example.org>", "Tue, 1 Jan 2013 09:00:00 +0000", "x@example.net"));
        records.into_iter().for_each(|r| index.insert(r));
        index.mark_read(ARRIVAL + 60);
        index
    }

    fn find(message: &[u8], index: &SentIndex) -> Option<SentFinding> {
        find_at(message, ARRIVAL, index)
    }

    fn find_at(message: &[u8], arrival: i64, index: &SentIndex) -> Option<SentFinding> {
        let message = Message::parse(message);
        judge(&classify(&message), &message, arrival, index)
    }

    #[test]
    fn the_returned_original_in_sent_to_the_failed_recipient_is_genuine() {
        let original = sent(ORIGINAL, "Wed, 16 Oct 2013 14:15:35 +0900", "userunknown@bouncehammer.jp");
        let found = find(BOUNCE, &index(vec![original]));
        let why = format!("the returned original {ORIGINAL} is in Sent, sent 2013-10-16");
        assert_eq!(found, Some(SentFinding::Genuine { why }));
    }

    #[test]
    fn in_sent_but_never_to_the_failed_recipient_is_not_genuine() {
        let original = sent(ORIGINAL, "Wed, 16 Oct 2013 14:15:35 +0900", "someone@else.example");
        let found = find(BOUNCE, &index(vec![original]));
        assert!(
            matches!(&found, Some(SentFinding::Unknown { why }) if why.contains("but not to userunknown@bouncehammer.jp")),
            "{found:?}"
        );
    }

    #[test]
    fn missing_from_a_sent_that_covers_its_date_is_backscatter() {
        let found = find(BOUNCE, &index(Vec::new()));
        let why = format!("{ORIGINAL} is not in Sent, which holds what you sent since 2013-01-01");
        assert_eq!(found, Some(SentFinding::Backscatter { why }));
    }

    #[test]
    fn without_coverage_sent_cannot_tell() {
        let mut late = SentIndex::new();
        late.insert(sent("<later@example.org>", "Fri, 1 Nov 2013 09:00:00 +0000", "x@example.net"));
        late.mark_read(ARRIVAL + 60);
        let found = find(BOUNCE, &late);
        assert!(
            matches!(&found, Some(SentFinding::Unknown { why }) if why.contains("Sent starts on 2013-11-01")),
            "{found:?}"
        );
        // Read before the bounce arrived: what was sent since is not in it yet.
        let mut stale = index(Vec::new());
        stale.mark_read(ARRIVAL - 1);
        let found = find(BOUNCE, &stale);
        assert!(
            matches!(&found, Some(SentFinding::Unknown { why }) if why.contains("arrived after Sent was last read"))
        );
        assert_eq!(find(BOUNCE, &SentIndex::new()), None, "an empty index is no evidence");
    }

    #[test]
    fn auto_replies_are_matched_through_in_reply_to() {
        let id = "<25203A4E-F90F-4A14-BF51-3E7B9D39BE8E@libsisimai.org>";
        let mut index = SentIndex::new();
        index.insert(sent(id, "Tue, 17 Dec 2019 02:50:00 +0000", "kijitora@me.com"));
        index.mark_read(1_576_600_000);
        let found = find_at(REPLY, 1_576_551_189, &index);
        let why = format!("the message replied to {id} is in Sent, sent 2019-12-17");
        assert_eq!(found, Some(SentFinding::Genuine { why }));
    }

    #[test]
    fn an_original_without_message_id_is_matched_by_recipient_and_subject() {
        let bounce = String::from_utf8_lossy(BOUNCE).replace(&format!("Message-Id: {ORIGINAL}\n"), "");
        let message = Message::parse(bounce.as_bytes());
        let c = classify(&message);
        assert_eq!(c.original.as_ref().and_then(|o| o.message_id.as_deref()), None, "the fixture's ID is gone");
        let subject = fields::body_fields(&c.original.as_ref().unwrap().headers, &["subject"]).remove(0).value;
        let header =
            format!("Date: Wed, 16 Oct 2013 05:15:00 +0000\nTo: userunknown@bouncehammer.jp\nSubject: {subject}\n\n");
        let with = index(vec![Record::from_header(header.as_bytes(), 0)]);
        let found = judge(&c, &message, ARRIVAL, &with);
        assert!(matches!(&found, Some(SentFinding::Genuine { why }) if why.contains("with its subject")), "{found:?}");
        let found = judge(&c, &message, ARRIVAL, &index(Vec::new()));
        assert!(matches!(found, Some(SentFinding::Unknown { .. })), "no match: the carriers decide");
    }
}
