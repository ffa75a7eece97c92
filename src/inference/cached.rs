//! Inference through the cache: look every unit up, compute only the missing ones in
//! one model run, wait for units other requests are already computing, and assemble
//! the answer in the request's row order.

use super::Inference;
use crate::batcher::Timing;
use crate::cache::{unit_key, wait, Entry, Lookup, ResultCache};
use crate::config::Granularity;
use crate::error::ApiError;
use crate::repository::Servable;
use crate::request::{Bound, CacheStatus};
use crate::tensor::Tensor;
use bytes::Bytes;
use std::sync::Arc;
use tokio::time::Instant;

/// Rows `start..end` of the request: one cache entry.
type Unit = (usize, usize);

pub(super) async fn infer(
    inference: &Inference,
    cache: &ResultCache,
    servable: &Servable,
    bound: &Bound,
    lookup: bool,
    deadline: Instant,
) -> Result<(Vec<Tensor>, Timing, CacheStatus), ApiError> {
    let sig = servable.model.signature();
    let per_row = servable.settings.cache.granularity == Granularity::Row && sig.is_batched();
    let units: Vec<Unit> = if per_row {
        (0..bound.rows).map(|i| (i, i + 1)).collect()
    } else {
        vec![(0, bound.rows)]
    };
    let names: Vec<&str> = sig.inputs.iter().map(|s| s.name.as_str()).collect();
    let keys: Vec<Bytes> = units
        .iter()
        .map(|&(s, e)| {
            unit_key(
                &servable.name,
                servable.version,
                servable.generation,
                &names,
                &bound.inputs,
                s,
                e,
            )
        })
        .collect();

    let mut found: Vec<Option<Arc<Entry>>> = vec![None; units.len()];
    let (mut leaders, mut waiters) = (Vec::new(), Vec::new());
    for (u, key) in keys.iter().enumerate() {
        match cache.begin(key.clone(), lookup) {
            Lookup::Hit(entry) => found[u] = Some(entry),
            Lookup::Wait(receiver) => waiters.push((u, receiver)),
            Lookup::Lead(leader) => leaders.push((u, leader)),
        }
    }
    let hit_rows: usize = rows_of(
        &units,
        found
            .iter()
            .enumerate()
            .filter(|(_, f)| f.is_some())
            .map(|(u, _)| u),
    );
    let result = if lookup { "hit" } else { "bypass" };
    inference.count_lookups(servable, result, if lookup { hit_rows } else { bound.rows });
    if lookup {
        inference.count_lookups(servable, "miss", bound.rows - hit_rows);
    }
    let ttl = servable.settings.cache.ttl;
    let mut timing = Timing::default();

    if !leaders.is_empty() {
        let chosen: Vec<Unit> = leaders.iter().map(|(u, _)| units[*u]).collect();
        let (computed, spent) = compute(servable, &bound.inputs, &chosen, deadline).await?;
        timing = timing.plus(spent);
        for ((u, leader), outputs) in leaders.into_iter().zip(computed) {
            found[u] = Some(cache.finish(leader, outputs, ttl, true));
        }
    }
    for (u, receiver) in waiters {
        let entry = match wait(receiver).await {
            Some(entry) => entry,
            // The request computing it failed or went away: compute it ourselves.
            None => {
                let (outputs, spent) =
                    compute(servable, &bound.inputs, &[units[u]], deadline).await?;
                timing = timing.plus(spent);
                let Lookup::Lead(leader) = cache.begin(keys[u].clone(), false) else {
                    unreachable!("a lookup-free begin always leads")
                };
                cache.finish(
                    leader,
                    outputs.into_iter().next().unwrap_or_default(),
                    ttl,
                    true,
                )
            }
        };
        found[u] = Some(entry);
    }

    let entries: Vec<Arc<Entry>> = found
        .into_iter()
        .map(|f| f.expect("every unit answered"))
        .collect();
    let outputs = (0..sig.outputs.len())
        .map(|o| {
            let parts: Vec<Tensor> = entries.iter().map(|e| e.outputs[o].clone()).collect();
            Tensor::concat_rows(&parts)
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

fn rows_of(units: &[Unit], chosen: impl Iterator<Item = usize>) -> usize {
    chosen.map(|u| units[u].1 - units[u].0).sum()
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
                let parts: Vec<Tensor> = units.iter().map(|&(s, e)| t.slice_rows(s, e)).collect();
                Tensor::concat_rows(&parts)
            })
            .collect()
    };
    let (outputs, timing) = servable
        .batcher
        .submit(gathered, rows, Some(deadline))
        .await?;
    let mut start = 0;
    let per_unit = units
        .iter()
        .map(|&(s, e)| {
            let end = start + (e - s);
            let mine = outputs
                .iter()
                .map(|o| {
                    let part = if units.len() == 1 {
                        o.clone()
                    } else {
                        o.slice_rows(start, end)
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
