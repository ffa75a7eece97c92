//! Typed configuration: built-in defaults < `config/inferd.toml` < `INFERD_*` < flags.
//!
//! Every source is turned into one TOML table, layered key by key, and deserialized
//! once, so a bad value is reported the same way wherever it came from: the key, the
//! value, the source and what is allowed. Sources are passed in as data (never read
//! from the process environment here), so tests can check precedence without
//! touching `std::env`.

mod env;
pub mod model;
pub mod units;

pub use env::ignored_warning;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Table, Value};

/// The whole service configuration (README "Configuration").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP listener binds.
    pub listen: SocketAddr,
    /// Folder holding `<model>/<version>/model.onnx`.
    pub model_repository: PathBuf,
    /// Model answering `/predict` when the body names none; must load or start-up fails.
    pub default_model: String,
    /// Longest a request may wait for its answer before a 504.
    #[serde(deserialize_with = "units::duration")]
    pub request_timeout: Duration,
    /// Longest the drain after SIGTERM may take before the process exits anyway.
    #[serde(deserialize_with = "units::duration")]
    pub shutdown_grace_period: Duration,
    /// After SIGTERM, how long `/readyz` answers 503 while requests are still
    /// served and accepted, before the drain: a load balancer's health checks take
    /// the replica out first (compose and plain Docker have no preStop hook).
    #[serde(deserialize_with = "units::duration")]
    pub shutdown_delay: Duration,
    /// Largest accepted request body; larger ones get 413.
    #[serde(deserialize_with = "units::size")]
    pub max_body_bytes: u64,
    /// Inference threads per model version; 0 = one per core.
    pub workers: usize,
    /// Result cache settings.
    pub cache: CacheConfig,
    /// Dynamic batching and queue settings.
    pub batching: BatchingConfig,
    /// Connection and body-reading bounds.
    pub http: HttpConfig,
    /// Log output settings.
    pub log: LogConfig,
    /// Drift monitoring settings.
    pub monitoring: MonitoringConfig,
    /// Reloading the model repository while serving.
    pub repository: RepositoryConfig,
    /// The admin API (the KServe V2 repository extension).
    pub admin: AdminConfig,
}

/// `[repository]` (README "Model lifecycle").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RepositoryConfig {
    /// How often the repository is rescanned for new, changed and removed versions;
    /// 0 = never (the admin API's `load` still rescans a model on demand).
    #[serde(deserialize_with = "units::duration")]
    pub poll_interval: Duration,
}

impl Default for RepositoryConfig {
    fn default() -> RepositoryConfig {
        RepositoryConfig {
            poll_interval: Duration::ZERO,
        }
    }
}

/// `[admin]`: the admin API is off (403) unless a token is set here.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// The bearer token admin requests must carry.
    pub token: Option<Secret>,
    /// A file whose first line is the token (for mounted secrets).
    pub token_file: Option<PathBuf>,
}

impl AdminConfig {
    /// Reads `token_file` into `token` (its first line, trimmed), once at start-up.
    pub fn read_token_file(&mut self) -> Result<(), String> {
        let Some(path) = self.token_file.take() else {
            return Ok(());
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "invalid configuration: admin.token_file {} cannot be read: {e}",
                path.display()
            )
        })?;
        let token = text.lines().next().unwrap_or("").trim();
        if token.is_empty() {
            return Err(format!(
                "invalid configuration: admin.token_file {} is empty: expected the token on its first line",
                path.display()
            ));
        }
        self.token = Some(Secret(token.to_string()));
        Ok(())
    }
}

/// A value never shown: `Debug` prints `<redacted>`, so a logged or printed
/// configuration cannot leak it. Numbers and booleans are taken as their text, as an
/// environment variable such as `INFERD_ADMIN__TOKEN=12345` arrives typed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        match Value::deserialize(d).map_err(|_| serde::de::Error::custom("expected a string"))? {
            Value::String(s) => Ok(Secret(s)),
            Value::Integer(i) => Ok(Secret(i.to_string())),
            Value::Boolean(b) => Ok(Secret(b.to_string())),
            _ => Err(serde::de::Error::custom("expected a string")),
        }
    }
}

/// `[cache]` (README "Result cache").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether results are cached at all.
    pub enabled: bool,
    /// Bound on the cache's total weight in bytes.
    #[serde(deserialize_with = "units::size")]
    pub max_bytes: u64,
    /// How long a result stays valid.
    #[serde(deserialize_with = "units::duration")]
    pub ttl: Duration,
    /// Cache per row or per whole request.
    pub granularity: Granularity,
}

/// What one cache entry holds.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One entry per input row: rows are independent (the default).
    Row,
    /// One entry per whole request: for models whose rows interact.
    Request,
}

