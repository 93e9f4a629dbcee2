//! Modified UTF-7 mailbox names (RFC 3501 §5.1.3): what IMAP puts on the wire for non-ASCII
//! folder names such as `Entwürfe` (`Entw&APw-rfe`).

/// The modified BASE64 alphabet: RFC 2045's with `,` in place of `/` (RFC 3501 §5.1.3).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// Encodes a mailbox name for the wire: printable ASCII stands for itself (`&` as `&-`), every
/// other run of characters becomes `&` + modified BASE64 of its UTF-16BE + `-`.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut units));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// Writes the pending UTF-16 units as one `&…-` shift sequence.
fn flush(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // No padding in modified BASE64: emit only the sextets that carry input bits.
        let sextets = chunk.len() + 1;
        for i in 0..sextets {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out.push('-');
    units.clear();
}

/// Decodes a mailbox name from the wire; `None` when it is not valid modified UTF-7 (a server
/// that sends raw UTF-8 or a broken shift sequence), so the caller can show it as it came.
pub fn decode(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(amp) = rest.find('&') {
        out.push_str(rest.get(..amp)?);
        let after = rest.get(amp + 1..)?;
        let dash = after.find('-')?;
        let encoded = after.get(..dash)?;
        if encoded.is_empty() {
            out.push('&');
        } else {
            out.push_str(&decode_shifted(encoded)?);
        }
        rest = after.get(dash + 1..)?;
    }
    if rest.chars().any(|c| !(' '..='~').contains(&c)) {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// The text between `&` and `-`: modified BASE64 of UTF-16BE.
fn decode_shifted(encoded: &str) -> Option<String> {
    let mut bits: u32 = 0;
    let mut nbits = 0u32;
    let mut bytes = Vec::with_capacity(encoded.len() * 3 / 4);
    for b in encoded.bytes() {
        let value = ALPHABET.iter().position(|&a| a == b)?;
        bits = (bits << 6) | value as u32;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            bytes.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    // Leftover bits must be zero padding (RFC 3501 §5.1.3 via RFC 2152).
    if bits != 0 || bytes.len() % 2 != 0 {
        return None;
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_example_and_common_names() {
        // RFC 3501 §5.1.3: "~peter/mail/台北/日本語".
        assert_eq!(encode("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(encode("INBOX"), "INBOX");
        assert_eq!(encode("Корзина"), "&BBoEPgRABDcEOAQ9BDA-");
        assert_eq!(encode("😀"), "&2D3eAA-");
    }

    #[test]
    fn round_trips() {
        for name in ["~peter/mail/台北/日本語", "Entwürfe", "Tom & Jerry", "a&b&", "Корзина", "😀x😀", "é"]
        {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name), "{name}");
        }
    }

    #[test]
    fn broken_input_is_none_not_a_panic() {
        for wire in ["&", "&U,BTF", "&U,BTFw", "&!!-", "caf\u{e9}", "&AA-", "&APw"] {
            assert_eq!(decode(wire), None, "{wire:?}");
        }
        assert_eq!(decode("&-&-").as_deref(), Some("&&"));
    }
}
