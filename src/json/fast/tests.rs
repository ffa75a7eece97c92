//! The fast path either declines or gives exactly what serde gives.

use super::*;
use crate::json::Limits;
use proptest::prelude::*;

/// `text` through serde (the `Level` path), or its error.
fn serde_path(text: &str) -> Result<Nested, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

fn fast_path(text: &str) -> Option<Nested> {
    let mut s = Scanner::new(text.as_bytes());
    let nested = s.tensor(usize::MAX)?;
    s.end()?;
    Some(nested)
}

/// Equal shapes and values, floats bit for bit (so -0.0 is not 0.0).
fn same(a: &Nested, b: &Nested) -> bool {
    let bits = |v: &Scalar| match *v {
        Scalar::Float(f) => Scalar::Uint(f.to_bits()),
        Scalar::Int(i) => Scalar::Int(i),
        other => other,
    };
    let floats = |n: &Nested| {
        n.values
            .iter()
            .map(|v| matches!(v, Scalar::Float(_)))
            .collect::<Vec<_>>()
    };
    a.shape == b.shape
        && a.text == b.text
        && floats(a) == floats(b)
        && a.values.iter().map(bits).eq(b.values.iter().map(bits))
}

/// Number spellings: what clients send (f32 and f64 reprs, integers, exponents) and
/// what the fast path must leave to serde_json.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f32>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{:?}", f as f64)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:e}")),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:E}")),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<u64>().prop_map(|u| u.to_string()),
        (any::<u32>(), -330i32..330).prop_map(|(m, e)| format!("{m}e{e}")),
        (any::<u64>(), 0u32..40).prop_map(|(m, e)| format!("0.{m:0>width$}", width = e as usize)),
        // Around the edges of the exact (Clinger) path: 2^53 and 10^22.
        ((1u64 << 53) - 3..(1u64 << 53) + 3, -24i32..24).prop_map(|(m, e)| format!("{m}e{e}")),
        (0u64..1 << 54, 0usize..20).prop_map(|(m, point)| {
            let digits = m.to_string();
            let point = point.min(digits.len() - 1);
            match digits.split_at(digits.len() - point) {
                (int, "") => format!("{int}.0"),
                (int, fraction) => format!("{int}.{fraction}"),
            }
        }),
        proptest::sample::select(vec![
            "0",
            "-0",
            "0.0",
            "-0.0",
            "0e5",
            "0E-5",
            "-0e0",
            "1e400",
            "-1e400",
            "1e-400",
            "5e-324",
            "2.2250738585072014e-308",
            "1.7976931348623157e308",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "01",
            "-01",
            "1.",
            ".5",
            "1e",
            "1e+",
            "+1",
            "-",
            "--1",
            "1.5E+3",
            "1E-3",
            "1.0e+0",
            "0x10",
            "\"a\"",
            "\"1\"",
            "true",
            "null",
            "NaN",
            "Infinity",
            "-Infinity",
            "[]",
            "{}",
            "1 2",
        ])
        .prop_map(str::to_string),
    ]
}

/// Whitespace JSON allows between tokens, and some it does not.
fn gap() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n", "\u{a0}"])
}

