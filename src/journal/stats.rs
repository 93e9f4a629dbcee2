//! `stats`: what was moved, counted by kind, reason, day and mailbox, from the journal.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use super::{parse_time, Entry, Op};
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
    /// Counts the moves in `entries` made at or after `since` (unix seconds), if given.
    pub fn of(entries: &[Entry], since: Option<i64>) -> Stats {
        let undone: HashSet<&str> = entries.iter().filter_map(|e| e.restores.as_deref()).collect();
        let mut stats = Stats::default();
        for e in entries.iter().filter(|e| e.op == Op::Move) {
            if since.is_some_and(|since| parse_time(&e.time).map_or(true, |t| t < since)) {
                continue;
            }
            stats.moves += 1;
            stats.restored += u64::from(undone.contains(e.id.as_str()));
            *stats.by_kind.entry(e.kind.clone()).or_default() += 1;
            *stats.by_reason.entry(e.reason.clone().unwrap_or_else(|| "-".into())).or_default() += 1;
            *stats.by_day.entry(e.time.get(..10).unwrap_or(&e.time).to_owned()).or_default() += 1;
            *stats.by_mailbox.entry(e.mailbox.clone()).or_default() += 1;
        }
        stats
    }
}

/// The moves in `entries` made at or after `since`, as the stats page counts them (one
/// [`Move`] each, in journal order); `origin` tells who reported each moved message and whom it
/// targeted — the caller reads the message, or says unknown.
pub fn page_moves(entries: &[Entry], since: Option<i64>, mut origin: impl FnMut(&Entry) -> Origin) -> Vec<Move> {
    let undone: HashSet<&str> = entries.iter().filter_map(|e| e.restores.as_deref()).collect();
    entries
        .iter()
        .filter(|e| e.op == Op::Move)
        .filter_map(|e| {
            let time = parse_time(&e.time).ok()?;
            if since.is_some_and(|since| time < since) {
                return None;
            }
            Some(Move {
                day: Day::from_unix_seconds(time),
                kind: e.kind.clone(),
                reason: e.reason.clone(),
                mailbox: e.mailbox.clone(),
                restored: undone.contains(e.id.as_str()),
                origin: origin(e),
            })
        })
        .collect()
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
    use super::super::tests::entry;
    use super::*;

    #[test]
    fn counts_moves_by_dimension() {
        let mut auto = entry("b", "2026-11-21T10:00:00Z", Op::Move);
        auto.kind = "autoreply".into();
        auto.reason = None;
        let mut undo = entry("r", "2026-11-22T00:00:00Z", Op::Restore);
        undo.restores = Some("a".into());
        let entries = vec![entry("a", "2026-11-20T00:00:00Z", Op::Move), auto, undo];
        let stats = Stats::of(&entries, None);
        assert_eq!((stats.moves, stats.restored), (2, 1));
        assert_eq!(stats.by_kind.get("ndr"), Some(&1));
        assert_eq!(stats.by_reason.get("-"), Some(&1));
        assert_eq!(stats.by_day.keys().collect::<Vec<_>>(), ["2026-11-20", "2026-11-21"]);
        let text = stats.to_string();
        assert!(text.starts_with("moved: 2  restored since: 1\n"), "{text}");
        assert!(text.contains("\nkind       moves\nautoreply      1\nndr            1\n"), "{text}");
        let recent = Stats::of(&entries, Some(parse_time("2026-11-21").unwrap()));
        assert_eq!((recent.moves, recent.restored), (1, 0));
    }

    #[test]
    fn page_moves_mark_restores_and_honour_since() {
        let mut undo = entry("r", "2026-11-22T00:00:00Z", Op::Restore);
        undo.restores = Some("a".into());
        let entries =
            vec![entry("a", "2026-11-20T10:00:00Z", Op::Move), entry("b", "2026-11-21T00:00:00Z", Op::Move), undo];
        let moves = page_moves(&entries, None, |_| Origin::default());
        assert_eq!(
            moves.iter().map(|m| (m.day, m.restored)).collect::<Vec<_>>(),
            [(Day::from_ymd(2026, 11, 20).unwrap(), true), (Day::from_ymd(2026, 11, 21).unwrap(), false)]
        );
        let recent = page_moves(&entries, Some(parse_time("2026-11-21").unwrap()), |_| Origin::default());
        assert_eq!(recent.len(), 1);
    }
}
