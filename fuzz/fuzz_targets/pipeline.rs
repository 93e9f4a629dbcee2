//! Fuzz target: the whole pure pipeline (`Pipeline::judge`: classify → verify → policy) on
//! arbitrary bytes, with the default config and a fixed keyring, in monitor and enforce mode.
//! Checks what must hold for any input: the judgement serialises, and a `genuine` verdict is
//! backed by a valid carrier (the default config has no `own_relays`), so no crafted input turns
//! a forged bounce genuine. `fuzz/run pipeline`.
#![no_main]

#[path = "contain.rs"]
mod contain;

use std::path::Path;
use std::sync::Arc;

use backscatter::config::{Config, Mode};
use backscatter::engine::clock::FixedClock;
use backscatter::engine::Pipeline;
use backscatter::keys::Keyring;
use backscatter::message::Message;
use backscatter::policy::Verdict;
use libfuzzer_sys::fuzz_target;

/// Key 4, created long before any arrival day the inputs can name.
const KEYRING: &str = "[[key]]\nid = 4\ncreated = \"2001-01-01\"\nsecret = \"fuzz-secret-not-real\"\n";

fn pipelines() -> &'static [Pipeline; 2] {
    static PIPELINES: std::sync::OnceLock<[Pipeline; 2]> = std::sync::OnceLock::new();
    PIPELINES.get_or_init(|| {
        let make = |mode| {
            let mut config = Config::default();
            config.policy.mode = mode;
            let keyring = Keyring::parse(Path::new("fuzz-keyring.toml"), KEYRING).expect("the fixed keyring parses");
            Pipeline::new(config, Some(keyring), Arc::new(FixedClock(0))).expect("no SPF service to start")
        };
        [make(Mode::Monitor), make(Mode::Enforce)]
    })
}

fuzz_target!(|data: &[u8]| {
    contain::let_mail_parser_panics_unwind();
    for pipeline in pipelines() {
        // No Sent index: only a carrier can make a message genuine here.
        let judgement = pipeline.judge(&Message::parse(data), 1_700_000_000, None);
        let json = serde_json::to_string(&judgement.to_json("fuzz")).expect("a judgement always serialises");
        assert!(json.starts_with('{'));
        if judgement.decision.verdict == Verdict::Genuine {
            assert!(
                judgement.carriers.iter().any(|c| c.result.is_valid()),
                "genuine without a valid carrier: {}",
                judgement.decision.why
            );
        }
    }
});
