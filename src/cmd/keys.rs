//! `backscatter keys …`: the keyring commands and the BATV tag by hand (DESIGN §3). The only
//! clock read for them is here: "today" is `--at` or the system clock's UTC day.

use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use backscatter::config;
use backscatter::day::Day;
use backscatter::keys::{self, Keyring, StoredKey};
use backscatter::sign::batv;

use super::Globals;
use crate::cli::KeysCommand;

/// Runs one `keys` subcommand. Keyring errors reach `main` with their type intact (anyhow keeps
/// it), so `exit::code_for` maps them to sysexits codes.
pub fn run(globals: &Globals, command: KeysCommand) -> anyhow::Result<ExitCode> {
    // `--keyring` wins, so with it the config is not even read: a broken config cannot lock
    // the keyring commands out.
    let configured = match globals.keyring {
        Some(_) => None,
        None => config::load_or_default(globals.config.as_deref())?.1.keyring,
    };
    let path = super::keyring_path(globals, configured.as_deref())?;
    match command {
        KeysCommand::Init { passphrase_file, at } => init(&path, passphrase_file.as_deref(), today(at.at)),
        KeysCommand::Rotate { at } => rotate(&path, today(at.at)),
        KeysCommand::List { at } => list(&path, today(at.at)),
        KeysCommand::Prune { at } => prune(&path, today(at.at)),
        KeysCommand::Export { exim: _ } => {
            print!("{}", Keyring::load(&path)?.exim_config(today(None)));
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Tag { address, at } => {
            let ring = Keyring::load(&path)?;
            println!("{}", batv::make(&address, &ring.require_signing_key()?.as_key(), today(at.at)));
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Verify { tagged, at } => {
            let ring = Keyring::load(&path)?;
            let today = today(at.at);
            let outcome = batv::verify(&tagged, &ring.verifying_keys(today), today);
            println!("{outcome}");
            Ok(if outcome.is_valid() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// `--at`, else the system clock's UTC day.
fn today(at: Option<Day>) -> Day {
    at.unwrap_or_else(|| {
        // A clock before 1970 is a broken clock; day 0 then makes every carrier look expired
        // rather than valid, which is the safe side.
        let seconds = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Day::from_unix_seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
    })
}

fn init(path: &Path, passphrase_file: Option<&Path>, today: Day) -> anyhow::Result<ExitCode> {
    let secret = match passphrase_file {
        Some(file) => {
            let passphrase = keys::read_passphrase(file)?;
            if passphrase.weak {
                eprintln!(
                    "backscatter: warning: the passphrase in {} is shorter than {} characters; a longer one, \
                     or a random key (leave out --passphrase-file), is stronger",
                    file.display(),
                    keys::ADVISED_PASSPHRASE_CHARS
                );
            }
            passphrase.secret
        }
        None => keys::random_secret()?,
    };
    let ring = Keyring::new(path, today, secret);
    ring.create()?;
    println!("created keyring {} with key 0 (signing from {today})", path.display());
    Ok(ExitCode::SUCCESS)
}

fn rotate(path: &Path, today: Day) -> anyhow::Result<ExitCode> {
    let mut ring = Keyring::load(path)?;
    let old = ring.signing_key().map(StoredKey::id);
    let new = ring.rotate(today, keys::random_secret()?)?;
    ring.save()?;
    println!("key {new} created {today}: it signs from now on");
    if let Some(old) = old {
        let until = ring.keys().iter().find(|k| k.id() == old).and_then(StoredKey::verifies_until);
        let until = until.map_or_else(String::new, |d| format!(" until {d}"));
        println!("key {old} retired {today}: it still verifies{until}");
    }
    eprintln!("backscatter: if Exim checks your tags, run `backscatter keys export --exim` again");
    Ok(ExitCode::SUCCESS)
}

fn prune(path: &Path, today: Day) -> anyhow::Result<ExitCode> {
    let mut ring = Keyring::load(path)?;
    let gone = ring.prune(today);
    if gone.is_empty() {
        println!("nothing to prune: no key was retired more than 7 days before {today}");
        return Ok(ExitCode::SUCCESS);
    }
    ring.save()?;
    for key in &gone {
        let retired = key.retired().map_or_else(String::new, |d| d.to_string());
        println!("removed key {} (created {}, retired {retired})", key.id(), key.created());
    }
    Ok(ExitCode::SUCCESS)
}

fn list(path: &Path, today: Day) -> anyhow::Result<ExitCode> {
    let ring = Keyring::load(path)?;
    println!("{:<3} {:<10}  {:<10}  state", "id", "created", "retired");
    for key in ring.keys() {
        let retired = key.retired().map_or_else(|| "-".to_string(), |d| d.to_string());
        println!("{:<3} {:<10}  {:<10}  {}", key.id(), key.created(), retired, ring.state(key, today));
    }
    Ok(ExitCode::SUCCESS)
}
