//! The JSON log format (`log.format = "json"`), written straight into the line being
//! formatted. tracing-subscriber's own JSON formatter builds a map of every event's
//! fields and parses the current span's fields back from JSON text on every line,
//! which made the access log cost most of a cache hit's throughput (README "Request
//! logs"). The lines keep that formatter's shape, so log tooling sees no change:
//!
//! `{"timestamp":"2026-11-30T14:40:01.123456Z","level":"INFO","fields":{"message":"request",...},"target":"inferd::http::observe","span":{"id":"...","name":"request"}}`
//!
//! The request's id comes from [`super::request`] (no span is made per request);
//! an event inside a tracing span of its own shows that span instead.

use std::cell::RefCell;
use std::fmt::{self, Debug, Write};
use std::time::{SystemTime, UNIX_EPOCH};
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing::{Event, Subscriber};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats each event as one JSON object on one line.
pub struct JsonLines;

/// Formats a span's fields as the inside of a JSON object (`"id":"...","k":1`),
/// once when the span is made; [`JsonLines`] copies that text into every line
/// logged inside the span.
pub struct JsonFields;

impl<'w> FormatFields<'w> for JsonFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut text = String::new();
        let mut visitor = Fields::new(&mut text, true);
        fields.record(&mut visitor);
        visitor.result?;
        writer.write_str(&text)
    }

    /// Fields recorded on the span later join the others after a comma.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let first = current.fields.is_empty();
        let mut visitor = Fields::new(&mut current.fields, first);
        fields.record(&mut visitor);
        visitor.result
    }
}

thread_local! {
    /// The line being formatted, reused: built with direct `String` writes, then
    /// handed to the writer in one call.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Calls `format` with this thread's line buffer, emptied. A field's `Debug` that
/// logs while its line is formatted finds the buffer taken, and gets a fresh one.
pub(super) fn with_line<R>(format: impl FnOnce(&mut String) -> R) -> R {
    LINE.with(|cell| {
        let mut fresh = String::new();
        let mut reused = cell.try_borrow_mut();
        let line = match reused.as_deref_mut() {
            Ok(line) => {
                line.clear();
                line
            }
            Err(_) => &mut fresh,
        };
        format(line)
    })
}

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        with_line(|line| {
            format_line(line, ctx, event)?;
            writer.write_str(line)
        })
    }
}

fn format_line<S>(
    line: &mut String,
    ctx: &FmtContext<'_, S, JsonFields>,
    event: &Event<'_>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    line.push_str("{\"timestamp\":\"");
    push_timestamp(line, SystemTime::now());
    line.push_str("\",\"level\":\"");
    line.push_str(meta.level().as_str());
    line.push_str("\",\"fields\":{");
    let mut visitor = Fields::new(line, true);
    event.record(&mut visitor);
    visitor.result?;
    line.push_str("},\"target\":");
    push_string(line, meta.target());
    let span = event
        .parent()
        .and_then(|id| ctx.span(id))
        .or_else(|| ctx.lookup_current());
    if let Some(span) = span {
        line.push_str(",\"span\":{");
        let extensions = span.extensions();
        if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() {
            if !fields.fields.is_empty() {
                line.push_str(&fields.fields);
                line.push(',');
            }
        }
        line.push_str("\"name\":");
        push_string(line, span.name());
        line.push('}');
    } else {
        // The request being served, in the shape its span had (`super::request`).
        super::request::with_current(|id| {
            if let Some(id) = id {
                line.push_str(",\"span\":{\"id\":");
                push_string(line, id);
                line.push_str(",\"name\":\"request\"}");
            }
        });
    }
    line.push_str("}\n");
    Ok(())
}

/// Writes fields as `"name":value` pairs, comma-separated.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
    /// The first error a field's `Debug` returned; the visitor's methods cannot.
    result: fmt::Result,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut String, first: bool) -> Fields<'a> {
        Fields {
            out,
            first,
            result: Ok(()),
        }
    }

    /// Writes `field`'s name and a colon, after a comma unless it is the first.
    fn name(&mut self, field: &Field) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_string(self.out, field.name());
        self.out.push(':');
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.name(field);
        // JSON has no NaN or infinity; serde_json writes null for them too.
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            self.out.push_str("null");
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.name(field);
        if value < 0 {
            self.out.push('-');
        }
        push_u64(self.out, value.unsigned_abs());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.name(field);
        push_u64(self.out, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.name(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.name(field);
        let _ = write!(self.out, "{value}");
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.name(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.name(field);
        push_string(self.out, value);
    }

    /// Also where `%value` (Display) and the message arrive: formatted straight
    /// through the escaping writer, with no intermediate `String`.
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.name(field);
        self.out.push('"');
        if let Err(e) = write!(Escaping(self.out), "{value:?}") {
            self.result = self.result.and(Err(e));
        }
        self.out.push('"');
    }
}

