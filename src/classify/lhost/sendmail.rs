//! Sendmail's non-DSN bounces (V5/V8 without a delivery-status part) and the formats that copy
//! them (Active!hunter, BIGLOBE, old SunOS/V5 `Returned mail: …`).
//!
//! Format: `----- The following addresses had permanent fatal errors -----` (or `… had
//! delivery problems` / `… transient non-fatal errors` for a delay), address lines, optional
//! `(reason: …)`, then `----- Transcript of session follows -----` with the SMTP dialogue
//! (`>>> RCPT To:<a>`, `<<< 550 …`, `550 <a>... User unknown`), then `----- Unsent message
//! follows -----` (or `Original message follows`).

use super::text::{address_in, address_line, recipient, reply_code_in, Input};
use super::Bounce;
use crate::classify::Action;

/// Heads of the failed-address block.
const ADDRESSES: &[&str] = &[
    "----- the following addresses had permanent fatal errors -----",
    "----- the following addresses had delivery problems -----",
    "----- the following addresses had transient non-fatal errors -----",
];

/// Head of the SMTP transcript.
const TRANSCRIPT: &[&str] = &["----- transcript of session follows -----"];

/// Other explanations some derivatives print instead of a transcript (BIGLOBE).
const INFO: &[&str] = &["----- non-delivered information -----"];

/// The returned message follows one of these.
const ORIGINAL: &[&str] = &[
    "----- unsent message follows -----",
    "----- original message follows -----",
    "------ original message follows ------",
    "----- message header follows -----",
    "----- returned message follows -----",
];

/// Lines that end every section.
fn ends() -> Vec<&'static str> {
    [ADDRESSES, TRANSCRIPT, INFO, ORIGINAL].concat()
}

/// Recognises a Sendmail-style bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if !input.has(TRANSCRIPT) && !input.has(ADDRESSES) {
        return None;
    }
    let end = ends();
    let delayed = input.has(&["transient non-fatal errors", "warning: could not send message"])
        || input.subject.starts_with("warning:");
    let action = if delayed { Action::Delayed } else { Action::Failed };
    let transcript = if input.has(TRANSCRIPT) { input.section(TRANSCRIPT, &end) } else { "" };
    let info = if input.has(INFO) { input.section(INFO, &end) } else { "" };
    // Addresses: the listed block, else the transcript's final `NNN <a>... reason` lines.
    let mut listed: Vec<(String, String)> = Vec::new();
    if input.has(ADDRESSES) {
        for line in input.section(ADDRESSES, &end).lines() {
            let t = line.trim().trim_start_matches(">>>").trim();
            if let Some(reason) = t.strip_prefix("(reason:") {
                if let Some((_, d)) = listed.last_mut() {
                    d.push_str(reason.trim_end_matches(')'));
                    d.push('\n');
                }
            } else if let Some(a) = address_line(t).or_else(|| first_word_address(t)) {
                listed.push((a, String::new()));
            }
        }
    }
    if listed.is_empty() {
        for line in transcript.lines() {
            let t = line.trim();
            if reply_code_in(t).is_some() && t.contains("... ") && !t.starts_with("<<<") {
                if let Some(a) = address_in(t.split("... ").next().unwrap_or_default()) {
                    if !listed.iter().any(|(x, _)| x.eq_ignore_ascii_case(&a)) {
                        listed.push((a, String::new()));
                    }
                }
            }
        }
    }
    let single = listed.len() == 1;
    let recipients = listed
        .iter()
        .map(|(a, reason)| {
            let mut diag = reason.clone();
            // The transcript lines about this address; a lone recipient whose address the
            // transcript never names (a refused MAIL FROM) takes the whole dialogue.
            let lines = about(transcript, a);
            diag.push_str(if single && lines.is_empty() { transcript } else { &lines });
            diag.push_str(info);
            recipient(a, &diag, action)
        })
        .collect();
    Some(Bounce { mta: "sendmail", recipients, original_headers: input.original_after(ORIGINAL) })
}

/// `kijitora@example.org <kijitora@example.org>` and similar: the first word, if an address.
fn first_word_address(t: &str) -> Option<String> {
    let first = t.split_whitespace().next()?;
    address_line(first)
}

/// The transcript lines about one address: every line naming it, with the server replies
/// (`<<<`) and the `While talking to` line just before it.
fn about(transcript: &str, addr: &str) -> String {
    let lines: Vec<&str> = transcript.lines().collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.to_ascii_lowercase().contains(&addr.to_ascii_lowercase()) {
            continue;
        }
        // Walk back over the reply lines that belong to this command.
        let mut start = i;
        while start > 0 && lines.get(start - 1).is_some_and(|l| l.trim_start().starts_with("<<<")) {
            start -= 1;
        }
        // …and the command they answer (`>>> DATA` decides userunknown vs filtered).
        if start > 0 && lines.get(start - 1).is_some_and(|l| l.trim_start().starts_with(">>>")) {
            start -= 1;
        }
        for l in lines.get(start..=i).unwrap_or_default() {
            out.push_str(l);
            out.push('\n');
        }
        // The replies after a `>>> RCPT To:<a>` line are about it too.
        for l in lines.iter().skip(i + 1).take_while(|l| l.trim_start().starts_with("<<<")) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn fatal_errors_block_with_reason() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/104.eml"), recognise).expect("sendmail bounce");
        assert_eq!(b.mta, "sendmail");
        assert_eq!(summary(&b), [("sironeko@example.com".to_string(), Some(Reason::SecurityError))]);
    }

    #[test]
    fn v5_transcript_only() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/105.eml"), recognise).expect("V5 bounce");
        assert_eq!(summary(&b), [("kijitora@example.org".to_string(), Some(Reason::UserUnknown))]);
        assert!(b.original_headers.is_some());
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/103.eml"), recognise).is_none());
    }
}
