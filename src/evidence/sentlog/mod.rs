//! The sent log (DESIGN §4.4): one line per message we signed — its nonce, key and signing day,
//! its Message-ID and its envelope recipients, hashed — so that a bounce carrying a valid
//! carrier can be checked against the message that carrier was made for. A valid signature only
//! proves a message passed our signer; the log says to whom that message went, so a forged
//! bounce quoting a signature copied from another message is caught ([`replay`]).
//!
//! - here: the record ([`Entry`]), its line ([`Entry::line`], [`Entry::parse`]) and the log in
//!   memory ([`SentLog`], looked up by nonce or Message-ID) — pure;
//! - [`replay`]: the rule, carriers + classification + log → [`ReplayFinding`] — pure;
//! - [`file`]: the log on disk, `state_dir/sent-log/DAY.log`, appended by the drop-in and the
//!   milter, read incrementally, pruned by deleting whole days.
//!
//! A line: `v1 DAY K NONCE ID RCPTS` — the signing day (decimal), the key digit, the nonce (16
//! hex digits), the Message-ID's [`index::id_hash`] (16 hex digits, `-` for none) and the
//! recipients, each the first 32 bits of an HMAC under the signing key's sent-log subkey of
//! its [`index::normalise_address`] form (8 hex digits, comma-separated; `-` for none, `*` for
//! more than [`MAX_RECIPIENTS`]). Keyed, so the file alone does not tell whether an address
//! was written to: testing a guess needs the keyring. About 54 bytes for one recipient, 9 more
//! per further recipient.

pub mod file;
pub mod replay;

use std::collections::HashMap;
use std::fmt::Write as _;

use super::index;
use crate::day::Day;
use crate::sign::{self, Key, KeyId};

pub use replay::{find, ReplayFinding};

/// The subkey label of the recipient hashes (DESIGN §3: one subkey per use of the secret).
const LABEL: &str = "backscatter/sentlog/v1";

/// The line's version word.
const VERSION: &str = "v1";

/// Recipients hashed per message at most (the Sent index keeps as many): a message to more is
/// logged as `*`, "too many to list", and the log cannot tell who got it.
pub const MAX_RECIPIENTS: usize = 1000;

/// Longer lines are not ours: the fields above with [`MAX_RECIPIENTS`] hashes.
pub const MAX_LINE: usize = 64 + 9 * MAX_RECIPIENTS;

/// The recipients of a logged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipients {
    /// Their keyed hashes, sorted, without duplicates.
    Hashed(Vec<u32>),
    /// More than [`MAX_RECIPIENTS`]: not listed.
    TooMany,
}

/// One signed message, as a line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The signing day, written into every carrier.
    pub day: Day,
    /// The key that signed it (and keys its recipient hashes).
    pub key: KeyId,
    /// The carriers' nonce: the same in the signature header, the signed Message-ID and ENVID.
    pub nonce: u64,
    /// [`index::id_hash`] of its Message-ID (ours or the author's), when it had one.
    pub message_id: Option<u64>,
    /// Its envelope recipients: the addresses a DSN's `Final-Recipient` names (RFC 3464 §2.3.2).
    pub recipients: Recipients,
}

