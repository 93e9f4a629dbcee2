//! The sent log on disk: `state_dir/sent-log/DAY.log`, one file per signing day, one line per
//! signed message ([`Entry::line`]).
//!
//! Writers (the sendmail drop-in, every milter session) append one whole line per message with
//! O_APPEND in a single write(2): on a local file system Linux holds the file's lock for the
//! whole write, so concurrent writers never interleave within a line. No fsync: a line lost in
//! a power cut only means its bounce is judged by the carrier rule, as without the log. A
//! write cut short (a full disk) leaves a torn line: the next append ends it with a newline
//! first, and readers skip it.
//!
//! Pruning never rewrites a file under its writers: a day's file is deleted whole once no
//! carrier made that day can matter ([`super::horizon`]). The writer that starts a new day's
//! file deletes the expired ones; readers skip them anyway.
//!
//! [`Reader`] keeps the log in memory and reads it incrementally: per file the byte offset up to
//! its last whole line, so a refresh reads only what was appended since (a `stat` of the
//! directory and of the newest files when nothing was).

use std::collections::BTreeMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{horizon, Entry, SentLog};
use crate::day::Day;

/// The log's directory in the state dir.
pub const DIR_NAME: &str = "sent-log";

/// Failing to read or write the sent log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SentLogError {
    /// The directory or a file could not be made, read or written.
    #[error("sent log {}: {source} — check that state_dir is writable by this user (the mail was not held up)", path.display())]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> SentLogError + '_ {
    move |source| SentLogError::Io { path: path.to_path_buf(), source }
}

/// The log's directory below `state_dir`.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join(DIR_NAME)
}

/// The file of signing day `day`.
fn day_file(dir: &Path, day: Day) -> PathBuf {
    dir.join(format!("{}.log", day.0))
}

/// The signing day a file name stands for (`20425.log`), or `None` for any other name.
fn file_day(name: &std::ffi::OsStr) -> Option<Day> {
    let digits = name.to_str()?.strip_suffix(".log")?;
    (!digits.is_empty() && digits.len() <= 10 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok().map(Day))
        .flatten()
}

/// Appends `entry` to its day's file below `state_dir` (made 0750, the files 0640: a reader in
/// the writer's group — `watch` beside the milter — may read it; the recipients in it are keyed
/// hashes). Starting a new day's file deletes the days before [`horizon`]`(entry.day)`.
pub fn append(state_dir: &Path, entry: &Entry) -> Result<(), SentLogError> {
    let dir = dir(state_dir);
    DirBuilder::new().recursive(true).mode(0o750).create(&dir).map_err(io_error(&dir))?;
    let path = day_file(&dir, entry.day);
    let fail = io_error(&path);
    let new_day = !path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(&path)
        .map_err(&fail)?;
    let mut line = Vec::with_capacity(128);
    if torn(&file).map_err(&fail)? {
        line.push(b'\n');
    }
    line.extend_from_slice(entry.line().as_bytes());
    // One write(2) of a line this short is never split on a regular file; write_all only loops
    // after a short write, which a full disk gives — the torn line the next append ends.
    file.write_all(&line).map_err(&fail)?;
    if new_day {
        prune(&dir, horizon(entry.day));
    }
    Ok(())
}

/// True if the file's last byte is not a newline (an earlier write was cut short).
fn torn(file: &File) -> io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

/// Deletes the day files before `oldest`. Best effort: another writer may have deleted one
/// first, and a file we may not delete is only skipped by readers.
fn prune(dir: &Path, oldest: Day) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if file_day(&entry.file_name()).is_some_and(|day| day < oldest) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::debug!(file = %entry.path().display(), "sent log: expired day deleted"),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => {
                    tracing::warn!(file = %entry.path().display(), "sent log: cannot delete an expired day: {err}")
                }
            }
        }
    }
}

/// Where reading one day's file got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    /// The file's inode: another inode under the same name is another file.
    inode: u64,
    /// Bytes read, up to the end of the last whole line.
    offset: u64,
}

/// The sent log in memory, kept up to date with the files.
#[derive(Debug)]
pub struct Reader {
    dir: PathBuf,
    log: SentLog,
    files: BTreeMap<Day, Cursor>,
    /// The directory's mtime at the last listing: files come and go only when it changes.
    listed: Option<SystemTime>,
    /// The oldest day loaded; a later horizon drops days, by a reload.
    oldest: Option<Day>,
}

