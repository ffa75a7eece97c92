//! Human-friendly durations (`"250ms"`, `"30s"`) and sizes (`"64MiB"`) for the config.

use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::time::Duration;

const DURATION_HELP: &str = r#"a duration such as "250ms", "30s", "5m" or "1h""#;
const SIZE_HELP: &str = r#"a size such as "64MiB", "512KiB", "1GiB" or a number of bytes"#;

/// Parses `"250ms"`, `"30s"`, `"1.5s"`, `"5m"`, `"1h"`, `"100us"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{s:?} has no unit; expected {DURATION_HELP}"))?;
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not {DURATION_HELP}"))?;
    let seconds = match unit.trim() {
        "us" | "µs" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "{s:?} has an unknown unit; expected {DURATION_HELP}"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{s:?} is out of range"))
}

/// Parses `"64MiB"`, `"16MB"`, `"512KiB"`, `"1GiB"`, `"1024"` into bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} is not {SIZE_HELP}"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(format!("{s:?} has an unknown unit; expected {SIZE_HELP}")),
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("{s:?} is out of range"))
}

/// Either a string with a unit or a bare integer, as TOML and env vars give them.
#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Text(String),
    Int(u64),
}

/// serde adapter for `Duration` fields.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Raw::deserialize(d).map_err(|_| de::Error::custom(format!("expected {DURATION_HELP}")))? {
        Raw::Text(s) => parse_duration(&s).map_err(de::Error::custom),
        Raw::Int(n) => Err(de::Error::custom(format!(
            "{n} has no unit; expected {DURATION_HELP}"
        ))),
    }
}

/// serde adapter for optional `Duration` fields.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// serde adapter for byte sizes.
pub fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match Raw::deserialize(d).map_err(|_| de::Error::custom(format!("expected {SIZE_HELP}")))? {
        Raw::Text(s) => parse_size(&s).map_err(de::Error::custom),
        Raw::Int(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("3 weeks")
            .unwrap_err()
            .contains("unknown unit"));
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("16MB").unwrap(), 16_000_000);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("12 parsecs")
            .unwrap_err()
            .contains("unknown unit"));
    }
}
