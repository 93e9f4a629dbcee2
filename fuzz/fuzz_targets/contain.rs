//! For the targets that parse whole messages: lets a panic raised inside mail-parser unwind to
//! the guard in `classify` (`contained_parse`), as it does in any debug build, instead of
//! aborting. libFuzzer's panic hook aborts before unwinding, so without this the guard could
//! never run under the fuzzer. Any other panic — ours, or mail-parser's escaping the guard (then
//! libfuzzer-sys's own `catch_unwind` aborts) — is still a crash.

use std::sync::Once;

/// Installs the hook once per process, in front of libFuzzer's.
pub fn let_mail_parser_panics_unwind() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let libfuzzer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info.location().is_some_and(|l| l.file().contains("/mail-parser-0.11"));
            if !in_mail_parser {
                libfuzzer(info);
            }
        }));
    });
}
