//! Carrying out moves, journaled: the one place journal lines are written. Every store's moves
//! go through [`Mover::carry_out`] (intents on disk first, or nothing moves; then the store's
//! [`Mailbox::move_to`]; then each outcome); reconciliation settles intents with
//! [`Mover::done`] and [`Mover::abandoned`], and a restore is recorded by [`Mover::restored`].
//! A dry run has no journal and moves nothing.

use std::collections::HashSet;
use std::ffi::OsString;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::journal::{self, Journal, JournalError, Ledger, Line, Move, Place, Time};
use crate::metrics::prometheus as metrics;
use crate::store::maildir::unique_part;
use crate::store::{Landed, Mailbox};

use super::clock::Clock;
use super::pipeline::Judged;

/// The journal of a run (or none: a dry run), shared by every mailbox task.
#[derive(Debug, Clone)]
pub struct Mover {
    inner: Option<Arc<Mutex<Inner>>>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct Inner {
    journal: Journal,
    /// Unique parts of Maildir messages a person restored, and the journal's size when read.
    restored: (HashSet<OsString>, u64),
}

impl Mover {
    /// Moves journaled into `journal`, or (`None`) a dry run.
    pub fn new(journal: Option<Journal>, clock: Arc<dyn Clock>) -> Mover {
        let inner =
            journal.map(|journal| Arc::new(Mutex::new(Inner { journal, restored: (HashSet::new(), u64::MAX) })));
        Mover { inner, clock }
    }

    /// True on a dry run: nothing may move.
    pub fn dry_run(&self) -> bool {
        self.inner.is_none()
    }

    fn lock(&self) -> Option<MutexGuard<'_, Inner>> {
        // A panic elsewhere mid-append leaves at worst a torn line, which the journal handles.
        self.inner.as_ref().map(|inner| inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The intent for moving the message `judged` from `from` to `to`, stamped now.
    pub fn intent(&self, judged: &Judged, from: Place, to: Place, why: &str) -> Move {
        let now = self.clock.now();
        let c = &judged.judgement.classification;
        Move {
            id: journal::new_id(now),
            time: Time(now),
            from,
            to,
            message_id: judged.judgement.message_id.clone(),
            kind: c.kind,
            reason: c.reason,
            verdict: judged.judgement.decision.verdict,
            why: why.to_owned(),
        }
    }

    /// Writes the intents (one write, fsynced) before the moves happen. On `Err` nothing may move.
    fn begin(&self, intents: &[Move]) -> Result<(), JournalError> {
        if intents.is_empty() {
            return Ok(());
        }
        let lines: Vec<Line> = intents.iter().cloned().map(Line::Intent).collect();
        self.append(&lines)
    }

    /// The move `id` happened; the message is at `at`.
    pub fn done(&self, id: &str, at: Place) -> Result<(), JournalError> {
        let time = Time(self.clock.now());
        let store = match at {
            Place::Maildir { .. } => "maildir",
            Place::Imap { .. } => "imap",
        };
        metrics::get().moves.get_or_create(&metrics::Store { store }).inc();
        self.write(Line::Done { id: id.to_owned(), time, at })
    }

    /// The move `id` did not happen, and why.
    pub fn abandoned(&self, id: &str, why: &str) -> Result<(), JournalError> {
        let time = Time(self.clock.now());
        self.write(Line::Abandoned { id: id.to_owned(), time, why: why.to_owned() })
    }

    /// The move `id` was undone; the message is at `at` again.
    pub fn restored(&self, id: &str, at: Place) -> Result<(), JournalError> {
        let time = Time(self.clock.now());
        self.write(Line::Restore { id: id.to_owned(), time, at })
    }

    fn write(&self, line: Line) -> Result<(), JournalError> {
        self.append(&[line])
    }

    /// Appends; when the journal had not grown since the restored set was read, our own lines
    /// (which restore nothing unless they are restores) do not make it stale.
    fn append(&self, lines: &[Line]) -> Result<(), JournalError> {
        let Some(mut inner) = self.lock() else { return Ok(()) };
        let before = size(inner.journal.path());
        if let Err(err) = inner.journal.append(lines) {
            metrics::get().journal_errors.inc();
            return Err(err);
        }
        let ours = lines.iter().all(|l| !matches!(l, Line::Restore { .. }));
        if ours && inner.restored.1 == before {
            inner.restored.1 = size(inner.journal.path());
        }
        Ok(())
    }

    /// Moves `batch` (each item with its intent, from [`Mover::intent`]) out of `mailbox` into
    /// `folder`, journaled: the intents on disk first (or nothing moves), then the store's move,
    /// then each outcome. A store failure after the intents leaves them for reconciliation.
    pub async fn carry_out<M: Mailbox>(
        &self,
        mailbox: &mut M,
        folder: &str,
        batch: Vec<(M::Item, Move)>,
    ) -> Result<Vec<(Move, Landed)>, M::Error> {
        let (items, intents): (Vec<M::Item>, Vec<Move>) = batch.into_iter().unzip();
        self.begin(&intents)?;
        let landed = mailbox.move_to(&items, folder).await?;
        let mut outcomes = Vec::with_capacity(intents.len());
        for (intent, landed) in intents.into_iter().zip(landed) {
            match &landed {
                Landed::At(at) => self.done(&intent.id, at.clone())?,
                Landed::Vanished => self.abandoned(&intent.id, "the message vanished before it could move")?,
                Landed::Refused(why) => self.abandoned(&intent.id, why)?,
                Landed::Failed(error) => self.abandoned(&intent.id, error)?,
            }
            outcomes.push((intent, landed));
        }
        Ok(outcomes)
    }

    /// The journal as it is now (empty on a dry run).
    pub fn ledger(&self) -> Result<Ledger, JournalError> {
        match self.lock() {
            Some(inner) => inner.journal.ledger(),
            None => Ok(Ledger::default()),
        }
    }

    /// True if a person restored the Maildir message named `name` once: it is never moved again.
    /// The journal is re-read only when it grew.
    pub fn was_restored(&self, name: &std::ffi::OsStr) -> Result<bool, JournalError> {
        let Some(mut inner) = self.lock() else { return Ok(false) };
        let now = size(inner.journal.path());
        if now != inner.restored.1 {
            let set = inner.journal.ledger()?.restored_maildir_messages();
            inner.restored = (set, now);
        }
        Ok(inner.restored.0.contains(unique_part(name)))
    }
}

/// The journal's size (0 when it cannot be read): another process appended when it changed.
fn size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
