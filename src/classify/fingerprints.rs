//! Bounce fingerprints for the fast path: the sentences every MTA recogniser keys on, the
//! generic non-delivery phrases and their translations, looked for in the start of a raw body.
//! A hit makes a message a candidate for the full parse — it decides nothing by itself — so
//! that the fast path can end a message as `ordinary` only when nothing bounce-like is in its
//! head or the start of its body (DESIGN §5), whatever its sender and subject say.
//!
//! Cost: the prefix is ASCII-lowercased into a stack buffer, then searched for all phrases at
//! once by a case-sensitive Aho-Corasick automaton, whose SIMD prefilter (Teddy) runs at several
//! GB/s; ASCII case-insensitive automata get no such prefilter.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

/// How much of the raw body is looked at: a bounce's own text starts the body (after at most a
/// MIME preamble and one part's headers); further down is the returned message. On the corpus
/// 1 KiB finds as many bounces as 2 KiB (`tests/corpus_accuracy.rs`, header changes), and the
/// search is the largest part of the fast path's cost on a message with no signals.
pub const PREFIX: usize = 1024;

/// The phrases, lowercase, as short as still distinctive ("t be delivered" for "could not",
/// "couldn't", "cannot be delivered"), each cut to start at a 4-byte sequence that is rare in the
/// ham corpus ("l system at host", not "this is the mail system at host"): the prefilter keys
/// on the first four bytes, and every false key costs a verification. Each MTA recogniser's
/// fingerprint (`lhost/*.rs`), generic non-delivery sentences, and the same in other languages
/// (raw UTF-8: 8-bit bodies show them as they are; base64 or quoted-printable ones are left to
/// the sender and subject signals). At most 32, so that the prefilter is slim Teddy (about twice
/// as fast as the fat one beyond). The scan matters only when neither sender nor subject says
/// bounce (either alone makes a candidate), so the set is what a bounce copied or re-sent under
/// another sender and subject would still show.
const PHRASES: &[&str] = &[
    // Postfix bounce(8), Exim, qmail, Sendmail, Exchange 2003, Gmail, Sendmail/Postfix again,
    // Exchange 2007+, James/Yahoo ("unable/wasn't able to deliver"), RFC 3464 fields in text
    // (Gmail's "failed permanently" and Sendmail's "original message was received at" come
    // with one of these).
    "l system at host",
    "il delivery software",
    "ess(es) failed",
    "qmail-send",
    "nscript of session",
    "fatal error",
    "reach the following recipient",
    "elivery to the following",
    "sorry to have to inform you",
    "le to deliver",
    "-mta:",
    // DragonFly Mail Agent, OpenSMTPD ("This is the MAILER-DAEMON, please DO NOT REPLY").
    "gonfly mail agent",
    "er-daemon, please",
    "nal-recipient:",
    // Generic sentences.
    "t be delivered",
    "ot deliver",
    "'t deliver",
    "ndeliver",
    "status notification",
    "elivery fail",
    "ry has failed",
    "urned mail",
    "p error from remote",
    // German (unzustellbar, nicht zugestellt), French, Italian (recapitabile, recapitato),
    // Spanish and Portuguese (entregar, entregado, entregue).
    "zustell",
    "zugestellt",
    "non remis",
    "recapit",
    "entreg",
    // Japanese (配信/送信できません: could not be delivered/sent), Chinese (退信: returned
    // mail; 投递: delivery, as in 无法投递 and 投递失败; 发送失败: sending failed).
    "信できません",
    "退信",
    "投递",
    "发送失败",
];

fn automaton() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(PHRASES)
            .expect("the fingerprint phrases form a valid automaton")
    })
}

/// The first bounce fingerprint in the first [`PREFIX`] bytes of `body`, ASCII case-insensitively.
pub fn bounce_text(body: &[u8]) -> Option<&'static str> {
    let body = body.get(..PREFIX).unwrap_or(body);
    let mut buf = [0u8; PREFIX];
    let lower = buf.get_mut(..body.len())?;
    for (l, b) in lower.iter_mut().zip(body) {
        *l = b.to_ascii_lowercase();
    }
    let found = automaton().find(&*lower)?;
    PHRASES.get(found.pattern().as_usize()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_fingerprints_in_any_case() {
        assert_eq!(bounce_text(b"This is the mail system at host mx.example."), Some("l system at host"));
        assert_eq!(
            bounce_text(b"Your message did not reach some or all of the intended recipients.\n\nDid not reach the following recipient(s):"),
            Some("reach the following recipient")
        );
        assert!(bounce_text("Die Nachricht ist UNZUSTELLBAR.".as_bytes()).is_some());
        assert!(bounce_text("您的邮件无法投递到以下地址".as_bytes()).is_some());
    }

    #[test]
    fn ordinary_text_and_late_phrases_are_not_hits() {
        assert_eq!(bounce_text(b"Hi Bob, delivery of the sofa is on Friday."), None);
        assert_eq!(bounce_text(b""), None);
        let mut late = vec![b'x'; PREFIX];
        late.extend_from_slice(b"could not be delivered");
        assert_eq!(bounce_text(&late), None);
    }

    #[test]
    fn phrases_are_lowercase_and_few_enough_for_slim_teddy() {
        assert!(PHRASES.len() <= 32);
        for p in PHRASES {
            assert_eq!(*p, p.to_lowercase(), "{p}");
        }
    }
}
