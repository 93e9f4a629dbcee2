//! The Courier mail server's bounces and delay notices (`NOTICE: mail delivery status.`):
//! "Your message to the following recipients cannot be delivered:" then `<address>:` blocks
//! with the remote host and the SMTP dialogue (`>>> DATA`, `<<< 550 …`).

use super::text::{colon_blocks, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Where the recipient blocks start: failed, then delayed.
const START: &[&str] = &[
    "your message to the following recipients cannot be delivered:",
    "your message to the following recipients has not been delivered yet",
    "has not been delivered to the following recipients",
];

/// Where the blocks end.
const END: &[&str] = &["if your message was also sent to additional recipients", "reporting-mta:"];

/// Recognises a Courier bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if !input.has(&["running the courier mail server", "courier mail server"]) || !input.has(START) {
        return None;
    }
    let delayed = input.has(&["has not been delivered yet", "delayed mail", "will keep trying"]);
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let recipients = colon_blocks(input.section(START, END)).iter().map(|(a, d)| recipient(a, d, action)).collect();
    Some(Bounce { mta: "courier", recipients, original_headers: None })
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn unknown_user_at_data_is_filtered() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/114.eml"), recognise).expect("Courier bounce");
        assert_eq!(b.mta, "courier");
        // "550 Unknown user" in reply to DATA: the content was refused (Sisimai: filtered).
        assert_eq!(summary(&b), [("kijitora@example.jp".to_string(), Some(Reason::Filtered))]);
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
    }
}
