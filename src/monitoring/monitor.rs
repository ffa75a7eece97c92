//! One model version's bin counters and its window of the last rows.
//!
//! The request path only does relaxed atomic additions and byte stores: no lock, no
//! allocation, nothing that can wait or fail: per row and feature, one `fetch_add`
//! on the bin's total and one byte stored in a ring of the last `window_rows` rows
//! (each request claims its rows' slots with one `fetch_add`). The window's counts
//! are tallied from the ring only when someone asks (a scrape, the monitoring
//! endpoint), which is also where PSI is computed.

use super::baseline::{bin_of, Baseline, BINS, EDGES};
use super::columns::Column;
use super::psi::psi;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

/// A ring slot holding no bin: not yet written, or the value was NaN.
const EMPTY: u8 = u8::MAX;

/// A monitored feature: where its values are and its training distribution.
#[derive(Debug)]
pub struct Feature {
    /// The column, with its name.
    pub column: Column,
    /// Inner bin edges from the baseline.
    pub edges: [f64; EDGES],
    /// Training share per bin.
    pub shares: [f64; BINS],
}

/// The counters of one model version.
pub struct Monitor {
    /// Model name, a label of every series.
    pub model: String,
    /// Model version, a label of every series.
    pub version: u64,
    /// Rows in the PSI window.
    pub window_rows: usize,
    /// Monitored features, outputs first (see [`Monitor::new`]).
    pub features: Vec<Feature>,
    /// Rows ever counted per feature and bin (`features.len() * BINS`).
    totals: Box<[AtomicU64]>,
    /// `window_rows` slots of one bin per feature.
    ring: Box<[AtomicU8]>,
    /// Rows seen so far: the next row's ring position.
    next_row: AtomicU64,
}

fn zeros<T: Default>(n: usize) -> Box<[T]> {
    (0..n).map(|_| T::default()).collect()
}

impl Monitor {
    /// Pairs the model's columns with the baseline's bins and keeps at most
    /// `max_features` of them: every output column first (prediction drift is what
    /// users feel), then input columns in order, so a wide model keeps its
    /// predictions and its first inputs monitored.
    pub fn new(
        (model, version): (&str, u64),
        baseline: &Baseline,
        columns: Vec<Column>,
        window_rows: usize,
        max_features: usize,
    ) -> Result<Monitor, String> {
        let (outputs, inputs): (Vec<Column>, Vec<Column>) =
            columns.into_iter().partition(Column::is_output);
        let mut features = Vec::new();
        for column in outputs.into_iter().chain(inputs).take(max_features) {
            let found = baseline.features.iter().find(|f| f.name == column.name);
            let bins = found.ok_or_else(|| {
                format!(
                    "baseline.json has no feature `{}`: make it again with `inferd baseline`",
                    column.name
                )
            })?;
            features.push(Feature {
                column,
                edges: bins.edges,
                shares: bins.shares,
            });
        }
        let window_rows = window_rows.max(1);
        Ok(Monitor {
            model: model.to_string(),
            version,
            window_rows,
            totals: zeros(features.len() * BINS),
            ring: (0..window_rows * features.len())
                .map(|_| AtomicU8::new(EMPTY))
                .collect(),
            next_row: AtomicU64::new(0),
            features,
        })
    }

    /// Counts the bins of every served row. Never blocks, allocates or fails.
    pub fn observe(&self, inputs: &[Tensor], outputs: &[Tensor]) {
        let rows = inputs.first().map_or(0, Tensor::rows);
        let first = self.next_row.fetch_add(rows as u64, Relaxed);
        let width = self.features.len();
        for row in 0..rows {
            let slot = ((first + row as u64) % self.window_rows as u64) as usize * width;
            for (f, feature) in self.features.iter().enumerate() {
                let value = feature.column.value(inputs, outputs, row);
                let bin = match value {
                    Some(v) if !v.is_nan() => bin_of(&feature.edges, v),
                    _ => EMPTY as usize,
                };
                if bin != EMPTY as usize {
                    self.totals[f * BINS + bin].fetch_add(1, Relaxed);
                }
                // The slot is this row's alone (claimed by fetch_add above): a
                // plain store, no read-modify-write.
                self.ring[slot + f].store(bin as u8, Relaxed);
            }
        }
    }

