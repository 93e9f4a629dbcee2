//! The keyring file: load (mode 0600 or refuse), init, rotate, prune, choose the signing key
//! (DESIGN §3).
//!
//! ```toml
//! [[key]]
//! id = 3
//! created = "2025-09-24"
//! secret = "…"
//! retired = "2025-10-01"   # optional
//! ```
//! Up to 10 keys, ids 0–9 (the BATV key digit). The newest key that is not retired signs; every
//! key not retired, or retired at most 7 days before a bounce's arrival, verifies it. Days are
//! passed in by the caller: nothing here reads the clock. The file is only ever replaced whole
//! (temp file + fsync + rename), so a crash leaves the old or the new keyring, never half of one.

use std::fmt::{self, Write as _};
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::day::Day;
use crate::sign::{self, KeyId, VALID_DAYS};

/// At most this many keys: one per key digit.
pub const MAX_KEYS: usize = 10;

/// A user-chosen passphrase must be at least this many characters (DESIGN §3)…
pub const MIN_PASSPHRASE_CHARS: usize = 8;

/// …and should be at least this many.
pub const ADVISED_PASSPHRASE_CHARS: usize = 16;

/// Why the keyring could not be read, created or changed. Each message names the file and says
/// what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No keyring was named and there is no default location.
    #[error(
        "no keyring location: neither $XDG_DATA_HOME nor $HOME is set — give --keyring FILE or set `keyring` in the config"
    )]
    NoLocation,
    /// There is no keyring file.
    #[error("no keyring at {} — run `backscatter keys init` to create one (or give --keyring FILE)", path.display())]
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// The file is readable or writable by group or others.
    #[error(
        "keyring {} is readable or writable by group/other (mode {mode:04o}): run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The keyring file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Someone else may write the keyring's directory, and so replace the keyring.
    #[error(
        "the directory of keyring {} ({}) is writable by group/other (mode {mode:04o}) and not sticky: anyone there could swap the keys — run chmod go-w {}",
        path.display(),
        dir.display(),
        dir.display()
    )]
    DirectoryPermissions {
        /// The keyring file.
        path: PathBuf,
        /// Its directory.
        dir: PathBuf,
        /// The directory's permission bits.
        mode: u32,
    },
    /// The file exists but could not be read.
    #[error("cannot read keyring {}: {source}", path.display())]
    Read {
        /// The keyring file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The file is not valid TOML.
    #[error("keyring {}:{line}: {message} — fix the TOML at that line", path.display())]
    Syntax {
        /// The keyring file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// What the TOML parser said.
        message: String,
    },
    /// The TOML is well-formed but describes an unusable keyring.
    #[error("keyring {} is not valid — fix these and try again:\n  {}", path.display(), problems.join("\n  "))]
    Invalid {
        /// The keyring file.
        path: PathBuf,
        /// Every problem, each as `file:line: what is wrong`.
        problems: Vec<String>,
    },
    /// `keys init` found a keyring already there.
    #[error(
        "keyring {} already exists; refusing to overwrite it — use `backscatter keys rotate` for a new key",
        path.display()
    )]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// A directory or temporary file could not be created.
    #[error("cannot create {}: {source} — check that the directory exists and is writable", path.display())]
    Create {
        /// What could not be created.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Writing, syncing or renaming the new keyring failed; the old one (if any) is unchanged.
    #[error("cannot write keyring {}: {source} — the previous keyring, if any, is unchanged", path.display())]
    Write {
        /// The keyring file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// Every key is retired, so nothing can sign.
    #[error("keyring {} has no signing key (every key is retired) — run `backscatter keys rotate`", path.display())]
    NoSigningKey {
        /// The keyring file.
        path: PathBuf,
    },
    /// `keys rotate` would reuse a key digit that is still in the keyring.
    #[error("{}", id_in_use(path, *id, *prunable_from))]
    IdInUse {
        /// The keyring file.
        path: PathBuf,
        /// The digit the new key needs.
        id: KeyId,
        /// The first day `keys prune` removes the key holding it (`None`: it is not retired).
        prunable_from: Option<Day>,
    },
    /// The passphrase file could not be read.
    #[error("cannot read passphrase file {}: {source}", path.display())]
    PassphraseRead {
        /// The passphrase file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The passphrase is too short to be a key.
    #[error(
        "the passphrase in {} has {chars} characters; it must have at least {MIN_PASSPHRASE_CHARS} \
         ({ADVISED_PASSPHRASE_CHARS} or more advised) — or leave out --passphrase-file for a random key",
        path.display()
    )]
    PassphraseTooShort {
        /// The passphrase file.
        path: PathBuf,
        /// How many characters its first line has.
        chars: usize,
    },
    /// The operating system gave no random bytes.
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
}

