//! Layer 1, the header fast path: a hand-written scan of the header block that settles most mail
//! (`ordinary`, `list`) without a MIME parse, and names the signals that make the rest a
//! candidate for the full pipeline (DESIGN §5).
//!
//! The scan allocates nothing for mail without signals: names are compared in place,
//! case-insensitively, and only the few values that matter are looked at.

use super::{autoreply, fingerprints, subjects};
use crate::message::Message;

/// How much of the raw body [`autoreply::body_hint`] gets to see.
const BODY_HINT_PREFIX: usize = 2048;

/// What a report's `report-type` parameter says (RFC 6522 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportType {
    /// `delivery-status` (RFC 3464) or `global-delivery-status` (RFC 6533).
    DeliveryStatus,
    /// `disposition-notification` (RFC 8098).
    Disposition,
    /// `feedback-report` (ARF, RFC 5965).
    Feedback,
    /// Any other or a missing report type.
    Other,
}

/// RFC 3834 §5 `Auto-Submitted` values other than `no`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSubmitted {
    /// `auto-replied`: a reply to a message (vacation, bounce).
    Replied,
    /// `auto-generated`: generated without a message to reply to.
    Generated,
    /// `auto-notified` (RFC 5436, Sieve notifications).
    Notified,
    /// Some other extension value.
    Other,
}

/// The signals found in a header block. Strong ones make a candidate alone; weak ones only in
/// pairs (DESIGN §5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signals {
    /// `Content-Type: multipart/report`, with its report type.
    pub report: Option<ReportType>,
    /// `X-Failed-Recipients` (Exim).
    pub failed_recipients: bool,
    /// `X-MS-Exchange-Message-Is-Ndr` (Exchange / Microsoft 365).
    pub exchange_ndr: bool,
    /// `Auto-Submitted`, parsed; `no` is recorded as `None`.
    pub auto_submitted: Option<AutoSubmitted>,
    /// A vendor auto-reply header: `X-Autoreply`, `X-Autorespond`, `Precedence: auto_reply`,
    /// `X-Apple-Action`.
    pub autoreply_header: bool,
    /// A challenge-response system's fingerprint: its headers (TMDA, Spamarrest, Boxbe) or a
    /// From address at the vendor's domain.
    pub challenge: bool,
    /// A provider's machine-readable notification (`X-AMZ-SNS-Message-Id`: Amazon SES bounce,
    /// complaint and delivery events sent through SNS).
    pub vendor_notification: bool,
    /// Microsoft's Junk Mail Reporting Program complaint: `From: staff@hotmail.com` with a
    /// "complaint about message from" subject (no ARF MIME structure).
    pub jmrp: bool,
    /// `From: staff@hotmail.com` (half of [`Signals::jmrp`]).
    hotmail_staff: bool,
    /// A "complaint about message from" subject (half of [`Signals::jmrp`]).
    complaint_subject: bool,
    /// Weak: `Return-Path: <>` (the null sender of RFC 5321 §4.5.5).
    pub null_sender: bool,
    /// Weak: `From:` a mailer-daemon or postmaster, by address, by display name ("Mail Delivery
    /// System" at any address) or by a From with no address at all.
    pub daemon_sender: bool,
    /// Weak: `Return-Path:` names a daemon instead of being null (`<MAILER-DAEMON>`, a daemon
    /// address, or one inside an SRS rewrite): a bounce copied by IMAP, forwarded or re-sent.
    pub daemon_path: bool,
    /// Weak: `From:` a no-reply address (`no-reply@`, `noreply@`, `do-not-reply@`): a machine
    /// writes, though not necessarily a bounce.
    pub noreply_sender: bool,
    /// Weak: a bounce subject ("Undelivered Mail Returned to Sender", "Unzustellbar", …).
    pub bounce_subject: bool,
    /// The subject is a forward ("Fwd:", "Fw:", "WG:", "TR:") of a bounce subject.
    pub forwarded_subject: bool,
    /// Weak: an auto-reply subject ("Out of Office", "Abwesenheitsnotiz", …).
    pub autoreply_subject: bool,
    /// Weak: a challenge-response subject ("Please confirm your message", …).
    pub challenge_subject: bool,
    /// The raw body start looks like an auto-reply ([`autoreply::body_hint`]).
    pub body_hint: bool,
    /// The raw body start holds a bounce fingerprint ([`fingerprints::bounce_text`]): an MTA's
    /// own sentence or a non-delivery phrase.
    pub bounce_body: bool,
    /// `List-Id` or another `List-*` header (RFC 2369, RFC 2919), or `Mailing-List`.
    pub list: bool,
}

