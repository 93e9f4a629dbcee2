//! `backscatter milter` (DESIGN §8b): the MTA side, over the milter protocol (indymilter) for
//! Postfix's `smtpd_milters` / `non_smtpd_milters` and Sendmail's `INPUT_MAIL_FILTER`.
//!
//! - [`session`]: what one SMTP session and its current message are, decided from the
//!   connection, SMTP AUTH and the envelope (pure).
//! - [`outbound`]: mail we send is stamped — the same [`stamp`](crate::sign::stamp) as the
//!   sendmail drop-in, the BATV tag and signed ENVID through SMFIR_CHGFROM.
//! - [`inbound`]: mail to protected domains — BATV-tagged recipients verified at RCPT, the whole
//!   judgement at end of message, `X-Backscatter: <verdict>; <why>`, reject / quarantine / header.
//! - [`smtp_spf`]: SPF of the real connection at MAIL FROM, `Received-SPF`.
//! - [`callbacks`]: the milter stages wired to the above; any internal error is a tempfail.
//! - here: the shared state of the daemon ([`Milter`]: config, the engine's pipeline with the
//!   keyring as it is on disk, the one SPF checker) and [`run`], with `/metrics` when
//!   `[metrics] listen` is set (`backscatter_milter_verdicts_total{stage,verdict,action}`).
//!
//! Never lose mail: every failure of ours answers 451 4.3.0 (the MTA keeps the message and the
//! client retries); if the milter is not reachable at all, the MTA's `milter_default_action`
//! decides (`tempfail` in contrib/postfix/).

mod callbacks;
pub mod inbound;
pub mod outbound;
pub mod session;
pub mod smtp_spf;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tokio_util::sync::CancellationToken;

use crate::config::{Config, Listen};
use crate::engine::{Pipeline, SystemClock};
use crate::keys::{Keyring, KeyringError};
use crate::metrics::serve;
use crate::spf::{Checker, SpfError};

