//! The command line: every flag and subcommand, with its help text (DESIGN §1).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use backscatter::day::Day;

/// Keeps forged bounces and auto-replies (backscatter) out of your mailboxes.
///
/// Sign what you send (`sendmail`), then treat any bounce or auto-reply whose returned original
/// carries no valid signature as backscatter (`scan`, `watch`, `classify`, `check`).
#[derive(Debug, Parser)]
#[command(name = "backscatter", version, propagate_version = true)]
pub struct Cli {
    /// Config file [default: $BACKSCATTER_CONFIG, $XDG_CONFIG_HOME/backscatter/config.toml,
    /// /etc/backscatter/config.toml — the first that exists]
    #[arg(short = 'c', long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Keyring file, overriding the config's `keyring`
    /// [default: $XDG_DATA_HOME/backscatter/keyring.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub keyring: Option<PathBuf>,

    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One-shot cleanup: classify every message in Maildirs and move backscatter aside
    Scan {
        /// Report what would move; move nothing
        #[arg(long)]
        dry_run: bool,
        /// One JSON object per message instead of a summary
        #[arg(long)]
        json: bool,
        /// Scan the mailboxes of this `[[imap]]` account (its `name`) instead of Maildirs
        #[arg(long, value_name = "ACCOUNT", conflicts_with = "paths")]
        imap: Option<String>,
        /// Maildirs to scan
        #[arg(required_unless_present = "imap", value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Run the daemon: watch every mailbox in the config (Maildir by inotify, IMAP by IDLE);
    /// SIGHUP reloads the config and the keyring
    Watch {
        /// Watch only this replica's share of the IMAP accounts: `I/N` (0 ≤ I < N); every
        /// account belongs to exactly one of the N replicas
        #[arg(long, value_name = "I/N")]
        shard: Option<Shard>,
    },
    /// Classify messages and print what they are; moves nothing
    Classify {
        /// One JSON object per message, one per line
        #[arg(long)]
        json: bool,
        /// Message files or directories (every file below; Maildir cur/ and new/); `-` is stdin
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Filter for Sieve/procmail/maildrop: exit 0 = backscatter, 1 = keep, 75 = undecided (keep)
    Check {
        /// The message; `-` or nothing reads stdin
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// The signing sendmail drop-in: stamps the message, then hands it to the real sendmail
    #[command(disable_help_flag = true)]
    Sendmail {
        /// sendmail flags and recipients, as Postfix's sendmail takes them
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// The MTA side: a milter (Postfix smtpd_milters/non_smtpd_milters, Sendmail) on `[milter]
    /// listen` that signs outbound mail and refuses backscatter at SMTP time
    Milter,
    /// Manage the keyring and use the carriers by hand
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Undo moves recorded in the journal
    Restore {
        /// Only moves at or after this time (YYYY-MM-DD or RFC 3339)
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Every recorded move
        #[arg(long)]
        all: bool,
        /// Journal entry ids to undo
        #[arg(value_name = "ID")]
        ids: Vec<String>,
    },
    /// What was moved, by kind, reason, day and mailbox
    Stats {
        /// Only moves at or after this time (YYYY-MM-DD or RFC 3339)
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Write a self-contained HTML page (charts, top reporting MTAs and targeted addresses)
        /// to FILE instead of printing the tables
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Validate the config, or print an annotated example
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check SPF by hand (RFC 7208, with the config's resolver; exit 0 = pass, 1 = any other
    /// result, 75 = temperror), or show the SPF cache
    Spf {
        /// The client IP address
        #[arg(value_name = "IP", required_unless_present = "cache")]
        ip: Option<std::net::IpAddr>,
        /// The MAIL FROM domain, or the whole address (`<>` for the null sender: HELO is checked)
        #[arg(value_name = "DOMAIN", required_unless_present = "cache")]
        domain: Option<String>,
        /// The HELO/EHLO name; checked first, and a HELO fail decides
        #[arg(long, value_name = "NAME")]
        helo: Option<String>,
        /// Show the SPF cache of the running `watch` (its last snapshot in state_dir/spf-cache.json)
        #[arg(long, conflicts_with_all = ["ip", "domain", "helo"])]
        cache: bool,
        /// Print a JSON object instead of a line
        #[arg(long)]
        json: bool,
    },
    /// Print the man page (roff) on stdout, or write one page per command into a directory
    Man {
        /// Write backscatter.1 and backscatter-COMMAND.1 for every command into DIR
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print a shell completion script on stdout
    Completions {
        /// The shell to complete for
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// "Today" for key and tag commands; tests and scripts pin it.
#[derive(Debug, Args)]
pub struct At {
    /// Act as if today were this UTC day (YYYY-MM-DD)
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub at: Option<Day>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a keyring with one fresh random key (refuses to overwrite)
    Init {
        /// Use the passphrase in this file (first line, at least 8 characters) instead of a
        /// random secret
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
        #[command(flatten)]
        at: At,
    },
    /// Add a new signing key and retire the current one (it still verifies for 7 days)
    Rotate {
        #[command(flatten)]
        at: At,
    },
    /// List keys: id, created, retired, state — never the secrets
    List {
        #[command(flatten)]
        at: At,
    },
    /// Delete keys retired more than 7 days ago
    Prune {
        #[command(flatten)]
        at: At,
    },
    /// Print config for another program that checks the same tags
    Export {
        /// Exim config lines that verify our BATV tags at SMTP time
        #[arg(long, required = true)]
        exim: bool,
    },
    /// Print ADDRESS with a BATV prvs= tag from the signing key (exactly as Exim's ${prvs})
    Tag {
        #[arg(value_name = "ADDRESS")]
        address: String,
        #[command(flatten)]
        at: At,
    },
    /// Check a prvs= tagged address: valid key=K, expired, forged, unknown-key or not-tagged
    Verify {
        #[arg(value_name = "TAGGED")]
        tagged: String,
        #[command(flatten)]
        at: At,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a config file and report every problem; exit 0 if it is good, 1 if not
    Check {
        /// The file to check [default: the config lookup order]
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Print the annotated example config (config/backscatter.toml)
    Describe,
}

/// `--shard I/N`: replica I of N.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// True if the account named `name` is this replica's: FNV-1a of the name, mod N — stable
    /// across replicas, restarts and versions.
    pub fn owns(&self, name: &str) -> bool {
        let hash =
            name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        hash % u64::from(self.count) == u64::from(self.index)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not I/N with 0 ≤ I < N (e.g. 0/3)");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (index.parse().map_err(|_| bad())?, count.parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

#[cfg(test)]
mod shard_tests {
    use super::Shard;

    #[test]
    fn every_account_belongs_to_exactly_one_shard() {
        let shards: Vec<Shard> = (0..3).map(|i| format!("{i}/3").parse().unwrap()).collect();
        for name in ["alice", "bob", "carol", "dave", "erin", "w"] {
            assert_eq!(shards.iter().filter(|s| s.owns(name)).count(), 1, "{name}");
        }
        for bad in ["3/3", "1/0", "a/2", "1", "-1/2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
