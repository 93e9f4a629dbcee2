//! OpenSMTPD's bounces and delay warnings (`Delivery status notification: error|delay`):
//! "This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail." … "the following list of
//! recipients:" then one `address: reason` line each, then "Below is a copy of the original
//! message:" (OpenSMTPD `bounce.c`).

use super::text::{colon_blocks, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Where the recipient lines start.
const START: &[&str] = &["the following list of recipients:"];

/// The returned message follows one of these.
const ORIGINAL: &[&str] = &["below is a copy of the original message:", "below is a copy of the original message"];

/// Recognises an OpenSMTPD bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if !input.has(&["this is the mailer-daemon, please do not reply"]) || !input.has(START) {
        return None;
    }
    // bounce.c: "An error has occurred…" (failure) vs "A message is delayed…" (delay).
    let delayed = input.has(&["delayed for more than", "message is delayed"]) || input.subject.contains("delay");
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let recipients =
        colon_blocks(input.section(START, ORIGINAL)).iter().map(|(a, d)| recipient(a, d, action)).collect();
    Some(Bounce { mta: "opensmtpd", recipients, original_headers: input.original_after(ORIGINAL) })
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn envelope_expired() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/116.eml"), recognise).expect("OpenSMTPD bounce");
        assert_eq!(b.mta, "opensmtpd");
        assert_eq!(summary(&b), [("kijitora@mail.example.co.jp".to_string(), Some(Reason::Expired))]);
        assert!(b.original_headers.is_some());
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
    }
}
