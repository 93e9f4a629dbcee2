//! Fuzz target: the sendmail drop-in's decisions on arbitrary input — the argument parser
//! (`sendmail::args`), the argument rewrite, the BATV sender decision with an arbitrary
//! `batv_exclude` pattern, and the stamp on an arbitrary message. Checks what must hold: the
//! rewritten arguments, read again, carry our sender and the same recipients; the stamped message
//! is the original with our lines inserted, and the header we stamp verifies. `fuzz/run sendmail`.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use backscatter::config::Sign;
use backscatter::day::Day;
use backscatter::sendmail::args::{sender_address, Invocation, Mode};
use backscatter::sign::stamp::{stamp, tag_sender};
use backscatter::sign::{header, Key, KeyId};
use libfuzzer_sys::fuzz_target;

const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"fuzz-secret-not-real" };
const NEW_SENDER: &str = "prvs=0123abcdef=me@example.com";

fuzz_target!(|input: (Vec<Vec<u8>>, &str, &str, &[u8])| {
    let (args, exclude, origin, message) = input;
    let args: Vec<OsString> = args.into_iter().map(OsString::from_vec).collect();
    let invocation = Invocation::parse(args);
    let recipients = invocation.recipients().to_vec();

    if invocation.mode == Mode::Send {
        let envid = (!invocation.envid_given).then_some("bs1.envid");
        let again = Invocation::parse(invocation.rewritten(Some(NEW_SENDER), envid));
        assert_eq!(again.mode, Mode::Send, "{:?}", invocation.args);
        let sender = again.sender.as_ref().expect("a sender after the rewrite");
        assert_eq!(sender.value, NEW_SENDER, "{:?}", invocation.args);
        assert_eq!(again.recipients(), &recipients[..], "{:?}", invocation.args);
        assert!(again.envid_given);
    }

    let day = Day(20_000);
    let sign = Sign { batv_exclude: vec![exclude.to_owned()], ..Sign::default() };
    let protected = ["example.com".to_owned()];
    if let Some(sender) = &invocation.sender {
        if let Some(address) = sender_address(&sender.value) {
            let _ = tag_sender(address, &sign, &protected, Some(origin), &KEY, day).to_string();
        }
    }

    let stamped = stamp(message, &sign, "example.com", &KEY, day, 7);
    let mut out = Vec::new();
    stamped.write_to(message, &mut out).expect("writing to memory");
    assert_eq!(out.len(), message.len() + stamped.lines.len());
    assert_eq!(&out[..stamped.at], &message[..stamped.at]);
    assert_eq!(&out[stamped.at + stamped.lines.len()..], &message[stamped.at..]);
    let first = stamped.lines.split(|&b| b == b'\n').next().unwrap_or_default();
    let value = std::str::from_utf8(first).expect("our header is ASCII");
    let value = value.strip_prefix("X-Backscatter-Sig:").expect("the signature header comes first");
    assert!(header::verify(value, &[KEY], day).is_valid(), "{value}");
});
