//! What the stats page shows, as a plain value: moves per day by kind, genuine against
//! backscatter, who reported the bounces and whom they targeted. Built from one [`Move`] per
//! journal entry; the journal side fills those in, the page only reads a [`Summary`].

use std::collections::{BTreeMap, HashMap};

use crate::day::Day;

/// Rows a ranked table shows before folding the rest into "others".
pub const TOP: usize = 10;

/// One move out of a mailbox, as the page counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// The UTC day of the move.
    pub day: Day,
    /// The message's kind (`ndr`, `autoreply`, …).
    pub kind: String,
    /// Its bounce reason, if any.
    pub reason: Option<String>,
    /// The mailbox it was moved out of.
    pub mailbox: String,
    /// Put back since by `restore`: a move the user overruled.
    pub restored: bool,
    /// Who reported it and whom it targeted (unknown when the message could not be read).
    pub origin: Origin,
}

/// Who sent a bounce or auto-reply back and which of our addresses it was aimed at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The reporting MTA (DSN `Reporting-MTA`, RFC 3464 §2.2.2), else the sender's domain.
    pub reporting_mta: Option<String>,
    /// The address the message was delivered to: the forged sender of the original.
    pub targeted: Option<String>,
}

/// The stats page's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// When the page was made (RFC 3339 UTC).
    pub generated: String,
    /// The `--since` bound, if one was given (as typed).
    pub since: Option<String>,
    /// Messages moved as backscatter.
    pub backscatter: u64,
    /// Of those, how many were put back by `restore`.
    pub restored: u64,
    /// Genuine bounces and replies seen; `None` when the journal does not record them (today it
    /// records moves only).
    pub genuine: Option<u64>,
    /// The kinds in the chart's stacking and legend order: most moves first.
    pub kinds: Vec<String>,
    /// Every day from the first move to the last, oldest first, days without moves included
    /// (so a quiet week looks quiet and a storm stands out).
    pub days: Vec<DayCounts>,
    /// The reporting MTAs, most bounces first.
    pub reporting_mtas: Ranking,
    /// The addresses the backscatter was aimed at, most first.
    pub targeted: Ranking,
    /// Bounce reasons, most first (`None`: no reason, e.g. an auto-reply).
    pub reasons: Ranking,
    /// Mailboxes, most moves first.
    pub mailboxes: Ranking,
}

/// One day's moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCounts {
    /// The day.
    pub day: Day,
    /// Moves of each kind, in [`Summary::kinds`] order.
    pub counts: Vec<u64>,
}

impl DayCounts {
    /// All moves that day.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// A ranked table: the top rows and what was folded away.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranking {
    /// At most [`TOP`] rows, largest count first (ties by name); `None` names "unknown".
    pub rows: Vec<(Option<String>, u64)>,
    /// The count of everything below the top rows.
    pub others: u64,
    /// How many distinct names were folded into `others`.
    pub other_names: usize,
}

impl Ranking {
    fn of(counts: HashMap<Option<String>, u64>) -> Ranking {
        let mut rows: Vec<(Option<String>, u64)> = counts.into_iter().collect();
        // Unknown sorts last among equals: a name tells more.
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.is_none().cmp(&b.0.is_none())).then_with(|| a.0.cmp(&b.0)));
        let rest = rows.split_off(rows.len().min(TOP));
        Ranking { rows, others: rest.iter().map(|r| r.1).sum(), other_names: rest.len() }
    }
}

impl Summary {
    /// Counts `moves`; `generated` and `since` are shown on the page as given.
    pub fn of(moves: impl IntoIterator<Item = Move>, generated: String, since: Option<String>) -> Summary {
        let mut per_day: BTreeMap<Day, HashMap<String, u64>> = BTreeMap::new();
        let mut kinds: HashMap<String, u64> = HashMap::new();
        let (mut mtas, mut targeted, mut reasons, mut mailboxes) =
            (HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new());
        let (mut backscatter, mut restored) = (0, 0);
        for m in moves {
            backscatter += 1;
            restored += u64::from(m.restored);
            *per_day.entry(m.day).or_default().entry(m.kind.clone()).or_default() += 1;
            *kinds.entry(m.kind).or_default() += 1;
            *mtas.entry(m.origin.reporting_mta).or_default() += 1;
            *targeted.entry(m.origin.targeted).or_default() += 1;
            *reasons.entry(m.reason).or_default() += 1;
            *mailboxes.entry(Some(m.mailbox)).or_default() += 1;
        }
        let mut kinds: Vec<(String, u64)> = kinds.into_iter().collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let kinds: Vec<String> = kinds.into_iter().map(|(k, _)| k).collect();
        let days = match (per_day.keys().next(), per_day.keys().next_back()) {
            (Some(first), Some(last)) => (first.0..=last.0)
                .map(Day)
                .map(|day| {
                    let counted = per_day.get(&day);
                    let counts = kinds.iter().map(|k| counted.and_then(|c| c.get(k)).copied().unwrap_or(0)).collect();
                    DayCounts { day, counts }
                })
                .collect(),
            _ => Vec::new(),
        };
        Summary {
            generated,
            since,
            backscatter,
            restored,
            genuine: None,
            kinds,
            days,
            reporting_mtas: Ranking::of(mtas),
            targeted: Ranking::of(targeted),
            reasons: Ranking::of(reasons),
            mailboxes: Ranking::of(mailboxes),
        }
    }

    /// The busiest day, if any move was made.
    pub fn peak(&self) -> Option<&DayCounts> {
        self.days.iter().max_by(|a, b| a.total().cmp(&b.total()).then_with(|| b.day.cmp(&a.day)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mv(day: i64, kind: &str, mta: Option<&str>) -> Move {
        Move {
            day: Day(day),
            kind: kind.into(),
            reason: None,
            mailbox: "/m".into(),
            restored: false,
            origin: Origin { reporting_mta: mta.map(Into::into), targeted: None },
        }
    }

    #[test]
    fn fills_quiet_days_and_ranks() {
        let moves = vec![
            mv(10, "ndr", Some("a")),
            mv(13, "ndr", Some("b")),
            mv(13, "autoreply", None),
            mv(13, "ndr", Some("b")),
        ];
        let s = Summary::of(moves, "now".into(), None);
        assert_eq!(s.kinds, ["ndr", "autoreply"]);
        assert_eq!(s.days.iter().map(|d| d.day.0).collect::<Vec<_>>(), [10, 11, 12, 13]);
        assert_eq!(s.days[3].counts, [2, 1]);
        assert_eq!(s.days[1].counts, [0, 0]);
        assert_eq!(s.peak().map(|d| d.day), Some(Day(13)));
        assert_eq!(s.reporting_mtas.rows, [(Some("b".into()), 2), (Some("a".into()), 1), (None, 1)]);
        assert_eq!(s.backscatter, 4);
    }

    #[test]
    fn folds_the_tail_into_others() {
        let moves: Vec<Move> = (0..15).map(|i| mv(1, "ndr", Some(&format!("mta{i:02}")))).collect();
        let s = Summary::of(moves, "now".into(), None);
        assert_eq!(s.reporting_mtas.rows.len(), TOP);
        assert_eq!((s.reporting_mtas.others, s.reporting_mtas.other_names), (5, 5));
        assert!(Summary::of(Vec::new(), "now".into(), None).days.is_empty());
    }
}
