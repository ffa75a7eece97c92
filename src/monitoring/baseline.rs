//! `baseline.json`: per feature, the decile bin edges of the training data and the
//! share of training rows in each bin. Written by `inferd baseline`, read by the
//! server when it loads a model version.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bins per feature: the deciles of the training data split it into ten.
pub const BINS: usize = 10;
/// Inner bin edges: the 10th, 20th, ..., 90th percentiles.
pub const EDGES: usize = BINS - 1;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Model name it was made for.
    pub model: String,
    /// Model version it was made for (its outputs are that version's answers).
    pub version: u64,
    /// Training rows it summarises.
    pub rows: usize,
    /// Input columns first, in column order, then output columns.
    pub features: Vec<FeatureBaseline>,
}

/// One feature's bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureBaseline {
    /// Input feature name (`model.toml` `feature_names`, else `f<i>`), or
    /// `out:<output>` / `out:<output>:<i>` for output columns.
    pub name: String,
    /// Nine ascending inner edges: bin 0 is below `edges[0]`, bin `i` is
    /// `[edges[i-1], edges[i])`, bin 9 is at or above `edges[8]`.
    pub edges: [f64; EDGES],
    /// Share of training rows in each bin; sums to 1.
    pub shares: [f64; BINS],
}

/// The bin of `value`: how many edges are at or below it. Binary search over the
/// nine edges, since this runs for every feature of every served row.
pub fn bin_of(edges: &[f64; EDGES], value: f64) -> usize {
    edges.partition_point(|&e| e <= value)
}

impl FeatureBaseline {
    /// Edges and shares of one column of training data (finite values only; the
    /// caller refuses NaN and empty columns).
    pub fn from_values(name: String, values: &[f64]) -> FeatureBaseline {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut edges = [0.0; EDGES];
        for (k, edge) in edges.iter_mut().enumerate() {
            *edge = quantile(&sorted, (k + 1) as f64 / BINS as f64);
        }
        let mut counts = [0usize; BINS];
        for &v in values {
            counts[bin_of(&edges, v)] += 1;
        }
        let total = values.len().max(1) as f64;
        FeatureBaseline {
            name,
            edges,
            shares: counts.map(|c| c as f64 / total),
        }
    }
}

/// Linear interpolation between order statistics (numpy's default), so the edges
/// match what `numpy.quantile` reports for the same data.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let position = q * last as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(last);
    let weight = position - below as f64;
    sorted[below] + (sorted[above] - sorted[below]) * weight
}

impl Baseline {
    /// Reads `path`; `Ok(None)` when there is no file (the model is not monitored).
    pub fn read(path: &Path) -> Result<Option<Baseline>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let baseline: Baseline = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a valid baseline: {e}", path.display()))?;
        baseline
            .check()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some(baseline))
    }

    /// Edges ascending and finite, shares non-negative and summing to 1.
    fn check(&self) -> Result<(), String> {
        for f in &self.features {
            let ascending = f.edges.windows(2).all(|w| w[0] <= w[1]);
            if !ascending || f.edges.iter().any(|e| !e.is_finite()) {
                return Err(format!(
                    "feature `{}` has edges that are not finite and ascending",
                    f.name
                ));
            }
            let sum: f64 = f.shares.iter().sum();
            if f.shares.iter().any(|s| !(0.0..=1.0).contains(s)) || (sum - 1.0).abs() > 1e-6 {
                return Err(format!(
                    "feature `{}` has shares that do not sum to 1",
                    f.name
                ));
            }
        }
        Ok(())
    }

    /// Pretty JSON, one feature per line, so a diff shows which feature changed.
    pub fn to_json(&self) -> String {
        let features: Vec<String> = self
            .features
            .iter()
            .map(|f| format!("    {}", serde_json::to_string(f).unwrap_or_default()))
            .collect();
        format!(
            "{{\n  \"model\": {},\n  \"version\": {},\n  \"rows\": {},\n  \"features\": [\n{}\n  ]\n}}\n",
            serde_json::Value::from(self.model.as_str()),
            self.version,
            self.rows,
            features.join(",\n")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_of_one_to_hundred_split_it_in_tens() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        let f = FeatureBaseline::from_values("x".into(), &values);
        // numpy.quantile(range(1, 101), 0.1) = 10.9
        assert!((f.edges[0] - 10.9).abs() < 1e-9, "{:?}", f.edges);
        assert!((f.edges[8] - 90.1).abs() < 1e-9, "{:?}", f.edges);
        assert_eq!(f.shares, [0.1; BINS]);
    }

    #[test]
    fn bins_are_half_open_and_cover_everything() {
        let edges = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0];
        assert_eq!(bin_of(&edges, f64::NEG_INFINITY), 0);
        assert_eq!(bin_of(&edges, 0.99), 0);
        assert_eq!(bin_of(&edges, 1.0), 1);
        assert_eq!(bin_of(&edges, 8.5), 8);
        assert_eq!(bin_of(&edges, 9.0), 9);
        assert_eq!(bin_of(&edges, f64::INFINITY), 9);
    }

    #[test]
    fn a_constant_column_puts_every_row_in_the_top_bin() {
        let f = FeatureBaseline::from_values("c".into(), &[3.0; 50]);
        assert_eq!(f.edges, [3.0; EDGES]);
        assert_eq!(f.shares[9], 1.0);
    }

    #[test]
    fn round_trips_through_json_and_refuses_bad_shares() {
        let values: Vec<f64> = (0..1000).map(|i| f64::from(i).sin()).collect();
        let baseline = Baseline {
            model: "m".into(),
            version: 3,
            rows: 1000,
            features: vec![FeatureBaseline::from_values("s".into(), &values)],
        };
        let parsed: Baseline = serde_json::from_str(&baseline.to_json()).unwrap();
        // serde_json's default float parsing may be one ulp off; bins do not care.
        let (got, want) = (&parsed.features[0], &baseline.features[0]);
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(&got.edges, &want.edges) && close(&got.shares, &want.shares));
        assert_eq!(
            (&parsed.model, parsed.rows, &got.name),
            (&baseline.model, 1000, &want.name)
        );
        assert!(parsed.check().is_ok());
        let mut bad = parsed;
        bad.features[0].shares[0] += 0.5;
        assert!(bad.check().unwrap_err().contains("do not sum to 1"));
    }
}
