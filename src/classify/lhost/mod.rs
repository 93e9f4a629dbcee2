//! Non-standard bounce formats, one recogniser per MTA family, then a generic fallback.
//!
//! Each recogniser gets the [`text::Input`] built once from the message, checks its cheap
//! fingerprint (sender, subject, a marker sentence) and returns `None` at once when it is not
//! its format. The first one that finds at least one failed recipient wins.
//!
//! | file | formats |
//! |---|---|
//! | `exim` | Exim 4 bounces and delay warnings; Mail.ru, MXLogic, GMX/1&1, Zoho copies |
//! | `postfix` | Postfix `bounce(8)` text ("This is the mail system at host …") |
//! | `qmail` | qmail QSBMF and its `<address>:` derivatives |
//! | `yahoo` | Yahoo! Mail "Failure Notice" |
//! | `gmail` | Gmail failures and delays without a DSN part; Google Groups refusals |
//! | `exchange` | Exchange 2003 text; Exchange 2007–2019 / Microsoft 365 administrators' section |
//! | `sendmail` | Sendmail V5/V8 text and transcript; Active!hunter, BIGLOBE copies |
//! | `courier` | Courier mail server |
//! | `amavis` | amavisd-new and other content filters' NDRs |
//! | `domino` | Domino "was not delivered to: … because:"; Lotus SMTP MTA |
//! | `dragonfly` | DragonFly Mail Agent (dma) |
//! | `opensmtpd` | OpenSMTPD |
//! | `generic` | anything else from a daemon sender: addresses near codes and bounce phrases |
//!
//! [`complete`] reads the same prose to finish RFC 3464 records that say too little.

mod amavis;
mod courier;
mod domino;
mod dragonfly;
mod exchange;
mod exim;
mod generic;
mod gmail;
mod opensmtpd;
mod postfix;
mod qmail;
mod sendmail;
pub(crate) mod text;
mod yahoo;

use mail_parser::Message;

use super::{reason, Reason, Recipient};
use text::Input;

/// What a recogniser found in a bounce that carries no (usable) RFC 3464 report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The recogniser that matched, e.g. `exim`, `qmail`, `exchange`, `generic`.
    pub mta: &'static str,
    /// Every failed (or delayed) recipient the text names, with status, diagnostic, reason and
    /// action filled as far as the text allows. Never empty in a returned `Bounce`.
    pub recipients: Vec<Recipient>,
    /// The returned original's header block as found in the text after the MTA's marker, if any.
    pub original_headers: Option<Vec<u8>>,
}

/// The name the generic fallback gives in [`Bounce::mta`].
pub const GENERIC: &str = "generic";

/// A recogniser: `None` unless the input is its MTA's format and names a failed recipient.
type Recogniser = fn(&Input) -> Option<Bounce>;

/// The recognisers in the order they are tried: specific formats before looser ones.
const RECOGNISERS: &[Recogniser] = &[
    exim::recognise,
    postfix::recognise,
    qmail::recognise,
    yahoo::recognise,
    gmail::recognise,
    exchange::recognise,
    sendmail::recognise,
    courier::recognise,
    amavis::recognise,
    domino::recognise,
    dragonfly::recognise,
    opensmtpd::recognise,
    generic::recognise,
];

/// Tries every recogniser on a parsed message. `None` means "not a bounce I recognise".
///
/// Contract: the pipeline calls this only for a *bounce candidate* — a message the header fast
/// path already flagged (null or daemon sender, bounce subject, `X-Failed-Recipients`, …) that
/// has no usable RFC 3464 report — and, through [`complete`], for the prose of a report whose
/// records need it. The per-MTA recognisers still check their own fingerprint, and the generic
/// fallback demands a daemon-like or null sender (or `X-Failed-Recipients`) plus bounce
/// wording, so ordinary mail that merely quotes an error is not taken for a bounce even if it
/// reaches here (checked against every `not-bounce` ham message in `tests/lhost_corpus.rs`).
pub fn recognise(message: &Message<'_>) -> Option<Bounce> {
    let input = Input::new(message);
    RECOGNISERS.iter().find_map(|r| r(&input).filter(|b| !b.recipients.is_empty()))
}

