//! Finding and checking every carrier in a received bounce or auto-reply (DESIGN §4): the BATV
//! tag on the address the message was delivered to, the signature header in the returned
//! original, the signed Message-ID wherever the reply names its original, and the ENVID in
//! `Original-Envelope-Id`. Pure: bytes, keys and an arrival day in, values out.

mod arrival;
pub(crate) mod fields;

use std::fmt;

use serde::Serialize;

use crate::classify::{Classification, Via};
use crate::day::Day;
use crate::message::Message;
use crate::sign::{self, batv, header, msgid, Verification};

pub use arrival::{own_head, OwnHead};

/// Which carrier a [`Carrier`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CarrierKind {
    /// A BATV `prvs=` tag (or a foreign tagging scheme) on an address.
    #[serde(rename = "batv")]
    Batv,
    /// The signature header (`X-Backscatter-Sig` or its configured name).
    #[serde(rename = "header")]
    Header,
    /// A signed Message-ID `<bs1.…@domain>`.
    #[serde(rename = "msgid")]
    MessageId,
    /// The signed ENVID token, as `Original-Envelope-Id` (RFC 3464 §2.2.1).
    #[serde(rename = "envid")]
    EnvId,
}

impl CarrierKind {
    /// The word used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CarrierKind::Batv => "batv",
            CarrierKind::Header => "header",
            CarrierKind::MessageId => "msgid",
            CarrierKind::EnvId => "envid",
        }
    }

    /// What people call it, for a `why`.
    pub fn noun(self) -> &'static str {
        match self {
            CarrierKind::Batv => "BATV tag",
            CarrierKind::Header => "signature header",
            CarrierKind::MessageId => "signed Message-ID",
            CarrierKind::EnvId => "signed ENVID",
        }
    }
}

impl fmt::Display for CarrierKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One carrier found in a message, and what checking it gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carrier {
    /// Which carrier.
    pub kind: CarrierKind,
    /// Where it was found, for people: a field name of the message (`Delivered-To`), or where in
    /// the returned original (`the returned original`, `the returned Return-Path`, `a quoted
    /// header block`).
    pub found_in: String,
    /// What checking it gave on the arrival day.
    pub result: Verification,
    /// The carrier as found: the tagged address, the header value, the Message-ID or ENVID.
    /// Policy reads the address of a BATV tag (protected domains); never a secret.
    pub token: String,
}

impl Carrier {
    /// `valid BATV tag on Delivered-To`: what this carrier says, in one phrase.
    pub fn describe(&self) -> String {
        let prep = if self.kind == CarrierKind::Batv { "on" } else { "in" };
        format!("{} {} {prep} {}", self.result.word(), self.kind.noun(), self.found_in)
    }

    /// The `carriers` element of `classify --json` (DESIGN §5): type, result, key, found_in.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "type": self.kind.as_str(),
            "result": self.result.word(),
            "found_in": self.found_in,
        });
        if let (Some(key), Some(map)) = (self.result.key(), v.as_object_mut()) {
            map.insert("key".to_owned(), serde_json::Value::from(key.get()));
        }
        v
    }
}

/// Fields of the message itself whose address was the delivery address: where a BATV-tagged
/// envelope sender shows up once the bounce is delivered (Postfix `X-Original-To` /
/// `Delivered-To`, Exim `Envelope-To`, qmail/Courier `Delivered-To`, others `X-Envelope-To`),
/// and the bounce's `To:` (an MTA addresses the report to the envelope sender, RFC 3464 §2).
const DELIVERY_FIELDS: &[(&str, &str)] = &[
    ("x-original-to", "X-Original-To"),
    ("delivered-to", "Delivered-To"),
    ("envelope-to", "Envelope-To"),
    ("x-envelope-to", "X-Envelope-To"),
    ("to", "To"),
];

/// Fields of the message itself that name the original by its Message-ID: a reply's
/// `In-Reply-To` (RFC 5322 §3.6.4), an MDN's `Original-Message-ID` (RFC 8098 §3.2.5) and
/// Exchange's `X-MS-Exchange-Parent-Message-Id`. `References` is handled apart: only its last
/// ID is the parent.
const ID_FIELDS: &[(&str, &str)] = &[
    ("in-reply-to", "In-Reply-To"),
    ("original-message-id", "Original-Message-ID"),
    ("x-ms-exchange-parent-message-id", "X-MS-Exchange-Parent-Message-Id"),
];

/// Where a carrier in a returned original was found: attached, headers-only or inline…
const RETURNED: &str = "the returned original";
/// … or in a `>`-quoted copy of its header block.
const QUOTED: &str = "a quoted header block";

