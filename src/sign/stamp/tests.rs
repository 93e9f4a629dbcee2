//! The stamp: where it goes, what it holds, and that the message itself is never touched.

use super::*;
use crate::sign::{KeyId, Verification};

const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"0123456789abcdef0123456789abcdef0123456789a" };
const DAY: Day = Day(20_414);
const NONCE: u64 = 0x0123_4567_89ab_cdef;

fn apply(stamp: &Stamp, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    stamp.write_to(message, &mut out).unwrap();
    out
}

fn sign() -> Sign {
    Sign::default()
}

fn protected() -> Vec<String> {
    vec!["example.com".to_owned()]
}

#[test]
fn header_first_and_message_id_only_when_missing() {
    let stamp = stamp(b"Subject: hi\n\nbody\n", &sign(), "example.com", &KEY, DAY, NONCE);
    let text = String::from_utf8(stamp.lines.clone()).unwrap();
    let mut lines = text.lines();
    let sig = lines.next().unwrap().strip_prefix("X-Backscatter-Sig: ").unwrap();
    assert_eq!(header::verify(sig, &[KEY], DAY), Verification::Valid { key: KeyId::ZERO });
    let id = lines.next().unwrap().strip_prefix("Message-ID: ").unwrap();
    assert!(id.ends_with("@example.com>"), "{id}");
    assert_eq!(msgid::verify_message_id(id, &[KEY], DAY), Verification::Valid { key: KeyId::ZERO });
    assert_eq!(lines.next(), None);
    assert_eq!(stamp.at, 0);

    for has_id in ["Message-ID: <a@b>\n\n", "message-id:<a@b>\n", "Subject: x\n y\nMESSAGE-ID : <a@b>\n\nx"] {
        let stamp = super::stamp(has_id.as_bytes(), &sign(), "example.com", &KEY, DAY, NONCE);
        assert_eq!(stamp.lines.iter().filter(|&&b| b == b'\n').count(), 1, "{has_id:?}");
    }
    // A Message-ID line in the body is not the message's.
    for body_id in ["Subject: x\n\nMessage-ID: <a@b>\n", "not a header\nMessage-ID: <a@b>\n"] {
        let stamp = super::stamp(body_id.as_bytes(), &sign(), "example.com", &KEY, DAY, NONCE);
        assert_eq!(stamp.lines.iter().filter(|&&b| b == b'\n').count(), 2, "{body_id:?}");
    }
    let off = Sign { message_id: false, header: "X-Sig".into(), ..sign() };
    let stamp = super::stamp(b"Subject: hi\n\n", &off, "example.com", &KEY, DAY, NONCE);
    assert!(stamp.lines.starts_with(b"X-Sig: v1.0.20414.0123456789abcdef."));
    assert_eq!(stamp.lines.iter().filter(|&&b| b == b'\n').count(), 1);
}

#[test]
fn line_endings_follow_the_message() {
    let crlf = stamp(b"Subject: hi\r\n\r\nbody\n", &sign(), "e.com", &KEY, DAY, NONCE);
    assert_eq!(crlf.lines.windows(2).filter(|w| w == b"\r\n").count(), 2);
    let lf = stamp(b"Subject: hi\n\r\n", &sign(), "e.com", &KEY, DAY, NONCE);
    assert!(!lf.lines.contains(&b'\r'));
    let empty = stamp(b"", &sign(), "e.com", &KEY, DAY, NONCE);
    assert!(empty.lines.ends_with(b">\n"));
}

#[test]
fn a_leading_blank_is_not_folded_into_our_header() {
    let stamp = stamp(b" indented text\n", &sign(), "e.com", &KEY, DAY, NONCE);
    assert!(stamp.lines.ends_with(b">\n\n"));
    let crlf = super::stamp(b"\tx\r\n", &sign(), "e.com", &KEY, DAY, NONCE);
    assert!(crlf.lines.ends_with(b">\r\n\r\n"));
}

#[test]
fn after_a_leading_mbox_from_line() {
    let message = b"From me@example.com Sun Nov 22 10:00:00 2026\nSubject: x\n\n";
    let stamp = stamp(message, &sign(), "e.com", &KEY, DAY, NONCE);
    assert_eq!(stamp.at, 45);
    assert!(apply(&stamp, message).starts_with(b"From me@example.com Sun Nov 22 10:00:00 2026\nX-Backscatter-Sig: v1."));
}

