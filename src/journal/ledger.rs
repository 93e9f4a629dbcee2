//! The journal read back: its lines folded into one [`Record`] per move, in the order the moves
//! were intended, each with what became of it.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;

use super::{Line, Move, Place, Time};
use crate::store::maildir::unique_part;

/// What became of a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Intended, with no outcome yet: the process stopped in between (reconcile it).
    Unfinished,
    /// The message is in the folder, at `at`.
    Done {
        /// Where it landed.
        at: Place,
    },
    /// It did not move.
    Abandoned {
        /// Why.
        why: String,
    },
    /// Moved, then put back at `at`.
    Restored {
        /// Where it is again.
        at: Place,
        /// When it was put back.
        time: Time,
    },
}

/// One move and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The intent line.
    pub intent: Move,
    /// What became of it.
    pub state: State,
}

impl Record {
    /// Where the message is now as far as the journal knows: the folder for a done move.
    pub fn landed(&self) -> Option<&Place> {
        match &self.state {
            State::Done { at } => Some(at),
            _ => None,
        }
    }
}

/// Every move of a journal.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    records: Vec<Record>,
    by_id: HashMap<String, usize>,
}

impl Ledger {
    /// Folds one line in. An outcome for an unknown id (its intent was a torn line) is dropped.
    pub fn apply(&mut self, line: Line) {
        match line {
            Line::Intent(intent) => {
                self.by_id.insert(intent.id.clone(), self.records.len());
                self.records.push(Record { intent, state: State::Unfinished });
            }
            Line::Done { id, at, .. } => self.set(&id, State::Done { at }),
            Line::Abandoned { id, why, .. } => self.set(&id, State::Abandoned { why }),
            Line::Restore { id, at, time } => self.set(&id, State::Restored { at, time }),
        }
    }

    fn set(&mut self, id: &str, state: State) {
        match self.by_id.get(id).and_then(|&i| self.records.get_mut(i)) {
            Some(record) => record.state = state,
            None => tracing::warn!(id, "journal: an outcome for a move whose intent is missing; skipped"),
        }
    }

    /// Every move, in the order intended.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Moves with no outcome: a crash came between intent and done.
    pub fn unfinished(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.state == State::Unfinished)
    }

    /// Moves that happened (done, perhaps restored since) at or after `since` (unix seconds), if
    /// given, each with whether it was restored: what `stats` and the stats page count.
    pub fn happened(&self, since: Option<i64>) -> impl Iterator<Item = (&Record, bool)> {
        self.records.iter().filter(move |r| since.is_none_or(|since| r.intent.time.0 >= since)).filter_map(|r| match r
            .state
        {
            State::Done { .. } => Some((r, false)),
            State::Restored { .. } => Some((r, true)),
            State::Unfinished | State::Abandoned { .. } => None,
        })
    }

    /// Done moves not restored yet, chosen by `ids` (if any are given), else by `since` (unix
    /// seconds; moves at or after it), else all — what `restore` may undo.
    pub fn restorable(&self, ids: &[String], since: Option<i64>) -> Vec<&Record> {
        self.records
            .iter()
            .filter(|r| matches!(r.state, State::Done { .. }))
            .filter(|r| ids.is_empty() || ids.contains(&r.intent.id))
            .filter(|r| since.is_none_or(|since| r.intent.time.0 >= since))
            .collect()
    }

    /// The unique parts (file names before `:`) of Maildir messages a person put back: a store
    /// must not move them again, since a person decided they are wanted.
    pub fn restored_maildir_messages(&self) -> HashSet<OsString> {
        self.records
            .iter()
            .filter_map(|r| match &r.state {
                State::Restored { at: Place::Maildir { path, .. }, .. } => path.file_name(),
                _ => None,
            })
            .map(|name| unique_part(name).to_os_string())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::intent;
    use super::*;

    #[test]
    fn outcomes_fold_into_their_moves() {
        let mut ledger = Ledger::default();
        for id in ["a", "b", "c", "d"] {
            ledger.apply(Line::Intent(intent(id, 10)));
        }
        let at = intent("a", 10).to;
        ledger.apply(Line::Done { id: "a".into(), time: Time(11), at: at.clone() });
        ledger.apply(Line::Done { id: "b".into(), time: Time(11), at: at.clone() });
        ledger.apply(Line::Abandoned { id: "c".into(), time: Time(11), why: "vanished".into() });
        ledger.apply(Line::Restore { id: "b".into(), time: Time(12), at: intent("b", 10).from });
        ledger.apply(Line::Done { id: "zz".into(), time: Time(11), at });
        let ids = |v: Vec<&Record>| v.into_iter().map(|r| r.intent.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(ledger.restorable(&[], None)), ["a"]);
        assert_eq!(ids(ledger.unfinished().collect()), ["d"]);
        assert_eq!(ids(ledger.restorable(&["b".into()], None)), Vec::<String>::new());
        assert!(ledger.restored_maildir_messages().contains(&OsString::from("b")));
        assert!(ledger.restorable(&[], Some(11)).is_empty());
    }
}
