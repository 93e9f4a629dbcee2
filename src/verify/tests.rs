//! Every carrier location, arrival-day judgement, and real corpus bounces with carriers
//! injected into their returned originals.

use std::path::Path;

use super::*;
use crate::config::Config;
use crate::evidence::SentIndex;
use crate::keys::{Keyring, StoredKey};
use crate::policy::{Action, Verdict};
use crate::sign::{Key, KeyId};
use crate::verdict::Judgement;

fn classify(bytes: &[u8]) -> Classification {
    crate::classify::classify(&Message::parse(bytes))
}

fn carriers(bytes: &[u8], c: &Classification, keys: &[Key<'_>], arrival: Day, header_name: &str) -> Vec<Carrier> {
    super::carriers(&Message::parse(bytes), c, keys, arrival, header_name)
}

fn judge(bytes: &[u8], fallback: i64, keys: &[StoredKey], sent: Option<&SentIndex>, config: &Config) -> Judgement {
    crate::verdict::judge(&Message::parse(bytes), fallback, keys, sent, config)
}

fn arrival_time(bytes: &[u8]) -> Option<i64> {
    own_head(&Message::parse(bytes)).arrival
}

const BOUNCE: &str = include_str!("../../tests/fixtures/ndr/001.eml");
const NONCE: u64 = 0x0123_4567_89ab_cdef;

fn key() -> Key<'static> {
    Key { id: KeyId::new(3).expect("digit"), secret: b"secret" }
}

/// The fixture bounce's arrival day (its top Received: Wed, 16 Oct 2013 14:15:35 +0900).
fn day() -> Day {
    Day::from_ymd(2013, 10, 16).expect("date")
}

fn keyring() -> Keyring {
    let text = "[[key]]\nid = 3\ncreated = \"1980-01-01\"\nsecret = \"secret\"\n";
    Keyring::parse(Path::new("keyring.toml"), text).expect("keyring parses")
}

fn found(message: &str, arrival: Day) -> Vec<Carrier> {
    carriers(message.as_bytes(), &classify(message.as_bytes()), &[key()], arrival, header::NAME)
}

/// (kind, found_in, result word) of each carrier.
fn summary(list: &[Carrier]) -> Vec<(CarrierKind, String, &'static str)> {
    list.iter().map(|c| (c.kind, c.found_in.clone(), c.result.word())).collect()
}

#[test]
fn batv_on_each_delivery_field() {
    let tag = batv::make("kijitora@example.org", &key(), day());
    for (field, line) in [
        ("X-Original-To", format!("X-Original-To: {tag}")),
        ("Delivered-To", format!("Delivered-To: {tag}")),
        ("Envelope-To", format!("Envelope-To: {tag}")),
        ("X-Envelope-To", format!("X-Envelope-To: <{tag}>")),
        ("Received", format!("Received: from mx by in (Postfix) with ESMTP id 1\n\tfor <{tag}>; {}", "x")),
        ("To", format!("To: \"Kijitora\" <{tag}>")),
    ] {
        let message = BOUNCE.replacen("To: <kijitora@example.org>\n", &format!("{line}\n"), 1);
        let list = found(&message, day());
        assert_eq!(summary(&list), [(CarrierKind::Batv, field.to_owned(), "valid")], "{field}");
        assert_eq!(list[0].token, tag);
        assert_eq!(list[0].describe(), format!("valid BATV tag on {field}"));
    }
}

#[test]
fn batv_on_the_returned_return_path_and_foreign_tags() {
    let tag = batv::make("kijitora@example.org", &key(), day());
    let message = BOUNCE.replacen("Return-Path: <kijitora@example.org>", &format!("Return-Path: <{tag}>"), 1);
    let list = found(&message, day());
    assert_eq!(summary(&list), [(CarrierKind::Batv, "the Return-Path of the returned original".to_owned(), "valid")]);
    let foreign = BOUNCE.replacen("To: <kijitora@example.org>", "To: <btv1==0123==kijitora@example.org>", 1);
    assert_eq!(summary(&found(&foreign, day())), [(CarrierKind::Batv, "To".to_owned(), "foreign")]);
}

