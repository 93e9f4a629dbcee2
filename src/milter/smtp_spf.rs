//! SPF at SMTP time (RFC 7208), from the real connection — the client IP, HELO and MAIL FROM
//! the MTA saw, no `Received:` parsing — through the daemon's one [`Checker`] (its cache and
//! void-lookup limit). What a result does follows `[milter] spf_fail` and `[spf]`.

use super::session::Session;
use crate::config::{Config, SpfFail};
use crate::spf::facts::Facts;
use crate::spf::{header, Outcome, SpfResult};

/// The facts of the connection for MAIL FROM `sender` (brackets removed; empty: the null
/// sender, whose HELO is checked, RFC 7208 §2.4), for [`Checker::check`](crate::spf::Checker::check):
/// skipped for an authenticated client (with `spf.skip_authenticated`) and allow-listed IPs,
/// else HELO (when `spf.helo`, and always for `<>`) and MAIL FROM.
pub fn facts(session: &Session, sender: &str, authenticated: bool) -> Facts {
    Facts {
        ip: session.client,
        helo: session.helo.clone(),
        mail_from: Some(sender.to_owned()),
        receiver: session.receiver.clone(),
        authenticated,
        recorded: None,
        missing: session.client.is_none().then(|| "the MTA gave no client IP address".to_owned()),
    }
}

/// The `Received-SPF` field to insert, as (name, value), when `[milter] received_spf` wants it
/// (and `received_spf_none` for a `none`).
pub fn received_spf(outcome: &Outcome, facts: &Facts, config: &Config) -> Option<(String, String)> {
    let milter = &config.milter;
    if !milter.received_spf || (outcome.result == Some(SpfResult::None) && !milter.received_spf_none) {
        return None;
    }
    let field = header::received_spf_header(outcome, facts)?;
    let (name, value) = field.split_once(": ")?;
    Some((name.to_owned(), value.to_owned()))
}

/// What an SPF result does to the message, by `[milter] spf_fail`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFail {
    /// Nothing beyond `Received-SPF`.
    Nothing,
    /// `X-Backscatter-Score: <spf.fail_score>`.
    Score(i64),
    /// 550 5.7.23 with this text (RFC 7372 §3.2: "SPF validation failed").
    Reject(String),
}

/// The header `score` is written in.
pub const SCORE_HEADER: &str = "X-Backscatter-Score";

/// What `outcome` does under `config`: only a `fail` counts.
pub fn on_fail(outcome: &Outcome, config: &Config) -> OnFail {
    if outcome.result != Some(SpfResult::Fail) {
        return OnFail::Nothing;
    }
    match config.milter.spf_fail {
        SpfFail::Header => OnFail::Nothing,
        SpfFail::Score => OnFail::Score(config.spf.fail_score),
        SpfFail::Reject => {
            OnFail::Reject(format!("SPF validation failed: {}", super::inbound::reply_text(&outcome.why)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spf::Identity;

    fn fail() -> Outcome {
        Outcome {
            result: Some(SpfResult::Fail),
            identity: Some(Identity::MailFrom),
            domain: Some("example.test".into()),
            ip: "203.0.113.9".parse().ok(),
            why: "203.0.113.9 is not allowed by example.test's SPF".into(),
        }
    }

    #[test]
    fn facts_come_from_the_connection() {
        let session = Session {
            client: "203.0.113.9".parse().ok(),
            helo: Some("mx.example.test".into()),
            receiver: Some("mx.test.invalid".into()),
            ..Session::default()
        };
        let f = facts(&session, "ann@example.test", false);
        assert_eq!((f.ip, f.mail_from.as_deref(), f.missing), (session.client, Some("ann@example.test"), None));
        assert!(facts(&Session::default(), "", true).missing.is_some());
    }

    #[test]
    fn a_fail_rejects_scores_or_only_heads_by_config() {
        let mut config = Config::default();
        assert_eq!(on_fail(&fail(), &config), OnFail::Nothing);
        config.milter.spf_fail = SpfFail::Score;
        assert_eq!(on_fail(&fail(), &config), OnFail::Score(5));
        config.milter.spf_fail = SpfFail::Reject;
        assert_eq!(
            on_fail(&fail(), &config),
            OnFail::Reject("SPF validation failed: 203.0.113.9 is not allowed by example.test's SPF".into())
        );
        let pass = Outcome { result: Some(SpfResult::Pass), ..fail() };
        assert_eq!(on_fail(&pass, &config), OnFail::Nothing);
    }

    #[test]
    fn received_spf_follows_the_spf_keys() {
        let mut config = Config::default();
        let f = facts(&Session { client: "203.0.113.9".parse().ok(), ..Session::default() }, "a@example.test", false);
        config.milter.received_spf = false;
        assert_eq!(received_spf(&fail(), &f, &config), None);
        config.milter.received_spf = true;
        let (name, value) = received_spf(&fail(), &f, &config).expect("a header");
        assert_eq!(name, "Received-SPF");
        assert!(value.starts_with("fail (backscatter: 203.0.113.9 is not allowed"), "{value}");
        config.milter.received_spf_none = false;
        let none = Outcome { result: Some(SpfResult::None), ..fail() };
        assert_eq!(received_spf(&none, &f, &config), None);
    }
}
