//! A fake model for tests and benchmarks: counts its calls, records its batch sizes,
//! and can be told to block, fail or panic, so queueing, batching and error paths can
//! be exercised without depending on an engine's timing.

use crate::model::{Model, ModelError, Signature, TensorSpec};
use crate::tensor::{DataType, Tensor};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

/// What the fake does when called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Answer `y = x0 + 10 * x1` per row.
    Answer,
    /// Return an engine error.
    Fail,
    /// Panic inside `predict`.
    Panic,
    /// Answer one row more than it was given (a model breaking its signature).
    ExtraRow,
    /// Sleep this many milliseconds per run, whatever its rows, then answer.
    SleepMs(u64),
    /// Return an engine error when any row's `x0` is negative (a failure caused
    /// by one request's values, like an unknown category), answer otherwise.
    FailOnNegative,
}

/// Input `x` FP32 `[-1, 2]`, output `y` FP32 `[-1, 1]` = `x0 + 10 * x1`.
pub struct FakeModel {
    signature: Signature,
    behaviour: Behaviour,
    /// Model runs so far.
    pub calls: AtomicUsize,
    /// Runs that have started (including ones waiting at the gate).
    pub entered: AtomicUsize,
    /// Rows of every run, in order.
    pub batches: Mutex<Vec<usize>>,
    /// The thread of every run, in order.
    pub run_threads: Mutex<Vec<std::thread::ThreadId>>,
    /// When set, each run first waits for one message (or for the sender to drop).
    gate: Mutex<Option<mpsc::Receiver<()>>>,
    /// What [`Model::max_run_rows`] answers.
    max_run_rows: Option<usize>,
}

impl FakeModel {
    /// A fake with the given behaviour.
    pub fn new(behaviour: Behaviour) -> FakeModel {
        let spec = |name: &str, cols| TensorSpec {
            name: name.into(),
            dtype: DataType::F32,
            shape: vec![-1, cols],
        };
        FakeModel {
            signature: Signature {
                inputs: vec![spec("x", 2)],
                outputs: vec![spec("y", 1)],
            },
            behaviour,
            calls: AtomicUsize::new(0),
            entered: AtomicUsize::new(0),
            batches: Mutex::new(Vec::new()),
            run_threads: Mutex::new(Vec::new()),
            gate: Mutex::new(None),
            max_run_rows: None,
        }
    }

    /// Says runs past `rows` rows are slow, as an engine would.
    pub fn with_max_run_rows(self, rows: usize) -> FakeModel {
        FakeModel {
            max_run_rows: Some(rows),
            ..self
        }
    }

    /// Makes every run wait for a message on the returned sender.
    pub fn gated(self) -> (FakeModel, mpsc::Sender<()>) {
        let (tx, rx) = mpsc::channel();
        *self.gate.lock().expect("gate lock") = Some(rx);
        (self, tx)
    }

    /// Model runs so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Waits (real time, at most 10 s) until `n` runs have started, letting the
    /// async runtime make progress meanwhile; panics if they never do.
    pub async fn wait_entered(&self, n: usize) {
        for _ in 0..10_000 {
            if self.entered.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::task::yield_now().await;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("the fake model never started run {n}");
    }

    /// Rows of every run so far.
    pub fn batches(&self) -> Vec<usize> {
        self.batches.lock().expect("batches lock").clone()
    }

    /// The answer this model gives for one row.
    pub fn expected(x0: f32, x1: f32) -> f32 {
        x0 + 10.0 * x1
    }
}

impl Model for FakeModel {
    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn max_run_rows(&self) -> Option<usize> {
        self.max_run_rows
    }

    fn predict(&self, inputs: Vec<Tensor>) -> Result<Vec<Tensor>, ModelError> {
        self.entered.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = self.gate.lock().expect("gate lock").as_ref() {
            let _ = gate.recv();
        }
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.batches
            .lock()
            .expect("batches lock")
            .push(inputs[0].rows());
        self.run_threads
            .lock()
            .expect("run_threads lock")
            .push(std::thread::current().id());
        let negative = || inputs[0].to_f64_vec().chunks(2).any(|r| r[0] < 0.0);
        match self.behaviour {
            Behaviour::Fail => return Err(ModelError::Engine("secret engine detail".into())),
            Behaviour::FailOnNegative if negative() => {
                return Err(ModelError::Input("negative x0".into()))
            }
            Behaviour::Panic => panic!("fake model panicked"),
            Behaviour::SleepMs(ms) => std::thread::sleep(std::time::Duration::from_millis(ms)),
            Behaviour::Answer | Behaviour::ExtraRow | Behaviour::FailOnNegative => {}
        }
        let x: Vec<f32> = inputs[0].to_f64_vec().iter().map(|&v| v as f32).collect();
        let mut y: Vec<f32> = x
            .chunks(2)
            .map(|r| FakeModel::expected(r[0], r[1]))
            .collect();
        if self.behaviour == Behaviour::ExtraRow {
            y.push(0.0);
        }
        let out = Tensor::from_f32(vec![y.len(), 1], &y).map_err(ModelError::Engine)?;
        Ok(vec![out])
    }
}

/// Collects what a tracing fmt subscriber writes, for tests of log lines: hand a
/// clone to `.with_writer(..)`, read [`LogCapture::text`] afterwards.
#[derive(Clone)]
pub struct LogCapture(std::sync::Arc<Mutex<Vec<u8>>>);

impl Default for LogCapture {
    fn default() -> Self {
        keep_callsites_open();
        LogCapture(Default::default())
    }
}

/// Installs, once per process, a global subscriber that records nothing but keeps
/// every callsite's cached interest at "sometimes".
///
/// Why: tracing caches each callsite's interest process-wide. While exactly one
/// subscriber is registered, a callsite first reached on a thread that has none
/// (another test running in parallel) asks only that thread, gets "never", and a
/// test's scoped capture then silently misses that callsite's lines. With this one
/// always registered beside the test's own, every callsite is asked per event.
fn keep_callsites_open() {
    use tracing_subscriber::layer::SubscriberExt;
    static ONCE: std::sync::Once = std::sync::Once::new();
    // A dynamic filter with no level hint answers "sometimes" for every callsite,
    // and its `false` enables nothing. The result is Err only if something else set
    // a global subscriber first, which then answers instead.
    ONCE.call_once(|| {
        let unrecorded = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::dynamic_filter_fn(|_, _| false));
        drop(tracing::subscriber::set_global_default(unrecorded));
    });
}

impl LogCapture {
    /// Everything written so far.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;

    fn make_writer(&'a self) -> LogCapture {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::LogCapture;

    /// One callsite, reached from two threads.
    fn say_hello() {
        tracing::info!("hello from the shared callsite");
    }

    #[test]
    fn a_capture_sees_a_callsite_first_reached_on_a_thread_without_a_subscriber() {
        let captured = LogCapture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(captured.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // Registers the callsite while this thread's capture may be the only
            // scoped subscriber: the interest cached must not be that thread's "never".
            std::thread::spawn(say_hello).join().unwrap();
            say_hello();
        });
        let text = captured.text();
        assert_eq!(
            text.matches("hello from the shared callsite").count(),
            1,
            "{text:?}"
        );
    }
}
