//! Exim's bounce and delay warnings (`Mail delivery failed: returning message to sender`,
//! `Warning: message … delayed …`), and the variants that keep Exim's text under their own
//! header (Mail.ru, MXLogic/McAfee).
//!
//! Format (Exim 4 `exim_bounce_message`): a preamble, `The following address(es) failed:`, then
//! per recipient an address line indented two spaces followed by more-indented diagnostic lines,
//! then `------ This is a copy of the message, including all the headers. ------`.

use super::generic::HEADER_START;
use super::text::{address_in, address_line, colon_start, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Where the failed addresses start (bounce, then delay warning).
const START: &[&str] = &[
    "the following address(es) failed:",
    "following address(es) failed",
    "the following address failed:",
    "the following address\nfailed:",
    "the following address failed:",
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

/// Exim's recipient blocks: a line indented two spaces names the recipient (an address, a bare
/// local part, "save to …", "pipe to |…"), the more indented lines under it are its
/// diagnostic. Derivatives vary: MXLogic puts `<addr>: reason` on one line, Zoho `addr reason`,
/// GMX and 1&1 leave the diagnostic unindented. A returned header line ends the list.
fn blocks(section: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in section.lines() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let lower = trimmed.to_ascii_lowercase();
        if indent == 0 && !out.is_empty() && HEADER_START.iter().any(|h| lower.starts_with(h)) {
            break;
        }
        let first_word = trimmed.split_whitespace().next().unwrap_or_default();
        if let Some((addr, rest)) = colon_start(trimmed) {
            out.push((addr, format!("{rest}\n")));
        } else if let Some(addr) = address_line(trimmed) {
            out.push((addr, String::new()));
        } else if indent == 2 && (lower.starts_with("pipe to |") || lower.starts_with("save to ")) {
            // A local delivery failed: the line itself says what (mailer error).
            out.push((trimmed.to_string(), format!("{trimmed}\n")));
        } else if indent == 2 && trimmed.split_whitespace().count() <= 4 && !trimmed.ends_with('.') {
            out.push((trimmed.to_string(), String::new()));
        } else if let (0, Some(addr)) = (indent, address_line(first_word)) {
            out.push((addr, trimmed.get(first_word.len()..).unwrap_or_default().to_string()));
        } else if let Some((_, diag)) = out.last_mut() {
            diag.push_str(trimmed);
            diag.push('\n');
        }
    }
    out
}

/// Recognises an Exim bounce or delay warning.
pub fn recognise(input: &Input) -> Option<Bounce> {
    let fingerprint = input.subject.starts_with("mail delivery failed")
        || input.subject.starts_with("warning: message")
        || input.subject.contains("mail failure")
        || input.has(&["this message was created automatically by mail delivery software", "address(es) failed:"]);
    if !fingerprint || !input.has(&["address(es) failed", "has not yet been delivered", "could not be delivered"]) {
        return None;
    }
    let delayed = input.subject.starts_with("warning:") || input.has(&["has not yet been delivered"]);
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let section = input.section(START, END);
    let recipients = blocks(section)
        .iter()
        .enumerate()
        .map(|(n, (line, diag))| {
            // Exim names local deliveries by what failed ("save to …", "pipe to |…", a bare
            // local part); X-Failed-Recipients then holds the address, in the same order.
            let addr = address_in(line).or_else(|| input.failed.get(n).cloned()).unwrap_or_else(|| line.clone());
            recipient(&addr, diag, action)
        })
        .collect();
    Some(Bounce { mta: "exim", recipients, original_headers: input.original_after(ORIGINAL) })
}
