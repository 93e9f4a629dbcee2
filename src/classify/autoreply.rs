//! Auto-replies (RFC 3834 and vendor forms), challenge-response requests and virus notices:
//! the signals that need more than the header fast path. [`detect`] runs on a parsed candidate;
//! [`body_hint`] is the cheap raw-body test the fast path uses to pick candidates.
//!
//! Rule of thumb, because 0 false positives on ordinary mail is the bar: a header that only a
//! machine writes (`Auto-Submitted: auto-replied`, `X-Autoreply`, `X-Apple-Action: vacation`, …)
//! decides alone; a phrase ("out of the office") decides only together with a second, independent
//! signal (an OOO subject, an automation header, or a sentence saying the mail is automatic).

use mail_parser::Message;

pub use super::bodyhint::body_hint;
use super::signals::{contains_any, first_hit, Signals};
use super::{challenge, virus, Kind};

/// A machine-written reply and what gave it away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// `AutoReply`, `AutoNotice`, `Challenge` or `VirusNotice`.
    pub kind: Kind,
    /// The signal(s) that decided, e.g. `Auto-Submitted: auto-replied` or
    /// `subject:out of the office + body:i will be out of the office`.
    pub evidence: String,
}

impl Detection {
    pub(crate) fn new(kind: Kind, evidence: impl Into<String>) -> Self {
        Detection { kind, evidence: evidence.into() }
    }
}

/// Looks for auto-reply, challenge-response and virus-notice signals in a parsed message.
///
/// Only the top-level headers and the start of the first text part are read: a returned or
/// quoted original further down is someone else's mail. Virus notices and challenges are tested
/// first because they are the more specific kinds (both often carry `Auto-Submitted` too).
pub fn detect(message: &Message<'_>) -> Option<Detection> {
    let signals = Signals::new(message);
    virus::detect(&signals).or_else(|| challenge::detect(&signals)).or_else(|| detect_autoreply(&signals))
}

/// Vendor headers that only auto-responders write; each decides alone (value not `no`).
/// `X-Autoreply: yes` (Yandex, Mail.ru, Rambler and many hosting panels), `X-Autorespond`
/// (cPanel/Exim autoresponder), `X-Mail-Autoreply` and `X-Autoreply-From` (hosting panels).
const AUTOREPLY_HEADERS: &[&str] = &["X-Autoreply", "X-Autorespond", "X-Mail-Autoreply", "X-Autoreply-From"];

/// Subject prefixes that auto-responders put before the original subject: Microsoft Exchange /
/// Outlook "Automatic reply:" in its localisations, Apple "Auto reply:", and the generic forms.
/// Matched at the start of the subject (after any `[list]` tag), lowercased.
const SUBJECT_PREFIXES: &[&str] = &[
    "automatic reply",
    "auto reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "automated reply",
    "automated response",
    // Outlook 2003 / Exchange 2003 OOF.
    "out of office autoreply",
    "out of office reply",
    "out of office",
    "out of the office",
    "abwesenheitsnotiz",
    "automatische antwort",
    // French Outlook OOF: "Réponse automatique d'absence du bureau : …".
    "réponse automatique d'absence du bureau",
    "réponse automatique",
    "reponse automatique",
    "respuesta automática",
    "respuesta automatica",
    "risposta automatica",
    "automatisch antwoord",
    "resposta automática",
    "resposta automatica",
    "automatyczna odpowiedź",
    "automatiskt svar",
    "autosvar",
    "automaattinen vastaus",
    "automatická odpověď",
    "automatikus válasz",
    "автоматический ответ",
    "автоответ",
    "自動応答",
    "自動返信",
    "自动回复",
    "자동 회신",
];

/// Out-of-office wording in a subject ("Dermot Beirne is out of the office." from Lotus Notes,
/// "ist außer Haus" from German Notes, …). Weak: needs a body phrase or automation header.
const SUBJECT_OOO: &[&str] = &[
    "out of the office",
    "out of office",
    "out-of-office",
    "on vacation",
    "on holiday",
    "on leave",
    "away from the office",
    "vacation reply",
    "vacation notice",
    "ist außer haus",
    "ist ausser haus",
    "abwesend",
    "abwesenheit",
    "est absent",
    "absence du bureau",
    "fuera de la oficina",
    "fuori ufficio",
    "fuori sede",
    "afwezig",
    "fora do escritório",
    "ausente",
    "poza biurem",
    "nieobecn",
    "frånvarande",
    "不在",
    "休暇",
];

