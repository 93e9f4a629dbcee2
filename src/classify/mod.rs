//! Message bytes → [`Classification`]: what kind of automated mail this is (bounce, auto-reply,
//! …), why, for which recipients, and where the returned original is. Pure: no I/O, no clock.
//!
//! Layers (DESIGN §5): (1) header fast path, (2) full MIME parse and RFC 3464/6533/8098 fields,
//! (3) per-MTA recognisers then a generic fallback, (4) the returned original, (5) the reason.

pub mod autoreply;
mod bodyhint;
mod challenge;
pub mod dsn;
pub mod headers;
pub mod lhost;
pub mod original;
pub mod reason;
mod signals;
mod virus;

use std::borrow::Cow;

use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

use headers::{FastPath, ReportType, Signals};

pub use reason::Reason;

/// What kind of message this is. The serialized words are an interface (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Non-delivery report: delivery failed.
    Ndr,
    /// Delivery delayed; the MTA keeps trying.
    Delay,
    /// Success DSN (RFC 3464 action `delivered`, `relayed` or `expanded`).
    Delivered,
    /// Out-of-office / vacation reply (RFC 3834 and vendor forms).
    #[serde(rename = "autoreply")]
    AutoReply,
    /// Other machine-generated notice (`Auto-Submitted: auto-generated`) that is not a reply.
    AutoNotice,
    /// Challenge-response ("please confirm you are human") request.
    Challenge,
    /// A virus scanner's notice about a message it blocked.
    VirusNotice,
    /// Message disposition notification (read receipt, RFC 8098).
    Mdn,
    /// Abuse / feedback report (ARF, RFC 5965).
    Feedback,
    /// A bounce that someone forwarded (the report is inside a `message/rfc822`).
    ForwardedBounce,
    /// Mailing-list traffic.
    List,
    /// Anything else: mail written by a person.
    Ordinary,
}

impl Kind {
    /// The word used in JSON and logs (DESIGN §5).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ndr => "ndr",
            Kind::Delay => "delay",
            Kind::Delivered => "delivered",
            Kind::AutoReply => "autoreply",
            Kind::AutoNotice => "auto-notice",
            Kind::Challenge => "challenge",
            Kind::VirusNotice => "virus-notice",
            Kind::Mdn => "mdn",
            Kind::Feedback => "feedback",
            Kind::ForwardedBounce => "forwarded-bounce",
            Kind::List => "list",
            Kind::Ordinary => "ordinary",
        }
    }

    /// Whether a message of this kind is checked for a carrier by default (DESIGN §6): the
    /// kinds a forger can aim at us. The rest is mail we never move.
    pub fn checked_by_default(self) -> bool {
        matches!(
            self,
            Kind::Ndr
                | Kind::Delay
                | Kind::Delivered
                | Kind::AutoReply
                | Kind::Challenge
                | Kind::VirusNotice
                | Kind::Mdn
        )
    }

    /// A delivery report kind (`ndr`, `delay`, `delivered`).
    pub fn is_bounce(self) -> bool {
        matches!(self, Kind::Ndr | Kind::Delay | Kind::Delivered)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// RFC 3464 §2.3.3 `Action` of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Failed,
    Delayed,
    Delivered,
    Relayed,
    Expanded,
}

/// One recipient a report is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The recipient address (Final-Recipient, else Original-Recipient, else what the text names).
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Enhanced status code, e.g. `5.1.1` (RFC 3463).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The remote server's words (Diagnostic-Code, or the MTA's text), whitespace-collapsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_mta: Option<String>,
}

/// How the returned original was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Via {
    #[serde(rename = "message/rfc822")]
    MessageRfc822,
    #[serde(rename = "message/global")]
    MessageGlobal,
    #[serde(rename = "text/rfc822-headers")]
    TextRfc822Headers,
    #[serde(rename = "message/global-headers")]
    MessageGlobalHeaders,
    /// An MTA's own marker in the text ("------ This is a copy of the message …").
    #[serde(rename = "inline")]
    Inline,
    /// A `>`-quoted (or indented) header block in the text.
    #[serde(rename = "quoted")]
    Quoted,
    #[serde(rename = "Original-Envelope-Id")]
    OriginalEnvelopeId,
    #[serde(rename = "In-Reply-To")]
    InReplyTo,
    #[serde(rename = "References")]
    References,
    #[serde(rename = "Original-Message-ID")]
    OriginalMessageId,
    #[serde(rename = "X-MS-Exchange-Parent-Message-Id")]
    ExchangeParentMessageId,
}

