//! `backscatter watch [--shard I/N]`: the daemon — every `[[maildir]]` of the config watched
//! with inotify and every `[[imap]]` account over IDLE, one task per mailbox on the one runtime,
//! until SIGTERM or SIGINT; SIGHUP reads the config and the keyring again (DESIGN §1, §7, §10).

use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use std::sync::Arc;

use backscatter::engine::daemon::{self, Engine, Timing};
use backscatter::metrics::serve::Page;

use super::scan::Setup;
use super::Globals;
use crate::cli::Shard;

/// Runs until a signal asks it to stop; exit 0 then. A mailbox that cannot work ends it with
/// an error naming the mailbox.
pub fn run(runtime: &tokio::runtime::Runtime, globals: &Globals, shard: Option<Shard>) -> anyhow::Result<ExitCode> {
    // Root becomes `user` before anything is opened: every file made from here on is its.
    let (_, config) = backscatter::config::load_or_default(globals.config.as_deref())?;
    backscatter::privileges::drop_to(config.user.as_deref())?;
    let setup = Setup::load(globals, true)?;
    runtime.block_on(async {
        let engine = build_engine(setup, shard)?;
        let token = CancellationToken::new();
        let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
        let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
        let (reload, reloads) = tokio::sync::mpsc::channel(1);
        let stop = token.clone();
        let globals = Globals { config: globals.config.clone(), keyring: globals.keyring.clone() };
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                    _ = hup.recv() => {
                        // A config or keyring that does not load leaves the running one as it is.
                        match Setup::load(&globals, true).and_then(|setup| build_engine(setup, shard)) {
                            Ok(engine) => {
                                let _ = reload.send(engine).await;
                            }
                            Err(err) => tracing::error!("SIGHUP: {err:#}; going on with the config already loaded"),
                        }
                        continue;
                    }
                };
                tracing::info!(signal = name, "shutting down");
                stop.cancel();
                return;
            }
        });
        daemon::run(engine, token, reloads).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The engine for `setup`, with only this shard's IMAP accounts.
fn build_engine(mut setup: Setup, shard: Option<Shard>) -> anyhow::Result<Engine> {
    if let Some(shard) = shard {
        setup.config.imap.retain(|account| shard.owns(&account.name));
    }
    // The stats page at `/` beside `/metrics`, made from the journal when asked.
    let journal = setup.state_dir.join(backscatter::journal::FILE_NAME);
    let page: Page = Arc::new(move || {
        super::journal::stats_page(&journal, None, None)
            .unwrap_or_else(|err| format!("<!doctype html><title>backscatter</title><p>{err:#}"))
    });
    Ok(Engine {
        pipeline: setup.pipeline()?,
        mover: setup.mover(false)?,
        state_dir: setup.state_dir.clone(),
        spf_snapshot: super::spf::snapshot_path(&setup.config),
        timing: Timing::default(),
        imap: Default::default(),
        page: Some(page),
    })
}
