//! The dynamic value that orders, conditions and attributes are made of.
//!
//! An order is a JSON document whose shape is mostly known (SPEC 3.5) but may carry
//! any extra fields, which ordersync passes through. [`Value`] holds such a document
//! in a form that is cheap to read, cheap to share and cheap to change one field of:
//!
//! - text up to 23 bytes is stored inline (most order fields: statuses, currencies,
//!   SKUs, zips, countries, names), longer text behind an `Arc`;
//! - lists and objects are `Arc` slices, so cloning an order is a reference-count
//!   increment and setting one field copies only the path to it.
//!
//! `crate::json` reads JSON into this form.
//!
//! Every number is an exact decimal ([`Decimal`], 96-bit mantissa and a scale:
//! 28 significant digits, SPEC 3.6), never a binary float, so `95 * 1.10` is
//! `104.5` and an 18-digit id keeps every digit. Numbers are written in their
//! shortest exact form: no trailing zeros after the point, no exponent.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

pub use rust_decimal::Decimal;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

const INLINE: usize = 23;
const SHARED: u8 = u8::MAX;

/// Immutable text: inline when short, shared when long.
///
/// Three words. Inline, the text's bytes come first, zero-padded, and the last
/// byte is the length; so equal inline strings have equal words and copying or
/// comparing one is three word moves or compares. Shared, the first two words
/// are the data pointer and length of an `Arc<str>` and the last byte is
/// `SHARED`. A new inline `Str` is assembled with word-sized loads and stores:
/// filling it byte by byte and then moving it as words stalls the CPU's store
/// forwarding, which showed as most of the cost of reading an order.
#[repr(C, align(8))]
pub struct Str {
    words: [u64; 3],
}

// SAFETY: a `Str` is either plain bytes or a counted reference to an immutable
// `Arc<str>`, which is `Send` and `Sync`.
unsafe impl Send for Str {}
// SAFETY: as above.
unsafe impl Sync for Str {}

/// Reads `n` (at most 8) bytes at `p` into the low bytes of a little-endian word,
/// with at most two loads.
///
/// # Safety
/// `p..p + n` must be readable.
#[inline(always)]
pub(crate) unsafe fn load_le(p: *const u8, n: usize) -> u64 {
    // SAFETY: every read below stays within `p..p + n`.
    unsafe {
        match n {
            0 => 0,
            1..=3 => {
                let a = u64::from(*p);
                let b = u64::from(*p.add(n / 2));
                let c = u64::from(*p.add(n - 1));
                a | b << (8 * (n / 2)) | c << (8 * (n - 1))
            }
            4..=7 => {
                let lo = u64::from(u32::from_le(std::ptr::read_unaligned(p as *const u32)));
                let hi = u64::from(u32::from_le(std::ptr::read_unaligned(
                    p.add(n - 4) as *const u32
                )));
                lo | hi << (8 * (n - 4))
            }
            _ => u64::from_le(std::ptr::read_unaligned(p as *const u64)),
        }
    }
}

impl Str {
    /// Makes a `Str` from text, inline when it fits.
    #[inline]
    pub fn new(s: &str) -> Str {
        let len = s.len();
        if len > INLINE {
            return Str::shared(Arc::from(s));
        }
        let p = s.as_ptr();
        // SAFETY: every load reads only bytes of `s`: a whole word at `p + k`
        // only when `k + 8 <= len`, and the tail as the last eight bytes of `s`
        // shifted down, or with `load_le` when `s` is shorter than a word.
        let (w0, w1, w2) = unsafe {
            let word = |at: usize| u64::from_le(std::ptr::read_unaligned(p.add(at) as *const u64));
            if len < 8 {
                (load_le(p, len), 0, 0)
            } else if len < 16 {
                (
                    word(0),
                    word(len - 8)
                        .checked_shr(8 * (16 - len) as u32)
                        .unwrap_or(0),
                    0,
                )
            } else {
                (
                    word(0),
                    word(8),
                    word(len - 8)
                        .checked_shr(8 * (24 - len) as u32)
                        .unwrap_or(0),
                )
            }
        };
        Str {
            words: [w0.to_le(), w1.to_le(), (w2 | (len as u64) << 56).to_le()],
        }
    }

