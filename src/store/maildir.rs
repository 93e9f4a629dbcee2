//! One Maildir on disk: its folder layout (Maildir++ or fs), its messages in `new/` and `cur/`,
//! the Backscatter folder (created like an IMAP server would), and moving a message by rename
//! (DESIGN §7).
//!
//! A message's file name is `UNIQUE[:2,FLAGS]` (<https://cr.yp.to/proto/maildir.html>); a MUA
//! may move it from `new/` to `cur/` or change its flags at any time, which renames it. The
//! unique part never changes, so a message that vanished under us is looked for by it.

use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Landed, StoreError};
use crate::journal::Place;

/// How subfolders are stored below the Maildir root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Maildir++ (Courier, Dovecot's default): `.Folder/`, hierarchy joined with `.`.
    MaildirPlusPlus,
    /// Dovecot `LAYOUT=fs`: `Folder/`, hierarchy as directories.
    Fs,
}

/// A Maildir (the INBOX, or a Maildir++ subfolder) and the layout of its subfolders.
#[derive(Debug, Clone)]
pub struct Maildir {
    root: PathBuf,
    /// Where subfolders live: `root`, or for a Maildir++ subfolder (`.Sub/` with a
    /// `maildirfolder` file) its parent, the mailbox's real root.
    base: PathBuf,
    layout: Layout,
}

/// What became of a message asked to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    /// Renamed from `from` (where it was found, maybe re-found by its unique part) to `to`.
    Moved {
        /// Where it was.
        from: PathBuf,
        /// Where it is now.
        to: PathBuf,
    },
    /// Gone (deleted or moved elsewhere by a MUA): nothing to do, not an error.
    Vanished,
}

impl Maildir {
    /// The Maildir at `root`; it must have `cur/`, `new/` and `tmp/`. The layout of subfolders is
    /// read from what exists (`folder` first, then any other subfolder), Maildir++ by default. A
    /// Maildir++ subfolder (`.Sub/` holding `maildirfolder`) keeps its siblings in its parent.
    pub fn open(root: &Path, folder: &str) -> Result<Maildir, StoreError> {
        if !["cur", "new", "tmp"].iter().all(|d| root.join(d).is_dir()) {
            return Err(StoreError::NotMaildir { path: root.to_path_buf() });
        }
        let dotted = root.file_name().is_some_and(|n| n.as_bytes().first() == Some(&b'.'));
        if dotted && root.join("maildirfolder").is_file() {
            if let Some(parent) = root.parent() {
                let base = parent.to_path_buf();
                return Ok(Maildir { root: root.to_path_buf(), base, layout: Layout::MaildirPlusPlus });
            }
        }
        let layout = detect_layout(root, folder);
        Ok(Maildir { root: root.to_path_buf(), base: root.to_path_buf(), layout })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The subfolder layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The directory of subfolder `folder` (`Junk/Backscatter` is a hierarchy).
    pub fn folder_dir(&self, folder: &str) -> PathBuf {
        match self.layout {
            Layout::MaildirPlusPlus => self.base.join(format!(".{}", folder.replace('/', "."))),
            Layout::Fs => self.base.join(folder),
        }
    }

    /// True if this Maildir is subfolder `folder` itself: nothing in it is moved.
    pub fn is_folder(&self, folder: &str) -> bool {
        self.folder_dir(folder) == self.root
    }

    /// True if `dir` is this Maildir's `new/`.
    pub fn is_new_dir(&self, dir: &Path) -> bool {
        dir == self.root.join("new")
    }

    /// Every message file in `new/` then `cur/`, each directory in name order. Dot files and
    /// directories are not messages; anything else is listed, and reading it
    /// ([`super::read::read_message`]) says what a link, a FIFO or a giant is.
    pub fn messages(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut all = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let mut names = list(&dir)?;
            names.sort();
            all.extend(names.into_iter().filter(|(_, is_dir)| !is_dir).map(|(name, _)| dir.join(name)));
        }
        Ok(all)
    }