#[test]
fn the_fixture_alone_has_no_carrier() {
    assert!(found(BOUNCE, day()).is_empty());
}

/// The fixture with `line` added as the first header of its returned original.
fn with_original_header(line: &str) -> String {
    BOUNCE.replacen("Return-Path: <kijitora@example.org>", &format!("{line}\nReturn-Path: <kijitora@example.org>"), 1)
}

#[test]
fn header_in_an_attached_original() {
    let sig = header::make(&key(), day(), NONCE);
    let list = found(&with_original_header(&format!("X-Backscatter-Sig: {sig}")), day());
    assert_eq!(summary(&list), [(CarrierKind::Header, "the returned original".to_owned(), "valid")]);
    assert_eq!(list[0].result.key(), KeyId::new(3));
    // The configured name, in any case.
    let renamed = with_original_header(&format!("x-our-sig: {sig}"));
    let c = classify(renamed.as_bytes());
    let list = carriers(renamed.as_bytes(), &c, &[key()], day(), "X-Our-Sig");
    assert_eq!(summary(&list), [(CarrierKind::Header, "the returned original".to_owned(), "valid")]);
    assert!(found(&renamed, day()).is_empty(), "another name is not ours");
}

#[test]
fn header_in_a_headers_only_return() {
    let sig = header::make(&key(), day(), NONCE);
    let raw = include_str!("../../tests/fixtures/delivered/001.eml");
    let at = raw.find("Content-Type: text/rfc822-headers").expect("headers part");
    let blank = at + raw.get(at..).and_then(|r| r.find("\n\n")).expect("part body") + 2;
    let message = format!("{}X-Backscatter-Sig: {sig}\n{}", &raw[..blank], &raw[blank..]);
    let c = classify(message.as_bytes());
    assert_eq!(c.original.as_ref().map(|o| o.via), Some(crate::classify::Via::TextRfc822Headers));
    let list = carriers(message.as_bytes(), &c, &[key()], day(), header::NAME);
    assert_eq!(summary(&list), [(CarrierKind::Header, "the returned original".to_owned(), "valid")]);
}

#[test]
fn header_in_a_quoted_plain_text_bounce() {
    let sig = header::make(&key(), day(), NONCE);
    let message = format!(
        "From: MAILER-DAEMON@mx.example\nTo: kijitora@example.org\nSubject: failure notice\n\n\
Hi. This is the qmail-send program at mx.example.\nI'm afraid I wasn't able to deliver your message.\n\n\
<nobody@mx.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\n\
> X-Backscatter-Sig: {sig}\n> Return-Path: <kijitora@example.org>\n> Message-ID: <q1@example.org>\n\
> From: kijitora@example.org\n> Subject: hi\n>\n> hello\n"
    );
    let list = found(&message, day());
    assert_eq!(summary(&list), [(CarrierKind::Header, "a quoted header block".to_owned(), "valid")]);
}

#[test]
fn signed_message_id_wherever_the_original_is_named() {
    let id = msgid::make_message_id(&key(), day(), NONCE, "example.org");
    let original = BOUNCE.replacen("<E1C50F1B-1C83-4820-BC36-AC6FBFBE8568@example.org>", &id, 1);
    let list = found(&original, day());
    assert_eq!(
        summary(&list),
        [(CarrierKind::MessageId, "the Message-ID of the returned original".to_owned(), "valid")]
    );
    let reply = |field: &str| {
        format!("From: bob@b.example\nTo: kijitora@example.org\nSubject: Out of office\n{field}\n\nAway.\n")
    };
    for (line, place) in [
        (format!("In-Reply-To: {id}"), "In-Reply-To"),
        (format!("References: <a@b.example>\n <c@d.example> {id}"), "References"),
        (format!("Original-Message-ID: {id}"), "Original-Message-ID"),
        (format!("X-MS-Exchange-Parent-Message-Id: {id}"), "X-MS-Exchange-Parent-Message-Id"),
    ] {
        assert_eq!(summary(&found(&reply(&line), day())), [(CarrierKind::MessageId, place.to_owned(), "valid")]);
    }
    // Only the last References ID is the parent; an older one of ours proves nothing.
    assert!(found(&reply(&format!("References: {id} <c@d.example>")), day()).is_empty());
    // The returned original's own threading fields are not looked at either.
    assert!(found(&with_original_header(&format!("In-Reply-To: {id}")), day()).is_empty());
}

