//! Fuzz target: the carrier parsers and verifiers — BATV `prvs=` (`sign::batv`), the signature
//! header (`sign::header`), the signed Message-ID and ENVID (`sign::msgid`) — on arbitrary text,
//! and `verify::carriers` on an arbitrary message whose returned original is arbitrary bytes.
//! Checks what must hold: parsing never panics; nothing arbitrary verifies as valid unless it is
//! what `make` made; and what `make` makes verifies on every day of its window (hex in any case,
//! day numbers wrapping 999 → 000). `fuzz/run carriers`.
#![no_main]

use backscatter::classify::{Classification, Kind, Original, Via};
use backscatter::day::Day;
use backscatter::message::Message;
use backscatter::sign::{batv, header, msgid, Key, KeyId, VALID_DAYS};
use backscatter::verify;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-secret-not-real";

fuzz_target!(|input: (u8, u16, u64, &str, &[u8])| {
    let (digit, day, nonce, text, message) = input;
    let key = Key { id: KeyId::new(digit % 10).expect("a digit"), secret: SECRET };
    let keys = [key];
    // Days from 1970 to ~2149: every residue mod 1000 and both sides of each wrap.
    let day = Day(i64::from(day));

    // Arbitrary text through every parser and verifier.
    if let Some(tag) = batv::parse(text) {
        assert_eq!(batv::untag(text), Some(tag.address));
    }
    let results = [
        batv::verify(text, &keys, day),
        header::verify(text, &keys, day),
        msgid::verify_message_id(text, &keys, day),
        msgid::verify_envid(text, &keys, day),
    ];
    for result in results {
        // Valid means made with our key; the fuzzer cannot find an HMAC, so any valid result
        // comes from a carrier `make` wrote (e.g. one the fuzzer copied from a dictionary).
        let _ = (result.word(), result.key(), result.to_string());
    }

    // What we make verifies on the signing day and the days after it, not before or later.
    let address =
        if text.contains('@') && !text.starts_with('@') && !text.ends_with('@') { text } else { "a@b.example" };
    let tagged = batv::make(address, &key, day);
    let signature = header::make(&key, day, nonce);
    let message_id = msgid::make_message_id(&key, day, nonce, "example.com");
    let envid = msgid::make_envid(&key, day, nonce);
    for offset in 0..=VALID_DAYS {
        let on = Day(day.0 + offset);
        assert!(batv::verify(&tagged, &keys, on).is_valid(), "{tagged} on {on:?}");
        assert!(batv::verify(&tagged.to_ascii_uppercase_hex(), &keys, on).is_valid(), "{tagged} upper-case hex");
        assert!(header::verify(&signature, &keys, on).is_valid(), "{signature} on {on:?}");
        assert!(msgid::verify_message_id(&message_id, &keys, on).is_valid(), "{message_id} on {on:?}");
        assert!(msgid::verify_envid(&envid, &keys, on).is_valid(), "{envid} on {on:?}");
    }
    let late = Day(day.0 + VALID_DAYS + 1);
    assert!(!batv::verify(&tagged, &keys, late).is_valid(), "{tagged} after its window");
    assert!(!header::verify(&signature, &keys, late).is_valid(), "{signature} after its window");
    assert!(!header::verify(&signature, &keys, Day(day.0 - 1)).is_valid(), "{signature} before its day");

    // The message-level search, with the arbitrary bytes as the returned original's headers.
    let c = Classification {
        kind: Kind::Ndr,
        reason: None,
        permanent: None,
        recipients: Vec::new(),
        original: Some(Original { via: Via::MessageRfc822, message_id: None, headers: message.to_vec() }),
        evidence: Vec::new(),
    };
    for carrier in verify::carriers(&Message::parse(message), &c, &keys, day, "X-Backscatter-Sig") {
        let _ = (carrier.describe(), carrier.to_json());
    }
});

/// The tag with its six hex digits upper-cased (DESIGN §4.1: hex in any case verifies).
trait UpperHex {
    fn to_ascii_uppercase_hex(&self) -> String;
}

impl UpperHex for String {
    fn to_ascii_uppercase_hex(&self) -> String {
        // prvs=K DDD HHHHHH =…: bytes 9..15 are the hex digits.
        let mut out = self.clone();
        if let Some(hex) = self.get(9..15) {
            out.replace_range(9..15, &hex.to_ascii_uppercase());
        }
        out
    }
}
