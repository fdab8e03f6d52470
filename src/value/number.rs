//! Exact numbers: reading them from text, comparing and writing them.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};

/// Powers of ten that an `i64` holds, for lining scales up.
const POW10: [i64; 19] = {
    let mut t = [1i64; 19];
    let mut i = 1;
    while i < 19 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Orders two numbers by value, whatever their scales: the same answer as
/// `Decimal::cmp`, in a few instructions when both mantissas fit 64 bits and
/// the scales are at most 18 apart (a price against a constant always is):
/// one 64×64-bit multiply lines them up, with no overflow possible. Conditions
/// compare numbers more than they do anything else with them.
#[inline]
pub fn cmp_numbers(a: &Decimal, b: &Decimal) -> Ordering {
    if let (Some((x, sa)), Some((y, sb))) = (small_parts(a), small_parts(b)) {
        if sa == sb {
            return x.cmp(&y);
        }
        if let Some(&p) = POW10.get(sa.abs_diff(sb) as usize) {
            let (x, y) = if sa < sb {
                (i128::from(x) * i128::from(p), i128::from(y))
            } else {
                (i128::from(x), i128::from(y) * i128::from(p))
            };
            return x.cmp(&y);
        }
    }
    a.cmp(b)
}

/// The signed mantissa and the scale of a number whose mantissa fits 63 bits.
#[inline(always)]
pub fn small_parts(d: &Decimal) -> Option<(i64, u32)> {
    // `serialize` is the four words as they are: flags, lo, mid, hi.
    let b = d.serialize();
    let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let (flags, lo, mid, hi) = (word(0), word(4), word(8), word(12));
    if hi != 0 || mid >> 31 != 0 {
        return None;
    }
    let m = (i64::from(mid) << 32) | i64::from(lo);
    let m = if flags >> 31 != 0 { -m } else { m };
    Some((m, (flags >> 16) & 0xff))
}

/// A number in its shortest exact form, as JSON and messages write it: no
/// trailing zeros after the point (`104.50` -> `104.5`, `20` stays `20`), no
/// exponent, and zero is `0` whatever its sign.
pub fn fmt_number(n: Decimal, f: &mut impl fmt::Write) -> fmt::Result {
    if n.is_zero() {
        return f.write_str("0");
    }
    if n.scale() == 0 {
        return write!(f, "{n}");
    }
    write!(f, "{}", n.normalize())
}

/// [`fmt_number`] into a new string.
pub fn number_text(n: Decimal) -> String {
    let mut out = String::new();
    let _ = fmt_number(n, &mut out);
    out
}

/// Why a number's text is not an exact decimal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// Not a number at all.
    Syntax,
    /// Too large: it would lose whole digits.
    OutOfRange,
    /// More digits than a decimal keeps (28 significant, 28 after the point):
    /// it would be rounded.
    TooPrecise,
}

impl NumberError {
    /// The reason, naming the number (cut short when long) as written.
    pub fn message(self, text: &str) -> String {
        let shown = if text.chars().count() > 40 {
            let head: String = text.chars().take(40).collect();
            format!("{head}…")
        } else {
            text.to_string()
        };
        match self {
            NumberError::Syntax => format!("`{shown}` is not a number"),
            NumberError::OutOfRange => format!(
                "number `{shown}` is out of range (an exact number is at most 28 digits, \
                 below 7.9e28)"
            ),
            NumberError::TooPrecise => format!(
                "number `{shown}` has more digits than can be kept exactly (at most 28 \
                 significant digits and 28 after the point)"
            ),
        }
    }
}

/// Reads a number written as JSON, YAML or the condition language write one
/// (`-12`, `+3.5`, `.5`, `1.`, `1e3`, `2.5E-3`), exactly. Beyond what a decimal
/// holds it is an error, never a rounding.
pub fn parse_number(text: &str) -> Result<Decimal, NumberError> {
    let b = text.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let int_start = i;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let int = &b[int_start..i];
    let mut frac: &[u8] = &[];
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        frac = &b[start..i];
    }
    if int.is_empty() && frac.is_empty() {
        return Err(NumberError::Syntax);
    }
    let mut exp = 0i64;
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let neg_exp = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            // Saturates far beyond any exponent a decimal can take.
            exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000_000);
            i += 1;
        }
        if i == start {
            return Err(NumberError::Syntax);
        }
        if neg_exp {
            exp = -exp;
        }
    }
    if i != b.len() {
        return Err(NumberError::Syntax);
    }
    decimal_from_parts(negative, int, frac, exp)
}

