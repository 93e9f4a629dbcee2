//! Per-account IMAP state: UIDVALIDITY and the last UID handled in each mailbox, so a restart
//! picks up exactly where the watcher stopped (RFC 3501 §2.3.1.1), written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where one mailbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// The mailbox's UIDVALIDITY when `last_uid` was recorded; a different value means every
    /// UID changed meaning and the mailbox is rescanned.
    pub uid_validity: u32,
    /// Every message with a UID up to this one has been handled.
    pub last_uid: u32,
}

/// The state file of one account: `<state_dir>/imap/<account>.json`, mailbox (as configured,
/// UTF-8) → [`Mark`].
#[derive(Debug)]
pub struct State {
    path: PathBuf,
    marks: BTreeMap<String, Mark>,
}

/// Reading or writing the state file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The file exists but cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not the JSON we write.
    #[error("{path}: not a backscatter IMAP state file ({source}) — move it aside; the mailbox is then rescanned")]
    Corrupt {
        /// The state file.
        path: PathBuf,
        /// What the parser said.
        source: serde_json::Error,
    },
}

impl State {
    /// The state file for `account` below `state_dir`. Account names may hold any character, so
    /// anything but `[A-Za-z0-9._-]` is written as `%XX`.
    pub fn path_for(state_dir: &Path, account: &str) -> PathBuf {
        let mut file = String::new();
        for b in account.bytes() {
            if b.is_ascii_alphanumeric() || b"._-".contains(&b) {
                file.push(char::from(b));
            } else {
                file.push_str(&format!("%{b:02X}"));
            }
        }
        if file.starts_with('.') {
            file.replace_range(..1, "%2E");
        }
        state_dir.join("imap").join(format!("{file}.json"))
    }

    /// Loads the state at `path`; a missing file is an empty state (first start).
    pub fn load(path: PathBuf) -> Result<State, StateError> {
        let marks = match std::fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| StateError::Corrupt { path: path.clone(), source })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(source) => return Err(StateError::Io { path, source }),
        };
        Ok(State { path, marks })
    }

    /// Where `mailbox` stands, if it was ever seen.
    pub fn get(&self, mailbox: &str) -> Option<Mark> {
        self.marks.get(mailbox).copied()
    }

    /// Records `mark` for `mailbox` and writes the file: a temp file beside it, fsync, rename,
    /// so a crash leaves either the old or the new state, never half of one.
    pub fn set(&mut self, mailbox: &str, mark: Mark) -> Result<(), StateError> {
        if self.marks.get(mailbox) == Some(&mark) {
            return Ok(());
        }
        self.marks.insert(mailbox.to_owned(), mark);
        self.save().map_err(|source| StateError::Io { path: self.path.clone(), source })
    }

    fn save(&self) -> std::io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let mut file = std::fs::File::create(&tmp)?;
        let json = serde_json::to_vec_pretty(&self.marks).map_err(std::io::Error::other)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        // The rename is durable only once the directory entry is.
        std::fs::File::open(dir)?.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_and_marks_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = State::path_for(dir.path(), "work/ü");
        assert_eq!(path.file_name().unwrap(), "work%2F%C3%BC.json");
        let mut state = State::load(path.clone()).unwrap();
        assert_eq!(state.get("INBOX"), None);
        state.set("INBOX", Mark { uid_validity: 7, last_uid: 42 }).unwrap();
        state.set("Entwürfe", Mark { uid_validity: 8, last_uid: 1 }).unwrap();
        let again = State::load(path.clone()).unwrap();
        assert_eq!(again.get("INBOX"), Some(Mark { uid_validity: 7, last_uid: 42 }));
        assert_eq!(again.get("Entwürfe"), Some(Mark { uid_validity: 8, last_uid: 1 }));
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn garbage_is_reported_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, "{not json").unwrap();
        let err = State::load(path).unwrap_err().to_string();
        assert!(err.contains("move it aside"), "{err}");
        assert_eq!(State::path_for(dir.path(), ".hidden").file_name().unwrap(), "%2Ehidden.json");
    }
}