/// The message a bounce or reply is about, as far as it came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Original {
    pub via: Via,
    /// Its Message-ID (or, for a correlator, the correlator's value), with angle brackets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The returned header block, raw, for the verifier to search for carriers. Empty when the
    /// original is known only through a correlator.
    #[serde(skip)]
    pub headers: Vec<u8>,
}

/// The classifier's answer for one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub kind: Kind,
    /// The bounce reason (Sisimai's names plus `greylisted`), when the kind is a bounce.
    pub reason: Option<Reason>,
    /// `Some(true)` for a permanent failure, `Some(false)` for a temporary one.
    pub permanent: Option<bool>,
    pub recipients: Vec<Recipient>,
    pub original: Option<Original>,
    /// What decided the kind, most decisive first (e.g. `report-type=delivery-status`,
    /// `lhost:exim`, `Auto-Submitted: auto-replied`). For people and logs, not for parsing.
    pub evidence: Vec<String>,
}

impl Classification {
    /// A classification with no recipients and no original.
    fn bare(kind: Kind, evidence: Vec<String>) -> Self {
        Classification { kind, reason: None, permanent: None, recipients: Vec::new(), original: None, evidence }
    }
}

/// Classifies one message. Never panics; any input gets a classification.
pub fn classify(message: &[u8]) -> Classification {
    let input = normalise(message);
    match headers::scan(&input) {
        FastPath::Ordinary => Classification::bare(Kind::Ordinary, Vec::new()),
        FastPath::List => Classification::bare(Kind::List, vec!["List-* header".to_string()]),
        FastPath::Candidate(signals) => match MessageParser::default().parse(input.as_ref()) {
            Some(parsed) => deep(&parsed, &signals),
            None => fallback(&signals, Vec::new()),
        },
    }
}

/// The input as the parsers want it: without a leading mbox `From ` line, and with CR-only
/// newlines (old Mac mail) turned into LF. Copies only when something must change.
pub fn normalise(message: &[u8]) -> Cow<'_, [u8]> {
    let mut bytes = message;
    if bytes.starts_with(b"From ") {
        // mbox separator line (RFC 4155): the message starts after its newline.
        let end = bytes.iter().position(|b| matches!(b, b'\n' | b'\r')).unwrap_or(bytes.len());
        let mut next = end;
        if bytes.get(next) == Some(&b'\r') {
            next += 1;
        }
        if bytes.get(next) == Some(&b'\n') {
            next += 1;
        }
        bytes = bytes.get(next..).unwrap_or_default();
    }
    // The first line end tells: a CR not followed by LF means CR-only newlines. LF and CRLF
    // (mixed too) mail-parser copes with; looking at one line keeps the fast path cheap.
    let first_end = bytes.iter().position(|b| matches!(b, b'\n' | b'\r'));
    let cr_only = first_end.is_some_and(|i| bytes.get(i) == Some(&b'\r') && bytes.get(i + 1) != Some(&b'\n'));
    if !cr_only {
        return Cow::Borrowed(bytes);
    }
    Cow::Owned(bytes.iter().map(|b| if *b == b'\r' { b'\n' } else { *b }).collect())
}

