//! The Sent folders of a Maildir as a source of the Sent index: Maildir++ `.Sent`, `.Sent Items`,
//! `.Sent Messages`, `.INBOX.Sent` and the fs layout's `Sent`, `Sent Items`, `Sent Messages`,
//! `INBOX/Sent` — or the folders `sent = [...]` names. Kept up to date by file name: a refresh
//! reads only the files it has not seen, and only when a folder's `cur/` or `new/` changed (two
//! `stat`s), so `watch` can refresh before every message it judges.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::file::{self, Stored};
use super::index::{Record, SentIndex};
use super::EvidenceError;
use crate::config::Config;
use crate::store::maildir::unique_part;
use crate::store::watch::names;

/// The Sent folders looked for when `sent` is not set: what Dovecot, Courier, Thunderbird,
/// Apple Mail and Outlook call them, in both layouts.
pub const DEFAULT_FOLDERS: [&str; 8] =
    [".Sent", ".Sent Items", ".Sent Messages", ".INBOX.Sent", "Sent", "Sent Items", "Sent Messages", "INBOX/Sent"];

/// How much of a sent message is read: its header block is near the top.
const HEADER_READ: usize = 64 * 1024;

/// A directory whose mtime is this recent is read again next time: a file added within the
/// same clock tick would leave the mtime unchanged.
const MTIME_SETTLE_SECS: u64 = 2;

/// The Sent index of one Maildir and the folders it is read from.
#[derive(Debug)]
pub struct MaildirSent {
    /// The Sent folders (each with `cur/` and `new/`).
    folders: Vec<PathBuf>,
    /// The index file.
    file: PathBuf,
    /// The index and the names already read.
    stored: Stored,
    /// Each folder's `cur/` and `new/` mtime when last read; `None`: read it next time.
    mtimes: Vec<Option<SystemTime>>,
}

impl MaildirSent {
    /// The Sent index of the Maildir at `root`, loaded from `state_dir` (not yet refreshed).
    /// `sent` is the config's `sent = [...]` for it: folder names under `root` (or absolute
    /// paths); `None` looks for [`DEFAULT_FOLDERS`]. `None` when no Sent folder exists (or
    /// `sent = []`): there is no Sent evidence for this Maildir.
    pub fn open(root: &Path, sent: Option<&[String]>, state_dir: &Path) -> Option<MaildirSent> {
        let names: Vec<&str> = match sent {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => DEFAULT_FOLDERS.to_vec(),
        };
        let folders: Vec<PathBuf> = names
            .iter()
            .map(|name| root.join(name))
            .filter(|dir| dir.join("cur").is_dir() && dir.join("new").is_dir())
            .collect();
        if let (Some(names), true) = (sent, folders.len() < sent.map_or(0, <[String]>::len)) {
            tracing::warn!(maildir = %root.display(), ?names, "a folder named in sent = [...] is not a Maildir folder");
        }
        if folders.is_empty() {
            return None;
        }
        let source: Vec<String> = folders.iter().map(|f| f.to_string_lossy().into_owned()).collect();
        let source = source.join("\n");
        let digest = Sha256::digest(root.to_string_lossy().as_bytes());
        let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let file = file::path(state_dir, &format!("maildir-{name}"));
        let stored = file::load(&file, &source).unwrap_or(Stored { source, ..Stored::default() });
        let mtimes = vec![None; folders.len() * 2];
        Some(MaildirSent { folders, file, stored, mtimes })
    }

    /// The index as of the last [`MaildirSent::refresh`].
    pub fn index(&self) -> &SentIndex {
        &self.stored.index
    }

    /// The Sent folders read.
    pub fn folders(&self) -> &[PathBuf] {
        &self.folders
    }

    /// Reads the files added since the last refresh (none when no `cur/` or `new/` changed),
    /// marks the index read at `now` (Unix seconds) and saves it when it grew. Returns how many
    /// messages were added. A file that vanished meanwhile is skipped.
    pub fn refresh(&mut self, now: i64) -> Result<usize, EvidenceError> {
        let mut added = 0;
        let settled = SystemTime::now().checked_sub(Duration::from_secs(MTIME_SETTLE_SECS)).unwrap_or(UNIX_EPOCH);
        let dirs: Vec<PathBuf> = self.folders.iter().flat_map(|f| [f.join("cur"), f.join("new")]).collect();
        for (dir, last) in dirs.iter().zip(self.mtimes.iter_mut()) {
            let io = |source| EvidenceError::Io { path: dir.clone(), source };
            let mtime = fs::metadata(dir).and_then(|m| m.modified()).map_err(io)?;
            if *last == Some(mtime) {
                continue;
            }
            added += read_new(dir, &mut self.stored).map_err(io)?;
            *last = (mtime < settled).then_some(mtime);
        }
        self.stored.index.mark_read(now);
        if added > 0 {
            file::save(&self.file, &self.stored)?;
            tracing::info!(
                folders = self.folders.len(),
                added,
                messages = self.stored.index.len(),
                "Sent index updated"
            );
        }
        Ok(added)
    }
}

