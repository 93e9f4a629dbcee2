//! What happened, for people to look at: the stats page (`stats --html`), drawn from a plain
//! [`Summary`] that the journal side fills in (DESIGN §2, `metrics/`).
//!
//! - [`summary`]: the numbers — moves per day by kind, genuine against backscatter, rankings.
//! - [`origin`]: who reported a moved message and whom it targeted, read from the message.
//! - [`page`]: the self-contained HTML page (inline SVG, no script).

pub mod origin;
pub mod page;
pub mod summary;

pub use page::render;
pub use summary::{Move, Origin, Summary};
