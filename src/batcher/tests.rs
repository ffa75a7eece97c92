//! Batching behaviour under tokio's paused clock: times are exact, not slept.

use super::*;
use crate::testing::{Behaviour, FakeModel};
use std::time::Duration;

fn start(model: Arc<FakeModel>, max_batch_size: usize, delay_ms: u64, capacity: usize) -> Batcher {
    start_at(
        model,
        max_batch_size,
        delay_ms,
        capacity,
        Placement::Threads(1),
    )
}

fn start_at(
    model: Arc<FakeModel>,
    max_batch_size: usize,
    delay_ms: u64,
    capacity: usize,
    placement: Placement,
) -> Batcher {
    let settings = BatchingConfig {
        max_batch_size: crate::config::BatchSize::Rows(max_batch_size),
        max_queue_delay: Duration::from_millis(delay_ms),
        queue_capacity: capacity,
        ..BatchingConfig::default()
    };
    let metrics = Metrics::new(prometheus::Registry::new()).unwrap();
    let labels = Labels {
        model: "fake".into(),
        version: "1".into(),
    };
    Batcher::start(model, &settings, max_batch_size, placement, metrics, labels)
}

/// `rows` rows whose values identify the request (`x0 = base + i`, `x1 = 1`).
fn rows(base: f32, rows: usize) -> Vec<Tensor> {
    let values: Vec<f32> = (0..rows).flat_map(|i| [base + i as f32, 1.0]).collect();
    vec![Tensor::from_f32(vec![rows, 2], &values).unwrap()]
}

fn answers(base: f32, rows: usize) -> Vec<f64> {
    (0..rows)
        .map(|i| f64::from(FakeModel::expected(base + i as f32, 1.0)))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn batch_closes_when_full_without_waiting() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let b = start(model.clone(), 4, 50, 16);
    let t0 = Instant::now();
    let replies: Vec<_> = (0..4)
        .map(|i| b.enqueue(rows(i as f32, 1), 1, None).unwrap())
        .collect();
    for r in replies {
        r.await.unwrap().unwrap();
    }
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(model.batches(), vec![4]);
}

#[tokio::test(start_paused = true)]
async fn batch_closes_at_max_queue_delay() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let b = start(model.clone(), 4, 50, 16);
    let t0 = Instant::now();
    let first = b.enqueue(rows(0.0, 2), 2, None).unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = b.enqueue(rows(5.0, 1), 1, None).unwrap();
    first.await.unwrap().unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::from_millis(50),
        "closed by the delay of the first request"
    );
    second.await.unwrap().unwrap();
    assert_eq!(model.batches(), vec![3]);
}

#[tokio::test(start_paused = true)]
async fn zero_delay_never_waits() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let b = start(model.clone(), 64, 0, 16);
    let t0 = Instant::now();
    b.submit(rows(1.0, 1), 1, None).await.unwrap();
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(model.batches(), vec![1]);
}

#[tokio::test(start_paused = true)]
async fn rows_go_back_to_their_request_in_order() {
    let (model, gate) = FakeModel::new(Behaviour::Answer).gated();
    let model = Arc::new(model);
    let b = start(model.clone(), 64, 0, 16);
    let blocker = b.enqueue(rows(100.0, 1), 1, None).unwrap();
    model.wait_entered(1).await;
    let sizes = [2usize, 1, 3];
    let bases = [10.0f32, 20.0, 30.0];
    let replies: Vec<_> = sizes
        .iter()
        .zip(bases)
        .map(|(&n, base)| b.enqueue(rows(base, n), n, None).unwrap())
        .collect();
    drop(gate); // every run proceeds from now on
    blocker.await.unwrap().unwrap();
    for ((reply, &n), base) in replies.into_iter().zip(&sizes).zip(bases) {
        let (out, _) = reply.await.unwrap().unwrap();
        assert_eq!(out[0].shape, vec![n, 1]);
        assert_eq!(out[0].to_f64_vec(), answers(base, n));
    }
    assert_eq!(
        model.batches(),
        vec![1, 6],
        "the three requests shared one run"
    );
}

#[tokio::test(start_paused = true)]
async fn expired_and_cancelled_requests_never_reach_the_model() {
    let (model, gate) = FakeModel::new(Behaviour::Answer).gated();
    let model = Arc::new(model);
    let b = start(model.clone(), 64, 0, 16);
    let blocker = b.enqueue(rows(0.0, 1), 1, None).unwrap();
    model.wait_entered(1).await;
    let cancelled = b.enqueue(rows(7.0, 1), 1, None).unwrap();
    drop(cancelled);
    let deadline = Instant::now() + Duration::from_millis(100);
    let expired = b.submit(rows(9.0, 1), 1, Some(deadline)).await;
    assert!(
        matches!(expired, Err(ApiError::DeadlineExceeded(_))),
        "{expired:?}"
    );
    drop(gate);
    blocker.await.unwrap().unwrap();
    let (after, _) = b.submit(rows(3.0, 1), 1, None).await.unwrap();
    assert_eq!(after[0].to_f64_vec(), answers(3.0, 1));
    assert_eq!(
        model.batches(),
        vec![1, 1],
        "only the blocker and the last request ran"
    );
}

