//! `backscatter config check|describe`: validate a config file, print the annotated example.

use std::path::Path;
use std::process::ExitCode;

use backscatter::config::{self, ConfigError};

use super::Globals;
use crate::cli::ConfigCommand;

/// Runs a `config` subcommand. `check` exits 0 for a good file (or none at all, as the defaults
/// are good) and 1 after printing every problem.
pub fn run(globals: &Globals, command: ConfigCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConfigCommand::Describe => {
            print!("{}", config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check { file } => Ok(check(file.as_deref().or(globals.config.as_deref()))),
    }
}

fn check(explicit: Option<&Path>) -> ExitCode {
    let Some(path) = config::locate_from_env(explicit) else {
        println!(
            "no config file: none given with -c or $BACKSCATTER_CONFIG, and neither \
             $XDG_CONFIG_HOME/backscatter/config.toml nor /etc/backscatter/config.toml exists; \
             the defaults apply"
        );
        return ExitCode::SUCCESS;
    };
    match config::load(&path) {
        Ok(_) => {
            println!("{}: ok", path.display());
            ExitCode::SUCCESS
        }
        Err(ConfigError::Invalid { path, problems }) => {
            for problem in &problems {
                eprintln!("{}:{problem}", path.display());
            }
            let plural = if problems.len() == 1 { "" } else { "s" };
            eprintln!("{}: {} problem{plural}", path.display(), problems.len());
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
