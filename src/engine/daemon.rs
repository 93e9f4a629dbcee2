//! `watch` as one async function on one runtime: [`run`] supervises one task per mailbox —
//! Maildir (inotify) and IMAP (IDLE) alike — under one cancellation token, drained with a
//! `JoinSet` on shutdown (a move in flight always finishes: `select!` only wraps waiting). A task
//! that fails or panics is logged at error and restarted with capped backoff; a mistake that
//! cannot heal ends the run with an error naming the mailbox. An IMAP server's refusal (a login,
//! a CREATE or SELECT refused) is logged at error once and that mailbox alone waits an hour, or
//! a SIGHUP, before trying again; the others go on. Nothing stops silently.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::{Id, JoinSet};
use tokio_util::sync::CancellationToken;

use super::act::Mover;
use super::imap::{self as imap_loop, Options, Sweeper};
use super::maildir::{reconcile, MaildirBox};
use super::pipeline::Pipeline;
use crate::evidence::imap::ImapSent;
use crate::evidence::maildir::{configured, MaildirSent};
use crate::metrics::prometheus as metrics;
use crate::metrics::serve::{self, Page};
use crate::store::imap::ImapError;
use crate::store::maildir::Maildir;
use crate::store::watch::{check_limit, expand, Arrival, Inotify};
use crate::store::StoreError;

/// How often the daemon looks again without being told.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Re-expand the Maildir patterns (new mailboxes picked up, gone ones dropped).
    pub discover: Duration,
    /// Rescan every `new/`, in case an event was lost.
    pub rescan: Duration,
    /// Retry messages left in place because the journal could not be written.
    pub retry: Duration,
    /// First restart delay of a failed task; doubles per failure.
    pub backoff_min: Duration,
    /// The cap on that delay.
    pub backoff_max: Duration,
    /// How long an IMAP mailbox the server refused waits before trying again (SIGHUP retries
    /// at once): the refusal is the same until a person changes the config or the server.
    pub refused_retry: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            discover: Duration::from_secs(10),
            rescan: Duration::from_secs(300),
            retry: Duration::from_secs(5),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(64),
            refused_retry: Duration::from_secs(3600),
        }
    }
}

/// What the daemon runs with.
#[derive(Clone)]
pub struct Engine {
    /// The pipeline (config, keys, SPF service, clock).
    pub pipeline: Pipeline,
    /// The journal.
    pub mover: Mover,
    /// Where IMAP state (and the SPF cache listing) is kept.
    pub state_dir: PathBuf,
    /// Where to write the SPF cache listing for `backscatter spf --cache`, if anywhere.
    pub spf_snapshot: Option<PathBuf>,
    /// Timings.
    pub timing: Timing,
    /// IMAP timings.
    pub imap: Options,
    /// The page served at `/` beside `/metrics`, if any.
    pub page: Option<Page>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("state_dir", &self.state_dir).finish_non_exhaustive()
    }
}

/// A mailbox, as the supervisor names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Mailbox {
    Maildir(PathBuf),
    Imap { account: String, mailbox: String },
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailbox::Maildir(root) => write!(f, "{}", root.display()),
            Mailbox::Imap { account, mailbox } => write!(f, "imap:{account}/{mailbox}"),
        }
    }
}

/// A failure that ends the daemon.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// Nothing to watch.
    #[error("nothing to watch: add a [[maildir]] with a path or an [[imap]] account to the config")]
    Nothing,
    /// A mailbox cannot work as configured; retrying would not help.
    #[error("{mailbox}: {error} — fix the config and start again")]
    Mailbox {
        /// Which.
        mailbox: String,
        /// Why.
        error: String,
    },
    /// `[metrics] listen` cannot be bound.
    #[error("[metrics] listen = \"{listen}\": {source} — choose a free address or remove the key")]
    Listen {
        /// The address.
        listen: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A store could not be set up.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The journal could not be read or written.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
}

/// How a mailbox task ended.
enum Ended {
    /// Shutdown, or its Maildir is gone.
    Stopped,
    /// Failed; restart it.
    Failed(String),
    /// Failed for good.
    Fatal(String),
    /// The IMAP server refused this account's mailbox (permanent until a person acts): retry
    /// rarely.
    Refused(String),
}

struct Supervisor {
    engine: Engine,
    /// The whole run's token.
    token: CancellationToken,
    /// This config's tasks' token (a child of `token`): cancelled on reload.
    generation: CancellationToken,
    tasks: JoinSet<Ended>,
    names: HashMap<Id, Mailbox>,
    failures: HashMap<Mailbox, u32>,
    maildirs: HashMap<PathBuf, CancellationToken>,
    inotify: Arc<Inotify>,
    imap_state: HashMap<String, (Arc<Mutex<crate::store::imap::state::State>>, bool)>,
    /// Each IMAP account's Sent index, shared by its mailboxes' tasks.
    imap_sent: HashMap<String, Arc<tokio::sync::Mutex<ImapSent>>>,
    /// The refusal last logged per IMAP account, so each is logged at error once.
    refused: HashMap<String, String>,
    warned_limit: bool,
}

