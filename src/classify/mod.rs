//! Message bytes → [`Classification`]: what kind of automated mail this is (bounce, auto-reply,
//! …), why, for which recipients, and where the returned original is. Pure: no I/O, no clock.
//!
//! Layers (DESIGN §5): (1) header fast path, (2) full MIME parse and RFC 3464/6533/8098 fields,
//! (3) per-MTA recognisers then a generic fallback, (4) the returned original, (5) the reason.

pub mod autoreply;
mod bodyhint;
mod challenge;
pub mod dsn;
mod fingerprints;
pub mod headers;
pub mod lhost;
pub mod original;
pub mod reason;
mod report;
mod ses;
mod signals;
mod subjects;
mod virus;

use mail_parser::{Message, MessageParser};
use serde::Serialize;

use headers::{FastPath, Signals};

pub use reason::Reason;

/// What kind of message this is. The serialized words are an interface (DESIGN §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
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
    /// Delivery failed; the MTA gave up.
    Failed,
    /// Not delivered yet; the MTA keeps trying.
    Delayed,
    /// Delivered to the recipient's mailbox.
    Delivered,
    /// Handed on to a system that sends no DSNs.
    Relayed,
    /// Delivered and forwarded to several addresses (an alias or list).
    Expanded,
}

/// One recipient a report is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// The recipient address (Final-Recipient, else Original-Recipient, else what the text names).
    pub address: String,
    /// What the MTA did for this recipient.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Enhanced status code, e.g. `5.1.1` (RFC 3463).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why it failed or was delayed, judged from the status and the diagnostic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The remote server's words (Diagnostic-Code, or the MTA's text), whitespace-collapsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostic: Option<String>,
    /// The server that gave the answer (Remote-MTA, without its `dns;` type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_mta: Option<String>,
}

/// How the returned original was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Via {
    /// An attached `message/rfc822` part (RFC 3464 §2 returned content).
    #[serde(rename = "message/rfc822")]
    MessageRfc822,
    /// An attached `message/global` part (RFC 6532 §3.7).
    #[serde(rename = "message/global")]
    MessageGlobal,
    /// A `text/rfc822-headers` part (RFC 6522 §4).
    #[serde(rename = "text/rfc822-headers")]
    TextRfc822Headers,
    /// A `message/global-headers` part (RFC 6533 §6.4).
    #[serde(rename = "message/global-headers")]
    MessageGlobalHeaders,
    /// An MTA's own marker in the text ("------ This is a copy of the message …"), an
    /// unmarked header block there, or the headers a provider's notification lists.
    #[serde(rename = "inline")]
    Inline,
    /// A `>`-quoted (or indented) header block in the text.
    #[serde(rename = "quoted")]
    Quoted,
    /// The DSN's `Original-Envelope-Id` (RFC 3464 §2.2.1): our ENVID.
    #[serde(rename = "Original-Envelope-Id")]
    OriginalEnvelopeId,
    /// The reply's `In-Reply-To`.
    #[serde(rename = "In-Reply-To")]
    InReplyTo,
    /// The last Message-ID in the reply's `References`.
    #[serde(rename = "References")]
    References,
    /// `Original-Message-ID` (RFC 8098 §3.2.5), in an MDN or as a header.
    #[serde(rename = "Original-Message-ID")]
    OriginalMessageId,
    /// Exchange's `X-MS-Exchange-Parent-Message-Id`.
    #[serde(rename = "X-MS-Exchange-Parent-Message-Id")]
    ExchangeParentMessageId,
}

/// The message a bounce or reply is about, as far as it came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Original {
    /// How it was found.
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
    /// What kind of message it is.
    pub kind: Kind,
    /// The bounce reason (Sisimai's names plus `greylisted`), when the kind is a bounce.
    pub reason: Option<Reason>,
    /// `Some(true)` for a permanent failure, `Some(false)` for a temporary one.
    pub permanent: Option<bool>,
    /// The recipients a report or recogniser names, in its order.
    pub recipients: Vec<Recipient>,
    /// The returned original, if it could be located.
    pub original: Option<Original>,
    /// What decided the kind, most decisive first (e.g. `report-type=delivery-status`,
    /// `lhost:exim`, `Auto-Submitted: auto-replied`). For people and logs, not for parsing.
    pub evidence: Vec<String>,
}