/// Layers 2–4 for a candidate: reports, recognisers, auto-replies.
fn deep(message: &Message<'_>, signals: &Signals) -> Classification {
    let mut evidence = Vec::new();
    if let Some(found) = report(message, signals, &mut evidence) {
        return found;
    }
    if signals.jmrp {
        return jmrp(message, signals);
    }
    if signals.vendor_notification {
        if let Some(found) = ses_complaint(message, signals) {
            return found;
        }
    }
    if nested_report(message) {
        evidence.push("delivery report inside message/rfc822".to_string());
        evidence.extend(signals.evidence());
        let mut c = Classification::bare(Kind::ForwardedBounce, evidence);
        c.original = original::locate(message, None, original::Correlators::default());
        return c;
    }
    let auto_first = !signals.bounce_like();
    if auto_first {
        if let Some(found) = auto(message, signals) {
            return found;
        }
    }
    if signals.bounce_like() {
        if let Some(bounce) = lhost::recognise(message) {
            return from_recogniser(message, bounce, signals);
        }
        if let Some(found) = auto(message, signals) {
            return found;
        }
    }
    fallback(signals, evidence)
}

/// Nothing conclusive: ordinary, or list when it has list headers.
fn fallback(signals: &Signals, _evidence: Vec<String>) -> Classification {
    if signals.list {
        Classification::bare(Kind::List, vec!["List-* header".to_string()])
    } else {
        Classification::bare(Kind::Ordinary, Vec::new())
    }
}

/// The report parts of a message (RFC 6522): a delivery-status, disposition or feedback report.
fn report(message: &Message<'_>, signals: &Signals, evidence: &mut Vec<String>) -> Option<Classification> {
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
        return Some(feedback_report(message, feedback.map(|(_, b)| b), std::mem::take(evidence)));
    }
    if declared == Some(ReportType::Disposition) || (disposition.is_some() && delivery.is_none()) {
        evidence.push("report-type=disposition-notification".to_string());
        return Some(mdn(message, disposition.map(|(_, b)| b), std::mem::take(evidence)));
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
    } else if recipients.iter().any(|r| r.diagnostic.is_none()) {
        // Some MTAs (OpenSMTPD, Courier, Domino, …) leave Diagnostic-Code out: the server's
        // words are in the human-readable part. Take them from the recogniser's reading of
        // it, else from the text line that names the recipient.
        let bounce = lhost::recognise(message);
        for r in recipients.iter_mut().filter(|r| r.diagnostic.is_none()) {
            enrich(r, bounce.as_ref(), message);
        }
    }
    let kind = kind_from(&recipients).unwrap_or(Kind::Ndr);
    evidence.extend(signals.evidence());
    let correlators = original::Correlators {
        envelope_id: parsed.per_message.get("original-envelope-id"),
        original_message_id: None,
    };
    let mut c = Classification::bare(kind, std::mem::take(evidence));
    c.original = original::locate(message, inline.as_deref(), correlators);
    finish(&mut c, recipients);
    Some(c)
}

/// Fills a DSN recipient's missing diagnostic (and a missing or generic `x.0.0` status) from
/// the text, then judges its reason again.
fn enrich(r: &mut Recipient, bounce: Option<&lhost::Bounce>, message: &Message<'_>) {
    let theirs = bounce.and_then(|b| {
        b.recipients.iter().find(|t| t.address.eq_ignore_ascii_case(&r.address)).or_else(|| {
            if b.recipients.len() == 1 {
                b.recipients.first()
            } else {
                None
            }
        })
    });
    let diagnostic = theirs.and_then(|t| t.diagnostic.clone()).or_else(|| line_naming(message, &r.address));
    let Some(diagnostic) = diagnostic else { return };
    let generic = r.status.as_deref().is_none_or(|s| s.ends_with(".0.0"));
    if generic {
        let specific = theirs.and_then(|t| t.status.clone()).or_else(|| dsn::status_code(&diagnostic));
        if let Some(status) = specific.filter(|s| !s.ends_with(".0.0")) {
            r.status = Some(status);
        }
    }
    r.reason = Some(reason::judge(r.status.as_deref(), Some(&diagnostic)).0);
    r.diagnostic = Some(diagnostic);
}

