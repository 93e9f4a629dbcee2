//! The journal: the write-ahead log of every move (`state_dir/journal.jsonl`, one typed JSON
//! line each), what `restore` undoes and `stats` counts (DESIGN §7).
//!
//! A move is two lines: an [`Line::Intent`] written (and fsynced) *before* the message moves,
//! then [`Line::Done`] (or [`Line::Abandoned`] when it turned out not to move) after. A crash in
//! between leaves an intent without an outcome, which [`Ledger::unfinished`] lists and the store
//! reconciles at its next start against where the message actually is. So no message is ever in
//! the folder without a journal line that `restore` can undo: when the intent cannot be written,
//! nothing moves.
//!
//! Lines are only ever appended — with O_APPEND, each batch of whole lines in one write(2), then
//! fsync — never rewritten, so several processes (a `watch` daemon and a `scan`) can share the
//! file. A write cut short (a full disk) leaves a torn line: the next append first ends it with a
//! newline so no good line is glued onto it, and reading skips it.

mod ledger;
mod stats;
mod time;

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::classify::{Kind, Reason};
use crate::policy::Verdict;

pub use ledger::{Ledger, Record, State};
pub use stats::{page_moves, Stats};
pub use time::{format_time, parse_time, Time};

/// The journal's file name in the state dir.
pub const FILE_NAME: &str = "journal.jsonl";

/// Where a message is or was: typed, never a string to parse back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "store", rename_all = "lowercase")]
pub enum Place {
    /// A file in a Maildir.
    Maildir {
        /// The mailbox's root (the Maildir the message was delivered to).
        root: PathBuf,
        /// The message file.
        path: PathBuf,
    },
    /// A message in an IMAP mailbox.
    Imap {
        /// The `[[imap]]` account's `name`.
        account: String,
        /// The mailbox (UTF-8, as configured).
        mailbox: String,
        /// The mailbox's UIDVALIDITY, when the UID is known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid_validity: Option<u32>,
        /// The message's UID there, when known (not for the folder: async-imap gives no COPYUID).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        uid: Option<u32>,
    },
}

impl Place {
    /// The mailbox, as logs and `stats` name it: the Maildir root, or `imap:ACCOUNT/MAILBOX`.
    pub fn mailbox(&self) -> String {
        match self {
            Place::Maildir { root, .. } => root.display().to_string(),
            Place::Imap { account, mailbox, .. } => format!("imap:{account}/{mailbox}"),
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Maildir { path, .. } => write!(f, "{}", path.display()),
            Place::Imap { uid: Some(uid), .. } => write!(f, "{} UID {uid}", self.mailbox()),
            Place::Imap { .. } => f.write_str(&self.mailbox()),
        }
    }
}

/// A move about to happen: everything `restore` and `stats` need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// Unique id: hex seconds, `-`, 8 random hex digits. `restore ID` names it.
    pub id: String,
    /// When it was decided.
    pub time: Time,
    /// Where the message is.
    pub from: Place,
    /// Where it is going (for a Maildir, the file it will be; for IMAP, the folder).
    pub to: Place,
    /// The message's own Message-ID, if it has one (how an IMAP restore finds it again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Its kind.
    pub kind: Kind,
    /// Its bounce reason, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The verdict that moves it.
    pub verdict: Verdict,
    /// The one-line why.
    pub why: String,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Line {
    /// Written before the move.
    Intent(Move),
    /// The move of intent `id` happened; the message is at `at`.
    Done {
        /// The intent's id.
        id: String,
        /// When.
        time: Time,
        /// Where the message is now.
        at: Place,
    },
    /// The move of intent `id` did not happen (the message vanished, or the store refused).
    Abandoned {
        /// The intent's id.
        id: String,
        /// When.
        time: Time,
        /// Why, in one line.
        why: String,
    },
    /// The move `id` was undone: the message is back at `at`.
    Restore {
        /// The move's id.
        id: String,
        /// When.
        time: Time,
        /// Where the message is again.
        at: Place,
    },
}

