//! Folder names as the server has them: the configured `folder` is a name inside the personal
//! namespace (RFC 2342 NAMESPACE, read once per connection), joined with its prefix and
//! hierarchy delimiter — `INBOX.Backscatter` on Cyrus and Courier defaults, `Backscatter` on
//! Dovecot, `INBOX/Backscatter` with a `/` delimiter — or `\Junk`, the mailbox the server marks
//! so (RFC 6154 SPECIAL-USE). Also the folder's making (CREATE, SUBSCRIBE) and, for a dry run,
//! the check that it exists or may be made (LIST, RFC 4314 MYRIGHTS).

use async_imap::imap_proto::rfc4314::AclRight;
use async_imap::imap_proto::Response;
use async_imap::types::NameAttribute;
use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::connect::Session;
use super::session::{quoted, Caps};
use super::{utf7, ImapError};

/// The configured folder name that means "the mailbox marked `\Junk`" (RFC 6154 §2).
pub const JUNK: &str = "\\Junk";

/// The personal namespace (RFC 2342 §5): the prefix of the user's own mailboxes and the
/// hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `""` (Dovecot), `"INBOX."` (Cyrus, Courier), `"INBOX/"`; UTF-8.
    pub prefix: String,
    /// `.` or `/`; `None` for a flat server.
    pub delimiter: Option<char>,
}

impl Namespace {
    /// `configured` — a name inside the personal namespace, hierarchy levels written with `/`,
    /// or a full name that already starts with the prefix — as the server names it (UTF-8).
    pub fn full_name(&self, configured: &str) -> String {
        let name = match self.delimiter {
            Some(d) => configured.replace('/', d.encode_utf8(&mut [0; 4])),
            None => configured.to_owned(),
        };
        // RFC 3501 §5.1: INBOX is case-insensitive, so the prefix `INBOX.` is too.
        let has_prefix = name.get(..self.prefix.len()).is_some_and(|head| {
            head == self.prefix
                || (self.prefix.to_ascii_uppercase().starts_with("INBOX") && head.eq_ignore_ascii_case(&self.prefix))
        });
        if has_prefix || name.eq_ignore_ascii_case("INBOX") {
            name
        } else {
            format!("{}{name}", self.prefix)
        }
    }

    /// The mailbox `full` would be created in (`INBOX` for `INBOX.Backscatter`); `None` at the
    /// top of the hierarchy.
    fn parent<'n>(&self, full: &'n str) -> Option<&'n str> {
        let (parent, _) = full.rsplit_once(self.delimiter?)?;
        (!parent.is_empty()).then_some(parent)
    }
}

/// The first personal namespace of a `* NAMESPACE (("INBOX." ".")) … …` line (RFC 2342 §5):
/// `None` when the line is not one, `Some(None)` when the server has no personal namespace.
pub fn parse(line: &[u8]) -> Option<Option<Namespace>> {
    let rest = strip_prefix_ci(line, b"* NAMESPACE ")?;
    if strip_prefix_ci(rest, b"NIL").is_some() {
        return Some(None);
    }
    let rest = rest.strip_prefix(b"((")?;
    let (prefix, rest) = string(rest)?;
    let rest = rest.strip_prefix(b" ")?;
    let delimiter = if strip_prefix_ci(rest, b"NIL").is_some() {
        None
    } else {
        let (d, _) = string(rest)?;
        Some(char::from(*d.first()?))
    };
    let prefix = String::from_utf8(prefix).ok()?;
    let prefix = utf7::decode(&prefix).unwrap_or(prefix);
    Some(Some(Namespace { prefix, delimiter }))
}

fn strip_prefix_ci<'a>(line: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &line[prefix.len()..])
}

