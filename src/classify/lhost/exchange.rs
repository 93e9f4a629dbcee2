//! Microsoft Exchange NDRs read from their text: Exchange 2000/2003 ("Your message … did not
//! reach the following recipient(s): addr on DATE" + indented reasons) and Exchange 2007 to
//! 2019 / Microsoft 365 ("Delivery has failed to these recipients or groups:" … "Diagnostic
//! information for administrators:" with `addr` then `#550 5.1.1 RESOLVER.ADR.RecipNotFound …`
//! or `Remote Server returned '550 …'`).

use super::text::{address_in, address_line, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Exchange 2003's recipient list head.
const E2003: &[&str] = &["did not reach the following recipient(s):"];

/// Exchange 2007+ / Microsoft 365 heads (English; the administrators' section is English in
/// every language version).
const E2007: &[&str] = &[
    "diagnostic information for administrators:",
    "delivery has failed to these recipients or groups:",
    "delivery has failed to these recipients or distribution lists:",
];

/// The returned headers follow this line.
const ORIGINAL: &[&str] = &["original message headers:"];

/// Recognises an Exchange / Microsoft 365 NDR.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if input.has(E2003) {
        return Some(Bounce { mta: "exchange", recipients: exchange2003(input), original_headers: None });
    }
    if !input.has(E2007) {
        return None;
    }
    let delayed = input.has(&["delivery is delayed to these recipients", "delay notification"]);
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let admin = input.section(&["diagnostic information for administrators:"], ORIGINAL);
    let mut found: Vec<(String, String)> = Vec::new();
    for line in admin.lines() {
        let t = line.trim();
        if let Some(a) = address_line(t) {
            found.push((a, String::new()));
        } else if let Some((_, d)) = found.last_mut() {
            if !t.is_empty() && !t.to_ascii_lowercase().starts_with("generating server") {
                d.push_str(t);
                d.push('\n');
            }
        }
    }
    if found.is_empty() {
        // Only the user-facing list: "Name<mailto:addr>" / "addr" lines, reason below.
        let list = input.section(
            &[
                "delivery has failed to these recipients or groups:",
                "delivery has failed to these recipients or distribution lists:",
            ],
            &["diagnostic information for administrators:", "original message headers:"],
        );
        let mut lines = list.lines().map(str::trim).filter(|l| !l.is_empty());
        if let Some(first) = lines.next() {
            if let Some(a) = address_in(first) {
                found.push((a, lines.collect::<Vec<_>>().join("\n")));
            }
        }
    }
    let recipients = found.iter().map(|(a, d)| recipient(a, d, action)).collect();
    Some(Bounce { mta: "exchange", recipients, original_headers: input.original_after(ORIGINAL) })
}

/// Exchange 2003: `addr on DATE` lines, each followed by indented reason lines.
fn exchange2003(input: &Input) -> Vec<crate::classify::Recipient> {
    // Up to a dashed rule at a line start (a boundary left in a non-MIME copy).
    let section = input.section(E2003, &["\n--"]);
    let mut found: Vec<(String, String)> = Vec::new();
    for line in section.lines() {
        let indented = line.starts_with([' ', '\t']);
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if !indented {
            match t.split_whitespace().next().and_then(address_line) {
                Some(a) if t.contains(" on ") || t.split_whitespace().count() == 1 => found.push((a, String::new())),
                _ => {
                    if let Some((_, d)) = found.last_mut() {
                        d.push_str(t);
                        d.push('\n');
                    }
                }
            }
        } else if let Some((_, d)) = found.last_mut() {
            d.push_str(t);
            d.push('\n');
        }
    }
    found.iter().map(|(a, d)| recipient(a, d, Action::Failed)).collect()
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn exchange_2003_two_recipients() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/106.eml"), recognise).expect("Exchange 2003 NDR");
        assert_eq!(b.mta, "exchange");
        assert_eq!(
            summary(&b),
            [
                ("kijitora@example.co.jp".to_string(), Some(Reason::UserUnknown)),
                ("mikeneko@example.co.jp".to_string(), Some(Reason::UserUnknown)),
            ]
        );
    }

    #[test]
    fn exchange_2007_and_office365() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/107.eml"), recognise).expect("Exchange 2007 NDR");
        assert_eq!(summary(&b), [("mikeneko@example.co.jp".to_string(), Some(Reason::UserUnknown))]);
        assert_eq!(b.recipients[0].status.as_deref(), Some("5.1.1"));
        assert!(b.original_headers.is_some());
        let b = run(include_bytes!("../../../tests/fixtures/ndr/108.eml"), recognise).expect("Office 365 NDR");
        assert_eq!(summary(&b), [("kijitora@example.com".to_string(), Some(Reason::UserUnknown))]);
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
    }
}
