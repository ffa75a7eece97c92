//! The model repository: scans `<repo>/<model>/<version>/model.onnx`, loads every
//! version, and holds what is servable with its settings and its batcher.

use crate::batcher::{Batcher, Labels};
use crate::config::model::{ModelSettings, ModelToml};
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::onnx::OnnxModel;
use crate::model::Model;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
    /// Distinguishes this load from any other load of the same name and version.
    pub generation: u64,
    /// Queue and inference threads of this version.
    pub batcher: Batcher,
    /// This model's cache lookup counters.
    pub lookups: crate::metrics::Lookups,
    /// Drift counters, when the version folder has a `baseline.json`.
    pub monitor: Option<Arc<crate::monitoring::Monitor>>,
}

/// All versions of one model, and the versions that failed to load.
#[derive(Default)]
struct Versions {
    loaded: BTreeMap<u64, Arc<Servable>>,
    failed: BTreeMap<u64, String>,
}

/// A model's versions as reported by the status endpoints.
#[derive(Default)]
pub struct VersionList {
    /// Servable versions, oldest first.
    pub loaded: Vec<Arc<Servable>>,
    /// Versions that failed to load, with the reason.
    pub failed: Vec<(u64, String)>,
}

/// Everything servable, by model name.
#[derive(Default)]
pub struct Repository {
    models: BTreeMap<String, Versions>,
}

/// A model version found on disk.
struct Found {
    name: String,
    version: u64,
    path: PathBuf,
    settings: Result<ModelSettings, String>,
}

impl Repository {
    /// Scans and loads the repository; fails only if the default model cannot serve.
    pub async fn load(config: &Config, metrics: &Metrics) -> Result<Repository, String> {
        let found = scan(&config.model_repository, config)?;
        let mut repo = Repository::default();
        let loads = found.into_iter().map(|f| {
            tokio::task::spawn_blocking(move || {
                let started = Instant::now();
                let model = f.settings.clone().and_then(|_| OnnxModel::load(&f.path));
                (f, model, started.elapsed())
            })
        });
        for handle in loads.collect::<Vec<_>>() {
            let (found, model, took) = handle.await.map_err(|e| e.to_string())?;
            let result = model.and_then(|m| Ok((m, found.settings.clone()?)));
            match result {
                Ok((model, settings)) => {
                    tracing::info!(model = %found.name, version = found.version, seconds = took.as_secs_f64(), "model loaded");
                    metrics
                        .model_load_duration
                        .with_label_values(&[&found.name, &found.version.to_string()])
                        .set(took.as_secs_f64());
                    let monitor = crate::monitoring::attach(
                        (&found.name, found.version),
                        found.path.parent().unwrap_or(Path::new(".")),
                        model.signature(),
                        settings.feature_names.as_deref(),
                        &config.monitoring,
                        metrics,
                    );
                    let model = Arc::new(model);
                    repo.add(
                        &found.name,
                        found.version,
                        model,
                        settings,
                        metrics,
                        monitor,
                    );
                }
                Err(reason) => {
                    tracing::error!(model = %found.name, version = found.version, reason = %reason, "model failed to load");
                    let entry = repo.models.entry(found.name).or_default();
                    entry.failed.insert(found.version, reason);
                }
            }
        }
        repo.check_default(&config.default_model)?;
        Ok(repo)
    }

    /// Registers an already-built model, unmonitored (tests use this path).
    pub fn insert(
        &mut self,
        name: &str,
        version: u64,
        model: Arc<dyn Model>,
        settings: ModelSettings,
        metrics: &Metrics,
    ) {
        self.add(name, version, model, settings, metrics, None);
    }

    fn add(
        &mut self,
        name: &str,
        version: u64,
        model: Arc<dyn Model>,
        settings: ModelSettings,
        metrics: &Metrics,
        monitor: Option<Arc<crate::monitoring::Monitor>>,
    ) {
        let labels = Labels {
            model: name.to_string(),
            version: version.to_string(),
        };
        let batcher = Batcher::start(
            model.clone(),
            &settings.batching,
            settings.workers,
            metrics.clone(),
            labels.clone(),
        );
        let lookups = metrics.register_model(&labels.model, &labels.version);
        let servable = Servable {
            lookups,
            name: name.to_string(),
            version,
            model,
            settings,
            generation: NEXT_GENERATION.fetch_add(1, Ordering::Relaxed),
            batcher,
            monitor,
        };
        let entry = self.models.entry(name.to_string()).or_default();
        entry.failed.remove(&version);
        entry.loaded.insert(version, Arc::new(servable));
    }

    fn check_default(&self, default: &str) -> Result<(), String> {
        match self.models.get(default) {
            Some(v) if !v.loaded.is_empty() => Ok(()),
            Some(v) => Err(format!(
                "the default model `{default}` failed to load: {}",
                v.failed.values().cloned().collect::<Vec<_>>().join("; ")
            )),
            None => Err(format!(
                "the default model `{default}` is not in the model repository (found: {})",
                self.names().join(", ")
            )),
        }
    }

    /// The version asked for, or the newest one.
    pub fn resolve(&self, name: &str, version: Option<u64>) -> Result<Arc<Servable>, ApiError> {
        let versions = self.models.get(name).ok_or_else(|| {
            ApiError::NotFound(format!(
                "model `{name}` not found; available models: {}",
                self.names().join(", ")
            ))
        })?;
        let found = match version {
            Some(v) => versions.loaded.get(&v),
            None => versions.loaded.values().next_back(),
        };
        found.cloned().ok_or_else(|| match version {
            Some(v) if versions.failed.contains_key(&v) => ApiError::NotFound(format!(
                "model `{name}` version {v} failed to load: {}",
                versions.failed[&v]
            )),
            Some(v) => ApiError::NotFound(format!(
                "model `{name}` has no version {v}; available versions: {}",
                versions
                    .loaded
                    .keys()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            None => ApiError::NotFound(format!(
                "model `{name}` has no loaded version: {}",
                versions
                    .failed
                    .iter()
                    .map(|(v, why)| format!("version {v} failed to load: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
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
            failed: v.failed.iter().map(|(k, r)| (*k, r.clone())).collect(),
        })
    }

    /// Whether at least one model version is servable.
    pub fn is_ready(&self) -> bool {
        self.models.values().any(|v| !v.loaded.is_empty())
    }
}

/// Lists every `<model>/<version>/model.onnx` under `root`, with its settings.
fn scan(root: &Path, config: &Config) -> Result<Vec<Found>, String> {
    let entries = std::fs::read_dir(root)
        .map_err(|e| format!("cannot read model_repository {}: {e}", root.display()))?;
    let mut found = Vec::new();
    for model_dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
        let Some(name) = model_dir
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let settings = model_settings(&model_dir, config);
        for version_dir in std::fs::read_dir(&model_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = version_dir.path().join("model.onnx");
            let version = version_dir
                .file_name()
                .to_str()
                .and_then(|v| v.parse::<u64>().ok());
            if let (Some(version), true) = (version, path.is_file()) {
                found.push(Found {
                    name: name.clone(),
                    version,
                    path,
                    settings: settings.clone(),
                });
            }
        }
    }
    Ok(found)
}

fn model_settings(model_dir: &Path, config: &Config) -> Result<ModelSettings, String> {
    let path = model_dir.join("model.toml");
    let toml = match std::fs::read_to_string(&path) {
        Ok(text) => ModelToml::parse(&text, &path.display().to_string())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ModelToml::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    toml.resolve(config)
}