/// Watches every mailbox of the config until `token` is cancelled. Each [`Engine`] that arrives
/// on `reloads` (SIGHUP: the config and keyring read again) replaces the running one: every
/// task finishes the message in hand and stops, then the mailboxes of the new config start —
/// added ones watched, removed ones dropped, a rotated key used at once.
pub async fn run(
    engine: Engine,
    token: CancellationToken,
    mut reloads: tokio::sync::mpsc::Receiver<Engine>,
) -> Result<(), EngineError> {
    let config = engine.pipeline.config();
    if config.maildir.is_empty() && config.imap.is_empty() {
        return Err(EngineError::Nothing);
    }
    let settled = reconcile(&engine.mover, &engine.mover.ledger()?)?;
    if settled > 0 {
        tracing::warn!(settled, "journal: settled Maildir moves an interruption left unfinished");
    }
    let inotify = Arc::new(Inotify::start(|| {
        metrics::get().inotify_overflows.inc();
    })?);
    if let Some(listen) = config.metrics.listen {
        let listener = serve::bind(listen).await.map_err(|source| EngineError::Listen { listen, source })?;
        tracing::info!(%listen, "serving /metrics");
        tokio::spawn(serve::serve(listener, engine.page.clone(), token.clone()));
    }
    let mut sup = Supervisor {
        generation: token.child_token(),
        engine,
        token: token.clone(),
        tasks: JoinSet::new(),
        names: HashMap::new(),
        failures: HashMap::new(),
        maildirs: HashMap::new(),
        inotify,
        imap_state: HashMap::new(),
        imap_sent: HashMap::new(),
        refused: HashMap::new(),
        warned_limit: false,
    };
    sup.start()?;
    let mut discover = tokio::time::interval(sup.engine.timing.discover);
    let result = loop {
        tokio::select! {
            () = token.cancelled() => break Ok(()),
            _ = discover.tick() => {
                sup.discover();
                sup.snapshot();
            }
            Some(engine) = reloads.recv() => {
                if let Err(e) = sup.reload(engine).await {
                    break Err(e);
                }
            }
            Some(joined) = sup.tasks.join_next_with_id() => {
                if let Err(e) = sup.ended(joined) {
                    break Err(e);
                }
            }
        }
    };
    // Every task sees the token (children of it); each finishes what it is doing and returns.
    token.cancel();
    while sup.tasks.join_next().await.is_some() {}
    sup.snapshot();
    tracing::info!("watch stopped");
    result
}

impl Supervisor {
    /// Starts the config's mailboxes: every IMAP mailbox, and the Maildirs found now.
    fn start(&mut self) -> Result<(), EngineError> {
        let config = self.engine.pipeline.config().clone();
        for account in &config.imap {
            let (state, rescan) = imap_loop::load_state(&self.engine.state_dir, &account.name).map_err(|e| {
                EngineError::Mailbox { mailbox: format!("imap:{}", account.name), error: e.to_string() }
            })?;
            self.imap_state.insert(account.name.clone(), (Arc::new(Mutex::new(state)), rescan));
            if let Some(sent) = ImapSent::open(account, &self.engine.state_dir) {
                self.imap_sent.insert(account.name.clone(), Arc::new(tokio::sync::Mutex::new(sent)));
            }
            for mailbox in &account.mailboxes {
                self.spawn(Mailbox::Imap { account: account.name.clone(), mailbox: mailbox.clone() }, Duration::ZERO);
            }
        }
        self.discover();
        tracing::info!(mailboxes = self.maildirs.len(), imap_accounts = config.imap.len(), "watch started");
        Ok(())
    }

    /// Replaces the engine: every task finishes what it is doing and stops, then the new
    /// config's mailboxes start.
    async fn reload(&mut self, engine: Engine) -> Result<(), EngineError> {
        tracing::info!("reloading the config and the keyring");
        self.generation.cancel();
        while self.tasks.join_next().await.is_some() {}
        for root in self.maildirs.keys() {
            self.inotify.unwatch(&root.join("new"));
        }
        self.maildirs.clear();
        self.names.clear();
        self.failures.clear();
        self.imap_state.clear();
        self.imap_sent.clear();
        self.refused.clear();
        self.engine = engine;
        self.generation = self.token.child_token();
        self.start()
    }

