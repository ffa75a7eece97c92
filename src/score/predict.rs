//! Runs the model on one record batch's rows on every core: the rows are cut into
//! chunks of at most the model's `max_batch_size` (the batches the server would
//! run), the chunks are shared out among scoped threads, and each output is stacked
//! back in row order.

use crate::model::Model;
use crate::tensor::Tensor;

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
    // Contiguous runs of chunks per thread, so each thread's answers are in order.
    let per_thread = chunks.len().div_ceil(threads.max(1));
    let answers: Vec<Result<Vec<Vec<Tensor>>, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .chunks(per_thread)
            .map(|run| {
                scope.spawn(move || {
                    run.iter()
                        .map(|&(start, end)| {
                            let out = model
                                .predict(vec![input.slice_rows(start, end)])
                                .map_err(|e| format!("the model failed: {e}"))?;
                            if out.iter().any(|t| t.rows() != end - start) {
                                return Err(format!(
                                    "the model answered another number of rows than the {} it was given",
                                    end - start
                                ));
                            }
                            Ok(out)
                        })
                        .collect()
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
    let mut parts = Vec::with_capacity(chunks.len());
    for answer in answers {
        parts.extend(answer?);
    }
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
}
