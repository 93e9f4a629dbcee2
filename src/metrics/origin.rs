//! Who reported a moved message and which of our addresses it targeted, read from the message
//! itself (the journal does not record either).

use mail_parser::MessageParser;

use super::summary::Origin;

impl Origin {
    /// Reads the reporting MTA and the targeted address from `message`.
    ///
    /// Reporting MTA: the DSN's `Reporting-MTA: dns; host` (RFC 3464 §2.2.2), else the domain of
    /// `From:` (an auto-reply's or a non-standard bounce's sender). Targeted: `X-Original-To`
    /// (Postfix), else `Delivered-To`, else the first `To:` address — where the bounce went,
    /// i.e. the address the spammer forged; a BATV tag (`prvs=…=`) is taken off so tagged and
    /// plain deliveries count as one address.
    pub fn of(message: &[u8]) -> Origin {
        let Some(head) = MessageParser::default().parse_headers(message) else { return Origin::default() };
        let raw = |name: &'static str| head.header_raw(name).map(str::trim).filter(|v| !v.is_empty());
        let from_domain = head
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase());
        let reporting_mta = reporting_mta(message).or(from_domain);
        let to = head.to().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_owned);
        let targeted = raw("X-Original-To").or_else(|| raw("Delivered-To")).map(bare).or(to).map(|a| untagged(&a));
        Origin { reporting_mta, targeted }
    }
}

/// The host of the first `Reporting-MTA:` line (case-insensitive, anywhere: it sits in the
/// message/delivery-status part), without its type (`dns;`).
fn reporting_mta(message: &[u8]) -> Option<String> {
    const FIELD: &[u8] = b"reporting-mta:";
    message.split(|&b| b == b'\n').find_map(|line| {
        let head = line.get(..FIELD.len())?;
        if !head.eq_ignore_ascii_case(FIELD) {
            return None;
        }
        let value = String::from_utf8_lossy(&line[FIELD.len()..]).into_owned();
        let host = value.split_once(';').map_or(value.as_str(), |(_, host)| host).trim();
        (!host.is_empty()).then(|| host.to_ascii_lowercase())
    })
}

/// `<a@b>` or `a@b` as `a@b`.
fn bare(value: &str) -> String {
    let value = value.trim();
    value.strip_prefix('<').and_then(|v| v.strip_suffix('>')).unwrap_or(value).trim().to_owned()
}

/// `prvs=KDDDHHHHHH=local@domain` as `local@domain`, the domain lowercased.
fn untagged(address: &str) -> String {
    let plain = match address.get(..5) {
        Some(p) if p.eq_ignore_ascii_case("prvs=") => address[5..].split_once('=').map_or(address, |(_, rest)| rest),
        _ => address,
    };
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
        let o = Origin::of(dsn);
        assert_eq!(o.reporting_mta.as_deref(), Some("mx.victim.test"));
        assert_eq!(o.targeted.as_deref(), Some("Ann@example.test"));
    }

    #[test]
    fn autoreply_falls_back_to_sender_domain_and_to() {
        let reply = b"From: Bob <bob@Away.example>\r\nTo: <ann@example.test>\r\nSubject: away\r\n\r\nback monday\r\n";
        let o = Origin::of(reply);
        assert_eq!(o.reporting_mta.as_deref(), Some("away.example"));
        assert_eq!(o.targeted.as_deref(), Some("ann@example.test"));
        assert_eq!(Origin::of(b"\r\n"), Origin::default());
    }
}
