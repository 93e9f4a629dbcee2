//! The field-block parser for delivery status notifications (RFC 3464 §2, RFC 6533 §3) and
//! message disposition notifications (RFC 8098 §3.2): mail-parser hands these parts over as
//! bytes, so we split them ourselves — one per-message block, then one block per recipient.
//!
//! Real reports are sloppy: folded lines, missing blank lines between blocks, junk lines, odd
//! case, `rfc822;`/`utf-8;` type prefixes, CR-only newlines. The parser takes what it can and
//! never fails.

use super::{reason, Action, Recipient};

/// One `Name: value` field, unfolded, value trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name as written.
    pub name: String,
    /// The value, folds joined with one space, trimmed.
    pub value: String,
}

/// A group of fields (one block).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub Vec<Field>);

impl Fields {
    /// The first value of the field `name` (case-insensitive), if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|f| f.name.eq_ignore_ascii_case(name)).map(|f| f.value.as_str()).filter(|v| !v.is_empty())
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|f| f.name.eq_ignore_ascii_case(name))
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A parsed report: per-message fields and one field group per recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Reporting-MTA, Original-Envelope-Id, Arrival-Date, … (RFC 3464 §2.2), or the MDN's
    /// fields (RFC 8098 §3.2).
    pub per_message: Fields,
    /// One group per recipient (RFC 3464 §2.3).
    pub recipients: Vec<Fields>,
}

/// RFC 3464 §2.2 per-message fields (plus the common vendor ones), which may appear in the
/// same block as the first recipient when a blank line is missing.
const PER_MESSAGE: &[&str] = &[
    "reporting-mta",
    "dsn-gateway",
    "received-from-mta",
    "arrival-date",
    "original-envelope-id",
    "x-postfix-queue-id",
    "x-postfix-sender",
    "x-original-message-id",
    "reporting-ua",
    "mdn-gateway",
    "original-message-id",
    "disposition",
];

/// Fields that can only belong to a recipient block (RFC 3464 §2.3).
const PER_RECIPIENT: &[&str] = &[
    "final-recipient",
    "original-recipient",
    "action",
    "status",
    "remote-mta",
    "diagnostic-code",
    "last-attempt-date",
    "final-log-id",
    "will-retry-until",
];

/// Splits a `message/delivery-status` (or global / disposition-notification) body into blocks.
pub fn parse(body: &[u8]) -> Report {
    let mut report = Report::default();
    let mut current = Fields::default();
    let mut seen_recipient = false;
    for block in blocks(body) {
        for field in block {
            let lname = field.name.to_ascii_lowercase();
            let recipient_field = PER_RECIPIENT.contains(&lname.as_str());
            if !recipient_field && (!seen_recipient || PER_MESSAGE.contains(&lname.as_str())) && current.is_empty() {
                if !report.per_message.has(&lname) {
                    report.per_message.0.push(field);
                }
                continue;
            }
            // A repeated field, or an address field after the Action/Status of the current
            // recipient, starts the next recipient even without the blank line RFC 3464 asks for.
            let address_field = lname == "original-recipient" || lname == "final-recipient";
            let starts_next =
                current.has(&lname) || (address_field && (current.has("action") || current.has("status")));
            if starts_next && !current.is_empty() {
                report.recipients.push(std::mem::take(&mut current));
            }
            seen_recipient |= recipient_field;
            current.0.push(field);
        }
        if !current.is_empty() {
            report.recipients.push(std::mem::take(&mut current));
        }
    }
    report.recipients.retain(|r| r.has("final-recipient") || r.has("original-recipient") || r.has("status"));
    report
}

