//! The facts about a candidate that the auto-reply, challenge and virus-notice tests share: its
//! top-level headers, normalised subject, sender addresses and the start of its first text part.

use mail_parser::Message;

/// How much normalised body text (bytes) the phrase tables look at. Auto-replies, challenges and
/// scanner notices say what they are in the first few lines; further down is quoted or returned
/// mail written by someone else.
const BODY_TOP_BYTES: usize = 1500;

/// Lines that start the quoted or forwarded original in a reply: everything after is someone
/// else's text (Outlook, Thunderbird, Apple Mail and their localisations).
const ORIGINAL_MARKERS: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-------- original message --------",
    "begin forwarded message",
    "---------- forwarded message",
    "-----ursprüngliche nachricht-----",
    "-----message d'origine-----",
    "-----mensaje original-----",
    "-----messaggio originale-----",
    "-----oorspronkelijk bericht-----",
];

/// Senders that are machines rather than people (local part of From:).
const MACHINE_LOCAL_PARTS: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "noreply",
    "no-reply",
    "donotreply",
    "do-not-reply",
    "autoreply",
    "auto-reply",
    "autoresponder",
    "vacation",
];

/// Reply and forward prefixes in several languages (RFC 5322 §3.6.5 "Re:" and its localisations).
const REPLY_PREFIXES: &[&str] = &[
    "re", "aw", "sv", "vs", "antw", "antwort", "r", "rif", "ref", "réf", "fw", "fwd", "wg", "tr", "rv", "enc", "res",
    "odp", "vá", "ynt", "回复", "答复", "转发", "返信",
];

/// What [`super::autoreply::detect`] and its siblings read from one parsed message.
pub(crate) struct Signals<'a> {
    message: &'a Message<'a>,
    /// Decoded subject, lowercased, whitespace collapsed.
    pub subject: String,
    /// The subject (after `[list]` tags) starts with a reply or forward prefix.
    pub subject_is_reply: bool,
    /// The first text part, unquoted, lowercased, whitespace collapsed, up to the original.
    pub body_top: String,
    /// `Auto-Submitted` keyword, lowercased, without comments or parameters (RFC 3834 §5).
    pub auto_submitted: Option<String>,
    /// `Precedence` value, lowercased.
    pub precedence: Option<String>,
    /// A header that says a machine sent this (evidence text), if any. Weak on its own.
    pub automated: Option<String>,
    /// From, Reply-To and Sender addresses, lowercased.
    pub addresses: Vec<String>,
}

impl<'a> Signals<'a> {
    pub(crate) fn new(message: &'a Message<'a>) -> Self {
        let subject = message.subject().map(normalise).unwrap_or_default();
        let subject_is_reply = starts_with_reply_prefix(unlisted(&subject));
        let auto_submitted = message.header_raw("Auto-Submitted").map(keyword);
        let precedence = message.header_raw("Precedence").map(|v| v.trim().to_ascii_lowercase());
        let addresses: Vec<String> = [message.from(), message.reply_to(), message.sender()]
            .into_iter()
            .flatten()
            .filter_map(|a| a.first()?.address())
            .map(str::to_lowercase)
            .collect();
        let mut signals = Signals {
            message,
            subject,
            subject_is_reply,
            body_top: body_top(message),
            auto_submitted,
            precedence,
            automated: None,
            addresses,
        };
        signals.automated = signals.automation_header();
        signals
    }

    /// A top-level header's raw value, trimmed (first occurrence).
    pub(crate) fn header(&self, name: &'static str) -> Option<&'a str> {
        self.message.header_raw(name).map(str::trim)
    }

    /// The subject without leading `[list]` tags.
    pub(crate) fn subject_unlisted(&self) -> &str {
        unlisted(&self.subject)
    }

    /// Headers that only machines set, none decisive alone.
    fn automation_header(&self) -> Option<String> {
        if let Some(value) = self.auto_submitted.as_deref().filter(|v| *v != "no") {
            return Some(format!("Auto-Submitted: {value}"));
        }
        // Precedence: junk is what vacation(1) and most autoresponders set; bulk/list is list mail.
        if matches!(self.precedence.as_deref(), Some("junk" | "auto_reply")) {
            return Some(format!("Precedence: {}", self.precedence.as_deref().unwrap_or_default()));
        }
        // RFC 5321 §4.5.5: notifications go out with a null reverse-path.
        if self.header("Return-Path") == Some("<>") {
            return Some("Return-Path: <>".to_string());
        }
        // Exchange marks messages its own agents (OOF, inbox rules) generate.
        for name in
            ["X-Auto-Response-Suppress", "X-MS-Exchange-Generated-Message-Source", "X-MS-Exchange-Inbox-Rules-Loop"]
        {
            if self.header(name).is_some() {
                return Some(name.to_string());
            }
        }
        let from = self.addresses.first()?;
        let local = from.split('@').next().unwrap_or_default();
        MACHINE_LOCAL_PARTS.iter().find(|m| local == **m).map(|m| format!("From: {m}"))
    }
}

/// Lowercases and collapses runs of whitespace to one space; typographic apostrophes become `'`.
pub(crate) fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_normalised(&mut out, text);
    out
}

