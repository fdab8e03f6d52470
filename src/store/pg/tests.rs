//! Deliveries on leases with several daemons on one database (`lanes.rs`),
//! on a real PostgreSQL server (`testdb.rs`), each daemon its own pool.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::{Leased, PgStore, testdb};
use crate::order::Event;
use crate::store::suite::{rules, update};
use crate::store::{Attempt, DeliveryStatus, Label, PollState, StoreError};

/// `n` daemons (each its own pool) with leases of `lease` on a fresh
/// database for `test`, or `None` when there is no server (said).
async fn daemons(test: &str, n: usize, lease: Duration) -> Option<Vec<PgStore>> {
    let url = testdb::database_for(test).await?;
    let mut all = Vec::new();
    for _ in 0..n {
        all.push(
            PgStore::open(&url, 2, Arc::new(crate::pipeline::Pipeline))
                .await
                .unwrap()
                .with_lease(lease),
        );
    }
    Some(all)
}

/// Three updates of order M-1 (the second and third go to the market only:
/// the supplier takes `created`), one of M-2.
async fn three_updates_and_another_order(store: &PgStore) {
    let rules = rules();
    for (id, event, order, minute) in [
        (
            "e1",
            Event::Created,
            r#"{"id": "M-1", "updated_at": "2026-11-20T10:01:00Z", "invoice_number": "I", "tags": []}"#,
            1,
        ),
        (
            "e2",
            Event::Updated,
            r#"{"id": "M-1", "updated_at": "2026-11-20T10:02:00Z", "invoice_number": "I", "note": "v2", "tags": []}"#,
            2,
        ),
        (
            "e3",
            Event::Updated,
            r#"{"id": "M-1", "updated_at": "2026-11-20T10:03:00Z", "invoice_number": "I", "note": "v3", "tags": []}"#,
            3,
        ),
        (
            "e4",
            Event::Created,
            r#"{"id": "M-2", "updated_at": "2026-11-20T10:04:00Z", "invoice_number": "I", "tags": []}"#,
            4,
        ),
    ] {
        store
            .ingest(&update(&rules, id, event, order, minute))
            .await
            .unwrap();
    }
}

fn outcome(l: &Leased, status: DeliveryStatus, next_at: Option<chrono::DateTime<Utc>>) -> Attempt {
    Attempt {
        http_status: Some(if status == DeliveryStatus::Delivered {
            200
        } else {
            503
        }),
        response: b"{}".to_vec(),
        duration: Duration::from_millis(3),
        status,
        next_at,
        ..Attempt::begun(&l.job, Utc::now())
    }
}

/// The lanes claimed, as "order/destination delivery", sorted.
fn names(claimed: &[Leased]) -> Vec<String> {
    let mut n: Vec<String> = claimed
        .iter()
        .map(|l| {
            format!(
                "{}/{} d{}",
                l.lease.order_id, l.lease.destination, l.job.delivery_id
            )
        })
        .collect();
    n.sort();
    n
}

/// A lane goes to one daemon at a time, which gets only its lowest pending
/// delivery, and the next one once the first is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_lane_is_claimed_by_one_daemon_and_sent_in_order() {
    let Some(d) = daemons(
        "each_lane_is_claimed_by_one_daemon_and_sent_in_order",
        2,
        Duration::from_secs(15),
    )
    .await
    else {
        return;
    };
    three_updates_and_another_order(&d[0]).await;
    // Deliveries: 1 M-1/market, 2 M-1/supplier, 3 and 4 M-1/market, 5 M-2/market, 6 M-2/supplier.
    let (a, b) = tokio::join!(d[0].claim(2), d[1].claim(10));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut all: Vec<Leased> = a.iter().chain(&b).cloned().collect();
    all.sort_by_key(|l| l.job.delivery_id);
    assert_eq!(
        names(&all),
        [
            "1/market d1",
            "1/supplier d2",
            "2/market d5",
            "2/supplier d6"
        ]
    );
    assert!(a.iter().all(|l| l.lease.token == 1) && b.iter().all(|l| l.lease.token == 1));
    assert!(
        d[0].claim(10).await.unwrap().is_empty(),
        "a held lane was claimed again"
    );

    let (holder, lane) = if a.iter().any(|l| l.job.delivery_id == 1) {
        (&d[0], a.iter().find(|l| l.job.delivery_id == 1).unwrap())
    } else {
        (&d[1], b.iter().find(|l| l.job.delivery_id == 1).unwrap())
    };
    let next = holder
        .record(&outcome(lane, DeliveryStatus::Delivered, None))
        .await
        .unwrap()
        .expect("the lane's next delivery");
    assert_eq!(next.job.delivery_id, 3);
    assert_eq!(next.lease, lane.lease);
    let last = holder
        .record(&outcome(&next, DeliveryStatus::Delivered, None))
        .await
        .unwrap()
        .expect("the lane's last delivery");
    assert_eq!(last.job.delivery_id, 4);
    assert!(
        holder
            .record(&outcome(&last, DeliveryStatus::Delivered, None))
            .await
            .unwrap()
            .is_none()
    );
    let left = holder
        .text_rows("SELECT order_id, destination FROM lanes ORDER BY 1, 2")
        .await
        .unwrap();
    assert_eq!(left.len(), 3, "the emptied lane was not removed: {left:?}");
}