impl Signals {
    /// A strong signal is present.
    pub fn strong(&self) -> bool {
        self.report.is_some()
            || self.failed_recipients
            || self.exchange_ndr
            || self.auto_submitted.is_some()
            || self.autoreply_header
            || self.challenge
            || self.vendor_notification
            || self.jmrp
    }

    /// How many weak signals are present.
    pub fn weak(&self) -> usize {
        [
            self.null_sender || self.daemon_path,
            self.daemon_sender || self.noreply_sender,
            self.bounce_subject || self.forwarded_subject,
            self.autoreply_subject || self.challenge_subject,
        ]
        .iter()
        .filter(|s| **s)
        .count()
    }

    /// The signals say "this may be a bounce" (as opposed to only an auto-reply).
    pub fn bounce_like(&self) -> bool {
        self.report.is_some()
            || self.failed_recipients
            || self.exchange_ndr
            || self.vendor_notification
            || self.null_sender
            || self.daemon_sender
            || self.daemon_path
            || self.bounce_subject
            || self.bounce_body
    }

    /// The signals say "this may be an auto-reply or a challenge" (a null sender alone does
    /// not: RFC 3834 §3.3 asks auto-replies for one, but bounces have it too).
    /// Signs of a bounce proper (an MTA's header, sender or subject) outweigh these.
    pub fn reply_like(&self) -> bool {
        let bounce_proper = self.failed_recipients
            || self.exchange_ndr
            || self.daemon_sender
            || self.daemon_path
            || self.bounce_subject
            || self.bounce_body;
        !bounce_proper
            && (self.autoreply_header
                || self.autoreply_subject
                || self.challenge
                || self.challenge_subject
                || self.body_hint)
    }

    /// The message deserves the full pipeline: a strong signal, any sign of a bounce (one is
    /// enough: the fast path may end a message as ordinary only when nothing bounce-like is in
    /// its head or the start of its body, DESIGN §5), or two weak signals of another kind.
    pub fn candidate(&self) -> bool {
        self.strong() || self.bounce_like() || self.weak() >= 2 || self.forwarded_subject || self.body_hint
    }

    /// The signals as words for a classification's evidence, strongest first.
    pub fn evidence(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.report {
            Some(ReportType::DeliveryStatus) => out.push("report-type=delivery-status".to_string()),
            Some(ReportType::Disposition) => out.push("report-type=disposition-notification".to_string()),
            Some(ReportType::Feedback) => out.push("report-type=feedback-report".to_string()),
            Some(ReportType::Other) => out.push("multipart/report".to_string()),
            None => {}
        }
        let flags: [(bool, &str); 17] = [
            (self.failed_recipients, "X-Failed-Recipients"),
            (self.vendor_notification, "X-AMZ-SNS-Message-Id"),
            (self.jmrp, "Microsoft JMRP complaint"),
            (self.exchange_ndr, "X-MS-Exchange-Message-Is-Ndr"),
            (self.autoreply_header, "auto-reply header"),
            (self.challenge, "challenge-response header"),
            (self.null_sender, "Return-Path: <>"),
            (self.daemon_sender, "From: mailer-daemon/postmaster"),
            (self.daemon_path, "Return-Path: mailer-daemon"),
            (self.noreply_sender, "From: no-reply"),
            (self.bounce_subject, "bounce subject"),
            (self.forwarded_subject, "forwarded bounce subject"),
            (self.autoreply_subject, "auto-reply subject"),
            (self.challenge_subject, "challenge subject"),
            (self.body_hint, "auto-reply body"),
            (self.bounce_body, "bounce text"),
            (self.list, "List-* header"),
        ];
        if let Some(a) = self.auto_submitted {
            let word = match a {
                AutoSubmitted::Replied => "auto-replied",
                AutoSubmitted::Generated => "auto-generated",
                AutoSubmitted::Notified => "auto-notified",
                AutoSubmitted::Other => "other",
            };
            out.push(format!("Auto-Submitted: {word}"));
        }
        out.extend(flags.iter().filter(|(on, _)| *on).map(|(_, w)| (*w).to_string()));
        out
    }
}

