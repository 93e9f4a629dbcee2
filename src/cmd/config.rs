//! `backscatter config …`.

use std::process::ExitCode;

use super::Globals;

pub fn run(_globals: &Globals, _command: crate::cli::ConfigCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
