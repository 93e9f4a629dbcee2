//! Finding the returned original in a bounce or reply (DESIGN §5 layer 4): an attached
//! `message/rfc822` / `message/global`, a `text/rfc822-headers` / `message/global-headers` part,
//! the header block an MTA recogniser found after its marker, a `>`-quoted or indented header
//! block in the text, else a correlator header that names the original.

use mail_parser::{Message, MimeHeaders, PartType};

use super::{Original, Via};

/// The returned header block is kept up to this size for the verifier.
pub const MAX_HEADERS: usize = 64 * 1024;

/// Correlators the bounce or reply may carry about its original, found elsewhere (the DSN's
/// per-message block, the MDN's fields).
#[derive(Debug, Clone, Copy, Default)]
pub struct Correlators<'a> {
    /// RFC 3464 §2.2.1 `Original-Envelope-Id` (our ENVID comes back here).
    pub envelope_id: Option<&'a str>,
    /// RFC 8098 §3.2.5 `Original-Message-ID` from a disposition report.
    pub original_message_id: Option<&'a str>,
}

/// Locates the original. `inline` is a header block a recogniser found after its MTA's marker.
pub fn locate(message: &Message<'_>, inline: Option<&[u8]>, correlators: Correlators<'_>) -> Option<Original> {
    attached(message)
        .or_else(|| inline.and_then(|h| from_headers(Via::Inline, h)))
        .or_else(|| quoted(message))
        .or_else(|| correlator(message, correlators))
}

/// A `message/rfc822` or `message/global` part (RFC 3464 §2, RFC 6533 §6.3), else a
/// `text/rfc822-headers` (RFC 6522 §4) or `message/global-headers` (RFC 6533 §6.4) part.
fn attached(message: &Message<'_>) -> Option<Original> {
    let mut headers_only = None;
    for part in message.parts.iter().skip(1) {
        let subtype = part.content_type().and_then(|ct| ct.subtype()).unwrap_or_default().to_ascii_lowercase();
        match &part.body {
            PartType::Message(inner) => {
                let via = if subtype == "global" { Via::MessageGlobal } else { Via::MessageRfc822 };
                // mail-parser 0.11: a nested message's raw bytes start at its own headers, but
                // its part offsets count from the start of the outer message.
                let root = inner.root_part();
                let len = root.raw_body_offset().saturating_sub(root.raw_header_offset()) as usize;
                let raw = inner.raw_message();
                let block = raw.get(..len).unwrap_or(raw);
                return Some(Original { via, message_id: inner.message_id().map(bracket), headers: bounded(block) });
            }
            _ if headers_only.is_none() && (subtype == "rfc822-headers" || subtype == "global-headers") => {
                let via = if subtype == "global-headers" { Via::MessageGlobalHeaders } else { Via::TextRfc822Headers };
                headers_only = from_headers(via, part.contents());
            }
            _ => {}
        }
    }
    headers_only
}

/// An original known by its header block: its Message-ID parsed out.
fn from_headers(via: Via, block: &[u8]) -> Option<Original> {
    let block = bounded(block);
    if block.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let message_id = crate::message::field_in(block.trim_ascii_start(), "Message-ID").and_then(|f| message_id(f.raw()));
    Some(Original { via, message_id, headers: block })
}

/// The `<…>` token of a raw Message-ID value (RFC 5322 §3.6.4), else its first word.
fn message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let id = match (text.find('<'), text.find('>')) {
        (Some(open), Some(close)) if open < close => text.get(open + 1..close),
        _ => text.split_whitespace().next(),
    }?;
    let id = id.trim();
    (!id.is_empty()).then(|| bracket(id))
}

/// Header names that mark the start or middle of a returned header block in a text body.
const HEADER_NAMES: &[&str] =
    &["message-id", "from", "to", "subject", "date", "received", "return-path", "cc", "mime-version", "x-"];

/// A header block quoted in a text part: lines like `> Message-ID: <…>` (or indented, or bare
/// after a marker the recognisers don't know), at least two header lines one of which is a
/// Message-ID, From or Received.
fn quoted(message: &Message<'_>) -> Option<Original> {
    message
        .parts
        .iter()
        .filter_map(|p| match &p.body {
            PartType::Text(t) => Some(t.as_ref()),
            _ => None,
        })
        .find_map(quoted_in)
}

/// How much of a text part the searches read: a returned header block or a recipient's line
/// sits near the top; a huge returned body is not worth scanning.
pub const TEXT_SCAN: usize = 256 * 1024;

