//! Publishes a [`Monitor`] on the metrics registry. The series are built when
//! Prometheus scrapes, from the monitor's atomics, so the request path never touches
//! the registry; PSI is computed here too.

use super::monitor::Monitor;
use prometheus::core::{Collector, Desc};
use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use std::collections::HashMap;
use std::sync::Arc;

const BIN_TOTAL: &str = "inferd_feature_bin_total";
const BASELINE_RATIO: &str = "inferd_feature_baseline_ratio";
const DRIFT_PSI: &str = "inferd_feature_drift_psi";

/// The three monitoring families of one model version (its `model` and `version`
/// are constant labels, so every monitored version registers its own collector).
pub struct MonitorCollector {
    monitor: Arc<Monitor>,
    descs: Vec<Desc>,
}

impl MonitorCollector {
    /// Describes the families; fails only on an invalid model name as a label value.
    pub fn new(monitor: Arc<Monitor>) -> Result<MonitorCollector, prometheus::Error> {
        let constant = HashMap::from([
            ("model".to_string(), monitor.model.clone()),
            ("version".to_string(), monitor.version.to_string()),
        ]);
        let desc = |name: &str, help: &str, labels: &[&str]| {
            let labels = labels.iter().map(|l| l.to_string()).collect();
            Desc::new(name.into(), help.into(), labels, constant.clone())
        };
        let descs = vec![
            desc(
                BIN_TOTAL,
                "Served rows per feature and baseline bin (cache hits included).",
                &["feature", "bin"],
            )?,
            desc(
                BASELINE_RATIO,
                "Share of training rows in each feature bin (baseline.json).",
                &["feature", "bin"],
            )?,
            desc(
                DRIFT_PSI,
                "This replica's PSI of each feature over the last monitoring.window_rows rows.",
                &["feature"],
            )?,
        ];
        Ok(MonitorCollector { monitor, descs })
    }

    fn labels(&self, feature: &str, bin: Option<usize>) -> Vec<LabelPair> {
        let pair = |name: &str, value: String| {
            let mut p = LabelPair::default();
            p.set_name(name.into());
            p.set_value(value);
            p
        };
        let mut labels = vec![
            pair("model", self.monitor.model.clone()),
            pair("version", self.monitor.version.to_string()),
            pair("feature", feature.to_string()),
        ];
        labels.extend(bin.map(|b| pair("bin", b.to_string())));
        labels
    }
}

fn family(desc: &Desc, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut family = MetricFamily::default();
    family.set_name(desc.fq_name.clone());
    family.set_help(desc.help.clone());
    family.set_field_type(kind);
    family.set_metric(metrics);
    family
}

fn counter(labels: Vec<LabelPair>, value: f64) -> Metric {
    let mut c = Counter::default();
    c.set_value(value);
    let mut m = Metric::from_label(labels);
    m.set_counter(c);
    m
}

fn gauge(labels: Vec<LabelPair>, value: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::from_label(labels);
    m.set_gauge(g);
    m
}

impl Collector for MonitorCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let (mut totals, mut ratios, mut psis) = (Vec::new(), Vec::new(), Vec::new());
        for (f, feature) in self.monitor.features.iter().enumerate() {
            let name = feature.column.name.as_str();
            let counts = self.monitor.totals(f);
            for (b, (count, share)) in counts.iter().zip(feature.shares).enumerate() {
                totals.push(counter(self.labels(name, Some(b)), *count as f64));
                ratios.push(gauge(self.labels(name, Some(b)), share));
            }
        }
        for (name, psi) in self.monitor.psi() {
            // No series before the first row: an empty window has no PSI.
            if let Some(psi) = psi {
                psis.push(gauge(self.labels(name, None), psi));
            }
        }
        vec![
            family(&self.descs[0], MetricType::COUNTER, totals),
            family(&self.descs[1], MetricType::GAUGE, ratios),
            family(&self.descs[2], MetricType::GAUGE, psis),
        ]
    }
}
