//! `backscatter scan --imap ACCOUNT [--dry-run] [--json]`: one-shot cleanup of an IMAP
//! account's mailboxes — every message judged, backscatter moved into the folder, progress on a
//! terminal, a summary (or one JSON line per message) on stdout.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use backscatter::store::imap::judge::{Judge, Observer};
use backscatter::store::imap::{self, ImapError, ScanSummary};

use super::Globals;
use crate::exit;

/// Runs the scan of the `[[imap]]` account named `name`.
pub fn scan(globals: &Globals, name: &str, dry_run: bool, json: bool) -> anyhow::Result<ExitCode> {
    let (config, keyring) = super::classify::load(globals)?;
    let Some(account) = config.imap.iter().find(|a| a.name == name).cloned() else {
        let names: Vec<&str> = config.imap.iter().map(|a| a.name.as_str()).collect();
        eprintln!(
            "backscatter: no [[imap]] account named {name:?} in the config (accounts: {}) — give one of them, or add it",
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        );
        return Ok(ExitCode::from(exit::CONFIG));
    };
    let folder = config.policy.folder.clone();
    let keyring = keyring
        .map_err(|err| eprintln!("backscatter: {err}; nothing can be verified: every checked message is backscatter"))
        .ok();
    let mut judge = Judge::new(Arc::new(config), keyring.map(Arc::new));
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
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the runtime")?;
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