    /// A hash for spotting repeated keys; equal text hashes equal.
    #[inline]
    pub(crate) fn quick_hash(&self) -> u64 {
        if self.tag() != SHARED {
            let [a, b, c] = self.words;
            (a ^ b.rotate_left(21) ^ c.rotate_left(42)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        } else {
            let b = self.as_bytes();
            (b.len() as u64 ^ u64::from(b[0]) << 8 ^ u64::from(b[b.len() - 1]) << 16)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        }
    }

    fn shared(arc: Arc<str>) -> Str {
        let len = arc.len();
        let ptr = Arc::into_raw(arc) as *const u8 as usize;
        Str {
            words: [ptr as u64, len as u64, (u64::from(SHARED) << 56).to_le()],
        }
    }

    /// True when both hold the same bytes: for inline text, the same text; for
    /// shared text, the same allocation. Equal text in two allocations is not
    /// the same representation: use `==` for text equality.
    #[inline(always)]
    pub fn same_repr(&self, other: &Str) -> bool {
        self.words == other.words
    }

    #[inline(always)]
    fn tag(&self) -> u8 {
        (u64::from_le(self.words[2]) >> 56) as u8
    }

    /// The `Arc<str>` pointer of a shared `Str`.
    fn raw(&self) -> *const str {
        let ptr = self.words[0] as usize as *const u8;
        std::ptr::slice_from_raw_parts(ptr, self.words[1] as usize) as *const str
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        let tag = self.tag();
        if tag != SHARED {
            // SAFETY: the first `tag` bytes were copied from a `&str` in `Str::new`.
            unsafe {
                let bytes =
                    std::slice::from_raw_parts(self.words.as_ptr() as *const u8, tag as usize);
                std::str::from_utf8_unchecked(bytes)
            }
        } else {
            // SAFETY: a shared `Str` holds one strong count of the `Arc<str>` it
            // points to, so the text lives at least as long as `self`.
            unsafe { &*self.raw() }
        }
    }
}

impl Clone for Str {
    #[inline]
    fn clone(&self) -> Str {
        if self.tag() == SHARED {
            // SAFETY: the pointer came from `Arc::into_raw` and `self` holds a count.
            unsafe { Arc::increment_strong_count(self.raw()) };
        }
        Str { words: self.words }
    }
}

impl Drop for Str {
    fn drop(&mut self) {
        if self.tag() == SHARED {
            // SAFETY: gives back the count this `Str` holds.
            unsafe { Arc::decrement_strong_count(self.raw()) };
        }
    }
}

impl std::ops::Deref for Str {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Str {
    #[inline]
    fn eq(&self, other: &Str) -> bool {
        if self.tag() != SHARED && other.tag() != SHARED {
            return self.words == other.words;
        }
        self.as_str() == other.as_str()
    }
}
impl Eq for Str {}

impl PartialEq<str> for Str {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl std::hash::Hash for Str {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        if s.len() <= INLINE {
            Str::new(&s)
        } else {
            Str::shared(Arc::from(s))
        }
    }
}

/// One key and its value in an object; objects keep their keys in input order.
pub type Entry = (Str, Value);

/// A JSON-like value: what an order, a condition's result and an attribute are.
#[derive(Clone, Default)]
pub enum Value {
    /// JSON `null`, and any field that is missing.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// Every number is an exact decimal (16 bytes, so `Value` stays 32).
    Number(Decimal),
    /// Text.
    Text(Str),
    /// An ordered list.
    List(Arc<[Value]>),
    /// An object, keys in input order.
    Object(Arc<[Entry]>),
}

impl Value {
    /// Reads one JSON document (see [`crate::json`]).
    pub fn from_json(text: &str) -> Result<Value, crate::json::JsonError> {
        crate::json::parse(text)
    }

    /// Reads one JSON document from bytes, which must be UTF-8.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Value, crate::json::JsonError> {
        match std::str::from_utf8(bytes) {
            Ok(text) => crate::json::parse(text),
            Err(e) => {
                let before = &bytes[..e.valid_up_to()];
                let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
                let line_start = before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                Err(crate::json::JsonError {
                    message: "invalid UTF-8".to_string(),
                    line,
                    column: e.valid_up_to() - line_start + 1,
                    inexact_number: false,
                })
            }
        }
    }

    /// Writes the value as compact JSON.
    pub fn to_json(&self) -> String {
        // Serializing a `Value` to a `String` has no failure mode: keys are always
        // strings and non-finite numbers are written as `null`.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Makes a text value.
    pub fn text(s: &str) -> Value {
        Value::Text(Str::new(s))
    }

    /// Makes a list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::from(items))
    }

    /// Makes an object value from entries (later duplicates are kept as given).
    pub fn object(entries: Vec<Entry>) -> Value {
        Value::Object(Arc::from(entries))
    }

