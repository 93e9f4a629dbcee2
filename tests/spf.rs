//! SPF checks against a real DNS server (dnsmasq on loopback, records per case), in agreement
//! with the RFC 7208 test-suite cases that can be written as zone data here; never a public
//! resolver.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use backscatter::config;
use backscatter::message::Message;
use backscatter::spf::facts::{self, Trust};
use backscatter::spf::origin::{self, Hop};
use backscatter::spf::{Checker, Identity, Outcome, SpfResult};
use support::Dns;

/// The zone every case reads (besides dnsmasq.sh's `example.test`: `v=spf1 ip4:192.0.2.0/24
/// -all`, MX mx.example.test = 192.0.2.10). No quotes: the arguments reach dnsmasq without a
/// shell, and dnsmasq would keep them as part of the text.
const ZONE: &[&str] = &[
    "--local-ttl=300",
    "--txt-record=soft.test,v=spf1 ip4:192.0.2.0/24 ~all",
    "--txt-record=neutral.test,v=spf1 ?all",
    "--txt-record=inc.test,v=spf1 include:example.test ~all",
    "--txt-record=red.test,v=spf1 redirect=example.test",
    "--txt-record=redirect-none.test,v=spf1 redirect=nothing.test",
    "--txt-record=include-none.test,v=spf1 include:nothing.test -all",
    "--txt-record=loop.test,v=spf1 include:loop2.test -all",
    "--txt-record=loop2.test,v=spf1 include:loop.test -all",
    "--txt-record=void2.test,v=spf1 a:n1.void.test a:n2.void.test ip4:192.0.2.0/24 -all",
    "--txt-record=void3.test,v=spf1 a:n1.void.test a:n2.void.test a:n3.void.test ip4:192.0.2.0/24 -all",
    "--txt-record=mx.test,v=spf1 mx:example.test -all",
    "--txt-record=a.test,v=spf1 a:mx.example.test -all",
    "--txt-record=syntax.test,v=spf1 ip4 -all",
    "--txt-record=helo-fail.test,v=spf1 -all",
    "--txt-record=other-txt.test,hello world",
];

fn settings(dns: &Dns) -> config::Spf {
    let server = format!("127.0.0.1:{}", dns.port).parse().expect("address");
    config::Spf { dns: config::Dns::Server(server), ..config::Spf::default() }
}

/// A runtime and a checker on it (the resolver belongs to the runtime that built it).
fn checker(spf: &config::Spf) -> (tokio::runtime::Runtime, Checker) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let checker = rt.block_on(async { Checker::new(spf) }).expect("checker");
    (rt, checker)
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn mail_from(rt: &tokio::runtime::Runtime, c: &Checker, client: &str, domain: &str) -> SpfResult {
    let sender = format!("ann@{domain}");
    rt.block_on(c.check_host(ip(client), Identity::MailFrom, "helo.test", &sender, "mx.test")).result
}

#[test]
fn rfc7208_results_from_real_dns() {
    let dns = Dns::start(ZONE);
    let (rt, c) = checker(&settings(&dns));
    let cases = [
        ("192.0.2.5", "example.test", SpfResult::Pass),
        ("203.0.113.9", "example.test", SpfResult::Fail),
        ("203.0.113.9", "soft.test", SpfResult::SoftFail),
        ("203.0.113.9", "neutral.test", SpfResult::Neutral),
        ("192.0.2.5", "nothing.test", SpfResult::None),
        // A TXT record that is not SPF: no record (RFC 7208 §4.5).
        ("192.0.2.5", "other-txt.test", SpfResult::None),
        // include: a pass inside is a match; a fail inside is no match (§5.2 table).
        ("192.0.2.5", "inc.test", SpfResult::Pass),
        ("203.0.113.9", "inc.test", SpfResult::SoftFail),
        ("192.0.2.5", "red.test", SpfResult::Pass),
        ("203.0.113.9", "red.test", SpfResult::Fail),
        // Test suite "redirect-none" and "include-none": the target has no record.
        ("192.0.2.5", "redirect-none.test", SpfResult::PermError),
        ("192.0.2.5", "include-none.test", SpfResult::PermError),
        // Test suite "include-loop": the 10-lookup limit ends it (§4.6.4).
        ("192.0.2.5", "loop.test", SpfResult::PermError),
        ("192.0.2.10", "mx.test", SpfResult::Pass),
        ("192.0.2.11", "mx.test", SpfResult::Fail),
        ("192.0.2.10", "a.test", SpfResult::Pass),
        ("192.0.2.11", "a.test", SpfResult::Fail),
        // A mechanism without its required argument is a syntax error (§4.6, §5.6).
        ("192.0.2.5", "syntax.test", SpfResult::PermError),
    ];
    for (client, domain, expected) in cases {
        assert_eq!(mail_from(&rt, &c, client, domain), expected, "{client} {domain}");
    }
}

