//! Evidence beyond carriers, for mail that was never signed (DESIGN §4.5, §6): the Sent folder.
//! Every mail client keeps what it sent; a bounce or reply about a message in Sent is genuine,
//! one about a message that is not there — while Sent covers its date — is backscatter.
//!
//! - [`index`]: the Sent index, Message-ID → sent day and recipients (hashed), with coverage —
//!   pure and compact.
//! - [`finding`]: the lookup, classification + message + index → [`SentFinding`] — pure.
//! - [`file`]: the index on disk in `state_dir/sent/`, written atomically.
//! - [`maildir`]: a Maildir's Sent folders as the source, read incrementally by file name.
//! - [`imap`]: an IMAP account's `\Sent` mailbox as the source, read incrementally by UID.
//! - [`sentlog`]: the sent log (DESIGN §4.4), every message we signed with its nonce and
//!   recipients, so that a valid carrier copied onto a forged bounce is caught.

pub mod file;
pub mod finding;
pub mod imap;
pub mod index;
pub mod maildir;
pub mod sentlog;

use std::path::PathBuf;

pub use finding::{judge, SentFinding};
pub use index::SentIndex;

/// Failing to read a Sent folder or keep its index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvidenceError {
    /// A Sent folder or the index file could not be read or written.
    #[error("Sent index: {}: {source} — check the folder's and state_dir's permissions", path.display())]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The IMAP server could not be asked.
    #[error("Sent index of [[imap]] {account}: {source}")]
    Imap {
        /// The account's name.
        account: String,
        /// Why.
        source: crate::store::imap::ImapError,
    },
}
