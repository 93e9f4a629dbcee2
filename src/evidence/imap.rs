//! An IMAP account's Sent mailbox as a source of the Sent index: the mailbox marked `\Sent`
//! (RFC 6154 SPECIAL-USE), else one of the common names, else the first of `sent = [...]` that
//! exists. Read-only (EXAMINE) and incremental by UID: only the header fields the index needs
//! are fetched, `BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE TO CC BCC SUBJECT)]` (the subject for
//! originals that come back without a Message-ID). A new UIDVALIDITY (RFC 3501 §2.3.1.1: the
//! old UIDs mean nothing now) rebuilds the index.

use std::path::{Path, PathBuf};

use futures::TryStreamExt;

use super::file::{self, Cursor, Stored};
use super::index::{Record, SentIndex};
use super::EvidenceError;
use crate::config::Imap;
use crate::store::imap::connect::{self, Session};
use crate::store::imap::{folders, session, utf7, ImapError};

/// The names looked for when no mailbox is marked `\Sent`.
pub const COMMON_NAMES: [&str; 6] = ["Sent", "Sent Items", "Sent Messages", "INBOX.Sent", "INBOX/Sent", "Sent Mail"];

/// UIDs asked for per `UID FETCH`: bounds the memory one answer takes (~300 bytes each).
const CHUNK: u32 = 5000;

/// What is fetched of each sent message.
const QUERY: &str = "(UID INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE TO CC BCC SUBJECT)])";

/// The Sent index of one IMAP account.
#[derive(Debug)]
pub struct ImapSent {
    account: Imap,
    /// `state_dir/sent/imap-ACCOUNT.idx`.
    file: PathBuf,
    /// The index, the mailbox it came from (`source`) and the UID cursor.
    stored: Stored,
}

impl ImapSent {
    /// The account's Sent index as last saved in `state_dir` (not yet refreshed); `None` when
    /// the account says `sent = []`.
    pub fn open(account: &Imap, state_dir: &Path) -> Option<ImapSent> {
        if account.sent.as_ref().is_some_and(Vec::is_empty) {
            return None;
        }
        let file = file::path(state_dir, &format!("imap-{}", account.name));
        // The mailbox is known only after LIST; the source check happens at the refresh.
        let stored = file::load_any(&file).unwrap_or_default();
        Some(ImapSent { account: account.clone(), file, stored })
    }

    /// The index as of the last refresh.
    pub fn index(&self) -> &SentIndex {
        &self.stored.index
    }

    /// Connects, finds the Sent mailbox and reads what was added since the last refresh,
    /// marking the index read at `now` (Unix seconds, taken before the call). Returns how many
    /// messages were added; `Ok(0)` also when the account has no Sent mailbox (said in the log).
    pub async fn refresh(&mut self, now: i64) -> Result<usize, EvidenceError> {
        let err = |source| EvidenceError::Imap { account: self.account.name.clone(), source };
        let mut session = connect::open(&self.account).await.map_err(err)?;
        let cursor = (self.stored.source.clone(), self.stored.cursor.uid_validity, self.stored.cursor.last_uid);
        let result = self.read(&mut session, now).await;
        // A polite end; the connection is dropped either way.
        let _ = session.logout().await;
        let added = result.map_err(|source| EvidenceError::Imap { account: self.account.name.clone(), source })?;
        // Nothing new is not worth rewriting (and fsyncing) the file: a restart reads Sent again.
        let now_at = (self.stored.source.clone(), self.stored.cursor.uid_validity, self.stored.cursor.last_uid);
        if added > 0 || now_at != cursor {
            file::save(&self.file, &self.stored)?;
        }
        Ok(added)
    }

    /// True when the index was last read no later than `arrival` (Unix seconds, in the same
    /// second counts): a message sent just before something that arrived then may be missing.
    pub fn behind(&self, arrival: i64) -> bool {
        self.stored.index.read_at().is_none_or(|read| read <= arrival)
    }

