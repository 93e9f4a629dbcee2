//! The SPF check (RFC 7208 `check_host()`) through mail-auth and its DNS resolver: the cache, the
//! void-lookup limit, the allow-list, HELO checking, and the null sender through HELO (§2.4).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use mail_auth::hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{MessageAuthenticator, Parameters};

use super::cache::{Cache, Counted, Entry, Tally};
use super::facts::Facts;
use super::origin::Origin;
use super::{explain, Identity, Outcome, SpfResult};
use crate::config::{self, Cidr, Dns};

/// Why the checker could not be set up or its cache not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpfError {
    /// The resolver could not be built (unreadable /etc/resolv.conf…).
    #[error("cannot set up the DNS resolver for SPF: {0}")]
    Resolver(String),
    /// The cache snapshot could not be written or read.
    #[error("SPF cache snapshot {}: {source}", path.display())]
    Snapshot {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What one `check_host()` evaluation gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// The result, after the void-lookup limit.
    pub result: SpfResult,
    /// Void lookups made.
    pub voids: u32,
    /// The domain's `exp=` explanation, for a fail.
    pub explanation: Option<String>,
}

/// Checks SPF for many messages with one resolver and one cache. Build it inside a tokio
/// runtime (the resolver spawns its tasks there).
pub struct Checker {
    auth: MessageAuthenticator,
    cache: Cache,
    void_limit: u32,
    allow: Vec<Cidr>,
    helo: bool,
    skip_authenticated: bool,
}

impl Checker {
    /// A checker set up from `[spf]`.
    pub fn new(spf: &config::Spf) -> Result<Checker, SpfError> {
        let auth = match spf.dns {
            Dns::System => MessageAuthenticator::new_system_conf(),
            Dns::Server(server) => MessageAuthenticator::new(one_server(server), ResolverOpts::default()),
        }
        .map_err(|e| SpfError::Resolver(e.to_string()))?;
        Ok(Checker {
            auth,
            cache: Cache::new(),
            void_limit: spf.void_lookups,
            allow: spf.allow_ips.clone(),
            helo: spf.helo,
            skip_authenticated: spf.skip_authenticated,
        })
    }

    /// RFC 7208 §4 `check_host()` for `ip` and `identity`: the MAIL FROM `sender`'s domain, or
    /// the `helo` name. `receiver` is `%{r}`.
    pub async fn check_host(
        &self,
        ip: IpAddr,
        identity: Identity,
        helo: &str,
        sender: &str,
        receiver: &str,
    ) -> Evaluation {
        let params = match identity {
            Identity::MailFrom => SpfParameters::verify_mail_from(ip, helo, receiver, sender),
            Identity::Helo => SpfParameters::verify_ehlo(ip, helo, receiver),
        };
        let tally = Tally::default();
        let (txt, mx) = (Counted::new(&self.cache.txt, &tally), Counted::new(&self.cache.mx, &tally));
        let (a, aaaa) = (Counted::new(&self.cache.a, &tally), Counted::new(&self.cache.aaaa, &tally));
        let ptr = Counted::new(&self.cache.ptr, &tally);
        let params = Parameters::new(params)
            .with_txt_cache(&txt)
            .with_mx_cache(&mx)
            .with_ipv4_cache(&a)
            .with_ipv6_cache(&aaaa)
            .with_ptr_cache(&ptr);
        let output = self.auth.check_host(params).await;
        let voids = tally.finish();
        // RFC 7208 §4.6.4: past the limit the evaluation is a permerror. Stopping at the lookup
        // that exceeds it or finishing and then overriding give the same result, as any match
        // found later would have been after the stop.
        let result = if voids > self.void_limit { SpfResult::PermError } else { output.result().into() };
        let explanation = output.explanation().map(str::to_owned).filter(|_| result == SpfResult::Fail);
        Evaluation { result, voids, explanation }
    }

