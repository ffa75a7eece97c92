//! Prometheus metrics (README "Metrics"), registered on a registry created in `run` and handed
//! down, never on a global static, so tests can render exactly what one server saw.

use std::sync::Arc;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Buckets in seconds, from 25 µs (a cache hit) to 10 s (a stuck request).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `model` label of rejections that happen before the model is known (413).
pub const UNKNOWN_MODEL: &str = "unknown";

/// Buckets for rows per model run.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

/// Every metric the service exports. Cloning is one reference count: handlers and
/// middleware clone it on every request.
#[derive(Clone)]
pub struct Metrics(Arc<MetricSet>);

impl std::ops::Deref for Metrics {
    type Target = MetricSet;
    fn deref(&self) -> &MetricSet {
        &self.0
    }
}

/// The metrics themselves, behind [`Metrics`].
pub struct MetricSet {
    /// The registry all of these are on, rendered by `/metrics`.
    pub registry: Registry,
    /// Responses by matched route template, method and status code.
    pub http_requests: IntCounterVec,
    /// Time from request to response, by route template.
    pub http_duration: HistogramVec,
    /// Requests being served right now.
    pub inflight: IntGauge,
    /// Rows computed by the model (cache hits excluded).
    pub inference_rows: IntCounterVec,
    /// Time one model run took.
    pub inference_duration: HistogramVec,
    /// Time a request waited between queueing and the start of its model run.
    pub queue_duration: HistogramVec,
    /// Rows per model run.
    pub batch_size: HistogramVec,
    /// Requests waiting in a model's queue.
    pub queue_depth: IntGaugeVec,
    /// The queue bound, so saturation is a ratio an alert can use.
    pub queue_capacity: IntGaugeVec,
    /// Cache lookups by result (hit, miss, bypass), counted per row.
    pub cache_lookups: IntCounterVec,
    /// Entries in the result cache.
    pub cache_entries: IntGauge,
    /// Weighted size of the result cache.
    pub cache_bytes: IntGauge,
    /// Entries removed by cause (size, expired, replaced, explicit).
    pub cache_evictions: IntCounterVec,
    /// Requests refused by reason (queue_full, deadline, too_large, invalid).
    pub rejected: IntCounterVec,
    /// 1 for every servable model version.
    pub model_info: IntGaugeVec,
    /// How long each model version took to load and optimize.
    pub model_load_duration: GaugeVec,
    /// `inferd_max_batch_size{model,version}`: most rows per model run in force.
    pub max_batch_size: IntGaugeVec,
    /// Version loads by result (success, failure), at start-up and on reload.
    pub model_loads: IntCounterVec,
    /// Versions on disk that the policy wants but that failed to load, per model.
    pub model_failed_versions: IntGaugeVec,
}

impl Metrics {
    /// Registers every metric on `registry`.
    pub fn new(registry: Registry) -> Result<Metrics, prometheus::Error> {
        let r = &registry;
        let metrics = MetricSet {
            http_requests: counter(
                r,
                "http_requests_total",
                "HTTP responses",
                &["route", "method", "status"],
            )?,
            http_duration: histogram(
                r,
                "http_request_duration_seconds",
                "HTTP request latency",
                &["route"],
                LATENCY_BUCKETS,
            )?,
            inflight: register(
                r,
                IntGauge::new("inferd_inflight_requests", "Requests in flight")?,
            )?,
            inference_rows: counter(
                r,
                "inference_rows_total",
                "Rows computed by the model",
                &["model", "version"],
            )?,
            inference_duration: histogram(
                r,
                "inference_duration_seconds",
                "Duration of one model run",
                &["model", "version"],
                LATENCY_BUCKETS,
            )?,
            queue_duration: histogram(
                r,
                "queue_duration_seconds",
                "Time waited in the queue",
                &["model"],
                LATENCY_BUCKETS,
            )?,
            batch_size: histogram(
                r,
                "batch_size",
                "Rows per model run",
                &["model"],
                BATCH_BUCKETS,
            )?,
            queue_depth: gauge(
                r,
                "queue_depth",
                "Requests waiting in the queue",
                &["model"],
            )?,
            queue_capacity: gauge(r, "queue_capacity", "Queue bound in requests", &["model"])?,
            cache_lookups: counter(
                r,
                "cache_lookups_total",
                "Cache lookups per row",
                &["model", "result"],
            )?,
            cache_entries: register(
                r,
                IntGauge::new("inferd_cache_entries", "Entries in the result cache")?,
            )?,
            cache_bytes: register(
                r,
                IntGauge::new("inferd_cache_bytes", "Weighted bytes in the result cache")?,
            )?,
            cache_evictions: counter(
                r,
                "cache_evictions_total",
                "Cache entries removed",
                &["cause"],
            )?,
            rejected: counter(
                r,
                "rejected_requests_total",
                "Requests refused",
                &["model", "reason"],
            )?,
            model_info: gauge(
                r,
                "model_info",
                "Servable model versions",
                &["model", "version"],
            )?,
            model_load_duration: register(
                r,
                GaugeVec::new(
                    Opts::new(
                        "inferd_model_load_duration_seconds",
                        "Model load and optimization time",
                    ),
                    &["model", "version"],
                )?,
            )?,
            max_batch_size: gauge(
                r,
                "max_batch_size",
                "Most rows per model run in force (measured at load when max_batch_size is auto)",
                &["model", "version"],
            )?,
            model_loads: counter(
                r,
                "model_loads_total",
                "Model version loads by result",
                &["model", "result"],
            )?,
            model_failed_versions: gauge(
                r,
                "model_failed_versions",
                "Versions wanted but failed to load",
                &["model"],
            )?,
            registry,
        };
        // Series that alerts divide or rate exist from the start, at 0, rather than
        // appearing with the first event.
        for cause in ["size", "expired", "replaced", "explicit"] {
            metrics.cache_evictions.with_label_values(&[cause]);
        }
        metrics
            .rejected
            .with_label_values(&[UNKNOWN_MODEL, "too_large"]);
        let build = gauge(
            &metrics.registry,
            "build_info",
            "Build version",
            &["version"],
        )?;
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        register_process_metrics(&metrics.registry)?;
        Ok(Metrics(Arc::new(metrics)))
    }

