//! `backscatter scan --imap ACCOUNT [--dry-run] [--json]`: a one-shot cleanup of an account's
//! mailboxes — every message judged, backscatter moved and journaled, progress on a terminal, a
//! summary (with where the folder stands) or one JSON line per message on stdout.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};

use backscatter::engine::imap::{self, Observer, ScanSummary, Sweeper};
use backscatter::evidence::imap::ImapSent;
use backscatter::store::imap::ImapError;

use super::scan::Setup;
use super::Globals;
use crate::exit;

/// Runs the scan of the `[[imap]]` account named `name`.
pub fn scan(
    runtime: &tokio::runtime::Runtime,
    globals: &Globals,
    name: &str,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(globals, true)?;
    let config = &setup.config;
    let Some(account) = config.imap.iter().find(|a| a.name == name).cloned() else {
        let names: Vec<&str> = config.imap.iter().map(|a| a.name.as_str()).collect();
        eprintln!(
            "backscatter: no [[imap]] account named {name:?} in the config (accounts: {}) — give one of them, or add it",
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        );
        return Ok(ExitCode::from(exit::CONFIG));
    };
    // Verdicts counted for the summary; with --json each message is a line on stdout.
    let tally: Arc<Mutex<std::collections::BTreeMap<&'static str, usize>>> = Arc::default();
    let counts = tally.clone();
    let observer: Observer = Arc::new(move |place, judged| {
        let verdict = judged.judgement.decision.verdict.as_str();
        *counts.lock().unwrap_or_else(PoisonError::into_inner).entry(verdict).or_default() += 1;
        if json {
            let mut object = judged.judgement.to_json(&place.to_string());
            if let (Some(map), Some(spf)) = (object.as_object_mut(), &judged.spf) {
                map.insert("spf".into(), spf.to_json());
            }
            // A closed stdout (`| head`) is not worth an error per message.
            let _ = writeln!(std::io::stdout().lock(), "{object}");
        }
    });
    let terminal = std::io::stderr().is_terminal();
    let mut progress = move |mailbox: &str, s: &ScanSummary, total: usize| {
        if terminal {
            eprint!("\r{mailbox}: {}/{total} scanned, {} moved", s.scanned, s.moved + s.would_move);
        }
    };
    let result = runtime.block_on(async {
        // The Sent index is read when the first checked message asks for it.
        let sent = ImapSent::open(&account, &setup.state_dir).map(|s| Arc::new(tokio::sync::Mutex::new(s)));
        let (pipeline, mover) = (setup.pipeline()?, setup.mover(dry_run)?);
        let sweeper = Sweeper { pipeline, mover, observer: Some(observer), sent };
        anyhow::Ok(imap::scan(&account, &sweeper, &mut progress).await)
    })?;
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
    let folder = &summary.folder;
    if !json {
        let tally = tally.lock().unwrap_or_else(PoisonError::into_inner);
        let verdicts: Vec<String> = tally.iter().map(|(v, n)| format!("{n} {v}")).collect();
        let state = summary.folder_state.as_ref().map_or_else(String::new, |s| format!("; {folder} {s}"));
        println!(
            "{name}: {} scanned ({}), {} moved to {folder}, {} would move, {} left in place{state}",
            summary.scanned,
            if verdicts.is_empty() { "nothing".to_owned() } else { verdicts.join(", ") },
            summary.moved,
            summary.would_move,
            summary.left
        );
    }
    // Backscatter that stays where it is is not a clean run, dry or not.
    if let Some(why) = summary.left_why {
        let (count, verb) = if dry_run { (summary.would_move, "would be") } else { (summary.left, "were") };
        eprintln!("backscatter: scan --imap {name}: {count} message(s) {verb} left in place: {why}");
        return Ok(ExitCode::from(exit::UNAVAILABLE));
    }
    Ok(ExitCode::SUCCESS)
}

/// sysexits for a failed scan: 78 for what no retry heals — a config that cannot work, a
/// refused login, a folder the server refuses to create or select — the rest (network, TLS,
/// the server's other answers) 69: retrying later may help.
fn code(err: &ImapError) -> u8 {
    match err {
        ImapError::Config(_) | ImapError::Secret(_) => exit::CONFIG,
        e if e.is_permanent() => exit::CONFIG,
        _ => exit::UNAVAILABLE,
    }
}
