//! The one pipeline every store and command runs a message through: judge (classify → verify →
//! policy, pure) → evidence (SPF: one shared async service) → a [`Plan`] (keep, would move, move
//! into a folder, and why). Maildir, IMAP, `scan`, `watch`, `check` and `classify` all call it.
//! With `[sign] sent_log` on, it holds the sent log of `state_dir` (DESIGN §4.4), brought up to
//! date before each judgement.

use std::sync::{Arc, PoisonError, RwLock};

use crate::config::{Config, Mode};
use crate::day::Day;
use crate::evidence::sentlog::file::Reader;
use crate::evidence::SentIndex;
use crate::keys::Keyring;
use crate::message::Message;
use crate::metrics::prometheus as metrics;
use crate::policy::Action;
use crate::spf::step::{self, Consequence, Report};
use crate::spf::{Checker, SpfError};
use crate::verdict::{self, Judgement};

use super::clock::Clock;

/// What becomes of a judged message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Left where it is.
    Keep,
    /// Backscatter (or an SPF fail) that only is logged: monitor mode, the grace period, no keyring.
    WouldMove,
    /// Moved into `folder`.
    Move {
        /// The folder (UTF-8 name, `/` for hierarchy).
        folder: String,
        /// The one-line why the journal records.
        why: String,
    },
}

/// One message through the pipeline.
#[derive(Debug, Clone)]
pub struct Judged {
    /// The pure judgement (the SPF origin, when checked, amended into its why).
    pub judgement: Judgement,
    /// The SPF step's findings, when `[spf] enabled`.
    pub spf: Option<Report>,
    /// What to do.
    pub plan: Plan,
}

/// The config, the keys, the SPF service and the clock of one run; cheap to clone (shared).
#[derive(Clone)]
pub struct Pipeline {
    config: Arc<Config>,
    keyring: Option<Arc<Keyring>>,
    spf: Option<Arc<Checker>>,
    clock: Arc<dyn Clock>,
    /// The sent log, when `[sign] sent_log` is on and there is a state dir.
    sent_log: Option<Arc<RwLock<Reader>>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("spf", &self.spf.is_some()).finish_non_exhaustive()
    }
}

impl Pipeline {
    /// The pipeline for `config` and `keyring` (`None`: there is none). With `[spf] enabled` it
    /// starts the one SPF service (resolver and cache) of the run: call it inside the runtime.
    /// With `[sign] sent_log` it reads the sent log below the state dir (lazily, at the first
    /// judgement).
    pub fn new(config: Config, keyring: Option<Keyring>, clock: Arc<dyn Clock>) -> Result<Pipeline, SpfError> {
        let spf = if config.spf.enabled { Some(Arc::new(Checker::new(&config.spf)?)) } else { None };
        let sent_log = match (config.sign.sent_log, config.state_dir_or_default()) {
            (true, Some(dir)) => Some(Arc::new(RwLock::new(Reader::new(&dir)))),
            (true, None) => {
                tracing::warn!("[sign] sent_log is on, but there is no state_dir and no $HOME: no sent log");
                None
            }
            (false, _) => None,
        };
        Ok(Pipeline { config: Arc::new(config), keyring: keyring.map(Arc::new), spf, clock, sent_log })
    }

