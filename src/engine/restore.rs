//! `restore`: undoing journaled moves in either store — a Maildir message renamed back to the
//! path it had, an IMAP message (found in the folder by its Message-ID) moved back into its
//! mailbox and marked `$BackscatterKept` over one connection per account — each recorded by
//! [`Mover::restored`].

use std::collections::HashMap;

use crate::config::Config;
use crate::journal::{Place, Record};
use crate::store::imap::connect::{self, Session};
use crate::store::imap::session::{self, Caps, Moved};
use crate::store::imap::ImapError;
use crate::store::maildir::{put_back, PutBack};
use crate::store::StoreError;

use super::act::Mover;

/// What became of one move asked to be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// Put back where it was; journaled.
    Restored {
        /// Where it is again.
        at: Place,
    },
    /// Something is already at the old path: left alone, nothing journaled.
    Occupied,
    /// Not in the folder any more (deleted or moved by the user): nothing journaled.
    Missing,
}

/// Failing to undo a move.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The Maildir could not be changed, or the journal written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The IMAP server could not be reached or refused.
    #[error("{place}: {source}")]
    Imap {
        /// Where the message was to go back to.
        place: Place,
        /// Why.
        source: ImapError,
    },
    /// The journal names what the config no longer has, or a message that cannot be found.
    #[error("{0}")]
    Unknown(String),
}

/// Undoes journaled moves, with one IMAP connection per account however many of its moves are
/// undone; [`Restorer::finish`] logs out.
pub struct Restorer<'c> {
    config: &'c Config,
    /// Open connections by account name.
    sessions: HashMap<String, (Session, Caps)>,
}

impl<'c> Restorer<'c> {
    /// A restorer for the accounts of `config`.
    pub fn new(config: &'c Config) -> Restorer<'c> {
        Restorer { config, sessions: HashMap::new() }
    }

    /// Undoes the move `record` (a done move) and journals the restore.
    pub async fn restore(&mut self, mover: &Mover, record: &Record) -> Result<Restored, RestoreError> {
        let Some(landed) = record.landed() else { return Ok(Restored::Missing) };
        let m = &record.intent;
        let restored = match (&m.from, landed) {
            (Place::Maildir { path: back, .. }, Place::Maildir { path: moved, .. }) => match put_back(moved, back)? {
                PutBack::Done { .. } => Restored::Restored { at: m.from.clone() },
                PutBack::Occupied => Restored::Occupied,
                PutBack::Missing => Restored::Missing,
            },
            (Place::Imap { account, mailbox, .. }, Place::Imap { mailbox: folder, .. }) => {
                let Some(message_id) = m.message_id.as_deref() else {
                    return Err(RestoreError::Unknown(format!(
                        "the message has no Message-ID to find it by; move it back by hand from {folder}"
                    )));
                };
                let imap_error = |source| RestoreError::Imap { place: m.from.clone(), source };
                match self.move_back(account, folder, mailbox, message_id).await.map_err(imap_error)? {
                    0 => Restored::Missing,
                    _ => Restored::Restored {
                        at: Place::Imap {
                            account: account.clone(),
                            mailbox: mailbox.clone(),
                            uid_validity: None,
                            uid: None,
                        },
                    },
                }
            }
            _ => return Err(RestoreError::Unknown(format!("{}: the journal mixes stores", m.id))),
        };
        if let Restored::Restored { at } = &restored {
            mover.restored(&m.id, at.clone()).map_err(StoreError::from)?;
        }
        Ok(restored)
    }

    /// Logs out of every account.
    pub async fn finish(self) {
        for (_, (mut session, _)) in self.sessions {
            let _ = session.logout().await;
        }
    }

    /// Moves the message(s) whose `Message-ID` is `message_id` from `folder` (the server's name
    /// the journal recorded) back into `mailbox` (as configured) on `account`, marked
    /// [`session::KEPT`] so no watcher moves it again; returns how many moved (0: not there any
    /// more). The folder's UIDs are not recorded at move time (async-imap does not report
    /// RFC 4315 COPYUID), so the Message-ID is the key. A failed connection is dropped, so the
    /// next move of the account connects again.
    async fn move_back(
        &mut self,
        account: &str,
        folder: &str,
        mailbox: &str,
        message_id: &str,
    ) -> Result<usize, ImapError> {
        let (mut session, caps) = match self.sessions.remove(account) {
            Some(open) => open,
            None => {
                let Some(settings) = self.config.imap.iter().find(|a| a.name == account) else {
                    return Err(ImapError::Config(format!(
                        "the config has no [[imap]] account named {account:?} any more"
                    )));
                };
                let mut session = connect::open(settings).await?;
                let caps = session::caps(&mut session).await?;
                (session, caps)
            }
        };
        session::select(&mut session, folder).await?;
        let uids = session::search_message_id(&mut session, message_id).await?;
        if !uids.is_empty() {
            if let Err(e) = session::mark_kept(&mut session, &uids).await {
                tracing::warn!(account, error = %e, "could not mark the restored message as kept");
            }
        }
        let moved = match session::move_uids(&mut session, caps, &uids, mailbox).await? {
            Moved::Done => uids.len(),
            Moved::Impossible(why) => return Err(ImapError::Protocol(format!("cannot move back: {why}"))),
        };
        let _ = session::drain(&mut session);
        self.sessions.insert(account.to_owned(), (session, caps));
        Ok(moved)
    }
}
