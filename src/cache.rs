//! The result cache: moka, keyed by the exact input bytes, bounded by bytes and time,
//! with concurrent identical misses computed once.
//!
//! An entry is one "unit": a single row (the default, for models whose rows are
//! independent) or a whole request. The key is the full byte string of everything
//! that determines the answer (model, version, load generation, and every input's
//! name, datatype, shape and bytes), and moka compares keys with `Eq` after hashing,
//! so even a hash collision cannot return another input's answer. An entry holds all
//! of the model's outputs for its unit, so the outputs a client asks for only filter
//! the answer and never split the cache.
//!
//! Expiry is checked against tokio's clock on every lookup (so tests can use the
//! paused clock); moka's own time-to-live removes expired entries from memory.

mod key;

pub use key::{unit_key, KeyRows};

use crate::metrics::Metrics;
use crate::tensor::Tensor;
use bytes::Bytes;
use moka::notification::RemovalCause;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Where waiters get a unit's answer once its leader has computed it.
pub type Answer = watch::Receiver<Option<Arc<Entry>>>;

/// Units being computed right now, by key.
type Inflight = Arc<Mutex<HashMap<Bytes, Answer>>>;

/// The outputs of one unit (a row or a whole request).
#[derive(Debug)]
pub struct Entry {
    /// Every model output for this unit, in signature order.
    pub outputs: Vec<Tensor>,
    /// When this entry stops being served.
    expires_at: Instant,
}

/// What a lookup found.
pub enum Lookup {
    /// A fresh answer.
    Hit(Arc<Entry>),
    /// Another request is computing this unit now: wait for its answer.
    Wait(Answer),
    /// Nobody has it: compute it and hand the answer to `Leader::finish`.
    Lead(Leader),
}

/// The duty to compute one unit. Dropping it unfinished (error, cancelled client)
/// releases the waiters, who then compute the unit themselves.
pub struct Leader {
    key: Bytes,
    sender: Option<watch::Sender<Option<Arc<Entry>>>>,
    /// The map this unit is registered in; `None` for `no-cache` leaders, which
    /// nobody waits for.
    inflight: Option<Inflight>,
}

/// moka's time-to-live backstop: entries older than the longest TTL leave memory.
struct ExpireAt;

impl moka::Expiry<Bytes, Arc<Entry>> for ExpireAt {
    fn expire_after_create(
        &self,
        _: &Bytes,
        value: &Arc<Entry>,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(value.expires_at.saturating_duration_since(Instant::now()))
    }
}

/// Hashes the keys: aHash, keyed at random per process like std's SipHash (so keys
/// a client picks cannot be made to collide on purpose) at a fraction of SipHash's
/// cost on keys of hundreds of bytes (`scripts/instructions.sh`).
pub type RandomState = ahash::RandomState;

/// A bounded, exact result cache shared by every model.
pub struct ResultCache<S = RandomState> {
    entries: moka::sync::Cache<Bytes, Arc<Entry>, S>,
    /// Units being computed right now, for coalescing identical misses.
    inflight: Inflight,
    metrics: Metrics,
}

impl ResultCache<RandomState> {
    /// A cache of at most `max_bytes`, weighed by key and output sizes.
    pub fn new(max_bytes: u64, metrics: Metrics) -> ResultCache<RandomState> {
        ResultCache::with_hasher(max_bytes, metrics, RandomState::new())
    }
}

impl<S: BuildHasher + Clone + Send + Sync + 'static> ResultCache<S> {
    /// As `new`, with a chosen hasher (tests use one that collides on purpose).
    pub fn with_hasher(max_bytes: u64, metrics: Metrics, hasher: S) -> ResultCache<S> {
        let evictions = metrics.cache_evictions.clone();
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &Bytes, entry: &Arc<Entry>| weight(key, entry))
            .expire_after(ExpireAt)
            .eviction_listener(move |_, _, cause| {
                let cause = match cause {
                    RemovalCause::Size => "size",
                    RemovalCause::Expired => "expired",
                    RemovalCause::Replaced => "replaced",
                    RemovalCause::Explicit => "explicit",
                };
                evictions.with_label_values(&[cause]).inc();
            })
            .build_with_hasher(hasher);
        ResultCache {
            entries,
            inflight: Arc::default(),
            metrics,
        }
    }

    /// Looks up `key`: a fresh hit, someone else's computation to wait for, or ours
    /// to do. With `lookup = false` (`Cache-Control: no-cache`) the stored answer is
    /// ignored and the caller always leads, without joining other computations.
    pub fn begin(&self, key: Bytes, lookup: bool) -> Lookup {
        self.begin_at(key, lookup, Instant::now())
    }

    /// [`begin`](Self::begin) with the current time given, for a caller that has
    /// just read the clock (each read costs ~30 ns on the hit path).
    pub fn begin_at(&self, key: Bytes, lookup: bool, now: Instant) -> Lookup {
        if !lookup {
            return Lookup::Lead(Leader {
                key,
                sender: None,
                inflight: None,
            });
        }
        if let Some(entry) = self.entries.get(&key) {
            if entry.expires_at > now {
                return Lookup::Hit(entry);
            }
            self.entries.invalidate(&key);
        }
        let mut inflight = self.inflight.lock().expect("cache in-flight lock");
        if let Some(receiver) = inflight.get(&key) {
            return Lookup::Wait(receiver.clone());
        }
        let (sender, receiver) = watch::channel(None);
        inflight.insert(key.clone(), receiver);
        Lookup::Lead(Leader {
            key,
            sender: Some(sender),
            inflight: Some(self.inflight.clone()),
        })
    }

    /// Stores a computed unit (unless `store` is false) and wakes its waiters.
    pub fn finish(
        &self,
        mut leader: Leader,
        outputs: Vec<Tensor>,
        ttl: Duration,
        store: bool,
    ) -> Arc<Entry> {
        let entry = Arc::new(Entry {
            outputs,
            expires_at: Instant::now() + ttl,
        });
        if store {
            self.entries.insert(leader.key.clone(), entry.clone());
        }
        if let Some(sender) = leader.sender.take() {
            let _ = sender.send(Some(entry.clone()));
        }
        entry
    }

    /// Brings the entry and byte gauges up to date (called before rendering metrics).
    pub fn update_gauges(&self) {
        self.entries.run_pending_tasks();
        self.metrics
            .cache_entries
            .set(self.entries.entry_count() as i64);
        self.metrics
            .cache_bytes
            .set(self.entries.weighted_size() as i64);
    }

    /// Total weight of live entries, after pending maintenance.
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // Finished or not, this unit is no longer being computed by us.
        if let Some(Ok(mut inflight)) = self.inflight.as_ref().map(|m| m.lock()) {
            inflight.remove(&self.key);
        }
    }
}

/// Waits for another request's computation; `None` if it failed or was cancelled.
pub async fn wait(mut receiver: Answer) -> Option<Arc<Entry>> {
    let found = receiver.wait_for(Option::is_some).await.ok()?;
    found.clone()
}

/// Approximate memory held by one entry: key, output bytes and bookkeeping.
fn weight(key: &Bytes, entry: &Arc<Entry>) -> u32 {
    let outputs: usize = entry.outputs.iter().map(|t| t.data.len() + 64).sum();
    u32::try_from(key.len() + outputs + 128).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