/// `[batching]` (README "Batching and overload").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BatchingConfig {
    /// Most rows in one model run (a larger request is split into runs of this
    /// size), or `"auto"`: measured at each load (README "Batching and overload").
    pub max_batch_size: BatchSize,
    /// With `"auto"`, the longest one run of the chosen size may take.
    #[serde(deserialize_with = "units::duration")]
    pub max_batch_latency: Duration,
    /// Longest a batch waits to fill; 0 = take what is queued now.
    #[serde(deserialize_with = "units::duration")]
    pub max_queue_delay: Duration,
    /// Requests that may wait per model version before 503.
    pub queue_capacity: usize,
    /// Most rows one request may carry; counted while the body is parsed.
    pub max_request_rows: usize,
}

/// `batching.max_batch_size`: a number of rows, or `"auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    /// Time the model at each load and take the batch size with the best rows per
    /// second whose run fits `max_batch_latency` (`crate::batcher::auto`).
    Auto,
    /// This many rows at most per model run.
    Rows(usize),
}

impl<'de> Deserialize<'de> for BatchSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<BatchSize, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Rows(u64),
            Text(String),
        }
        const HELP: &str = r#"expected a number of rows greater than 0, or "auto""#;
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom(HELP))? {
            Raw::Rows(0) => Err(serde::de::Error::custom(format!("0 rows: {HELP}"))),
            Raw::Rows(n) => usize::try_from(n)
                .map(BatchSize::Rows)
                .map_err(|_| serde::de::Error::custom(format!("{n} rows is too many"))),
            Raw::Text(t) if t == "auto" => Ok(BatchSize::Auto),
            Raw::Text(_) => Err(serde::de::Error::custom(HELP)),
        }
    }
}

/// `[http]`: what a slow or hostile client may hold.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Longest a connection may take to send a request's headers before it is closed.
    #[serde(deserialize_with = "units::duration")]
    pub header_read_timeout: Duration,
    /// Longest a request body may take to arrive before a 408.
    #[serde(deserialize_with = "units::duration")]
    pub body_read_timeout: Duration,
    /// Bytes of request bodies held (being read, decoded or computed on) at once;
    /// a body past it gets 503. The README's "Hostile input" section gives the memory
    /// this bounds.
    #[serde(deserialize_with = "units::size")]
    pub decode_budget: u64,
}

/// `[monitoring]`: drift against each model version's `baseline.json`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringConfig {
    /// Rows in the window the replica's own PSI is computed over.
    pub window_rows: usize,
    /// Most features (outputs first, then inputs) monitored per model version, so a
    /// wide model cannot create unbounded series.
    pub max_features: usize,
}

impl Default for MonitoringConfig {
    fn default() -> MonitoringConfig {
        MonitoringConfig {
            window_rows: 10_000,
            max_features: 64,
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `json` for machines, `pretty` for people.
    pub format: LogFormat,
    /// A `tracing` filter directive such as `info` or `inferd=debug,info`.
    pub level: String,
    /// Which requests get an access-log line.
    pub requests: RequestLog,
}

/// Log line format.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable, coloured lines.
    Pretty,
}

/// `log.requests`: `true` (a line per request), `false` (none), or `"errors"` (only
/// answers with a 4xx or 5xx status). The lines are written at level `info`, so
/// `log.level` must let `info` through for them to appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLog {
    /// Every request.
    All,
    /// Answers with a status of 400 or more.
    Errors,
    /// No access log.
    Off,
}

impl<'de> Deserialize<'de> for RequestLog {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RequestLog, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Word(String),
        }
        let expected = "expected true, false or \"errors\"";
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom(expected))? {
            Raw::Flag(true) => Ok(RequestLog::All),
            Raw::Flag(false) => Ok(RequestLog::Off),
            Raw::Word(w) if w == "errors" => Ok(RequestLog::Errors),
            Raw::Word(w) => Err(serde::de::Error::custom(format!("{expected}, not {w:?}"))),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            model_repository: PathBuf::from("models"),
            default_model: "stock-forecaster".into(),
            request_timeout: Duration::from_secs(30),
            shutdown_grace_period: Duration::from_secs(20),
            shutdown_delay: Duration::ZERO,
            max_body_bytes: 16 << 20,
            workers: 0,
            cache: CacheConfig::default(),
            batching: BatchingConfig::default(),
            http: HttpConfig::default(),
            log: LogConfig::default(),
            monitoring: MonitoringConfig::default(),
            repository: RepositoryConfig::default(),
            admin: AdminConfig::default(),
        }
    }
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            enabled: true,
            max_bytes: 256 << 20,
            ttl: Duration::from_secs(60),
            granularity: Granularity::Row,
        }
    }
}

