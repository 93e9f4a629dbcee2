//! The Maildir side of `watch`'s mechanics: one inotify instance for every watched `new/`
//! ([`Inotify`], events routed to each mailbox's task), and the glob patterns that name
//! mailboxes (`/var/vmail/*/*/Maildir`, DESIGN §10).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::StoreError;

/// What a mailbox's task hears from inotify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrival {
    /// A file landed in `new/`: by rename (an MDA's tmp→new, `Name(To)`), by link (Postfix's
    /// virtual delivery shows as `Create(File)`), or written in place (`Close(Write)`).
    File(PathBuf),
    /// The kernel's queue overflowed: events were lost, look at everything again.
    Rescan,
}

type Routes = Arc<Mutex<HashMap<PathBuf, UnboundedSender<Arrival>>>>;

/// One inotify instance; each watched `new/` has a channel to its mailbox's task.
pub struct Inotify {
    watcher: Mutex<notify::RecommendedWatcher>,
    routes: Routes,
}

impl std::fmt::Debug for Inotify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inotify").finish_non_exhaustive()
    }
}

impl Inotify {
    /// Starts the inotify instance; `overflowed` is called on every queue overflow.
    pub fn start(overflowed: impl Fn() + Send + 'static) -> Result<Inotify, StoreError> {
        let routes: Routes = Arc::default();
        let table = Arc::clone(&routes);
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            let routes = table.lock().unwrap_or_else(PoisonError::into_inner);
            match event {
                Ok(event) if event.need_rescan() => {
                    overflowed();
                    tracing::warn!("inotify queue overflowed: rescanning every mailbox");
                    for sender in routes.values() {
                        let _ = sender.send(Arrival::Rescan);
                    }
                }
                Ok(event) => {
                    let Some(path) = arrived(&event) else { return };
                    if let Some(sender) = path.parent().and_then(|dir| routes.get(dir)) {
                        // A closed channel: the mailbox's task is gone (shutdown); nothing to do.
                        let _ = sender.send(Arrival::File(path.to_path_buf()));
                    }
                }
                Err(err) => tracing::warn!("inotify: {err}"),
            }
        })
        .map_err(|err| StoreError::Io { path: PathBuf::from("inotify"), source: notify_io(err) })?;
        Ok(Inotify { watcher: Mutex::new(watcher), routes })
    }

    /// Watches `new_dir`; what lands there comes out of the receiver.
    pub fn watch(&self, new_dir: &Path) -> Result<UnboundedReceiver<Arrival>, StoreError> {
        let (sender, receiver) = unbounded_channel();
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).insert(new_dir.to_path_buf(), sender);
        let watched =
            self.watcher.lock().unwrap_or_else(PoisonError::into_inner).watch(new_dir, RecursiveMode::NonRecursive);
        if let Err(err) = watched {
            self.routes.lock().unwrap_or_else(PoisonError::into_inner).remove(new_dir);
            let hint = if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) {
                " — raise fs.inotify.max_user_watches (sysctl)"
            } else {
                ""
            };
            let source = std::io::Error::other(format!("cannot watch: {}{hint}", notify_io(err)));
            return Err(StoreError::Io { path: new_dir.to_path_buf(), source });
        }
        Ok(receiver)
    }

    /// Stops watching `new_dir`.
    pub fn unwatch(&self, new_dir: &Path) {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).remove(new_dir);
        let _ = self.watcher.lock().unwrap_or_else(PoisonError::into_inner).unwatch(new_dir);
    }

    /// How many directories are watched.
    pub fn watched(&self) -> usize {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// The file an event says arrived, if it is an arrival.
fn arrived(event: &notify::Event) -> Option<&Path> {
    let path = match event.kind {
        EventKind::Create(CreateKind::File | CreateKind::Any)
        | EventKind::Modify(ModifyKind::Name(RenameMode::To))
        | EventKind::Access(AccessKind::Close(AccessMode::Write)) => event.paths.first(),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => event.paths.get(1),
        _ => None,
    };
    path.map(PathBuf::as_path)
}

/// Warns when the watches use most of the per-user inotify limit; true if it warned.
pub fn check_limit(used: usize) -> bool {
    let Some(max) = max_user_watches() else { return false };
    let used = used as u64;
    if used.saturating_mul(10) >= max.saturating_mul(8) {
        tracing::warn!(
            used,
            max,
            "inotify watches running low: raise fs.inotify.max_user_watches (sysctl) before more mailboxes appear"
        );
        return true;
    }
    false
}

/// `/proc/sys/fs/inotify/max_user_watches`, if readable.
fn max_user_watches() -> Option<u64> {
    fs::read_to_string("/proc/sys/fs/inotify/max_user_watches").ok()?.trim().parse().ok()
}

fn notify_io(err: notify::Error) -> std::io::Error {
    match err.kind {
        notify::ErrorKind::Io(io) => io,
        other => std::io::Error::other(format!("{other:?}")),
    }
}

/// The directories matching `pattern`, an absolute path whose components may hold `*` and `?`
/// (a wildcard never matches a leading `.`, as in the shell), sorted.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::from("/")];
    for part in Path::new(pattern).components().skip(1) {
        let part = part.as_os_str().to_string_lossy();
        if !part.contains(['*', '?']) {
            found = found.into_iter().map(|dir| dir.join(&*part)).filter(|p| p.is_dir()).collect();
            continue;
        }
        let mut next = Vec::new();
        for dir in found {
            let Ok(entries) = fs::read_dir(&dir) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let hidden = name.starts_with('.') && !part.starts_with('.');
                if !hidden && matches(part.as_bytes(), name.as_bytes()) && entry.path().is_dir() {
                    next.push(entry.path());
                }
            }
        }
        found = next;
    }
    found.retain(|p| p.is_dir());
    found.sort();
    found
}