#[test]
fn void_lookups_are_limited_and_the_limit_is_configurable() {
    let dns = Dns::start(ZONE);
    let (rt, c) = checker(&settings(&dns));
    // Two lookups that find nothing are allowed; the third is a permerror (RFC 7208 §4.6.4).
    let two = rt.block_on(c.check_host(ip("192.0.2.5"), Identity::MailFrom, "h.test", "a@void2.test", "mx"));
    assert_eq!((two.result, two.voids), (SpfResult::Pass, 2));
    let three = rt.block_on(c.check_host(ip("192.0.2.5"), Identity::MailFrom, "h.test", "a@void3.test", "mx"));
    assert_eq!((three.result, three.voids), (SpfResult::PermError, 3));
    let (rt, c) = checker(&config::Spf { void_lookups: 3, ..settings(&dns) });
    assert_eq!(mail_from(&rt, &c, "192.0.2.5", "void3.test"), SpfResult::Pass);
}

#[test]
fn answers_are_cached_for_their_ttl() {
    let dns = Dns::start(ZONE);
    let (rt, c) = checker(&settings(&dns));
    assert_eq!(mail_from(&rt, &c, "203.0.113.9", "inc.test"), SpfResult::SoftFail);
    let entries = c.cache_entries();
    let names: Vec<(&str, &str)> = entries.iter().map(|e| (e.name.as_str(), e.kind.as_str())).collect();
    assert!(names.contains(&("inc.test.", "TXT")) && names.contains(&("example.test.", "TXT")), "{names:?}");
    assert!(entries.iter().all(|e| e.ttl > 250 && e.ttl <= 300), "{entries:?}");
    // With the server gone, the same checks still come out of the cache.
    drop(dns);
    assert_eq!(mail_from(&rt, &c, "203.0.113.9", "inc.test"), SpfResult::SoftFail);
    assert_eq!(mail_from(&rt, &c, "192.0.2.5", "example.test"), SpfResult::Pass);
}

/// A message as our border MTA (Postfix on mx.example.org) delivered it.
fn delivered(client: &str, helo: &str, sender: &str, with: &str) -> Vec<u8> {
    format!(
        "Return-Path: <{sender}>\r\nReceived: from {helo} (unknown [{client}]) by mx.example.org (Postfix) with {with} id 1; Sun, 22 Nov 2026 10:00:00 +0000\r\nFrom: {sender}\r\nSubject: hi\r\n\r\nhello\r\n"
    )
    .into_bytes()
}

fn check(spf: &config::Spf, message: &[u8]) -> Outcome {
    let (rt, c) = checker(spf);
    let facts =
        facts::facts(&Message::parse(message), &Trust { receivers: vec!["mx.example.org".into()], ..Trust::default() });
    rt.block_on(c.check(&facts))
}

#[test]
fn delivered_messages_are_checked_by_their_border_facts() {
    let dns = Dns::start(ZONE);
    let spf = settings(&dns);
    let forged = check(&spf, &delivered("203.0.113.9", "spam.test", "ann@example.test", "ESMTP"));
    assert_eq!((forged.result, forged.identity), (Some(SpfResult::Fail), Some(Identity::MailFrom)));
    assert_eq!(forged.why, "203.0.113.9 is not allowed by example.test's SPF");
    let ok = check(&spf, &delivered("192.0.2.5", "mail.test", "ann@example.test", "ESMTPS"));
    assert_eq!(ok.result, Some(SpfResult::Pass));
    // A HELO fail decides even when MAIL FROM would pass (RFC 7208 §2.3).
    let helo = check(&spf, &delivered("192.0.2.5", "helo-fail.test", "ann@example.test", "ESMTP"));
    assert_eq!((helo.result, helo.identity), (Some(SpfResult::Fail), Some(Identity::Helo)));
    let no_helo = config::Spf { helo: false, ..spf.clone() };
    assert_eq!(
        check(&no_helo, &delivered("192.0.2.5", "helo-fail.test", "ann@example.test", "ESMTP")).result,
        Some(SpfResult::Pass)
    );
    // The null sender is checked through HELO (§2.4), even with HELO checks off.
    let null = check(&no_helo, &delivered("192.0.2.5", "example.test", "", "ESMTP"));
    assert_eq!((null.result, null.identity), (Some(SpfResult::Pass), Some(Identity::Helo)));
    // Authenticated submissions and allow-listed clients are not checked.
    let submitted = check(&spf, &delivered("203.0.113.9", "laptop", "ann@example.test", "ESMTPSA"));
    assert_eq!(submitted.result, None);
    assert!(submitted.why.contains("authenticated"), "{}", submitted.why);
    let allowed = config::Spf { allow_ips: vec!["203.0.113.0/24".parse().expect("cidr")], ..spf.clone() };
    let skipped = check(&allowed, &delivered("203.0.113.9", "spam.test", "ann@example.test", "ESMTP"));
    assert_eq!((skipped.result, skipped.why.as_str()), (None, "not checked: 203.0.113.9 is allow-listed"));
    assert_eq!(skipped.to_json()["result"], "skipped");
}

