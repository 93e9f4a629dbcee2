//! The signature header `X-Backscatter-Sig: v1.K.D.N.S`, stamped as the first header of
//! outgoing mail (DESIGN §4.2).
//!
//! K the key digit, D the signing day (decimal day number), N a 64-bit nonce (16 hex digits), S
//! the first 128 bits of HMAC-SHA256(subkey, "v1.K.D.N") in lowercase hex, where subkey =
//! HMAC-SHA256(secret, "backscatter/header/v1"). One token with no spaces, so that it survives
//! being returned inside message/rfc822, text/rfc822-headers or a `> `-quoted bounce, and no
//! folding can split it.

use super::{decode_hex, is_nonce, judge_age, mac128_hex, mac128_matches, parse_day, Key, KeyId, Verification};
use crate::day::Day;

/// The default header name (the config may choose another).
pub const NAME: &str = "X-Backscatter-Sig";

/// The carrier subkey label (DESIGN §3).
const LABEL: &str = "backscatter/header/v1";

/// The version prefix of the token.
const VERSION: &str = "v1";

/// Longer values are not ours: `v1.K.` + 10 day digits + `.` + 16 + `.` + 32.
const MAX_LEN: usize = 64;

/// The header value for a message signed with `key` on `day` with the caller's random `nonce`.
pub fn make(key: &Key<'_>, day: Day, nonce: u64) -> String {
    let signed = format!("{VERSION}.{}.{}.{nonce:016x}", key.id.digit(), day.0);
    let mac = mac128_hex(key, LABEL, &signed);
    format!("{signed}.{mac}")
}

/// Checks a header value (surrounding whitespace and folding ignored) against `keys`, those
/// usable on `arrival`. Valid iff the MAC matches and 0 ≤ arrival − D ≤ 7. An empty value is
/// [`Verification::NotTagged`]; anything else that is not `v1.K.D.N.S` is malformed.
pub fn verify(value: &str, keys: &[Key<'_>], arrival: Day) -> Verification {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if value.is_empty() {
        return Verification::NotTagged;
    }
    let Some((signed, key, day, mac)) = parse(value) else { return Verification::Malformed };
    match mac128_matches(keys, key, LABEL, signed, &mac) {
        None => Verification::UnknownKey { key },
        Some(false) => Verification::Forged,
        Some(true) => judge_age(key, day, arrival),
    }
}

/// The key, signing day and nonce of a header value shaped like ours (surrounding whitespace
/// ignored), without checking its MAC: what the sent log looks a verified carrier up by.
pub fn parts(value: &str) -> Option<(KeyId, Day, u64)> {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let (signed, key, day, _) = parse(value)?;
    let nonce = signed.rsplit('.').next()?;
    Some((key, day, u64::from_str_radix(nonce, 16).ok()?))
}