/// True if `path` is one of the directories `pattern` (as for [`expand`]) names — decided from
/// the two paths alone, without listing any directory (a daemon asks this per mailbox).
pub fn names(pattern: &str, path: &Path) -> bool {
    let (mut want, mut have) = (Path::new(pattern).components(), path.components());
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some(w), Some(h)) => {
                let (w, h) = (w.as_os_str().to_string_lossy(), h.as_os_str().to_string_lossy());
                let hidden = h.starts_with('.') && !w.starts_with('.') && w.contains(['*', '?']);
                if hidden || !matches(w.as_bytes(), h.as_bytes()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Shell-style match of `*` (any run) and `?` (one byte).
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == name.get(n) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(matches(b"*", b"alice"));
        assert!(matches(b"a*e", b"alice"));
        assert!(matches(b"a?ice", b"alice"));
        assert!(matches(b"*.com", b"example.com"));
        assert!(!matches(b"*.com", b"example.org"));
        assert!(!matches(b"a?", b"a"));
        assert!(matches(b"**", b""));
    }

    #[test]
    fn globs_expand_to_directories() {
        let tmp = tempfile::tempdir().unwrap();
        for dir in [
            "example.com/alice/Maildir/new",
            "example.com/bob/Maildir/new",
            "example.org/carol/Maildir",
            ".hidden/x/Maildir",
        ] {
            fs::create_dir_all(tmp.path().join(dir)).unwrap();
        }
        fs::write(tmp.path().join("example.com/file"), "").unwrap();
        let pattern = format!("{}/*/*/Maildir", tmp.path().display());
        let found = expand(&pattern);
        let rel: Vec<_> = found.iter().map(|p| p.strip_prefix(tmp.path()).unwrap().to_str().unwrap()).collect();
        assert_eq!(rel, ["example.com/alice/Maildir", "example.com/bob/Maildir", "example.org/carol/Maildir"]);
        assert_eq!(expand(&format!("{}/example.com/alice/Maildir", tmp.path().display())).len(), 1);
        assert!(expand(&format!("{}/nope/*", tmp.path().display())).is_empty());
        for found in &found {
            assert!(names(&pattern, found), "{}", found.display());
        }
        assert!(!names(&pattern, &tmp.path().join(".hidden/x/Maildir")));
        assert!(!names(&pattern, &tmp.path().join("example.com/alice")));
        assert!(names("/var/vmail/*/Maildir", Path::new("/var/vmail/ann/Maildir")));
    }
}
