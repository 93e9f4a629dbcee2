//! The signed Message-ID `<bs1.D.N.KS@domain>` and the same token as an ENVID (DESIGN §4.3).
//!
//! D the signing day (decimal day number), N a 64-bit nonce (16 hex digits), K the key digit
//! immediately followed by S, the first 128 bits of HMAC-SHA256(subkey, "bs1.D.N.K") in lowercase
//! hex, where subkey = HMAC-SHA256(secret, "backscatter/msgid/v1"). The domain is not under the
//! MAC, so the bare token `bs1.D.N.KS` works as an ENVID (RFC 3461 §4.4, `-V` to sendmail) and
//! verifies when it comes back as `Original-Envelope-Id` (RFC 3464 §2.2.1). The token is made of
//! letters, digits and dots only, so it needs no xtext encoding there.
//!
//! Auto-replies and read receipts return it in `In-Reply-To`, `References`,
//! `Original-Message-ID` or `X-MS-Exchange-Parent-Message-Id`; the caller splits those fields
//! into single IDs.

use super::{decode_hex, is_nonce, judge_age, mac128_hex, mac128_matches, parse_day, Key, KeyId, Verification};
use crate::day::Day;

/// The carrier subkey label (DESIGN §3).
const LABEL: &str = "backscatter/msgid/v1";

/// The version prefix of the token, dot included.
const PREFIX: &str = "bs1.";

/// Longer tokens are not ours: `bs1.` + 10 day digits + `.` + 16 + `.` + 33.
const MAX_TOKEN_LEN: usize = 70;

/// The bare token `bs1.D.N.KS` for a message signed with `key` on `day` with the caller's random
/// `nonce`: what goes into `-V` as the ENVID.
pub fn make_envid(key: &Key<'_>, day: Day, nonce: u64) -> String {
    let signed = format!("{PREFIX}{}.{nonce:016x}.{}", day.0, key.id.digit());
    let mac = mac128_hex(key, LABEL, &signed);
    format!("{signed}{mac}")
}

/// The Message-ID `<bs1.D.N.KS@domain>`, angle brackets included.
pub fn make_message_id(key: &Key<'_>, day: Day, nonce: u64, domain: &str) -> String {
    format!("<{}@{domain}>", make_envid(key, day, nonce))
}

/// Checks one Message-ID (angle brackets and surrounding whitespace optional) against `keys`,
/// those usable on `arrival`. Valid iff the token's MAC matches and 0 ≤ arrival − D ≤ 7; an ID
/// whose left part does not start with `bs1.` is someone else's: [`Verification::NotTagged`].
pub fn verify_message_id(value: &str, keys: &[Key<'_>], arrival: Day) -> Verification {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let inner = match value.strip_prefix('<') {
        Some(rest) => match rest.strip_suffix('>') {
            Some(inner) => inner,
            None if has_prefix(rest) => return Verification::Malformed,
            None => return Verification::NotTagged,
        },
        None => value,
    };
    let Some((token, domain)) = inner.split_once('@') else {
        return if has_prefix(inner) { Verification::Malformed } else { Verification::NotTagged };
    };
    match verify_token(token, keys, arrival) {
        Verification::NotTagged => Verification::NotTagged,
        _ if domain.is_empty() || domain.contains(['@', '<', '>']) => Verification::Malformed,
        outcome => outcome,
    }
}