impl Default for BatchingConfig {
    fn default() -> BatchingConfig {
        BatchingConfig {
            max_batch_size: BatchSize::Auto,
            max_batch_latency: Duration::from_millis(10),
            max_queue_delay: Duration::ZERO,
            queue_capacity: 1024,
            max_request_rows: 65536,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> HttpConfig {
        HttpConfig {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            decode_budget: 32 << 20,
        }
    }
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig {
            format: LogFormat::Json,
            level: "info".into(),
            requests: RequestLog::All,
        }
    }
}

/// The raw sources, in increasing precedence.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// Contents and name of the config file, if one was read.
    pub file: Option<(String, String)>,
    /// Environment variables (all of them; only `INFERD_*` are used).
    pub env: Vec<(String, String)>,
    /// Flag values as dotted keys, e.g. `("listen", "127.0.0.1:0")`.
    pub flags: Vec<(String, String)>,
}

impl Sources {
    /// Reads the file at `path`; a missing file is fine only when `required` is false.
    pub fn read_file(&mut self, path: &Path, required: bool) -> Result<(), String> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                self.file = Some((path.display().to_string(), text));
                Ok(())
            }
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("cannot read config file {}: {e}", path.display())),
        }
    }
}

impl Config {
    /// Layers the sources and validates the result; the error is one clear sentence.
    pub fn load(sources: &Sources) -> Result<Config, String> {
        Config::load_reporting(sources).map(|(config, _)| config)
    }

    /// As [`Config::load`], also returning the `INFERD_*` variables ignored because
    /// they name no key (see [`ignored_warning`]).
    pub fn load_reporting(sources: &Sources) -> Result<(Config, Vec<String>), String> {
        let mut table = Table::new();
        let mut origin: BTreeMap<String, String> = BTreeMap::new();
        if let Some((name, text)) = &sources.file {
            check_depth(text, &format!("config file {name}"))?;
            let file: Table = text
                .parse()
                .map_err(|e| format!("config file {name} is not valid TOML: {e}"))?;
            record_origins(&file, "", name, &mut origin);
            table = file;
        }
        let env = env::split(&sources.env);
        for (key, path, value) in env.known {
            set_path(&mut table, &path, value);
            origin.insert(path, format!("environment variable {key}"));
        }
        for (path, value) in &sources.flags {
            check_key_depth(path, &format!("flag --set {path:.40}"))?;
            set_path(&mut table, path, scalar(value));
            let flag = if FLAGS.contains(&path.as_str()) {
                format!("flag --{}", path.replace(['.', '_'], "-"))
            } else {
                format!("flag --set {path}={value}")
            };
            origin.insert(path.clone(), flag);
        }
        let config: Config = serde_path_to_error::deserialize(Value::Table(table.clone()))
            .map_err(|e| {
                let key = e.path().to_string();
                let from = origin
                    .get(&key)
                    .map(String::as_str)
                    .unwrap_or("configuration");
                // A secret's value is never repeated, not even a badly typed one.
                // Arrays and tables are not either: the message stays one line, and
                // printing a deeply nested one recursed deep enough to overflow the
                // stack under the fuzzer's AddressSanitizer.
                let shown = lookup(&table, &key)
                    .filter(|_| !key.starts_with("admin."))
                    .filter(|v| !v.is_array() && !v.is_table())
                    .map(|v| format!(" = {v}"))
                    .unwrap_or_default();
                format!(
                    "invalid configuration: {key}{shown} (from {from}): {}",
                    plain(e.inner())
                )
            })?;
        config.validate()?;
        let mut config = config;
        config.admin.read_token_file()?;
        Ok((config, env.ignored))
    }