/// A daemon that stops renewing (paused, cut off) loses its lanes after the
/// lease: another daemon sends the same delivery with the same key, and the
/// first one's late outcome is refused and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_that_runs_out_is_taken_over_with_the_same_key() {
    let Some(d) = daemons(
        "a_lease_that_runs_out_is_taken_over_with_the_same_key",
        2,
        Duration::from_millis(1000),
    )
    .await
    else {
        return;
    };
    three_updates_and_another_order(&d[0]).await;
    let first = d[0].claim(10).await.unwrap();
    assert_eq!(first.len(), 4);
    // Renewed, the lanes stay with the first daemon past the lease.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(d[0].renew().await.unwrap(), 4);
        assert!(d[1].claim(10).await.unwrap().is_empty());
    }
    // Not renewed, they are taken over.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let taken = d[1].claim(10).await.unwrap();
    assert_eq!(names(&taken), names(&first));
    for t in &taken {
        let before = first
            .iter()
            .find(|f| {
                f.lease.destination == t.lease.destination && f.lease.order_id == t.lease.order_id
            })
            .unwrap();
        assert_eq!(t.job.idempotency_key, before.job.idempotency_key);
        assert_eq!(t.lease.token, before.lease.token + 1);
    }
    // M-1's market lane, which has two more deliveries after this one.
    let late = first.iter().find(|l| l.job.delivery_id == 1).unwrap();
    let err = d[0]
        .record(&outcome(late, DeliveryStatus::Delivered, None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "store: the lease on the lane of ord_{} to {} ran out and another daemon took it; this daemon's outcome is not recorded",
            late.lease.order_id, late.lease.destination
        )
    );
    assert!(matches!(
        d[0].mark_sent(late.job.delivery_id).await,
        Err(StoreError::LeaseLost(_))
    ));
    let written = d[0]
        .text_rows("SELECT count(*) FROM attempts UNION ALL SELECT count(*) FROM deliveries WHERE status <> 'pending' OR sent_at IS NOT NULL")
        .await
        .unwrap();
    assert_eq!(written, [vec![Some("0".into())], vec![Some("0".into())]]);
    // The new holder records.
    let now = taken
        .iter()
        .find(|t| t.job.delivery_id == late.job.delivery_id)
        .unwrap();
    d[1].record(&outcome(now, DeliveryStatus::Delivered, None))
        .await
        .unwrap();
    // Released at shutdown, lanes are claimable at once.
    assert_eq!(d[1].release_all().await.unwrap(), 4);
    assert_eq!(d[0].claim(10).await.unwrap().len(), 4);
}

/// A delivery to retry keeps its lane, and the lane waits for the retry's
/// time before anyone claims it again; then the same delivery comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_holds_its_lane_until_it_is_due() {
    let Some(d) = daemons(
        "a_retry_holds_its_lane_until_it_is_due",
        2,
        Duration::from_secs(15),
    )
    .await
    else {
        return;
    };
    three_updates_and_another_order(&d[0]).await;
    let claimed = d[0].claim(10).await.unwrap();
    let market = claimed.iter().find(|l| l.job.delivery_id == 1).unwrap();
    let retry_at = Utc::now() + chrono::Duration::milliseconds(1500);
    let next = d[0]
        .record(&outcome(market, DeliveryStatus::Pending, Some(retry_at)))
        .await
        .unwrap();
    assert!(
        next.is_none(),
        "the lane moved on past a delivery still to retry"
    );
    assert!(
        d[1].claim(10).await.unwrap().is_empty(),
        "claimed before its retry was due"
    );
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let again = d[1].claim(10).await.unwrap();
    assert_eq!(names(&again), ["1/market d1"]);
    assert_eq!(again[0].job.attempts, 1);
    assert_eq!(again[0].job.idempotency_key, market.job.idempotency_key);
    assert_eq!(again[0].lease.token, 2);
}

