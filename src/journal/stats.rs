//! `stats`: what was moved, counted by kind, reason, day and mailbox, from the journal.

use std::collections::BTreeMap;
use std::fmt;

use super::{format_time, Ledger, Record};
use crate::day::Day;
use crate::metrics::{Move, Origin};

/// Counts of the moves in a journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Moves counted.
    pub moves: u64,
    /// Of those, how many were restored since.
    pub restored: u64,
    /// By kind (`ndr`, `autoreply`, …).
    pub by_kind: BTreeMap<String, u64>,
    /// By bounce reason (`-` when there is none).
    pub by_reason: BTreeMap<String, u64>,
    /// By UTC day of the move (`YYYY-MM-DD`).
    pub by_day: BTreeMap<String, u64>,
    /// By mailbox.
    pub by_mailbox: BTreeMap<String, u64>,
}

impl Stats {
    /// Counts the moves in `ledger` that happened (done, perhaps restored since) at or after
    /// `since` (unix seconds), if given.
    pub fn of(ledger: &Ledger, since: Option<i64>) -> Stats {
        let mut stats = Stats::default();
        for (r, restored) in ledger.happened(since) {
            let m = &r.intent;
            stats.moves += 1;
            stats.restored += u64::from(restored);
            *stats.by_kind.entry(m.kind.as_str().to_owned()).or_default() += 1;
            *stats.by_reason.entry(reason_word(m).unwrap_or_else(|| "-".into())).or_default() += 1;
            let day = format_time(m.time.0);
            *stats.by_day.entry(day.get(..10).unwrap_or(&day).to_owned()).or_default() += 1;
            *stats.by_mailbox.entry(m.from.mailbox()).or_default() += 1;
        }
        stats
    }
}

/// The moves in `ledger` that happened at or after `since`, as the stats page counts them (one
/// [`Move`] each, in journal order); `origin` tells who reported each moved message and whom it
/// targeted — the caller reads the message, or says unknown.
pub fn page_moves(ledger: &Ledger, since: Option<i64>, mut origin: impl FnMut(&Record) -> Origin) -> Vec<Move> {
    ledger
        .happened(since)
        .map(|(r, restored)| Move {
            day: Day::from_unix_seconds(r.intent.time.0),
            kind: r.intent.kind.as_str().to_owned(),
            reason: reason_word(&r.intent),
            mailbox: r.intent.from.mailbox(),
            restored,
            origin: origin(r),
        })
        .collect()
}

/// The move's bounce reason as its JSON word (`userunknown`), if it has one.
fn reason_word(m: &super::Move) -> Option<String> {
    m.reason.and_then(|r| serde_json::to_value(r).ok()).and_then(|v| v.as_str().map(str::to_owned))
}

/// A plain-text report: the totals, then one table per dimension, largest counts first (days
/// in date order).
impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "moved: {}  restored since: {}", self.moves, self.restored)?;
        let tables = [
            ("kind", &self.by_kind, true),
            ("reason", &self.by_reason, true),
            ("day", &self.by_day, false),
            ("mailbox", &self.by_mailbox, true),
        ];
        for (title, counts, by_count) in tables {
            if counts.is_empty() {
                continue;
            }
            let mut rows: Vec<(&String, &u64)> = counts.iter().collect();
            if by_count {
                rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            }
            let width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0).max(title.len());
            writeln!(f, "\n{title:<width$}  moves")?;
            for (key, count) in rows {
                writeln!(f, "{key:<width$}  {count:>5}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::intent;
    use super::super::{parse_time, Line, Time};
    use super::*;
    use crate::classify::Kind;

    #[test]
    fn counts_moves_by_dimension() {
        let day = |d: &str| parse_time(d).unwrap();
        let mut ledger = Ledger::default();
        let mut auto = intent("b", day("2026-11-21T10:00:00Z"));
        auto.kind = Kind::AutoReply;
        auto.reason = None;
        for m in [intent("a", day("2026-11-20")), auto, intent("c", day("2026-11-22"))] {
            let (id, at) = (m.id.clone(), m.to.clone());
            ledger.apply(Line::Intent(m));
            if id != "c" {
                ledger.apply(Line::Done { id, time: Time(0), at });
            }
        }
        ledger.apply(Line::Restore { id: "a".into(), time: Time(day("2026-11-22")), at: intent("a", 0).from });
        let stats = Stats::of(&ledger, None);
        assert_eq!((stats.moves, stats.restored), (2, 1));
        assert_eq!(stats.by_kind.get("ndr"), Some(&1));
        assert_eq!(stats.by_reason.get("-"), Some(&1));
        assert_eq!(stats.by_day.keys().collect::<Vec<_>>(), ["2026-11-20", "2026-11-21"]);
        let text = stats.to_string();
        assert!(text.starts_with("moved: 2  restored since: 1\n"), "{text}");
        assert!(text.contains("\nkind       moves\nautoreply      1\nndr            1\n"), "{text}");
        let recent = Stats::of(&ledger, Some(day("2026-11-21")));
        assert_eq!((recent.moves, recent.restored), (1, 0));
    }

    #[test]
    fn page_moves_mark_restores_and_honour_since() {
        let day = |d: &str| parse_time(d).unwrap();
        let mut ledger = Ledger::default();
        for m in
            [intent("a", day("2026-11-20T10:00:00Z")), intent("b", day("2026-11-21")), intent("c", day("2026-11-22"))]
        {
            let (id, at) = (m.id.clone(), m.to.clone());
            ledger.apply(Line::Intent(m));
            if id != "c" {
                ledger.apply(Line::Done { id, time: Time(0), at });
            }
        }
        ledger.apply(Line::Restore { id: "a".into(), time: Time(day("2026-11-22")), at: intent("a", 0).from });
        let moves = page_moves(&ledger, None, |_| Origin::default());
        let days: Vec<(Day, bool)> = moves.iter().map(|m| (m.day, m.restored)).collect();
        assert_eq!(days, [(Day::from_ymd(2026, 11, 20).unwrap(), true), (Day::from_ymd(2026, 11, 21).unwrap(), false)]);
        assert_eq!((moves[0].kind.as_str(), moves[0].reason.as_deref()), ("ndr", Some("userunknown")));
        assert_eq!(page_moves(&ledger, Some(day("2026-11-21")), |_| Origin::default()).len(), 1);
    }
}
