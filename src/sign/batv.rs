//! The BATV `prvs=` tag on the envelope sender, exactly as Exim's `${prvs}` / `${prvscheck}`
//! make and read it (DESIGN §4.1).
//!
//! Format: `prvs=KDDDHHHHHH=local@domain` — K the key digit, DDD the expiry day (signing day + 7)
//! mod 1000, HHHHHH the first 3 bytes of HMAC-SHA1(secret, K‖DDD‖local@domain) in lowercase
//! hex. Exim 4.96 `expand.c` (`prvs_daystamp`, `prvs_hmac_sha1`) is the reference; the vectors in
//! `tests/vectors/` were produced by a real Exim.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::{decode_hex, hex_lower, ForeignScheme, Key, KeyId, Verification, VALID_DAYS};
use crate::day::Day;

/// The tag-type prefix, matched in any case when reading (as Exim does).
const PREFIX: &str = "prvs=";

/// A `prvs=` tagged address taken apart; nothing checked yet but its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tag<'a> {
    /// The key digit.
    pub key: KeyId,
    /// The three expiry-day digits, as written.
    pub expiry: &'a str,
    /// The six hex digits of the MAC, as written (any case).
    pub hash: &'a str,
    /// The address that was tagged, exactly as it follows the tag.
    pub address: &'a str,
}

/// Tags `address` with `key` on `day`: `prvs=KDDDHHHHHH=address`, byte-for-byte what Exim's
/// `${prvs{address}{secret}{K}}` gives on that UTC day. The address is used exactly as given
/// (case kept, even if it is already tagged); callers that want a canonical form (the sendmail
/// drop-in lowercases the domain) do that first.
pub fn make(address: &str, key: &Key<'_>, day: Day) -> String {
    let expiry = expiry_digits(day);
    let mac = mac(key, &expiry, address).finalize().into_bytes();
    let hash = hex_lower(mac.get(..3).unwrap_or(&mac));
    format!("{PREFIX}{}{expiry}{hash}={address}", key.id.digit())
}

/// Reads the shape of a tagged address: `Some` if it is `prvs=` (any case), a key digit, three
/// day digits, six hex digits (any case), `=`, then `local@domain` with both sides non-empty —
/// the regular expression Exim's `${prvscheck}` uses.
pub fn parse(tagged: &str) -> Option<Tag<'_>> {
    let bytes = tagged.as_bytes();
    if !bytes.get(..PREFIX.len())?.eq_ignore_ascii_case(PREFIX.as_bytes()) {
        return None;
    }
    // Everything up to the second `=` is ASCII once checked, so the byte offsets below fall on
    // character boundaries.
    let head = bytes.get(PREFIX.len()..PREFIX.len() + 11)?;
    let key = KeyId::from_digit(head[0])?;
    let digits_ok = head.get(1..4)?.iter().all(u8::is_ascii_digit);
    let hex_ok = head.get(4..10)?.iter().all(u8::is_ascii_hexdigit);
    if !digits_ok || !hex_ok || head[10] != b'=' {
        return None;
    }
    let at = PREFIX.len();
    let address = tagged.get(at + 11..)?;
    let (local, domain) = address.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some(Tag { key, expiry: tagged.get(at + 1..at + 4)?, hash: tagged.get(at + 4..at + 10)?, address })
}

