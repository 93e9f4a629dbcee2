//! The one call every store and command makes: message bytes → a [`Judgement`] (classification,
//! arrival day, carriers, decision), its JSON line (DESIGN §5) and its log line.

use serde_json::Value;

use crate::classify::{self, Classification};
use crate::config::Config;
use crate::day::Day;
use crate::evidence::sentlog::{self, SentLog};
use crate::evidence::{self, SentIndex};
use crate::keys::StoredKey;
use crate::message::Message;
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

/// Judges `message`, read once and handed as read to every step: classifies it, reads its
/// arrival time (else `fallback_arrival`, Unix seconds: the file's mtime or the IMAP
/// INTERNALDATE), checks its carriers against those of `keys` that verify on that day, looks its
/// original up in the mailbox's Sent index (`sent`, DESIGN §4.5) and applies the config's
/// policy. The keys are values, not the keyring file: no keys means there is no keyring (see
/// [`policy::decide`]). Pure: no clock, no files.
pub fn judge(
    message: &Message<'_>,
    fallback_arrival: i64,
    keys: &[StoredKey],
    sent: Option<&SentIndex>,
    config: &Config,
) -> Judgement {
    judge_with_log(message, fallback_arrival, keys, sent, None, config)
}

/// [`judge`], with the sent log (`sent_log`, DESIGN §4.4) to check valid carriers against:
/// a valid carrier made for a message that never went to the recipient the report names is
/// a replay ([`sentlog::find`]).
pub fn judge_with_log(
    message: &Message<'_>,
    fallback_arrival: i64,
    keys: &[StoredKey],
    sent: Option<&SentIndex>,
    sent_log: Option<&SentLog>,
    config: &Config,
) -> Judgement {
    let classification = classify::classify(message);
    let own = verify::own_head(message);
    let arrival_time = own.arrival.unwrap_or(fallback_arrival);
    let arrival = Day::from_unix_seconds(arrival_time);
    let checked = config.policy.check.contains(&classification.kind);
    // Ordinary mail, the bulk of any mailbox, is not searched for carriers.
    let carriers = if checked {
        let keys: Vec<_> = keys.iter().filter(|k| k.verifies_on(arrival)).map(StoredKey::as_key).collect();
        verify::carriers(message, &classification, &keys, arrival, &config.sign.header)
    } else {
        Vec::new()
    };
    let sent =
        sent.filter(|_| checked).and_then(|index| evidence::judge(&classification, message, arrival_time, index));
    let replay = sent_log.filter(|_| checked).and_then(|log| {
        let keys: Vec<_> = keys.iter().map(StoredKey::as_key).collect();
        sentlog::find(&classification, message, &carriers, log, &keys)
    });
    let first_key_created = keys.iter().map(StoredKey::created).min();
    let context = Context { arrival, first_key_created, sent, replay };
    let decision =
        policy::decide(&classification, message, &carriers, &config.policy, &config.protected_domains, &context);
    Judgement { message_id: own.message_id, classification, arrival, carriers, decision }
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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::keys::Keyring;
    use crate::policy::{Action, Verdict};
    use crate::sign::header;

    const BOUNCE: &str = include_str!("../tests/fixtures/ndr/001.eml");

    fn keyring() -> Keyring {
        let text = "[[key]]\nid = 4\ncreated = \"2001-01-01\"\nsecret = \"s3cret\"\n";
        Keyring::parse(Path::new("keyring.toml"), text).expect("keyring parses")
    }

    fn signed() -> String {
        let keyring = keyring();
        let key = keyring.signing_key().expect("key").as_key();
        let sig = header::make(&key, Day::from_ymd(2013, 10, 14).expect("date"), 1);
        BOUNCE.replacen(
            "Return-Path: <kijitora@example.org>",
            &format!("X-Backscatter-Sig: {sig}\nReturn-Path: <kijitora@example.org>"),
            1,
        )
    }

    #[test]
    fn json_object_has_the_design_fields() {
        let j = judge(&Message::parse(signed().as_bytes()), 0, keyring().keys(), None, &Config::default());
        let v = j.to_json("cur/1");
        assert_eq!(v["path"], "cur/1");
        assert_eq!(v["kind"], "ndr");
        assert_eq!(v["verdict"], "genuine");
        assert_eq!(v["action"], "keep");
        assert_eq!(v["why"], "valid signature header in the returned original");
        assert_eq!(v["arrival"], "2013-10-16");
        assert_eq!(
            v["carriers"],
            serde_json::json!([{"type": "header", "result": "valid", "key": 4, "found_in": "the returned original"}])
        );
        assert_eq!(v["original"]["via"], "message/rfc822");
        assert_eq!(j.message_id.as_deref(), Some("<201310160515.r9G5FZh9018575@smtpgw.example.jp>"));
    }

    #[test]
    fn unchecked_kinds_skip_the_carrier_search() {
        let mut config = Config::default();
        config.policy.check.retain(|k| *k != classify::Kind::Ndr);
        let j = judge(&Message::parse(signed().as_bytes()), 0, keyring().keys(), None, &config);
        assert!(j.carriers.is_empty());
        assert_eq!((j.decision.verdict, j.decision.action), (Verdict::Ordinary, Action::Keep));
    }

    /// A `tracing` writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_log_line_with_structured_fields_and_no_body() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let j = judge(&Message::parse(BOUNCE.as_bytes()), 0, keyring().keys(), None, &Config::default());
        tracing::subscriber::with_default(subscriber, || log(&j, "INBOX", "1234"));
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("UTF-8");
        assert_eq!(text.lines().count(), 1, "{text}");
        for want in [
            "INFO",
            "verdict",
            "mailbox=\"INBOX\"",
            "item=\"1234\"",
            "message_id=\"<201310160515.r9G5FZh9018575@smtpgw.example.jp>\"",
            "kind=\"ndr\"",
            "verdict=\"backscatter\"",
            "action=\"move\"",
            "why=\"no carrier",
        ] {
            assert!(text.contains(want), "{want} missing in {text}");
        }
        assert!(!text.contains("5aSq55yJ"), "never the body: {text}");
    }
}
