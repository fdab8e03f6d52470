//! Reading JSON straight into [`Value`].
//!
//! Every order that reaches the engine is read from JSON, so this is the
//! engine's front door. serde_json does the reading; a [`DeserializeSeed`]
//! builds each [`Value`] as its tokens arrive (no `serde_json::Value` in
//! between): text borrowed from the input goes straight into its inline form,
//! and each list or object is gathered on one per-thread stack and moved into
//! a single exactly-sized allocation. On top of serde_json's reading:
//!
//! - a key given twice keeps its first place and its last value;
//! - nesting stops at [`MAX_DEPTH`];
//! - every number is read from its own text as an exact decimal (no `f64` on
//!   the way): one that a decimal cannot hold exactly (beyond about 7.9e28, or
//!   more than 28 significant digits) is an error naming it, never a silent
//!   rounding;
//! - errors keep the wording (and place) this module gave them before it was
//!   built on serde_json, where that differs from serde_json's.
//!
//! serde_json hands a visitor a non-integer number only as an `f64`, so the
//! reader keeps a `Cursor` into the text in step with the tokens it is
//! given, and reads a number's digits from there. serde_json's
//! `arbitrary_precision` feature would give the text too, but it changes every
//! `serde_json::Number` in the program and allocates a `String` per number.

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

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

impl Value {
    /// Reads one JSON document (see [`crate::json`]).
    pub fn from_json(text: &str) -> Result<Value, JsonError> {
        parse(text)
    }

    /// Reads one JSON document from bytes, which must be UTF-8.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Value, JsonError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => parse(text),
            Err(e) => {
                let (line, line_start) = line_of(bytes, e.valid_up_to());
                Err(JsonError {
                    message: "invalid UTF-8".to_string(),
                    line,
                    column: e.valid_up_to() - line_start + 1,
                    inexact_number: false,
                })
            }
        }
    }
}

/// The line (from 1) that byte `at` is on, and the offset where that line starts.
fn line_of(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, start)
}

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

/// Runs `f` with this thread's stacks. They are kept between documents so that
/// reading one does not grow them again (unless they grew large); `take` leaves
/// empty ones behind, so a read nested inside another simply starts its own.
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut scratch = SCRATCH.take();
    let out = f(&mut scratch);
    scratch.items.clear();
    scratch.entries.clear();
    if scratch.entries.capacity() <= 4096 && scratch.items.capacity() <= 4096 {
        SCRATCH.set(scratch);
    }
    out
}

/// Moves `stack[start..]` into a new exactly-sized `Arc` slice: `Drain` knows
/// its length, so this is one allocation and one move of each value.
fn take_tail<T>(stack: &mut Vec<T>, start: usize) -> Arc<[T]> {
    stack.drain(start..).collect()
}

/// A key's slot in a 64-bit filter of the keys an object has so far: its
/// length and its first and last two bytes, mixed (keys of one object often
/// share a length and a prefix or suffix: `total_price`, `subtotal_price`). A
/// key on a taken slot is then compared with the keys before it.
#[inline]
fn filter_bit(k: &str) -> u64 {
    let b = k.as_bytes();
    let (first, last, before_last) = match b {
        [] => (0, 0, 0),
        [one] => (u64::from(*one), u64::from(*one), 0),
        [f, l] => (u64::from(*f), u64::from(*l), u64::from(*f)),
        [f, .., p, l] => (u64::from(*f), u64::from(*l), u64::from(*p)),
    };
    let h = (b.len() as u64 ^ first << 8 ^ last << 16 ^ before_last << 24)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    1u64 << (h >> 58)
}

/// Reads one JSON document.
pub(crate) fn parse(text: &str) -> Result<Value, JsonError> {
    with_scratch(|scratch| {
        let mut r = Reader {
            cursor: Cursor { src: text, at: 0 },
            scratch,
            slot: None,
            failure: None,
            deep: false,
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let read = ValueSeed {
            r: &mut r,
            depth: 0,
        }
        .deserialize(&mut de);
        let read = read.and_then(|v| {
            r.met(Slot::End);
            de.end().map(|()| v)
        });
        read.map_err(|e| r.error(&e))
    })
}

/// Where in the text the reader is: just past the last token it was handed.
/// Between there and the next token are only spaces and `,:[]{}`, so the next
/// token's text can be found again, which serde_json does not give for numbers.
struct Cursor<'s> {
    src: &'s str,
    at: usize,
}

impl<'s> Cursor<'s> {
    /// Steps over spaces and punctuation to the next token.
    #[inline]
    fn next_token(&mut self) -> usize {
        let b = self.src.as_bytes();
        while let Some(b' ' | b'\n' | b'\t' | b'\r' | b',' | b':' | b'[' | b']' | b'{' | b'}') =
            b.get(self.at)
        {
            self.at += 1;
        }
        self.at
    }