/// Checks a tagged address against `keys` (those usable on `arrival`, as the keyring gives
/// them). Valid iff the MAC matches a key with the tag's number and
/// (DDD − arrival day) mod 1000 ≤ 7: the tag expires 7 days after signing, and a tag dated after
/// its arrival is refused (Exim's own check accepts those, and any tag up to ~990 days old).
///
/// The MAC is compared in constant time, hex in any case, over the address exactly as received:
/// a tag whose address changed case in transit does not verify (the `strict_result` column of
/// `tests/vectors/exim_check_vectors.tsv`).
pub fn verify(tagged: &str, keys: &[Key<'_>], arrival: Day) -> Verification {
    let Some(tag) = parse(tagged) else {
        return unparsed(tagged);
    };
    let mut candidates = keys.iter().filter(|k| k.id == tag.key).peekable();
    if candidates.peek().is_none() {
        return Verification::UnknownKey { key: tag.key };
    }
    let Some(hash) = decode_hex(tag.hash) else { return Verification::Malformed };
    if !candidates.any(|key| mac(key, tag.expiry, tag.address).verify_truncated_left(&hash).is_ok()) {
        return Verification::Forged;
    }
    let expiry: i64 = match tag.expiry.parse() {
        Ok(n) => n,
        Err(_) => return Verification::Malformed,
    };
    if (expiry - arrival.0.rem_euclid(1000)).rem_euclid(1000) <= VALID_DAYS {
        Verification::Valid { key: tag.key }
    } else {
        Verification::Expired { key: tag.key }
    }
}

/// The address inside a `prvs=` tag, or `None` if `address` is not tagged. The sendmail drop-in
/// uses this to leave an already-tagged sender alone; mail delivery uses it to find the mailbox.
pub fn untag(address: &str) -> Option<&str> {
    parse(address).map(|tag| tag.address)
}

/// What an address that is not a well-formed `prvs=` tag is: malformed if it starts like one,
/// a foreign scheme if it carries one, else not tagged.
fn unparsed(address: &str) -> Verification {
    let starts_with = |s: &str, prefix: &str| {
        s.as_bytes().get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
    };
    if starts_with(address, PREFIX) {
        return Verification::Malformed;
    }
    let local = address.rsplit_once('@').map_or(address, |(local, _)| local);
    if starts_with(local, "btv1==") {
        Verification::Foreign(ForeignScheme::Btv1)
    } else if starts_with(local, "msprvs1=") {
        Verification::Foreign(ForeignScheme::Msprvs1)
    } else if local.to_ascii_lowercase().contains("+prvs=") {
        Verification::Foreign(ForeignScheme::PlusPrvs)
    } else {
        Verification::NotTagged
    }
}

/// DDD: the expiry day (signing day + 7) mod 1000, three digits (Exim `prvs_daystamp(7)`).
fn expiry_digits(day: Day) -> String {
    // Reduced first so that no day number can overflow.
    format!("{:03}", (day.0.rem_euclid(1000) + VALID_DAYS) % 1000)
}

/// HMAC-SHA1 keyed by the secret itself over K‖DDD‖address (Exim `prvs_hmac_sha1`).
fn mac(key: &Key<'_>, expiry: &str, address: &str) -> Hmac<Sha1> {
    // HMAC accepts keys of every length (RFC 2104 §2), so this cannot fail whatever the secret.
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key.secret).expect("HMAC takes keys of any length");
    mac.update(&[b'0' + key.id.get()]);
    mac.update(expiry.as_bytes());
    mac.update(address.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAKE: &str = include_str!("../../tests/vectors/exim_vectors.tsv");
    const CHECK: &str = include_str!("../../tests/vectors/exim_check_vectors.tsv");

    /// The data rows of a vector file: no comments, no header, split at tabs, with line numbers.
    fn rows(file: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
        file.lines()
            .enumerate()
            .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
            .skip(1)
            .map(|(n, l)| (n + 1, l.split('\t').collect()))
    }

    fn key(id: u8, secret: &str) -> Key<'_> {
        Key { id: KeyId::new(id).unwrap(), secret: secret.as_bytes() }
    }

    #[test]
    fn reproduces_every_exim_prvs_vector() {
        let (mut count, mut failures) = (0, Vec::new());
        for (line, row) in rows(MAKE) {
            let [address, secret, keynum, date, expected] = row[..] else { panic!("line {line}: {row:?}") };
            // Exim uses key number 0 when the argument is omitted.
            let id = if keynum.is_empty() { 0 } else { keynum.parse().unwrap() };
            let got = make(address, &key(id, secret), date.parse().unwrap());
            if got != expected {
                failures.push(format!("exim_vectors.tsv line {line}: got {got}, want {expected}"));
            }
            count += 1;
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(count, 33);
    }

    #[test]
    fn gives_strict_result_on_every_exim_check_vector() {
        let (mut count, mut failures) = (0, Vec::new());
        for (line, row) in rows(CHECK) {
            let [tagged, secret, date, _exim, strict, decoded, note] = row[..] else { panic!("line {line}: {row:?}") };
            // Every key number holds the row's secret, so an altered key digit is a MAC failure.
            let keys: Vec<Key<'_>> = (0..10).map(|id| key(id, secret)).collect();
            let got = verify(tagged, &keys, date.parse().unwrap());
            if got.is_valid() != (strict == "1") {
                failures.push(format!("exim_check_vectors.tsv line {line} ({note}): got {got}, want {strict}"));
            }
            if untag(tagged).unwrap_or("") != decoded {
                failures.push(format!("exim_check_vectors.tsv line {line} ({note}): decoded address"));
            }
            count += 1;
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert_eq!(count, 21);
    }

    #[test]
    fn outcomes_name_what_went_wrong() {
        let k3 = [key(3, "secret")];
        let day: Day = "2025-09-24".parse().unwrap();
        let t = "prvs=3362f1fad2=user@example.com";
        assert_eq!(verify(t, &k3, day).to_string(), "valid key=3");
        assert_eq!(verify(t, &k3, Day(day.0 + 8)).to_string(), "expired");
        assert_eq!(verify(t, &k3, Day(day.0 - 1)).to_string(), "expired");
        assert_eq!(verify(t, &[key(3, "other")], day), Verification::Forged);
        assert_eq!(verify(t, &[key(2, "secret")], day).to_string(), "unknown-key");
        assert_eq!(verify("prvs=3362f1fad2=user@example.com", &[], day).key(), KeyId::new(3));
        assert_eq!(verify("user@example.com", &k3, day).to_string(), "not-tagged");
    }

    #[test]
    fn malformed_and_foreign_tags() {
        let k = [key(0, "secret")];
        let day = Day(20_000);
        for bad in [
            "prvs=",
            "prvs=x362f1fad2=u@e",
            "prvs=3362f1fad=u@e",
            "prvs=3362f1fad2=@e",
            "prvs=3362f1fad2=u@",
            "PRVS=33g2f1fad2=u@e",
            "prvs=3362f1fad2u@e",
        ] {
            assert_eq!(verify(bad, &k, day), Verification::Malformed, "{bad}");
        }
        assert_eq!(verify("btv1==0123==a@b.c", &k, day), Verification::Foreign(ForeignScheme::Btv1));
        assert_eq!(verify("MSPRVS1=19700yx8k=bounces@b.c", &k, day), Verification::Foreign(ForeignScheme::Msprvs1));
        assert_eq!(verify("user+prvs=0362aa5fa4@b.c", &k, day), Verification::Foreign(ForeignScheme::PlusPrvs));
    }

    #[test]
    fn never_panics_on_junk() {
        let k = [key(0, "secret")];
        let huge = format!("prvs=0362aa5fa4={}@example.com", "x".repeat(1 << 20));
        let inputs = ["", "@", "prvs=0362aa5fa4=", "prvs=0é62aa5fa4=u@e", "prvsé", "prvs=0362aa5fa4=é@é", "\0\u{feff}"];
        for input in inputs.iter().copied().chain([huge.as_str()]) {
            let _ = verify(input, &k, Day(0));
            let _ = verify(input, &k, Day(i64::MIN));
            let _ = verify(input, &k, Day(i64::MAX));
        }
        assert_eq!(verify(&huge, &k, Day(0)), Verification::Forged);
        let _ = make("x", &k[0], Day(i64::MAX - 3));
    }

    #[test]
    fn tags_an_already_tagged_address_as_given() {
        let k = key(0, "secret");
        let day = "2025-09-24".parse().unwrap();
        let twice = make("prvs=3362f1fad2=user@example.com", &k, day);
        assert_eq!(twice, "prvs=03622db0b8=prvs=3362f1fad2=user@example.com");
        assert_eq!(untag(&twice), Some("prvs=3362f1fad2=user@example.com"));
        assert_eq!(verify(&twice, &[k], day), Verification::Valid { key: k.id });
    }
}