/// A singleton job (a channel's poll) runs on one daemon at a time; one that
/// lost the lease cannot move the cursor, and one that gives it up lets
/// the next daemon in at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_cursor_moves_only_under_its_jobs_lease() {
    let Some(d) = daemons(
        "a_poll_cursor_moves_only_under_its_jobs_lease",
        2,
        Duration::from_millis(1000),
    )
    .await
    else {
        return;
    };
    let a = d[0]
        .take_job("poll:etsy")
        .await
        .unwrap()
        .expect("a free job");
    assert_eq!(a.token, 1);
    assert_eq!(d[1].take_job("poll:etsy").await.unwrap(), None);
    d[0].renew().await.unwrap();
    let moved = |cursor: &str| PollState {
        cursor: Some(cursor.to_string()),
        last_run_at: Some("2026-11-20T10:00:00.000000Z".into()),
        last_success_at: Some("2026-11-20T10:00:01.000000Z".into()),
    };
    d[0].save_poll_state("etsy", &moved("2026-11-20T09:00:00Z"))
        .await
        .unwrap();
    // Past its lease without renewing, the first daemon loses the job.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let b = d[1]
        .take_job("poll:etsy")
        .await
        .unwrap()
        .expect("a job whose lease ran out");
    assert_eq!(b.token, 2);
    let err = d[0]
        .save_poll_state("etsy", &moved("2026-11-20T09:30:00Z"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "store: the lease on the job poll:etsy was taken by another daemon; the poll cursor of etsy is not moved"
    );
    // Its renewals no longer reach the job.
    d[0].renew().await.unwrap();
    assert_eq!(d[0].take_job("poll:etsy").await.unwrap(), None);
    assert_eq!(
        d[0].poll_state("etsy").await.unwrap(),
        moved("2026-11-20T09:00:00Z")
    );
    d[1].save_poll_state("etsy", &moved("2026-11-20T09:45:00Z"))
        .await
        .unwrap();
    assert_eq!(
        d[0].poll_state("etsy").await.unwrap(),
        moved("2026-11-20T09:45:00Z")
    );
    // Another job is its own lease.
    assert!(d[0].take_job("housekeeping").await.unwrap().is_some());
    d[1].release_all().await.unwrap();
    assert_eq!(
        d[0].take_job("poll:etsy").await.unwrap().map(|l| l.token),
        Some(3)
    );
    // The lane renewals renew the jobs held too (a run longer than a lease
    // keeps its job), and a daemon that stops gives them up at once.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        d[0].renew().await.unwrap();
    }
    assert_eq!(d[1].take_job("poll:etsy").await.unwrap(), None);
    d[0].release_all().await.unwrap();
    assert_eq!(
        d[1].take_job("poll:etsy").await.unwrap().map(|l| l.token),
        Some(4)
    );
}

/// Every daemon notes the rules it runs; one that stops renewing for three
/// leases leaves the roll call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_roll_call_lists_the_live_daemons_and_their_rules() {
    let Some(d) = daemons(
        "the_roll_call_lists_the_live_daemons_and_their_rules",
        2,
        Duration::from_millis(300),
    )
    .await
    else {
        return;
    };
    let rules = rules();
    d[0].note_rules(&rules).await.unwrap();
    d[1].note_rules(&rules).await.unwrap();
    let live = d[0].live_daemons().await.unwrap();
    let mut owners: Vec<&str> = live.iter().map(|l| l.owner.as_str()).collect();
    owners.sort();
    let mut expected = vec![d[0].owner(), d[1].owner()];
    expected.sort();
    assert_eq!(owners, expected);
    assert!(live.iter().all(|l| l.rules_version == *rules.version));
    let asking: Vec<&str> = live.iter().filter(|l| l.this).map(|l| &*l.owner).collect();
    assert_eq!(asking, [d[0].owner()]);
    assert!(
        live[0].seen_at.ends_with('Z') && live[0].seen_at.len() == 27,
        "{}",
        live[0].seen_at
    );
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        d[1].renew().await.unwrap();
    }
    let live: Vec<String> = d[0]
        .live_daemons()
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.owner)
        .collect();
    assert_eq!(live, [d[1].owner()]);
}

/// A label is kept only under the delivery's lease, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_is_kept_under_its_deliverys_lease() {
    let Some(d) = daemons(
        "a_label_is_kept_under_its_deliverys_lease",
        2,
        Duration::from_secs(15),
    )
    .await
    else {
        return;
    };
    three_updates_and_another_order(&d[0]).await;
    let claimed = d[0].claim(10).await.unwrap();
    let id = claimed[0].job.delivery_id;
    let label = |bytes: &[u8]| Label {
        format: "pdf".into(),
        content_type: "application/pdf".into(),
        filename: "label-1.pdf".into(),
        bytes: bytes.to_vec(),
    };
    assert!(matches!(
        d[1].keep_label(id, &label(b"%PDF-other")).await,
        Err(StoreError::LeaseLost(_))
    ));
    d[0].keep_label(id, &label(b"%PDF-first")).await.unwrap();
    d[0].keep_label(id, &label(b"%PDF-second")).await.unwrap();
    assert_eq!(d[1].label(id).await.unwrap(), Some(label(b"%PDF-first")));
    assert_eq!(d[1].label(id + 100).await.unwrap(), None);
    d[0].save_rendered(id, r#"{"method": "POST"}"#)
        .await
        .unwrap();
    d[0].mark_sent(id).await.unwrap();
    let row = d[1]
        .text_rows(&format!(
            "SELECT rendered, sent_at IS NOT NULL FROM deliveries WHERE id = {id}"
        ))
        .await
        .unwrap();
    assert_eq!(
        row,
        [vec![Some(r#"{"method": "POST"}"#.into()), Some("t".into())]]
    );
}
