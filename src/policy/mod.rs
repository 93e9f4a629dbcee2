//! What to do with a classified, verified message (DESIGN §6): which kinds are checked, whose
//! mail is protected, exemptions, the under-attack `all_bounces` mode, fallback evidence from
//! our own relays and the Sent folder (§4.5), `monitor` vs `enforce`, and the grace period after
//! the first key. Pure: every input is a value, and every [`Decision`] explains itself in one line.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::classify::{Classification, Kind};
use crate::config::{self, Mode};
use crate::day::Day;
use crate::evidence::sentlog::ReplayFinding;
use crate::evidence::SentFinding;
use crate::message::Message;
use crate::sign::{batv, Verification};
use crate::verify::fields;
use crate::verify::{Carrier, CarrierKind};

/// What a message is, as far as backscatter is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not a checked kind (or not for a protected domain): mail we never judge.
    Ordinary,
    /// A checked message with evidence that its original was ours.
    Genuine,
    /// A checked message with no valid evidence: forged, or about mail we did not sign.
    Backscatter,
    /// A checked message from an exempt sender, reporting MTA or relay.
    Exempt,
}

impl Verdict {
    /// The word used in JSON and logs (DESIGN §5).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ordinary => "ordinary",
            Verdict::Genuine => "genuine",
            Verdict::Backscatter => "backscatter",
            Verdict::Exempt => "exempt",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a store does with the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// Leave it where it is.
    Keep,
    /// Move it into the backscatter folder.
    Move,
    /// It is backscatter, but it stays: monitor mode, the grace period, or no keyring.
    WouldMove,
}

impl Action {
    /// The word used in JSON and logs: `keep`, `move`, `would-move`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Keep => "keep",
            Action::Move => "move",
            Action::WouldMove => "would-move",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict, the action and why, in one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What the message is.
    pub verdict: Verdict,
    /// What to do with it.
    pub action: Action,
    /// Why, for people and logs: one line, never the body.
    pub why: String,
}

impl Decision {
    fn keep(verdict: Verdict, why: String) -> Decision {
        Decision { verdict, action: Action::Keep, why }
    }
}

/// What the policy needs besides the message and the config: the day the message arrived, the
/// keyring's age and what the Sent folder says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The day the message arrived (DESIGN §4), on which the grace period is judged.
    pub arrival: Day,
    /// The `created` day of the keyring's oldest key; `None` when there is no keyring at all
    /// (no carrier can be verified: only Sent evidence moves anything then).
    pub first_key_created: Option<Day>,
    /// What the Sent index says about the message's original (DESIGN §4.5); `None` when there
    /// is no Sent index.
    pub sent: Option<SentFinding>,
    /// What the sent log says about the message a valid carrier was made for (DESIGN §4.4);
    /// `None` without a sent log, or with nothing for it to check.
    pub replay: Option<ReplayFinding>,
}