/// An IMAP string (RFC 3501 §4.3): quoted with `\` escapes, or a literal `{n}\r\n` + n bytes.
fn string(input: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    if let Some(mut rest) = input.strip_prefix(b"\"") {
        let mut out = Vec::new();
        loop {
            let (&b, tail) = rest.split_first()?;
            rest = tail;
            match b {
                b'"' => return Some((out, rest)),
                b'\\' => {
                    let (&escaped, tail) = rest.split_first()?;
                    out.push(escaped);
                    rest = tail;
                }
                _ => out.push(b),
            }
        }
    }
    let rest = input.strip_prefix(b"{")?;
    let close = rest.iter().position(|&b| b == b'}')?;
    let length: usize = std::str::from_utf8(&rest[..close]).ok()?.trim_end_matches('+').parse().ok()?;
    let body = rest.get(close + 1..)?.strip_prefix(b"\r\n")?;
    Some((body.get(..length)?.to_vec(), body.get(length..)?))
}

/// The personal namespace, asked once per connection: NAMESPACE where offered, else the
/// delimiter of `LIST "" ""` (RFC 3501 §6.3.8) with no prefix.
pub async fn namespace(session: &mut Session, caps: Caps) -> Result<Namespace, ImapError> {
    if caps.namespace {
        let lines = raw(session, "NAMESPACE").await?;
        if let Some(Some(found)) = lines.iter().find_map(|line| parse(line)) {
            return Ok(found);
        }
    }
    let root: Vec<_> = session
        .list(Some(""), Some("\"\""))
        .await
        .map_err(|e| ImapError::protocol("LIST", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("LIST", e))?;
    let delimiter = root.first().and_then(|n| n.delimiter()).and_then(|d| d.chars().next());
    Ok(Namespace { prefix: String::new(), delimiter })
}

/// Runs `command` with a tag of its own on the connection under the session and returns its
/// untagged lines. Only for answers async-imap cannot read: imap-proto 0.17 has no grammar for
/// `* NAMESPACE`, and a line it cannot parse ends the session. Safe between commands, when the
/// session has read everything up to its last tagged answer; bytes are read one at a time so
/// nothing after our tagged line is taken from the session.
async fn raw(session: &mut Session, command: &str) -> Result<Vec<Vec<u8>>, ImapError> {
    const TAG: &[u8] = b"bsraw";
    let lost = |e: std::io::Error| ImapError::Network(format!("{command}: {e}"));
    let stream = session.get_mut();
    stream.write_all(format!("bsraw {command}\r\n").as_bytes()).await.map_err(lost)?;
    stream.flush().await.map_err(lost)?;
    let mut lines = Vec::new();
    loop {
        let line = read_line(stream).await.map_err(lost)?;
        if let Some(rest) = line.strip_prefix(TAG).and_then(|r| r.strip_prefix(b" ")) {
            if strip_prefix_ci(rest, b"OK").is_none() {
                tracing::debug!(command, answer = %String::from_utf8_lossy(rest).trim_end(), "refused");
            }
            return Ok(lines);
        }
        lines.push(line);
    }
}

/// One response line, literals included (`{n}\r\n` and its n bytes belong to the line).
async fn read_line(stream: &mut super::connect::Stream) -> std::io::Result<Vec<u8>> {
    const LIMIT: usize = 64 * 1024;
    let mut line = Vec::new();
    loop {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await?;
        line.push(byte[0]);
        if line.len() > LIMIT {
            return Err(std::io::Error::other("a response line over 64 KiB"));
        }
        if !line.ends_with(b"\r\n") {
            continue;
        }
        let body = &line[..line.len() - 2];
        let literal = body.strip_suffix(b"}").and_then(|b| {
            let open = b.iter().rposition(|&c| c == b'{')?;
            std::str::from_utf8(&b[open + 1..]).ok()?.trim_end_matches('+').parse::<usize>().ok()
        });
        match literal {
            Some(n) if n <= LIMIT => {
                let mut bytes = vec![0u8; n];
                stream.read_exact(&mut bytes).await?;
                line.extend_from_slice(&bytes);
            }
            _ => return Ok(line),
        }
    }
}

/// One mailbox as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its name (UTF-8).
    pub name: String,
    /// It can be selected (no `\Noselect`).
    pub selectable: bool,
    /// Marked `\Sent` (RFC 6154).
    pub sent: bool,
    /// Marked `\Junk` (RFC 6154).
    pub junk: bool,
}