    /// Starts (after `delay`) the task of `mailbox`.
    fn spawn(&mut self, mailbox: Mailbox, delay: Duration) {
        let token = match &mailbox {
            Mailbox::Maildir(root) => {
                self.maildirs.entry(root.clone()).or_insert_with(|| self.generation.child_token()).clone()
            }
            Mailbox::Imap { .. } => self.generation.child_token(),
        };
        let task = self.task(&mailbox, token.clone());
        let handle = self.tasks.spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = token.cancelled() => return Ended::Stopped,
            }
            task.await
        });
        self.names.insert(handle.id(), mailbox);
    }

    fn task(
        &self,
        mailbox: &Mailbox,
        token: CancellationToken,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Ended> + Send>> {
        let engine = self.engine.clone();
        match mailbox.clone() {
            Mailbox::Maildir(root) => {
                let inotify = Arc::clone(&self.inotify);
                Box::pin(async move { maildir_task(&engine, &inotify, &root, token).await })
            }
            Mailbox::Imap { account, mailbox } => {
                let settings = engine.pipeline.config().imap.iter().find(|a| a.name == account).cloned();
                let state = self.imap_state.get(&account).cloned();
                let sent = self.imap_sent.get(&account).cloned();
                Box::pin(async move {
                    let (Some(settings), Some((state, rescan))) = (settings, state) else { return Ended::Stopped };
                    let (pipeline, mover) = (engine.pipeline.clone(), engine.mover.clone());
                    let sweeper = Sweeper { pipeline, mover, observer: None, sent };
                    let watched = imap_loop::watch_mailbox(
                        Arc::new(settings),
                        mailbox,
                        state,
                        rescan,
                        sweeper,
                        engine.imap,
                        token,
                    );
                    match watched.await {
                        Ok(()) => Ended::Stopped,
                        Err(e @ ImapError::Config(_)) => Ended::Fatal(e.to_string()),
                        Err(e) if e.is_permanent() => Ended::Refused(e.to_string()),
                        Err(e) => Ended::Failed(e.to_string()),
                    }
                })
            }
        }
    }

    /// A task ended: restart it with backoff, or end the daemon for a fatal mistake.
    fn ended(&mut self, joined: Result<(Id, Ended), tokio::task::JoinError>) -> Result<(), EngineError> {
        let (id, ended) = match joined {
            Ok((id, ended)) => (id, ended),
            Err(e) => (e.id(), Ended::Failed(if e.is_panic() { "the task panicked".into() } else { e.to_string() })),
        };
        let Some(mailbox) = self.names.remove(&id) else { return Ok(()) };
        match ended {
            Ended::Stopped => {
                if let Mailbox::Maildir(root) = &mailbox {
                    self.maildirs.remove(root);
                    self.inotify.unwatch(&root.join("new"));
                }
                Ok(())
            }
            Ended::Fatal(error) => {
                tracing::error!(mailbox = %mailbox, error, "cannot work: stopping");
                Err(EngineError::Mailbox { mailbox: mailbox.to_string(), error })
            }
            Ended::Failed(error) if !self.generation.is_cancelled() => {
                let failures = self.failures.entry(mailbox.clone()).or_default();
                *failures = failures.saturating_add(1);
                let timing = self.engine.timing;
                let delay = timing.backoff_min.saturating_mul(1 << (*failures - 1).min(16)).min(timing.backoff_max);
                tracing::error!(mailbox = %mailbox, error, restart_in = ?delay, "mailbox task failed: restarting");
                self.spawn(mailbox, delay);
                Ok(())
            }
            Ended::Refused(error) if !self.generation.is_cancelled() => {
                let delay = self.engine.timing.refused_retry;
                let account = match &mailbox {
                    Mailbox::Imap { account, .. } => account.clone(),
                    Mailbox::Maildir(root) => root.display().to_string(),
                };
                if self.refused.get(&account) == Some(&error) {
                    tracing::debug!(mailbox = %mailbox, error, retry_in = ?delay, "still refused");
                } else {
                    tracing::error!(
                        mailbox = %mailbox,
                        error,
                        retry_in = ?delay,
                        "the IMAP server refused: this mailbox waits for the retry or a SIGHUP; the others go on"
                    );
                    self.refused.insert(account, error);
                }
                self.spawn(mailbox, delay);
                Ok(())
            }
            Ended::Failed(_) | Ended::Refused(_) => Ok(()),
        }
    }

    /// Expands the Maildir patterns: a task for each new Maildir, gone ones stopped.
    fn discover(&mut self) {
        let config = self.engine.pipeline.config();
        let folder = config.policy.folder.clone();
        let roots: BTreeSet<PathBuf> = config.maildir.iter().flat_map(|m| expand(&m.path)).collect();
        let gone: Vec<PathBuf> = self.maildirs.keys().filter(|root| !root.join("new").is_dir()).cloned().collect();
        for root in gone {
            if let Some(token) = self.maildirs.remove(&root) {
                token.cancel();
                self.inotify.unwatch(&root.join("new"));
                tracing::info!(mailbox = %root.display(), "mailbox gone; no longer watched");
            }
        }
        for root in roots {
            if self.maildirs.contains_key(&root) || Maildir::open(&root, &folder).is_err() {
                continue;
            }
            self.spawn(Mailbox::Maildir(root), Duration::ZERO);
        }
        if !self.warned_limit {
            self.warned_limit = check_limit(self.inotify.watched());
        }
    }

    /// Writes the SPF cache listing for `backscatter spf --cache`, if wanted.
    fn snapshot(&self) {
        if let (Some(path), Some(checker)) = (&self.engine.spf_snapshot, self.engine.pipeline.spf()) {
            if let Err(err) = checker.write_snapshot(path) {
                tracing::warn!("{err}");
            }
        }
    }
}

