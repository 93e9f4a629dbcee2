//! The IMAP commands the store needs, on an authenticated session: capabilities, SELECT, finding and fetching new messages without setting \Seen, and moving them.

use async_imap::types::{Flag, UnsolicitedResponse};
use futures::TryStreamExt;

use super::connect::Session;
use super::ImapError;

/// What the server offers that changes how we work (post-login CAPABILITY, RFC 3501 §6.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// IDLE (RFC 2177); without it we poll with NOOP.
    pub idle: bool,
    /// MOVE (RFC 6851).
    pub move_: bool,
    /// UIDPLUS (RFC 4315): `UID EXPUNGE`, the only safe expunge for the COPY fallback.
    pub uidplus: bool,
    /// NAMESPACE (RFC 2342): where the user's own folders live.
    pub namespace: bool,
    /// SPECIAL-USE (RFC 6154): mailboxes marked `\Sent`, `\Junk`.
    pub special_use: bool,
    /// LIST-EXTENDED (RFC 5258): `LIST … RETURN (SPECIAL-USE)`.
    pub list_extended: bool,
    /// ACL (RFC 4314): MYRIGHTS.
    pub acl: bool,
}

impl Caps {
    /// Neither MOVE nor UIDPLUS: nothing can be moved without a bare EXPUNGE, which would also
    /// remove whatever else the user marked \Deleted.
    pub fn cannot_move(self) -> Option<&'static str> {
        (!self.move_ && !self.uidplus).then_some(
            "the server offers neither MOVE (RFC 6851) nor UIDPLUS (RFC 4315), and a bare EXPUNGE would also remove other messages marked \\Deleted",
        )
    }
}

/// Asks the server what it offers.
pub async fn caps(session: &mut Session) -> Result<Caps, ImapError> {
    let caps = session.capabilities().await.map_err(|e| ImapError::protocol("CAPABILITY", e))?;
    Ok(Caps {
        idle: caps.has_str("IDLE"),
        move_: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
        namespace: caps.has_str("NAMESPACE"),
        special_use: caps.has_str("SPECIAL-USE"),
        list_extended: caps.has_str("LIST-EXTENDED"),
        acl: caps.has_str("ACL"),
    })
}

/// An IMAP quoted string (RFC 3501 §4.3): `"` and `\` escaped.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A selected mailbox's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selected {
    /// UIDVALIDITY (RFC 3501 §2.3.1.1).
    pub uid_validity: u32,
    /// UIDNEXT: every message that exists now has a smaller UID.
    pub uid_next: u32,
}

/// SELECTs `name` (UTF-8). A refusal (no such mailbox, no right to read it) is permanent, in
/// the server's words.
pub async fn select(session: &mut Session, name: &str) -> Result<Selected, ImapError> {
    let fix = "check the name against the server's folder list (names are case-sensitive, except INBOX)";
    let wire = super::utf7::encode(name);
    let mailbox =
        session.select(&wire).await.map_err(|e| ImapError::refused(&format!("SELECT {}", quoted(name)), e, fix))?;
    let uid_validity = mailbox
        .uid_validity
        .ok_or_else(|| ImapError::Protocol(format!("SELECT {}: the server sent no UIDVALIDITY", quoted(name))))?;
    Ok(Selected { uid_validity, uid_next: mailbox.uid_next.unwrap_or(1) })
}

