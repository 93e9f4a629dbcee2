//! backscatter: keeps forged bounces and auto-replies out of mailboxes.
//!
//! # Layout
//! The core takes bytes, keys and a day and returns values — no files, no sockets, no clock:
//! - [`day`]: UTC day numbers, the unit every carrier's lifetime is counted in.
//! - [`sign`]: the carriers stamped on outgoing mail (BATV `prvs=`, the signature header, the
//!   signed Message-ID), each with make + verify.
//! - [`classify`]: message bytes → [`classify::Classification`] (bounce, auto-reply, …).
//! - [`verify`]: the carriers found in a received message, checked on its arrival day.
//! - [`policy`]: classification + carriers + evidence + config → [`policy::Decision`] (verdict,
//!   action, why).
//! - [`verdict`]: the one call stores and commands make ([`verdict::judge`]), its JSON and log line.
//!
//! The edges read and write files:
//! - [`config`]: the TOML config, validated, every problem reported at once.
//! - [`evidence`]: the Sent index of each mailbox, evidence for mail that was never signed
//!   (its lookup is pure; its sources read Maildir folders and IMAP mailboxes), and the sent
//!   log of what we signed, against replayed carriers (its rule is pure; its day files are
//!   appended by the drop-in and the milter).
//! - [`keys`]: the keyring file (mode 0600 or refused), rotation and pruning.
//! - [`sendmail`]: the signing sendmail drop-in: argv, stamping, the hand-off to the real one.
//! - [`spf`]: SPF (RFC 7208) of delivered mail and of a bounce's origin, through DNS (async).
//! - [`store`]: the mechanics of Maildirs (listing, safe reading, the Backscatter folder, moving by
//!   rename, inotify) and IMAP accounts ([`store::imap`]: sessions, folder names from
//!   NAMESPACE, UID MOVE, state).
//! - [`journal`]: the write-ahead log of every move (typed lines); what restore and stats read.
//! - [`engine`]: the one pipeline (judge → SPF → plan), the journaled mover, and `watch` as one
//!   async function supervising a task per mailbox.
//! - [`metrics`]: the stats page (self-contained HTML) drawn from the journal's numbers.
//! - [`milter`]: `backscatter milter`, the MTA side: signs what leaves, refuses backscatter at
//!   SMTP time.

pub mod classify;
pub mod config;
pub mod day;
pub mod engine;
pub mod evidence;
pub mod journal;
pub mod keys;
pub mod message;
pub mod metrics;
pub mod milter;
pub mod policy;
pub mod privileges;
pub mod sendmail;
pub mod sign;
pub mod spf;
pub mod store;
pub mod verdict;
pub mod verify;
