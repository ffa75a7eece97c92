//! `batching.max_batch_size = "auto"`: the batch size is measured, not guessed.
//!
//! At each load the model runs on batches of 1, 2, 4, ... rows and the fastest run
//! of each size is kept (the fastest, because on a shared machine every slower run
//! is the same work plus someone else's). The choice is the smallest size whose rows
//! per second come within `GOOD_ENOUGH` (0.95) of the best size's, among the sizes whose
//! run fits `batching.max_batch_latency`: past the knee of the curve a bigger batch
//! buys little throughput and costs every request in it latency. This is what
//! Triton's Model Analyzer does offline, done at every load on the serving CPU.
//!
//! Neither a sweep nor a configured number goes past the engine's run limit
//! ([`Model::max_run_rows`]): tract's cost per row jumps there, and the limit is
//! rarely a power of two, so the sweep tries it as a size of its own.

use crate::config::{BatchSize, BatchingConfig};
use crate::model::Model;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Batch sizes tried, in order; the sweep stops at the first one over the budget.
const SIZES: [usize; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
const LARGEST: usize = SIZES[SIZES.len() - 1];
/// Each size runs at least this many times (after one untimed run)...
const MIN_RUNS: u32 = 3;
/// ...and then until this much time went by at that size, or [`MAX_RUNS`].
const TIME_PER_SIZE: Duration = Duration::from_millis(20);
const MAX_RUNS: u32 = 20;
/// The whole sweep stops trying bigger sizes after this long, so a slow model
/// cannot hold its load for long.
const SWEEP_BUDGET: Duration = Duration::from_secs(2);
/// One sweep at a time in the process: models load side by side at start-up, and
/// two sweeps on the same cores would time each other.
static ONE_SWEEP: Mutex<()> = Mutex::new(());
/// `"auto"` where the model is not timed (models registered in memory by tests).
pub const UNTIMED_ROWS: usize = 64;
/// The smallest size within this fraction of the best rows per second wins.
const GOOD_ENOUGH: f64 = 0.95;

/// The batch size in force for one model version, and how it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchChoice {
    /// Most rows per model run.
    pub rows: usize,
    /// The sweep behind an `"auto"` choice, smallest size first; empty when the
    /// size was configured as a number or the model is not batched.
    pub curve: Vec<Timing>,
    /// The engine's run limit when it lowered a configured size or ended the sweep.
    pub limit: Option<usize>,
}

/// The fastest run of one batch size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// Rows in the batch.
    pub rows: usize,
    /// Fastest of its timed runs.
    pub run: Duration,
}

impl Timing {
    /// Rows per second at this size.
    pub fn rows_per_second(&self) -> f64 {
        self.rows as f64 / self.run.as_secs_f64().max(1e-9)
    }
}

impl BatchChoice {
    /// The configured size, or the measured one for `"auto"` on a batched model
    /// (one whose rows are independent: others run one request at a time anyway).
    /// Runs the model, so call it off the async runtime.
    pub fn resolve(model: &dyn Model, settings: &BatchingConfig) -> Result<BatchChoice, String> {
        let batched = model.signature().is_batched();
        let limit = model.max_run_rows().filter(|_| batched);
        match settings.max_batch_size {
            BatchSize::Rows(rows) => Ok(BatchChoice {
                rows: limit.map_or(rows, |l| rows.min(l)),
                curve: Vec::new(),
                limit: limit.filter(|&l| rows > l),
            }),
            BatchSize::Auto if !batched => Ok(BatchChoice {
                rows: 1,
                curve: Vec::new(),
                limit: None,
            }),
            BatchSize::Auto => {
                let curve = sweep(model, &sizes(limit), settings.max_batch_latency)?;
                Ok(BatchChoice {
                    rows: pick(&curve, settings.max_batch_latency),
                    // Reported only where the sweep got as far as the limit.
                    limit: limit.filter(|&l| curve.iter().any(|t| t.rows == l)),
                    curve,
                })
            }
        }
    }

