//! A server's refusal in its own words: the tagged NO or BAD (RFC 3501 §7.1), with its response
//! code, as the server said it — never the client library's debug text — and whether RFC 5530
//! calls it temporary.

use async_imap::error::Error;

/// A tagged NO or BAD as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `NO` or `BAD`.
    pub status: &'static str,
    /// The response code the client parsed out of the text (`TRYCREATE`, `ALERT`), if any.
    /// Codes it does not know (`[NOPERM]`, `[UNAVAILABLE]`) stay at the start of `text`.
    pub code: Option<String>,
    /// The human-readable text.
    pub text: String,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.status)?;
        if let Some(code) = &self.code {
            write!(f, " [{code}]")?;
        }
        if !self.text.is_empty() {
            write!(f, " {}", self.text)?;
        }
        Ok(())
    }
}

impl Answer {
    /// The server's answer inside `e`, when `e` is a NO or BAD. async-imap 0.12 keeps it only
    /// as Rust debug text, `code: Some(TryCreate), info: Some("Mailbox does not exist")`, which is
    /// read back here (a unit test pins that format).
    pub fn of(e: &Error) -> Option<Answer> {
        let (status, debug) = match e {
            Error::No(debug) => ("NO", debug),
            Error::Bad(debug) => ("BAD", debug),
            _ => return None,
        };
        let rest = debug.strip_prefix("code: ")?;
        let (code, info) = rest.split_once(", info: ")?;
        let code = match code {
            "None" => None,
            some => Some(code_word(some.strip_prefix("Some(")?.strip_suffix(')')?)),
        };
        let text = match info {
            "None" => String::new(),
            some => unescape(some.strip_prefix("Some(")?.strip_suffix(')')?)?,
        };
        Some(Answer { status, code, text })
    }

    /// RFC 5530 §3: `UNAVAILABLE` (a subsystem is down), `INUSE` (try again) and `SERVERBUG`
    /// are worth retrying; any other refusal is the same on the next attempt.
    pub fn temporary(&self) -> bool {
        let code = self.code.as_deref().map_or_else(
            || {
                let inner = self.text.strip_prefix('[').and_then(|t| t.split_once(']')).map_or("", |(c, _)| c);
                inner.split_whitespace().next().unwrap_or("").to_ascii_uppercase()
            },
            str::to_owned,
        );
        matches!(code.as_str(), "UNAVAILABLE" | "INUSE" | "SERVERBUG")
    }
}

/// What the server said in `e`: its answer for a NO or BAD, else the error itself.
pub fn words(e: &Error) -> String {
    Answer::of(e).map_or_else(|| e.to_string(), |answer| answer.to_string())
}

/// imap-proto's response-code variant name as the code's IMAP word: `TryCreate` → `TRYCREATE`.
fn code_word(debug: &str) -> String {
    match debug {
        "ReadOnly" => "READ-ONLY".to_owned(),
        "ReadWrite" => "READ-WRITE".to_owned(),
        _ => debug.chars().take_while(char::is_ascii_alphanumeric).collect::<String>().to_ascii_uppercase(),
    }
}

/// A Rust debug string literal (`"a \"b\" \u{e9}"`) back to its text.
fn unescape(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'u' => {
                let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
            }
            other => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The format async-imap 0.12 gives a NO (client.rs `check_status_ok`); if an upgrade
    /// changes it, this fails rather than people seeing debug text.
    #[test]
    fn reads_async_imaps_debug_text_back() {
        let code = Some(&async_imap::imap_proto::ResponseCode::TryCreate);
        let info: Option<&str> = Some("Mailbox \"x\" does not exist \u{e9}");
        let no = Error::No(format!("code: {code:?}, info: {info:?}"));
        let answer = Answer::of(&no).unwrap();
        assert_eq!(answer.to_string(), "NO [TRYCREATE] Mailbox \"x\" does not exist é");
        assert!(!answer.temporary());

        let none: Option<&async_imap::imap_proto::ResponseCode<'_>> = None;
        let denied = Error::No(format!("code: {none:?}, info: {:?}", Some("Permission denied")));
        assert_eq!(words(&denied), "NO Permission denied");
        let down = Error::No(format!("code: {none:?}, info: {:?}", Some("[UNAVAILABLE] Backend down")));
        assert!(Answer::of(&down).unwrap().temporary());
        let bad = Error::Bad(format!("code: {none:?}, info: {:?}", None::<&str>));
        assert_eq!(words(&bad), "BAD");
        assert_eq!(words(&Error::ConnectionLost), "connection lost");
    }
}
