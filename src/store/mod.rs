//! The mail stores: where messages are read from and backscatter is moved to (DESIGN §7).
//!
//! - [`maildir`]: one Maildir on disk — layout, listing, the Backscatter folder, moving.
//! - [`watch`]: many Maildirs watched with inotify, for `backscatter watch`.
//! - [`imap`]: IMAP accounts — IDLE, UID MOVE, reconnects, UIDVALIDITY state.
//! - [`spf`]: the SPF step beside the judgement (`[spf] enabled`).
//! - [`Handler`]: what every store does with one message — judge it, log the verdict, and move
//!   it (journaled) when the policy or `[spf] fail_action` says so.

pub mod imap;
pub mod maildir;
pub mod spf;
pub mod watch;

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::config::{Config, Mode};
use crate::evidence::maildir::Book;
use crate::evidence::SentIndex;
use crate::journal::{self, Entry, Journal, JournalError, Op};
use crate::keys::Keyring;
use crate::policy::Action;
use crate::spf::step::{Consequence, Report};
use crate::spf::SpfError;
use crate::verdict::{self, Judgement};

use self::maildir::{unique_part, Maildir, Moved};
use self::spf::SpfStep;

/// Failing to read or change a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The path has no `cur/`, `new/` and `tmp/`.
    #[error("{path}: not a Maildir (it needs cur/, new/ and tmp/)")]
    NotMaildir {
        /// The path given.
        path: PathBuf,
    },
    /// A file or directory could not be read, created or renamed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A move happened but could not be journaled.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The SPF step could not be set up.
    #[error(transparent)]
    Spf(#[from] SpfError),
}

/// What a store did with one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// Left where it is.
    Kept,
    /// The policy would move it (monitor mode, grace period) or this is a dry run.
    WouldMove,
    /// Moved into the folder and journaled under this id.
    Moved {
        /// The journal entry id (`restore ID`).
        id: String,
        /// Where it is now.
        to: PathBuf,
    },
    /// A person restored it once: never moved again.
    Spared,
    /// Gone before we could read or move it (a MUA deleted or moved it): nothing to do.
    Vanished,
}

impl Taken {
    /// How the scan report and its `--json` field `done` name it: `keep`, `would-move`,
    /// `moved`, `spared`, `vanished`.
    pub fn word(&self) -> &'static str {
        match self {
            Taken::Kept => "keep",
            Taken::WouldMove => "would-move",
            Taken::Moved { .. } => "moved",
            Taken::Spared => "spared",
            Taken::Vanished => "vanished",
        }
    }
}

/// Judges messages and carries out the decision: shared by `scan` and `watch`.
#[derive(Debug)]
pub struct Handler<'a> {
    config: &'a Config,
    keyring: Option<&'a Keyring>,
    /// `None` on a dry run: nothing moves.
    journal: Option<Journal>,
    /// Unique parts of messages a person restored; re-read when the journal grows.
    restored: HashSet<OsString>,
    /// The journal's size when `restored` was read.
    journal_size: u64,
    /// The SPF step, when `[spf]` is on and [`Handler::start_spf`] was called.
    spf: Option<SpfStep>,
    /// The SPF report of the message applied last.
    spf_report: Option<Report>,
    /// The Sent indexes of the Maildirs handled, when [`Handler::start_sent`] was called.
    sent: Option<Book>,
}

