//! The mail stores: where messages are read from and backscatter is moved to (DESIGN §7).
//!
//! - [`maildir`]: one Maildir on disk — layout, listing, the Backscatter folder, moving.
//! - [`watch`]: many Maildirs watched with inotify, for `backscatter watch`.
//! - [`imap`]: IMAP accounts — IDLE, UID MOVE, reconnects, UIDVALIDITY state.
//! - [`read`]: reading a delivered message safely (no links, no FIFOs, a size limit).
//!
//! What is done with a message — the pipeline, the journal — is the engine's ([`crate::engine`]).

pub mod imap;
pub mod maildir;
pub mod read;
pub mod watch;

use std::io;
use std::path::PathBuf;

use crate::journal::JournalError;

pub use read::Skip;

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