#[test]
fn sender_tags() {
    let tag =
        |address: &str, sign: &Sign, origin: Option<&str>| tag_sender(address, sign, &protected(), origin, &KEY, DAY);
    let expected = batv::make("Me@example.com", &KEY, DAY);
    assert_eq!(tag("Me@EXAMPLE.Com", &sign(), None), SenderTag::Tagged(expected));
    assert_eq!(tag("me", &sign(), Some("Example.COM")), SenderTag::Tagged(batv::make("me@example.com", &KEY, DAY)));
    assert_eq!(tag("me", &sign(), None), SenderTag::NoDomain);
    assert_eq!(tag("me@", &sign(), None), SenderTag::NoDomain);
    assert_eq!(tag("", &sign(), None), SenderTag::Null);
    let tagged = batv::make("me@example.com", &KEY, DAY);
    assert_eq!(tag(&tagged, &sign(), None), SenderTag::AlreadyTagged);
    assert_eq!(tag("PRVS=junk=me@example.com", &sign(), None), SenderTag::AlreadyTagged);
    assert_eq!(tag("me@other.org", &sign(), None), SenderTag::NotProtected("other.org".into()));
    assert_eq!(tag("me@sub.example.com", &sign(), None), SenderTag::NotProtected("sub.example.com".into()));
    let exclude = Sign { batv_exclude: vec!["*-owner@Example.com".into(), "list*@*".into()], ..sign() };
    assert_eq!(tag("dev-owner@example.com", &exclude, None), SenderTag::Excluded("*-owner@Example.com".into()));
    assert_eq!(tag("LISTS@example.com", &exclude, None), SenderTag::Excluded("list*@*".into()));
    assert!(matches!(tag("me@example.com", &exclude, None), SenderTag::Tagged(_)));
    let off = Sign { batv: false, ..sign() };
    assert_eq!(tag("me@example.com", &off, None), SenderTag::Disabled);
    // Every outcome says what happened in one line.
    assert!(SenderTag::NotProtected("x.org".into()).to_string().contains("protected_domains"));
}

#[test]
fn globs() {
    for (pattern, text, hit) in [
        ("*@lists.example.org", "a@lists.example.org", true),
        ("*@lists.example.org", "a@example.org", false),
        ("a*b*c", "abc", true),
        ("a*b*c", "axxbyyc", true),
        ("a*b*c", "acb", false),
        ("a*a", "a", false),
        ("*", "", true),
        ("exact@x", "exact@x", true),
        ("exact@x", "exact@xy", false),
        ("é*", "éa", true),
    ] {
        assert_eq!(glob(pattern, text), hit, "{pattern} {text}");
    }
}

/// Arbitrary bytes (a seeded generator, so a failure reproduces): the stamped message is the
/// input with the stamp lines inserted at one place, and nothing else changed.
#[test]
fn stamped_is_input_plus_headers() {
    const PIECES: [&[u8]; 14] = [
        b"\n",
        b"\r\n",
        b"\r",
        b".",
        b"From ",
        b"Message-ID: <x@y>",
        b"Subject: a",
        b" folded",
        b":",
        b"\0",
        b"\xff\xfe",
        b"\xc3\xa9",
        b"\n\n",
        b"body text ",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..5_000 {
        let len = next() % 40;
        let message: Vec<u8> =
            (0..len).flat_map(|_| PIECES[(next() % PIECES.len() as u64) as usize].to_vec()).collect();
        let stamp = stamp(&message, &sign(), "example.com", &KEY, DAY, next());
        let out = apply(&stamp, &message);
        assert_eq!(out.len(), message.len() + stamp.lines.len());
        let at = stamp.at;
        assert_eq!(out.get(..at), message.get(..at));
        assert_eq!(out.get(at..at + stamp.lines.len()), Some(&stamp.lines[..]));
        assert_eq!(out.get(at + stamp.lines.len()..), message.get(at..));
        // Only our header lines were added: one or two, each `Name: value` + newline, and an
        // empty line only before a first line that starts with a blank.
        let text = String::from_utf8(stamp.lines.clone()).unwrap();
        for line in text.split_inclusive('\n') {
            let ours = line.starts_with("X-Backscatter-Sig: v1.") || line.starts_with("Message-ID: <bs1.");
            let separator = matches!(line, "\n" | "\r\n") && matches!(message.get(at), Some(b' ' | b'\t'));
            assert!(ours || separator, "{line:?}");
        }
    }
}
