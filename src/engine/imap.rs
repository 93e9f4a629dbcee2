//! IMAP mailboxes through the pipeline: the per-mailbox loop of `watch` (connect, reconcile
//! unfinished moves, catch up from the last UID, IDLE, reconnect with capped exponential backoff
//! and jitter) and the one-shot `scan --imap`.
//!
//! Every batch of moves is journaled before the command that moves it (intents, then `UID MOVE`
//! or the `UID COPY` + `UID STORE \Deleted` + `UID EXPUNGE` fallback, then outcomes), and the
//! last UID is saved after each chunk, so a kill or a dropped connection at any point is
//! settled by [`reconcile`] at the next connect: nothing is left in two places or unjournaled.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_imap::extensions::idle::IdleResponse;
use tokio_util::sync::CancellationToken;

use super::act::Mover;
use super::pipeline::{Judged, Pipeline, Plan};
use crate::config::{Config, Imap, SpfAction};
use crate::evidence::imap::ImapSent;
use crate::journal::{Move, Place};
use crate::message::Message;
use crate::metrics::prometheus as metrics;
use crate::store::imap::connect::{self, Session};
use crate::store::imap::folders::{self, FolderState, Folders};
use crate::store::imap::mailbox::ImapMailbox;
use crate::store::imap::session::{self, Caps};
use crate::store::imap::state::{Mark, State};
use crate::store::imap::ImapError;
use crate::store::{Landed, Mailbox};
use crate::verdict;

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
    /// (Where the server has no IDLE, each account polls with NOOP every `imap.poll_seconds`.)
    pub idle_interval: Duration,
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
}

/// The folders the pipeline may move into, as configured: the policy's, and SPF's
/// `fail_folder` when failing SPF moves mail.
fn configured_folders(config: &Config) -> Vec<&str> {
    let mut wanted = vec![config.policy.folder.as_str()];
    if config.spf.fail_action == SpfAction::Move {
        wanted.push(config.spf.fail_folder.as_str());
    }
    wanted
}

/// What a connection learns before it moves anything: the capabilities, the server's names
/// for the folders (NAMESPACE, once per connection) and the policy folder's full name.
async fn prepare(session: &mut Session, config: &Config) -> Result<(Caps, Folders, String), ImapError> {
    let caps = timed("CAPABILITY", session::caps(session)).await?;
    let folders = timed("NAMESPACE", Folders::read(session, caps, &configured_folders(config))).await?;
    let full = folders.resolve(&config.policy.folder)?;
    Ok((caps, folders, full))
}

/// What a sweep does with each message: the pipeline, the journal, and who else hears of it.
#[derive(Clone)]
pub struct Sweeper {
    /// The pipeline of the run.
    pub pipeline: Pipeline,
    /// The journal of the run (none on a dry run).
    pub mover: Mover,
    /// Called with every judged message (`scan --imap --json` prints it).
    pub observer: Option<Observer>,
    /// The account's Sent index (DESIGN §4.5), shared by its mailboxes.
    pub sent: Option<Arc<tokio::sync::Mutex<ImapSent>>>,
}

impl Sweeper {
    /// Runs a fetched message through the pipeline with the account's Sent index — read again
    /// when the message came out backscatter (so a fresher Sent could change that; not in the
    /// under-attack mode, where nothing does) and arrived no earlier than the index was read:
    /// what was sent just before it may be missing.
    async fn run(&self, body: &[u8], internal_date: i64) -> Judged {
        let message = Message::parse(body);
        let Some(sent) = &self.sent else { return self.pipeline.run(&message, internal_date, None).await };
        let started = std::time::Instant::now();
        let mut sent = sent.lock().await;
        let mut judgement = self.pipeline.judge(&message, internal_date, Some(sent.index()));
        let backscatter = judgement.decision.verdict == crate::policy::Verdict::Backscatter;
        if backscatter && !self.pipeline.config().policy.all_bounces && sent.behind(internal_date) {
            if let Err(err) = sent.refresh(self.pipeline.clock().now()).await {
                tracing::warn!("{err}; judged with Sent as last read");
            }
            judgement = self.pipeline.judge(&message, internal_date, Some(sent.index()));
        }
        drop(sent);
        self.pipeline.conclude_timed(&message, judgement, started).await
    }
}

/// Hears each judged message with its place.
pub type Observer = Arc<dyn Fn(&Place, &Judged) + Send + Sync>;