/// Sentences by which an auto-responder says it is one (first lines of the body). Decide alone:
/// a person does not call their own mail an automated reply.
const BODY_AUTOMATIC: &[&str] = &[
    "this is an automated response",
    "this is an automated reply",
    "this is an automatic reply",
    "this is an automatic response",
    "this is an auto-reply",
    "this is an auto reply",
    "this is an autoreply",
    "this is an auto-response",
    "this is an autoresponse",
    "this is an automatically generated reply",
    "this is an automatically generated response",
    "this message is an automatic reply",
    "this is an automated message in response",
    "automatically generated by the 'vacation' program",
    "automatically generated by the vacation program",
    "dies ist eine automatische antwort",
    "dies ist eine automatisch generierte antwort",
    "ceci est une réponse automatique",
    "ceci est un message automatique",
    "esta es una respuesta automática",
    "este es un mensaje automático",
    "questa è una risposta automatica",
    "questo è un messaggio automatico",
    "dit is een automatisch antwoord",
    "dit is een automatisch gegenereerd bericht",
    "esta é uma resposta automática",
    "to jest automatyczna odpowiedź",
    "detta är ett automatiskt svar",
    "dette er et automatisk svar",
    "このメールは自動返信",
    "自動応答メッセージ",
    "自動返信メール",
];

/// Out-of-office sentences (first lines of the body). Weak: need a second signal.
const BODY_OOO: &[&str] = &[
    "i will be out of the office",
    "i am out of the office",
    "i'm out of the office",
    "i am currently out of the office",
    "i'm currently out of the office",
    "i will be out of office",
    "i am out of office",
    "i'm out of office",
    "i am currently out of office",
    "i am away from the office",
    "i am currently away",
    "i'm currently away",
    "i am away until",
    "i'm away until",
    "i am on vacation",
    "i'm on vacation",
    "i am currently on vacation",
    "i will be on vacation",
    "i am on holiday",
    "i'm on holiday",
    "i am on leave",
    "i am currently on leave",
    "i will not be reading my mail",
    "limited access to email",
    "limited access to my email",
    "will not return until",
    "will be back in the office",
    "ich bin bis",
    "ich bin vom",
    "bin ich nicht im büro",
    "ich bin derzeit nicht im büro",
    "ich bin zurzeit nicht im büro",
    "ich bin im urlaub",
    "bin ich abwesend",
    "ich bin abwesend",
    "ich bin außer haus",
    "je suis absent",
    "je serai absent",
    "je suis actuellement absent",
    "je suis en congé",
    "estoy fuera de la oficina",
    "estaré fuera de la oficina",
    "estoy de vacaciones",
    "me encuentro fuera",
    "sono fuori ufficio",
    "sarò fuori ufficio",
    "sono in ferie",
    "sarò assente",
    "ik ben afwezig",
    "ben ik afwezig",
    "ik ben met vakantie",
    "ik ben niet aanwezig",
    "estou fora do escritório",
    "estarei ausente",
    "estou de férias",
    "jestem poza biurem",
    "jestem na urlopie",
    "nie ma mnie w biurze",
    "jag är på semester",
    "jag är ledig",
    "jag är tjänstledig",
    "jag är inte på kontoret",
    "不在にしております",
    "休暇を取っております",
];