/// The fast path's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FastPath {
    /// Nothing automated about it; no body parse needed.
    Ordinary,
    /// Mailing-list traffic without other signals.
    List,
    /// Worth a full parse, for these reasons.
    Candidate(Signals),
}

/// Scans the header block of a message and decides.
pub fn scan(message: &Message<'_>) -> FastPath {
    let mut signals = signals(message);
    let body = message.body();
    if signals.candidate() {
        // An auto-reply header says little against an MTA's own text (an Exim bounce carries
        // `Auto-Submitted: auto-replied` too): look, so that the text can outrank it.
        if !signals.bounce_like() {
            signals.bounce_body = fingerprints::bounce_text(body).is_some();
        }
        return FastPath::Candidate(signals);
    }
    // Only otherwise-ordinary mail pays for the body look: a bounce whose sender and subject
    // say nothing (forwarded, copied, from an unlisted daemon), or an out-of-office reply sent
    // with no auto-reply header at all.
    if fingerprints::bounce_text(body).is_some() {
        return FastPath::Candidate(Signals { bounce_body: true, ..signals });
    }
    let prefix = body.get(..BODY_HINT_PREFIX).unwrap_or(body);
    if autoreply::body_hint(prefix) {
        return FastPath::Candidate(Signals { body_hint: true, ..signals });
    }
    if signals.list {
        FastPath::List
    } else {
        FastPath::Ordinary
    }
}

/// The signals in the header block.
pub fn signals(message: &Message<'_>) -> Signals {
    let mut s = Signals::default();
    let mut subject_value = None;
    for field in message.fields() {
        let (name, value) = (field.name(), field.raw());
        if name.eq_ignore_ascii_case(b"subject") {
            subject_value = Some(value);
        } else {
            look_at(&mut s, name, value);
        }
    }
    // Every subject is read (one automaton pass; encoded words are decoded first): a bounce
    // subject alone makes a candidate.
    if let Some(value) = subject_value {
        let subject = subjects::read(value);
        s.bounce_subject = subject.bounce;
        s.forwarded_subject = subject.forwarded;
        s.autoreply_subject = subject.autoreply;
        s.challenge_subject = subject.challenge;
        s.complaint_subject = subject.complaint;
    }
    s.jmrp = s.hotmail_staff && s.complaint_subject;
    s
}

/// Updates the signals for one header field.
fn look_at(s: &mut Signals, name: &[u8], value: &[u8]) {
    let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
    let first = name.first().map(u8::to_ascii_lowercase);
    match first {
        Some(b'c') if is("content-type") => {
            let v = trim(value);
            if starts_with_ci(v, b"multipart/report") {
                s.report = Some(report_type(v));
            }
        }
        Some(b'x') => {
            if is("x-failed-recipients") {
                s.failed_recipients = true;
            } else if is("x-ms-exchange-message-is-ndr") {
                s.exchange_ndr = true;
            } else if is("x-autoreply") || is("x-autorespond") || is("x-apple-action") {
                s.autoreply_header = true;
            } else if is("x-amz-sns-message-id") {
                s.vendor_notification = true;
            } else if is("x-challenge")
                || is("x-tmda-fingerprint")
                || starts_with_ci(name, b"x-spamarrest")
                || starts_with_ci(name, b"x-boxbe")
            {
                s.challenge = true;
            }
        }
        Some(b'a') if is("auto-submitted") => s.auto_submitted = auto_submitted(value),
        Some(b'p') if is("precedence") => {
            let v = trim(value);
            if v.eq_ignore_ascii_case(b"auto_reply") || v.eq_ignore_ascii_case(b"auto-reply") {
                s.autoreply_header = true;
            }
        }
        Some(b'r') if is("return-path") => {
            s.null_sender = is_null_path(value);
            s.daemon_path = !s.null_sender && daemon_path(value);
        }
        Some(b'f') if is("from") => {
            let (daemon, noreply) = sender_kind(value);
            s.daemon_sender = daemon || is_null_path(value);
            s.noreply_sender = noreply;
            s.challenge |= CHALLENGE_DOMAINS.iter().any(|d| find_ci(value, d).is_some());
            s.hotmail_staff = find_ci(value, b"staff@hotmail.com").is_some();
        }
        Some(b'l') if starts_with_ci(name, b"list-") => s.list = true,
        Some(b'm') if is("mailing-list") => s.list = true,
        _ => {}
    }
}

