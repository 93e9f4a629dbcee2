//! The IMAP side of the commands: `backscatter scan --imap ACCOUNT [--dry-run] [--json]` (a
//! one-shot cleanup of an account's mailboxes — every message judged, backscatter moved and
//! journaled, progress on a terminal, a summary or one JSON line per message on stdout), the
//! IMAP watchers `watch` runs beside the Maildir watcher, and `restore` of IMAP moves.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use backscatter::config::Config;
use backscatter::evidence::imap::ImapSent;
use backscatter::journal::{self, Entry, Journal, Op, Restored};
use backscatter::store::imap::judge::{self as imap_judge, Judge, Observer};
use backscatter::store::imap::{self, Background, ImapError, Options, ScanSummary};

use super::scan::Setup;
use super::Globals;
use crate::exit;

/// Runs the scan of the `[[imap]]` account named `name`.
pub fn scan(globals: &Globals, name: &str, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let Setup { config, keyring, state_dir } = Setup::load(globals, true)?;
    let Some(account) = config.imap.iter().find(|a| a.name == name).cloned() else {
        let names: Vec<&str> = config.imap.iter().map(|a| a.name.as_str()).collect();
        eprintln!(
            "backscatter: no [[imap]] account named {name:?} in the config (accounts: {}) — give one of them, or add it",
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        );
        return Ok(ExitCode::from(exit::CONFIG));
    };
    let folder = config.policy.folder.clone();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    let mut sent = ImapSent::open(&account, &state_dir);
    if let Some(index) = sent.as_mut() {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if let Err(err) = runtime.block_on(index.refresh(i64::try_from(now).unwrap_or(i64::MAX))) {
            eprintln!("backscatter: {err}; judging without Sent evidence");
            sent = None;
        }
    }
    let mut judge = Judge::new(Arc::new(config), keyring.map(Arc::new)).with_sent(sent);
    if !dry_run {
        judge = judge.journaled(Journal::open(&state_dir)?);
    }
    if json {
        let observer: Observer = Arc::new(|message, j| {
            let path = format!(
                "imap:{}/{};UIDVALIDITY={}/;UID={}",
                message.account, message.mailbox, message.uid_validity, message.uid
            );
            let mut out = std::io::stdout().lock();
            // A closed stdout (`| head`) is not worth an error per message.
            let _ = writeln!(out, "{}", j.to_json(&path));
        });
        judge = judge.observed(observer);
    }
    let terminal = std::io::stderr().is_terminal();
    let mut progress = move |mailbox: &str, s: &ScanSummary, total: usize| {
        if terminal {
            eprint!("\r{mailbox}: {}/{total} scanned, {} moved", s.scanned, s.moved + s.would_move);
        }
    };
    let result = runtime.block_on(imap::scan(&account, &folder, &mut judge, dry_run, &mut progress));
    if terminal {
        eprintln!();
    }
    let summary = match result {
        Ok(summary) => summary,
        Err(err) => {
            eprintln!("backscatter: scan --imap {name}: {err}");
            return Ok(ExitCode::from(code(&err)));
        }
    };
    if !json {
        let tally = judge.tally();
        let would_move = summary.would_move + tally.would_move;
        let verdicts: Vec<String> = tally.verdicts.iter().map(|(v, n)| format!("{n} {v}")).collect();
        println!(
            "{name}: {} scanned ({}), {} moved to {folder}, {would_move} would move, {} left in place",
            summary.scanned,
            if verdicts.is_empty() { "nothing".to_owned() } else { verdicts.join(", ") },
            summary.moved,
            summary.left
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// sysexits for a failed scan: a config that cannot work 78, refused credentials 77, the rest
/// (network, TLS, the server) 69 — retrying later may help.
fn code(err: &ImapError) -> u8 {
    match err {
        ImapError::Config(_) | ImapError::Secret(_) => exit::CONFIG,
        ImapError::Auth(_) => exit::NOPERM,
        _ => exit::UNAVAILABLE,
    }
}

/// Starts watching every `[[imap]]` account on a thread of its own (`None`: there are none),
/// judging with the setup's config and keyring and journaling each move.
pub fn start_watchers(setup: &Setup) -> anyhow::Result<Option<Background>> {
    let config = &setup.config;
    if config.imap.is_empty() {
        return Ok(None);
    }
    let journal = Journal::open(&setup.state_dir)?;
    let sent = config.imap.iter().filter_map(|account| ImapSent::open(account, &setup.state_dir));
    let judge =
        Judge::new(Arc::new(config.clone()), setup.keyring.clone().map(Arc::new)).journaled(journal).with_sent(sent);
    let background = Background::start(
        config.imap.clone(),
        config.policy.folder.clone(),
        setup.state_dir.clone(),
        judge,
        Options::default(),
    )
    .context("starting the IMAP watchers")?;
    Ok(Some(background))
}

/// Undoes an IMAP move of the journal (`entry.mailbox` is `imap:…`): moves the message (found by
/// its Message-ID) from the folder back into its mailbox and appends the restore line.
pub fn restore(config: &Config, journal: &mut Journal, entry: &Entry, now: i64) -> anyhow::Result<Restored> {
    let (Some((name, mailbox)), Some((_, folder))) = (imap_judge::place(&entry.from), imap_judge::place(&entry.to))
    else {
        anyhow::bail!("{}: {} is not an IMAP place", entry.id, entry.from);
    };
    let Some(account) = config.imap.iter().find(|a| a.name == name) else {
        anyhow::bail!("{}: the config has no [[imap]] account named {name:?} any more", entry.id);
    };
    let Some(message_id) = entry.message_id.as_deref() else {
        anyhow::bail!("{}: the message has no Message-ID to find it by; move it back by hand from {folder}", entry.id);
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
    let moved = runtime
        .block_on(imap::restore(account, folder, mailbox, message_id))
        .with_context(|| format!("{}: restoring into {}", entry.id, entry.mailbox))?;
    if moved == 0 {
        return Ok(Restored::Missing);
    }
    let line = Entry {
        id: journal::new_id(now),
        time: journal::format_time(now),
        op: Op::Restore,
        from: entry.to.clone(),
        to: entry.from.clone(),
        restores: Some(entry.id.clone()),
        ..entry.clone()
    };
    journal.append(&line)?;
    Ok(Restored::Restored { from: entry.to.clone().into(), to: entry.mailbox.clone().into() })
}
