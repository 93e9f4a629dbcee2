//! IBM/HCL Domino and older Lotus Notes SMTP MTA bounces: "Your message … was not delivered
//! to: addr because: reason" (Domino) or a reason line then the address line (Lotus SMTP MTA,
//! subject `Undeliverable message`), then the returned message.

use super::text::{address_in, address_line, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Lotus SMTP MTA marks the returned message with this line.
const RETURNED: &[&str] = &["------- returned message --------"];

/// Recognises a Domino / Lotus Notes bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if input.has(&["was not delivered to:"]) && input.has(&["because:"]) {
        let to = input.section(&["was not delivered to:"], &["because:"]);
        let because = input.section(&["because:"], &["\n\n\n", "------", "--"]);
        let recipients = to.lines().filter_map(address_line).map(|a| recipient(&a, because, Action::Failed)).collect();
        return Some(Bounce { mta: "domino", recipients, original_headers: None });
    }
    let lotus = input.subject.starts_with("undeliverable message") && input.from.contains("postmaster");
    if !lotus {
        return None;
    }
    // Lotus SMTP MTA: "<reason>\n<address>\n" before the returned headers.
    let report = input.section(&[], RETURNED);
    let report = report.split("\nReceived:").next().unwrap_or(report);
    let mut reason = String::new();
    let mut recipients = Vec::new();
    for line in report.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match address_line(line) {
            Some(a) => recipients.push(recipient(&a, &reason, Action::Failed)),
            None if address_in(line).is_none() => {
                reason.push_str(line);
                reason.push('\n');
            }
            None => {}
        }
    }
    Some(Bounce { mta: "domino", recipients, original_headers: input.original_after(RETURNED) })
}
