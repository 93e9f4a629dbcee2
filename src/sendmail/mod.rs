//! The sendmail drop-in (DESIGN §8): reads the caller's command line and message, stamps the
//! carriers, and hands everything to the real sendmail.
//!
//! - [`args`]: the command line, as Postfix's sendmail(1) reads it.
//! - [`stamp`](crate::sign::stamp): what is added (pure, shared with the milter): the signature
//!   header, a signed Message-ID, the BATV tag.
//! - [`origin`]: who the sender is when no `-f` was given (login name, host name).
//! - here: the flow — read the message, stamp it into an unlinked temp file, with
//!   `[sign] sent_log` append its line to the sent log, [`Handoff::exec`].
//!
//! Fail safe: every failure before the hand-off is a [`SendmailError`], which the command turns
//! into exit 75 (EX_TEMPFAIL), so the caller keeps the message and retries. After the hand-off
//! we are the real sendmail (`exec`), so its exit status is ours.

pub mod args;
pub mod origin;

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::config::Config;
use crate::day::Day;
use crate::evidence::sentlog::{self, Entry};
use crate::keys::{Keyring, KeyringError};
use crate::sign::stamp;

pub use crate::sign::stamp::{SenderTag, Stamp};
pub use args::{Invocation, Mode};

/// Why the message could not be handed on. Each one means: the caller keeps the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendmailError {
    /// The keyring could not be used (and `fail_open` is off).
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// `sign.sendmail_path` is this program: handing over would loop forever.
    #[error(
        "sign.sendmail_path {} is backscatter itself — point it at the real sendmail (e.g. /usr/sbin/sendmail.real)",
        .0.display()
    )]
    Loop(PathBuf),
    /// `sign.sendmail_path` does not exist or cannot be examined.
    #[error("sign.sendmail_path {}: {source} — install the real sendmail there or fix the path", path.display())]
    NoSendmail {
        /// The configured path.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Reading the message from stdin failed.
    #[error("cannot read the message from stdin: {0}")]
    Read(io::Error),
    /// The message does not fit in memory.
    #[error("the message is too large to hold in memory ({0} bytes read so far)")]
    TooLarge(usize),
    /// The stamped message could not be written to a temporary file.
    #[error("cannot write the stamped message to a temporary file in {}: {source} — check free space, or set TMPDIR", dir.display())]
    Spool {
        /// The temp directory.
        dir: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The operating system gave no random nonce.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    /// `exec` of the real sendmail failed.
    #[error("cannot run {}: {source}", path.display())]
    Exec {
        /// The real sendmail.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

/// What the command gathers for the flow: the validated config, the keyring file and today (the
/// signing day). The sender's login name and host name are read by [`origin`] when needed.
#[derive(Debug)]
pub struct Context<'a> {
    /// The validated config (`sign`, `protected_domains`).
    pub config: &'a Config,
    /// The keyring file to sign with.
    pub keyring: PathBuf,
    /// The signing day.
    pub today: Day,
}

/// The real sendmail, its arguments, and the stamped message as its stdin.
#[derive(Debug)]
pub struct Handoff {
    /// The real sendmail (`sign.sendmail_path`).
    pub program: PathBuf,
    /// Its arguments: the caller's, with `-f` and `-V` rewritten or added.
    pub args: Vec<OsString>,
    /// The stamped message (an unlinked temp file at offset 0); `None`: our own stdin, untouched.
    pub stdin: Option<File>,
    /// What was done, for the log: "stamped; sender tagged as …", "passed on untouched: -bp".
    pub summary: String,
}

impl Handoff {
    /// Replaces this process by the real sendmail. Returns only if that failed.
    pub fn exec(self) -> SendmailError {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        if let Some(file) = self.stdin {
            command.stdin(Stdio::from(file));
        }
        SendmailError::Exec { path: self.program, source: command.exec() }
    }
}

/// Decides what to hand the real sendmail for `invocation`, reading the message from `input`
/// when it is to be stamped.
pub fn prepare(invocation: &Invocation, cx: &Context<'_>, input: impl Read) -> Result<Handoff, SendmailError> {
    let sign = &cx.config.sign;
    let program = real_sendmail(&sign.sendmail_path)?;
    let untouched =
        |summary: String| Handoff { program: program.clone(), args: invocation.args.clone(), stdin: None, summary };
    if let Mode::Other(what) = &invocation.mode {
        return Ok(untouched(format!("passed on untouched: {what} does not send a message")));
    }
    if !sign.enabled {
        return Ok(untouched("passed on untouched: sign.enabled is false".to_owned()));
    }
    // The keyring and the nonce come before the message is read, so that `fail_open` can
    // still hand over our stdin untouched.
    let ring = match Keyring::load(&cx.keyring) {
        Ok(ring) => ring,
        Err(err) if sign.fail_open => return Ok(untouched(unsigned(&err))),
        Err(err) => return Err(err.into()),
    };
    let key = match ring.require_signing_key() {
        Ok(key) => key.as_key(),
        Err(err) if sign.fail_open => return Ok(untouched(unsigned(&err))),
        Err(err) => return Err(err.into()),
    };
    let nonce = match getrandom::u64() {
        Ok(nonce) => nonce,
        Err(err) if sign.fail_open => return Ok(untouched(unsigned(&err))),
        Err(err) => return Err(SendmailError::Random(err.to_string())),
    };
    let message = read_message(input, invocation.dot_ends)?;

    let origin = sign.myorigin.clone().or_else(origin::host_name);
    let sender = match &invocation.sender {
        Some(given) => args::sender_address(&given.value).map(str::to_owned),
        // No -f: the sender the real sendmail would use, login name @ myorigin.
        None => origin::login_name(),
    };
    let tag = match &sender {
        Some(sender) => {
            stamp::tag_sender(sender, sign, &cx.config.protected_domains, origin.as_deref(), &key, cx.today)
        }
        None => SenderTag::NoDomain,
    };
    let envid = (sign.sign_envid && !invocation.envid_given && takes_envid(&program))
        .then(|| stamp::envid(&key, cx.today, nonce));
    let domain = origin.as_deref().unwrap_or("localhost");
    let stamp = stamp::stamp(&message, sign, domain, &key, cx.today, nonce);
    let stdin = spool(&message, &stamp)?;
    // Logged before the hand-off, as nothing of ours runs after it: a message the real sendmail
    // then refuses leaves a line that no bounce will ever name.
    if sign.sent_log {
        let entry = sent_entry(invocation, &message, &stamp, origin.as_deref(), &key, cx.today, nonce);
        log_sent(cx.config, &entry);
    }
    let new_sender = match &tag {
        SenderTag::Tagged(address) => Some(address.as_str()),
        _ => None,
    };
    Ok(Handoff {
        args: invocation.rewritten(new_sender, envid.as_deref()),
        program,
        stdin: Some(stdin),
        summary: format!("stamped {} bytes; sender {tag}", message.len()),
    })
}

/// The sent log's line for the stamped `message`: its Message-ID (the author's, else the one
/// the stamp added) and its envelope recipients — the recipient arguments, and with `-t` the
/// To, Cc and Bcc addresses (Postfix adds those to the arguments' ones), each without a domain
/// given `@origin` as the real sendmail does.
fn sent_entry(
    invocation: &Invocation,
    message: &[u8],
    stamp: &Stamp,
    origin: Option<&str>,
    key: &crate::sign::Key<'_>,
    today: Day,
    nonce: u64,
) -> Entry {
    use crate::message::Message;
    use crate::verify::fields;
    let (head, added) = (Message::parse(message), Message::parse(&stamp.lines));
    let mut message_id = None;
    let mut recipients: Vec<String> = Vec::new();
    for field in head.fields().chain(added.fields()) {
        if field.is("message-id") && message_id.is_none() {
            message_id = fields::message_ids(&field.value()).first().map(|id| (*id).to_owned());
        } else if invocation.extract_recipients && (field.is("to") || field.is("cc") || field.is("bcc")) {
            recipients.extend(fields::addresses(&field.value()).map(str::to_owned));
        }
    }
    for arg in invocation.args.get(invocation.first_recipient..).unwrap_or_default() {
        let arg = arg.to_string_lossy();
        let words = arg.split(|c: char| c == ',' || c.is_whitespace()).map(|w| w.trim_matches(['<', '>']));
        for word in words.filter(|w| !w.is_empty()) {
            recipients.push(match (word.contains('@'), origin) {
                (false, Some(origin)) => format!("{word}@{origin}"),
                _ => word.to_owned(),
            });
        }
    }
    Entry::new(key, today, nonce, message_id.as_deref(), recipients.iter().map(String::as_str))
}

/// Appends `entry` to the sent log of the config's state dir. A failure is a warning, never a
/// reason to hold the mail back: without its line the message's bounces are judged by the
/// carrier rule, as with the log off.
fn log_sent(config: &Config, entry: &Entry) {
    let Some(state_dir) = config.state_dir_or_default() else {
        tracing::warn!("sent log: no state_dir and no $HOME — the message goes out unlogged");
        return;
    };
    if let Err(err) = sentlog::file::append(&state_dir, entry) {
        tracing::warn!("{err} — the message goes out unlogged");
    }
}

/// `fail_open` lets a message out unsigned: said once on stderr (a warning, so the admin sees
/// the keyring problem in the caller's log), and in the summary.
fn unsigned(err: &dyn std::fmt::Display) -> String {
    tracing::warn!("sending unsigned (sign.fail_open): {err}");
    format!("passed on unsigned (fail_open): {err}")
}

/// The real sendmail's path, refusing one that is this very program (by path after resolving
/// symlinks, or by device and inode, which also catches a hard link or a copy at the same inode).
fn real_sendmail(path: &Path) -> Result<PathBuf, SendmailError> {
    let missing = |source| SendmailError::NoSendmail { path: path.to_owned(), source };
    let target = path.canonicalize().map_err(missing)?;
    let meta = target.metadata().map_err(missing)?;
    let me = Path::new("/proc/self/exe");
    let same_path = me.canonicalize().is_ok_and(|mine| mine == target);
    let same_inode = me.metadata().is_ok_and(|mine| mine.dev() == meta.dev() && mine.ino() == meta.ino());
    if same_path || same_inode {
        return Err(SendmailError::Loop(path.to_owned()));
    }
    Ok(path.to_owned())
}

/// True unless the real sendmail is one known not to take `-V envid` (Postfix and sendmail 8
/// do): Exim's command line has no such option, and msmtp's sendmail mode is not known to take
/// it — either way the message would not go out, so no ENVID is added there. Every name on the
/// way through symlinks counts (`sendmail -> exim4`).
fn takes_envid(program: &Path) -> bool {
    let foreign = |path: &Path| {
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        name.starts_with("exim") || name.starts_with("msmtp")
    };
    let mut path = program.to_path_buf();
    // A bounded walk: a symlink loop cannot hold us.
    for _ in 0..32 {
        if foreign(&path) {
            return false;
        }
        match path.read_link() {
            Ok(next) => path = path.parent().map_or_else(|| next.clone(), |dir| dir.join(&next)),
            Err(_) => break,
        }
    }
    !program.canonicalize().is_ok_and(|target| foreign(&target))
}

/// Reads the message: to end of input, or — when `dot_ends` (no `-i`) — up to a line holding
/// only `.` (sendmail(1) `-i`; Postfix also takes `.` CR LF and a final `.` without a newline),
/// which is not part of it. Memory is reserved fallibly so a huge message is an error, not an
/// abort.
fn read_message(input: impl Read, dot_ends: bool) -> Result<Vec<u8>, SendmailError> {
    let mut message = Vec::new();
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    // Where the last, possibly unfinished, line starts.
    let mut line_start = 0;
    loop {
        let chunk = reader.fill_buf().map_err(SendmailError::Read)?;
        if chunk.is_empty() {
            if dot_ends && message.get(line_start..) == Some(&b"."[..]) {
                message.truncate(line_start);
            }
            return Ok(message);
        }
        // Line by line when dots matter, so the terminator is seen before anything after it.
        let take = match dot_ends {
            true => chunk.iter().position(|&b| b == b'\n').map_or(chunk.len(), |n| n + 1),
            false => chunk.len(),
        };
        let piece = chunk.get(..take).unwrap_or(chunk);
        message.try_reserve(piece.len()).map_err(|_| SendmailError::TooLarge(message.len()))?;
        message.extend_from_slice(piece);
        reader.consume(take);
        if dot_ends && message.ends_with(b"\n") {
            if matches!(message.get(line_start..), Some(b".\n" | b".\r\n")) {
                message.truncate(line_start);
                return Ok(message);
            }
            line_start = message.len();
        }
    }
}

/// Writes the stamped message to an unlinked file in the temp directory (mode 0600, removed
/// from the directory before anything is written, so nothing is left behind), rewound for the
/// real sendmail to read.
fn spool(message: &[u8], stamp: &Stamp) -> Result<File, SendmailError> {
    let dir = std::env::temp_dir();
    let fail = |source| SendmailError::Spool { dir: dir.clone(), source };
    let (file, path) = create_unique(&dir).map_err(fail)?;
    std::fs::remove_file(&path).map_err(fail)?;
    let mut file = file;
    stamp.write_to(message, &mut file).map_err(fail)?;
    file.rewind().map_err(fail)?;
    Ok(file)
}

/// A new file `backscatter-sendmail.PID.N` in `dir`, created exclusively (never an existing file
/// or a symlink planted there).
fn create_unique(dir: &Path) -> io::Result<(File, PathBuf)> {
    let pid = std::process::id();
    let mut last = io::Error::other("no attempt");
    for attempt in 0..16 {
        let salt = getrandom::u32().unwrap_or(attempt);
        let path = dir.join(format!(".backscatter-sendmail.{pid}.{salt:08x}"));
        match OpenOptions::new().read(true).write(true).create_new(true).mode(0o600).open(&path) {
            Ok(file) => return Ok((file, path)),
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last = err,
            Err(err) => return Err(err),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests;
