//! Fuzz target: the sent log's line parser (`Entry::parse`) and the log's reader
//! (`SentLog::extend_from`) on arbitrary bytes, and the append promise: a line appended after
//! whatever a day file held (a torn last line included) is read back whole by a fresh reader.
//! Uses one state dir under /dev/shm (else the temp dir) per process. `fuzz/run sentlog`.
#![no_main]

use std::path::PathBuf;

use backscatter::day::Day;
use backscatter::evidence::sentlog::{file, Entry, SentLog};
use backscatter::sign::{Key, KeyId};
use libfuzzer_sys::fuzz_target;

const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"fuzz-secret" };
const DAY: Day = Day(20_000);

/// This process's state dir.
fn state_dir() -> &'static PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let base =
            if std::path::Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
        let dir = base.join(format!("backscatter-fuzz-sentlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the fuzz state dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    // Every line that parses writes back as itself and parses to the same entry.
    for line in data.split(|&b| b == b'\n') {
        if let Some(entry) = Entry::parse(line) {
            assert_eq!(Entry::parse(entry.line().as_bytes()).as_ref(), Some(&entry));
        }
    }
    let mut log = SentLog::new();
    let read = log.extend_from(data);
    assert!(read <= data.len() && (read == 0 || data[read - 1] == b'\n'));
    for nonce in [0, 1, u64::MAX] {
        let _ = log.get(nonce).map(|l| l.was_sent_to(&[KEY], "a@b.example"));
    }

    // No line is lost to what came before it.
    let dir = state_dir();
    let day_file = file::dir(dir).join(format!("{}.log", DAY.0));
    std::fs::create_dir_all(file::dir(dir)).expect("the fuzz sent-log dir");
    std::fs::write(&day_file, data).expect("writing the fuzz day file");
    let nonce = 0xf0f0_f0f0_f0f0_f0f0;
    let entry = Entry::new(&KEY, DAY, nonce, Some("<fuzz@example.com>"), ["a@b.example"]);
    file::append(dir, &entry).expect("appending to the fuzz day file");
    let mut reader = file::Reader::new(dir);
    reader.refresh(DAY).expect("reading the fuzz day file");
    let logged = reader.log().get(nonce).expect("the appended line is read");
    // Unless the fuzzer wrote that nonce first (the first line wins), it is ours.
    if !data.windows(16).any(|w| w == b"f0f0f0f0f0f0f0f0") {
        assert_eq!(logged.was_sent_to(&[KEY], "A@b.example"), Some(true));
    }
});