/// Appends the digits of `value` (what `{value}` writes, without the formatting
/// machinery: the request line has five integers).
pub(super) fn push_u64(out: &mut String, value: u64) {
    push_digits(out, value, 1);
}

/// A JSON string literal of `text`.
pub(super) fn push_string(out: &mut String, text: &str) {
    out.push('"');
    let _ = Escaping(out).write_str(text);
    out.push('"');
}

/// Escapes what passes through it for the inside of a JSON string.
struct Escaping<'a>(&'a mut String);

/// The bytes a JSON string cannot hold as they are: control characters, `"` and
/// `\` (and DEL, escaped like the controls). One table lookup per byte finds
/// the next one; a byte-by-byte `match` was the costliest function of a cache
/// hit's own code by instruction count (`scripts/instructions.sh`).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

impl Write for Escaping<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let bytes = text.as_bytes();
        let mut plain_from = 0;
        while let Some(offset) = bytes[plain_from..]
            .iter()
            .position(|&byte| NEEDS_ESCAPE[usize::from(byte)])
        {
            let at = plain_from + offset;
            // `at` is an ASCII byte's index, so both slices end on a char boundary.
            self.0.push_str(&text[plain_from..at]);
            match bytes[at] {
                b'"' => self.0.push_str("\\\""),
                b'\\' => self.0.push_str("\\\\"),
                b'\n' => self.0.push_str("\\n"),
                b'\r' => self.0.push_str("\\r"),
                b'\t' => self.0.push_str("\\t"),
                other => write!(self.0, "\\u{other:04x}")?,
            }
            plain_from = at + 1;
        }
        self.0.push_str(&text[plain_from..]);
        Ok(())
    }
}

thread_local! {
    /// The second this thread last wrote a timestamp in, and the timestamp's text up
    /// to its fraction (`2026-11-30T14:40:01.`): lines come many to a second, and
    /// the date's arithmetic and digits were a fifth of formatting a request's line.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
}

/// `2026-11-30T14:40:01.123456Z`: UTC, microseconds, as tracing-subscriber writes it.
pub(super) fn push_timestamp(out: &mut String, now: SystemTime) {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with_borrow_mut(|(second, text)| {
        if *second != secs || text.is_empty() {
            text.clear();
            push_second(text, secs);
            *second = secs;
        }
        out.push_str(text);
    });
    push_digits(out, u64::from(since.subsec_micros()), 6);
    out.push('Z');
}

/// `2026-11-30T14:40:01.` for `secs` since the epoch.
fn push_second(out: &mut String, secs: u64) {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    push_digits(out, year.min(9999), 4);
    out.push('-');
    push_digits(out, month, 2);
    out.push('-');
    push_digits(out, day, 2);
    out.push('T');
    push_digits(out, of_day / 3600, 2);
    out.push(':');
    push_digits(out, of_day / 60 % 60, 2);
    out.push(':');
    push_digits(out, of_day % 60, 2);
    out.push('.');
}