    /// The outcome for a delivered message's facts: skipped (no facts, authenticated,
    /// allow-listed), the border MTA's recorded result, or a check of HELO (when on, and always
    /// for a null sender, RFC 7208 §2.4) and MAIL FROM (§2.3: a HELO fail decides).
    pub async fn check(&self, facts: &Facts) -> Outcome {
        if let Some(missing) = &facts.missing {
            return Outcome::skipped(format!("not checked: {missing}"));
        }
        if facts.authenticated && self.skip_authenticated {
            return Outcome::skipped("not checked: authenticated submission");
        }
        let Some(ip) = facts.ip else {
            return Outcome::skipped("not checked: no client IP in the border Received: line");
        };
        if self.allow.iter().any(|net| net.contains(ip)) {
            return Outcome { ip: Some(ip), ..Outcome::skipped(format!("not checked: {ip} is allow-listed")) };
        }
        if let Some(recorded) = &facts.recorded {
            let why = format!("{} recorded by our border MTA in {}", recorded.result, recorded.header);
            return Outcome {
                result: Some(recorded.result),
                identity: recorded.identity,
                domain: None,
                ip: Some(ip),
                why,
            };
        }
        let helo = facts.helo.as_deref().filter(|h| is_domain(h));
        let receiver = facts.receiver.as_deref().unwrap_or("unknown");
        let sender = facts.mail_from.as_deref().filter(|s| !s.is_empty());
        let sender_domain = sender.and_then(|s| s.rsplit_once('@')).map(|(_, d)| d.to_ascii_lowercase());
        if let Some(helo) = helo.filter(|_| self.helo || sender_domain.is_none()) {
            let e = self.check_host(ip, Identity::Helo, helo, "", receiver).await;
            if e.result == SpfResult::Fail || sender_domain.is_none() {
                return self.outcome(e, Identity::Helo, ip, helo);
            }
        }
        match (sender, sender_domain) {
            (Some(sender), Some(domain)) => {
                let e = self.check_host(ip, Identity::MailFrom, helo.unwrap_or(receiver), sender, receiver).await;
                self.outcome(e, Identity::MailFrom, ip, &domain)
            }
            _ => Outcome {
                result: Some(SpfResult::None),
                ip: Some(ip),
                ..Outcome::skipped("null or unknown sender and no HELO domain to check")
            },
        }
    }

    /// The origin check of a bounce (DESIGN §6): our own domain's SPF against the first external
    /// hop of the returned original.
    pub async fn check_origin(&self, origin: &Origin) -> Outcome {
        let sender = format!("postmaster@{}", origin.domain);
        let e = self.check_host(origin.ip, Identity::MailFrom, &origin.domain, &sender, "unknown").await;
        let why = format!("original sent from {}", super::origin::why(e.result, origin.ip, &origin.domain));
        Outcome {
            result: Some(e.result),
            identity: Some(Identity::MailFrom),
            domain: Some(origin.domain.clone()),
            ip: Some(origin.ip),
            why,
        }
    }

    fn outcome(&self, e: Evaluation, identity: Identity, ip: IpAddr, domain: &str) -> Outcome {
        let mut why = explain(e.result, ip, domain);
        if e.voids > self.void_limit {
            why = format!("{domain}'s SPF made {} void lookups, more than {} (permerror)", e.voids, self.void_limit);
        }
        if let Some(exp) = e.explanation {
            why = format!("{why}: {exp}");
        }
        Outcome { result: Some(e.result), identity: Some(identity), domain: Some(domain.to_owned()), ip: Some(ip), why }
    }

    /// Every cached answer that has not expired.
    pub fn cache_entries(&self) -> Vec<Entry> {
        self.cache.entries()
    }

    /// Writes the cache listing to `path` as JSON (temp file + rename, so a reader never sees
    /// half of it); `backscatter spf --cache` shows it.
    pub fn write_snapshot(&self, path: &Path) -> Result<(), SpfError> {
        let text = serde_json::to_string_pretty(&self.cache_entries()).unwrap_or_else(|_| "[]".to_owned());
        let err = |source| SpfError::Snapshot { path: path.to_owned(), source };
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n").map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }
}

/// Reads a snapshot written by [`Checker::write_snapshot`].
pub fn read_snapshot(path: &Path) -> Result<Vec<Entry>, SpfError> {
    let err = |source| SpfError::Snapshot { path: path.to_owned(), source };
    let text = std::fs::read_to_string(path).map_err(err)?;
    serde_json::from_str(&text).map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// A resolver config asking only `server`, over UDP and TCP.
fn one_server(server: SocketAddr) -> ResolverConfig {
    let mut udp = ConnectionConfig::udp();
    udp.port = server.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = server.port();
    ResolverConfig::from_parts(None, vec![], vec![NameServerConfig::new(server.ip(), true, vec![udp, tcp])])
}

/// A name SPF can check: not an address literal, with a dot (RFC 7208 §4.3).
fn is_domain(name: &str) -> bool {
    !name.starts_with('[') && name.parse::<IpAddr>().is_err() && name.contains('.')
}