impl Entry {
    /// The entry for a message signed with `key` on `day` with `nonce`, whose Message-ID is
    /// `message_id`, to `recipients` (any form [`index::normalise_address`] takes).
    pub fn new<'a>(
        key: &Key<'_>,
        day: Day,
        nonce: u64,
        message_id: Option<&str>,
        recipients: impl IntoIterator<Item = &'a str>,
    ) -> Entry {
        let mut hashes: Vec<u32> = recipients.into_iter().map(|r| recipient_hash(key, r)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let recipients = if hashes.len() > MAX_RECIPIENTS { Recipients::TooMany } else { Recipients::Hashed(hashes) };
        let message_id = message_id.filter(|id| !index::normalise_id(id).is_empty()).map(index::id_hash);
        Entry { day, key: key.id, nonce, message_id, recipients }
    }

    /// The line, newline included.
    pub fn line(&self) -> String {
        let mut line = format!("{VERSION} {} {} {:016x} ", self.day.0, self.key.digit(), self.nonce);
        match self.message_id {
            Some(id) => write!(line, "{id:016x} "),
            None => write!(line, "- "),
        }
        .unwrap_or_default();
        match &self.recipients {
            Recipients::TooMany => line.push('*'),
            Recipients::Hashed(hashes) if hashes.is_empty() => line.push('-'),
            Recipients::Hashed(hashes) => {
                for (i, hash) in hashes.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    write!(line, "{sep}{hash:08x}").unwrap_or_default();
                }
            }
        }
        line.push('\n');
        line
    }

    /// The entry a line holds (its newline, if any, removed), or `None` for anything that is not
    /// a whole line of ours: a torn write, another version, garbage.
    pub fn parse(line: &[u8]) -> Option<Entry> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line.len() > MAX_LINE {
            return None;
        }
        let line = std::str::from_utf8(line).ok()?;
        let mut words = line.split(' ');
        let (version, day, key, nonce, id, recipients) =
            (words.next()?, words.next()?, words.next()?, words.next()?, words.next()?, words.next()?);
        if words.next().is_some() || version != VERSION {
            return None;
        }
        let day = (!day.is_empty() && day.len() <= 10 && day.bytes().all(|b| b.is_ascii_digit()))
            .then(|| day.parse().ok())
            .flatten()
            .map(Day)?;
        let key = match key.as_bytes() {
            [digit] => KeyId::from_digit(*digit)?,
            _ => return None,
        };
        let message_id = match id {
            "-" => None,
            id => Some(hex(id, 16)?),
        };
        let recipients = match recipients {
            "*" => Recipients::TooMany,
            "-" => Recipients::Hashed(Vec::new()),
            list => {
                let mut hashes = list.split(',').map(|h| hex(h, 8).and_then(|h| u32::try_from(h).ok()));
                let mut hashes: Vec<u32> = hashes.by_ref().collect::<Option<_>>()?;
                hashes.sort_unstable();
                hashes.dedup();
                Recipients::Hashed(hashes)
            }
        };
        Some(Entry { day, key, nonce: hex(nonce, 16)?, message_id, recipients })
    }
}

/// Exactly `digits` lowercase hex digits, as we write them.
fn hex(text: &str, digits: usize) -> Option<u64> {
    let ok = text.len() == digits && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then(|| u64::from_str_radix(text, 16).ok()).flatten()
}

/// The keyed hash of a recipient: HMAC under `key`'s sent-log subkey of its normal form (the
/// Sent index's, [`index::normalise_address`]), first 32 bits.
pub fn recipient_hash(key: &Key<'_>, address: &str) -> u32 {
    sign::mac32(key, LABEL, index::normalise_address(address).as_bytes())
}

/// One message as the log holds it in memory: 16 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    day: i32,
    key: KeyId,
    too_many: bool,
    /// Its run of recipient hashes in [`SentLog::recipients`].
    start: u32,
    count: u32,
}

/// What the log knows about one signed message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logged<'a> {
    /// The signing day.
    pub day: Day,
    /// The key that signed it.
    pub key: KeyId,
    /// Its nonce.
    pub nonce: u64,
    /// Its recipients' keyed hashes, sorted; `None` when there were too many to list.
    pub recipients: Option<&'a [u32]>,
}

impl Logged<'_> {
    /// Whether it was sent to `address`, checked with those of `keys` numbered as its key;
    /// `None` when the log cannot tell (too many recipients, none known — a drop-in whose
    /// recipients could not be read — or that key is gone).
    pub fn was_sent_to(&self, keys: &[Key<'_>], address: &str) -> Option<bool> {
        let recipients = self.recipients.filter(|r| !r.is_empty())?;
        let mut keys = keys.iter().filter(|k| k.id == self.key).peekable();
        keys.peek()?;
        Some(keys.any(|key| recipients.binary_search(&recipient_hash(key, address)).is_ok()))
    }
}

