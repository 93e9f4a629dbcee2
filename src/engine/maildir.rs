//! A Maildir through the pipeline: read a message safely, judge it, log the verdict, and carry
//! out the plan — the intent journaled before the rename, the outcome after. `scan` and `watch`
//! both go through [`MaildirBox`]; unfinished intents are reconciled by [`reconcile`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use crate::evidence::maildir::MaildirSent;
use crate::journal::{Ledger, Place};
use crate::message::Message;
use crate::store::maildir::{refind_in, unique_part, Maildir};
use crate::store::read::{read_message, Read};
use crate::store::{Landed, Mailbox, StoreError, Taken};
use crate::verdict;

use super::act::Mover;
use super::pipeline::{Judged, Pipeline, Plan};

/// One Maildir with the run's pipeline and journal.
#[derive(Debug, Clone)]
pub struct MaildirBox {
    maildir: Maildir,
    pipeline: Pipeline,
    mover: Mover,
    /// Its Sent index (DESIGN §4.5), when it has a Sent folder: read by every judgement (on any
    /// thread), refreshed by [`MaildirBox::handle`].
    sent: Option<Arc<RwLock<MaildirSent>>>,
}

impl MaildirBox {
    /// The Maildir with the pipeline and journal of the run.
    pub fn new(maildir: Maildir, pipeline: Pipeline, mover: Mover) -> MaildirBox {
        MaildirBox { maildir, pipeline, mover, sent: None }
    }

    /// Judges with `sent`, the Maildir's Sent index (`None`: it has no Sent folder).
    pub fn with_sent(mut self, sent: Option<MaildirSent>) -> MaildirBox {
        self.sent = sent.map(|s| Arc::new(RwLock::new(s)));
        self
    }

    /// Reads what was added to the Sent folders since the last time (two `stat`s per folder
    /// when nothing was); a folder that cannot be read is logged, the index used as it is.
    pub fn refresh_sent(&self) {
        let Some(sent) = &self.sent else { return };
        let mut sent = sent.write().unwrap_or_else(PoisonError::into_inner);
        if let Err(err) = sent.refresh(self.pipeline.clock().now()) {
            tracing::warn!(mailbox = %self.maildir.root().display(), "{err}");
        }
    }

    /// The Maildir.
    pub fn maildir(&self) -> &Maildir {
        &self.maildir
    }

    /// Reads the message at `path` and judges it (the pure half: safe on any thread); `Err` is
    /// what was done instead when it could not be read.
    #[allow(clippy::type_complexity)]
    pub fn judge(&self, path: &Path) -> Result<Result<(Message<'static>, verdict::Judgement), Taken>, StoreError> {
        match read_message(path, self.pipeline.config().max_message_size)? {
            Read::Message { bytes, mtime } => {
                let message = Message::from(bytes);
                let judgement = self.judge_message(&message, mtime);
                Ok(Ok((message, judgement)))
            }
            Read::Vanished => Ok(Err(Taken::Vanished)),
            Read::Skipped(skip) => Ok(Err(Taken::Skipped(skip))),
        }
    }

    /// The pure judgement of a message read from this Maildir, with its Sent index as it is.
    fn judge_message(&self, message: &Message<'_>, mtime: i64) -> verdict::Judgement {
        let sent = self.sent.as_ref().map(|s| s.read().unwrap_or_else(PoisonError::into_inner));
        self.pipeline.judge(message, mtime, sent.as_ref().map(|s| s.index()))
    }