/// The first line of a human-readable part that names `address` (with its indented
/// continuation lines), whitespace-collapsed.
fn line_naming(message: &Message<'_>, address: &str) -> Option<String> {
    if address.is_empty() {
        return None;
    }
    let needle = address.to_ascii_lowercase();
    for part in message.parts.iter() {
        let PartType::Text(text) = &part.body else { continue };
        if part.content_type().and_then(|ct| ct.subtype()).is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers")) {
            continue;
        }
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            if !line.to_ascii_lowercase().contains(&needle) {
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

/// The kind a set of recipients gives: any failed → ndr; else any delayed → delay; else any
/// delivered/relayed/expanded → delivered (RFC 3464 §2.3.3).
fn kind_from(recipients: &[Recipient]) -> Option<Kind> {
    let has = |a: &[Action]| recipients.iter().any(|r| r.action.is_some_and(|x| a.contains(&x)));
    if has(&[Action::Failed]) {
        Some(Kind::Ndr)
    } else if has(&[Action::Delayed]) {
        Some(Kind::Delay)
    } else if has(&[Action::Delivered, Action::Relayed, Action::Expanded]) {
        Some(Kind::Delivered)
    } else {
        None
    }
}

/// Sets recipients and the overall reason and permanence: from the first failed recipient,
/// else the first one.
fn finish(c: &mut Classification, recipients: Vec<Recipient>) {
    let lead = recipients.iter().find(|r| r.action == Some(Action::Failed)).or_else(|| recipients.first());
    if let Some(r) = lead {
        c.reason = r.reason;
        let (_, judged) = reason::judge(r.status.as_deref(), r.diagnostic.as_deref());
        c.permanent = judged.or_else(|| dsn::permanent(r));
    }
    if c.kind == Kind::Delivered {
        c.reason = Some(Reason::Delivered);
        c.permanent = None;
    }
    c.recipients = recipients;
}

/// A non-standard bounce, as an MTA recogniser read it.
fn from_recogniser(message: &Message<'_>, bounce: lhost::Bounce, signals: &Signals) -> Classification {
    let kind = kind_from(&bounce.recipients).unwrap_or(Kind::Ndr);
    let mut evidence = vec![format!("lhost:{}", bounce.mta)];
    evidence.extend(signals.evidence());
    let mut c = Classification::bare(kind, evidence);
    c.original = original::locate(message, bounce.original_headers.as_deref(), original::Correlators::default());
    finish(&mut c, bounce.recipients);
    c
}

/// Auto-replies, challenges and virus notices.
fn auto(message: &Message<'_>, signals: &Signals) -> Option<Classification> {
    let found = autoreply::detect(message)?;
    let mut evidence = vec![found.evidence];
    evidence.extend(signals.evidence());
    let mut c = Classification::bare(found.kind, evidence);
    c.original = original::locate(message, None, original::Correlators::default());
    Some(c)
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
fn jmrp(message: &Message<'_>, signals: &Signals) -> Classification {
    let mut c = Classification::bare(Kind::Feedback, signals.evidence());
    c.reason = Some(Reason::Feedback);
    c.original = original::locate(message, None, original::Correlators::default());
    let rcpt = c.original.as_ref().and_then(|o| {
        MessageParser::default()
            .parse_headers(&o.headers)
            .and_then(|h| h.header_raw("X-HmXmrOriginalRecipient").map(dsn::address))
    });
    if let Some(address) = rcpt.filter(|a| !a.is_empty()) {
        c.recipients.push(Recipient { address, reason: Some(Reason::Feedback), ..Recipient::default() });
    }
    c
}

/// Amazon SES complaint event delivered through SNS: a JSON body with
/// `"notificationType":"Complaint"` (bounce and delivery events are the recognisers' job).
fn ses_complaint(message: &Message<'_>, signals: &Signals) -> Option<Classification> {
    // Sendmail breaks long lines with "!\n " (RFC 5322 line limit); SNS appends a signature
    // after the JSON value, so read only the first value.
    let body = message.body_text(0)?.replace("!\r\n ", "").replace("!\n ", "");
    let json: serde_json::Value = serde_json::Deserializer::from_str(body.trim()).into_iter().next()?.ok()?;
    let kind = json.get("notificationType").or_else(|| json.get("eventType"))?.as_str()?;
    if kind != "Complaint" {
        return None;
    }
    let mut c = Classification::bare(Kind::Feedback, signals.evidence());
    c.evidence.insert(0, "Amazon SES complaint notification".to_string());
    c.reason = Some(Reason::Feedback);
    let complained = json.pointer("/complaint/complainedRecipients").and_then(|v| v.as_array());
    for r in complained.into_iter().flatten() {
        if let Some(address) = r.get("emailAddress").and_then(|a| a.as_str()) {
            c.recipients.push(Recipient {
                address: address.to_string(),
                reason: Some(Reason::Feedback),
                ..Recipient::default()
            });
        }
    }
    Some(c)
}

/// A delivery report inside an attached message of a message that is not a report itself
/// (someone forwarded a bounce).
fn nested_report(message: &Message<'_>) -> bool {
    message.parts.iter().skip(1).any(|part| match &part.body {
        PartType::Message(inner) => {
            inner.parts.iter().any(|p| {
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
            })
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSN: &[u8] = include_bytes!("../../tests/fixtures/ndr/001.eml");

    fn lf(bytes: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(bytes).replace("\r\n", "\n");
        text.into_bytes()
    }

    #[test]
    fn a_dsn_is_an_ndr_whatever_the_newlines() {
        let unix = lf(DSN);
        let crlf = String::from_utf8_lossy(&unix).replace('\n', "\r\n").into_bytes();
        let cr = String::from_utf8_lossy(&unix).replace('\n', "\r").into_bytes();
        let mut mbox = b"From MAILER-DAEMON Thu Apr 29 23:34:45 2015\n".to_vec();
        mbox.extend_from_slice(&unix);
        let want = classify(&unix);
        assert_eq!(want.kind, Kind::Ndr);
        assert_eq!(want.recipients[0].address, "userunknown@bouncehammer.jp");
        for (name, variant) in [("crlf", crlf), ("cr", cr), ("mbox", mbox)] {
            let got = classify(&variant);
            assert_eq!(got.kind, want.kind, "{name}");
            assert_eq!(got.recipients, want.recipients, "{name}");
            assert_eq!(got.original.as_ref().map(|o| &o.message_id), want.original.as_ref().map(|o| &o.message_id));
        }
    }

    #[test]
    fn normalise_copies_only_cr_only_input() {
        assert!(matches!(normalise(b"A: b\r\n\r\nx"), Cow::Borrowed(_)));
        assert!(matches!(normalise(b"From x\nA: b\n\nx"), Cow::Borrowed(b"A: b\n\nx")));
        assert_eq!(normalise(b"A: b\r\rx").as_ref(), b"A: b\n\nx");
        assert_eq!(normalise(b"From only").as_ref(), b"");
    }

    #[test]
    fn truncated_bounces_never_panic() {
        for variant in [DSN.to_vec(), lf(DSN), String::from_utf8_lossy(&lf(DSN)).replace('\n', "\r").into_bytes()] {
            let mut at = 0;
            while at <= variant.len() {
                let c = classify(&variant[..at]);
                assert!(c.recipients.len() <= 1, "at {at}");
                at += 97;
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64*: deterministic, no dependency.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        for round in 0..400 {
            let len = (next() % 3000) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                // Mutate a real bounce instead: flips land in headers, boundaries and fields.
                bytes = DSN.to_vec();
                for _ in 0..(1 + next() % 20) {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
            }
            let _ = classify(&bytes);
        }
    }

    #[test]
    fn mdn_and_forwarded_bounce() {
        let mdn = classify(include_bytes!("../../tests/fixtures/mdn/001.eml"));
        assert_eq!(mdn.kind, Kind::Mdn);
        let fwd = classify(include_bytes!("../../tests/fixtures/forwarded-bounce/001.eml"));
        assert_eq!(fwd.kind, Kind::ForwardedBounce);
    }

    #[test]
    fn kinds_from_actions() {
        let r = |a| Recipient { action: Some(a), ..Recipient::default() };
        assert_eq!(kind_from(&[r(Action::Delivered), r(Action::Failed)]), Some(Kind::Ndr));
        assert_eq!(kind_from(&[r(Action::Delivered), r(Action::Delayed)]), Some(Kind::Delay));
        assert_eq!(kind_from(&[r(Action::Relayed)]), Some(Kind::Delivered));
        assert_eq!(kind_from(&[Recipient::default()]), None);
    }
}
