//! Polling (SPEC 6.2), the pure part: what `since` to ask for and how the
//! cursor moves, so a restart resumes without a gap and late writes inside the
//! overlap window are caught (the duplicates this re-reads are dropped by their
//! event ids when stored); and a schedule's period, and when it counts as
//! stalled.

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

/// The gap between a schedule's next two runs after `now`: its period there.
pub fn period(cron: &croner::Cron, now: DateTime<Utc>) -> Option<Duration> {
    let a = cron.find_next_occurrence(&now, false).ok()?;
    let b = cron.find_next_occurrence(&a, false).ok()?;
    (b - a).to_std().ok()
}

/// A schedule is stalled when no run has started for twice its period, counted
/// from the last run or, before the first, from when the schedule began.
pub fn stalled(
    last_run: Option<DateTime<Utc>>,
    began: DateTime<Utc>,
    period: Duration,
    now: DateTime<Utc>,
) -> bool {
    let from = last_run.map_or(began, |t| t.max(began));
    let twice = chrono::Duration::from_std(period * 2).unwrap_or(chrono::Duration::MAX);
    now.signed_duration_since(from) > twice
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

    #[test]
    fn a_schedule_has_a_period_and_stalls_after_two_of_them() {
        let every_10m = crate::rules::parse_schedule("0 */10 * * * *").unwrap();
        let now = t("2026-11-20T10:03:00Z");
        assert_eq!(period(&every_10m, now), Some(Duration::from_secs(600)));
        let every_second = crate::rules::parse_schedule("* * * * * *").unwrap();
        assert_eq!(period(&every_second, now), Some(Duration::from_secs(1)));
        assert!(
            crate::rules::parse_schedule("*/10 * * * *").is_err(),
            "seconds are required"
        );
        let began = t("2026-11-20T09:00:00Z");
        let p = Duration::from_secs(600);
        assert!(!stalled(Some(t("2026-11-20T09:45:00Z")), began, p, now));
        assert!(stalled(Some(t("2026-11-20T09:40:00Z")), began, p, now));
        assert!(!stalled(None, t("2026-11-20T09:50:00Z"), p, now));
        assert!(stalled(None, began, p, now));
        assert!(
            !stalled(
                Some(t("2026-11-19T00:00:00Z")),
                t("2026-11-20T10:00:00Z"),
                p,
                now
            ),
            "a schedule rebuilt by a reload counts from its rebuild"
        );
    }
}