    /// The size without running the model: the configured number, or
    /// [`UNTIMED_ROWS`] for `"auto"`, either within the engine's run limit.
    pub fn untimed(model: &dyn Model, settings: &BatchingConfig) -> BatchChoice {
        let rows = match settings.max_batch_size {
            BatchSize::Rows(rows) => rows,
            BatchSize::Auto => UNTIMED_ROWS,
        };
        let limit = model
            .max_run_rows()
            .filter(|&l| l < rows && model.signature().is_batched());
        BatchChoice {
            rows: limit.unwrap_or(rows),
            curve: Vec::new(),
            limit,
        }
    }

    /// The curve as one log field: `rows:run_ms` pairs.
    pub fn curve_text(&self) -> String {
        let pairs: Vec<String> = self
            .curve
            .iter()
            .map(|t| format!("{}:{:.3}ms", t.rows, t.run.as_secs_f64() * 1e3))
            .collect();
        pairs.join(" ")
    }
}

/// The sizes of [`SIZES`] below the engine's run limit, then the limit itself.
fn sizes(limit: Option<usize>) -> Vec<usize> {
    match limit {
        Some(limit) if limit < LARGEST => SIZES
            .into_iter()
            .filter(|&s| s < limit)
            .chain([limit])
            .collect(),
        _ => SIZES.to_vec(),
    }
}

/// Times each size in `sizes` until one run exceeds `budget` or the sweep its own.
fn sweep(model: &dyn Model, sizes: &[usize], budget: Duration) -> Result<Vec<Timing>, String> {
    let _alone = ONE_SWEEP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let started = Instant::now();
    let mut curve = Vec::new();
    for &rows in sizes {
        let inputs = model.signature().zeros(rows)?;
        let run = || {
            model
                .predict(inputs.clone())
                .map_err(|e| format!("timing a batch of {rows} rows failed: {e}"))
        };
        // The first run at a new size may build a plan for it.
        run()?;
        let (mut fastest, mut runs) = (Duration::MAX, 0);
        let timing_started = Instant::now();
        while runs < MIN_RUNS || (timing_started.elapsed() < TIME_PER_SIZE && runs < MAX_RUNS) {
            let at = Instant::now();
            run()?;
            fastest = fastest.min(at.elapsed());
            runs += 1;
        }
        curve.push(Timing { rows, run: fastest });
        if fastest > budget || started.elapsed() > SWEEP_BUDGET {
            break;
        }
    }
    Ok(curve)
}

