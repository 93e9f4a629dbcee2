//! Reading what carriers and policy evidence are written in: header lines anywhere in a body (a
//! returned original, `> `-quoted or not), addresses and Message-IDs in field values, and the
//! parts of a `Received:` field (`from … [ip]`, `for <addr>`, `; date`). The message's own
//! header block is read once, by [`crate::message`]. Lossy on purpose: a damaged bounce still
//! yields what it carries; nothing here can panic.

use std::net::IpAddr;

/// One header line found in a body: its name lowercased, its value unfolded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The field name, lowercased.
    pub name: String,
    /// The value, unfolded, surrounding whitespace trimmed.
    pub value: String,
    /// Whether the line was `>`-quoted.
    pub quoted: bool,
}

/// How many continuation lines one field may have, and how long its value may grow: a
/// `References:` of a long thread fits; a runaway "field" in a body does not.
const MAX_FOLDS: usize = 200;
const MAX_VALUE: usize = 16 * 1024;

/// How much of a body [`body_fields`] reads. A returned original's header block comes right
/// after the short human-readable part and the delivery-status part; a huge returned body or
/// attachment is not worth scanning, and a hostile 50 MB "bounce" costs no more than this.
pub(crate) const MAX_BODY_SCAN: usize = 1024 * 1024;

/// The header lines named in `wanted` (lowercase) anywhere in `text`: behind a `>` / `|` quote
/// prefix or indentation, or bare, as bounces return originals (RFC 3464 §2 attached, RFC 6522
/// text/rfc822-headers, and the quoted forms of qmail, Exchange and friends). A field continues
/// on following lines that have the same prefix and then whitespace. Reads at most
/// [`MAX_BODY_SCAN`] bytes.
pub(crate) fn body_fields(text: &[u8], wanted: &[&str]) -> Vec<Field> {
    let text = String::from_utf8_lossy(text.get(..MAX_BODY_SCAN).unwrap_or(text));
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let content_at = line.find(|c: char| !matches!(c, '>' | ' ' | '\t' | '|')).unwrap_or(line.len());
        let (Some(prefix), Some(rest)) = (line.get(..content_at), line.get(content_at..)) else { continue };
        let Some((name, value)) = rest.split_once(':') else { continue };
        if !is_field_name(name) || !wanted.iter().any(|w| name.eq_ignore_ascii_case(w)) {
            continue;
        }
        let mut value = value.trim().to_owned();
        for next in lines.iter().skip(i + 1).take(MAX_FOLDS) {
            match next.strip_prefix(prefix) {
                Some(fold) if fold.starts_with([' ', '\t']) && value.len() < MAX_VALUE => {
                    value.push(' ');
                    value.push_str(fold.trim());
                }
                _ => break,
            }
        }
        found.push(Field { name: name.to_ascii_lowercase(), value, quoted: prefix.contains('>') });
    }
    found
}

