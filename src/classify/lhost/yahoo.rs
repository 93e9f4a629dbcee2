//! Yahoo! Mail's bounces (`Failure Notice` from `MAILER-DAEMON@yahoo.com`): qmail-shaped
//! `<address>:` paragraphs after "Sorry, we were unable to deliver your message to the
//! following address.", then `--- Below this line is a copy of the message.`

use super::text::{address_blocks, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// Where the recipient paragraphs start.
const START: &[&str] =
    &["sorry, we were unable to deliver your message to the following address", "unable to deliver your message"];

/// Recognises a Yahoo! bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if !input.from.contains("yahoo") || !input.has(START) {
        return None;
    }
    let section = input.section(START, super::qmail::ORIGINAL);
    let recipients = address_blocks(section, &[]).iter().map(|(a, d)| recipient(a, d, Action::Failed)).collect();
    Some(Bounce { mta: "yahoo", recipients, original_headers: input.original_after(super::qmail::ORIGINAL) })
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn failure_notice() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/111.eml"), recognise).expect("Yahoo bounce");
        assert_eq!(b.mta, "yahoo");
        assert_eq!(summary(&b), [("kijitora@example.jp".to_string(), Some(Reason::UserUnknown))]);
        assert!(b.original_headers.is_some());
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/103.eml"), recognise).is_none());
    }
}
