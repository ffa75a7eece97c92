//! The model repository: `<repo>/<model>/<version>/model.onnx`, loaded and held as
//! what is servable, with each model's settings, labels and batcher.
//!
//! - [`Repository`] is one consistent view: the versions serving, those that failed
//!   and why, and the labels. It never changes once built.
//! - [`Live`] holds the view being served and swaps in a new one when the
//!   repository changes (polling, or the admin API), one model at a time.
//! - `reload` decides, per model, what to keep, load and drop; `scan` reads the
//!   disk; `load` loads and warms one version.
//!
//! A removed or replaced version is only dropped from the view: requests that
//! already hold it (queued or running) finish on it, and its memory and inference
//! threads go when the last of them does.

mod live;
mod load;
mod reload;
mod scan;

use crate::batcher::auto::BatchChoice;
use crate::batcher::placement::Placement;
use crate::batcher::{Batcher, Labels};
use crate::config::model::ModelSettings;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::Model;
pub use live::{IndexEntry, Live};
pub use scan::Fingerprint;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Load generations are unique per process, so a reloaded model never shares cache
/// keys with its predecessor.
static NEXT_GENERATION: AtomicU64 = AtomicU64::new(1);

/// One loaded model version, ready to serve.
pub struct Servable {
    /// Model name (its folder name).
    pub name: String,
    /// Version number (its sub-folder name).
    pub version: u64,
    /// The engine.
    pub model: Arc<dyn Model>,
    /// Settings after layering `model.toml` over the global config.
    pub settings: ModelSettings,
    /// The batch size in force, measured at load for `max_batch_size = "auto"`.
    pub batch: BatchChoice,
    /// Where its batches run, chosen from the measured batch run.
    pub placement: Placement,
    /// Distinguishes this load from any other load of the same name and version.
    pub generation: u64,
    /// Queue and inference threads of this version.
    pub batcher: Batcher,
    /// This model's cache lookup counters.
    pub lookups: crate::metrics::Lookups,
    /// Drift counters, when the version folder has a `baseline.json`.
    pub monitor: Option<Arc<crate::monitoring::Monitor>>,
    /// The files it was loaded from, as scanned; `None` when built in memory.
    pub fingerprint: Option<Fingerprint>,
}

impl Servable {
    /// Starts the version's batcher and registers its metrics.
    fn start(
        (name, version): (&str, u64),
        (model, batch): (Arc<dyn Model>, BatchChoice),
        settings: ModelSettings,
        metrics: &Metrics,
        monitor: Option<Arc<crate::monitoring::Monitor>>,
        fingerprint: Option<Fingerprint>,
    ) -> Servable {
        let labels = Labels {
            model: name.to_string(),
            version: version.to_string(),
        };
        let placement = Placement::choose(&batch, model.signature(), settings.workers);
        let batcher = Batcher::start(
            model.clone(),
            &settings.batching,
            batch.rows,
            placement,
            metrics.clone(),
            labels.clone(),
        );
        metrics
            .max_batch_size
            .with_label_values(&[&labels.model, &labels.version])
            .set(batch.rows as i64);
        Servable {
            lookups: metrics.register_model(&labels.model, &labels.version),
            batch,
            placement,
            name: name.to_string(),
            version,
            model,
            settings,
            generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
            batcher,
            monitor,
            fingerprint,
        }
    }
}

/// Why a version is not serving, and the files and settings that failed, so the
/// same failure is not retried on every poll.
#[derive(Clone, PartialEq)]
struct Failure {
    reason: String,
    fingerprint: Option<Fingerprint>,
    settings: Option<ModelSettings>,
}

/// What one model has: versions serving, versions that failed, labels.
#[derive(Default, Clone)]
struct Versions {
    loaded: BTreeMap<u64, Arc<Servable>>,
    failed: BTreeMap<u64, Failure>,
    labels: BTreeMap<String, u64>,
    /// Unloaded through the admin API: polling leaves it unloaded until a `load`.
    unloaded: bool,
    /// Why `model.toml` cannot be read now (the versions serving keep their settings).
    problem: Option<String>,
}

impl Versions {
    /// Whether `other` serves the same things the same way (same loads, failures,
    /// labels), so swapping it in would change nothing.
    fn same_as(&self, other: &Versions) -> bool {
        self.loaded.len() == other.loaded.len()
            && self
                .loaded
                .iter()
                .zip(&other.loaded)
                .all(|((a, x), (b, y))| a == b && Arc::ptr_eq(x, y))
            && self.failed == other.failed
            && self.labels == other.labels
            && self.unloaded == other.unloaded
            && self.problem == other.problem
    }
}

/// A model's versions as reported by the status endpoints.
#[derive(Default)]
pub struct VersionList {
    /// Servable versions, oldest first.
    pub loaded: Vec<Arc<Servable>>,
    /// Versions that failed to load and serve no older copy, with the reason.
    pub failed: Vec<(u64, String)>,
}

/// Everything servable, by model name: one consistent view.
#[derive(Default, Clone)]
pub struct Repository {
    models: BTreeMap<String, Versions>,
}

