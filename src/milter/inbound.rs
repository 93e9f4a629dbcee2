//! Inbound mail to protected domains: a BATV-tagged recipient verified at RCPT, the judgement
//! at end of message, and what the verdict does (reject, quarantine, or only the header).
//!
//! At SMTP time the message has no delivery headers yet, so the judgement reads it as the
//! mailbox will: the MTA's trace line (the real client, now) and an `X-Original-To:` per
//! recipient are put in front, exactly what `watch` would see after delivery.

use super::session::{Message, Session};
use super::Milter;
use crate::config::MilterAction;
use crate::day::Day;
use crate::policy::{Action, Decision, Verdict};
use crate::sign::{batv, Key, Verification};
use crate::verdict::Judgement;

/// What a recipient's BATV tag says at RCPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rcpt {
    /// Not one of our tags: nothing to check here.
    Untagged,
    /// A valid tag of ours: the message is a bounce to mail we sent.
    Valid(Verification),
    /// Forged, expired, unknown key or malformed: refused.
    Refused {
        /// The result word: `forged`, `expired`, `unknown-key`, `malformed`.
        result: &'static str,
        /// The reason, for the reply.
        why: String,
    },
}

/// Checks `address` (exactly as received: RFC 5321 local parts are case-sensitive and so is the
/// tag's MAC) against the `keys` that verify on `today`.
pub fn check_rcpt(address: &str, keys: &[Key<'_>], today: Day) -> Rcpt {
    let v = batv::verify(address, keys, today);
    let refused = |why: String| Rcpt::Refused { result: v.word(), why: format!("{why}: not a bounce of mail we sent") };
    match v {
        Verification::Valid { .. } => Rcpt::Valid(v),
        Verification::NotTagged | Verification::Foreign(_) => Rcpt::Untagged,
        Verification::Expired { key } => refused(format!("BATV tag expired (key {key})")),
        Verification::Forged => refused("forged BATV tag".to_owned()),
        Verification::UnknownKey { key } => refused(format!("BATV tag names key {key}, which we do not hold")),
        Verification::Malformed => refused("malformed BATV tag".to_owned()),
    }
}

/// The delivery headers put in front of the message for the judgement: `Return-Path:` with the
/// envelope sender, `Received:` from the real client dated `now` (so the message is judged on
/// its arrival day, `exempt_ips` sees the relay and the pipeline's SPF step reads the same
/// connection), then `X-Original-To:` per recipient (so a tagged recipient is found as a
/// carrier and `protected_domains` sees the delivery address).
pub fn envelope_head(session: &Session, message: &Message, now: i64) -> Vec<u8> {
    let helo = session.helo.as_deref().unwrap_or("unknown");
    let name = session.client_name.as_deref().unwrap_or("unknown");
    let ip = session.client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    let by = session.receiver.as_deref().unwrap_or("localhost");
    let mut head = format!(
        "Return-Path: <{}>\r\nReceived: from {helo} ({name} [{ip}])\r\n\tby {by} (backscatter milter); {}\r\n",
        message.sender,
        date(now)
    );
    for recipient in &message.recipients {
        head.push_str(&format!("X-Original-To: {}\r\n", mailbox(recipient)));
    }
    head.into_bytes()
}

/// `recipient` as the MTA writes it in `X-Original-To:` (RFC 5321 §4.1.2): a local part (all
/// before the last `@`) that is no dot-atom and not already one quoted string is quoted, so the
/// policy reads the same delivery address (and domain) the milter judged the message for. (Found
/// by fuzz target `milter`: `@alice@test.invalid` was judged as protected, then read as no
/// address at all.)
fn mailbox(recipient: &str) -> String {
    let Some((local, domain)) = recipient.rsplit_once('@') else { return recipient.to_owned() };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = local.split('.').all(|word| !word.is_empty() && word.chars().all(atext));
    let inner = local.strip_prefix('"').and_then(|l| l.strip_suffix('"'));
    let quoted = inner.is_some_and(|inner| {
        let mut escaped = false;
        inner.chars().all(|c| {
            let ok = escaped || c != '"';
            escaped = !escaped && c == '\\';
            ok
        }) && !escaped
    });
    if dot_atom || quoted {
        return recipient.to_owned();
    }
    let mut out = String::from("\"");
    for c in local.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\"@");
    out.push_str(domain);
    out
}