/// The field blocks of a body: lines split at LF, CRLF or CR; blank lines separate blocks;
/// continuation lines unfold; lines that are not fields are skipped.
fn blocks(body: &[u8]) -> Vec<Vec<Field>> {
    // CRLF and CR-only newlines become LF, so a blank line is always "\n\n".
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n").replace('\r', "\n");
    let mut out: Vec<Vec<Field>> = Vec::new();
    let mut block: Vec<Field> = Vec::new();
    for line in text.split('\n') {
        if line.trim().is_empty() {
            if !block.is_empty() {
                out.push(std::mem::take(&mut block));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = block.last_mut() {
                let more = line.trim();
                if !last.value.is_empty() {
                    last.value.push(' ');
                }
                last.value.push_str(more);
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim_end();
        if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_graphic()) {
            continue;
        }
        block.push(Field { name: name.to_string(), value: value.trim().to_string() });
    }
    if !block.is_empty() {
        out.push(block);
    }
    out
}

/// The recipients of a delivery-status report, with their reason judged.
pub fn recipients(report: &Report) -> Vec<Recipient> {
    report.recipients.iter().map(recipient).collect()
}

fn recipient(f: &Fields) -> Recipient {
    let address = f.get("final-recipient").or_else(|| f.get("original-recipient")).map(address).unwrap_or_default();
    let status = f.get("status").and_then(status_code);
    let diagnostic = f.get("diagnostic-code").map(diagnostic).filter(|d| !d.is_empty());
    let action = f.get("action").and_then(action).or_else(|| {
        // No (or an unknown) Action: the status class says it (RFC 3463 §3.1).
        match status.as_deref().and_then(|s| s.chars().next()) {
            Some('5') => Some(Action::Failed),
            Some('4') => Some(Action::Delayed),
            Some('2') => Some(Action::Delivered),
            _ => None,
        }
    });
    // The raw Status value: its comment ("5.0.0 (permanent failure)") is text for the judge;
    // so is the Diagnostic-Code's type ("X-Unix; 71" is a local mailer's error).
    let (reason, _) = reason::judge(f.get("status").or(status.as_deref()), f.get("diagnostic-code"));
    let remote_mta = f.get("remote-mta").map(|v| strip_type(v).to_string()).filter(|v| !v.is_empty());
    Recipient { address, action, status, reason: Some(reason), diagnostic, remote_mta }
}

/// Whether a recipient block tells a permanent failure; from the Action and Status when the
/// reason judge gives no answer.
pub fn permanent(r: &Recipient) -> Option<bool> {
    match r.action {
        Some(Action::Failed) => Some(true),
        Some(Action::Delayed) => Some(false),
        _ => None,
    }
}

/// RFC 3464 §2.3.3 action words; some MTAs write `failure`, `deliverable`, `delay`.
pub fn action(value: &str) -> Option<Action> {
    let word = value.split(|c: char| c.is_whitespace() || c == '(' || c == ';').next()?.to_ascii_lowercase();
    if word.starts_with("fail") {
        Some(Action::Failed)
    } else if word.starts_with("delay") {
        Some(Action::Delayed)
    } else if word.starts_with("deliver") {
        Some(Action::Delivered)
    } else if word.starts_with("relay") {
        Some(Action::Relayed)
    } else if word.starts_with("expand") {
        Some(Action::Expanded)
    } else {
        None
    }
}

/// An address field value without its type prefix and angle brackets; RFC 6533 §3
/// `\x{HEX}` escapes decoded for `utf-8` addresses.
pub fn address(value: &str) -> String {
    let v = strip_type(value);
    let v = v.split_whitespace().next().unwrap_or_default();
    let v = v.trim_start_matches('<').trim_end_matches('>').trim_end_matches([',', ';']);
    if v.contains("\\x{") {
        unescape_utf8(v)
    } else {
        v.to_string()
    }
}

/// `rfc822; x` → `x`, `dns; host` → `host`, `smtp; 550 …` → `550 …`: removes a leading
/// `type;` (RFC 3464 §2.1.2) when the part before `;` is a single token.
pub fn strip_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((ty, rest))
            if !ty.is_empty() && ty.len() <= 16 && ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            rest.trim()
        }
        _ => value.trim(),
    }
}

/// The first `D.D.D` enhanced status code in a Status value (RFC 3463 §2).
pub fn status_code(value: &str) -> Option<String> {
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if let Some(len) = status_at(b, i) {
            return value.get(i..i + len).map(str::to_string);
        }
        i += 1;
    }
    None
}

/// Length of an enhanced status code starting at `i` (class 2, 4 or 5; subject and detail of
/// 1–3 digits), not glued to other digits or dots.
fn status_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && b.get(i - 1).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
        return None;
    }
    if !matches!(b.get(i), Some(b'2' | b'4' | b'5')) || b.get(i + 1) != Some(&b'.') {
        return None;
    }
    let digits = |from: usize| b.get(from..).map_or(0, |r| r.iter().take_while(|c| c.is_ascii_digit()).count());
    let d1 = digits(i + 2);
    if !(1..=3).contains(&d1) || b.get(i + 2 + d1) != Some(&b'.') {
        return None;
    }
    let d2 = digits(i + 3 + d1);
    if !(1..=3).contains(&d2) {
        return None;
    }
    let end = i + 3 + d1 + d2;
    if b.get(end).is_some_and(|c| c.is_ascii_digit() || (*c == b'.' && b.get(end + 1).is_some_and(u8::is_ascii_digit)))
    {
        return None;
    }
    Some(end - i)
}