/// The log in memory: nonce → message, Message-ID hash → nonce. Compact, like the Sent index:
/// a million messages to one recipient each take 50–92 MB (as full as the hash tables happen
/// to be; `benches/sentlog.rs`) and a lookup is one hash probe.
#[derive(Debug, Clone, Default)]
pub struct SentLog {
    by_nonce: HashMap<u64, Slot>,
    by_id: HashMap<u64, u64>,
    recipients: Vec<u32>,
}

impl SentLog {
    /// An empty log.
    pub fn new() -> SentLog {
        SentLog::default()
    }

    /// Adds one entry. A nonce seen again (the same line read twice) keeps the first.
    pub fn insert(&mut self, entry: Entry) {
        if self.by_nonce.contains_key(&entry.nonce) {
            return;
        }
        let (too_many, hashes) = match &entry.recipients {
            Recipients::TooMany => (true, &[][..]),
            Recipients::Hashed(hashes) => (false, hashes.as_slice()),
        };
        let start = u32::try_from(self.recipients.len()).unwrap_or(u32::MAX);
        let count = u32::try_from(hashes.len()).unwrap_or(0);
        self.recipients.extend_from_slice(hashes);
        let day = i32::try_from(entry.day.0).unwrap_or(if entry.day.0 < 0 { i32::MIN } else { i32::MAX });
        self.by_nonce.insert(entry.nonce, Slot { day, key: entry.key, too_many, start, count });
        if let Some(id) = entry.message_id {
            self.by_id.entry(id).or_insert(entry.nonce);
        }
    }

    /// Adds every whole line of `text` that is an entry; returns how many bytes were read: up
    /// to the end of the last whole line, so a torn or unfinished last line is read again next
    /// time. Lines that are not entries are skipped.
    pub fn extend_from(&mut self, text: &[u8]) -> usize {
        let end = text.iter().rposition(|&b| b == b'\n').map_or(0, |n| n + 1);
        for line in text.get(..end).unwrap_or_default().split(|&b| b == b'\n') {
            if let Some(entry) = Entry::parse(line) {
                self.insert(entry);
            }
        }
        end
    }

    /// The message signed with `nonce`.
    pub fn get(&self, nonce: u64) -> Option<Logged<'_>> {
        let slot = self.by_nonce.get(&nonce)?;
        let start = slot.start as usize;
        let recipients = self.recipients.get(start..start + slot.count as usize).unwrap_or_default();
        Some(Logged {
            day: Day(i64::from(slot.day)),
            key: slot.key,
            nonce,
            recipients: (!slot.too_many).then_some(recipients),
        })
    }

    /// The signed message with this Message-ID (any form: brackets, case and surrounding space
    /// do not matter).
    pub fn get_by_message_id(&self, message_id: &str) -> Option<Logged<'_>> {
        self.get(*self.by_id.get(&index::id_hash(message_id))?)
    }

    /// How many messages it holds.
    pub fn len(&self) -> usize {
        self.by_nonce.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.by_nonce.is_empty()
    }
}

/// How many days an entry is kept after its signing day: a carrier is valid for
/// [`sign::VALID_DAYS`] after it is made, and a bounce may be judged up to a week after it
/// arrived (a watcher down for a week, a `scan` of last week's mail). Older entries could only
/// matter for bounces whose carriers expired anyway.
pub const KEEP_DAYS: i64 = 2 * sign::VALID_DAYS;

