//! Fuzz target: the whole classifier on arbitrary bytes must return a classification that
//! serialises, and the auto-reply tests must not panic on whatever mail-parser makes of them.
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run -O classify -- -max_total_time=300`
//! `-O` builds without debug assertions, as shipped: mail-parser 0.11 has a
//! `debug_assert!(false, "Invalid part ID…")` that malformed MIME reaches (harmless in release).
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
