//! One test per crash or hang found by fuzzing or by hand (`fuzz/run`), with the input inline or
//! under `tests/fixtures/regression/`: each names where it was found and what was fixed.

use std::path::Path;

use backscatter::classify::{self, Kind};
use backscatter::config::Config;
use backscatter::keys::Keyring;
use backscatter::message::Message;
use backscatter::policy::Verdict;
use backscatter::verdict;

/// A forged bounce whose returned original is a `message/rfc822` part whose body is itself a
/// `message/rfc822` entity (a forward of a forward), inside the report's multipart.
fn doubly_nested_bounce() -> String {
    "Return-Path: <>\n\
     Received: from mx.victim.test by mx.example.com; Tue, 1 Dec 2026 10:00:00 +0000\n\
     From: MAILER-DAEMON@mx.victim.test\n\
     To: ann@example.com\n\
     Subject: Undelivered Mail Returned to Sender\n\
     MIME-Version: 1.0\n\
     Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\
     \n\
     --B\n\
     Content-Type: text/plain\n\
     \n\
     Delivery to nobody@victim.test failed.\n\
     \n\
     --B\n\
     Content-Type: message/delivery-status\n\
     \n\
     Reporting-MTA: dns; mx.victim.test\n\
     \n\
     Final-Recipient: rfc822; nobody@victim.test\n\
     Action: failed\n\
     Status: 5.1.1\n\
     \n\
     --B\n\
     Content-Type: message/rfc822\n\
     \n\
     From: ann@example.com\n\
     Content-Type: message/rfc822\n\
     \n\
     From: ann@example.com\n\
     To: nobody@victim.test\n\
     Subject: offer\n\
     \n\
     buy now\n\
     --B--\n"
        .to_owned()
}

/// Found by `fuzz/run classify` on its first seed run (a 2004 AOL forward in tests/corpus/ham:
/// multipart/mixed → message/rfc822 → message/rfc822 → multipart): mail-parser 0.11 panics with
/// `debug_assert!(false, "Invalid part ID, could not find multipart.")` (parsers/message.rs:485)
/// in any build with debug assertions. Fixed in `classify` (`contained_parse`): the panic is
/// caught and the message parsed again with its nesting flattened, so it still classifies as
/// what it is. This test runs in a debug build of mail-parser — Cargo.toml no longer turns its
/// debug assertions off — so it fails if the guard goes.
#[test]
fn a_message_rfc822_whose_body_is_message_rfc822_is_classified_not_a_panic() {
    let bounce = doubly_nested_bounce();
    if cfg!(debug_assertions) {
        // The shape does reach mail-parser's assertion in this build…
        let raw = bounce.clone();
        let parse =
            std::panic::catch_unwind(move || mail_parser::MessageParser::default().parse(raw.as_bytes()).is_some());
        assert!(parse.is_err(), "mail-parser no longer panics here: the guard in classify may be unnecessary");
    }
    // …and the classifier contains it: a bounce, judged as one.
    let c = classify::classify(&Message::parse(bounce.as_bytes()));
    assert_eq!(c.kind, Kind::Ndr, "{c:?}");
    assert_eq!(c.recipients.first().map(|r| r.address.as_str()), Some("nobody@victim.test"));
    let keyring = Keyring::parse(
        Path::new("k.toml"),
        "[[key]]\nid = 1\ncreated = \"2020-01-01\"\nsecret = \"regression-secret\"\n",
    )
    .expect("keyring");
    let j = verdict::judge(&Message::parse(bounce.as_bytes()), 0, keyring.keys(), None, &Config::default());
    assert_eq!(j.decision.verdict, Verdict::Backscatter, "{}", j.decision.why);
}
