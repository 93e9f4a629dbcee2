//! Exim's bounce and delay warnings (`Mail delivery failed: returning message to sender`,
//! `Warning: message … delayed …`), and the variants that keep Exim's text under their own
//! header (Mail.ru, MXLogic/McAfee).
//!
//! Format (Exim 4 `exim_bounce_message`): a preamble, `The following address(es) failed:`, then
//! per recipient an address line indented two spaces followed by more-indented diagnostic lines,
//! then `------ This is a copy of the message, including all the headers. ------`.

use super::text::{address_blocks, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Where the failed addresses start (bounce, then delay warning).
const START: &[&str] = &[
    "the following address(es) failed:",
    "following address(es) failed",
    "could not be delivered to one or more of its\nrecipients. the following address(es) failed:",
    "the address to which the message has not yet been delivered is:",
    "the addresses to which the message has not yet been delivered are:",
    "could not be delivered to one or more of its recipients",
];

/// Where the report ends and the returned message (or Exim's closing advice) begins.
const END: &[&str] = &[
    "------ this is a copy of the message",
    "------ the body of the message is",
    "------ this is a copy of the body of the message",
    "no action is required on your part",
    "if you need to",
    "rcpt_to:", // never in Exim's own text; guards a runaway section
];

/// The original's markers (Exim 4 and older `------ This is a copy of the message …`).
const ORIGINAL: &[&str] =
    &["------ this is a copy of the message, including all the headers.", "------ this is a copy of the message"];

/// Lines inside a diagnostic block that are Exim's prose, not the remote server's words.
const STOP: &[&str] = &["------", "this message was created automatically", "**************"];

/// Recognises an Exim bounce or delay warning.
pub fn recognise(input: &Input) -> Option<Bounce> {
    let fingerprint = input.subject.starts_with("mail delivery failed")
        || input.subject.starts_with("warning: message")
        || input.subject.contains("mail failure")
        || input.has(&["this message was created automatically by mail delivery software"]);
    if !fingerprint || !input.has(&["address(es) failed", "has not yet been delivered", "could not be delivered"]) {
        return None;
    }
    let delayed = input.subject.starts_with("warning:") || input.has(&["has not yet been delivered"]);
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let section = input.section(START, END);
    let mut recipients: Vec<_> =
        address_blocks(section, STOP).iter().map(|(addr, diag)| recipient(addr, diag, action)).collect();
    if recipients.is_empty() {
        recipients = input.failed.iter().map(|a| recipient(a, "", action)).collect();
    }
    Some(Bounce { mta: "exim", recipients, original_headers: input.original_after(ORIGINAL) })
}
