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
