//! Subject dictionaries for the header fast path: the words bounces, auto-replies and
//! challenge-response requests put in their subjects, in many languages. Weak signals (DESIGN
//! §5): a bounce subject makes a candidate for the full parse, the others count only in pairs.
//! Every subject is read, so all phrases are found in one pass of an Aho-Corasick automaton.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// What a subject says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subject {
    /// A bounce phrase ("Undelivered Mail Returned to Sender", "Unzustellbar", …).
    pub bounce: bool,
    /// A bounce phrase behind a forward prefix ("Fwd: Undeliverable: …").
    pub forwarded: bool,
    /// An auto-reply phrase ("Out of Office", "Abwesenheitsnotiz", …).
    pub autoreply: bool,
    /// A challenge-response phrase ("Please confirm your message", …).
    pub challenge: bool,
    /// Microsoft JMRP's "complaint about message from".
    pub complaint: bool,
}

/// Subject phrases of bounces, in many languages (MTA defaults: Postfix, Exim, Sendmail,
/// qmail, Exchange, Gmail, Lotus Notes, Courier, and the localised Exchange/Outlook strings).
const BOUNCE_SUBJECTS: &[&str] = &[
    "undelivered mail",
    "undeliverable",
    "undelivered",
    "delivery status",
    "delivery failure",
    "delivery failed",
    "delivery has failed",
    "delivery notification",
    "delivery problem",
    "delivery report",
    "mail delivery failed",
    "mail delivery status",
    "mail delivery subsystem",
    "returned mail",
    "return mail",
    "failure notice",
    "failure delivery",
    "non-delivery",
    "nondeliverable",
    "not delivered",
    "could not be delivered",
    "delivery error",
    "mail system error",
    "warning: could not send",
    "delayed mail",
    "delivery delayed",
    "message delayed",
    "mail could not be delivered",
    "message not delivered",
    "unable to deliver",
    "nicht zustellbar",
    "unzustellbar",
    "non remis",
    "non recapitabile",
    "onbestelbaar",
    "no se puede entregar",
    "não entregue",
    "olevererbart",
    "ikke leveret",
    "kan ikke leveres",
    "toimittamaton",
    "nie można dostarczyć",
    "nie dostarczono",
    "niedostarczalna",
    "недоставлено",
    "не доставлено",
    "配信不能",
    "未送達",
    "無法傳遞",
    "无法投递",
    "전달되지 않음",
    "配信エラー",
    "退信",
    "投递失败",
    "发送失败",
    "未送达",
    "returned to sender",
    "mail delivery system",
    "nondelivery",
    "no entregado",
    "échec de la remise",
    "[bounce]",
    "mail failure",
    "failed mail",
    "rejected:",
    "message you sent blocked",
    "delivery final failure",
    "permanent failure",
    "virus found",
];

/// Subject phrases of auto-replies.
const AUTOREPLY_SUBJECTS: &[&str] = &[
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto-reply",
    "auto response",
    "autoresponse",
    "automated response",
    "out of office",
    "out of the office",
    "away from my mail",
    "vacation",
    "abwesenheitsnotiz",
    "automatische antwort",
    "réponse automatique",
    "reponse automatique",
    "absence",
    "risposta automatica",
    "respuesta automática",
    "respuesta automatica",
    "resposta automática",
    "automatisch antwoord",
    "afwezigheidsbericht",
    "autosvar",
    "automaattinen vastaus",
    "automatyczna odpowiedź",
    "автоответ",
    "自動応答",
    "自动回复",
    "自動回覆",
];

/// Subject phrases of challenge-response requests (TMDA, Spam Arrest, Boxbe, Mailblocks;
/// the auto helper's `challenge.rs` uses the same words on the full message).
const CHALLENGE_SUBJECTS: &[&str] = &[
    "please confirm",
    "confirm your message",
    "confirmation required",
    "confirmation request",
    "verification required",
    "please verify",
    "sender verification",
    "authorization request",
];

