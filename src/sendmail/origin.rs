//! Who sends when the caller gave no `-f`: the login name of the real user id, as Postfix's
//! sendmail takes it (`getpwuid(getuid())`), and the host name as the fallback `myorigin`.
//!
//! Read from `/proc/self/status` and `/etc/passwd` (std has no `getuid`/`getpwuid`). A user known
//! only through NSS (LDAP, sssd) is not found: then no sender is added and the real sendmail
//! picks it, untagged — never a wrong guess.

/// The login name of this process's real user id, if `/etc/passwd` names it.
pub fn login_name() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = real_uid(&status)?;
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    user_of(&passwd, uid)
}

/// The kernel's host name (`/proc/sys/kernel/hostname`), the default `myorigin`.
pub fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// The real uid from a `/proc/PID/status` text: the first number of its `Uid:` line
/// (proc(5): real, effective, saved, filesystem).
fn real_uid(status: &str) -> Option<u32> {
    let line = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    line.split_whitespace().next()?.parse().ok()
}

/// The first user in a passwd(5) text with this uid.
fn user_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id: u32 = fields.next()?.parse().ok()?;
        (id == uid && !name.is_empty() && !name.starts_with(['+', '-', '#'])).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_from_status() {
        assert_eq!(real_uid("Name:\tcat\nUid:\t1000\t0\t0\t0\nGid:\t1\n"), Some(1000));
        assert_eq!(real_uid("Name:\tcat\n"), None);
        assert_eq!(real_uid("Uid:\tx\n"), None);
    }

    #[test]
    fn name_from_passwd() {
        let passwd =
            "# comment\nroot:x:0:0:root:/root:/bin/bash\n+nis:x:7::::\nalice:x:1000:1000::/home/a:/bin/sh\nbad line\n";
        assert_eq!(user_of(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_of(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_of(passwd, 7), None);
        assert_eq!(user_of(passwd, 4242), None);
    }

    #[test]
    fn this_process_has_a_name_and_host() {
        // The test runs as a user in /etc/passwd (root in CI) on a machine with a host name.
        assert!(login_name().is_some_and(|n| !n.is_empty()));
        assert!(host_name().is_some());
    }
}
