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
        // Up to a run of blank lines or a dashed rule (a boundary or the returned message).
        let because = input.section(&["because:"], &["\n\n\n", "\n--"]);
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

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn domino_was_not_delivered_to() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/112.eml"), recognise).expect("Domino bounce");
        assert_eq!(b.mta, "domino");
        // The reason is Japanese prose (ISO-2022-JP); the address is what matters here.
        assert_eq!(b.recipients.len(), 1);
        assert_eq!(b.recipients[0].address, "kijitora@example.co.jp");
    }

    #[test]
    fn lotus_reason_then_address() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/113.eml"), recognise).expect("Lotus bounce");
        assert_eq!(summary(&b), [("kijitora@example.com".to_string(), Some(Reason::UserUnknown))]);
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
    }
}