/// The message as the judgement reads it at end of message: [`envelope_head`], then the
/// header section and the body (up to [`JUDGED_BODY`](super::session::JUDGED_BODY)) as received.
pub fn judged_copy(session: &Session, message: &Message, now: i64) -> Vec<u8> {
    let mut bytes = envelope_head(session, message, now);
    bytes.extend_from_slice(&message.head);
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&message.body);
    bytes
}

/// THE call into the judgement: the message as the mailbox will hold it (see
/// [`envelope_head`]) through the engine's pipeline — classify, carriers, policy, grace,
/// exemptions, `all_bounces`, and with SPF on the origin check of a bounce (which only
/// strengthens the why).
pub async fn judge(milter: &Milter, message: &[u8], now: i64) -> Judgement {
    // No Sent index: at SMTP time there is no mailbox yet whose Sent folder could be asked.
    // The sent log is the pipeline's own: with `[sign] sent_log`, what this host signed
    // (the milter's outbound side and the drop-in, same state_dir) is checked.
    milter.pipeline().run(&crate::message::Message::parse(message), now, None).await.judgement
}

/// What the MTA is told to do with a judged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Accept it (with the verdict header).
    Accept,
    /// Refuse it: 550 5.7.1 with this text.
    Reject(String),
    /// Accept it into the hold queue, with this reason.
    Quarantine(String),
}

/// The disposition of `decision` under `[milter] action`: only backscatter that the policy
/// would move (enforce mode, past the grace period) is refused or held; monitor mode and the
/// grace period (`would-move`) only get the header.
pub fn disposition(decision: &Decision, action: MilterAction) -> Disposition {
    if decision.verdict != Verdict::Backscatter || decision.action != Action::Move {
        return Disposition::Accept;
    }
    let text = format!("backscatter: {}", reply_text(&decision.why));
    match action {
        MilterAction::Reject => Disposition::Reject(text),
        MilterAction::Quarantine => Disposition::Quarantine(text),
        MilterAction::Header => Disposition::Accept,
    }
}

/// The `X-Backscatter` value: `<verdict>; <why>`, on one line.
pub fn verdict_header(decision: &Decision) -> String {
    format!("{}; {}", decision.verdict, reply_text(&decision.why))
}

/// `text` as SMTP reply text and an unfolded header value: printable ASCII only (RFC 5321
/// §4.2), at most 900 bytes (a reply line is at most 512 with code; Postfix allows longer, but
/// the why is one line).
pub fn reply_text(text: &str) -> String {
    let mut clean: String = text.chars().map(|c| if c == ' ' || c.is_ascii_graphic() { c } else { '?' }).collect();
    clean.truncate(900);
    clean
}