    /// Creates subfolder `folder` if it is missing, as Dovecot would: `cur new tmp` (0700), an
    /// empty `maildirfolder` file (Maildir++), and its name in `subscriptions` so that IMAP
    /// clients show it. Returns the folder's directory. Cheap when it exists.
    pub fn ensure_folder(&self, folder: &str) -> Result<PathBuf, StoreError> {
        let dir = self.folder_dir(folder);
        let marker = dir.join("maildirfolder");
        if dir.join("cur").is_dir() && marker.is_file() {
            return Ok(dir);
        }
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        for sub in ["cur", "new", "tmp"] {
            let path = dir.join(sub);
            builder.create(&path).map_err(|source| StoreError::Io { path, source })?;
        }
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&marker)
            .map_err(|source| StoreError::Io { path: marker, source })?;
        self.subscribe(folder)?;
        Ok(dir)
    }

    /// Adds `folder` to the mailbox's `subscriptions` unless it is there. Dovecot's v2 file starts
    /// with `V\t2` and separates hierarchy levels with a tab; the older form is one name a line.
    fn subscribe(&self, folder: &str) -> Result<(), StoreError> {
        let path = self.base.join("subscriptions");
        let mut text = String::new();
        match fs::File::open(&path) {
            Ok(mut file) => {
                file.read_to_string(&mut text).map_err(|source| StoreError::Io { path: path.clone(), source })?;
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Io { path, source }),
        }
        let v2 = text.starts_with("V\t2");
        let name = if v2 { folder.replace('/', "\t") } else { folder.to_owned() };
        if text.lines().any(|line| line == name) {
            return Ok(());
        }
        let mut line = String::new();
        if !text.is_empty() && !text.ends_with('\n') {
            line.push('\n');
        }
        line.push_str(&name);
        line.push('\n');
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&path)
            .map_err(|source| StoreError::Io { path: path.clone(), source })?;
        file.write_all(line.as_bytes()).map_err(|source| StoreError::Io { path, source })
    }

    /// Where [`Maildir::move_message`] will put the message at `path`: `folder_dir/cur/` with
    /// its name (and the `:2,` suffix a message from `new/` gains) — what the journal's intent
    /// names before the move.
    pub fn moved_path(&self, path: &Path, folder_dir: &Path) -> PathBuf {
        let name = path.file_name().unwrap_or_default();
        let in_new = path.parent().is_some_and(|dir| self.is_new_dir(dir));
        folder_dir.join("cur").join(cur_name(name, in_new))
    }

    /// Moves the message at `path` (in this Maildir's `new/` or `cur/`) into `folder_dir/cur/`
    /// by rename(2), keeping its name and flags; from `new/` it gains the `:2,` info suffix a
    /// message in `cur/` must have. If it vanished meanwhile (a MUA moved it to `cur/` or changed
    /// its flags) it is re-found by its unique part and moved from there; if it is gone, the
    /// result is [`Moved::Vanished`]. Never overwrites a file in the folder.
    pub fn move_message(&self, path: &Path, folder_dir: &Path) -> Result<Moved, StoreError> {
        let mut from = path.to_path_buf();
        for _attempt in 0..3 {
            let Some(name) = from.file_name() else { return Ok(Moved::Vanished) };
            let in_new = from.parent().is_some_and(|dir| self.is_new_dir(dir));
            let to = folder_dir.join("cur").join(cur_name(name, in_new));
            if to.exists() {
                return Err(StoreError::Io {
                    path: to,
                    source: io::Error::new(io::ErrorKind::AlreadyExists, "a message of that name is already there"),
                });
            }
            match fs::rename(&from, &to) {
                Ok(()) => return Ok(Moved::Moved { from, to }),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    let unique = unique_part(name).to_os_string();
                    match self.refind(&unique) {
                        Some(found) if found != from => from = found,
                        _ => return Ok(Moved::Vanished),
                    }
                }
                Err(source) => return Err(StoreError::Io { path: from, source }),
            }
        }
        Ok(Moved::Vanished)
    }

    /// The message whose unique part is `unique`, in `cur/` (where a MUA puts it) or `new/`.
    pub fn refind(&self, unique: &OsStr) -> Option<PathBuf> {
        ["cur", "new"].iter().find_map(|sub| refind_in(&self.root.join(sub), unique))
    }
}