#[test]
fn a_result_our_border_mta_recorded_is_used() {
    // No DNS server at all: nothing may be looked up.
    let spf =
        config::Spf { dns: config::Dns::Server("127.0.0.1:9".parse().expect("address")), ..config::Spf::default() };
    let mut message = b"Received-SPF: softfail (mx.example.org: domain of transitioning ann@example.test) client-ip=203.0.113.9; identity=mailfrom\r\n".to_vec();
    message.extend(delivered("203.0.113.9", "spam.test", "ann@example.test", "ESMTP"));
    let outcome = check(&spf, &message);
    assert_eq!((outcome.result, outcome.identity), (Some(SpfResult::SoftFail), Some(Identity::MailFrom)));
    assert_eq!(outcome.why, "softfail recorded by our border MTA in Received-SPF");
}

#[test]
fn the_origin_of_a_forged_bounce_is_not_allowed_by_our_spf() {
    let dns = Dns::start(ZONE);
    let (rt, c) = checker(&settings(&dns));
    let original = b"Received: from spam.example (unknown [203.0.113.9]) by mx.victim.example with ESMTP; d\r\nFrom: <ann@example.test>\r\n";
    let Hop::Found(forged) = origin::origin(original, &["example.test".into()]) else { panic!("an origin") };
    let outcome = rt.block_on(c.check_origin(&forged));
    assert_eq!(outcome.result, Some(SpfResult::Fail));
    assert_eq!(outcome.why, "original sent from 203.0.113.9, not allowed by example.test's SPF");
    assert!(origin::forbidden(outcome.result));
    let ours = b"Received: from out.example.test ([192.0.2.7]) by mx.remote.example with ESMTPS; d\r\nFrom: ann@example.test\r\n";
    let Hop::Found(genuine) = origin::origin(ours, &["example.test".into()]) else { panic!("an origin") };
    let outcome = rt.block_on(c.check_origin(&genuine));
    assert_eq!(outcome.why, "original sent from 192.0.2.7, allowed by example.test's SPF");
    assert!(!origin::forbidden(outcome.result));
}

fn backscatter(config: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_backscatter"))
        .arg("-c")
        .arg(config)
        .args(args)
        .env_remove("BACKSCATTER_CONFIG")
        .output()
        .expect("run backscatter");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn the_spf_command_checks_by_hand_and_shows_the_cache() {
    let dns = Dns::start(ZONE);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    let text = format!("state_dir = {:?}\n[spf]\ndns = \"127.0.0.1:{}\"\n", state.display().to_string(), dns.port);
    std::fs::write(&config, text).expect("config");
    assert_eq!(
        backscatter(&config, &["spf", "203.0.113.9", "example.test"]),
        (1, "fail (mailfrom): 203.0.113.9 is not allowed by example.test's SPF\n".to_owned())
    );
    let (code, out) = backscatter(&config, &["spf", "192.0.2.5", "<>", "--helo", "example.test", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!((code, &json["result"], &json["identity"]), (0, &"pass".into(), &"helo".into()));
    // `--cache` shows the snapshot a running `watch` writes.
    let (rt, c) = checker(&settings(&dns));
    assert_eq!(mail_from(&rt, &c, "192.0.2.5", "red.test"), SpfResult::Pass);
    c.write_snapshot(&state.join("spf-cache.json")).expect("snapshot");
    let (code, out) = backscatter(&config, &["spf", "--cache"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("red.test.") && l.contains("TXT")), "{out}");
    let (code, _) = backscatter(&config, &["spf", "--cache", "203.0.113.9"]);
    assert_eq!(code, 2, "--cache takes no IP");
}

/// A forged bounce: the original was sent in example.test's name from 203.0.113.9; the bounce
/// itself came to our border MTA from 192.0.2.5, HELO example.test.

#[test]
fn classify_json_has_the_spf_field_and_the_origin_in_the_why() {
    let dns = Dns::start(ZONE);
    let dir = tempfile::tempdir().expect("tempdir");
    let keyring = dir.path().join("keyring.toml");
    let config = dir.path().join("config.toml");
    let text = format!(
        "keyring = {:?}\nprotected_domains = [\"example.test\"]\n[spf]\nenabled = true\ndns = \"127.0.0.1:{}\"\ntrusted_receivers = [\"mx.example.org\"]\n",
        keyring.display().to_string(),
        dns.port
    );
    std::fs::write(&config, text).expect("config");
    assert_eq!(backscatter(&config, &["keys", "init"]).0, 0);
    let message = dir.path().join("bounce.eml");
    std::fs::write(&message, support::forged_bounce("Sun, 22 Nov 2026 10:00:00 +0000")).expect("message");
    let (code, out) = backscatter(&config, &["classify", "--json", &message.to_string_lossy()]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON line");
    assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ndr"), Some("backscatter")), "{v}");
    let why = v["why"].as_str().unwrap_or_default();
    assert!(why.ends_with("; original sent from 203.0.113.9, not allowed by example.test's SPF"), "{why}");
    // The bounce's own SPF: a null sender, checked through HELO (RFC 7208 §2.4).
    assert_eq!((&v["spf"]["result"], &v["spf"]["identity"]), (&"pass".into(), &"helo".into()), "{v}");
    assert_eq!(v["spf"]["origin"]["result"], "fail");
    assert_eq!(v["spf"]["origin"]["ip"], "203.0.113.9");
}
