//! The one call every store and command makes: message bytes → a [`Judgement`] (classification,
//! arrival day, carriers, decision), its JSON line (DESIGN §5) and its log line.

use serde_json::Value;

use crate::classify::{self, Classification};
use crate::config::Config;
use crate::day::Day;
use crate::keys::Keyring;
use crate::policy::{self, Context, Decision};
use crate::verify::{self, Carrier};

/// Everything backscatter concluded about one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// What kind of message it is.
    pub classification: Classification,
    /// The day it arrived, on which its carriers were judged.
    pub arrival: Day,
    /// The carriers found (only for checked kinds).
    pub carriers: Vec<Carrier>,
    /// The verdict, the action and why.
    pub decision: Decision,
    /// The message's own `Message-ID`, for logs and the journal.
    pub message_id: Option<String>,
}

/// Judges `message`: classifies it, reads its arrival time (else `fallback_arrival`, Unix
/// seconds: the file's mtime or the IMAP INTERNALDATE), checks its carriers against the keys the
/// keyring lets verify on that day, and applies the config's policy. `keyring: None` means there
/// is none (see [`policy::decide`]). Pure: no clock, no files.
pub fn judge(message: &[u8], fallback_arrival: i64, keyring: Option<&Keyring>, config: &Config) -> Judgement {
    let classification = classify::classify(message);
    let arrival = Day::from_unix_seconds(verify::arrival_time(message).unwrap_or(fallback_arrival));
    let checked = config.policy.check.contains(&classification.kind);
    let carriers = match (checked, keyring) {
        (false, _) => Vec::new(),
        (true, Some(keyring)) => {
            let keys = keyring.verifying_keys(arrival);
            verify::carriers(message, &classification, &keys, arrival, &config.sign.header)
        }
        (true, None) => verify::carriers(message, &classification, &[], arrival, &config.sign.header),
    };
    let context =
        Context { arrival, first_key_created: keyring.and_then(|k| k.keys().iter().map(|k| k.created()).min()) };
    let decision =
        policy::decide(&classification, message, &carriers, &config.policy, &config.protected_domains, &context);
    Judgement { message_id: own_message_id(message), classification, arrival, carriers, decision }
}

/// The message's own `Message-ID`, trimmed.
fn own_message_id(message: &[u8]) -> Option<String> {
    let input = classify::normalise(message);
    let (head, _) = verify::fields::split(&input);
    verify::fields::header_fields(head)
        .into_iter()
        .find(|f| f.name == "message-id")
        .map(|f| f.value)
        .filter(|v| !v.is_empty())
}

impl Judgement {
    /// The `classify --json` object (DESIGN §5) for the message at `path`: the classification's
    /// fields, then `carriers`, `verdict`, `action`, `why` and `arrival`.
    pub fn to_json(&self, path: &str) -> Value {
        let c = &self.classification;
        serde_json::json!({
            "path": path,
            "kind": c.kind,
            "reason": c.reason,
            "permanent": c.permanent,
            "recipients": c.recipients,
            "original": c.original,
            "carriers": self.carriers.iter().map(Carrier::to_json).collect::<Vec<_>>(),
            "verdict": self.decision.verdict,
            "action": self.decision.action,
            "why": self.decision.why,
            "arrival": self.arrival.to_string(),
            "evidence": c.evidence,
        })
    }
}

/// The one log line for a judged message (STYLE 15): mailbox, item (file name or IMAP UID),
/// message-id, kind, verdict, action and why as structured fields; never the body. Ordinary mail
/// logs at debug level, everything else at info.
pub fn log(j: &Judgement, mailbox: &str, item: &str) {
    let message_id = j.message_id.as_deref().unwrap_or("");
    let kind = j.classification.kind.as_str();
    let verdict = j.decision.verdict.as_str();
    let action = j.decision.action.as_str();
    let why = j.decision.why.as_str();
    if j.decision.verdict == policy::Verdict::Ordinary {
        tracing::debug!(mailbox, item, message_id, kind, verdict, action, why, "verdict");
    } else {
        tracing::info!(mailbox, item, message_id, kind, verdict, action, why, "verdict");
    }
}
