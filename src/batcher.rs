//! Dynamic batching: one bounded queue and a pool of inference threads per model version.
//!
//! The shape follows text-embeddings-inference: an async `batch_task` owns the queue,
//! waits until an inference thread is free, then takes whatever is queued (up to
//! `max_batch_size` rows, waiting at most `max_queue_delay` for more) and hands the
//! batch to a dedicated OS thread, so slow runs never hold the async runtime's
//! workers. A model whose batch runs in microseconds runs in the batching task
//! instead, where the hand-over would cost more than the run ([`placement`]).
//! Each request gets its rows back through a oneshot channel. Requests whose
//! caller has gone are skipped; requests whose deadline passed are answered 504 without
//! reaching the model. A full queue answers 503 at once, so memory stays bounded.

pub mod auto;
pub mod placement;
mod series;
mod split;
mod worker;

use crate::config::BatchingConfig;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::model::Model;
use crate::tensor::Tensor;
use placement::Placement;
use series::Series;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use tokio::time::{timeout_at, Instant};

/// Rows to compute for one request, and where to send them.
struct Job {
    /// Inputs in signature order, all with `rows` rows.
    inputs: Vec<Tensor>,
    /// Rows in this request.
    rows: usize,
    /// The waiting request; closed when the client has gone.
    reply: oneshot::Sender<Answer>,
    /// When the request stops being worth computing.
    deadline: Option<Instant>,
    /// When it was queued, for the queue-time metric and the batching delay.
    queued_at: Instant,
    /// The same moment on the OS clock, which inference threads can read.
    queued_wall: std::time::Instant,
}

/// Where a request's time went, for response headers and its log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timing {
    /// From queueing to the start of the model run.
    pub queue: Duration,
    /// The model run (shared with the other requests in the batch).
    pub inference: Duration,
}

impl Timing {
    /// Both parts added, for a request that needed more than one run.
    pub fn plus(self, other: Timing) -> Timing {
        Timing {
            queue: self.queue + other.queue,
            inference: self.inference + other.inference,
        }
    }
}

/// A request's outputs and where its time went.
pub type Computed = (Vec<Tensor>, Timing);

/// What a request is finally told.
type Answer = Result<Computed, ApiError>;

/// A batch's answers, handed from an inference thread to the runtime in one go.
type Delivery = Vec<(oneshot::Sender<Answer>, Answer)>;

/// Sends each request its answer, on the runtime, where waking a task is cheap.
async fn deliver_task(mut deliveries: mpsc::UnboundedReceiver<Delivery>) {
    while let Some(delivery) = deliveries.recv().await {
        deliver(delivery);
    }
}

/// Sends each request of a batch its answer (a caller that has gone is skipped).
fn deliver(delivery: Delivery) {
    for (reply, answer) in delivery {
        let _ = reply.send(answer);
    }
}

/// A batch ready for an inference thread.
struct Batch {
    jobs: Vec<Job>,
    /// Held until the run ends, so the batcher forms the next batch only when a thread is free.
    _permit: OwnedSemaphorePermit,
}

/// Which model a batcher serves, for metric labels.
#[derive(Debug, Clone)]
pub struct Labels {
    /// Model name.
    pub model: String,
    /// Version number as text.
    pub version: String,
}

/// Handle to one model version's queue; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    /// The bounded queue; `try_send` failing means 503.
    queue: mpsc::Sender<Job>,
    /// Most rows per model run: larger requests of a batched model are split
    /// into runs of at most this many rows (`usize::MAX` for models whose first
    /// dimension is fixed, which always run one request at a time).
    batch_rows: usize,
    metrics: Metrics,
    labels: Labels,
    series: Arc<Series>,
}

/// What a queued request resolves to.
pub type Reply = oneshot::Receiver<Answer>;

