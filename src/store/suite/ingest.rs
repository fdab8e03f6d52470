//! The same updates into both stores, the same rows out.

use super::*;

/// The scenario both stores run: a new order held as a draft for the
/// supplier, its duplicate, the update that releases the draft, a stale
/// one, and a second order.
async fn scenario(store: &Backend) -> Vec<String> {
    let rules = rules();
    let mut outcomes = Vec::new();
    let steps = [
        (
            "evt-1",
            Event::Created,
            r##"{"id": "M-1", "name": "#1001", "updated_at": "2026-11-20T10:01:00Z", "tags": []}"##,
            1,
        ),
        (
            "evt-1",
            Event::Created,
            r##"{"id": "M-1", "name": "#1001", "updated_at": "2026-11-20T10:01:00Z", "tags": []}"##,
            2,
        ),
        (
            "evt-2",
            Event::Updated,
            r##"{"id": "M-1", "updated_at": "2026-11-20T10:03:00Z", "invoice_number": "INV-7", "tags": []}"##,
            3,
        ),
        (
            "evt-3",
            Event::Updated,
            r##"{"id": "M-1", "updated_at": "2026-11-20T10:02:00Z", "tags": []}"##,
            4,
        ),
        (
            "evt-4",
            Event::Created,
            r##"{"id": "M-2", "name": "#1002", "customer": {"email": "Ann@Example.com"}, "updated_at": "2026-11-20T10:05:00Z", "invoice_number": "INV-8", "tags": []}"##,
            5,
        ),
    ];
    for (id, event, order, minute) in steps {
        let got = store
            .ingest(update(&rules, id, event, order, minute))
            .await
            .unwrap();
        outcomes.push(match got {
            Ingested::Duplicate => format!("{id}: duplicate"),
            Ingested::Stored {
                update,
                order,
                status,
                outcomes,
                ..
            } => format!(
                "{id}: update {update} order {order} {} {:?}",
                status.as_str(),
                outcomes
                    .iter()
                    .map(|(d, o)| format!("{d}={o}"))
                    .collect::<Vec<_>>(),
            ),
        });
    }
    // Delivery 1 delivered (the market answers its id), delivery 2 to retry
    // after a connector's two requests.
    let delivered = Attempt {
        delivery_id: 1,
        order_id: 1,
        destination: Arc::from("market"),
        external_id: None,
        at: at(6),
        http_status: Some(201),
        error: None,
        response: br#"{"id": "MK-1"}"#.to_vec(),
        duration: std::time::Duration::from_micros(2500),
        status: DeliveryStatus::Delivered,
        next_at: None,
        linked_id: Some("MK-1".into()),
        steps: Vec::new(),
    };
    store.record(delivered).await;
    let step = |name: &str, code| StepRecord {
        step: name.to_string(),
        at: at(7),
        request: format!(r#"{{"method": "POST", "url": "/{name}"}}"#),
        http_status: Some(code),
        error: None,
        response: b"busy".to_vec(),
        duration: std::time::Duration::from_millis(4),
    };
    let retry = Attempt {
        delivery_id: 5,
        order_id: 1,
        destination: Arc::from("supplier"),
        external_id: Some("S-9".into()),
        at: at(7),
        http_status: Some(503),
        error: None,
        response: b"busy".to_vec(),
        duration: std::time::Duration::from_millis(9),
        status: DeliveryStatus::Pending,
        next_at: Some(at(8)),
        linked_id: None,
        steps: vec![step("lookup", 200), step("create", 503)],
    };
    store.record(retry).await;
    let kept = store
        .quarantine(Quarantined {
            channel: "shop".into(),
            received_at: at(9),
            reason: "not JSON: expected value at line 1 column 1".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: b"<html>".to_vec(),
        })
        .await;
    outcomes.push(format!("quarantined {kept}"));
    outcomes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_ingest_the_same_updates_into_the_same_rows() {
    let sqlite = Backend::sqlite();
    let said = scenario(&sqlite).await;
    // What the scenario means, on SQLite.
    assert_eq!(said[1], "evt-1: duplicate");
    assert!(
        said[0].starts_with("evt-1: update 1 order 1 decided"),
        "{}",
        said[0]
    );
    assert!(
        said[0].ends_with(r#"["market=deliver", "supplier=draft"]"#),
        "{}",
        said[0]
    );
    assert!(
        said[2].ends_with(r#"["market=deliver", "supplier=skip", "supplier=deliver"]"#),
        "{}",
        said[2]
    );
    assert!(
        said[3].starts_with("evt-3: update 3 order 1 stale []"),
        "{}",
        said[3]
    );
    assert!(
        said[4].starts_with("evt-4: update 4 order 2 decided"),
        "{}",
        said[4]
    );
    let health = sqlite.rows(TABLES[4]).await;
    let statuses: Vec<_> = health
        .iter()
        .map(|r| {
            format!(
                "{}/{}:{}",
                r[0].as_deref().unwrap(),
                r[1].as_deref().unwrap(),
                r[3].as_deref().unwrap()
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "1/market:pending",
            "1/supplier:pending",
            "2/market:pending",
            "2/supplier:pending"
        ]
    );
    let released = sqlite
        .rows("SELECT id, outcome, trigger FROM decisions WHERE released_at IS NOT NULL")
        .await;
    assert_eq!(
        released,
        [vec![
            Some("2".into()),
            Some("draft".into()),
            Some("update".into())
        ]]
    );
    let orders = sqlite
        .rows("SELECT name, search FROM orders ORDER BY id")
        .await;
    assert_eq!(
        orders[1],
        [
            Some("#1002".into()),
            Some("#1002 m-2 ann@example.com".into())
        ]
    );

    let Some(postgres) =
        Backend::postgres_half("both_stores_ingest_the_same_updates_into_the_same_rows", 4).await
    else {
        return sqlite.close().await;
    };
    assert_eq!(scenario(&postgres).await, said);
    for table in TABLES {
        assert_eq!(
            postgres.rows(table).await,
            sqlite.rows(table).await,
            "{} and {} differ in: {table}",
            postgres.name(),
            sqlite.name()
        );
    }
    sqlite.close().await;
}
