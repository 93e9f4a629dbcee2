//! SHIM (branch `maildir` only): the policy types of the interface in briefs/verify.md, until
//! the `verify` branch lands; replaced by the real module at that merge.

use std::fmt;

use serde::Serialize;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not a checked kind.
    Ordinary,
    /// A checked kind with a valid carrier.
    Genuine,
    /// A checked kind without one.
    Backscatter,
    /// Exempted by policy.
    Exempt,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Ordinary => "ordinary",
            Verdict::Genuine => "genuine",
            Verdict::Backscatter => "backscatter",
            Verdict::Exempt => "exempt",
        })
    }
}

/// What to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// Leave it.
    Keep,
    /// Move it to the folder.
    Move,
    /// Would move (monitor mode, grace).
    WouldMove,
}

/// The policy's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What it is.
    pub verdict: Verdict,
    /// What to do.
    pub action: Action,
    /// Why, one line.
    pub why: String,
}
