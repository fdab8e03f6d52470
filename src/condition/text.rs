//! Text tests that ignore case, against a needle lowered once at compile time.
//!
//! ASCII text is compared eight bytes at a time: the needle is held as
//! little-endian words, and the text's bytes are lowered a word at a time.
//! Everything else goes through Unicode lower-casing, which is what the language
//! means by "ignoring case"; the fast paths give the same answers (tested below).

use super::program::{Needle, TextOp};
use crate::value::eq_ignore_case;

/// Lower-cases the ASCII letters of eight bytes at once; other bytes are kept.
#[inline(always)]
fn ascii_lower(w: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let h = w & LOW7;
    let at_least_a = h.wrapping_add(0x3f3f_3f3f_3f3f_3f3f);
    let past_z = h.wrapping_add(0x2525_2525_2525_2525);
    let upper = at_least_a & !past_z & !w & HIGH;
    w | (upper >> 2)
}

/// Up to eight bytes as a little-endian word, zero above them. Lengths that are
/// not a power of two are read as two overlapping loads (the bytes they share
/// are the same bytes at the same place, so or-ing them is exact).
#[inline(always)]
fn load_le(b: &[u8]) -> u64 {
    if let Some(w) = b.first_chunk::<8>() {
        return u64::from_le_bytes(*w);
    }
    if let (Some(lo), Some(hi)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        let (lo, hi) = (u32::from_le_bytes(*lo), u32::from_le_bytes(*hi));
        return u64::from(lo) | u64::from(hi) << (8 * (b.len() - 4));
    }
    match b {
        [] => 0,
        [first, ..] => {
            let n = b.len();
            let (mid, last) = (b[n / 2], b[n - 1]);
            u64::from(*first) | u64::from(mid) << (8 * (n / 2)) | u64::from(last) << (8 * (n - 1))
        }
    }
}

/// `bytes` (exactly as long as the needle, at most 24) equals the needle
/// ignoring ASCII case.
#[inline]
fn words_match(bytes: &[u8], words: &[u64; 3]) -> bool {
    let (first, rest) = bytes.split_at(bytes.len().min(8));
    if ascii_lower(load_le(first)) != words[0] {
        return false;
    }
    if rest.is_empty() {
        return true;
    }
    let (second, third) = rest.split_at(rest.len().min(8));
    if ascii_lower(load_le(second)) != words[1] {
        return false;
    }
    third.is_empty() || ascii_lower(load_le(third)) == words[2]
}

/// `hay` contains, starts with or ends with the needle, ignoring case.
#[inline]
pub(crate) fn text_const(op: TextOp, hay: &str, needle: &Needle) -> bool {
    let n = needle.lower.as_str();
    let raw_ok = needle.ascii && (!needle.fold_risk || hay.is_ascii());
    if raw_ok {
        let (h, nb) = (hay.as_bytes(), n.as_bytes());
        if h.len() < nb.len() {
            return false;
        }
        return match (op, &needle.words) {
            (TextOp::StartsWith, Some(w)) => words_match(&h[..nb.len()], w),
            (TextOp::EndsWith, Some(w)) => words_match(&h[h.len() - nb.len()..], w),
            (TextOp::StartsWith, None) => h[..nb.len()].eq_ignore_ascii_case(nb),
            (TextOp::EndsWith, None) => h[h.len() - nb.len()..].eq_ignore_ascii_case(nb),
            (TextOp::Contains, _) => {
                nb.is_empty() || h.windows(nb.len()).any(|w| w.eq_ignore_ascii_case(nb))
            }
        };
    }
    let h = hay.to_lowercase();
    match op {
        TextOp::StartsWith => h.starts_with(n),
        TextOp::EndsWith => h.ends_with(n),
        TextOp::Contains => h.contains(n),
    }
}

/// [`text_const`] with a needle known only at run time.
pub(crate) fn text_dyn(op: TextOp, hay: &str, needle: &str) -> bool {
    text_const(op, hay, &Needle::new(needle))
}

/// Case-insensitive equality with a lower-cased constant; ASCII compares words.
#[inline]
pub(crate) fn eq_needle(hay: &str, n: &Needle) -> bool {
    if let Some(words) = &n.words {
        if hay.len() == n.lower.len() && words_match(hay.as_bytes(), words) {
            return true;
        }
        if !n.fold_risk {
            return false;
        }
    }
    eq_needle_unicode(hay, n)
}

#[cold]
#[inline(never)]
fn eq_needle_unicode(hay: &str, n: &Needle) -> bool {
    if n.ascii && hay.is_ascii() {
        return hay.eq_ignore_ascii_case(&n.lower);
    }
    eq_ignore_case(hay, &n.lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_agree_with_a_padded_copy() {
        let bytes: Vec<u8> = (1..=24).map(|i| i * 7 + 0x40).collect();
        for start in 0..8 {
            for len in 0..=8 {
                let b = &bytes[start..start + len];
                let mut padded = [0u8; 8];
                padded[..len].copy_from_slice(b);
                assert_eq!(load_le(b), u64::from_le_bytes(padded), "{start}+{len}");
            }
        }
        for len in 0..=24 {
            let text: String = "Ds-Mug@Example.COM-abcde".chars().take(len).collect();
            let needle = Needle::new(&text.to_lowercase());
            let words = needle.words.expect("short ASCII needles have words");
            assert!(words_match(text.as_bytes(), &words), "{text:?}");
            let mut other = text.clone().into_bytes();
            if let Some(last) = other.last_mut() {
                *last ^= 0x01;
                assert!(!words_match(&other, &words), "{text:?} changed");
            }
        }
    }

    /// The fast paths rely on this: apart from `A`-`Z`, the only characters whose
    /// lower case holds ASCII letters are `İ` (-> `i̇`) and the Kelvin sign (-> `k`).
    #[test]
    fn only_i_and_k_fold_into_ascii() {
        for c in (0x80u32..=0x10FFFF).filter_map(char::from_u32) {
            for l in c.to_lowercase().filter(char::is_ascii) {
                assert!(l == 'i' || l == 'k', "{c:?} lower-cases to {l:?}");
            }
        }
    }

    #[test]
    fn word_compares_agree_with_unicode_lower_case() {
        let hays = [
            "PAID",
            "paid",
            "Paid ",
            "pa",
            "İstanbul",
            "\u{212A}iwi",
            "kiwi",
            "DS-MUG",
            "ds-",
            "Ärger",
            "x@EXAMPLE.com",
            "",
        ];
        let needles = [
            "paid",
            "istanbul",
            "i",
            "kiwi",
            "ds-",
            "@example.com",
            "ärger",
            "",
            "a",
        ];
        for h in hays {
            for n in needles {
                let needle = Needle::new(n);
                let lower = h.to_lowercase();
                assert_eq!(eq_needle(h, &needle), lower == n, "{h:?} == {n:?}");
                assert_eq!(
                    text_const(TextOp::StartsWith, h, &needle),
                    lower.starts_with(n),
                    "{h:?} starts_with {n:?}"
                );
                assert_eq!(
                    text_const(TextOp::EndsWith, h, &needle),
                    lower.ends_with(n),
                    "{h:?} ends_with {n:?}"
                );
                assert_eq!(
                    text_const(TextOp::Contains, h, &needle),
                    lower.contains(n),
                    "{h:?} contains {n:?}"
                );
            }
        }
    }
}