/// `LIST "" pattern` (pattern as written on the wire), asking for the special-use attributes
/// where the server can say them: RFC 6154 §5.1, `RETURN (SPECIAL-USE)` needs LIST-EXTENDED;
/// servers with SPECIAL-USE alone send them in every LIST answer.
pub async fn list(session: &mut Session, caps: Caps, pattern: &str) -> Result<Vec<Listed>, ImapError> {
    let pattern = if caps.list_extended && caps.special_use {
        format!("{pattern} RETURN (SPECIAL-USE)")
    } else {
        pattern.to_owned()
    };
    let names: Vec<_> = session
        .list(Some(""), Some(&pattern))
        .await
        .map_err(|e| ImapError::protocol("LIST", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("LIST", e))?;
    Ok(names
        .iter()
        .map(|n| Listed {
            name: utf7::decode(n.name()).unwrap_or_else(|| n.name().to_owned()),
            selectable: !n.attributes().contains(&NameAttribute::NoSelect),
            sent: n.attributes().contains(&NameAttribute::Sent),
            junk: n.attributes().contains(&NameAttribute::Junk),
        })
        .collect())
}

/// The account's folder names on one connection: the namespace, and the `\Junk` mailbox
/// when a configured folder asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folders {
    /// The personal namespace.
    pub namespace: Namespace,
    /// The mailbox marked `\Junk`, if one was asked for and found.
    junk: Option<String>,
}

impl Folders {
    /// Reads what it takes to name each of `configured` (the policy's folder, SPF's):
    /// NAMESPACE, and LIST when one of them is `\Junk`.
    pub async fn read(session: &mut Session, caps: Caps, configured: &[&str]) -> Result<Folders, ImapError> {
        let namespace = namespace(session, caps).await?;
        let junk = if configured.iter().any(|f| f.eq_ignore_ascii_case(JUNK)) {
            list(session, caps, "*").await?.into_iter().find(|l| l.junk && l.selectable).map(|l| l.name)
        } else {
            None
        };
        Ok(Folders { namespace, junk })
    }

    /// The server's name (UTF-8) for the configured folder `configured`.
    pub fn resolve(&self, configured: &str) -> Result<String, ImapError> {
        if !configured.eq_ignore_ascii_case(JUNK) {
            return Ok(self.namespace.full_name(configured));
        }
        self.junk.clone().ok_or_else(|| {
            ImapError::Refused(
                "folder = \"\\\\Junk\": the server marks no mailbox \\Junk (RFC 6154 SPECIAL-USE) — mark one as \\Junk on the server, or set folder to a name".to_owned(),
            )
        })
    }
}

/// Where a folder stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderState {
    /// It exists.
    Exists,
    /// It did not exist and was created (and subscribed).
    Created,
    /// It does not exist; the real run will create it. `rights`: what MYRIGHTS (RFC 4314) says
    /// of the mailbox it goes into, when the server offers ACL and there is one.
    WouldCreate {
        /// The parent and our rights there, e.g. `("INBOX", "lrswipkxtecdan")`.
        rights: Option<(String, String)>,
    },
}

impl std::fmt::Display for FolderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FolderState::Exists => f.write_str("exists"),
            FolderState::Created => f.write_str("created"),
            FolderState::WouldCreate { rights: Some((parent, rights)) } => {
                write!(f, "would be created (MYRIGHTS on {parent}: {rights})")
            }
            FolderState::WouldCreate { rights: None } => f.write_str("would be created"),
        }
    }
}

