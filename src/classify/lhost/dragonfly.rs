//! DragonFly Mail Agent (dma) bounces: "This is the DragonFly Mail Agent … There was an error
//! delivering your mail to <address>." then the reason, then "Message headers follow."

use super::text::{address_in, recipient, Input};
use super::Bounce;
use crate::classify::Action;

/// The returned headers follow this line.
const ORIGINAL: &[&str] = &["message headers follow."];

/// Recognises a dma bounce.
pub fn recognise(input: &Input) -> Option<Bounce> {
    if !input.has(&["this is the dragonfly mail agent"]) {
        return None;
    }
    let (at, len) = input.find(&["there was an error delivering your mail to"])?;
    let rest = input.text.get(at + len..)?;
    let addr = address_in(rest.lines().next()?)?;
    let diag = input.section(&["there was an error delivering your mail to"], ORIGINAL);
    let diag = diag.split_once('\n').map_or("", |(_, d)| d);
    Some(Bounce {
        mta: "dragonfly",
        recipients: vec![recipient(&addr, diag, Action::Failed)],
        original_headers: input.original_after(ORIGINAL),
    })
}

#[cfg(test)]
mod tests {
    use super::recognise;
    use crate::classify::lhost::tests::{run, summary};
    use crate::classify::Reason;

    #[test]
    fn dmarc_rejection() {
        let b = run(include_bytes!("../../../tests/fixtures/ndr/117.eml"), recognise).expect("dma bounce");
        assert_eq!(b.mta, "dragonfly");
        assert_eq!(summary(&b), [("pseudo-local-part@google.example.com".to_string(), Some(Reason::AuthFailure))]);
        assert_eq!(b.recipients[0].status.as_deref(), Some("5.7.26"));
        assert!(b.original_headers.is_some());
    }

    #[test]
    fn not_other_formats() {
        assert!(run(include_bytes!("../../../tests/fixtures/ndr/100.eml"), recognise).is_none());
    }
}
