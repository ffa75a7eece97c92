//! The one path every protocol takes to a model: resolve, bind, cache, batch.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::repository::Repository;
use crate::request::{bind, CacheStatus, InferRequest, InferResponse};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Shared by every handler; cheap to clone.
#[derive(Clone)]
pub struct Inference {
    /// Servable models.
    pub repository: Arc<Repository>,
    /// Model used when a request names none.
    pub default_model: Arc<str>,
    /// Deadline given to each request.
    pub request_timeout: Duration,
    /// Where rejections are counted.
    pub metrics: Metrics,
}

impl Inference {
    /// Answers one request.
    pub async fn infer(&self, req: InferRequest) -> Result<InferResponse, ApiError> {
        let name = req.model.as_deref().unwrap_or(&self.default_model);
        let servable = self.repository.resolve(name, req.version)?;
        let bound = bind(
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
        let deadline = Some(Instant::now() + self.request_timeout);
        let outputs = servable
            .batcher
            .submit(bound.inputs, bound.rows, deadline)
            .await?;
        let sig = servable.model.signature();
        Ok(InferResponse {
            model: servable.name.clone(),
            version: servable.version,
            outputs: bound
                .outputs
                .iter()
                .map(|&i| (sig.outputs[i].name.clone(), outputs[i].clone()))
                .collect(),
            cache: CacheStatus::Bypass,
        })
    }
}