/// The exact decimal `±int.frac × 10^exp` from its digits (ASCII `0`-`9`), or
/// why it cannot be one.
pub(crate) fn decimal_from_parts(
    negative: bool,
    int: &[u8],
    frac: &[u8],
    exp: i64,
) -> Result<Decimal, NumberError> {
    let digits = || int.iter().chain(frac.iter()).copied();
    let total = int.len() + frac.len();
    let leading = digits().take_while(|&d| d == b'0').count();
    if leading == total {
        return Ok(Decimal::ZERO);
    }
    let trailing = digits().rev().take_while(|&d| d == b'0').count();
    let sig = total - leading - trailing;
    // The value is `sig digits × 10^exp10`.
    let exp10 = exp - frac.len() as i64 + trailing as i64;
    // Whole digits the number has: beyond 29 it is out of range for certain.
    let whole = sig as i64 + exp10;
    if whole > 29 {
        return Err(NumberError::OutOfRange);
    }
    let scale = (-exp10).max(0);
    if sig > 29 || scale > 28 {
        return Err(NumberError::TooPrecise);
    }
    let mut m: u128 = 0;
    for d in digits().skip(leading).take(sig) {
        m = m * 10 + u128::from(d - b'0');
    }
    for _ in 0..exp10.max(0) {
        m *= 10;
    }
    if m >> 96 != 0 {
        return Err(if whole >= 29 {
            NumberError::OutOfRange
        } else {
            NumberError::TooPrecise
        });
    }
    Ok(Decimal::from_parts(
        m as u32,
        (m >> 32) as u32,
        (m >> 64) as u32,
        negative,
        scale as u32,
    ))
}

/// Writes a number's exact digits. Whole numbers that fit 64 bits go as
/// integers; any other number as its exact text through serde_json's
/// `RawValue`, so serde_json writes the digits as they are (its
/// `arbitrary_precision` would change every `serde_json::Number` in the
/// program). Into a `serde_json::Value` a raw number is read back as an `f64`:
/// exact for up to 15 significant digits.
pub(crate) fn serialize_number<S: Serializer>(n: Decimal, s: S) -> Result<S::Ok, S::Error> {
    if n.scale() == 0 || n.is_integer() {
        let m = n.trunc().mantissa();
        if let Ok(i) = i64::try_from(m) {
            return s.serialize_i64(i);
        }
        if let Ok(u) = u64::try_from(m) {
            return s.serialize_u64(u);
        }
    }
    match serde_json::value::RawValue::from_string(number_text(n)) {
        Ok(raw) => raw.serialize(s),
        Err(e) => Err(serde::ser::Error::custom(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_number_is_exact_or_refuses() {
        let ok = [
            ("12", "12"),
            ("+3.5", "3.5"),
            ("-3.5", "-3.5"),
            (".5", "0.5"),
            ("1.", "1"),
            ("1e3", "1000"),
            ("2.5E-3", "0.0025"),
            ("1.10", "1.1"),
            ("0.30000000000000004", "0.30000000000000004"),
            ("000012.3400", "12.34"),
            ("1e28", "10000000000000000000000000000"),
            (
                "7.9228162514264337593543950335e28",
                "79228162514264337593543950335",
            ),
            ("0e999999999999", "0"),
            ("1000e-31", "0.0000000000000000000000000001"),
        ];
        for (text, want) in ok {
            assert_eq!(
                parse_number(text).map(number_text),
                Ok(want.to_string()),
                "{text}"
            );
        }
        let refused = [
            ("", NumberError::Syntax),
            ("-", NumberError::Syntax),
            ("1e", NumberError::Syntax),
            ("1x", NumberError::Syntax),
            ("0x1F", NumberError::Syntax),
            ("1e29", NumberError::OutOfRange),
            ("79228162514264337593543950336", NumberError::OutOfRange),
            ("1e400", NumberError::OutOfRange),
            ("1e99999999999999999999", NumberError::OutOfRange),
            ("1e-29", NumberError::TooPrecise),
            ("0.12345678901234567890123456789", NumberError::TooPrecise),
            ("8.0000000000000000000000000001", NumberError::TooPrecise),
            ("1.0000000000000000000000000001e-1", NumberError::TooPrecise),
        ];
        for (text, want) in refused {
            assert_eq!(parse_number(text), Err(want), "{text}");
        }
    }

    #[test]
    fn cmp_numbers_agrees_with_decimal() {
        let ns = [
            "0",
            "-0",
            "1",
            "-1",
            "1.10",
            "1.1",
            "129.95",
            "50",
            "-50.000001",
            "0.0000000000000000000000000001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "7922816251426433759354395033.5",
            "1e-28",
            "20",
            "19.999999999999999999999999",
            "2.0000000000000000000000000",
        ];
        for a in ns {
            for b in ns {
                let (x, y) = (parse_number(a).unwrap(), parse_number(b).unwrap());
                assert_eq!(cmp_numbers(&x, &y), x.cmp(&y), "{a} vs {b}");
                assert_eq!(cmp_numbers(&-x, &y), (-x).cmp(&y), "-{a} vs {b}");
            }
        }
    }
}
