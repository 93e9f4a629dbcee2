//! The carriers stamped on outgoing mail, each with make + verify (DESIGN §4).
//!
//! Every function here is pure: it takes keys, a [`Day`] and (for making) a caller-chosen nonce,
//! and returns a value. Checking a carrier never fails and never panics: the outcome, good or
//! bad, is a [`Verification`].
//!
//! - [`batv`]: the BATV `prvs=` tag on the envelope sender, byte-for-byte Exim's `${prvs}`.
//! - [`header`]: the `X-Backscatter-Sig: v1.K.D.N.S` header.
//! - [`msgid`]: the signed Message-ID `<bs1.D.N.KS@domain>` and the same token as an ENVID.
//! - [`stamp`]: what the drop-in and the milter stamp on outgoing mail, from those three.

pub mod batv;
pub mod header;
pub mod msgid;
pub mod stamp;

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::day::Day;

/// How many days a carrier stays valid after the day it was made (DESIGN §4): a bounce arriving
/// on the signing day or up to this many days later is genuine.
pub const VALID_DAYS: i64 = 7;

/// A key number 0–9: the BATV key digit, also written into the header and Message-ID carriers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(u8);

impl KeyId {
    /// Key 0, the first key of a new keyring (and Exim's default key number).
    pub const ZERO: KeyId = KeyId(0);

    /// The key number `n`, or `None` if it is not a single decimal digit.
    pub fn new(n: u8) -> Option<KeyId> {
        (n <= 9).then_some(KeyId(n))
    }

    /// The key number of an ASCII digit, or `None` for any other byte.
    pub fn from_digit(b: u8) -> Option<KeyId> {
        b.is_ascii_digit().then(|| KeyId(b - b'0'))
    }

    /// The key number after this one, wrapping from 9 to 0: what `keys rotate` uses next.
    pub fn next(self) -> KeyId {
        KeyId((self.0 + 1) % 10)
    }

    /// The number, 0–9.
    pub fn get(self) -> u8 {
        self.0
    }

    /// The number as its ASCII digit, as written into a carrier.
    pub fn digit(self) -> char {
        char::from(b'0' + self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Delegated so that width and alignment flags (`{:<3}`) apply.
        fmt::Display::fmt(&self.0, f)
    }
}

/// A key as the carriers see it: its number and its secret, nothing about its lifetime. The
/// keyring decides which keys may sign and which may still verify on a given day.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    /// The key number written into every carrier made with this key.
    pub id: KeyId,
    /// The secret exactly as stored in the keyring; BATV uses it as the HMAC key verbatim, like
    /// Exim does, so the same keyring can be exported to Exim.
    pub secret: &'a [u8],
}

// Hand-written so that a stray `{:?}` can never print a secret.
impl fmt::Debug for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("id", &self.id).field("secret", &"…").finish()
    }
}

/// A foreign tagging scheme we recognise on an address but cannot verify (someone else's keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignScheme {
    /// `btv1==…==local@domain` (Barracuda's BATV variant).
    Btv1,
    /// `msprvs1=…=local@domain` (Microsoft Exchange Online / Mimecast style).
    Msprvs1,
    /// `local+prvs=…@domain`: a prvs tag written as a sub-address, not Exim's prefix form.
    PlusPrvs,
}

impl fmt::Display for ForeignScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ForeignScheme::Btv1 => "btv1",
            ForeignScheme::Msprvs1 => "msprvs1",
            ForeignScheme::PlusPrvs => "+prvs",
        })
    }
}

/// What checking one carrier found. Shared by the three carriers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Made by us with this key, and within its validity window on the arrival day.
    Valid {
        /// The key that made it.
        key: KeyId,
    },
    /// Made by us with this key, but the arrival day is outside its validity window (too old, or
    /// dated after the arrival — a replay or a badly skewed clock).
    Expired {
        /// The key that made it.
        key: KeyId,
    },
    /// Shaped like ours and naming a key we hold, but the MAC does not match: not made by us.
    Forged,
    /// Shaped like ours, but it names a key number we do not hold (or no longer verify with).
    UnknownKey {
        /// The key number the carrier names.
        key: KeyId,
    },
    /// It claims to be our carrier but is not well-formed.
    Malformed,
    /// Not one of our carriers at all (an untagged address, someone else's Message-ID).
    NotTagged,
    /// Another system's tagging scheme: recognised, not verifiable.
    Foreign(ForeignScheme),
}

