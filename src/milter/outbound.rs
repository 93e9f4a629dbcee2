//! Outbound mail at end of message: what to stamp (pure), from the same
//! [`stamp`](crate::sign::stamp) code as the sendmail drop-in — the signature header first, a
//! signed Message-ID when there is none, the BATV tag on the envelope sender and the signed
//! ENVID, the last two through SMFIR_CHGFROM — and, with `[sign] sent_log`, its sent log line.

use super::session::Message;
use crate::config::Config;
use crate::day::Day;
use crate::evidence::sentlog::Entry;
use crate::sign::stamp::{self, SenderTag};
use crate::sign::Key;

/// What the milter does to one outbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Header fields: the first goes at the very top (index 0), the rest are appended.
    pub fields: Vec<(String, String)>,
    /// What happened to the envelope sender (for the log line).
    pub tag: SenderTag,
    /// SMFIR_CHGFROM: the new envelope sender and its ESMTP parameters, when either changes.
    pub change_sender: Option<(String, Option<String>)>,
    /// The sent log's line (DESIGN §4.4), when `[sign] sent_log` is on: the nonce, the
    /// Message-ID (the author's, else ours) and the envelope recipients (RCPT TO, what a DSN's
    /// `Final-Recipient` names).
    pub sent: Option<Entry>,
}

