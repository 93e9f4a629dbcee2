//! Undoing moves: which moves are still undone, and putting a message back exactly where it
//! was, recorded as a line of its own.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{format_time, new_id, parse_time, Entry, Journal, JournalError, Op};
use crate::store::maildir::{refind_in, unique_part};

/// What became of one move asked to be undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restored {
    /// Renamed from `from` (in the folder, maybe re-found after a MUA changed its flags) back
    /// to `to`, the path it had before the move; journaled.
    Restored {
        /// Where it was found.
        from: PathBuf,
        /// Where it is again.
        to: PathBuf,
    },
    /// Something is already at the old path: left alone, nothing journaled.
    Occupied,
    /// Not in the folder any more (deleted or moved by the user): nothing journaled.
    Missing,
}

/// The moves in `entries` that no restore line undid yet, in file order, chosen by `ids` (if
/// any are given), else by `since` (unix seconds; moves at or after it), else all.
pub fn pending<'e>(entries: &'e [Entry], ids: &[String], since: Option<i64>) -> Vec<&'e Entry> {
    let undone: HashSet<&str> = entries.iter().filter_map(|e| e.restores.as_deref()).collect();
    entries
        .iter()
        .filter(|e| e.op == Op::Move && !undone.contains(e.id.as_str()))
        .filter(|e| ids.is_empty() || ids.contains(&e.id))
        .filter(|e| since.is_none_or(|since| parse_time(&e.time).is_ok_and(|t| t >= since)))
        .collect()
}

/// The unique parts (file names before `:`) of messages put back by a restore: a store must not
/// move them again, since a person decided they are wanted.
pub fn restored_messages(entries: &[Entry]) -> HashSet<OsString> {
    entries
        .iter()
        .filter(|e| e.op == Op::Restore)
        .filter_map(|e| Path::new(&e.to).file_name().map(|name| unique_part(name).to_os_string()))
        .collect()
}

/// Puts the message of `entry` (a move) back at its old path by rename(2), never overwriting,
/// and appends the restore line (time `now`, unix seconds) to `journal`.
pub fn restore(journal: &mut Journal, entry: &Entry, now: i64) -> Result<Restored, JournalError> {
    let back = PathBuf::from(&entry.from);
    let moved = PathBuf::from(&entry.to);
    if back.exists() {
        return Ok(Restored::Occupied);
    }
    let found = if moved.exists() {
        moved
    } else {
        // A MUA may have flagged it in the folder (renaming `…:2,` to `…:2,S`).
        let (Some(dir), Some(name)) = (moved.parent(), moved.file_name()) else { return Ok(Restored::Missing) };
        match refind_in(dir, unique_part(name)) {
            Some(found) => found,
            None => return Ok(Restored::Missing),
        }
    };
    match fs::rename(&found, &back) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound && !found.exists() => return Ok(Restored::Missing),
        Err(source) => return Err(JournalError::Io { path: back, source }),
    }
    let line = Entry {
        id: new_id(now),
        time: format_time(now),
        op: Op::Restore,
        from: found.to_string_lossy().into_owned(),
        to: entry.from.clone(),
        restores: Some(entry.id.clone()),
        ..entry.clone()
    };
    journal.append(&line)?;
    Ok(Restored::Restored { from: found, to: back })
}

#[cfg(test)]
mod tests {
    use super::super::tests::entry;
    use super::*;

    #[test]
    fn pending_skips_restored_and_filters() {
        let mut restore = entry("r", "2026-11-22T00:00:00Z", Op::Restore);
        restore.restores = Some("a".into());
        let entries = vec![
            entry("a", "2026-11-20T00:00:00Z", Op::Move),
            entry("b", "2026-11-21T00:00:00Z", Op::Move),
            entry("c", "2026-11-22T10:00:00Z", Op::Move),
            restore,
        ];
        let ids = |v: Vec<&Entry>| v.into_iter().map(|e| e.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(pending(&entries, &[], None)), ["b", "c"]);
        assert_eq!(ids(pending(&entries, &[], Some(parse_time("2026-11-22").unwrap()))), ["c"]);
        assert_eq!(ids(pending(&entries, &["a".into(), "b".into()], None)), ["b"]);
        assert!(restored_messages(&entries).contains(&OsString::from("1")));
    }

    #[test]
    fn puts_back_refinds_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let (inbox, folder) = (tmp.path().join("new"), tmp.path().join(".Backscatter/cur"));
        fs::create_dir_all(&inbox).unwrap();
        fs::create_dir_all(&folder).unwrap();
        let mut journal = Journal::open(&tmp.path().join("state")).unwrap();
        let mut e = entry("m", "2026-11-22T00:00:00Z", Op::Move);
        e.from = inbox.join("1.x").to_string_lossy().into();
        e.to = folder.join("1.x:2,").to_string_lossy().into();
        // Flagged Seen in the folder since.
        fs::write(folder.join("1.x:2,S"), "body").unwrap();
        let done = restore(&mut journal, &e, 100).unwrap();
        assert_eq!(done, Restored::Restored { from: folder.join("1.x:2,S"), to: inbox.join("1.x") });
        assert_eq!(fs::read(inbox.join("1.x")).unwrap(), b"body");
        assert_eq!(restore(&mut journal, &e, 101).unwrap(), Restored::Occupied);
        fs::remove_file(inbox.join("1.x")).unwrap();
        assert_eq!(restore(&mut journal, &e, 102).unwrap(), Restored::Missing);
        let lines = super::super::read(journal.path()).unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!((lines[0].op, lines[0].restores.as_deref()), (Op::Restore, Some("m")));
        assert_eq!(lines[0].to, e.from);
    }
}
