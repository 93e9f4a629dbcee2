//! `backscatter classify …`.

use std::process::ExitCode;

use super::Globals;

pub fn run(_globals: &Globals, _json: bool, _files: &[std::path::PathBuf]) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
