//! The dependency tree's licences, read from `cargo metadata`, each checked compatible with
//! GPL-3.0-or-later: the test fails naming every package whose licence is not (or is unknown).
//!
//! A package's `license` is an SPDX expression (`MIT OR Apache-2.0`, `(MIT OR Apache-2.0) AND
//! Unicode-3.0`, `Apache-2.0 WITH LLVM-exception`; older crates write `MIT/Apache-2.0` for OR).
//! An OR needs one compatible side (we take that one), an AND needs both. Compatible: the licences
//! the FSF lists as GPLv3-compatible (<https://www.gnu.org/licenses/license-list.html>) that occur
//! in Rust crates, plus Unicode's and CDLA-Permissive-2.0, which are permissive notice licences
//! with no condition the GPL forbids. Not compatible, among others: GPL-2.0-only, OpenSSL,
//! SSPL, the Commons Clause, and a missing licence.

use std::collections::BTreeMap;
use std::process::Command;

/// SPDX ids usable in a GPL-3.0-or-later program.
const COMPATIBLE: &[&str] = &[
    "0BSD",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSL-1.0",
    "CC0-1.0",
    "CDLA-Permissive-2.0",
    "GPL-2.0-or-later",
    "GPL-3.0",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "ISC",
    "LGPL-2.1",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "MIT",
    "MIT-0",
    "MPL-2.0",
    "NCSA",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "Unlicense",
    "Zlib",
];

/// `WITH` exceptions that only grant more (the base licence decides).
const EXCEPTIONS: &[&str] = &["LLVM-exception", "Classpath-exception-2.0"];

/// Whether the SPDX `expression` lets the code be used under GPL-3.0-or-later.
fn compatible(expression: &str) -> Result<bool, String> {
    let spaced = expression.replace('(', " ( ").replace(')', " ) ").replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut at = 0;
    let value = or(&tokens, &mut at)?;
    if at != tokens.len() {
        return Err(format!("unexpected {:?} in {expression:?}", tokens[at]));
    }
    Ok(value)
}

/// `and (OR and)*`
fn or(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let mut value = and(tokens, at)?;
    while tokens.get(*at) == Some(&"OR") {
        *at += 1;
        value |= and(tokens, at)?;
    }
    Ok(value)
}

/// `term (AND term)*`
fn and(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let mut value = term(tokens, at)?;
    while tokens.get(*at) == Some(&"AND") {
        *at += 1;
        value &= term(tokens, at)?;
    }
    Ok(value)
}

/// `( or )` or `id [WITH exception]`
fn term(tokens: &[&str], at: &mut usize) -> Result<bool, String> {
    let token = *tokens.get(*at).ok_or("an expression ends too early")?;
    *at += 1;
    if token == "(" {
        let value = or(tokens, at)?;
        if tokens.get(*at) != Some(&")") {
            return Err("an unclosed parenthesis".to_owned());
        }
        *at += 1;
        return Ok(value);
    }
    let mut value = COMPATIBLE.contains(&token);
    if tokens.get(*at) == Some(&"WITH") {
        let exception = *tokens.get(*at + 1).ok_or("WITH without an exception")?;
        value &= EXCEPTIONS.contains(&exception);
        *at += 2;
    }
    Ok(value)
}

#[test]
fn the_checker_tells_compatible_from_incompatible() {
    for ok in [
        "MIT",
        "MIT OR Apache-2.0",
        "MIT/Apache-2.0",
        "(MIT OR Apache-2.0) AND Unicode-3.0",
        "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT",
        "Apache-2.0 OR GPL-2.0-only",
        "GPL-3.0-or-later",
    ] {
        assert_eq!(compatible(ok), Ok(true), "{ok}");
    }
    for bad in ["GPL-2.0-only", "OpenSSL", "MIT AND SSPL-1.0", "(MIT OR Apache-2.0) AND Commons-Clause", "Proprietary"]
    {
        assert_eq!(compatible(bad), Ok(false), "{bad}");
    }
    assert!(compatible("MIT OR").is_err());
    assert!(compatible("(MIT").is_err());
}

#[test]
fn every_dependency_is_gpl3_compatible() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--manifest-path"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("a package list");
    assert!(packages.len() > 50, "the whole tree, not just the root: {} packages", packages.len());

    let mut by_licence: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut refused = Vec::new();
    for package in packages {
        let name =
            format!("{} {}", package["name"].as_str().unwrap_or("?"), package["version"].as_str().unwrap_or("?"));
        let Some(licence) = package["license"].as_str() else {
            refused.push(format!("{name}: no SPDX licence (license_file {})", package["license_file"]));
            continue;
        };
        match compatible(licence) {
            Ok(true) => {}
            Ok(false) => refused.push(format!("{name}: {licence}")),
            Err(err) => refused.push(format!("{name}: cannot read {licence:?}: {err}")),
        }
        by_licence.entry(licence.to_owned()).or_default().push(name);
    }
    // The list, for the record (`cargo test --test licences -- --nocapture`).
    for (licence, names) in &by_licence {
        println!("{:>4}  {licence}", names.len());
    }
    assert!(refused.is_empty(), "not compatible with GPL-3.0-or-later:\n{}", refused.join("\n"));
}