    /// The name of this value's type, as error messages say it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::Text(_) => "text",
            Value::List(_) => "list",
            Value::Object(_) => "object",
        }
    }

    /// True for null, "", [] and {} (the language's `is empty`).
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(s) => s.is_empty(),
            Value::List(l) => l.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Bool(_) | Value::Number(_) => false,
        }
    }

    /// True for `Value::Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_decimal(&self) -> Option<Decimal> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Makes a number value from a whole number.
    pub fn int(n: i64) -> Value {
        Value::Number(Decimal::from(n))
    }

    /// The items, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// The entries, if this is an object.
    pub fn as_object(&self) -> Option<&[Entry]> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The value of `key` in an object, or `None`.
    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == key)
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a dotted path (`shipping_address.country`, `line_items.0.sku`).
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        let mut here = self;
        for seg in path.split('.') {
            here = match here {
                Value::List(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => here.get(seg)?,
            };
        }
        Some(here)
    }

    /// Sets `path` to `value` in place, creating objects on the way. An object
    /// shared with other values is copied first (once: later sets on the same
    /// copy change it in place), so the others never see the change.
    pub fn set_path<S: AsRef<str>>(&mut self, path: &[S], value: Value) {
        let Some((first, rest)) = path.split_first() else {
            *self = value;
            return;
        };
        let first = first.as_ref();
        let Value::Object(entries) = self else {
            let mut child = Value::Null;
            child.set_path(rest, value);
            *self = Value::object(vec![(Str::new(first), child)]);
            return;
        };
        match entries.iter().position(|(k, _)| k.as_str() == first) {
            Some(i) => {
                if Arc::get_mut(entries).is_none() {
                    *entries = entries.iter().cloned().collect();
                }
                if let Some(unique) = Arc::get_mut(entries) {
                    unique[i].1.set_path(rest, value);
                }
            }
            None => {
                let mut child = Value::Null;
                child.set_path(rest, value);
                let added = (Str::new(first), child);
                *entries = entries
                    .iter()
                    .cloned()
                    .chain(std::iter::once(added))
                    .collect();
            }
        }
    }

    /// Structural equality where numbers compare by value and objects ignore key order.
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => cmp_numbers(a, b).is_eq(),
            (Value::Text(a), Value::Text(b)) => a == b,
            (Value::List(a), Value::List(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| x.same(y)))
            }
            (Value::Object(a), Value::Object(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.len() == b.len()
                        && a.iter()
                            .all(|(k, v)| other.get(k).is_some_and(|w| v.same(w))))
            }
            _ => false,
        }
    }

    /// Orders two values of the same kind (numbers, text case-insensitively); `None`
    /// when they cannot be ordered.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => Some(cmp_numbers(a, b)),
            (Value::Text(a), Value::Text(b)) => Some(cmp_ignore_case(a, b)),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.same(other)
    }
}

/// Case-insensitive text equality: ASCII fast path, full Unicode lowercase otherwise.
#[inline]
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
    }
}

/// Case-insensitive ordering of text.
pub fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    a.chars()
        .flat_map(char::to_lowercase)
        .cmp(b.chars().flat_map(char::to_lowercase))
}

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

impl fmt::Display for Value {
    /// JSON, compact; text quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => fmt_number(*n, f),
            Value::Text(s) => write!(f, "{:?}", s.as_str()),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("]")
            }
            Value::Object(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => serialize_number(*n, s),
            Value::Text(t) => s.serialize_str(t),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for v in items.iter() {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries.iter() {
                    map.serialize_entry(k.as_str(), v)?;
                }
                map.end()
            }
        }
    }
}

