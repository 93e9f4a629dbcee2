//! Fuzz target: the message read once and the whole classifier on arbitrary bytes. The read
//! must agree whether the bytes are borrowed or owned, and every field name must be printable
//! ASCII; the classification must serialise, and the auto-reply tests must not panic on
//! whatever mail-parser makes of them.
//! `fuzz/run classify` (or `RUSTC_BOOTSTRAP=1 cargo fuzz run -s none classify`).
//! Built with debug assertions and overflow checks; mail-parser's assertions reach the guard in
//! `classify` (see contain.rs).
#![no_main]

#[path = "contain.rs"]
mod contain;

use backscatter::classify::{autoreply, classify};
use backscatter::message::Message;
use libfuzzer_sys::fuzz_target;
use mail_parser::MessageParser;

fuzz_target!(|data: &[u8]| {
    contain::let_mail_parser_panics_unwind();
    let message = Message::parse(data);
    let owned = Message::from(data.to_vec());
    assert_eq!(message.bytes(), owned.bytes());
    assert!(message.fields().eq(owned.fields()), "borrowed and owned reads agree");
    for field in message.fields() {
        assert!(!field.name().is_empty() && field.name().iter().all(u8::is_ascii_graphic));
        let _ = field.value();
    }
    let c = classify(&message);
    let json = serde_json::to_string(&c).expect("a classification always serialises");
    assert!(json.starts_with('{'));
    autoreply::body_hint(data);
    // A direct parse, guarded as `classify` guards its own.
    let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(data));
    if let Ok(Some(message)) = parsed {
        autoreply::detect(&message);
    }
});