fn id_in_use(path: &Path, id: KeyId, prunable_from: Option<Day>) -> String {
    let path = path.display();
    match prunable_from {
        Some(day) => format!(
            "the next key id, {id}, is still held by a retired key in {path}: run `backscatter keys prune` \
             (it removes that key from {day} on), then rotate again"
        ),
        None => format!(
            "the next key id, {id}, is held by a key in {path} that is not retired (at most {MAX_KEYS} keys): \
             retire or remove it, run `backscatter keys prune`, then rotate again"
        ),
    }
}

/// One key as stored in the keyring.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    id: KeyId,
    created: Day,
    retired: Option<Day>,
    secret: String,
}

// Hand-written so that a stray `{:?}` can never print a secret.
impl fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredKey")
            .field("id", &self.id)
            .field("created", &self.created)
            .field("retired", &self.retired)
            .finish_non_exhaustive()
    }
}

impl StoredKey {
    /// The key digit.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The day it was created.
    pub fn created(&self) -> Day {
        self.created
    }

    /// The day it was retired (it stopped signing), if it was.
    pub fn retired(&self) -> Option<Day> {
        self.retired
    }

    /// The secret. Only the carriers and `keys export` need it; never log it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The key as the carriers take it.
    pub fn as_key(&self) -> sign::Key<'_> {
        sign::Key { id: self.id, secret: self.secret.as_bytes() }
    }

    /// The last day it verifies, if it is retired: carriers it made up to its retirement are at
    /// most [`VALID_DAYS`] old by then.
    pub fn verifies_until(&self) -> Option<Day> {
        self.retired.map(|r| Day(r.0.saturating_add(VALID_DAYS)))
    }

    /// True if it may verify a carrier arriving on `arrival`: not retired, or retired at most 7
    /// days before.
    pub fn verifies_on(&self, arrival: Day) -> bool {
        self.verifies_until().is_none_or(|until| arrival <= until)
    }

    /// True if `keys prune` on `today` deletes it: retired more than 7 days ago.
    pub fn prunable_on(&self, today: Day) -> bool {
        !self.verifies_on(today)
    }
}

/// What a key is good for on a given day, as `keys list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// The signing key.
    Signing,
    /// Not retired but not the newest: verifies, does not sign.
    Verifying,
    /// Retired; verifies until this day inclusive.
    VerifyingUntil(Day),
    /// Retired over 7 days ago; `keys prune` deletes it.
    Expired,
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyState::Signing => f.write_str("signing"),
            KeyState::Verifying => f.write_str("verifying"),
            KeyState::VerifyingUntil(day) => write!(f, "verifying until {day}"),
            KeyState::Expired => f.write_str("expired"),
        }
    }
}

/// A keyring: its file and its keys in file order.
#[derive(Debug, Clone)]
pub struct Keyring {
    path: PathBuf,
    keys: Vec<StoredKey>,
}

/// The file as TOML sees it, before validation; spans give error lines.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyring {
    #[serde(default)]
    key: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: Spanned<i64>,
    created: Spanned<String>,
    retired: Option<Spanned<String>>,
    secret: Spanned<String>,
}

