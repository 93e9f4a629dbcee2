//! The production [`Handler`]: every message goes through [`verdict::judge`] (INTERNALDATE as
//! the arrival fallback), is logged with its one verdict line, and moves when the policy says
//! `Move` (not `WouldMove`: monitor mode and the grace period only log).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Action, Handler, Message};
use crate::config::Config;
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
        Judge { config, keyring, tally: Arc::default(), observer: None }
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

/// How a message is named in logs: the account and mailbox, then the UID.
pub fn mailbox_label(message: &Message<'_>) -> String {
    format!("imap:{}/{}", message.account, message.mailbox)
}

impl Handler for Judge {
    type Note = Judgement;

    fn decide(&mut self, message: &Message<'_>) -> Action<Judgement> {
        let j = verdict::judge(message.bytes, message.internal_date, self.keyring.as_deref(), &self.config);
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
