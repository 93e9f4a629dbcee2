//! The schema: each section's keys as a table (with how each is written), the words a
//! choice may take, and near-miss suggestions for what is not in them.

use super::{MilterAction, Mode, SpfAction, SpfFail, Tls};
use crate::classify::Kind;

/// A section: how messages name it, the prefix of its dotted key names, and its keys, each
/// with an example of how it is written (the "what to do" of a wrong-type problem).
pub(super) struct Schema {
    /// How messages name it: `[policy]`, `[[imap]]`, `[root]`.
    pub name: &'static str,
    /// Put before a key to name it in messages: `policy.`.
    pub prefix: &'static str,
    /// Each key and how it is written.
    pub keys: &'static [(&'static str, &'static str)],
}

pub(super) const ROOT: Schema = Schema {
    name: "[root]",
    prefix: "",
    keys: &[
        ("keyring", "keyring = \"/etc/backscatter/keyring.toml\""),
        ("state_dir", "state_dir = \"/var/lib/backscatter\""),
        ("protected_domains", "protected_domains = [\"example.com\"]"),
        ("max_message_size", "max_message_size = 67108864"),
        ("user", "user = \"vmail\""),
        ("sign", "[sign]"),
        ("policy", "[policy]"),
        ("maildir", "[[maildir]] (one per Maildir)"),
        ("imap", "[[imap]] (one per account)"),
        ("spf", "[spf]"),
        ("metrics", "[metrics]"),
        ("milter", "[milter]"),
    ],
};

pub(super) const SIGN: Schema = Schema {
    name: "[sign]",
    prefix: "sign.",
    keys: &[
        ("enabled", "enabled = true"),
        ("sendmail_path", "sendmail_path = \"/usr/sbin/sendmail.real\""),
        ("header", "header = \"X-Backscatter-Sig\""),
        ("batv", "batv = true"),
        ("batv_exclude", "batv_exclude = [\"*@lists.example.org\"]"),
        ("message_id", "message_id = true"),
        ("sign_envid", "sign_envid = true"),
        ("myorigin", "myorigin = \"example.com\""),
        ("fail_open", "fail_open = false"),
        ("sent_log", "sent_log = true"),
    ],
};

pub(super) const POLICY: Schema = Schema {
    name: "[policy]",
    prefix: "policy.",
    keys: &[
        ("mode", "mode = \"monitor\""),
        ("grace_days", "grace_days = 7"),
        ("check", "check = [\"ndr\", \"delay\"]"),
        ("folder", "folder = \"Backscatter\""),
        ("exempt_domains", "exempt_domains = [\"example.net\"]"),
        ("exempt_ips", "exempt_ips = [\"192.0.2.0/24\"]"),
        ("own_relays", "own_relays = [\"198.51.100.7\"]"),
        ("all_bounces", "all_bounces = false"),
    ],
};

pub(super) const MAILDIR: Schema = Schema {
    name: "[[maildir]]",
    prefix: "maildir.",
    keys: &[("path", "path = \"~/Maildir\""), ("sent", "sent = [\".Sent\"]")],
};

/// The keys that name an IMAP secret's source; exactly one must be set.
pub(super) const AUTH_KEYS: [&str; 5] =
    ["password", "password_file", "password_env", "password_command", "oauth2_token_command"];

pub(super) const IMAP: Schema = Schema {
    name: "[[imap]]",
    prefix: "imap.",
    keys: &[
        ("name", "name = \"work\""),
        ("host", "host = \"imap.example.com\""),
        ("port", "port = 993"),
        ("tls", "tls = \"implicit\""),
        ("allow_plaintext", "allow_plaintext = false"),
        ("ca_file", "ca_file = \"/etc/ssl/certs/my-ca.pem\""),
        ("username", "username = \"me@example.com\""),
        ("password", "password = \"secret\""),
        ("password_file", "password_file = \"~/.config/backscatter/imap-password\""),
        ("password_env", "password_env = \"IMAP_PASSWORD\""),
        ("password_command", "password_command = [\"pass\", \"show\", \"mail/work\"]"),
        ("oauth2_token_command", "oauth2_token_command = [\"oauth2-token\", \"work\"]"),
        ("mailboxes", "mailboxes = [\"INBOX\"]"),
        ("sent", "sent = [\"Sent\"]"),
        ("poll_seconds", "poll_seconds = 60"),
    ],
};

pub(super) const SPF: Schema = Schema {
    name: "[spf]",
    prefix: "spf.",
    keys: &[
        ("enabled", "enabled = true"),
        ("dns", "dns = \"system\""),
        ("trusted_receivers", "trusted_receivers = [\"mx.example.com\"]"),
        ("trusted_hops", "trusted_hops = 1"),
        ("authserv_id", "authserv_id = \"mx.example.com\""),
        ("skip_authenticated", "skip_authenticated = true"),
        ("allow_ips", "allow_ips = [\"192.0.2.0/24\"]"),
        ("helo", "helo = true"),
        ("void_lookups", "void_lookups = 2"),
        ("fail_action", "fail_action = \"none\""),
        ("fail_folder", "fail_folder = \"Junk\""),
        ("fail_score", "fail_score = 5"),
        ("trusted_domains", "trusted_domains = [\"example.org\"]"),
        ("pass_score", "pass_score = -2"),
    ],
};

pub(super) const METRICS: Schema =
    Schema { name: "[metrics]", prefix: "metrics.", keys: &[("listen", "listen = \"127.0.0.1:9911\"")] };