    /// Reads, judges (Sent read again first: what was sent a moment ago counts), logs and
    /// carries out the plan for the message at `path`; no judgement when it was not read
    /// (vanished or skipped: see the [`Taken`]).
    pub async fn handle(&self, path: &Path) -> Result<(Option<Judged>, Taken), StoreError> {
        self.refresh_sent();
        match read_message(path, self.pipeline.config().max_message_size)? {
            Read::Message { bytes, mtime } => {
                let started = std::time::Instant::now();
                let message = Message::from(bytes);
                let judgement = self.judge_message(&message, mtime);
                let judged = self.pipeline.conclude_timed(&message, judgement, started).await;
                let taken = self.apply(path, &judged).await?;
                Ok((Some(judged), taken))
            }
            Read::Vanished => Ok((None, Taken::Vanished)),
            Read::Skipped(skip) => {
                tracing::warn!(mailbox = %self.maildir.root().display(), item = %path.display(), "{skip}");
                Ok((None, Taken::Skipped(skip)))
            }
        }
    }

    /// Logs the verdict and carries out the plan: a move is journaled (intent, rename, outcome);
    /// when the intent cannot be written, nothing moves and the error says it is the journal.
    pub async fn apply(&self, path: &Path, judged: &Judged) -> Result<Taken, StoreError> {
        let item = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        verdict::log(&judged.judgement, &self.maildir.root().to_string_lossy(), &item);
        let (folder, why) = match &judged.plan {
            Plan::Keep => return Ok(Taken::Kept),
            Plan::WouldMove => return Ok(Taken::WouldMove),
            Plan::Move { folder, why } => (folder, why),
        };
        if self.mover.dry_run() {
            return Ok(Taken::WouldMove);
        }
        if self.maildir.is_folder(&self.pipeline.config().policy.folder) || self.maildir.is_folder(folder) {
            return Ok(Taken::Kept);
        }
        if path.file_name().is_some_and(|name| self.mover.was_restored(name).unwrap_or(false)) {
            tracing::info!(mailbox = %self.maildir.root().display(), item = %path.display(), "restored by hand once: kept");
            return Ok(Taken::Spared);
        }
        let mut maildir = self.maildir.clone();
        let from = Mailbox::place(&maildir, &path.to_path_buf());
        let to = Mailbox::destination(&mut maildir, &path.to_path_buf(), folder).await?;
        let intent = self.mover.intent(judged, from, to, why);
        let id = intent.id.clone();
        let outcome = self.mover.carry_out(&mut maildir, folder, vec![(path.to_path_buf(), intent)]).await?;
        match outcome.into_iter().next().map(|(_, landed)| landed) {
            Some(Landed::At(Place::Maildir { path: to, .. })) => Ok(Taken::Moved { id, to }),
            Some(Landed::Failed(error)) => {
                Err(StoreError::Io { path: path.to_path_buf(), source: std::io::Error::other(error) })
            }
            _ => Ok(Taken::Vanished),
        }
    }
}

/// Settles the journal's unfinished Maildir intents (a crash between intent and outcome): a
/// message found in the folder is recorded done, one still in its mailbox (or gone) abandoned.
/// Returns how many were settled.
pub fn reconcile(mover: &Mover, ledger: &Ledger) -> Result<usize, StoreError> {
    let mut settled = 0;
    for record in ledger.unfinished() {
        let (Place::Maildir { root, path: from }, Place::Maildir { path: to, .. }) =
            (&record.intent.from, &record.intent.to)
        else {
            continue;
        };
        match landed(to) {
            Some(at) => mover.done(&record.intent.id, Place::Maildir { root: root.clone(), path: at })?,
            None => {
                let why = if from.exists() || refound(from).is_some() {
                    "not moved: still in its mailbox after an interruption"
                } else {
                    "not moved: gone from its mailbox after an interruption"
                };
                mover.abandoned(&record.intent.id, why)?;
            }
        }
        settled += 1;
    }
    Ok(settled)
}

/// Where the message of an unfinished move is in the folder, if it got there.
fn landed(to: &Path) -> Option<PathBuf> {
    if to.exists() {
        return Some(to.to_path_buf());
    }
    refound(to)
}

/// The file in the same directory with the same unique part (a MUA changed its flags).
fn refound(path: &Path) -> Option<PathBuf> {
    refind_in(path.parent()?, unique_part(path.file_name()?))
}
