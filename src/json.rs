//! Reading JSON straight into [`Value`].
//!
//! Every order that reaches the engine is read from JSON, so this is the
//! engine's front door. Going through serde would hand each token to a visitor
//! and move each value through several layers before it lands; reading here
//! writes each value once: text of up to 23 bytes straight into its inline
//! form (found eight bytes at a time), numbers without an intermediate string,
//! and each list or object gathered on one per-thread stack and moved into a
//! single exactly-sized allocation. The result is the same as serde_json's
//! reading of the same text (a property test checks it), except that a key
//! given twice keeps its first place and its last value, nesting stops at
//! [`MAX_DEPTH`], and every number is read from its text as an exact decimal
//! (no `f64` on the way): one that a decimal cannot hold exactly (beyond about
//! 7.9e28, or more than 28 significant digits) is an error naming it, never a
//! silent rounding.

use std::sync::Arc;

use crate::value::{Decimal, Entry, NumberError, Str, Value, decimal_from_parts};

/// Why a document could not be read, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at line {line} column {column}")]
pub struct JsonError {
    /// What is wrong, as serde_json words it where it has the same error.
    pub message: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in bytes.
    pub column: usize,
    /// The text is JSON, but a number in it is not an exact decimal (out of
    /// range, or more digits than a decimal keeps).
    pub inexact_number: bool,
}

/// How deep a document may nest; deeper input is refused rather than overflowing the stack.
pub const MAX_DEPTH: usize = 64;

/// Stacks that list items and object entries are gathered on while reading,
/// shared by the whole document: each finished list or object moves its part
/// into one exactly-sized `Arc` slice, so reading allocates once per list or
/// object (and once per long text) and never grows a `Vec` per node.
#[derive(Default)]
struct Scratch {
    items: Vec<Value>,
    entries: Vec<Entry>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::new(Scratch::default());
}

/// Keeps the stacks for the next document on this thread, unless they grew large.
fn put_back(mut scratch: Scratch) {
    scratch.items.clear();
    scratch.entries.clear();
    if scratch.entries.capacity() <= 4096 && scratch.items.capacity() <= 4096 {
        SCRATCH.set(scratch);
    }
}

/// Runs `f` with this thread's stacks for list items and object entries. They
/// are kept between documents so that reading one does not grow them again;
/// `take` leaves empty ones behind, so a read nested inside another simply
/// starts its own.
fn with_scratch<R>(f: impl FnOnce(&mut Vec<Value>, &mut Vec<Entry>) -> R) -> R {
    let mut scratch = SCRATCH.take();
    let out = f(&mut scratch.items, &mut scratch.entries);
    put_back(scratch);
    out
}

/// Moves `stack[start..]` into a new exactly-sized `Arc` slice with one
/// allocation and one copy.
fn take_tail<T>(stack: &mut Vec<T>, start: usize) -> Arc<[T]> {
    let n = stack.len() - start;
    let mut arc = Arc::<[T]>::new_uninit_slice(n);
    let dst = Arc::get_mut(&mut arc).expect("a new Arc is unique");
    // SAFETY: `dst` has room for `n` values; the `n` values at `stack[start..]`
    // are moved (copied, then forgotten by `set_len`), so each is owned exactly
    // once, by the new slice.
    unsafe {
        std::ptr::copy_nonoverlapping(stack.as_ptr().add(start), dst.as_mut_ptr().cast::<T>(), n);
        stack.set_len(start);
    }
    // SAFETY: all `n` slots were written above.
    unsafe { arc.assume_init() }
}

/// A key's slot in a 64-bit filter.
#[inline]
fn filter_bit(k: &Str) -> u64 {
    1u64 << (k.quick_hash() >> 58)
}

/// Reads one JSON document.
pub(crate) fn parse(text: &str) -> Result<Value, JsonError> {
    with_scratch(|items, entries| {
        let mut p = Parser {
            src: text.as_bytes(),
            pos: 0,
            items,
            entries,
        };
        let v = p.value(0)?;
        p.skip_ws();
        if p.pos < p.src.len() {
            return Err(p.error_here("trailing characters"));
        }
        Ok(v)
    })
}

struct Parser<'s, 'b> {
    src: &'s [u8],
    pos: usize,
    items: &'b mut Vec<Value>,
    entries: &'b mut Vec<Entry>,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// A mask whose lowest set bit is the high bit of the first byte of `w` (in
/// memory order) that is `"`, `\` or a control character; 0 if there is none.
/// (Bits above the lowest may be false alarms; only the lowest is used.)
#[inline(always)]
fn special(w: u64) -> u64 {
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    has_zero(w ^ (ONES * u64::from(b'"')))
        | has_zero(w ^ (ONES * u64::from(b'\\')))
        | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS)
}

