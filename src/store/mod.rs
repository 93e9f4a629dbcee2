//! Where mail lives: the stores backscatter watches and moves messages in.

pub mod imap;