impl Repository {
    /// Scans and loads the repository; fails only if the default model cannot serve.
    pub async fn load(config: &Config, metrics: &Metrics) -> Result<Repository, String> {
        let dirs = scan::scan(&config.model_repository, config)?;
        let loader = reload::Loader { config, metrics };
        let none = Versions::default();
        // Models load side by side at start-up (each one's versions in turn): the
        // two-copies bound of a reload only matters once a copy is serving.
        let loads = dirs.into_iter().map(|(name, dir)| {
            let (loader, none) = (&loader, &none);
            async move {
                let versions = loader.reconcile(&name, none, Some(dir), false).await;
                (name, versions)
            }
        });
        let mut repo = Repository::default();
        for (name, versions) in futures::future::join_all(loads).await {
            if let Some(versions) = versions {
                repo.models.insert(name, versions);
            }
        }
        repo.check_default(&config.default_model)?;
        Ok(repo)
    }

    /// Registers an already-built model, unmonitored (tests use this path). Its
    /// model is not run here (a test's fake may block or fail on purpose), so an
    /// `"auto"` batch size is [`BatchChoice::untimed`].
    pub fn insert(
        &mut self,
        name: &str,
        version: u64,
        model: Arc<dyn Model>,
        settings: ModelSettings,
        metrics: &Metrics,
    ) {
        let batch = BatchChoice::untimed(&*model, &settings.batching);
        let servable = Servable::start(
            (name, version),
            (model, batch),
            settings,
            metrics,
            None,
            None,
        );
        let entry = self.models.entry(name.to_string()).or_default();
        entry.failed.remove(&version);
        entry.loaded.insert(version, Arc::new(servable));
    }

    /// Points `label` of model `name` at `version` (tests use this path; served
    /// repositories take labels from `model.toml`).
    pub fn set_label(&mut self, name: &str, label: &str, version: u64) {
        let entry = self.models.entry(name.to_string()).or_default();
        entry.labels.insert(label.to_string(), version);
    }

    fn check_default(&self, default: &str) -> Result<(), String> {
        match self.models.get(default) {
            Some(v) if !v.loaded.is_empty() => Ok(()),
            Some(v) => Err(format!(
                "the default model `{default}` failed to load: {}",
                match (&v.problem, v.failed.is_empty()) {
                    (Some(problem), _) => problem.clone(),
                    (None, true) => "its folder has no <version>/model.onnx".into(),
                    (None, false) => v
                        .failed
                        .values()
                        .map(|f| f.reason.clone())
                        .collect::<Vec<_>>()
                        .join("; "),
                }
            )),
            None => Err(format!(
                "the default model `{default}` is not in the model repository (found: {})",
                self.names().join(", ")
            )),
        }
    }

    fn model(&self, name: &str) -> Result<&Versions, ApiError> {
        self.models.get(name).ok_or_else(|| {
            ApiError::NotFound(format!(
                "model `{name}` not found; available models: {}",
                self.names().join(", ")
            ))
        })
    }

    /// The version asked for, or the newest one.
    pub fn resolve(&self, name: &str, version: Option<u64>) -> Result<Arc<Servable>, ApiError> {
        let versions = self.model(name)?;
        let found = match version {
            Some(v) => versions.loaded.get(&v),
            None => versions.loaded.values().next_back(),
        };
        found
            .cloned()
            .ok_or_else(|| not_serving(name, version, versions))
    }

    /// The version `label` points at.
    pub fn resolve_label(&self, name: &str, label: &str) -> Result<Arc<Servable>, ApiError> {
        let versions = self.model(name)?;
        let Some(&version) = versions.labels.get(label) else {
            let known: Vec<&str> = versions.labels.keys().map(String::as_str).collect();
            return Err(ApiError::NotFound(format!(
                "model `{name}` has no label `{label}`; its labels: {}",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        versions.loaded.get(&version).cloned().ok_or_else(|| {
            let why = not_serving(name, Some(version), versions);
            ApiError::NotFound(format!(
                "label `{label}` points at version {version}, which is not serving: {why}"
            ))
        })
    }

    /// Names of every model found, loaded or not.
    pub fn names(&self) -> Vec<String> {
        self.models.keys().cloned().collect()
    }

    /// Loaded versions of `name` (newest last) and failed versions with reasons.
    pub fn versions(&self, name: &str) -> Option<VersionList> {
        let v = self.models.get(name)?;
        Some(VersionList {
            loaded: v.loaded.values().cloned().collect(),
            failed: v
                .failed
                .iter()
                .filter(|(k, _)| !v.loaded.contains_key(k))
                .map(|(k, f)| (*k, f.reason.clone()))
                .collect(),
        })
    }

    /// Whether at least one model version is servable.
    pub fn is_ready(&self) -> bool {
        self.models.values().any(|v| !v.loaded.is_empty())
    }
}

/// The 404 for a model that has no servable `version` (or none at all).
fn not_serving(name: &str, version: Option<u64>, versions: &Versions) -> ApiError {
    let list = |keys: Vec<String>| keys.join(", ");
    ApiError::NotFound(match version {
        Some(v) if versions.failed.contains_key(&v) => format!(
            "model `{name}` version {v} failed to load: {}",
            versions.failed[&v].reason
        ),
        Some(v) => format!(
            "model `{name}` has no version {v}; available versions: {}",
            list(versions.loaded.keys().map(u64::to_string).collect())
        ),
        None if versions.unloaded => {
            format!("model `{name}` is unloaded (admin API); load it to serve it again")
        }
        None => format!(
            "model `{name}` has no loaded version: {}",
            list(
                versions
                    .failed
                    .iter()
                    .map(|(v, f)| format!("version {v} failed to load: {}", f.reason))
                    .chain(versions.problem.clone())
                    .collect()
            )
        ),
    })
}
