//! Exit codes, in one place. sendmail's `sysexits.h` where a caller (an MTA, a Sieve filter)
//! reads them.

use std::process::ExitCode;

use backscatter::engine::daemon::EngineError;
use backscatter::keys::KeyringError;
use backscatter::privileges::PrivilegeError;

/// EX_DATAERR: the input data was wrong.
pub const DATAERR: u8 = 65;
/// EX_NOINPUT: an input file did not exist or was unreadable.
pub const NOINPUT: u8 = 66;
/// EX_UNAVAILABLE: a service (an IMAP server) could not be reached or used.
pub const UNAVAILABLE: u8 = 69;
/// EX_SOFTWARE: an internal error.
pub const SOFTWARE: u8 = 70;
/// EX_CANTCREAT: an output file could not be created.
pub const CANTCREAT: u8 = 73;
/// EX_IOERR: an error while doing I/O on a file.
pub const IOERR: u8 = 74;
/// EX_TEMPFAIL: try again later; a caller holding mail keeps it.
pub const TEMPFAIL: u8 = 75;
/// EX_NOPERM: a server refused our credentials.
pub const NOPERM: u8 = 77;
/// EX_CONFIG: the configuration (or keyring) is wrong.
pub const CONFIG: u8 = 78;

/// The exit code for an error that ended the program: the code its library error type maps
/// to, else 1.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    // A bad or unreadable config anywhere in the chain (wrapped in `.context(…)` or not).
    if err.chain().any(|cause| cause.is::<backscatter::config::ConfigError>()) {
        return ExitCode::from(CONFIG);
    }
    if let Some(err) = err.chain().find_map(|cause| cause.downcast_ref::<KeyringError>()) {
        return ExitCode::from(keyring(err));
    }
    if let Some(err) = err.chain().find_map(|cause| cause.downcast_ref::<PrivilegeError>()) {
        return ExitCode::from(match err {
            PrivilegeError::NoSuchUser(_) => CONFIG,
            PrivilegeError::NotRoot { .. } => NOPERM,
            _ => SOFTWARE,
        });
    }
    // The journal could not be written: nothing was moved without it.
    if err.chain().any(|cause| cause.is::<backscatter::journal::JournalError>()) {
        return ExitCode::from(IOERR);
    }
    if let Some(err) = err.chain().find_map(|cause| cause.downcast_ref::<EngineError>()) {
        return ExitCode::from(match err {
            EngineError::Nothing | EngineError::Mailbox { .. } | EngineError::Listen { .. } => CONFIG,
            EngineError::Journal(_) => IOERR,
            _ => SOFTWARE,
        });
    }
    ExitCode::from(1)
}

/// A keyring problem is a configuration problem (78), except failing to create or write the
/// file (73, 74) and a bad passphrase file (66, 65).
fn keyring(err: &KeyringError) -> u8 {
    match err {
        KeyringError::Exists { .. } | KeyringError::Create { .. } => CANTCREAT,
        KeyringError::Write { .. } => IOERR,
        KeyringError::PassphraseRead { .. } => NOINPUT,
        KeyringError::PassphraseTooShort { .. } => DATAERR,
        KeyringError::Random(_) => SOFTWARE,
        _ => CONFIG,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // `ExitCode` has no `PartialEq`; its `Debug` shows the status.
    fn same(a: ExitCode, b: ExitCode) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }

    #[test]
    fn config_errors_exit_78_even_under_context() {
        let missing = || backscatter::config::ConfigError::Read {
            path: "/etc/backscatter/config.toml".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        assert!(same(code_for(&anyhow::Error::new(missing())), ExitCode::from(CONFIG)));
        let wrapped = anyhow::Error::new(missing()).context("loading the config");
        assert!(same(code_for(&wrapped), ExitCode::from(CONFIG)));
        assert!(same(code_for(&anyhow::anyhow!("something else")), ExitCode::from(1)));
        assert!(!same(ExitCode::from(CONFIG), ExitCode::from(1)), "Debug tells codes apart");
    }

    #[test]
    fn keyring_errors_exit_by_kind_even_under_context() {
        let path = std::path::PathBuf::from("/k.toml");
        let loose = anyhow::Error::new(KeyringError::Permissions { path: path.clone(), mode: 0o644 }).context("tag");
        assert!(same(code_for(&loose), ExitCode::from(CONFIG)));
        let exists = anyhow::Error::new(KeyringError::Exists { path: path.clone() });
        assert!(same(code_for(&exists), ExitCode::from(CANTCREAT)));
        let write = KeyringError::Write { path, source: std::io::Error::from(std::io::ErrorKind::StorageFull) };
        assert!(same(code_for(&anyhow::Error::new(write)), ExitCode::from(IOERR)));
    }
}
