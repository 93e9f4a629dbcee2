//! Fuzz target: the whole classifier on arbitrary bytes must return a classification that
//! serialises, and the auto-reply tests must not panic on whatever mail-parser makes of them.
//! `fuzz/run classify` (or `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none classify`).
//! Built with debug assertions and overflow checks (mail-parser's own are off: see Cargo.toml).
#![no_main]

use backscatter::classify::{autoreply, classify};
use libfuzzer_sys::fuzz_target;
use mail_parser::MessageParser;

fuzz_target!(|data: &[u8]| {
    let c = classify(data);
    let json = serde_json::to_string(&c).expect("a classification always serialises");
    assert!(json.starts_with('{'));
    autoreply::body_hint(data);
    if let Some(message) = MessageParser::default().parse(data) {
        autoreply::detect(&message);
    }
});
