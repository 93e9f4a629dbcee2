//! The production [`Handler`]: every message goes through [`verdict::judge`] (INTERNALDATE as
//! the arrival fallback), is logged with its one verdict line, moves when the policy says `Move`
//! (not `WouldMove`: monitor mode and the grace period only log), and each move is journaled.
//!
//! Journal lines name IMAP places as `imap:ACCOUNT/MAILBOX` (after RFC 5092 URLs); `from` adds
//! `;UIDVALIDITY=V/;UID=N`. [`place`] reads them back for `restore`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use super::{Action, Handler, Message};
use crate::config::Config;
use crate::evidence::imap::ImapSent;
use crate::journal::{self, Entry, Journal, Op};
use crate::keys::Keyring;
use crate::policy;
use crate::verdict::{self, Judgement};

/// Called with every judgement (e.g. `scan --imap --json` prints it).
pub type Observer = Arc<dyn Fn(&Message<'_>, &Judgement) + Send + Sync>;

/// Judges with one config and keyring; clones share them and the [`Tally`].
#[derive(Clone)]
pub struct Judge {
    config: Arc<Config>,
    keyring: Option<Arc<Keyring>>,
    tally: Arc<Mutex<Tally>>,
    observer: Option<Observer>,
    journal: Option<Arc<Mutex<Journal>>>,
    /// Each account's Sent index, by account name (DESIGN §4.5).
    sent: HashMap<String, Arc<Mutex<ImapSent>>>,
}

/// What the judge saw, for a summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Messages per verdict word (`ordinary`, `genuine`, `backscatter`, `exempt`).
    pub verdicts: BTreeMap<&'static str, usize>,
    /// Backscatter the policy only logs (monitor mode, grace period).
    pub would_move: usize,
}

impl Judge {
    /// A judge for `config` and `keyring` (`None`: no keyring, see [`verdict::judge`]).
    pub fn new(config: Arc<Config>, keyring: Option<Arc<Keyring>>) -> Judge {
        Judge { config, keyring, tally: Arc::default(), observer: None, journal: None, sent: HashMap::new() }
    }

    /// Judges each account's messages with its Sent index too; an index older than a checked
    /// message is refreshed first (so mail sent a moment ago counts).
    pub fn with_sent(mut self, sent: impl IntoIterator<Item = ImapSent>) -> Judge {
        self.sent.extend(sent.into_iter().map(|s| (s.account().to_owned(), Arc::new(Mutex::new(s)))));
        self
    }

    /// [`verdict::judge`] with the account's Sent index, refreshed first when the message is of
    /// a checked kind and arrived after the index was last read.
    fn judge(&self, message: &Message<'_>) -> Judgement {
        let keyring = self.keyring.as_deref();
        let Some(sent) = self.sent.get(message.account) else {
            return verdict::judge(message.bytes, message.internal_date, keyring, None, &self.config);
        };
        let mut sent = sent.lock().unwrap_or_else(PoisonError::into_inner);
        let j = verdict::judge(message.bytes, message.internal_date, keyring, Some(sent.index()), &self.config);
        // Read in the second the message arrived (or before): what was sent just before it may
        // be missing. Reading again now is after its arrival.
        let behind = sent.index().read_at().is_none_or(|read| read <= message.internal_date);
        if !behind || !self.config.policy.check.contains(&j.classification.kind) {
            return j;
        }
        if let Err(e) = sent.refresh_blocking(now()) {
            tracing::warn!(account = message.account, error = %e, "cannot refresh the Sent index");
        }
        verdict::judge(message.bytes, message.internal_date, keyring, Some(sent.index()), &self.config)
    }

    /// Journals every move into `journal`.
    pub fn journaled(mut self, journal: Journal) -> Judge {
        self.journal = Some(Arc::new(Mutex::new(journal)));
        self
    }

    /// Also hands every judgement to `observer`.
    pub fn observed(mut self, observer: Observer) -> Judge {
        self.observer = Some(observer);
        self
    }

    /// What all clones of this judge have seen so far.
    pub fn tally(&self) -> Tally {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

/// How a message's mailbox is named in logs and the journal: `imap:ACCOUNT/MAILBOX`.
pub fn mailbox_label(message: &Message<'_>) -> String {
    label(message.account, message.mailbox)
}

fn label(account: &str, mailbox: &str) -> String {
    format!("imap:{account}/{mailbox}")
}

/// A journal place read back: `imap:ACCOUNT/MAILBOX[;…]` → (account, mailbox); `None` for a
/// Maildir path. Account names hold no `/` (they name the state file), mailbox names may.
pub fn place(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix("imap:")?;
    let (account, mailbox) = rest.split_once('/')?;
    let mailbox = mailbox.split_once(';').map_or(mailbox, |(m, _)| m);
    Some((account, mailbox))
}

/// Now, unix seconds: journal lines are stamped at the edge.
fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

impl Handler for Judge {
    type Note = Judgement;

    fn decide(&mut self, message: &Message<'_>) -> Action<Judgement> {
        let j = self.judge(message);
        verdict::log(&j, &mailbox_label(message), &format!("UID {}", message.uid));
        if let Some(observer) = &self.observer {
            observer(message, &j);
        }
        {
            let mut tally = self.tally.lock().unwrap_or_else(PoisonError::into_inner);
            *tally.verdicts.entry(j.decision.verdict.as_str()).or_default() += 1;
            if j.decision.action == policy::Action::WouldMove {
                tally.would_move += 1;
            }
        }
        match j.decision.action {
            policy::Action::Move => Action::Move(j),
            policy::Action::Keep | policy::Action::WouldMove => Action::Keep,
        }
    }

    fn moved(&mut self, note: Judgement, message: &Message<'_>, folder: &str) {
        if let Some(journal) = &self.journal {
            let now = now();
            let c = &note.classification;
            let entry = Entry {
                id: journal::new_id(now),
                time: journal::format_time(now),
                op: Op::Move,
                mailbox: mailbox_label(message),
                from: format!("{};UIDVALIDITY={}/;UID={}", mailbox_label(message), message.uid_validity, message.uid),
                to: label(message.account, folder),
                message_id: note.message_id.clone(),
                kind: c.kind.as_str().to_owned(),
                reason: c.reason.and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_str().map(str::to_owned)),
                verdict: note.decision.verdict.to_string(),
                why: note.decision.why.clone(),
                restores: None,
            };
            let appended = journal.lock().unwrap_or_else(PoisonError::into_inner).append(&entry);
            if let Err(e) = appended {
                // The move is done and cannot be taken back here; say loudly what is missing.
                tracing::error!(mailbox = %entry.mailbox, uid = message.uid, error = %e, "moved but not journaled");
            }
        }
        tracing::info!(
            mailbox = %mailbox_label(message),
            uid = message.uid,
            message_id = note.message_id.as_deref().unwrap_or(""),
            kind = note.classification.kind.as_str(),
            folder,
            "moved"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_read_back() {
        assert_eq!(place("imap:work/INBOX;UIDVALIDITY=7/;UID=42"), Some(("work", "INBOX")));
        assert_eq!(place("imap:work/Lists/rust"), Some(("work", "Lists/rust")));
        assert_eq!(place("/home/ann/Maildir/cur/1.x:2,"), None);
        assert_eq!(place("imap:noslash"), None);
    }
}