/// The smallest size within [`GOOD_ENOUGH`] of the best rows per second among those
/// whose run fits `budget`; 1 when none does (each request then runs as it comes).
fn pick(curve: &[Timing], budget: Duration) -> usize {
    let fits = || curve.iter().filter(|t| t.run <= budget);
    let best = fits().map(Timing::rows_per_second).fold(0.0, f64::max);
    fits()
        .find(|t| t.rows_per_second() >= GOOD_ENOUGH * best)
        .map_or(1, |t| t.rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Behaviour, FakeModel};

    fn timing(rows: usize, micros: u64) -> Timing {
        Timing {
            rows,
            run: Duration::from_micros(micros),
        }
    }

    #[test]
    fn the_smallest_size_near_the_best_throughput_within_the_budget_wins() {
        // rows/s: 10k, 18k, 32k, 39k, 40k, then 16 rows over a 500 µs budget.
        let curve = [
            timing(1, 100),
            timing(2, 111),
            timing(4, 125),
            timing(8, 205),
            timing(16, 400),
            timing(32, 900),
        ];
        assert_eq!(pick(&curve, Duration::from_micros(500)), 8);
        // With a budget of 200 µs, 8 rows no longer fit: 4 is the best left.
        assert_eq!(pick(&curve, Duration::from_micros(200)), 4);
        // The fastest size is taken when nothing else comes close.
        let steep = [timing(1, 100), timing(2, 100), timing(4, 100)];
        assert_eq!(pick(&steep, Duration::from_millis(1)), 4);
    }

    #[test]
    fn a_model_slower_than_the_budget_for_one_row_runs_one_row_at_a_time() {
        assert_eq!(pick(&[timing(1, 20_000)], Duration::from_millis(10)), 1);
        assert_eq!(pick(&[], Duration::from_millis(10)), 1);
    }

    #[test]
    fn the_sweep_times_growing_batches_of_zeros_and_stops_past_the_budget() {
        // The fake sleeps 1 ms per run of any size, so the largest size tried wins,
        // and a 0.9 ms budget ends the sweep at the first size (every run is over it).
        let model = FakeModel::new(Behaviour::SleepMs(1));
        let settings = BatchingConfig {
            max_batch_size: BatchSize::Auto,
            max_batch_latency: Duration::from_micros(900),
            ..BatchingConfig::default()
        };
        let choice = BatchChoice::resolve(&model, &settings).unwrap();
        assert_eq!(choice.curve.len(), 1, "{:?}", choice.curve);
        assert_eq!(choice.rows, 1);
        let batches = model.batches();
        assert!(batches.iter().all(|&b| b == 1), "{batches:?}");
        assert!(batches.len() as u32 > MIN_RUNS, "{batches:?}");

        let model = FakeModel::new(Behaviour::SleepMs(1));
        let settings = BatchingConfig {
            max_batch_latency: Duration::from_secs(1),
            ..settings
        };
        let choice = BatchChoice::resolve(&model, &settings).unwrap();
        let sizes: Vec<usize> = choice.curve.iter().map(|t| t.rows).collect();
        assert_eq!(sizes, SIZES, "every size fits a 1 s budget");
        assert_eq!(
            choice.rows, 512,
            "same time per run: the biggest batch wins"
        );
        assert!(choice
            .curve
            .iter()
            .all(|t| t.run >= Duration::from_millis(1)));
        assert!(
            choice.curve_text().starts_with("1:1."),
            "{}",
            choice.curve_text()
        );
    }

    #[test]
    fn a_number_is_taken_as_it_is_and_a_failing_model_fails_the_load() {
        let model = FakeModel::new(Behaviour::Answer);
        let settings = BatchingConfig {
            max_batch_size: BatchSize::Rows(48),
            ..BatchingConfig::default()
        };
        let choice = BatchChoice::resolve(&model, &settings).unwrap();
        assert_eq!((choice.rows, choice.curve.len()), (48, 0));
        assert!(model.batches().is_empty(), "nothing timed");

        let auto = BatchingConfig::default();
        let err = BatchChoice::resolve(&FakeModel::new(Behaviour::Fail), &auto).unwrap_err();
        assert!(err.contains("timing a batch of 1 rows failed"), "{err}");
    }

    #[test]
    fn the_engine_limit_lowers_a_number_and_ends_the_sweep_on_itself() {
        let settings = BatchingConfig {
            max_batch_size: BatchSize::Rows(64),
            ..BatchingConfig::default()
        };
        let model = FakeModel::new(Behaviour::Answer).with_max_run_rows(63);
        let choice = BatchChoice::resolve(&model, &settings).unwrap();
        assert_eq!((choice.rows, choice.limit), (63, Some(63)));
        // A number under the limit stands, and the limit is not reported.
        let model = FakeModel::new(Behaviour::Answer).with_max_run_rows(255);
        let choice = BatchChoice::resolve(&model, &settings).unwrap();
        assert_eq!((choice.rows, choice.limit), (64, None));

        // Same time per run: the biggest size tried wins, and it is the limit.
        let model = FakeModel::new(Behaviour::SleepMs(1)).with_max_run_rows(63);
        let settings = BatchingConfig {
            max_batch_latency: Duration::from_secs(1),
            ..BatchingConfig::default()
        };
        let choice = BatchChoice::resolve(&model, &settings).unwrap();
        let timed: Vec<usize> = choice.curve.iter().map(|t| t.rows).collect();
        assert_eq!(timed, [1, 2, 4, 8, 16, 32, 63]);
        assert_eq!((choice.rows, choice.limit), (63, Some(63)));
        assert!(model.batches().iter().all(|&rows| rows <= 63));
        // A limit past every size changes nothing.
        assert_eq!(sizes(Some(4096)), SIZES);
        assert_eq!(sizes(Some(64)), [1, 2, 4, 8, 16, 32, 64]);
    }
}