pub(super) const MILTER: Schema = Schema {
    name: "[milter]",
    prefix: "milter.",
    keys: &[
        ("listen", "listen = \"inet:127.0.0.1:8891\""),
        ("sign_networks", "sign_networks = [\"127.0.0.0/8\", \"::1/128\"]"),
        ("action", "action = \"reject\""),
        ("spf_fail", "spf_fail = \"header\""),
        ("received_spf", "received_spf = true"),
        ("received_spf_none", "received_spf_none = true"),
    ],
};

pub(super) const MILTER_ACTIONS: [(&str, MilterAction); 3] =
    [("reject", MilterAction::Reject), ("quarantine", MilterAction::Quarantine), ("header", MilterAction::Header)];

pub(super) const SPF_FAILS: [(&str, SpfFail); 3] =
    [("header", SpfFail::Header), ("score", SpfFail::Score), ("reject", SpfFail::Reject)];

pub(super) const MILTER_LISTEN_FIX: &str =
    "write Postfix's notation: \"inet:127.0.0.1:8891\", \"inet:[::1]:8891\" or \"unix:/run/backscatter/milter.sock\"";

pub(super) const LISTEN_FIX: &str =
    "write an IP address and port, e.g. \"127.0.0.1:9911\" or \"[::1]:9911\" (no host names)";
pub(super) const DNS_FIX: &str = "write \"system\" or a server's IP address and port, e.g. \"127.0.0.1:53\"";

/// Every section, to say where a key that is unknown in one section belongs.
pub(super) const SECTIONS: [&Schema; 8] = [&SIGN, &POLICY, &MAILDIR, &IMAP, &SPF, &METRICS, &MILTER, &ROOT];

/// Each section's name and keys, for the test that the example documents them all.
#[cfg(test)]
pub(super) fn section_keys() -> impl Iterator<Item = (&'static str, Vec<&'static str>)> {
    SECTIONS.into_iter().map(|schema| (schema.name, schema.keys.iter().map(|(key, _)| *key).collect()))
}

/// `policy.check` words (DESIGN §5; the same words `Kind` serializes to).
pub(super) const KINDS: [(&str, Kind); 12] = [
    ("ndr", Kind::Ndr),
    ("delay", Kind::Delay),
    ("delivered", Kind::Delivered),
    ("autoreply", Kind::AutoReply),
    ("auto-notice", Kind::AutoNotice),
    ("challenge", Kind::Challenge),
    ("virus-notice", Kind::VirusNotice),
    ("mdn", Kind::Mdn),
    ("feedback", Kind::Feedback),
    ("forwarded-bounce", Kind::ForwardedBounce),
    ("list", Kind::List),
    ("ordinary", Kind::Ordinary),
];

/// `spf.fail_action` words.
pub(super) const SPF_ACTIONS: [(&str, SpfAction); 3] =
    [("none", SpfAction::Nothing), ("move", SpfAction::Move), ("score", SpfAction::Score)];
pub(super) const MODES: [(&str, Mode); 2] = [("monitor", Mode::Monitor), ("enforce", Mode::Enforce)];
pub(super) const TLS: [(&str, Tls); 3] =
    [("implicit", Tls::Implicit), ("starttls", Tls::Starttls), ("none", Tls::None)];

/// How `key` is written, from its schema.
pub(super) fn example(schema: &Schema, key: &str) -> String {
    let example = schema.keys.iter().find(|(name, _)| *name == key).map_or(key, |(_, example)| *example);
    format!("`{example}`")
}

/// The "what to do" for an unknown key: a near-miss in this section, else the section the key
/// belongs to, else the section's keys.
pub(super) fn suggest_key(schema: &Schema, name: &str) -> String {
    if let Some(near) = nearest(name, schema.keys.iter().map(|(key, _)| *key)) {
        return format!("did you mean `{near}`?");
    }
    for other in SECTIONS {
        if other.keys.iter().any(|(key, _)| *key == name) {
            return format!("it belongs in {}; move it there", other.name);
        }
    }
    let keys: Vec<&str> = schema.keys.iter().map(|(key, _)| *key).collect();
    format!("remove it; the keys of {} are {}", schema.name, keys.join(", "))
}

/// The candidate closest to `word`, if it is a plausible typo: at most 2 edits (a third of
/// the word for long words), and fewer than the word's length (so `a` does not suggest `tls`).
pub(super) fn nearest<'c>(word: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    let word = word.to_ascii_lowercase();
    let length = word.chars().count();
    let limit = (length / 3).max(2);
    candidates
        .map(|candidate| (edit_distance(&word, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit && distance < length)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance in chars, one row at a time.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (window, cb) in previous.windows(2).zip(&b) {
            let &[diagonal, up] = window else { continue };
            let left = current.last().copied().unwrap_or(0);
            current.push((diagonal + usize::from(ca != *cb)).min(up + 1).min(left + 1));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("polcy", "policy"), 1);
        assert_eq!(edit_distance("é", "e"), 1);
    }

    #[test]
    fn near_misses_only() {
        let keys = || ROOT.keys.iter().map(|(key, _)| *key);
        assert_eq!(nearest("Keyrng", keys()), Some("keyring"));
        assert_eq!(nearest("statedir", keys()), Some("state_dir"));
        assert_eq!(nearest("xyz", keys()), None);
        assert_eq!(nearest("a", TLS.iter().map(|(name, _)| *name)), None);
    }
}
