//! Each policy rule, one at a time, on small real-shaped messages.

use super::*;
use crate::classify::classify;
use crate::config::{Cidr, Policy};
use crate::sign::{header, Key, KeyId, Verification};

const BOUNCE: &str = include_str!("../../tests/fixtures/ndr/001.eml");

fn day() -> Day {
    Day::from_ymd(2013, 10, 16).expect("date")
}

/// A keyring made long before the bounce: the grace period is over.
fn context() -> Context {
    Context { arrival: day(), first_key_created: Some(Day(day().0 - 100)), sent: None, replay: None }
}

fn carrier(kind: CarrierKind, result: Verification, token: &str) -> Carrier {
    Carrier { kind, found_in: "Delivered-To".to_owned(), result, token: token.to_owned() }
}

fn valid() -> Verification {
    Verification::Valid { key: KeyId::new(3).expect("digit") }
}

fn decide_with(message: &str, carriers: &[Carrier], policy: &Policy, protected: &[String], ctx: &Context) -> Decision {
    let message = Message::parse(message.as_bytes());
    decide(&classify(&message), &message, carriers, policy, protected, ctx)
}

fn default(message: &str, carriers: &[Carrier]) -> Decision {
    decide_with(message, carriers, &Policy::default(), &[], &context())
}

fn nets(list: &[&str]) -> Vec<Cidr> {
    list.iter().map(|n| n.parse().expect("cidr")).collect()
}

#[test]
fn unchecked_kinds_are_ordinary() {
    let d = default("From: a@b.example\nSubject: hi\n\nhello\n", &[]);
    assert_eq!((d.verdict, d.action, d.why.as_str()), (Verdict::Ordinary, Action::Keep, "not a bounce or auto-reply"));
    let only_mdn = Policy { check: vec![Kind::Mdn], ..Policy::default() };
    let d = decide_with(BOUNCE, &[], &only_mdn, &[], &context());
    assert_eq!((d.verdict, d.why.as_str()), (Verdict::Ordinary, "ndr is not a checked kind (policy.check)"));
}

#[test]
fn valid_carrier_is_genuine_anything_else_backscatter() {
    let d = default(BOUNCE, &[carrier(CarrierKind::Batv, valid(), "prvs=3000aaaaaa=kijitora@example.org")]);
    assert_eq!(
        (d.verdict, d.action, d.why.as_str()),
        (Verdict::Genuine, Action::Keep, "valid BATV tag on Delivered-To")
    );
    let d = default(BOUNCE, &[]);
    assert_eq!((d.verdict, d.action), (Verdict::Backscatter, Action::Move));
    assert_eq!(d.why, "no carrier: neither the delivery address nor the returned original is signed");
    for (result, word) in [
        (Verification::Expired { key: KeyId::ZERO }, "expired"),
        (Verification::Forged, "forged"),
        (Verification::UnknownKey { key: KeyId::ZERO }, "unknown-key"),
        (Verification::Malformed, "malformed"),
    ] {
        let d = default(BOUNCE, &[carrier(CarrierKind::Header, result, "v1.x")]);
        assert_eq!((d.verdict, d.action), (Verdict::Backscatter, Action::Move));
        assert_eq!(d.why, format!("no valid carrier: {word} signature header in Delivered-To"));
    }
    // The closest miss is named.
    let two = [
        carrier(CarrierKind::Header, Verification::Forged, "a"),
        carrier(CarrierKind::Batv, Verification::Expired { key: KeyId::ZERO }, "b"),
    ];
    assert_eq!(default(BOUNCE, &two).why, "no valid carrier: expired BATV tag on Delivered-To (and 1 more)");
}

#[test]
fn monitor_mode_and_grace_period_only_would_move() {
    let monitor = Policy { mode: Mode::Monitor, ..Policy::default() };
    let d = decide_with(BOUNCE, &[], &monitor, &[], &context());
    assert_eq!((d.verdict, d.action), (Verdict::Backscatter, Action::WouldMove));
    assert!(d.why.ends_with("; monitor mode"), "{}", d.why);
    let fresh = Context { arrival: day(), first_key_created: Some(Day(day().0 - 3)), sent: None, replay: None };
    let d = decide_with(BOUNCE, &[], &Policy::default(), &[], &fresh);
    assert_eq!(d.action, Action::WouldMove);
    assert!(d.why.ends_with("; grace period until 2013-10-20"), "{}", d.why);
    // The grace period ends on created + grace_days; grace_days = 0 means none.
    let ends = Context { arrival: day(), first_key_created: Some(Day(day().0 - 7)), sent: None, replay: None };
    assert_eq!(decide_with(BOUNCE, &[], &Policy::default(), &[], &ends).action, Action::Move);
    let no_grace = Policy { grace_days: 0, ..Policy::default() };
    let d = decide_with(
        BOUNCE,
        &[],
        &no_grace,
        &[],
        &Context { arrival: day(), first_key_created: Some(day()), sent: None, replay: None },
    );
    assert_eq!(d.action, Action::Move);
}