/// The reporting MTA a DSN's body names (`Reporting-MTA: dns; host`, RFC 3464 §2.2.2), without
/// its type; not one quoted from a returned message.
pub(crate) fn reporting_mta(body: &[u8]) -> Option<String> {
    body_fields(body, &["reporting-mta"])
        .into_iter()
        .find(|f| !f.quoted)
        .map(|f| crate::classify::dsn::strip_type(&f.value).trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// RFC 5322 §3.6.8: printable ASCII but `:` and space; we also refuse absurd lengths.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 76 && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

/// The address-like words of an address field value (`To`, `Delivered-To`, `Envelope-To`…):
/// every word with an `@`, split at the characters that delimit addresses.
pub(crate) fn addresses(value: &str) -> impl Iterator<Item = &str> {
    value.split(|c: char| matches!(c, '<' | '>' | ',' | ';' | '"' | '(' | ')') || c.is_whitespace()).filter(|w| {
        // An address, not a display-name fragment: something on each side of one `@`.
        w.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
    })
}

/// The message IDs in a `Message-ID`-like value: each `<…>` token, or the words when there are
/// no angle brackets (some MTAs drop them).
pub(crate) fn message_ids(value: &str) -> Vec<&str> {
    let mut ids = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let after = rest.get(open..).unwrap_or_default();
        match after.find('>') {
            Some(close) => {
                ids.push(after.get(..=close).unwrap_or_default());
                rest = after.get(close + 1..).unwrap_or_default();
            }
            None => {
                ids.push(after);
                break;
            }
        }
    }
    if ids.is_empty() {
        ids.extend(value.split_whitespace());
    }
    ids
}

/// The address after `for` in a `Received:` value (RFC 5321 §4.4 `For` clause), brackets off.
pub(crate) fn received_for(value: &str) -> Option<&str> {
    let mut words = value.split_whitespace();
    words.find(|w| w.eq_ignore_ascii_case("for"))?;
    let addr = words.next()?.trim_end_matches(';').trim_start_matches('<').trim_end_matches('>');
    (!addr.is_empty()).then_some(addr)
}

/// The date of a `Received:` value: what follows its last `;` (RFC 5322 §3.6.7).
pub(crate) fn received_date(value: &str) -> Option<&str> {
    value.rsplit_once(';').map(|(_, date)| date.trim()).filter(|d| !d.is_empty())
}

/// The IP addresses written in a header value: `[192.0.2.1]`, `[IPv6:2001:db8::1]`,
/// `(192.0.2.1)` and bare ones, as MTAs write them in `Received:` (Postfix `host[ip]`, Exim
/// `([ip] helo=…)`, Sendmail `(host [ip])`) and in `Reporting-MTA: dns; [ip]`.
pub(crate) fn ips(value: &str) -> Vec<IpAddr> {
    value
        .split(|c: char| matches!(c, '[' | ']' | '(' | ')' | '<' | '>' | ';' | ',' | '=') || c.is_whitespace())
        .filter_map(|w| {
            let w = w.strip_prefix("IPv6:").or_else(|| w.strip_prefix("ipv6:")).unwrap_or(w);
            w.parse::<IpAddr>().ok()
        })
        .collect()
}

/// The `from` part of a `Received:` value: up to ` by ` (or all of it when there is none).
pub(crate) fn received_from_part(value: &str) -> &str {
    let lower = value.to_ascii_lowercase();
    match lower.find(" by ") {
        // `to_ascii_lowercase` keeps byte offsets, so the index is a boundary in `value` too.
        Some(at) => value.get(..at).unwrap_or(value),
        None => value,
    }
}

/// The domain of an address (after its last `@`), lowercased, without a trailing dot.
pub(crate) fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim_end_matches('.');
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// True if `domain` is `listed` or below it (`mx.example.com` is in `example.com`).
pub(crate) fn in_domain(domain: &str, listed: &str) -> bool {
    let listed = listed.trim_start_matches('.');
    domain.eq_ignore_ascii_case(listed)
        || (domain.len() > listed.len()
            && domain.get(domain.len() - listed.len()..).is_some_and(|tail| tail.eq_ignore_ascii_case(listed))
            && domain.as_bytes().get(domain.len() - listed.len() - 1) == Some(&b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_fields_quoted_and_folded() {
        let body =
            b"Hi.\n> X-Sig: v1.a\n> References: <a@b>\n>  <c@d>\n> Subject: x\nMessage-ID: <m@n>\n\n   X-Sig: v1.b\n";
        let f = body_fields(body, &["x-sig", "references", "message-id"]);
        let got: Vec<(&str, &str, bool)> = f.iter().map(|f| (f.name.as_str(), f.value.as_str(), f.quoted)).collect();
        assert_eq!(
            got,
            [
                ("x-sig", "v1.a", true),
                ("references", "<a@b> <c@d>", true),
                ("message-id", "<m@n>", false),
                ("x-sig", "v1.b", false)
            ]
        );
    }

    #[test]
    fn pieces_of_values() {
        let to: Vec<&str> = addresses("\"Al @ home\" <prvs=0123456789=al@x.example>, bo@y.example").collect();
        assert_eq!(to, ["prvs=0123456789=al@x.example", "bo@y.example"]);
        assert_eq!(message_ids("<a@b> <c@d>"), ["<a@b>", "<c@d>"]);
        assert_eq!(message_ids("a@b"), ["a@b"]);
        assert_eq!(message_ids("<a@b"), ["<a@b"]);
        let r = "from mx.example (mx.example [192.0.2.7]) by in.example (Postfix) with ESMTP id 1 \
                 for <prvs=0@x.example>; Mon, 1 Jan 2024 10:00:00 +0000";
        assert_eq!(received_for(r), Some("prvs=0@x.example"));
        assert_eq!(received_date(r), Some("Mon, 1 Jan 2024 10:00:00 +0000"));
        assert_eq!(ips(received_from_part(r)), ["192.0.2.7".parse::<IpAddr>().unwrap()]);
        assert_eq!(ips("from [IPv6:2001:db8::1] (helo=x)"), ["2001:db8::1".parse::<IpAddr>().unwrap()]);
        assert_eq!(received_for("from a by b; date"), None);
        assert_eq!(domain_of("a@Mx.Example.COM."), Some("mx.example.com".to_owned()));
        assert!(in_domain("mx.example.com", "example.com"));
        assert!(in_domain("example.com", ".example.com"));
        assert!(!in_domain("badexample.com", "example.com"));
        assert!(!in_domain("com", "example.com"));
    }

    #[test]
    fn body_scan_stops_after_a_megabyte() {
        let mut body = "x".repeat(MAX_BODY_SCAN - 20);
        body.push_str("\nMessage-ID: <a@b>\n");
        body.push_str("Message-ID: <c@d>\n");
        let found = body_fields(body.as_bytes(), &["message-id"]);
        let values: Vec<&str> = found.iter().map(|f| f.value.as_str()).collect();
        assert_eq!(values, ["<a@b>"]);
    }

    #[test]
    fn junk_never_panics() {
        for junk in [&b"\xff\xfe:\n>\n>>: \n"[..], b"\n\n\n", b":", b"a:\n \n \n", "é:é\n é".as_bytes()] {
            let _ = body_fields(junk, &["é", "a", ""]);
        }
        let _ = received_for("for");
        let _ = in_domain("", "");
        let _ = in_domain("é", "éé");
    }
}
