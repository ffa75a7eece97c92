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

/// Installs the SIGTERM and SIGINT handlers now and returns a future that completes
/// on the first of them. Installing them at once, before the server logs that it is
/// listening, matters: until a handler is installed a SIGTERM takes the default
/// action and kills the process with no drain, and an `async fn` would install it
/// only when first polled. A signal that arrives before the future is polled (during
/// start-up) is kept, and the drain starts as soon as serving does. Call it inside
/// the runtime.
pub fn signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let handlers = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (term, int) = handlers;
            let wait = |handler: Option<tokio::signal::unix::Signal>| async move {
                match handler {
                    Some(mut handler) => {
                        handler.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(term) => {}
                () = wait(int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