    /// Past a string serde_json lent from the text, found by where it lies:
    /// serde_json lends a string only as the slice of the text between its
    /// quotes.
    #[inline]
    fn past_borrowed(&mut self, s: &str) {
        let offset = (s.as_ptr() as usize).wrapping_sub(self.src.as_ptr() as usize);
        debug_assert_eq!(self.src.as_bytes().get(offset + s.len()), Some(&b'"'));
        self.at = offset + s.len() + 1;
    }

    /// Past the next string, found by reading it (it has escapes).
    fn past_string(&mut self) {
        let b = self.src.as_bytes();
        let mut i = self.next_token() + 1;
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        self.at = i + 1;
    }

    /// Past a word (`true`, `false`, `null`) of `len` bytes.
    #[inline]
    fn past_word(&mut self, len: usize) {
        self.at = self.next_token() + len;
    }

    /// Past an integer serde_json read as `n` (negative when it began with
    /// `-`): JSON writes an integer without a `+` or leading zeros, so its
    /// length is its digit count.
    #[inline]
    fn past_integer(&mut self, n: u64, negative: bool) {
        let digits = n.checked_ilog10().map_or(1, |d| d as usize + 1);
        self.at = self.next_token() + usize::from(negative) + digits;
    }

    /// Past the next number: where it starts, and its text.
    #[inline]
    fn number(&mut self) -> (usize, &'s str) {
        let start = self.next_token();
        let b = self.src.as_bytes();
        let digits = |mut i: usize| {
            while let Some(b'0'..=b'9') = b.get(i) {
                i += 1;
            }
            i
        };
        let mut i = digits(start + usize::from(b.get(start) == Some(&b'-')));
        if b.get(i) == Some(&b'.') {
            i = digits(i + 1);
        }
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            i = digits(i);
        }
        self.at = i;
        (start, self.src.get(start..i).unwrap_or(""))
    }

    /// Past the next number with a point or an exponent, read as an exact
    /// decimal: in one pass over its digits when it has no exponent and up to
    /// 19 digits (prices, weights, rates), else from its text.
    #[inline]
    fn decimal(&mut self) -> Result<Decimal, (usize, NumberError, &'s str)> {
        let start = self.next_token();
        let b = self.src.as_bytes();
        let negative = b.get(start) == Some(&b'-');
        let mut i = start + usize::from(negative);
        let mut m = 0u64;
        let mut count = 0usize;
        let mut scale = 0u32;
        let mut point = false;
        while let Some(&c) = b.get(i) {
            match c {
                b'0'..=b'9' => {
                    m = m.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    count += 1;
                    scale += u32::from(point);
                }
                b'.' if !point => point = true,
                _ => break,
            }
            i += 1;
        }
        if count <= 19 && !matches!(b.get(i), Some(b'e' | b'E')) {
            self.at = i;
            return Ok(Decimal::from_parts(
                m as u32,
                (m >> 32) as u32,
                0,
                negative && m != 0,
                scale,
            ));
        }
        self.at = start;
        let (start, text) = self.number();
        number_from_text(text).map_err(|why| (start, why, text))
    }
}

/// Where the reader was when serde_json refused the text, to word its errors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The document's value.
    Top,
    /// A list's first item, or the end of an empty list.
    FirstItem,
    /// A list's next item, or its end.
    Item,
    /// An object's next key, or its end.
    Key,
    /// The value after a key.
    Member,
    /// The end of the text, after the document.
    End,
}

struct Reader<'s, 'b> {
    cursor: Cursor<'s>,
    scratch: &'b mut Scratch,
    /// Where the error was met, set by the innermost list or object it
    /// passes through (none: the document's own value).
    slot: Option<Slot>,
    /// An error of ours (depth, inexact number) with its place, which the
    /// custom error given to serde_json stands for.
    failure: Option<JsonError>,
    /// A list or object opened past [`MAX_DEPTH`].
    deep: bool,
}

impl Reader<'_, '_> {
    /// Notes where an error was met, unless a list or object inside this one
    /// already did (errors pass out through every level they are in).
    #[cold]
    fn met(&mut self, slot: Slot) {
        self.slot.get_or_insert(slot);
    }

