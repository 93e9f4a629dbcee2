//! Reading bounce prose: the input every recogniser shares (built once per message), and the
//! small scanners they use — addresses, SMTP reply codes, enhanced status codes (RFC 3463),
//! markers, the returned header block and "address, then its diagnostic" blocks.

use mail_parser::{Message, MimeHeaders, PartType};

use crate::classify::reason;
use crate::classify::{Action, Reason, Recipient};

/// How much of the text fingerprint tests read: a bounce's own prose comes first, the returned
/// message (which may be megabytes) after it, and a dozen recognisers each test a few phrases.
const HEAD: usize = 32 * 1024;

/// How much text is kept at all: the report and the returned header block are well inside it.
const KEEP: usize = 256 * 1024;

/// What the recognisers look at, extracted from the parsed message once.
pub struct Input {
    /// `From` address and display name, ASCII-lowercased.
    pub from: String,
    /// `Subject`, ASCII-lowercased.
    pub subject: String,
    /// Decoded text of the text/* parts outside any `message/rfc822`, joined, with `\n` newlines,
    /// at most about [`KEEP`] bytes. HTML parts are reduced to their text.
    pub text: String,
    /// `text` ASCII-lowercased: same byte offsets, so positions found here index `text`.
    pub lower: String,
    /// Addresses from `X-Failed-Recipients` (Exim and others).
    pub failed: Vec<String>,
    /// Addresses in `To` and `From`: the bounce's own parties, never a failed recipient.
    pub parties: Vec<String>,
    /// `Return-Path: <>` (RFC 5321 §4.5.5: bounces are sent with a null reverse path).
    pub null_sender: bool,
    /// `Return-Path` names a mailer-daemon or postmaster instead.
    daemon_path: bool,
}

impl Input {
    /// Builds the input from a parsed message. Never panics.
    pub fn new(message: &Message<'_>) -> Input {
        let from = message
            .from()
            .and_then(|a| a.first())
            .map(|a| {
                let name = a.name().unwrap_or_default();
                let addr = a.address().unwrap_or_default();
                format!("{name} <{addr}>")
            })
            .unwrap_or_default()
            .to_ascii_lowercase();
        let subject = message.subject().unwrap_or_default().to_ascii_lowercase();
        let mut text = String::new();
        for part in &message.parts {
            if text.len() >= KEEP {
                break;
            }
            let ctype = part
                .content_type()
                .map(|c| {
                    let sub = c.subtype().unwrap_or_default();
                    format!("{}/{}", c.ctype(), sub).to_ascii_lowercase()
                })
                .unwrap_or_default();
            // The returned headers of text/rfc822-headers are the original, not the report.
            if ctype.ends_with("rfc822-headers") || ctype.ends_with("global-headers") {
                continue;
            }
            match &part.body {
                PartType::Text(t) => push_normalised(&mut text, t),
                PartType::Html(h) => push_normalised(&mut text, &html_to_text(h)),
                _ => {}
            }
        }
        let lower = text.to_ascii_lowercase();
        let failed = message
            .header_raw("X-Failed-Recipients")
            .map(|v| v.split(',').filter_map(address_in).collect())
            .unwrap_or_default();
        let mut parties: Vec<String> = Vec::new();
        for name in ["To", "From", "Delivered-To", "X-Original-To"] {
            if let Some(v) = message.header_raw(name) {
                parties.extend(addresses_in(v));
            }
        }
        let path = message.header_raw("Return-Path").map(|p| p.trim().to_ascii_lowercase()).unwrap_or_default();
        let null_sender = path == "<>";
        let daemon_path = ["<mailer-daemon", "<postmaster@", "<mailer_daemon"].iter().any(|d| path.starts_with(d));
        Input { from, subject, text, lower, failed, parties, null_sender, daemon_path }
    }

    /// Whether the sender looks like a bounce daemon (RFC 5321 §4.5.5 null sender aside, the
    /// conventional local parts and display names), or the Return-Path names one
    /// (`<MAILER-DAEMON>`: a bounce copied or re-sent with a named envelope sender).
    pub fn sent_by_daemon(&self) -> bool {
        const SENDERS: [&str; 11] = [
            "mailer-daemon",
            "postmaster",
            "mail delivery",
            "mailer_daemon",
            "maildaemon",
            "mail administrator",
            "<bounce@",
            "<bounces@",
            "<microsoftexchange",
            "mail-daemon",
            "interscan",
        ];
        self.daemon_path || SENDERS.iter().any(|p| self.from.contains(p))
    }

    /// Byte offset in `text` of the first of `markers` (lowercase) found, with the marker's length.
    pub fn find(&self, markers: &[&str]) -> Option<(usize, usize)> {
        markers.iter().filter_map(|m| self.lower.find(m).map(|i| (i, m.len()))).min_by_key(|&(i, _)| i)
    }

