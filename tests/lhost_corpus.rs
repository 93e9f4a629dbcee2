//! The bounce recognisers and the reason judge measured on the labelled corpus, without the
//! pipeline: recall of `lhost::recognise` on bounces that carry no `message/delivery-status`,
//! reason agreement for every labelled recipient (DSN bounces through a minimal field reader
//! here, the rest through the recognisers), and no match at all on ham.
//!
//! Messages are prepared as the pipeline does (`classify::normalise`: no mbox line, no CR-only
//! newlines). Run `cargo test --test lhost_corpus -- --nocapture` to see the figures and
//! confusion pairs.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use backscatter::classify::lhost;
use backscatter::classify::reason::{judge, Reason};
use backscatter::classify::Recipient;
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

/// The serde name of a reason, as the labels write it.
fn name(r: Reason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// Status and Diagnostic-Code of each per-recipient block of a delivery-status part, or `None`
/// when the message has no such part.
#[allow(clippy::type_complexity)]
fn dsn_records(message: &Message<'_>) -> Option<Vec<(String, Option<String>, Option<String>)>> {
    let part = message.parts.iter().find(|p| {
        p.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("message")
                && c.subtype().is_some_and(|s| s.to_ascii_lowercase().ends_with("delivery-status"))
        })
    })?;
    let body = match &part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).into_owned(),
        PartType::Text(t) => t.to_string(),
        _ => return Some(Vec::new()),
    };
    let body = body.replace("\r\n", "\n").replace('\r', "\n");
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let mut status = None;
        let mut diag: Option<String> = None;
        let mut recipient: Option<String> = None;
        let mut in_diag = false;
        for line in block.lines() {
            if line.starts_with([' ', '\t']) {
                if in_diag {
                    if let Some(d) = diag.as_mut() {
                        d.push(' ');
                        d.push_str(line.trim());
                    }
                }
                continue;
            }
            in_diag = false;
            let Some((k, v)) = line.split_once(':') else { continue };
            match k.trim().to_ascii_lowercase().as_str() {
                "final-recipient" => {
                    // Some MTAs (AOL) omit the blank line between recipient blocks.
                    if let (Some(address), true) = (recipient.take(), status.is_some()) {
                        out.push((address, status.take(), diag.take()));
                    }
                    recipient = Some(v.rsplit(';').next().unwrap_or(v).trim().to_string())
                }
                "original-recipient" if recipient.is_none() => {
                    recipient = Some(v.rsplit(';').next().unwrap_or(v).trim().to_string())
                }
                "status" => status = Some(v.trim().to_string()),
                "diagnostic-code" => {
                    diag = Some(v.trim().to_string());
                    in_diag = true;
                }
                _ => {}
            }
        }
        if let Some(address) = recipient {
            out.push((address, status, diag));
        }
    }
    Some(out)
}