    fn error_at(&self, at: usize, message: &str) -> JsonError {
        let text = self.cursor.src;
        let src = text.as_bytes();
        let (line, line_start) = line_of(src, at);
        let column = if at < src.len() {
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

    #[cold]
    fn fail<E: de::Error>(&mut self, e: JsonError) -> E {
        self.failure = Some(e);
        E::custom("see the reader's failure")
    }

    /// Our error for a serde_json one: ours when we made it, else serde_json's
    /// in the words (and place) this reader has always used.
    #[cold]
    fn error(&mut self, e: &serde_json::Error) -> JsonError {
        if let Some(f) = self.failure.take() {
            return f;
        }
        let text = self.cursor.src;
        let src = text.as_bytes();
        let (line, column) = (e.line(), e.column());
        let full = e.to_string();
        let suffix = format!(" at line {line} column {column}");
        let serde_message = full.strip_suffix(&suffix).unwrap_or(&full);
        // serde_json's place as a byte offset: a column counts the bytes of
        // its line up to and including the byte meant.
        let line_start = src
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == b'\n')
            .nth(line.wrapping_sub(2))
            .map_or(0, |(i, _)| i + 1);
        let at = (line_start + column).saturating_sub(1).min(src.len());
        let ends = line_start + column >= src.len();
        if self.deep {
            // serde_json stopped past the bracket, any space after it and, for
            // an empty list or object, its closing bracket.
            let mut i = line_start + column;
            let back = |i: &mut usize| {
                while *i > 0 && src[*i - 1].is_ascii_whitespace() {
                    *i -= 1;
                }
            };
            back(&mut i);
            if i > 0 && matches!(src[i - 1], b']' | b'}') {
                i -= 1;
                back(&mut i);
            }
            let message = format!("nested deeper than {MAX_DEPTH} levels");
            return self.error_at(i.saturating_sub(1), &message);
        }
        let message = match (serde_message, self.slot.unwrap_or(Slot::Top)) {
            ("trailing comma", Slot::Key) => "key must be a string",
            ("trailing comma", _) => "expected value",
            ("EOF while parsing a value", Slot::Key) => "EOF while parsing an object",
            ("EOF while parsing a list", Slot::FirstItem) => "EOF while parsing a value",
            ("EOF while parsing a value", _) if ends && in_number(src) => "invalid number",
            ("invalid number", _) if ends && src.ends_with(b"-") => "EOF while parsing a value",
            ("invalid number", slot)
                if src.get(at).is_some_and(u8::is_ascii_digit) && leading_zero(src, at) =>
            {
                match slot {
                    Slot::Item | Slot::FirstItem => "expected `,` or `]`",
                    Slot::Key | Slot::Member => "expected `,` or `}`",
                    Slot::Top | Slot::End => "trailing characters",
                }
            }
            ("unexpected end of hex escape", _) => "lone leading surrogate in hex escape",
            ("expected ident", _) => {
                let start = self.cursor.next_token();
                return self.error_at(start, "expected value");
            }
            ("number out of range", _) => {
                let (start, text) = self.cursor.number();
                match number_from_text(text) {
                    Err(why) => return self.number_error(start, why, text),
                    Ok(_) => serde_message,
                }
            }
            (m, _) => m,
        };
        if column == 0 && line > 1 && !message.starts_with("EOF") {
            // serde_json stepped over the newline it means; name it on its own line.
            return self.error_at(at, message);
        }
        JsonError {
            message: message.to_string(),
            line,
            column,
            inexact_number: false,
        }
    }

    #[cold]
    fn number_error(&self, start: usize, why: NumberError, text: &str) -> JsonError {
        let mut e = self.error_at(start, &why.message(text));
        e.inexact_number = true;
        e
    }

    /// Refuses to open a level past [`MAX_DEPTH`]; the place is found in
    /// [`Reader::error`], from where serde_json stopped.
    #[cold]
    fn too_deep<E: de::Error>(&mut self) -> E {
        self.deep = true;
        E::custom("nested too deep")
    }
}

/// True when the text ends inside a number, where digits must follow (`1.`, `1e`, `1e-`).
fn in_number(src: &[u8]) -> bool {
    match src {
        [.., d, b'.'] => d.is_ascii_digit(),
        [.., d, b'e' | b'E'] => d.is_ascii_digit() || *d == b'.',
        [.., b'e' | b'E', b'+' | b'-'] => true,
        _ => false,
    }
}

/// True when the digit at `at` follows a number's leading `0` (`01`, `-01`).
fn leading_zero(src: &[u8], at: usize) -> bool {
    match at.checked_sub(1).and_then(|i| src.get(i)) {
        Some(b'0') => !at
            .checked_sub(2)
            .and_then(|i| src.get(i))
            .is_some_and(|b| b.is_ascii_digit() || *b == b'.'),
        _ => false,
    }
}

/// A JSON number's text (as serde_json accepted it) as an exact decimal; the
/// short numbers without an exponent are read by [`Cursor::decimal`] instead.
fn number_from_text(text: &str) -> Result<Decimal, NumberError> {
    let b = text.as_bytes();
    let negative = b.first() == Some(&b'-');
    let digits = &b[usize::from(negative)..];
    let int_len = digits
        .iter()
        .position(|d| !d.is_ascii_digit())
        .unwrap_or(digits.len());
    let (int, rest) = digits.split_at(int_len);
    let (frac, rest) = match rest.split_first() {
        Some((b'.', after)) => {
            let n = after
                .iter()
                .position(|d| !d.is_ascii_digit())
                .unwrap_or(after.len());
            after.split_at(n)
        }
        _ => (&rest[..0], rest),
    };
    let mut e = 0i64;
    let mut neg_exp = false;
    if let Some((b'e' | b'E', exp)) = rest.split_first() {
        let exp = match exp.split_first() {
            Some((b'-', tail)) => {
                neg_exp = true;
                tail
            }
            Some((b'+', tail)) => tail,
            _ => exp,
        };
        for &d in exp.iter().take_while(|d| d.is_ascii_digit()) {
            // Saturates far beyond any exponent a decimal can take.
            e = (e * 10 + i64::from(d - b'0')).min(1_000_000_000);
        }
    }
    decimal_from_parts(negative, int, frac, if neg_exp { -e } else { e })
}

/// Reads one value at `depth`.
struct ValueSeed<'r, 's, 'b> {
    r: &'r mut Reader<'s, 'b>,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_, '_> {
    type Value = Value;

    #[inline]
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        self.r.cursor.past_word(if b { 4 } else { 5 });
        Ok(Value::Bool(b))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.r.cursor.past_word(4);
        Ok(Value::Null)
    }

