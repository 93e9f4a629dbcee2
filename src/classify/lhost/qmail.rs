//! qmail's bounces (QSBMF, <https://cr.yp.to/proto/qsbmf.txt>) and the qmail-derived formats
//! that keep its `<address>:` paragraphs (netqmail, vpopmail, "Message from example.com").
//!
//! Format: `Hi. This is the qmail-send program at HOST.` … `I'm afraid I wasn't able to deliver
//! your message to the following addresses.` then one paragraph per recipient beginning with
//! `<address>:`, then `--- Below this line is a copy of the message.`

use super::text::{address_blocks, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Where the recipient paragraphs start (QSBMF and common variants).
const START: &[&str] = &[
    "i'm afraid i wasn't able to deliver your message to the following addresses.",
    "i was not able to deliver your message to the following addresses.",
    "unable to deliver message to the following address(es).",
    "i'm sorry, i wasn't able to deliver your message",
];

/// QSBMF §2: the returned message follows this line.
pub const ORIGINAL: &[&str] =
    &["--- below this line is a copy of the message.", "--- below this line is the original bounce."];

/// Recognises a qmail (QSBMF) bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    let fingerprint = input.has(&["this is the qmail-send program", "this is the qmail"])
        || input.has(&["--- below this line is a copy of the message."]) && input.has(START);
    if !fingerprint {
        return None;
    }
    // QSBMF §3: "This is a permanent error; I've given up." vs temporary ("I'm not going to try
    // again" is still a failure); a delay notice says it is still trying.
    let action = if input.has(&["i'll keep trying", "still trying", "this is not a permanent error"]) {
        Action::Delayed
    } else {
        Action::Failed
    };
    let section = input.section(START, ORIGINAL);
    let recipients = address_blocks(section, &[]).iter().map(|(a, d)| recipient(a, d, action)).collect();
    Some(Bounce { mta: "qmail", recipients, original_headers: input.original_after(ORIGINAL) })
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn qsbmf_paragraph() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/103.eml"), recognise).expect("qmail bounce");
        assert_eq!(b.mta, "qmail");
        assert_eq!(summary(&b), [("kijitora@example.ne.jp".to_string(), Some(Reason::UserUnknown))]);
        let headers = String::from_utf8_lossy(b.original_headers.as_deref().unwrap_or_default()).into_owned();
        assert!(headers.starts_with("Return-Path: <nekochan@example.jp>"), "{headers}");
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/111.eml"), recognise).is_none());
    }
}