/// The `sent = [...]` of the `[[maildir]]` whose `path` (or glob) names `root`; `None` when no
/// section names it or it does not set `sent`.
pub fn configured<'c>(config: &'c Config, root: &Path) -> Option<&'c [String]> {
    config.maildir.iter().find(|m| names(&m.path, root)).and_then(|m| m.sent.as_deref())
}

/// Reads the messages of `dir` whose names `stored` has not seen into its index.
fn read_new(dir: &Path, stored: &mut Stored) -> io::Result<usize> {
    let mut added = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let seen = name_hash(unique_part(&name).as_encoded_bytes());
        if stored.cursor.seen.contains(&seen) {
            continue;
        }
        let Some((head, mtime)) = read_head(&entry.path())? else { continue };
        stored.index.insert(Record::from_header(&head, mtime));
        stored.cursor.seen.insert(seen);
        added += 1;
    }
    Ok(added)
}

/// The hash a file name is remembered by.
fn name_hash(unique: &[u8]) -> u64 {
    let digest = Sha256::new().chain_update(b"backscatter/sent/name\0").chain_update(unique).finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(digest.get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(first)
}

/// The first [`HEADER_READ`] bytes of a regular file and its mtime; `None` if it is gone or is
/// not a regular file.
fn read_head(path: &Path) -> io::Result<Option<(Vec<u8>, i64)>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let mut head = Vec::with_capacity(HEADER_READ.min(usize::try_from(meta.len()).unwrap_or(HEADER_READ)));
    file.take(HEADER_READ as u64).read_to_end(&mut head)?;
    Ok(Some((head, i64::try_from(mtime).unwrap_or(i64::MAX))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(dir: &Path) {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
    }

    fn sent(dir: &Path, name: &str, id: &str) {
        let text = format!("Message-ID: <{id}>\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nTo: x@y.example\n\nhi\n");
        fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn default_folders_are_found_and_read_incrementally_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, state) = (tmp.path().join("Maildir"), tmp.path().join("state"));
        folder(&root);
        assert!(MaildirSent::open(&root, None, &state).is_none(), "no Sent folder, no evidence");
        folder(&root.join(".Sent"));
        folder(&root.join("INBOX/Sent"));
        sent(&root.join(".Sent/cur"), "1.a:2,S", "one@a.example");
        sent(&root.join("INBOX/Sent/new"), "2.b", "two@a.example");
        let mut index = MaildirSent::open(&root, None, &state).unwrap();
        assert_eq!(index.folders().len(), 2);
        assert_eq!(index.refresh(100).unwrap(), 2);
        assert_eq!(index.refresh(101).unwrap(), 0, "nothing new");
        // new/ → cur/ with flags: the same message, not a new one.
        fs::rename(root.join("INBOX/Sent/new/2.b"), root.join("INBOX/Sent/cur/2.b:2,S")).unwrap();
        sent(&root.join(".Sent/new"), "3.c", "three@a.example");
        assert_eq!(index.refresh(102).unwrap(), 1);
        assert!(index.index().get("<three@a.example>").is_some());
        assert_eq!(index.index().read_at(), Some(102));
        // Loaded back from state_dir: nothing to read again.
        let mut again = MaildirSent::open(&root, None, &state).unwrap();
        assert_eq!(again.index().len(), 3);
        assert_eq!(again.refresh(103).unwrap(), 0);
    }

    #[test]
    fn sent_overrides_and_turns_off() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, state) = (tmp.path().join("Maildir"), tmp.path().join("state"));
        folder(&root);
        folder(&root.join(".Sent"));
        folder(&root.join(".Outbox.Done"));
        assert!(MaildirSent::open(&root, Some(&[]), &state).is_none());
        let named = MaildirSent::open(&root, Some(&[".Outbox.Done".to_owned()]), &state).unwrap();
        assert_eq!(named.folders(), [root.join(".Outbox.Done")]);
    }
}
