//! The SPF step that runs beside the pure judgement (DNS is I/O, so it stays out of
//! [`verdict::judge`](crate::verdict::judge)): the delivered message's own SPF, the origin check
//! of a bounce judged `backscatter`, and what `[spf]` says to do about a result.

use serde_json::Value;

use super::facts::{self, Facts, Trust};
use super::origin::{self, Hop};
use super::{Checker, Identity, Outcome, SpfResult};
use crate::config::{self, Config, SpfAction};
use crate::message::Message;
use crate::policy::{Decision, Verdict};
use crate::verdict::Judgement;

/// What `[spf]` says to do with a message because of its SPF result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consequence {
    /// Nothing.
    Nothing,
    /// Move it into this folder (`fail_action = "move"`, ordinary mail failing SPF).
    Move(String),
    /// Add this to its score (`fail_action = "score"`, or a trusted domain's pass).
    Score(i64),
}

/// The SPF step's findings for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// What the message's border MTA saw, for the `Received-SPF` header.
    pub facts: Facts,
    /// The message's own SPF.
    pub message: Outcome,
    /// For a bounce judged `backscatter`: our SPF against its original's first external hop.
    pub origin: Option<Outcome>,
    /// What to do because of [`Report::message`].
    pub consequence: Consequence,
}

/// The facts' trust settings from `[spf]`.
pub fn trust(spf: &config::Spf) -> Trust {
    Trust {
        receivers: spf.trusted_receivers.clone(),
        hops: usize::try_from(spf.trusted_hops).unwrap_or(1),
        authserv_id: spf.authserv_id.clone(),
    }
}

/// Runs the step for `message`, judged as `j`.
pub async fn run(checker: &Checker, message: &Message<'_>, j: &Judgement, config: &Config) -> Report {
    let facts = facts::facts(message, &trust(&config.spf));
    let outcome = checker.check(&facts).await;
    let origin = match (&j.decision.verdict, &j.classification.original) {
        (Verdict::Backscatter, Some(original)) if !original.headers.is_empty() => {
            match origin::origin(&original.headers, &config.protected_domains) {
                Hop::Found(hop) => Some(checker.check_origin(&hop).await),
                Hop::Missing(why) => Some(Outcome::skipped(format!("origin not checked: {why}"))),
            }
        }
        _ => None,
    };
    let consequence = consequence(&outcome, j.decision.verdict, &config.spf);
    Report { facts, message: outcome, origin, consequence }
}

/// `[spf]`'s policy (issue 7): a `fail` on ordinary mail does nothing, moves, or scores; a
/// trusted domain's MAIL FROM `pass` earns `pass_score`. Checked kinds are the verdict's business.
pub fn consequence(outcome: &Outcome, verdict: Verdict, spf: &config::Spf) -> Consequence {
    match outcome.result {
        Some(SpfResult::Fail) if verdict == Verdict::Ordinary => match spf.fail_action {
            SpfAction::Nothing => Consequence::Nothing,
            SpfAction::Move => Consequence::Move(spf.fail_folder.clone()),
            SpfAction::Score => Consequence::Score(spf.fail_score),
        },
        Some(SpfResult::Pass)
            if outcome.identity == Some(Identity::MailFrom)
                && outcome.domain.as_ref().is_some_and(|d| spf.trusted_domains.contains(d)) =>
        {
            Consequence::Score(spf.pass_score)
        }
        _ => Consequence::Nothing,
    }
}

/// Puts the origin check into `decision` (pure): a forbidden origin is added to the why of a
/// `backscatter` verdict as the strong evidence it is; an allowed one is logged, and changes
/// nothing (a forger can copy our relay's line into a fake original).
pub fn amend(decision: &mut Decision, report: &Report) {
    let Some(origin) = &report.origin else { return };
    if decision.verdict == Verdict::Backscatter && origin::forbidden(origin.result) {
        decision.why = format!("{}; {}", decision.why, origin.why);
    } else if origin.result == Some(SpfResult::Pass) {
        tracing::info!(why = origin.why.as_str(), "backscatter origin allowed by our SPF");
    }
}

impl Report {
    /// The `spf` field of `classify --json`: the message's `result`, `identity`, `why` (and
    /// `domain`, `ip`), `origin` for a bounce, and `action` (`move` with `folder`, or `score`)
    /// when `[spf]` asks for one.
    pub fn to_json(&self) -> Value {
        let mut v = self.message.to_json();
        if let Some(origin) = &self.origin {
            v["origin"] = origin.to_json();
        }
        match &self.consequence {
            Consequence::Nothing => {}
            Consequence::Move(folder) => {
                v["action"] = "move".into();
                v["folder"] = folder.as_str().into();
            }
            Consequence::Score(score) => {
                v["action"] = "score".into();
                v["score"] = (*score).into();
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: SpfResult, domain: &str) -> Outcome {
        Outcome {
            result: Some(result),
            identity: Some(Identity::MailFrom),
            domain: Some(domain.into()),
            ip: None,
            why: String::new(),
        }
    }

    #[test]
    fn fail_on_ordinary_mail_follows_fail_action() {
        let fail = outcome(SpfResult::Fail, "example.com");
        let mut spf = config::Spf::default();
        assert_eq!(consequence(&fail, Verdict::Ordinary, &spf), Consequence::Nothing);
        spf.fail_action = SpfAction::Move;
        assert_eq!(consequence(&fail, Verdict::Ordinary, &spf), Consequence::Move("Junk".into()));
        assert_eq!(
            consequence(&fail, Verdict::Backscatter, &spf),
            Consequence::Nothing,
            "checked kinds: the verdict's"
        );
        spf.fail_action = SpfAction::Score;
        assert_eq!(consequence(&fail, Verdict::Ordinary, &spf), Consequence::Score(5));
    }

    #[test]
    fn trusted_domains_that_pass_earn_the_bonus() {
        let spf = config::Spf { trusted_domains: vec!["example.org".into()], ..config::Spf::default() };
        assert_eq!(
            consequence(&outcome(SpfResult::Pass, "example.org"), Verdict::Ordinary, &spf),
            Consequence::Score(-2)
        );
        assert_eq!(
            consequence(&outcome(SpfResult::Pass, "example.net"), Verdict::Ordinary, &spf),
            Consequence::Nothing
        );
        let helo = Outcome { identity: Some(Identity::Helo), ..outcome(SpfResult::Pass, "example.org") };
        assert_eq!(consequence(&helo, Verdict::Ordinary, &spf), Consequence::Nothing);
    }

    #[test]
    fn a_forbidden_origin_joins_the_why() {
        let origin = Outcome {
            why: "original sent from 203.0.113.9, not allowed by example.com's SPF".into(),
            ..outcome(SpfResult::Fail, "example.com")
        };
        let report = Report {
            facts: Facts::default(),
            message: Outcome::skipped("x"),
            origin: Some(origin),
            consequence: Consequence::Nothing,
        };
        let mut d = Decision {
            verdict: Verdict::Backscatter,
            action: crate::policy::Action::Move,
            why: "no valid carrier".into(),
        };
        amend(&mut d, &report);
        assert_eq!(d.why, "no valid carrier; original sent from 203.0.113.9, not allowed by example.com's SPF");
        assert_eq!(report.to_json()["origin"]["result"], "fail");
    }
}
