//! The mail stores: where messages are read from and backscatter is moved to (DESIGN §7).
//!
//! - [`maildir`]: one Maildir on disk — layout, listing, the Backscatter folder, moving.
//! - [`watch`]: many Maildirs watched with inotify, for `backscatter watch`.
//! - [`imap`]: IMAP accounts — IDLE, UID MOVE, reconnects, UIDVALIDITY state.
//! - [`read`]: reading a delivered message safely (no links, no FIFOs, a size limit).
//!
//! - [`Mailbox`]: what the engine asks of every store when it moves messages — where a message
//!   is, where it will be, and the move itself — so the journal is written in one place
//!   ([`crate::engine::act`]) for Maildir and IMAP alike.
//!
//! What is done with a message — the pipeline, the journal — is the engine's ([`crate::engine`]).
//! Finding and reading messages stays with each store: a Maildir is listed and read a file at a
//! time as inotify reports arrivals, an IMAP mailbox fetched a chunk at a time after IDLE.

pub mod imap;
pub mod maildir;
pub mod read;
pub mod watch;

use std::future::Future;
use std::io;
use std::path::PathBuf;

use crate::journal::{JournalError, Place};

pub use read::Skip;

/// Where a message ended up when asked to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landed {
    /// In the folder, here.
    At(Place),
    /// Gone before it could move (a MUA moved or deleted it): nothing to do.
    Vanished,
    /// The store cannot move it safely; it stays (why).
    Refused(&'static str),
    /// Moving this one failed; it stays (the error, in one line).
    Failed(String),
}

/// A mailbox as the engine moves messages out of it.
pub trait Mailbox {
    /// A message's handle here: a file path, a UID.
    type Item;
    /// The store's failure to move.
    type Error: From<JournalError>;

    /// Where `item` is now.
    fn place(&self, item: &Self::Item) -> Place;

    /// Where `item` will be once moved into `folder` (created if missing).
    fn destination(
        &mut self,
        item: &Self::Item,
        folder: &str,
    ) -> impl Future<Output = Result<Place, Self::Error>> + Send;

    /// Moves `items` into `folder`: one outcome per item, in order. `Err` means the outcome is
    /// unknown (a connection lost mid-command): the journal's intents are reconciled later.
    fn move_to(
        &mut self,
        items: &[Self::Item],
        folder: &str,
    ) -> impl Future<Output = Result<Vec<Landed>, Self::Error>> + Send;
}

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
    /// The journal could not be written: the message was not moved.
    #[error(transparent)]
    Journal(#[from] JournalError),
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
        /// The journal's move id (`restore ID`).
        id: String,
        /// Where it is now.
        to: PathBuf,
    },
    /// A person restored it once: never moved again.
    Spared,
    /// Gone before we could read or move it (a MUA deleted or moved it): nothing to do.
    Vanished,
    /// Left unread (a link, a FIFO, too big), and why.
    Skipped(Skip),
}

impl Taken {
    /// How the scan report and its `--json` field `done` name it: `keep`, `would-move`,
    /// `moved`, `spared`, `vanished`, `skipped`.
    pub fn word(&self) -> &'static str {
        match self {
            Taken::Kept => "keep",
            Taken::WouldMove => "would-move",
            Taken::Moved { .. } => "moved",
            Taken::Spared => "spared",
            Taken::Vanished => "vanished",
            Taken::Skipped(_) => "skipped",
        }
    }
}