/// Whether the mailbox `full` (UTF-8) exists: `LIST "" "name"`.
async fn exists(session: &mut Session, full: &str) -> Result<bool, ImapError> {
    let wire = utf7::encode(full);
    let names: Vec<_> = session
        .list(Some(""), Some(&quoted(&wire)))
        .await
        .map_err(|e| ImapError::protocol("LIST", e))?
        .try_collect()
        .await
        .map_err(|e| ImapError::protocol("LIST", e))?;
    Ok(names.iter().any(|n| n.name() == wire))
}

/// Makes sure `full` (UTF-8) exists and is subscribed on `account`: CREATE and SUBSCRIBE when
/// LIST does not show it. A refused CREATE is permanent ([`ImapError::Refused`], in the
/// server's words).
pub async fn ensure(session: &mut Session, account: &str, full: &str) -> Result<FolderState, ImapError> {
    if exists(session, full).await? {
        return Ok(FolderState::Exists);
    }
    let wire = utf7::encode(full);
    let fix =
        "create it by hand, set policy.folder to one that may be created, or ask the server's admin for the right";
    session.create(&wire).await.map_err(|e| ImapError::refused(&format!("CREATE {}", quoted(full)), e, fix))?;
    if let Err(e) = session.subscribe(&wire).await {
        // Unsubscribed, the folder still works; a mail client may only not show it.
        tracing::warn!(account, folder = full, error = %ImapError::protocol("SUBSCRIBE", e), "the folder is not subscribed");
    }
    tracing::info!(account, folder = full, "created and subscribed the folder");
    Ok(FolderState::Created)
}

/// For a dry run: whether `full` (UTF-8) exists or may be created, without changing anything.
/// MYRIGHTS (RFC 4314 §3.8) on the folder must grant `i` (insert: COPY/MOVE into it), on its
/// parent `k` (create; `c` before RFC 4314), where the server offers ACL; else the server
/// decides at CREATE. Lacking rights is [`ImapError::Refused`], as the real run would be.
pub async fn check(
    session: &mut Session,
    caps: Caps,
    namespace: &Namespace,
    full: &str,
) -> Result<FolderState, ImapError> {
    let present = exists(session, full).await?;
    let (mailbox, needed, word): (_, &[AclRight], _) = match (present, namespace.parent(full)) {
        (true, _) => (full, &[AclRight::Insert], "i (insert)"),
        (false, Some(parent)) => (parent, &[AclRight::CreateMailbox, AclRight::OldCreate], "k (create)"),
        (false, None) => return Ok(FolderState::WouldCreate { rights: None }),
    };
    let rights = if caps.acl { myrights(session, mailbox).await? } else { None };
    let Some(rights) = rights else {
        return Ok(if present { FolderState::Exists } else { FolderState::WouldCreate { rights: None } });
    };
    let letters: String = rights.iter().map(|&r| char::from(r)).collect();
    if !rights.iter().any(|r| needed.contains(r)) {
        return Err(ImapError::Refused(format!(
            "{}: MYRIGHTS on {} is \"{letters}\", without {word} — ask the server's admin for it, or set policy.folder to one you may {}",
            quoted(full),
            quoted(mailbox),
            if present { "move mail into" } else { "create" }
        )));
    }
    Ok(if present {
        FolderState::Exists
    } else {
        FolderState::WouldCreate { rights: Some((mailbox.to_owned(), letters)) }
    })
}

