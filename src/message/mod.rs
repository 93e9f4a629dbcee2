//! The message read once: its bytes normalised, its header block split into fields and where
//! its body starts, made in one pass and handed to every reader — the classifier, the carrier
//! search, the policy, the Sent lookup and the SPF step. One rule decides where a field starts,
//! where it continues and where the header block ends (RFC 5322 §2.2, §2.2.3), so no reader can
//! see a field another does not.
//!
//! Values are not copied until asked for: a field is two ranges into the bytes, and most of a
//! mailbox is ordinary mail of which only a few fields are ever read.

mod lines;

use std::borrow::Cow;
use std::ops::Range;

/// How long one unfolded value may grow: a `References:` of a long thread fits; a runaway field
/// does not.
const MAX_VALUE: usize = 16 * 1024;

/// A message as every reader sees it.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// The message without a leading mbox `From ` line, CR-only newlines turned into LF.
    bytes: Cow<'a, [u8]>,
    /// Where the body starts: after the empty line that ends the header block, or the end.
    body_at: usize,
    /// The header fields, in order.
    fields: Vec<Span>,
}

/// Where one field is in the bytes.
#[derive(Debug, Clone)]
struct Span {
    name: Range<usize>,
    value: Range<usize>,
}

/// One header field where it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'m> {
    name: &'m [u8],
    raw: &'m [u8],
}

impl<'a> Message<'a> {
    /// Reads `bytes` (copied only when their newlines must change).
    pub fn parse(bytes: &'a [u8]) -> Message<'a> {
        Message::split(normalise(bytes))
    }

    /// Splits normalised bytes into header fields and body.
    fn split(bytes: Cow<'a, [u8]>) -> Message<'a> {
        let (fields, body_at) = lines::fields(&bytes);
        Message { bytes, body_at, fields }
    }

    /// The whole message, normalised.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Everything before the body: the header block and the empty line that ends it.
    pub fn head(&self) -> &[u8] {
        self.bytes.get(..self.body_at).unwrap_or_default()
    }

    /// The body: what follows the empty line after the header block (empty when there is none).
    pub fn body(&self) -> &[u8] {
        self.bytes.get(self.body_at..).unwrap_or_default()
    }

    /// The header fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.fields.iter().map(|span| Field {
            name: self.bytes.get(span.name.clone()).unwrap_or_default(),
            raw: self.bytes.get(span.value.clone()).unwrap_or_default(),
        })
    }

    /// The first field called `name` (any case).
    pub fn field(&self, name: &str) -> Option<Field<'_>> {
        self.fields().find(|f| f.is(name))
    }
}

/// The first field called `name` in a header block that is not a message of its own (a returned
/// original's), read by the same rule.
pub fn field_in<'b>(block: &'b [u8], name: &str) -> Option<Field<'b>> {
    let (spans, _) = lines::fields(block);
    spans
        .into_iter()
        .map(|span| Field {
            name: block.get(span.name).unwrap_or_default(),
            raw: block.get(span.value).unwrap_or_default(),
        })
        .find(|f| f.is(name))
}

impl From<Vec<u8>> for Message<'static> {
    /// Reads an owned message, normalising it in place.
    fn from(mut bytes: Vec<u8>) -> Message<'static> {
        let (start, cr_only) = shape(&bytes);
        bytes.drain(..start);
        if cr_only {
            bytes.iter_mut().filter(|b| **b == b'\r').for_each(|b| *b = b'\n');
        }
        Message::split(Cow::Owned(bytes))
    }
}

impl<'m> Field<'m> {
    /// The name as written, without blanks before the colon.
    pub fn name(&self) -> &'m [u8] {
        self.name
    }

    /// True if the field is called `name`, in any case.
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// What follows the `:`, as written: folds and the final newline included.
    pub fn raw(&self) -> &'m [u8] {
        self.raw
    }

    /// The value unfolded (RFC 5322 §2.2.3: each line trimmed, joined by one space, up to
    /// [`MAX_VALUE`]), surrounding whitespace trimmed; bytes that are not UTF-8 become U+FFFD.
    pub fn value(&self) -> String {
        let mut lines = self.raw.split(|b| *b == b'\n');
        let mut value = String::from_utf8_lossy(lines.next().unwrap_or_default()).trim().to_owned();
        for line in lines.filter(|l| !l.is_empty()) {
            if value.len() >= MAX_VALUE {
                break;
            }
            value.push(' ');
            value.push_str(String::from_utf8_lossy(line).trim());
        }
        value
    }
}

