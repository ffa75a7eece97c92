//! Per-model settings from `models/<model>/model.toml`, layered over the global ones.

use super::{units, BatchingConfig, CacheConfig, Config, Granularity};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What `model.toml` may override; anything absent falls back to the global value.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ModelToml {
    /// Inference threads for this model.
    pub workers: Option<usize>,
    /// Whether NaN / infinite inputs may reach the model (default: refused with 400).
    pub allow_nan: Option<bool>,
    /// Cache overrides.
    pub cache: CacheOverride,
    /// Batching overrides.
    pub batching: BatchingOverride,
    /// Names of the input's columns, for drift monitoring (default `f0`, `f1`, ...).
    pub feature_names: Option<Vec<String>>,
    /// Which versions on disk are served.
    pub version_policy: VersionPolicy,
    /// Names for versions (`stable = 1`), served at the label routes; a labelled
    /// version is served whatever the policy says.
    pub labels: BTreeMap<String, u64>,
}

/// `version_policy` (README "Model lifecycle"): `"latest"` (the default), `"all"`,
/// `{ latest = N }` or `{ specific = [1, 3] }`. "Latest" counts versions that load:
/// a newer version that fails to load leaves the one before it serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionPolicy {
    /// The N highest version numbers that load.
    Latest(usize),
    /// Every version on disk.
    All,
    /// These versions, where they are on disk.
    Specific(Vec<u64>),
}

impl Default for VersionPolicy {
    fn default() -> VersionPolicy {
        VersionPolicy::Latest(1)
    }
}

impl<'de> Deserialize<'de> for VersionPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<VersionPolicy, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Latest { latest: usize },
            Specific { specific: Vec<u64> },
        }
        let expected = "expected \"latest\", \"all\", { latest = N } or { specific = [versions] }";
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom(expected))? {
            Raw::Word(w) if w == "latest" => Ok(VersionPolicy::Latest(1)),
            Raw::Word(w) if w == "all" => Ok(VersionPolicy::All),
            Raw::Word(w) => Err(serde::de::Error::custom(format!("{expected}, not {w:?}"))),
            Raw::Latest { latest: 0 } => Err(serde::de::Error::custom(
                "latest = 0 would serve nothing; expected 1 or more",
            )),
            Raw::Latest { latest } => Ok(VersionPolicy::Latest(latest)),
            Raw::Specific { specific } if specific.is_empty() => Err(serde::de::Error::custom(
                "specific = [] would serve nothing; list at least one version",
            )),
            Raw::Specific { specific } => Ok(VersionPolicy::Specific(specific)),
        }
    }
}

/// `[cache]` in `model.toml`; the byte bound stays global because the cache is shared.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CacheOverride {
    /// Cache this model's results at all.
    pub enabled: Option<bool>,
    /// Time to live of this model's results.
    #[serde(deserialize_with = "units::opt_duration")]
    pub ttl: Option<Duration>,
    /// Per row or per request.
    pub granularity: Option<Granularity>,
}

/// `[batching]` in `model.toml`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BatchingOverride {
    /// Most rows per model run for this model.
    pub max_batch_size: Option<super::BatchSize>,
    /// With `"auto"`, the longest one run of this model may take.
    #[serde(deserialize_with = "units::opt_duration")]
    pub max_batch_latency: Option<Duration>,
    /// Longest a batch of this model waits to fill.
    #[serde(deserialize_with = "units::opt_duration")]
    pub max_queue_delay: Option<Duration>,
    /// Queue bound for this model.
    pub queue_capacity: Option<usize>,
}

/// Settings in force for one model, after layering.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSettings {
    /// Inference threads.
    pub workers: usize,
    /// Whether non-finite inputs are passed to the model.
    pub allow_nan: bool,
    /// Cache settings.
    pub cache: CacheConfig,
    /// Batching settings.
    pub batching: BatchingConfig,
    /// Names of the input's columns, if `model.toml` gives them.
    pub feature_names: Option<Vec<String>>,
}

impl ModelToml {
    /// Parses `model.toml` text; `name` is used in the error.
    pub fn parse(text: &str, name: &str) -> Result<ModelToml, String> {
        super::check_depth(text, name)?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("{name} is not valid TOML: {e}"))?;
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            format!(
                "invalid setting {} in {name}: {}",
                e.path(),
                super::plain(e.inner())
            )
        })
    }

    /// Reads `<model_dir>/model.toml`; a folder without one gets the defaults.
    pub fn read(model_dir: &std::path::Path) -> Result<ModelToml, String> {
        let path = model_dir.join("model.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => ModelToml::parse(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ModelToml::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Checks what types alone cannot say about the model-level keys.
    pub fn check(&self, name: &str) -> Result<(), String> {
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
        match self
            .labels
            .keys()
            .find(|l| l.is_empty() || !l.chars().all(plain))
        {
            Some(bad) => Err(format!(
                "invalid label {bad:?} in {name}: labels are letters, digits, '_', '-' and '.'"
            )),
            None => Ok(()),
        }
    }

    /// Layers these overrides on the global configuration.
    pub fn resolve(&self, global: &Config) -> Result<ModelSettings, String> {
        let b = &self.batching;
        let c = &self.cache;
        let settings = ModelSettings {
            workers: match self.workers {
                Some(n) if n > 0 => n,
                _ => global.worker_threads(),
            },
            allow_nan: self.allow_nan.unwrap_or(false),
            cache: CacheConfig {
                enabled: c.enabled.unwrap_or(global.cache.enabled) && global.cache.enabled,
                max_bytes: global.cache.max_bytes,
                ttl: c.ttl.unwrap_or(global.cache.ttl),
                granularity: c.granularity.unwrap_or(global.cache.granularity),
            },
            batching: BatchingConfig {
                max_batch_size: b.max_batch_size.unwrap_or(global.batching.max_batch_size),
                max_batch_latency: b
                    .max_batch_latency
                    .unwrap_or(global.batching.max_batch_latency),
                max_queue_delay: b.max_queue_delay.unwrap_or(global.batching.max_queue_delay),
                queue_capacity: b.queue_capacity.unwrap_or(global.batching.queue_capacity),
                max_request_rows: global.batching.max_request_rows,
            },
            feature_names: self.feature_names.clone(),
        };
        if settings.batching.queue_capacity == 0 {
            return Err("batching.queue_capacity must be greater than 0".into());
        }
        Ok(settings)
    }
}
