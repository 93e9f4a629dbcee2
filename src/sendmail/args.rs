//! The sendmail command line, read as Postfix's sendmail(1) reads it (and msmtp's `-a`), so that
//! we know what the caller asked for and can hand the same arguments on, with only the envelope
//! sender (`-f`) and the envelope id (`-V`) rewritten or added.
//!
//! Postfix parses with `getopt(argc, argv, "+A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx")`
//! (`strings /usr/sbin/sendmail` shows it): options are single letters, clustered or not, an
//! option's argument joined (`-fme`) or separate (`-f me`), and — the leading `+` — option parsing
//! stops at the first argument that is not an option, or after `--`. Everything after that is a
//! recipient, even if it starts with `-`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Short options that take an argument: Postfix's getopt string, plus msmtp's `-a account`.
const WITH_ARGUMENT: &[u8] = b"ABCFLNORVXbefhopqra";

/// What the caller wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Read a message from stdin and send it (`-bm`, the default): this is what we stamp.
    Send,
    /// Anything else (`-bp` mailq, `-bs` SMTP on stdin, `-bi`/`-I` newaliases, `-bv`, `-q…`, a
    /// malformed command line): handed to the real sendmail untouched. The text names the flag.
    Other(String),
}

/// Where the effective envelope sender (`-f`/`-r`, the last one given) sits in the arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderArg {
    /// Index of the argument holding the address.
    pub index: usize,
    /// The bytes in that argument before the address: `-f`, `-r`, `-if` (a cluster), or empty
    /// when the address is a separate argument.
    pub prefix: Vec<u8>,
    /// The address as given (possibly `<>`, empty, or in angle brackets).
    pub value: OsString,
}

/// A parsed sendmail command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The arguments as given, without the program name.
    pub args: Vec<OsString>,
    /// Send a message, or something else.
    pub mode: Mode,
    /// The envelope sender, if `-f` or `-r` was given.
    pub sender: Option<SenderArg>,
    /// The caller gave an envelope id (`-V`).
    pub envid_given: bool,
    /// A line holding only `.` ends the message (no `-i`, `-oi` or `-O IgnoreDots`).
    pub dot_ends: bool,
    /// `-t`: recipients come from the message's To/Cc/Bcc (the real sendmail extracts them and
    /// removes Bcc, because we hand `-t` on).
    pub extract_recipients: bool,
    /// Index of the first recipient argument (the rest of `args` are recipients).
    pub first_recipient: usize,
}