/// `MYRIGHTS mailbox` (RFC 4314 §3.8): our rights there, or `None` when the server would not
/// say (a NO: the mailbox is not visible to us).
async fn myrights(session: &mut Session, mailbox: &str) -> Result<Option<Vec<AclRight>>, ImapError> {
    let lost = |e: std::io::Error| ImapError::Network(format!("MYRIGHTS: {e}"));
    let id = session
        .run_command(format!("MYRIGHTS {}", quoted(&utf7::encode(mailbox))))
        .await
        .map_err(|e| ImapError::protocol("MYRIGHTS", e))?;
    let mut rights = None;
    loop {
        let response = session
            .read_response()
            .await
            .map_err(lost)?
            .ok_or_else(|| ImapError::Network("MYRIGHTS: the server closed the connection".into()))?;
        match response.parsed() {
            Response::MyRights(my) => rights = Some(my.rights.clone()),
            Response::Done { tag, status, .. } if *tag == id => {
                return Ok(rights.filter(|_| matches!(status, async_imap::imap_proto::Status::Ok)));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(prefix: &str, delimiter: Option<char>) -> Namespace {
        Namespace { prefix: prefix.to_owned(), delimiter }
    }

    #[test]
    fn namespace_lines_of_real_servers() {
        // Cyrus 3.6 (Debian defaults, unixhierarchysep, altnamespace) and Dovecot.
        let cyrus = parse(b"* NAMESPACE ((\"INBOX.\" \".\")) ((\"user.\" \".\")) ((\"\" \".\"))\r\n");
        assert_eq!(cyrus, Some(Some(ns("INBOX.", Some('.')))));
        let unix = parse(b"* NAMESPACE ((\"INBOX/\" \"/\")) ((\"user/\" \"/\")) ((\"\" \"/\"))\r\n");
        assert_eq!(unix, Some(Some(ns("INBOX/", Some('/')))));
        let dovecot = parse(b"* NAMESPACE ((\"\" \".\")) NIL NIL\r\n");
        assert_eq!(dovecot, Some(Some(ns("", Some('.')))));
        assert_eq!(parse(b"* NAMESPACE NIL NIL NIL\r\n"), Some(None));
        let literal = parse(b"* NAMESPACE (({6}\r\nINBOX. \".\" (\"X-PARAM\" (\"a\")))) NIL NIL\r\n");
        assert_eq!(literal, Some(Some(ns("INBOX.", Some('.')))));
        let flat = parse(b"* namespace ((\"&AMk-t&AOk-.\" NIL)) NIL NIL\r\n");
        assert_eq!(flat, Some(Some(ns("Été.", None))));
        assert_eq!(parse(b"* LIST () \".\" INBOX\r\n"), None);
    }

    #[test]
    fn configured_names_join_the_namespace() {
        let cyrus = ns("INBOX.", Some('.'));
        assert_eq!(cyrus.full_name("Backscatter"), "INBOX.Backscatter");
        assert_eq!(cyrus.full_name("INBOX.Backscatter"), "INBOX.Backscatter");
        assert_eq!(cyrus.full_name("inbox.Backscatter"), "inbox.Backscatter");
        assert_eq!(cyrus.full_name("Archive/Backscatter"), "INBOX.Archive.Backscatter");
        assert_eq!(cyrus.full_name("INBOX/Backscatter"), "INBOX.Backscatter");
        let unix = ns("INBOX/", Some('/'));
        assert_eq!(unix.full_name("Backscatter"), "INBOX/Backscatter");
        assert_eq!(unix.full_name("INBOX/Backscatter"), "INBOX/Backscatter");
        let dovecot = ns("", Some('.'));
        assert_eq!(dovecot.full_name("Backscatter"), "Backscatter");
        assert_eq!(dovecot.full_name("Rückläufer"), "Rückläufer");
        assert_eq!(dovecot.full_name("Junk/Backscatter"), "Junk.Backscatter");
        assert_eq!(cyrus.parent("INBOX.Backscatter"), Some("INBOX"));
        assert_eq!(dovecot.parent("Backscatter"), None);
        assert_eq!(ns("", None).full_name("a/b"), "a/b");
    }

    #[test]
    fn junk_is_the_marked_mailbox_or_a_refusal() {
        let mut folders = Folders { namespace: ns("INBOX.", Some('.')), junk: None };
        let err = folders.resolve("\\Junk").unwrap_err();
        assert!(err.is_permanent() && err.to_string().contains("marks no mailbox \\Junk"), "{err}");
        folders.junk = Some("INBOX.Spam".to_owned());
        assert_eq!(folders.resolve("\\junk").unwrap(), "INBOX.Spam");
        assert_eq!(folders.resolve("Backscatter").unwrap(), "INBOX.Backscatter");
    }
}