#[test]
fn no_keyring_is_said_and_moves_nothing() {
    let none = Context { arrival: day(), first_key_created: None, sent: None, replay: None };
    let d = decide_with(BOUNCE, &[], &Policy::default(), &[], &none);
    assert_eq!(
        (d.verdict, d.action, d.why.as_str()),
        (Verdict::Backscatter, Action::WouldMove, "no keyring: nothing can be verified")
    );
}

#[test]
fn exempt_sender_and_reporting_mta_domains() {
    let exempt = |domains: &[&str]| Policy {
        exempt_domains: domains.iter().map(|d| d.to_string()).collect(),
        ..Policy::default()
    };
    let d = decide_with(BOUNCE, &[], &exempt(&["example.jp"]), &[], &context());
    assert_eq!((d.verdict, d.action), (Verdict::Exempt, Action::Keep));
    assert_eq!(d.why, "sender domain smtpgw.example.jp is exempt (exempt_domains: example.jp)");
    let from_elsewhere = BOUNCE.replace("MAILER-DAEMON@smtpgw.example.jp", "MAILER-DAEMON@relay.other.example");
    let d = decide_with(&from_elsewhere, &[], &exempt(&["smtpgw.example.jp"]), &[], &context());
    assert_eq!(d.why, "reporting MTA smtpgw.example.jp is exempt (exempt_domains: smtpgw.example.jp)");
    assert_eq!(decide_with(BOUNCE, &[], &exempt(&["other.example"]), &[], &context()).verdict, Verdict::Backscatter);
}

#[test]
fn exempt_ips_of_the_relay_and_the_reporting_mta() {
    let exempt = |ips: &[&str]| Policy { exempt_ips: nets(ips), ..Policy::default() };
    let relayed = format!("Received: from mx.partner.example (mx.partner.example [198.51.100.7])\n\tby in.example (Postfix) with ESMTP id 1; Wed, 16 Oct 2013 06:00:00 +0000\n{BOUNCE}");
    let d = decide_with(&relayed, &[], &exempt(&["198.51.100.0/24"]), &[], &context());
    assert_eq!(
        (d.verdict, d.why.as_str()),
        (Verdict::Exempt, "relay 198.51.100.7 is exempt (exempt_ips: 198.51.100.0/24)")
    );
    let literal = BOUNCE.replace("Reporting-MTA: dns; smtpgw.example.jp", "Reporting-MTA: dns; [203.0.113.9]");
    let d = decide_with(&literal, &[], &exempt(&["203.0.113.9"]), &[], &context());
    assert_eq!(
        (d.verdict, d.why.as_str()),
        (Verdict::Exempt, "reporting MTA 203.0.113.9 is exempt (exempt_ips: 203.0.113.9/32)")
    );
    // The original's relays are not the reporting MTA: 192.0.2.25 is in the returned original.
    assert_eq!(decide_with(BOUNCE, &[], &exempt(&["192.0.2.25"]), &[], &context()).verdict, Verdict::Backscatter);
}

#[test]
fn all_bounces_moves_even_signed_ones_but_not_exempt() {
    let attack = Policy { all_bounces: true, ..Policy::default() };
    let signed = [carrier(CarrierKind::Header, valid(), "v1")];
    let fresh = Context { arrival: day(), first_key_created: Some(day()), sent: None, replay: None };
    let d = decide_with(BOUNCE, &signed, &attack, &[], &fresh);
    assert_eq!((d.verdict, d.action), (Verdict::Backscatter, Action::Move), "no grace under attack");
    assert_eq!(d.why, "all-bounces mode: every checked message is backscatter (ndr)");
    let none = Context { arrival: day(), first_key_created: None, sent: None, replay: None };
    assert_eq!(decide_with(BOUNCE, &[], &attack, &[], &none).action, Action::Move);
    let monitored = Policy { mode: Mode::Monitor, ..attack.clone() };
    assert_eq!(decide_with(BOUNCE, &[], &monitored, &[], &context()).action, Action::WouldMove);
    let exempted = Policy { exempt_domains: vec!["example.jp".into()], ..attack };
    assert_eq!(decide_with(BOUNCE, &[], &exempted, &[], &context()).verdict, Verdict::Exempt);
}

