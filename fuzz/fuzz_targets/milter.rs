//! Fuzz target: the milter's per-message session logic — the stages of
//! `backscatter::milter::session::Session` as the callbacks feed them, end of message through
//! `inbound::judged_copy`, the engine's judgement and `inbound::disposition`, or `outbound::plan`
//! — driven by an arbitrary script of SMTP events, in enforce mode (`action = "reject"`) and in
//! monitor mode. The script is text, one event a line, any order, any repeats:
//!
//! ```text
//! connect IP NAME      helo NAME      auth USER      mail SENDER [PARAM…]
//! rcpt ADDRESS         rcpt-signed ADDRESS (tagged with our key first; a path the MTA would
//!                      not pass on as it is, with white space outside quotes, is skipped)
//! data                 (then header lines, folded or not, a blank line, body lines, ".")
//! eom                  abort
//! ```
//!
//! Checks: no panic on any sequence; a recipient tagged with our key is never refused; in
//! enforce mode a judged message is never accepted as backscatter, and a checked kind (a bounce,
//! an auto-reply…) to a protected recipient without a valid carrier is never accepted at all;
//! monitor mode never refuses or holds; `genuine` always rests on a valid carrier; the verdict
//! header and reply text are one printable line; the body kept is within its limit; a sender we
//! tag verifies with our key. `fuzz/run milter`.
#![no_main]

#[path = "contain.rs"]
mod contain;

use std::path::Path;
use std::sync::Arc;

use backscatter::config::{Config, MilterAction, Mode};
use backscatter::day::Day;
use backscatter::engine::clock::FixedClock;
use backscatter::engine::Pipeline;
use backscatter::keys::Keyring;
use backscatter::message::Message;
use backscatter::milter::inbound::{self, Disposition};
use backscatter::milter::outbound;
use backscatter::milter::session::{Direction, Session, JUDGED_BODY};
use backscatter::policy::Verdict;
use backscatter::sign::stamp::SenderTag;
use backscatter::sign::{batv, Verification};
use libfuzzer_sys::fuzz_target;

/// Key 4, created long before [`NOW`]: past any grace period.
const KEYRING: &str = "[[key]]\nid = 4\ncreated = \"2001-01-01\"\nsecret = \"fuzz-secret-not-real\"\n";
/// The clock of every session (2023-11-14).
const NOW: i64 = 1_700_000_000;

/// One milter as the daemon holds it: its config, the engine's pipeline, the keyring.
struct Rig {
    config: Config,
    pipeline: Pipeline,
    keyring: Keyring,
}

fn rigs() -> &'static [Rig; 2] {
    static RIGS: std::sync::OnceLock<[Rig; 2]> = std::sync::OnceLock::new();
    RIGS.get_or_init(|| {
        let make = |mode| {
            let mut config = Config::default();
            config.policy.mode = mode;
            config.policy.grace_days = 0;
            config.protected_domains = vec!["test.invalid".to_owned()];
            config.milter.action = MilterAction::Reject;
            config.milter.sign_networks = vec!["127.0.0.0/8".parse().expect("a network")];
            let keyring = || Keyring::parse(Path::new("fuzz-keyring.toml"), KEYRING).expect("the fixed keyring parses");
            let pipeline = Pipeline::new(config.clone(), Some(keyring()), Arc::new(FixedClock(NOW)))
                .expect("no SPF service to start");
            Rig { config, pipeline, keyring: keyring() }
        };
        [make(Mode::Enforce), make(Mode::Monitor)]
    })
}

fuzz_target!(|data: &[u8]| {
    contain::let_mail_parser_panics_unwind();
    // The MTA passes C strings: no NUL, and an SMTP command line holds no CR or LF.
    let script: String = String::from_utf8_lossy(data).chars().filter(|&c| c != '\0' && c != '\r').collect();
    for rig in rigs() {
        run(rig, &script);
    }
});

/// One session of `script` through the stages, as the callbacks call them.
fn run(rig: &Rig, script: &str) {
    let today = Day::from_unix_seconds(NOW);
    let keys = rig.keyring.verifying_keys(today);
    let mut session = Session { skip: true, ..Session::default() };
    let mut auth: Option<String> = None;
    let mut lines = script.split('\n');
    while let Some(line) = lines.next() {
        let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
        match verb {
            "connect" => {
                let (ip, name) = rest.split_once(' ').unwrap_or((rest, "unknown"));
                session.connect(ip.parse().ok(), name, Some("mx.test.invalid".to_owned()));
            }
            "helo" => session.helo = Some(rest.to_owned()),
            "auth" => auth = Some(rest.to_owned()),
            "mail" => {
                let mut args = rest.split(' ');
                let sender = args.next().unwrap_or_default();
                let params = args.map(str::to_owned).collect();
                session.mail(sender, params, auth.as_deref(), &rig.config.milter.sign_networks);
            }
            "rcpt" if !smtp_path(rest) => {}
            "rcpt-signed" if !smtp_path(rest) => {}
            "rcpt" => {
                if let Err(refused) = session.rcpt(rest, &rig.config, &keys, today) {
                    assert!(one_printable_line(&inbound::reply_text(&refused.why)), "{refused:?}");
                    let recipients = session.message.as_ref().map(|m| m.recipients.len());
                    assert!(recipients.is_some(), "refused without a message");
                }
            }
            "rcpt-signed" => {
                let key = rig.keyring.require_signing_key().expect("a signing key");
                let tagged = batv::make(rest, &key.as_key(), today);
                let tagged_ok = batv::parse(&tagged).is_some();
                let outcome = session.rcpt(&tagged, &rig.config, &keys, today);
                assert!(outcome.is_ok() || !tagged_ok, "our own tag {tagged:?} refused: {outcome:?}");
            }
            "data" => data(&mut session, &mut lines),
            "eom" => eom(rig, &mut session, today),
            "abort" => session.abort(),
            _ => {}
        }
    }
}

