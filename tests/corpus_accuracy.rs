//! Accuracy on the labelled real-mail corpus (`tests/corpus/`, see its README): bounce recall,
//! success DSNs, ARF reports, auto-replies, false positives on ham and reason agreement. Prints
//! every figure (run with `--nocapture`) and fails below the bars of the classifier issue.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use backscatter::classify::{classify, Classification, Kind};

/// One labelled file.
struct Label {
    path: PathBuf,
    /// The name shown in reports: `sisimai/…` or `ham/…`.
    name: String,
    kind: String,
    /// Sisimai reason names per failed recipient, in order (empty when unlabelled).
    reasons: Vec<String>,
    /// The group this file belongs to (its `dup_of`, else itself): counted once.
    group: String,
}

fn labels(set: &str) -> Vec<Label> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(set);
    let text = std::fs::read_to_string(dir.join("labels.tsv")).expect("labels.tsv is readable");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("labels.tsv has a header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (relpath, kind, reasons, dup_of) =
        (col("relpath").unwrap(), col("kind").unwrap(), col("reasons"), col("dup_of"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cells: Vec<&str> = line.split('\t').collect();
            let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).map(|c| c.trim()).unwrap_or("");
            let rel = cell(Some(relpath));
            let dup = cell(dup_of);
            Label {
                path: dir.join(rel),
                name: format!("{set}/{rel}"),
                kind: cell(Some(kind)).to_string(),
                reasons: cell(reasons).split(',').map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect(),
                group: format!("{set}/{}", if dup.is_empty() { rel } else { dup }),
            }
        })
        .collect()
}

fn reason_word(c: &Classification, i: usize) -> String {
    let reason = c.recipients.get(i).and_then(|r| r.reason).or(if i == 0 { c.reason } else { None });
    reason
        .and_then(|r| serde_json::to_value(r).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "(none)".into())
}

/// Share in percent.
fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        100.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

#[test]
fn corpus_accuracy() {
    let all: Vec<Label> = labels("sisimai").into_iter().chain(labels("ham")).collect();
    let mut results: Vec<(&Label, Classification)> = Vec::new();
    for label in &all {
        let bytes = std::fs::read(&label.path).unwrap_or_else(|e| panic!("{}: {e}", label.path.display()));
        results.push((label, classify(&bytes)));
    }

    // Bounce recall, each dup_of group once: a group counts when all its files are bounces.
    let mut groups: BTreeMap<&str, bool> = BTreeMap::new();
    let mut missed = Vec::new();
    for (label, c) in results.iter().filter(|(l, _)| l.kind == "bounce") {
        let ok = c.kind.is_bounce();
        if !ok {
            missed.push(format!("{} → {}", label.name, c.kind));
        }
        let entry = groups.entry(label.group.as_str()).or_insert(true);
        *entry &= ok;
    }
    let recalled = groups.values().filter(|ok| **ok).count();
    let recall = pct(recalled, groups.len());
    println!("bounce recall: {recalled}/{} groups = {recall:.2}%", groups.len());
    for m in &missed {
        println!("  missed bounce: {m}");
    }

    let exact = |kind: &str, want: Kind| {
        let rows: Vec<_> = results.iter().filter(|(l, _)| l.kind == kind).collect();
        let good = rows.iter().filter(|(_, c)| c.kind == want).count();
        println!("{kind}: {good}/{} as {want} = {:.1}%", rows.len(), pct(good, rows.len()));
        for (l, c) in rows.iter().filter(|(_, c)| c.kind != want) {
            println!("  {kind} missed: {} → {}", l.name, c.kind);
        }
        (good, rows.len())
    };
    let delivered = exact("delivered", Kind::Delivered);
    let feedback = exact("feedback", Kind::Feedback);
    let autoreply = exact("autoreply", Kind::AutoReply);

    // False positives: not-bounce mail classified as anything but ordinary/list.
    let ham: Vec<_> = results.iter().filter(|(l, _)| l.kind == "not-bounce").collect();
    let fps: Vec<_> = ham.iter().filter(|(_, c)| !matches!(c.kind, Kind::Ordinary | Kind::List)).collect();
    println!("false positives on not-bounce: {}/{}", fps.len(), ham.len());
    for (l, c) in &fps {
        println!("  false positive: {} → {} {:?}", l.name, c.kind, c.evidence);
    }

    // Reason agreement over labelled recipients, by position, each dup_of group once.
    let mut seen = std::collections::HashSet::new();
    let (mut agree, mut total) = (0usize, 0usize);
    let mut confusion: HashMap<(String, String), usize> = HashMap::new();
    for (label, c) in results.iter().filter(|(l, _)| l.kind == "bounce" && !l.reasons.is_empty()) {
        if !seen.insert(label.group.as_str()) {
            continue;
        }
        for (i, want) in label.reasons.iter().enumerate() {
            total += 1;
            let ours = reason_word(c, i);
            if &ours == want {
                agree += 1;
            } else {
                *confusion.entry((want.clone(), ours)).or_default() += 1;
            }
        }
    }
    let reason_pct = pct(agree, total);
    println!("reason agreement: {agree}/{total} recipients = {reason_pct:.1}%");
    let mut pairs: Vec<_> = confusion.into_iter().collect();
    pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for ((want, ours), n) in pairs.iter().take(25) {
        println!("  {want}→{ours}: {n}");
    }

    let mut failures = Vec::new();
    if recall < 99.0 {
        failures.push(format!("bounce recall {recall:.2}% < 99%"));
    }
    if delivered.0 != delivered.1 {
        failures.push("not every delivered DSN is `delivered`".to_string());
    }
    if feedback.0 != feedback.1 {
        failures.push("not every ARF report is `feedback`".to_string());
    }
    if autoreply.0 != autoreply.1 {
        failures.push("not every auto-reply is `autoreply`".to_string());
    }
    if !fps.is_empty() {
        failures.push(format!("{} false positives on ham", fps.len()));
    }
    if reason_pct < 85.0 {
        failures.push(format!("reason agreement {reason_pct:.1}% < 85%"));
    }
    assert!(failures.is_empty(), "below the bars: {}", failures.join("; "));
}
