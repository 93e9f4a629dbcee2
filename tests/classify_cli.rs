//! `backscatter classify` end to end: the real binary on files, a Maildir, stdin and a missing
//! file (exit 66, EX_NOINPUT, after classifying the rest).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel).to_string_lossy().into_owned()
}

fn backscatter(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_backscatter"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input).expect("stdin written");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("the binary ends");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn json_lines_for_files_and_stdin() {
    let bounce = std::fs::read(fixture("ndr/001.eml")).expect("fixture");
    let (code, out, err) =
        backscatter(&["classify", "--json", &fixture("ndr/001.eml"), "-", &fixture("list/001.eml")], Some(&bounce));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).expect("one JSON object per line")).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["kind"], "ndr");
    assert_eq!(lines[0]["verdict"], "backscatter");
    assert_eq!((lines[1]["path"].as_str(), lines[1]["kind"].as_str()), (Some("-"), Some("ndr")));
    assert_eq!((lines[2]["kind"].as_str(), lines[2]["verdict"].as_str()), (Some("list"), Some("ordinary")));
}

#[test]
fn a_missing_file_is_reported_and_exits_66() {
    let (code, out, err) = backscatter(&["classify", "/nonexistent/message", &fixture("ordinary/001.eml")], None);
    assert_eq!(code, 66);
    assert!(err.contains("/nonexistent/message"), "{err}");
    assert!(out.ends_with("ordinary/001.eml: ordinary\n"), "the rest is still classified: {out}");
}

#[test]
fn a_maildir_is_read_below_cur_and_new() {
    let dir = tempfile::tempdir().expect("temp dir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
    }
    std::fs::copy(fixture("ndr/001.eml"), dir.path().join("new/1.host")).expect("copy");
    std::fs::copy(fixture("ordinary/001.eml"), dir.path().join("cur/2.host:2,S")).expect("copy");
    std::fs::copy(fixture("ndr/002.eml"), dir.path().join("tmp/3.host")).expect("copy");
    let (code, out, _) = backscatter(&["classify", &dir.path().to_string_lossy()], None);
    assert_eq!(code, 0);
    let kinds: Vec<&str> =
        out.lines().filter_map(|l| l.split(": ").nth(1)).map(|k| k.split(' ').next().unwrap_or(k)).collect();
    assert_eq!(kinds, ["ordinary", "ndr"], "{out}");
}

/// With a keyring, the JSON line carries the carriers found, the verdict, the action and why;
/// without one, stderr says once that nothing can be verified.
#[test]
fn json_fills_carriers_and_verdict() {
    use backscatter::day::Day;
    use backscatter::keys::Keyring;
    use backscatter::sign::header;

    let dir = tempfile::tempdir().expect("temp dir");
    let keyring_path = dir.path().join("keyring.toml");
    let created = Day::from_ymd(2013, 1, 1).expect("date");
    Keyring::new(&keyring_path, created, "classify-cli-secret-0123456789".to_owned()).create().expect("keyring");
    let keyring = Keyring::load(&keyring_path).expect("loads");
    let key = keyring.signing_key().expect("key").as_key();
    let sig = header::make(&key, Day::from_ymd(2013, 10, 16).expect("date"), 5);
    let bounce = std::fs::read_to_string(fixture("ndr/001.eml")).expect("fixture");
    let signed = bounce.replacen(
        "Return-Path: <kijitora@example.org>",
        &format!("X-Backscatter-Sig: {sig}\nReturn-Path: <kijitora@example.org>"),
        1,
    );
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").expect("config");
    let (c, k) = (config.to_string_lossy().into_owned(), keyring_path.to_string_lossy().into_owned());
    let (code, out, err) = backscatter(
        &["-c", &c, "--keyring", &k, "classify", "--json", "-", &fixture("ndr/001.eml")],
        Some(signed.as_bytes()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!(lines[0]["verdict"], "genuine");
    assert_eq!(lines[0]["why"], "valid signature header in the returned original");
    assert_eq!(lines[0]["carriers"][0]["type"], "header");
    assert_eq!(lines[0]["carriers"][0]["result"], "valid");
    assert_eq!((lines[1]["verdict"].as_str(), lines[1]["action"].as_str()), (Some("backscatter"), Some("move")));

    let missing = dir.path().join("none.toml").to_string_lossy().into_owned();
    let (code, out, err) = backscatter(
        &["-c", &c, "--keyring", &missing, "classify", &fixture("ndr/001.eml"), &fixture("ndr/001.eml")],
        None,
    );
    assert_eq!(code, 0);
    assert_eq!(err.matches("nothing can be verified").count(), 1, "{err}");
    assert_eq!(out.matches("backscatter (would-move): no keyring: nothing can be verified").count(), 2, "{out}");
}