/// Writes a number's exact digits. Whole numbers that fit 64 bits go as
/// integers; any other number as its exact text through serde_json's
/// `RawValue`, so serde_json writes the digits as they are (its
/// `arbitrary_precision` would change every `serde_json::Number` in the
/// program). Into a `serde_json::Value` a raw number is read back as an `f64`:
/// exact for up to 15 significant digits.
fn serialize_number<S: Serializer>(n: Decimal, s: S) -> Result<S::Ok, S::Error> {
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

impl From<&serde_json::Value> for Value {
    fn from(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            // Without `arbitrary_precision` a serde_json number is a 64-bit
            // integer or an `f64`; the latter is read from its shortest text.
            serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Value::Number(Decimal::from(i)),
                (_, Some(u)) => Value::Number(Decimal::from(u)),
                _ => parse_number(&n.to_string()).map_or(Value::Null, Value::Number),
            },
            serde_json::Value::String(s) => Value::text(s),
            serde_json::Value::Array(a) => Value::list(a.iter().map(Value::from).collect()),
            serde_json::Value::Object(o) => Value::object(
                o.iter()
                    .map(|(k, v)| (Str::new(k), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_json() {
        let text = r#"{"id":"27-1138","total_price":20,"tags":["eBay"],"x":{"y":1.5},"n":null}"#;
        let v = Value::from_json(text).unwrap();
        assert_eq!(v.to_json(), text);
        assert_eq!(v.get_path("x.y"), Some(&Value::Number(Decimal::new(15, 1))));
        assert_eq!(v.get_path("tags.0"), Some(&Value::text("eBay")));
    }

    #[test]
    fn long_and_short_text() {
        let long = "a".repeat(100);
        assert_eq!(Str::new(&long).as_str(), long);
        assert_eq!(Str::new("ab").as_str(), "ab");
        assert_eq!(Str::new("é".repeat(11).as_str()).as_str(), "é".repeat(11));
    }

    #[test]
    fn set_path_on_a_copy_copies_only_the_spine() {
        let v = Value::from_json(r#"{"a":{"b":1},"c":[1]}"#).unwrap();
        let mut w = v.clone();
        w.set_path(&["a", "d"], Value::Bool(true));
        assert_eq!(w.to_json(), r#"{"a":{"b":1,"d":true},"c":[1]}"#);
        assert_eq!(v.to_json(), r#"{"a":{"b":1},"c":[1]}"#);
    }

    #[test]
    fn every_short_length_reads_back() {
        let text = "abcdefghijklmnopqrstuvwxyzé";
        for end in 0..=text.len() {
            if let Some(t) = text.get(..end) {
                let s = Str::new(t);
                assert_eq!(s.as_str(), t);
                assert_eq!(s.clone(), Str::from(t.to_string()));
            }
        }
    }

    #[test]
    fn shared_text_is_counted_not_copied() {
        let long = Str::new(&"x".repeat(40));
        let copies: Vec<Str> = (0..10).map(|_| long.clone()).collect();
        drop(long);
        assert!(copies.iter().all(|c| c.as_str() == "x".repeat(40)));
        assert_eq!(Str::new("abc"), Str::from("abc".to_string()));
        assert_ne!(Str::new("abc"), Str::new("abd"));
        assert_eq!(Str::new(&"y".repeat(30)), Str::from("y".repeat(30)));
        assert_eq!(std::mem::size_of::<Str>(), 24);
    }

    #[test]
    fn a_repeated_key_keeps_its_place_and_last_value() {
        let v = Value::from_json(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(v.to_json(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn set_path_changes_only_its_own_copy() {
        let v = Value::from_json(r#"{"a":{"b":1},"c":[1]}"#).unwrap();
        let mut w = v.clone();
        w.set_path(&["a", "b"], Value::int(2));
        w.set_path(&["d"], Value::Bool(true));
        w.set_path(&["c"], Value::Null);
        assert_eq!(w.to_json(), r#"{"a":{"b":2},"c":null,"d":true}"#);
        assert_eq!(v.to_json(), r#"{"a":{"b":1},"c":[1]}"#);
    }

    #[test]
    fn refuses_deep_nesting() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(Value::from_json(&deep).is_err());
    }

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn a_value_stays_four_words() {
        assert_eq!(std::mem::size_of::<Decimal>(), 16);
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn numbers_are_written_in_their_shortest_exact_form() {
        let rows = [
            ("104.50", "104.5"),
            ("104.50000000000000000", "104.5"),
            ("20", "20"),
            ("20.000", "20"),
            ("1000", "1000"),
            ("-0", "0"),
            ("-0.00", "0"),
            ("-2.50", "-2.5"),
            (
                "0.0000000000000000000000000001",
                "0.0000000000000000000000000001",
            ),
            (
                "79228162514264337593543950335",
                "79228162514264337593543950335",
            ),
        ];
        for (n, want) in rows {
            assert_eq!(number_text(d(n)), want, "{n}");
            assert_eq!(Value::Number(d(n)).to_json(), want, "{n}");
            assert_eq!(Value::Number(d(n)).to_string(), want, "{n}");
        }
    }

    #[test]
    fn long_ids_keep_every_digit_both_ways() {
        for id in [
            "820982911946154508",
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "1234567890123456789012345678",
        ] {
            let text = format!(r#"{{"id":{id},"total":104.5}}"#);
            let v = Value::from_json(&text).unwrap();
            assert_eq!(v.get("id").and_then(Value::as_decimal), Some(d(id)));
            assert_eq!(v.to_json(), text);
            assert_eq!(serde_json::to_string(&v).unwrap(), text);
        }
    }

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

    #[test]
    fn numbers_compare_by_value_whatever_their_scale() {
        assert_eq!(Value::Number(d("1.10")), Value::Number(d("1.1")));
        assert_eq!(
            Value::Number(d("20")).compare(&Value::Number(d("19.999"))),
            Some(Ordering::Greater)
        );
        let v = Value::from(&serde_json::json!({"a": 0.1, "b": 18446744073709551615u64, "c": -5}));
        assert_eq!(v.to_json(), r#"{"a":0.1,"b":18446744073709551615,"c":-5}"#);
    }
}
