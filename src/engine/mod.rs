//! The engine: one pipeline, one journal, one runtime for every edge (DESIGN §2).
//!
//! - [`pipeline`]: judge → evidence (SPF, a shared async service) → a plan; every store,
//!   command and the milter run messages through [`Pipeline`].
//! - [`act`]: [`Mover`], the one place journal lines are written: intent before a move, outcome
//!   after, restores.
//! - [`maildir`]: a Maildir through the pipeline ([`MaildirBox`]); reconciling interrupted moves.
//! - [`imap`]: IMAP mailboxes through the pipeline: the watch loop, `scan --imap`, reconciling.
//! - [`restore`]: undoing moves in either store.
//! - [`daemon`]: `watch` — [`daemon::run`], one task per mailbox under one cancellation token.
//! - [`clock`]: the injected clock.

pub mod act;
pub mod clock;
pub mod daemon;
pub mod imap;
pub mod maildir;
pub mod pipeline;
pub mod restore;

pub use act::Mover;
pub use clock::{Clock, SystemClock};
pub use maildir::MaildirBox;
pub use pipeline::{Judged, Pipeline, Plan};
