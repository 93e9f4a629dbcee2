//! The `Received-SPF` header (RFC 7208 §9.1) for a result we computed. It is added at SMTP time
//! only (the milter): delivered mail is never rewritten.

use super::facts::Facts;
use super::Outcome;

/// The `Received-SPF:` field (name, value, no line end) for `outcome`, computed from `facts`;
/// `None` when there is no result of ours to record (skipped, or the border MTA already wrote
/// one).
///
/// `Received-SPF: fail (mx.example.org: 203.0.113.9 is not allowed by example.com's SPF)
/// client-ip=203.0.113.9; envelope-from="a@example.com"; helo=mail.example.net;
/// receiver=mx.example.org; identity=mailfrom`
pub fn received_spf_header(outcome: &Outcome, facts: &Facts) -> Option<String> {
    let result = outcome.result?;
    if facts.recorded.is_some() {
        return None;
    }
    let receiver = facts.receiver.as_deref().unwrap_or("backscatter");
    let mut field = format!("Received-SPF: {} ({receiver}: {})", result.word(), comment(&outcome.why));
    if let Some(ip) = outcome.ip {
        field.push_str(&format!(" client-ip={ip};"));
    }
    if let Some(from) = &facts.mail_from {
        field.push_str(&format!(" envelope-from=\"{}\";", quoted(from)));
    }
    if let Some(helo) = facts.helo.as_deref().filter(|h| is_dot_atom(h)) {
        field.push_str(&format!(" helo={helo};"));
    }
    if is_dot_atom(receiver) {
        field.push_str(&format!(" receiver={receiver};"));
    }
    if let Some(identity) = outcome.identity {
        field.push_str(&format!(" identity={}", identity.word()));
    }
    Some(field.trim_end_matches(';').to_owned())
}

/// `why` made safe inside a `( … )` comment: no parentheses, backslashes or line breaks.
fn comment(why: &str) -> String {
    why.chars().map(|c| if matches!(c, '(' | ')' | '\\' | '\r' | '\n') { ' ' } else { c }).collect()
}

/// `s` inside a quoted-string (RFC 5322 §3.2.4): `"` and `\` escaped, line breaks dropped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| !matches!(c, '\r' | '\n')) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A host name that can stand unquoted as a key=value value.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spf::{Identity, SpfResult};

    fn fail() -> (Outcome, Facts) {
        let ip = "203.0.113.9".parse().ok();
        let outcome = Outcome {
            result: Some(SpfResult::Fail),
            identity: Some(Identity::MailFrom),
            domain: Some("example.com".into()),
            ip,
            why: "203.0.113.9 is not allowed by example.com's SPF (see \"x\")".into(),
        };
        let facts = Facts {
            ip,
            helo: Some("mail.example.net".into()),
            mail_from: Some("a\"b@example.com".into()),
            receiver: Some("mx.example.org".into()),
            ..Facts::default()
        };
        (outcome, facts)
    }

    #[test]
    fn rfc7208_section_9_1_form() {
        let (outcome, facts) = fail();
        assert_eq!(
            received_spf_header(&outcome, &facts).expect("a header"),
            "Received-SPF: fail (mx.example.org: 203.0.113.9 is not allowed by example.com's SPF  see \"x\" ) \
client-ip=203.0.113.9; envelope-from=\"a\\\"b@example.com\"; helo=mail.example.net; receiver=mx.example.org; identity=mailfrom"
        );
        assert_eq!(received_spf_header(&Outcome::skipped("authenticated"), &facts), None);
    }
}