    /// Rows ever counted in each bin of feature `f`.
    pub fn totals(&self, f: usize) -> [u64; BINS] {
        std::array::from_fn(|b| self.totals[f * BINS + b].load(Relaxed))
    }

    /// Rows of the current window in each bin, per feature: one pass over the ring
    /// (`window_rows * features` bytes).
    pub fn window(&self) -> Vec<[u64; BINS]> {
        let mut counts = vec![[0u64; BINS]; self.features.len()];
        let width = self.features.len().max(1);
        for slot in self.ring.chunks_exact(width) {
            for (count, bin) in counts.iter_mut().zip(slot) {
                if let Some(c) = count.get_mut(usize::from(bin.load(Relaxed))) {
                    *c += 1;
                }
            }
        }
        counts
    }

    /// Each feature's name and PSI over the window; `None` before any row.
    pub fn psi(&self) -> Vec<(&str, Option<f64>)> {
        self.features
            .iter()
            .zip(self.window())
            .map(|(feature, counts)| (feature.column.name.as_str(), psi(&counts, &feature.shares)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::baseline::FeatureBaseline;
    use crate::monitoring::columns::Source;

    /// One input column `x` binned by 0..9 and one output `out:y`.
    fn monitor(window_rows: usize, max_features: usize) -> Monitor {
        let values: Vec<f64> = (0..100).map(|i| f64::from(i) / 10.0).collect();
        let baseline = Baseline {
            model: "m".into(),
            version: 1,
            rows: 100,
            features: vec![
                FeatureBaseline::from_values("x".into(), &values),
                FeatureBaseline::from_values("out:y".into(), &values),
            ],
        };
        let columns = vec![
            Column {
                name: "x".into(),
                source: Source::Input { col: 0, width: 1 },
            },
            Column {
                name: "out:y".into(),
                source: Source::Output {
                    index: 0,
                    col: 0,
                    width: 1,
                },
            },
        ];
        Monitor::new(("m", 1), &baseline, columns, window_rows, max_features).unwrap()
    }

    fn rows(values: &[f32]) -> Vec<Tensor> {
        vec![Tensor::from_f32(vec![values.len(), 1], values).unwrap()]
    }

    #[test]
    fn counts_bins_and_keeps_only_the_last_window() {
        let m = monitor(4, 64);
        assert_eq!(m.features[0].column.name, "out:y", "outputs come first");
        m.observe(&rows(&[0.0, 0.1, 9.9]), &rows(&[5.0, 5.0, 5.0]));
        assert_eq!(m.totals(1)[0], 2);
        assert_eq!(m.totals(1)[9], 1);
        assert_eq!(m.totals(0)[5], 3);
        // Three more rows in bin 5: the window of 4 drops the two oldest.
        m.observe(&rows(&[5.0, 5.0, 5.0]), &rows(&[5.0, 5.0, 5.0]));
        let window = m.window()[1];
        assert_eq!(window.iter().sum::<u64>(), 4);
        assert_eq!((window[0], window[9], window[5]), (0, 1, 3));
        assert_eq!(m.totals(1).iter().sum::<u64>(), 6, "totals keep everything");
    }

    #[test]
    fn nan_is_not_binned_and_missing_outputs_do_not_panic() {
        let m = monitor(10, 64);
        m.observe(&rows(&[f32::NAN, 1.0]), &[]);
        assert_eq!(m.totals(1).iter().sum::<u64>(), 1);
        assert_eq!(m.totals(0).iter().sum::<u64>(), 0);
    }

    #[test]
    fn max_features_keeps_outputs_first() {
        let m = monitor(10, 1);
        let names: Vec<&str> = m.features.iter().map(|f| f.column.name.as_str()).collect();
        assert_eq!(names, ["out:y"]);
    }

    #[test]
    fn psi_is_small_on_the_baseline_and_large_when_shifted() {
        let m = monitor(100, 64);
        let same: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
        m.observe(&rows(&same), &rows(&same));
        let psi = m.psi();
        assert!(psi.iter().all(|(_, p)| p.unwrap() < 1e-9), "{psi:?}");
        let shifted: Vec<f32> = same.iter().map(|v| v + 3.0).collect();
        m.observe(&rows(&shifted), &rows(&same));
        let psi = m.psi();
        assert!(psi[1].1.unwrap() > 1.0, "{psi:?}");
        assert!(psi[0].1.unwrap() < 1e-9, "{psi:?}");
    }
}
