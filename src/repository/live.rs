//! The repository being served, and the one way it changes: a reload of one model
//! at a time, swapped in whole, under one lock so reloads never interleave.

use super::reload::Loader;
use super::scan::{self, is_model_name};
use super::{Repository, Servable, VersionList, Versions};
use crate::config::Config;
use crate::error::ApiError;
use crate::json::Limits;
use crate::metrics::Metrics;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

/// The view requests read, and the decode limits that follow from it.
struct View {
    repository: Arc<Repository>,
    limits: Limits,
}

/// The repository as served now. Requests read it through a short read lock (no
/// await under it); reloads build the next view aside and swap it in.
pub struct Live {
    view: RwLock<View>,
    /// Held for a whole reload, so two never interleave and models load one at a time.
    reloads: tokio::sync::Mutex<()>,
    /// The global configuration `model.toml` layers over.
    config: Config,
    /// Where loads are counted and versions registered.
    metrics: Metrics,
}

/// One line of the V2 repository index.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct IndexEntry {
    /// Model name.
    pub name: String,
    /// Version, absent for a model with no version to report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `READY` or `UNAVAILABLE`.
    pub state: &'static str,
    /// Why it is unavailable, or what last failed for a version that serves.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

impl Live {
    /// Serves `repository` as loaded at start-up.
    pub fn new(repository: Arc<Repository>, config: &Config, metrics: &Metrics) -> Live {
        let limits = crate::decode_limits(config, &repository);
        for (name, versions) in &repository.models {
            record_failures(metrics, name, versions);
        }
        Live {
            view: RwLock::new(View { repository, limits }),
            reloads: tokio::sync::Mutex::new(()),
            config: config.clone(),
            metrics: metrics.clone(),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&View) -> T) -> T {
        f(&self.view.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The view served now.
    pub fn current(&self) -> Arc<Repository> {
        self.read(|v| v.repository.clone())
    }

    /// Decode limits for the models served now.
    pub fn limits(&self) -> Limits {
        self.read(|v| v.limits)
    }

    /// See [`Repository::resolve`].
    pub fn resolve(&self, name: &str, version: Option<u64>) -> Result<Arc<Servable>, ApiError> {
        self.read(|v| v.repository.resolve(name, version))
    }

    /// See [`Repository::resolve_label`].
    pub fn resolve_label(&self, name: &str, label: &str) -> Result<Arc<Servable>, ApiError> {
        self.read(|v| v.repository.resolve_label(name, label))
    }

    /// The version a request names: by label when it gives one, else by number
    /// (or the newest).
    pub fn resolve_for(
        &self,
        name: &str,
        version: Option<u64>,
        label: Option<&str>,
    ) -> Result<Arc<Servable>, ApiError> {
        match label {
            Some(label) => self.resolve_label(name, label),
            None => self.resolve(name, version),
        }
    }

    /// See [`Repository::versions`].
    pub fn versions(&self, name: &str) -> Option<VersionList> {
        self.read(|v| v.repository.versions(name))
    }

    /// See [`Repository::names`].
    pub fn names(&self) -> Vec<String> {
        self.read(|v| v.repository.names())
    }

    /// See [`Repository::is_ready`].
    pub fn is_ready(&self) -> bool {
        self.read(|v| v.repository.is_ready())
    }

    /// Rescans the whole repository and applies what changed (polling).
    pub async fn poll(&self) {
        let _one = self.reloads.lock().await;
        let root = &self.config.model_repository;
        let mut dirs = match scan::scan(root, &self.config) {
            Ok(dirs) => dirs,
            Err(reason) => {
                tracing::error!(reason = %reason, "repository scan failed; serving what is loaded");
                return;
            }
        };
        let current = self.current();
        let names: BTreeSet<String> = current.models.keys().chain(dirs.keys()).cloned().collect();
        for name in names {
            let old = current.models.get(&name).cloned().unwrap_or_default();
            if old.unloaded {
                continue;
            }
            let next = self
                .loader()
                .reconcile(&name, &old, dirs.remove(&name), false)
                .await;
            self.replace(&name, &old, next);
        }
    }

    /// Rescans model `name` now and loads what its policy asks for, including
    /// versions that failed before (the admin API's `load`). Errors when a version
    /// it tried failed, saying what serves instead.
    pub async fn load_model(&self, name: &str) -> Result<(), ApiError> {
        check_name(name)?;
        let _one = self.reloads.lock().await;
        let dir = scan::scan_model(&self.config.model_repository, name, &self.config).ok_or_else(
            || {
                ApiError::NotFound(format!(
                    "model `{name}` has no folder in the model repository"
                ))
            },
        )?;
        let old = self.current().models.get(name).cloned().unwrap_or_default();
        let next = self.loader().reconcile(name, &old, Some(dir), true).await;
        self.replace(name, &old, next.clone());
        let next = next.unwrap_or_default();
        let failures: Vec<String> = next
            .failed
            .iter()
            .map(|(v, f)| format!("version {v} failed to load: {}", f.reason))
            .chain(next.problem.clone())
            .collect();
        if failures.is_empty() && !next.loaded.is_empty() {
            return Ok(());
        }
        let serving: Vec<String> = next.loaded.keys().map(u64::to_string).collect();
        Err(ApiError::bad_request(format!(
            "model `{name}`: {}; serving now: {}",
            if failures.is_empty() {
                "no version folder with a model.onnx".to_string()
            } else {
                failures.join("; ")
            },
            if serving.is_empty() {
                "nothing".to_string()
            } else {
                format!("version {}", serving.join(", "))
            }
        )))
    }

    /// Stops serving every version of `name` (each finishes what it has in flight)
    /// until the next `load`; polling leaves it unloaded.
    pub async fn unload_model(&self, name: &str) -> Result<(), ApiError> {
        check_name(name)?;
        let _one = self.reloads.lock().await;
        let old = self.current().models.get(name).cloned().ok_or_else(|| {
            ApiError::NotFound(format!("model `{name}` is not in the repository"))
        })?;
        let unloaded = Versions {
            unloaded: true,
            ..Versions::default()
        };
        self.replace(name, &old, Some(unloaded));
        Ok(())
    }

    /// Every model and version, with its state (the V2 repository index).
    pub fn index(&self) -> Vec<IndexEntry> {
        let current = self.current();
        let mut entries = Vec::new();
        for (name, versions) in &current.models {
            let entry = |version: Option<u64>, state, reason: String| IndexEntry {
                name: name.clone(),
                version: version.map(|v| v.to_string()),
                state,
                reason,
            };
            let on_disk: BTreeSet<u64> = versions
                .loaded
                .keys()
                .chain(versions.failed.keys())
                .copied()
                .collect();
            if on_disk.is_empty() {
                let reason = match (&versions.problem, versions.unloaded) {
                    (_, true) => "unloaded".to_string(),
                    (Some(problem), false) => problem.clone(),
                    (None, false) => "no version folder with a model.onnx".to_string(),
                };
                entries.push(entry(None, "UNAVAILABLE", reason));
            }
            for v in on_disk {
                let reason = versions
                    .failed
                    .get(&v)
                    .map(|f| f.reason.clone())
                    .unwrap_or_default();
                let state = if versions.loaded.contains_key(&v) {
                    "READY"
                } else {
                    "UNAVAILABLE"
                };
                entries.push(entry(Some(v), state, reason));
            }
        }
        entries
    }

    fn loader(&self) -> Loader<'_> {
        Loader {
            config: &self.config,
            metrics: &self.metrics,
        }
    }

    /// Swaps model `name`'s entry for `next` (`None`: the model is gone), then
    /// retires the versions no longer served.
    fn replace(&self, name: &str, old: &Versions, next: Option<Versions>) {
        if next.as_ref().is_some_and(|n| n.same_as(old)) {
            return;
        }
        {
            let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
            let mut repository = Repository::clone(&view.repository);
            match &next {
                Some(versions) => repository.models.insert(name.to_string(), versions.clone()),
                None => repository.models.remove(name),
            };
            view.limits = crate::decode_limits(&self.config, &repository);
            view.repository = Arc::new(repository);
        }
        let next = next.unwrap_or_default();
        record_failures(&self.metrics, name, &next);
        for (version, servable) in &next.loaded {
            if !old
                .loaded
                .get(version)
                .is_some_and(|o| Arc::ptr_eq(o, servable))
            {
                tracing::info!(model = %name, version, "version serving");
            }
        }
        for (version, servable) in &old.loaded {
            if next.loaded.contains_key(version) {
                continue;
            }
            // In-flight requests hold their own reference and finish on it.
            tracing::info!(model = %name, version, "version unloaded; it finishes the requests it holds");
            let version_label = version.to_string();
            let _ = self
                .metrics
                .model_info
                .remove_label_values(&[name, &version_label]);
            let _ = self
                .metrics
                .max_batch_size
                .remove_label_values(&[name, &version_label]);
            if let Some(monitor) = &servable.monitor {
                crate::monitoring::detach(monitor, &self.metrics);
            }
        }
    }

    /// Rescans every `interval` until `live` is dropped (`repository.poll_interval`).
    pub fn spawn_polling(live: &Arc<Live>, interval: Duration) {
        if interval.is_zero() {
            return;
        }
        let live: Weak<Live> = Arc::downgrade(live);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(live) = live.upgrade() else { return };
                live.poll().await;
            }
        });
    }
}

/// Sets how many versions of `name` on disk failed to load, including files
/// replaced in place whose older copy still serves (the `InferdModelLoadFailed`
/// alert's signal).
fn record_failures(metrics: &Metrics, name: &str, versions: &Versions) {
    metrics
        .model_failed_versions
        .with_label_values(&[name])
        .set(versions.failed.len() as i64);
}

/// A model name from a URL must be a folder name, never a path out of the repository.
fn check_name(name: &str) -> Result<(), ApiError> {
    if is_model_name(name) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{name:?} is not a model name: expected a folder name of the model repository"
        )))
    }
}
