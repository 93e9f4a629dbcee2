//! The SPF record cache: every DNS answer mail-auth stores, kept until its TTL runs out, shared
//! by all checks of a process, plus the per-check view that counts void lookups (RFC 7208
//! §4.6.4), which mail-auth 0.13.3 does not.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::{RecordSet, ResolverCache, Txt, MX};
use serde::Serialize;

/// Entries kept per record type; past this, expired entries go, then everything (a burst of
/// distinct domains must not grow the daemon without bound).
const MAX_ENTRIES: usize = 10_000;
/// Longest time an answer is kept, whatever its TTL says.
const MAX_TTL: Duration = Duration::from_secs(24 * 3600);

/// A value that can be shown in the cache listing and may be empty (a void answer).
pub trait Record: Clone {
    /// The record type's name: `TXT`, `MX`, `A`, `AAAA`, `PTR`.
    const KIND: &'static str;
    /// One line for `backscatter spf --cache`.
    fn show(&self) -> String;
    /// An answer without records (RCODE 0, no answers): a void lookup.
    fn is_void(&self) -> bool;
}

impl Record for Txt {
    const KIND: &'static str = "TXT";
    fn show(&self) -> String {
        match self {
            Txt::Spf(spf) => format!("SPF record: {} terms{}", spf.directives.len(), redirect(spf)),
            Txt::Error(e) => format!("no SPF record ({e})"),
            _ => "other TXT record".to_owned(),
        }
    }
    fn is_void(&self) -> bool {
        false
    }
}

fn redirect(spf: &mail_auth::spf::Spf) -> &'static str {
    if spf.redirect.is_some() {
        ", redirect"
    } else {
        ""
    }
}

impl Record for RecordSet<MX> {
    const KIND: &'static str = "MX";
    fn show(&self) -> String {
        let mx: Vec<String> =
            self.rrset.iter().map(|mx| format!("{} {}", mx.preference, mx.exchanges.join(" "))).collect();
        mx.join(", ")
    }
    fn is_void(&self) -> bool {
        self.rrset.is_empty()
    }
}

fn join<T: Display>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl Record for RecordSet<Ipv4Addr> {
    const KIND: &'static str = "A";
    fn show(&self) -> String {
        join(&self.rrset)
    }
    fn is_void(&self) -> bool {
        self.rrset.is_empty()
    }
}

impl Record for RecordSet<Ipv6Addr> {
    const KIND: &'static str = "AAAA";
    fn show(&self) -> String {
        join(&self.rrset)
    }
    fn is_void(&self) -> bool {
        self.rrset.is_empty()
    }
}

impl Record for RecordSet<Box<str>> {
    const KIND: &'static str = "PTR";
    fn show(&self) -> String {
        join(&self.rrset)
    }
    fn is_void(&self) -> bool {
        self.rrset.is_empty()
    }
}

/// One record type's answers with their expiry.
pub struct Shelf<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: Hash + Eq + Display, V: Record> Shelf<K, V> {
    fn new() -> Self {
        Shelf { entries: Mutex::new(HashMap::new()) }
    }

    fn get<Q: Hash + Eq + ?Sized>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let mut entries = self.entries.lock().ok()?;
        match entries.get(name) {
            Some((value, until)) if *until > Instant::now() => Some(value.clone()),
            Some(_) => {
                entries.remove(name);
                None
            }
            None => None,
        }
    }

    fn insert(&self, key: K, value: V, until: Instant) {
        let now = Instant::now();
        let until = until.min(now + MAX_TTL);
        if until <= now {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, until)| *until > now);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, (value, until));
        }
    }

    fn list(&self, out: &mut Vec<Entry>) {
        let now = Instant::now();
        if let Ok(entries) = self.entries.lock() {
            for (key, (value, until)) in entries.iter().filter(|(_, (_, until))| *until > now) {
                let ttl = until.saturating_duration_since(now).as_secs();
                out.push(Entry { name: key.to_string(), kind: V::KIND.to_owned(), value: value.show(), ttl });
            }
        }
    }
}

/// One cached answer, as `backscatter spf --cache` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Entry {
    /// The name looked up (an IP for PTR).
    pub name: String,
    /// The record type.
    pub kind: String,
    /// What the answer says.
    pub value: String,
    /// Seconds left before it expires.
    pub ttl: u64,
}

/// Every record type's answers.
pub struct Cache {
    pub(super) txt: Shelf<Box<str>, Txt>,
    pub(super) mx: Shelf<Box<str>, RecordSet<MX>>,
    pub(super) a: Shelf<Box<str>, RecordSet<Ipv4Addr>>,
    pub(super) aaaa: Shelf<Box<str>, RecordSet<Ipv6Addr>>,
    pub(super) ptr: Shelf<IpAddr, RecordSet<Box<str>>>,
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Cache {
        Cache { txt: Shelf::new(), mx: Shelf::new(), a: Shelf::new(), aaaa: Shelf::new(), ptr: Shelf::new() }
    }

