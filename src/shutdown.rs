//! The shutdown signal: SIGTERM (what Kubernetes and compose send) or Ctrl-C, and
//! the hard end of the grace period.

use crate::config::Config;
use std::time::Duration;

/// What happens between the shutdown signal and the end of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drain {
    /// Serving goes on, `/readyz` at 503, for this long (`shutdown_delay`).
    pub delay: Duration,
    /// Then the listener closes and in-flight work gets at most this long
    /// (`shutdown_grace_period`).
    pub grace: Duration,
}

impl Drain {
    /// The configured delay and grace period.
    pub fn from_config(config: &Config) -> Drain {
        Drain {
            delay: config.shutdown_delay,
            grace: config.shutdown_grace_period,
        }
    }

    /// The longest a shutdown may take, from the signal.
    pub fn total(&self) -> Duration {
        self.delay + self.grace
    }
}

/// Ends the process `longest` (the [`Drain::total`], plus a second's slack for the
/// orderly exit) after it is called, whatever is still running: a thread of its own, so neither a decode
/// holding a runtime worker nor a long model run can keep the process past its grace
/// period. `before_exit` runs first (the binary writes out its buffered log lines).
/// For the binary only; a library caller keeps its process.
pub fn exit_after(longest: Duration, before_exit: impl FnOnce() + Send + 'static) {
    let deadline = longest + Duration::from_secs(1);
    let spawned = std::thread::Builder::new()
        .name("grace-period".into())
        .spawn(move || {
            std::thread::sleep(deadline);
            tracing::warn!("shutdown grace period over with work still running; exiting");
            before_exit();
            eprintln!("inferd: shutdown grace period over with work still running; exiting");
            std::process::exit(0);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the grace-period thread");
    }
}

/// Completes on the first SIGTERM or SIGINT.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