#[tokio::test(start_paused = true)]
async fn full_queue_answers_503_then_recovers() {
    let (model, gate) = FakeModel::new(Behaviour::Answer).gated();
    let model = Arc::new(model);
    let b = start(model.clone(), 1, 0, 2);
    let blocker = b.enqueue(rows(0.0, 1), 1, None).unwrap();
    model.wait_entered(1).await;
    let queued: Vec<_> = (0..2)
        .map(|i| b.enqueue(rows(i as f32, 1), 1, None).unwrap())
        .collect();
    match b.enqueue(rows(9.0, 1), 1, None) {
        Err(ApiError::Unavailable {
            retry_after_secs,
            message,
        }) => {
            assert!(retry_after_secs >= 1);
            assert!(message.contains("queue is full"), "{message}");
        }
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    let text = b.metrics.render();
    assert!(
        text.contains(r#"inferd_rejected_requests_total{model="fake",reason="queue_full"} 1"#),
        "{text}"
    );
    drop(gate);
    blocker.await.unwrap().unwrap();
    for q in queued {
        q.await.unwrap().unwrap();
    }
    let (out, _) = b.submit(rows(4.0, 1), 1, None).await.unwrap();
    assert_eq!(out[0].to_f64_vec(), answers(4.0, 1));
}

/// Both placements: an inference thread and the runtime's batching task.
const PLACEMENTS: [Placement; 2] = [Placement::Threads(1), Placement::Runtime];

#[tokio::test(start_paused = true)]
async fn failing_and_panicking_models_answer_errors_and_keep_serving() {
    for placement in PLACEMENTS {
        for behaviour in [Behaviour::Fail, Behaviour::Panic] {
            let model = Arc::new(FakeModel::new(behaviour));
            let b = start_at(model.clone(), 8, 0, 4, placement);
            for _ in 0..2 {
                let r = b.submit(rows(1.0, 1), 1, None).await;
                assert!(
                    matches!(r, Err(ApiError::Internal(_))),
                    "{placement:?}: {r:?}"
                );
            }
            assert_eq!(
                model.calls(),
                2,
                "{placement:?}: survived the first failure"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_that_fails_the_model_fails_alone() {
    let (model, gate) = FakeModel::new(Behaviour::FailOnNegative).gated();
    let model = Arc::new(model);
    let b = start(model.clone(), 64, 0, 16);
    let blocker = b.enqueue(rows(0.0, 1), 1, None).unwrap();
    model.wait_entered(1).await;
    // These three wait together and form one batch, which fails on `bad`.
    let good = b.enqueue(rows(1.0, 2), 2, None).unwrap();
    let bad = b.enqueue(rows(-5.0, 1), 1, None).unwrap();
    let other = b.enqueue(rows(7.0, 1), 1, None).unwrap();
    drop(gate);
    blocker.await.unwrap().unwrap();
    let (out, _) = good.await.unwrap().unwrap();
    assert_eq!(out[0].to_f64_vec(), answers(1.0, 2));
    let r = bad.await.unwrap();
    assert!(
        matches!(&r, Err(ApiError::BadRequest(m)) if m.contains("no answer for this input: negative x0")),
        "{r:?}"
    );
    let (out, _) = other.await.unwrap().unwrap();
    assert_eq!(out[0].to_f64_vec(), answers(7.0, 1));
    assert_eq!(
        model.batches(),
        vec![1, 4, 2, 1, 1],
        "the failed batch ran again per request"
    );
}

#[tokio::test(start_paused = true)]
async fn rows_of_different_widths_are_never_stacked() {
    let (model, gate) = FakeModel::new(Behaviour::Answer).gated();
    let model = Arc::new(model);
    let b = start(model.clone(), 64, 0, 16);
    let blocker = b.enqueue(rows(0.0, 1), 1, None).unwrap();
    model.wait_entered(1).await;
    // A [1, 3] request between two [1, 2] ones: the batch must close before it.
    let wide = vec![Tensor::from_f32(vec![1, 3], &[1.0, 2.0, 3.0]).unwrap()];
    let a = b.enqueue(rows(1.0, 1), 1, None).unwrap();
    let w = b.enqueue(wide, 1, None).unwrap();
    let c = b.enqueue(rows(2.0, 1), 1, None).unwrap();
    drop(gate);
    blocker.await.unwrap().unwrap();
    a.await.unwrap().unwrap();
    let _ = w.await.unwrap();
    c.await.unwrap().unwrap();
    assert_eq!(model.batches(), vec![1, 1, 1, 1], "no batch mixed widths");
}

#[tokio::test(start_paused = true)]
async fn a_request_past_one_run_is_split_into_even_parts_in_order() {
    for placement in PLACEMENTS {
        let model = Arc::new(FakeModel::new(Behaviour::Answer));
        let b = start_at(model.clone(), 63, 0, 16, placement);
        let (out, _) = b.submit(rows(0.0, 64), 64, None).await.unwrap();
        assert_eq!(out[0].to_f64_vec(), answers(0.0, 64));
        assert_eq!(model.batches(), vec![32, 32], "{placement:?}: not 63 + 1");
        let (out, _) = b.submit(rows(7.0, 127), 127, None).await.unwrap();
        assert_eq!(out[0].to_f64_vec(), answers(7.0, 127));
        assert_eq!(model.batches()[2..], [43, 43, 41], "{placement:?}");
    }
}

// --- batches run on the runtime (Placement::Runtime) ---------------------------------
// A run holds the runtime's thread there, so these tests queue requests before they
// await instead of holding a run at a gate.

fn on_runtime(model: &Arc<FakeModel>, max_batch_size: usize) -> Batcher {
    start_at(model.clone(), max_batch_size, 0, 16, Placement::Runtime)
}

#[tokio::test(start_paused = true)]
async fn on_the_runtime_queued_requests_share_a_run_on_the_runtime_thread() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let b = on_runtime(&model, 64);
    let sizes = [2usize, 1, 3];
    let bases = [10.0f32, 20.0, 30.0];
    let replies: Vec<_> = sizes
        .iter()
        .zip(bases)
        .map(|(&n, base)| b.enqueue(rows(base, n), n, None).unwrap())
        .collect();
    for ((reply, &n), base) in replies.into_iter().zip(&sizes).zip(bases) {
        let (out, _) = reply.await.unwrap().unwrap();
        assert_eq!(out[0].to_f64_vec(), answers(base, n));
    }
    assert_eq!(model.batches(), vec![6], "one run for the three requests");
    let threads = model.run_threads.lock().unwrap().clone();
    assert_eq!(
        threads,
        vec![std::thread::current().id()],
        "run on the runtime's thread"
    );
}

#[tokio::test(start_paused = true)]
async fn on_threads_runs_leave_the_runtime_thread() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let b = start(model.clone(), 64, 0, 16);
    b.submit(rows(1.0, 1), 1, None).await.unwrap();
    let threads = model.run_threads.lock().unwrap().clone();
    assert_eq!(threads.len(), 1);
    assert_ne!(threads[0], std::thread::current().id());
}

#[tokio::test(start_paused = true)]
async fn on_the_runtime_a_batch_stops_at_max_batch_size_and_carries_the_rest() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let b = on_runtime(&model, 4);
    let replies: Vec<_> = (0..6)
        .map(|i| b.enqueue(rows(i as f32, 1), 1, None).unwrap())
        .collect();
    for (i, reply) in replies.into_iter().enumerate() {
        let (out, _) = reply.await.unwrap().unwrap();
        assert_eq!(out[0].to_f64_vec(), answers(i as f32, 1));
    }
    assert_eq!(model.batches(), vec![4, 2]);
}

#[tokio::test(start_paused = true)]
async fn on_the_runtime_expired_and_cancelled_requests_never_reach_the_model() {
    let model = Arc::new(FakeModel::new(Behaviour::Answer));
    let b = on_runtime(&model, 64);
    let cancelled = b.enqueue(rows(7.0, 1), 1, None).unwrap();
    drop(cancelled);
    let expired = b.enqueue(rows(9.0, 1), 1, Some(Instant::now())).unwrap();
    let kept = b.enqueue(rows(3.0, 1), 1, None).unwrap();
    let expired = expired.await.unwrap();
    assert!(
        matches!(expired, Err(ApiError::DeadlineExceeded(_))),
        "{expired:?}"
    );
    let (out, _) = kept.await.unwrap().unwrap();
    assert_eq!(out[0].to_f64_vec(), answers(3.0, 1));
    assert_eq!(model.batches(), vec![1], "only the kept request ran");
}

#[tokio::test(start_paused = true)]
async fn on_the_runtime_a_request_that_fails_the_model_fails_alone() {
    let model = Arc::new(FakeModel::new(Behaviour::FailOnNegative));
    let b = on_runtime(&model, 64);
    let good = b.enqueue(rows(1.0, 2), 2, None).unwrap();
    let bad = b.enqueue(rows(-5.0, 1), 1, None).unwrap();
    let r = bad.await.unwrap();
    assert!(
        matches!(&r, Err(ApiError::BadRequest(m)) if m.contains("negative x0")),
        "{r:?}"
    );
    let (out, _) = good.await.unwrap().unwrap();
    assert_eq!(out[0].to_f64_vec(), answers(1.0, 2));
    assert_eq!(
        model.batches(),
        vec![3, 2, 1],
        "the failed run ran again per request"
    );
}
