//! Did-you-mean hints: the closest known name within a small edit distance.

/// The candidate closest to `word`, if it is close enough to be a likely typo
/// (at most a third of the word's length in edits, and at least one).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let lower = word.to_lowercase();
    let candidates: Vec<&'a str> = candidates.into_iter().filter(|c| *c != word).collect();
    let close = candidates
        .iter()
        .map(|c| (distance(&lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    // Failing that, a name the word begins with (`lenght` -> `len`, `tags_list` -> `tags`).
    close.or_else(|| {
        candidates
            .iter()
            .filter(|c| c.len() >= 3 && lower.starts_with(&c.to_lowercase()))
            .max_by_key(|c| c.len())
            .copied()
    })
}

/// Optimal string alignment distance: insertions, deletions, substitutions and
/// swaps of two neighbours each cost one.
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let w = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * w];
    for i in 0..=a.len() {
        d[i * w] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(w) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * w + j] + 1)
                .min(d[i * w + j - 1] + 1)
                .min(d[(i - 1) * w + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * w + j - 2] + 1);
            }
            d[i * w + j] = v;
        }
    }
    d[a.len() * w + b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["total_price", "subtotal_price", "tags"];
        assert_eq!(did_you_mean("total_prce", names), Some("total_price"));
        assert_eq!(did_you_mean("tgas", names), Some("tags"));
        assert_eq!(did_you_mean("customer", names), None);
        assert_eq!(did_you_mean("lenght", ["len", "lower"]), Some("len"));
        assert_eq!(distance("abc", "acb"), 1);
    }
}
