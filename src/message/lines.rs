//! The header block cut into fields, byte by byte (RFC 5322 §2.2): a field is a line with a
//! name and a colon plus the lines after it that start with whitespace (its folds); the first
//! empty line ends the block. Nothing is decoded or copied here.

use super::Span;

/// The fields of the header block that starts `bytes`, and where the body starts.
pub(super) fn fields(bytes: &[u8]) -> (Vec<Span>, usize) {
    let mut spans = Vec::with_capacity(32);
    let mut pos = 0;
    while let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) {
        // An empty line ends the header block (RFC 5322 §2.1).
        if rest.starts_with(b"\n") {
            return (spans, pos + 1);
        }
        if rest.starts_with(b"\r\n") {
            return (spans, pos + 2);
        }
        let end = field_end(rest);
        if let Some((name, value)) = field_line(rest.get(..end).unwrap_or_default()) {
            spans.push(Span { name: pos..pos + name, value: pos + value..pos + end });
        }
        pos += end;
    }
    (spans, bytes.len())
}

/// The name's length and where the value starts, when `field` (a line and its folds) is a
/// header field: it does not start with whitespace, and before its first `:` is a name of
/// printable ASCII (RFC 5322 §3.6.8), optionally followed by whitespace (the obsolete syntax of
/// §4.5.3, which MTAs still write). Anything else — a stray line, a fold with nothing to fold
/// into — is no field, and its folds go with it.
fn field_line(field: &[u8]) -> Option<(usize, usize)> {
    let colon = field.iter().position(|b| *b == b':')?;
    let name = field.get(..colon)?.trim_ascii_end();
    let printable = !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic());
    printable.then_some((name.len(), colon + 1))
}

/// Length of the field at the start of `rest`, its folded continuation lines included.
fn field_end(rest: &[u8]) -> usize {
    let mut pos = 0;
    loop {
        match rest.get(pos..).and_then(find_newline) {
            None => return rest.len(),
            Some(nl) => {
                pos += nl + 1;
                match rest.get(pos) {
                    Some(b' ' | b'\t') => continue,
                    _ => return pos,
                }
            }
        }
    }
}

/// Position of the first `\n`, eight bytes at a time (SWAR: a zero byte in `word ^ 0x0a…`
/// shows up as a high bit in `(x - 0x01…) & !x & 0x80…`), since line ends are most of what a
/// header block is searched for.
fn find_newline(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut chunks = hay.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ NL;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|b| *b == b'\n').map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_search_agrees_with_a_plain_scan() {
        let text = b"0123456\n89abcdef\n\x80\x0b\xff\n\n";
        for start in 0..text.len() {
            for end in start..=text.len() {
                let hay = &text[start..end];
                assert_eq!(find_newline(hay), hay.iter().position(|b| *b == b'\n'), "{start}..{end}");
            }
        }
    }

    #[test]
    fn body_starts_after_the_empty_line_lf_and_crlf() {
        assert_eq!(fields(b"A: b\nC: d\n\nbody").1, 11);
        assert_eq!(fields(b"A: b\r\n folded\r\n\r\nbody").1, 17);
        assert_eq!(fields(b"A: b\n").1, 5);
    }

    #[test]
    fn names() {
        assert_eq!(field_line(b"To: x\n"), Some((2, 3)));
        assert_eq!(field_line(b"To : x\n"), Some((2, 4)));
        for no in [&b" To: x"[..], b"no colon", b": x", b"two words: x", b"\xff: x"] {
            assert_eq!(field_line(no), None, "{}", String::from_utf8_lossy(no));
        }
    }
}
