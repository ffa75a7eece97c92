//! Cache primitives under tokio's paused clock.

use super::*;
use std::hash::Hasher;

fn cache(max_bytes: u64) -> ResultCache {
    ResultCache::new(
        max_bytes,
        Metrics::new(prometheus::Registry::new()).unwrap(),
    )
}

fn out(v: f32) -> Vec<Tensor> {
    vec![Tensor::from_f32(vec![1, 1], &[v]).unwrap()]
}

fn key(i: u32) -> Bytes {
    Bytes::from(format!("key-{i}").into_bytes())
}

fn value_of(entry: &Entry) -> f64 {
    entry.outputs[0].to_f64_vec()[0]
}

fn lead<S: BuildHasher + Clone + Send + Sync + 'static>(c: &ResultCache<S>, k: Bytes) -> Leader {
    match c.begin(k, true) {
        Lookup::Lead(l) => l,
        _ => panic!("expected a miss"),
    }
}

#[tokio::test(start_paused = true)]
async fn hit_after_miss() {
    let c = cache(1 << 20);
    let leader = lead(&c, key(1));
    c.finish(leader, out(3.5), Duration::from_secs(60), true);
    match c.begin(key(1), true) {
        Lookup::Hit(e) => assert_eq!(value_of(&e), 3.5),
        _ => panic!("expected a hit"),
    }
    assert!(
        matches!(c.begin(key(2), true), Lookup::Lead(_)),
        "other keys still miss"
    );
}

#[tokio::test(start_paused = true)]
async fn entries_expire_after_their_ttl() {
    let c = cache(1 << 20);
    c.finish(lead(&c, key(1)), out(1.0), Duration::from_secs(5), true);
    tokio::time::advance(Duration::from_millis(4_999)).await;
    assert!(
        matches!(c.begin(key(1), true), Lookup::Hit(_)),
        "fresh just before the TTL"
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(
        matches!(c.begin(key(1), true), Lookup::Lead(_)),
        "expired at the TTL"
    );
}

#[tokio::test(start_paused = true)]
async fn byte_bound_holds_under_many_distinct_inputs() {
    let max = 20_000;
    let c = cache(max);
    for i in 0..2_000 {
        c.finish(
            lead(&c, key(i)),
            out(i as f32),
            Duration::from_secs(60),
            true,
        );
    }
    let size = c.weighted_size();
    assert!(size <= max, "weighted size {size} exceeds the bound {max}");
    assert!(size > max / 2, "the cache is used, not emptied: {size}");
    let text = c.metrics.render();
    assert!(
        text.contains(r#"inferd_cache_evictions_total{cause="size"}"#),
        "{text}"
    );
}

/// Sends every key to the same hash bucket.
#[derive(Clone, Default)]
struct Colliding;

impl BuildHasher for Colliding {
    type Hasher = ConstantHasher;
    fn build_hasher(&self) -> ConstantHasher {
        ConstantHasher
    }
}

struct ConstantHasher;

impl Hasher for ConstantHasher {
    fn finish(&self) -> u64 {
        42
    }
    fn write(&mut self, _: &[u8]) {}
}

#[tokio::test(start_paused = true)]
async fn colliding_hashes_still_return_the_right_answer() {
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let c = ResultCache::with_hasher(1 << 20, metrics, Colliding);
    for i in 0..200 {
        c.finish(
            lead(&c, key(i)),
            out(i as f32),
            Duration::from_secs(60),
            true,
        );
    }
    for i in 0..200 {
        match c.begin(key(i), true) {
            Lookup::Hit(e) => assert_eq!(value_of(&e), f64::from(i as f32), "key {i}"),
            _ => panic!("key {i} should hit"),
        }
    }
    assert!(matches!(c.begin(key(999), true), Lookup::Lead(_)));
}

#[tokio::test(start_paused = true)]
async fn identical_misses_wait_for_the_leader() {
    let c = cache(1 << 20);
    let leader = lead(&c, key(1));
    let Lookup::Wait(receiver) = c.begin(key(1), true) else {
        panic!("a second identical miss should wait");
    };
    let waiter = tokio::spawn(wait(receiver));
    c.finish(leader, out(9.0), Duration::from_secs(60), true);
    let entry = waiter.await.unwrap().expect("the leader's answer");
    assert_eq!(value_of(&entry), 9.0);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_released_when_the_leader_gives_up() {
    let c = cache(1 << 20);
    let leader = lead(&c, key(1));
    let Lookup::Wait(receiver) = c.begin(key(1), true) else {
        panic!("should wait");
    };
    drop(leader);
    assert!(
        wait(receiver).await.is_none(),
        "the waiter computes on its own"
    );
    assert!(
        matches!(c.begin(key(1), true), Lookup::Lead(_)),
        "nothing stale is left"
    );
}

#[tokio::test(start_paused = true)]
async fn lookup_free_begin_ignores_stored_answers() {
    let c = cache(1 << 20);
    c.finish(lead(&c, key(1)), out(1.0), Duration::from_secs(60), true);
    let Lookup::Lead(refresh) = c.begin(key(1), false) else {
        panic!("no-cache always computes");
    };
    c.finish(refresh, out(2.0), Duration::from_secs(60), true);
    match c.begin(key(1), true) {
        Lookup::Hit(e) => assert_eq!(value_of(&e), 2.0, "the refreshed answer is stored"),
        _ => panic!("expected a hit"),
    }
}
