//! The fallback for bounces no recogniser knows: failed addresses near SMTP reply codes,
//! enhanced status codes (RFC 3463) or bounce phrases, in a message whose sender already looks
//! like a bounce daemon.

use super::text::{addresses_in, recipient, reply_code_in, status_in, Input, DELAY};
use super::Bounce;
use crate::classify::Action;

/// Markers after which the returned original follows (many MTAs; lowercase).
pub const ORIGINAL: &[&str] = &[
    "------ this is a copy of the message",
    "--- below this line is a copy of the message",
    "----- original message -----",
    "----- unsent message follows -----",
    "----- original message follows -----",
    "----- message header follows -----",
    "original message follows",
    "original message header",
    "message headers follow",
    "-----original message-----",
    "------ original message ------",
    "--- original message ---",
    "original message text follows",
    "----- the header of the original message is following. -----",
    "header of the original message",
    "included is a copy of the message header",
    "the original message headers",
    "------ original message header",
    "original message header follows",
];

/// Words that introduce a help or contact address in a bounce's prose (lowercase).
const HELP: &[&str] = &["contact", "assistance", "questions", "send mail to", "write to", "help desk", "helpdesk"];

/// Header names that begin a returned header block when no marker announces it.
pub const HEADER_START: &[&str] =
    &["received:", "return-path:", "message-id:", "dkim-signature:", "authentication-results:", "x-received:"];

/// Sentences that say "your message was not delivered" (lowercase).
const PHRASES: &[&str] = &[
    "could not be delivered",
    "couldn't be delivered",
    "undeliverable",
    "delivery failed",
    "delivery has failed",
    "delivery to the following",
    "failed permanently",
    "permanent error",
    "permanent fatal error",
    "was not delivered",
    "wasn't delivered",
    "not be delivered",
    "unable to deliver",
    "wasn't able to deliver",
    "was not able to deliver",
    "could not deliver",
    "not delivered to",
    "user unknown",
    "unknown user",
    "no such user",
    "does not exist",
    "returned mail",
    "message rejected",
    "delivery failure",
    "failed to deliver",
    "delivery problem",
    "mailbox unavailable",
    "mailbox full",
    "over quota",
];

/// Subjects of bounces (lowercase substrings), in the languages the corpus shows.
const SUBJECTS: &[&str] = &[
    "undeliver",
    "undelivered",
    "returned mail",
    "failure notice",
    "delivery fail",
    "delivery status notification",
    "mail delivery",
    "non-delivery",
    "nondeliver",
    "not delivered",
    "returned to sender",
    "delivery problem",
    "could not send",
    "rejected",
    // Apache James's default subject.
    "[bounce]",
    // German, French, Italian, Spanish, Portuguese, Dutch (Exchange and Sendmail translations).
    "unzustellbar",
    "nicht zustellbar",
    "non remis",
    "chec de la remise", // "Échec …": the subject is only ASCII-lowercased
    "non recapitabile",
    "no se puede entregar",
    "no entregado",
    "não entregue",
    "onbestelbaar",
    "niet bezorgd",
];

/// Whether a line carries a failure signal: a reply code, a status code or a bounce phrase.
fn signal(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    reply_code_in(s).is_some() || status_in(s).is_some() || PHRASES.iter().any(|p| lower.contains(p))
}

/// Recognises a bounce by shape alone. Demands a daemon-like sender (or `X-Failed-Recipients`)
/// and bounce wording — or, from any sender, a bounce subject that nobody replied to or
/// forwarded *and* bounce wording in the text (a bounce re-sent or copied under another
/// sender) — so person-written mail that quotes an error does not match.
pub fn recognise(input: &Input) -> Option<Bounce> {
    let sender = input.sent_by_daemon() || input.null_sender || !input.failed.is_empty();
    let bounce_subject = SUBJECTS.iter().any(|s| input.subject.contains(s));
    let wording = bounce_subject || input.has(PHRASES);
    let own_subject = bounce_subject && !replied(&input.subject) && input.has(PHRASES);
    if !(sender && wording || own_subject) {
        return None;
    }
    let report = input.section(&[], ORIGINAL);
    let report = unmarked_original(report).map_or(report, |i| report.get(..i).unwrap_or(report));
    let lines: Vec<&str> = report.lines().collect();
    let mut found: Vec<(String, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        // "For assistance, please contact <support@…>": a help address, not a failed one.
        let help = HELP.iter().any(|h| lower.contains(h));
        for addr in addresses_in(line) {
            if help
                || input.is_party(&addr)
                || daemon_address(&addr)
                || found.iter().any(|(a, _)| a.eq_ignore_ascii_case(&addr))
            {
                continue;
            }
            found.push((addr, context(input, &lines, i)));
        }
    }
    if !input.failed.is_empty() {
        found.retain(|(a, _)| input.failed.iter().any(|f| f.eq_ignore_ascii_case(a)));
        for f in &input.failed {
            if !found.iter().any(|(a, _)| a.eq_ignore_ascii_case(f)) {
                found.push((f.clone(), String::new()));
            }
        }
    }
    let with_signal: Vec<_> = found.iter().filter(|(_, d)| signal(d)).cloned().collect();
    let found = if with_signal.is_empty() {
        // The diagnostic stands apart from the addresses (or the MTA's words carry no code):
        // a short list of addresses in a daemon's bounce are its failed recipients, and the
        // first paragraph with a failure signal is added to their diagnostic.
        if found.is_empty() || input.failed.is_empty() && found.len() > 5 {
            return None;
        }
        match report.split("\n\n").find(|p| signal(p)) {
            Some(para) => found.into_iter().map(|(a, own)| (a, format!("{own}\n{para}"))).collect(),
            None => found,
        }
    } else {
        with_signal
    };
    let delayed = input.subject.contains("delay") || input.subject.starts_with("warning") || input.has(DELAY);
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let recipients = found.iter().map(|(a, d)| recipient(a, d, action)).collect();
    Some(Bounce { mta: super::GENERIC, recipients, original_headers: input.original_after(ORIGINAL) })
}