impl super::Mailbox for Maildir {
    type Item = PathBuf;
    type Error = StoreError;

    fn place(&self, item: &PathBuf) -> Place {
        Place::Maildir { root: self.root.clone(), path: item.clone() }
    }

    async fn destination(&mut self, item: &PathBuf, folder: &str) -> Result<Place, StoreError> {
        let folder_dir = self.ensure_folder(folder)?;
        Ok(Place::Maildir { root: self.root.clone(), path: self.moved_path(item, &folder_dir) })
    }

    async fn move_to(&mut self, items: &[PathBuf], folder: &str) -> Result<Vec<Landed>, StoreError> {
        let folder_dir = self.folder_dir(folder);
        Ok(items
            .iter()
            .map(|path| match self.move_message(path, &folder_dir) {
                Ok(Moved::Moved { to, .. }) => Landed::At(Place::Maildir { root: self.root.clone(), path: to }),
                Ok(Moved::Vanished) => Landed::Vanished,
                Err(err) => Landed::Failed(err.to_string()),
            })
            .collect())
    }
}

/// The file in `dir` whose unique part is `unique`, if any.
pub fn refind_in(dir: &Path, unique: &OsStr) -> Option<PathBuf> {
    let names = list(dir).ok()?;
    names.into_iter().find(|(name, _)| unique_part(name) == unique).map(|(name, _)| dir.join(name))
}

/// The unique part of a Maildir file name: everything before the `:` of the info suffix.
pub fn unique_part(name: &OsStr) -> &OsStr {
    let bytes = name.as_bytes();
    let end = bytes.iter().position(|&b| b == b':').unwrap_or(bytes.len());
    OsStr::from_bytes(bytes.get(..end).unwrap_or(bytes))
}

/// The name a message takes in `cur/`: unchanged, except that one from `new/` without an info
/// suffix gains `:2,` (no flags yet).
fn cur_name(name: &OsStr, from_new: bool) -> OsString {
    let mut name = name.to_os_string();
    if from_new && !name.as_bytes().contains(&b':') {
        name.push(":2,");
    }
    name
}

/// The names in `dir` that are not dot files, each with whether the directory entry says it is a
/// directory (a link to one is not: it is never followed).
fn list(dir: &Path) -> Result<Vec<(OsString, bool)>, StoreError> {
    let entries = fs::read_dir(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        let name = entry.file_name();
        if name.as_bytes().first() != Some(&b'.') {
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            names.push((name, is_dir));
        }
    }
    Ok(names)
}

/// What became of a message asked to be put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutBack {
    /// Renamed from `from` (in the folder, maybe re-found after a MUA changed its flags) back to
    /// the path it had before the move.
    Done {
        /// Where it was found.
        from: PathBuf,
    },
    /// Something is already at the old path: left alone.
    Occupied,
    /// Not in the folder any more (deleted or moved by the user).
    Missing,
}

/// Puts the message moved to `moved` back at `back` by rename(2), never overwriting; a message
/// flagged in the folder since (`…:2,` → `…:2,S`) is re-found by its unique part.
pub fn put_back(moved: &Path, back: &Path) -> Result<PutBack, StoreError> {
    if back.exists() {
        return Ok(PutBack::Occupied);
    }
    let found = if moved.exists() {
        moved.to_path_buf()
    } else {
        let (Some(dir), Some(name)) = (moved.parent(), moved.file_name()) else { return Ok(PutBack::Missing) };
        match refind_in(dir, unique_part(name)) {
            Some(found) => found,
            None => return Ok(PutBack::Missing),
        }
    };
    match fs::rename(&found, back) {
        Ok(()) => Ok(PutBack::Done { from: found }),
        Err(err) if err.kind() == io::ErrorKind::NotFound && !found.exists() => Ok(PutBack::Missing),
        Err(source) => Err(StoreError::Io { path: back.to_path_buf(), source }),
    }
}

