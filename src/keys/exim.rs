//! `keys export --exim`: the Exim config lines that check our BATV tags at SMTP time with
//! Exim's own `${prvscheck}` (Exim spec ch. 11 "prvscheck"; ch. 42 "BATV").

use std::fmt::Write as _;

use super::Keyring;
use crate::day::Day;

impl Keyring {
    /// Exim config lines holding the secret of every key that verifies on `today`, picked by the
    /// tag's key digit, and the ACL statement and router that use them. The text contains
    /// secrets and says so.
    pub fn exim_config(&self, today: Day) -> String {
        let verifying: Vec<_> = self.keys.iter().filter(|k| k.verifies_on(today)).collect();
        let mut out = String::new();
        let line = |out: &mut String, s: &str| {
            out.push_str(s);
            out.push('\n');
        };
        let _ = writeln!(
            out,
            "# Exim config from `backscatter keys export --exim`, keyring {}, {today}.",
            self.path.display()
        );
        line(&mut out, "# THIS OUTPUT CONTAINS SECRETS (the keys that sign your mail): keep it as private as the");
        line(&mut out, "# keyring, e.g. in a file readable by root and Exim only, pulled in with `.include`.");
        let _ = write!(out, "# It holds the keys that verify on {today}:");
        for key in &verifying {
            let _ = write!(out, " {} ({})", key.id, self.state(key, today));
        }
        line(&mut out, "");
        line(&mut out, "# Export again after every `backscatter keys rotate` and `keys prune`.");
        line(&mut out, "# Exim accepts a tag until 7 days after signing, as backscatter does, but also one dated in");
        line(&mut out, "# the future or ~990 days old (the day wraps at 1000); backscatter refuses those.");
        line(&mut out, "# Each secret is written with \\xHH escapes for every byte but a-z 0-9 - _ . so that no");
        line(&mut out, "# Exim macro name (they start with an upper-case letter) can match inside one.");
        line(&mut out, "");
        line(&mut out, "# 1. Main section, before the first `begin`: the secret for the tag's key digit.");
        out.push_str("BACKSCATTER_PRVS_SECRET = ${extract{k$prvscheck_keynum}{");
        let pairs: Vec<String> =
            verifying.iter().map(|k| format!("k{}=\"{}\"", k.id, exim_escape(k.secret()))).collect();
        out.push_str(&pairs.join(" "));
        line(&mut out, "}}");
        line(&mut out, "");
        line(&mut out, "# 2. RCPT ACL (acl_smtp_rcpt), before local mail is accepted: refuse a bounce (null sender)");
        line(&mut out, "#    to a prvs= address whose tag is forged, expired or made with a key not listed above.");
        line(&mut out, "deny    senders    = :");
        line(&mut out, "        condition  = ${prvscheck{$local_part@$domain}{BACKSCATTER_PRVS_SECRET}{1}}");
        line(&mut out, "        !condition = $prvscheck_result");
        line(&mut out, "        message    = invalid or expired BATV tag: this bounce answers mail we did not send");
        line(&mut out, "");
        line(&mut out, "# 3. First router (after `begin routers`): deliver mail to a validly tagged address to the");
        line(&mut out, "#    plain address.");
        line(&mut out, "backscatter_batv:");
        line(&mut out, "  driver = redirect");
        line(&mut out, "  data = ${prvscheck{$local_part@$domain}{BACKSCATTER_PRVS_SECRET}}");
        out
    }
}

/// A secret as the inside of a `"…"` value in `${extract}`'s key=value string. Two layers read
/// it: the expansion of the string turns `\xHH` into byte HH; then extract's quoted-value parser
/// takes `\\` and `\"` as escapes. So `\` and `"` become `\x5c\x5c` and `\x5c\x22`, and every
/// other byte outside a-z 0-9 - _ . becomes `\xHH` — which also keeps upper-case letters, and so
/// macro names, out of the config text. Checked against Exim 4.96.
fn exim_escape(secret: &str) -> String {
    let mut out = String::with_capacity(secret.len() * 4);
    for b in secret.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(b)),
            b'\\' | b'"' => {
                let _ = write!(out, "\\x5c\\x{b:02x}");
            }
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn escapes_what_exim_would_read_specially() {
        assert_eq!(exim_escape("abc-_.09"), "abc-_.09");
        assert_eq!(exim_escape("aTLSb"), "a\\x54\\x4c\\x53b");
        assert_eq!(exim_escape("q\"u\\o$te{} x"), "q\\x5c\\x22u\\x5c\\x5co\\x24te\\x7b\\x7d\\x20x");
        assert_eq!(exim_escape("é"), "\\xc3\\xa9");
        assert!(!exim_escape("ABCDEFGHIJKLMNOPQRSTUVWXYZ").bytes().any(|b| b.is_ascii_uppercase()));
    }

    #[test]
    fn lists_the_keys_that_verify_today_and_warns_of_secrets() {
        let text = "[[key]]\nid = 2\ncreated = \"2025-01-01\"\nretired = \"2025-01-10\"\nsecret = \"zzold\"\n\
                    [[key]]\nid = 3\ncreated = \"2025-01-10\"\nretired = \"2025-02-01\"\nsecret = \"mid\"\n\
                    [[key]]\nid = 4\ncreated = \"2025-02-01\"\nsecret = \"New\"\n";
        let ring = Keyring::parse(Path::new("/k.toml"), text).unwrap();
        let out = ring.exim_config("2025-02-05".parse().unwrap());
        assert!(out.contains("THIS OUTPUT CONTAINS SECRETS"), "{out}");
        assert!(out.contains("BATV") && out.contains("${prvscheck{$local_part@$domain}{BACKSCATTER_PRVS_SECRET}{1}}"));
        assert!(out.contains("BACKSCATTER_PRVS_SECRET = ${extract{k$prvscheck_keynum}{k3=\"mid\" k4=\"\\x4eew\"}}\n"));
        assert!(out.contains(" 3 (verifying until 2025-02-08) 4 (signing)"), "{out}");
        assert!(!out.contains("zzold"), "an expired key is not exported");
    }
}
