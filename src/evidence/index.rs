//! The Sent index (DESIGN §4.5): every message in a Sent folder as a normalised Message-ID →
//! the day it was sent, its recipients and its subject, all hashed, plus the index's coverage
//! (first and last sent day, and when the folder was last read). Pure: the sources in
//! [`super::maildir`] and [`super::imap`] read the folders; [`super::file`] keeps it on disk.
//!
//! Compact on purpose: one 8-byte key and a 16-byte entry per message, recipients as 4-byte
//! hashes in one shared vector, so 100,000 sent messages take a few MB and a lookup is one hash
//! probe.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::day::Day;
use crate::message::Message;
use crate::verify::fields;

/// Recipients kept per sent message at most: a message to a huge list is still found, and the
/// failed recipient of its bounce is among the first thousand or the check is skipped.
const MAX_RECIPIENTS: usize = 1000;

/// One sent message, read from its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// [`id_hash`] of its Message-ID (or of its whole header when it has none: still found by
    /// recipient and subject).
    pub id: u64,
    /// The day it was sent: its `Date`, else the file's mtime or the IMAP INTERNALDATE.
    pub day: Day,
    /// [`subject_hash`] of its Subject (0 without one).
    pub subject: u32,
    /// [`address_hash`] of each To, Cc and Bcc address.
    pub recipients: Vec<u32>,
}

impl Record {
    /// The record of a sent message from its header block (the whole message will do: reading
    /// stops at the first empty line). `fallback` (Unix seconds) dates a message without a
    /// `Date` that parses.
    pub fn from_header(header: &[u8], fallback: i64) -> Record {
        let message = Message::parse(header);
        let (mut id, mut date, mut subject, mut recipients) = (None, None, 0, Vec::new());
        for field in message.fields() {
            if field.is("message-id") && id.is_none() {
                id = fields::message_ids(&field.value()).first().map(|v| id_hash(v));
            } else if field.is("date") && date.is_none() {
                date = parse_date(&field.value());
            } else if field.is("subject") && subject == 0 {
                subject = subject_hash(&field.value());
            } else if field.is("to") || field.is("cc") || field.is("bcc") {
                let value = field.value();
                for address in fields::addresses(&value) {
                    if recipients.len() < MAX_RECIPIENTS {
                        recipients.push(address_hash(address));
                    }
                }
            }
        }
        recipients.sort_unstable();
        recipients.dedup();
        let id = id.unwrap_or_else(|| hash(b"backscatter/sent/header\0", message.bytes()) as u64);
        Record { id, day: Day::from_unix_seconds(date.unwrap_or(fallback)), subject, recipients }
    }
}

/// One message as the index holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// Days since 1970 (i32 covers ±5 million years).
    day: i32,
    subject: u32,
    /// Its run of recipient hashes in [`SentIndex::recipients`].
    start: u32,
    count: u32,
}

/// What the index knows about one sent message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent<'a> {
    /// The day it was sent.
    pub day: Day,
    /// [`subject_hash`] of its Subject.
    pub subject: u32,
    /// [`address_hash`] of its recipients, sorted.
    pub recipients: &'a [u32],
}

impl Sent<'_> {
    /// True if `address` was one of its recipients.
    pub fn was_sent_to(&self, address: &str) -> bool {
        self.recipients.binary_search(&address_hash(address)).is_ok()
    }
}

/// The Sent index of one mailbox.
#[derive(Debug, Clone, Default)]
pub struct SentIndex {
    /// [`id_hash`] → entry.
    entries: HashMap<u64, Entry>,
    /// Every entry's recipient hashes, back to back.
    recipients: Vec<u32>,
    /// The earliest and latest sent day.
    span: Option<(Day, Day)>,
    /// Unix seconds when the folder was last read in full: everything sent before then is in.
    read_at: Option<i64>,
}

impl SentIndex {
    /// An empty index.
    pub fn new() -> SentIndex {
        SentIndex::default()
    }

