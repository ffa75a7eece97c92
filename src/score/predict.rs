//! Runs the model on a stream of record batches on every core. Each batch's rows
//! are cut into chunks of at most the model's `max_batch_size` (the batches the
//! server would run); prediction threads, alive for the whole run, take chunks one
//! at a time from a queue that runs on from one batch into the next, and a
//! collector waits for each batch's chunks, stacks its outputs back in row order
//! and hands the batches on in input order.
//!
//! The queue spans batches because a barrier at every batch's end (start threads,
//! wait for the last chunk, start again) left a core idle while the slowest thread
//! finished its last chunk and the reader and writer took their turns: the fewer
//! the batches, the faster the same file was scored (README "Batch scoring").

use crate::model::Model;
use crate::tensor::{RowOffsets, Tensor};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Batches queued for the prediction threads beyond the one they are on: enough
/// that a thread finishing one batch finds the next, few enough to bound memory.
const QUEUED_BATCHES: usize = 2;

/// One batch's rows and, as they come, the model's answers for its chunks.
struct Batch {
    input: Tensor,
    offsets: RowOffsets,
    chunk_rows: usize,
    chunks: usize,
    answers: Mutex<Answers>,
    /// Signalled when the last chunk is answered.
    answered: Condvar,
}

struct Answers {
    /// Each chunk's outputs, in row order.
    parts: Vec<Option<Result<Vec<Tensor>, String>>>,
    /// Chunks not answered yet.
    missing: usize,
}

/// The batches waiting for prediction threads.
struct Queue {
    /// Batches with chunks not yet taken, and the next chunk of the front one.
    batches: VecDeque<Arc<Batch>>,
    next_chunk: usize,
    /// No batch will be added.
    closed: bool,
    /// The run failed: threads take no more chunks.
    failed: bool,
}

/// What the dispatcher, the prediction threads and the collector share.
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a batch is queued, the front batch is fully taken, or the
    /// queue closes or fails.
    changed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `model` over every input of `inputs`, in chunks of at most `chunk_rows`
/// rows on `threads` threads, and calls `done` with each input's companion value
/// and the model's outputs for all its rows, in input order, on a thread of its
/// own (so writing one batch overlaps predicting the next).
///
/// Stops at the first error: a model error or `done`'s error comes first, then an
/// error item of `inputs`. At most [`QUEUED_BATCHES`] batches wait for the threads
/// and one waits for `done`, so memory stays bounded by the batch size.
pub(crate) fn predict_stream<T: Send>(
    model: &dyn Model,
    chunk_rows: usize,
    threads: usize,
    inputs: impl Iterator<Item = Result<(T, Tensor), String>>,
    done: impl FnMut(T, Vec<Tensor>) -> Result<(), String> + Send,
) -> Result<(), String> {
    let shared = Shared {
        queue: Mutex::new(Queue {
            batches: VecDeque::new(),
            next_chunk: 0,
            closed: false,
            failed: false,
        }),
        changed: Condvar::new(),
    };
    // Batches in input order, for the collector; its bound holds the dispatcher
    // back when writing falls behind.
    let (announce, announced) = sync_channel::<(T, Arc<Batch>)>(1);
    std::thread::scope(|scope| {
        let shared = &shared;
        for _ in 0..threads.max(1) {
            scope.spawn(move || predict_chunks(model, shared));
        }
        let collector = scope.spawn(move || {
            let collected = collect(model, announced, done);
            if collected.is_err() {
                lock(&shared.queue).failed = true;
                shared.changed.notify_all();
            }
            collected
        });
        let dispatched = dispatch(inputs, chunk_rows.max(1), shared, announce);
        lock(&shared.queue).closed = true;
        shared.changed.notify_all();
        let collected = collector
            .join()
            .unwrap_or_else(|_| Err("the writer panicked".into()));
        collected.and(dispatched)
    })
}

/// The outputs for `input` (all its rows), computed on up to `threads` threads in
/// chunks of at most `chunk_rows` rows: one batch through [`predict_stream`].
#[cfg(test)]
fn predict_rows(
    model: &dyn Model,
    input: &Tensor,
    chunk_rows: usize,
    threads: usize,
) -> Result<Vec<Tensor>, String> {
    let mut answer = Vec::new();
    predict_stream(
        model,
        chunk_rows,
        threads,
        std::iter::once(Ok(((), input.clone()))),
        |(), outputs| {
            answer = outputs;
            Ok(())
        },
    )?;
    Ok(answer)
}