#[test]
fn corpus_recall_reasons_and_ham() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let labels = fs::read_to_string(root.join("sisimai/labels.tsv")).expect("labels");
    let (mut plain, mut plain_found) = (0, 0);
    let (mut total, mut agree) = (0, 0);
    let (mut dsn_total, mut dsn_agree) = (0, 0);
    let (mut dsn_text_found, mut dsn_text_missed) = (0, Vec::new());
    let mut confusion: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut missed = Vec::new();
    let (mut variants, mut variants_found) = (0, 0);
    for row in labels.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        let (Some(path), Some(&"bounce"), Some(reasons)) = (f.first(), f.get(1), f.get(3)) else { continue };
        let raw = fs::read(root.join("sisimai").join(path)).expect("corpus file");
        let input = backscatter::message::Message::parse(&raw);
        // Contained as `classify` contains it (mail-parser's debug assertions, tests/regression.rs).
        let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(input.bytes()));
        let Some(message) = parsed.ok().flatten() else { continue };
        if f.get(12).is_some_and(|d| !d.is_empty()) {
            // A copy with other newlines (CRLF, CR only): must read the same as its original.
            if dsn_records(&message).is_none_or(|r| r.is_empty()) {
                variants += 1;
                if lhost::recognise(&message).is_some() {
                    variants_found += 1;
                } else {
                    missed.push(path.to_string());
                }
            }
            continue;
        }
        let labelled: Vec<&str> = reasons.split(',').filter(|r| !r.is_empty()).collect();
        let mut diags: Vec<String> = Vec::new();
        let got: Vec<String> = match dsn_records(&message) {
            Some(records) if !records.is_empty() => {
                let mut recipients: Vec<Recipient> = records
                    .iter()
                    .map(|(addr, s, d)| Recipient {
                        address: addr.clone(),
                        status: s.clone(),
                        diagnostic: d.clone(),
                        reason: Some(judge(s.as_deref(), d.as_deref()).0),
                        ..Recipient::default()
                    })
                    .collect();
                lhost::complete(&message, &mut recipients);
                if lhost::recognise(&message).is_some() {
                    dsn_text_found += 1;
                } else {
                    dsn_text_missed.push(path.to_string());
                }
                let got: Vec<String> = recipients.iter().map(|r| r.reason.map(name).unwrap_or_default()).collect();
                for (l, g) in labelled.iter().zip(&got) {
                    dsn_total += 1;
                    dsn_agree += usize::from(l == g);
                }
                diags = recipients.iter().map(|r| format!("{:?} {:?}", r.status, r.diagnostic)).collect();
                got
            }
            _ => {
                plain += 1;
                match lhost::recognise(&message) {
                    Some(b) => {
                        plain_found += 1;
                        diags = b
                            .recipients
                            .iter()
                            .map(|r| format!("{} {:?} {:?}", r.address, r.status, r.diagnostic))
                            .collect();
                        b.recipients.iter().map(|r| r.reason.map(name).unwrap_or_default()).collect()
                    }
                    None => {
                        missed.push(path.to_string());
                        Vec::new()
                    }
                }
            }
        };
        for (i, l) in labelled.iter().enumerate() {
            total += 1;
            let g = got.get(i).cloned().unwrap_or_else(|| "-".to_string());
            if *l == g {
                agree += 1;
            } else {
                if std::env::var_os("LHOST_DEBUG").is_some() {
                    println!("{path}: label {l} got {g}: {}", diags.get(i).map_or("", String::as_str));
                }
                confusion.entry((l.to_string(), g)).or_default().push(path.to_string());
            }
        }
    }
    let mut ham_hits = Vec::new();
    let mut parser_panics = Vec::new();
    let ham = fs::read_to_string(root.join("ham/labels.tsv")).expect("ham labels");
    for row in ham.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        let (Some(path), Some(&"not-bounce")) = (f.first(), f.get(1)) else { continue };
        let raw = fs::read(root.join("ham").join(path)).expect("ham file");
        // mail-parser 0.11 itself panics on a few malformed ham messages ("Invalid part ID"):
        // that is the pipeline's problem to contain, not the recognisers'; skip those here.
        let outcome = std::panic::catch_unwind(|| {
            let input = backscatter::message::Message::parse(&raw);
            let message = MessageParser::default().parse(input.bytes())?;
            lhost::recognise(&message).map(|b| b.mta)
        });
        match outcome {
            Ok(Some(mta)) => ham_hits.push(format!("{path} ({mta})")),
            Ok(None) => {}
            Err(_) => parser_panics.push(path.to_string()),
        }
    }
    for ((l, g), files) in &confusion {
        println!("label {l:>16} got {g:>16}  x{}  {}", files.len(), files.join(" "));
    }
    println!("missed: {}", missed.join(" "));
    println!("mail-parser panicked on: {}", parser_panics.join(" "));
    println!("ham matched: {}", ham_hits.join(" "));
    let pct = |a: usize, b: usize| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
    println!("recall (no DSN part): {plain_found}/{plain} = {:.1}%", pct(plain_found, plain));
    println!("recall on CRLF / CR-only copies (no DSN part): {variants_found}/{variants}");
    println!("DSN bounces whose text a recogniser also reads: {dsn_text_found} (not: {})", dsn_text_missed.join(" "));
    println!("reasons, DSN records: {dsn_agree}/{dsn_total} = {:.1}%", pct(dsn_agree, dsn_total));
    println!("reasons, all labelled recipients: {agree}/{total} = {:.1}%", pct(agree, total));
    assert!(ham_hits.is_empty(), "recognised ham as a bounce: {ham_hits:?}");
    // Bars: the recognisers find nearly every bounce that has no RFC 3464 part, and the reason
    // judge agrees with Sisimai's labels on at least 85% of labelled recipients.
    assert!(pct(plain_found, plain) >= 95.0, "recall below 95%");
    assert!(pct(variants_found, variants) >= 95.0, "newline variants read worse");
    assert!(pct(agree, total) >= 85.0, "reason agreement below 85%");
}