#[test]
fn original_message_id_in_an_mdn_report() {
    let id = msgid::make_message_id(&key(), day(), NONCE, "example.org");
    let message = format!(
        "From: bob@b.example\nTo: kijitora@example.org\nSubject: Read: hi\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=disposition-notification; boundary=b\n\n--b\n\
Content-Type: text/plain\n\nYour message was read.\n--b\nContent-Type: message/disposition-notification\n\n\
Reporting-UA: b.example; Mail\nFinal-Recipient: rfc822; bob@b.example\nOriginal-Message-ID: {id}\n\
Disposition: manual-action/MDN-sent-manually; displayed\n--b--\n"
    );
    assert_eq!(classify(message.as_bytes()).kind, crate::classify::Kind::Mdn);
    assert_eq!(summary(&found(&message, day())), [(CarrierKind::MessageId, "Original-Message-ID".to_owned(), "valid")]);
}

#[test]
fn envid_in_original_envelope_id() {
    let envid = msgid::make_envid(&key(), day(), NONCE);
    let message = BOUNCE.replacen(
        "Reporting-MTA: dns; smtpgw.example.jp\n",
        &format!("Reporting-MTA: dns; smtpgw.example.jp\nOriginal-Envelope-Id: {envid}\n"),
        1,
    );
    assert_eq!(summary(&found(&message, day())), [(CarrierKind::EnvId, "Original-Envelope-Id".to_owned(), "valid")]);
}

#[test]
fn failures_are_listed_and_duplicates_once() {
    let sig = header::make(&key(), day(), NONCE);
    let message = with_original_header(&format!("X-Backscatter-Sig: {sig}"));
    assert_eq!(found(&message, Day(day().0 + 8))[0].result, Verification::Expired { key: key().id });
    let other = Key { id: key().id, secret: b"other" };
    let c = classify(message.as_bytes());
    assert_eq!(carriers(message.as_bytes(), &c, &[other], day(), header::NAME)[0].result, Verification::Forged);
    assert_eq!(
        carriers(message.as_bytes(), &c, &[], day(), header::NAME)[0].result,
        Verification::UnknownKey { key: key().id }
    );
    let junk = with_original_header("X-Backscatter-Sig: v1.garbage");
    assert_eq!(summary(&found(&junk, day())), [(CarrierKind::Header, "the returned original".to_owned(), "malformed")]);
    // Found both in the decoded original and in the raw body: listed once.
    assert_eq!(found(&message, day()).len(), 1);
}

#[test]
fn judged_at_arrival_not_at_the_scan() {
    // Signed on the 13th, arrived on the 16th (top Received), scanned 30 days later.
    let signed = Day(day().0 - 3);
    let sig = header::make(&key(), signed, NONCE);
    let message = with_original_header(&format!("X-Backscatter-Sig: {sig}"));
    let scan_time = (day().0 + 30) * 86_400;
    let j = judge(message.as_bytes(), scan_time, keyring().keys(), None, &Config::default());
    assert_eq!(j.arrival, day());
    assert_eq!((j.decision.verdict, j.decision.action), (Verdict::Genuine, Action::Keep), "{}", j.decision.why);
    // Without a Received date or Delivery-Date, the fallback (the scan day here) decides.
    let undated = message.replacen("Received: from localhost (localhost)", "X-Received: from localhost", 1);
    let j = judge(undated.as_bytes(), scan_time, keyring().keys(), None, &Config::default());
    assert_eq!(j.arrival, Day(day().0 + 30));
    assert_eq!(j.decision.verdict, Verdict::Backscatter);
    assert!(j.decision.why.contains("expired signature header"), "{}", j.decision.why);
}