/// Decides what `message` (classified as `c`, with `carriers` found and checked) is and what
/// happens to it under `policy`. The rules, in order:
///
/// 1. a kind not in `policy.check` is `ordinary` and kept;
/// 2. with `protected_domains` set, a message delivered only to other domains is `ordinary`;
/// 3. a valid carrier makes it `genuine` (a BATV tag only for a protected address) — unless
///    `all_bounces` is on, or the sent log shows the signed message never went to the recipient
///    the report names (a replayed carrier: `backscatter`, moved at once in `enforce` mode —
///    signing had begun — after exemptions);
/// 4. a sender, reporting-MTA domain or relay IP listed in `exempt_domains` / `exempt_ips`
///    makes it `exempt`;
/// 5. `all_bounces` (under attack) makes every remaining checked message `backscatter`;
/// 6. one of `own_relays` in the returned original's `Received:` chain makes it `genuine`;
/// 7. the Sent folder: the original in Sent makes it `genuine` — unless a carrier is forged;
///    the original missing from Sent while Sent covers its date makes it `backscatter`, moved at
///    once in `enforce` mode (the grace period is about mail sent before signing began, and
///    Sent knows that mail), with or without a keyring;
/// 8. anything else is `backscatter`: moved in `enforce` mode, but only `would-move` in
///    `monitor` mode, with no keyring, or before the grace period (`grace_days` after the first
///    key's creation) ends on the arrival day.
pub fn decide(
    c: &Classification,
    message: &Message<'_>,
    carriers: &[Carrier],
    policy: &config::Policy,
    protected_domains: &[String],
    context: &Context,
) -> Decision {
    if !policy.check.contains(&c.kind) {
        let why = match c.kind {
            Kind::Ordinary => "not a bounce or auto-reply".to_owned(),
            kind => format!("{kind} is not a checked kind (policy.check)"),
        };
        return Decision::keep(Verdict::Ordinary, why);
    }
    let facts = Facts::read(message, !policy.exempt_domains.is_empty() || !policy.exempt_ips.is_empty());
    if let Some(elsewhere) = not_protected(&facts, protected_domains) {
        return Decision::keep(Verdict::Ordinary, format!("delivered to {elsewhere}, not a protected domain"));
    }
    let protected = |carrier: &Carrier| -> bool {
        carrier.kind != CarrierKind::Batv
            || protected_domains.is_empty()
            || batv::untag(&carrier.token)
                .and_then(fields::domain_of)
                .is_some_and(|d| protected_domains.iter().any(|p| fields::in_domain(&d, p)))
    };
    let valid = carriers.iter().find(|carrier| carrier.result.is_valid() && protected(carrier));
    let replayed = match (&context.replay, valid) {
        (Some(ReplayFinding::Replayed { why }), Some(_)) => Some(why),
        _ => None,
    };
    if let (Some(carrier), false, None) = (valid, policy.all_bounces, replayed) {
        let why = match &context.replay {
            Some(finding) => format!("{}; {finding}", carrier.describe()),
            None => carrier.describe(),
        };
        return Decision::keep(Verdict::Genuine, why);
    }
    if let Some(why) = exemption(&facts, policy) {
        return Decision::keep(Verdict::Exempt, why);
    }
    if policy.all_bounces {
        let why = format!("all-bounces mode: every checked message is backscatter ({})", c.kind);
        return backscatter(why, policy, context, true);
    }
    if let Some(why) = replayed {
        return backscatter(why.clone(), policy, context, true);
    }
    if let Some(why) = own_relay(c, policy) {
        return Decision::keep(Verdict::Genuine, why);
    }
    let forged = carriers.iter().find(|carrier| carrier.result == Verification::Forged);
    match (&context.sent, forged) {
        (Some(SentFinding::Genuine { why }), None) => return Decision::keep(Verdict::Genuine, why.clone()),
        (Some(SentFinding::Backscatter { why }), _) => return backscatter(why.clone(), policy, context, true),
        _ => {}
    }
    // What Sent could not settle is said after the carriers' why.
    let sent_note = match &context.sent {
        Some(SentFinding::Genuine { why }) => format!("; {why}, but a carrier is forged"),
        Some(SentFinding::Unknown { why }) => format!("; {why}"),
        _ => String::new(),
    };
    if context.first_key_created.is_none() {
        return Decision {
            verdict: Verdict::Backscatter,
            action: Action::WouldMove,
            why: format!("no keyring: nothing can be verified{sent_note}"),
        };
    }
    backscatter(format!("{}{sent_note}", why_not(c, carriers, &protected)), policy, context, false)
}

/// A backscatter decision: moved, unless monitor mode or (for ordinary enforcement by carriers,
/// not the under-attack mode or Sent evidence: `at_once`) the grace period keeps it.
fn backscatter(why: String, policy: &config::Policy, context: &Context, at_once: bool) -> Decision {
    let verdict = Verdict::Backscatter;
    if policy.mode == Mode::Monitor {
        return Decision { verdict, action: Action::WouldMove, why: format!("{why}; monitor mode") };
    }
    if let (Some(created), false) = (context.first_key_created, at_once) {
        // Mail sent before signing began still bounces: enforce from created + grace_days on.
        let enforced_from = Day(created.0.saturating_add(i64::from(policy.grace_days)));
        if context.arrival < enforced_from {
            let why = format!("{why}; grace period until {enforced_from}");
            return Decision { verdict, action: Action::WouldMove, why };
        }
    }
    Decision { verdict, action: Action::Move, why }
}

/// Why a checked message without a usable valid carrier is backscatter: the most telling
/// carrier that failed, or that there was none.
fn why_not(c: &Classification, carriers: &[Carrier], protected: &dyn Fn(&Carrier) -> bool) -> String {
    // A valid tag for someone else's domain first, then how close the others came.
    let rank = |carrier: &Carrier| match carrier.result {
        Verification::Valid { .. } => 0,
        Verification::Expired { .. } => 1,
        Verification::UnknownKey { .. } => 2,
        Verification::Forged => 3,
        Verification::Malformed => 4,
        Verification::Foreign(_) | Verification::NotTagged => 5,
    };
    let Some(best) = carriers.iter().min_by_key(|carrier| rank(carrier)) else {
        return match &c.original {
            Some(_) => "no carrier: neither the delivery address nor the returned original is signed".to_owned(),
            None => "no carrier, and no returned original to look in".to_owned(),
        };
    };
    let mut why = format!("no valid carrier: {}", best.describe());
    if best.result.is_valid() && !protected(best) {
        let domain = batv::untag(&best.token).and_then(fields::domain_of).unwrap_or_default();
        why.push_str(&format!(" for {domain}, not a protected domain"));
    }
    if carriers.len() > 1 {
        why.push_str(&format!(" (and {} more)", carriers.len() - 1));
    }
    why
}

