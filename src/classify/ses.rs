//! Amazon SES event notifications sent by e-mail through SNS: the body is one JSON object
//! (`notificationType` or `eventType`: `Bounce`, `Complaint`, `Delivery`) followed by SNS's
//! unsubscribe footer. Field names from the SES developer guide, "Contents of notifications".

use mail_parser::Message;
use serde_json::Value;

use super::original::MAX_HEADERS;
use super::{dsn, reason, Action, Classification, Kind, Original, Reason, Recipient, Via};

/// The classification of an SES notification, or `None` when the body is not one.
pub fn notification(message: &Message<'_>, evidence: Vec<String>) -> Option<Classification> {
    // Sendmail breaks long lines with "!\n " (RFC 5322 line limit); SNS appends a footer after
    // the JSON value, so read only the first value.
    let body = message.body_text(0)?.replace("!\r\n ", "").replace("!\n ", "");
    let json: Value = serde_json::Deserializer::from_str(body.trim()).into_iter().next()?.ok()?;
    let kind = json.get("notificationType").or_else(|| json.get("eventType"))?.as_str()?;
    let mut c = match kind {
        "Complaint" => complaint(&json),
        "Bounce" => bounce(&json),
        "Delivery" => delivery(&json),
        _ => return None,
    };
    c.original = returned(&json);
    c.evidence = vec![format!("Amazon SES {} notification", kind.to_ascii_lowercase())];
    c.evidence.extend(evidence);
    (!c.recipients.is_empty()).then_some(c)
}

