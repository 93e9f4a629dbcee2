//! IMAP accounts as a store: the mechanics — connecting, the commands, the per-mailbox state.
//! The loop that watches and sweeps mailboxes through the pipeline is the engine's
//! ([`crate::engine::imap`]).
//!
//! - [`connect`]: TCP, TLS (rustls/ring), the secret, LOGIN or XOAUTH2.
//! - [`folders`]: folder names from the server — NAMESPACE, SPECIAL-USE, CREATE, MYRIGHTS.
//! - [`session`]: the commands (SELECT, UID SEARCH/FETCH/MOVE, the COPY fallback).
//! - [`answer`]: a server's refusal in its own words.
//! - [`mailbox`]: a selected mailbox as a [`crate::store::Mailbox`] (moves by UID).
//! - [`state`]: UIDVALIDITY + last UID per mailbox, written atomically.
//! - [`utf7`]: modified UTF-7 folder names (RFC 3501 §5.1.3).

pub mod answer;
pub mod connect;
pub mod folders;
pub mod mailbox;
pub mod session;
pub mod state;
pub mod utf7;

/// Failures to talk to an IMAP server. `watch` retries the temporary ones with backoff and the
/// permanent ones ([`ImapError::is_permanent`]) only hourly or on SIGHUP; `scan` reports it and
/// exits.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImapError {
    /// TCP connect, the greeting, or the connection dropped.
    #[error("network: {0}")]
    Network(String),
    /// The TLS handshake failed (certificate name, expiry or CA spelled out).
    #[error("TLS: {0}")]
    Tls(String),
    /// The server refused the login (its answer in its words): permanent.
    #[error("login refused: {0}")]
    Auth(String),
    /// The server refused what the account needs and no retry heals — CREATE or SELECT of a
    /// folder, a `\Junk` folder it does not have, rights it does not grant — in its words:
    /// permanent.
    #[error("{0}")]
    Refused(String),
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
    /// The journal could not be written: nothing was moved.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

impl ImapError {
    /// A failed command: a broken connection is a network error, the rest the server's answer
    /// in its words.
    pub fn protocol(command: &str, e: async_imap::error::Error) -> ImapError {
        use async_imap::error::Error as E;
        match e {
            E::Io(_) | E::ConnectionLost => ImapError::Network(format!("{command}: {e}")),
            _ => ImapError::Protocol(format!("{command}: the server answered {}", answer::words(&e))),
        }
    }

    /// A failed command that the account cannot do without (CREATE or SELECT of a folder): a
    /// NO or BAD is [`ImapError::Refused`] unless RFC 5530 calls it temporary; `fix` says what
    /// to do about it.
    pub fn refused(command: &str, e: async_imap::error::Error, fix: &str) -> ImapError {
        match answer::Answer::of(&e) {
            Some(said) if !said.temporary() => {
                ImapError::Refused(format!("{command}: the server answered {said} — {fix}"))
            }
            _ => ImapError::protocol(command, e),
        }
    }

    /// True for what no retry heals: a refused login, a refused folder. `watch` logs it once and
    /// tries that mailbox again only hourly or on SIGHUP; `scan` exits 78.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ImapError::Auth(_) | ImapError::Refused(_))
    }
}