impl<'a> Handler<'a> {
    /// A handler moving messages and journaling into `journal`, or (`None`) a dry run.
    pub fn new(config: &'a Config, keyring: Option<&'a Keyring>, journal: Option<Journal>) -> Handler<'a> {
        let restored = HashSet::new();
        Handler { config, keyring, journal, restored, journal_size: 0, spf: None, spf_report: None, sent: None }
    }

    /// Judges every message [`Handler::handle`] reads with its Maildir's Sent index (DESIGN
    /// §4.5), kept in `state_dir` and refreshed before each message.
    pub fn start_sent(&mut self, state_dir: PathBuf) {
        self.sent = Some(Book::new(self.config, state_dir));
    }

    /// Runs the SPF step on every message from now on, if `[spf] enabled`. `watch` gives the
    /// cache snapshot's path (see [`Handler::write_spf_snapshot`]); a scan gives `None`.
    pub fn start_spf(&mut self, snapshot: Option<PathBuf>) -> Result<(), StoreError> {
        self.spf = SpfStep::start(self.config, snapshot)?;
        Ok(())
    }

    /// The SPF report of the message [`Handler::apply`] handled last (`None` with SPF off, or
    /// when it vanished): for `scan --json`'s `spf` field.
    pub fn spf_report(&self) -> Option<&Report> {
        self.spf_report.as_ref()
    }

    /// Writes the SPF cache listing for `backscatter spf --cache` (`watch`, now and then).
    pub fn write_spf_snapshot(&self) {
        if let Some(spf) = &self.spf {
            spf.write_snapshot();
        }
    }

    /// Reads, judges, logs and (if the policy says move) moves the message at `path` in
    /// `maildir`. `Ok(None)` when it vanished before it could be read, and for a message we just
    /// rewrote with a `Received-SPF` (its rename is an inotify arrival, not a new message).
    pub fn handle(&mut self, maildir: &Maildir, path: &Path) -> Result<Option<(Judgement, Taken)>, StoreError> {
        if self.spf.as_mut().is_some_and(|spf| spf.take_rewritten(path)) {
            return Ok(None);
        }
        let sent = self.sent.as_mut().and_then(|book| book.fresh(maildir.root(), now()));
        let Some(judgement) = judge_file(self.config, self.keyring, sent, path)? else { return Ok(None) };
        self.apply(maildir, path, judgement).map(Some)
    }

    /// The second half of [`Handler::handle`], for a message judged by [`judge_file`] (perhaps
    /// on another thread): runs the SPF step (when on), logs the verdict and carries it out.
    /// The `Received-SPF` header is written (not on a dry run) before any move.
    pub fn apply(
        &mut self,
        maildir: &Maildir,
        path: &Path,
        mut judgement: Judgement,
    ) -> Result<(Judgement, Taken), StoreError> {
        self.spf_report = None;
        let report = if self.spf.is_some() {
            let Some(report) = self.run_spf(path, &mut judgement)? else { return Ok((judgement, Taken::Vanished)) };
            Some(report)
        } else {
            None
        };
        let mailbox = maildir.root().to_string_lossy();
        let item = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        verdict::log(&judgement, &mailbox, &item);
        let spf_folder = match report.as_ref().map(|r| &r.consequence) {
            Some(Consequence::Move(folder)) => Some(folder.as_str()),
            _ => None,
        };
        let taken = match (judgement.decision.action, spf_folder) {
            (Action::Move, _) => {
                let folder = self.config.policy.folder.clone();
                self.move_message(maildir, path, &judgement, &folder, &judgement.decision.why)?
            }
            (Action::WouldMove, _) => Taken::WouldMove,
            // `fail_action = "move"` on ordinary mail; monitor mode only says so.
            (Action::Keep, Some(folder)) if self.config.policy.mode == Mode::Enforce => {
                let why = report.as_ref().map(|r| format!("SPF fail: {}", r.message.why)).unwrap_or_default();
                self.move_message(maildir, path, &judgement, folder, &why)?
            }
            (Action::Keep, Some(_)) => Taken::WouldMove,
            (Action::Keep, None) => Taken::Kept,
        };
        if let (Some(spf), false) = (self.spf.as_mut(), taken == Taken::Kept) {
            spf.forget(path);
        }
        self.spf_report = report;
        Ok((judgement, taken))
    }

    /// The SPF step for the message at `path` (read again: judging may have run on another
    /// thread), and its `Received-SPF` header unless this is a dry run (a failure to write it is
    /// logged). `None` if the message is gone.
    fn run_spf(&mut self, path: &Path, judgement: &mut Judgement) -> Result<Option<Report>, StoreError> {
        let Some(spf) = self.spf.as_mut() else { return Ok(None) };
        let Some((bytes, _)) = read_message(path)? else { return Ok(None) };
        let report = spf.run(&bytes, judgement, self.config);
        if self.journal.is_some() {
            match spf.write_header(path, &report, self.config) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
                // The header is a courtesy: the verdict is still carried out.
                Err(err) => tracing::warn!(item = %path.display(), "cannot write Received-SPF: {err}"),
            }
        }
        Ok(Some(report))
    }

    /// Moves the message into `folder` and journals it with `why`.
    fn move_message(
        &mut self,
        maildir: &Maildir,
        path: &Path,
        judgement: &Judgement,
        folder: &str,
        why: &str,
    ) -> Result<Taken, StoreError> {
        if self.journal.is_none() {
            return Ok(Taken::WouldMove);
        }
        if maildir.is_folder(&self.config.policy.folder) || maildir.is_folder(folder) {
            return Ok(Taken::Kept);
        }
        if self.was_restored(path)? {
            tracing::info!(mailbox = %maildir.root().display(), item = %path.display(), "restored by hand once: kept");
            return Ok(Taken::Spared);
        }
        let folder = maildir.ensure_folder(folder)?;
        let (from, to) = match maildir.move_message(path, &folder)? {
            Moved::Moved { from, to } => (from, to),
            Moved::Vanished => return Ok(Taken::Vanished),
        };
        let now = now();
        let c = &judgement.classification;
        let entry = Entry {
            id: journal::new_id(now),
            time: journal::format_time(now),
            op: Op::Move,
            mailbox: maildir.root().to_string_lossy().into_owned(),
            from: from.to_string_lossy().into_owned(),
            to: to.to_string_lossy().into_owned(),
            message_id: judgement.message_id.clone(),
            kind: c.kind.as_str().to_owned(),
            reason: c.reason.and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_str().map(str::to_owned)),
            verdict: judgement.decision.verdict.to_string(),
            why: why.to_owned(),
            restores: None,
        };
        if let Some(journal) = self.journal.as_mut() {
            journal.append(&entry)?;
            self.journal_size = journal::size(journal.path());
        }
        Ok(Taken::Moved { id: entry.id, to })
    }

    /// True if a restore line names this message; the journal is re-read only when it grew.
    fn was_restored(&mut self, path: &Path) -> Result<bool, StoreError> {
        let Some(journal) = self.journal.as_ref() else { return Ok(false) };
        let size = journal::size(journal.path());
        if size != self.journal_size {
            self.restored = journal::restored_messages(&journal::read(journal.path())?);
            self.journal_size = size;
        }
        Ok(path.file_name().is_some_and(|name| self.restored.contains(unique_part(name))))
    }
}

/// Reads and judges the message at `path` (its mtime the arrival time of last resort) with its
/// Maildir's Sent index: the half of handling a message that changes nothing, so a scan can run
/// it on several threads. `None` if the file is gone.
pub fn judge_file(
    config: &Config,
    keyring: Option<&Keyring>,
    sent: Option<&SentIndex>,
    path: &Path,
) -> Result<Option<Judgement>, StoreError> {
    let Some((bytes, mtime)) = read_message(path)? else { return Ok(None) };
    Ok(Some(verdict::judge(&bytes, mtime, keyring, sent, config)))
}

/// The message's bytes and its mtime (unix seconds, the arrival time of last resort), read from
/// one open file; `None` if it is gone.
fn read_message(path: &Path) -> Result<Option<(Vec<u8>, i64)>, StoreError> {
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(io(err)),
    };
    let meta = file.metadata().map_err(io)?;
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(Some((bytes, i64::try_from(mtime).unwrap_or(i64::MAX))))
}

/// Now, unix seconds: the time stamped on journal lines (the edge may read the clock).
fn now() -> i64 {
    std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}