/// The original as SES returns it: `mail.headers[]` (`name`/`value` pairs, unless
/// `headersTruncated`) rebuilt as a header block, and `mail.commonHeaders.messageId`.
fn returned(json: &Value) -> Option<Original> {
    let mail = json.get("mail")?;
    let mut block = String::new();
    for h in mail.get("headers").and_then(Value::as_array).into_iter().flatten() {
        if let (Some(name), Some(value)) = (text(h, "name"), h.get("value").and_then(Value::as_str)) {
            if block.len() + name.len() + value.len() + 4 > MAX_HEADERS {
                break;
            }
            block.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let message_id = mail
        .pointer("/commonHeaders/messageId")
        .and_then(Value::as_str)
        .map(|id| format!("<{}>", id.trim().trim_start_matches('<').trim_end_matches('>')));
    if block.is_empty() && message_id.is_none() {
        return None;
    }
    Some(Original { via: Via::Inline, message_id, headers: block.into_bytes() })
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `complaint.complainedRecipients[].emailAddress`.
fn complaint(json: &Value) -> Classification {
    let mut c = Classification::bare(Kind::Feedback, Vec::new());
    c.reason = Some(Reason::Feedback);
    let list = json.pointer("/complaint/complainedRecipients").and_then(Value::as_array);
    for r in list.into_iter().flatten() {
        if let Some(address) = text(r, "emailAddress") {
            c.recipients.push(Recipient {
                address: address.to_string(),
                reason: Some(Reason::Feedback),
                ..Recipient::default()
            });
        }
    }
    c
}

/// `bounce.bouncedRecipients[]` with `emailAddress`, `action`, `status`, `diagnosticCode`;
/// `bounce.bounceType` is `Permanent` or `Transient`.
fn bounce(json: &Value) -> Classification {
    let transient = json.pointer("/bounce/bounceType").and_then(Value::as_str) == Some("Transient");
    let mut c = Classification::bare(if transient { Kind::Delay } else { Kind::Ndr }, Vec::new());
    let list = json.pointer("/bounce/bouncedRecipients").and_then(Value::as_array);
    for r in list.into_iter().flatten() {
        let Some(address) = text(r, "emailAddress") else { continue };
        let diagnostic = text(r, "diagnosticCode").map(dsn::diagnostic);
        let status = text(r, "status").and_then(dsn::status_code);
        let (why, _) = reason::judge(status.as_deref(), diagnostic.as_deref());
        c.recipients.push(Recipient {
            address: address.to_string(),
            action: Some(text(r, "action").and_then(dsn::action).unwrap_or(if transient {
                Action::Delayed
            } else {
                Action::Failed
            })),
            status,
            reason: Some(why),
            diagnostic,
            remote_mta: None,
        });
    }
    c.permanent = Some(!transient);
    c.reason = c.recipients.first().and_then(|r| r.reason);
    c
}

/// `delivery.recipients[]` (plain addresses) and `delivery.smtpResponse`.
fn delivery(json: &Value) -> Classification {
    let mut c = Classification::bare(Kind::Delivered, Vec::new());
    c.reason = Some(Reason::Delivered);
    let response = json.pointer("/delivery/smtpResponse").and_then(Value::as_str).map(dsn::diagnostic);
    let remote = json.pointer("/delivery/remoteMtaIp").and_then(Value::as_str).map(str::to_string);
    let list = json.pointer("/delivery/recipients").and_then(Value::as_array);
    for address in list.into_iter().flatten().filter_map(Value::as_str) {
        c.recipients.push(Recipient {
            address: address.to_string(),
            action: Some(Action::Delivered),
            status: response.as_deref().and_then(dsn::status_code),
            reason: Some(Reason::Delivered),
            diagnostic: response.clone(),
            remote_mta: remote.clone(),
        });
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn run(body: &str) -> Option<Classification> {
        let raw = format!("From: no-reply@sns.amazonaws.com\nx-amz-sns-message-id: 1\n\n{body}\n--\nfooter\n");
        notification(&MessageParser::default().parse(raw.as_bytes()).expect("parses"), Vec::new())
    }

    #[test]
    fn bounce_event() {
        let c = run(r#"{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@b.example","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]}}"#)
            .expect("an SES bounce");
        assert_eq!(c.kind, Kind::Ndr);
        assert_eq!(c.permanent, Some(true));
        assert_eq!(c.recipients[0].address, "a@b.example");
        assert_eq!(c.recipients[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(c.recipients[0].diagnostic.as_deref(), Some("550 5.1.1 user unknown"));
        assert_eq!(c.original, None);
    }

    #[test]
    fn the_original_headers_come_back() {
        let c = run(r#"{"notificationType":"Bounce","mail":{"headers":[{"name":"X-Backscatter-Sig","value":"v1.0.20000.ab.cd"},{"name":"Message-ID","value":"<m1@example.org>"}],"commonHeaders":{"messageId":"<m1@example.org>"}},"bounce":{"bounceType":"Permanent","bouncedRecipients":[{"emailAddress":"a@b.example"}]}}"#)
            .expect("an SES bounce");
        let original = c.original.expect("returned");
        assert_eq!(original.message_id.as_deref(), Some("<m1@example.org>"));
        assert_eq!(original.headers, b"X-Backscatter-Sig: v1.0.20000.ab.cd\r\nMessage-ID: <m1@example.org>\r\n");
    }

    #[test]
    fn delivery_and_complaint_events() {
        let c = run(r#"{"notificationType":"Delivery","delivery":{"recipients":["x@y.example"],"smtpResponse":"250 2.6.0 Message received"}}"#)
            .expect("an SES delivery");
        assert_eq!((c.kind, c.recipients[0].status.as_deref()), (Kind::Delivered, Some("2.6.0")));
        let c =
            run(r#"{"eventType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"z@y.example"}]}}"#)
                .expect("an SES complaint");
        assert_eq!((c.kind, c.recipients[0].address.as_str()), (Kind::Feedback, "z@y.example"));
    }

    #[test]
    fn other_bodies_are_not_notifications() {
        assert!(run("hello").is_none());
        assert!(run(r#"{"notificationType":"Received"}"#).is_none());
        assert!(run(r#"{"notificationType":"Bounce","bounce":{}}"#).is_none());
    }
}