impl Reader {
    /// A reader of the log below `state_dir`; nothing is read before [`Reader::refresh`].
    pub fn new(state_dir: &Path) -> Reader {
        Reader { dir: dir(state_dir), log: SentLog::new(), files: BTreeMap::new(), listed: None, oldest: None }
    }

    /// The log as last read.
    pub fn log(&self) -> &SentLog {
        &self.log
    }

    /// Reads what was appended since the last refresh: new lines of the files of `today` and
    /// the day before (the only ones still written), and new day files. A deleted file, or
    /// `today` moving the horizon past a loaded day, reloads everything (at most once a day).
    /// A missing directory is an empty log.
    pub fn refresh(&mut self, today: Day) -> Result<(), SentLogError> {
        // A reload half-way (a file replaced while it was read) lists again; a third one in a
        // row leaves the rest to the next refresh rather than spin.
        for _ in 0..3 {
            if self.try_refresh(today)? {
                break;
            }
        }
        Ok(())
    }

    /// One pass of [`Reader::refresh`]: false if it had to reload part-way.
    fn try_refresh(&mut self, today: Day) -> Result<bool, SentLogError> {
        let oldest = horizon(today);
        let listed = match std::fs::metadata(&self.dir) {
            Ok(meta) => meta.modified().ok(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                self.reload();
                return Ok(true);
            }
            Err(err) => return Err(io_error(&self.dir)(err)),
        };
        if self.oldest.is_some_and(|loaded| loaded < oldest) {
            self.reload();
        }
        self.oldest = Some(oldest);
        let days = if listed != self.listed || listed.is_none() {
            let days = self.list(oldest)?;
            if self.files.keys().any(|day| !days.contains(day)) {
                self.reload();
            }
            days
        } else {
            // Nothing came or went: only the files still written can have grown (today's, and
            // yesterday's for a writer that signed just before midnight).
            vec![Day(today.0 - 1), today]
        };
        for day in days {
            if !self.read_day(day)? {
                return Ok(false);
            }
        }
        self.listed = listed;
        Ok(true)
    }

    /// Forgets everything read: the next listing reads every file again.
    fn reload(&mut self) {
        self.log = SentLog::new();
        self.files.clear();
        self.listed = None;
    }

    /// The days from `oldest` on that have a file, in order.
    fn list(&self, oldest: Day) -> Result<Vec<Day>, SentLogError> {
        let entries = std::fs::read_dir(&self.dir).map_err(io_error(&self.dir))?;
        let mut days: Vec<Day> =
            entries.flatten().filter_map(|e| file_day(&e.file_name())).filter(|day| *day >= oldest).collect();
        days.sort_unstable();
        Ok(days)
    }

    /// Reads day `day`'s file from where it was left; false if it was replaced under its name
    /// (another inode) or is shorter than what was read: everything is reloaded then.
    fn read_day(&mut self, day: Day) -> Result<bool, SentLogError> {
        let path = day_file(&self.dir, day);
        // The common case, nothing appended: one `stat`, no open.
        if let (Some(cursor), Ok(meta)) = (self.files.get(&day), std::fs::symlink_metadata(&path)) {
            if cursor.inode == meta.ino() && cursor.offset == meta.len() {
                return Ok(true);
            }
        }
        let mut file =
            match OpenOptions::new().read(true).custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits()).open(&path) {
                Ok(file) => file,
                // Not made yet, or deleted since the listing (the next listing sees that).
                Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(true),
                Err(err) => return Err(io_error(&path)(err)),
            };
        let meta = file.metadata().map_err(io_error(&path))?;
        let mut cursor = self.files.get(&day).copied().unwrap_or(Cursor { inode: meta.ino(), offset: 0 });
        if cursor.inode != meta.ino() || meta.len() < cursor.offset {
            self.reload();
            return Ok(false);
        }
        if meta.len() > cursor.offset {
            let mut text = Vec::new();
            file.seek(SeekFrom::Start(cursor.offset)).map_err(io_error(&path))?;
            file.take(meta.len() - cursor.offset).read_to_end(&mut text).map_err(io_error(&path))?;
            cursor.offset += self.log.extend_from(&text) as u64;
        }
        self.files.insert(day, cursor);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::sign::{Key, KeyId};

