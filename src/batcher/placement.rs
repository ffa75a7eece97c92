//! Where a version's batches run: on inference threads of their own, or on the
//! batching task itself.
//!
//! Handing a batch to an inference thread and its answers back costs a wake-up and a
//! context switch each way. For a model whose whole batch runs in tens of
//! microseconds (a linear model, a small tree ensemble) that is more than the run,
//! and on one core the two threads take the core from each other thousands of times
//! a second. Such batches run on the async runtime, in the batching task, between
//! two reads of the queue: tokio's guidance is that a task may run 10 to 100 µs
//! between awaits without starving the others, so a run measured at load to take at
//! most [`RUNTIME_RUN_LIMIT`] at the batch size in force qualifies. Anything slower,
//! or not measured, runs on threads (README "Batching and overload").

use super::auto::BatchChoice;
use crate::model::Signature;
use std::time::Duration;

/// Longest measured run (at the batch size in force) that runs on the runtime.
pub const RUNTIME_RUN_LIMIT: Duration = Duration::from_micros(100);

/// Where a version's batches run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// In the batching task, on the async runtime, one batch at a time.
    Runtime,
    /// On this many dedicated inference threads.
    Threads(usize),
}

impl Placement {
    /// On the runtime when `"auto"` measured the size in force at most
    /// [`RUNTIME_RUN_LIMIT`] and every dimension but the batch is fixed (a run on
    /// longer sequences than the sweep's zeros could take far longer); otherwise on
    /// `workers` threads.
    pub fn choose(batch: &BatchChoice, signature: &Signature, workers: usize) -> Placement {
        let measured = batch
            .curve
            .iter()
            .find(|t| t.rows == batch.rows)
            .map(|t| t.run);
        let fixed_rows = signature
            .inputs
            .iter()
            .all(|t| t.shape.iter().skip(1).all(|&d| d > 0));
        match measured {
            Some(run) if run <= RUNTIME_RUN_LIMIT && fixed_rows => Placement::Runtime,
            _ => Placement::Threads(workers.max(1)),
        }
    }

    /// How the placement reads in the load's log line.
    pub fn describe(&self) -> String {
        match self {
            Placement::Runtime => "runtime".into(),
            Placement::Threads(1) => "1 inference thread".into(),
            Placement::Threads(n) => format!("{n} inference threads"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batcher::auto::Timing;
    use crate::model::TensorSpec;
    use crate::tensor::DataType;

    fn signature(input_shape: Vec<i64>) -> Signature {
        let spec = |name: &str, shape: Vec<i64>| TensorSpec {
            name: name.into(),
            dtype: DataType::F32,
            shape,
        };
        Signature {
            inputs: vec![spec("x", input_shape)],
            outputs: vec![spec("y", vec![-1, 1])],
        }
    }

    fn timed(rows: usize, curve: &[(usize, u64)]) -> BatchChoice {
        BatchChoice {
            rows,
            curve: curve
                .iter()
                .map(|&(rows, us)| Timing {
                    rows,
                    run: Duration::from_micros(us),
                })
                .collect(),
            limit: None,
        }
    }

    #[test]
    fn a_short_measured_run_goes_on_the_runtime() {
        let batch = timed(64, &[(32, 30), (64, 100), (128, 210)]);
        let placement = Placement::choose(&batch, &signature(vec![-1, 4]), 2);
        assert_eq!(placement, Placement::Runtime);
    }

    #[test]
    fn a_run_over_the_limit_at_the_size_in_force_goes_on_threads() {
        // Fast at 32 rows, but 64 is the size in force.
        let batch = timed(64, &[(32, 50), (64, 101)]);
        let placement = Placement::choose(&batch, &signature(vec![-1, 4]), 2);
        assert_eq!(placement, Placement::Threads(2));
    }

    #[test]
    fn an_unmeasured_size_goes_on_threads() {
        let configured = timed(64, &[]);
        let placement = Placement::choose(&configured, &signature(vec![-1, 4]), 0);
        assert_eq!(placement, Placement::Threads(1), "at least one thread");
    }

    #[test]
    fn a_dynamic_dimension_past_the_batch_goes_on_threads() {
        let batch = timed(64, &[(64, 10)]);
        let placement = Placement::choose(&batch, &signature(vec![-1, -1]), 3);
        assert_eq!(placement, Placement::Threads(3));
    }
}
