//! Subject dictionaries for the header fast path: the words bounces, auto-replies and
//! challenge-response requests put in their subjects, in many languages. Weak signals: they
//! count only beside another one (DESIGN §5).

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

/// A subject that starts with a forward prefix ("Fwd:", "WG:", …), ASCII case-insensitively.
pub fn is_forward(value: &[u8]) -> bool {
    let v = value.trim_ascii();
    FORWARD_PREFIXES.iter().any(|p| v.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes())))
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
    "niedostarczalna",
    "недоставлено",
    "не доставлено",
    "配信不能",
    "未送達",
    "無法傳遞",
    "无法投递",
    "전달되지 않음",
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

/// What a Subject value says. Only decodes when an RFC 2047 encoded word is present.
pub fn read(value: &[u8]) -> Subject {
    let mut s = Subject::default();
    let text = String::from_utf8_lossy(value.trim_ascii());
    let decoded = if text.contains("=?") { decode_words(&text) } else { text.into_owned() };
    let lower = decoded.to_lowercase();
    s.complaint = lower.contains("complaint about message from");
    let bounce = BOUNCE_SUBJECTS.iter().any(|p| lower.contains(p));
    let forwarded = FORWARD_PREFIXES.iter().any(|p| lower.trim_start().starts_with(p));
    if bounce && forwarded {
        s.forwarded = true;
    } else if bounce {
        s.bounce = true;
    }
    if AUTOREPLY_SUBJECTS.iter().any(|p| lower.contains(p)) {
        s.autoreply = true;
    }
    if CHALLENGE_SUBJECTS.iter().any(|p| lower.contains(p)) {
        s.challenge = true;
    }
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

    #[test]
    fn forward_prefixes() {
        assert!(is_forward(b" FWD: x"));
        assert!(is_forward(b" WG: Unzustellbar"));
        assert!(!is_forward(b" Re: x"));
        assert!(!is_forward(b""));
    }
}
