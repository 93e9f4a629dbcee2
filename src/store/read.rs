//! Reading a delivered message safely (DESIGN §7): whatever lands in `new/` — a FIFO, a device,
//! a link out of the mailbox, a file of gigabytes — gets a clear answer, never a hang, a read
//! outside the mailbox or memory without bound.
//!
//! Links: a symbolic link is never a message. No MDA delivers one (Maildir delivery is
//! write-in-`tmp/`-then-rename, <https://cr.yp.to/proto/maildir.html>); one in `new/` was put
//! there by someone else and may point anywhere (`/dev/zero`, another user's mail), so it is left
//! where it is, unread. A hard link is a regular file inside the filesystem and is read as one.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;
use std::time::UNIX_EPOCH;

use nix::errno::Errno;
use nix::fcntl::OFlag;

use super::StoreError;

/// Why a file was left unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// A symbolic link (see the module docs).
    Symlink,
    /// Not a regular file: a FIFO, socket, device or directory (what it is).
    NotRegular(&'static str),
    /// Bigger than `max_message_size` (its size).
    TooBig(u64),
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Symlink => f.write_str("a symbolic link is not a delivered message; left in place, unread"),
            Skip::NotRegular(what) => write!(f, "a {what}, not a message file; left in place, unread"),
            Skip::TooBig(size) => write!(f, "{size} bytes is more than max_message_size; kept, unread"),
        }
    }
}

/// What reading a message file gave.
#[derive(Debug)]
pub enum Read {
    /// The message and its mtime (unix seconds, the arrival time of last resort).
    Message {
        /// The whole message.
        bytes: Vec<u8>,
        /// Its modification time.
        mtime: i64,
    },
    /// Gone before it could be opened (a MUA moved or deleted it).
    Vanished,
    /// Left unread, and why.
    Skipped(Skip),
}

/// Reads the message at `path`, up to `max` bytes: opened with O_NOFOLLOW (a link is refused by
/// the kernel, not by a check that could race) and O_NONBLOCK (opening a FIFO does not wait for
/// a writer), then fstat'ed: only a regular file is read.
pub fn read_message(path: &Path, max: u64) -> Result<Read, StoreError> {
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let flags = OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let file = OpenOptions::new().read(true).custom_flags(flags.bits()).open(path);
    let file = match file {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Read::Vanished),
        // ELOOP: the last component is a symbolic link (open(2), O_NOFOLLOW).
        Err(err) if err.raw_os_error() == Some(Errno::ELOOP as i32) => return Ok(Read::Skipped(Skip::Symlink)),
        Err(err) => return Err(io(err)),
    };
    let meta = file.metadata().map_err(io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "FIFO"
        } else if kind.is_socket() {
            "socket"
        } else if kind.is_dir() {
            "directory"
        } else {
            "device"
        };
        return Ok(Read::Skipped(Skip::NotRegular(what)));
    }
    if meta.len() > max {
        return Ok(Read::Skipped(Skip::TooBig(meta.len())));
    }
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    let bytes = read_at_most(file, max, meta.len()).map_err(io)?;
    if bytes.len() as u64 > max {
        // It grew while we read it.
        return Ok(Read::Skipped(Skip::TooBig(bytes.len() as u64)));
    }
    Ok(Read::Message { bytes, mtime: i64::try_from(mtime).unwrap_or(i64::MAX) })
}

/// Up to `max + 1` bytes (one more tells that it is too big).
fn read_at_most(file: File, max: u64, hint: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(usize::try_from(hint.min(max)).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_fifos_and_giants_are_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("m"), b"Subject: x\n\nhi\n").unwrap();
        assert!(
            matches!(read_message(&dir.join("m"), 1024).unwrap(), Read::Message { bytes, .. } if bytes.len() == 15)
        );
        assert!(matches!(read_message(&dir.join("m"), 10).unwrap(), Read::Skipped(Skip::TooBig(15))));
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).unwrap();
        assert!(matches!(read_message(&dir.join("zero"), 1024).unwrap(), Read::Skipped(Skip::Symlink)));
        let fifo = dir.join("fifo");
        let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        assert!(matches!(read_message(&fifo, 1024).unwrap(), Read::Skipped(Skip::NotRegular("FIFO"))));
        assert!(matches!(read_message(&dir.join("gone"), 1024).unwrap(), Read::Vanished));
        std::fs::hard_link(dir.join("m"), dir.join("hard")).unwrap();
        assert!(matches!(read_message(&dir.join("hard"), 1024).unwrap(), Read::Message { .. }));
    }
}
