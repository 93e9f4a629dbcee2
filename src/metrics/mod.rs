//! What happened, for machines and people to look at.
//!
//! - [`prometheus`]: the process's counters and the judge-latency histogram.
//! - [`serve`]: `[metrics] listen`: `/metrics` and the stats page over HTTP.

pub mod prometheus;
pub mod serve;