/// Nested arrays of tokens: rectangular most of the time, ragged some of the time.
fn text() -> impl Strategy<Value = String> {
    (
        0usize..4,
        0usize..5,
        1usize..4,
        proptest::collection::vec((token(), gap(), gap()), 1..40),
        any::<bool>(),
    )
        .prop_map(|(depth, width, inner, cells, ragged)| {
            let mut cells = cells.into_iter().cycle();
            let mut cell = || {
                let (t, a, b) = cells.next().expect("cycled");
                format!("{a}{t}{b}")
            };
            match depth {
                0 => cell(),
                1 => format!(
                    "[{}]",
                    (0..width).map(|_| cell()).collect::<Vec<_>>().join(",")
                ),
                _ => {
                    let row = |n: usize, cell: &mut dyn FnMut() -> String| {
                        format!("[{}]", (0..n).map(|_| cell()).collect::<Vec<_>>().join(","))
                    };
                    let rows: Vec<String> = (0..width)
                        .map(|r| row(if ragged && r == 1 { inner + 1 } else { inner }, &mut cell))
                        .collect();
                    let body = format!("[{}]", rows.join(" ,"));
                    if depth == 3 {
                        format!("[ {body} ]")
                    } else {
                        body
                    }
                }
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn the_fast_path_gives_what_serde_gives_or_declines(text in text()) {
        if let Some(fast) = fast_path(&text) {
            let serde = serde_path(&text);
            prop_assert!(
                serde.as_ref().is_ok_and(|s| same(s, &fast)),
                "{text:?}: fast {fast:?}, serde {serde:?}"
            );
        }
    }

    /// What clients send (rows of float reprs, integers, exponents, whitespace) is
    /// taken by the fast path, not left to serde.
    #[test]
    fn rows_of_plain_numbers_take_the_fast_path(
        rows in proptest::collection::vec(proptest::collection::vec(any::<f32>(), 4), 1..5),
        ints in proptest::collection::vec(-1000i64..1000, 4),
    ) {
        let mut lines: Vec<String> = rows
            .iter()
            .map(|r| format!("[{}]", r.iter().map(|&f| {
                let f = if f.is_finite() { f } else { 1.5 };
                format!("{:?}", f as f64)
            }).collect::<Vec<_>>().join(", ")))
            .collect();
        lines.push(format!("[{}]", ints.iter().map(i64::to_string).collect::<Vec<_>>().join(",")));
        let text = format!("[\n  {}\n]", lines.join(",\n  "));
        let fast = fast_path(&text);
        prop_assert!(fast.is_some(), "declined {text:?}");
        prop_assert!(same(&serde_path(&text).unwrap(), &fast.unwrap()));
    }
}

#[test]
fn what_serde_json_reads_otherwise_is_declined() {
    for text in [
        "[-0]",
        "[1e400]",
        "[1e-400]",
        "[5e-324]",
        "[18446744073709551616]",
        "[-9223372036854775809]",
        "[01]",
        "[1.]",
        "[.5]",
        "[+1]",
        "[1,]",
        "[1 2]",
        "[[1],[2,3]]",
        "[[1],2]",
        "[\"1\"]",
        "[true]",
        "[null]",
        "[1]]",
        "[[1]",
        "{\"a\":1}",
    ] {
        assert_eq!(fast_path(text), None, "{text}");
    }
    // Zeros are zeros, not underflows, and the extreme integers are integers.
    let n = fast_path("[0.0, -0.0, 0e9, -9223372036854775808, 18446744073709551615]").unwrap();
    assert!(same(
        &n,
        &serde_path("[0.0, -0.0, 0e9, -9223372036854775808, 18446744073709551615]").unwrap()
    ));
    assert_eq!(n.values[3], Scalar::Int(i64::MIN));
    assert_eq!(n.values[4], Scalar::Uint(u64::MAX));
}

#[test]
fn past_the_decode_limits_it_declines_and_serde_refuses() {
    let limits = Limits {
        max_rows: 2,
        max_elements: 5,
        max_names: 4,
    };
    let text = "[[1, 2], [3, 4], [5, 6]]";
    limits.apply(|| {
        let mut rows = Scanner::new(text.as_bytes());
        assert_eq!(
            rows.rows(limits.max_rows),
            None,
            "three rows past max_rows = 2"
        );
        let mut numbers = Scanner::new(text.as_bytes());
        assert_eq!(
            numbers.tensor(usize::MAX),
            None,
            "six numbers past max_elements = 5"
        );
        assert!(serde_path(text).is_err());
    });
    limits.apply(|| assert!(Scanner::new(b"[[1, 2], [3, 4]]").rows(2).is_some()));
}

#[test]
fn strings_with_escapes_or_control_characters_are_declined() {
    assert_eq!(
        Scanner::new("\"plain é\"".as_bytes()).string(),
        Some("plain é")
    );
    for text in [
        &br#""a\"b""#[..],
        br#""a\nb""#,
        b"\"a\nb\"",
        b"\"a",
        b"\"\xff\"",
    ] {
        assert_eq!(
            Scanner::new(text).string(),
            None,
            "{}",
            String::from_utf8_lossy(text)
        );
    }
}

#[test]
fn eight_digits_at_a_time_read_as_a_byte_at_a_time() {
    for n in [
        0u64, 1, 9, 10, 12_345_678, 87_654_321, 99_999_999, 10_000_000, 40_506_070,
    ] {
        assert_eq!(eight_digits(format!("{n:08}").as_bytes()), Some(n), "{n}");
    }
    for bad in [
        "1234567/",
        "1234567:",
        "12345 78",
        "-1234567",
        "1234.678",
        "\u{0}1234567",
    ] {
        assert_eq!(eight_digits(bad.as_bytes()), None, "{bad}");
    }
}
