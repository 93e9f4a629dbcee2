//! What happened, for machines and people to look at.
//!
//! - [`prometheus`]: the process's counters and the judge-latency histogram.
//! - [`serve`]: `[metrics] listen`: `/metrics` and the stats page over HTTP.
//! - [`summary`]: the stats page's numbers — moves per day by kind, genuine against
//!   backscatter, rankings — as a plain [`Summary`] the journal side fills in.
//! - [`origin`]: who reported a moved message and whom it targeted, read from the message.
//! - [`page`]: the self-contained stats page (inline SVG, no script) of a [`Summary`]
//!   (`stats --html`).

pub mod origin;
pub mod page;
pub mod prometheus;
pub mod serve;
pub mod summary;

pub use page::render;
pub use summary::{Move, Origin, Summary};