/// Loads the account's state; a state file that cannot be read as ours is set aside (renamed
/// `….corrupt`) and logged at error, and the account's mailboxes are rescanned from the start:
/// one broken file must not stop the account, let alone the others.
pub fn load_state(state_dir: &Path, account: &str) -> Result<(State, bool), ImapError> {
    let path = State::path_for(state_dir, account);
    match State::load(path.clone()) {
        Ok(state) => Ok((state, false)),
        Err(crate::store::imap::state::StateError::Corrupt { source, .. }) => {
            let aside = path.with_extension("json.corrupt");
            std::fs::rename(&path, &aside).map_err(|source| {
                ImapError::State(crate::store::imap::state::StateError::Io { path: path.clone(), source })
            })?;
            tracing::error!(
                account,
                state = %path.display(),
                aside = %aside.display(),
                error = %source,
                "IMAP state unreadable: set aside; the account's mailboxes are rescanned from the start"
            );
            Ok((State::load(path)?, true))
        }
        Err(e) => Err(e.into()),
    }
}

/// Watches one mailbox of one account until `token` is cancelled: connects, and on a network
/// failure waits (capped backoff with jitter) and reconnects. Returns `Err` for what no retry
/// can heal: settings that cannot work (the supervisor ends the process) and a refusal by the
/// server ([`ImapError::is_permanent`]: the supervisor tries again in an hour or on SIGHUP).
pub async fn watch_mailbox(
    account: Arc<Imap>,
    mailbox: String,
    state: Arc<Mutex<State>>,
    rescan: bool,
    sweeper: Sweeper,
    options: Options,
    token: CancellationToken,
) -> Result<(), ImapError> {
    let target = Target { account, mailbox };
    let (account, mailbox) = (target.account.name.as_str(), target.mailbox.as_str());
    let options = Options { scan_existing: options.scan_existing || rescan, ..options };
    let mut attempt = 0u32;
    loop {
        let error = match connected(&target, &state, &sweeper, &options, &mut attempt, &token).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_permanent() || matches!(e, ImapError::Config(_)) => return Err(e),
            Err(e) => e,
        };
        let delay = backoff(&options, attempt);
        attempt = attempt.saturating_add(1);
        metrics::get().imap_reconnects.get_or_create(&metrics::Account { account: account.to_owned() }).inc();
        tracing::warn!(account, mailbox, attempt, retry_in = ?delay, error = %error, "IMAP: reconnecting");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = token.cancelled() => return Ok(()),
        }
    }
}