/// What the policy reads from the message itself.
struct Facts<'m> {
    /// The message.
    message: &'m Message<'m>,
    /// `Reporting-MTA` of a DSN (RFC 3464 §2.2.2), without its `dns;` type.
    reporting_mta: Option<String>,
}

impl<'m> Facts<'m> {
    /// The facts of `message`; the body is searched for `Reporting-MTA` only when
    /// `exemptions` are configured to compare it with.
    fn read(message: &'m Message<'m>, exemptions: bool) -> Facts<'m> {
        let reporting_mta = if exemptions { fields::reporting_mta(message.body()) } else { None };
        Facts { message, reporting_mta }
    }

    /// The unfolded values of the header fields called `names`, in the header's order.
    fn values(&self, names: &[&str]) -> Vec<String> {
        self.message.fields().filter(|f| names.iter().any(|n| f.is(n))).map(|f| f.value()).collect()
    }
}

/// With `protected_domains` set: the delivery address when the message names delivery
/// addresses and none of them is in a protected domain (it is about mail we do not sign).
fn not_protected(facts: &Facts, protected_domains: &[String]) -> Option<String> {
    if protected_domains.is_empty() {
        return None;
    }
    let values = facts.values(&["x-original-to", "delivered-to", "envelope-to", "x-envelope-to", "to"]);
    let addresses: Vec<String> = values
        .iter()
        .flat_map(|value| fields::addresses(value))
        .map(|a| batv::untag(a).unwrap_or(a).to_owned())
        .collect();
    let protected =
        |a: &String| fields::domain_of(a).is_some_and(|d| protected_domains.iter().any(|p| fields::in_domain(&d, p)));
    if addresses.is_empty() || addresses.iter().any(protected) {
        return None;
    }
    addresses.into_iter().next()
}

/// An exemption that applies: the sender's domain (`From`, `Return-Path`), the reporting MTA's
/// domain in `exempt_domains`, or the relay that handed us the message (the top `Received:`'s
/// `from` part) or the reporting MTA's IP in `exempt_ips`.
fn exemption(facts: &Facts, policy: &config::Policy) -> Option<String> {
    if !policy.exempt_domains.is_empty() {
        let values = facts.values(&["from", "return-path"]);
        let senders = values
            .iter()
            .flat_map(|value| fields::addresses(value))
            .filter_map(fields::domain_of)
            .map(|d| ("sender domain", d));
        let mta = facts.reporting_mta.iter().map(|m| ("reporting MTA", m.trim_end_matches('.').to_ascii_lowercase()));
        for (what, domain) in senders.chain(mta) {
            if let Some(listed) = policy.exempt_domains.iter().find(|p| fields::in_domain(&domain, p)) {
                return Some(format!("{what} {domain} is exempt (exempt_domains: {listed})"));
            }
        }
    }
    if !policy.exempt_ips.is_empty() {
        let top = facts.message.field("received").map(|f| f.value());
        let relay = top.as_deref().map(fields::received_from_part).map(fields::ips).unwrap_or_default();
        let mta = facts.reporting_mta.as_deref().map(fields::ips).unwrap_or_default();
        for (what, ip) in
            relay.into_iter().map(|ip| ("relay", ip)).chain(mta.into_iter().map(|ip| ("reporting MTA", ip)))
        {
            if let Some(net) = policy.exempt_ips.iter().find(|net| net.contains(ip)) {
                return Some(format!("{what} {ip} is exempt (exempt_ips: {net})"));
            }
        }
    }
    None
}

/// SpamAssassin's `whitelist_bounce_relays` idea: the returned original went through one of our
/// own relays, so it was sent by us (DESIGN §6). The IPs of its `Received:` chain are read.
fn own_relay(c: &Classification, policy: &config::Policy) -> Option<String> {
    if policy.own_relays.is_empty() {
        return None;
    }
    let original = c.original.as_ref()?;
    let received = fields::body_fields(&original.headers, &["received"]);
    let ips: Vec<IpAddr> = received.iter().flat_map(|f| fields::ips(&f.value)).collect();
    ips.iter().find_map(|ip| {
        let net = policy.own_relays.iter().find(|net| net.contains(*ip))?;
        Some(format!("the returned original passed our relay {ip} (own_relays: {net})"))
    })
}

#[cfg(test)]
mod tests;
