//! Inference threads: stack a batch's rows, run the model once, split the outputs back.

use super::{Answer, Batch, Delivery, Job, Labels, Series, Timing};
use crate::error::ApiError;
use crate::model::{Model, ModelError};
use crate::tensor::{RowOffsets, Tensor};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

/// Starts one named inference thread that runs until the batch channel closes.
pub(super) fn spawn(
    index: usize,
    model: Arc<dyn Model>,
    batches: crossbeam_channel::Receiver<Batch>,
    replies: tokio::sync::mpsc::UnboundedSender<Delivery>,
    series: Arc<Series>,
    labels: Labels,
) {
    let name = format!("infer-{}-{}", labels.model, index);
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            while let Ok(batch) = batches.recv() {
                let delivery = run_batch(model.as_ref(), batch, &series, &labels);
                // One hand-over per batch: waking each request from this thread
                // would switch to the runtime once per request.
                if !delivery.is_empty() && replies.send(delivery).is_err() {
                    return;
                }
            }
        })
        .expect("spawning an inference thread");
}

pub(super) fn run_batch(
    model: &dyn Model,
    batch: Batch,
    series: &Series,
    labels: &Labels,
) -> Delivery {
    // Callers may have gone while the batch waited for this thread.
    let jobs: Vec<Job> = batch
        .jobs
        .into_iter()
        .filter(|j| !j.reply.is_closed())
        .collect();
    if jobs.is_empty() {
        return Vec::new();
    }
    run_jobs(model, jobs, series, labels)
}

/// Runs the jobs as one model run. If the run fails and holds several jobs, each
/// runs again alone: a run can fail on one request's values (an unknown category,
/// say), and that must fail only that request, with a 400 that says why.
fn run_jobs(model: &dyn Model, jobs: Vec<Job>, series: &Series, labels: &Labels) -> Delivery {
    let rows: usize = jobs.iter().map(|j| j.rows).sum();
    let inputs = stack_inputs(&jobs);
    let started = Instant::now();
    // A panicking engine must cost one batch, not the thread or the process.
    let result = catch_unwind(AssertUnwindSafe(|| model.predict(inputs)));
    let elapsed = started.elapsed();
    series.inference_duration.observe(elapsed.as_secs_f64());
    series.batch_size.observe(rows as f64);
    let outputs = match result {
        Ok(Ok(outputs)) => outputs,
        Ok(Err(_)) | Err(_) if jobs.len() > 1 => {
            return jobs
                .into_iter()
                .flat_map(|job| run_jobs(model, vec![job], series, labels))
                .collect();
        }
        Ok(Err(ModelError::Input(why))) => {
            let error = ApiError::bad_request(format!(
                "model `{}` version {} has no answer for this input: {why}",
                labels.model, labels.version
            ));
            return jobs
                .into_iter()
                .map(|job| (job.reply, Err(error.clone())))
                .collect();
        }
        Ok(Err(ModelError::Engine(e))) => {
            return fail(
                jobs,
                format!("model {}:{} failed: {e}", labels.model, labels.version),
            )
        }
        Err(_) => {
            return fail(
                jobs,
                format!("model {}:{} panicked", labels.model, labels.version),
            )
        }
    };
    if let Some(wrong) = misshapen(model, &outputs, rows, jobs.len()) {
        let detail = format!("model {}:{} {wrong}", labels.model, labels.version);
        return fail(jobs, detail);
    }
    series.inference_rows.inc_by(rows as u64);
    split_outputs(jobs, &outputs, started, elapsed)
}

/// What is wrong with a run's outputs, checked on every run: the answer is split by
/// row (between requests, and between cache entries), so a model that returns
/// another number of outputs or rows than its signature promises must fail its
/// requests here rather than panic where the rows are split.
fn misshapen(model: &dyn Model, outputs: &[Tensor], rows: usize, jobs: usize) -> Option<String> {
    let sig = model.signature();
    if outputs.len() != sig.outputs.len() {
        return Some(format!(
            "returned {} outputs; its signature has {}",
            outputs.len(),
            sig.outputs.len()
        ));
    }
    let by_row = jobs > 1 || sig.is_batched();
    let wrong = outputs
        .iter()
        .zip(&sig.outputs)
        .find(|(o, _)| by_row && o.rows() != rows);
    wrong.map(|(o, spec)| {
        format!(
            "returned {} rows of output `{}` for {rows} input rows",
            o.rows(),
            spec.name
        )
    })
}

/// One tensor per input with every job's rows, in job order.
fn stack_inputs(jobs: &[Job]) -> Vec<Tensor> {
    if jobs.len() == 1 {
        return jobs[0].inputs.clone();
    }
    (0..jobs[0].inputs.len())
        .map(|i| {
            let parts: Vec<Tensor> = jobs.iter().map(|j| j.inputs[i].clone()).collect();
            Tensor::concat_rows(&parts)
        })
        .collect()
}

/// Sends each job its own rows of every output, with where its time went.
fn split_outputs(
    jobs: Vec<Job>,
    outputs: &[Tensor],
    started: Instant,
    inference: std::time::Duration,
) -> Delivery {
    let single = jobs.len() == 1;
    let offsets: Vec<RowOffsets> = if single {
        Vec::new()
    } else {
        outputs.iter().map(Tensor::row_offsets).collect()
    };
    let mut start = 0;
    let mut delivery = Vec::with_capacity(jobs.len());
    for job in jobs {
        let end = start + job.rows;
        let mine = if single {
            outputs.to_vec()
        } else {
            outputs
                .iter()
                .zip(&offsets)
                .map(|(o, at)| o.slice_rows_at(at, start, end))
                .collect()
        };
        let timing = Timing {
            queue: started.saturating_duration_since(job.queued_wall),
            inference,
        };
        delivery.push((job.reply, Ok((mine, timing))));
        start = end;
    }
    delivery
}

fn fail(jobs: Vec<Job>, detail: String) -> Delivery {
    tracing::error!(detail = %detail, "inference failed");
    let error: Answer = Err(ApiError::Internal(detail));
    jobs.into_iter()
        .map(|job| (job.reply, error.clone()))
        .collect()
}
