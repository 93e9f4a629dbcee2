//! `backscatter scan [--dry-run] [--json] PATH…`: one pass over Maildirs (their INBOX: `new/`
//! and `cur/`), moving backscatter into the folder, then a summary (DESIGN §1, §7).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;

use backscatter::config::{self, Config};
use backscatter::engine::{Judged, MaildirBox, Mover, Pipeline, SystemClock};
use backscatter::evidence::maildir::{self as sent_folders, MaildirSent};
use backscatter::journal::Journal;
use backscatter::keys::{Keyring, KeyringError};
use backscatter::policy::Verdict;
use backscatter::store::maildir::Maildir;
use backscatter::store::{StoreError, Taken};

use super::Globals;
use crate::exit;

/// What every store command starts from: the config, the keyring (if there is one) and the state
/// dir.
pub struct Setup {
    /// The validated config (defaults without a file).
    pub config: Config,
    /// The keyring; `None` when its file does not exist (said once on stderr).
    pub keyring: Option<Keyring>,
    /// Where the journal lives: `state_dir`, else the data dir.
    pub state_dir: PathBuf,
}

impl Setup {
    /// Loads the config and (if `keys`) the keyring the command line asks for. A missing keyring
    /// is not an error (the policy judges without one); an unreadable or loose one is.
    pub fn load(globals: &Globals, keys: bool) -> anyhow::Result<Setup> {
        let (_, config) = config::load_or_default(globals.config.as_deref())?;
        let path = super::keyring_path(globals, config.keyring.as_deref())?;
        let keyring = match keys.then(|| Keyring::load(&path)) {
            None => None,
            Some(Ok(keyring)) => Some(keyring),
            Some(Err(KeyringError::Missing { .. })) => {
                eprintln!("backscatter: no keyring at {}: no carrier can be verified", path.display());
                None
            }
            Some(Err(err)) => return Err(err.into()),
        };
        let state_dir = match &config.state_dir {
            Some(dir) => dir.clone(),
            None => config::data_dir(|name| std::env::var_os(name))
                .context("no state_dir in the config and neither $XDG_DATA_HOME nor $HOME is set")?,
        };
        Ok(Setup { config, keyring, state_dir })
    }

    /// The run's pipeline (with its SPF service when `[spf] enabled`: call inside the runtime).
    pub fn pipeline(&self) -> anyhow::Result<Pipeline> {
        Ok(Pipeline::new(self.config.clone(), self.keyring.clone(), Arc::new(SystemClock))?)
    }

    /// The run's journal, or none for a dry run.
    pub fn mover(&self, dry_run: bool) -> anyhow::Result<Mover> {
        let journal = if dry_run { None } else { Some(Journal::open(&self.state_dir)?) };
        Ok(Mover::new(journal, Arc::new(SystemClock)))
    }
}

/// Messages a worker judges before handing them to the main thread.
const BATCH: usize = 32;