    /// Adds a sent message. The same Message-ID seen again (a copy in a second Sent folder)
    /// keeps the earlier day and gains the new recipients.
    pub fn insert(&mut self, record: Record) {
        let day = Day(i64::from(clamp_day(record.day)));
        self.span = Some(match self.span {
            Some((first, last)) => (first.min(day), last.max(day)),
            None => (day, day),
        });
        let mut recipients = record.recipients;
        let mut day = clamp_day(record.day);
        if let Some(old) = self.entries.get(&record.id) {
            day = day.min(old.day);
            recipients.extend_from_slice(self.run(old));
            recipients.sort_unstable();
            recipients.dedup();
            recipients.truncate(MAX_RECIPIENTS);
        }
        let start = u32::try_from(self.recipients.len()).unwrap_or(u32::MAX);
        let count = u32::try_from(recipients.len()).unwrap_or(0);
        self.recipients.extend_from_slice(&recipients);
        self.entries.insert(record.id, Entry { day, subject: record.subject, start, count });
    }

    fn run(&self, entry: &Entry) -> &[u32] {
        let start = entry.start as usize;
        self.recipients.get(start..start + entry.count as usize).unwrap_or_default()
    }

    fn view(&self, entry: &Entry) -> Sent<'_> {
        Sent { day: Day(i64::from(entry.day)), subject: entry.subject, recipients: self.run(entry) }
    }

    /// The sent message with this Message-ID (any form: brackets, case and surrounding space
    /// do not matter).
    pub fn get(&self, message_id: &str) -> Option<Sent<'_>> {
        self.entries.get(&id_hash(message_id)).map(|e| self.view(e))
    }

    /// The first sent message (by day) to one of `recipients` with subject hash `subject`, sent
    /// between `from` and `to` (inclusive): the match for an original with no Message-ID.
    /// Linear in the index: only such originals ask.
    pub fn find_similar(&self, recipients: &[&str], subject: u32, from: Day, to: Day) -> Option<Sent<'_>> {
        let wanted: Vec<u32> = recipients.iter().map(|r| address_hash(r)).collect();
        self.entries
            .values()
            .map(|e| self.view(e))
            .filter(|s| s.subject == subject && s.day >= from && s.day <= to)
            .filter(|s| wanted.iter().any(|w| s.recipients.binary_search(w).is_ok()))
            .min_by_key(|s| s.day)
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The earliest and latest day a message in it was sent.
    pub fn span(&self) -> Option<(Day, Day)> {
        self.span
    }

    /// Unix seconds when its folders were last read in full; `None` before the first read.
    pub fn read_at(&self) -> Option<i64> {
        self.read_at
    }

    /// Records that its folders were read in full at `now` (Unix seconds).
    pub fn mark_read(&mut self, now: i64) {
        self.read_at = Some(now);
    }

    /// Every message as (id, day, subject, recipients), for [`super::file`].
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, Sent<'_>)> + '_ {
        self.entries.iter().map(|(id, e)| (*id, self.view(e)))
    }

    /// Puts back a message as [`super::file`] stored it.
    pub(crate) fn restore(&mut self, id: u64, day: i32, subject: u32, recipients: &[u32]) {
        let start = u32::try_from(self.recipients.len()).unwrap_or(u32::MAX);
        let count = u32::try_from(recipients.len()).unwrap_or(0);
        self.recipients.extend_from_slice(recipients);
        self.entries.insert(id, Entry { day, subject, start, count });
    }

    /// Puts back the coverage as [`super::file`] stored it.
    pub(crate) fn restore_span(&mut self, span: Option<(Day, Day)>, read_at: Option<i64>) {
        self.span = span;
        self.read_at = read_at;
    }

    /// Room for `n` more messages and `recipients` more recipient hashes.
    pub(crate) fn reserve(&mut self, n: usize, recipients: usize) {
        self.entries.reserve(n);
        self.recipients.reserve(recipients);
    }
}

/// Two indexes are equal when they hold the same messages and coverage, wherever in the shared
/// vector their recipients sit.
impl PartialEq for SentIndex {
    fn eq(&self, other: &SentIndex) -> bool {
        self.span == other.span
            && self.read_at == other.read_at
            && self.len() == other.len()
            && self.entries.iter().all(|(id, e)| other.entries.get(id).is_some_and(|o| self.view(e) == other.view(o)))
    }
}

impl Eq for SentIndex {}

fn clamp_day(day: Day) -> i32 {
    i32::try_from(day.0).unwrap_or(if day.0 < 0 { i32::MIN } else { i32::MAX })
}

/// SHA-256 of `domain ‖ data`, its first 8 bytes. A cryptographic hash, not a fast one: a
/// forger who could make a Message-ID collide with one we sent would turn a forged bounce
/// genuine; a keyed-for-speed hash would not stop that, and 100,000 hashes take ~30 ms.
fn hash(domain: &[u8], data: &[u8]) -> u128 {
    let digest = Sha256::new().chain_update(domain).chain_update(data).finalize();
    let mut first = [0u8; 16];
    first.copy_from_slice(digest.get(..16).unwrap_or(&[0; 16]));
    u128::from_le_bytes(first)
}

