//! One file per subcommand group: turns parsed flags into library calls and prints the result.

pub mod classify;
pub mod config;
pub mod keys;

use std::path::PathBuf;

/// The global flags every command may need.
#[derive(Debug)]
pub struct Globals {
    /// `-c FILE`, if given.
    pub config: Option<PathBuf>,
    /// `--keyring FILE`, if given.
    pub keyring: Option<PathBuf>,
}
