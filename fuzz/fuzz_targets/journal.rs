//! Fuzz target: the journal reader (`journal::read`) on arbitrary bytes written to a file, the
//! ledger, `stats` and `restore`'s selection over what it read, and then the write-ahead promise:
//! an intent appended after whatever the file held (a torn last line included) reads back whole.
//! Uses one file under /dev/shm (else the temp dir) per process. `fuzz/run journal`.
#![no_main]

use std::path::PathBuf;

use backscatter::classify::Kind;
use backscatter::journal::{self, Journal, Line, Move, Place, State, Stats, Time};
use backscatter::policy::Verdict;
use libfuzzer_sys::fuzz_target;

/// This process's state dir.
fn state_dir() -> &'static PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base =
            if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let dir = base.join(format!("backscatter-fuzz-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the fuzz state dir");
        dir
    })
}

/// The intent the target appends; its id never occurs in a line the fuzzer can make whole
/// before it, because it is appended last.
fn appended() -> Line {
    let place = |name: &str| Place::Maildir { root: PathBuf::from("/m"), path: PathBuf::from(name) };
    Line::Intent(Move {
        id: "fuzz-appended".to_owned(),
        time: Time(1_700_000_000),
        from: place("/m/new/1"),
        to: place("/m/.Backscatter/cur/1"),
        message_id: None,
        kind: Kind::Ndr,
        reason: None,
        verdict: Verdict::Backscatter,
        why: "fuzz".to_owned(),
    })
}

fuzz_target!(|data: &[u8]| {
    let dir = state_dir();
    let path = dir.join(journal::FILE_NAME);
    std::fs::write(&path, data).expect("writing the fuzz journal");

    let ledger = journal::read(&path).expect("a readable file always reads");
    let stats = Stats::of(&ledger, None);
    assert!(stats.moves as usize <= ledger.records().len());
    let _ = Stats::of(&ledger, Some(1_700_000_000));
    let _ = ledger.unfinished().count();
    let _ = ledger.restorable(&[], None);
    let _ = ledger.restored_maildir_messages();
    for record in ledger.records() {
        let _ = (record.intent.from.to_string(), record.intent.to.mailbox(), record.landed());
    }

    // No journal line is lost to what came before it.
    let mut journal = Journal::open(dir).expect("opening the fuzz journal");
    journal.append(&[appended()]).expect("appending to the fuzz journal");
    let after = journal.ledger().expect("reading the fuzz journal");
    let last = after.records().last().expect("the appended intent is read");
    assert_eq!(last.intent.id, "fuzz-appended");
    assert_eq!(last.state, State::Unfinished);
    assert_eq!(after.records().len(), ledger.records().len() + 1);
});
