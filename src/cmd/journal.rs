//! `backscatter restore [--since T] [--all] [ID…]` and `backscatter stats [--since T]`: undo
//! and count the moves recorded in the journal (DESIGN §1, §7).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::UNIX_EPOCH;

use anyhow::{bail, Context};

use backscatter::journal::{self, Entry, Journal, Restored, Stats};
use backscatter::metrics::{self, Origin, Summary};

use super::scan::Setup;
use super::Globals;

/// Puts back the chosen moves, one line each on stdout; exit 1 if an id is not a pending move
/// or a message could not be put back.
pub fn restore(globals: &Globals, since: Option<&str>, all: bool, ids: &[String]) -> anyhow::Result<ExitCode> {
    if ids.is_empty() && since.is_none() && !all {
        bail!("say which moves to undo: journal ids, --since TIME or --all");
    }
    let setup = Setup::load(globals, false)?;
    let since = since.map(journal::parse_time).transpose()?;
    let mut journal = Journal::open(&setup.state_dir)?;
    let entries = journal::read(journal.path())?;
    let chosen = journal::pending(&entries, ids, since);
    let mut incomplete = false;
    for id in ids {
        if !chosen.iter().any(|e| &e.id == id) {
            eprintln!("backscatter: {id}: no such move in the journal, or restored already");
            incomplete = true;
        }
    }
    let now = unix_now();
    for entry in chosen {
        let restored = if entry.mailbox.starts_with("imap:") {
            // A server that cannot be reached spoils only this entry, not the rest.
            match super::imap::restore(&setup.config, &mut journal, entry, now) {
                Ok(restored) => restored,
                Err(err) => {
                    eprintln!("backscatter: {err:#}");
                    incomplete = true;
                    continue;
                }
            }
        } else {
            journal::restore(&mut journal, entry, now)?
        };
        match restored {
            Restored::Restored { to, .. } => println!("restored {} {}", entry.id, to.display()),
            Restored::Occupied => {
                eprintln!("backscatter: {}: {} exists already; left as it is", entry.id, entry.from);
                incomplete = true;
            }
            Restored::Missing => {
                eprintln!("backscatter: {}: {} is no longer in the folder", entry.id, entry.to);
                incomplete = true;
            }
        }
    }
    Ok(if incomplete { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Prints the counts of moves since `since`; with `html`, writes the stats page there instead.
pub fn stats(globals: &Globals, since: Option<&str>, html: Option<&Path>) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(globals, false)?;
    let since_time = since.map(journal::parse_time).transpose()?;
    let entries = journal::read(&setup.state_dir.join(journal::FILE_NAME))?;
    let Some(html) = html else {
        print!("{}", Stats::of(&entries, since_time));
        return Ok(ExitCode::SUCCESS);
    };
    let moves = journal::page_moves(&entries, since_time, origin);
    let summary = Summary::of(moves, journal::format_time(unix_now()), since.map(str::to_owned));
    std::fs::write(html, metrics::render(&summary))
        .with_context(|| format!("writing the stats page to {}", html.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Who reported a moved message and whom it targeted, read from the message where the journal
/// says it is now (in the Backscatter folder, or back in place if restored); unknown for IMAP
/// moves and for messages deleted since.
fn origin(entry: &Entry) -> Origin {
    // The headers and the delivery-status part come first; the returned original can be large.
    const HEAD: u64 = 256 * 1024;
    if entry.mailbox.starts_with("imap:") {
        return Origin::default();
    }
    let read = |path: &str| -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        std::fs::File::open(path).ok()?.take(HEAD).read_to_end(&mut bytes).ok()?;
        Some(bytes)
    };
    read(&entry.to).or_else(|| read(&entry.from)).map_or_else(Origin::default, |bytes| Origin::of(&bytes))
}

fn unix_now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    i64::try_from(now).unwrap_or(0)
}
