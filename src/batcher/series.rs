//! The metric series one batcher records into, found once when it starts: finding a
//! series by its label values hashes them under a lock, and the queue's series are
//! touched three times per request.

use super::Labels;
use crate::metrics::Metrics;
use prometheus::{Histogram, IntCounter, IntGauge};

/// One model version's queue and inference series.
pub(super) struct Series {
    /// `inferd_queue_depth{model}`.
    pub(super) queue_depth: IntGauge,
    /// `inferd_queue_duration_seconds{model}`.
    pub(super) queue_duration: Histogram,
    /// `inferd_batch_size{model}`.
    pub(super) batch_size: Histogram,
    /// `inferd_inference_duration_seconds{model,version}`.
    pub(super) inference_duration: Histogram,
    /// `inferd_inference_rows_total{model,version}`.
    pub(super) inference_rows: IntCounter,
}

impl Series {
    pub(super) fn new(metrics: &Metrics, labels: &Labels) -> Series {
        let model = [labels.model.as_str()];
        let version = [labels.model.as_str(), labels.version.as_str()];
        Series {
            queue_depth: metrics.queue_depth.with_label_values(&model),
            queue_duration: metrics.queue_duration.with_label_values(&model),
            batch_size: metrics.batch_size.with_label_values(&model),
            inference_duration: metrics.inference_duration.with_label_values(&version),
            inference_rows: metrics.inference_rows.with_label_values(&version),
        }
    }
}
