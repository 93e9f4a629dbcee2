//! The per-mailbox loop of `watch` (connect, catch up from the last UID, IDLE, reconnect with
//! capped exponential backoff and jitter) and the one-shot `scan --imap`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use tokio::sync::watch::Receiver;

use super::connect::{self, Session};
use super::session::{self, Caps, Moved};
use super::state::{Mark, State};
use super::{utf7, Action, Handler, ImapError, Message};
use crate::config::Imap;

/// Messages fetched per `UID FETCH` at most: the unit after which the last UID is persisted.
const CHUNK: usize = 200;
/// Bytes fetched per `UID FETCH` at most (one bigger message goes alone): bounds memory.
const CHUNK_BYTES: u64 = 32 << 20;
/// How long one command may go unanswered before the connection counts as lost (a dead peer
/// behind a NAT sends no RST; without this a watcher could wait forever).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// `command`, failing as a lost connection when it takes longer than [`COMMAND_TIMEOUT`].
async fn timed<T>(
    what: &str,
    command: impl std::future::Future<Output = Result<T, ImapError>>,
) -> Result<T, ImapError> {
    tokio::time::timeout(COMMAND_TIMEOUT, command)
        .await
        .map_err(|_| ImapError::Network(format!("{what}: no answer within {COMMAND_TIMEOUT:?}")))?
}

/// Timings of `watch`.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// IDLE is re-issued this often; RFC 2177 says servers may drop an IDLE after 30 minutes.
    pub idle_interval: Duration,
    /// NOOP polling interval where the server has no IDLE.
    pub poll_interval: Duration,
    /// First reconnect delay; doubles per failed attempt.
    pub backoff_min: Duration,
    /// The cap on the reconnect delay.
    pub backoff_max: Duration,
    /// On the first start of a mailbox (no state yet), handle the messages already there too;
    /// otherwise only what arrives from now on (`scan --imap` cleans up the rest).
    pub scan_existing: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            idle_interval: Duration::from_secs(25 * 60),
            poll_interval: Duration::from_secs(60),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(64),
            scan_existing: false,
        }
    }
}

/// The reconnect delay before attempt `attempt` (0-based): `min · 2^attempt`, capped, then a
/// random point in its upper half so a server restart is not met by every client at once.
pub fn backoff(options: &Options, attempt: u32) -> Duration {
    let full = options.backoff_min.saturating_mul(1u32 << attempt.min(20)).min(options.backoff_max);
    let mut byte = [0u8; 1];
    let random = if getrandom::fill(&mut byte).is_ok() { u32::from(byte[0]) } else { 128 };
    full / 2 + (full / 2).mul_f64(f64::from(random) / 255.0)
}

/// One watched mailbox of one account.
struct Target {
    account: Arc<Imap>,
    /// As configured (UTF-8).
    mailbox: String,
    /// Modified UTF-7, for the wire.
    mailbox_wire: String,
    folder: String,
    folder_wire: String,
}

impl Target {
    fn new(account: Arc<Imap>, mailbox: &str, folder: &str) -> Target {
        Target {
            account,
            mailbox: mailbox.to_owned(),
            mailbox_wire: utf7::encode(mailbox),
            folder: folder.to_owned(),
            folder_wire: utf7::encode(folder),
        }
    }
}

/// Watches every mailbox of every account until `shutdown` turns true (or its sender is
/// dropped): one task and one connection per mailbox. Returns only a state file that cannot be
/// read at start; everything after that is retried forever.
pub async fn watch<H: Handler>(
    accounts: &[Imap],
    folder: &str,
    state_dir: &Path,
    handler: H,
    options: Options,
    shutdown: Receiver<bool>,
) -> Result<(), ImapError> {
    let mut tasks = tokio::task::JoinSet::new();
    for account in accounts {
        let state = Arc::new(Mutex::new(State::load(State::path_for(state_dir, &account.name))?));
        let account = Arc::new(account.clone());
        for mailbox in &account.mailboxes {
            let target = Target::new(account.clone(), mailbox, folder);
            let (state, handler, shutdown) = (state.clone(), handler.clone(), shutdown.clone());
            tasks.spawn(watch_mailbox(target, state, handler, options, shutdown));
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            tracing::error!(error = %e, "an IMAP watcher task failed");
        }
    }
    Ok(())
}

