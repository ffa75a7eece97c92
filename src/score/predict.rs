//! Runs the model on one record batch's rows on every core: the rows are cut into
//! chunks of at most the model's `max_batch_size` (the batches the server would
//! run), scoped threads take the chunks one at a time, and each output is stacked
//! back in row order.

use crate::model::Model;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One thread's answers: (chunk index, the model's outputs for that chunk).
type Numbered = Vec<(usize, Vec<Tensor>)>;

/// The model's outputs for `input` (all its rows), computed on up to `threads`
/// threads in chunks of at most `chunk_rows` rows.
pub(crate) fn predict_rows(
    model: &dyn Model,
    input: &Tensor,
    chunk_rows: usize,
    threads: usize,
) -> Result<Vec<Tensor>, String> {
    let rows = input.rows();
    let chunk_rows = chunk_rows.max(1);
    let chunks: Vec<(usize, usize)> = (0..rows)
        .step_by(chunk_rows)
        .map(|start| (start, (start + chunk_rows).min(rows)))
        .collect();
    if chunks.is_empty() {
        return Ok(Vec::new());
    }
    // Each thread takes the next chunk as it finishes one, rather than a fixed
    // share: the reader and writer threads take the cores now and then, and a
    // fixed share would leave one thread waiting for the other at every batch.
    let next = AtomicUsize::new(0);
    let offsets = input.row_offsets();
    let run_chunk = |(start, end): (usize, usize)| -> Result<Vec<Tensor>, String> {
        let out = model
            .predict(vec![input.slice_rows_at(&offsets, start, end)])
            .map_err(|e| format!("the model failed: {e}"))?;
        if out.iter().any(|t| t.rows() != end - start) {
            return Err(format!(
                "the model answered another number of rows than the {} it was given",
                end - start
            ));
        }
        Ok(out)
    };
    let answers: Vec<Result<Numbered, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.clamp(1, chunks.len()))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&chunk) = chunks.get(i) else {
                            return Ok(mine);
                        };
                        match run_chunk(chunk) {
                            Ok(out) => mine.push((i, out)),
                            Err(e) => {
                                // No thread takes another chunk: the run has failed.
                                next.store(chunks.len(), Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the model panicked".into()))
            })
            .collect()
    });
    let mut parts: Vec<Option<Vec<Tensor>>> = vec![None; chunks.len()];
    for answer in answers {
        for (i, out) in answer? {
            parts[i] = Some(out);
        }
    }
    // Every chunk was taken by a thread that returned Ok, so every slot is set.
    let parts: Vec<Vec<Tensor>> = parts
        .into_iter()
        .map(|p| p.expect("every chunk answered"))
        .collect();
    let outputs = model.signature().outputs.len();
    Ok((0..outputs)
        .map(|o| {
            let column: Vec<Tensor> = parts.iter().map(|p| p[o].clone()).collect();
            Tensor::concat_rows(&column)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Behaviour, FakeModel};

    #[test]
    fn answers_every_row_in_order_in_bounded_chunks() {
        // The fake answers y = x0 + 10 * x1 and records each batch's size.
        let model = FakeModel::new(Behaviour::Answer);
        let values: Vec<f32> = (0..203).flat_map(|i| [i as f32, 1.0]).collect();
        let input = Tensor::from_f32(vec![203, 2], &values).unwrap();
        let out = predict_rows(&model, &input, 16, 3).unwrap();
        let want: Vec<f64> = (0..203).map(|i| f64::from(i) + 10.0).collect();
        assert_eq!(out[0].to_f64_vec(), want);
        let sizes = model.batches();
        assert_eq!(sizes.iter().sum::<usize>(), 203);
        assert!(sizes.iter().all(|&s| s <= 16), "{sizes:?}");
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
}