/// RFC 3834 §5 and the vendor forms, in order of certainty.
fn detect_autoreply(s: &Signals<'_>) -> Option<Detection> {
    let subject_prefix = subject_prefix(s);
    // A subject with an OOO phrase counts only if nobody replied to or forwarded it: "Re: X is
    // out of the office" is a person talking about an auto-reply (corpus: easy_ham_2 00046).
    let subject_ooo = if s.subject_is_reply { None } else { first_hit("subject", &s.subject, SUBJECT_OOO) };
    let body_auto = first_hit("body", &s.body_top, BODY_AUTOMATIC);
    let body_ooo = first_hit("body", &s.body_top, BODY_OOO);
    let vacation = [&subject_prefix, &subject_ooo, &body_auto, &body_ooo].into_iter().find_map(Clone::clone);

    for name in AUTOREPLY_HEADERS {
        if let Some(value) = s.header(name) {
            if !is_negative(value) {
                return Some(Detection::new(Kind::AutoReply, format!("{name}: {value}")));
            }
        }
    }
    if s.precedence.as_deref() == Some("auto_reply") {
        return Some(Detection::new(Kind::AutoReply, "Precedence: auto_reply"));
    }
    // iCloud vacation replies: `X-Apple-Action: VACATION` (corpus: sisimai rfc3834-03).
    if s.header("X-Apple-Action").is_some_and(|v| v.eq_ignore_ascii_case("vacation")) {
        return Some(Detection::new(Kind::AutoReply, "X-Apple-Action: vacation"));
    }
    // `X-Autogenerated: Reply` (Yahoo!/Google Groups style).
    if s.header("X-Autogenerated").is_some_and(|v| v.eq_ignore_ascii_case("reply")) {
        return Some(Detection::new(Kind::AutoReply, "X-Autogenerated: reply"));
    }
    match s.auto_submitted.as_deref() {
        // RFC 3834 §5.2: a reply made by an automatic responder (Sieve vacation, Dovecot, Zimbra,
        // Gmail, Exim and Postfix vacation scripts).
        Some("auto-replied") => return Some(Detection::new(Kind::AutoReply, "Auto-Submitted: auto-replied")),
        // RFC 3834 §5.1 / RFC 3798: generated, not a reply — unless the text says it is a
        // vacation reply (Exchange and Notes send OOO notices as auto-generated).
        Some(value @ ("auto-generated" | "auto-notified")) => {
            return Some(match vacation {
                Some(hit) => Detection::new(Kind::AutoReply, format!("Auto-Submitted: {value} + {hit}")),
                None => Detection::new(Kind::AutoNotice, format!("Auto-Submitted: {value}")),
            });
        }
        _ => {}
    }
    // `Auto-Submitted: no` declares a person wrote it (RFC 3834 §5): phrases may not overrule that.
    if s.auto_submitted.as_deref() == Some("no") {
        return None;
    }
    if let Some(hit) = subject_prefix {
        return Some(Detection::new(Kind::AutoReply, hit));
    }
    if let Some(hit) = body_auto {
        return Some(Detection::new(Kind::AutoReply, hit));
    }
    let body_ooo = body_ooo?;
    let second = subject_ooo.or_else(|| s.automated.clone())?;
    Some(Detection::new(Kind::AutoReply, format!("{second} + {body_ooo}")))
}

/// An auto-responder's subject prefix ("Automatic reply: …"), with Lotus Notes' bare "AUTO:" only
/// when an OOO phrase follows it in the subject.
fn subject_prefix(s: &Signals<'_>) -> Option<String> {
    let subject = s.subject_unlisted();
    for prefix in SUBJECT_PREFIXES {
        if let Some(rest) = subject.strip_prefix(prefix) {
            let rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with(':') || rest.starts_with('-') || rest.starts_with('：') {
                return Some(format!("subject:{prefix}"));
            }
        }
    }
    // Lotus Notes: "AUTO: Jane Doe is out of the office (returning 02/01/2003)".
    let rest = subject.strip_prefix("auto:")?;
    contains_any(rest, SUBJECT_OOO).then(|| "subject:auto: out of the office".to_string())
}

