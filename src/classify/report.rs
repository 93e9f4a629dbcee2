//! Layer 2 for messages that carry a report (RFC 6522 `multipart/report` or its parts): RFC 3464
//! / RFC 6533 delivery status notifications with one record per recipient, completed from the
//! prose where the fields say too little; RFC 8098 disposition notifications; ARF feedback
//! reports (RFC 5965) and Microsoft's JMRP complaints; a report forwarded inside a message.

use mail_parser::{Message, MimeHeaders, PartType};

use super::headers::{self, ReportType, Signals};
use super::{dsn, finish, kind_from, lhost, original, reason, Classification, Kind, Reason, Recipient};

/// The report parts of a message (RFC 6522): a delivery-status, disposition or feedback report,
/// classified; `None` when the message has none.
pub fn delivery_or_other(message: &Message<'_>, signals: &Signals) -> Option<Classification> {
    let mut evidence = Vec::new();
    let declared = signals.report;
    let mut delivery = None;
    let mut disposition = None;
    let mut feedback = None;
    for part in message.parts.iter() {
        let Some(ct) = part.content_type() else { continue };
        if !ct.ctype().eq_ignore_ascii_case("message") {
            continue;
        }
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        let slot = match sub.as_str() {
            "delivery-status" | "global-delivery-status" => &mut delivery,
            "disposition-notification" | "global-disposition-notification" => &mut disposition,
            "feedback-report" => &mut feedback,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some((sub, part.contents()));
        }
    }
    if declared == Some(ReportType::Feedback)
        || (feedback.is_some() && declared.is_none_or(|d| d != ReportType::DeliveryStatus))
    {
        evidence.push("report-type=feedback-report".to_string());
        return Some(feedback_report(message, feedback.map(|(_, b)| b), evidence));
    }
    if declared == Some(ReportType::Disposition) || (disposition.is_some() && delivery.is_none()) {
        evidence.push("report-type=disposition-notification".to_string());
        return Some(mdn(message, disposition.map(|(_, b)| b), evidence));
    }
    let (sub, body) = match delivery {
        Some(found) => found,
        None if declared == Some(ReportType::DeliveryStatus) => ("delivery-status".to_string(), &b""[..]),
        None => return None,
    };
    evidence.push(format!("message/{sub}"));
    let parsed = dsn::parse(body);
    let mut recipients = dsn::recipients(&parsed);
    let mut inline = None;
    if recipients.iter().all(|r| r.address.is_empty()) {
        // A report with no usable recipient block: let the MTA recognisers read the text.
        if let Some(bounce) = lhost::recognise(message) {
            evidence.push(format!("lhost:{}", bounce.mta));
            if !bounce.recipients.is_empty() {
                recipients = bounce.recipients;
            }
            inline = bounce.original_headers;
        } else {
            evidence.push("no recipient fields".to_string());
        }
    } else {
        // Many MTAs put less in the report than in the prose (no Diagnostic-Code; the SMTP
        // stage that decides userunknown vs filtered): the recognisers' reading completes it,
        // else the text line that names the recipient gives the missing diagnostic.
        // Only when it can change something: it costs a recogniser pass.
        let open = |r: &Recipient| {
            r.diagnostic.is_none()
                || r.reason == Some(Reason::Undefined)
                || (r.reason == Some(Reason::UserUnknown) && !address_status(r.status.as_deref()))
        };
        if recipients.iter().any(open) {
            lhost::complete(message, &mut recipients);
        }
        for r in recipients.iter_mut().filter(|r| r.diagnostic.is_none()) {
            enrich(r, message);
        }
    }
    filtered_after_rcpt(message, parsed.per_message.get("reporting-mta"), &mut recipients);
    let kind = kind_from(&recipients).unwrap_or(Kind::Ndr);
    evidence.extend(signals.evidence());
    let correlators = original::Correlators {
        envelope_id: parsed.per_message.get("original-envelope-id"),
        original_message_id: None,
    };
    let mut c = Classification::bare(kind, evidence);
    c.original = original::locate(message, inline.as_deref(), correlators);
    finish(&mut c, recipients);
    Some(c)
}

/// Fills a DSN recipient's missing diagnostic (and a missing or generic `x.0.0` status) from
/// the text line that names it, then judges its reason again.
fn enrich(r: &mut Recipient, message: &Message<'_>) {
    let Some(diagnostic) = line_naming(message, &r.address) else { return };
    if r.status.as_deref().is_none_or(|s| s.ends_with(".0.0")) {
        if let Some(status) = dsn::status_code(&diagnostic).filter(|s| !s.ends_with(".0.0")) {
            r.status = Some(status);
        }
    }
    r.reason = Some(reason::judge(r.status.as_deref(), Some(&diagnostic)).0);
    r.diagnostic = Some(diagnostic);
}

/// Sisimai's `Reason::Filtered`: "user unknown" words without an x.1.x status and without a
/// sign that the reply came at the RCPT stage are read as the receiving side filtering the
/// message (the reply came later, e.g. after DATA), not as a bad address. Gmail's and
/// Outlook.com's relays relay only RCPT-time rejections in their DSNs (Sisimai's Lhost::Gmail
/// and Lhost::Outlook read them so), so their reports keep `userunknown`.
fn filtered_after_rcpt(message: &Message<'_>, reporting_mta: Option<&str>, recipients: &mut [Recipient]) {
    const RCPT_TIME_RELAYS: [&str; 4] = ["google.com", "googlemail.com", "hotmail.com", "outlook.com"];
    let host = reporting_mta.map(|m| dsn::strip_type(m).to_ascii_lowercase()).unwrap_or_default();
    if RCPT_TIME_RELAYS.iter().any(|d| host == *d || host.ends_with(&format!(".{d}"))) {
        return;
    }
    let candidate = |r: &Recipient| {
        r.reason == Some(Reason::UserUnknown)
            && !address_status(r.status.as_deref())
            && !address_status(r.diagnostic.as_deref().and_then(dsn::status_code).as_deref())
    };
    if !recipients.iter().any(candidate) {
        return;
    }
    let at_rcpt = |t: &str| headers::find_ci(t.as_bytes(), b"rcpt").is_some();
    let text_says_rcpt = message.parts.iter().any(|p| match &p.body {
        PartType::Text(t) => at_rcpt(original::text_prefix(t)),
        _ => false,
    });
    for r in recipients.iter_mut().filter(|r| candidate(r)) {
        if !text_says_rcpt && !r.diagnostic.as_deref().is_some_and(at_rcpt) {
            r.reason = Some(Reason::Filtered);
        }
    }
}