impl Batcher {
    /// Starts the batching task (on the current runtime) and, for
    /// [`Placement::Threads`], its inference threads; `batch_size` is the most rows
    /// per run in force ([`auto::BatchChoice::rows`]).
    pub fn start(
        model: Arc<dyn Model>,
        settings: &BatchingConfig,
        batch_size: usize,
        placement: Placement,
        metrics: Metrics,
        labels: Labels,
    ) -> Batcher {
        let (queue, receiver) = mpsc::channel(settings.queue_capacity);
        let series = Arc::new(Series::new(&metrics, &labels));
        let (runs, workers) = match placement {
            Placement::Runtime => (Runs::Inline(model.clone()), 1),
            Placement::Threads(workers) => {
                let workers = workers.max(1);
                let (work_tx, work_rx) = crossbeam_channel::unbounded();
                let (replies, deliveries) = mpsc::unbounded_channel();
                tokio::spawn(deliver_task(deliveries));
                for i in 0..workers {
                    worker::spawn(
                        i,
                        model.clone(),
                        work_rx.clone(),
                        replies.clone(),
                        series.clone(),
                        labels.clone(),
                    );
                }
                (Runs::Threads(work_tx), workers)
            }
        };
        // Non-batched models (no dynamic first dimension) run one request at a time,
        // whatever its (fixed) number of rows.
        let batched = model.signature().is_batched();
        let max_rows = if batched { batch_size } else { 1 };
        metrics
            .queue_capacity
            .with_label_values(&[&labels.model])
            .set(settings.queue_capacity as i64);
        let task = BatchTask {
            receiver,
            runs,
            free_workers: Arc::new(Semaphore::new(workers)),
            max_rows,
            max_delay: settings.max_queue_delay,
            metrics: metrics.clone(),
            labels: labels.clone(),
            series: series.clone(),
        };
        tokio::spawn(task.run());
        Batcher {
            queue,
            batch_rows: if batched {
                batch_size.max(1)
            } else {
                usize::MAX
            },
            metrics,
            labels,
            series,
        }
    }

    /// Most rows one request may carry: no bound here, as larger requests are
    /// split into several runs (the body size bounds a request).
    pub fn max_rows(&self) -> usize {
        usize::MAX
    }

