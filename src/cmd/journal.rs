//! `backscatter restore [--since T] [--all] [ID…]` and `backscatter stats [--since T]`: undo
//! and count the moves recorded in the journal (DESIGN §1, §7).

use std::process::ExitCode;

use anyhow::bail;

use backscatter::engine::restore::{restore as undo, Restored};
use backscatter::journal::{self, Stats};

use super::scan::Setup;
use super::Globals;

/// Puts back the chosen moves, one line each on stdout; exit 1 if an id is not a restorable
/// move or a message could not be put back.
pub fn restore(
    runtime: &tokio::runtime::Runtime,
    globals: &Globals,
    since: Option<&str>,
    all: bool,
    ids: &[String],
) -> anyhow::Result<ExitCode> {
    if ids.is_empty() && since.is_none() && !all {
        bail!("say which moves to undo: journal ids, --since TIME or --all");
    }
    let setup = Setup::load(globals, false)?;
    let since = since.map(journal::parse_time).transpose()?;
    let mover = setup.mover(false)?;
    // Interrupted Maildir moves are settled here; IMAP ones need the server (`watch`, `scan`).
    backscatter::engine::maildir::reconcile(&mover, &mover.ledger()?)?;
    let ledger = mover.ledger()?;
    let unfinished = ledger.unfinished().count();
    if unfinished > 0 {
        eprintln!(
            "backscatter: {unfinished} IMAP move(s) in the journal were interrupted; `watch` or `scan --imap` settles them — run one, then restore again"
        );
    }
    let chosen = ledger.restorable(ids, since);
    let mut incomplete = unfinished > 0;
    for id in ids {
        if !chosen.iter().any(|r| &r.intent.id == id) {
            eprintln!("backscatter: {id}: no such move in the journal, or restored already");
            incomplete = true;
        }
    }
    runtime.block_on(async {
        for record in chosen {
            let id = &record.intent.id;
            // A server that cannot be reached spoils only this move, not the rest.
            match undo(&setup.config, &mover, record).await {
                Ok(Restored::Restored { at }) => println!("restored {id} {at}"),
                Ok(Restored::Occupied) => {
                    eprintln!("backscatter: {id}: {} exists already; left as it is", record.intent.from);
                    incomplete = true;
                }
                Ok(Restored::Missing) => {
                    eprintln!("backscatter: {id}: {} is no longer in the folder", record.intent.to);
                    incomplete = true;
                }
                Err(err) => {
                    eprintln!("backscatter: {id}: {err}");
                    incomplete = true;
                }
            }
        }
    });
    Ok(if incomplete { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Prints the counts of moves since `since`.
pub fn stats(globals: &Globals, since: Option<&str>) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(globals, false)?;
    let since = since.map(journal::parse_time).transpose()?;
    let ledger = journal::read(&setup.state_dir.join(journal::FILE_NAME))?;
    print!("{}", Stats::of(&ledger, since));
    Ok(ExitCode::SUCCESS)
}
