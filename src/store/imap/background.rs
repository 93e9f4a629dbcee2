//! IMAP watchers on a thread of their own (a tokio runtime), so a synchronous daemon — the
//! Maildir watcher in `watch` — can run them alongside and stop them on shutdown.

use std::path::PathBuf;
use std::thread::JoinHandle;

use tokio::sync::watch;

use super::{Handler, ImapError, Options};
use crate::config::Imap;

/// Running watchers; [`Background::stop`] ends them (a move in flight finishes first).
#[derive(Debug)]
pub struct Background {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<Result<(), ImapError>>>,
}

impl Background {
    /// Starts watching every mailbox of `accounts` on a new thread; state files live under
    /// `state_dir/imap/`.
    pub fn start<H: Handler>(
        accounts: Vec<Imap>,
        folder: String,
        state_dir: PathBuf,
        handler: H,
        options: Options,
    ) -> std::io::Result<Background> {
        let (stop, shutdown) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let thread = std::thread::Builder::new().name("imap".into()).spawn(move || {
            runtime.block_on(super::watch(&accounts, &folder, &state_dir, handler, options, shutdown))
        })?;
        Ok(Background { stop, thread: Some(thread) })
    }

    /// Asks every watcher to stop (IDLE is ended with DONE and LOGOUT) and waits for them.
    pub fn stop(mut self) -> Result<(), ImapError> {
        self.halt()
    }

    fn halt(&mut self) -> Result<(), ImapError> {
        let _ = self.stop.send(true);
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ImapError::Protocol("the IMAP thread panicked".into())),
            None => Ok(()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Err(e) = self.halt() {
            tracing::error!(error = %e, "IMAP watchers");
        }
    }
}
