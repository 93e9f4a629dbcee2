//! Dropping root: a daemon started as root (by an init system, to reach every mailbox's
//! owner) becomes `user` before it opens anything, so every file it creates — journal, IMAP
//! state, moved messages — belongs to that user, and a mistake in parsing hostile mail cannot
//! act as root.

use nix::unistd::{getuid, setgid, setgroups, setuid, User};

/// Failing to become the configured user.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivilegeError {
    /// The user does not exist.
    #[error("user = {0:?}: no such user — create it (useradd --system {0}) or fix the config")]
    NoSuchUser(String),
    /// We are not root and not that user: we cannot become it.
    #[error("user = {user:?}: started as uid {uid}, which cannot become {user} — start as root or as {user}")]
    NotRoot {
        /// The configured user.
        user: String,
        /// Who we are.
        uid: u32,
    },
    /// A system call failed.
    #[error("becoming {user:?}: {source}")]
    System {
        /// The configured user.
        user: String,
        /// What the kernel said.
        source: nix::Error,
    },
}

/// Becomes `user` (its uid, primary gid, and no supplementary groups) when running as root;
/// nothing to do when already that user. Without `user`, a root process only warns.
pub fn drop_to(user: Option<&str>) -> Result<(), PrivilegeError> {
    let uid = getuid();
    let Some(name) = user else {
        if uid.is_root() {
            tracing::warn!("running as root: set `user` in the config (e.g. user = \"vmail\") to drop privileges");
        }
        return Ok(());
    };
    let system = |source| PrivilegeError::System { user: name.to_owned(), source };
    let target = User::from_name(name).map_err(system)?.ok_or_else(|| PrivilegeError::NoSuchUser(name.to_owned()))?;
    if uid == target.uid {
        return Ok(());
    }
    if !uid.is_root() {
        return Err(PrivilegeError::NotRoot { user: name.to_owned(), uid: uid.as_raw() });
    }
    // Groups first: after setuid we could no longer change them.
    setgroups(&[target.gid]).map_err(system)?;
    setgid(target.gid).map_err(system)?;
    setuid(target.uid).map_err(system)?;
    tracing::info!(user = name, uid = target.uid.as_raw(), "dropped root");
    Ok(())
}
