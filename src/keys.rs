//! The keyring file: load (mode 0600 or refuse), init, rotate, prune, choose the signing key
//! (DESIGN §3).
