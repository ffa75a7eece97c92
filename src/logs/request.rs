//! The request a log line belongs to. Its id travels beside the request's future as
//! a task-local value rather than in a tracing span: a span cost every request a
//! registry entry, its fields formatted into text, and an enter and an exit on every
//! poll, a large share of what the access log cost (README "Request logs"). Every
//! line logged while a request is served, its own access line included, names the
//! request: the JSON format as the span did (`"span":{"id":"...","name":"request"}`),
//! the text formats with a `request{id=...}: ` prefix ([`WithRequestId`]).
//!
//! Like a span that is not passed on, the id does not follow work handed to another
//! task or thread (the batcher's inference threads).

use axum::http::HeaderValue;
use std::fmt;
use std::future::Future;
use tokio::task::futures::TaskLocalFuture;
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

tokio::task_local! {
    static REQUEST_ID: HeaderValue;
}

/// Runs `serve` with `id` as the current request id.
pub fn scope<F: Future>(id: HeaderValue, serve: F) -> TaskLocalFuture<HeaderValue, F> {
    REQUEST_ID.scope(id, serve)
}

/// Calls `log` with `id` as the current request id (for lines written outside the
/// request's future: its access line, a panic's 500).
pub fn sync_scope<R>(id: HeaderValue, log: impl FnOnce() -> R) -> R {
    REQUEST_ID.sync_scope(id, log)
}

/// Calls `write` with the current request's id, if a request is being served and its
/// id is text (an id of other bytes is echoed in the answer but not logged).
pub fn with_current<R>(write: impl FnOnce(Option<&str>) -> R) -> R {
    let mut write = Some(write);
    let done = REQUEST_ID.try_with(|id| (write.take().expect("called once"))(id.to_str().ok()));
    match done {
        Ok(result) => result,
        Err(_) => (write.take().expect("not called"))(None),
    }
}

/// A text event format (tracing-subscriber's full or pretty) with the current
/// request's id in front of each line written while serving it, where the span's
/// name and fields stood before: `request{id=...}: `.
pub struct WithRequestId<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_current(|id| match id {
            Some(id) => write!(writer, "request{{id={id}}}: "),
            None => Ok(()),
        })?;
        self.0.format_event(ctx, writer, event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_current_only_inside_its_scope() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let outside = with_current(|id| id.map(str::to_owned));
        assert_eq!(outside, None);
        let inside = runtime.block_on(scope(HeaderValue::from_static("abc-1"), async {
            tokio::task::yield_now().await;
            with_current(|id| id.map(str::to_owned))
        }));
        assert_eq!(inside.as_deref(), Some("abc-1"));
        let synced = sync_scope(HeaderValue::from_static("abc-2"), || {
            with_current(|id| id.map(str::to_owned))
        });
        assert_eq!(synced.as_deref(), Some("abc-2"));
        assert_eq!(with_current(|id| id.map(str::to_owned)), None);
    }

    #[test]
    fn an_id_that_is_not_text_is_not_logged() {
        let id = HeaderValue::from_bytes(b"caf\xe9").unwrap();
        let seen = sync_scope(id, || with_current(|id| id.map(str::to_owned)));
        assert_eq!(seen, None);
    }
}
