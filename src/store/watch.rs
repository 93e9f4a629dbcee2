//! `watch` for Maildirs: one inotify instance on the `new/` of every configured Maildir (glob
//! patterns expanded, new matches picked up), an initial scan, a rescan when the kernel queue
//! overflowed and now and then anyway (DESIGN §7, §10); the SPF cache snapshot is rewritten at
//! every discovery.
//!
//! Synchronous: one thread judges and moves, in arrival order; notify's own thread feeds it
//! through a channel, and so does whoever turns signals into [`Event::Shutdown`]. A message in
//! flight always finishes before shutdown.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, RecursiveMode, Watcher};

use super::maildir::Maildir;
use super::{Handler, StoreError};

/// What the watch loop waits for.
#[derive(Debug)]
pub enum Event {
    /// From inotify (through notify).
    Fs(notify::Result<notify::Event>),
    /// SIGTERM or SIGINT: finish the message in hand and return.
    Shutdown,
}

/// How often the loop looks again without being told.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Re-expand the patterns, so new mailboxes are picked up (and gone ones dropped).
    pub discover: Duration,
    /// Rescan every `new/`, in case an event was lost.
    pub rescan: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { discover: Duration::from_secs(10), rescan: Duration::from_secs(300) }
    }
}

/// The watch loop: watches every Maildir matching `patterns` until [`Event::Shutdown`] arrives
/// on `events` (`sender` feeds the same channel). `stop`, set before that event is sent, ends a
/// long scan between two messages. Only failing to start inotify is an error; trouble with one
/// message or mailbox is logged and the loop goes on.
pub fn run(
    handler: &mut Handler<'_>,
    patterns: &[String],
    folder: &str,
    (sender, events): (Sender<Event>, Receiver<Event>),
    stop: &AtomicBool,
    timing: Timing,
) -> Result<(), StoreError> {
    let notify_sender = sender;
    let watcher = notify::recommended_watcher(move |event| {
        // The loop is gone only when we are shutting down; nothing to do then.
        let _ = notify_sender.send(Event::Fs(event));
    })
    .map_err(|err| StoreError::Io { path: PathBuf::from("inotify"), source: notify_io(err) })?;
    let mut state = State { watcher, mailboxes: BTreeMap::new(), warned_limit: false, last: None, stop };
    state.discover(handler, patterns, folder);
    tracing::info!(mailboxes = state.mailboxes.len(), "watching");
    let (mut last_discover, mut last_rescan) = (Instant::now(), Instant::now());
    loop {
        let wait = timing.discover.saturating_sub(last_discover.elapsed());
        match events.recv_timeout(wait) {
            Ok(Event::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            Ok(Event::Fs(Ok(event))) if event.need_rescan() => {
                tracing::warn!("inotify queue overflowed: rescanning every mailbox");
                state.rescan(handler);
                last_rescan = Instant::now();
            }
            Ok(Event::Fs(Ok(event))) => state.on_event(handler, &event),
            Ok(Event::Fs(Err(err))) => tracing::warn!("inotify: {err}"),
            Err(RecvTimeoutError::Timeout) => {}
        }
        if last_discover.elapsed() >= timing.discover {
            state.discover(handler, patterns, folder);
            // For `backscatter spf --cache` while we run.
            handler.write_spf_snapshot();
            last_discover = Instant::now();
        }
        if last_rescan.elapsed() >= timing.rescan {
            state.rescan(handler);
            last_rescan = Instant::now();
        }
    }
    handler.write_spf_snapshot();
    tracing::info!("watch stopped");
    Ok(())
}

struct State<'s> {
    watcher: notify::RecommendedWatcher,
    /// Set on shutdown: scans stop between two messages.
    stop: &'s AtomicBool,
    /// Each watched Maildir by its `new/` directory.
    mailboxes: BTreeMap<PathBuf, Maildir>,
    warned_limit: bool,
    /// The file judged last and its size: a copy into `new/` shows as Create then Close(Write)
    /// of the same complete file, judged once.
    last: Option<(PathBuf, u64)>,
}

