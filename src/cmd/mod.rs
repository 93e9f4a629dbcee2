//! One file per subcommand group: turns parsed flags into library calls and prints the result.

pub mod classify;
pub mod config;
pub mod keys;

use std::ffi::OsString;
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
    default_keyring_path(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME")).ok_or(KeyringError::NoLocation)
}

/// The XDG default keyring location from the two environment variables. The XDG Base
/// Directory spec says to ignore `$XDG_DATA_HOME` when it is empty or not absolute.
fn default_keyring_path(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let data_home =
        xdg_data_home.and_then(absolute).or_else(|| home.and_then(absolute).map(|home| home.join(".local/share")))?;
    Some(data_home.join("backscatter/keyring.toml"))
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

    #[test]
    fn xdg_default_and_home_fallback() {
        let d = |x: Option<&str>, h: Option<&str>| default_keyring_path(x.map(Into::into), h.map(Into::into));
        assert_eq!(d(Some("/x"), Some("/h")), Some(PathBuf::from("/x/backscatter/keyring.toml")));
        assert_eq!(d(None, Some("/h")), Some(PathBuf::from("/h/.local/share/backscatter/keyring.toml")));
        assert_eq!(d(Some(""), Some("/h")), Some(PathBuf::from("/h/.local/share/backscatter/keyring.toml")));
        assert_eq!(d(Some("rel"), Some("/h")), Some(PathBuf::from("/h/.local/share/backscatter/keyring.toml")));
        assert_eq!(d(None, None), None);
        assert_eq!(d(None, Some("")), None);
    }
}