/// Splits `v1.K.D.N.S` into the signed part `v1.K.D.N`, K, D and S (decoded).
fn parse(value: &str) -> Option<(&str, KeyId, Day, Vec<u8>)> {
    if value.len() > MAX_LEN {
        return None;
    }
    let (signed, mac) = value.rsplit_once('.')?;
    let mut parts = signed.split('.');
    let (version, key, day, nonce) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version != VERSION || !is_nonce(nonce) || mac.len() != 32 {
        return None;
    }
    let key = match key.as_bytes() {
        [digit] => KeyId::from_digit(*digit)?,
        _ => return None,
    };
    Some((signed, key, parse_day(day)?, decode_hex(mac)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: u64 = 0x0123_4567_89ab_cdef;

    fn key(id: u8, secret: &str) -> Key<'_> {
        Key { id: KeyId::new(id).unwrap(), secret: secret.as_bytes() }
    }

    #[test]
    fn shape_of_a_made_header() {
        let value = make(&key(4, "secret"), Day(20355), NONCE);
        let (signed, mac) = value.rsplit_once('.').unwrap();
        assert_eq!(signed, "v1.4.20355.0123456789abcdef");
        assert_eq!(mac.len(), 32);
        assert!(mac.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn parts_give_key_day_and_nonce() {
        let value = make(&key(4, "secret"), Day(20355), NONCE);
        assert_eq!(parts(&format!(" {value}\r\n")), Some((KeyId::new(4).unwrap(), Day(20355), NONCE)));
        assert_eq!(parts("v1.4.20355.0123"), None);
    }

    #[test]
    fn round_trip_and_expiry_edges() {
        let k = key(4, "secret");
        let signed = Day(20355);
        let value = make(&k, signed, NONCE);
        for age in 0..=7 {
            assert_eq!(verify(&value, &[k], Day(signed.0 + age)), Verification::Valid { key: k.id }, "age {age}");
        }
        assert_eq!(verify(&value, &[k], Day(signed.0 + 8)), Verification::Expired { key: k.id });
        assert_eq!(verify(&value, &[k], Day(signed.0 - 1)), Verification::Expired { key: k.id });
        assert_eq!(verify(&format!("  {value}\r\n"), &[k], signed), Verification::Valid { key: k.id });
        let (head, mac) = value.rsplit_once('.').unwrap();
        let upper = format!("{head}.{}", mac.to_uppercase());
        assert_eq!(verify(&upper, &[k], signed), Verification::Valid { key: k.id }, "MAC hex in any case");
    }

    #[test]
    fn forged_wrong_key_and_unknown_key() {
        let k = key(4, "secret");
        let day = Day(20355);
        let value = make(&k, day, NONCE);
        assert_eq!(verify(&value, &[key(4, "other")], day), Verification::Forged);
        assert_eq!(verify(&value, &[key(5, "secret")], day), Verification::UnknownKey { key: k.id });
        // Moving the day, nonce or key digit breaks the MAC.
        let later = value.replacen(".20355.", ".20356.", 1);
        assert_eq!(verify(&later, &[k], day), Verification::Forged);
        let renumbered = value.replacen("v1.4.", "v1.5.", 1);
        assert_eq!(verify(&renumbered, &[k, key(5, "secret")], day), Verification::Forged);
        let mut flipped = value.clone();
        let last = if flipped.ends_with('0') { '1' } else { '0' };
        flipped.pop();
        flipped.push(last);
        assert_eq!(verify(&flipped, &[k], day), Verification::Forged);
        // A Message-ID MAC is not a header MAC: the subkeys differ.
        let msgid_mac = super::super::mac128_hex(&k, "backscatter/msgid/v1", "v1.4.20355.0123456789abcdef");
        assert_eq!(verify(&format!("v1.4.20355.0123456789abcdef.{msgid_mac}"), &[k], day), Verification::Forged);
    }

    #[test]
    fn malformed_inputs_never_panic() {
        let k = [key(0, "s")];
        let huge = "v1.0.1.".repeat(100_000);
        let inputs = [
            "v1",
            "v1.0.20355.0123456789abcdef",
            "v2.0.20355.0123456789abcdef.00000000000000000000000000000000",
            "v1.10.20355.0123456789abcdef.00000000000000000000000000000000",
            "v1.0.-5.0123456789abcdef.00000000000000000000000000000000",
            "v1.0.99999999999.0123456789abcdef.00000000000000000000000000000000",
            "v1.0.20355.0123456789abcdeg.00000000000000000000000000000000",
            "v1.0.20355.0123456789abcdef.0000000000000000000000000000000",
            "v1.0.20355.0123456789abcdef.0000000000000000000000000000000g",
            "v1.0.20355.0123456789abcdef.000000000000000000000000000000é",
            "v1.é.20355.0123456789abcdef.00000000000000000000000000000000",
            "garbage",
            "....",
            huge.as_str(),
        ];
        for input in inputs {
            assert_eq!(verify(input, &k, Day(20355)), Verification::Malformed, "{input:.80}");
        }
        assert_eq!(verify("", &k, Day(0)), Verification::NotTagged);
        assert_eq!(verify(" \r\n\t", &k, Day(0)), Verification::NotTagged);
        let v = make(&k[0], Day(0), 0);
        assert_eq!(verify(&v, &k, Day(i64::MIN)), Verification::Expired { key: k[0].id });
    }
}