/// The messages above UID `after` as (UID, size in bytes), ascending by UID:
/// `UID FETCH n:* (UID RFC822.SIZE)`. `n:*` also matches the highest UID when it is below n
/// (RFC 3501 §6.4.8: `*` is the largest UID in use), hence the filter.
pub async fn uids_after(session: &mut Session, after: u32) -> Result<Vec<(u32, u32)>, ImapError> {
    let set = format!("{}:*", after.saturating_add(1));
    let fetches: Vec<_> = session
        .uid_fetch(&set, "(UID RFC822.SIZE)")
        .await
        .map_err(|e| ImapError::protocol("UID FETCH", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("UID FETCH", e))?;
    let mut found: Vec<(u32, u32)> =
        fetches.iter().filter_map(|f| Some((f.uid?, f.size.unwrap_or(0)))).filter(|&(uid, _)| uid > after).collect();
    found.sort_unstable();
    found.dedup_by_key(|(uid, _)| *uid);
    Ok(found)
}

/// Splits (UID, size) pairs into batches of at most `count` messages and `bytes` bytes (a
/// message bigger than `bytes` goes alone), so one FETCH never holds a mailbox of attachments in
/// memory.
pub fn batches(messages: &[(u32, u32)], count: usize, bytes: u64) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut size = 0u64;
    for &(uid, len) in messages {
        let len = u64::from(len);
        if !current.is_empty() && (current.len() >= count || size + len > bytes) {
            out.push(std::mem::take(&mut current));
            size = 0;
        }
        current.push(uid);
        size += len;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The keyword (RFC 3501 §2.3.2) a restore sets on a message it puts back: a person decided it
/// is wanted, so the watcher must not move it again when it reappears under a new UID.
pub const KEPT: &str = "$BackscatterKept";

/// One fetched message.
#[derive(Debug)]
pub struct Fetched {
    /// Its UID.
    pub uid: u32,
    /// INTERNALDATE as unix seconds (0 when the server sent none).
    pub internal_date: i64,
    /// The whole message.
    pub body: Vec<u8>,
    /// It carries [`KEPT`].
    pub kept: bool,
}

/// `UID FETCH uids (UID FLAGS INTERNALDATE BODY.PEEK[])`: PEEK so nothing becomes \Seen (RFC 3501
/// §6.4.5). Messages expunged meanwhile are simply absent.
pub async fn fetch(session: &mut Session, uids: &[u32]) -> Result<Vec<Fetched>, ImapError> {
    if uids.is_empty() {
        return Ok(Vec::new());
    }
    let set = uid_set(uids);
    let fetches: Vec<_> = session
        .uid_fetch(&set, "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        .await
        .map_err(|e| ImapError::protocol("UID FETCH", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("UID FETCH", e))?;
    let mut out: Vec<Fetched> = fetches
        .iter()
        .filter_map(|f| {
            let uid = f.uid?;
            let body = f.body()?.to_vec();
            let internal_date = f.internal_date().map(|d| d.timestamp()).unwrap_or(0);
            let kept = f.flags().any(|flag| matches!(flag, Flag::Custom(k) if k.eq_ignore_ascii_case(KEPT)));
            Some(Fetched { uid, internal_date, body, kept })
        })
        .filter(|f| uids.binary_search(&f.uid).is_ok())
        .collect();
    out.sort_unstable_by_key(|f| f.uid);
    Ok(out)
}

/// Sets [`KEPT`] on `uids` (where the server lets us create keywords; else the restore still
/// happens and the watcher may judge the message again).
pub async fn mark_kept(session: &mut Session, uids: &[u32]) -> Result<(), ImapError> {
    let _: Vec<_> = session
        .uid_store(uid_set(uids), format!("+FLAGS.SILENT ({KEPT})"))
        .await
        .map_err(|e| ImapError::protocol("UID STORE", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("UID STORE", e))?;
    Ok(())
}

/// How a move went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    /// The messages are in the folder and gone from the mailbox.
    Done,
    /// The server cannot move safely; the messages stay (why).
    Impossible(&'static str),
}

/// Moves `uids` into `folder` (UTF-8, the server's full name): `UID MOVE` (RFC 6851), else `UID COPY` +
/// `UID STORE +FLAGS.SILENT (\Deleted)` + `UID EXPUNGE` (RFC 4315). Never a bare EXPUNGE: it would
/// also remove whatever else the user had marked \Deleted.
pub async fn move_uids(session: &mut Session, caps: Caps, uids: &[u32], folder: &str) -> Result<Moved, ImapError> {
    if uids.is_empty() {
        return Ok(Moved::Done);
    }
    let set = uid_set(uids);
    let folder = &super::utf7::encode(folder);
    if caps.move_ {
        session.uid_mv(&set, folder).await.map_err(|e| ImapError::protocol("UID MOVE", e))?;
        return Ok(Moved::Done);
    }
    if let Some(why) = caps.cannot_move() {
        return Ok(Moved::Impossible(why));
    }
    session.uid_copy(&set, folder).await.map_err(|e| ImapError::protocol("UID COPY", e))?;
    expunge_uids(session, uids).await?;
    Ok(Moved::Done)
}

/// Whether UID `uid` is still in the selected mailbox, and if so whether it carries \Deleted:
/// `None` when it is gone. For reconciling a move that a crash interrupted.
pub async fn still_there(session: &mut Session, uid: u32) -> Result<Option<bool>, ImapError> {
    let fetches: Vec<_> = session
        .uid_fetch(uid.to_string(), "(UID FLAGS)")
        .await
        .map_err(|e| ImapError::protocol("UID FETCH", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("UID FETCH", e))?;
    Ok(fetches.iter().find(|f| f.uid == Some(uid)).map(|f| f.flags().any(|flag| matches!(flag, Flag::Deleted))))
}

/// The UIDs of the selected mailbox's messages whose Message-ID is `message_id`.
pub async fn search_message_id(session: &mut Session, message_id: &str) -> Result<Vec<u32>, ImapError> {
    let query = format!("HEADER Message-ID {}", quoted(message_id));
    let found = session.uid_search(&query).await.map_err(|e| ImapError::protocol("UID SEARCH", e))?;
    let mut uids: Vec<u32> = found.into_iter().collect();
    uids.sort_unstable();
    Ok(uids)
}

/// Finishes the COPY fallback for `uids` (already copied): `UID STORE +FLAGS.SILENT (\Deleted)`
/// and `UID EXPUNGE` of exactly those (RFC 4315).
pub async fn expunge_uids(session: &mut Session, uids: &[u32]) -> Result<(), ImapError> {
    let set = uid_set(uids);
    let _: Vec<_> = session
        .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
        .await
        .map_err(|e| ImapError::protocol("UID STORE", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("UID STORE", e))?;
    let _: Vec<_> = session
        .uid_expunge(&set)
        .await
        .map_err(|e| ImapError::protocol("UID EXPUNGE", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("UID EXPUNGE", e))?;
    Ok(())
}

/// Empties the untagged responses async-imap queued (EXISTS, EXPUNGE, FETCH; its channel holds
/// 100 and then loses responses, NOTES) and says whether one announced new mail: an EXISTS that
/// came with the last command's answer is not repeated when IDLE starts.
pub fn drain(session: &mut Session) -> bool {
    let mut arrived = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        arrived |= matches!(response, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_));
    }
    arrived
}

/// A compact UID set (RFC 3501 §9 `sequence-set`) from ascending UIDs: `1:3,7,9:10`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&start) = uids.get(i) {
        let mut end = start;
        while uids.get(i + 1) == Some(&end.wrapping_add(1)) {
            i += 1;
            end = end.wrapping_add(1);
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compact() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
        assert_eq!(uid_set(&[u32::MAX - 1, u32::MAX]), format!("{}:{}", u32::MAX - 1, u32::MAX));
        assert_eq!(quoted(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn batches_bound_count_and_bytes() {
        let small: Vec<(u32, u32)> = (1..=5).map(|u| (u, 10)).collect();
        assert_eq!(batches(&small, 2, 1000), [vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(batches(&small, 10, 25), [vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(batches(&[(1, 5), (2, 500), (3, 5)], 10, 100), [vec![1], vec![2], vec![3]]);
        assert!(batches(&[], 10, 100).is_empty());
    }
}
