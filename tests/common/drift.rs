//! Drift test support: the forecaster's training process in Rust, and a model
//! repository holding copies of the forecaster with its committed baseline.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Input columns of the forecaster.
pub const LAGS: usize = 16;

/// Standard normal draws: splitmix64 for uniforms, Box-Muller for normals. Another
/// generator than numpy's, so these rows are fresh draws of the same process, not
/// copies of the training rows.
pub struct Normal {
    state: u64,
    spare: Option<f64>,
}

impl Normal {
    pub fn new(seed: u64) -> Normal {
        Normal {
            state: seed,
            spare: None,
        }
    }

    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn sample(&mut self) -> f64 {
        if let Some(spare) = self.spare.take() {
            return spare;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let radius = (-2.0 * u.ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * v;
        self.spare = Some(radius * angle.sin());
        radius * angle.cos()
    }
}

/// `simulate_returns` of scripts/make_fixtures.py: a nonlinear AR(5) with
/// GARCH(1,1) noise, after a 500-step burn-in.
pub fn simulate_returns(seed: u64, n: usize) -> Vec<f64> {
    let burn_in = 500;
    let total = n + burn_in;
    let mut normal = Normal::new(seed);
    let noise: Vec<f64> = (0..total).map(|_| normal.sample()).collect();
    let (mut r, mut var) = (vec![0.0_f64; total], vec![1.0_f64; total]);
    for t in 5..total {
        var[t] = 0.1 + 0.1 * r[t - 1] * r[t - 1] + 0.8 * var[t - 1];
        let mean = 0.15 * r[t - 1] - 0.10 * r[t - 2] + 0.05 * r[t - 5] + 0.40 * r[t - 1].tanh()
            - 0.30 * (r[t - 1] * r[t - 2]).tanh();
        r[t] = mean + var[t].sqrt() * noise[t];
    }
    r.split_off(burn_in)
}

/// `lagged` of scripts/make_fixtures.py: `rows` rows of the 16 previous returns,
/// most recent first, as float32 like the training data.
pub fn training_like_rows(seed: u64, rows: usize) -> Vec<Vec<f32>> {
    let r = simulate_returns(seed, rows + LAGS);
    (0..rows)
        .map(|i| (0..LAGS).map(|k| r[i + LAGS - 1 - k] as f32).collect())
        .collect()
}

/// The sample standard deviation of column `col`.
pub fn column_std(rows: &[Vec<f32>], col: usize) -> f32 {
    let n = rows.len() as f64;
    let mean = rows.iter().map(|r| f64::from(r[col])).sum::<f64>() / n;
    let var = rows
        .iter()
        .map(|r| (f64::from(r[col]) - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    var.sqrt() as f32
}

/// A model repository under the temp dir holding the bundled forecaster (model,
/// model.toml, baseline.json) under each of `names`; removed on drop.
pub struct ForecasterRepo(pub PathBuf);

impl ForecasterRepo {
    pub fn new(names: &[&str]) -> ForecasterRepo {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let root =
            std::env::temp_dir().join(format!("inferd-drift-{}-{nanos}", std::process::id()));
        let source = super::repo_path("models/stock-forecaster");
        for name in names {
            let version = root.join(name).join("1");
            std::fs::create_dir_all(&version).expect("create the model folder");
            copy(
                &source.join("model.toml"),
                &root.join(name).join("model.toml"),
            );
            for file in ["model.onnx", "baseline.json"] {
                copy(&source.join("1").join(file), &version.join(file));
            }
        }
        ForecasterRepo(root)
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
}

impl Drop for ForecasterRepo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