/// Completes RFC 3464 recipients from the bounce's prose. Many MTAs put less in the
/// delivery-status part than in the text: OpenSMTPD and Domino give no `Diagnostic-Code`,
/// Postfix and Sendmail state only in the text which SMTP command drew the reply ("in reply
/// to end of DATA command", `>>> DATA`), which decides between `userunknown` and `filtered`.
///
/// A record without a diagnostic (or whose reason stayed `undefined`) takes the text's for the
/// same address — and its specific status when the report's is missing or `x.0.0` — and is
/// judged again; a `userunknown` record without an x.1.x status whose text says the reply
/// answered the message data becomes `filtered`. Records that need none of this cost nothing:
/// the recognisers run only when one does. The pipeline calls this after parsing a
/// delivery-status part.
pub fn complete(message: &Message<'_>, recipients: &mut [Recipient]) {
    let vague = |r: &Recipient| r.status.as_deref().is_none_or(|s| s.ends_with(".0.0"));
    let needs = |r: &Recipient| {
        r.diagnostic.as_deref().is_none_or(str::is_empty)
            || r.reason.is_none_or(|x| x == Reason::Undefined)
            || r.reason == Some(Reason::UserUnknown) && r.status.as_deref().is_none_or(|s| s.get(1..4) != Some(".1."))
    };
    if !recipients.iter().any(needs) {
        return;
    }
    let Some(bounce) = recognise(message) else { return };
    let single = recipients.len() == 1;
    for r in recipients.iter_mut() {
        // Same address; or, one recipient on each side (a pipe or file the DSN names by its
        // command line, the text by the address it was generated from).
        let text = bounce
            .recipients
            .iter()
            .find(|t| t.address.eq_ignore_ascii_case(&r.address))
            .or_else(|| (single && bounce.recipients.len() == 1).then(|| bounce.recipients.first()).flatten());
        let Some(text) = text else { continue };
        let Some(diag) = text.diagnostic.as_deref() else { continue };
        let own = r.diagnostic.as_deref().filter(|d| !d.is_empty());
        if own.is_none() || r.reason.is_none_or(|x| x == Reason::Undefined) {
            if vague(r) && text.status.as_deref().is_some_and(|s| !s.ends_with(".0.0")) {
                r.status.clone_from(&text.status);
            }
            // " ; " keeps phrases from running together across the two texts.
            let combined = own.map_or_else(|| diag.to_string(), |d| format!("{d} ; {diag}"));
            let (why, _) = reason::judge(r.status.as_deref(), Some(&combined));
            if why != Reason::Undefined || r.reason.is_none() {
                r.reason = Some(why);
            }
        } else if r.reason == Some(Reason::UserUnknown)
            && r.status.as_deref().is_none_or(|s| s.get(1..4) != Some(".1."))
            && reason::at_data(&diag.to_ascii_lowercase())
        {
            r.reason = Some(Reason::Filtered);
        }
        if own.is_none() {
            r.diagnostic = Some(diag.to_string());
        }
        if r.remote_mta.is_none() {
            r.remote_mta.clone_from(&text.remote_mta);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::classify::Action;
    use mail_parser::MessageParser;

    /// Every lhost fixture (tests/fixtures/ndr/1NN.eml), for the property tests.
    const FIXTURES: &[&[u8]] = &[
        include_bytes!("../../../tests/fixtures/ndr/100.eml"),
        include_bytes!("../../../tests/fixtures/ndr/101.eml"),
        include_bytes!("../../../tests/fixtures/ndr/102.eml"),
        include_bytes!("../../../tests/fixtures/ndr/103.eml"),
        include_bytes!("../../../tests/fixtures/ndr/104.eml"),
        include_bytes!("../../../tests/fixtures/ndr/105.eml"),
        include_bytes!("../../../tests/fixtures/ndr/106.eml"),
        include_bytes!("../../../tests/fixtures/ndr/107.eml"),
        include_bytes!("../../../tests/fixtures/ndr/108.eml"),
        include_bytes!("../../../tests/fixtures/ndr/109.eml"),
        include_bytes!("../../../tests/fixtures/ndr/110.eml"),
        include_bytes!("../../../tests/fixtures/ndr/111.eml"),
        include_bytes!("../../../tests/fixtures/ndr/112.eml"),
        include_bytes!("../../../tests/fixtures/ndr/113.eml"),
        include_bytes!("../../../tests/fixtures/ndr/114.eml"),
        include_bytes!("../../../tests/fixtures/ndr/115.eml"),
        include_bytes!("../../../tests/fixtures/ndr/116.eml"),
        include_bytes!("../../../tests/fixtures/ndr/117.eml"),
        include_bytes!("../../../tests/fixtures/ndr/118.eml"),
        include_bytes!("../../../tests/fixtures/ndr/119.eml"),
        include_bytes!("../../../tests/fixtures/ndr/120.eml"),
        include_bytes!("../../../tests/fixtures/ndr/121.eml"),
        include_bytes!("../../../tests/fixtures/ndr/122.eml"),
    ];

    /// Parses a fixture (dropping an mbox `From ` line) and runs one recogniser on it.
    pub(crate) fn run(raw: &[u8], recogniser: Recogniser) -> Option<Bounce> {
        let raw = match raw.strip_prefix(b"From ") {
            Some(rest) => rest.iter().position(|&b| b == b'\n').and_then(|i| rest.get(i + 1..)).unwrap_or(rest),
            None => raw,
        };
        let message = MessageParser::default().parse(raw)?;
        recogniser(&Input::new(&message)).filter(|b| !b.recipients.is_empty())
    }

    /// The addresses and reasons a bounce found, for compact assertions.
    pub(crate) fn summary(b: &Bounce) -> Vec<(String, Option<Reason>)> {
        b.recipients.iter().map(|r| (r.address.to_ascii_lowercase(), r.reason)).collect()
    }

    /// Parses with mail-parser, which itself panics on a few malformed inputs ("Invalid part
    /// ID"); the pipeline must contain that, the recognisers must not add to it.
    fn parse_then(raw: &[u8], check: impl Fn(&Message<'_>)) {
        let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(raw));
        if let Ok(Some(message)) = parsed {
            check(&message);
        }
    }

    #[test]
    fn every_fixture_is_recognised_as_failed() {
        for (n, raw) in FIXTURES.iter().enumerate() {
            let b = run(raw, |i| RECOGNISERS.iter().find_map(|r| r(i).filter(|b| !b.recipients.is_empty())));
            let b = b.unwrap_or_else(|| panic!("fixture {} not recognised", 100 + n));
            assert!(b.recipients.iter().all(|r| r.action == Some(Action::Failed)), "fixture {}", 100 + n);
        }
    }

    #[test]
    fn huge_returned_message_still_recognised() {
        // An Exim bounce returning a multi-megabyte message inline: the fingerprints read only
        // the head of the text, which is kept to a bounded size.
        let mut raw = FIXTURES[0].to_vec();
        for _ in 0..60_000 {
            raw.extend_from_slice(b"Lorem ipsum dolor sit amet, could not be delivered 550 5.1.1 x@y.example\n");
        }
        let b = run(&raw, |i| RECOGNISERS.iter().find_map(|r| r(i).filter(|b| !b.recipients.is_empty())));
        let b = b.expect("still an Exim bounce");
        assert_eq!(b.mta, "exim");
        assert_eq!(b.recipients.len(), 2);
    }

    #[test]
    fn never_panics_on_truncated_fixtures() {
        for raw in FIXTURES {
            for cut in (0..raw.len()).step_by(23) {
                let part = raw.get(..cut).unwrap_or_default();
                parse_then(part, |m| {
                    let found = recognise(m);
                    let mut rs = found.map(|b| b.recipients).unwrap_or_default();
                    complete(m, &mut rs);
                });
            }
        }
    }

    #[test]
    fn never_panics_on_random_bytes() {
        // xorshift64: deterministic noise without a dependency.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..400 {
            let len = (next() % 4096) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| (next() & 0xff) as u8).collect();
            // Half the rounds: a real bounce with random bytes spliced in, so the scanners see
            // their markers next to garbage (and split UTF-8 sequences).
            if round % 2 == 0 {
                let base = FIXTURES[round / 2 % FIXTURES.len()];
                let at = (next() as usize) % base.len().max(1);
                let mut mixed = base.get(..at).unwrap_or_default().to_vec();
                mixed.extend_from_slice(&bytes);
                mixed.extend_from_slice(base.get(at..).unwrap_or_default());
                bytes = mixed;
            }
            parse_then(&bytes, |m| {
                let _ = recognise(m);
            });
        }
    }

    #[test]
    fn text_helpers_never_panic_on_multibyte_text() {
        let text = "ü@ß.example ü 5.ü.1 550é <ä@ö.de>: ×\u{1F600}@x.y 4.4.7é";
        for i in 0..text.len() {
            if let Some(t) = text.get(i..) {
                let _ = (text::addresses_in(t), text::status_in(t), text::reply_code_in(t), text::colon_blocks(t));
                let _ = reason::judge(Some(t), Some(t));
            }
        }
    }
}
