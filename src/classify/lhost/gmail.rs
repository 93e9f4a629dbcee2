//! Gmail's own bounces and delay warnings (`Delivery Status Notification (Failure|Delay)` from
//! `mailer-daemon@googlemail.com` without a delivery-status part), and Google Groups' refusals
//! ("the group you tried to contact … may not exist, or you may not have permission to post").

use super::text::{address_in, addresses_in, recipient, Input};
use super::Bounce;
use crate::classify::{Action, Reason};

/// The returned message follows this line.
const ORIGINAL: &[&str] = &["----- original message -----", "----- message header follows -----"];

/// Where Gmail names the recipient (the address is on the next line).
const START: &[&str] = &[
    "delivery to the following recipient failed permanently:",
    "delivery to the following recipients failed permanently:",
    "delivery to the following recipient has been delayed:",
    "delivery to the following recipients has been delayed:",
    "delivery to the following recipient failed:",
];

/// Recognises a Gmail or Google Groups bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if !input.from.contains("googlemail.com") && !input.from.contains("google.com") && !input.has(START) {
        return None;
    }
    if input.has(&["google groups", "googlegroups", "google グループ"]) && !input.has(START) {
        return groups(input);
    }
    let (at, len) = input.find(START)?;
    let delayed = input.lower.get(at..at + len).is_some_and(|m| m.contains("delayed"));
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let rest = input.text.get(at + len..)?;
    let end = ORIGINAL.iter().filter_map(|m| rest.to_ascii_lowercase().find(m)).min().unwrap_or(rest.len());
    let section = rest.get(..end)?;
    // The addresses are indented lines right after the marker; the rest is the explanation.
    let mut addrs = Vec::new();
    let mut diag = String::new();
    for line in section.lines() {
        let t = line.trim();
        if diag.is_empty() && t.split_whitespace().count() == 1 {
            if let Some(a) = address_in(t) {
                addrs.push(a);
                continue;
            }
        }
        if !t.is_empty() {
            diag.push_str(t);
            diag.push('\n');
        }
    }
    let recipients = addrs
        .iter()
        .map(|a| {
            let mut r = recipient(a, &diag, action);
            // "did not accept our requests to connect": Gmail kept trying until its retry time
            // ran out (Sisimai: expired), whatever the last connection error was.
            if diag.to_ascii_lowercase().contains("did not accept our requests to connect") {
                r.reason = Some(Reason::Expired);
            }
            r
        })
        .collect();
    Some(Bounce { mta: "gmail", recipients, original_headers: input.original_after(ORIGINAL) })
}

/// Google Groups: posting refused; the group's address is in the returned original's `To`.
fn groups(input: &Input) -> Option<Bounce> {
    let headers = input.original_after(ORIGINAL)?;
    let text = String::from_utf8_lossy(&headers);
    let to = text.lines().find(|l| l.to_ascii_lowercase().starts_with("to:")).map(addresses_in).unwrap_or_default();
    let diag = input.section(&[], ORIGINAL);
    let recipients = to
        .iter()
        .map(|a| {
            let mut r = recipient(a, "", Action::Failed);
            r.diagnostic = Some(super::text::collapse(diag)).filter(|d| !d.is_empty());
            r.reason = Some(Reason::Rejected);
            r
        })
        .collect();
    Some(Bounce { mta: "googlegroups", recipients, original_headers: Some(headers) })
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn permanent_failure() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/109.eml"), recognise).expect("Gmail bounce");
        assert_eq!(b.mta, "gmail");
        assert_eq!(summary(&b), [("neko-nyaan@google.example.com".to_string(), Some(Reason::MailboxFull))]);
        assert!(b.original_headers.is_some());
    }

    #[test]
    fn google_groups_refusal_names_the_group() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/110.eml"), recognise).expect("Groups bounce");
        assert_eq!(b.mta, "googlegroups");
        assert_eq!(summary(&b), [("libsisimai@googlegroups.com".to_string(), Some(Reason::Rejected))]);
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
    }
}
