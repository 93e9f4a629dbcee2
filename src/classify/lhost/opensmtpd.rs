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