    const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"s3cret-s3cret" };

    fn entry(day: i64, nonce: u64) -> Entry {
        Entry::new(&KEY, Day(day), nonce, None, ["a@example.net"])
    }

    #[test]
    fn appended_lines_are_read_incrementally_and_torn_ones_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let mut reader = Reader::new(&state);
        reader.refresh(Day(100)).unwrap();
        assert!(reader.log().is_empty(), "no directory yet: an empty log");
        append(&state, &entry(100, 1)).unwrap();
        reader.refresh(Day(100)).unwrap();
        assert_eq!(reader.log().len(), 1);
        let path = day_file(&dir(&state), Day(100));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(std::fs::metadata(dir(&state)).unwrap().permissions().mode() & 0o777, 0o750);
        // A write cut short, then the next append: the torn line is ended and skipped.
        OpenOptions::new().append(true).open(&path).unwrap().write_all(b"v1 100 0 00000").unwrap();
        reader.refresh(Day(100)).unwrap();
        assert_eq!(reader.log().len(), 1, "an unfinished line waits");
        append(&state, &entry(100, 2)).unwrap();
        reader.refresh(Day(100)).unwrap();
        assert_eq!(reader.log().len(), 2);
        assert!(reader.log().get(2).is_some());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
        // A fresh reader reads the same.
        let mut again = Reader::new(&state);
        again.refresh(Day(100)).unwrap();
        assert_eq!(again.log().len(), 2);
    }

    #[test]
    fn old_days_are_deleted_by_the_next_days_first_writer_and_dropped_by_readers() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path();
        append(state, &entry(100, 1)).unwrap();
        append(state, &entry(101, 2)).unwrap();
        let mut reader = Reader::new(state);
        reader.refresh(Day(101)).unwrap();
        assert_eq!(reader.log().len(), 2);
        // Day 114 still keeps day 100 (horizon = 114 − 14); day 115 drops it.
        reader.refresh(Day(114)).unwrap();
        assert_eq!(reader.log().len(), 2);
        reader.refresh(Day(115)).unwrap();
        assert_eq!(reader.log().len(), 1);
        assert!(reader.log().get(1).is_none() && reader.log().get(2).is_some());
        append(state, &entry(115, 3)).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(dir(state)).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["101.log", "115.log"]);
        reader.refresh(Day(115)).unwrap();
        assert_eq!(reader.log().len(), 2);
    }

    /// Concurrent milter sessions (and drop-in processes) append to the same day file: every
    /// line arrives whole.
    #[test]
    fn concurrent_appends_never_interleave() {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().to_path_buf();
        let writers: Vec<_> = (0..8u64)
            .map(|w| {
                let state = state.clone();
                std::thread::spawn(move || {
                    for i in 0..250u64 {
                        let many: Vec<String> = (0..w * 20).map(|r| format!("r{r}@example.net")).collect();
                        let entry = Entry::new(&KEY, Day(100), w << 32 | i, None, many.iter().map(String::as_str));
                        append(&state, &entry).unwrap();
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        let text = std::fs::read(day_file(&dir(&state), Day(100))).unwrap();
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        assert_eq!(lines.len(), 2000);
        assert!(lines.iter().all(|l| Entry::parse(l).is_some()), "a line was cut or glued");
        let mut reader = Reader::new(&state);
        reader.refresh(Day(100)).unwrap();
        assert_eq!(reader.log().len(), 2000);
    }

    #[test]
    fn a_file_replaced_under_its_name_is_read_again() {
        let tmp = tempfile::tempdir().unwrap();
        append(tmp.path(), &entry(100, 1)).unwrap();
        let mut reader = Reader::new(tmp.path());
        reader.refresh(Day(100)).unwrap();
        let path = day_file(&dir(tmp.path()), Day(100));
        let replacement = tmp.path().join("new");
        std::fs::write(&replacement, entry(100, 7).line()).unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        reader.refresh(Day(100)).unwrap();
        assert!(reader.log().get(1).is_none() && reader.log().get(7).is_some());
        assert_eq!(file_day(std::ffi::OsStr::new("x.log")), None);
        assert_eq!(file_day(std::ffi::OsStr::new("12.log")), Some(Day(12)));
    }

    #[test]
    fn an_unwritable_state_dir_is_an_error_that_names_it() {
        let tmp = tempfile::tempdir().unwrap();
        let blocker = tmp.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        let err = append(&blocker, &entry(1, 1)).unwrap_err().to_string();
        assert!(err.contains("sent log") && err.contains("file"), "{err}");
    }
}