/// One connection's life: returns `Ok` on shutdown, `Err` when the connection failed.
async fn connected(
    target: &Target,
    state: &Mutex<State>,
    sweeper: &Sweeper,
    options: &Options,
    attempt: &mut u32,
    token: &CancellationToken,
) -> Result<(), ImapError> {
    let (account, mailbox) = (target.account.name.as_str(), target.mailbox.as_str());
    let mut session = connect::open(&target.account).await?;
    let (caps, folders, folder) = prepare(&mut session, sweeper.pipeline.config()).await?;
    timed("the folder", folders::ensure(&mut session, account, &folder)).await?;
    let settled = reconcile(&mut session, caps, target, &sweeper.mover).await?;
    let selected = timed("SELECT", session::select(&mut session, &target.mailbox)).await?;
    let known = lock(state).get(mailbox);
    let last = match known {
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
    lock(state).set(mailbox, Mark { uid_validity: selected.uid_validity, last_uid: last })?;
    *attempt = 0;
    tracing::info!(
        account,
        mailbox,
        last_uid = last,
        reconciled = settled,
        folder,
        idle = caps.idle,
        r#move = caps.move_,
        uidplus = caps.uidplus,
        "IMAP: watching"
    );
    loop {
        let mark = |last_uid| Mark { uid_validity: selected.uid_validity, last_uid };
        let mut save = |last_uid| lock(state).set(mailbox, mark(last_uid)).map_err(ImapError::from);
        let last = lock(state).get(mailbox).map_or(0, |m| m.last_uid);
        let run = Run {
            caps,
            folders: &folders,
            target,
            uid_validity: selected.uid_validity,
            dry_run: false,
            token: Some(token),
        };
        sweep(&mut session, &run, last, sweeper, &mut save, &mut |_| {}).await?;
        if token.is_cancelled() {
            let _ =
                timed("LOGOUT", async { session.logout().await.map_err(|e| ImapError::protocol("LOGOUT", e)) }).await;
            return Ok(());
        }
        if session::drain(&mut session) {
            // Mail came in while we were busy: look again before waiting.
            continue;
        }
        session = match wait(session, caps, &target.account, options, token).await? {
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

/// Settles the journal's unfinished moves out of this mailbox (a kill or a lost connection came
/// between intent and outcome). The source UID tells: gone → the move happened; there with
/// \Deleted → the COPY fallback stopped before EXPUNGE, which is finished now; there without →
/// with MOVE nothing happened (it is atomic), with the fallback the folder the intent names is
/// searched for a copy by Message-ID, and a copy found means the fallback is finished rather
/// than copied twice.
/// Returns how many were settled.
async fn reconcile(session: &mut Session, caps: Caps, target: &Target, mover: &Mover) -> Result<usize, ImapError> {
    let ledger = mover.ledger()?;
    let (account, mailbox) = (target.account.name.as_str(), target.mailbox.as_str());
    let pending: Vec<&Move> = ledger
        .unfinished()
        .map(|r| &r.intent)
        .filter(|m| matches!(&m.from, Place::Imap { account: a, mailbox: b, .. } if a == account && b == mailbox))
        .collect();
    if pending.is_empty() {
        return Ok(0);
    }
    let selected = timed("SELECT", session::select(session, mailbox)).await?;
    for m in &pending {
        let Place::Imap { uid_validity, uid: Some(uid), .. } = m.from else { continue };
        if uid_validity != Some(selected.uid_validity) {
            mover.abandoned(&m.id, "UIDVALIDITY changed since: the message is judged again")?;
            continue;
        }
        let there = timed("UID FETCH", session::still_there(session, uid)).await?;
        let copied = match there {
            None => true,
            Some(true) => {
                timed("UID EXPUNGE", session::expunge_uids(session, &[uid])).await?;
                true
            }
            Some(false) if caps.move_ => false,
            Some(false) => match (&m.message_id, &m.to) {
                (Some(id), Place::Imap { mailbox: folder, .. }) => {
                    // A folder the user deleted since holds no copy.
                    let found = match timed("SELECT", session::select(session, folder)).await {
                        Ok(_) => timed("UID SEARCH", session::search_message_id(session, id)).await?,
                        Err(ImapError::Refused(_)) => Vec::new(),
                        Err(e) => return Err(e),
                    };
                    timed("SELECT", session::select(session, mailbox)).await?;
                    if !found.is_empty() {
                        timed("UID EXPUNGE", session::expunge_uids(session, &[uid])).await?;
                    }
                    !found.is_empty()
                }
                _ => false,
            },
        };
        if copied {
            mover.done(&m.id, m.to.clone())?;
        } else {
            mover.abandoned(&m.id, "not moved: still in its mailbox after an interruption")?;
        }
        tracing::info!(account, mailbox, uid, id = %m.id, moved = copied, "IMAP: settled an interrupted move");
    }
    Ok(pending.len())
}

/// Waits for news: IDLE (re-issued every `idle_interval`) or a NOOP poll every
/// `imap.poll_seconds`. `None` on shutdown (after a clean DONE and LOGOUT).
async fn wait(
    session: Session,
    caps: Caps,
    account: &Imap,
    options: &Options,
    token: &CancellationToken,
) -> Result<Option<Session>, ImapError> {
    let lost = |what: &str, e: async_imap::error::Error| ImapError::Network(format!("{what}: {e}"));
    if !caps.idle {
        let mut session = session;
        tokio::select! {
            () = tokio::time::sleep(account.poll_interval) => {}
            () = token.cancelled() => {
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
        () = token.cancelled() => None,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSummary {
    /// Messages fetched and judged.
    pub scanned: usize,
    /// Messages moved into the folder.
    pub moved: usize,
    /// Messages that would have moved (monitor mode, the grace period, `--dry-run`).
    pub would_move: usize,
    /// Messages that should have moved but could not (no MOVE and no UIDPLUS).
    pub left: usize,
    /// Why messages were (or, on a dry run, would be) left in place.
    pub left_why: Option<&'static str>,
    /// The highest UID handled.
    pub last_uid: u32,
    /// The policy folder as the server names it (`INBOX.Backscatter`); set by [`scan`].
    pub folder: String,
    /// Whether it exists, was created, or (dry run) would be; set by [`scan`].
    pub folder_state: Option<FolderState>,
}

/// The fixed parts of one sweep.
struct Run<'a> {
    caps: Caps,
    folders: &'a Folders,
    target: &'a Target,
    uid_validity: u32,
    dry_run: bool,
    /// Checked between chunks: a sweep stops at a chunk's end on shutdown.
    token: Option<&'a CancellationToken>,
}

/// Fetches every message above `after` in chunks, judges each through the pipeline, moves
/// (journaled; not on a dry run), calls `save` with the last UID after each chunk and
/// `progress` with the summary so far; stops between chunks on shutdown.
async fn sweep(
    session: &mut Session,
    run: &Run<'_>,
    after: u32,
    sweeper: &Sweeper,
    save: &mut (dyn FnMut(u32) -> Result<(), ImapError> + Send),
    progress: &mut (dyn FnMut(&ScanSummary) + Send),
) -> Result<ScanSummary, ImapError> {
    let target = run.target;
    let found = timed("UID FETCH", session::uids_after(session, after)).await?;
    let mut summary = ScanSummary { last_uid: after, ..ScanSummary::default() };
    for chunk in session::batches(&found, CHUNK, CHUNK_BYTES) {
        if run.token.is_some_and(CancellationToken::is_cancelled) {
            break;
        }
        let fetched = timed("UID FETCH", session::fetch(session, &chunk)).await?;
        let mut mailbox = ImapMailbox {
            session: &mut *session,
            caps: run.caps,
            folders: run.folders,
            account: &target.account.name,
            mailbox: &target.mailbox,
            uid_validity: run.uid_validity,
        };
        // Per folder (the policy's, and `[spf] fail_folder`'s), in UID order.
        let mut to_move: Vec<(String, Vec<(u32, Move)>)> = Vec::new();
        for f in fetched.iter().filter(|f| !f.kept) {
            let from = mailbox.place(&f.uid);
            let judged = sweeper.run(&f.body, f.internal_date).await;
            verdict::log(&judged.judgement, &from.mailbox(), &format!("UID {}", f.uid));
            if let Some(observer) = &sweeper.observer {
                observer(&from, &judged);
            }
            match &judged.plan {
                Plan::Move { folder, why } if !run.dry_run => {
                    let to = mailbox.destination(&f.uid, folder).await?;
                    let intent = sweeper.mover.intent(&judged, from, to, why);
                    match to_move.iter_mut().find(|(f, _)| f == folder) {
                        Some((_, batch)) => batch.push((f.uid, intent)),
                        None => to_move.push((folder.clone(), vec![(f.uid, intent)])),
                    }
                }
                Plan::Move { .. } | Plan::WouldMove => summary.would_move += 1,
                Plan::Keep => {}
            }
        }
        summary.scanned += fetched.len();
        for (folder, batch) in to_move {
            // Journaled around the command; a failure (a lost connection, no answer in time:
            // the connection is dropped) leaves the intents for the next connection to settle.
            let outcomes = timed("the move", sweeper.mover.carry_out(&mut mailbox, &folder, batch)).await?;
            for (intent, landed) in outcomes {
                match landed {
                    Landed::At(_) => summary.moved += 1,
                    Landed::Refused(why) => {
                        summary.left += 1;
                        summary.left_why = Some(why);
                        tracing::warn!(mailbox = %intent.from, why, "left in place");
                    }
                    Landed::Vanished | Landed::Failed(_) => summary.left += 1,
                }
            }
        }
        summary.last_uid = chunk.last().copied().unwrap_or(summary.last_uid);
        save(summary.last_uid)?;
        progress(&summary);
    }
    Ok(summary)
}

/// `scan --imap`: judges every message in every mailbox of `account` once, moving backscatter
/// into the policy folder unless the sweeper is a dry run; `progress` hears (mailbox, summary
/// so far, total in the mailbox) after each chunk. The folder is created if missing — or, on a
/// dry run, checked to exist or be creatable (LIST, MYRIGHTS) — and the summary says which.
/// The watch state is neither read nor written.
pub async fn scan(
    account: &Imap,
    sweeper: &Sweeper,
    progress: &mut (dyn FnMut(&str, &ScanSummary, usize) + Send),
) -> Result<ScanSummary, ImapError> {
    let started = Instant::now();
    let dry_run = sweeper.mover.dry_run();
    let account = Arc::new(account.clone());
    let mut session = connect::open(&account).await?;
    let (caps, folders, folder) = prepare(&mut session, sweeper.pipeline.config()).await?;
    let state = if dry_run {
        timed("the folder", folders::check(&mut session, caps, &folders.namespace, &folder)).await?
    } else {
        timed("the folder", folders::ensure(&mut session, &account.name, &folder)).await?
    };
    let mut total = ScanSummary { folder, folder_state: Some(state), ..ScanSummary::default() };
    for mailbox in &account.mailboxes {
        let target = Target { account: account.clone(), mailbox: mailbox.clone() };
        if !dry_run {
            reconcile(&mut session, caps, &target, &sweeper.mover).await?;
        }
        let selected = timed("SELECT", session::select(&mut session, mailbox)).await?;
        let count = timed("UID FETCH", session::uids_after(&mut session, 0)).await?.len();
        let mut report = |s: &ScanSummary| progress(mailbox, s, count);
        let run =
            Run { caps, folders: &folders, target: &target, uid_validity: selected.uid_validity, dry_run, token: None };
        let s = sweep(&mut session, &run, 0, sweeper, &mut |_| Ok(()), &mut report).await?;
        let _ = session::drain(&mut session);
        total.scanned += s.scanned;
        total.moved += s.moved;
        total.would_move += s.would_move;
        total.left += s.left;
        total.left_why = total.left_why.or(s.left_why);
    }
    if dry_run && total.would_move > 0 {
        // What the real run would run into: it could move nothing.
        total.left_why = caps.cannot_move();
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