/// The input as the parsers want it: without a leading mbox `From ` line, and with CR-only
/// newlines (old Mac mail) turned into LF. Copies only when something must change.
fn normalise(message: &[u8]) -> Cow<'_, [u8]> {
    let (start, cr_only) = shape(message);
    let bytes = message.get(start..).unwrap_or_default();
    if !cr_only {
        return Cow::Borrowed(bytes);
    }
    Cow::Owned(bytes.iter().map(|b| if *b == b'\r' { b'\n' } else { *b }).collect())
}

/// Where the message starts (after an mbox `From ` line, RFC 4155) and whether its newlines are
/// CR only. The first line end tells: a CR not followed by LF means CR-only newlines. LF and
/// CRLF (mixed too) every reader copes with; looking at one line keeps the fast path cheap.
fn shape(message: &[u8]) -> (usize, bool) {
    let mut start = 0;
    if message.starts_with(b"From ") {
        let end = message.iter().position(|b| matches!(b, b'\n' | b'\r')).unwrap_or(message.len());
        start = end;
        if message.get(start) == Some(&b'\r') {
            start += 1;
        }
        if message.get(start) == Some(&b'\n') {
            start += 1;
        }
    }
    let bytes = message.get(start..).unwrap_or_default();
    let first_end = bytes.iter().position(|b| matches!(b, b'\n' | b'\r'));
    let cr_only = first_end.is_some_and(|i| bytes.get(i) == Some(&b'\r') && bytes.get(i + 1) != Some(&b'\n'));
    (start, cr_only)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(m: &Message<'_>) -> Vec<(String, String)> {
        m.fields().map(|f| (String::from_utf8_lossy(f.name()).into_owned(), f.value())).collect()
    }

    #[test]
    fn normalising_copies_only_cr_only_input() {
        assert!(matches!(normalise(b"A: b\r\n\r\nx"), Cow::Borrowed(_)));
        assert!(matches!(normalise(b"From x\nA: b\n\nx"), Cow::Borrowed(b"A: b\n\nx")));
        assert_eq!(normalise(b"A: b\r\rx").as_ref(), b"A: b\n\nx");
        assert_eq!(normalise(b"From only").as_ref(), b"");
        for input in [&b"From x\r\nA: b\r\n\r\nx"[..], b"A: b\r\rx", b"From only", b"", b"A: b"] {
            let owned = Message::from(input.to_vec());
            assert_eq!(owned.bytes(), Message::parse(input).bytes());
        }
    }

    #[test]
    fn fields_fold_and_the_empty_line_ends_them() {
        let m =
            Message::parse(b"Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\nTo: x@y\r\nbogus line\r\n\r\nB: body\n");
        assert_eq!(
            fields(&m),
            [("Received".into(), "from a by b; Mon, 1 Jan 2024".into()), ("To".into(), "x@y".into())]
        );
        assert_eq!(m.body(), b"B: body\n");
        assert_eq!(m.head(), b"Received: from a\r\n\tby b; Mon, 1 Jan 2024\r\nTo: x@y\r\nbogus line\r\n\r\n");
        assert_eq!(m.field("to").map(|f| f.raw()), Some(&b" x@y\r\n"[..]));
    }

    #[test]
    fn a_message_without_an_empty_line_is_all_header() {
        let m = Message::parse(b"A: 1\nB: 2");
        assert_eq!(fields(&m).len(), 2);
        assert_eq!(m.body(), b"");
        let m = Message::parse(b"");
        assert_eq!((fields(&m).len(), m.body(), m.head()), (0, &b""[..], &b""[..]));
    }

    #[test]
    fn what_is_no_field_is_skipped_with_its_continuations() {
        // A leading fold, a line with no colon, a name with a space: none is a field, and the
        // folded lines after them do not join the field before.
        let m = Message::parse(b" lead\nA: 1\nno colon\n more\nbad name: x\n\tmore\nB : 2\n\xff: 3\nC: 4\n");
        assert_eq!(fields(&m), [("A".into(), "1".into()), ("B".into(), "2".into()), ("C".into(), "4".into())]);
    }

    #[test]
    fn values_unfold_lossily_and_stop_growing() {
        let m = Message::parse(b"A: \xe2\x82 x\r\n  y \r\n\r\n");
        assert_eq!(m.field("a").map(|f| f.value()).as_deref(), Some("\u{fffd} x y"));
        let long = format!("R: {}\n", "x\n ".repeat(20_000));
        let m = Message::parse(long.as_bytes());
        assert!(m.field("r").is_some_and(|f| f.value().len() <= MAX_VALUE + 2));
    }

    #[test]
    fn junk_never_panics() {
        for junk in
            [&b"\xff\xfe:\n>\n>>: \n"[..], b"\n\n\n", b":", b"a:\n \n \n", "é:é\n é".as_bytes(), b"\r", b"\r\r\n"]
        {
            let m = Message::parse(junk);
            let _ = (fields(&m), m.head(), m.body());
        }
    }
}
