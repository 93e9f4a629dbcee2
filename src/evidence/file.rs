//! A Sent index on disk, in `state_dir/sent/`: a compact binary file (little-endian; 24 bytes
//! plus 4 per recipient per message) with where the source stopped reading — the Maildir file
//! names already read, or the IMAP UIDVALIDITY and last UID. Written atomically (a temp file,
//! fsync, rename, fsync of the directory) with mode 0600: it lists who you write to, hashed.
//!
//! A file that cannot be read back (torn, another version, another source) is not an error: the
//! index is rebuilt from the folder, which is the truth.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::index::SentIndex;
use super::EvidenceError;
use crate::day::Day;

/// The first bytes of every file; the last one is the format version.
const MAGIC: &[u8; 8] = b"BSSENT\x00\x01";

/// Where a source stopped reading its folders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// IMAP: the Sent mailbox's UIDVALIDITY (0 before the first read).
    pub uid_validity: u32,
    /// IMAP: the highest UID read.
    pub last_uid: u32,
    /// Maildir: a hash of the unique part of each file name read (flags and `new`→`cur` moves
    /// change the name but not that part).
    pub seen: HashSet<u64>,
}

/// An index with its source's name and cursor, as kept on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    /// What was indexed: the Sent folders' paths, or `imap:ACCOUNT/MAILBOX`. A file for
    /// another source is ignored (the config changed).
    pub source: String,
    /// The index.
    pub index: SentIndex,
    /// Where reading stopped.
    pub cursor: Cursor,
}

/// The file for the index named `name` (a Maildir's hashed path, an account's name).
pub fn path(state_dir: &Path, name: &str) -> PathBuf {
    state_dir.join("sent").join(format!("{name}.idx"))
}

/// Reads the stored index at `path` for `source`: `None` when there is none yet, or it cannot be
/// read back or belongs to another source (said in the log, then rebuilt).
pub fn load(path: &Path, source: &str) -> Option<Stored> {
    let stored = load_any(path)?;
    if stored.source != source {
        tracing::info!(file = %path.display(), "the Sent index was for other folders; rebuilding it");
        return None;
    }
    Some(stored)
}

/// Reads the stored index at `path`, whatever its source (the IMAP source learns its mailbox's
/// name only once connected).
pub fn load_any(path: &Path) -> Option<Stored> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return None,
        Err(err) => {
            tracing::warn!(file = %path.display(), error = %err, "cannot read the Sent index; rebuilding it");
            return None;
        }
    };
    let stored = decode(&bytes);
    if stored.is_none() {
        tracing::warn!(file = %path.display(), "the Sent index is damaged or of another version; rebuilding it");
    }
    stored
}

/// Writes `stored` to `path` atomically, mode 0600.
pub fn save(path: &Path, stored: &Stored) -> Result<(), EvidenceError> {
    let io = |source| EvidenceError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|source| EvidenceError::Io { path: dir.to_path_buf(), source })?;
    let temp = dir.join(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    let file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temp).map_err(io)?;
    let mut out = BufWriter::new(file);
    encode(stored, &mut out).map_err(io)?;
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&temp, path).map_err(io)?;
    // The rename is durable once the directory is.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

fn encode(stored: &Stored, out: &mut impl Write) -> io::Result<()> {
    let u32_of = |n: usize| u32::try_from(n).map_err(|_| io::Error::other("too many entries"));
    out.write_all(MAGIC)?;
    out.write_all(&u32_of(stored.source.len())?.to_le_bytes())?;
    out.write_all(stored.source.as_bytes())?;
    let index = &stored.index;
    out.write_all(&index.read_at().unwrap_or(i64::MIN).to_le_bytes())?;
    let (first, last) = index.span().map_or((i64::MIN, i64::MIN), |(f, l)| (f.0, l.0));
    out.write_all(&first.to_le_bytes())?;
    out.write_all(&last.to_le_bytes())?;
    out.write_all(&stored.cursor.uid_validity.to_le_bytes())?;
    out.write_all(&stored.cursor.last_uid.to_le_bytes())?;
    out.write_all(&u32_of(stored.cursor.seen.len())?.to_le_bytes())?;
    for seen in &stored.cursor.seen {
        out.write_all(&seen.to_le_bytes())?;
    }
    out.write_all(&u32_of(index.len())?.to_le_bytes())?;
    for (id, sent) in index.iter() {
        out.write_all(&id.to_le_bytes())?;
        out.write_all(&i32::try_from(sent.day.0).unwrap_or(i32::MAX).to_le_bytes())?;
        out.write_all(&sent.subject.to_le_bytes())?;
        out.write_all(&u32_of(sent.recipients.len())?.to_le_bytes())?;
        for r in sent.recipients {
            out.write_all(&r.to_le_bytes())?;
        }
    }
    Ok(())
}