/// `value` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, mut value: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut start = digits.len();
    while value > 0 || digits.len() - start < width.max(1) {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    out.push_str(std::str::from_utf8(&digits[start..]).expect("ASCII digits"));
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::LogCapture;
    use std::time::Duration;

    fn lines_of(log: impl FnOnce()) -> Vec<serde_json::Value> {
        text_of(log)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }

    fn text_of(log: impl FnOnce()) -> String {
        let captured = LogCapture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .fmt_fields(JsonFields)
            .event_format(JsonLines)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        captured.text()
    }

    #[test]
    fn every_field_kind_and_the_span_land_where_the_stock_json_format_puts_them() {
        let lines = lines_of(|| {
            let span = tracing::info_span!("request", id = %"abc-1", n = 3u64);
            span.record("n", 4u64);
            let _entered = span.enter();
            tracing::warn!(
                text = "quote \" backslash \\ newline \n tab \t bell \u{7} é",
                shown = %"50%",
                debugged = ?vec![1, 2],
                signed = -5i64,
                big = u64::MAX,
                yes = true,
                ratio = 0.25f64,
                nan = f64::NAN,
                "done in {} steps",
                2
            );
        });
        assert_eq!(lines.len(), 1);
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["target"], module_path!());
        let fields = &line["fields"];
        assert_eq!(fields["message"], "done in 2 steps");
        assert_eq!(
            fields["text"],
            "quote \" backslash \\ newline \n tab \t bell \u{7} é"
        );
        assert_eq!(fields["shown"], "50%");
        assert_eq!(fields["debugged"], "[1, 2]");
        assert_eq!(fields["signed"], -5);
        assert_eq!(fields["big"], u64::MAX);
        assert_eq!(fields["yes"], true);
        assert_eq!(fields["ratio"], 0.25);
        assert!(fields["nan"].is_null());
        assert_eq!(line["span"]["id"], "abc-1");
        assert_eq!(line["span"]["name"], "request");
        // Recorded after the span was made: tracing-subscriber appends, so both are
        // kept and a JSON reader takes the last.
        assert_eq!(line["span"]["n"], 4);
        let stamp = line["timestamp"].as_str().unwrap();
        assert_eq!(stamp.len(), "2026-11-30T14:40:01.123456Z".len(), "{stamp}");
        assert!(stamp.ends_with('Z'), "{stamp}");
    }

    #[test]
    fn every_ascii_character_and_multibyte_text_read_back_as_written() {
        let mut cases: Vec<String> = (0u8..=0x7f).map(|b| char::from(b).to_string()).collect();
        let all_ascii: String = (0u8..=0x7f).map(char::from).collect();
        cases.push(all_ascii.clone());
        cases.push(format!("é{all_ascii}日本\u{1F600}\"\\"));
        cases.push("plain text, nothing to escape".into());
        cases.push(String::new());
        for case in cases {
            let mut out = String::new();
            push_string(&mut out, &case);
            let back: String = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
            assert_eq!(back, case, "{out}");
            assert!(
                !out.bytes().any(|b| b < 0x20 || b == 0x7f),
                "raw control byte in {out:?}"
            );
        }
    }

    #[test]
    fn integers_at_the_ends_of_64_bits_are_written_exactly() {
        let text = text_of(|| {
            tracing::info!(
                zero = 0u64,
                ten = 10u64,
                most = u64::MAX,
                least = i64::MIN,
                minus_one = -1i64,
                "x"
            )
        });
        let want = format!(
            "\"zero\":0,\"ten\":10,\"most\":{},\"least\":{},\"minus_one\":-1",
            u64::MAX,
            i64::MIN
        );
        assert!(text.contains(&want), "{text}");
    }

    #[test]
    fn integers_past_64_bits_are_written_whole() {
        // serde_json would read them back as floats, so the text itself is checked.
        let text = text_of(|| tracing::info!(huge = u128::MAX, low = i128::MIN, "x"));
        assert!(
            text.contains(&format!("\"huge\":{},\"low\":{}", u128::MAX, i128::MIN)),
            "{text}"
        );
    }

    #[test]
    fn a_line_written_while_a_request_is_served_names_it_as_its_span_did() {
        let id = axum::http::HeaderValue::from_static("req-7");
        let lines = lines_of(|| {
            super::super::request::sync_scope(id, || tracing::info!(status = 200u64, "request"))
        });
        assert_eq!(lines[0]["span"]["id"], "req-7");
        assert_eq!(lines[0]["span"]["name"], "request");
        assert_eq!(lines[0]["fields"]["status"], 200);
    }

    #[test]
    fn outside_a_span_there_is_no_span_key() {
        let lines = lines_of(|| tracing::info!(address = "127.0.0.1:1", "listening"));
        assert_eq!(lines[0]["fields"]["message"], "listening");
        assert_eq!(lines[0]["fields"]["address"], "127.0.0.1:1");
        assert!(lines[0].get("span").is_none(), "{}", lines[0]);
    }

    #[test]
    fn timestamps_are_utc_dates_with_microseconds() {
        let cases = [
            (0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, "2000-02-29T00:00:00.000000Z"),
            (1_796_049_601, "2026-11-30T14:40:01.000000Z"),
            (4_107_542_399, "2100-02-28T23:59:59.000000Z"),
        ];
        for (secs, want) in cases {
            let mut text = String::new();
            let at = UNIX_EPOCH + Duration::from_secs(secs);
            push_timestamp(&mut text, at);
            assert_eq!(text, want);
        }
        // Within one second, and back to an earlier one, as threads' clocks allow.
        for (micros, want) in [
            (1_500_042, "1970-01-01T00:00:01.500042Z"),
            (1_000_000, "1970-01-01T00:00:01.000000Z"),
            (1_999_999, "1970-01-01T00:00:01.999999Z"),
            (999_999, "1970-01-01T00:00:00.999999Z"),
            (1_796_049_601_000_007, "2026-11-30T14:40:01.000007Z"),
            (1_796_049_601_100_000, "2026-11-30T14:40:01.100000Z"),
        ] {
            let mut text = String::new();
            push_timestamp(&mut text, UNIX_EPOCH + Duration::from_micros(micros));
            assert_eq!(text, want);
        }
    }
}
