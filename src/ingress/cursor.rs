//! Polling cursors (SPEC 6.2), the pure part: what `since` to ask for and how
//! the cursor moves, so a restart resumes without a gap and late writes inside
//! the overlap window are caught (the duplicates this re-reads are dropped by
//! their event ids when stored).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The `since` to ask for: the cursor moved back by the overlap window; `None`
/// (everything the channel offers) before the first successful run.
pub fn since(cursor: Option<DateTime<Utc>>, overlap: Duration) -> Option<DateTime<Utc>> {
    let back = chrono::Duration::from_std(overlap).unwrap_or(chrono::Duration::MAX);
    cursor.map(|c| {
        c.checked_sub_signed(back)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    })
}

/// The cursor after a run that saw these `updated_at` values: the largest
/// seen, never earlier than it was (a run that saw nothing new, or only older
/// or unreadable timestamps, leaves it where it is).
pub fn advance<'a>(
    cursor: Option<DateTime<Utc>>,
    seen: impl IntoIterator<Item = &'a str>,
) -> Option<DateTime<Utc>> {
    seen.into_iter()
        .filter_map(crate::condition::parse_timestamp)
        .fold(cursor, |c, t| Some(c.map_or(t, |c| c.max(t))))
}

/// The cursor as stored and as sent in `?since=`: RFC 3339 in UTC, to the second
/// or finer as the timestamps were.
pub fn format(cursor: DateTime<Utc>) -> String {
    cursor.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn moves_forward_only_and_looks_back_by_the_overlap() {
        let c = advance(
            None,
            ["2026-11-20T10:00:00Z", "2026-11-20T12:00:00+01:00", "junk"],
        );
        assert_eq!(c, Some(t("2026-11-20T11:00:00Z")));
        let c = advance(c, ["2026-11-19T00:00:00Z"]);
        assert_eq!(
            c,
            Some(t("2026-11-20T11:00:00Z")),
            "an older update does not move it back"
        );
        assert_eq!(advance(c, []), c);
        assert_eq!(
            since(c, Duration::from_secs(300)),
            Some(t("2026-11-20T10:55:00Z"))
        );
        assert_eq!(since(None, Duration::from_secs(300)), None);
        assert_eq!(format(t("2026-11-20T10:55:00Z")), "2026-11-20T10:55:00Z");
        assert_eq!(
            format(t("2026-11-20T10:55:00.250Z")),
            "2026-11-20T10:55:00.250Z"
        );
        assert!(
            since(c, Duration::from_secs(u64::MAX)).is_some(),
            "a huge overlap does not overflow"
        );
    }
}
