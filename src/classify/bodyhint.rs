//! The cheap raw-body test behind [`body_hint`]: does the start of an otherwise ordinary-looking
//! message talk like an auto-reply, a challenge or a virus notice? Runs on every message the
//! header fast path would call ordinary, so it allocates nothing and scans in blocks that the
//! compiler turns into SIMD compares.

/// How much of the body is looked at.
const HINT_BYTES: usize = 2048;

/// Block size of the SIMD-friendly pre-scan: one SSE2 register. Measured on the ham corpus,
/// 16 beats 32 and 64 (wider blocks run out of registers and spill).
const BLOCK: usize = 16;

/// Strong phrases, lowercase ASCII, grouped by an anchor: three letters that occur in each phrase
/// of the group and rarely in other text (1.1% of 16-byte blocks of the ham corpus hold one). The
/// pre-scan looks for anchors only; phrases are compared only where an anchor sits. The raw body
/// may be quoted-printable or base64 — best effort: the phrases are ASCII, and QP keeps ASCII
/// words intact between soft line breaks. Non-English auto-replies nearly always carry a header
/// or subject signal the fast path sees, so only the common automatic-reply words of other
/// languages are here.
const ANCHORS: &[([u8; 3], &[&[u8]])] = &[
    (*b"ffi", &[b"out of the office", b"out of office", b"out-of-office", b"fuori ufficio"]),
    (
        *b"uto",
        &[
            b"automated response",
            b"automated reply",
            b"automated message",
            b"automatic reply",
            b"automatic response",
            b"automatically generated",
            b"auto-reply",
            b"auto reply",
            b"autoreply",
            b"auto-response",
            b"autorespond",
            b"automatisch",
            b"automatique",
            b"risposta automatica",
            b"respuesta autom",
            b"automatiskt svar",
            b"autosvar",
        ],
    ),
    (*b"vac", &[b"vacation", b"vacaciones", b"vacances"]),
    (*b"iru", &[b"virus detect", b"virus found", b"virus alert", b"virus (", b"virus in ", b"a virus"]),
    (*b"awa", &[b"i am away", b"i'm away", b"away from the office", b"away from my", b"away until"]),
    (*b"rif", &[b"verify that you", b"verify your", b"verify you are"]),
    (*b"irm", &[b"confirm that you", b"confirm your", b"please confirm", b"confirm you are", b"confirm it "]),
    // Spam Arrest: "I'm protecting myself from receiving junk mail."
    (*b"unk", &[b"junk mail"]),
];

/// Case-insensitive scan of the first ~2 KiB of a raw, undecoded body for phrases that only
/// auto-replies, challenges and virus notices use at their start ("out of the office",
/// "automated response", "verify that you", "virus found", …). `true` makes the message a
/// candidate for the full parse and [`super::autoreply::detect`]; it decides nothing by itself.
pub fn body_hint(body_prefix: &[u8]) -> bool {
    let text = body_prefix.get(..HINT_BYTES).unwrap_or(body_prefix);
    let mut start = 0;
    // Whole blocks: the anchor test runs over BLOCK positions without branches, so it vectorises.
    while let (Some(first), Some(second), Some(third)) =
        (block(text, start), block(text, start + 1), block(text, start + 2))
    {
        if block_has_anchor(first, second, third) && (start..start + BLOCK).any(|at| phrase_at(text, at)) {
            return true;
        }
        start += BLOCK;
    }
    (start..text.len()).any(|at| phrase_at(text, at))
}

/// `BLOCK` bytes from `start`, as an array so the compiler knows the length.
#[inline]
fn block(text: &[u8], start: usize) -> Option<&[u8; BLOCK]> {
    text.get(start..start + BLOCK)?.try_into().ok()
}

/// Whether an anchor starts at any of the `BLOCK` positions; `first`, `second` and `third` are
/// the block and the block shifted by one and two bytes.
#[inline]
fn block_has_anchor(first: &[u8; BLOCK], second: &[u8; BLOCK], third: &[u8; BLOCK]) -> bool {
    let mut any = 0u8;
    for i in 0..BLOCK {
        // `| 0x20` folds ASCII case; it maps no non-letter onto a letter.
        let (x, y, z) = (first[i] | 0x20, second[i] | 0x20, third[i] | 0x20);
        for (anchor, _) in ANCHORS {
            any |= u8::from(x == anchor[0]) & u8::from(y == anchor[1]) & u8::from(z == anchor[2]);
        }
    }
    any != 0
}

/// Whether one of the phrases whose anchor starts at `at` matches around it.
fn phrase_at(text: &[u8], at: usize) -> bool {
    let Some(key) = text.get(at..at + 3) else { return false };
    ANCHORS.iter().filter(|(anchor, _)| key.eq_ignore_ascii_case(anchor)).any(|(anchor, phrases)| {
        phrases.iter().any(|phrase| {
            // The anchor's first place in the phrase (every phrase holds its group's anchor).
            let Some(offset) = phrase.windows(3).position(|w| w == anchor) else { return false };
            let Some(begin) = at.checked_sub(offset) else { return false };
            text.get(begin..begin + phrase.len()).is_some_and(|t| t.eq_ignore_ascii_case(phrase))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_phrases_in_any_case_and_position() {
        assert!(body_hint(b"This is an AUTOMATED RESPONSE to your message."));
        assert!(body_hint(b"I will be Out of the Office until Monday."));
        let mut long = vec![b'x'; 1000];
        long.extend_from_slice(b" please verify that you sent this");
        assert!(body_hint(&long));
        // Right at the end of a block boundary and at the very end of the input.
        for pad in 0..70 {
            let mut text = vec![b' '; pad];
            text.extend_from_slice(b"Virus found");
            assert!(body_hint(&text), "pad {pad}");
        }
    }

    #[test]
    fn ignores_ordinary_text_and_what_lies_beyond_2_kib() {
        assert!(!body_hint(b"Hi Bob, the office party is on Friday. Automake needs a fix too."));
        assert!(!body_hint(b""));
        assert!(!body_hint(b"au"));
        let mut late = vec![b'x'; HINT_BYTES];
        late.extend_from_slice(b"out of the office");
        assert!(!body_hint(&late));
    }

    #[test]
    fn every_phrase_holds_its_anchor_and_is_lowercase() {
        for (anchor, phrases) in ANCHORS {
            for phrase in *phrases {
                assert!(phrase.windows(3).any(|w| w == anchor), "{}", String::from_utf8_lossy(phrase));
                assert!(!phrase.iter().any(u8::is_ascii_uppercase));
                assert!(body_hint(phrase), "{}", String::from_utf8_lossy(phrase));
            }
        }
    }

    #[test]
    fn copes_with_binary_and_non_utf8() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert!(!body_hint(&bytes));
        assert!(body_hint(b"\xff\xfe r\xe9ponse automatique \xe9t\xe9"));
    }
}