impl Verification {
    /// True only for [`Verification::Valid`].
    pub fn is_valid(&self) -> bool {
        matches!(self, Verification::Valid { .. })
    }

    /// The result word without the key (`valid`, `expired`, `forged`, `unknown-key`,
    /// `malformed`, `not-tagged`, `foreign`), for the `result` field of `classify --json`.
    pub fn word(&self) -> &'static str {
        match self {
            Verification::Valid { .. } => "valid",
            Verification::Expired { .. } => "expired",
            Verification::Forged => "forged",
            Verification::UnknownKey { .. } => "unknown-key",
            Verification::Malformed => "malformed",
            Verification::NotTagged => "not-tagged",
            Verification::Foreign(_) => "foreign",
        }
    }

    /// The key number the carrier was made with (valid or expired) or names (unknown key).
    pub fn key(&self) -> Option<KeyId> {
        match self {
            Verification::Valid { key } | Verification::Expired { key } | Verification::UnknownKey { key } => {
                Some(*key)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Verification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verification::Valid { key } => write!(f, "valid key={key}"),
            Verification::Foreign(scheme) => write!(f, "foreign scheme={scheme}"),
            other => f.write_str(other.word()),
        }
    }
}

/// The per-carrier subkey: HMAC-SHA256(secret, label) (DESIGN §3), so that a MAC of one carrier
/// can never be replayed as another's.
fn subkey(secret: &[u8], label: &str) -> [u8; 32] {
    let mut mac = hmac_sha256(secret);
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// An HMAC-SHA256 instance keyed with `key`.
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of every length (RFC 2104 §2: longer keys are hashed first), so this
    // cannot fail whatever the key.
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// The 128-bit MAC of `message` under the carrier subkey `label` of `key`, lowercase hex (32
/// characters), as written into the header and Message-ID carriers.
fn mac128_hex(key: &Key<'_>, label: &str, message: &str) -> String {
    let mut mac = hmac_sha256(&subkey(key.secret, label));
    mac.update(message.as_bytes());
    let full = mac.finalize().into_bytes();
    hex_lower(full.get(..16).unwrap_or(&full))
}

/// The first 32 bits of HMAC-SHA256(subkey `label` of `key`, `message`): a short keyed hash,
/// for the sent log's recipients (nobody without the keyring can test an address against it).
pub(crate) fn mac32(key: &Key<'_>, label: &str, message: &[u8]) -> u32 {
    let mut mac = hmac_sha256(&subkey(key.secret, label));
    mac.update(message);
    let full = mac.finalize().into_bytes();
    let mut first = [0u8; 4];
    first.copy_from_slice(full.get(..4).unwrap_or(&[0; 4]));
    u32::from_be_bytes(first)
}

/// Checks a 128-bit MAC of `message` under every key in `keys` numbered `id`, in constant time
/// per key: `None` if no key has that number, else whether one matched.
fn mac128_matches(keys: &[Key<'_>], id: KeyId, label: &str, message: &str, tag: &[u8]) -> Option<bool> {
    let mut candidates = keys.iter().filter(|k| k.id == id).peekable();
    candidates.peek()?;
    Some(candidates.any(|key| {
        let mut mac = hmac_sha256(&subkey(key.secret, label));
        mac.update(message.as_bytes());
        tag.len() == 16 && mac.verify_truncated_left(tag).is_ok()
    }))
}

/// Lowercase hex of `bytes`.
fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// The bytes of an even-length hex string (either case), or `None` if it is not one.
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    let digits = hex.as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |b: u8| char::from(b).to_digit(16).and_then(|v| u8::try_from(v).ok());
    digits.chunks_exact(2).map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect()
}

/// A signing day written as decimal digits (at most 10, which is 27 million years of days), or
/// `None`.
fn parse_day(digits: &str) -> Option<Day> {
    if digits.is_empty() || digits.len() > 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Day)
}

