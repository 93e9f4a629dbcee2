//! `backscatter watch`: the daemon — every `[[maildir]]` of the config watched with inotify and
//! every `[[imap]]` account over IDLE (on a thread of its own), until SIGTERM or SIGINT
//! (DESIGN §1, §7).

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use anyhow::{bail, Context};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use backscatter::journal::Journal;
use backscatter::store::watch::{self, Event, Timing};
use backscatter::store::Handler;

use super::scan::Setup;
use super::Globals;

/// Runs until a signal asks it to stop; exit 0 then.
pub fn run(globals: &Globals) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(globals, true)?;
    let patterns: Vec<String> = setup.config.maildir.iter().map(|m| m.path.clone()).collect();
    if patterns.is_empty() && setup.config.imap.is_empty() {
        bail!("nothing to watch: add a [[maildir]] with a path or an [[imap]] account to the config");
    }
    let imap = super::imap::start_watchers(&setup)?;
    let journal = Journal::open(&setup.state_dir)?;
    let mut handler = Handler::new(&setup.config, setup.keyring.as_ref(), Some(journal));
    handler.start_spf(super::spf::snapshot_path(&setup.config))?;
    handler.start_sent(setup.state_dir.clone());
    let (sender, events) = mpsc::channel();
    // signal-hook's iterator turns signals into messages on a thread of its own: the loop waits
    // on one channel for files and signals alike, and a move in flight always finishes.
    let mut signals = Signals::new([SIGTERM, SIGINT]).context("installing signal handlers")?;
    let close = signals.handle();
    let stop = Arc::new(AtomicBool::new(false));
    let (signal_sender, signal_stop) = (sender.clone(), Arc::clone(&stop));
    let signal_thread = std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            tracing::info!(signal, "shutting down");
            signal_stop.store(true, Ordering::Relaxed);
            let _ = signal_sender.send(Event::Shutdown);
        }
    });
    let folder = &setup.config.policy.folder;
    let result = if patterns.is_empty() {
        // IMAP accounts only: nothing to do here but wait for the signal.
        drop(sender);
        let _ = events.recv();
        Ok(())
    } else {
        watch::run(&mut handler, &patterns, folder, (sender, events), &stop, Timing::default())
    };
    close.close();
    let _ = signal_thread.join();
    if let Some(imap) = imap {
        imap.stop().context("stopping the IMAP watchers")?;
    }
    result?;
    Ok(ExitCode::SUCCESS)
}
