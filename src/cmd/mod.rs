//! One file per subcommand group: turns parsed flags into library calls and prints the result.

pub mod check;
pub mod classify;
pub mod config;
pub mod docs;
pub mod imap;
pub mod journal;
pub mod keys;
pub mod milter;
pub mod scan;
pub mod sendmail;
pub mod spf;
pub mod watch;

use std::path::{Path, PathBuf};

use backscatter::keys::KeyringError;

/// The global flags every command may need.
#[derive(Debug)]
pub struct Globals {
    /// `-c FILE`, if given.
    pub config: Option<PathBuf>,
    /// `--keyring FILE`, if given.
    pub keyring: Option<PathBuf>,
}

/// The keyring file: `--keyring FILE` > `configured` (the config's `keyring`, when there is a
/// config) > `$XDG_DATA_HOME/backscatter/keyring.toml` > `$HOME/.local/share/backscatter/keyring.toml`.
pub fn keyring_path(globals: &Globals, configured: Option<&Path>) -> Result<PathBuf, KeyringError> {
    if let Some(path) = globals.keyring.as_deref().or(configured) {
        return Ok(path.to_path_buf());
    }
    backscatter::config::data_dir(|name| std::env::var_os(name))
        .map(|dir| dir.join("keyring.toml"))
        .ok_or(KeyringError::NoLocation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn globals(keyring: Option<&str>) -> Globals {
        Globals { config: None, keyring: keyring.map(PathBuf::from) }
    }

    #[test]
    fn flag_beats_config_beats_default() {
        let configured = Path::new("/etc/backscatter/keyring.toml");
        assert_eq!(keyring_path(&globals(Some("/k.toml")), Some(configured)).unwrap(), Path::new("/k.toml"));
        assert_eq!(keyring_path(&globals(None), Some(configured)).unwrap(), configured);
    }
}
