//! Non-standard bounce formats, one recogniser per MTA family, then a generic fallback.

use mail_parser::Message;

use super::Recipient;

/// What a recogniser found in a bounce that carries no (usable) RFC 3464 report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The recogniser that matched, e.g. `exim`, `qmail`, `exchange`, `generic`.
    pub mta: &'static str,
    pub recipients: Vec<Recipient>,
    /// The returned original's header block as found in the text after the MTA's marker, if any.
    pub original_headers: Option<Vec<u8>>,
}

/// Tries every recogniser on a parsed message. `None` means "not a bounce I recognise".
pub fn recognise(_message: &Message<'_>) -> Option<Bounce> {
    None
}