impl Invocation {
    /// Reads `args` (without the program name) the way Postfix's sendmail does.
    pub fn parse(args: Vec<OsString>) -> Invocation {
        let mut inv = Invocation {
            mode: Mode::Send,
            sender: None,
            envid_given: false,
            dot_ends: true,
            extract_recipients: false,
            first_recipient: args.len(),
            args: Vec::new(),
        };
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            let bytes = arg.as_bytes();
            if bytes == b"--" {
                i += 1;
                break;
            }
            // getopt: "-" alone and anything not starting with '-' end the options.
            if bytes.len() < 2 || bytes[0] != b'-' {
                break;
            }
            if bytes[1] == b'-' {
                // A long option (msmtp's `--read-envelope-from`, `--account=x`): not Postfix's,
                // passed on as it is.
                i += 1;
                continue;
            }
            i = inv.short_cluster(&args, i);
        }
        inv.first_recipient = i.min(args.len());
        inv.args = args;
        inv
    }

    /// Reads one cluster of short options at `args[i]`; returns the index of the next argument.
    fn short_cluster(&mut self, args: &[OsString], i: usize) -> usize {
        let bytes = args.get(i).map_or(&[][..], |a| a.as_bytes());
        for (j, &letter) in bytes.iter().enumerate().skip(1) {
            if !WITH_ARGUMENT.contains(&letter) {
                self.flag(letter);
                continue;
            }
            // The argument is the rest of this word, or else the next word.
            let rest = bytes.get(j + 1..).unwrap_or(&[]);
            let (value, index, prefix, next) = if rest.is_empty() {
                match args.get(i + 1) {
                    Some(next) => (next.as_bytes(), i + 1, Vec::new(), i + 2),
                    None => {
                        // getopt: "option requires an argument"; let the real sendmail say so.
                        self.mode = Mode::Other(format!("-{} without its argument", char::from(letter)));
                        return i + 1;
                    }
                }
            } else {
                (rest, i, bytes.get(..=j).unwrap_or(&[]).to_vec(), i + 1)
            };
            self.option(letter, value, index, prefix);
            return next;
        }
        i + 1
    }

    /// An option without an argument.
    fn flag(&mut self, letter: u8) {
        match letter {
            b'i' => self.dot_ends = false,
            b't' => self.extract_recipients = true,
            // Postfix: -I is newaliases.
            b'I' => self.set_other("-I (newaliases)"),
            // -G -U -c -m -n -v -x and anything unknown change nothing we care about.
            _ => {}
        }
    }

    /// An option with its argument.
    fn option(&mut self, letter: u8, value: &[u8], index: usize, prefix: Vec<u8>) {
        match letter {
            b'f' | b'r' => {
                self.sender = Some(SenderArg { index, prefix, value: OsString::from_vec(value.to_vec()) });
            }
            b'V' => self.envid_given = true,
            // sendmail 8 / Postfix: -oi, and -O IgnoreDots[=True].
            b'o' if value.first() == Some(&b'i') => self.dot_ends = false,
            b'O' if is_ignore_dots(value) => self.dot_ends = false,
            // -bm is sending (the default); -bp -bs -bi -bv -bd -bh -bl … are not.
            b'b' if value != b"m" => {
                let what = format!("-b{}", String::from_utf8_lossy(value));
                self.set_other(&what);
            }
            b'q' => {
                let what = format!("-q{}", String::from_utf8_lossy(value));
                self.set_other(&what);
            }
            // -B -F -L -N -R -h -o… -O… -p -e -X -C -A -a: passed on as given.
            _ => {}
        }
    }

    fn set_other(&mut self, what: &str) {
        // The first non-sending flag is the one named.
        if self.mode == Mode::Send {
            self.mode = Mode::Other(what.to_owned());
        }
    }

    /// The recipients given on the command line.
    pub fn recipients(&self) -> &[OsString] {
        self.args.get(self.first_recipient..).unwrap_or(&[])
    }

    /// The arguments to hand to the real sendmail: the original ones with the envelope sender
    /// replaced by `sender` (or `-f sender` put first when none was given) and `-V envid` put
    /// first. New options go first because options after the first recipient would be read as
    /// recipients.
    pub fn rewritten(&self, sender: Option<&str>, envid: Option<&str>) -> Vec<OsString> {
        let mut front: Vec<OsString> = Vec::new();
        let mut args = self.args.clone();
        if let Some(new) = sender {
            match &self.sender {
                Some(at) => {
                    let mut word = at.prefix.clone();
                    word.extend_from_slice(new.as_bytes());
                    if let Some(slot) = args.get_mut(at.index) {
                        *slot = OsString::from_vec(word);
                    }
                }
                None => front.extend([OsString::from("-f"), OsString::from(new)]),
            }
        }
        if let Some(envid) = envid {
            front.extend([OsString::from("-V"), OsString::from(envid)]);
        }
        front.extend(args);
        front
    }
}

/// `-O IgnoreDots`, `-O IgnoreDots=True` (sendmail 8's long form of `-oi`), any case.
fn is_ignore_dots(value: &[u8]) -> bool {
    let value = value.to_ascii_lowercase();
    value == b"ignoredots" || value == b"ignoredots=true"
}

/// The envelope sender as an address: surrounding blanks and one pair of angle brackets removed.
/// `None` when it is not UTF-8 (never tagged).
pub fn sender_address(value: &OsStr) -> Option<&str> {
    let text = std::str::from_utf8(value.as_bytes()).ok()?.trim();
    Some(text.strip_prefix('<').and_then(|s| s.strip_suffix('>')).map_or(text, str::trim))
}

#[cfg(test)]
mod tests;
