//! Fuzz target: the config loader (`config::parse`: TOML → raw table → validated config, every
//! problem with its line) and the keyring parser on arbitrary text. Checks what must hold: either
//! a config or a list of problems, each naming a line inside the text; never a panic.
//! `fuzz/run config`.
#![no_main]

use std::path::Path;

use backscatter::config::{self, ConfigError};
use backscatter::keys::Keyring;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let lines = text.lines().count().max(1);
    match config::parse(text, Path::new("/etc/backscatter/config.toml"), Some(Path::new("/home/fuzz"))) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(ConfigError::Invalid { problems, .. }) => {
            assert!(!problems.is_empty(), "an invalid config names at least one problem");
            for problem in &problems {
                // A problem points into the file (line 0: about the file as a whole).
                assert!(problem.line <= lines + 1, "line {} of {lines}: {problem:?}", problem.line);
            }
        }
        Err(other) => panic!("parsing text cannot fail to read a file: {other}"),
    }
    match Keyring::parse(Path::new("/etc/backscatter/keyring.toml"), text) {
        Ok(keyring) => {
            let _ = keyring.to_toml();
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