impl Keyring {
    /// A keyring for `path` holding one key, id 0, created `today`: what `keys init` writes.
    /// The secret must come from [`random_secret`] or [`read_passphrase`].
    pub fn new(path: &Path, today: Day, secret: String) -> Keyring {
        let key = StoredKey { id: KeyId::ZERO, created: today, retired: None, secret };
        Keyring { path: path.to_path_buf(), keys: vec![key] }
    }

    /// Reads and validates the keyring at `path`, refusing a file that group or others can read
    /// or write.
    pub fn load(path: &Path) -> Result<Keyring, KeyringError> {
        let mut file = File::open(path).map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => KeyringError::Missing { path: path.to_path_buf() },
            _ => KeyringError::Read { path: path.to_path_buf(), source },
        })?;
        // Checked on the open handle, so the file judged is the file read.
        let meta = file.metadata().map_err(|source| KeyringError::Read { path: path.to_path_buf(), source })?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o066 != 0 {
            return Err(KeyringError::Permissions { path: path.to_path_buf(), mode });
        }
        // A directory others may write (and that is not sticky, like /tmp) lets them rename
        // their own keyring over ours.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if let Ok(dir_meta) = std::fs::metadata(dir) {
            let dir_mode = dir_meta.permissions().mode() & 0o7777;
            if dir_mode & 0o022 != 0 && dir_mode & 0o1000 == 0 {
                return Err(KeyringError::DirectoryPermissions {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                    mode: dir_mode,
                });
            }
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(|source| KeyringError::Read { path: path.to_path_buf(), source })?;
        Keyring::parse(path, &text)
    }

    /// Validates keyring text; `path` is only for messages. Reports every problem at once.
    pub fn parse(path: &Path, text: &str) -> Result<Keyring, KeyringError> {
        let raw: RawKeyring = toml::from_str(text).map_err(|err| KeyringError::Syntax {
            path: path.to_path_buf(),
            line: err.span().map_or(1, |span| line_of(text, span.start)),
            message: err.message().to_string(),
        })?;
        let mut problems = Vec::new();
        let mut problem = |offset: usize, what: String| {
            problems.push(format!("{}:{}: {what}", path.display(), line_of(text, offset)));
        };
        let mut keys: Vec<StoredKey> = Vec::new();
        let mut seen: Vec<KeyId> = Vec::new();
        for raw_key in &raw.key {
            let id = u8::try_from(*raw_key.id.get_ref()).ok().and_then(KeyId::new);
            let Some(id) = id else {
                problem(raw_key.id.span().start, format!("key id {} is not 0–9", raw_key.id.get_ref()));
                continue;
            };
            if seen.contains(&id) {
                problem(raw_key.id.span().start, format!("key id {id} appears twice; each id may be used once"));
            }
            seen.push(id);
            let created = raw_key.created.get_ref().parse::<Day>();
            if let Err(err) = &created {
                problem(raw_key.created.span().start, format!("created: {err}"));
            }
            let retired = raw_key.retired.as_ref().map(|r| (r.span().start, r.get_ref().parse::<Day>()));
            if let Some((offset, Err(err))) = &retired {
                problem(*offset, format!("retired: {err}"));
            }
            if raw_key.secret.get_ref().is_empty() {
                problem(raw_key.secret.span().start, format!("key {id} has an empty secret"));
            }
            if let (Ok(created), Some((offset, Ok(retired)))) = (&created, &retired) {
                if retired < created {
                    problem(*offset, format!("key {id} is retired ({retired}) before it was created ({created})"));
                }
            }
            if let Ok(created) = created {
                let retired = retired.and_then(|(_, r)| r.ok());
                keys.push(StoredKey { id, created, retired, secret: raw_key.secret.get_ref().clone() });
            }
        }
        if raw.key.is_empty() {
            problem(0, "no keys: add a [[key]] table, or delete the file and run `backscatter keys init`".into());
        }
        if raw.key.len() > MAX_KEYS {
            let what = format!("{} keys; at most {MAX_KEYS} (ids 0–9) — run `backscatter keys prune`", raw.key.len());
            problem(0, what);
        }
        if problems.is_empty() {
            Ok(Keyring { path: path.to_path_buf(), keys })
        } else {
            Err(KeyringError::Invalid { path: path.to_path_buf(), problems })
        }
    }

    /// The keyring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every key, in file order.
    pub fn keys(&self) -> &[StoredKey] {
        &self.keys
    }

    /// The key that signs: the newest (by `created`, ties by position in the file, last wins)
    /// that is not retired.
    pub fn signing_key(&self) -> Option<&StoredKey> {
        newest(self.keys.iter().filter(|k| k.retired.is_none()))
    }

    /// The signing key, or an error saying there is none.
    pub fn require_signing_key(&self) -> Result<&StoredKey, KeyringError> {
        self.signing_key().ok_or_else(|| KeyringError::NoSigningKey { path: self.path.clone() })
    }

    /// The keys that may verify a carrier arriving on `arrival` (DESIGN §3).
    pub fn verifying_keys(&self, arrival: Day) -> Vec<sign::Key<'_>> {
        self.keys.iter().filter(|k| k.verifies_on(arrival)).map(StoredKey::as_key).collect()
    }

    /// What `key` (one of this keyring's) is good for on `today`.
    pub fn state(&self, key: &StoredKey, today: Day) -> KeyState {
        match key.verifies_until() {
            None if self.signing_key().map(StoredKey::id) == Some(key.id) => KeyState::Signing,
            None => KeyState::Verifying,
            Some(until) if today <= until => KeyState::VerifyingUntil(until),
            Some(_) => KeyState::Expired,
        }
    }

    /// Adds a key with id (newest id + 1) mod 10, created `today`, and retires the current
    /// signing key as of `today` (it keeps verifying for 7 days). Refuses if that id is still
    /// held by a key; `keys prune` frees it. Returns the new key's id.
    pub fn rotate(&mut self, today: Day, secret: String) -> Result<KeyId, KeyringError> {
        let id = newest(self.keys.iter()).map_or(KeyId::ZERO, |k| k.id.next());
        if let Some(holder) = self.keys.iter().find(|k| k.id == id) {
            let prunable_from = holder.verifies_until().map(|until| Day(until.0.saturating_add(1)));
            return Err(KeyringError::IdInUse { path: self.path.clone(), id, prunable_from });
        }
        let signing = self.signing_key().map(|k| k.id);
        for key in &mut self.keys {
            if Some(key.id) == signing {
                key.retired = Some(today);
            }
        }
        self.keys.push(StoredKey { id, created: today, retired: None, secret });
        Ok(id)
    }

    /// Deletes the keys retired more than 7 days before `today` and returns them.
    pub fn prune(&mut self, today: Day) -> Vec<StoredKey> {
        let (gone, kept) = self.keys.drain(..).partition(|k| k.prunable_on(today));
        self.keys = kept;
        gone
    }

    /// The file contents for this keyring.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# backscatter keyring (DESIGN §3). It holds SECRETS: keep it mode 0600, share it only with\n\
             # the hosts that sign or verify for you. Written by `backscatter keys`; comments are not kept.\n",
        );
        for key in &self.keys {
            // toml's own string encoding, so any secret round-trips.
            let secret = toml::Value::String(key.secret.clone());
            let _ = write!(out, "\n[[key]]\nid = {}\ncreated = \"{}\"\n", key.id, key.created);
            if let Some(retired) = key.retired {
                let _ = writeln!(out, "retired = \"{retired}\"");
            }
            let _ = writeln!(out, "secret = {secret}");
        }
        out
    }

    /// Writes a new keyring file, creating its directory (mode 0700) if needed; refuses if the
    /// file exists.
    pub fn create(&self) -> Result<(), KeyringError> {
        let dir = parent_dir(&self.path);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| KeyringError::Create { path: dir.to_path_buf(), source })?;
        if self.path.exists() {
            return Err(KeyringError::Exists { path: self.path.clone() });
        }
        write_file(&self.path, &self.to_toml(), Install::NoClobber)
    }

    /// Replaces the keyring file with this keyring.
    pub fn save(&self) -> Result<(), KeyringError> {
        write_file(&self.path, &self.to_toml(), Install::Replace)
    }
}

