//! `backscatter milter`: the MTA side (DESIGN §8b) as a daemon on `[milter] listen`, until
//! SIGTERM or SIGINT.

use std::process::ExitCode;

use backscatter::config;
use backscatter::milter::{self, Milter, MilterError};

use super::Globals;

/// Runs the milter on the process's one runtime: every session, the SPF resolver and the
/// judgement share it (no runtime per message).
pub fn run(runtime: &tokio::runtime::Runtime, globals: &Globals) -> anyhow::Result<ExitCode> {
    let (path, config) = config::load_or_default(globals.config.as_deref())?;
    if path.is_none() {
        tracing::warn!("no config file: protected_domains is empty, so every recipient is protected");
    }
    // Root becomes `user` before the keyring is read or the socket made: both are then its.
    backscatter::privileges::drop_to(config.user.as_deref())?;
    let keyring = super::keyring_path(globals, config.keyring.as_deref())?;
    runtime.block_on(async {
        // A keyring problem is a config problem: exit 78 (systemd does not restart on it).
        let milter = Milter::new(config, &keyring).map_err(|err| match err {
            MilterError::Keyring(err) => anyhow::Error::from(err),
            other => anyhow::Error::from(other),
        })?;
        milter::run(milter, shutdown()).await.map_err(anyhow::Error::from)
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGTERM (systemd's stop) or SIGINT. SIGHUP (`systemctl reload`) does not stop
/// the milter: the keyring is re-read whenever it changes anyway; the config is read at start.
async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let signals = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()));
    match signals {
        (Ok(mut term), Ok(mut int), Ok(mut hup)) => loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => tracing::warn!(
                    "SIGHUP: the keyring is re-read when it changes; a changed config needs a restart"
                ),
            }
        },
        // Without handlers the default action (exit) applies, which is a stop too.
        _ => std::future::pending().await,
    }
    tracing::info!("shutting down: sessions in flight finish their current step");
}