/// `report-type` of a `multipart/report` Content-Type value.
fn report_type(value: &[u8]) -> ReportType {
    let Some(at) = find_ci(value, b"report-type") else {
        return ReportType::Other;
    };
    let rest = value.get(at + b"report-type".len()..).unwrap_or_default();
    let rest = trim(rest);
    let rest = rest.strip_prefix(b"=").map(trim).unwrap_or(rest);
    let rest = rest.strip_prefix(b"\"").unwrap_or(rest);
    if starts_with_ci(rest, b"delivery-status") || starts_with_ci(rest, b"global-delivery-status") {
        ReportType::DeliveryStatus
    } else if starts_with_ci(rest, b"disposition-notification") {
        ReportType::Disposition
    } else if starts_with_ci(rest, b"feedback-report") {
        ReportType::Feedback
    } else {
        ReportType::Other
    }
}

/// RFC 3834 §5: `no` means no; anything else is automated. Comments and parameters are
/// ignored (`auto-replied; owner-email="…"`).
fn auto_submitted(value: &[u8]) -> Option<AutoSubmitted> {
    let v = trim(value);
    let end = v.iter().position(|b| matches!(b, b';' | b'(' | b' ' | b'\t' | b'\r' | b'\n')).unwrap_or(v.len());
    let word = v.get(..end).unwrap_or_default();
    if word.is_empty() || word.eq_ignore_ascii_case(b"no") {
        None
    } else if word.eq_ignore_ascii_case(b"auto-replied") {
        Some(AutoSubmitted::Replied)
    } else if word.eq_ignore_ascii_case(b"auto-generated") {
        Some(AutoSubmitted::Generated)
    } else if word.eq_ignore_ascii_case(b"auto-notified") {
        Some(AutoSubmitted::Notified)
    } else {
        Some(AutoSubmitted::Other)
    }
}

/// `<>` (possibly with spaces inside, as some MTAs write it).
fn is_null_path(value: &[u8]) -> bool {
    let mut rest = value.iter().filter(|b| !b.is_ascii_whitespace());
    rest.next() == Some(&b'<') && rest.next() == Some(&b'>') && rest.next().is_none()
}

/// Local parts of the addresses bounces come from (any case).
const DAEMON_LOCALS: [&[u8]; 10] = [
    b"mailer-daemon",
    b"mailer_daemon",
    b"postmaster",
    b"mailerdaemon",
    b"mail-daemon",
    b"mdaemon",
    b"mail.delivery.system",
    b"bounce",
    b"bounces",
    // Old Sendmail (V5) and many appliances send their notices as root.
    b"root",
];

/// Display names of bounce daemons, whatever address they come with (any case).
const DAEMON_NAMES: [&[u8]; 7] = [
    b"mail delivery",
    // Trend Micro's gateway: "InterScan MSS", "InterScan Notification".
    b"interscan",
    b"mailer-daemon",
    b"mailer daemon",
    b"postmaster",
    b"mail administrator",
    b"delivery status notification",
];

