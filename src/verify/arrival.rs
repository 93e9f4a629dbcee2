//! When a message arrived, read from the message itself (DESIGN §4): the date of the top
//! `Received:` field — the one our own MTA added last — else `Delivery-Date`. Carriers are
//! judged on that day, never on the day of the scan, so a genuine bounce stays genuine when a
//! Maildir is cleaned up weeks later. Read with the message's own `Message-ID`: every judged
//! message needs both, and most of a mailbox needs nothing else of its header.

use mail_parser::DateTime;

use super::fields;
use crate::message::Message;

/// What every judged message gives from its own header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnHead {
    /// The arrival time in Unix seconds (see [`own_head`]).
    pub arrival: Option<i64>,
    /// The message's own `Message-ID` (the first one), trimmed; `None` when absent or empty.
    pub message_id: Option<String>,
}

/// The arrival time and the `Message-ID` of `message`.
///
/// The arrival time, in Unix seconds, is the date after the `;` of its top `Received:` field
/// (RFC 5322 §3.6.7, RFC 5321 §4.4), else its `Delivery-Date` (added by the local MDA); `None`
/// when neither is there or parses, and the caller then uses the file's mtime or the IMAP
/// INTERNALDATE. Only the top `Received:` counts: the ones below it were written by other hosts
/// (a forger's among them) and would let a sender move the arrival day back into a replayed
/// carrier's validity window.
pub fn own_head(message: &Message<'_>) -> OwnHead {
    let received = message.field("received").and_then(|f| fields::received_date(&f.value()).and_then(parse_date));
    let arrival = received.or_else(|| parse_date(&message.field("delivery-date")?.value()));
    let message_id = message.field("message-id").map(|f| f.value()).filter(|v| !v.is_empty());
    OwnHead { arrival, message_id }
}

/// An RFC 5322 date (obsolete forms too: two-digit years, named zones), as Unix seconds.
/// `None` for a date that does not exist.
fn parse_date(text: &str) -> Option<i64> {
    let date = DateTime::parse_rfc822(text)?;
    date.is_valid().then(|| date.to_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival_time(message: &[u8]) -> Option<i64> {
        super::own_head(&Message::parse(message)).arrival
    }

    fn own_head(message: &[u8]) -> OwnHead {
        super::own_head(&Message::parse(message))
    }

    /// 2024-03-05T10:20:30Z.
    const T: i64 = 1_709_634_030;

    #[test]
    fn top_received_date_in_the_forms_mtas_write() {
        for (form, date) in [
            ("postfix", "by mx.example (Postfix) with ESMTP id 4F1; Tue,  5 Mar 2024 10:20:30 +0000 (UTC)"),
            (
                "exim",
                "from x by y with esmtp (Exim 4.96)\n\t(envelope-from <>)\n\tid 1r; Tue, 05 Mar 2024 11:20:30 +0100",
            ),
            ("no weekday", "from a by b; 5 Mar 2024 05:20:30 -0500"),
            ("named zone", "from a by b; Tue, 5 Mar 2024 10:20:30 GMT"),
            ("seconds-less", "from a by b; Tue, 5 Mar 2024 10:20 +0000"),
        ] {
            let message = format!("Received: {date}\nReceived: from z by a; Mon, 1 Jan 2001 00:00:00 +0000\n\nbody\n");
            let want = if form == "seconds-less" { T - 30 } else { T };
            assert_eq!(arrival_time(message.as_bytes()), Some(want), "{form}");
        }
    }

    #[test]
    fn delivery_date_when_received_has_none() {
        let m = b"Delivery-Date: Tue, 05 Mar 2024 10:20:30 +0000\nReceived: local delivery\nFrom: a@b\n\nx\n";
        assert_eq!(arrival_time(m), Some(T));
        let crlf =
            b"From MAILER-DAEMON Tue Mar  5 10:20:30 2024\r\nDelivery-Date: Tue, 05 Mar 2024 10:20:30 +0000\r\n\r\n";
        assert_eq!(arrival_time(crlf), Some(T));
    }

    #[test]
    fn absent_or_garbage_gives_none() {
        for m in [
            &b"From: a@b\n\nReceived: from a by b; Tue, 5 Mar 2024 10:20:30 +0000\n"[..],
            b"Received: from a by b; yesterday-ish\n\n",
            b"Received: from a by b; Tue, 31 Feb 2024 99:99:99 +0000\n\n",
            b"Received: from a by b\n\n",
            b"",
            b"\xff\xfe\n\n",
        ] {
            assert_eq!(arrival_time(m), None, "{}", String::from_utf8_lossy(m));
        }
    }

    #[test]
    fn message_id_in_the_same_pass() {
        let m = b"Message-ID: <a@b>\n\t(folded)\nReceived: from a by b; garbage\nX: 1\nDelivery-Date: Tue, 05 Mar 2024 10:20:30 +0000\n\n";
        // The Received date fails, so Delivery-Date is looked for past where both were found.
        assert_eq!(own_head(m), OwnHead { arrival: Some(T), message_id: Some("<a@b> (folded)".to_owned()) });
        let empty = b"Message-ID: \nMessage-ID: <second@b>\n\nMessage-ID: <body@b>\n";
        assert_eq!(own_head(empty), OwnHead { arrival: None, message_id: None });
        let late = b"message-id: <x@y>\nFrom: a@b\n\n";
        assert_eq!(own_head(late).message_id.as_deref(), Some("<x@y>"));
    }

    #[test]
    fn only_the_top_received_counts() {
        let m = b"Received: from a by b; garbage\nReceived: from z by a; Tue, 5 Mar 2024 10:20:30 +0000\n\n";
        assert_eq!(arrival_time(m), None);
    }
}
