//! The fast path for the bodies most requests carry: a few plain keys and tensors of
//! plain numbers, read straight from the bytes without serde.
//!
//! serde_json turns each number into a value before our visitor sees it, and its exact
//! decimal-to-binary conversion (`float_roundtrip`) was most of a small request's parse
//! (README, "Performance"). Here a number is checked against JSON's grammar while its
//! digits are read, and converted exactly: by one multiplication or division where
//! that is exact, else by fast-float2 (Eisel-Lemire, exact like serde_json's).
//!
//! A [`Scanner`] only ever *succeeds* with the result serde would give: tensors go
//! through the same [`Collector`] calls in the same order. Anything else (an escaped
//! string, an unknown or repeated key, a boolean, a number serde_json reads differently
//! or refuses, a shape or limit error) returns `None`, and the caller parses the body
//! with serde, which answers it or words the error (`crate::http::body::parse_or`).

use super::{Collector, Nested, Scalar};
use serde::de;

/// A cursor over one JSON body. Every method skips the whitespace before what it reads
/// and returns `None` where the fast path declines.
pub(crate) struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
}

/// Deeper than serde_json's own recursion limit (128), which it refuses anyway.
const MAX_DEPTH: usize = 128;

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a [u8]) -> Scanner<'a> {
        Scanner { text, at: 0 }
    }

    fn space(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.text.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.space();
        self.text.get(self.at).copied()
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.peek()? == expected).then(|| self.at += 1)
    }

    /// Only whitespace is left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.space();
        (self.at == self.text.len()).then_some(())
    }

    /// A string without escapes or control characters (else serde decides).
    pub(crate) fn string(&mut self) -> Option<&'a str> {
        self.byte(b'"')?;
        let start = self.at;
        let len = self.text[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        self.at = start + len;
        self.byte(b'"')?;
        std::str::from_utf8(&self.text[start..start + len]).ok()
    }

    /// An object, `field` called with each key; `field` reads the value.
    pub(crate) fn object(
        &mut self,
        mut field: impl FnMut(&'a str, &mut Scanner<'a>) -> Option<()>,
    ) -> Option<()> {
        self.list(b'{', b'}', |s| {
            let key = s.string()?;
            s.byte(b':')?;
            field(key, s)
        })
    }

    /// An array, `element` called to read each element.
    pub(crate) fn array(
        &mut self,
        element: impl FnMut(&mut Scanner<'a>) -> Option<()>,
    ) -> Option<()> {
        self.list(b'[', b']', element)
    }

    /// `open`, then items separated by commas (`item` reads one), then `close`.
    fn list(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Scanner<'a>) -> Option<()>,
    ) -> Option<()> {
        self.byte(open)?;
        if self.peek()? == close {
            self.at += 1;
            return Some(());
        }
        loop {
            item(self)?;
            match self.peek()? {
                b',' => self.at += 1,
                c if c == close => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A non-negative integer, as serde reads a `usize`.
    pub(crate) fn index(&mut self) -> Option<usize> {
        self.space();
        match number(self.text, self.at)? {
            (Scalar::Uint(n), end) => {
                self.at = end;
                usize::try_from(n).ok()
            }
            _ => None,
        }
    }

    /// TF Serving's `instances` as rows of numbers: a tensor that is an array, of at
    /// most `max_rows` rows.
    pub(crate) fn rows(&mut self, max_rows: usize) -> Option<Nested> {
        (self.peek()? == b'[').then_some(())?;
        self.tensor(max_rows)
    }

    /// A tensor of numbers (nested arrays, or one number) as [`Nested`]'s serde path
    /// reads it. An outermost array may hold at most `max_outer` elements.
    pub(crate) fn tensor(&mut self, max_outer: usize) -> Option<Nested> {
        let mut collector = Collector::default();
        self.space();
        self.at = numbers(self.text, self.at, &mut collector, max_outer)?;
        Some(collector.finish())
    }
}

/// Reads the value at `start` into `collector` as `Level` at depth 0 would, and
/// returns where it ends.
fn numbers(
    text: &[u8],
    start: usize,
    collector: &mut Collector,
    max_outer: usize,
) -> Option<usize> {
    // Elements seen so far in each open array, outermost first.
    let mut open: Vec<usize> = Vec::with_capacity(4);
    let mut i = start;
    loop {
        // A value starts at `i`.
        match *text.get(i)? {
            b'[' => {
                if open.len() == MAX_DEPTH {
                    return None;
                }
                open.push(0);
                i = skip_space(text, i + 1);
                if text.get(i) != Some(&b']') {
                    continue;
                }
                open.pop();
                collector.sequence::<Decline>(open.len(), 0).ok()?;
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let (value, end) = number(text, i)?;
                collector.leaf::<Decline>(open.len(), value).ok()?;
                i = end;
            }
            _ => return None,
        }
        // A value ended before `i`: a comma, a closing bracket or (outermost) the end.
        loop {
            let depth = open.len();
            let Some(count) = open.last_mut() else {
                return Some(i);
            };
            *count += 1;
            if depth == 1 && *count > max_outer {
                return None;
            }
            i = skip_space(text, i);
            match *text.get(i)? {
                b',' => {
                    i = skip_space(text, i + 1);
                    break;
                }
                b']' => {
                    let len = open.pop()?;
                    collector.sequence::<Decline>(open.len(), len).ok()?;
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

fn skip_space(text: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(i) {
        i += 1;
    }
    i
}

/// The index of the first byte at or after `i` that is not a digit; the digits are
/// appended to `m` in decimal (wrapping: `m` is only right for at most 19 digits).
fn digits(text: &[u8], mut i: usize, m: &mut u64) -> usize {
    // Eight at a time while there are eight: a byte at a time, each digit waits on
    // the multiply-add of the one before.
    while let Some(eight) = text.get(i..i + 8).and_then(eight_digits) {
        *m = m.wrapping_mul(100_000_000).wrapping_add(eight);
        i += 8;
    }
    while let Some(&c @ b'0'..=b'9') = text.get(i) {
        *m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
        i += 1;
    }
    i
}

/// The value of eight ASCII digits, or `None` if any byte is not a digit (the SWAR
/// method of fast_float and simdjson: the digits' values combined pairwise in one
/// 64-bit word).
fn eight_digits(bytes: &[u8]) -> Option<u64> {
    let word = u64::from_le_bytes(bytes.try_into().ok()?);
    // Every byte is in 0x30..=0x39: its high nibble is 3, and adding 6 keeps it 3.
    let high = 0xF0F0_F0F0_F0F0_F0F0;
    let zeros = 0x3030_3030_3030_3030;
    if word & high != zeros || word.wrapping_add(0x0606_0606_0606_0606) & high != zeros {
        return None;
    }
    let v = word - zeros;
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let mask = 0x0000_00FF_0000_00FF;
    let hundreds = (v & mask).wrapping_mul(100 + (1_000_000 << 32));
    let ones = ((v >> 16) & mask).wrapping_mul(1 + (10_000 << 32));
    Some(hundreds.wrapping_add(ones) >> 32)
}

/// The number at `start` (JSON's grammar, strictly) as serde_json would hand it to
/// `Level`, and where it ends; `None` for anything left to serde_json: a malformed
/// number, an integer past 64 bits, `-0`, and floats that overflow (serde_json refuses
/// them), underflow to zero or are subnormal.
fn number(text: &[u8], start: usize) -> Option<(Scalar, usize)> {
    let negative = *text.get(start)? == b'-';
    let int_start = start + usize::from(negative);
    // The decimal digits before any exponent, as an integer, and how many there are.
    let mut mantissa = 0;
    let int_end = match text.get(int_start)? {
        b'0' => int_start + 1,
        b'1'..=b'9' => digits(text, int_start, &mut mantissa),
        _ => return None,
    };
    let mut count = int_end - int_start;
    let mut end = int_end;
    // The power of ten `mantissa` is to be multiplied by; far off where unknown.
    let mut scale: i64 = 0;
    if text.get(end) == Some(&b'.') {
        end = digits(text, end + 1, &mut mantissa);
        let fraction = end - (int_end + 1);
        if fraction == 0 {
            return None;
        }
        count += fraction;
        scale = -(fraction.min(1 << 20) as i64);
    }
    let mantissa_end = end;
    if let Some(b'e' | b'E') = text.get(end) {
        let mut at = end + 1;
        let sign = match text.get(at) {
            Some(b'-') => -1,
            _ => 1,
        };
        if let Some(b'+' | b'-') = text.get(at) {
            at += 1;
        }
        let mut exponent = 0;
        end = digits(text, at, &mut exponent);
        scale += match end - at {
            0 => return None,
            1..=4 => sign * exponent as i64,
            _ => i64::from(i32::MAX),
        };
    }
    let value = if end == int_end {
        integer(&text[int_start..int_end], mantissa, negative)?
    } else if let Some(v) = exact(mantissa, count, scale) {
        Scalar::Float(if negative { -v } else { v })
    } else {
        float(&text[start..end], &text[int_start..mantissa_end])?
    };
    Some((value, end))
}

/// `mantissa * 10^scale` where both are exact in an f64 (Clinger's fast path: one
/// correctly rounded multiplication or division), which covers most numbers clients
/// send; `None` for the rest.
fn exact(mantissa: u64, count: usize, scale: i64) -> Option<f64> {
    const POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    if count > 19 || mantissa > 1 << 53 {
        return None;
    }
    let power = *POWERS.get(scale.unsigned_abs() as usize)?;
    let m = mantissa as f64;
    Some(if scale < 0 { m / power } else { m * power })
}

/// An integer as serde_json reads it: non-negative into `u64`, negative into `i64`.
/// `wrapped` is `digits` read with wrapping arithmetic, right up to 19 digits; longer
/// integers are read again with checked arithmetic.
fn integer(digits: &[u8], wrapped: u64, negative: bool) -> Option<Scalar> {
    let mut magnitude = wrapped;
    if digits.len() > 19 {
        magnitude = 0;
        for &d in digits {
            magnitude = magnitude
                .checked_mul(10)?
                .checked_add(u64::from(d - b'0'))?;
        }
    }
    if !negative {
        return Some(Scalar::Uint(magnitude));
    }
    // serde_json reads `-0` as the float -0.0, and anything below i64::MIN as a float.
    if magnitude == 0 || magnitude > 1 << 63 {
        return None;
    }
    Some(Scalar::Int((magnitude as i64).wrapping_neg()))
}

/// A number with a fraction or exponent; `mantissa` is its digits before any exponent.
fn float(token: &[u8], mantissa: &[u8]) -> Option<Scalar> {
    let value: f64 = fast_float2::parse(token).ok()?;
    if value.is_infinite() || value.is_subnormal() {
        return None;
    }
    // A zero only where every digit is a zero, not an underflow.
    if value == 0.0 && mantissa.iter().any(|&c| (b'1'..=b'9').contains(&c)) {
        return None;
    }
    Some(Scalar::Float(value))
}

/// The error type of the collector's checks on the fast path: any error declines.
#[derive(Debug)]
struct Decline;

impl std::fmt::Display for Decline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("declined")
    }
}

impl std::error::Error for Decline {}

impl de::Error for Decline {
    fn custom<T: std::fmt::Display>(_: T) -> Decline {
        Decline
    }
}

#[cfg(test)]
mod tests;