/// The stamp for `message`, signed with `key` on `day` with the random `nonce`.
///
/// The Message-ID's domain is `sign.myorigin`, else the sender's domain. The ENVID (RFC 3461
/// §4.4) is added when `sign.sign_envid` is on, the sender is not null (no DSN goes to `<>`)
/// and the client gave none; the client's `RET=` is passed along with it so the MTA keeps it.
pub fn plan(message: &Message, config: &Config, key: &Key<'_>, day: Day, nonce: u64) -> Plan {
    let sign = &config.sign;
    let sender_domain = message.sender.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase());
    let domain = sign.myorigin.clone().or(sender_domain).unwrap_or_else(|| "localhost".to_owned());
    let fields = stamp::fields(sign, &domain, key, day, nonce, message.has_message_id);
    let tag = stamp::tag_sender(&message.sender, sign, &config.protected_domains, sign.myorigin.as_deref(), key, day);
    let given = |name: &str| {
        message.mail_params.iter().find(|p| p.get(..name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name)))
    };
    let envid = (sign.sign_envid && !message.sender.is_empty() && given("ENVID=").is_none())
        // The token is letters, digits and dots: valid xtext as it is (RFC 3461 §4).
        .then(|| stamp::envid(key, day, nonce));
    let params = envid.map(|envid| {
        let ret = given("RET=").map(|r| format!("{r} ")).unwrap_or_default();
        format!("{ret}ENVID={envid}")
    });
    let new_sender = match &tag {
        SenderTag::Tagged(address) => Some(address.clone()),
        _ => None,
    };
    let change_sender = match (new_sender, params) {
        (None, None) => None,
        (sender, params) => Some((format!("<{}>", sender.unwrap_or_else(|| message.sender.clone())), params)),
    };
    let sent = sign.sent_log.then(|| {
        let added = fields.iter().find(|(name, _)| name == "Message-ID").map(|(_, id)| id.as_str());
        let message_id = message.message_id.as_deref().or(added);
        Entry::new(key, day, nonce, message_id, message.recipients.iter().map(String::as_str))
    });
    Plan { fields, tag, change_sender, sent }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milter::session::{Direction, Outbound};
    use crate::sign::{batv, header, msgid, KeyId, Verification};

    const KEY: Key<'static> = Key { id: KeyId::ZERO, secret: b"0123456789abcdef0123456789abcdef0123456789a" };
    const DAY: Day = Day(20_425);

    fn config() -> Config {
        let mut config = Config { protected_domains: vec!["example.com".into()], ..Config::default() };
        config.sign.batv_exclude = vec!["list-*@example.com".into()];
        config
    }

    fn message(sender: &str, params: &[&str]) -> Message {
        let direction = Direction::Outbound(Outbound::Authenticated("ann".into()));
        Message::new(direction, sender, params.iter().map(|p| (*p).to_owned()).collect())
    }

    #[test]
    fn signs_tags_and_sets_the_envid() {
        let p = plan(&message("<ann@example.com>", &["SIZE=100", "RET=HDRS"]), &config(), &KEY, DAY, 7);
        let names: Vec<&str> = p.fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["X-Backscatter-Sig", "Message-ID"]);
        let (sig, id) = (&p.fields[0].1, &p.fields[1].1);
        assert!(header::verify(sig, &[KEY], DAY).is_valid(), "{sig}");
        assert!(id.ends_with("@example.com>"), "{id}");
        assert!(msgid::verify_message_id(id, &[KEY], DAY).is_valid());
        let (sender, params) = p.change_sender.expect("CHGFROM");
        assert_eq!(
            batv::verify(sender.trim_matches(['<', '>']), &[KEY], DAY),
            Verification::Valid { key: KeyId::ZERO }
        );
        let params = params.expect("ENVID");
        assert!(params.starts_with("RET=HDRS ENVID=bs1."), "{params}");
        assert!(msgid::verify_envid(&params[15..], &[KEY], DAY).is_valid());
    }

    #[test]
    fn the_sent_log_line_has_the_nonce_id_and_envelope_recipients() {
        let mut m = message("<ann@example.com>", &[]);
        m.recipients = vec!["bob@example.net".into(), "carol@example.org".into()];
        assert_eq!(plan(&m, &config(), &KEY, DAY, 7).sent, None, "off by default");
        let mut logged = config();
        logged.sign.sent_log = true;
        let p = plan(&m, &logged, &KEY, DAY, 7);
        let sent = p.sent.expect("an entry");
        assert_eq!((sent.nonce, sent.day, sent.key), (7, DAY, KEY.id));
        assert_eq!(sent.message_id, Some(crate::evidence::index::id_hash(&p.fields[1].1)), "our signed Message-ID");
        let mut log = crate::evidence::sentlog::SentLog::new();
        log.insert(sent);
        let logged_message = log.get(7).expect("by nonce");
        assert_eq!(logged_message.was_sent_to(&[KEY], "Bob@example.net"), Some(true));
        assert_eq!(logged_message.was_sent_to(&[KEY], "eve@example.net"), Some(false));
        m.message_id = Some("<mine@example.com>".into());
        m.has_message_id = true;
        let ids = plan(&m, &logged, &KEY, DAY, 7).sent.and_then(|e| e.message_id);
        assert_eq!(ids, Some(crate::evidence::index::id_hash("<mine@example.com>")), "the author's");
    }

    #[test]
    fn an_existing_message_id_and_envid_stay() {
        let mut m = message("<ann@example.com>", &["ENVID=theirs"]);
        m.has_message_id = true;
        let p = plan(&m, &config(), &KEY, DAY, 7);
        assert_eq!(p.fields.len(), 1, "only the signature header");
        let (sender, params) = p.change_sender.expect("the tag still changes the sender");
        assert!(sender.starts_with("<prvs=0"));
        assert_eq!(params, None);
    }

    #[test]
    fn null_excluded_and_foreign_senders_are_not_tagged() {
        let p = plan(&message("<>", &[]), &config(), &KEY, DAY, 7);
        assert_eq!((p.tag, p.change_sender), (SenderTag::Null, None), "no tag and no ENVID for <>");
        let p = plan(&message("<list-news@example.com>", &[]), &config(), &KEY, DAY, 7);
        assert!(matches!(p.tag, SenderTag::Excluded(_)));
        let (sender, params) = p.change_sender.expect("ENVID only");
        assert_eq!(sender, "<list-news@example.com>");
        assert!(params.is_some_and(|p| p.starts_with("ENVID=")));
        let p = plan(&message("<ann@elsewhere.test>", &[]), &config(), &KEY, DAY, 7);
        assert!(matches!(p.tag, SenderTag::NotProtected(_)));
        let mut no_envid = config();
        no_envid.sign.sign_envid = false;
        assert_eq!(plan(&message("<ann@elsewhere.test>", &[]), &no_envid, &KEY, DAY, 7).change_sender, None);
    }
}
