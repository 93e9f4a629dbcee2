//! `backscatter watch`: the daemon — every `[[maildir]]` of the config watched with inotify and
//! every `[[imap]]` account over IDLE, one task per mailbox on the one runtime, until SIGTERM or
//! SIGINT (DESIGN §1, §7).

use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use backscatter::engine::daemon::{self, Engine, Timing};

use super::scan::Setup;
use super::Globals;

/// Runs until a signal asks it to stop; exit 0 then. A mailbox that cannot work ends it with
/// an error naming the mailbox.
pub fn run(runtime: &tokio::runtime::Runtime, globals: &Globals) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(globals, true)?;
    runtime.block_on(async {
        let engine = Engine {
            pipeline: setup.pipeline()?,
            mover: setup.mover(false)?,
            state_dir: setup.state_dir.clone(),
            spf_snapshot: super::spf::snapshot_path(&setup.config),
            timing: Timing::default(),
            imap: Default::default(),
        };
        let token = CancellationToken::new();
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let stop = token.clone();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            tracing::info!(signal = name, "shutting down");
            stop.cancel();
        });
        daemon::run(engine, token).await?;
        Ok(ExitCode::SUCCESS)
    })
}
