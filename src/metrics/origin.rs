//! Who reported a moved message and which of our addresses it targeted, read from the message
//! itself (the journal does not record either).

use super::summary::Origin;
use crate::message::Message;
use crate::sign::batv;
use crate::verify::fields;

impl Origin {
    /// Reads the reporting MTA and the targeted address from `message`.
    ///
    /// Reporting MTA: the DSN's `Reporting-MTA: dns; host` (RFC 3464 §2.2.2), else the domain of
    /// `From:` (an auto-reply's or a non-standard bounce's sender). Targeted: `X-Original-To`
    /// (Postfix), else `Delivered-To`, else the first `To:` address — where the bounce went,
    /// i.e. the address the spammer forged; a BATV tag (`prvs=…=`) is taken off so tagged and
    /// plain deliveries count as one address.
    pub fn of(message: &Message<'_>) -> Origin {
        let first_address = |name: &str| {
            let value = message.field(name)?.value();
            let first = fields::addresses(&value).next().map(str::to_owned);
            first
        };
        let from_domain = first_address("from").as_deref().and_then(fields::domain_of);
        let reporting_mta = fields::reporting_mta(message.body()).map(|m| m.to_ascii_lowercase()).or(from_domain);
        let targeted = first_address("x-original-to")
            .or_else(|| first_address("delivered-to"))
            .or_else(|| first_address("to"))
            .map(|a| untagged(&a));
        Origin { reporting_mta, targeted }
    }
}

/// The address without its BATV tag, the domain lowercased.
fn untagged(address: &str) -> String {
    let plain = batv::untag(address).unwrap_or(address);
    match plain.rsplit_once('@') {
        Some((local, domain)) => format!("{local}@{}", domain.to_ascii_lowercase()),
        None => plain.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsn_names_its_reporting_mta_and_the_delivery_address() {
        let dsn = b"X-Original-To: prvs=1234abcdef=Ann@Example.TEST\r\nFrom: MAILER-DAEMON@relay.example\r\n\
            To: ann@example.test\r\nContent-Type: multipart/report; boundary=B\r\n\r\n--B\r\n\
            Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; MX.Victim.test\r\n";
        let o = Origin::of(&Message::parse(dsn));
        assert_eq!(o.reporting_mta.as_deref(), Some("mx.victim.test"));
        assert_eq!(o.targeted.as_deref(), Some("Ann@example.test"));
    }

    #[test]
    fn autoreply_falls_back_to_sender_domain_and_to() {
        let reply = b"From: Bob <bob@Away.example>\r\nTo: <ann@example.test>\r\nSubject: away\r\n\r\nback monday\r\n";
        let o = Origin::of(&Message::parse(reply));
        assert_eq!(o.reporting_mta.as_deref(), Some("away.example"));
        assert_eq!(o.targeted.as_deref(), Some("ann@example.test"));
        assert_eq!(Origin::of(&Message::parse(b"\r\n")), Origin::default());
    }
}