/// Header values that switch a vendor flag off rather than on.
fn is_negative(value: &str) -> bool {
    ["no", "false", "0", "off"].iter().any(|n| value.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn run(raw: &str) -> Option<Detection> {
        let message = MessageParser::default().parse(raw.as_bytes()).expect("parses");
        detect(&message)
    }

    fn kind(raw: &str) -> Option<Kind> {
        run(raw).map(|d| d.kind)
    }

    const PLAIN: &str = "From: a@example.com\nTo: b@example.org\nSubject: lunch\n\nSee you at noon.\n";

    #[test]
    fn ordinary_mail_is_nothing() {
        assert_eq!(run(PLAIN), None);
    }

    #[test]
    fn auto_submitted_values() {
        let replied = "From: a@x.example\nAuto-Submitted: auto-replied (vacation)\nSubject: Re: hi\n\nAway.\n";
        assert_eq!(run(replied).map(|d| d.evidence), Some("Auto-Submitted: auto-replied".into()));
        let generated = "From: a@x.example\nAuto-Submitted: Auto-Generated; owner=x\nSubject: Report\n\nDone.\n";
        assert_eq!(kind(generated), Some(Kind::AutoNotice));
        let notified = "From: a@x.example\nAuto-Submitted: auto-notified\nSubject: Report\n\nDone.\n";
        assert_eq!(kind(notified), Some(Kind::AutoNotice));
        let no = "From: a@x.example\nAuto-Submitted: no\nSubject: Re: hi\n\nThis is an automated response.\n";
        assert_eq!(run(no), None);
    }

    #[test]
    fn auto_generated_with_vacation_text_is_a_reply() {
        let raw = "From: a@x.example\nAuto-Submitted: auto-generated\nSubject: Out of Office: lunch\n\nBack soon.\n";
        let d = run(raw).expect("detected");
        assert_eq!(d.kind, Kind::AutoReply);
        assert_eq!(d.evidence, "Auto-Submitted: auto-generated + subject:out of office");
    }

    #[test]
    fn vendor_headers() {
        for header in [
            "X-Autoreply: yes",
            "X-Autorespond: on",
            "Precedence: auto_reply",
            "X-Apple-Action: VACATION",
            "X-Autogenerated: Reply",
            "X-Mail-Autoreply: 1",
        ] {
            let raw = format!("From: a@x.example\n{header}\nSubject: Re: lunch\n\nHello.\n");
            assert_eq!(kind(&raw), Some(Kind::AutoReply), "{header}");
        }
        let off = "From: a@x.example\nX-Autoreply: no\nSubject: Re: lunch\n\nHello.\n";
        assert_eq!(run(off), None);
    }

    #[test]
    fn auto_response_suppress_alone_is_not_enough() {
        let raw = "From: a@x.example\nX-Auto-Response-Suppress: All\nThread-Topic: lunch\nSubject: lunch\n\nHi.\n";
        assert_eq!(run(raw), None);
        // … but it counts as the second signal beside an OOO sentence (Exchange OOF).
        let oof = "From: a@x.example\nX-Auto-Response-Suppress: All\nSubject: Re: lunch\n\n\
                   I am out of the office until Monday.\n";
        assert_eq!(kind(oof), Some(Kind::AutoReply));
    }

    #[test]
    fn subject_prefixes_in_several_languages() {
        for subject in [
            "Automatic reply: lunch",
            "Automatische Antwort: Mittag",
            "=?utf-8?q?R=C3=A9ponse_automatique_=3A_d=C3=A9jeuner?=",
            "Respuesta automática: almuerzo",
            "Automatisch antwoord: lunch",
            "[team] Auto reply: lunch",
            "Out of Office AutoReply: lunch",
            "Réponse automatique d'absence du bureau : déjeuner",
            "AUTO: Jane Doe is out of the office (returning 02/01/2003)",
            "=?utf-8?b?6Ieq5YuV5b+c562UOiDjg6njg7Pjg4E=?=",
        ] {
            let raw = format!("From: a@x.example\nSubject: {subject}\n\nHello.\n");
            assert_eq!(kind(&raw), Some(Kind::AutoReply), "{subject}");
        }
        // "Auto" is German for car: a bare "Auto:" is not a prefix.
        assert_eq!(run("From: a@x.example\nSubject: Auto: neuer Kombi\n\nHallo.\n"), None);
        // A prefix word inside a sentence is not a prefix.
        assert_eq!(run("From: a@x.example\nSubject: Re: autoreply loops\n\nHello.\n"), None);
    }

    #[test]
    fn ooo_phrases_need_a_second_signal() {
        let alone = "From: a@x.example\nSubject: Re: lunch\n\nI am on vacation until Monday, so later.\n";
        assert_eq!(run(alone), None);
        let with_subject = "From: a@x.example\nSubject: Jane is out of the office.\n\n\
                            I will be out of the office starting 02/08/2002.\n";
        assert_eq!(kind(with_subject), Some(Kind::AutoReply));
        let with_null_sender = "Return-Path: <>\nFrom: a@x.example\nSubject: Re: lunch\n\n\
                                Ich bin bis 3. Mai nicht im Büro.\n";
        assert_eq!(kind(with_null_sender), Some(Kind::AutoReply));
        // A reply about someone's OOO is a person talking.
        let reply = "From: a@x.example\nSubject: Re: [list] Jane is out of the office.\n\n\
                     I will be out of the office too, haha.\n";
        assert_eq!(run(reply), None);
    }

    #[test]
    fn automatic_sentence_decides_alone() {
        let raw = "From: a@x.example\nSubject: Re: a@x.example\n\n\
                   This is an automated response to a message you have sent.\n";
        let d = run(raw).expect("detected");
        assert_eq!(d.kind, Kind::AutoReply);
        assert_eq!(d.evidence, "body:this is an automated response");
    }

    #[test]
    fn quoted_text_does_not_count() {
        let raw = "From: a@x.example\nSubject: Re: lunch\n\nFunny:\n> This is an automated response.\n\
                   > I am out of the office.\n";
        assert_eq!(run(raw), None);
    }
}