    /// Queues a request without waiting; fails at once when the queue is full.
    pub fn enqueue(
        &self,
        inputs: Vec<Tensor>,
        rows: usize,
        deadline: Option<Instant>,
    ) -> Result<Reply, ApiError> {
        let (reply, receiver) = oneshot::channel();
        let job = Job {
            inputs,
            rows,
            reply,
            deadline,
            queued_at: Instant::now(),
            queued_wall: std::time::Instant::now(),
        };
        match self.queue.try_send(job) {
            Ok(()) => {
                self.series.queue_depth.inc();
                Ok(receiver)
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.reject("queue_full");
                Err(ApiError::Unavailable {
                    message: format!(
                        "model `{}` is overloaded: its queue is full; retry shortly",
                        self.labels.model
                    ),
                    retry_after_secs: 1,
                })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(ApiError::Unavailable {
                message: "the server is shutting down; retry on another replica".into(),
                retry_after_secs: 1,
            }),
        }
    }

    /// Queues a request and waits for its outputs, at most until `deadline`. A
    /// request with more rows than one run takes is queued as several jobs of
    /// at most `max_batch_size` rows, and their outputs are joined in order.
    pub async fn submit(
        &self,
        inputs: Vec<Tensor>,
        rows: usize,
        deadline: Option<Instant>,
    ) -> Result<Computed, ApiError> {
        if rows <= self.batch_rows {
            return self.submit_one(inputs, rows, deadline).await;
        }
        self.submit_split(&inputs, rows, deadline).await
    }

    async fn submit_one(
        &self,
        inputs: Vec<Tensor>,
        rows: usize,
        deadline: Option<Instant>,
    ) -> Result<Computed, ApiError> {
        // No span of its own: the request's log line carries the queue and
        // inference times (README "Request logs").
        let reply = self.enqueue(inputs, rows, deadline)?;
        self.wait(reply, deadline).await
    }

    async fn wait(&self, reply: Reply, deadline: Option<Instant>) -> Result<Computed, ApiError> {
        let answer = match deadline {
            Some(at) => match timeout_at(at, reply).await {
                Ok(answer) => answer,
                Err(_) => {
                    self.reject("deadline");
                    return Err(deadline_error());
                }
            },
            None => reply.await,
        };
        answer.unwrap_or_else(|_| {
            Err(ApiError::Internal(
                "inference thread dropped a request".into(),
            ))
        })
    }

    fn reject(&self, reason: &str) {
        self.metrics
            .rejected
            .with_label_values(&[&self.labels.model, reason])
            .inc();
    }
}

/// Rows can be stacked only when every input has the same shape after the batch
/// dimension (models with other dynamic dimensions, such as sequence length, get
/// requests of different widths).
fn same_row_shapes(a: &Job, b: &Job) -> bool {
    a.inputs
        .iter()
        .zip(&b.inputs)
        .all(|(x, y)| x.shape.get(1..) == y.shape.get(1..))
}

fn deadline_error() -> ApiError {
    ApiError::DeadlineExceeded(
        "the request deadline (request_timeout) passed before it was computed".into(),
    )
}

/// Where the batching task sends its batches.
enum Runs {
    /// Runs each batch itself, then answers its requests ([`Placement::Runtime`]).
    Inline(Arc<dyn Model>),
    /// Hands each batch to the inference threads.
    Threads(crossbeam_channel::Sender<Batch>),
}

/// The loop that turns queued requests into batches.
struct BatchTask {
    receiver: mpsc::Receiver<Job>,
    runs: Runs,
    free_workers: Arc<Semaphore>,
    max_rows: usize,
    max_delay: std::time::Duration,
    metrics: Metrics,
    labels: Labels,
    series: Arc<Series>,
}

impl BatchTask {
    async fn run(mut self) {
        // A request that did not fit the previous batch opens the next one.
        let mut carried: Option<Job> = None;
        loop {
            let Ok(permit) = self.free_workers.clone().acquire_owned().await else {
                return;
            };
            let first = match carried.take() {
                Some(job) => job,
                None => match self.receiver.recv().await {
                    Some(job) => self.taken(job),
                    None => return,
                },
            };
            if matches!(self.runs, Runs::Inline(_)) {
                // The run will hold this worker: first let the tasks whose requests
                // are already readable queue them, so they share this run rather
                // than each waiting for a run of its own (tokio runs a yielded task
                // again only after the others and a poll of the sockets).
                tokio::task::yield_now().await;
            }
            let mut jobs = Vec::new();
            let mut rows = 0;
            let close_at = first.queued_at + self.max_delay;
            self.admit(first, &mut jobs, &mut rows);
            while rows < self.max_rows {
                let next = match self.receiver.try_recv() {
                    Ok(job) => job,
                    Err(mpsc::error::TryRecvError::Empty) if Instant::now() < close_at => {
                        match timeout_at(close_at, self.receiver.recv()).await {
                            Ok(Some(job)) => job,
                            _ => break,
                        }
                    }
                    Err(_) => break,
                };
                let next = self.taken(next);
                let fits = rows + next.rows <= self.max_rows
                    && jobs
                        .first()
                        .is_none_or(|first| same_row_shapes(first, &next));
                if rows > 0 && !fits {
                    carried = Some(next);
                    break;
                }
                self.admit(next, &mut jobs, &mut rows);
            }
            if jobs.is_empty() {
                continue;
            }
            let batch = Batch {
                jobs,
                _permit: permit,
            };
            match &self.runs {
                Runs::Inline(model) => deliver(worker::run_batch(
                    model.as_ref(),
                    batch,
                    &self.series,
                    &self.labels,
                )),
                Runs::Threads(work) => {
                    if work.send(batch).is_err() {
                        return;
                    }
                }
            }
        }
    }

    /// Bookkeeping for a job leaving the queue.
    fn taken(&self, job: Job) -> Job {
        self.series.queue_depth.dec();
        job
    }

    /// Adds a job to the batch unless its caller has gone or its deadline passed.
    fn admit(&self, job: Job, jobs: &mut Vec<Job>, rows: &mut usize) {
        if job.reply.is_closed() {
            return;
        }
        let now = Instant::now();
        if job.deadline.is_some_and(|d| now >= d) {
            self.metrics
                .rejected
                .with_label_values(&[&self.labels.model, "deadline"])
                .inc();
            let _ = job.reply.send(Err(deadline_error()));
            return;
        }
        self.series
            .queue_duration
            .observe((now - job.queued_at).as_secs_f64());
        *rows += job.rows;
        jobs.push(job);
    }
}

#[cfg(test)]
mod tests;
