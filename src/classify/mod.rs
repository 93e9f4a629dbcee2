//! Message bytes → [`Classification`]: what kind of automated mail this is (bounce, auto-reply,
//! …), why, for which recipients, and where the returned original is. Pure: no I/O, no clock.
//!
//! Layers (DESIGN §5): (1) header fast path, (2) full MIME parse and RFC 3464/6533/8098 fields,
//! (3) per-MTA recognisers then a generic fallback, (4) the returned original, (5) the reason.

pub mod autoreply;
mod bodyhint;
mod challenge;
pub mod lhost;
pub mod reason;
mod signals;
mod virus;

use serde::Serialize;

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

/// Classifies one message. Never panics; any input gets a classification.
pub fn classify(_message: &[u8]) -> Classification {
    Classification {
        kind: Kind::Ordinary,
        reason: None,
        permanent: None,
        recipients: Vec::new(),
        original: None,
        evidence: Vec::new(),
    }
}
