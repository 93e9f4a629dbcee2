//! The cheap raw-body test behind [`body_hint`]: does the start of an otherwise ordinary-looking
//! message talk like an auto-reply, a challenge or a virus notice? Runs on every message the
//! header fast path would call ordinary, so it allocates nothing and scans in blocks that the
//! compiler turns into SIMD compares.

/// How much of the body is looked at.
const HINT_BYTES: usize = 2048;

/// Block size of the SIMD-friendly pre-scan.
const BLOCK: usize = 32;

/// Strong phrases, lowercase ASCII, grouped by an anchor: two adjacent letters that occur once in
/// each phrase and rarely in text. The pre-scan looks for the anchors only; phrases are compared
/// only where an anchor sits. The raw body may be quoted-printable or base64 — best effort: the
/// phrases are ASCII, and QP keeps ASCII words intact between soft line breaks.
const ANCHORS: &[([u8; 2], &[&[u8]])] = &[
    (*b"ff", &[b"out of the office", b"out of office", b"out-of-office", b"fuori ufficio"]),
    (
        *b"au",
        &[
            b"automated response",
            b"automated reply",
            b"automatic reply",
            b"automatic response",
            b"automatically generated",
            b"auto-reply",
            b"auto reply",
            b"autoreply",
            b"auto-response",
            b"autorespond",
            b"automatische antwort",
            b"automatisch antwoord",
            b"automatisch gegenereerd",
            b"automatique",
            b"risposta automatica",
            b"automatiskt svar",
            b"automatyczna odpowied",
            b"autosvar",
            b"ausente",
        ],
    ),
    (*b"va", &[b"vacation", b"vacaciones", b"vacances", b"vakantie"]),
    (*b"vi", &[b"virus detect", b"virus found", b"virus alert", b"virus (", b"virus in ", b"a virus", b"viren"]),
    (*b"fy", &[b"verify that you", b"verify your", b"verify you are"]),
    (*b"nf", &[b"confirm that you", b"confirm your", b"please confirm", b"confirm you are"]),
    (*b"aw", &[b"i am away", b"i'm away", b"away from the office", b"away from my", b"away until"]),
    (*b"bs", &[b"absent"]),
    (*b"bw", &[b"abwesen"]),
    (*b"ez", &[b"afwezig"]),
];

/// Case-insensitive scan of the first ~2 KiB of a raw, undecoded body for phrases that only
/// auto-replies, challenges and virus notices use at their start ("out of the office",
/// "automated response", "verify that you", "virus found", …). `true` makes the message a
/// candidate for the full parse and [`super::autoreply::detect`]; it decides nothing by itself.
pub fn body_hint(body_prefix: &[u8]) -> bool {
    let text = body_prefix.get(..HINT_BYTES).unwrap_or(body_prefix);
    let mut start = 0;
    // Whole blocks: anchor test over BLOCK positions without branches, so it vectorises.
    while start + BLOCK < text.len() {
        let window = text.get(start..start + BLOCK + 1).unwrap_or_default();
        if block_has_anchor(window) && (start..start + BLOCK).any(|at| phrase_at(text, at)) {
            return true;
        }
        start += BLOCK;
    }
    (start..text.len()).any(|at| phrase_at(text, at))
}

/// Whether any anchor starts in the first `window.len() - 1` positions of `window`.
#[inline]
fn block_has_anchor(window: &[u8]) -> bool {
    let (Some(first), Some(second)) = (window.get(..BLOCK), window.get(1..BLOCK + 1)) else {
        return false;
    };
    let mut any = false;
    for (a, b) in first.iter().zip(second) {
        // `| 0x20` folds ASCII case; it maps no non-letter onto a letter.
        let (a, b) = (a | 0x20, b | 0x20);
        for (anchor, _) in ANCHORS {
            any |= (a == anchor[0]) & (b == anchor[1]);
        }
    }
    any
}

/// Whether one of the phrases whose anchor starts at `at` matches around it.
fn phrase_at(text: &[u8], at: usize) -> bool {
    let (Some(&a), Some(&b)) = (text.get(at), text.get(at + 1)) else { return false };
    let pair = [a | 0x20, b | 0x20];
    ANCHORS.iter().filter(|(anchor, _)| *anchor == pair).any(|(anchor, phrases)| {
        phrases.iter().any(|phrase| {
            let Some(offset) = phrase.windows(2).position(|w| w == anchor) else { return false };
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
    fn copes_with_binary_and_non_utf8() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert!(!body_hint(&bytes));
        assert!(body_hint(b"\xff\xfe je suis absent \xe9t\xe9"));
    }
}