/// `now` (Unix seconds) as an RFC 5322 §3.3 date in UTC: `Thu, 3 Dec 2026 15:04:05 +0000`.
pub fn date(now: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let day = Day::from_unix_seconds(now);
    let (year, month, dom) = day.ymd();
    let weekday = DAYS.get(usize::try_from(day.0.rem_euclid(7)).unwrap_or(0)).unwrap_or(&"Thu");
    let month = MONTHS.get(usize::try_from(month).unwrap_or(1).saturating_sub(1)).unwrap_or(&"Jan");
    let seconds = now.rem_euclid(86_400);
    format!("{weekday}, {dom} {month} {year} {:02}:{:02}:{:02} +0000", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milter::session::Direction;
    use crate::sign::KeyId;

    const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"s3cret" };
    const DAY: Day = Day(20_425);

    #[test]
    fn recipients_are_written_as_mailboxes_the_policy_reads() {
        assert_eq!(mailbox("prvs=0123abcdef=ann@example.com"), "prvs=0123abcdef=ann@example.com");
        assert_eq!(mailbox("\"ann smith\"@example.com"), "\"ann smith\"@example.com");
        assert_eq!(mailbox("@ann@example.com"), "\"@ann\"@example.com");
        assert_eq!(mailbox("a\"b@example.com"), "\"a\\\"b\"@example.com");
        assert_eq!(mailbox("\"a\"b\"@example.com"), "\"\\\"a\\\"b\\\"\"@example.com");
        assert_eq!(mailbox(".ann@example.com"), "\".ann\"@example.com");
        assert_eq!(mailbox("postmaster"), "postmaster");
    }

    #[test]
    fn tagged_recipients_are_verified_exactly_as_received() {
        let tagged = batv::make("ann@example.com", &KEY, DAY);
        assert_eq!(check_rcpt(&tagged, &[KEY], DAY), Rcpt::Valid(Verification::Valid { key: KeyId::ZERO }));
        assert_eq!(check_rcpt("ann@example.com", &[KEY], DAY), Rcpt::Untagged);
        let Rcpt::Refused { result, why } = check_rcpt(&tagged.to_uppercase(), &[KEY], DAY) else { panic!("case") };
        assert_eq!(result, "forged");
        assert_eq!(why, "forged BATV tag: not a bounce of mail we sent");
        let Rcpt::Refused { why, .. } = check_rcpt(&tagged, &[KEY], Day(DAY.0 + 8)) else { panic!("old") };
        assert!(why.starts_with("BATV tag expired (key 0)"), "{why}");
        let other = Key { id: KeyId::new(3).expect("3"), secret: b"x" };
        let Rcpt::Refused { why, .. } = check_rcpt(&tagged, &[other], DAY) else { panic!("unknown key") };
        assert!(why.contains("names key 0, which we do not hold"), "{why}");
    }

    #[test]
    fn only_enforced_backscatter_is_refused_or_held() {
        let d = |verdict, action| Decision { verdict, action, why: "no carrier\r\nin it".into() };
        let enforced = d(Verdict::Backscatter, Action::Move);
        assert_eq!(
            disposition(&enforced, MilterAction::Reject),
            Disposition::Reject("backscatter: no carrier??in it".into())
        );
        assert!(matches!(disposition(&enforced, MilterAction::Quarantine), Disposition::Quarantine(_)));
        assert_eq!(disposition(&enforced, MilterAction::Header), Disposition::Accept);
        assert_eq!(disposition(&d(Verdict::Backscatter, Action::WouldMove), MilterAction::Reject), Disposition::Accept);
        assert_eq!(disposition(&d(Verdict::Genuine, Action::Keep), MilterAction::Reject), Disposition::Accept);
        assert_eq!(verdict_header(&d(Verdict::Genuine, Action::Keep)), "genuine; no carrier??in it");
    }

    #[test]
    fn the_envelope_head_is_a_trace_line_and_the_recipients() {
        let session = Session {
            client: "192.0.2.5".parse().ok(),
            client_name: Some("mx.example.net".into()),
            helo: Some("mx.example.net".into()),
            receiver: Some("mx.example.com".into()),
            ..Session::default()
        };
        let mut message = Message::new(Direction::Inbound, "<>", Vec::new());
        message.recipients = vec!["ann@example.com".into()];
        let head = String::from_utf8(envelope_head(&session, &message, 1_796_310_245)).expect("ASCII");
        assert_eq!(
            head,
            "Return-Path: <>\r\nReceived: from mx.example.net (mx.example.net [192.0.2.5])\r\n\tby mx.example.com (backscatter milter); \
Thu, 3 Dec 2026 15:04:05 +0000\r\nX-Original-To: ann@example.com\r\n"
        );
        assert_eq!(
            crate::verify::own_head(&crate::message::Message::parse(head.as_bytes())).arrival,
            Some(1_796_310_245)
        );
        assert_eq!(date(0), "Thu, 1 Jan 1970 00:00:00 +0000");
    }
}
