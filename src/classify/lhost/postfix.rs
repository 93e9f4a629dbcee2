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
