//! Postfix bounces read from their text part (`This is the mail system at host …` /
//! older `This is the Postfix program at host …`), for when the delivery-status part is
//! missing or unusable: one `<address>: diagnostic` paragraph per recipient (Postfix
//! `bounce(8)` templates), then the returned message as an attachment or after
//! `--- Undelivered message headers follow ---`.

use super::text::{colon_blocks, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Postfix's own opening sentences (bounce(8) default templates, Postfix ≥ 2.3 and older).
const FINGERPRINT: &[&str] = &["this is the mail system at host", "this is the postfix program at host"];

/// Where the per-recipient paragraphs end.
const END: &[&str] = &[
    "--- delivery report unavailable ---",
    "--- undelivered message headers follow ---",
    "--- undelivered message follows ---",
    "reporting-mta:",
];

/// The returned headers follow these (Postfix `bounce_notice_recipient` / `-- Undelivered`).
const ORIGINAL: &[&str] = &["--- undelivered message headers follow ---", "--- undelivered message follows ---"];

/// Recognises a Postfix bounce or delay notice from its text.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if !input.has(FINGERPRINT) {
        return None;
    }
    // bounce(8) delay template: "… could not be delivered. It will be retried until it is N
    // days old."; failure template: "… could not be delivered to one or more recipients".
    let delayed = input.has(&["will be retried until", "delayed mail", "delivery status notification (delay)"])
        || input.subject.contains("delayed mail");
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let section = input.section(FINGERPRINT, END);
    let recipients = colon_blocks(section).iter().map(|(a, d)| recipient(a, d, action)).collect();
    Some(Bounce { mta: "postfix", recipients, original_headers: input.original_after(ORIGINAL) })
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn reads_the_text_part() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/102.eml"), recognise).expect("postfix bounce");
        assert_eq!(b.mta, "postfix");
        assert_eq!(summary(&b), [("kijitora@example.co.jp".to_string(), Some(Reason::UserUnknown))]);
        assert_eq!(b.recipients[0].status.as_deref(), Some("5.1.1"));
    }

    #[test]
    fn delay_notice_is_delayed() {
        // Postfix bounce(8) default delay template.
        let mail = "From: MAILER-DAEMON@mail.example.com (Mail Delivery System)\r\n\
            To: alice@example.org\r\n\
            Subject: Delayed Mail (still being retried)\r\n\r\n\
            This is the mail system at host mail.example.com.\r\n\r\n\
            # THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\r\n\r\n\
            Your message could not be delivered for more than 4 hour(s).\r\n\
            It will be retried until it is 5 day(s) old.\r\n\r\n\
            <bob@example.net>: connect to mx.example.net[192.0.2.9]:25: Connection timed\r\n\
            \x20   out\r\n";
        let b = run(mail.as_bytes(), recognise).expect("postfix delay notice");
        assert_eq!(b.recipients.len(), 1);
        assert_eq!(b.recipients[0].address, "bob@example.net");
        assert_eq!(b.recipients[0].action, Some(crate::classify::Action::Delayed));
        assert_eq!(b.recipients[0].reason, Some(Reason::Expired));
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
    }
}
