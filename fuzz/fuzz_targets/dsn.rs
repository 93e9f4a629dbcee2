//! Fuzz target: the RFC 3464 / 6533 / 8098 field-block parser and its per-recipient records on
//! arbitrary bytes. `fuzz/run dsn` (or `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none dsn`).
//! Built with debug assertions and overflow checks.
#![no_main]

use backscatter::classify::dsn;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = dsn::parse(data);
    for recipient in dsn::recipients(&report) {
        dsn::permanent(&recipient);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        dsn::status_code(text);
        dsn::diagnostic(text);
        dsn::address(text);
        dsn::action(text);
    }
});