/// Reads little-endian numbers off a byte slice; `None` past its end.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = (self.0.get(..N)?, self.0.get(N..)?);
        self.0 = rest;
        head.try_into().ok()
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_le_bytes)
    }
    /// A count of items of `size` bytes each, refused when the rest cannot hold them (a
    /// damaged count must not make us allocate gigabytes).
    fn count(&mut self, size: usize) -> Option<usize> {
        let n = self.u32()? as usize;
        (n.checked_mul(size)? <= self.0.len()).then_some(n)
    }
}

fn decode(bytes: &[u8]) -> Option<Stored> {
    let mut r = Reader(bytes);
    if &r.take::<8>()? != MAGIC {
        return None;
    }
    let len = r.count(1)?;
    let source = String::from_utf8(r.0.get(..len)?.to_vec()).ok()?;
    r.0 = r.0.get(len..)?;
    let read_at = Some(r.i64()?).filter(|t| *t != i64::MIN);
    let (first, last) = (r.i64()?, r.i64()?);
    let span = (first != i64::MIN).then_some((Day(first), Day(last)));
    let mut cursor = Cursor { uid_validity: r.u32()?, last_uid: r.u32()?, seen: HashSet::new() };
    let seen = r.count(8)?;
    cursor.seen.reserve(seen);
    for _ in 0..seen {
        cursor.seen.insert(r.u64()?);
    }
    let n = r.count(20)?;
    let mut index = SentIndex::new();
    index.reserve(n, r.0.len().saturating_sub(n * 20) / 4);
    for _ in 0..n {
        let (id, day, subject) = (r.u64()?, r.i32()?, r.u32()?);
        let count = r.count(4)?;
        let recipients: Vec<u32> = (0..count).map(|_| r.u32()).collect::<Option<_>>()?;
        index.restore(id, day, subject, &recipients);
    }
    if !r.0.is_empty() {
        return None;
    }
    index.restore_span(span, read_at);
    Some(Stored { source, index, cursor })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::evidence::index::Record;

    fn stored() -> Stored {
        let mut index = SentIndex::new();
        for i in 0..50 {
            let header = format!("Message-ID: <{i}@a.example>\nDate: Tue, 3 Nov 2026 10:00:00 +0000\nTo: b{i}@c.example, d@c.example\nSubject: s{i}\n\n");
            index.insert(Record::from_header(header.as_bytes(), 0));
        }
        index.mark_read(1_790_000_000);
        let cursor = Cursor { uid_validity: 7, last_uid: 50, seen: (0..50).collect() };
        Stored { source: "imap:work/Sent".into(), index, cursor }
    }

    #[test]
    fn saved_and_loaded_back_the_same_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "imap-work");
        let stored = stored();
        save(&file, &stored).unwrap();
        assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(load(&file, "imap:work/Sent"), Some(stored.clone()));
        assert_eq!(load(&file, "imap:work/Sent Items"), None, "another source is rebuilt");
        let bytes = fs::read(&file).unwrap();
        for cut in [0, 7, 30, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode(bytes.get(..cut).unwrap()), None, "torn at {cut}");
        }
        save(&file, &Stored::default()).unwrap();
        assert_eq!(load(&file, ""), Some(Stored::default()));
    }
}