/// The oldest signing day still kept on `today`.
pub fn horizon(today: Day) -> Day {
    Day(today.0.saturating_sub(KEEP_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"s3cret-s3cret" };

    fn entry(nonce: u64, recipients: &[&str]) -> Entry {
        Entry::new(&KEY, Day(20_425), nonce, Some("<Abc@Example.com>"), recipients.iter().copied())
    }

    #[test]
    fn a_line_round_trips_and_hides_the_addresses() {
        let e = entry(0xfedc_ba98_7654_3210, &["Bob@Example.net", "<carol@example.org>", "rfc822; bob@example.net"]);
        let line = e.line();
        assert!(line.starts_with("v1 20425 0 fedcba9876543210 "), "{line}");
        assert!(line.ends_with('\n') && line.matches(',').count() == 1, "two recipients: {line}");
        assert!(!line.to_lowercase().contains("bob") && !line.contains("example"), "{line}");
        assert_eq!(Entry::parse(line.as_bytes()), Some(e.clone()));
        assert_eq!(line.len(), 63, "54 bytes for one recipient, 9 per further one");
        let none = Entry::new(&KEY, Day(1), 1, None, []);
        assert_eq!(none.line(), "v1 1 0 0000000000000001 - -\n");
        assert_eq!(Entry::parse(none.line().as_bytes()), Some(none));
        let many: Vec<String> = (0..=MAX_RECIPIENTS).map(|i| format!("r{i}@example.net")).collect();
        let many = Entry::new(&KEY, Day(1), 2, None, many.iter().map(String::as_str));
        assert_eq!(many.recipients, Recipients::TooMany);
        assert!(many.line().ends_with(" *\n"));
    }

    #[test]
    fn lines_that_are_not_ours_are_refused() {
        let good = entry(7, &["a@b.example"]).line();
        assert!(Entry::parse(good.as_bytes()).is_some());
        let torn = &good[..good.len() - 4];
        for bad in [
            torn,
            "",
            "v2 20425 0 0000000000000007 - -",
            "v1 20425 0 0000000000000007 -",
            "v1 20425 x 0000000000000007 - -",
            "v1 -1 0 0000000000000007 - -",
            "v1 20425 0 000000000000007 - -",
            "v1 20425 0 000000000000000G - -",
            "v1 20425 0 0000000000000007 - 1234567",
            "v1 20425 0 0000000000000007 - 12345678,",
            "v1 20425 0 0000000000000007 - - extra",
            "v1  20425 0 0000000000000007 - -",
        ] {
            assert_eq!(Entry::parse(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn looked_up_by_nonce_and_message_id_and_checked_by_recipient() {
        let mut log = SentLog::new();
        let text = format!("{}{}v1 garbage\n{}", entry(1, &["a@x.example"]).line(), entry(2, &[]).line(), "v1 20425");
        let read = log.extend_from(text.as_bytes());
        assert_eq!(read, text.len() - "v1 20425".len(), "the unfinished line is left for next time");
        assert_eq!(log.len(), 2);
        let one = log.get(1).expect("nonce 1");
        assert_eq!((one.day, one.key), (Day(20_425), KeyId::ZERO));
        assert_eq!(one.was_sent_to(&[KEY], "A@X.example"), Some(true));
        assert_eq!(one.was_sent_to(&[KEY], "b@x.example"), Some(false));
        let other = Key { id: KeyId::new(3).unwrap(), secret: b"x" };
        assert_eq!(one.was_sent_to(&[other], "a@x.example"), None, "without its key the log cannot tell");
        assert_eq!(log.get_by_message_id(" abc@example.COM ").map(|l| l.nonce), Some(1), "the first keeps the ID");
        assert!(log.get(3).is_none() && log.get_by_message_id("<other@x>").is_none());
        assert_eq!(log.get(2).unwrap().was_sent_to(&[KEY], "a@x.example"), None, "no recipients known: cannot tell");
        log.insert(entry(1, &["z@x.example"]));
        assert_eq!(log.get(1).unwrap().was_sent_to(&[KEY], "a@x.example"), Some(true), "the first line wins");
    }

    #[test]
    fn the_horizon_is_two_validity_windows() {
        assert_eq!(horizon(Day(100)), Day(86));
    }
}
