//! Golden tests: every `tests/fixtures/<kind>/NNN.eml` is classified; the kind must equal the
//! folder name and the classification (as JSON) must equal `NNN.json` beside it.
//! `UPDATE_GOLDEN=1 cargo test --test golden` (re)writes the JSON files; review the diff.

use std::path::{Path, PathBuf};

use backscatter::classify::Classification;
use backscatter::message::Message;

/// Reads `bytes` once, as the pipeline does, and classifies them.
fn classify(bytes: &[u8]) -> Classification {
    backscatter::classify::classify(&Message::parse(bytes))
}

/// The expectation file's content for a classification: pretty JSON plus the returned header
/// block's Message-ID-bearing size (the headers themselves are not serialized).
fn render(c: &Classification) -> String {
    let mut value = serde_json::to_value(c).expect("a classification serializes");
    if let Some(original) = c.original.as_ref() {
        value["original"]["headers_len"] = serde_json::Value::from(original.headers.len());
    }
    let mut text = serde_json::to_string_pretty(&value).expect("JSON renders");
    text.push('\n');
    text
}

fn fixtures() -> Vec<(String, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out = Vec::new();
    let Ok(kinds) = std::fs::read_dir(&root) else { return out };
    for kind in kinds.flatten().filter(|e| e.path().is_dir()) {
        let name = kind.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(kind.path()).into_iter().flatten().flatten() {
            let path = file.path();
            if path.extension().is_some_and(|e| e == "eml") {
                out.push((name.clone(), path));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let cases = fixtures();
    assert!(!cases.is_empty(), "no fixtures under tests/fixtures/");
    let mut failures = Vec::new();
    for (kind, eml) in &cases {
        let bytes = std::fs::read(eml).unwrap_or_else(|e| panic!("{}: {e}", eml.display()));
        let c = classify(&bytes);
        if c.kind.as_str() != kind {
            failures.push(format!(
                "{}: kind {} (evidence {:?}), folder says {kind}",
                eml.display(),
                c.kind,
                c.evidence
            ));
        }
        let want_path = eml.with_extension("json");
        let got = render(&c);
        if update {
            std::fs::write(&want_path, &got).unwrap_or_else(|e| panic!("{}: {e}", want_path.display()));
            continue;
        }
        match std::fs::read_to_string(&want_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!("{}: expected\n{want}got\n{got}", eml.display())),
            Err(e) => failures.push(format!("{}: {e} (run with UPDATE_GOLDEN=1 to write it)", want_path.display())),
        }
    }
    println!("{} golden fixtures", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} golden fixtures differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
