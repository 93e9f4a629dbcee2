//! What is stamped on outgoing mail, decided without I/O: the signature header, a signed
//! Message-ID when there is none, the BATV tag on the envelope sender and the signed ENVID
//! (DESIGN §4, §8, §8b). The sendmail drop-in and the milter both stamp through here.
//!
//! The drop-in never changes the message bytes: its [`Stamp`] is a block of header lines
//! inserted at one offset, written with the message's own line ending. The milter adds the same
//! [`fields`] through the MTA.

use std::fmt;
use std::io::{self, Write};

use super::{batv, header, msgid, Key};
use crate::config::Sign;
use crate::day::Day;

/// The added header lines and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    /// Byte offset in the message where `lines` are inserted: 0, or after a leading mbox
    /// `From ` line (which the real sendmail skips, so our header must come after it).
    pub at: usize,
    /// Complete header lines, each ending with the message's line ending.
    pub lines: Vec<u8>,
}

impl Stamp {
    /// Writes the stamped message to `out`: `message` with `lines` inserted at `at`, without
    /// copying the message in memory.
    pub fn write_to(&self, message: &[u8], out: &mut impl Write) -> io::Result<()> {
        let (head, tail) = message.split_at(self.at.min(message.len()));
        out.write_all(head)?;
        out.write_all(&self.lines)?;
        out.write_all(tail)
    }
}

/// The header fields stamped on a message signed with `key` on `day`, in order, as (name,
/// value): the signature header named `sign.header` (to go first in the header), then, when
/// `sign.message_id` is on and the message `has_message_id` not, a signed Message-ID under
/// `domain`. `nonce` is the caller's random number.
pub fn fields(
    sign: &Sign,
    domain: &str,
    key: &Key<'_>,
    day: Day,
    nonce: u64,
    has_message_id: bool,
) -> Vec<(String, String)> {
    let mut fields = vec![(sign.header.clone(), header::make(key, day, nonce))];
    if sign.message_id && !has_message_id {
        fields.push(("Message-ID".to_owned(), msgid::make_message_id(key, day, nonce, domain)));
    }
    fields
}

/// The stamp for `message`: its [`fields`] as header lines at the top, after a leading mbox
/// `From ` line.
pub fn stamp(message: &[u8], sign: &Sign, domain: &str, key: &Key<'_>, day: Day, nonce: u64) -> Stamp {
    let newline: &[u8] = if uses_crlf(message) { b"\r\n" } else { b"\n" };
    let mut lines = Vec::new();
    for (name, value) in fields(sign, domain, key, day, nonce, has_field(message, b"message-id")) {
        lines.extend_from_slice(name.as_bytes());
        lines.extend_from_slice(b": ");
        lines.extend_from_slice(value.as_bytes());
        lines.extend_from_slice(newline);
    }
    let at = after_mbox_from(message);
    // A first line starting with a blank would read as a continuation of our last header and be
    // swallowed by it; it was never a header (RFC 5322 §2.2.3), so it is body: say so with the
    // empty line that ends the header section.
    if matches!(message.get(at), Some(b' ' | b'\t')) {
        lines.extend_from_slice(newline);
    }
    Stamp { at, lines }
}

/// True if the message's first line ends in CRLF: added lines then use CRLF too.
fn uses_crlf(message: &[u8]) -> bool {
    match message.iter().position(|&b| b == b'\n') {
        Some(n) => n > 0 && message.get(n - 1) == Some(&b'\r'),
        None => false,
    }
}

/// The offset after a leading mbox `From ` line (Postfix and sendmail 8 skip one), else 0.
fn after_mbox_from(message: &[u8]) -> usize {
    if !message.starts_with(b"From ") {
        return 0;
    }
    message.iter().position(|&b| b == b'\n').map_or(message.len(), |n| n + 1)
}