fn push_normalised(out: &mut String, text: &str) {
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars().flat_map(char::to_lowercase) {
            out.push(if c == '\u{2019}' { '\'' } else { c });
        }
    }
}

/// The RFC 3834 keyword: `auto-replied (vacation)` → `auto-replied`.
fn keyword(value: &str) -> String {
    let value = value.trim();
    let end = value.find([';', '(', ' ', '\t', '\r', '\n']).unwrap_or(value.len());
    value.get(..end).unwrap_or_default().to_ascii_lowercase()
}

/// Strips leading `[list]` tags from a normalised subject.
fn unlisted(mut subject: &str) -> &str {
    while let Some(rest) = subject.strip_prefix('[') {
        match rest.find(']') {
            Some(end) => subject = rest.get(end + 1..).unwrap_or_default().trim_start(),
            None => break,
        }
    }
    subject
}

/// `re:`, `AW:`, `Re[2]:`, `回复：`… at the start of a normalised subject.
fn starts_with_reply_prefix(subject: &str) -> bool {
    let Some(end) = subject.find([':', '：']) else { return false };
    let head = subject.get(..end).unwrap_or_default().trim();
    let head = head.split(['[', '(']).next().unwrap_or_default().trim();
    REPLY_PREFIXES.contains(&head)
}

/// The first text part: unquoted lines, normalised, stopping at the quoted original.
fn body_top(message: &Message<'_>) -> String {
    let Some(text) = message.body_text(0) else { return String::new() };
    // Bound the work on huge single-line bodies: the top is all that is wanted.
    let end = text.char_indices().nth(BODY_TOP_BYTES * 4).map_or(text.len(), |(i, _)| i);
    let text = text.get(..end).unwrap_or_default();
    let mut out = String::with_capacity(BODY_TOP_BYTES + 200);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('>') || line.starts_with('|') {
            continue;
        }
        let lower = line.to_lowercase();
        if ORIGINAL_MARKERS.iter().any(|m| lower.starts_with(m))
            || lower.ends_with(" wrote:")
            || lower.ends_with(" schrieb:")
            || lower.ends_with(" a écrit :")
        {
            break;
        }
        push_normalised(&mut out, line);
        if out.len() >= BODY_TOP_BYTES {
            break;
        }
    }
    out
}

/// Whether `text` contains any of the phrases.
pub(crate) fn contains_any(text: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| text.contains(p))
}

/// The first phrase found in `text`, as evidence `where:phrase`.
pub(crate) fn first_hit(place: &str, text: &str, phrases: &[&str]) -> Option<String> {
    phrases.iter().find(|p| text.contains(*p)).map(|p| format!("{place}:{p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_strips_comments_and_parameters() {
        assert_eq!(keyword(" Auto-Replied (vacation)\r\n"), "auto-replied");
        assert_eq!(keyword("auto-generated; owner-email=\"x@y\""), "auto-generated");
        assert_eq!(keyword("no"), "no");
    }

    #[test]
    fn reply_prefixes_and_list_tags() {
        assert!(starts_with_reply_prefix(unlisted("[ilug] re: x")));
        assert!(starts_with_reply_prefix("aw: x"));
        assert!(starts_with_reply_prefix("re[2]: x"));
        assert!(!starts_with_reply_prefix("automatic reply: re: x"));
        assert!(!starts_with_reply_prefix("lunch"));
        assert_eq!(unlisted("[a] [b] hello"), "hello");
        assert_eq!(unlisted("[unclosed hello"), "[unclosed hello");
    }

    #[test]
    fn normalise_collapses_and_lowercases() {
        assert_eq!(normalise("  I\u{2019}m   OUT\r\n of the\toffice "), "i'm out of the office");
    }
}