#[test]
fn own_relays_in_the_original_received_chain() {
    let relays = Policy { own_relays: nets(&["192.0.2.16/28"]), ..Policy::default() };
    let d = decide_with(BOUNCE, &[], &relays, &[], &context());
    assert_eq!((d.verdict, d.action), (Verdict::Genuine, Action::Keep));
    assert_eq!(d.why, "the returned original passed our relay 192.0.2.25 (own_relays: 192.0.2.16/28)");
    let elsewhere = Policy { own_relays: nets(&["10.0.0.0/8"]), ..Policy::default() };
    assert_eq!(decide_with(BOUNCE, &[], &elsewhere, &[], &context()).verdict, Verdict::Backscatter);
}

#[test]
fn protected_domains_decide_whose_mail_is_checked() {
    let ours = ["example.org".to_owned()];
    let theirs = ["example.net".to_owned()];
    assert_eq!(decide_with(BOUNCE, &[], &Policy::default(), &ours, &context()).verdict, Verdict::Backscatter);
    let d = decide_with(BOUNCE, &[], &Policy::default(), &theirs, &context());
    assert_eq!(
        (d.verdict, d.why.as_str()),
        (Verdict::Ordinary, "delivered to kijitora@example.org, not a protected domain")
    );
    // A valid tag counts only for a protected address.
    let tagged = BOUNCE.replace("To: <kijitora@example.org>", "To: <kijitora@example.org>, <x@example.net>");
    let tag = [carrier(CarrierKind::Batv, valid(), "prvs=3000aaaaaa=x@example.org")];
    let d = decide_with(&tagged, &tag, &Policy::default(), &theirs, &context());
    assert_eq!(d.verdict, Verdict::Backscatter);
    assert_eq!(d.why, "no valid carrier: valid BATV tag on Delivered-To for example.org, not a protected domain");
    assert_eq!(decide_with(&tagged, &tag, &Policy::default(), &ours, &context()).verdict, Verdict::Genuine);
}

#[test]
fn a_real_header_carrier_through_decide() {
    let key = Key { id: KeyId::new(3).expect("digit"), secret: b"secret" };
    let sig = header::make(&key, day(), 7);
    let message = BOUNCE.replacen(
        "Return-Path: <kijitora@example.org>",
        &format!("X-Backscatter-Sig: {sig}\nReturn-Path: <kijitora@example.org>"),
        1,
    );
    let message = Message::parse(message.as_bytes());
    let c = classify(&message);
    let found = crate::verify::carriers(&message, &c, &[key], day(), header::NAME);
    let d = decide(&c, &message, &found, &Policy::default(), &[], &context());
    assert_eq!((d.verdict, d.why.as_str()), (Verdict::Genuine, "valid signature header in the returned original"));
    assert_eq!(Verdict::Genuine.to_string(), "genuine");
    assert_eq!(Action::WouldMove.to_string(), "would-move");
}

fn with_sent(first_key_created: Option<Day>, sent: SentFinding) -> Context {
    Context { arrival: day(), first_key_created, sent: Some(sent), replay: None }
}

#[test]
fn sent_evidence_decides_what_carriers_cannot() {
    let in_sent = || SentFinding::Genuine { why: "the returned original <a@b> is in Sent, sent 2013-10-16".into() };
    let not_in_sent =
        || SentFinding::Backscatter { why: "<a@b> is not in Sent, which holds what you sent since 2013-01-01".into() };
    let policy = Policy::default();
    for keyring in [None, Some(day()), Some(Day(day().0 - 100))] {
        let d = decide_with(BOUNCE, &[], &policy, &[], &with_sent(keyring, in_sent()));
        assert_eq!((d.verdict, d.action), (Verdict::Genuine, Action::Keep), "{keyring:?}");
        assert_eq!(d.why, in_sent().why());
        // Missing from Sent: moved at once, with no keyring and within the grace period alike.
        let d = decide_with(BOUNCE, &[], &policy, &[], &with_sent(keyring, not_in_sent()));
        assert_eq!((d.verdict, d.action, d.why.as_str()), (Verdict::Backscatter, Action::Move, not_in_sent().why()));
    }
    let monitor = Policy { mode: Mode::Monitor, ..Policy::default() };
    let d = decide_with(BOUNCE, &[], &monitor, &[], &with_sent(None, not_in_sent()));
    assert_eq!((d.verdict, d.action), (Verdict::Backscatter, Action::WouldMove));
}