/// A Diagnostic-Code without its `smtp;` type, whitespace collapsed.
pub fn diagnostic(value: &str) -> String {
    strip_type(value).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 6533 §3: `\x{HEX}` → the Unicode scalar; anything malformed is kept as written.
fn unescape_utf8(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(at) = rest.find("\\x{") {
        out.push_str(rest.get(..at).unwrap_or_default());
        let after = rest.get(at + 3..).unwrap_or_default();
        let decoded = after
            .find('}')
            .and_then(|close| after.get(..close).map(|hex| (close, hex)))
            .and_then(|(close, hex)| u32::from_str_radix(hex, 16).ok().and_then(char::from_u32).map(|c| (close, c)));
        match decoded {
            Some((close, c)) => {
                out.push(c);
                rest = after.get(close + 1..).unwrap_or_default();
            }
            None => {
                out.push_str("\\x{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postfix_report_with_folding() {
        let body = b"Reporting-MTA: dns; mx.example.org\nX-Postfix-Queue-ID: 4711\n\
Original-Envelope-Id: bs1.20000.abc\nArrival-Date: Thu, 29 Apr 2015 23:34:45 +0900\n\n\
Final-Recipient: rfc822; <kijitora@example.jp>\nOriginal-Recipient: rfc822;kijitora@example.jp\n\
Action: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.example.jp\n\
Diagnostic-Code: smtp; 550 5.1.1 <kijitora@example.jp>:\n    Recipient address rejected:\n\tUser unknown\n";
        let report = parse(body);
        assert_eq!(report.per_message.get("reporting-mta"), Some("dns; mx.example.org"));
        assert_eq!(report.per_message.get("Original-Envelope-Id"), Some("bs1.20000.abc"));
        assert_eq!(report.recipients.len(), 1);
        let r = &recipients(&report)[0];
        assert_eq!(r.address, "kijitora@example.jp");
        assert_eq!(r.action, Some(Action::Failed));
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.remote_mta.as_deref(), Some("mx.example.jp"));
        assert_eq!(
            r.diagnostic.as_deref(),
            Some("550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown")
        );
    }

    #[test]
    fn missing_blank_lines_still_split_recipients() {
        let body = b"Reporting-MTA: dns; mx.example.org\r\nFinal-Recipient: rfc822; a@example.jp\r\n\
Action: failed\r\nStatus: 5.1.1\r\nFinal-Recipient: rfc822; b@example.jp\r\nAction: delayed\r\nStatus: 4.4.7\r\n";
        let report = parse(body);
        assert_eq!(report.per_message.get("Reporting-MTA"), Some("dns; mx.example.org"));
        let rs = recipients(&report);
        assert_eq!(rs.len(), 2);
        assert_eq!((rs[0].address.as_str(), rs[0].action), ("a@example.jp", Some(Action::Failed)));
        assert_eq!((rs[1].address.as_str(), rs[1].action), ("b@example.jp", Some(Action::Delayed)));
    }

    #[test]
    fn original_recipient_after_final_starts_a_new_record() {
        let body = b"Final-Recipient: rfc822; a@x.example\nStatus: 5.0.0\n\
Original-Recipient: rfc822; b@y.example\nFinal-Recipient: rfc822; b@y.example\nStatus: 5.0.0\n";
        let rs = recipients(&parse(body));
        assert_eq!(rs.iter().map(|r| r.address.as_str()).collect::<Vec<_>>(), ["a@x.example", "b@y.example"]);
    }

    #[test]
    fn global_dsn_utf8_addresses() {
        // RFC 6533 §3: utf-8 address type, with and without \x{…} escapes.
        let body = "Reporting-MTA: dns; mx.example\n\nFinal-Recipient: utf-8; ne\\x{10D}ko@\\x{4F8B}.example\n\
Action: failed\nStatus: 5.1.1\n\nOriginal-Recipient: utf-8; 猫@例え.jp\nAction: failed\nStatus: 5.1.1\n";
        let rs = recipients(&parse(body.as_bytes()));
        assert_eq!(rs[0].address, "nečko@例.example");
        assert_eq!(rs[1].address, "猫@例え.jp");
    }

    #[test]
    fn junk_and_cr_only_newlines() {
        let body = b"garbage line without colon\r\rReporting-MTA: dns; h\r\r= junk =\rFinal-Recipient: rfc822; c@d.example\rAction: Failed (bad mailbox)\rStatus: 5.2.2 (mailbox full)\r";
        let rs = recipients(&parse(body));
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].address, "c@d.example");
        assert_eq!(rs[0].action, Some(Action::Failed));
        assert_eq!(rs[0].status.as_deref(), Some("5.2.2"));
    }

    #[test]
    fn action_from_status_when_missing() {
        let rs = recipients(&parse(b"Final-Recipient: rfc822; e@f.example\nStatus: 4.2.2\n"));
        assert_eq!(rs[0].action, Some(Action::Delayed));
    }

    #[test]
    fn status_codes_are_found_in_text() {
        assert_eq!(status_code("5.1.1 (user unknown)").as_deref(), Some("5.1.1"));
        assert_eq!(status_code("smtp; 550 5.7.1 denied").as_deref(), Some("5.7.1"));
        assert_eq!(status_code("4.4.7"), Some("4.4.7".into()));
        assert_eq!(status_code("version 1.5.1.2"), None);
        assert_eq!(status_code("3.1.1"), None);
        assert_eq!(status_code("5.1"), None);
    }

    #[test]
    fn type_prefixes_are_removed() {
        assert_eq!(strip_type("rfc822; a@b"), "a@b");
        assert_eq!(strip_type("dns;mx.example"), "mx.example");
        assert_eq!(strip_type("550 no; really"), "550 no; really");
        assert_eq!(address("RFC822; <A@B.example>"), "A@B.example");
        assert_eq!(diagnostic("X-Postfix;  host   said:\t 550"), "host said: 550");
    }

    #[test]
    fn action_words() {
        assert_eq!(action("deliverable"), Some(Action::Delivered));
        assert_eq!(action("RELAYED"), Some(Action::Relayed));
        assert_eq!(action("expanded"), Some(Action::Expanded));
        assert_eq!(action("whatever"), None);
    }
}
