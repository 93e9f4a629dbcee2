//! Auto-replies (RFC 3834 and vendor forms), challenge-response requests and virus notices:
//! the signals that need more than the header fast path.

use mail_parser::Message;

use super::Kind;

/// A machine-written reply and what gave it away.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// `AutoReply`, `AutoNotice`, `Challenge` or `VirusNotice`.
    pub kind: Kind,
    pub evidence: String,
}

/// Looks for auto-reply, challenge-response and virus-notice signals in a parsed message.
pub fn detect(_message: &Message<'_>) -> Option<Detection> {
    None
}

/// Cheap test on the first ~2 KiB of the raw, undecoded body: does it read like an auto-reply?
/// Used by the header fast path to make otherwise-ordinary mail a candidate.
pub fn body_hint(_body_prefix: &[u8]) -> bool {
    false
}
