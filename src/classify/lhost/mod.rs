//! Non-standard bounce formats, one recogniser per MTA family, then a generic fallback.
//!
//! Each recogniser gets the [`text::Input`] built once from the message, checks its cheap
//! fingerprint (sender, subject, a marker sentence) and returns `None` at once when it is not
//! its format. The first one that finds at least one failed recipient wins.

mod amavis;
mod courier;
mod domino;
mod dragonfly;
mod exchange;
mod exim;
mod generic;
mod gmail;
mod opensmtpd;
mod postfix;
mod qmail;
mod sendmail;
pub(crate) mod text;
mod yahoo;

use mail_parser::Message;

use super::{reason, Reason, Recipient};
use text::Input;

/// What a recogniser found in a bounce that carries no (usable) RFC 3464 report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounce {
    /// The recogniser that matched, e.g. `exim`, `qmail`, `exchange`, `generic`.
    pub mta: &'static str,
    pub recipients: Vec<Recipient>,
    /// The returned original's header block as found in the text after the MTA's marker, if any.
    pub original_headers: Option<Vec<u8>>,
}

/// A recogniser: `None` unless the input is its MTA's format and names a failed recipient.
type Recogniser = fn(&Input) -> Option<Bounce>;

/// The recognisers in the order they are tried: specific formats before looser ones.
const RECOGNISERS: &[Recogniser] = &[
    exim::recognise,
    postfix::recognise,
    qmail::recognise,
    yahoo::recognise,
    gmail::recognise,
    exchange::recognise,
    sendmail::recognise,
    courier::recognise,
    amavis::recognise,
    domino::recognise,
    dragonfly::recognise,
    opensmtpd::recognise,
    generic::recognise,
];

/// Tries every recogniser on a parsed message. `None` means "not a bounce I recognise".
///
/// Contract: the pipeline calls this only for a *bounce candidate* — a message the header fast
/// path already flagged (null or daemon sender, bounce subject, `X-Failed-Recipients`, …) that
/// has no usable RFC 3464 report. The per-MTA recognisers still check their own fingerprint, and
/// the generic fallback demands a daemon-like sender or `X-Failed-Recipients` plus bounce
/// wording, so ordinary mail that merely quotes an error is not taken for a bounce even if it
/// reaches here.
pub fn recognise(message: &Message<'_>) -> Option<Bounce> {
    let input = Input::new(message);
    RECOGNISERS.iter().find_map(|r| r(&input).filter(|b| !b.recipients.is_empty()))
}

/// Completes RFC 3464 recipients from the bounce's prose. Many MTAs put less in the
/// delivery-status part than in the text: OpenSMTPD and Domino give no `Diagnostic-Code`,
/// Postfix and Sendmail state only in the text which SMTP command drew the reply ("in reply
/// to end of DATA command", `>>> DATA`), which decides between `userunknown` and `filtered`.
/// A record without a diagnostic (or whose reason stayed `undefined`) takes the text's for the
/// same address and is judged again with its own `Status`; a `userunknown` record without an
/// x.1.x status whose text says the reply answered the message data becomes `filtered`. The pipeline calls this after
/// parsing a delivery-status part (it costs one recogniser pass).
pub fn complete(message: &Message<'_>, recipients: &mut [Recipient]) {
    let Some(bounce) = recognise(message) else { return };
    let single = recipients.len() == 1;
    for r in recipients.iter_mut() {
        // Same address; or, one recipient on each side (a pipe or file the DSN names by its
        // command line, the text by the address it was generated from).
        let text = bounce
            .recipients
            .iter()
            .find(|t| t.address.eq_ignore_ascii_case(&r.address))
            .or_else(|| (single && bounce.recipients.len() == 1).then(|| bounce.recipients.first()).flatten());
        let Some(text) = text else { continue };
        let Some(diag) = text.diagnostic.as_deref() else { continue };
        let own = r.diagnostic.as_deref().filter(|d| !d.is_empty());
        if own.is_none() || r.reason == Some(Reason::Undefined) {
            // " ; " keeps phrases from running together across the two texts.
            let combined = own.map_or_else(|| diag.to_string(), |d| format!("{d} ; {diag}"));
            let (why, _) = reason::judge(r.status.as_deref(), Some(&combined));
            if why != Reason::Undefined {
                r.reason = Some(why);
            }
        } else if r.reason == Some(Reason::UserUnknown)
            && !r.status.as_deref().is_some_and(|s| s.get(1..4) == Some(".1."))
            && reason::at_data(&diag.to_ascii_lowercase())
        {
            // An explicit x.1.x status still means the address itself is bad.
            r.reason = Some(Reason::Filtered);
        }
        if own.is_none() {
            r.diagnostic = Some(diag.to_string());
        }
        if r.remote_mta.is_none() {
            r.remote_mta.clone_from(&text.remote_mta);
        }
    }
}
