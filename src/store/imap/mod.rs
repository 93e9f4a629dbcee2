//! IMAP accounts as a store: watch mailboxes over IDLE (NOOP polling where IDLE is missing),
//! fetch what arrives without setting \Seen, ask a [`Handler`] what to do, move backscatter into
//! the folder, remember UIDVALIDITY and the last UID, and reconnect forever with capped backoff.
//!
//! - [`background`]: the watchers on their own thread, for the synchronous `watch` daemon.
//! - [`connect`]: TCP, TLS (rustls/ring), the secret, LOGIN or XOAUTH2.
//! - [`session`]: the commands (SELECT, UID SEARCH/FETCH/MOVE, the COPY fallback).
//! - [`judge`]: the production handler, [`crate::verdict::judge`] per message.
//! - [`restore`]: moving a message back out of the folder (`backscatter restore`).
//! - [`state`]: UIDVALIDITY + last UID per mailbox, written atomically.
//! - [`watch`](mod@watch): the per-mailbox loop and the one-shot [`scan`].
//! - [`utf7`]: modified UTF-7 folder names (RFC 3501 §5.1.3).

pub mod background;
pub mod connect;
pub mod judge;
pub mod restore;
pub mod session;
pub mod state;
pub mod utf7;
pub mod watch;

pub use background::Background;
pub use restore::restore;
pub use watch::{scan, watch, Options, ScanSummary};

/// What the [`Handler`] decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action<N> {
    /// Leave it where it is.
    Keep,
    /// Move it into the folder; the note comes back to [`Handler::moved`] once it is there.
    Move(N),
}

/// One message, as the store hands it to the [`Handler`].
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The account's `name`.
    pub account: &'a str,
    /// The mailbox, as configured (UTF-8).
    pub mailbox: &'a str,
    /// The mailbox's UIDVALIDITY.
    pub uid_validity: u32,
    /// The message's UID.
    pub uid: u32,
    /// INTERNALDATE, unix seconds: the arrival-time fallback when no `Received:` dates it.
    pub internal_date: i64,
    /// The whole message.
    pub bytes: &'a [u8],
}

/// Decides what happens to each message and hears about the moves: the seam where the verdict
/// (classify + verify + policy) and the journal plug in. One clone per watched mailbox.
pub trait Handler: Clone + Send + 'static {
    /// What the handler wants to remember about a move until it is done (a journal entry).
    type Note: Send;

    /// Keep or move `message`.
    fn decide(&mut self, message: &Message<'_>) -> Action<Self::Note>;

    /// `message` is now in `folder` (UTF-8 name).
    fn moved(&mut self, note: Self::Note, message: &Message<'_>, folder: &str);

    /// `message` should have moved but could not (`why`); it stays in the mailbox.
    fn not_moved(&mut self, note: Self::Note, message: &Message<'_>, why: &str) {
        let _ = note;
        tracing::warn!(account = message.account, mailbox = message.mailbox, uid = message.uid, why, "left in place");
    }
}

/// Failures to talk to an IMAP server. Every one is retried with backoff by `watch`; `scan`
/// reports it and exits.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// TCP connect, the greeting, or the connection dropped.
    #[error("network: {0}")]
    Network(String),
    /// The TLS handshake failed (certificate name, expiry or CA spelled out).
    #[error("TLS: {0}")]
    Tls(String),
    /// The server refused the login.
    #[error("login refused: {0}")]
    Auth(String),
    /// The password or token could not be read.
    #[error("password source: {0}")]
    Secret(String),
    /// The account's settings cannot work (plaintext to a remote host, unreadable CA file).
    #[error("config: {0}")]
    Config(String),
    /// The server said NO/BAD, or the connection broke mid-command.
    #[error("{0}")]
    Protocol(String),
    /// The state file could not be written.
    #[error("state: {0}")]
    State(#[from] state::StateError),
}

impl ImapError {
    fn protocol(command: &str, e: async_imap::error::Error) -> ImapError {
        use async_imap::error::Error as E;
        match e {
            E::Io(_) | E::ConnectionLost => ImapError::Network(format!("{command}: {e}")),
            _ => ImapError::Protocol(format!("{command}: {e}")),
        }
    }
}