impl State<'_> {
    /// Expands the patterns; watches and scans Maildirs that are new, drops those that are gone.
    fn discover(&mut self, handler: &mut Handler<'_>, patterns: &[String], folder: &str) {
        let roots: Vec<PathBuf> = patterns.iter().flat_map(|p| expand(p)).collect();
        let gone: Vec<PathBuf> = self.mailboxes.keys().filter(|new| !new.is_dir()).cloned().collect();
        for new in gone {
            let _ = self.watcher.unwatch(&new);
            self.mailboxes.remove(&new);
            tracing::info!(mailbox = %new.display(), "mailbox gone; no longer watched");
        }
        for root in roots {
            let new = root.join("new");
            if self.mailboxes.contains_key(&new) {
                continue;
            }
            let maildir = match Maildir::open(&root, folder) {
                Ok(maildir) => maildir,
                Err(err) => {
                    tracing::debug!("{err}");
                    continue;
                }
            };
            // Watch first, then scan: nothing that lands in between is missed.
            if let Err(err) = self.watcher.watch(&new, RecursiveMode::NonRecursive) {
                let hint = if matches!(err.kind, notify::ErrorKind::MaxFilesWatch) {
                    " — raise fs.inotify.max_user_watches (sysctl)"
                } else {
                    ""
                };
                tracing::error!(mailbox = %root.display(), "cannot watch: {err}{hint}");
                continue;
            }
            tracing::info!(mailbox = %root.display(), "watching");
            scan_all(handler, &maildir, self.stop);
            self.mailboxes.insert(new, maildir);
        }
        self.check_limit();
    }

    /// Judges every message still in `new/` of every mailbox.
    fn rescan(&mut self, handler: &mut Handler<'_>) {
        for (new, maildir) in &self.mailboxes {
            let Ok(entries) = fs::read_dir(new) else { continue };
            let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            paths.sort();
            for path in paths {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                handle(handler, maildir, &path);
            }
        }
    }

    /// A file landed in a `new/`: by rename (an MDA's tmp→new, `Name(To)`), by link (Postfix's
    /// virtual delivery shows as `Create(File)`), or by writing in place (`Close(Write)`).
    fn on_event(&mut self, handler: &mut Handler<'_>, event: &notify::Event) {
        let path = match event.kind {
            EventKind::Create(CreateKind::File | CreateKind::Any)
            | EventKind::Modify(ModifyKind::Name(RenameMode::To))
            | EventKind::Access(AccessKind::Close(AccessMode::Write)) => event.paths.first(),
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => event.paths.get(1),
            _ => None,
        };
        let Some(path) = path else { return };
        let Some(maildir) = path.parent().and_then(|dir| self.mailboxes.get(dir)) else { return };
        let Ok(size) = fs::metadata(path).map(|m| m.len()) else { return };
        // Written in place: wait for its Close(Write) rather than judge half a message.
        if matches!(event.kind, EventKind::Create(_)) && size == 0 {
            return;
        }
        let seen = self.last.as_ref().is_some_and(|(last, last_size)| last == path && *last_size == size);
        if matches!(event.kind, EventKind::Access(_)) && seen {
            return;
        }
        self.last = Some((path.clone(), size));
        handle(handler, maildir, path);
    }

    /// Warns once when our watches use most of the per-user inotify limit.
    fn check_limit(&mut self) {
        let Some(max) = max_user_watches() else { return };
        let used = self.mailboxes.len() as u64;
        if !self.warned_limit && used.saturating_mul(10) >= max.saturating_mul(8) {
            tracing::warn!(
                used,
                max,
                "inotify watches running low: raise fs.inotify.max_user_watches (sysctl) before more mailboxes appear"
            );
            self.warned_limit = true;
        }
    }
}

/// The initial scan of a mailbox: `new/` and `cur/`.
fn scan_all(handler: &mut Handler<'_>, maildir: &Maildir, stop: &AtomicBool) {
    match maildir.messages() {
        Ok(paths) => {
            for path in paths {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                handle(handler, maildir, &path);
            }
        }
        Err(err) => tracing::warn!("{err}"),
    }
}

fn handle(handler: &mut Handler<'_>, maildir: &Maildir, path: &Path) {
    if let Err(err) = handler.handle(maildir, path) {
        tracing::warn!(mailbox = %maildir.root().display(), "{err}");
    }
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
    }
}