/// Every carrier in `message`, checked against `keys` (those the keyring lets verify on the
/// arrival day) on `arrival`. `c` is the message's classification (its returned original, as the
/// classifier decoded it); `header_name` the signature header's configured name.
///
/// Looked for: BATV tags in the delivery fields and the top `Received: … for <…>` of the message
/// itself, and in the returned original's `Return-Path`; the signature header anywhere (the
/// returned original as attached, headers-only, inline or `> `-quoted); signed Message-IDs in
/// the returned original's `Message-ID`, the message's `In-Reply-To`, the last ID of its
/// `References`, `Original-Message-ID` (a header, or a field of an MDN's report part) and
/// `X-MS-Exchange-Parent-Message-Id`; the ENVID in `Original-Envelope-Id`.
///
/// Not the returned original's own `In-Reply-To` or `References`: those name the messages it
/// answered, and anyone can answer one of ours. Only carriers that look like ours (or a foreign
/// tag) are listed; the same carrier found twice is listed once, where it was found first.
pub fn carriers(
    message: &Message<'_>,
    c: &Classification,
    keys: &[sign::Key<'_>],
    arrival: Day,
    header_name: &str,
) -> Vec<Carrier> {
    let header_name = header_name.to_ascii_lowercase();
    let mut found = Found { keys, arrival, list: Vec::new() };

    for field in message.fields() {
        let name = String::from_utf8_lossy(field.name()).to_ascii_lowercase();
        let name = name.as_str();
        let value = || field.value();
        if let Some((_, label)) = DELIVERY_FIELDS.iter().find(|(n, _)| *n == name) {
            for address in fields::addresses(&value()) {
                found.batv(address, label);
            }
        } else if name == "received" {
            if let Some(address) = fields::received_for(&value()) {
                found.batv(address, "Received");
            }
        } else if let Some((_, label)) = ID_FIELDS.iter().find(|(n, _)| *n == name) {
            for id in fields::message_ids(&value()) {
                found.message_id(id, label);
            }
        } else if name == "references" {
            // RFC 5322 §3.6.4: the parent's ID is the last one; the rest is older thread.
            if let Some(id) = fields::message_ids(&value()).last() {
                found.message_id(id, "References");
            }
        } else if name == "original-envelope-id" {
            found.envid(&value(), "Original-Envelope-Id");
        } else if name == header_name {
            found.header(&value(), "the message's own header");
        }
    }

    let wanted = [header_name.as_str(), "return-path", "message-id", "original-message-id", "original-envelope-id"];
    if let Some(original) = &c.original {
        let place = if original.via == Via::Quoted { QUOTED } else { RETURNED };
        for field in fields::body_fields(&original.headers, &wanted) {
            found.returned(&field, place, &header_name);
        }
    }
    for field in fields::body_fields(message.body(), &wanted) {
        let place = if field.quoted { QUOTED } else { RETURNED };
        found.returned(&field, place, &header_name);
    }
    found.list
}

/// The carriers found so far, and what checks them.
struct Found<'k> {
    keys: &'k [sign::Key<'k>],
    arrival: Day,
    list: Vec<Carrier>,
}

impl Found<'_> {
    /// A header line of the body or the returned original: the signature header, the
    /// original's `Return-Path` and `Message-ID`, and the report fields of a DSN or MDN.
    fn returned(&mut self, field: &fields::Field, place: &str, header_name: &str) {
        match field.name.as_str() {
            "return-path" => {
                for address in fields::addresses(&field.value) {
                    self.batv(address, &format!("the Return-Path of {place}"));
                }
            }
            "message-id" => {
                for id in fields::message_ids(&field.value) {
                    self.message_id(id, &format!("the Message-ID of {place}"));
                }
            }
            // Report fields (RFC 8098 §3.2.5, RFC 3464 §2.2.1), wherever the report part is.
            "original-message-id" => {
                for id in fields::message_ids(&field.value) {
                    self.message_id(id, "Original-Message-ID");
                }
            }
            "original-envelope-id" => self.envid(&field.value, "Original-Envelope-Id"),
            name if name == header_name => self.header(&field.value, place),
            _ => {}
        }
    }

    fn batv(&mut self, address: &str, found_in: &str) {
        let result = batv::verify(address, self.keys, self.arrival);
        self.push(CarrierKind::Batv, address, found_in, result);
    }

    fn header(&mut self, value: &str, found_in: &str) {
        let result = header::verify(value, self.keys, self.arrival);
        self.push(CarrierKind::Header, value, found_in, result);
    }

    fn message_id(&mut self, id: &str, found_in: &str) {
        let result = msgid::verify_message_id(id, self.keys, self.arrival);
        self.push(CarrierKind::MessageId, id, found_in, result);
    }

    fn envid(&mut self, value: &str, found_in: &str) {
        // RFC 3461 §4.4: the ENVID is xtext; ours needs no encoding, so it comes back as is.
        let result = msgid::verify_envid(value, self.keys, self.arrival);
        self.push(CarrierKind::EnvId, value, found_in, result);
    }

    fn push(&mut self, kind: CarrierKind, token: &str, found_in: &str, result: Verification) {
        let token = token.trim();
        if result == Verification::NotTagged || self.list.iter().any(|c| c.kind == kind && c.token == token) {
            return;
        }
        self.list.push(Carrier { kind, found_in: found_in.to_owned(), result, token: token.to_owned() });
    }
}

#[cfg(test)]
mod tests;
