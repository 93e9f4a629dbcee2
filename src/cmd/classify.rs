//! `backscatter classify [--json] FILE…|-`: classify messages and print what they are; moves
//! nothing. A directory means every regular file below it (Maildir `cur/` and `new/`, not
//! `tmp/`), in sorted order.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use backscatter::classify::{self, Classification, Original, Reason, Recipient};

use super::Globals;
use crate::exit;

/// Why a checked message is `backscatter` until the verifier lands.
const NO_CARRIER_YET: &str = "no carrier checked yet (verification not built)";

/// One line of `--json` output (DESIGN §5).
#[derive(Serialize)]
struct Line<'a> {
    path: &'a str,
    kind: classify::Kind,
    reason: Option<Reason>,
    permanent: Option<bool>,
    recipients: &'a [Recipient],
    original: Option<&'a Original>,
    carriers: [(); 0],
    verdict: &'static str,
    why: Option<&'static str>,
    evidence: &'a [String],
}

/// Runs the command; exit 66 (EX_NOINPUT) when any input could not be read.
pub fn run(_globals: &Globals, json: bool, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut unreadable = false;
    for arg in files {
        if arg.as_os_str() == "-" {
            let mut bytes = Vec::new();
            match std::io::stdin().read_to_end(&mut bytes) {
                Ok(_) => {
                    if !emit(&mut out, "-", &classify::classify(&bytes), json)? {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Err(err) => {
                    eprintln!("backscatter: reading stdin: {err}");
                    unreadable = true;
                }
            }
            continue;
        }
        let mut paths = Vec::new();
        if collect(arg, &mut paths) > 0 {
            unreadable = true;
        }
        for path in paths {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    if !emit(&mut out, &path.to_string_lossy(), &classify::classify(&bytes), json)? {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Err(err) => {
                    eprintln!("backscatter: {}: {err}", path.display());
                    unreadable = true;
                }
            }
        }
    }
    match out.flush() {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => return Err(err).context("writing to stdout"),
        _ => {}
    }
    Ok(if unreadable { ExitCode::from(exit::NOINPUT) } else { ExitCode::SUCCESS })
}

/// `path` itself if it is not a directory, else every regular file below it, sorted; a
/// Maildir's `tmp/` (messages still being written) is skipped, and so are symbolic links to
/// directories (no loops). What cannot be read is reported on stderr and counted.
fn collect(path: &Path, into: &mut Vec<PathBuf>) -> usize {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) => return failed(path, &err),
    };
    if !meta.is_dir() {
        into.push(path.to_path_buf());
        return 0;
    }
    let listing = std::fs::read_dir(path).and_then(|d| d.map(|e| e.map(|e| e.path())).collect::<Result<Vec<_>, _>>());
    let mut entries = match listing {
        Ok(entries) => entries,
        Err(err) => return failed(path, &err),
    };
    entries.sort();
    let maildir = entries.iter().any(|e| e.file_name().is_some_and(|n| n == "cur" || n == "new"));
    let mut errors = 0;
    for entry in entries {
        let link = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink());
        if entry.is_dir() {
            let tmp = maildir && entry.file_name().is_some_and(|n| n == "tmp");
            if !tmp && !link {
                errors += collect(&entry, into);
            }
        } else if entry.is_file() {
            into.push(entry);
        }
    }
    errors
}

/// Reports a path that could not be read; counts one.
fn failed(path: &Path, err: &std::io::Error) -> usize {
    eprintln!("backscatter: {}: {err}", path.display());
    1
}

/// Prints one line; `Ok(false)` when the reader went away (`| head`): stop quietly.
fn emit(out: &mut impl Write, path: &str, c: &Classification, json: bool) -> anyhow::Result<bool> {
    match print(out, path, c, json) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(err).context("writing to stdout"),
    }
}

/// Prints one message's classification: a JSON line or a readable line. Never the body.
fn print(out: &mut impl Write, path: &str, c: &Classification, json: bool) -> std::io::Result<()> {
    let checked = c.kind.checked_by_default();
    if json {
        let line = Line {
            path,
            kind: c.kind,
            reason: c.reason,
            permanent: c.permanent,
            recipients: &c.recipients,
            original: c.original.as_ref(),
            carriers: [],
            verdict: if checked { "backscatter" } else { "ordinary" },
            why: checked.then_some(NO_CARRIER_YET),
            evidence: &c.evidence,
        };
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)?;
    } else {
        let mut text = format!("{path}: {}", c.kind);
        if let Some(reason) = c.reason.and_then(|r| serde_json::to_value(r).ok()) {
            if let Some(word) = reason.as_str() {
                text.push(' ');
                text.push_str(word);
            }
        }
        for r in c.recipients.iter().filter(|r| !r.address.is_empty()) {
            text.push(' ');
            text.push_str(&r.address);
        }
        writeln!(out, "{text}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_maildir_is_walked_sorted_without_tmp() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        for sub in ["cur", "new", "tmp", ".Sent/cur"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        for file in ["new/2", "cur/1:2,S", "tmp/partial", ".Sent/cur/3"] {
            std::fs::write(root.join(file), b"From: a@b.example\n\nhi\n").expect("write");
        }
        std::os::unix::fs::symlink(root, root.join("cur/loop")).expect("symlink");
        let mut found = Vec::new();
        assert_eq!(collect(root, &mut found), 0);
        let names: Vec<String> =
            found.iter().map(|p| p.strip_prefix(root).expect("below root").to_string_lossy().into_owned()).collect();
        assert_eq!(names, [".Sent/cur/3", "cur/1:2,S", "new/2"]);
        assert_eq!(collect(&root.join("missing"), &mut found), 1);
    }

    #[test]
    fn json_line_has_every_field_and_the_verdict() {
        let bounce = classify::classify(include_bytes!("../../tests/fixtures/ndr/001.eml"));
        let mut out = Vec::new();
        print(&mut out, "m1", &bounce, true).expect("prints");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        for key in
            ["path", "kind", "reason", "permanent", "recipients", "original", "carriers", "verdict", "why", "evidence"]
        {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["kind"], "ndr");
        assert_eq!(v["verdict"], "backscatter");
        assert_eq!(v["why"], NO_CARRIER_YET);
        assert_eq!(v["carriers"], serde_json::json!([]));
        assert_eq!(v["original"]["via"], "message/rfc822");

        let ordinary = classify::classify(b"From: a@b.example\n\nhello\n");
        let mut out = Vec::new();
        print(&mut out, "m2", &ordinary, true).expect("prints");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ordinary"), Some("ordinary")));
        assert!(!String::from_utf8_lossy(&out).contains("hello"), "never the body");

        let mut out = Vec::new();
        print(&mut out, "m1", &bounce, false).expect("prints");
        assert_eq!(String::from_utf8_lossy(&out).lines().count(), 1);
        assert!(String::from_utf8_lossy(&out).starts_with("m1: ndr "));
    }
}