/// An RFC 3463 §3.2 address status (`x.1.y`): the address itself is bad.
fn address_status(status: Option<&str>) -> bool {
    status.is_some_and(|s| s.get(1..4) == Some(".1."))
}

/// The first line of a human-readable part that names `address` (with its indented
/// continuation lines), whitespace-collapsed.
fn line_naming(message: &Message<'_>, address: &str) -> Option<String> {
    if address.is_empty() {
        return None;
    }
    for part in message.parts.iter() {
        let PartType::Text(text) = &part.body else { continue };
        if part.content_type().and_then(|ct| ct.subtype()).is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers")) {
            continue;
        }
        let mut lines = original::text_prefix(text).lines();
        while let Some(line) = lines.next() {
            if headers::find_ci(line.as_bytes(), address.as_bytes()).is_none() {
                continue;
            }
            let mut found = line.to_string();
            for more in lines.by_ref().take_while(|l| l.starts_with([' ', '\t']) && !l.trim().is_empty()) {
                found.push(' ');
                found.push_str(more);
            }
            let collapsed = found.split_whitespace().collect::<Vec<_>>().join(" ");
            // A bare address line ("<a@b>") says nothing about why.
            if collapsed.trim_matches(|c| c == '<' || c == '>' || c == ':').len() > address.len() + 3 {
                return Some(collapsed);
            }
        }
    }
    None
}

/// RFC 8098 disposition notification (read receipt).
fn mdn(message: &Message<'_>, body: Option<&[u8]>, evidence: Vec<String>) -> Classification {
    let parsed = body.map(dsn::parse).unwrap_or_default();
    let mut fields = parsed.per_message.clone();
    fields.0.extend(parsed.recipients.iter().flat_map(|r| r.0.iter().cloned()));
    let mut c = Classification::bare(Kind::Mdn, evidence);
    if let Some(address) = fields.get("final-recipient").or_else(|| fields.get("original-recipient")) {
        c.recipients.push(Recipient { address: dsn::address(address), ..Recipient::default() });
    }
    let correlators =
        original::Correlators { envelope_id: None, original_message_id: fields.get("original-message-id") };
    c.original = original::locate(message, None, correlators);
    c
}

/// ARF feedback report (RFC 5965).
fn feedback_report(message: &Message<'_>, body: Option<&[u8]>, mut evidence: Vec<String>) -> Classification {
    let parsed = body.map(dsn::parse).unwrap_or_default();
    let mut fields = parsed.per_message.clone();
    fields.0.extend(parsed.recipients.iter().flat_map(|r| r.0.iter().cloned()));
    if let Some(t) = fields.get("feedback-type") {
        evidence.push(format!("Feedback-Type: {t}"));
    }
    let mut c = Classification::bare(Kind::Feedback, evidence);
    c.reason = Some(Reason::Feedback);
    if let Some(address) = fields.get("original-rcpt-to") {
        c.recipients.push(Recipient {
            address: dsn::address(address),
            reason: Some(Reason::Feedback),
            ..Recipient::default()
        });
    }
    c.original = original::locate(message, None, original::Correlators::default());
    c
}

/// Microsoft JMRP complaint (Sisimai's ARF module reads these too): the complained-about
/// message is attached; its recipient is in `X-HmXmrOriginalRecipient`.
pub fn jmrp(message: &Message<'_>, signals: &Signals) -> Classification {
    let mut c = Classification::bare(Kind::Feedback, signals.evidence());
    c.reason = Some(Reason::Feedback);
    c.original = original::locate(message, None, original::Correlators::default());
    let rcpt = c.original.as_ref().and_then(|o| crate::message::field_in(&o.headers, "X-HmXmrOriginalRecipient"));
    let rcpt = rcpt.map(|f| dsn::address(&String::from_utf8_lossy(f.raw())));
    if let Some(address) = rcpt.filter(|a| !a.is_empty()) {
        c.recipients.push(Recipient { address, reason: Some(Reason::Feedback), ..Recipient::default() });
    }
    c
}

/// The attached message that holds a delivery report, in a message that is not a report
/// itself (someone forwarded a bounce, or an MTA wrapped one).
pub fn nested<'a>(message: &'a Message<'a>) -> Option<&'a Message<'a>> {
    message.parts.iter().skip(1).find_map(|part| match &part.body {
        PartType::Message(inner) => {
            let report = inner.parts.iter().any(|p| {
                p.content_type().is_some_and(|ct| {
                    ct.ctype().eq_ignore_ascii_case("message")
                        && ct.subtype().is_some_and(|s| {
                            s.eq_ignore_ascii_case("delivery-status")
                                || s.eq_ignore_ascii_case("global-delivery-status")
                        })
                })
            }) || inner.root_part().content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("multipart")
                    && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
                    && ct.attribute("report-type").is_some_and(|t| t.to_ascii_lowercase().contains("delivery-status"))
            });
            report.then_some(inner)
        }
        _ => None,
    })
}