/// The header section (a field is `name: value`, with continuation lines folded in as the MTA
/// passes them) until a blank line or a line that is no field, then body lines until `.`.
fn data<'a>(session: &mut Session, lines: &mut impl Iterator<Item = &'a str>) {
    let mut field: Option<(String, String)> = None;
    let mut body_line = None;
    for line in lines.by_ref() {
        if line == "." {
            break;
        }
        if line.starts_with([' ', '\t']) && field.is_some() {
            if let Some((_, value)) = field.as_mut() {
                value.push('\n');
                value.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = field.take() {
            session.header(&name, &value);
        }
        match line.split_once(':') {
            Some((name, value)) if !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()) => {
                field = Some((name.to_owned(), value.trim_start().to_owned()));
            }
            _ => {
                body_line = Some(line);
                break;
            }
        }
    }
    if let Some((name, value)) = field.take() {
        session.header(&name, &value);
    }
    let first = body_line.filter(|l| !l.is_empty()).into_iter();
    for line in first.chain(lines.take_while(|l| *l != ".")) {
        let mut chunk = line.as_bytes().to_vec();
        chunk.extend_from_slice(b"\r\n");
        let more = session.body(&chunk);
        let kept = session.message.as_ref().map_or(0, |m| m.body.len());
        assert!(kept <= JUDGED_BODY && (more || kept == JUDGED_BODY || !judged(session)));
    }
}

fn judged(session: &Session) -> bool {
    session.message.as_ref().is_some_and(|m| m.judged())
}

/// End of message: the plan for outbound mail, the judgement and disposition for inbound.
fn eom(rig: &Rig, session: &mut Session, today: Day) {
    let Some(message) = session.message.take() else { return };
    if let Direction::Outbound(_) = message.direction {
        let key = rig.keyring.require_signing_key().expect("a signing key");
        let plan = outbound::plan(&message, &rig.config, &key.as_key(), today, 7);
        if let SenderTag::Tagged(address) = &plan.tag {
            let v = batv::verify(address, &rig.keyring.verifying_keys(today), today);
            assert!(matches!(v, Verification::Valid { .. }), "we tagged {address:?} and it is {v:?}");
        }
        return;
    }
    if !message.judged() {
        assert!(message.head.is_empty() && message.body.is_empty(), "unjudged mail buffered");
        return;
    }
    let bytes = inbound::judged_copy(session, &message, NOW);
    let j = rig.pipeline.judge(&Message::parse(&bytes), NOW, None);
    let disposition = inbound::disposition(&j.decision, rig.config.milter.action);
    assert!(one_printable_line(&inbound::verdict_header(&j.decision)), "{:?}", j.decision);
    let valid_carrier = j.carriers.iter().any(|c| c.result.is_valid());
    if j.decision.verdict == Verdict::Genuine {
        assert!(valid_carrier, "genuine without a valid carrier: {}", j.decision.why);
    }
    match rig.config.policy.mode {
        Mode::Monitor => assert_eq!(disposition, Disposition::Accept, "monitor mode refused: {}", j.decision.why),
        Mode::Enforce => {
            if j.decision.verdict == Verdict::Backscatter {
                assert!(matches!(disposition, Disposition::Reject(_)), "backscatter accepted: {}", j.decision.why);
            }
            // An unsigned bounce or auto-reply to a protected recipient is never let through
            // (the default config exempts no one).
            let checked = rig.config.policy.check.contains(&j.classification.kind);
            if checked && !valid_carrier {
                assert!(
                    matches!(disposition, Disposition::Reject(_)),
                    "unsigned {} accepted: {} ({:?})",
                    j.classification.kind,
                    j.decision.why,
                    message.recipients
                );
            }
        }
    }
}

/// Whether the MTA would pass `path` on to the milter as it is: outside a quoted local part an
/// SMTP path (RFC 5321 §4.1.2) holds no white space, comment or list; Postfix refuses such an
/// address or rewrites it first (`alice @x` becomes `alice@x`).
fn smtp_path(path: &str) -> bool {
    let path = path.trim();
    let path = path.strip_prefix('<').and_then(|p| p.strip_suffix('>')).unwrap_or(path);
    let unquoted: String = path.split('"').step_by(2).collect();
    !unquoted.chars().any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '(' | ')'))
}

/// Printable ASCII and spaces only: one SMTP reply line or one unfolded header value.
fn one_printable_line(text: &str) -> bool {
    text.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}