    /// Creates a model's label sets at 0 so its rates and ratios exist before traffic.
    pub fn register_model(&self, model: &str, version: &str) -> Lookups {
        for reason in ["queue_full", "deadline", "invalid"] {
            self.rejected.with_label_values(&[model, reason]);
        }
        self.inference_rows.with_label_values(&[model, version]);
        self.model_info.with_label_values(&[model, version]).set(1);
        let lookups = |result| self.cache_lookups.with_label_values(&[model, result]);
        Lookups {
            hit: lookups("hit"),
            miss: lookups("miss"),
            bypass: lookups("bypass"),
        }
    }

    /// The text exposition of every registered metric.
    pub fn render(&self) -> String {
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// One model's `inferd_cache_lookups_total` series, looked up once at load: finding a
/// series by its label values hashes them on every request.
#[derive(Clone)]
pub struct Lookups {
    /// Rows answered from the cache.
    pub hit: IntCounter,
    /// Rows looked up and not found.
    pub miss: IntCounter,
    /// Rows that skipped the cache (`no-cache`, `no-store`, cache off for the model).
    pub bypass: IntCounter,
}

#[cfg(target_os = "linux")]
fn register_process_metrics(registry: &Registry) -> Result<(), prometheus::Error> {
    registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))
}

#[cfg(not(target_os = "linux"))]
fn register_process_metrics(_: &Registry) -> Result<(), prometheus::Error> {
    Ok(())
}

fn register<T: prometheus::core::Collector + Clone + 'static>(
    r: &Registry,
    metric: T,
) -> Result<T, prometheus::Error> {
    r.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn counter(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    register(
        r,
        IntCounterVec::new(Opts::new(format!("inferd_{name}"), help), labels)?,
    )
}

fn gauge(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, prometheus::Error> {
    register(
        r,
        IntGaugeVec::new(Opts::new(format!("inferd_{name}"), help), labels)?,
    )
}

fn histogram(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> Result<HistogramVec, prometheus::Error> {
    let opts = HistogramOpts::new(format!("inferd_{name}"), help).buckets(buckets.to_vec());
    register(r, HistogramVec::new(opts, labels)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_prefix() {
        let m = Metrics::new(Registry::new()).unwrap();
        m.http_requests
            .with_label_values(&["/predict", "POST", "200"])
            .inc();
        m.http_duration
            .with_label_values(&["/predict"])
            .observe(0.0003);
        let text = m.render();
        assert!(
            text.contains(
                r#"inferd_http_requests_total{method="POST",route="/predict",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"inferd_http_request_duration_seconds_bucket{route="/predict",le="0.0005"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"inferd_http_request_duration_seconds_bucket{route="/predict",le="0.00025"} 0"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"inferd_build_info{version=""#), "{text}");
        assert!(text.contains("inferd_inflight_requests 0"), "{text}");
        #[cfg(target_os = "linux")]
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }
}
