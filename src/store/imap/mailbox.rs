//! A selected IMAP mailbox as a [`Mailbox`]: messages are UIDs, moved by `UID MOVE` or the
//! UIDPLUS fallback ([`session::move_uids`]) into the folder as the server names it
//! ([`Folders`]).

use super::connect::Session;
use super::folders::Folders;
use super::session::{self, Caps, Moved};
use super::ImapError;
use crate::journal::Place;
use crate::store::{Landed, Mailbox};

/// The mailbox `mailbox` of account `account`, selected on `session` with `uid_validity`.
pub struct ImapMailbox<'s> {
    /// The connection, with the mailbox selected.
    pub session: &'s mut Session,
    /// What the server offers.
    pub caps: Caps,
    /// The server's names for the configured folders.
    pub folders: &'s Folders,
    /// The `[[imap]]` account's name.
    pub account: &'s str,
    /// The mailbox (UTF-8).
    pub mailbox: &'s str,
    /// Its UIDVALIDITY.
    pub uid_validity: u32,
}

impl ImapMailbox<'_> {
    /// The folder's place: the server's full name, which `restore` selects as it is.
    fn folder(&self, full: &str) -> Place {
        // The folder's UID is not known: async-imap does not report RFC 4315 COPYUID.
        Place::Imap { account: self.account.to_owned(), mailbox: full.to_owned(), uid_validity: None, uid: None }
    }
}

impl Mailbox for ImapMailbox<'_> {
    type Item = u32;
    type Error = ImapError;

    fn place(&self, uid: &u32) -> Place {
        Place::Imap {
            account: self.account.to_owned(),
            mailbox: self.mailbox.to_owned(),
            uid_validity: Some(self.uid_validity),
            uid: Some(*uid),
        }
    }

    async fn destination(&mut self, _uid: &u32, folder: &str) -> Result<Place, ImapError> {
        Ok(self.folder(&self.folders.resolve(folder)?))
    }

    async fn move_to(&mut self, uids: &[u32], folder: &str) -> Result<Vec<Landed>, ImapError> {
        let full = self.folders.resolve(folder)?;
        let landed = match session::move_uids(self.session, self.caps, uids, &full).await? {
            Moved::Done => Landed::At(self.folder(&full)),
            Moved::Impossible(why) => Landed::Refused(why),
        };
        Ok(vec![landed; uids.len()])
    }
}