    /// Checks what types alone cannot say.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("batching.queue_capacity", self.batching.queue_capacity),
            ("max_body_bytes", self.max_body_bytes as usize),
            ("monitoring.window_rows", self.monitoring.window_rows),
            ("monitoring.max_features", self.monitoring.max_features),
            ("batching.max_request_rows", self.batching.max_request_rows),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(format!(
                    "invalid configuration: {key} = 0: expected a number greater than 0"
                ));
            }
        }
        if self.request_timeout.is_zero() {
            return Err("invalid configuration: request_timeout = \"0s\": expected a duration greater than 0".into());
        }
        let timeouts = [
            ("http.header_read_timeout", self.http.header_read_timeout),
            ("http.body_read_timeout", self.http.body_read_timeout),
        ];
        if let Some((key, _)) = timeouts.iter().find(|(_, t)| t.is_zero()) {
            return Err(format!(
                "invalid configuration: {key} = \"0s\": expected a duration greater than 0"
            ));
        }
        if self.http.decode_budget < self.max_body_bytes {
            return Err(format!(
                "invalid configuration: http.decode_budget = {} is smaller than max_body_bytes = {}: a body of the largest accepted size could never be read",
                self.http.decode_budget, self.max_body_bytes
            ));
        }
        if self.admin.token.is_some() && self.admin.token_file.is_some() {
            return Err(
                "invalid configuration: admin.token and admin.token_file are both set: give one"
                    .into(),
            );
        }
        if self.default_model.is_empty() {
            return Err(
                "invalid configuration: default_model is empty: expected a model name".into(),
            );
        }
        // tracing-subscriber 0.3 panics on a directive with leading spaces and a
        // multi-byte character (it slices the untrimmed text at the trimmed text's
        // offsets; found by `fuzz/` config target). Targets and levels are ASCII.
        if !self.log.level.is_ascii() {
            return Err(format!(
                "invalid configuration: log.level = {:?}: expected ASCII, a level such as \"info\" or \"inferd=debug,info\"",
                self.log.level
            ));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level).map_err(|e| {
            format!(
                "invalid configuration: log.level = {:?}: expected a level such as \"info\" or \"inferd=debug,info\" ({e})",
                self.log.level
            )
        })?;
        Ok(())
    }

    /// Inference threads to start per model version.
    pub fn worker_threads(&self) -> usize {
        if self.workers > 0 {
            self.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

/// Keys that have a flag of their own (the rest are set with `--set key=value`).
const FLAGS: [&str; 6] = [
    "listen",
    "model_repository",
    "default_model",
    "workers",
    "log.format",
    "log.level",
];

/// serde's message without toml's key suffix and with Rust type names in words.
pub(crate) fn plain(e: &toml::de::Error) -> String {
    e.message()
        .replace("expected usize", "expected a whole number")
        .replace("expected u64", "expected a whole number")
        .replace("expected a boolean", "expected true or false")
}

/// Env vars and flags are strings; integers and booleans become typed TOML values
/// so `INFERD_WORKERS=4` fills an integer field.
fn scalar(text: &str) -> Value {
    if let Ok(i) = text.parse::<i64>() {
        Value::Integer(i)
    } else if let Ok(b) = text.parse::<bool>() {
        Value::Boolean(b)
    } else {
        Value::String(text.to_string())
    }
}

/// Deepest nesting a configuration file needs (a section holding an array of
/// arrays, with room to spare). Deeper text is refused before it is parsed: parsing,
/// deserializing and dropping recurse once per level, and a few dozen levels
/// overflowed a test thread's stack (found by the config fuzzer).
pub(crate) const MAX_DEPTH: usize = 16;

/// Refuses TOML text that nests past [`MAX_DEPTH`]: more open brackets or braces
/// than that, or more dots on one line (a dotted key `a.b.c = 1` or a header
/// `[a.b.c]` nests a table per dot, with no bracket at all). Quoted strings and
/// comments are skipped; a float's one dot counts, which no real line comes near.
pub(crate) fn check_depth(text: &str, name: &str) -> Result<(), String> {
    let mut brackets = 0usize;
    let mut dots = 0usize;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\n' {
            dots = 0;
        }
        if let Some(q) = quote {
            if c == '\\' && q == '"' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '#' => {
                // The comment ends at the line's end, which also ends the line's dots.
                chars.by_ref().find(|&c| c == '\n');
                dots = 0;
            }
            '[' | '{' => brackets += 1,
            ']' | '}' => brackets = brackets.saturating_sub(1),
            '.' => dots += 1,
            _ => {}
        }
        if brackets > MAX_DEPTH || dots > MAX_DEPTH {
            return Err(format!(
                "{name} nests tables or arrays more than {MAX_DEPTH} levels deep; no setting needs that"
            ));
        }
    }
    Ok(())
}

/// Refuses a dotted key from an environment variable or a flag with more parts
/// than any key has (each part would nest one more table).
fn check_key_depth(path: &str, from: &str) -> Result<(), String> {
    if path.split('.').count() > MAX_DEPTH {
        return Err(format!(
            "invalid configuration: {from} names a key nested more than {MAX_DEPTH} levels deep; no setting is"
        ));
    }
    Ok(())
}

fn set_path(table: &mut Table, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        current = entry.as_table_mut().expect("just made a table");
    }
    current.insert(last.to_string(), value);
}

fn lookup<'a>(table: &'a Table, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

fn record_origins(table: &Table, prefix: &str, name: &str, origin: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            Value::Table(inner) => record_origins(inner, &path, name, origin),
            _ => {
                origin.insert(path, format!("config file {name}"));
            }
        }
    }
}

#[cfg(test)]
mod tests;
