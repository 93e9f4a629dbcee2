//! `backscatter sendmail …` (or a `sendmail` symlink to backscatter): the signing drop-in
//! (DESIGN §8). Its command line is sendmail's, not ours, so it is read before clap sees it:
//! sendmail's `-v`, `-V envid` and `-c` would otherwise be taken for our `--verbose`,
//! `--version` and `--config`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use backscatter::config;
use backscatter::day::Day;
use backscatter::sendmail::{self, Context, Invocation};

use super::Globals;
use crate::exit;

/// Our global flags that may come before the `sendmail` word, and the sendmail arguments after
/// it, when `argv` is a sendmail invocation: `[-c FILE] [--config FILE] [--keyring FILE] [-v…]
/// sendmail …` (`main` puts the word in when the program is named `sendmail`). `None` for
/// anything else.
pub fn invocation(argv: &[OsString]) -> Option<Call> {
    let mut call = Call { globals: Globals { config: None, keyring: None }, verbose: 0, args: Vec::new() };
    // `mailq` and `newaliases` are links to sendmail on Debian (/usr/bin/mailq ->
    // ../sbin/sendmail), so they reach us once sendmail is our symlink: as sendmail -bp and -I.
    let program = argv.first().and_then(|a| Path::new(a).file_name()).and_then(|n| n.to_str());
    let implied = match program {
        Some("mailq") => Some("-bp"),
        Some("newaliases") => Some("-I"),
        _ => None,
    };
    if let Some(flag) = implied {
        let rest = argv.get(1..).unwrap_or(&[]).iter().cloned();
        call.args = std::iter::once(OsString::from(flag)).chain(rest).collect();
        return Some(call);
    }
    let mut i = 1;
    while let Some(arg) = argv.get(i).and_then(|a| a.to_str()) {
        let value = |i: usize| argv.get(i + 1).map(PathBuf::from);
        match arg {
            "sendmail" => {
                call.args = argv.get(i + 1..).unwrap_or(&[]).to_vec();
                return Some(call);
            }
            "-c" | "--config" => {
                call.globals.config = Some(value(i)?);
                i += 1;
            }
            "--keyring" => {
                call.globals.keyring = Some(value(i)?);
                i += 1;
            }
            "--verbose" => call.verbose = call.verbose.saturating_add(1),
            _ if arg.starts_with("--config=") => call.globals.config = arg.get(9..).map(PathBuf::from),
            _ if arg.starts_with("--keyring=") => call.globals.keyring = arg.get(10..).map(PathBuf::from),
            // Our -v, -vv…: the log level.
            _ if arg.len() > 1 && arg.get(1..).is_some_and(|vs| vs.bytes().all(|b| b == b'v')) => {
                let count = u8::try_from(arg.len() - 1).unwrap_or(u8::MAX);
                call.verbose = call.verbose.saturating_add(count);
            }
            _ if arg.starts_with("-c") => call.globals.config = arg.get(2..).map(PathBuf::from),
            _ => return None,
        }
        i += 1;
    }
    None
}

/// A sendmail invocation: our global flags given before the `sendmail` word, and sendmail's.
#[derive(Debug)]
pub struct Call {
    /// `-c FILE`, `--keyring FILE`.
    pub globals: Globals,
    /// How many `-v` (our log level).
    pub verbose: u8,
    /// sendmail's arguments, without the program name.
    pub args: Vec<OsString>,
}

/// Stamps the message and becomes the real sendmail. Returns only on failure: exit 75
/// (EX_TEMPFAIL) with one line on stderr, so the caller keeps the message.
pub fn run(globals: &Globals, args: Vec<OsString>) -> ExitCode {
    let invocation = Invocation::parse(args);
    let error = match handoff(globals, &invocation) {
        Ok(handoff) => {
            tracing::info!(program = %handoff.program.display(), "{}", handoff.summary);
            handoff.exec().to_string()
        }
        Err(err) => format!("{err:#}"),
    };
    // One line, even for a config error listing several problems.
    let error = error.replace('\n', "; ");
    eprintln!("backscatter sendmail: {error} — the message was not sent; try again later");
    ExitCode::from(exit::TEMPFAIL)
}

fn handoff(globals: &Globals, invocation: &Invocation) -> anyhow::Result<sendmail::Handoff> {
    let (_, config) = config::load_or_default(globals.config.as_deref())?;
    let keyring = super::keyring_path(globals, config.keyring.as_deref())?;
    let cx = Context { config: &config, keyring, today: today() };
    Ok(sendmail::prepare(invocation, &cx, std::io::stdin().lock())?)
}

/// The signing day: the system clock's UTC day (the only clock read here).
fn today() -> Day {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Day::from_unix_seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn sendmail_invocations_skip_clap() {
        // As `main` passes a `sendmail` symlink's argv.
        let call = invocation(&argv(&["/usr/sbin/sendmail", "sendmail", "-v", "-V", "e", "-t"])).unwrap();
        assert_eq!(call.args, argv(&["-v", "-V", "e", "-t"]));
        assert!(call.globals.config.is_none() && call.globals.keyring.is_none() && call.verbose == 0);
        let call = invocation(&argv(&["backscatter", "sendmail", "-oi", "a"])).unwrap();
        assert_eq!(call.args, argv(&["-oi", "a"]));
        let call =
            invocation(&argv(&["backscatter", "-vv", "-c", "/c.toml", "--keyring=/k", "sendmail", "-c"])).unwrap();
        assert_eq!(call.verbose, 2);
        let (g, args) = (call.globals, call.args);
        let joined = invocation(&argv(&["backscatter", "-c/j.toml", "--verbose", "sendmail"])).unwrap();
        assert_eq!((joined.globals.config.unwrap(), joined.verbose), (PathBuf::from("/j.toml"), 1));
        assert_eq!((g.config.unwrap(), g.keyring.unwrap()), (PathBuf::from("/c.toml"), PathBuf::from("/k")));
        assert_eq!(args, argv(&["-c"]));
        assert!(invocation(&argv(&["backscatter", "classify", "sendmail"])).is_none());
        assert_eq!(invocation(&argv(&["/usr/bin/mailq", "-v"])).unwrap().args, argv(&["-bp", "-v"]));
        assert_eq!(invocation(&argv(&["newaliases"])).unwrap().args, argv(&["-I"]));
        assert!(invocation(&argv(&["backscatter", "-c"])).is_none());
        assert!(invocation(&argv(&["backscatter"])).is_none());
    }
}
