//! `backscatter check [FILE|-]`: the filter for Sieve `execute :pipe`, procmail and maildrop.
//! Exit 0 = backscatter (file it away), 1 = keep, 75 (EX_TEMPFAIL) = could not decide (keep):
//! unreadable input, a config or keyring that cannot be used, or a checked message with no
//! keyring to verify it against. Silent unless `-v` (then one line on stderr) or undecided (then
//! the reason on stderr).

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use std::sync::Arc;

use backscatter::config::DEFAULT_MAX_MESSAGE_SIZE;
use backscatter::engine::{Pipeline, SystemClock};
use backscatter::message::Message;
use backscatter::policy::{Action, Verdict};
use backscatter::store::read::{read_message, Read};
use backscatter::verdict::Judgement;

use super::classify::{load, now};
use super::Globals;
use crate::exit;

/// Exit status: the message is backscatter and policy says move it.
const BACKSCATTER: u8 = 0;
/// Exit status: keep the message where it is.
const KEEP: u8 = 1;

/// Runs the filter on `file` (`None` or `-`: stdin). Never returns an error: anything that
/// stops a decision exits 75 with the reason on stderr, so the caller keeps the message.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    globals: &Globals,
    verbose: bool,
    file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let stdin = file.is_none_or(|f| f.as_os_str() == "-");
    let read = if stdin {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map(|_| (bytes, now()))
    } else {
        // As the stores read: no FIFO waited on, no link followed, no size without bound.
        let path = file.unwrap_or(Path::new("-"));
        match read_message(path, DEFAULT_MAX_MESSAGE_SIZE) {
            Ok(Read::Message { bytes, mtime }) => Ok((bytes, mtime)),
            Ok(Read::Skipped(skip)) => Err(std::io::Error::other(skip.to_string())),
            Ok(Read::Vanished) => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
            Err(err) => Err(std::io::Error::other(err.to_string())),
        }
    };
    let (bytes, fallback) = match read {
        Ok(read) => read,
        Err(err) => {
            let name = file.map_or("stdin".into(), |f| f.display().to_string());
            eprintln!("backscatter check: {name}: {err}; keeping the message");
            return Ok(ExitCode::from(exit::TEMPFAIL));
        }
    };
    let (config, keyring) = match load(globals) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("backscatter check: {err:#}; keeping the message");
            return Ok(ExitCode::from(exit::TEMPFAIL));
        }
    };
    let (keyring, absent) = match keyring {
        Ok(keyring) => (Some(keyring), None),
        Err(err) => (None, Some(err)),
    };
    let have_keyring = keyring.is_some();
    // The same pipeline as the stores: SPF (when on) is evidence here too.
    let judged = runtime.block_on(async {
        let pipeline = Pipeline::new(config, keyring, Arc::new(SystemClock))?;
        anyhow::Ok(pipeline.run(&Message::from(bytes), fallback, None).await)
    });
    let j = match judged {
        Ok(judged) => judged.judgement,
        Err(err) => {
            eprintln!("backscatter check: {err:#}; keeping the message");
            return Ok(ExitCode::from(exit::TEMPFAIL));
        }
    };
    let code = status(&j, have_keyring);
    if let (Some(err), true) = (absent, code == exit::TEMPFAIL || verbose) {
        // Undecided for want of a keyring: the one thing a filter's operator must hear about.
        eprintln!("backscatter check: {err}");
    }
    if verbose {
        eprintln!(
            "backscatter check: {} ({}): {} — exit {code}",
            j.decision.verdict, j.decision.action, j.decision.why
        );
    }
    Ok(ExitCode::from(code))
}

/// The exit status for a judgement: 0 only when the message is to be moved; 75 when a checked
/// message could not be verified for want of a keyring; else 1.
fn status(j: &Judgement, have_keyring: bool) -> u8 {
    match (j.decision.verdict, j.decision.action) {
        (Verdict::Backscatter, Action::Move) => BACKSCATTER,
        (Verdict::Backscatter, _) if !have_keyring => exit::TEMPFAIL,
        _ => KEEP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backscatter::config::{Config, Policy};
    use backscatter::verdict;

    const BOUNCE: &[u8] = include_bytes!("../../tests/fixtures/ndr/001.eml");

    #[test]
    fn status_follows_the_decision() {
        let config = Config::default();
        let all = Config { policy: Policy { all_bounces: true, ..Policy::default() }, ..Config::default() };
        let ordinary = verdict::judge(&Message::parse(b"From: a@b.example\n\nhello\n"), 0, &[], None, &config);
        assert_eq!(status(&ordinary, false), KEEP);
        let unverifiable = verdict::judge(&Message::parse(BOUNCE), 0, &[], None, &config);
        assert_eq!(status(&unverifiable, false), exit::TEMPFAIL);
        let attacked = verdict::judge(&Message::parse(BOUNCE), 0, &[], None, &all);
        assert_eq!(status(&attacked, false), BACKSCATTER, "{}", attacked.decision.why);
    }
}
