//! inferd: a model-serving HTTP service for ONNX models on CPU.
//!
//! How a request flows:
//! - [`http`] receives it on one of three protocols (`/predict`, TF Serving REST,
//!   KServe V2) and translates it into a [`request::InferRequest`];
//! - [`inference`] is the one path to a model: it resolves the model (by version
//!   number or label) in the [`repository`], checks the inputs against the model's signature
//!   ([`request::bind`]), and queues the rows on that model's [`batcher`];
//! - the [`batcher`] stacks rows from many requests and runs the [`model`] on
//!   dedicated inference threads (or, for a model whose batch runs in
//!   microseconds, in the batching task itself: [`batcher::placement`]), in
//!   batches of at most the size [`batcher::auto`] measured at load;
//! - the [`cache`] answers rows seen before and coalesces identical misses;
//! - [`metrics`] are registered on one registry built in [`run`] and handed down;
//! - [`monitoring`] counts served rows' bins against each version's training
//!   baseline and publishes drift (PSI);
//! - [`repository::Live`] swaps in new versions while serving: polling
//!   (`repository.poll_interval`) and the admin API (`http`'s repository routes)
//!   reload one model at a time, and requests holding an old version finish on it;
//! - [`config`] layers defaults, `config/inferd.toml`, `INFERD_*` and flags;
//! - [`shutdown`] flips readiness and drains under a grace period;
//! - [`healthcheck`] is the `inferd healthcheck` probe container images run;
//! - [`score`] is `inferd score`: a Parquet file through the same model code,
//!   outside the server.

pub mod batcher;
pub mod cache;
pub mod config;
pub mod error;
pub mod healthcheck;
pub mod http;
pub mod inference;
pub mod json;
pub mod logs;
pub mod metrics;
pub mod model;
pub mod monitoring;
pub mod repository;
pub mod request;
pub mod score;
pub mod shutdown;
pub mod tensor;
pub mod testing;

use config::Config;
use http::AppState;
use inference::Inference;
use metrics::Metrics;
use repository::{Live, Repository};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Loads the model repository and serves on `listener` until `shutdown` completes,
/// then drains for at most `shutdown_grace_period`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Metrics::new(prometheus::Registry::new())?;
    let repository = Repository::load(&config, &metrics)
        .await
        .map_err(anyhow::Error::msg)?;
    let state = app_state(&config, Arc::new(repository), metrics);
    Live::spawn_polling(&state.inference.repository, config.repository.poll_interval);
    serve(
        state,
        listener,
        shutdown,
        shutdown::Drain::from_config(&config),
    )
    .await
}

/// What one body may hold: `max_request_rows` rows of the widest model loaded, and
/// no more named inputs than the model with the most. A model whose rows have no
/// fixed width leaves the numbers bounded by the body size alone.
pub fn decode_limits(config: &Config, repository: &Repository) -> json::Limits {
    let max_rows = config.batching.max_request_rows;
    let (mut width, mut names) = (Some(0usize), 1usize);
    for name in repository.names() {
        for servable in repository.versions(&name).unwrap_or_default().loaded {
            let inputs = &servable.model.signature().inputs;
            names = names.max(inputs.len());
            let row: Option<usize> = inputs.iter().map(|s| s.row_len()).sum();
            width = width.zip(row).map(|(w, r)| w.max(r));
        }
    }
    json::Limits {
        max_rows,
        max_elements: width.map_or(usize::MAX, |w| w.max(1).saturating_mul(max_rows)),
        max_names: names,
    }
}

/// Builds the handlers' shared state from a loaded repository.
pub fn app_state(config: &Config, repository: Arc<Repository>, metrics: Metrics) -> AppState {
    AppState::new(http::Shared {
        inference: Inference {
            repository: Arc::new(Live::new(repository, config, &metrics)),
            default_model: config.default_model.as_str().into(),
            request_timeout: config.request_timeout,
            metrics: metrics.clone(),
            cache: config.cache.enabled.then(|| {
                Arc::new(cache::ResultCache::new(
                    config.cache.max_bytes,
                    metrics.clone(),
                ))
            }),
        },
        metrics,
        draining: Arc::new(AtomicBool::new(false)),
        max_body_bytes: usize::try_from(config.max_body_bytes).unwrap_or(usize::MAX),
        request_log: config.log.requests,
        intake: http::Intake::new(&config.http),
        admin: http::AdminToken::from_config(&config.admin),
    })
}

/// Serves `state` on `listener`; on `shutdown`, turns `/readyz` to 503, goes on
/// serving for `drain.delay` (so a load balancer stops sending first), then stops
/// accepting, answers what is in flight, and returns after at most `drain.grace`.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    drain: shutdown::Drain,
) -> anyhow::Result<()> {
    let draining = state.draining.clone();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        draining.store(true, Ordering::SeqCst);
        if !drain.delay.is_zero() {
            tracing::info!(
                seconds = drain.delay.as_secs_f64(),
                "shutdown requested: not ready, still serving until the load balancer stops sending"
            );
            tokio::time::sleep(drain.delay).await;
        }
        tracing::info!("shutdown requested: draining in-flight requests");
        let _ = started_tx.send(());
    };
    tracing::info!(address = %listener.local_addr()?, "listening");
    let header_read_timeout = state.intake.header_read_timeout;
    let server =
        http::server::serve_connections(listener, http::router(state), header_read_timeout, signal);
    let grace_over = async move {
        if started_rx.await.is_ok() {
            tokio::time::sleep(drain.grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = server => {},
        () = grace_over => tracing::warn!("shutdown grace period over; exiting with requests still in flight"),
    }
    tracing::info!("stopped");
    Ok(())
}