/// The outcome for a carrier whose MAC matched, made on `signed`, arriving on `arrival`: valid
/// iff 0 ≤ arrival − signed ≤ [`VALID_DAYS`] (DESIGN §4, header and Message-ID).
fn judge_age(key: KeyId, signed: Day, arrival: Day) -> Verification {
    let age = arrival.0.saturating_sub(signed.0);
    if (0..=VALID_DAYS).contains(&age) {
        Verification::Valid { key }
    } else {
        Verification::Expired { key }
    }
}

/// True if `s` is exactly 16 hex digits (a 64-bit nonce as written in a carrier).
fn is_nonce(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_single_digits() {
        assert_eq!(KeyId::new(9).map(KeyId::digit), Some('9'));
        assert_eq!(KeyId::new(10), None);
        assert_eq!(KeyId::from_digit(b'a'), None);
        assert_eq!(KeyId::from_digit(b'0').map(KeyId::get), Some(0));
        assert_eq!(KeyId::new(9).map(KeyId::next), Some(KeyId::ZERO));
        assert_eq!(KeyId::ZERO.next().get(), 1);
    }

    #[test]
    fn display_words() {
        let k = KeyId::new(3).unwrap();
        assert_eq!(Verification::Valid { key: k }.to_string(), "valid key=3");
        assert_eq!(Verification::Expired { key: k }.to_string(), "expired");
        assert_eq!(Verification::Forged.to_string(), "forged");
        assert_eq!(Verification::UnknownKey { key: k }.to_string(), "unknown-key");
        assert_eq!(Verification::Malformed.to_string(), "malformed");
        assert_eq!(Verification::NotTagged.to_string(), "not-tagged");
        assert_eq!(Verification::Foreign(ForeignScheme::Btv1).to_string(), "foreign scheme=btv1");
        assert_eq!(Verification::Valid { key: k }.word(), "valid");
    }

    #[test]
    fn key_debug_hides_the_secret() {
        let key = Key { id: KeyId::new(1).unwrap(), secret: b"hunter2hunter2" };
        assert!(!format!("{key:?}").contains("hunter2"));
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        assert_eq!(hex_lower(&[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(decode_hex("00ABff"), Some(vec![0x00, 0xab, 0xff]));
        for bad in ["", "a", "zz", "0g", "é1"] {
            assert_eq!(decode_hex(bad), None, "{bad}");
        }
    }

    /// Pseudo-random strings over the characters the parsers care about, through every
    /// verifier: none may panic, and nothing random is valid.
    #[test]
    fn random_inputs_never_panic() {
        const PIECES: [&str; 24] = [
            "prvs=",
            "PRVS=",
            "bs1.",
            "v1.",
            "0",
            "7",
            "9",
            "362",
            "f1fad2",
            "0123456789abcdef",
            "=",
            "@",
            ".",
            "<",
            ">",
            " ",
            "é",
            "\u{1F511}",
            "btv1==",
            "+prvs=",
            "20355",
            "\r\n",
            "x",
            "00000000000000000000000000000000",
        ];
        let keys = [Key { id: KeyId::ZERO, secret: b"secret" }, Key { id: KeyId(7), secret: b"" }];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            // xorshift64: deterministic, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = next() % 12;
            let input: String = (0..len).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            for day in [Day(0), Day(20355), Day(i64::MIN), Day(i64::MAX)] {
                let outcomes = [
                    batv::verify(&input, &keys, day),
                    header::verify(&input, &keys, day),
                    msgid::verify_message_id(&input, &keys, day),
                    msgid::verify_envid(&input, &keys, day),
                ];
                assert!(!outcomes.iter().any(Verification::is_valid), "{input:?} valid on {day:?}");
            }
        }
    }

    #[test]
    fn subkeys_differ_per_label() {
        assert_ne!(subkey(b"s", "backscatter/header/v1"), subkey(b"s", "backscatter/msgid/v1"));
    }
}
