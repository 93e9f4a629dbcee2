//! The Sent index (issue 12): the memory 100,000 sent messages take (live heap bytes, counted by
//! the allocator; the limit is 10 MB), the time of a lookup, the size of the file in state_dir,
//! and the first index of a 100,000-message `\Sent` mailbox over IMAP against a real Dovecot
//! (the limit is 60 s). `cargo bench --bench sent` (release); `cargo test --all-targets` runs a
//! tiny version (2,000 messages, 500 over IMAP).

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use backscatter::evidence::file::{self, Stored};
use backscatter::evidence::imap::ImapSent;
use backscatter::evidence::index::{Record, SentIndex};
use support::Dovecot;

#[path = "common/heap.rs"]
mod heap;

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Sent message `i`: a realistic header (a client's Message-ID, a date in the last ten years, one
/// to three recipients, a subject).
fn message(i: usize) -> String {
    let day = 1 + i % 28;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][i / 28 % 12];
    let year = 2016 + i / 336 % 10;
    let mut to = format!("Friend {i} <friend{i}@example.net>");
    for k in 0..i % 3 {
        to.push_str(&format!(", colleague{}@example.org", i + k));
    }
    format!(
        "Message-ID: <{i:08x}.{:016x}@mail.example.com>\r\nDate: Mon, {day} {month} {year} 10:{:02}:00 +0100\r\nTo: {to}\r\nCc: team@example.com\r\nSubject: About item number {i}\r\n\r\nHello,\r\n\r\nsee you.\r\n",
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        i % 60
    )
}

fn memory(n: usize) {
    let before = heap::live();
    let start = Instant::now();
    let mut index = SentIndex::new();
    for i in 0..n {
        index.insert(Record::from_header(message(i).as_bytes(), 0));
    }
    let built = start.elapsed();
    let bytes = heap::live().saturating_sub(before);
    let ids: Vec<String> =
        (0..n).map(|i| format!("<{i:08x}.{:016x}@mail.example.com>", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))).collect();
    let start = Instant::now();
    let found = ids.iter().filter(|id| index.get(id).is_some()).count();
    let lookup = start.elapsed();
    assert_eq!(found, n);
    let dir = tempfile::tempdir().unwrap();
    let path = file::path(dir.path(), "bench");
    file::save(&path, &Stored { source: "bench".into(), index, cursor: Default::default() }).unwrap();
    let on_disk = std::fs::metadata(&path).unwrap().len();
    println!(
        "sent index: {n} messages in {:.2} MB of heap ({:.0} bytes each; limit 10 MB for 100,000), read and built in {:.0} ms; \
         lookup {:.0} ns (hash + probe); file {:.2} MB",
        bytes as f64 / 1e6,
        bytes as f64 / n as f64,
        built.as_secs_f64() * 1e3,
        lookup.as_secs_f64() * 1e9 / n as f64,
        on_disk as f64 / 1e6
    );
    if full() {
        assert!(bytes <= 10_000_000, "{bytes} bytes for {n} messages");
    }
}

fn imap(n: usize) {
    let extra = "namespace inbox {\n inbox = yes\n mailbox Sent {\n special_use = \\Sent\n auto = create\n }\n}\n";
    let dovecot = Dovecot::start(&[("EXTRA", extra)]);
    let sent = dovecot.maildir().join(".Sent");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(sent.join(sub)).unwrap();
    }
    for i in 0..n {
        std::fs::write(sent.join("cur").join(format!("{i}.bench:2,S")), message(i)).unwrap();
    }
    let chown = Command::new("chown").arg("-R").arg("--reference").arg(dovecot.maildir()).arg(&sent).status();
    assert!(chown.unwrap().success());
    let account = dovecot.account("bench", "alice");
    let state = tempfile::tempdir().unwrap();
    let mut index = ImapSent::open(&account, Path::new(state.path())).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let start = Instant::now();
    let added = runtime.block_on(index.refresh(0)).unwrap();
    let first = start.elapsed();
    assert_eq!(added, n);
    let start = Instant::now();
    assert_eq!(runtime.block_on(index.refresh(0)).unwrap(), 0);
    let again = start.elapsed();
    println!(
        "sent over IMAP: first index of {n} messages in {:.1} s (Dovecot building its own index included; limit 60 s \
         for 100,000), {:.0} messages/s; a refresh with nothing new {:.0} ms",
        first.as_secs_f64(),
        n as f64 / first.as_secs_f64(),
        again.as_secs_f64() * 1e3
    );
    if full() {
        assert!(first.as_secs() <= 60, "{first:?}");
    }
}

fn main() {
    let (n, over_imap) = if full() { (100_000, 100_000) } else { (2_000, 500) };
    memory(n);
    imap(over_imap);
}