    /// The same pipeline with another SPF service (tests inject a resolver through the checker).
    pub fn with_spf(mut self, spf: Option<Arc<Checker>>) -> Pipeline {
        self.spf = spf;
        self
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The keyring, if there is one.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_deref()
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The shared SPF service, when `[spf] enabled`.
    pub fn spf(&self) -> Option<&Checker> {
        self.spf.as_deref()
    }

    /// The pure half: classify, verify, look the original up in the mailbox's Sent index
    /// (`sent`, DESIGN §4.5) and the carriers in the sent log, and decide (`fallback_arrival`:
    /// the file's mtime or the IMAP INTERNALDATE, unix seconds). CPU only but for bringing the
    /// sent log up to date (a `stat` or two when nothing was appended), so a scan runs it on
    /// several threads.
    pub fn judge(&self, message: &Message<'_>, fallback_arrival: i64, sent: Option<&SentIndex>) -> Judgement {
        let keys = self.keyring.as_deref().map_or(&[][..], Keyring::keys);
        let reader = self.sent_log.as_deref().map(|sent_log| {
            self.refresh_sent_log(sent_log);
            sent_log.read().unwrap_or_else(PoisonError::into_inner)
        });
        let log = reader.as_ref().map(|r| r.log());
        verdict::judge_with_log(message, fallback_arrival, keys, sent, log, &self.config)
    }

    /// Reads what was appended to the sent log since the last judgement. A failure keeps what
    /// was read before (the carrier rule still judges what the log does not hold), logged and
    /// counted in `backscatter_sent_log_errors_total`.
    fn refresh_sent_log(&self, sent_log: &RwLock<Reader>) {
        let today = Day::from_unix_seconds(self.clock.now());
        let mut reader = sent_log.write().unwrap_or_else(PoisonError::into_inner);
        if let Err(err) = reader.refresh(today) {
            metrics::get().sent_log_errors.inc();
            tracing::warn!("{err} — judging with the sent log as read before");
        }
    }

    /// The second half: the evidence that needs the network (SPF), then the plan.
    pub async fn conclude(&self, message: &Message<'_>, mut judgement: Judgement) -> Judged {
        let spf = match &self.spf {
            Some(checker) => {
                let report = step::run(checker, message, &judgement, &self.config).await;
                step::amend(&mut judgement.decision, &report);
                if let Some(result) = report.message.result {
                    tracing::debug!(result = result.word(), why = report.message.why.as_str(), "SPF");
                }
                if let Consequence::Score(score) = report.consequence {
                    tracing::info!(score, why = report.message.why.as_str(), "SPF score");
                }
                Some(report)
            }
            None => None,
        };
        let plan = self.plan(&judgement, spf.as_ref());
        let (kind, verdict) = (judgement.classification.kind.as_str(), judgement.decision.verdict.as_str());
        metrics::get().messages.get_or_create(&metrics::Judged { kind, verdict }).inc();
        Judged { judgement, spf, plan }
    }

    /// Both halves.
    pub async fn run(&self, message: &Message<'_>, fallback_arrival: i64, sent: Option<&SentIndex>) -> Judged {
        let started = std::time::Instant::now();
        let judgement = self.judge(message, fallback_arrival, sent);
        self.conclude_timed(message, judgement, started).await
    }

    /// The second half of a judgement begun at `started` (a store that judged under a lock of
    /// its own, or read Sent first), observed in the judge-latency metric like [`Pipeline::run`].
    pub async fn conclude_timed(
        &self,
        message: &Message<'_>,
        judgement: Judgement,
        started: std::time::Instant,
    ) -> Judged {
        let judged = self.conclude(message, judgement).await;
        metrics::get().judge_seconds.observe(started.elapsed().as_secs_f64());
        judged
    }

    /// The policy's action, and `[spf] fail_action = "move"` for ordinary mail failing SPF.
    fn plan(&self, j: &Judgement, spf: Option<&Report>) -> Plan {
        let spf_folder = match spf.map(|r| &r.consequence) {
            Some(Consequence::Move(folder)) => Some(folder),
            _ => None,
        };
        match (j.decision.action, spf_folder) {
            (Action::Move, _) => Plan::Move { folder: self.config.policy.folder.clone(), why: j.decision.why.clone() },
            (Action::WouldMove, _) => Plan::WouldMove,
            (Action::Keep, Some(folder)) if self.config.policy.mode == Mode::Enforce => {
                let why = spf.map(|r| format!("SPF fail: {}", r.message.why)).unwrap_or_default();
                Plan::Move { folder: folder.clone(), why }
            }
            (Action::Keep, Some(_)) => Plan::WouldMove,
            (Action::Keep, None) => Plan::Keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::FixedClock;

    const BOUNCE: &[u8] = include_bytes!("../../tests/fixtures/ndr/001.eml");

    fn pipeline(config: Config) -> Pipeline {
        Pipeline::new(config, None, Arc::new(FixedClock(0))).unwrap()
    }

    #[tokio::test]
    async fn plans_follow_the_decision() {
        let ordinary = pipeline(Config::default()).run(&Message::parse(b"From: a@b.example\n\nhi\n"), 0, None).await;
        assert_eq!(ordinary.plan, Plan::Keep);
        // No keyring: backscatter is only logged.
        let unverifiable = pipeline(Config::default()).run(&Message::parse(BOUNCE), 0, None).await;
        assert_eq!(unverifiable.plan, Plan::WouldMove);
        let mut config = Config::default();
        config.policy.all_bounces = true;
        config.policy.mode = Mode::Enforce;
        let attacked = pipeline(config).run(&Message::parse(BOUNCE), 0, None).await;
        assert!(matches!(&attacked.plan, Plan::Move { folder, .. } if folder == "Backscatter"), "{:?}", attacked.plan);
        assert!(attacked.spf.is_none());
    }

    /// `watch` keeps one pipeline for days: what is signed after it started is seen by the
    /// next judgement, read incrementally.
    #[tokio::test]
    async fn the_sent_log_is_read_as_it_grows() {
        use crate::day::Day;
        use crate::evidence::sentlog::{file, Entry};
        use crate::policy::Verdict;
        let dir = tempfile::tempdir().unwrap();
        let day = Day(20_425);
        let keyring = Keyring::new(&dir.path().join("keyring.toml"), Day(day.0 - 30), "pipeline-test-secret".into());
        let key = keyring.signing_key().unwrap().as_key();
        let mut config = Config { state_dir: Some(dir.path().join("state")), ..Config::default() };
        config.sign.sent_log = true;
        let now = day.0 * 86_400 + 3_600;
        let pipeline = Pipeline::new(config, Some(keyring.clone()), Arc::new(FixedClock(now))).unwrap();
        let sig = crate::sign::header::make(&key, day, 42);
        let forged = format!(
            "From: MAILER-DAEMON@mx.example.net\nTo: ann@example.com\nSubject: failure\nMIME-Version: 1.0\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n--B\n\
Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n\
Final-Recipient: rfc822; eve@example.org\nAction: failed\nStatus: 5.1.1\n\n--B\n\
Content-Type: text/rfc822-headers\n\nX-Backscatter-Sig: {sig}\nTo: eve@example.org\n\n--B--\n"
        );
        let before = pipeline.judge(&Message::parse(forged.as_bytes()), now, None);
        assert_eq!(before.decision.verdict, Verdict::Genuine, "{}", before.decision.why);
        let entry = Entry::new(&key, day, 42, None, ["bob@example.net"]);
        file::append(&dir.path().join("state"), &entry).unwrap();
        let after = pipeline.judge(&Message::parse(forged.as_bytes()), now, None);
        assert_eq!(after.decision.verdict, Verdict::Backscatter, "{}", after.decision.why);
        assert!(after.decision.why.starts_with("replayed signature"), "{}", after.decision.why);
    }
}