/// True if the header section has a field named `name` (any case). The header section ends
/// at the first empty line or at the first line that is neither a field nor a continuation
/// (RFC 5322 §2.2; how Postfix's cleanup decides where the body starts).
fn has_field(message: &[u8], name: &[u8]) -> bool {
    let start = after_mbox_from(message);
    for line in message.get(start..).unwrap_or(&[]).split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        match line.iter().position(|&b| b == b':').and_then(|colon| line.get(..colon)) {
            // RFC 5322 §4.5.3 (obsolete syntax): blanks may come before the colon.
            Some(field) if is_field_name(field.trim_ascii_end()) => {
                if field.trim_ascii_end().eq_ignore_ascii_case(name) {
                    return true;
                }
            }
            _ => return false,
        }
    }
    false
}

/// RFC 5322 §3.6.8 field name: printable ASCII except `:`, at least one character.
fn is_field_name(field: &[u8]) -> bool {
    !field.is_empty() && field.iter().all(|&b| (33..=126).contains(&b) && b != b':')
}

/// What happens to the envelope sender, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderTag {
    /// Tagged: the new envelope sender.
    Tagged(String),
    /// `sign.batv` is off.
    Disabled,
    /// The null sender `<>` (a bounce we are sending): never tagged.
    Null,
    /// Already a `prvs=` address: never tagged twice.
    AlreadyTagged,
    /// No domain, and none to add (no `myorigin`, no host name).
    NoDomain,
    /// The domain is not in `protected_domains`.
    NotProtected(String),
    /// The sender matches this `batv_exclude` pattern.
    Excluded(String),
}

impl fmt::Display for SenderTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SenderTag::Tagged(address) => write!(f, "tagged as {address}"),
            SenderTag::Disabled => f.write_str("not tagged: sign.batv is off"),
            SenderTag::Null => f.write_str("not tagged: null sender"),
            SenderTag::AlreadyTagged => f.write_str("not tagged: already tagged"),
            SenderTag::NoDomain => f.write_str("not tagged: no domain (set sign.myorigin)"),
            SenderTag::NotProtected(domain) => write!(f, "not tagged: {domain} is not in protected_domains"),
            SenderTag::Excluded(pattern) => write!(f, "not tagged: matches batv_exclude {pattern:?}"),
        }
    }
}

/// Decides the BATV tag for envelope sender `address` (brackets already removed; empty is the
/// null sender). A sender without a domain gets `@origin` (as the real sendmail appends
/// `$myorigin`); the domain is lowercased before tagging (DESIGN §4.1).
pub fn tag_sender(
    address: &str,
    sign: &Sign,
    protected_domains: &[String],
    origin: Option<&str>,
    key: &Key<'_>,
    day: Day,
) -> SenderTag {
    if !sign.batv {
        return SenderTag::Disabled;
    }
    if address.is_empty() {
        return SenderTag::Null;
    }
    // Ours or malformed-but-ours: either way a second tag would only hide the first.
    if address.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("prvs=")) {
        return SenderTag::AlreadyTagged;
    }
    let (local, domain) = match address.rsplit_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => (local, domain.to_ascii_lowercase()),
        Some(_) => return SenderTag::NoDomain,
        None => match origin {
            Some(origin) if !origin.is_empty() => (address, origin.to_ascii_lowercase()),
            _ => return SenderTag::NoDomain,
        },
    };
    if !protected_domains.iter().any(|d| d.eq_ignore_ascii_case(&domain)) {
        return SenderTag::NotProtected(domain);
    }
    let canonical = format!("{local}@{domain}");
    if let Some(pattern) = sign.batv_exclude.iter().find(|p| glob(p, &canonical)) {
        return SenderTag::Excluded(pattern.clone());
    }
    SenderTag::Tagged(batv::make(&canonical, key, day))
}

/// The signed ENVID (RFC 3461 §4.4; `-V` for the drop-in, `ENVID=` through the milter): the
/// Message-ID token, same nonce.
pub fn envid(key: &Key<'_>, day: Day, nonce: u64) -> String {
    msgid::make_envid(key, day, nonce)
}

/// `*`-wildcard match of `pattern` against `text`, ASCII case-insensitive.
fn glob(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let text = text.to_ascii_lowercase();
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(n) => rest = rest.get(n + part.len()..).unwrap_or(""),
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests;