/// Whether a `Return-Path` value names a daemon: `<MAILER-DAEMON>`, `<postmaster@host>`, or an
/// SRS rewrite of one (`SRS0=hash=tt=host=mailer-daemon@forwarder`).
fn daemon_path(value: &[u8]) -> bool {
    let v = trim(value);
    let v = v.strip_prefix(b"<").unwrap_or(v);
    let v = v.strip_suffix(b">").unwrap_or(v);
    let local = v.iter().rposition(|b| *b == b'@').map_or(v, |at| v.get(..at).unwrap_or_default());
    let srs = starts_with_ci(local, b"srs0=") || starts_with_ci(local, b"srs1=");
    let local = if srs { local.rsplit(|b| *b == b'=').next().unwrap_or(local) } else { local };
    DAEMON_LOCALS.iter().any(|d| local.eq_ignore_ascii_case(d))
}

/// Local parts of no-reply senders (any case).
const NOREPLY_LOCALS: [&[u8]; 4] = [b"no-reply", b"noreply", b"do-not-reply", b"donotreply"];

/// What the From address's local part says: (mailer-daemon or postmaster, no-reply). Handles
/// `MAILER-DAEMON@host (Mail Delivery System)`, `Mail Delivery Subsystem <mailer-daemon@…>`
/// and a bare `MAILER-DAEMON`. One pass, no allocation.
fn sender_kind(value: &[u8]) -> (bool, bool) {
    let delim = |b: u8| matches!(b, b'<' | b'>' | b' ' | b'\t' | b'"' | b':' | b',' | b'\r' | b'\n' | b'(' | b')');
    let is = |list: &[&[u8]], l: &[u8]| list.iter().any(|d| l.eq_ignore_ascii_case(d));
    let (mut daemon, mut noreply, mut any_at) = (false, false, false);
    for (i, b) in value.iter().enumerate() {
        if *b != b'@' {
            continue;
        }
        any_at = true;
        let head = value.get(..i).unwrap_or_default();
        let start = head.iter().rposition(|c| delim(*c)).map_or(0, |p| p + 1);
        let local = head.get(start..).unwrap_or_default();
        daemon |= is(&DAEMON_LOCALS, local) || starts_with_ci(local, b"microsoftexchange");
        noreply |= is(&NOREPLY_LOCALS, local);
    }
    // A From with no address at all ("MAILER-DAEMON", "Mail Delivery Subsystem"): no person
    // writes that.
    if !any_at {
        daemon = !trim(value).is_empty();
    }
    // The display name: before `<`, or a trailing `(comment)`.
    let name = match value.iter().position(|b| *b == b'<') {
        Some(lt) => value.get(..lt).unwrap_or_default(),
        None => value.iter().position(|b| *b == b'(').and_then(|p| value.get(p..)).unwrap_or_default(),
    };
    daemon |= DAEMON_NAMES.iter().any(|n| find_ci(name, n).is_some());
    (daemon, noreply)
}

/// Domains of challenge-response services, as they appear in the From address.
const CHALLENGE_DOMAINS: [&[u8]; 4] = [b"@spamarrest.com", b"@mailblocks.com", b"@boxbe.com", b"@digiportal.com"];

/// ASCII whitespace trimmed on both sides.
pub(crate) fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len()).is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