    /// Whether `address` is one of the bounce's own parties (its `To`, `From`, …).
    pub fn is_party(&self, address: &str) -> bool {
        self.parties.iter().any(|p| p.eq_ignore_ascii_case(address))
    }

    /// Whether the first [`HEAD`] bytes of the text contain any of `needles` (lowercase): the
    /// cheap fingerprint test.
    pub fn has(&self, needles: &[&str]) -> bool {
        let mut end = self.lower.len().min(HEAD);
        while !self.lower.is_char_boundary(end) {
            end -= 1;
        }
        let head = self.lower.get(..end).unwrap_or_default();
        needles.iter().any(|n| head.contains(n))
    }

    /// The text between the end of the first `start` marker (or the beginning) and the first
    /// `end` marker after it (or the end).
    pub fn section(&self, start: &[&str], end: &[&str]) -> &str {
        let from = match self.find(start) {
            Some((i, len)) => i + len,
            None => 0,
        };
        let rest_lower = self.lower.get(from..).unwrap_or_default();
        let to = end.iter().filter_map(|m| rest_lower.find(m)).min().map_or(self.text.len(), |i| from + i);
        self.text.get(from..to).unwrap_or_default()
    }

    /// The returned header block after the first of `markers`: the lines after the marker's line
    /// (leading blank lines skipped) up to the first blank line, if they start like a header.
    pub fn original_after(&self, markers: &[&str]) -> Option<Vec<u8>> {
        let (i, len) = self.find(markers)?;
        let rest = self.text.get(i + len..)?;
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        header_block(rest)
    }
}

/// The header block at the start of `s` (after blank lines): lines up to the first blank line,
/// when the first looks like `Name: value`.
pub fn header_block(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_start_matches(['\n', ' ', '\t']);
    let first = s.lines().next()?;
    let colon = first.find(':')?;
    let name = first.get(..colon)?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return None;
    }
    let end = s.find("\n\n").map_or(s.len(), |i| i + 1);
    Some(s.get(..end)?.as_bytes().to_vec())
}

/// Appends `t` with CRLF and lone CR turned into LF, and a separating newline; stops at
/// [`KEEP`] bytes in all.
fn push_normalised(out: &mut String, t: &str) {
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= KEEP {
            break;
        }
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out.push('\n');
}

/// Crude HTML → text: tags dropped (block tags become newlines), common entities decoded.
/// Enough for Exchange/Office 365 NDR bodies, which state addresses and codes as plain text.
fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let t = tag.trim_start_matches('/').to_ascii_lowercase();
                if ["br", "p", "div", "tr", "li", "td", "h"].iter().any(|b| t.starts_with(b)) {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

/// Characters allowed in the local part of an unquoted address (RFC 5322 §3.2.3 atext plus `.`).
fn local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b)
}

/// Characters allowed in a domain (letters, digits, hyphen, dot, and brackets for literals).
fn domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

/// All addresses in `s`, in order, as written (case kept), deduplicated case-insensitively.
pub fn addresses_in(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let mut out: Vec<String> = Vec::new();
    for (at, _) in s.match_indices('@') {
        let mut start = at;
        while start > 0 && bytes.get(start - 1).is_some_and(|&b| local_char(b)) {
            start -= 1;
        }
        let mut end = at + 1;
        while bytes.get(end).is_some_and(|&b| domain_char(b)) {
            end += 1;
        }
        let (Some(local), Some(domain)) = (s.get(start..at), s.get(at + 1..end)) else { continue };
        let local = local.trim_start_matches(['.', '/', '=']);
        let domain = domain.trim_end_matches(['.', '-']);
        if local.is_empty() || domain.is_empty() || !domain.contains('.') && domain != "localhost" {
            continue;
        }
        let addr = format!("{local}@{domain}");
        if !out.iter().any(|a| a.eq_ignore_ascii_case(&addr)) {
            out.push(addr);
        }
    }
    out
}

/// The first address in `s`.
pub fn address_in(s: &str) -> Option<String> {
    addresses_in(s).into_iter().next()
}

/// If the whole (trimmed) line is one address — bare, `<addr>`, `<addr>:`, `addr:` or
/// `"Name" <addr>` — that address.
pub fn address_line(line: &str) -> Option<String> {
    let t = line.trim().trim_end_matches([':', ',', ';']).trim();
    // GMX quotes the address: `"a@b":`.
    let t = t.strip_prefix('"').and_then(|u| u.strip_suffix('"')).unwrap_or(t);
    let addr = address_in(t)?;
    let bare = t.trim_start_matches('<').trim_end_matches('>');
    if bare.eq_ignore_ascii_case(&addr) {
        return Some(addr);
    }
    // `Name <addr>` / `"Name" <addr>`
    // `Name <addr>`, where the name is a phrase, not protocol text ("… RCPT TO:<addr>").
    let open = t.rfind('<')?;
    let name = t.get(..open)?;
    if t.ends_with('>')
        && t.get(open + 1..t.len() - 1) == Some(addr.as_str())
        && !name.contains([':', '@', '<', '>', '('])
        && name.split_whitespace().count() <= 4
    {
        return Some(addr);
    }
    None
}