/// Real bounces from the corpus, each with a signature header added as the first header of its
/// returned original (made with a real key on its arrival day): all genuine; the same bounces
/// unsigned: all backscatter.
#[test]
fn corpus_bounces_with_injected_carriers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/sisimai/maildir/bsd");
    let mut names: Vec<_> = std::fs::read_dir(&dir).expect("corpus dir").flatten().map(|e| e.path()).collect();
    names.sort();
    let (keyring, config) = (keyring(), Config::default());
    let (mut injected, mut failures) = (0, Vec::new());
    for path in names.iter().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("lhost-"))) {
        let raw = std::fs::read(path).expect("corpus file");
        let c = classify(&raw);
        let Some(original) = c.original.as_ref().filter(|o| !o.headers.is_empty() && c.kind.is_bounce()) else {
            continue;
        };
        let first = original.headers.split(|b| *b == b'\n').next().unwrap_or_default();
        let first = first.strip_suffix(b"\r").unwrap_or(first);
        let head = Message::parse(&raw).head().len();
        let Some(at) = find(&raw, first, head) else { continue };
        // Undated ones arrive on 2020-01-01, after the keyring's grace period.
        let unsigned = judge(&raw, 1_577_836_800, keyring.keys(), None, &config);
        let arrival = unsigned.arrival;
        let sig = header::make(&key(), arrival, NONCE);
        let mut signed = raw.get(..at).unwrap_or_default().to_vec();
        signed.extend_from_slice(format!("X-Backscatter-Sig: {sig}\n").as_bytes());
        signed.extend_from_slice(raw.get(at..).unwrap_or_default());
        let j = judge(&signed, 1_577_836_800, keyring.keys(), None, &config);
        let name = path.display();
        if j.decision.verdict != Verdict::Genuine {
            failures.push(format!("{name}: signed is {} ({})", j.decision.verdict, j.decision.why));
        }
        if (unsigned.decision.verdict, unsigned.decision.action) != (Verdict::Backscatter, Action::Move) {
            failures.push(format!("{name}: unsigned is {} ({})", unsigned.decision.verdict, unsigned.decision.why));
        }
        injected += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(injected >= 220, "only {injected} corpus bounces had a returned original to sign");
}

/// The first occurrence of `needle` in `hay` at or after `from`, at a line start.
fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    (from..hay.len())
        .find(|&i| hay.get(i..i + needle.len()) == Some(needle) && (i == 0 || hay.get(i - 1) == Some(&b'\n')))
}

#[test]
fn random_mutations_never_panic() {
    let sig = header::make(&key(), day(), NONCE);
    let base = with_original_header(&format!("X-Backscatter-Sig: {sig}")).into_bytes();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..300 {
        let mut bytes = base.clone();
        for _ in 0..(1 + next() % 30) {
            let i = (next() as usize) % bytes.len();
            bytes[i] = next() as u8;
        }
        let cut = (next() as usize) % bytes.len();
        let c = classify(&bytes);
        let _ = carriers(&bytes, &c, &[key()], day(), header::NAME);
        let _ = carriers(bytes.get(..cut).unwrap_or_default(), &c, &[key()], day(), header::NAME);
        let _ = arrival_time(&bytes);
    }
}