impl Classification {
    /// A classification with no recipients and no original.
    pub(crate) fn bare(kind: Kind, mut evidence: Vec<String>) -> Self {
        // Layers report what they saw independently (the fast path and `autoreply::detect` can
        // both name `Auto-Submitted`): say each thing once, in first-seen order.
        let mut seen = std::collections::HashSet::new();
        evidence.retain(|e| seen.insert(e.clone()));
        Classification { kind, reason: None, permanent: None, recipients: Vec::new(), original: None, evidence }
    }
}

/// Classifies one message. Never panics; any input gets a classification.
pub fn classify(message: &crate::message::Message<'_>) -> Classification {
    let input = message.bytes();
    match headers::scan(message) {
        FastPath::Ordinary => Classification::bare(Kind::Ordinary, Vec::new()),
        FastPath::List => Classification::bare(Kind::List, vec!["List-* header".to_string()]),
        FastPath::Candidate(signals) => {
            let flattened: Vec<u8>;
            let parsed = match contained_parse(input) {
                Ok(parsed) => parsed,
                Err(()) => {
                    flattened = flatten_nesting(input);
                    contained_parse(&flattened).ok().flatten()
                }
            };
            match parsed {
                Some(parsed) => deep(&parsed, &signals),
                None => fallback(&signals),
            }
        }
    }
}

/// mail-parser's full parse, with a panic inside it caught (`Err`). mail-parser 0.11 restores
/// nested messages with `debug_assert!(false, "Invalid part ID…")` for states it thinks cannot
/// happen, and malformed MIME reaches them: a `message/rfc822` part whose body is itself
/// `message/rfc822`, inside a multipart (a forward of a forward; tests/regression.rs builds it).
/// Release builds skip the assertion and return a best-effort parse; a build with debug
/// assertions (a library user's debug build, `cargo test`, a fuzz build) panics. Catching the
/// panic here, at the one place that parses whole messages, keeps that a library matter and not
/// a crash of `watch`. (The default panic hook still prints the assertion on stderr.)
fn contained_parse(input: &[u8]) -> Result<Option<Message<'_>>, ()> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse(input))).map_err(|_| ())
}

/// `input` with every `message/rfc822`, `message/global` and `multipart/digest` (any case)
/// neutralised by changing one letter: mail-parser then nests no message at all, so the code
/// that panicked is never reached, and byte offsets stay where they were. The report parts still
/// classify the message; carriers are searched in the raw bytes anyway (`verify::carriers`), so
/// a crafted nesting cannot turn a forged bounce into an ordinary message.
fn flatten_nesting(input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let patterns: [(&[u8], usize); 3] = [(b"message/rfc822", 0), (b"message/global", 0), (b"multipart/digest", 10)];
    for (pattern, letter) in patterns {
        let mut at = 0;
        while let Some(found) = out.get(at..).and_then(|rest| find_ignore_case(rest, pattern)) {
            if let Some(byte) = out.get_mut(at + found + letter) {
                *byte = b'x';
            }
            at += found + pattern.len();
        }
    }
    out
}

/// Where `needle` first occurs in `haystack`, ASCII case ignored.
fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

/// mail-parser configured like its default (0.11 `parsers/header.rs`) except that `Received`
/// stays raw: no layer reads it parsed, and on real bounces it costs a large share of the parse.
/// Built once: the configuration is a map.
pub(crate) fn parser() -> &'static MessageParser {
    use mail_parser::HeaderName as H;
    static PARSER: std::sync::OnceLock<MessageParser> = std::sync::OnceLock::new();
    PARSER.get_or_init(|| {
        let mut p = MessageParser::new();
        for h in [H::Subject, H::Comments, H::ContentDescription, H::ContentLocation, H::ContentTransferEncoding] {
            p = p.header_text(h);
        }
        for h in [
            H::From,
            H::To,
            H::Cc,
            H::Bcc,
            H::ReplyTo,
            H::Sender,
            H::ResentTo,
            H::ResentFrom,
            H::ResentBcc,
            H::ResentCc,
            H::ResentSender,
            H::ListArchive,
            H::ListHelp,
            H::ListId,
            H::ListOwner,
            H::ListPost,
            H::ListSubscribe,
            H::ListUnsubscribe,
        ] {
            p = p.header_address(h);
        }
        for h in [H::MessageId, H::References, H::InReplyTo, H::ReturnPath, H::ContentId, H::ResentMessageId] {
            p = p.header_id(h);
        }
        p.header_date(H::Date)
            .header_date(H::ResentDate)
            .header_comma_separated(H::Keywords)
            .header_comma_separated(H::ContentLanguage)
            .header_content_type(H::ContentType)
            .header_content_type(H::ContentDisposition)
            .header_raw(H::Received)
            .header_raw(H::MimeVersion)
    })
}