/// The first failure status code (RFC 3463 `class.subject.detail`, class 4 or 5) in `s`;
/// success codes (class 2) quoted in a diagnostic are noise.
pub fn status_in(s: &str) -> Option<String> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if !matches!(c, b'4' | b'5') || b.get(i + 1) != Some(&b'.') {
            continue;
        }
        if i > 0 && b.get(i - 1).is_some_and(|p| p.is_ascii_alphanumeric() || *p == b'.') {
            continue;
        }
        let mut j = i + 2;
        let subj = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j == subj || j - subj > 3 || b.get(j) != Some(&b'.') {
            continue;
        }
        j += 1;
        let det = j;
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        if j == det || j - det > 3 {
            continue;
        }
        // Not part of a longer dotted number (an IP address, a version).
        if b.get(j) == Some(&b'.') && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        if b.get(j).is_some_and(|n| n.is_ascii_alphanumeric()) {
            continue;
        }
        return s.get(i..j).map(str::to_string);
    }
    None
}

/// The first SMTP reply code (RFC 5321 §4.2: three digits, first 4 or 5) standing alone in `s`.
pub fn reply_code_in(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    for i in 0..b.len() {
        let Some(w) = b.get(i..i + 3) else { break };
        if !matches!(w[0], b'4' | b'5') || !w[1].is_ascii_digit() || !w[2].is_ascii_digit() || w[1] > b'5' {
            continue;
        }
        if i > 0
            && b.get(i - 1)
                .is_some_and(|p| p.is_ascii_alphanumeric() || matches!(p, b'.' | b'-' | b'/' | b'=' | b':' | b'+'))
        {
            continue;
        }
        match b.get(i + 3) {
            None | Some(b' ' | b'-' | b'\t' | b'\n' | b',' | b')') => {}
            _ => continue,
        }
        return Some(u16::from(w[0] - b'0') * 100 + u16::from(w[1] - b'0') * 10 + u16::from(w[2] - b'0'));
    }
    None
}