/// Forward prefixes (English, German, French, Spanish/Italian, Nordic).
const FORWARD_PREFIXES: &[&str] = &["fwd:", "fw:", "wg:", "tr:", "rv:", "i:", "vs:", "vb:"];

/// JMRP's subject phrase.
const COMPLAINT: &str = "complaint about message from";

/// How much of a plain ASCII subject is read: the dictionaries' phrases sit at its start.
const ASCII_LIMIT: usize = 256;

/// One automaton over every dictionary, in the order bounce, auto-reply, challenge, complaint:
/// a pattern's index says which dictionary it came from.
fn automaton() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| {
        let all = BOUNCE_SUBJECTS.iter().chain(AUTOREPLY_SUBJECTS).chain(CHALLENGE_SUBJECTS).chain([&COMPLAINT]);
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            // Subjects are short and the phrases too many for a prefilter: a DFA walks fastest.
            .kind(Some(AhoCorasickKind::DFA))
            .build(all)
            .expect("the subject phrases form a valid automaton")
    })
}

/// What a Subject value says. Encoded words (RFC 2047) are decoded and non-ASCII text is
/// lowercased by Unicode rules first (both rare); a plain ASCII subject is only ASCII-lowercased
/// into a stack buffer.
pub fn read(value: &[u8]) -> Subject {
    let v = value.trim_ascii();
    if v.is_ascii() && !v.windows(2).any(|w| w == b"=?") {
        let v = v.get(..ASCII_LIMIT).unwrap_or(v);
        let mut buf = [0u8; ASCII_LIMIT];
        let lower = buf.get_mut(..v.len()).unwrap_or_default();
        for (l, b) in lower.iter_mut().zip(v) {
            *l = b.to_ascii_lowercase();
        }
        return dictionaries(lower);
    }
    let text = String::from_utf8_lossy(v);
    let decoded = if text.contains("=?") { decode_words(&text) } else { text.into_owned() };
    dictionaries(decoded.to_lowercase().as_bytes())
}

/// The dictionaries' verdict on a lowercased subject.
fn dictionaries(lower: &[u8]) -> Subject {
    let mut s = Subject::default();
    let mut bounce = false;
    let autoreply = BOUNCE_SUBJECTS.len();
    let challenge = autoreply + AUTOREPLY_SUBJECTS.len();
    let complaint = challenge + CHALLENGE_SUBJECTS.len();
    for m in automaton().find_overlapping_iter(lower) {
        let i = m.pattern().as_usize();
        if i < autoreply {
            bounce = true;
        } else if i < challenge {
            s.autoreply = true;
        } else if i < complaint {
            s.challenge = true;
        } else {
            s.complaint = true;
        }
    }
    let text = lower.trim_ascii_start();
    let forwarded = FORWARD_PREFIXES.iter().any(|p| text.starts_with(p.as_bytes()));
    s.forwarded = bounce && forwarded;
    s.bounce = bounce && !forwarded;
    s
}

/// Decodes RFC 2047 encoded words through mail-parser (rare: only localised subjects).
fn decode_words(text: &str) -> String {
    let raw = format!("Subject: {text}\r\n\r\n");
    mail_parser::MessageParser::default()
        .parse_headers(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_in_several_languages_and_encodings() {
        assert!(read(b" Undelivered Mail Returned to Sender").bounce);
        assert!(read(b" =?utf-8?q?Non_remis_=3A_facture?=").bounce);
        assert!(read(b" =?ISO-8859-1?Q?R=E9ponse_automatique?=").autoreply);
        assert!(read(b" Please confirm your message").challenge);
        assert!(read(b"complaint about message from 192.0.2.1").complaint);
        let fwd = read(b" Fwd: Delivery Status Notification (Failure)");
        assert!(fwd.forwarded && !fwd.bounce);
        assert_eq!(read(b" lunch on friday?"), Subject::default());
    }
}
