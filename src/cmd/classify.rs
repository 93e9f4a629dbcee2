//! `backscatter classify [--json] FILE…|-`: classify messages and print what they are; moves
//! nothing. A directory means every regular file below it (Maildir `cur/` and `new/`, not
//! `tmp/`), in sorted order.

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;

use backscatter::config::Config;
use backscatter::engine::{Judged, Pipeline, SystemClock};
use backscatter::keys::{Keyring, KeyringError};
use backscatter::message::Message;
use backscatter::spf::step::Report;
use backscatter::store::read::{read_message, Read, Skip};
use backscatter::verdict::Judgement;

use super::Globals;
use crate::exit;

/// Runs the command; exit 66 (EX_NOINPUT) when any input could not be read.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    globals: &Globals,
    json: bool,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let (config, keyring) = load(globals)?;
    let keyring = keyring
        .map_err(|err| eprintln!("backscatter: {err}; nothing can be verified: every checked message is backscatter"))
        .ok();
    runtime.block_on(classify(Pipeline::new(config, keyring, Arc::new(SystemClock))?, json, files))
}

async fn classify(pipeline: Pipeline, json: bool, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let max = pipeline.config().max_message_size;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut unreadable = false;
    for arg in files {
        if arg.as_os_str() == "-" {
            let mut bytes = Vec::new();
            // Bounded like a file (store::read): one more byte tells that it is too big.
            match std::io::stdin().take(max.saturating_add(1)).read_to_end(&mut bytes) {
                Ok(_) if bytes.len() as u64 > max => {
                    eprintln!("backscatter: stdin: more than max_message_size ({max} bytes); not classified — raise max_message_size to read it");
                    unreadable = true;
                }
                Ok(_) => {
                    if !emit(&mut out, "-", &pipeline.run(&Message::from(bytes), now(), None).await, json)? {
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
            match read_message(&path, max) {
                Ok(Read::Message { bytes, mtime }) => {
                    let j = pipeline.run(&Message::from(bytes), mtime, None).await;
                    if !emit(&mut out, &path.to_string_lossy(), &j, json)? {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Ok(Read::Skipped(skip @ Skip::TooBig(_))) => {
                    eprintln!(
                        "backscatter: {}: {skip} — not classified; raise max_message_size ({max} bytes) to read it",
                        path.display()
                    );
                    unreadable = true;
                }
                Ok(Read::Skipped(skip)) => {
                    eprintln!("backscatter: {}: {skip}", path.display());
                    unreadable = true;
                }
                Ok(Read::Vanished) => {
                    eprintln!("backscatter: {}: gone before it could be read", path.display());
                    unreadable = true;
                }
                Err(err) => {
                    eprintln!("backscatter: {err}");
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

/// The config and the keyring the command line asks for. A keyring that does not exist (or has
/// no place) is no error: it comes back as the inner `Err`, for the command to say that nothing
/// can be verified. A keyring that exists but cannot be used is an error.
pub fn load(globals: &Globals) -> anyhow::Result<(Config, Result<Keyring, KeyringError>)> {
    let (_, config) = backscatter::config::load_or_default(globals.config.as_deref())?;
    match super::keyring_path(globals, config.keyring.as_deref()).and_then(|p| Keyring::load(&p)) {
        Ok(keyring) => Ok((config, Ok(keyring))),
        Err(err @ (KeyringError::Missing { .. } | KeyringError::NoLocation)) => Ok((config, Err(err))),
        Err(err) => Err(err.into()),
    }
}

/// Now, in Unix seconds: the arrival time of a message read from stdin that names none.
pub fn now() -> i64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
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
fn emit(out: &mut impl Write, path: &str, judged: &Judged, json: bool) -> anyhow::Result<bool> {
    match print(out, path, &judged.judgement, judged.spf.as_ref(), json) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(err) => Err(err).context("writing to stdout"),
    }
}

/// Prints one message's judgement: a JSON line (DESIGN §5, plus `spf` when `[spf]` is on) or a
/// readable line. Never the body.
fn print(out: &mut impl Write, path: &str, j: &Judgement, spf: Option<&Report>, json: bool) -> std::io::Result<()> {
    if json {
        let mut line = j.to_json(path);
        if let Some(spf) = spf {
            line["spf"] = spf.to_json();
        }
        serde_json::to_writer(&mut *out, &line)?;
        return writeln!(out);
    }
    let c = &j.classification;
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
    if j.decision.verdict != backscatter::policy::Verdict::Ordinary {
        text.push_str(&format!(" — {} ({}): {}", j.decision.verdict, j.decision.action, j.decision.why));
    }
    writeln!(out, "{text}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use backscatter::verdict;

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
        let config = Config::default();
        let bounce =
            verdict::judge(&Message::parse(include_bytes!("../../tests/fixtures/ndr/001.eml")), 0, &[], None, &config);
        let mut out = Vec::new();
        print(&mut out, "m1", &bounce, None, true).expect("prints");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        for key in
            ["path", "kind", "reason", "permanent", "recipients", "original", "carriers", "verdict", "why", "evidence"]
        {
            assert!(v.get(key).is_some(), "{key} missing in {v}");
        }
        assert_eq!(v["kind"], "ndr");
        assert_eq!(v["verdict"], "backscatter");
        assert_eq!(v["why"], "no keyring: nothing can be verified");
        assert_eq!(v["action"], "would-move");
        assert_eq!(v["carriers"], serde_json::json!([]));
        assert_eq!(v["original"]["via"], "message/rfc822");

        let ordinary = verdict::judge(&Message::parse(b"From: a@b.example\n\nhello\n"), 0, &[], None, &config);
        let mut out = Vec::new();
        print(&mut out, "m2", &ordinary, None, true).expect("prints");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        assert_eq!((v["kind"].as_str(), v["verdict"].as_str()), (Some("ordinary"), Some("ordinary")));
        assert!(!String::from_utf8_lossy(&out).contains("hello"), "never the body");

        let mut out = Vec::new();
        print(&mut out, "m1", &bounce, None, false).expect("prints");
        assert_eq!(String::from_utf8_lossy(&out).lines().count(), 1);
        let line = String::from_utf8_lossy(&out);
        assert!(line.starts_with("m1: ndr ") && line.contains(" — backscatter (would-move): no keyring"), "{line}");
    }
}
