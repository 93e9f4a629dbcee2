//! `backscatter spf IP DOMAIN [--helo NAME]`: an SPF check by hand with the config's resolver;
//! `backscatter spf --cache`: the SPF cache snapshot `watch` keeps in `state_dir`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use backscatter::config::{self, Config};
use backscatter::spf::{self, facts::Facts, Checker, SpfResult};

use super::Globals;
use crate::exit;

/// The snapshot's file name in `state_dir`.
pub const SNAPSHOT: &str = "spf-cache.json";

/// Runs the command. A check exits 0 for `pass`, 75 for `temperror` (try again), 1 otherwise.
pub fn run(
    runtime: &tokio::runtime::Runtime,
    globals: &Globals,
    ip: Option<IpAddr>,
    domain: Option<String>,
    helo: Option<String>,
    cache: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let (_, config) = config::load_or_default(globals.config.as_deref())?;
    if cache {
        return show_cache(&config, json);
    }
    let (Some(ip), Some(domain)) = (ip, domain) else {
        anyhow::bail!("give an IP and a DOMAIN, or --cache");
    };
    // By hand, a HELO name given is a HELO name to check.
    let mut settings = config.spf.clone();
    settings.helo |= helo.is_some();
    // The allow-list is for mail; asked by hand, check anyway.
    settings.allow_ips.clear();
    let sender = match domain.trim_matches(['<', '>']) {
        "" => String::new(),
        d if d.contains('@') => d.to_owned(),
        d => format!("postmaster@{d}"),
    };
    let facts = Facts { ip: Some(ip), helo, mail_from: Some(sender), ..Facts::default() };
    let outcome = runtime.block_on(async {
        let checker = Checker::new(&settings)?;
        Ok::<_, spf::SpfError>(checker.check(&facts).await)
    })?;
    if json {
        println!("{}", outcome.to_json());
    } else {
        let result = outcome.result.map_or("skipped", SpfResult::word);
        let identity = outcome.identity.map(|i| format!(" ({})", i.word())).unwrap_or_default();
        println!("{result}{identity}: {}", outcome.why);
    }
    Ok(match outcome.result {
        Some(SpfResult::Pass) => ExitCode::SUCCESS,
        Some(SpfResult::TempError) => ExitCode::from(exit::TEMPFAIL),
        _ => ExitCode::FAILURE,
    })
}

/// Where the snapshot lives: `state_dir`, else the data dir.
pub fn snapshot_path(config: &Config) -> Option<PathBuf> {
    let dir = config.state_dir.clone().or_else(|| config::data_dir(|name| std::env::var_os(name)))?;
    Some(dir.join(SNAPSHOT))
}

fn show_cache(config: &Config, json: bool) -> anyhow::Result<ExitCode> {
    let path = snapshot_path(config).context("no state_dir configured and no $HOME")?;
    let entries = spf::read_snapshot(&path).context("`backscatter watch` writes it while it runs")?;
    if json {
        println!("{}", serde_json::to_string(&entries)?);
        return Ok(ExitCode::SUCCESS);
    }
    for e in &entries {
        println!("{:<40} {:<5} {:>6}s  {}", e.name, e.kind, e.ttl, e.value);
    }
    if entries.is_empty() {
        eprintln!("the SPF cache in {} is empty", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