/// Runs the command: exit 0; 66 (EX_NOINPUT) when a path is not a readable Maildir; 74
/// (EX_IOERR) when a message could not be read or moved, or the journal could not be written
/// (then nothing more is moved).
pub fn run(
    runtime: &tokio::runtime::Runtime,
    globals: &Globals,
    dry_run: bool,
    json: bool,
    paths: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(globals, true)?;
    runtime.block_on(async {
        let pipeline = setup.pipeline()?;
        let mover = setup.mover(dry_run)?;
        // Moves an interruption left unfinished are settled before anything else moves.
        let settled = backscatter::engine::maildir::reconcile(&mover, &mover.ledger()?)?;
        if settled > 0 {
            eprintln!("backscatter: settled {settled} move(s) an interruption left unfinished");
        }
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let mut summary = Summary::default();
        let mut failed = false;
        for path in paths {
            match scan(&setup, (&pipeline, &mover), path, json, &mut out, &mut summary).await {
                Ok(()) => {}
                Err(err) if err.is::<backscatter::journal::JournalError>() => {
                    eprintln!("backscatter: {err:#}");
                    out.flush().ok();
                    return Ok(ExitCode::from(exit::IOERR));
                }
                Err(err) => {
                    eprintln!("backscatter: {err:#}");
                    failed = true;
                }
            }
        }
        if !json {
            summary.print(&mut out, dry_run)?;
        }
        out.flush().context("writing to stdout")?;
        Ok(if failed {
            ExitCode::from(exit::NOINPUT)
        } else if summary.failed > 0 {
            ExitCode::from(exit::IOERR)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// Scans one Maildir, printing a line per checked message (or a JSON object per message).
/// Reading and judging run on blocking threads (one per core); SPF, moves, the journal and the
/// report stay on this task, in the Maildir's order.
async fn scan(
    setup: &Setup,
    (pipeline, mover): (&Pipeline, &Mover),
    path: &Path,
    json: bool,
    out: &mut impl Write,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let maildir = Maildir::open(path, &pipeline.config().policy.folder)?;
    let messages = Arc::new(maildir.messages()?);
    let sent = sent_index(setup, maildir.root(), pipeline.clock().now());
    let mailbox = MaildirBox::new(maildir, pipeline.clone(), mover.clone()).with_sent(sent);
    let mut progress = Progress::new(path, messages.len(), !json);
    let workers = std::thread::available_parallelism().map_or(1, NonZeroUsize::get).min(8);
    let next = Arc::new(AtomicUsize::new(0));
    let (sender, mut results) = tokio::sync::mpsc::channel(8);
    for _ in 0..workers {
        let (sender, next, messages, mailbox) = (sender.clone(), next.clone(), messages.clone(), mailbox.clone());
        // Messages are handed out and sent back in batches: one wake-up of the main task per
        // message cost as much as judging an ordinary one.
        tokio::task::spawn_blocking(move || loop {
            let start = next.fetch_add(BATCH, Ordering::Relaxed);
            let Some(batch) = messages.get(start..messages.len().min(start.saturating_add(BATCH))) else { break };
            if batch.is_empty() {
                break;
            }
            let judged: Vec<_> = batch.iter().map(|message| mailbox.judge(message)).collect();
            // The receiver is gone only when the scan failed: stop.
            if sender.blocking_send((start, judged)).is_err() {
                break;
            }
        });
    }
    drop(sender);
    // Batches arrive in any order; they are applied in the Maildir's.
    let mut ready = BTreeMap::new();
    let mut done = 0;
    while let Some((start, batch)) = results.recv().await {
        ready.insert(start, batch);
        while let Some(batch) = ready.remove(&done) {
            for read in batch {
                progress.show(done);
                let message = messages.get(done).map(PathBuf::as_path).unwrap_or(path);
                done += 1;
                // One unreadable or immovable message is reported and counted, not the end of
                // the scan; a journal that cannot be written is.
                let applied = match read {
                    Ok(Ok((read, judgement))) => {
                        let judged = pipeline.conclude(&read, judgement).await;
                        mailbox.apply(message, &judged).await.map(|taken| (Some(judged), taken))
                    }
                    Ok(Err(taken)) => Ok((None, taken)),
                    Err(err) => Err(err),
                };
                let (judged, taken) = match applied {
                    Ok(done) => done,
                    Err(StoreError::Journal(err)) => {
                        progress.clear();
                        return Err(err.into());
                    }
                    Err(err) => {
                        progress.clear();
                        eprintln!("backscatter: {err}");
                        summary.failed += 1;
                        continue;
                    }
                };
                let Some(judged) = judged else {
                    if let Taken::Skipped(skip) = taken {
                        progress.clear();
                        eprintln!("backscatter: {}: {skip}", message.display());
                    }
                    continue;
                };
                let shown = message.strip_prefix(path).unwrap_or(message).display().to_string();
                if !json && judged.judgement.decision.verdict != Verdict::Ordinary {
                    progress.clear();
                }
                report(out, &judged, &taken, message, &shown, json)?;
                let j = &judged.judgement;
                let key = (j.classification.kind.as_str(), j.decision.verdict.to_string(), taken.word());
                *summary.counts.entry(key).or_default() += 1;
            }
        }
    }
    progress.clear();
    Ok(())
}

/// One message's line: its JSON object (with what was done, and `spf` when `[spf]` is on), or
/// for a checked message the action, kind, verdict, file and why.
fn report(
    out: &mut impl Write,
    judged: &Judged,
    taken: &Taken,
    message: &Path,
    shown: &str,
    json: bool,
) -> std::io::Result<()> {
    let judgement = &judged.judgement;
    if json {
        let mut object = judgement.to_json(&message.to_string_lossy());
        if let Some(map) = object.as_object_mut() {
            if let Some(spf) = &judged.spf {
                map.insert("spf".into(), spf.to_json());
            }
            map.insert("done".into(), taken.word().into());
            if let Taken::Moved { id, to } = taken {
                map.insert("journal_id".into(), id.as_str().into());
                map.insert("moved_to".into(), to.to_string_lossy().into());
            }
        }
        writeln!(out, "{object}")
    } else if judgement.decision.verdict != Verdict::Ordinary {
        let d = &judgement.decision;
        let kind = judgement.classification.kind.as_str();
        writeln!(out, "{:<10} {kind:<16} {:<11} {shown}  — {}", taken.word(), d.verdict.to_string(), d.why)
    } else {
        Ok(())
    }
}

/// The Maildir's Sent index (DESIGN §4.5), read up to `now` and said on stderr; `None` when it
/// has no Sent folder, or it cannot be read (said too).
fn sent_index(setup: &Setup, root: &Path, now: i64) -> Option<MaildirSent> {
    let mut sent = MaildirSent::open(root, sent_folders::configured(&setup.config, root), &setup.state_dir)?;
    if let Err(err) = sent.refresh(now) {
        eprintln!("backscatter: {err}; judging without Sent evidence");
        return None;
    }
    let folders: Vec<String> =
        sent.folders().iter().map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string()).collect();
    let folders = folders.join(", ");
    match sent.index().span() {
        Some((first, last)) => {
            let n = sent.index().len();
            let plural = if n == 1 { "" } else { "s" };
            eprintln!("backscatter: Sent ({folders}): {n} message{plural}, sent from {first} to {last}");
        }
        None => eprintln!("backscatter: Sent ({folders}) is empty: no Sent evidence"),
    }
    Some(sent)
}

/// Messages counted by (kind, verdict, what was done).
#[derive(Default)]
struct Summary {
    counts: BTreeMap<(&'static str, String, &'static str), u64>,
    /// Messages that could not be read or moved.
    failed: u64,
}

impl Summary {
    fn print(&self, out: &mut impl Write, dry_run: bool) -> std::io::Result<()> {
        let total: u64 = self.counts.values().sum();
        let note = if dry_run { " (dry run: nothing moved)" } else { "" };
        writeln!(out, "\n{:<16} {:<11} {:<10} {:>8}", "kind", "verdict", "action", "messages")?;
        for ((kind, verdict, action), count) in &self.counts {
            writeln!(out, "{kind:<16} {verdict:<11} {action:<10} {count:>8}")?;
        }
        writeln!(out, "{:<16} {:<11} {:<10} {total:>8}{note}", "total", "", "")?;
        if self.failed > 0 {
            writeln!(out, "{} message(s) could not be read or moved; see above", self.failed)?;
        }
        Ok(())
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal, at most every 1% or 256
/// messages so that drawing never costs more than the scan.
struct Progress {
    label: String,
    total: usize,
    shown: bool,
    enabled: bool,
    step: usize,
}

impl Progress {
    fn new(path: &Path, total: usize, wanted: bool) -> Progress {
        let enabled = wanted && std::io::stderr().is_terminal() && total > 0;
        let step = (total / 100).clamp(1, 256);
        Progress { label: path.display().to_string(), total, shown: false, enabled, step }
    }

    fn show(&mut self, done: usize) {
        if !self.enabled || !done.is_multiple_of(self.step) {
            return;
        }
        const WIDTH: usize = 30;
        let filled = done * WIDTH / self.total.max(1);
        let bar: String = (0..WIDTH).map(|i| if i < filled { '#' } else { '.' }).collect();
        eprint!("\r\x1b[2K{} [{bar}] {done}/{}", self.label, self.total);
        self.shown = true;
    }

    fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
    }
}
