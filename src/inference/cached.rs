//! Inference through the cache: look every unit up, compute only the missing ones in
//! one model run, wait for units other requests are already computing, and assemble
//! the answer in the request's row order.

use crate::batcher::Timing;
use crate::cache::{unit_key, wait, Entry, KeyRows, Lookup, ResultCache};
use crate::config::Granularity;
use crate::error::ApiError;
use crate::repository::Servable;
use crate::request::{Bound, CacheStatus};
use crate::tensor::{RowOffsets, Tensor};
use bytes::Bytes;
use std::sync::Arc;
use tokio::time::Instant;

/// Rows `start..end` of the request: one cache entry.
type Unit = (usize, usize);

pub(super) async fn infer(
    cache: &ResultCache,
    servable: &Servable,
    bound: &Bound,
    lookup: bool,
    now: Instant,
    deadline: Instant,
) -> Result<(Vec<Tensor>, Timing, CacheStatus), ApiError> {
    let sig = servable.model.signature();
    let per_row = servable.settings.cache.granularity == Granularity::Row && sig.is_batched();
    // Units are computed, not collected: a one-row hit is the common request, and
    // every vector it allocates shows in its latency.
    let count = if per_row { bound.rows } else { 1 };
    let unit = |u: usize| -> Unit {
        if per_row {
            (u, u + 1)
        } else {
            (0, bound.rows)
        }
    };
    // A one-unit request finds its rows directly; a many-row request of strings
    // would otherwise walk its lengths from the start once per row.
    let offsets: Vec<RowOffsets> = if count > 1 {
        bound.inputs.iter().map(Tensor::row_offsets).collect()
    } else {
        Vec::new()
    };
    let key = |u: usize| {
        let (start, end) = unit(u);
        let names = sig.inputs.iter().map(|s| s.name.as_str());
        let (model, version, generation) = (&servable.name, servable.version, servable.generation);
        let rows = KeyRows {
            inputs: &bound.inputs,
            offsets: &offsets,
            start,
            end,
        };
        unit_key(model, version, generation, names, rows)
    };

    let mut found: Vec<Option<Arc<Entry>>> = vec![None; count];
    let (mut leaders, mut waiters) = (Vec::new(), Vec::new());
    let mut hit_rows = 0;
    for (u, slot) in found.iter_mut().enumerate() {
        match cache.begin_at(key(u), lookup, now) {
            Lookup::Hit(entry) => {
                let (start, end) = unit(u);
                hit_rows += end - start;
                *slot = Some(entry);
            }
            Lookup::Wait(receiver) => waiters.push((u, receiver)),
            Lookup::Lead(leader) => leaders.push((u, leader)),
        }
    }
    let counters = &servable.lookups;
    if lookup {
        counters.hit.inc_by(hit_rows as u64);
        counters.miss.inc_by((bound.rows - hit_rows) as u64);
    } else {
        counters.bypass.inc_by(bound.rows as u64);
    }
    let ttl = servable.settings.cache.ttl;
    let mut timing = Timing::default();

    if !leaders.is_empty() {
        let chosen: Vec<Unit> = leaders.iter().map(|(u, _)| unit(*u)).collect();
        let (computed, spent) = compute(servable, &bound.inputs, &chosen, deadline).await?;
        timing = timing.plus(spent);
        for ((u, leader), outputs) in leaders.into_iter().zip(computed) {
            found[u] = Some(cache.finish(leader, outputs, ttl, true));
        }
    }
    for (u, receiver) in waiters {
        let (entry, spent) =
            await_unit(cache, servable, bound, receiver, unit(u), key(u), deadline).await?;
        timing = timing.plus(spent);
        found[u] = Some(entry);
    }

    let entries = || {
        found
            .iter()
            .map(|f| f.as_ref().expect("every unit answered"))
    };
    let outputs = (0..sig.outputs.len())
        .map(|o| match count {
            1 => entries().next().expect("one unit").outputs[o].clone(),
            _ => Tensor::concat_rows(&entries().map(|e| e.outputs[o].clone()).collect::<Vec<_>>()),
        })
        .collect();
    let status = match hit_rows {
        _ if !lookup => CacheStatus::Bypass,
        0 => CacheStatus::Miss,
        n if n == bound.rows => CacheStatus::Hit,
        _ => CacheStatus::Partial,
    };
    Ok((outputs, timing, status))
}

/// Waits for a unit another request is computing, until the request's deadline. If
/// that leader fails or goes away, the unit is looked up again: one waiter becomes
/// the new leader and the others wait for it, rather than all computing it at once.
async fn await_unit(
    cache: &ResultCache,
    servable: &Servable,
    bound: &Bound,
    mut receiver: crate::cache::Answer,
    unit: Unit,
    key: Bytes,
    deadline: Instant,
) -> Result<(Arc<Entry>, Timing), ApiError> {
    loop {
        let waited = tokio::time::timeout_at(deadline, wait(receiver)).await;
        match waited.map_err(|_| waiting_too_long())? {
            Some(entry) => return Ok((entry, Timing::default())),
            None => match cache.begin(key.clone(), true) {
                Lookup::Hit(entry) => return Ok((entry, Timing::default())),
                Lookup::Wait(next) => receiver = next,
                Lookup::Lead(leader) => {
                    let (outputs, spent) =
                        compute(servable, &bound.inputs, &[unit], deadline).await?;
                    let outputs = outputs.into_iter().next().unwrap_or_default();
                    let ttl = servable.settings.cache.ttl;
                    return Ok((cache.finish(leader, outputs, ttl, true), spent));
                }
            },
        }
    }
}

fn waiting_too_long() -> ApiError {
    ApiError::DeadlineExceeded(
        "the request's deadline (request_timeout) passed while waiting for an identical request's answer".into(),
    )
}

/// Runs the model once on the chosen units' rows; returns each unit's outputs, copied
/// out of the batch so a cache entry holds only its own bytes.
async fn compute(
    servable: &Servable,
    inputs: &[Tensor],
    units: &[Unit],
    deadline: Instant,
) -> Result<(Vec<Vec<Tensor>>, Timing), ApiError> {
    let rows: usize = units.iter().map(|(s, e)| e - s).sum();
    let whole = units.len() == 1 && units[0] == (0, inputs.first().map_or(0, Tensor::rows));
    let gathered: Vec<Tensor> = if whole {
        inputs.to_vec()
    } else {
        inputs
            .iter()
            .map(|t| {
                let offsets = t.row_offsets();
                let parts: Vec<Tensor> = units
                    .iter()
                    .map(|&(s, e)| t.slice_rows_at(&offsets, s, e))
                    .collect();
                Tensor::concat_rows(&parts)
            })
            .collect()
    };
    let (outputs, timing) = servable
        .batcher
        .submit(gathered, rows, Some(deadline))
        .await?;
    let offsets: Vec<RowOffsets> = if units.len() == 1 {
        Vec::new()
    } else {
        outputs.iter().map(Tensor::row_offsets).collect()
    };
    let mut start = 0;
    let per_unit = units
        .iter()
        .map(|&(s, e)| {
            let end = start + (e - s);
            let mine = outputs
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let part = if units.len() == 1 {
                        o.clone()
                    } else {
                        o.slice_rows_at(&offsets[i], start, end)
                    };
                    Tensor {
                        data: Bytes::copy_from_slice(&part.data),
                        ..part
                    }
                })
                .collect();
            start = end;
            mine
        })
        .collect();
    Ok((per_unit, timing))
}
