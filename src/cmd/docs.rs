//! `backscatter man [--dir DIR]` and `backscatter completions SHELL`: the man page and shell
//! completions, generated from the clap definitions in `cli.rs` so they never drift from `--help`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// What clap cannot know: where the files are, the environment, the exit codes (sysexits.h,
/// which filters and MTAs read) and the rest of the documentation. Roff, appended to the main
/// page after the generated sections.
const EXTRA: &str = r#".SH FILES
.TP
\fI/etc/backscatter/config.toml\fR
The system config (TOML); \fBbackscatter config describe\fR prints the annotated example.
.TP
\fI$XDG_CONFIG_HOME/backscatter/config.toml\fR
A user's config, looked up before the system one.
.TP
\fI$XDG_DATA_HOME/backscatter/keyring.toml\fR
A user's keyring when neither \fB\-\-keyring\fR nor the config's \fBkeyring\fR names one.
It must be mode 0600: a keyring others can read is refused.
.TP
\fIstate_dir/journal.jsonl\fR
Every move, one JSON object a line; what \fBrestore\fR undoes and \fBstats\fR counts.
.TP
\fIstate_dir/sent\-log/DAY.log\fR
With \fB[sign] sent_log\fR: one line per signed message (nonce, key, day, hashed Message\-ID
and recipients), kept 14 days; a valid carrier whose message never went to the failed
recipient is a replay.
.SH ENVIRONMENT
.TP
\fBBACKSCATTER_CONFIG\fR
The config file, when \fB\-c\fR is not given.
.TP
\fBRUST_LOG\fR
Log filter (for example \fBbackscatter=debug\fR), overriding \fB\-v\fR.
.SH EXIT STATUS
Codes follow sysexits.h, so an MTA or a filter can tell "try again" from "no".
.TP
\fB0\fR
Success; for \fBcheck\fR: the message is backscatter.
.TP
\fB1\fR
Failure, or for \fBcheck\fR: keep the message.
.TP
\fB75\fR
Temporary failure (EX_TEMPFAIL): the caller keeps the message and may try again;
for \fBcheck\fR: could not decide.
.TP
\fB78\fR
The config or the keyring is wrong (EX_CONFIG); the message names the file and the fix.
.SH SEE ALSO
\fBsendmail\fR(8), \fBpostconf\fR(5), \fBsystemd.exec\fR(5).
The README and \fIcontrib/\fR in the source tree (or \fI/usr/share/doc/backscatter\fR)
describe the setups: one Maildir, an IMAP account, a hosting operator with the milter,
the sendmail drop-in, and the rollout.
"#;

/// Prints the main page (`dir` = None), or writes `backscatter.1` and one
/// `backscatter-COMMAND.1` per command into `dir` (for packages).
pub fn man(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let main = main_page().context("rendering the man page")?;
    match dir {
        None => std::io::stdout().write_all(&main).context("writing the man page to stdout")?,
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let write = |name: &str, page: &[u8]| {
                let path = dir.join(name);
                std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))
            };
            write("backscatter.1", &main)?;
            let mut cmd = command();
            // build() names the subcommands `backscatter-scan`, … as their pages are called.
            cmd.build();
            let mut stack: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
            while let Some(sub) = stack.pop() {
                stack.extend(sub.get_subcommands().cloned());
                let man = clap_mangen::Man::new(sub).manual("backscatter manual");
                let mut page = Vec::new();
                man.render(&mut page).context("rendering a man page")?;
                write(&man.get_filename(), ascii(&String::from_utf8_lossy(&page)).as_bytes())?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut cmd = command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "backscatter", &mut out);
    std::io::stdout().write_all(&out).context("writing the completion script to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// The clap command, without the `help` subcommand (`help COMMAND` is `COMMAND --help`, and a
/// page of its own would only say so).
fn command() -> clap::Command {
    Cli::command().disable_help_subcommand(true)
}

/// The main page: clap_mangen's sections, then [`EXTRA`], then the version.
fn main_page() -> std::io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(command()).manual("backscatter manual");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.extend_from_slice(EXTRA.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(ascii(&String::from_utf8_lossy(&out)).into_bytes())
}

/// `text` with every non-ASCII character as a groff `\[uXXXX]` escape: man-db does not always
/// run preconv, and troff then warns about (and drops) the help texts' dashes.
fn ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out
}