/// The first [`TEXT_SCAN`] bytes of a text, cut at a character boundary.
pub fn text_prefix(text: &str) -> &str {
    if text.len() <= TEXT_SCAN {
        return text;
    }
    let mut end = TEXT_SCAN;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.get(..end).unwrap_or_default()
}

/// Scans one text for a quoted header block.
fn quoted_in(text: &str) -> Option<Original> {
    let lines: Vec<&str> = text_prefix(text).lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let Some((prefix, _)) = lines.get(i).and_then(|l| header_line(l)) else {
            i += 1;
            continue;
        };
        // Collect the run of header lines (and their folds) under the same prefix.
        let mut block = String::new();
        let mut count = 0;
        let mut key = false;
        let mut j = i;
        while let Some(line) = lines.get(j) {
            let Some(body) = line.strip_prefix(prefix) else { break };
            if let Some((_, name)) = header_line(line).filter(|(p, _)| *p == prefix) {
                count += 1;
                key |= matches!(name.as_str(), "message-id" | "from" | "received");
            } else if !(body.starts_with([' ', '\t']) && count > 0) {
                break;
            }
            block.push_str(body);
            block.push_str("\r\n");
            j += 1;
        }
        if count >= 2 && key {
            let via = if prefix.is_empty() { Via::Inline } else { Via::Quoted };
            return from_headers(via, block.as_bytes());
        }
        i = j.max(i + 1);
    }
    None
}

/// If `line` is a header line (possibly behind a `>` or indentation prefix) naming one of
/// [`HEADER_NAMES`], its prefix and the lowercased name.
fn header_line(line: &str) -> Option<(&str, String)> {
    let content_at = line.find(|c: char| !matches!(c, '>' | ' ' | '\t' | '|')).unwrap_or(line.len());
    let prefix = line.get(..content_at)?;
    let rest = line.get(content_at..)?;
    let (name, _) = rest.split_once(':')?;
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let known = HEADER_NAMES.iter().any(|h| if h.ends_with('-') { lower.starts_with(h) } else { lower == *h });
    known.then_some((prefix, lower))
}

/// A correlator header: the per-report ones first, then the bounce's or reply's own.
fn correlator(message: &Message<'_>, c: Correlators<'_>) -> Option<Original> {
    let of = |via, value: &str| {
        Some(Original { via, message_id: Some(value.trim().to_string()), headers: Vec::new() })
            .filter(|o| o.message_id.as_deref().is_some_and(|v| !v.is_empty()))
    };
    if let Some(found) = c.envelope_id.and_then(|v| of(Via::OriginalEnvelopeId, v)) {
        return Some(found);
    }
    if let Some(found) = c.original_message_id.and_then(|v| of(Via::OriginalMessageId, v)) {
        return Some(found);
    }
    let raw = |name: &'static str| message.header_raw(name).map(str::trim).filter(|v| !v.is_empty());
    if let Some(v) = raw("Original-Message-ID") {
        return of(Via::OriginalMessageId, v);
    }
    if let Some(v) = raw("X-MS-Exchange-Parent-Message-Id") {
        return of(Via::ExchangeParentMessageId, v);
    }
    if let Some(v) = raw("In-Reply-To").and_then(last_id) {
        return of(Via::InReplyTo, v);
    }
    // The last Message-ID in References is the parent (RFC 5322 §3.6.4).
    raw("References").and_then(last_id).and_then(|v| of(Via::References, v))
}

/// The last `<…>` token of a header value, or the whole value when it has none.
fn last_id(value: &str) -> Option<&str> {
    match (value.rfind('<'), value.rfind('>')) {
        (Some(open), Some(close)) if open < close => value.get(open..=close),
        _ => value.split_whitespace().last(),
    }
}

/// A Message-ID with angle brackets, as DESIGN §5's JSON shows them.
fn bracket(id: &str) -> String {
    format!("<{}>", id.trim().trim_start_matches('<').trim_end_matches('>'))
}

