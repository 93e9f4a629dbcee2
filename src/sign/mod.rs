//! The carriers stamped on outgoing mail, each with make + verify (DESIGN §4).