/// Resolves once shutdown is asked for.
async fn stopped(shutdown: &mut Receiver<bool>) {
    while !*shutdown.borrow_and_update() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Connects, watches, and on any failure waits and reconnects — forever, until shutdown.
async fn watch_mailbox<H: Handler>(
    target: Target,
    state: Arc<Mutex<State>>,
    mut handler: H,
    options: Options,
    mut shutdown: Receiver<bool>,
) {
    let (account, mailbox) = (target.account.name.as_str(), target.mailbox.as_str());
    let mut attempt = 0u32;
    loop {
        let result = connected(&target, &state, &mut handler, &options, &mut attempt, &mut shutdown).await;
        let error = match result {
            Ok(()) => return,
            Err(e) => e,
        };
        let delay = backoff(&options, attempt);
        attempt = attempt.saturating_add(1);
        tracing::warn!(account, mailbox, attempt, retry_in = ?delay, error = %error, "IMAP: reconnecting");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => return,
        }
    }
}

/// One connection's life: returns `Ok` on shutdown, `Err` when the connection failed.
async fn connected<H: Handler>(
    target: &Target,
    state: &Mutex<State>,
    handler: &mut H,
    options: &Options,
    attempt: &mut u32,
    shutdown: &mut Receiver<bool>,
) -> Result<(), ImapError> {
    let (account, mailbox) = (target.account.name.as_str(), target.mailbox.as_str());
    let mut session = connect::open(&target.account).await?;
    let caps = timed("CAPABILITY", session::caps(&mut session)).await?;
    timed("the folder", session::ensure_folder(&mut session, &target.folder_wire)).await?;
    let selected = timed("SELECT", session::select(&mut session, &target.mailbox_wire)).await?;
    let known = lock(state).get(mailbox);
    let mut last = match known {
        Some(mark) if mark.uid_validity == selected.uid_validity => mark.last_uid,
        Some(mark) => {
            // RFC 3501 §2.3.1.1: the old UIDs mean nothing now; look at everything again.
            tracing::warn!(
                account,
                mailbox,
                old = mark.uid_validity,
                new = selected.uid_validity,
                "UIDVALIDITY changed: rescanning the mailbox"
            );
            0
        }
        None if options.scan_existing => 0,
        None => selected.uid_next.saturating_sub(1),
    };
    *attempt = 0;
    tracing::info!(
        account,
        mailbox,
        last_uid = last,
        idle = caps.idle,
        r#move = caps.move_,
        uidplus = caps.uidplus,
        "IMAP: watching"
    );
    loop {
        let swept = sweep(&mut session, caps, target, selected.uid_validity, last, handler, false, &mut |_| {}).await?;
        last = swept.last_uid;
        lock(state).set(mailbox, Mark { uid_validity: selected.uid_validity, last_uid: last })?;
        if session::drain(&mut session) {
            // Mail came in while we were busy: look again before waiting.
            continue;
        }
        session = match wait(session, caps, options, shutdown).await? {
            Some(session) => session,
            None => return Ok(()),
        };
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A poisoned lock only means another mailbox's task panicked mid-update; the marks are
    // still whole (each `set` replaces one entry), so carry on.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits for news: IDLE (re-issued every `idle_interval`) or a NOOP poll. `None` on shutdown
/// (after a clean DONE and LOGOUT).
async fn wait(
    session: Session,
    caps: Caps,
    options: &Options,
    shutdown: &mut Receiver<bool>,
) -> Result<Option<Session>, ImapError> {
    let lost = |what: &str, e: async_imap::error::Error| ImapError::Network(format!("{what}: {e}"));
    if !caps.idle {
        let mut session = session;
        tokio::select! {
            () = tokio::time::sleep(options.poll_interval) => {}
            () = stopped(shutdown) => {
                let _ = timed("LOGOUT", async { session.logout().await.map_err(|e| lost("LOGOUT", e)) }).await;
                return Ok(None);
            }
        }
        timed("NOOP", async { session.noop().await.map_err(|e| lost("NOOP", e)) }).await?;
        return Ok(Some(session));
    }
    let mut idle = session.idle();
    timed("IDLE", async { idle.init().await.map_err(|e| lost("IDLE", e)) }).await?;
    let (waiting, stop) = idle.wait_with_timeout(options.idle_interval);
    let outcome = tokio::select! {
        outcome = waiting => Some(outcome),
        () = stopped(shutdown) => None,
    };
    drop(stop);
    match outcome {
        // NOTES: a connection that dies during IDLE shows up as an interrupt nobody asked for.
        Some(Ok(IdleResponse::ManualInterrupt)) => {
            Err(ImapError::Network("the connection was lost during IDLE".into()))
        }
        Some(Err(e)) => Err(lost("IDLE", e)),
        Some(Ok(IdleResponse::NewData(_) | IdleResponse::Timeout)) => {
            Ok(Some(timed("DONE", async { idle.done().await.map_err(|e| lost("DONE", e)) }).await?))
        }
        None => {
            let mut session = timed("DONE", async { idle.done().await.map_err(|e| lost("DONE", e)) }).await?;
            let _ = timed("LOGOUT", async { session.logout().await.map_err(|e| lost("LOGOUT", e)) }).await;
            Ok(None)
        }
    }
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Messages fetched and judged.
    pub scanned: usize,
    /// Messages moved into the folder.
    pub moved: usize,
    /// Messages that would have moved (`--dry-run`).
    pub would_move: usize,
    /// Messages that should have moved but could not (no MOVE and no UIDPLUS).
    pub left: usize,
    /// The highest UID handled.
    pub last_uid: u32,
}

/// Fetches every message above `after` in chunks, asks the handler, moves (unless `dry_run`),
/// and reports progress after each chunk as (done, total).
#[allow(clippy::too_many_arguments)]
async fn sweep<H: Handler>(
    session: &mut Session,
    caps: Caps,
    target: &Target,
    uid_validity: u32,
    after: u32,
    handler: &mut H,
    dry_run: bool,
    progress: &mut (dyn FnMut(&ScanSummary) + Send),
) -> Result<ScanSummary, ImapError> {
    let found = timed("UID FETCH", session::uids_after(session, after)).await?;
    let mut summary = ScanSummary { last_uid: after, ..ScanSummary::default() };
    for chunk in session::batches(&found, CHUNK, CHUNK_BYTES) {
        let fetched = timed("UID FETCH", session::fetch(session, &chunk)).await?;
        let mut to_move = Vec::new();
        for f in fetched.iter().filter(|f| !f.kept) {
            let message = message(target, uid_validity, f);
            if let Action::Move(note) = handler.decide(&message) {
                to_move.push((f, note));
            }
        }
        summary.scanned += fetched.len();
        if dry_run {
            summary.would_move += to_move.len();
        } else {
            let uids: Vec<u32> = to_move.iter().map(|(f, _)| f.uid).collect();
            match timed("the move", session::move_uids(session, caps, &uids, &target.folder_wire)).await? {
                Moved::Done => {
                    summary.moved += to_move.len();
                    for (f, note) in to_move {
                        handler.moved(note, &message(target, uid_validity, f), &target.folder);
                    }
                }
                Moved::Impossible(why) => {
                    summary.left += to_move.len();
                    for (f, note) in to_move {
                        handler.not_moved(note, &message(target, uid_validity, f), why);
                    }
                }
            }
        }
        summary.last_uid = chunk.last().copied().unwrap_or(summary.last_uid);
        progress(&summary);
    }
    Ok(summary)
}

fn message<'a>(target: &'a Target, uid_validity: u32, f: &'a session::Fetched) -> Message<'a> {
    Message {
        account: &target.account.name,
        mailbox: &target.mailbox,
        uid_validity,
        uid: f.uid,
        internal_date: f.internal_date,
        bytes: &f.body,
    }
}

/// `scan --imap`: judges every message in every mailbox of `account` once, moving backscatter
/// unless `dry_run`; `progress` hears (mailbox, summary so far, total in the mailbox) after each
/// chunk. The watch state is neither read nor written.
pub async fn scan<H: Handler>(
    account: &Imap,
    folder: &str,
    handler: &mut H,
    dry_run: bool,
    progress: &mut (dyn FnMut(&str, &ScanSummary, usize) + Send),
) -> Result<ScanSummary, ImapError> {
    let started = Instant::now();
    let account = Arc::new(account.clone());
    let mut session = connect::open(&account).await?;
    let caps = timed("CAPABILITY", session::caps(&mut session)).await?;
    if !dry_run {
        timed("the folder", session::ensure_folder(&mut session, &utf7::encode(folder))).await?;
    }
    let mut total = ScanSummary::default();
    for mailbox in &account.mailboxes {
        let target = Target::new(account.clone(), mailbox, folder);
        let selected = timed("SELECT", session::select(&mut session, &target.mailbox_wire)).await?;
        let count = timed("UID FETCH", session::uids_after(&mut session, 0)).await?.len();
        let mut report = |s: &ScanSummary| progress(mailbox, s, count);
        let s = sweep(&mut session, caps, &target, selected.uid_validity, 0, handler, dry_run, &mut report).await?;
        let _ = session::drain(&mut session);
        total.scanned += s.scanned;
        total.moved += s.moved;
        total.would_move += s.would_move;
        total.left += s.left;
    }
    let _ = session.logout().await;
    tracing::info!(account = %account.name, scanned = total.scanned, seconds = started.elapsed().as_secs_f64(), "IMAP scan done");
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() {
        let options = Options::default();
        for (attempt, full) in [(0, 1), (1, 2), (3, 8), (6, 64), (7, 64), (40, 64)] {
            let d = backoff(&options, attempt);
            let full = Duration::from_secs(full);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?} vs {full:?}");
        }
    }
}
