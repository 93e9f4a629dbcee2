//! `backscatter restore [--since T] [--all] [ID…]` and `backscatter stats [--since T]`: undo
//! and count the moves recorded in the journal (DESIGN §1, §7).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};

use backscatter::engine::restore::{Restored, Restorer};
use backscatter::journal::{self, Place, Record, State, Stats};
use backscatter::message::Message;
use backscatter::metrics::{self, Origin, Summary};

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
        let mut restorer = Restorer::new(&setup.config);
        for record in chosen {
            let id = &record.intent.id;
            // A server that cannot be reached spoils only this move, not the rest.
            match restorer.restore(&mover, record).await {
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
        restorer.finish().await;
    });
    Ok(if incomplete { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Prints the counts of moves since `since`; with `html`, writes the stats page there instead.
pub fn stats(globals: &Globals, since: Option<&str>, html: Option<&Path>) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(globals, false)?;
    let since_time = since.map(journal::parse_time).transpose()?;
    let journal_path = setup.state_dir.join(journal::FILE_NAME);
    let Some(html) = html else {
        print!("{}", Stats::of(&journal::read(&journal_path)?, since_time));
        return Ok(ExitCode::SUCCESS);
    };
    let page = stats_page(&journal_path, since_time, since)?;
    std::fs::write(html, page).with_context(|| format!("writing the stats page to {}", html.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// The stats page of the journal at `journal_path` (moves at or after `since`, shown on the
/// page as `since_text`), made now: what `stats --html` writes and `watch` can serve at `/`.
pub fn stats_page(journal_path: &Path, since: Option<i64>, since_text: Option<&str>) -> anyhow::Result<String> {
    let ledger = journal::read(journal_path)?;
    let moves = journal::page_moves(&ledger, since, origin);
    let summary = Summary::of(moves, journal::format_time(super::classify::now()), since_text.map(str::to_owned));
    Ok(metrics::render(&summary))
}

/// Who reported a moved message and whom it targeted, read from the message where the journal
/// says it is now (in the Backscatter folder, or back in place if restored); unknown for IMAP
/// moves and for messages deleted since.
fn origin(record: &Record) -> Origin {
    // The headers and the delivery-status part come first; the returned original can be large.
    const HEAD: u64 = 256 * 1024;
    let path = match &record.state {
        State::Done { at: Place::Maildir { path, .. } } | State::Restored { at: Place::Maildir { path, .. }, .. } => {
            path
        }
        _ => return Origin::default(),
    };
    let mut bytes = Vec::new();
    match std::fs::File::open(path).and_then(|f| f.take(HEAD).read_to_end(&mut bytes)) {
        Ok(_) => Origin::of(&Message::from(bytes)),
        Err(_) => Origin::default(),
    }
}