/// Failing to read or write the journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The file or its directory could not be opened, created, read or written.
    #[error(
        "journal {path}: {source} — nothing was moved without a journal line; free space or fix permissions there"
    )]
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
            .read(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| JournalError::Io { path: path.clone(), source })?;
        Ok(Journal { path, file })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `lines` whole, in one write, then fsyncs: a crash leaves each line whole or
    /// absent, and `Ok` means they are on disk. When the file ends in a torn line (an earlier
    /// write cut short), a newline ends it first.
    pub fn append(&mut self, lines: &[Line]) -> Result<(), JournalError> {
        let io = |source| JournalError::Io { path: self.path.clone(), source };
        let mut buffer = Vec::with_capacity(256 * lines.len());
        if self.torn().map_err(io)? {
            buffer.push(b'\n');
        }
        for line in lines {
            serde_json::to_writer(&mut buffer, line).map_err(|err| io(io::Error::other(err)))?;
            buffer.push(b'\n');
        }
        self.file.write_all(&buffer).map_err(io)?;
        self.file.sync_data().map_err(io)
    }

    /// True if the file's last byte is not a newline.
    fn torn(&self) -> io::Result<bool> {
        let len = self.file.metadata()?.len();
        if len == 0 {
            return Ok(false);
        }
        let mut last = [0u8];
        self.file.read_exact_at(&mut last, len - 1)?;
        Ok(last[0] != b'\n')
    }

    /// Everything the journal holds now.
    pub fn ledger(&self) -> Result<Ledger, JournalError> {
        read(&self.path)
    }
}

/// The journal at `path`, folded into its moves; a missing file is an empty journal. A line that
/// is not a journal line (a torn write) is skipped with a warning.
pub fn read(path: &Path) -> Result<Ledger, JournalError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Ledger::default()),
        Err(source) => return Err(JournalError::Io { path: path.to_path_buf(), source }),
    };
    let mut ledger = Ledger::default();
    for (number, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|source| JournalError::Io { path: path.to_path_buf(), source })?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Line>(&line) {
            Ok(line) => ledger.apply(line),
            Err(err) => {
                tracing::warn!(journal = %path.display(), line = number + 1, "skipping a line that is not a journal line: {err}")
            }
        }
    }
    Ok(ledger)
}

/// A fresh move id for `time` (unix seconds): hex seconds, so ids sort by time, and 32 random
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn intent(id: &str, time: i64) -> Move {
        Move {
            id: id.into(),
            time: Time(time),
            from: Place::Maildir { root: "/m".into(), path: format!("/m/new/{id}").into() },
            to: Place::Maildir { root: "/m".into(), path: format!("/m/.Backscatter/cur/{id}:2,").into() },
            message_id: Some("<x@y>".into()),
            kind: Kind::Ndr,
            reason: Some(Reason::UserUnknown),
            verdict: Verdict::Backscatter,
            why: "no carrier".into(),
        }
    }

    #[test]
    fn lines_are_typed_json() {
        let line = Line::Intent(intent("a", 0));
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.starts_with(r#"{"op":"intent","id":"a","time":"1970-01-01T00:00:00Z","from":{"store":"maildir""#));
        assert!(text.contains(r#""kind":"ndr","reason":"userunknown","verdict":"backscatter""#), "{text}");
        assert_eq!(serde_json::from_str::<Line>(&text).unwrap(), line);
        let imap = Place::Imap { account: "w".into(), mailbox: "INBOX".into(), uid_validity: Some(7), uid: Some(9) };
        let text = serde_json::to_string(&imap).unwrap();
        assert_eq!(text, r#"{"store":"imap","account":"w","mailbox":"INBOX","uid_validity":7,"uid":9}"#);
        assert_eq!(imap.to_string(), "imap:w/INBOX UID 9");
    }

    #[test]
    fn a_torn_line_is_ended_before_the_next_and_skipped_on_read() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let mut journal = Journal::open(&state).unwrap();
        journal.append(&[Line::Intent(intent("a", 1))]).unwrap();
        // A write cut short by a full disk or a power cut.
        OpenOptions::new()
            .append(true)
            .open(journal.path())
            .unwrap()
            .write_all(b"{\"op\":\"intent\",\"id\":\"x")
            .unwrap();
        let done = Line::Done { id: "a".into(), time: Time(2), at: intent("a", 1).to };
        Journal::open(&state).unwrap().append(&[done]).unwrap();
        let ledger = read(journal.path()).unwrap();
        assert_eq!(ledger.records().len(), 1);
        assert!(matches!(ledger.records()[0].state, State::Done { .. }));
        assert!(read(&tmp.path().join("none")).unwrap().records().is_empty());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(journal.path()).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn ids_differ_and_sort_by_time() {
        let (a, b) = (new_id(0x10), new_id(0x10));
        assert_ne!(a, b);
        assert!(a.starts_with("10-") && a.len() == 11);
    }
}
