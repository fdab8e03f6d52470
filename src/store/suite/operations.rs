//! Operators' actions and housekeeping on both stores.

use super::*;

/// Operators' actions on both stores: the same answers, errors and rows.
async fn actions(store: &Backend) -> Vec<String> {
    let rules = rules();
    let order = r#"{"id": "M-1", "updated_at": "2026-11-20T10:01:00Z", "tags": []}"#;
    store
        .ingest(update(&rules, "e1", Event::Created, order, 1))
        .await
        .unwrap();
    // Delivery 1 (market) rejected; decision 2 (supplier) a draft.
    let rejected = Attempt {
        delivery_id: 1,
        order_id: 1,
        destination: Arc::from("market"),
        external_id: None,
        at: at(2),
        http_status: Some(422),
        error: None,
        response: br#"{"error": "bad sku"}"#.to_vec(),
        duration: std::time::Duration::from_millis(5),
        status: DeliveryStatus::Rejected,
        next_at: None,
        linked_id: None,
        steps: Vec::new(),
    };
    store.record(rejected.clone()).await;
    let mut said = Vec::new();
    for action in [
        Act::Complete(1),
        Act::Complete(2),
        Act::Complete(2),
        Act::Retry(2),
        Act::Retry(1),
        Act::Retry(1),
    ] {
        said.push(store.act(action).await);
    }
    store
        .record(Attempt {
            status: DeliveryStatus::Dead,
            at: at(3),
            ..rejected
        })
        .await;
    for action in [
        Act::Ignore(1),
        Act::Ignore(1),
        Act::Resync(1),
        Act::Resync(99),
    ] {
        said.push(store.act(action).await);
    }
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_run_operators_actions_alike() {
    let sqlite = Backend::sqlite();
    let said = actions(&sqlite).await;
    let resynced = r#"{"decisions":[{"destination":"market","outcome":"deliver"},{"destination":"supplier","outcome":"draft: missing invoice_number"}],"order":"ord_1","rules_version":"RV","update":1} jobs []"#.replace("RV", &rules().version);
    assert_eq!(
        said,
        [
            "error: decision 1 is not a draft",
            r#"{"decision":3,"delivery":2,"draft":2,"status":"pending"} jobs []"#,
            "error: draft 2 was already released",
            "error: delivery 2 is pending; only rejected or dead deliveries are retried",
            r#"{"delivery":1,"status":"pending"} jobs []"#,
            "error: delivery 1 is pending; only rejected or dead deliveries are retried",
            r#"{"destination":"market","order":"ord_1","resolution":"ignored"} jobs []"#,
            "error: ord_1 has no open problem at market",
            &resynced,
            "error: no order ord_99",
        ]
    );
    let Some(postgres) = Backend::postgres_half("both_stores_run_operators_actions_alike", 2).await
    else {
        return sqlite.close().await;
    };
    let pg_said = actions(&postgres).await;
    // Neither hands jobs back: SQLite's writer gives them to the dispatcher,
    // PostgreSQL's are claimed from their lanes.
    assert_eq!(pg_said, said);
    // Actions are stamped with the time they ran, which differs by store.
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let mask = |rows: Vec<Vec<Option<String>>>| -> Vec<Vec<Option<String>>> {
        rows.into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|v| {
                        v.map(|v| {
                            if v.starts_with(&today) {
                                "<now>".into()
                            } else {
                                v
                            }
                        })
                    })
                    .collect()
            })
            .collect()
    };
    for table in TABLES {
        assert_eq!(
            mask(postgres.rows(table).await),
            mask(sqlite.rows(table).await),
            "postgres and sqlite differ in: {table}"
        );
    }
    sqlite.close().await;
}

/// Housekeeping on both stores: the same deliveries stuck, the same attempts
/// and payloads pruned, in bounded passes.
pub(super) async fn housekeeping(store: &Backend) -> Vec<Pruned> {
    let rules = rules();
    for (id, minute, note) in [("e1", 1, "a"), ("e2", 2, "b"), ("e3", 3, "c")] {
        let order = format!(
            r#"{{"id": "M-1", "updated_at": "2026-11-20T10:0{minute}:00Z", "note": "{note}", "invoice_number": "I", "tags": []}}"#
        );
        let event = if id == "e1" {
            Event::Created
        } else {
            Event::Updated
        };
        store
            .ingest(update(&rules, id, event, &order, minute))
            .await
            .unwrap();
    }
    // Deliveries: 1 market and 2 supplier (e1), 3 market (e2), 4 market (e3).
    for delivery_id in [1, 3] {
        store
            .record(Attempt {
                delivery_id,
                order_id: 1,
                destination: Arc::from("market"),
                external_id: None,
                at: at(4),
                http_status: Some(200),
                error: None,
                response: b"{}".to_vec(),
                duration: std::time::Duration::from_millis(2),
                status: DeliveryStatus::Delivered,
                next_at: None,
                linked_id: None,
                steps: Vec::new(),
            })
            .await;
    }
    let pass = |batch| Housekeeping {
        now: at(30),
        stuck_before: at(20),
        retain_after: at(10),
        batch,
        optimize: false,
    };
    let mut passes = vec![store.housekeep(pass(1)).await];
    while passes.last().unwrap().more {
        passes.push(store.housekeep(pass(1)).await);
    }
    passes.push(
        store
            .housekeep(Housekeeping {
                optimize: true,
                ..pass(1)
            })
            .await,
    );
    passes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_keep_house_alike() {
    let sqlite = Backend::sqlite();
    let passes = housekeeping(&sqlite).await;
    let total = |f: fn(&Pruned) -> usize| passes.iter().map(f).sum::<usize>();
    // Deliveries 2 (supplier) and 4 (market) are pending past the stuck
    // time; the two delivered ones' attempts go; only e2's payload is
    // dropped: e1 still has the supplier's pending delivery, e3 is the
    // order's newest update.
    assert_eq!(
        (
            total(|p| p.stuck),
            total(|p| p.attempts),
            total(|p| p.payloads)
        ),
        (2, 2, 1)
    );
    assert!(
        passes.len() >= 3,
        "batches of one should take several passes: {passes:?}"
    );
    let stuck = sqlite
        .rows("SELECT destination, status FROM health ORDER BY destination")
        .await;
    assert_eq!(
        stuck,
        [
            vec![Some("market".into()), Some("stuck".into())],
            vec![Some("supplier".into()), Some("stuck".into())]
        ]
    );
    let Some(postgres) = Backend::postgres_half("both_stores_keep_house_alike", 2).await else {
        return sqlite.close().await;
    };
    assert_eq!(housekeeping(&postgres).await, passes);
    for table in TABLES
        .iter()
        .chain(&["SELECT id, pruned_at, length(payload) FROM updates ORDER BY id"])
    {
        assert_eq!(
            postgres.rows(table).await,
            sqlite.rows(table).await,
            "postgres and sqlite differ in: {table}"
        );
    }
    sqlite.close().await;
}
