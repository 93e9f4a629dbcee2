//! The `backscatter` binary: flags, logging and exit codes; the work is in the library.

mod cli;
mod cmd;
mod exit;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let argv = argv();
    // sendmail's flags are not ours (its -v, -V envid, -c): read them before clap does.
    if let Some(call) = cmd::sendmail::invocation(&argv) {
        init_logging(call.verbose);
        return cmd::sendmail::run(&call.globals, call.args);
    }
    let cli = Cli::parse_from(argv);
    init_logging(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("backscatter: {err:#}");
            exit::code_for(&err)
        }
    }
}

/// Invoked through a `sendmail` symlink, behave as `backscatter sendmail`.
fn argv() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args.first().and_then(|a| Path::new(a).file_name()).map(|n| n.to_os_string());
    if invoked_as.is_some_and(|n| n == "sendmail") {
        args.insert(1, OsString::from("sendmail"));
    }
    args
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only for a person at a terminal; journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let verbose = cli.verbose > 0;
    let globals = cmd::Globals { config: cli.config, keyring: cli.keyring };
    // The one runtime of the process: every command that waits on the network or on mailboxes
    // runs on it (the sendmail drop-in, which only execs, does not start it).
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
    let runtime = &runtime;
    match cli.command {
        Command::Man { dir } => cmd::docs::man(dir.as_deref()),
        Command::Completions { shell } => cmd::docs::completions(shell),
        Command::Keys(keys) => cmd::keys::run(&globals, keys),
        Command::Config(config) => cmd::config::run(&globals, config),
        Command::Classify { json, files } => cmd::classify::run(runtime, &globals, json, &files),
        Command::Spf { ip, domain, helo, cache, json } => {
            cmd::spf::run(runtime, &globals, ip, domain, helo, cache, json)
        }
        Command::Check { file } => cmd::check::run(runtime, &globals, verbose, file.as_deref()),
        Command::Sendmail { args } => Ok(cmd::sendmail::run(&globals, args.into_iter().map(OsString::from).collect())),
        Command::Scan { imap: Some(account), dry_run, json, .. } => {
            cmd::imap::scan(runtime, &globals, &account, dry_run, json)
        }
        Command::Scan { dry_run, json, paths, .. } => cmd::scan::run(runtime, &globals, dry_run, json, &paths),
        Command::Restore { since, all, ids } => cmd::journal::restore(runtime, &globals, since.as_deref(), all, &ids),
        Command::Stats { since, html } => cmd::journal::stats(&globals, since.as_deref(), html.as_deref()),
        Command::Watch { shard } => cmd::watch::run(runtime, &globals, shard),
        Command::Milter => cmd::milter::run(runtime, &globals),
    }
}
