//! SHIM (branch `maildir` only): `judge` and `log` of the interface in briefs/verify.md, until
//! the `verify` branch lands; replaced by the real module at that merge.

use crate::classify::{self, Classification};
use crate::config::{Config, Mode};
use crate::day::Day;
use crate::keys::Keyring;
use crate::policy::{Action, Decision, Verdict};
use crate::sign;

/// Everything known about one message.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// What it is.
    pub classification: Classification,
    /// When it arrived.
    pub arrival: Day,
    /// What to do.
    pub decision: Decision,
    /// Its own Message-ID.
    pub message_id: Option<String>,
}

/// Classifies and judges `message`.
pub fn judge(message: &[u8], fallback_arrival: i64, keyring: Option<&Keyring>, config: &Config) -> Judgement {
    let classification = classify::classify(message);
    let arrival = Day::from_unix_seconds(fallback_arrival);
    let decision = if !config.policy.check.contains(&classification.kind) {
        Decision { verdict: Verdict::Ordinary, action: Action::Keep, why: String::new() }
    } else {
        let keys = keyring.map(|k| k.verifying_keys(arrival)).unwrap_or_default();
        let valid = header_values(message, "X-Original-To")
            .any(|v| sign::batv::verify(v.trim_matches(['<', '>']), &keys, arrival).is_valid())
            || classification.original.as_ref().is_some_and(|o| {
                header_values(&o.headers, &config.sign.header)
                    .any(|v| sign::header::verify(v, &keys, arrival).is_valid())
            });
        if valid {
            Decision { verdict: Verdict::Genuine, action: Action::Keep, why: "valid carrier".into() }
        } else {
            let action = if config.policy.mode == Mode::Monitor { Action::WouldMove } else { Action::Move };
            Decision { verdict: Verdict::Backscatter, action, why: "no valid carrier".into() }
        }
    };
    let message_id = mail_parser::MessageParser::default()
        .parse_headers(message)
        .and_then(|m| m.message_id().map(|id| format!("<{id}>")));
    Judgement { classification, arrival, decision, message_id }
}

fn header_values<'a>(bytes: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a str> {
    bytes.split(|&b| b == b'\n').filter_map(move |line| {
        let line = std::str::from_utf8(line).ok()?;
        let line = line.trim_start_matches("> ");
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The one tracing line per verdict.
pub fn log(j: &Judgement, mailbox: &str, item: &str) {
    tracing::info!(mailbox, item, kind = j.classification.kind.as_str(), verdict = %j.decision.verdict, why = %j.decision.why, "verdict");
}

impl Judgement {
    /// The §5 object.
    pub fn to_json(&self, path: &str) -> serde_json::Value {
        serde_json::json!({"path": path, "kind": self.classification.kind, "verdict": self.decision.verdict, "why": self.decision.why})
    }
}