    #[inline]
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        self.r.cursor.past_integer(n, false);
        Ok(Value::Number(Decimal::from(n)))
    }

    #[inline]
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        self.r.cursor.past_integer(n.unsigned_abs(), n < 0);
        Ok(Value::Number(Decimal::from(n)))
    }

    /// Any other number: read again, exactly, from its text.
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Value, E> {
        match self.r.cursor.decimal() {
            Ok(n) => Ok(Value::Number(n)),
            Err((start, why, text)) => {
                let e = self.r.number_error(start, why, text);
                Err(self.r.fail(e))
            }
        }
    }

    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Value, E> {
        self.r.cursor.past_borrowed(s);
        Ok(Value::Text(Str::new(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        self.r.cursor.past_string();
        Ok(Value::Text(Str::new(s)))
    }

    #[inline(never)]
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let r = self.r;
        if self.depth >= MAX_DEPTH {
            return Err(r.too_deep());
        }
        let start = r.scratch.items.len();
        let mut slot = Slot::FirstItem;
        loop {
            let next = seq.next_element_seed(ValueSeed {
                r: &mut *r,
                depth: self.depth + 1,
            });
            match next {
                Ok(Some(v)) => r.scratch.items.push(v),
                Ok(None) => break,
                Err(e) => {
                    r.met(slot);
                    return Err(e);
                }
            }
            slot = Slot::Item;
        }
        Ok(Value::List(take_tail(&mut r.scratch.items, start)))
    }

    #[inline(never)]
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let r = self.r;
        if self.depth >= MAX_DEPTH {
            return Err(r.too_deep());
        }
        let start = r.scratch.entries.len();
        // A repeated key keeps its first place and its last value; a 64-bit
        // filter of key hashes makes the check nearly free when there is none.
        let mut filter = 0u64;
        loop {
            let key = match map.next_key_seed(KeySeed { r: &mut *r }) {
                Ok(Some(key)) => key,
                Ok(None) => break,
                Err(e) => {
                    r.met(Slot::Key);
                    return Err(e);
                }
            };
            let v = match map.next_value_seed(ValueSeed {
                r: &mut *r,
                depth: self.depth + 1,
            }) {
                Ok(v) => v,
                Err(e) => {
                    r.met(Slot::Member);
                    return Err(e);
                }
            };
            let bit = filter_bit(&key);
            let entries = &mut r.scratch.entries;
            let repeated = filter & bit != 0
                && match entries[start..].iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => {
                        slot.1 = v.clone();
                        true
                    }
                    None => false,
                };
            if !repeated {
                filter |= bit;
                entries.push((key, v));
            }
        }
        Ok(Value::Object(take_tail(&mut r.scratch.entries, start)))
    }
}

/// Reads an object's key.
struct KeySeed<'r, 's, 'b> {
    r: &'r mut Reader<'s, 'b>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_, '_, '_> {
    type Value = Str;

    #[inline]
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Str, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_, '_, '_> {
    type Value = Str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    #[inline]
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Str, E> {
        self.r.cursor.past_borrowed(s);
        Ok(Str::new(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Str, E> {
        self.r.cursor.past_string();
        Ok(Str::new(s))
    }
}

#[cfg(test)]
mod tests;