/// Announces each input to the collector and queues it for the threads; returns an
/// error item of `inputs`, or Ok when the inputs end or the run failed elsewhere
/// (that error is the one to report).
fn dispatch<T>(
    inputs: impl Iterator<Item = Result<(T, Tensor), String>>,
    chunk_rows: usize,
    shared: &Shared,
    announce: std::sync::mpsc::SyncSender<(T, Arc<Batch>)>,
) -> Result<(), String> {
    for input in inputs {
        let (item, tensor) = input?;
        let chunks = tensor.rows().div_ceil(chunk_rows);
        let batch = Arc::new(Batch {
            offsets: tensor.row_offsets(),
            input: tensor,
            chunk_rows,
            chunks,
            answers: Mutex::new(Answers {
                parts: (0..chunks).map(|_| None).collect(),
                missing: chunks,
            }),
            answered: Condvar::new(),
        });
        if announce.send((item, batch.clone())).is_err() {
            return Ok(());
        }
        if chunks == 0 {
            continue;
        }
        let mut queue = lock(&shared.queue);
        while queue.batches.len() >= QUEUED_BATCHES && !queue.failed {
            queue = shared
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if queue.failed {
            return Ok(());
        }
        queue.batches.push_back(batch);
        shared.changed.notify_all();
    }
    Ok(())
}

/// A prediction thread: takes the next chunk of the front batch until the queue is
/// closed and empty, or the run failed.
fn predict_chunks(model: &dyn Model, shared: &Shared) {
    loop {
        let (batch, index) = {
            let mut queue = lock(&shared.queue);
            loop {
                if queue.failed {
                    return;
                }
                if let Some(front) = queue.batches.front().cloned() {
                    let index = queue.next_chunk;
                    queue.next_chunk += 1;
                    if queue.next_chunk == front.chunks {
                        queue.batches.pop_front();
                        queue.next_chunk = 0;
                        // Room for the dispatcher's next batch.
                        shared.changed.notify_all();
                    }
                    break (front, index);
                }
                if queue.closed {
                    return;
                }
                queue = shared
                    .changed
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let answer = predict_chunk(model, &batch, index);
        let mut answers = lock(&batch.answers);
        answers.parts[index] = Some(answer);
        answers.missing -= 1;
        if answers.missing == 0 {
            batch.answered.notify_one();
        }
    }
}

/// The model's outputs for chunk `index` of `batch`, checked to have its rows. A
/// panic in the model is an error of the run, not a lost chunk the collector would
/// wait for.
fn predict_chunk(model: &dyn Model, batch: &Batch, index: usize) -> Result<Vec<Tensor>, String> {
    let start = index * batch.chunk_rows;
    let end = (start + batch.chunk_rows).min(batch.input.rows());
    let chunk = batch.input.slice_rows_at(&batch.offsets, start, end);
    let out = catch_unwind(AssertUnwindSafe(|| model.predict(vec![chunk])))
        .map_err(|_| "the model panicked".to_string())?
        .map_err(|e| format!("the model failed: {e}"))?;
    if out.iter().any(|t| t.rows() != end - start) {
        return Err(format!(
            "the model answered another number of rows than the {} it was given",
            end - start
        ));
    }
    Ok(out)
}

/// Waits for each announced batch's answers, in order, and hands them to `done`.
fn collect<T>(
    model: &dyn Model,
    announced: std::sync::mpsc::Receiver<(T, Arc<Batch>)>,
    mut done: impl FnMut(T, Vec<Tensor>) -> Result<(), String>,
) -> Result<(), String> {
    for (item, batch) in announced {
        let parts = {
            let mut answers = lock(&batch.answers);
            while answers.missing > 0 {
                answers = batch
                    .answered
                    .wait(answers)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            std::mem::take(&mut answers.parts)
        };
        let parts = parts
            .into_iter()
            .map(|p| p.expect("every chunk answered"))
            .collect::<Result<Vec<_>, String>>()?;
        let outputs = if parts.is_empty() {
            no_rows(model)
        } else {
            stack(parts)
        };
        done(item, outputs)?;
    }
    Ok(())
}

/// The answer to a batch of no rows: each output with none.
fn no_rows(model: &dyn Model) -> Vec<Tensor> {
    model
        .signature()
        .outputs
        .iter()
        .map(|spec| {
            let mut shape: Vec<usize> = spec.shape.iter().map(|&d| d.max(0) as usize).collect();
            if let Some(rows) = shape.first_mut() {
                *rows = 0;
            }
            Tensor::new(spec.dtype, shape, bytes::Bytes::new()).expect("no elements, no bytes")
        })
        .collect()
}

/// Each output's chunks stacked in row order (at least one chunk).
fn stack(parts: Vec<Vec<Tensor>>) -> Vec<Tensor> {
    (0..parts[0].len())
        .map(|o| {
            let column: Vec<Tensor> = parts.iter().map(|p| p[o].clone()).collect();
            Tensor::concat_rows(&column)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Behaviour, FakeModel};

    fn rows(from: usize, to: usize) -> Tensor {
        let values: Vec<f32> = (from..to).flat_map(|i| [i as f32, 1.0]).collect();
        Tensor::from_f32(vec![to - from, 2], &values).unwrap()
    }

    #[test]
    fn answers_every_row_in_order_in_bounded_chunks() {
        // The fake answers y = x0 + 10 * x1 and records each batch's size.
        let model = FakeModel::new(Behaviour::Answer);
        let out = predict_rows(&model, &rows(0, 203), 16, 3).unwrap();
        let want: Vec<f64> = (0..203).map(|i| f64::from(i) + 10.0).collect();
        assert_eq!(out[0].to_f64_vec(), want);
        let sizes = model.batches();
        assert_eq!(sizes.iter().sum::<usize>(), 203);
        assert!(sizes.iter().all(|&s| s <= 16), "{sizes:?}");
    }

    #[test]
    fn batches_come_back_whole_and_in_input_order() {
        // Batches of uneven sizes, one with fewer rows than a chunk and one empty,
        // on more threads than chunks in some batches: each comes back with its own
        // rows' answers, in input order, chunks never crossing a batch.
        let model = FakeModel::new(Behaviour::Answer);
        let bounds = [(0, 37), (37, 40), (40, 40), (40, 141), (141, 300)];
        let inputs = bounds.iter().map(|&(a, b)| Ok(((a, b), rows(a, b))));
        let mut seen = Vec::new();
        predict_stream(&model, 8, 3, inputs, |(a, b), out| {
            let want: Vec<f64> = (a..b).map(|i| i as f64 + 10.0).collect();
            assert_eq!(out.len(), 1, "batch {a}..{b}: one output");
            assert_eq!(out[0].shape, [b - a, 1], "batch {a}..{b}");
            assert_eq!(out[0].to_f64_vec(), want, "batch {a}..{b}");
            seen.push((a, b));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, bounds);
        let sizes = model.batches();
        assert_eq!(sizes.iter().sum::<usize>(), 300);
        assert!(sizes.iter().all(|&s| s <= 8), "{sizes:?}");
    }

    #[test]
    fn a_failing_chunk_fails_the_run_with_the_models_reason() {
        let model = FakeModel::new(Behaviour::FailOnNegative);
        let values: Vec<f32> = (0..100)
            .flat_map(|i| [if i == 57 { -1.0 } else { i as f32 }, 1.0])
            .collect();
        let input = Tensor::from_f32(vec![100, 2], &values).unwrap();
        let err = predict_rows(&model, &input, 8, 2).unwrap_err();
        assert!(err.contains("the model failed: negative x0"), "{err}");
    }

    #[test]
    fn a_model_error_stops_the_run_before_later_batches_are_handed_on() {
        // The third batch holds a negative x0, which the fake refuses: the first
        // two are handed on, the run reports the model's reason, and no batch after
        // the failing one reaches `done`.
        let model = FakeModel::new(Behaviour::FailOnNegative);
        let bad = Tensor::from_f32(vec![2, 2], &[1.0, 1.0, -1.0, 1.0]).unwrap();
        let inputs: Vec<Result<(usize, Tensor), String>> = vec![
            Ok((0, rows(0, 20))),
            Ok((1, rows(20, 40))),
            Ok((2, bad)),
            Ok((3, rows(40, 60))),
        ];
        let mut seen = Vec::new();
        let err = predict_stream(&model, 4, 2, inputs.into_iter(), |i, _| {
            seen.push(i);
            Ok(())
        })
        .unwrap_err();
        assert!(err.contains("the model failed: negative x0"), "{err}");
        assert_eq!(seen, [0, 1]);
    }

    #[test]
    fn an_input_error_is_reported_after_the_batches_before_it() {
        let model = FakeModel::new(Behaviour::Answer);
        let inputs: Vec<Result<(usize, Tensor), String>> = vec![
            Ok((0, rows(0, 10))),
            Err("cannot read in.parquet: bad page".into()),
            Ok((2, rows(10, 20))),
        ];
        let mut seen = Vec::new();
        let err = predict_stream(&model, 4, 2, inputs.into_iter(), |i, _| {
            seen.push(i);
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err, "cannot read in.parquet: bad page");
        assert_eq!(seen, [0]);
    }

    #[test]
    fn an_error_of_done_stops_the_run_and_is_reported() {
        let model = FakeModel::new(Behaviour::Answer);
        let inputs = (0..50).map(|i| Ok((i, rows(i * 10, i * 10 + 10))));
        let mut calls = 0;
        let err = predict_stream(&model, 4, 2, inputs, |_, _| {
            calls += 1;
            if calls == 3 {
                return Err("cannot write out.parquet: disk full".into());
            }
            Ok(())
        })
        .unwrap_err();
        assert_eq!(err, "cannot write out.parquet: disk full");
        assert_eq!(calls, 3);
        // The run stopped early: the fake saw far fewer than the 500 rows.
        assert!(model.batches().iter().sum::<usize>() < 500);
    }

    #[test]
    fn a_panicking_model_fails_the_run() {
        let model = FakeModel::new(Behaviour::Panic);
        let err = predict_rows(&model, &rows(0, 10), 4, 2).unwrap_err();
        assert_eq!(err, "the model panicked");
    }
}