/// One Maildir's task: watch `new/`, judge everything already there (`new/` and `cur/`), then
/// each arrival; rescan `new/` on overflow and now and then; retry what the journal refused.
async fn maildir_task(engine: &Engine, inotify: &Inotify, root: &Path, token: CancellationToken) -> Ended {
    let config = engine.pipeline.config();
    let maildir = match Maildir::open(root, &config.policy.folder) {
        Ok(maildir) => maildir,
        Err(err) => return Ended::Failed(err.to_string()),
    };
    let new = root.join("new");
    // Watch first, then scan: nothing that lands in between is missed.
    let mut arrivals = match inotify.watch(&new) {
        Ok(arrivals) => arrivals,
        Err(err) => return Ended::Failed(err.to_string()),
    };
    tracing::info!(mailbox = %root.display(), "watching");
    let sent = MaildirSent::open(root, configured(config, root), &engine.state_dir);
    let mailbox = MaildirBox::new(maildir, engine.pipeline.clone(), engine.mover.clone()).with_sent(sent);
    let mut retry: BTreeSet<PathBuf> = BTreeSet::new();
    let mut last: Option<(PathBuf, u64)> = None;
    let all = match mailbox.maildir().messages() {
        Ok(all) => all,
        Err(err) => return Ended::Failed(err.to_string()),
    };
    for path in all {
        if token.is_cancelled() {
            return Ended::Stopped;
        }
        handle(&mailbox, &path, &mut retry).await;
    }
    let mut rescan = tokio::time::interval(engine.timing.rescan);
    rescan.tick().await;
    let mut retry_tick = tokio::time::interval(engine.timing.retry);
    retry_tick.tick().await;
    loop {
        tokio::select! {
            () = token.cancelled() => return Ended::Stopped,
            arrival = arrivals.recv() => match arrival {
                Some(Arrival::File(path)) => {
                    let Ok(size) = std::fs::symlink_metadata(&path).map(|m| m.len()) else { continue };
                    // Written in place: its Close(Write) follows; the same complete file twice is judged once.
                    if size == 0 || last.as_ref().is_some_and(|(p, s)| p == &path && *s == size) {
                        continue;
                    }
                    last = Some((path.clone(), size));
                    handle(&mailbox, &path, &mut retry).await;
                }
                Some(Arrival::Rescan) => rescan_new(&mailbox, &new, &mut retry, &token).await,
                None => return Ended::Stopped,
            },
            _ = rescan.tick() => rescan_new(&mailbox, &new, &mut retry, &token).await,
            _ = retry_tick.tick(), if !retry.is_empty() => {
                for path in std::mem::take(&mut retry) {
                    if token.is_cancelled() {
                        return Ended::Stopped;
                    }
                    handle(&mailbox, &path, &mut retry).await;
                }
            }
        }
    }
}

/// Judges every message still in `new/`.
async fn rescan_new(mailbox: &MaildirBox, new: &Path, retry: &mut BTreeSet<PathBuf>, token: &CancellationToken) {
    let Ok(entries) = std::fs::read_dir(new) else { return };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if token.is_cancelled() {
            return;
        }
        handle(mailbox, &path, retry).await;
    }
}

/// Handles one message; a journal that cannot be written leaves it in place, to be retried.
async fn handle(mailbox: &MaildirBox, path: &Path, retry: &mut BTreeSet<PathBuf>) {
    // Boxed: judging (SPF lookups included) is a large future, and an idle task — thousands of
    // them wait on their inotify channel — should not carry its space.
    match Box::pin(mailbox.handle(path)).await {
        Ok(_) => {}
        Err(StoreError::Journal(err)) => {
            tracing::error!(mailbox = %mailbox.maildir().root().display(), item = %path.display(), "{err}; left in place, retried later");
            retry.insert(path.to_path_buf());
        }
        Err(err) => tracing::warn!(mailbox = %mailbox.maildir().root().display(), "{err}"),
    }
}
