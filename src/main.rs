//! The `inferd` binary: parse flags, load the configuration, set up logs, bind, serve.

use clap::{Parser, Subcommand};

/// jemalloc gives memory freed after model loading back to the system: with the
/// bundled models, glibc keeps 74 MiB resident for good, jemalloc 42 MiB once idle
/// for 20 s (measured with /proc/PID/status). It is also faster for the hot path's
/// small allocations.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
use inferd::config::{Config, LogFormat, Sources};
use inferd::logs::{self, LogGuard, NonBlocking};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

/// Serve ONNX models over HTTP (`/predict`, TF Serving REST, KServe V2).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (missing is fine unless given explicitly).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:8080 (port 0 picks a free port).
    #[arg(long)]
    listen: Option<String>,
    /// Folder of models: <model>/<version>/model.onnx.
    #[arg(long)]
    model_repository: Option<String>,
    /// Model answering /predict when the body names none.
    #[arg(long)]
    default_model: Option<String>,
    /// Inference threads per model version (0 = one per core).
    #[arg(long)]
    workers: Option<String>,
    /// Log format: json or pretty.
    #[arg(long)]
    log_format: Option<String>,
    /// Log filter, e.g. info or inferd=debug.
    #[arg(long)]
    log_level: Option<String>,
    /// Any other key, e.g. --set cache.ttl=5s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// What to do; serving is the default.
    #[command(subcommand)]
    command: Option<Command>,
}

/// Subcommands besides serving.
#[derive(Subcommand)]
enum Command {
    /// Score a Parquet file with a model from the repository, without a server
    /// (README "Batch scoring").
    Score(inferd::score::ScoreArgs),
    /// Write baseline.json beside a model version from its training data, for
    /// drift monitoring (README "Monitoring").
    Baseline(inferd::monitoring::command::BaselineArgs),
    /// Exit 0 if the inferd this configuration describes answers 200 on PATH
    /// (the container image's HEALTHCHECK).
    Healthcheck {
        /// Path to ask, e.g. /readyz.
        #[arg(long, default_value = "/healthz")]
        path: String,
        /// Give up after this many milliseconds.
        #[arg(long, default_value_t = 2000)]
        timeout_ms: u64,
    },
}

impl Cli {
    fn flags(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut flags = Vec::new();
        let named = [
            ("listen", &self.listen),
            ("model_repository", &self.model_repository),
            ("default_model", &self.default_model),
            ("workers", &self.workers),
            ("log.format", &self.log_format),
            ("log.level", &self.log_level),
        ];
        for (key, value) in named {
            if let Some(v) = value {
                flags.push((key.to_string(), v.clone()));
            }
        }
        for pair in &self.set {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--set expects KEY=VALUE, got {pair:?}"))?;
            flags.push((k.trim().to_string(), v.trim().to_string()));
        }
        Ok(flags)
    }
}

fn main() {
    if let Err(e) = start() {
        // One sentence for the operator (and the log), not a backtrace.
        tracing::error!(error = %format!("{e:#}"), "start-up failed");
        eprintln!("inferd: {e:#}");
        std::process::exit(1);
    }
}

fn start() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The offline subcommands read no server configuration; each lives in its own
    // module and returns the exit code.
    match &cli.command {
        Some(Command::Score(args)) => std::process::exit(inferd::score::main(args)),
        Some(Command::Baseline(args)) => {
            std::process::exit(inferd::monitoring::command::main(args))
        }
        _ => {}
    }
    let mut sources = Sources {
        env: std::env::vars().collect(),
        flags: cli.flags()?,
        ..Sources::default()
    };
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from("config/inferd.toml"));
    let (config, ignored) = sources
        .read_file(&path, cli.config.is_some())
        .and_then(|()| Config::load_reporting(&sources))
        .unwrap_or_else(|message| {
            eprintln!("inferd: {message}");
            std::process::exit(2);
        });
    if let Some(Command::Healthcheck { path, timeout_ms }) = &cli.command {
        let timeout = std::time::Duration::from_millis(*timeout_ms);
        inferd::healthcheck::probe(config.listen, path, timeout).unwrap_or_else(|message| {
            eprintln!("inferd healthcheck: {message}");
            std::process::exit(1);
        });
        return Ok(());
    }
    // Dropping the guard writes out every buffered log line; both ways out of the
    // process below (the end of the drain, the end of the grace period) take it first,
    // since `process::exit` runs no destructors.
    let logs = Arc::new(Mutex::new(Some(init_logs(&config))));
    if let Some(line) = inferd::config::ignored_warning(&ignored) {
        tracing::warn!("{line}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let longest = inferd::shutdown::Drain::from_config(&config).total();
    let logs_at_exit = logs.clone();
    // The signal handlers are installed here, before the models load and the server
    // says it is listening (`inferd::shutdown::signal`).
    let stop = {
        let _inside = runtime.enter();
        inferd::shutdown::signal()
    };
    let shutdown = async move {
        stop.await;
        inferd::shutdown::exit_after(longest, move || flush_logs(&logs_at_exit));
    };
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {} (listen): {e}", config.listen))?;
        inferd::run(config, listener, shutdown).await
    })?;
    // Not `drop(runtime)`: that waits for blocking tasks, and a body still being
    // decoded past the grace period must not hold the exit.
    flush_logs(&logs);
    std::process::exit(0)
}

/// Writes out the buffered log lines and stops the writer (once; later calls do nothing).
fn flush_logs(logs: &Mutex<Option<LogGuard>>) {
    drop(logs.lock().unwrap_or_else(PoisonError::into_inner).take());
}

/// Logs go to stdout through a buffer a background thread writes out, so requests
/// never wait on the terminal or pipe (`inferd::logs`).
fn init_logs(config: &Config) -> LogGuard {
    let filter = tracing_subscriber::EnvFilter::new(&config.log.level);
    let (writer, guard) = NonBlocking::new(std::io::stdout(), logs::DEFAULT_CAPACITY);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer.clone());
    match config.log.format {
        LogFormat::Json => {
            logs::access::write_json_to(writer.clone());
            builder
                .fmt_fields(logs::json::JsonFields)
                .event_format(logs::json::JsonLines)
                .init()
        }
        LogFormat::Pretty => builder
            .pretty()
            .map_event_format(logs::request::WithRequestId)
            .init(),
    }
    guard
}
