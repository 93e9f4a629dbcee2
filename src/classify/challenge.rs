//! Challenge-response requests ("please confirm you sent this"): sender-verification systems
//! such as TMDA, ChoiceMail, Spam Arrest, Mailblocks, Boxbe, Qurb, Bluebottle and Sendio answer
//! every unknown sender — including forged ones, which makes them backscatter.

use super::autoreply::Detection;
use super::signals::{first_hit, Signals};
use super::Kind;

/// Domains (and product names) of challenge-response services, matched in the sender addresses
/// and the first lines of the body.
const VENDORS: &[&str] = &[
    "spamarrest.com",
    "spam arrest",
    "mailblocks.com",
    "mailblocks",
    "boxbe.com",
    "boxbe",
    "choicemail",
    "digiportal.com",
    "qurb.com",
    "qurb",
    "bluebottle.com",
    "sendio.com",
    "knowspam.net",
];

/// Subject words of challenges (TMDA "Please confirm your message", Spam Arrest "verification",
/// Boxbe "guest list"…). Replies are not excluded: many challenges are sent as "Re: <subject>".
const SUBJECT_WORDS: &[&str] = &[
    "please confirm",
    "confirm your message",
    "confirmation required",
    "confirmation request",
    "verification",
    "verify your",
    "please verify",
    "sender verification",
    "authorization request",
    "authentication request",
    "approval request",
    "guest list",
    "waiting list",
    "pending message",
    "message is pending",
    "challenge",
    "spam protection",
    "bestätigung",
    "bestätigen",
    "vérification",
    "verificación",
    "verifica",
];

/// Sentences of a challenge (first lines of the body).
const BODY: &[&str] = &[
    "please confirm that you sent",
    "confirm that you sent",
    "verify that you sent",
    "confirm that your message",
    "confirm that you are a human",
    "confirm that you are a real person",
    "confirm you are a human",
    "confirm you are a real person",
    "verify that you are a human",
    "verify that you are a real person",
    "verify you are a human",
    "prove that you are a human",
    "prove that you are human",
    "prove you are a human",
    "prove you are human",
    "not a spam robot",
    "not an automated spam",
    "protecting myself from receiving junk mail",
    "challenge-response",
    "challenge/response",
    "approved senders list",
    "approved sender list",
    "list of approved senders",
    "my guest list",
    "pending verification",
    "awaiting verification",
    "held pending",
    "your message has been held",
    "your email has been held",
    "your message is being held",
    "click the link below to verify",
    "click on the link below to verify",
    "click the link below to confirm",
    "click on the link below to confirm",
    "reply to this message to confirm",
    "simply reply to this message",
    "i use a spam filter",
    "i am using a spam filter",
    "sender verification",
    // ChoiceMail: "please fill out a short registration form".
    "short registration form",
    "bestätigen sie, dass sie",
    "confirmer que vous",
];

/// Challenge or not.
pub(crate) fn detect(s: &Signals<'_>) -> Option<Detection> {
    let subject = first_hit("subject", s.subject_unlisted(), SUBJECT_WORDS);
    let body = first_hit("body", &s.body_top, BODY);
    // TMDA: `X-Delivery-Agent: TMDA/1.1.12 (Ph3nix)` is also on ordinary mail its users send
    // (59 such messages in the SpamAssassin ham), so it needs a confirmation request beside it:
    // the subject, or the `-confirm-` reply address TMDA issues.
    if s.header("X-Delivery-Agent").is_some_and(|v| v.to_ascii_lowercase().starts_with("tmda")) {
        let confirm_address = s.addresses.iter().any(|a| a.contains("-confirm-") || a.contains("-confirm+"));
        if confirm_address || s.subject.contains("confirm") || body.is_some() {
            return Some(Detection::new(Kind::Challenge, "X-Delivery-Agent: TMDA + confirm"));
        }
    }
    let vendor = s
        .addresses
        .iter()
        .find_map(|a| VENDORS.iter().find(|v| a.contains(*v)))
        .map(|v| format!("from:{v}"))
        .or_else(|| first_hit("body", &s.body_top, VENDORS));
    let second = subject.clone().or_else(|| body.clone());
    if let (Some(vendor), Some(second)) = (vendor, second) {
        return Some(Detection::new(Kind::Challenge, format!("{vendor} + {second}")));
    }
    // Generic: a challenge sentence plus an automation header, or plus a challenge subject that
    // is not a person's reply ("Re: spam filters" threads discuss challenge-response).
    let body = body?;
    let second = s.automated.clone().or_else(|| subject.filter(|_| !s.subject_is_reply))?;
    Some(Detection::new(Kind::Challenge, format!("{second} + {body}")))
}

#[cfg(test)]
mod tests {
    use crate::classify::autoreply::detect;
    use crate::classify::Kind;
    use mail_parser::MessageParser;

    fn kind(raw: &str) -> Option<Kind> {
        detect(&MessageParser::default().parse(raw.as_bytes()).expect("parses")).map(|d| d.kind)
    }

    #[test]
    fn tmda_needs_a_confirmation_request() {
        let user_mail = "From: jason@x.example\nX-Delivery-Agent: TMDA/0.57\nSubject: Re: Sorting\n\nAgreed.\n";
        assert_eq!(kind(user_mail), None);
        let challenge = "From: jason-confirm-1019504637.25434.3a8aa1@x.example\nX-Delivery-Agent: TMDA/1.1.12\n\
                         Subject: Please confirm your message\n\nThis message was created automatically.\n";
        assert_eq!(kind(challenge), Some(Kind::Challenge));
    }

    #[test]
    fn vendor_with_a_challenge_sentence() {
        let raw = "From: Spam Arrest <bob@spamarrest.com>\nSubject: Re: lunch [verification]\n\n\
                   I'm protecting myself from receiving junk mail. Please click the link below to verify.\n";
        assert_eq!(kind(raw), Some(Kind::Challenge));
        let name_only = "From: a@x.example\nSubject: Re: lunch\n\nWe switched to Boxbe last week.\n";
        assert_eq!(kind(name_only), None);
    }

    #[test]
    fn generic_challenge_needs_subject_or_automation() {
        let raw = "Return-Path: <>\nFrom: a@x.example\nSubject: Re: lunch\n\n\
                   Your message is being held. Please confirm that you sent it by replying.\n";
        assert_eq!(kind(raw), Some(Kind::Challenge));
        let discussion = "From: a@x.example\nSubject: Re: spam filters\n\n\
                          With challenge-response the sender has to click a link.\n";
        assert_eq!(kind(discussion), None);
    }
}