/// The normal form of a Message-ID: without surrounding space and angle brackets, lowercased
/// (RFC 5322 §3.6.4 makes the domain part case-blind; MTAs that change case change it there).
pub fn normalise_id(message_id: &str) -> String {
    message_id.trim().trim_start_matches('<').trim_end_matches('>').trim().to_lowercase()
}

/// The index key of a Message-ID, in any form ([`normalise_id`]).
pub fn id_hash(message_id: &str) -> u64 {
    hash(b"backscatter/sent/id\0", normalise_id(message_id).as_bytes()) as u64
}

/// The hash of an address ([`normalise_address`]).
pub fn address_hash(address: &str) -> u32 {
    hash(b"backscatter/sent/address\0", normalise_address(address).as_bytes()) as u32
}

/// The normal form of an address, as both the Sent index and the sent log hash it: angle
/// brackets, a `rfc822;` type (RFC 3464 §2.3.2) and case do not matter.
pub fn normalise_address(address: &str) -> String {
    let address = address.trim();
    let address = address.split_once(';').map_or(address, |(_, a)| a).trim();
    address.trim_start_matches('<').trim_end_matches('>').to_lowercase()
}

/// The hash of a Subject: runs of whitespace (folding) count as one space; case does not count.
/// 0 for an empty subject (matches nothing).
pub fn subject_hash(subject: &str) -> u32 {
    let words: Vec<String> = subject.split_whitespace().map(str::to_lowercase).collect();
    if words.is_empty() {
        return 0;
    }
    (hash(b"backscatter/sent/subject\0", words.join(" ").as_bytes()) as u32).max(1)
}

/// An RFC 5322 date as Unix seconds.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let date = mail_parser::DateTime::parse_rfc822(text)?;
    date.is_valid().then(|| date.to_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: &str = "Message-ID: <Abc.1@Example.COM>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0000\r\n\
To: Bob <bob@example.net>, carol@example.org\r\nCc: <Dave@Example.net>\r\nSubject: Lunch\r\n  on Friday\r\n\r\nbody\r\n";

    #[test]
    fn a_sent_message_is_found_by_its_id_in_any_form() {
        let mut index = SentIndex::new();
        index.insert(Record::from_header(SENT.as_bytes(), 0));
        let day = Day::from_ymd(2026, 11, 20).unwrap();
        for id in ["<Abc.1@Example.COM>", "abc.1@example.com", " <abc.1@example.com> "] {
            let sent = index.get(id).expect(id);
            assert_eq!(sent.day, day);
            assert!(sent.was_sent_to("bob@example.net") && sent.was_sent_to("rfc822; dave@example.net"));
            assert!(!sent.was_sent_to("eve@example.net"));
        }
        assert!(index.get("<abc.2@example.com>").is_none());
        assert_eq!(index.span(), Some((day, day)));
        let similar = index.find_similar(&["carol@example.org"], subject_hash("lunch on   friday"), day, day);
        assert!(similar.is_some());
        assert!(index.find_similar(&["carol@example.org"], subject_hash("dinner"), day, day).is_none());
    }

    #[test]
    fn no_date_takes_the_fallback_and_no_id_is_still_indexed() {
        let mut index = SentIndex::new();
        index.insert(Record::from_header(b"To: a@b.example\nSubject: x\n\nhi\n", 86_400 * 3));
        assert_eq!(index.len(), 1);
        assert_eq!(index.span(), Some((Day(3), Day(3))));
    }

    #[test]
    fn a_second_copy_adds_recipients_and_keeps_the_first_day() {
        let mut index = SentIndex::new();
        index.insert(Record::from_header(SENT.as_bytes(), 0));
        let copy = SENT.replace("20 Nov", "22 Nov").replace("carol@example.org", "erin@example.org");
        index.insert(Record::from_header(copy.as_bytes(), 0));
        let sent = index.get("<abc.1@example.com>").unwrap();
        assert_eq!(sent.day, Day::from_ymd(2026, 11, 20).unwrap());
        assert!(sent.was_sent_to("carol@example.org") && sent.was_sent_to("erin@example.org"));
        assert_eq!(index.span().map(|s| s.1), Day::from_ymd(2026, 11, 22));
    }
}
