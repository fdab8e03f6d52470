//! [`Str`], the text of values and keys.

use std::fmt;

use smol_str::SmolStr;

/// Immutable text: inline when short (up to 23 bytes), shared when long.
///
/// Three words, like a `String`, and cloning is a copy (inline) or a
/// reference-count increment (shared `Arc<str>`), never an allocation. It wraps
/// `smol_str::SmolStr` (rust-analyzer's, no dependencies) rather than a safe
/// enum of our own: safe Rust has no way to hand out `&str` over inline bytes
/// without checking that they are UTF-8 on every read, and conditions read
/// text more than anything else. SmolStr keeps exactly the representation the
/// hand-written type had (23 inline bytes and a length, else an `Arc<str>`),
/// compares inline text without touching the heap, and keeps its unchecked
/// code in a crate that is tested and fuzzed as part of rust-analyzer.
#[derive(Clone, PartialEq, Eq)]
pub struct Str(SmolStr);

impl Str {
    /// Makes a `Str` from text, inline when it fits.
    #[inline]
    pub fn new(s: &str) -> Str {
        // `new_inline` is SmolStr's inlined copy into its buffer; `new`, which
        // this falls back to for long text, is an out-of-line call that also
        // looks for whitespace-only text.
        if s.len() <= SmolStr::INLINE_CAP {
            Str(SmolStr::new_inline(s))
        } else {
            Str(SmolStr::new(s))
        }
    }

    /// True when both hold the same text, checked the cheap way first: two
    /// inline texts compare as their bytes and lengths. A quick guard where a
    /// miss falls back to a search (a key looked up where it was last found).
    #[inline(always)]
    pub fn same_repr(&self, other: &Str) -> bool {
        self.0 == other.0
    }

    /// The text.
    #[inline(always)]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::ops::Deref for Str {
    type Target = str;
    #[inline(always)]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

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
        Str(SmolStr::from(s))
    }
}