/// Why the milter could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MilterError {
    /// The keyring could not be loaded at start.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// The SPF checker could not be set up.
    #[error(transparent)]
    Spf(#[from] SpfError),
    /// `[metrics] listen` could not be bound.
    #[error("metrics endpoint {addr}: {source} — choose a free port for [metrics] listen")]
    Metrics {
        /// `[metrics] listen`.
        addr: std::net::SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The socket could not be made or listened on.
    #[error("milter socket {listen}: {source} — choose a free port or a writable directory for [milter] listen")]
    Listen {
        /// `[milter] listen`.
        listen: Listen,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// The engine's pipeline with the keyring file as it is on disk: rebuilt when the file changes
/// (`keys rotate` while the milter runs). Every rebuild shares the daemon's one SPF checker.
struct Judge {
    path: PathBuf,
    config: Config,
    spf: Option<Arc<Checker>>,
    current: RwLock<(Option<SystemTime>, Pipeline)>,
}

impl Judge {
    fn load(path: &Path, config: &Config, spf: Option<Arc<Checker>>) -> Result<Judge, MilterError> {
        let stamp = modified(path);
        let pipeline = pipeline(config, Keyring::load(path)?, spf.clone())?;
        let current = RwLock::new((stamp, pipeline));
        Ok(Judge { path: path.to_owned(), config: config.clone(), spf, current })
    }

    /// The pipeline for the keyring as it is now: one `stat` per call; the file is re-read
    /// when its modification time changed. A file that became unreadable keeps the keys loaded
    /// before (logged), so a bad edit does not stop the mail.
    fn get(&self) -> Pipeline {
        let now = modified(&self.path);
        if let Ok(current) = self.current.read() {
            if current.0 == now {
                return current.1.clone();
            }
        }
        let mut current = self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if current.0 == now {
            return current.1.clone();
        }
        let rebuilt = Keyring::load(&self.path)
            .map_err(MilterError::from)
            .and_then(|ring| pipeline(&self.config, ring, self.spf.clone()));
        match rebuilt {
            Ok(pipeline) => {
                tracing::info!(keyring = %self.path.display(), "keyring changed on disk: reloaded");
                *current = (now, pipeline);
            }
            Err(err) => {
                tracing::warn!("{err} — keeping the keys loaded before");
                current.0 = now;
            }
        }
        current.1.clone()
    }
}

/// The engine's pipeline for `config` and `ring`, with `spf` as its SPF service (the config's
/// `[spf] enabled` is turned off for the construction only, so no second resolver is started).
fn pipeline(config: &Config, ring: Keyring, spf: Option<Arc<Checker>>) -> Result<Pipeline, MilterError> {
    let mut quiet = config.clone();
    quiet.spf.enabled = false;
    Ok(Pipeline::new(quiet, Some(ring), Arc::new(SystemClock))?.with_spf(spf))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// What every session of the daemon shares.
pub struct Milter {
    /// The validated config.
    pub config: Config,
    judge: Judge,
    /// The one SPF checker (and cache) of the daemon, when `[spf] enabled`.
    pub spf: Option<Arc<Checker>>,
}

impl Milter {
    /// The shared state: the keyring at `keyring` (which must load and hold a signing key: a
    /// milter that cannot sign or verify should not start) and, with `[spf] enabled`, the SPF
    /// checker. Call inside the tokio runtime the milter will run on (the resolver spawns its
    /// tasks there).
    pub fn new(config: Config, keyring: &Path) -> Result<Milter, MilterError> {
        let spf = if config.spf.enabled { Some(Arc::new(Checker::new(&config.spf)?)) } else { None };
        let judge = Judge::load(keyring, &config, spf.clone())?;
        if let Some(ring) = judge.get().keyring() {
            ring.require_signing_key()?;
        }
        Ok(Milter { config, judge, spf })
    }

    /// The engine's pipeline with the keyring as it is on disk now.
    pub fn pipeline(&self) -> Pipeline {
        self.judge.get()
    }
}

/// Listens on `[milter] listen` and serves the MTA until `shutdown` completes; sessions in
/// flight finish their current stage. A Unix socket is made mode 0660 (the MTA's group) after
/// removing a stale one. With `[metrics] listen`, `/metrics` is served beside it.
pub async fn run(milter: Milter, shutdown: impl Future) -> Result<(), MilterError> {
    let listen = milter.config.milter.listen.clone();
    let fail = |source| MilterError::Listen { listen: listen.clone(), source };
    let token = CancellationToken::new();
    if let Some(addr) = milter.config.metrics.listen {
        let listener = serve::bind(addr).await.map_err(|source| MilterError::Metrics { addr, source })?;
        tokio::spawn(serve::serve(listener, None, token.clone()));
    }
    let milter = Arc::new(milter);
    let callbacks = callbacks::callbacks(Arc::clone(&milter));
    let config = indymilter::Config::default();
    let result = match &listen {
        Listen::Inet(addr) => {
            let listener = NoDelay(tokio::net::TcpListener::bind(addr).await.map_err(fail)?);
            tracing::info!(%listen, "milter listening");
            indymilter::run(listener, callbacks, config, shutdown).await
        }
        Listen::Unix(path) => {
            let listener = bind_unix(path).map_err(fail)?;
            tracing::info!(%listen, "milter listening");
            let result = indymilter::run(listener, callbacks, config, shutdown).await;
            let _ = std::fs::remove_file(path);
            result
        }
    };
    token.cancel();
    result.map_err(fail)
}

/// A TCP listener whose connections send at once: a milter reply is a few small writes, and
/// with Nagle's algorithm each would wait for the MTA's delayed ACK (~40 ms per message).
struct NoDelay(tokio::net::TcpListener);

impl indymilter::Listener for NoDelay {
    type Io = tokio::net::TcpStream;

    fn poll_accept(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<Self::Io>> {
        self.0.poll_accept(cx).map_ok(|(stream, _)| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY not set on a milter connection: {err}");
            }
            stream
        })
    }
}

fn bind_unix(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    // Only a socket left by an earlier run is removed, never a file that happens to be there.
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        std::fs::remove_file(path)?;
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}