/// A copy of at most [`MAX_HEADERS`] bytes.
fn bounded(block: &[u8]) -> Vec<u8> {
    block.get(..MAX_HEADERS).unwrap_or(block).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MessageParser;

    fn parse(raw: &str) -> Message<'_> {
        MessageParser::default().parse(raw.as_bytes()).expect("parses")
    }

    #[test]
    fn quoted_header_block_in_text() {
        let raw = "From: postmaster@x.example\nSubject: Returned mail\n\nSorry.\n\n\
> Received: from a.example by b.example\n>   for <c@b.example>; Mon, 1 Jan 2024\n\
> Message-ID: <abc@a.example>\n> From: c@a.example\n> Subject: hi\n\nbye\n";
        let o = locate(&parse(raw), None, Correlators::default()).expect("found");
        assert_eq!(o.via, Via::Quoted);
        assert_eq!(o.message_id.as_deref(), Some("<abc@a.example>"));
        let block = String::from_utf8_lossy(&o.headers);
        assert!(block.starts_with("Received: from a.example by b.example\r\n  for <c@b.example>"), "{block}");
        assert!(block.contains("Subject: hi") && !block.contains("bye"), "{block}");
    }

    #[test]
    fn message_global_part() {
        let raw = "From: MAILER-DAEMON@x.example\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=global-delivery-status; boundary=b\n\n--b\n\
Content-Type: text/plain\n\nfailed\n--b\nContent-Type: message/global\n\n\
From: 猫 <猫@例え.jp>\nMessage-ID: <g1@例え.jp>\nSubject: こんにちは\n\nbody\n--b--\n";
        let o = locate(&parse(raw), None, Correlators::default()).expect("found");
        assert_eq!((o.via, o.message_id.as_deref()), (Via::MessageGlobal, Some("<g1@例え.jp>")));
        assert!(String::from_utf8_lossy(&o.headers).starts_with("From: 猫"));
    }

    #[test]
    fn text_prefix_cuts_at_a_character_boundary() {
        let text = "é".repeat(TEXT_SCAN);
        let cut = text_prefix(&text);
        assert!(cut.len() <= TEXT_SCAN && cut.len() >= TEXT_SCAN - 1);
        assert_eq!(text_prefix("short"), "short");
    }

    #[test]
    fn correlators_in_order() {
        let raw =
            "From: a@b.example\nIn-Reply-To: <one@x.example>\nReferences: <zero@x.example> <one@x.example>\n\nhi\n";
        let m = parse(raw);
        let o = locate(&m, None, Correlators::default()).expect("found");
        assert_eq!((o.via, o.message_id.as_deref()), (Via::InReplyTo, Some("<one@x.example>")));
        let c = Correlators { envelope_id: Some("bs1.1.2.3"), original_message_id: None };
        let o = locate(&m, None, c).expect("found");
        assert_eq!((o.via, o.message_id.as_deref()), (Via::OriginalEnvelopeId, Some("bs1.1.2.3")));
        let raw =
            "From: a@b.example\nX-MS-Exchange-Parent-Message-Id: <p@x.example>\nReferences: <r@x.example>\n\nhi\n";
        let o = locate(&parse(raw), None, Correlators::default()).expect("found");
        assert_eq!(o.via, Via::ExchangeParentMessageId);
        let raw = "From: a@b.example\nReferences: <q@x.example>\n <r@x.example>\n\nhi\n";
        let o = locate(&parse(raw), None, Correlators::default()).expect("found");
        assert_eq!((o.via, o.message_id.as_deref()), (Via::References, Some("<r@x.example>")));
    }

    #[test]
    fn inline_block_from_a_recogniser() {
        let m = parse("From: a@b.example\n\nhi\n");
        let o = locate(&m, Some(b"Message-ID: <i@x.example>\nFrom: c@d.example\n"), Correlators::default());
        let o = o.expect("found");
        assert_eq!((o.via, o.message_id.as_deref()), (Via::Inline, Some("<i@x.example>")));
    }

    #[test]
    fn attached_original_and_headers() {
        let o = locate(
            &parse(std::str::from_utf8(include_bytes!("../../tests/fixtures/delivered/001.eml")).unwrap()),
            None,
            Correlators::default(),
        )
        .expect("found");
        assert_eq!(o.via, Via::TextRfc822Headers);
        assert_eq!(o.message_id.as_deref(), Some("<20151025071802.22CC00222233@neko-222-2222.vs.example.ne.jp>"));
        let o = locate(
            &parse(std::str::from_utf8(include_bytes!("../../tests/fixtures/ndr/001.eml")).unwrap()),
            None,
            Correlators::default(),
        )
        .expect("found");
        assert_eq!(o.via, Via::MessageRfc822);
        let block = String::from_utf8_lossy(&o.headers);
        assert!(block.starts_with("Return-Path: <kijitora@example.org>"), "{block}");
        assert!(!block.trim_end().contains("\n\n"), "header block only: {block}");
    }
}
