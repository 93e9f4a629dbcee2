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
/// 1 KiB finds as many bounces as 2 KiB (`tests/corpus_accuracy.rs`, header changes); half a KiB
/// more is the margin for long preambles. The search is most of the fast path's cost on a
/// message with no signals (`cargo bench --bench classify`).
pub const PREFIX: usize = 1536;

/// The phrases, lowercase. Each MTA recogniser's fingerprint (`lhost/*.rs`), then generic
/// non-delivery sentences, then the same in other languages (raw UTF-8: 8-bit bodies show them
/// as they are; base64 or quoted-printable ones are left to the sender and subject signals).
/// Kept under 64 so the automaton's packed prefilter applies.
const PHRASES: &[&str] = &[
    // Postfix bounce(8), Exim, qmail, Sendmail, Exchange 2003/2007+, Courier, DragonFly,
    // OpenSMTPD, Domino, amavisd-new, Gmail, Yahoo. Each starts at a rare word ("mail system at
    // host", not "this is the …"): the prefilter keys on the first bytes.
    "mail system at host",
    "postfix program",
    "mail delivery software",
    "address(es) failed",
    "qmail-send program",
    "transcript of session follows",
    "permanent fatal errors",
    "did not reach the following recipient",
    "delivery has failed to these recipients",
    "courier mail server",
    "dragonfly mail agent",
    "mailer-daemon, please do not reply",
    "was not delivered to:",
    "nondelivery report",
    "non-delivery report",
    "delivery to the following recipient",
    "sorry to have to inform you",
    "afraid i wasn't able to deliver",
    // RFC 3464 fields written into the text (or a report part a broken MIME tree hides).
    "reporting-mta:",
    "final-recipient:",
    // Generic sentences.
    "could not be delivered",
    "couldn't be delivered",
    "was not delivered",
    "wasn't delivered",
    "undeliverable",
    "undelivered mail",
    "undelivered message",
    "delivery status notification",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "unable to deliver",
    "could not deliver",
    "failed permanently",
    "permanent error",
    "returned mail",
    "returned to sender",
    "smtp error from remote",
    "original message was received at",
    "message could not be sent",
    // German, French, Italian, Spanish, Portuguese, Dutch.
    "unzustellbar",
    "nicht zugestellt",
    "non remis",
    "pas pu être remis",
    "non recapitabile",
    "non è stato recapitato",
    "no se pudo entregar",
    "no ha podido ser entregado",
    "não pôde ser entregue",
    "onbestelbaar",
    // Japanese (配信/送信できませんでした: could not be delivered/sent; 宛先不明: address unknown),
    // Chinese (退信: returned mail; 无法投递, 投递失败, 发送失败: could not be delivered/sent).
    "配信できません",
    "送信できません",
    "宛先不明",
    "退信",
    "无法投递",
    "投递失败",
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
        assert_eq!(bounce_text(b"This is the mail system at host mx.example."), Some("mail system at host"));
        assert_eq!(
            bounce_text(b"Your message did not reach some or all of the intended recipients.\n\nDid not reach the following recipient(s):"),
            Some("did not reach the following recipient")
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
    fn phrases_are_lowercase_and_few_enough_for_the_prefilter() {
        assert!(PHRASES.len() <= 64);
        for p in PHRASES {
            assert_eq!(*p, p.to_lowercase(), "{p}");
        }
    }
}