#[test]
fn a_valid_carrier_wins_over_sent_and_a_forged_one_stays_backscatter() {
    let not_in_sent = SentFinding::Backscatter { why: "<a@b> is not in Sent".into() };
    let valid = [carrier(CarrierKind::Header, valid(), "v1.3.1.2.3")];
    let d = decide_with(BOUNCE, &valid, &Policy::default(), &[], &with_sent(Some(day()), not_in_sent));
    assert_eq!((d.verdict, d.action), (Verdict::Genuine, Action::Keep));
    let in_sent = SentFinding::Genuine { why: "the returned original <a@b> is in Sent, sent 2013-10-16".into() };
    let forged = [carrier(CarrierKind::Header, Verification::Forged, "v1.3.1.2.3")];
    let d = decide_with(BOUNCE, &forged, &Policy::default(), &[], &with_sent(Some(Day(day().0 - 100)), in_sent));
    assert_eq!((d.verdict, d.action), (Verdict::Backscatter, Action::Move));
    assert!(d.why.ends_with("is in Sent, sent 2013-10-16, but a carrier is forged"), "{}", d.why);
}

#[test]
fn what_sent_cannot_settle_is_left_to_the_carriers_and_said() {
    let unknown = SentFinding::Unknown { why: "<a@b> is not in Sent, but Sent starts on 2014-01-01".into() };
    let d = decide_with(BOUNCE, &[], &Policy::default(), &[], &with_sent(None, unknown.clone()));
    assert_eq!((d.verdict, d.action), (Verdict::Backscatter, Action::WouldMove));
    assert_eq!(d.why, format!("no keyring: nothing can be verified; {}", unknown.why()));
    let d = decide_with(BOUNCE, &[], &Policy::default(), &[], &with_sent(Some(day()), unknown));
    assert_eq!(d.action, Action::WouldMove, "the grace period applies to carriers: {}", d.why);
}

#[test]
fn a_replayed_carrier_is_backscatter_at_once_and_a_logged_one_says_so() {
    let sig = carrier(CarrierKind::Header, valid(), "v1.3.1.0123456789abcdef.x");
    let replay = |finding| Context { replay: Some(finding), ..context() };
    let why = "replayed signature: the signed message was never sent to b@x.example".to_owned();
    // Within the grace period too: the signature proves signing had begun.
    let fresh = Context { first_key_created: Some(day()), ..replay(ReplayFinding::Replayed { why: why.clone() }) };
    let d = decide_with(BOUNCE, std::slice::from_ref(&sig), &Policy::default(), &[], &fresh);
    assert_eq!((d.verdict, d.action, d.why.as_str()), (Verdict::Backscatter, Action::Move, why.as_str()));
    let exempt = Policy { exempt_domains: vec!["smtpgw.example.jp".into()], ..Policy::default() };
    let ctx = replay(ReplayFinding::Replayed { why: why.clone() });
    assert_eq!(decide_with(BOUNCE, std::slice::from_ref(&sig), &exempt, &[], &ctx).verdict, Verdict::Exempt);
    let sent = replay(ReplayFinding::Sent { why: "the signed message was sent to b@x.example (sent log)".into() });
    let d = decide_with(BOUNCE, std::slice::from_ref(&sig), &Policy::default(), &[], &sent);
    assert_eq!(d.verdict, Verdict::Genuine);
    assert!(d.why.ends_with("; the signed message was sent to b@x.example (sent log)"), "{}", d.why);
    // A replay finding without a valid carrier changes nothing.
    let d = decide_with(BOUNCE, &[], &Policy::default(), &[], &ctx);
    assert!(d.why.starts_with("no carrier"), "{}", d.why);
}
