//! The `Received-SPF` header (RFC 7208 §9.1) for a result we computed, and writing it into a
//! Maildir message atomically (new file in the Maildir's `tmp/`, renamed over the message).

use std::fs;
use std::io;
use std::path::Path;

use super::facts::Facts;
use super::{Outcome, SpfResult};
use crate::config;

/// The `Received-SPF:` field (name, value, no line end) for `outcome`, computed from `facts`;
/// `None` when there is no result of ours to record (skipped, or the border MTA already wrote
/// one).
///
/// `Received-SPF: fail (mx.example.org: 203.0.113.9 is not allowed by example.com's SPF)
/// client-ip=203.0.113.9; envelope-from="a@example.com"; helo=mail.example.net;
/// receiver=mx.example.org; identity=mailfrom`
pub fn received_spf_header(outcome: &Outcome, facts: &Facts) -> Option<String> {
    let result = outcome.result?;
    if facts.recorded.is_some() {
        return None;
    }
    let receiver = facts.receiver.as_deref().unwrap_or("backscatter");
    let mut field = format!("Received-SPF: {} ({receiver}: {})", result.word(), comment(&outcome.why));
    if let Some(ip) = outcome.ip {
        field.push_str(&format!(" client-ip={ip};"));
    }
    if let Some(from) = &facts.mail_from {
        field.push_str(&format!(" envelope-from=\"{}\";", quoted(from)));
    }
    if let Some(helo) = facts.helo.as_deref().filter(|h| is_dot_atom(h)) {
        field.push_str(&format!(" helo={helo};"));
    }
    if is_dot_atom(receiver) {
        field.push_str(&format!(" receiver={receiver};"));
    }
    if let Some(identity) = outcome.identity {
        field.push_str(&format!(" identity={}", identity.word()));
    }
    Some(field.trim_end_matches(';').to_owned())
}

/// Whether `[spf]` wants the header written for `outcome`: `received_spf` on, and not a `none`
/// result when `received_spf_none` is off.
pub fn wanted(outcome: &Outcome, spf: &config::Spf) -> bool {
    spf.received_spf && (spf.received_spf_none || outcome.result != Some(SpfResult::None))
}

/// `why` made safe inside a `( … )` comment: no parentheses, backslashes or line breaks.
fn comment(why: &str) -> String {
    why.chars().map(|c| if matches!(c, '(' | ')' | '\\' | '\r' | '\n') { ' ' } else { c }).collect()
}

/// `s` inside a quoted-string (RFC 5322 §3.2.4): `"` and `\` escaped, line breaks dropped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| !matches!(c, '\r' | '\n')) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A host name that can stand unquoted as a key=value value.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Puts `field` (as from [`received_spf_header`]) at the top of the Maildir message at `path`,
/// atomically: the new message is written into the Maildir's `tmp/` (beside the message's
/// `cur/` or `new/`), given the old file's permissions and modification time (the arrival-time
/// fallback), then renamed over `path`, so a reader sees the old or the new message, never half.
/// The line end follows the message's own (CRLF or LF).
pub fn prepend(path: &Path, field: &str) -> io::Result<()> {
    let message = fs::read(path)?;
    let crlf = message.split(|&b| b == b'\n').next().is_some_and(|line| line.ends_with(b"\r"));
    let end = if crlf { "\r\n" } else { "\n" };
    let dir = path.parent().and_then(Path::parent).map(|maildir| maildir.join("tmp"));
    let dir = dir.filter(|d| d.is_dir()).ok_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, format!("{} is not in a Maildir with a tmp/", path.display()))
    })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!("{}.{}.spf", std::process::id(), name.split(':').next().unwrap_or("message")));
    let mut out = Vec::with_capacity(message.len() + field.len() + 2);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(end.as_bytes());
    out.extend_from_slice(&message);
    let written = write_like(&tmp, &out, path);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// Writes `bytes` to `tmp` with `original`'s permissions and modification time, synced.
fn write_like(tmp: &Path, bytes: &[u8], original: &Path) -> io::Result<()> {
    use std::io::Write;
    let meta = fs::metadata(original)?;
    let mut file = fs::OpenOptions::new().write(true).create_new(true).open(tmp)?;
    file.write_all(bytes)?;
    file.set_permissions(meta.permissions())?;
    file.set_modified(meta.modified()?)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spf::Identity;

    fn fail() -> (Outcome, Facts) {
        let ip = "203.0.113.9".parse().ok();
        let outcome = Outcome {
            result: Some(SpfResult::Fail),
            identity: Some(Identity::MailFrom),
            domain: Some("example.com".into()),
            ip,
            why: "203.0.113.9 is not allowed by example.com's SPF (see \"x\")".into(),
        };
        let facts = Facts {
            ip,
            helo: Some("mail.example.net".into()),
            mail_from: Some("a\"b@example.com".into()),
            receiver: Some("mx.example.org".into()),
            ..Facts::default()
        };
        (outcome, facts)
    }

    #[test]
    fn rfc7208_section_9_1_form() {
        let (outcome, facts) = fail();
        assert_eq!(
            received_spf_header(&outcome, &facts).expect("a header"),
            "Received-SPF: fail (mx.example.org: 203.0.113.9 is not allowed by example.com's SPF  see \"x\" ) \
client-ip=203.0.113.9; envelope-from=\"a\\\"b@example.com\"; helo=mail.example.net; receiver=mx.example.org; identity=mailfrom"
        );
        assert_eq!(received_spf_header(&Outcome::skipped("authenticated"), &facts), None);
    }

    #[test]
    fn none_is_written_only_when_configured() {
        let none = Outcome { result: Some(SpfResult::None), ..Outcome::skipped("no record") };
        let mut spf = config::Spf { received_spf: true, ..config::Spf::default() };
        assert!(wanted(&none, &spf));
        spf.received_spf_none = false;
        assert!(!wanted(&none, &spf) && wanted(&fail().0, &spf));
        assert!(!wanted(&fail().0, &config::Spf::default()), "off by default");
    }

    #[test]
    fn prepend_is_atomic_and_keeps_name_mode_and_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        let path = dir.path().join("cur/1700000000.M1P2.host:2,S");
        fs::write(&path, b"Subject: hi\r\n\r\nbody\r\n").expect("write");
        let before = fs::metadata(&path).and_then(|m| m.modified()).expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        prepend(&path, "Received-SPF: pass (x) identity=helo").expect("prepend");
        let after = fs::read(&path).expect("read");
        assert_eq!(after, b"Received-SPF: pass (x) identity=helo\r\nSubject: hi\r\n\r\nbody\r\n");
        assert_eq!(fs::metadata(&path).and_then(|m| m.modified()).expect("mtime"), before);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).expect("tmp").count(), 0, "nothing left in tmp/");
        let loose = dir.path().join("loose.eml");
        fs::write(&loose, b"Subject: x\n\n").expect("write");
        assert!(prepend(&loose, "Received-SPF: none").is_err(), "not in a Maildir");
    }
}