/// Real auto-replies and challenges that name their original in `In-Reply-To` /
/// `References`: with the original's ID swapped for a signed one (made on the reply's arrival
/// day) they are genuine; as they are, backscatter.
#[test]
fn real_replies_with_a_signed_message_id() {
    let (keyring, config) = (keyring(), Config::default());
    for name in
        ["autoreply/001.eml", "autoreply/002.eml", "autoreply/005.eml", "autoreply/006.eml", "challenge/001.eml"]
    {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
        let raw = String::from_utf8_lossy(&std::fs::read(&path).expect("fixture")).into_owned();
        let unsigned = judge(raw.as_bytes(), 1_577_836_800, keyring.keys(), None, &config);
        assert_eq!(unsigned.decision.verdict, Verdict::Backscatter, "{name}: {}", unsigned.decision.why);
        let parsed = Message::parse(raw.as_bytes());
        let parent = parsed
            .field("in-reply-to")
            .or_else(|| parsed.field("references"))
            .and_then(|f| fields::message_ids(&f.value()).last().map(|id| id.to_string()))
            .unwrap_or_else(|| panic!("{name} names no original"));
        let id = msgid::make_message_id(&key(), unsigned.arrival, NONCE, "example.org");
        let signed = raw.replace(&parent, &id);
        let j = judge(signed.as_bytes(), 1_577_836_800, keyring.keys(), None, &config);
        assert_eq!(j.decision.verdict, Verdict::Genuine, "{name}: {}", j.decision.why);
        assert!(j.decision.why.starts_with("valid signed Message-ID in "), "{name}: {}", j.decision.why);
    }
}

#[test]
fn newline_styles_and_mbox_lines_do_not_matter() {
    let sig = header::make(&key(), day(), NONCE);
    let tag = batv::make("kijitora@example.org", &key(), day());
    let lf = with_original_header(&format!("X-Backscatter-Sig: {sig}")).replacen(
        "To: <kijitora@example.org>\n",
        &format!("Delivered-To: {tag}\nTo: <kijitora@example.org>\n"),
        1,
    );
    let want = summary(&found(&lf, day()));
    assert_eq!(want.len(), 2, "{want:?}");
    for (style, variant) in [
        ("crlf", lf.replace('\n', "\r\n")),
        ("cr", lf.replace('\n', "\r")),
        ("mbox", format!("From MAILER-DAEMON Wed Oct 16 14:15:35 2013\n{lf}")),
    ] {
        assert_eq!(summary(&found(&variant, day())), want, "{style}");
        assert_eq!(arrival_time(variant.as_bytes()), arrival_time(lf.as_bytes()), "{style}");
    }
}

#[test]
fn keys_retired_long_before_arrival_no_longer_verify() {
    let sig = header::make(&key(), day(), NONCE);
    let message = with_original_header(&format!("X-Backscatter-Sig: {sig}"));
    let retired = |on: &str| {
        let text = format!(
            "[[key]]\nid = 3\ncreated = \"1980-01-01\"\nretired = \"{on}\"\nsecret = \"secret\"\n\n\
[[key]]\nid = 4\ncreated = \"{on}\"\nsecret = \"next\"\n"
        );
        Keyring::parse(Path::new("keyring.toml"), &text).expect("keyring parses")
    };
    // Retired 7 days before the arrival: still verifies; 8 days: the carrier names an unknown key.
    let j = judge(message.as_bytes(), 0, retired("2013-10-09").keys(), None, &Config::default());
    assert_eq!(j.decision.verdict, Verdict::Genuine, "{}", j.decision.why);
    let j = judge(message.as_bytes(), 0, retired("2013-10-08").keys(), None, &Config::default());
    assert_eq!(j.decision.verdict, Verdict::Backscatter);
    assert_eq!(j.decision.why, "no valid carrier: unknown-key signature header in the returned original");
}

#[test]
fn a_carrier_in_the_message_own_header() {
    let sig = header::make(&key(), day(), NONCE);
    let message = BOUNCE.replacen("MIME-Version: 1.0\n", &format!("MIME-Version: 1.0\nX-Backscatter-Sig: {sig}\n"), 1);
    assert_eq!(
        summary(&found(&message, day())),
        [(CarrierKind::Header, "the message's own header".to_owned(), "valid")]
    );
}
