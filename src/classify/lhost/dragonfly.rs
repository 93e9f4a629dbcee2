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