    /// Every live entry, sorted by name and type.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        self.txt.list(&mut out);
        self.mx.list(&mut out);
        self.a.list(&mut out);
        self.aaaa.list(&mut out);
        self.ptr.list(&mut out);
        out.sort_by(|a, b| (&a.name, &a.kind).cmp(&(&b.name, &b.kind)));
        out
    }
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

/// The void-lookup count of one `check_host()` evaluation.
///
/// mail-auth asks the cache before every lookup and stores every answer that had records; a
/// miss that is not followed by a store was a lookup that found nothing (NXDOMAIN or no
/// answers) — or a DNS error, which ends the evaluation as temperror anyway. Lookups run one
/// after another, so one "pending" flag is enough. Known gap: `exists:` looks up without
/// storing, so it is not counted.
///
/// Atomics and a lock rather than cells: the evaluation is a future that a multi-threaded
/// runtime may move between threads.
#[derive(Debug, Default)]
pub struct Tally {
    pending: std::sync::Mutex<Option<&'static str>>,
    voids: std::sync::atomic::AtomicU32,
}

impl Tally {
    fn miss(&self, kind: &'static str) {
        let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // `exists:` asks the A then the AAAA shelf for one name and stores nothing.
        let exists_pair = *pending == Some("A") && kind == "AAAA";
        if pending.is_some() && !exists_pair {
            self.void();
        }
        *pending = if exists_pair { None } else { Some(kind) };
    }

    fn void(&self) {
        self.voids.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The count once the evaluation has ended.
    pub fn finish(&self) -> u32 {
        let last = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take().is_some();
        self.voids.load(std::sync::atomic::Ordering::Relaxed).saturating_add(u32::from(last))
    }
}

/// A shelf seen by one evaluation: reads and stores go to the shared shelf; misses and empty
/// answers are counted in the tally.
pub struct Counted<'a, K, V> {
    shelf: &'a Shelf<K, V>,
    tally: &'a Tally,
}

impl<'a, K, V> Counted<'a, K, V> {
    /// `shelf`, counted in `tally`.
    pub fn new(shelf: &'a Shelf<K, V>, tally: &'a Tally) -> Self {
        Counted { shelf, tally }
    }
}

impl<K: Hash + Eq + Display, V: Record> ResolverCache<K, V> for Counted<'_, K, V> {
    fn get<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        match self.shelf.get(name) {
            Some(value) => {
                if value.is_void() {
                    self.tally.void();
                }
                Some(value)
            }
            None => {
                self.tally.miss(V::KIND);
                None
            }
        }
    }

    fn remove<Q>(&self, name: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.shelf.entries.lock().ok()?.remove(name).map(|(value, _)| value)
    }

    fn insert(&self, key: K, value: V, valid_until: Instant) {
        *self.tally.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        if value.is_void() {
            self.tally.void();
        }
        self.shelf.insert(key, value, valid_until);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn set(ips: &[Ipv4Addr]) -> RecordSet<Ipv4Addr> {
        RecordSet { rrset: Arc::from(ips), dnssec_status: mail_auth::DnssecStatus::Indeterminate }
    }

    #[test]
    fn misses_without_a_store_are_void_lookups() {
        let cache = Cache::new();
        let tally = Tally::default();
        let a = Counted::new(&cache.a, &tally);
        let later = Instant::now() + Duration::from_secs(60);
        // Found: stored, not void.
        assert_eq!(a.get("found.test."), None);
        a.insert("found.test.".into(), set(&[Ipv4Addr::new(192, 0, 2, 1)]), later);
        // Two lookups that found nothing (no store after the miss).
        assert_eq!(a.get("n1.test."), None);
        assert_eq!(a.get("n2.test."), None);
        // A cached answer is no lookup at all.
        assert!(a.get("found.test.").is_some());
        assert_eq!(tally.finish(), 2);
        // An empty answer is void even when it was stored.
        let tally = Tally::default();
        let a = Counted::new(&cache.a, &tally);
        assert_eq!(a.get("empty.test."), None);
        a.insert("empty.test.".into(), set(&[]), later);
        assert_eq!(tally.finish(), 1);
    }

    #[test]
    fn entries_expire_and_are_listed() {
        let cache = Cache::new();
        let tally = Tally::default();
        let a = Counted::new(&cache.a, &tally);
        a.insert("live.test.".into(), set(&[Ipv4Addr::new(192, 0, 2, 1)]), Instant::now() + Duration::from_secs(60));
        a.insert("dead.test.".into(), set(&[Ipv4Addr::new(192, 0, 2, 2)]), Instant::now());
        let entries = cache.entries();
        assert_eq!(entries.len(), 1);
        assert_eq!(
            (entries[0].name.as_str(), entries[0].kind.as_str(), entries[0].value.as_str()),
            ("live.test.", "A", "192.0.2.1")
        );
        assert!(entries[0].ttl > 50 && entries[0].ttl <= 60);
    }
}