/// Checks a bare ENVID token `bs1.D.N.KS` (surrounding whitespace ignored) against `keys`, those
/// usable on `arrival`; the same rules as [`verify_message_id`].
pub fn verify_envid(value: &str, keys: &[Key<'_>], arrival: Day) -> Verification {
    verify_token(value.trim_matches(|c: char| c.is_ascii_whitespace()), keys, arrival)
}

/// The key, signing day and nonce of a signed Message-ID (brackets optional) or bare ENVID
/// token shaped like ours, without checking its MAC: what the sent log looks a verified carrier
/// up by.
pub fn parts(value: &str) -> Option<(KeyId, Day, u64)> {
    let value = value.trim_matches(|c: char| c.is_ascii_whitespace());
    let value = value.strip_prefix('<').and_then(|v| v.strip_suffix('>')).unwrap_or(value);
    let token = value.split_once('@').map_or(value, |(token, _)| token);
    let (signed, key, day, _) = parse(token)?;
    let nonce = signed.split('.').nth(2)?;
    Some((key, day, u64::from_str_radix(nonce, 16).ok()?))
}

fn verify_token(token: &str, keys: &[Key<'_>], arrival: Day) -> Verification {
    if !has_prefix(token) {
        return Verification::NotTagged;
    }
    let Some((signed, key, day, mac)) = parse(token) else { return Verification::Malformed };
    match mac128_matches(keys, key, LABEL, signed, &mac) {
        None => Verification::UnknownKey { key },
        Some(false) => Verification::Forged,
        Some(true) => judge_age(key, day, arrival),
    }
}

/// True if `s` starts with `bs1.` (any case: Message-ID left parts are compared as written, but
/// a case-mangled one of ours is better called malformed than someone else's).
fn has_prefix(s: &str) -> bool {
    s.as_bytes().get(..PREFIX.len()).is_some_and(|head| head.eq_ignore_ascii_case(PREFIX.as_bytes()))
}

/// Splits `bs1.D.N.KS` into the signed part `bs1.D.N.K`, K, D and S (decoded).
fn parse(token: &str) -> Option<(&str, KeyId, Day, Vec<u8>)> {
    if token.len() > MAX_TOKEN_LEN || !token.starts_with(PREFIX) {
        return None;
    }
    let mut parts = token.get(PREFIX.len()..)?.split('.');
    let (day, nonce, key_and_mac) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_nonce(nonce) || key_and_mac.len() != 33 {
        return None;
    }
    let key = KeyId::from_digit(*key_and_mac.as_bytes().first()?)?;
    // The key digit is ASCII, so byte 1 is a character boundary; `get` still guards it.
    let mac = decode_hex(key_and_mac.get(1..)?)?;
    let signed = token.get(..token.len() - 32)?;
    Some((signed, key, parse_day(day)?, mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: u64 = 0xfedc_ba98_7654_3210;

    fn key(id: u8, secret: &str) -> Key<'_> {
        Key { id: KeyId::new(id).unwrap(), secret: secret.as_bytes() }
    }

    #[test]
    fn shape_of_a_made_message_id() {
        let id = make_message_id(&key(7, "secret"), Day(20355), NONCE, "example.com");
        assert!(id.starts_with("<bs1.20355.fedcba9876543210.7"), "{id}");
        assert!(id.ends_with("@example.com>"), "{id}");
        assert_eq!(id.len(), "<bs1.20355.fedcba9876543210.7".len() + 32 + "@example.com>".len());
        assert_eq!(id, format!("<{}@example.com>", make_envid(&key(7, "secret"), Day(20355), NONCE)));
    }

    #[test]
    fn parts_give_key_day_and_nonce() {
        let k = key(7, "secret");
        let want = Some((k.id, Day(20355), NONCE));
        assert_eq!(parts(&make_message_id(&k, Day(20355), NONCE, "example.com")), want);
        assert_eq!(parts(&make_envid(&k, Day(20355), NONCE)), want);
        assert_eq!(parts("<CAF=abc@mail.gmail.com>"), None);
    }

    #[test]
    fn round_trips_and_expiry_edges() {
        let k = key(7, "secret");
        let signed = Day(20355);
        let id = make_message_id(&k, signed, NONCE, "example.com");
        let envid = make_envid(&k, signed, NONCE);
        for age in 0..=7 {
            let arrival = Day(signed.0 + age);
            assert_eq!(verify_message_id(&id, &[k], arrival), Verification::Valid { key: k.id }, "age {age}");
            assert_eq!(verify_envid(&envid, &[k], arrival), Verification::Valid { key: k.id }, "age {age}");
        }
        for arrival in [Day(signed.0 + 8), Day(signed.0 - 1)] {
            assert_eq!(verify_message_id(&id, &[k], arrival), Verification::Expired { key: k.id });
            assert_eq!(verify_envid(&envid, &[k], arrival), Verification::Expired { key: k.id });
        }
    }

    #[test]
    fn domain_is_not_under_the_mac() {
        let k = key(7, "secret");
        let envid = make_envid(&k, Day(20355), NONCE);
        for id in [format!("<{envid}@other.example>"), format!("{envid}@x"), format!(" <{envid}@example.com>\r\n")] {
            assert_eq!(verify_message_id(&id, &[k], Day(20355)), Verification::Valid { key: k.id }, "{id}");
        }
    }

    #[test]
    fn forged_and_unknown_key() {
        let k = key(7, "secret");
        let day = Day(20355);
        let id = make_message_id(&k, day, NONCE, "example.com");
        assert_eq!(verify_message_id(&id, &[key(7, "other")], day), Verification::Forged);
        assert_eq!(verify_message_id(&id, &[key(1, "secret")], day), Verification::UnknownKey { key: k.id });
        let moved = id.replacen("bs1.20355.", "bs1.20356.", 1);
        assert_eq!(verify_message_id(&moved, &[k], Day(20356)), Verification::Forged);
        // A header MAC is not a Message-ID MAC.
        let header_mac = super::super::mac128_hex(&k, "backscatter/header/v1", "bs1.20355.fedcba9876543210.7");
        let swapped = format!("<bs1.20355.fedcba9876543210.7{header_mac}@example.com>");
        assert_eq!(verify_message_id(&swapped, &[k], day), Verification::Forged);
    }

    #[test]
    fn someone_elses_ids_are_not_tagged() {
        let k = [key(0, "s")];
        for id in ["<CAF=abc@mail.gmail.com>", "<1234.5678@example.com>", "plain", "", "<>", "<x@y"] {
            assert_eq!(verify_message_id(id, &k, Day(0)), Verification::NotTagged, "{id}");
        }
        assert_eq!(verify_envid("0123456789", &k, Day(0)), Verification::NotTagged);
    }

    #[test]
    fn malformed_inputs_never_panic() {
        let k = [key(0, "s")];
        let mac = "0".repeat(32);
        let huge = format!("<bs1.{}@example.com>", "9".repeat(1 << 20));
        let inputs = [
            "<bs1.@example.com>".to_string(),
            "<bs1.20355.fedcba9876543210.0@example.com>".to_string(),
            format!("<bs1.20355.fedcba9876543210.0{mac}@>"),
            format!("<bs1.20355.fedcba9876543210.0{mac}@example.com"),
            format!("bs1.20355.fedcba9876543210.0{mac}"),
            format!("<bs1.20355.fedcba987654321.0{mac}@e>"),
            format!("<bs1.20355.fedcba9876543210.x{mac}@e>"),
            format!("<bs1.-1.fedcba9876543210.0{mac}@e>"),
            format!("<bs1.20355.fedcba9876543210.0{mac}.5@e>"),
            format!("<BS1.20355.fedcba9876543210.0{mac}@e>"),
            format!("<bs1.20355.fedcba9876543210.0{}é@e>", "0".repeat(30)),
            "<bs1.é@e>".to_string(),
            huge,
        ];
        for input in &inputs {
            assert_eq!(verify_message_id(input, &k, Day(20355)), Verification::Malformed, "{input:.80}");
        }
        assert_eq!(verify_envid(&format!("bs1.1.0123456789abcdef.0{mac}é"), &k, Day(0)), Verification::Malformed);
        assert_eq!(verify_envid("bs1.", &k, Day(i64::MAX)), Verification::Malformed);
    }
}
