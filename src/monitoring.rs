//! Model monitoring: how far served inputs and predictions have drifted from the
//! training data.
//!
//! - [`baseline`]: `baseline.json`, the training data's decile bins per feature,
//!   written by `inferd baseline` ([`command`]) from CSV or Parquet training data;
//! - [`monitor`]: per model version, bin counters and a window of the last
//!   `monitoring.window_rows` rows, fed by [`crate::inference`] after each answer;
//! - [`psi`]: the population stability index of that window;
//! - [`collector`]: the counters, the baseline shares and PSI on `/metrics`, from
//!   which `config/drift.yml` computes the fleet's PSI.
//!
//! Monitoring never changes an answer or fails a request: a missing or bad baseline
//! only means the version is not monitored (and a bad one is logged).

pub mod baseline;
pub mod collector;
pub mod columns;
pub mod command;
mod csv;
pub mod monitor;
mod parquet;
pub mod psi;

use crate::config::MonitoringConfig;
use crate::metrics::Metrics;
use crate::model::Signature;
use baseline::Baseline;
pub use monitor::Monitor;
use std::path::Path;
use std::sync::Arc;

/// The baseline file's name inside a version folder.
pub const BASELINE_FILE: &str = "baseline.json";

/// The monitor of `model` `version`, whose folder is `version_dir`, registered on `metrics`, or `None`
/// when it has no `baseline.json` or the baseline does not fit the model (logged).
pub fn attach(
    (model, version): (&str, u64),
    version_dir: &Path,
    signature: &Signature,
    feature_names: Option<&[String]>,
    config: &MonitoringConfig,
    metrics: &Metrics,
) -> Option<Arc<Monitor>> {
    let path = version_dir.join(BASELINE_FILE);
    let built = Baseline::read(&path).and_then(|found| {
        let Some(baseline) = found else {
            return Ok(None);
        };
        let columns = columns::columns(signature, feature_names)?;
        let monitor = Monitor::new(
            (model, version),
            &baseline,
            columns,
            config.window_rows,
            config.max_features,
        )?;
        Ok(Some(Arc::new(monitor)))
    });
    let monitor = match built {
        Ok(monitor) => monitor?,
        Err(reason) => {
            tracing::error!(path = %path.display(), reason = %reason, "model not monitored: bad baseline");
            return None;
        }
    };
    let registered = collector::MonitorCollector::new(monitor.clone())
        .and_then(|c| metrics.registry.register(Box::new(c)));
    if let Err(e) = registered {
        tracing::error!(model = %monitor.model, error = %e, "model not monitored: metrics refused");
        return None;
    }
    tracing::info!(model = %monitor.model, version = monitor.version, features = monitor.features.len(), "drift monitoring on");
    Some(monitor)
}

/// Takes `monitor`'s series off `/metrics` (its version was unloaded or replaced).
pub fn detach(monitor: &Arc<Monitor>, metrics: &Metrics) {
    let removed = collector::MonitorCollector::new(monitor.clone())
        .and_then(|c| metrics.registry.unregister(Box::new(c)));
    if let Err(e) = removed {
        tracing::warn!(model = %monitor.model, version = monitor.version, error = %e, "drift series not removed");
    }
}