/// Layers 2–4 for a candidate: reports, recognisers, auto-replies.
fn deep(message: &Message<'_>, signals: &Signals) -> Classification {
    if let Some(found) = report::delivery_or_other(message, signals) {
        return found;
    }
    if signals.jmrp {
        return report::jmrp(message, signals);
    }
    if signals.vendor_notification {
        if let Some(found) = ses::notification(message, signals.evidence()) {
            return found;
        }
    }
    if let Some(inner) = report::nested(message) {
        // A daemon that sends a report wrapped in message/rfc822 under a bounce subject is
        // bouncing, not forwarding: read the inner report as its own.
        let daemon = signals.daemon_sender || signals.null_sender || signals.daemon_path;
        if daemon && signals.bounce_subject {
            if let Some(mut c) = report::delivery_or_other(inner, signals) {
                if c.kind.is_bounce() {
                    c.evidence.insert(0, "delivery report inside message/rfc822 from a daemon".to_string());
                    return c;
                }
            }
        }
        let mut evidence = vec!["delivery report inside message/rfc822".to_string()];
        evidence.extend(signals.evidence());
        let mut c = Classification::bare(Kind::ForwardedBounce, evidence);
        c.original = original::locate(message, None, original::Correlators::default());
        return c;
    }
    // Structure outranks hints (DESIGN §5): an MTA's own bounce format wins over auto-reply
    // signs (an Exim bounce says `Auto-Submitted: auto-replied` too). Only the generic
    // recogniser, which reads shape rather than an MTA's fingerprint, yields to auto-reply
    // signs, so that a vacation reply from a null sender is not read as a bounce.
    let bounce = if signals.bounce_like() { lhost::recognise(message) } else { None };
    let found = match bounce {
        Some(b) if b.mta != lhost::GENERIC || !signals.reply_like() => Some(from_recogniser(message, b, signals)),
        Some(b) => auto(message, signals).or_else(|| Some(from_recogniser(message, b, signals))),
        None => auto(message, signals),
    };
    found.unwrap_or_else(|| fallback(signals))
}

/// Nothing conclusive: ordinary, or list when it has list headers.
fn fallback(signals: &Signals) -> Classification {
    if signals.list {
        Classification::bare(Kind::List, vec!["List-* header".to_string()])
    } else {
        Classification::bare(Kind::Ordinary, Vec::new())
    }
}

