//! The one path every protocol takes to a model: resolve, bind, cache, batch.

mod cached;

use crate::batcher::Timing;
use crate::cache::ResultCache;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::repository::{Live, Servable};
use crate::request::{bind, Bound, CachePolicy, CacheStatus, InferRequest, InferResponse};
use crate::tensor::Tensor;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct Inference {
    /// Servable models, as reloaded.
    pub repository: Arc<Live>,
    /// Model used when a request names none.
    pub default_model: Arc<str>,
    /// Deadline given to each request.
    pub request_timeout: Duration,
    /// Where rejections and cache lookups are counted.
    pub metrics: Metrics,
    /// The result cache; `None` when `cache.enabled = false`.
    pub cache: Option<Arc<ResultCache>>,
}

impl Inference {
    /// Answers one request.
    pub async fn infer(&self, req: InferRequest) -> Result<InferResponse, ApiError> {
        let name = req.model.as_deref().unwrap_or(&self.default_model);
        let servable = self
            .repository
            .resolve_for(name, req.version, req.label.as_deref())?;
        let mut bound = bind(
            &req,
            &servable.name,
            servable.model.signature(),
            servable.batcher.max_rows(),
            servable.settings.allow_nan,
        )
        .inspect_err(|_| {
            self.metrics
                .rejected
                .with_label_values(&[&servable.name, "invalid"])
                .inc();
        })?;
        let now = Instant::now();
        let deadline = now + self.request_timeout;
        let (outputs, timing, cache) = match self.cache_for(&servable, req.cache) {
            Some((cache, lookup)) => {
                cached::infer(cache, &servable, &bound, lookup, now, deadline).await?
            }
            None => {
                servable.lookups.bypass.inc_by(bound.rows as u64);
                // Moved, not copied, unless monitoring reads them after the run.
                let inputs = if servable.monitor.is_some() {
                    bound.inputs.clone()
                } else {
                    std::mem::take(&mut bound.inputs)
                };
                let (outputs, timing) = servable
                    .batcher
                    .submit(inputs, bound.rows, Some(deadline))
                    .await?;
                (outputs, timing, CacheStatus::Bypass)
            }
        };
        if let Some(monitor) = &servable.monitor {
            monitor.observe(&bound.inputs, &outputs);
        }
        let mut answer = respond(&servable, &bound, outputs, cache);
        answer.timing = timing;
        Ok(answer)
    }

    /// The cache to use and whether to look up in it, or `None` to bypass it.
    fn cache_for(&self, servable: &Servable, policy: CachePolicy) -> Option<(&ResultCache, bool)> {
        let cache = self
            .cache
            .as_deref()
            .filter(|_| servable.settings.cache.enabled)?;
        match policy {
            CachePolicy::Use => Some((cache, true)),
            CachePolicy::Refresh => Some((cache, false)),
            CachePolicy::Bypass => None,
        }
    }
}

/// Keeps the requested outputs, named, in the model's order.
fn respond(
    servable: &Servable,
    bound: &Bound,
    outputs: Vec<Tensor>,
    cache: CacheStatus,
) -> InferResponse {
    let sig = servable.model.signature();
    InferResponse {
        model: servable.name.clone(),
        version: servable.version,
        outputs: bound
            .outputs
            .iter()
            .map(|&i| (sig.outputs[i].name.clone(), outputs[i].clone()))
            .collect(),
        cache,
        timing: Timing::default(),
    }
}