/// The newest of `keys`: latest `created`, ties broken by position (last wins).
fn newest<'a>(keys: impl Iterator<Item = &'a StoredKey>) -> Option<&'a StoredKey> {
    keys.enumerate().max_by_key(|(i, k)| (k.created, *i)).map(|(_, k)| k)
}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let before = text.as_bytes().get(..offset).unwrap_or(text.as_bytes());
    before.iter().filter(|&&b| b == b'\n').count() + 1
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// How the finished temp file takes the keyring's name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Install {
    /// rename(2): atomically replaces the old keyring.
    Replace,
    /// link(2): fails if a keyring appeared meanwhile, so `init` can never clobber one.
    NoClobber,
}

/// Writes `contents` to `path` through a mode-0600 temp file in the same directory: write,
/// fsync, rename (or link) over the target, fsync the directory — so a crash leaves either the
/// old or the new file, and the new name is durable.
fn write_file(path: &Path, contents: &str, install: Install) -> Result<(), KeyringError> {
    let dir = parent_dir(path);
    let name = path.file_name().map_or_else(|| "keyring".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write_err = |source| KeyringError::Write { path: path.to_path_buf(), source };
    let open = || OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp);
    let mut file = match open() {
        // A temp file left by a crashed run with our pid: ours to remove.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            let _ = fs::remove_file(&tmp);
            open()
        }
        other => other,
    }
    .map_err(|source| KeyringError::Create { path: tmp.clone(), source })?;
    let written = (|| {
        // The umask can only clear bits, but be explicit: the keyring is 0600 whatever it is.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        drop(file);
        match install {
            Install::Replace => fs::rename(&tmp, path),
            Install::NoClobber => fs::hard_link(&tmp, path).and_then(|()| fs::remove_file(&tmp)),
        }
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&tmp);
        return Err(match source.kind() {
            io::ErrorKind::AlreadyExists => KeyringError::Exists { path: path.to_path_buf() },
            _ => write_err(source),
        });
    }
    File::open(dir).and_then(|d| d.sync_all()).map_err(write_err)
}

