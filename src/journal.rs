//! The journal: an append-only record of every move (`state_dir/journal.jsonl`, one JSON object
//! a line), what `restore` undoes and `stats` counts (DESIGN §7).
//!
//! Lines are only ever appended — with O_APPEND, one write(2) each, then fsync — never
//! rewritten, so several processes (a `watch` daemon and a `scan`) can share the file. A restore
//! is a line of its own naming the move it undid, so a move is never restored twice.

mod restore;
mod stats;
mod time;

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use restore::{pending, restore, restored_messages, Restored};
pub use stats::{page_moves, Stats};
pub use time::{format_time, parse_time};

/// The journal's file name in the state dir.
pub const FILE_NAME: &str = "journal.jsonl";

/// What a line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// A message moved out of a mailbox into the Backscatter folder.
    Move,
    /// A move undone: the message put back where it was.
    Restore,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Unique id: hex seconds, `-`, 8 random hex digits. `restore ID` names it.
    pub id: String,
    /// When, RFC 3339 UTC (`2026-11-22T16:53:07Z`).
    pub time: String,
    /// Move or restore.
    pub op: Op,
    /// The mailbox (the Maildir root) it happened in.
    pub mailbox: String,
    /// The file before.
    pub from: String,
    /// The file after.
    pub to: String,
    /// The moved message's own Message-ID, if it has one.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Its kind (`ndr`, `autoreply`, …).
    pub kind: String,
    /// Its bounce reason (`userunknown`, …), if any.
    #[serde(default)]
    pub reason: Option<String>,
    /// The verdict that moved it (`backscatter`).
    pub verdict: String,
    /// The policy's one-line why.
    pub why: String,
    /// For a restore: the id of the move it undid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restores: Option<String>,
}

/// Failing to read or write the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The file or its directory could not be opened, created, read or written.
    #[error("journal {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A time given on the command line is not a day or an RFC 3339 time.
    #[error("{0:?} is not a time: write YYYY-MM-DD or an RFC 3339 time like 2026-11-22T08:00:00Z")]
    BadTime(String),
}

/// The journal file, open for appending.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Opens (creating it and `state_dir`, 0700, if needed) `state_dir/journal.jsonl` for
    /// appending; the file is 0600 — it names every moved message.
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(|source| JournalError::Io { path: state_dir.to_path_buf(), source })?;
        let path = state_dir.join(FILE_NAME);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| JournalError::Io { path: path.clone(), source })?;
        Ok(Journal { path, file })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `entry` as one line in one write, then fsyncs, so that a crash right after leaves
    /// either the whole line or none of it.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let io = |source| JournalError::Io { path: self.path.clone(), source };
        let mut line = serde_json::to_vec(entry).map_err(|err| io(io::Error::other(err)))?;
        line.push(b'\n');
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}

/// Every entry of the journal at `path`, in file order; a missing file is an empty journal. A
/// line that is not an entry (a torn write after a power cut) is skipped with a warning.
pub fn read(path: &Path) -> Result<Vec<Entry>, JournalError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(JournalError::Io { path: path.to_path_buf(), source }),
    };
    let mut entries = Vec::new();
    for (number, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Entry>(&line) {
            Ok(entry) => entries.push(entry),
            Err(err) => {
                tracing::warn!(journal = %path.display(), line = number + 1, "skipping a line that is not an entry: {err}")
            }
        }
    }
    Ok(entries)
}

/// A fresh entry id for `time` (unix seconds): hex seconds, so ids sort by time, and 32 random
/// bits, so two processes never collide.
pub fn new_id(time: i64) -> String {
    let mut random = [0u8; 4];
    // Without the OS's randomness, the process id and a nanosecond clock still separate writers.
    if getrandom::fill(&mut random).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        random = (nanos ^ std::process::id().rotate_left(16)).to_be_bytes();
    }
    format!("{time:x}-{:08x}", u32::from_be_bytes(random))
}

/// The size of the journal at `path`, so that a long-running reader can tell that another
/// process appended (0 if it does not exist).
pub fn size(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn entry(id: &str, time: &str, op: Op) -> Entry {
        Entry {
            id: id.into(),
            time: time.into(),
            op,
            mailbox: "/m".into(),
            from: "/m/new/1".into(),
            to: "/m/.Backscatter/cur/1:2,".into(),
            message_id: Some("<x@y>".into()),
            kind: "ndr".into(),
            reason: Some("userunknown".into()),
            verdict: "backscatter".into(),
            why: "no carrier".into(),
            restores: None,
        }
    }

    #[test]
    fn appends_lines_and_reads_them_back_skipping_torn_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let mut journal = Journal::open(&state).unwrap();
        let one = entry(&new_id(1), "2026-11-22T00:00:00Z", Op::Move);
        journal.append(&one).unwrap();
        // A torn line, as a power cut mid-write could leave.
        fs::OpenOptions::new().append(true).open(journal.path()).unwrap().write_all(b"{\"id\":\"x\n").unwrap();
        let two = entry(&new_id(2), "2026-11-22T00:00:01Z", Op::Restore);
        Journal::open(&state).unwrap().append(&two).unwrap();
        assert_eq!(read(journal.path()).unwrap(), vec![one, two]);
        assert!(read(&tmp.path().join("none")).unwrap().is_empty());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(journal.path()).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn ids_differ_and_sort_by_time() {
        let (a, b) = (new_id(0x10), new_id(0x10));
        assert_ne!(a, b);
        assert!(a.starts_with("10-") && a.len() == 11);
    }
}
