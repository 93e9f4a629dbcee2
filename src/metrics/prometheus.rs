//! The counters `watch` and `milter` keep, in Prometheus' text format (OpenMetrics 1.0) at
//! `/metrics` (STYLE 16: `backscatter_<thing>_total`, `_seconds`). One registry per process,
//! counted always (an atomic add), served only when `[metrics] listen` is set.

use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `kind` and `verdict` of a judged message.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Judged {
    /// `ndr`, `autoreply`, … (DESIGN §5).
    pub kind: &'static str,
    /// `ordinary`, `genuine`, `backscatter`, `exempt`.
    pub verdict: &'static str,
}

/// Which store a move happened in.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Store {
    /// `maildir` or `imap`.
    pub store: &'static str,
}

/// An IMAP account.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Account {
    /// The `[[imap]]` account's name.
    pub account: String,
}

/// A milter verdict: at which stage, what, and what was done.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Milter {
    /// `rcpt` or `eom`.
    pub stage: &'static str,
    /// The verdict word.
    pub verdict: &'static str,
    /// `accept`, `reject`, `quarantine`, `header`, `tempfail`, `sign`.
    pub action: &'static str,
}

/// Every metric of the process.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `backscatter_messages_total{kind,verdict}`: messages judged.
    pub messages: Family<Judged, Counter>,
    /// `backscatter_moves_total{store}`: messages moved into a folder.
    pub moves: Family<Store, Counter>,
    /// `backscatter_journal_errors_total`: journal writes that failed (nothing moved then).
    pub journal_errors: Counter,
    /// `backscatter_imap_reconnects_total{account}`: IMAP connections lost and retried.
    pub imap_reconnects: Family<Account, Counter>,
    /// `backscatter_inotify_overflows_total`: kernel queue overflows (a rescan each).
    pub inotify_overflows: Counter,
    /// `backscatter_milter_verdicts_total{stage,verdict,action}`.
    pub milter_verdicts: Family<Milter, Counter>,
    /// `backscatter_sent_log_errors_total`: sent log lines not written (the mail still went
    /// out) or reads that failed.
    pub sent_log_errors: Counter,
    /// `backscatter_judge_seconds`: time to judge one message (classify, verify, policy, SPF).
    pub judge_seconds: Histogram,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("backscatter");
        let messages = Family::default();
        let moves = Family::default();
        let journal_errors = Counter::default();
        let imap_reconnects = Family::default();
        let inotify_overflows = Counter::default();
        let milter_verdicts = Family::default();
        let sent_log_errors = Counter::default();
        // 10 µs … ~2.6 s: ordinary mail takes microseconds, an SPF lookup milliseconds.
        let judge_seconds = Histogram::new(exponential_buckets(1e-5, 4.0, 10));
        registry.register("messages", "Messages judged, by kind and verdict", messages.clone());
        registry.register("moves", "Messages moved into a folder, by store", moves.clone());
        registry.register("journal_errors", "Journal writes that failed (nothing was moved)", journal_errors.clone());
        registry.register("imap_reconnects", "IMAP connections lost and retried", imap_reconnects.clone());
        registry.register("inotify_overflows", "inotify queue overflows (each a rescan)", inotify_overflows.clone());
        registry.register("milter_verdicts", "Milter verdicts by stage, verdict and action", milter_verdicts.clone());
        registry.register(
            "sent_log_errors",
            "Sent log lines not written (the mail still went out) or reads that failed",
            sent_log_errors.clone(),
        );
        registry.register("judge_seconds", "Time to judge one message", judge_seconds.clone());
        Metrics {
            registry,
            messages,
            moves,
            journal_errors,
            imap_reconnects,
            inotify_overflows,
            milter_verdicts,
            sent_log_errors,
            judge_seconds,
        }
    }

    /// The text exposition (OpenMetrics 1.0, which Prometheus reads).
    pub fn text(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_house_rule() {
        let m = get();
        m.messages.get_or_create(&Judged { kind: "ndr", verdict: "backscatter" }).inc();
        m.judge_seconds.observe(0.000_2);
        let text = m.text();
        assert!(text.contains("backscatter_messages_total{kind=\"ndr\",verdict=\"backscatter\"} "), "{text}");
        assert!(text.contains("# TYPE backscatter_judge_seconds histogram"), "{text}");
        assert!(text.contains("backscatter_journal_errors_total 0"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