/// Whether a (lowercase) subject starts with a reply or forward prefix in one of the common
/// languages: a person is talking about a bounce.
fn replied(subject: &str) -> bool {
    const PREFIXES: [&str; 12] = ["re:", "re ", "aw:", "sv:", "fw:", "fwd:", "wg:", "tr:", "rv:", "vs:", "antw:", "r:"];
    let s = subject.trim_start();
    PREFIXES.iter().any(|p| s.starts_with(p))
}

/// Addresses of mail systems, which a bounce names as its sender, never as the failed recipient.
fn daemon_address(addr: &str) -> bool {
    let local = addr.split('@').next().unwrap_or_default().to_ascii_lowercase();
    matches!(
        local.as_str(),
        "mailer-daemon" | "postmaster" | "mail-daemon" | "maildaemon" | "abuse" | "noreply" | "no-reply"
    )
}

/// Where a returned header block starts without a marker: a line at the left margin that begins
/// like `Received:` / `Return-Path:` …, past the first line (and not right after an mbox
/// `From ` line).
fn unmarked_original(report: &str) -> Option<usize> {
    let mut at = 0;
    let mut pasted = false;
    for line in report.split_inclusive('\n') {
        let lower = line.to_ascii_lowercase();
        // A header block right after an mbox `From ` line is a message pasted whole (often the
        // bounce itself, forwarded as text), not the returned original: read on past it.
        if line.starts_with("From ") {
            pasted = true;
        } else if line.trim().is_empty() {
            pasted = false;
        } else if at > 0 && !pasted && HEADER_START.iter().any(|h| lower.starts_with(h)) {
            return Some(at);
        }
        at += line.len();
    }
    None
}

/// The diagnostic around line `i`: that line and the following ones up to the next line naming
/// another address (not the bounce's own parties), or a blank line once two lines of text with a failure signal are in (so
/// "error delivering to <a>" followed by a paragraph with the reason keeps the reason), at
/// most twelve lines.
fn context(input: &Input, lines: &[&str], i: usize) -> String {
    let mut out = String::new();
    // A list head just above ("Delivery to the following recipients was aborted after 5
    // hours:") says why for the whole list.
    if let Some(head) = i.checked_sub(1).and_then(|h| lines.get(h)).filter(|l| l.trim_end().ends_with(':')) {
        out.push_str(head);
        out.push('\n');
    }
    let mut text_lines = 0;
    for (n, line) in lines.iter().enumerate().skip(i).take(12) {
        let other = |a: &String| !input.is_party(a) && !lines.get(i).is_some_and(|l| l.contains(a.as_str()));
        if n > i && addresses_in(line).iter().any(other) {
            break;
        }
        if line.trim().is_empty() {
            if text_lines >= 2 && signal(&out) {
                break;
            }
            continue;
        }
        text_lines += 1;
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn address_with_bracketed_reason() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/118.eml"), recognise).expect("generic bounce");
        assert_eq!(b.mta, "generic");
        assert_eq!(summary(&b), [("kijitora@example.org".to_string(), Some(Reason::UserUnknown))]);
    }

    #[test]
    fn reason_then_address_with_original_marker() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/119.eml"), recognise).expect("generic bounce");
        assert_eq!(summary(&b), [("kijitora@example.co.jp".to_string(), Some(Reason::MailboxFull))]);
        assert!(b.original_headers.is_some());
    }

    #[test]
    fn quota_notice_with_a_help_address_is_not_a_bounce() {
        let mail = b"From: postmaster@example.org\r\nTo: alice@example.org\r\n\
            Subject: Your mailbox is over quota\r\n\r\n\
            Your mailbox is over quota (mailbox full).\r\n\
            For assistance, contact helpdesk@example.org.\r\n";
        assert!(run(mail, recognise).is_none());
    }

    #[test]
    fn person_quoting_an_error_is_not_a_bounce() {
        let mail = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: that error\r\n\r\n\
            Bob, my mail to carol@example.com came back: 550 5.1.1 user unknown. Any idea?\r\n";
        assert!(run(mail, recognise).is_none());
    }
}