/// The layout in use below `root`: where `folder` already is, else what the other subfolders
/// look like, else Maildir++ (Dovecot's and Courier's default).
fn detect_layout(root: &Path, folder: &str) -> Layout {
    if root.join(format!(".{}", folder.replace('/', "."))).join("cur").is_dir() {
        return Layout::MaildirPlusPlus;
    }
    if root.join(folder).join("cur").is_dir() {
        return Layout::Fs;
    }
    let Ok(entries) = fs::read_dir(root) else { return Layout::MaildirPlusPlus };
    let mut fs_layout = false;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let bytes = name.as_bytes();
        if matches!(bytes, b"cur" | b"new" | b"tmp") || !entry.path().join("cur").is_dir() {
            continue;
        }
        if bytes.first() == Some(&b'.') {
            return Layout::MaildirPlusPlus;
        }
        fs_layout = true;
    }
    if fs_layout {
        Layout::Fs
    } else {
        Layout::MaildirPlusPlus
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maildir(dir: &Path) -> PathBuf {
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        dir.to_path_buf()
    }

    #[test]
    fn unique_parts_and_cur_names() {
        assert_eq!(unique_part(OsStr::new("123.M1P2.host:2,S")), "123.M1P2.host");
        assert_eq!(unique_part(OsStr::new("123.host")), "123.host");
        assert_eq!(cur_name(OsStr::new("1.host"), true), "1.host:2,");
        assert_eq!(cur_name(OsStr::new("1.host:2,S"), true), "1.host:2,S");
        assert_eq!(cur_name(OsStr::new("1.host:2,S"), false), "1.host:2,S");
    }

    #[test]
    fn messages_are_everything_but_dot_files_and_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = maildir(tmp.path());
        fs::write(root.join("cur/1.a:2,S"), "one").unwrap();
        fs::write(root.join("new/2.b"), "two").unwrap();
        fs::write(root.join("tmp/elsewhere"), "three").unwrap();
        std::os::unix::fs::symlink(root.join("tmp/elsewhere"), root.join("cur/3.link")).unwrap();
        fs::create_dir(root.join("cur/5.dir")).unwrap();
        fs::write(root.join("cur/.hidden"), "dot").unwrap();
        let md = Maildir::open(&root, "Backscatter").unwrap();
        let names: Vec<PathBuf> =
            md.messages().unwrap().iter().map(|p| p.strip_prefix(&root).unwrap().into()).collect();
        // The link is listed: reading it says it is left unread (store::read).
        assert_eq!(names, [PathBuf::from("new/2.b"), "cur/1.a:2,S".into(), "cur/3.link".into()]);
    }

    #[test]
    fn put_back_refinds_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let (inbox, folder) = (tmp.path().join("new"), tmp.path().join(".Backscatter/cur"));
        fs::create_dir_all(&inbox).unwrap();
        fs::create_dir_all(&folder).unwrap();
        // Flagged Seen in the folder since.
        fs::write(folder.join("1.x:2,S"), "body").unwrap();
        let (moved, back) = (folder.join("1.x:2,"), inbox.join("1.x"));
        assert_eq!(put_back(&moved, &back).unwrap(), PutBack::Done { from: folder.join("1.x:2,S") });
        assert_eq!(fs::read(&back).unwrap(), b"body");
        assert_eq!(put_back(&moved, &back).unwrap(), PutBack::Occupied);
        fs::remove_file(&back).unwrap();
        assert_eq!(put_back(&moved, &back).unwrap(), PutBack::Missing);
    }

    #[test]
    fn layouts_are_detected() {
        let tmp = tempfile::tempdir().unwrap();
        let root = maildir(tmp.path());
        assert_eq!(Maildir::open(&root, "Backscatter").unwrap().layout(), Layout::MaildirPlusPlus);
        fs::create_dir_all(root.join("Archive/cur")).unwrap();
        let md = Maildir::open(&root, "Backscatter").unwrap();
        assert_eq!(md.layout(), Layout::Fs);
        assert_eq!(md.folder_dir("Backscatter"), root.join("Backscatter"));
        fs::create_dir_all(root.join(".Backscatter/cur")).unwrap();
        assert_eq!(Maildir::open(&root, "Backscatter").unwrap().layout(), Layout::MaildirPlusPlus);
        assert!(matches!(Maildir::open(&root.join("Archive"), "B"), Err(StoreError::NotMaildir { .. })));
        // A Maildir++ subfolder keeps its siblings beside it; the folder itself is recognised.
        let md = Maildir::open(&root, "Backscatter").unwrap();
        let sub = md.ensure_folder("Backscatter").unwrap();
        let inside = Maildir::open(&sub, "Backscatter").unwrap();
        assert!(inside.is_folder("Backscatter"));
        assert!(!md.is_folder("Backscatter"));
        fs::create_dir_all(root.join(".Work/cur")).unwrap();
        for d in ["new", "tmp"] {
            fs::create_dir_all(root.join(".Work").join(d)).unwrap();
        }
        fs::write(root.join(".Work/maildirfolder"), "").unwrap();
        assert_eq!(Maildir::open(&root.join(".Work"), "Backscatter").unwrap().folder_dir("Backscatter"), sub);
    }

    #[test]
    fn folder_is_created_and_subscribed_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = maildir(tmp.path());
        fs::write(root.join("subscriptions"), "Sent").unwrap();
        let md = Maildir::open(&root, "Backscatter").unwrap();
        let dir = md.ensure_folder("Backscatter").unwrap();
        assert_eq!(dir, root.join(".Backscatter"));
        for sub in ["cur", "new", "tmp"] {
            assert!(dir.join(sub).is_dir());
        }
        assert!(dir.join("maildirfolder").is_file());
        md.ensure_folder("Backscatter").unwrap();
        fs::remove_file(dir.join("maildirfolder")).unwrap();
        md.ensure_folder("Backscatter").unwrap();
        assert_eq!(fs::read_to_string(root.join("subscriptions")).unwrap(), "Sent\nBackscatter\n");
    }

    #[test]
    fn moves_keep_the_name_and_refind_a_renamed_message() {
        let tmp = tempfile::tempdir().unwrap();
        let root = maildir(tmp.path());
        let md = Maildir::open(&root, "Backscatter").unwrap();
        let folder = md.ensure_folder("Backscatter").unwrap();
        fs::write(root.join("new/1.a.host"), "one").unwrap();
        fs::write(root.join("cur/2.b.host:2,S"), "two").unwrap();
        let moved = md.move_message(&root.join("new/1.a.host"), &folder).unwrap();
        assert_eq!(moved, Moved::Moved { from: root.join("new/1.a.host"), to: folder.join("cur/1.a.host:2,") });
        let moved = md.move_message(&root.join("cur/2.b.host:2,S"), &folder).unwrap();
        assert_eq!(moved, Moved::Moved { from: root.join("cur/2.b.host:2,S"), to: folder.join("cur/2.b.host:2,S") });
        // A MUA took it from new/ to cur/ and flagged it before we got to it.
        fs::write(root.join("cur/3.c.host:2,RS"), "three").unwrap();
        let moved = md.move_message(&root.join("new/3.c.host"), &folder).unwrap();
        assert_eq!(moved, Moved::Moved { from: root.join("cur/3.c.host:2,RS"), to: folder.join("cur/3.c.host:2,RS") });
        assert_eq!(md.move_message(&root.join("new/4.gone"), &folder).unwrap(), Moved::Vanished);
        fs::create_dir(root.join("new/5.a-directory")).unwrap();
        assert_eq!(fs::read(folder.join("cur/3.c.host:2,RS")).unwrap(), b"three");
        assert!(md.messages().unwrap().is_empty());
    }
}
