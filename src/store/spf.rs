//! The SPF step of the Maildir store (issue 7): after the pure judgement, the message's own SPF
//! and a bounce's origin check (DNS, on a tokio current-thread runtime owned here), the
//! `Received-SPF` header written into the message, and `fail_action = "move"`'s folder.
//!
//! It runs on the one thread that applies decisions (the scan's mover, the watch loop), so there
//! is one resolver and one cache for a whole run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::spf::step::{self, Consequence, Report};
use crate::spf::{header, Checker, SpfError};
use crate::verdict::Judgement;

/// The runtime and checker of one store run, and what it wrote.
pub struct SpfStep {
    runtime: tokio::runtime::Runtime,
    checker: Checker,
    /// Where `watch` keeps the cache listing for `backscatter spf --cache`; `None` for a scan.
    snapshot: Option<PathBuf>,
    /// For `watch`: messages we rewrote with a `Received-SPF` and kept, whose rename over them
    /// is an inotify arrival in `new/` that is not a new message. Empty for a scan.
    rewritten: HashSet<PathBuf>,
}

impl std::fmt::Debug for SpfStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpfStep").field("snapshot", &self.snapshot).finish_non_exhaustive()
    }
}

impl SpfStep {
    /// The step, or `None` when `[spf] enabled` is off. `watch` gives `snapshot`, where to write
    /// the cache listing (see [`SpfStep::write_snapshot`]), and so has its rewrites tracked.
    pub fn start(config: &Config, snapshot: Option<PathBuf>) -> Result<Option<SpfStep>, SpfError> {
        if !config.spf.enabled {
            return Ok(None);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SpfError::Resolver(format!("cannot start the DNS runtime: {e}")))?;
        // The resolver spawns its tasks on the runtime that builds it.
        let checker = runtime.block_on(async { Checker::new(&config.spf) })?;
        Ok(Some(SpfStep { runtime, checker, snapshot, rewritten: HashSet::new() }))
    }

    /// Checks `message`'s SPF (and, for a bounce judged backscatter, its origin) and puts the
    /// origin into `j`'s decision.
    pub fn run(&self, message: &[u8], j: &mut Judgement, config: &Config) -> Report {
        let report = self.runtime.block_on(step::run(&self.checker, message, j, config));
        step::amend(&mut j.decision, &report);
        if let Some(result) = report.message.result {
            tracing::debug!(result = result.word(), why = report.message.why.as_str(), "SPF");
        }
        if let Consequence::Score(score) = report.consequence {
            tracing::info!(score, why = report.message.why.as_str(), "SPF score");
        }
        report
    }

    /// Writes `report`'s `Received-SPF` field at the top of the message at `path` when `[spf]`
    /// wants one (atomically, see [`header::prepend`]), and remembers the rewrite so the watcher
    /// does not take the renamed file for a new arrival. True if written.
    pub fn write_header(&mut self, path: &Path, report: &Report, config: &Config) -> std::io::Result<bool> {
        let Some(field) = report.received_spf(&config.spf) else { return Ok(false) };
        header::prepend(path, &field)?;
        // Only `new/` is watched.
        if self.snapshot.is_some() && path.parent().and_then(Path::file_name).is_some_and(|d| d == "new") {
            self.rewritten.insert(path.to_path_buf());
        }
        Ok(true)
    }

    /// True (once) if `path` is a message we just rewrote: its event is not an arrival.
    pub fn take_rewritten(&mut self, path: &Path) -> bool {
        self.rewritten.remove(path)
    }

    /// Forgets a rewrite whose event will never come (the message moved on).
    pub fn forget(&mut self, path: &Path) {
        self.rewritten.remove(path);
    }

    /// Writes the cache listing to the snapshot file, if there is one; a failure is logged.
    pub fn write_snapshot(&self) {
        let Some(path) = &self.snapshot else { return };
        if let Err(err) = self.checker.write_snapshot(path) {
            tracing::warn!("{err}");
        }
    }
}