    async fn read(&mut self, session: &mut Session, now: i64) -> Result<usize, ImapError> {
        let Some(mailbox) = find_sent(session, self.account.sent.as_deref()).await? else {
            tracing::info!(account = %self.account.name, "no Sent mailbox found: no Sent evidence for this account");
            return Ok(0);
        };
        let source = format!("imap:{}/{mailbox}", self.account.name);
        let wire = utf7::encode(&mailbox);
        let selected =
            session.examine(&wire).await.map_err(|e| ImapError::protocol(&format!("EXAMINE {mailbox}"), e))?;
        let uid_validity = selected.uid_validity.unwrap_or(0);
        if self.stored.source != source || self.stored.cursor.uid_validity != uid_validity {
            if !self.stored.source.is_empty() {
                tracing::info!(account = %self.account.name, mailbox, uid_validity, "Sent changed (UIDVALIDITY or mailbox): rebuilding its index");
            }
            self.stored =
                Stored { source, index: SentIndex::new(), cursor: Cursor { uid_validity, ..Cursor::default() } };
        }
        let uid_next = selected.uid_next.unwrap_or(u32::MAX);
        let mut added = 0;
        let mut start = self.stored.cursor.last_uid.saturating_add(1);
        while start < uid_next {
            let end = if uid_next == u32::MAX {
                "*".to_owned()
            } else {
                start.saturating_add(CHUNK - 1).min(uid_next - 1).to_string()
            };
            added += self.fetch(session, &format!("{start}:{end}")).await?;
            if end == "*" {
                break;
            }
            start = start.saturating_add(CHUNK);
        }
        if uid_next != u32::MAX {
            // Every UID below UIDNEXT was asked for: the ones not answered are gone.
            self.stored.cursor.last_uid = self.stored.cursor.last_uid.max(uid_next.saturating_sub(1));
        }
        self.stored.index.mark_read(now);
        tracing::info!(account = %self.account.name, added, messages = self.stored.index.len(), "Sent index updated");
        Ok(added)
    }

    /// One `UID FETCH` of `set`; messages at or below the cursor are skipped (`n:*` also
    /// answers the highest UID when it is below n, RFC 3501 §6.4.8).
    async fn fetch(&mut self, session: &mut Session, set: &str) -> Result<usize, ImapError> {
        let fetches: Vec<_> = session
            .uid_fetch(set, QUERY)
            .await
            .map_err(|e| ImapError::protocol("UID FETCH", e))?
            .try_collect()
            .await
            .map_err(|e| ImapError::protocol("UID FETCH", e))?;
        let mut added = 0;
        let last = self.stored.cursor.last_uid;
        let mut highest = last;
        for f in &fetches {
            let (Some(uid), Some(header)) = (f.uid, f.header()) else { continue };
            if uid <= last {
                continue;
            }
            let internal = f.internal_date().map_or(0, |d| d.timestamp());
            self.stored.index.insert(Record::from_header(header, internal));
            highest = highest.max(uid);
            added += 1;
        }
        self.stored.cursor.last_uid = highest;
        Ok(added)
    }
}

/// The Sent mailbox's name (UTF-8): the first of `names` that exists when the config gives
/// them, else the one marked `\Sent`, else the first of [`COMMON_NAMES`] that exists. One LIST,
/// the store's ([`folders::list`]), which also finds `\Junk`.
async fn find_sent(session: &mut Session, names: Option<&[String]>) -> Result<Option<String>, ImapError> {
    let caps = session::caps(session).await?;
    let all: Vec<_> = folders::list(session, caps, "*").await?.into_iter().filter(|l| l.selectable).collect();
    let exists = |name: &str| all.iter().find(|l| l.name == name).map(|l| l.name.clone());
    if let Some(names) = names {
        return Ok(names.iter().find_map(|name| exists(name)));
    }
    if let Some(sent) = all.iter().find(|l| l.sent) {
        return Ok(Some(sent.name.clone()));
    }
    Ok(COMMON_NAMES.iter().find_map(|name| exists(name)))
}
