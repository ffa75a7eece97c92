//! Requests with more rows than one run takes: queued as several jobs of at
//! most `max_batch_size` rows, answered as one, rows in order. The parts are as
//! even as the rows allow (64 rows over runs of 63 go as 32 + 32, not 63 + 1):
//! a heavy model reads all its weights for every run, however few rows it holds.

use super::{Batcher, Computed, Timing};
use crate::error::ApiError;
use crate::tensor::{RowOffsets, Tensor};
use tokio::time::Instant;

impl Batcher {
    /// Queues `inputs` in parts of at most `batch_rows` rows and joins their outputs.
    pub(super) async fn submit_split(
        &self,
        inputs: &[Tensor],
        rows: usize,
        deadline: Option<Instant>,
    ) -> Result<Computed, ApiError> {
        // Every part is queued before any is awaited, so they can run side by
        // side; if one cannot be queued, the queued ones are dropped with
        // their receivers, and the batcher skips them.
        let mut replies = Vec::new();
        let offsets: Vec<RowOffsets> = inputs.iter().map(Tensor::row_offsets).collect();
        let part_rows = rows.div_ceil(rows.div_ceil(self.batch_rows));
        for start in (0..rows).step_by(part_rows) {
            let end = (start + part_rows).min(rows);
            let part = inputs
                .iter()
                .zip(&offsets)
                .map(|(t, at)| t.slice_rows_at(at, start, end))
                .collect();
            replies.push(self.enqueue(part, end - start, deadline)?);
        }
        let mut parts = Vec::with_capacity(replies.len());
        let mut timing = Timing::default();
        for reply in replies {
            let (outputs, spent) = self.wait(reply, deadline).await?;
            // Parts wait side by side but run one after another.
            timing = Timing {
                queue: timing.queue.max(spent.queue),
                inference: timing.inference + spent.inference,
            };
            parts.push(outputs);
        }
        let joined = (0..parts[0].len())
            .map(|i| {
                let column: Vec<Tensor> = parts.iter().map(|p| p[i].clone()).collect();
                Tensor::concat_rows(&column)
            })
            .collect();
        Ok((joined, timing))
    }
}
