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

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn two_unknown_users_with_returned_headers() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).expect("exim bounce");
        assert_eq!(b.mta, "exim");
        assert_eq!(
            summary(&b),
            [
                ("kijitora@example.jp".to_string(), Some(Reason::UserUnknown)),
                ("sabatora@example.jp".to_string(), Some(Reason::UserUnknown)),
            ]
        );
        let first = &b.recipients[0];
        assert_eq!(first.status.as_deref(), Some("5.1.1"));
        assert_eq!(first.remote_mta.as_deref(), Some("mx.example.jp"));
        let headers = String::from_utf8_lossy(b.original_headers.as_deref().unwrap_or_default()).into_owned();
        assert!(headers.contains("Message-Id: <E1X58pB-0004bW-2s@marutamachi.example.org>"), "{headers}");
    }

    #[test]
    fn retry_timeout_is_expired() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/101.eml"), recognise).expect("exim bounce");
        assert_eq!(summary(&b), [("kijitora@example.com".to_string(), Some(Reason::Expired))]);
    }

    #[test]
    fn derivatives_mailru_mxlogic_gmx() {
        for (raw, addr, reason) in [
            (&include_bytes!("../../../tests/fixtures/ndr/120.eml")[..], "kijitora@example.jp", Reason::UserUnknown),
            (&include_bytes!("../../../tests/fixtures/ndr/121.eml")[..], "kijitora@example.jp", Reason::UserUnknown),
            (&include_bytes!("../../../tests/fixtures/ndr/122.eml")[..], "shironeko@example.jp", Reason::MailboxFull),
        ] {
            let b = run(raw, recognise).expect("exim-style bounce");
            assert_eq!(summary(&b), [(addr.to_string(), Some(reason))]);
        }
    }

    #[test]
    fn delay_warning_is_delayed_and_greylisted() {
        // Exim 4 `warn_message_file` default text.
        let mail = "From: Mail Delivery System <Mailer-Daemon@mail.example.com>\r\n\
            To: alice@example.org\r\n\
            Subject: Warning: message 1Rc1Pu-0006ZJ-6n delayed 24 hours\r\n\r\n\
            This message was created automatically by mail delivery software.\r\n\
            A message that you sent has not yet been delivered to one or more of its\r\n\
            recipients after more than 24 hours on the queue on mail.example.com.\r\n\r\n\
            The message identifier is:     1Rc1Pu-0006ZJ-6n\r\n\r\n\
            The address to which the message has not yet been delivered is:\r\n\r\n\
            \x20 user@example.com\r\n\
            \x20   Delay reason: SMTP error from remote mail server after RCPT TO:<user@example.com>:\r\n\
            \x20   host mx.example.com [192.0.2.4]: 451 4.7.1 Greylisting in action, please come back later\r\n\r\n\
            No action is required on your part. Delivery attempts will continue for\r\n\
            some time.\r\n";
        let b = run(mail.as_bytes(), recognise).expect("exim delay warning");
        assert_eq!(summary(&b), [("user@example.com".to_string(), Some(Reason::Greylisted))]);
        assert_eq!(b.recipients[0].action, Some(crate::classify::Action::Delayed));
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/103.eml"), recognise).is_none());
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/109.eml"), recognise).is_none());
    }
}
