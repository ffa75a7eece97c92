//! What one model should serve after a scan: keep what is unchanged, load what is
//! new or replaced (one version at a time, so at most two copies of a model are in
//! memory), and never let a version that fails to load replace one that serves.

use super::scan::{ModelDir, Plan, VersionFile};
use super::{load, Failure, Servable, Versions};
use crate::batcher::auto::BatchChoice;
use crate::config::model::VersionPolicy;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::monitoring::Monitor;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Loads versions with the global configuration and registers their metrics.
pub(super) struct Loader<'a> {
    pub(super) config: &'a Config,
    pub(super) metrics: &'a Metrics,
}

impl Loader<'_> {
    /// What model `name` serves next, given what it serves now and its folder on
    /// disk (`None`: the folder is gone, and so is the model). `retry` loads again
    /// versions that failed even if their files did not change (the admin API's
    /// `load`).
    pub(super) async fn reconcile(
        &self,
        name: &str,
        current: &Versions,
        dir: Option<ModelDir>,
        retry: bool,
    ) -> Option<Versions> {
        let dir = dir?;
        let plan = match dir.plan {
            Ok(plan) => plan,
            Err(reason) => return Some(self.unreadable(name, current, &dir.versions, reason)),
        };
        let labelled: BTreeSet<u64> = plan.labels.values().copied().collect();
        let mut next = Versions {
            labels: plan.labels.clone(),
            ..Versions::default()
        };
        let mut newest_serving = 0;
        for (&version, file) in dir.versions.iter().rev() {
            let by_policy = match &plan.policy {
                VersionPolicy::All => true,
                VersionPolicy::Specific(list) => list.contains(&version),
                VersionPolicy::Latest(n) => newest_serving < *n,
            };
            if !by_policy && !labelled.contains(&version) {
                continue;
            }
            let obtained = self
                .obtain((name, version), file, &plan, current, retry, &mut next)
                .await;
            if let Some(servable) = obtained {
                next.loaded.insert(version, servable);
                newest_serving += usize::from(by_policy);
            }
        }
        for (label, version) in &plan.labels {
            if !next.loaded.contains_key(version) {
                tracing::warn!(model = %name, label = %label, version, "label points at a version that is not serving");
            }
        }
        Some(next)
    }

    /// `model.toml` cannot be read: what serves keeps serving with its settings.
    fn unreadable(
        &self,
        name: &str,
        current: &Versions,
        on_disk: &std::collections::BTreeMap<u64, VersionFile>,
        reason: String,
    ) -> Versions {
        if current.problem.as_ref() != Some(&reason) {
            tracing::error!(model = %name, reason = %reason, "model settings cannot be read; versions serving are kept");
        }
        let mut kept = current.clone();
        kept.loaded.retain(|v, _| on_disk.contains_key(v));
        if kept.loaded.is_empty() {
            kept.failed = on_disk
                .iter()
                .map(|(&v, file)| {
                    let failure = Failure {
                        reason: reason.clone(),
                        fingerprint: Some(file.fingerprint.clone()),
                        settings: None,
                    };
                    (v, failure)
                })
                .collect();
        }
        kept.problem = Some(reason);
        kept
    }

    /// The servable for one version: the one serving if its files and settings are
    /// unchanged, else a fresh load; on a failed load, the copy serving (if any).
    async fn obtain(
        &self,
        (name, version): (&str, u64),
        file: &VersionFile,
        plan: &Plan,
        current: &Versions,
        retry: bool,
        next: &mut Versions,
    ) -> Option<Arc<Servable>> {
        let serving = current.loaded.get(&version);
        let unchanged = |fingerprint: &Option<super::Fingerprint>| {
            fingerprint.as_ref() == Some(&file.fingerprint)
        };
        if let Some(s) =
            serving.filter(|s| unchanged(&s.fingerprint) && s.settings == plan.settings)
        {
            return Some(s.clone());
        }
        let known_failure = current
            .failed
            .get(&version)
            .filter(|f| unchanged(&f.fingerprint) && f.settings.as_ref() == Some(&plan.settings));
        if let (Some(failure), false) = (known_failure, retry) {
            next.failed.insert(version, failure.clone());
            return serving.cloned();
        }
        let old_monitor = serving.and_then(|s| s.monitor.clone());
        match self.load((name, version), file, plan, old_monitor).await {
            Ok(servable) => Some(servable),
            Err(reason) => {
                let failure = Failure {
                    reason,
                    fingerprint: Some(file.fingerprint.clone()),
                    settings: Some(plan.settings.clone()),
                };
                next.failed.insert(version, failure);
                serving.cloned()
            }
        }
    }

    /// Loads and warms one version off the runtime, then starts its batcher.
    async fn load(
        &self,
        (name, version): (&str, u64),
        file: &VersionFile,
        plan: &Plan,
        old_monitor: Option<Arc<Monitor>>,
    ) -> Result<Arc<Servable>, String> {
        let path = file.path.clone();
        let batching = plan.settings.batching.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let (model, took) = load::load_and_warm(&path)?;
            let timing = std::time::Instant::now();
            let batch = BatchChoice::resolve(&*model, &batching)?;
            Ok((model, took, batch, timing.elapsed()))
        })
        .await
        .unwrap_or_else(|e| Err(format!("the load was interrupted: {e}")));
        let result = if loaded.is_ok() { "success" } else { "failure" };
        self.metrics
            .model_loads
            .with_label_values(&[name, result])
            .inc();
        let (model, took, batch, timing) = loaded.inspect_err(|reason| {
            tracing::error!(model = %name, version, reason = %reason, "model failed to load");
        })?;
        tracing::info!(model = %name, version, seconds = took.as_secs_f64(), "model loaded");
        // A sweep's choice is logged once the batcher has started, with where it runs.
        if let Some(limit) = batch.limit.filter(|_| batch.curve.is_empty()) {
            tracing::warn!(
                model = %name,
                version,
                rows = limit,
                "max_batch_size lowered to the engine's run limit: past it each row costs \
                 several times more (README \"Performance\")"
            );
        }
        self.metrics
            .model_load_duration
            .with_label_values(&[name, &version.to_string()])
            .set(took.as_secs_f64());
        // The replaced copy's drift series make way for the new one's.
        if let Some(old) = old_monitor {
            crate::monitoring::detach(&old, self.metrics);
        }
        let monitor = crate::monitoring::attach(
            (name, version),
            file.path.parent().unwrap_or(std::path::Path::new(".")),
            model.signature(),
            plan.settings.feature_names.as_deref(),
            &self.config.monitoring,
            self.metrics,
        );
        let settings = plan.settings.clone();
        let fingerprint = Some(file.fingerprint.clone());
        let servable = Servable::start(
            (name, version),
            (model, batch),
            settings,
            self.metrics,
            monitor,
            fingerprint,
        );
        if !servable.batch.curve.is_empty() {
            tracing::info!(
                model = %name,
                version,
                rows = servable.batch.rows,
                curve = %servable.batch.curve_text(),
                run_limit = servable.batch.limit,
                runs = %servable.placement.describe(),
                seconds = timing.as_secs_f64(),
                "batch size chosen"
            );
        }
        Ok(Arc::new(servable))
    }
}