/// Position of `needle` in `hay`, ASCII case-insensitively.
pub(crate) fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(headers: &str) -> FastPath {
        scan(&Message::parse(format!("{headers}\r\n\r\nHello, see you tomorrow.\r\n").as_bytes()))
    }

    fn candidate(headers: &str) -> Signals {
        match decide(headers) {
            FastPath::Candidate(s) => s,
            other => panic!("{headers:?}: {other:?}, want a candidate"),
        }
    }

    const PERSON: &str = "From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: lunch";

    #[test]
    fn person_to_person_mail_is_ordinary() {
        assert_eq!(decide(PERSON), FastPath::Ordinary);
    }

    #[test]
    fn each_strong_signal_alone_makes_a_candidate() {
        for h in [
            "Content-Type: multipart/report; report-type=delivery-status; boundary=x",
            "Content-Type: multipart/report;\r\n\treport-type=\"disposition-notification\"",
            "X-Failed-Recipients: a@b.example",
            "X-MS-Exchange-Message-Is-Ndr: ",
            "Auto-Submitted: auto-replied",
            "auto-submitted: Auto-Generated (vacation)",
            "Auto-Submitted: auto-notified",
            "X-Autoreply: yes",
            "X-Autorespond: Out of office",
            "Precedence: auto_reply",
            "X-Apple-Action: vacation",
            "X-TMDA-Fingerprint: abc",
            "X-Spamarrest-noauth: 1",
            "X-Boxbe-Pending: 1",
            "x-amz-sns-message-id: 1-2-3",
            "Reply-To: x@y.example\r\nFrom: Dave <dave@SpamArrest.com>",
        ] {
            let s = candidate(&format!("{PERSON}\r\n{h}"));
            assert!(s.strong(), "{h}");
        }
    }

    #[test]
    fn report_types_are_read() {
        let rt = |v: &str| candidate(&format!("Content-Type: {v}")).report;
        assert_eq!(rt("multipart/report; report-type=delivery-status"), Some(ReportType::DeliveryStatus));
        assert_eq!(rt("Multipart/Report; Report-Type=\"global-delivery-status\""), Some(ReportType::DeliveryStatus));
        assert_eq!(rt("multipart/report; report-type=feedback-report"), Some(ReportType::Feedback));
        assert_eq!(rt("multipart/report; boundary=x"), Some(ReportType::Other));
    }

    #[test]
    fn auto_submitted_no_is_no_signal() {
        assert_eq!(decide(&format!("{PERSON}\r\nAuto-Submitted: no")), FastPath::Ordinary);
        assert_eq!(decide(&format!("{PERSON}\r\nAuto-Submitted: No (human)")), FastPath::Ordinary);
    }

    #[test]
    fn x_auto_response_suppress_alone_is_not_a_signal() {
        assert_eq!(decide(&format!("{PERSON}\r\nX-Auto-Response-Suppress: All")), FastPath::Ordinary);
    }

    #[test]
    fn precedence_bulk_alone_is_not_a_list() {
        assert_eq!(decide(&format!("{PERSON}\r\nPrecedence: bulk")), FastPath::Ordinary);
        assert_eq!(decide(&format!("{PERSON}\r\nList-Id: <x.lists.example>")), FastPath::List);
    }

    #[test]
    fn one_bounce_sign_is_enough_other_weak_signals_count_in_pairs() {
        for h in [
            "Return-Path: <>\r\nFrom: a@b.example\r\nSubject: hi",
            "From: MAILER-DAEMON@mx.example\r\nSubject: hi",
            "From: a@b.example\r\nSubject: Undeliverable: invoice",
            "Return-Path: <MAILER-DAEMON>\r\nFrom: a@b.example\r\nSubject: hi",
        ] {
            assert!(candidate(h).bounce_like(), "{h}");
        }
        for h in [
            "From: Shop <no-reply@shop.example>\r\nSubject: your order",
            "From: a@b.example\r\nSubject: Out of office party",
            "Return-Path: <list-bounces@lists.example>\r\nFrom: a@b.example\r\nSubject: hi",
        ] {
            assert_eq!(decide(h), FastPath::Ordinary, "{h}");
        }
    }

    #[test]
    fn bounce_text_in_the_body_makes_a_candidate_whatever_the_headers() {
        let mail = "From: ops@example.net\r\nSubject: fwd\r\nList-Id: <x.lists.example>\r\n\r\n\
            This is the mail system at host mx.example.\r\n\r\nI'm sorry to have to inform you ...\r\n";
        match scan(&Message::parse(mail.as_bytes())) {
            FastPath::Candidate(s) => assert!(s.bounce_body && s.bounce_like() && !s.reply_like()),
            other => panic!("{other:?}"),
        }
        // Auto-reply signs alone do not stop the look at the text.
        let mail = "From: a@b.example\r\nAuto-Submitted: auto-replied\r\n\r\n\
            Delivery to the following recipient failed permanently:\r\n";
        match scan(&Message::parse(mail.as_bytes())) {
            FastPath::Candidate(s) => assert!(s.bounce_body),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn daemon_return_paths() {
        assert!(daemon_path(b" <MAILER-DAEMON>"));
        assert!(daemon_path(b" <postmaster@mx.example>"));
        assert!(daemon_path(b" <SRS0=abcd=XY=mx.example=MAILER-DAEMON@fwd.example>"));
        assert!(daemon_path(b"<bounce@mx.example>"));
        assert!(!daemon_path(b" <alice@example.org>"));
        assert!(!daemon_path(b" <SRS0=abcd=XY=example.org=alice@fwd.example>"));
        assert!(!daemon_path(b" <users-bounces@lists.example>"));
    }

    #[test]
    fn weak_signals_count_in_pairs() {
        let s = candidate("Return-Path: <>\r\nFrom: a@b.example\r\nSubject: Undelivered Mail Returned to Sender");
        assert!(s.null_sender && s.bounce_subject);
        let s = candidate("From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nSubject: Delivery Status Notification (Failure)");
        assert!(s.daemon_sender && s.bounce_subject);
        let s = candidate("Return-Path: < >\r\nFrom: postmaster@example.de\r\nSubject: x");
        assert!(s.null_sender && s.daemon_sender);
        let s = candidate("Return-Path: <>\r\nSubject: =?iso-8859-1?q?Unzustellbar:_Angebot?=");
        assert!(s.bounce_subject);
        let s = candidate("Return-Path: <>\r\nSubject: Abwesenheitsnotiz: Angebot");
        assert!(s.autoreply_subject);
        let s = candidate("From: <>\r\nSubject: Delivery Status");
        assert!(s.daemon_sender && s.bounce_subject);
        let s = candidate("Return-Path: <>\r\nFrom: a-confirm-1@b.example\r\nSubject: Please confirm your message");
        assert!(s.null_sender && s.challenge_subject);
    }

    #[test]
    fn reply_signs_yield_to_bounce_signs() {
        let s = candidate("Return-Path: <>\r\nFrom: a@b.example\r\nSubject: Out of Office: lunch");
        assert!(s.reply_like() && s.bounce_like());
        let s = candidate("Return-Path: <>\r\nFrom: MAILER-DAEMON@b.example\r\nSubject: Undeliverable: Out of Office");
        assert!(!s.reply_like() && s.bounce_like());
    }

    #[test]
    fn forwarded_bounce_subject_is_a_candidate() {
        let s = candidate("From: a@b.example\r\nSubject: Fwd: Undelivered Mail Returned to Sender");
        assert!(s.forwarded_subject && !s.bounce_subject);
    }

    #[test]
    fn daemon_and_noreply_senders() {
        let daemon = |v: &[u8]| sender_kind(v).0;
        assert!(daemon(b" MAILER-DAEMON@mx.example (Mail Delivery System)"));
        assert!(daemon(b" \"Mail Delivery Subsystem\" <mailer-daemon@example.com>"));
        assert!(daemon(b" MAILER-DAEMON"));
        assert!(daemon(b" Postmaster <Postmaster@example.com>"));
        assert!(!daemon(b" postmaster-tools@example.com"));
        assert!(!daemon(b" Ann <ann@postmaster.example>"));
        assert!(daemon(b" MAILER_DAEMON@mx.example"));
        assert!(daemon(b" \"Mail Delivery System\" <bounces@mx.example>"));
        assert!(daemon(b" postmaster@mx.example (Mail Delivery System)"));
        assert!(daemon(b" Mail Delivery Subsystem"));
        assert!(daemon(b" Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@example.com>"));
        assert!(!daemon(b" Mail Team <team@mail-delivery.example>"));
        assert_eq!(sender_kind(b" Shop <No-Reply@shop.example>"), (false, true));
        assert_eq!(sender_kind(b" noreplying@x.example"), (false, false));
    }

    #[test]
    fn junk_header_lines_do_not_panic() {
        for input in [
            &b""[..],
            b":",
            b"\n",
            b"\r\n",
            b" folded first\nX-Failed-Recipients: a\n",
            b"no colon\n\n",
            b"\xff\xfe: \xff",
        ] {
            let _ = scan(&Message::parse(input));
        }
        assert!(candidate(" folded first\nX-Failed-Recipients: a").failed_recipients);
    }
}
