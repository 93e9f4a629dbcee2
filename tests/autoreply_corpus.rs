//! `autoreply::detect` and `autoreply::body_hint` over the labelled corpus: every `autoreply`
//! label found, no `not-bounce` ham called an auto-reply, auto-notice, challenge or virus notice,
//! and the body hint rarely true on ham.

use std::path::Path;

use backscatter::classify::autoreply::{body_hint, detect};
use backscatter::classify::Kind;
use mail_parser::MessageParser;

/// `(relpath, kind)` rows of a corpus `labels.tsv`.
fn labels(dir: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join("labels.tsv");
    let text = std::fs::read_to_string(&path).expect("labels.tsv readable");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split('\t');
            Some((fields.next()?.to_string(), fields.next()?.to_string()))
        })
        .collect()
}

fn read(dir: &str, relpath: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir).join(relpath);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn detect_kind(raw: &[u8]) -> Option<(Kind, String)> {
    // mail-parser 0.11 panics on a few malformed messages in debug builds ("Invalid part ID",
    // tests/regression.rs); `classify` contains that, and so does this direct call.
    let message = std::panic::catch_unwind(|| MessageParser::default().parse(raw)).ok().flatten()?;
    detect(&message).map(|d| (d.kind, d.evidence))
}

/// The raw body: everything after the first empty line (LF, CRLF or CR-only files).
fn raw_body(raw: &[u8]) -> &[u8] {
    for sep in [&b"\r\n\r\n"[..], b"\n\n", b"\r\r"] {
        if let Some(at) = raw.windows(sep.len()).position(|w| w == sep) {
            return raw.get(at + sep.len()..).unwrap_or_default();
        }
    }
    &[]
}

#[test]
fn ham_corpus_has_no_false_positives_and_finds_its_autoreplies() {
    let mut wrong = Vec::new();
    let (mut ham, mut hinted, mut autoreplies) = (0usize, 0usize, 0usize);
    for (relpath, kind) in labels("tests/corpus/ham") {
        let raw = read("tests/corpus/ham", &relpath);
        let found = detect_kind(&raw);
        match kind.as_str() {
            "not-bounce" => {
                ham += 1;
                if body_hint(raw_body(&raw)) {
                    hinted += 1;
                }
                if let Some((kind, evidence)) = found {
                    wrong.push(format!("{relpath}: ham detected as {kind:?} ({evidence})"));
                }
            }
            "autoreply" => {
                autoreplies += 1;
                if !body_hint(raw_body(&raw)) {
                    wrong.push(format!("{relpath}: autoreply without body hint"));
                }
                if found.as_ref().map(|f| f.0) != Some(Kind::AutoReply) {
                    wrong.push(format!("{relpath}: autoreply detected as {found:?}"));
                }
            }
            _ => {}
        }
    }
    let rate = hinted as f64 * 100.0 / ham.max(1) as f64;
    println!("ham: {ham} not-bounce, {autoreplies} autoreply; body_hint true on {hinted} ham ({rate:.2}%)");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(autoreplies, 2);
    assert!(ham > 2000, "corpus incomplete: {ham}");
    // The hint costs a full parse when true: it must stay rare on ordinary mail.
    assert!(rate < 3.0, "body_hint true on {rate:.2}% of ham");
}

#[test]
fn sisimai_autoreplies_are_autoreplies() {
    let mut seen = 0;
    let mut tally = std::collections::BTreeMap::new();
    for (relpath, kind) in labels("tests/corpus/sisimai") {
        let raw = read("tests/corpus/sisimai", &relpath);
        let found = detect_kind(&raw);
        match kind.as_str() {
            "autoreply" => {
                seen += 1;
                assert_eq!(found.as_ref().map(|f| f.0), Some(Kind::AutoReply), "{relpath}: {found:?}");
            }
            "not-bounce" => assert_eq!(found, None, "{relpath}"),
            // Bounces reach `detect` only when no report or recogniser claimed them; count
            // what it would say, for the record.
            _ => *tally.entry(found.map(|f| format!("{:?} {}", f.0, f.1)).unwrap_or_default()).or_insert(0) += 1,
        }
    }
    println!("sisimai non-autoreply rows by detect(): {tally:?}");
    assert_eq!(seen, 2);
}

#[test]
fn fixtures_are_detected_as_their_folder_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for (folder, kind) in [
        ("autoreply", Kind::AutoReply),
        ("auto-notice", Kind::AutoNotice),
        ("challenge", Kind::Challenge),
        ("virus-notice", Kind::VirusNotice),
    ] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(folder))
            .expect("fixture folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no fixtures in {folder}");
        for path in files {
            let raw = std::fs::read(&path).expect("fixture readable");
            let found = detect_kind(&raw);
            println!("{}: {found:?}", path.display());
            assert_eq!(found.map(|f| f.0), Some(kind), "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 13);
}
