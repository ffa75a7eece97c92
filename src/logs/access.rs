//! The access line: one per answered request (`log.requests`). With JSON logs
//! (`log.format = "json"`, the default) the binary has the line formatted straight
//! into the log writer's buffer, in exactly the shape [`super::json::JsonLines`]
//! gives the same event: going through tracing's event dispatch and the fmt layer's own
//! line buffer (a second copy of the line) cost a cache hit about a tenth of its instructions
//! (`scripts/instructions.sh`). Elsewhere (pretty logs, tests with a subscriber of
//! their own) the caller logs the line as a tracing event.
//!
//! Either way tracing is asked first whether `info` is enabled for the line's
//! target ([`enabled`]), so `log.level` filters this line as it does every other.

use super::json::{push_string, push_timestamp, push_u64, with_line};
use super::NonBlocking;
use axum::http::HeaderValue;
use std::sync::OnceLock;
use std::time::SystemTime;

/// The target the line is logged under: the module that writes it (written as is
/// in [`format_json`]: it needs no escaping).
pub const TARGET: &str = "inferd::http::observe";

/// The writer access lines go to directly, once set.
static DIRECT: OnceLock<NonBlocking> = OnceLock::new();

/// From now on, access lines are written as JSON straight to `writer`, the writer
/// the process's JSON subscriber writes to. Later calls change nothing.
pub fn write_json_to(writer: NonBlocking) {
    let _ = DIRECT.set(writer);
}

/// What the line says about one answered request.
pub struct AccessLine<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The route template that matched (the `route` label of the HTTP metrics).
    pub route: &'a str,
    /// The request's path, without the query.
    pub path: &'a str,
    /// The answer's status code.
    pub status: u16,
    /// From the request's arrival to its answer.
    pub micros: u64,
    /// Time queued for the model (0 when it did not run).
    pub queue_micros: u64,
    /// Time the model ran (0 when it did not run).
    pub inference_micros: u64,
}

/// Whether the subscriber lets access lines through (`log.level`).
pub fn enabled() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::INFO)
}

/// Logs `line` for the request `id`: directly when a JSON writer is set, else as a
/// tracing event in the request's scope (an id that is not text is not logged).
pub fn log(line: &AccessLine<'_>, id: &HeaderValue) {
    match DIRECT.get() {
        Some(writer) => write_json(writer, line, id.to_str().ok()),
        None => super::request::sync_scope(id.clone(), || event(line)),
    }
}

/// The line as a tracing event.
fn event(line: &AccessLine<'_>) {
    tracing::info!(
        target: TARGET,
        // Display (`%`), so text formats show them unquoted, as they always have.
        method = %line.method,
        route = %line.route,
        path = %line.path,
        status = line.status,
        micros = line.micros,
        queue_micros = line.queue_micros,
        inference_micros = line.inference_micros,
        "request"
    );
}

fn write_json(writer: &NonBlocking, line: &AccessLine<'_>, id: Option<&str>) {
    with_line(|text| {
        format_json(text, line, id, SystemTime::now());
        writer.append(text.as_bytes());
    });
}

/// The line as JSON, exactly as `JsonLines` formats [`event`] in the request's scope.
fn format_json(out: &mut String, line: &AccessLine<'_>, id: Option<&str>, now: SystemTime) {
    out.push_str("{\"timestamp\":\"");
    push_timestamp(out, now);
    out.push_str("\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"method\":");
    push_string(out, line.method);
    out.push_str(",\"route\":");
    push_string(out, line.route);
    out.push_str(",\"path\":");
    push_string(out, line.path);
    out.push_str(",\"status\":");
    push_u64(out, u64::from(line.status));
    out.push_str(",\"micros\":");
    push_u64(out, line.micros);
    out.push_str(",\"queue_micros\":");
    push_u64(out, line.queue_micros);
    out.push_str(",\"inference_micros\":");
    push_u64(out, line.inference_micros);
    out.push_str("},\"target\":\"inferd::http::observe\"");
    if let Some(id) = id {
        out.push_str(",\"span\":{\"id\":");
        push_string(out, id);
        out.push_str(",\"name\":\"request\"}");
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::json::{JsonFields, JsonLines};
    use crate::testing::LogCapture;

    /// The line as the tracing path writes it with the JSON format.
    fn through_tracing(line: &AccessLine<'_>, id: &HeaderValue) -> String {
        let captured = LogCapture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .fmt_fields(JsonFields)
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            super::super::request::sync_scope(id.clone(), || event(line))
        });
        captured.text()
    }

    /// The text after the timestamp, which differs between any two lines.
    fn after_timestamp(text: &str) -> &str {
        let start = text
            .find("\",\"level\"")
            .unwrap_or_else(|| panic!("{text}"));
        &text[start..]
    }

    #[test]
    fn the_direct_line_is_the_line_tracing_writes_byte_for_byte() {
        let plain = AccessLine {
            method: "POST",
            route: "/v1/models/{*rest}",
            path: "/v1/models/m:predict",
            status: 200,
            micros: 1_234,
            queue_micros: 0,
            inference_micros: u64::MAX,
        };
        let odd = AccessLine {
            method: "PURGE",
            route: "unmatched",
            path: "/a\"b\\c\u{7f}d\té",
            status: 404,
            micros: 0,
            queue_micros: 17,
            inference_micros: 5,
        };
        let ids = [
            HeaderValue::from_static("abc-123"),
            HeaderValue::from_static("quote\"back\\slash"),
            // Echoed in the answer but not text: no span in either line.
            HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        ];
        for line in [&plain, &odd] {
            for id in &ids {
                let traced = through_tracing(line, id);
                let mut direct = String::new();
                format_json(&mut direct, line, id.to_str().ok(), SystemTime::now());
                assert_eq!(after_timestamp(&direct), after_timestamp(&traced));
                assert_eq!(direct.len(), traced.len(), "{direct}{traced}");
                let parsed: serde_json::Value = serde_json::from_str(&direct).unwrap();
                assert_eq!(parsed["fields"]["path"], line.path);
                assert_eq!(parsed["fields"]["inference_micros"], line.inference_micros);
                assert_eq!(parsed["target"], TARGET);
                match id.to_str() {
                    Ok(text) => assert_eq!(parsed["span"]["id"], text),
                    Err(_) => assert!(parsed.get("span").is_none(), "{direct}"),
                }
            }
        }
    }
}