/// The kind a set of recipients gives: any failed → ndr; else any delayed → delay; else any
/// delivered/relayed/expanded → delivered (RFC 3464 §2.3.3).
pub(crate) fn kind_from(recipients: &[Recipient]) -> Option<Kind> {
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
pub(crate) fn finish(c: &mut Classification, mut recipients: Vec<Recipient>) {
    for r in recipients.iter_mut() {
        if let Some(reason) = r.reason {
            r.reason = Some(reason::last_resort(reason, r.action == Some(Action::Delayed), r.diagnostic.as_deref()));
        }
    }
    let lead = recipients.iter().find(|r| r.action == Some(Action::Failed)).or_else(|| recipients.first());
    if let Some(r) = lead {
        c.reason = r.reason;
        // A class 4/5 status decides (RFC 3463 §3.1), greylisting always being temporary; only
        // without one is the judge asked again (it reads a reply code in the text).
        c.permanent = match r.status.as_deref().and_then(|s| s.chars().next()) {
            Some('5') => Some(r.reason != Some(Reason::Greylisted)),
            Some('4') => Some(false),
            _ => reason::judge(None, r.diagnostic.as_deref()).1,
        }
        .or_else(|| dsn::permanent(r));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::classify`] of bytes.
    fn classify(bytes: &[u8]) -> Classification {
        super::classify(&crate::message::Message::parse(bytes))
    }

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

    /// A minimal RFC 3464 report for one failed recipient.
    fn report(reporting_mta: &str, status: &str, diagnostic: &str, prose: &str) -> Vec<u8> {
        format!(
            "From: MAILER-DAEMON@mx.example\nSubject: Undelivered Mail\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\n\
Content-Type: text/plain\n\n{prose}\n--b\nContent-Type: message/delivery-status\n\n\
Reporting-MTA: dns; {reporting_mta}\n\nFinal-Recipient: rfc822; a@b.example\nAction: failed\n\
Status: {status}\nDiagnostic-Code: smtp; {diagnostic}\n\n--b--\n"
        )
        .into_bytes()
    }

    #[test]
    fn user_unknown_after_the_rcpt_stage_is_filtered() {
        let reason = |m: &[u8]| classify(m).recipients.first().and_then(|r| r.reason);
        let text = "The mail system could not deliver your message.";
        assert_eq!(reason(&report("mx.example", "5.0.0", "550 user unknown", text)), Some(Reason::Filtered));
        assert_eq!(reason(&report("mx.example", "5.1.1", "550 user unknown", text)), Some(Reason::UserUnknown));
        let rcpt = "Remote host said: 550 user unknown (in reply to RCPT TO command)";
        assert_eq!(reason(&report("mx.example", "5.0.0", "550 user unknown", rcpt)), Some(Reason::UserUnknown));
        let gmail = report("googlemail.com", "5.0.0", "550 user unknown", text);
        assert_eq!(reason(&gmail), Some(Reason::UserUnknown));
    }

    /// A plain-text Postfix bounce with the given extra header lines and sender.
    fn postfix_text(from: &str, extra: &str) -> Vec<u8> {
        format!(
            "From: {from}\nTo: a@example.org\nSubject: Undelivered Mail Returned to Sender\n{extra}\n\
This is the mail system at host mx.example.\n\nI'm sorry to have to inform you that your message could not\n\
be delivered to one or more recipients.\n\n<x@y.example>: host mx.y.example said: 550 5.1.1 <x@y.example>:\n\
    Recipient address rejected: User unknown (in reply to RCPT TO command)\n"
        )
        .into_bytes()
    }

    #[test]
    fn structure_outranks_list_and_auto_reply_hints() {
        let daemon = "MAILER-DAEMON@mx.example (Mail Delivery System)";
        for extra in [
            "List-Id: <users.lists.example>\nList-Unsubscribe: <mailto:leave@lists.example>\n",
            "Auto-Submitted: auto-replied\n",
            "Auto-Submitted: auto-replied\nX-Autoreply: yes\nPrecedence: auto_reply\n",
        ] {
            for from in [daemon, "ops@example.net", "Mail Delivery System <bounce@mx.example>"] {
                let c = classify(&postfix_text(from, extra));
                assert_eq!(c.kind, Kind::Ndr, "{from} {extra:?}: {:?}", c.evidence);
                assert_eq!(c.reason, Some(Reason::UserUnknown));
            }
        }
        // A DSN and an ARF report keep their kinds under `Auto-Submitted: auto-replied`.
        let dsn = String::from_utf8_lossy(&report("mx.example", "5.1.1", "550 5.1.1 user unknown", "x")).replacen(
            "Subject:",
            "Auto-Submitted: auto-replied\nSubject:",
            1,
        );
        assert_eq!(classify(dsn.as_bytes()).kind, Kind::Ndr);
        let arf = "From: abuse@isp.example\nAuto-Submitted: auto-replied\nSubject: abuse report\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\n--b\nContent-Type: text/plain\n\n\
complaint\n--b\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nVersion: 1\n\n--b--\n";
        assert_eq!(classify(arf.as_bytes()).kind, Kind::Feedback);
    }

    #[test]
    fn a_daemons_wrapped_report_is_a_bounce_a_persons_is_forwarded() {
        let inner = String::from_utf8_lossy(&report("mx.example", "5.1.1", "550 5.1.1 user unknown", "x")).into_owned();
        let wrap = |from: &str, subject: &str| {
            format!(
                "From: {from}\nSubject: {subject}\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n\
--o\nContent-Type: text/plain\n\nSee attached.\n--o\nContent-Type: message/rfc822\n\n{inner}\n--o--\n"
            )
        };
        let c = classify(wrap("MAILER-DAEMON@relay.example", "Undelivered Mail Returned to Sender").as_bytes());
        assert_eq!((c.kind, c.reason), (Kind::Ndr, Some(Reason::UserUnknown)), "{:?}", c.evidence);
        let c = classify(wrap("Alice <alice@example.org>", "Fwd: Undelivered Mail Returned to Sender").as_bytes());
        assert_eq!(c.kind, Kind::ForwardedBounce);
    }

    #[test]
    fn out_of_office_notices_known_only_by_their_text() {
        for body in [
            "I am out of the office until 5 May. For urgent matters, please contact carol@example.com.",
            "I'm away until Monday. In my absence, please contact carol@example.com.",
        ] {
            let mail = format!(
                "From: bob@example.com\nTo: a@example.org\nSubject: Re: invoice 42\nMIME-Version: 1.0\n\
Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}\n"
            );
            assert_eq!(classify(mail.as_bytes()).kind, Kind::AutoReply, "{body}");
        }
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
