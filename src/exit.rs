//! Exit codes, in one place. sendmail's `sysexits.h` where a caller (an MTA, a Sieve filter)
//! reads them.

use std::process::ExitCode;

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
/// EX_TEMPFAIL: try again later; a caller holding mail keeps it.
pub const TEMPFAIL: u8 = 75;
/// EX_CONFIG: the configuration (or keyring) is wrong.
pub const CONFIG: u8 = 78;

/// The exit code for an error that ended the program: the code its library error type maps
/// to, else 1.
pub fn code_for(err: &anyhow::Error) -> ExitCode {
    // A bad or unreadable config anywhere in the chain (wrapped in `.context(…)` or not).
    if err.chain().any(|cause| cause.is::<backscatter::config::ConfigError>()) {
        return ExitCode::from(CONFIG);
    }
    ExitCode::from(1)
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
}
