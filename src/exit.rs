//! Exit codes, in one place. sendmail's `sysexits.h` where a caller (an MTA, a Sieve filter)
//! reads them.

use std::process::ExitCode;

use backscatter::keys::KeyringError;

/// EX_USAGE: the command line was wrong.
pub const USAGE: u8 = 64;
/// EX_DATAERR: the input data was wrong.
pub const DATAERR: u8 = 65;
/// EX_NOINPUT: an input file did not exist or was unreadable.
pub const NOINPUT: u8 = 66;
/// EX_SOFTWARE: an internal error.
pub const SOFTWARE: u8 = 70;
/// EX_CANTCREAT: an output file could not be created.
pub const CANTCREAT: u8 = 73;
/// EX_IOERR: an error while doing I/O on a file.
pub const IOERR: u8 = 74;
/// EX_TEMPFAIL: try again later; a caller holding mail keeps it.
pub const TEMPFAIL: u8 = 75;
/// EX_CONFIG: the configuration (or keyring) is wrong.
pub const CONFIG: u8 = 78;

/// The exit code for an error that ended the program: the code its library error type maps
/// to, else 1.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    for cause in err.chain() {
        if let Some(err) = cause.downcast_ref::<KeyringError>() {
            return ExitCode::from(keyring(err));
        }
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