impl Parser<'_, '_> {
    /// The end of a run of one or more digits starting at `i` (a fraction or
    /// an exponent); an empty run is an invalid number.
    fn digits(&mut self, mut i: usize) -> Result<usize, JsonError> {
        let start = i;
        while let Some(b'0'..=b'9') = self.src.get(i) {
            i += 1;
        }
        if i == start {
            self.pos = i;
            return Err(self.error_here("invalid number"));
        }
        Ok(i)
    }

    /// An error about the byte at the current position (or the end).
    fn error_here(&self, message: &str) -> JsonError {
        let at = self.pos.min(self.src.len());
        let before = &self.src[..at];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = if at < self.src.len() {
            at - line_start + 1
        } else {
            at - line_start
        };
        JsonError {
            message: message.to_string(),
            line,
            column,
            inexact_number: false,
        }
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            if b > b' ' || !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                return;
            }
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.skip_ws();
        match self.src.get(self.pos) {
            Some(b'"') => {
                self.pos += 1;
                self.string().map(Value::Text)
            }
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.word(b"true", Value::Bool(true)),
            Some(b'f') => self.word(b"false", Value::Bool(false)),
            Some(b'n') => self.word(b"null", Value::Null),
            Some(_) => Err(self.error_here("expected value")),
            None => Err(self.error_here("EOF while parsing a value")),
        }
    }

    fn word(&mut self, word: &[u8], v: Value) -> Result<Value, JsonError> {
        if self.src[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(v)
        } else if self.src.len() - self.pos < word.len() && word.starts_with(&self.src[self.pos..])
        {
            self.pos = self.src.len();
            Err(self.error_here("EOF while parsing a value"))
        } else {
            Err(self.error_here("expected value"))
        }
    }

    /// Enters a list or an object: checks the depth, steps over the opening
    /// bracket and any space, and says whether `close` follows at once.
    fn open(&mut self, depth: usize, close: u8) -> Result<bool, JsonError> {
        if depth >= MAX_DEPTH {
            return Err(self.error_here(&format!("nested deeper than {MAX_DEPTH} levels")));
        }
        self.pos += 1;
        self.skip_ws();
        let empty = self.src.get(self.pos) == Some(&close);
        if empty {
            self.pos += 1;
        }
        Ok(empty)
    }

    /// After a member of a list or an object: steps over `,` (false) or the
    /// closing bracket (true).
    #[inline]
    fn next_or_close(&mut self, close: u8, what: &str) -> Result<bool, JsonError> {
        self.skip_ws();
        match self.src.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                Ok(false)
            }
            Some(&b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) => Err(self.not_closed(close, what, false)),
            None => Err(self.not_closed(close, what, true)),
        }
    }

    #[cold]
    fn not_closed(&self, close: u8, what: &str, at_end: bool) -> JsonError {
        if at_end {
            self.error_here(&format!("EOF while parsing {what}"))
        } else {
            self.error_here(&format!("expected `,` or `{}`", close as char))
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let start = self.entries.len();
        if self.open(depth, b'}')? {
            return Ok(Value::Object(take_tail(self.entries, start)));
        }
        // A repeated key keeps its first place and its last value; a 64-bit
        // filter of key hashes makes the check nearly free when there is none.
        let mut filter = 0u64;
        loop {
            self.skip_ws();
            match self.src.get(self.pos) {
                Some(b'"') => self.pos += 1,
                Some(_) => return Err(self.error_here("key must be a string")),
                None => return Err(self.error_here("EOF while parsing an object")),
            }
            let key = self.string()?;
            self.skip_ws();
            match self.src.get(self.pos) {
                Some(b':') => self.pos += 1,
                Some(_) => return Err(self.error_here("expected `:`")),
                None => return Err(self.error_here("EOF while parsing an object")),
            }
            let v = self.value(depth + 1)?;
            let bit = filter_bit(&key);
            let repeated = filter & bit != 0
                && match self.entries[start..].iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => {
                        slot.1 = v.clone();
                        true
                    }
                    None => false,
                };
            if !repeated {
                filter |= bit;
                self.entries.push((key, v));
            }
            if self.next_or_close(b'}', "an object")? {
                return Ok(Value::Object(take_tail(self.entries, start)));
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let start = self.items.len();
        if self.open(depth, b']')? {
            return Ok(Value::List(take_tail(self.items, start)));
        }
        loop {
            let v = self.value(depth + 1)?;
            self.items.push(v);
            if self.next_or_close(b']', "a list")? {
                return Ok(Value::List(take_tail(self.items, start)));
            }
        }
    }

    /// Reads a string whose opening quote is consumed.
    fn string(&mut self) -> Result<Str, JsonError> {
        let start = self.pos;
        let src = self.src;
        let mut i = start;
        while i + 8 <= src.len() {
            // SAFETY: `i + 8 <= src.len()`.
            let word = u64::from_le(unsafe {
                std::ptr::read_unaligned(src.as_ptr().add(i) as *const u64)
            });
            let mask = special(word);
            if mask != 0 {
                i += (mask.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        while i < src.len() {
            match src[i] {
                b'"' => {
                    self.pos = i + 1;
                    // SAFETY: `src` came from a `&str` and `start..i` lies between
                    // two ASCII bytes, so it is whole UTF-8.
                    let text = unsafe { std::str::from_utf8_unchecked(&src[start..i]) };
                    return Ok(Str::new(text));
                }
                b'\\' => {
                    self.pos = i;
                    return self.escaped_string(start);
                }
                0..=0x1f => {
                    self.pos = i;
                    return Err(self.error_here(
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    ));
                }
                _ => i += 1,
            }
        }
        self.pos = src.len();
        Err(self.error_here("EOF while parsing a string"))
    }

    /// The rest of a string that has escapes; `pos` is at the first backslash.
    fn escaped_string(&mut self, start: usize) -> Result<Str, JsonError> {
        let src = self.src;
        let mut out: Vec<u8> = src[start..self.pos].to_vec();
        loop {
            let Some(&b) = src.get(self.pos) else {
                return Err(self.error_here("EOF while parsing a string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    // Valid UTF-8: copied from a `&str` between ASCII bytes, or
                    // encoded from a `char` below.
                    return Ok(Str::from(String::from_utf8(out).unwrap_or_default()));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(&e) = src.get(self.pos) else {
                        return Err(self.error_here("EOF while parsing a string"));
                    };
                    self.pos += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => {
                            self.pos -= 1;
                            return Err(self.error_here("invalid escape"));
                        }
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1f => {
                    return Err(self.error_here(
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    ));
                }
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let Some(digits) = self.src.get(self.pos..self.pos + 4) else {
            self.pos = self.src.len();
            return Err(self.error_here("EOF while parsing a string"));
        };
        let mut n = 0u32;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.error_here("invalid escape")),
            };
            n = n * 16 + u32::from(v);
            self.pos += 1;
        }
        Ok(n)
    }

    /// `\uXXXX`, with `\uD83D\uDE00` pairs for characters beyond the BMP.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.src.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(self.error_here("lone leading surrogate in hex escape"));
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error_here("invalid unicode code point"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error_here("invalid unicode code point")),
            n => n,
        };
        char::from_u32(code).ok_or_else(|| self.error_here("invalid unicode code point"))
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let src = self.src;
        let start = self.pos;
        let mut i = start;
        let negative = src[i] == b'-';
        if negative {
            i += 1;
        }
        let int_start = i;
        match src.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = src.get(i) {
                    i += 1;
                }
            }
            Some(_) => {
                self.pos = i;
                return Err(self.error_here("invalid number"));
            }
            None => {
                self.pos = i;
                return Err(self.error_here("EOF while parsing a value"));
            }
        }
        let int_end = i;
        let mut frac = int_end..int_end;
        if src.get(i) == Some(&b'.') {
            i = self.digits(i + 1)?;
            frac = int_end + 1..i;
        }
        let mut exp = None;
        if let Some(b'e' | b'E') = src.get(i) {
            i += 1;
            let sign = i;
            if let Some(b'+' | b'-') = src.get(i) {
                i += 1;
            }
            let digits = i;
            i = self.digits(i)?;
            exp = Some((src[sign] == b'-', digits..i));
        }
        self.pos = i;
        let int = &src[int_start..int_end];
        let frac = &src[frac];
        // Up to 19 digits and no exponent (nearly every number in an order:
        // prices, quantities, ids): the digits are the mantissa, as they are.
        if exp.is_none() && int.len() + frac.len() <= 19 {
            let mut m = 0u64;
            for &d in int.iter().chain(frac) {
                m = m * 10 + u64::from(d - b'0');
            }
            let negative = negative && m != 0;
            return Ok(Value::Number(Decimal::from_parts(
                m as u32,
                (m >> 32) as u32,
                0,
                negative,
                frac.len() as u32,
            )));
        }
        let mut e = 0i64;
        if let Some((neg_exp, digits)) = exp {
            for &d in &src[digits] {
                // Saturates far beyond any exponent a decimal can take.
                e = (e * 10 + i64::from(d - b'0')).min(1_000_000_000);
            }
            if neg_exp {
                e = -e;
            }
        }
        match decimal_from_parts(negative, int, frac, e) {
            Ok(n) => Ok(Value::Number(n)),
            Err(why) => {
                self.pos = start;
                // SAFETY: the bytes checked above are ASCII.
                let text = unsafe { std::str::from_utf8_unchecked(&src[start..i]) };
                Err(self.number_error(why, text))
            }
        }
    }

    #[cold]
    fn number_error(&self, why: NumberError, text: &str) -> JsonError {
        let mut e = self.error_here(&why.message(text));
        e.inexact_number = true;
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_every_kind_of_value() {
        let v = parse(
            r#" {"a": [1, -2.5, 1e3, 0, -0, 12345678901234567890], "b": {"c": null},
            "t": true, "f": false, "s": "x\"y\\z\/\n\u00e9\ud83d\ude00"} "#,
        )
        .unwrap();
        assert_eq!(
            v.to_json(),
            r#"{"a":[1,-2.5,1000,0,0,12345678901234567890],"b":{"c":null},"t":true,"f":false,"s":"x\"y\\z/\né😀"}"#
        );
    }

    #[test]
    fn errors_name_the_place() {
        let rows = [
            (
                r#"{"id": "1", "#.to_string(),
                "EOF while parsing an object at line 1 column 12",
            ),
            (
                "{\"a\": 1,\n  x}".to_string(),
                "key must be a string at line 2 column 3",
            ),
            (
                "[1 2]".to_string(),
                "expected `,` or `]` at line 1 column 4",
            ),
            ("{\"a\" 1}".to_string(), "expected `:` at line 1 column 6"),
            ("[01]".to_string(), "expected `,` or `]` at line 1 column 3"),
            ("[1.]".to_string(), "invalid number at line 1 column 4"),
            ("\"a\\qb\"".to_string(), "invalid escape at line 1 column 4"),
            (
                "\"\\ud800\"".to_string(),
                "lone leading surrogate in hex escape at line 1 column 8",
            ),
            (
                "\"a\tb\"".to_string(),
                "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3",
            ),
            (
                "1e999".to_string(),
                "number `1e999` is out of range (an exact number is at most 28 digits, below 7.9e28) at line 1 column 1",
            ),
            (
                r#"{"total_price": 1e400}"#.to_string(),
                "number `1e400` is out of range (an exact number is at most 28 digits, below 7.9e28) at line 1 column 17",
            ),
            (
                "[1, 100000000000000000000000000000]".to_string(),
                "number `100000000000000000000000000000` is out of range (an exact number is at most 28 digits, below 7.9e28) at line 1 column 5",
            ),
            (
                "0.12345678901234567890123456789".to_string(),
                "number `0.12345678901234567890123456789` has more digits than can be kept exactly (at most 28 significant digits and 28 after the point) at line 1 column 1",
            ),
            (
                "1e-29".to_string(),
                "number `1e-29` has more digits than can be kept exactly (at most 28 significant digits and 28 after the point) at line 1 column 1",
            ),
            (
                "nul".to_string(),
                "EOF while parsing a value at line 1 column 3",
            ),
            ("{} x".to_string(), "trailing characters at line 1 column 4"),
            (
                "".to_string(),
                "EOF while parsing a value at line 1 column 0",
            ),
            (
                "[".repeat(100),
                "nested deeper than 64 levels at line 1 column 65",
            ),
        ];
        for (text, want) in rows {
            assert_eq!(err(&text), want, "{text:?}");
        }
    }

    #[test]
    fn long_and_escaped_strings() {
        let long = "é".repeat(40);
        let v = parse(&format!("[\"{long}\", \"{}\"]", "q".repeat(9))).unwrap();
        assert_eq!(v.to_json(), format!("[\"{long}\",\"{}\"]", "q".repeat(9)));
    }

    #[test]
    fn numbers_are_read_exactly() {
        let rows = [
            ("104.5", "104.5"),
            ("0.1", "0.1"),
            ("-0", "0"),
            ("95.10", "95.1"),
            ("1.5e3", "1500"),
            ("1E+2", "100"),
            ("25e-1", "2.5"),
            ("820982911946154508", "820982911946154508"),
            ("9999999999999999999", "9999999999999999999"),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
            (
                "1234567890123456789012345678",
                "1234567890123456789012345678",
            ),
        ];
        for (text, want) in rows {
            assert_eq!(parse(text).unwrap().to_json(), want, "{text}");
        }
    }

    #[test]
    fn an_inexact_number_is_marked() {
        assert!(parse("[1e400]").unwrap_err().inexact_number);
        assert!(!parse("[1e]").unwrap_err().inexact_number);
    }
}