/// A fresh secret: 32 random bytes as 43 characters of unpadded base64url (RFC 4648 §5), usable
/// verbatim as an Exim secret and in TOML.
pub fn random_secret() -> Result<String, KeyringError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|err| KeyringError::Random(err.to_string()))?;
    Ok(base64url(&bytes))
}

/// Unpadded base64url (RFC 4648 §5): safe in file names, URLs, TOML and Exim config.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk.first(), chunk.get(1), chunk.get(2)].map(|b| u32::from(b.copied().unwrap_or(0)));
        let n = b[0] << 16 | b[1] << 8 | b[2];
        // 2, 3 or 4 output characters for 1, 2 or 3 input bytes.
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

/// A passphrase read for `keys init --passphrase-file`.
pub struct Passphrase {
    /// The passphrase: the file's first line, without its line ending.
    pub secret: String,
    /// True if it is shorter than advised (16 characters): the caller should warn.
    pub weak: bool,
}

// Hand-written so that a stray `{:?}` can never print the passphrase.
impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passphrase").field("weak", &self.weak).finish_non_exhaustive()
    }
}

/// Reads the first line of `path` as a passphrase, refusing one under 8 characters.
pub fn read_passphrase(path: &Path) -> Result<Passphrase, KeyringError> {
    let text = fs::read_to_string(path).map_err(|source| KeyringError::PassphraseRead { path: path.into(), source })?;
    let first = text.lines().next().unwrap_or("");
    let chars = first.chars().count();
    if chars < MIN_PASSPHRASE_CHARS {
        return Err(KeyringError::PassphraseTooShort { path: path.into(), chars });
    }
    Ok(Passphrase { secret: first.to_string(), weak: chars < ADVISED_PASSPHRASE_CHARS })
}

mod exim;

#[cfg(test)]
mod tests;
