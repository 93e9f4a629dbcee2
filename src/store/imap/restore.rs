//! Undoing an IMAP move: find the message in the folder by its Message-ID and move it back.

use super::session::{self, quoted};
use super::{connect, utf7, ImapError};
use crate::config::Imap;

/// Moves the message(s) whose `Message-ID` is `message_id` from `folder` back into `mailbox`
/// (both UTF-8 names) on `account`, marked [`session::KEPT`] so no watcher moves it again;
/// returns how many moved (0: not there any more — the user
/// already moved or deleted it). The folder's UIDs are not recorded at move time (async-imap does
/// not report RFC 4315 COPYUID), so the Message-ID is the key.
pub async fn restore(account: &Imap, folder: &str, mailbox: &str, message_id: &str) -> Result<usize, ImapError> {
    let mut session = connect::open(account).await?;
    let caps = session::caps(&mut session).await?;
    session::select(&mut session, &utf7::encode(folder)).await?;
    let query = format!("HEADER Message-ID {}", quoted(message_id));
    let found = session.uid_search(&query).await.map_err(|e| ImapError::protocol("UID SEARCH", e))?;
    let mut uids: Vec<u32> = found.into_iter().collect();
    uids.sort_unstable();
    if !uids.is_empty() {
        if let Err(e) = session::mark_kept(&mut session, &uids).await {
            tracing::warn!(account = %account.name, error = %e, "could not mark the restored message as kept");
        }
    }
    let moved = match session::move_uids(&mut session, caps, &uids, &utf7::encode(mailbox)).await? {
        session::Moved::Done => uids.len(),
        session::Moved::Impossible(why) => return Err(ImapError::Protocol(format!("cannot move back: {why}"))),
    };
    let _ = session.logout().await;
    Ok(moved)
}