/// `s` with every run of whitespace turned into one space, trimmed.
pub fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The remote host an MTA names in its diagnostic (`host mx.example.jp [192.0.2.1]`,
/// `remote host 192.0.2.1 said`, `While talking to mx.example.jp`).
pub fn remote_mta_in(diag: &str) -> Option<String> {
    let lower = diag.to_ascii_lowercase();
    for key in ["host ", "while talking to ", "remote server ", "remote host "] {
        let Some(i) = lower.find(key) else { continue };
        let word = diag.get(i + key.len()..)?.split_whitespace().next()?;
        // Postfix writes `host mx.example.jp[192.0.2.1] said:`.
        let word = word.split('[').next().unwrap_or(word);
        let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-' && c != ':');
        let word = word.trim_end_matches([':', '.']);
        if word.contains('.') && word.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
        {
            return Some(word.to_ascii_lowercase());
        }
    }
    None
}

/// Splits a section into "address line, then its diagnostic lines" blocks (Exim, qmail, Yahoo
/// and many others print failed recipients this way). Lines before the first address are
/// dropped; `stop` lines (lowercase prefixes, after trimming) end the current block's text.
pub fn address_blocks(section: &str, stop: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for line in section.lines() {
        if let Some(addr) = address_line(line) {
            out.push((addr, String::new()));
            open = true;
            continue;
        }
        let trimmed = line.trim();
        let lower = trimmed.to_ascii_lowercase();
        if !trimmed.is_empty() && stop.iter().any(|s| lower.starts_with(s)) {
            open = false;
        }
        if let (true, Some((_, diag))) = (open, out.last_mut()) {
            diag.push_str(trimmed);
            diag.push('\n');
        }
    }
    out
}

/// Splits a section into "`<address>: text`" blocks (Postfix, Amavis, Courier): a block starts
/// at a line that begins with an address followed by `:`; it takes the rest of that line and
/// the following lines, up to the next such line or a blank line followed by unindented prose
/// (SMTP dialogue lines `>>>` / `<<<` and indented lines continue the block).
pub fn colon_blocks(section: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = section.lines().collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut open = false;
    for (i, line) in lines.iter().enumerate() {
        if let Some((addr, rest)) = colon_start(line) {
            out.push((addr, format!("{rest}\n")));
            open = true;
            continue;
        }
        if line.trim().is_empty() {
            let next = lines.iter().skip(i + 1).find(|l| !l.trim().is_empty());
            let continues =
                next.is_some_and(|l| l.starts_with([' ', '\t']) || l.starts_with(">>>") || l.starts_with("<<<"));
            open = open && continues && out.last().is_some_and(|(_, d)| d.trim().is_empty() || continues);
            continue;
        }
        if let (true, Some((_, diag))) = (open, out.last_mut()) {
            diag.push_str(line.trim());
            diag.push('\n');
        }
    }
    out
}

/// `<a@b>: rest` or `a@b: rest` at the start of a line (after indentation): the address and
/// the rest of the line.
pub fn colon_start(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start();
    let (head, rest) = if let Some(r) = t.strip_prefix('<') {
        let close = r.find(">:")?;
        (r.get(..close)?, r.get(close + 2..)?)
    } else {
        let colon = t.find(':')?;
        let head = t.get(..colon)?;
        if head.contains(char::is_whitespace) {
            return None;
        }
        (head, t.get(colon + 1..)?)
    };
    let addr = address_in(head)?;
    head.eq_ignore_ascii_case(&addr).then(|| (addr, rest.trim()))
}

/// Phrases of delay notices ("we keep trying"), for recognisers whose format has no distinct
/// delay wording of its own.
pub const DELAY: &[&str] = &[
    "will keep trying",
    "will continue trying",
    "will be retried",
    "still trying",
    "not yet been delivered",
    "warning message only",
    "delivery is delayed",
    "has been delayed",
    "could not send mail for past",
];

/// Builds one recipient: status and remote MTA from the diagnostic where it states them, reason
/// and permanence from [`reason::judge`].
pub fn recipient(address: &str, diagnostic: &str, action: Action) -> Recipient {
    let diagnostic = collapse(diagnostic);
    let status = status_in(&diagnostic);
    let diag = (!diagnostic.is_empty()).then_some(diagnostic.as_str());
    let (reason, _) = reason::judge(status.as_deref(), diag);
    // A delay notice that names no cause is about time running out (Sisimai: expired).
    let reason = match (action, reason) {
        (Action::Delayed, Reason::Undefined | Reason::SystemError) => Reason::Expired,
        (_, r) => r,
    };
    Recipient {
        address: address.to_string(),
        action: Some(action),
        status,
        reason: Some(reason),
        remote_mta: remote_mta_in(&diagnostic),
        diagnostic: diag.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_not_ip_addresses() {
        assert_eq!(status_in("host [192.0.2.153]: 550 5.1.1 <a@b.c>").as_deref(), Some("5.1.1"));
        assert_eq!(status_in("192.0.2.153 said"), None);
        assert_eq!(status_in("(#5.5.0)").as_deref(), Some("5.5.0"));
        assert_eq!(reply_code_in("host mx [192.0.2.153]: 550 5.1.1 User"), Some(550));
        assert_eq!(reply_code_in("port 25, id 5501"), None);
    }

    #[test]
    fn address_lines() {
        assert_eq!(address_line("  <kijitora@example.jp>:").as_deref(), Some("kijitora@example.jp"));
        assert_eq!(address_line("  kijitora@example.jp").as_deref(), Some("kijitora@example.jp"));
        assert_eq!(address_line("550 <kijitora@example.jp>... User unknown"), None);
        assert_eq!(address_line("SMTP error from remote mail server after RCPT TO:<k@example.jp>:"), None);
        assert_eq!(address_line("\"Neko\" <neko@example.jp>").as_deref(), Some("neko@example.jp"));
    }

    #[test]
    fn colon_blocks_keep_smtp_dialogue() {
        let text =
            "<a@example.jp>:\n    mx.example.jp [192.0.2.45]:\n\n>>> DATA\n<<< 550 Unknown user\n\nIf your message…\n";
        let blocks = colon_blocks(text);
        assert_eq!(blocks.len(), 1);
        assert!(blocks[0].1.contains("550 Unknown user"), "{blocks:?}");
        let postfix =
            "<b@example.jp>: host mx[192.0.2.1] said: 550 5.1.1 User unknown (in reply to\n    RCPT TO command)\n";
        assert_eq!(colon_blocks(postfix)[0].0, "b@example.jp");
    }

    #[test]
    fn remote_mta() {
        assert_eq!(remote_mta_in("host mx.example.jp [192.0.2.153]: 550").as_deref(), Some("mx.example.jp"));
        assert_eq!(remote_mta_in("host mx01.example.jp[192.0.2.8] said: 550").as_deref(), Some("mx01.example.jp"));
    }
}
