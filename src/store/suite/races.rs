//! PostgreSQL's own concerns: several daemons racing for one order, one
//! update id, one migration.

use super::*;

/// Daemons racing: many updates of one new order at once, each on its own
/// connection, make one order and one link, and every update is stored once
/// whichever daemon wins; the same update id sent to all is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_serializes_racing_updates_of_one_order() {
    let Some(url) = testdb::database_for("postgres_serializes_racing_updates_of_one_order").await
    else {
        return;
    };
    // Three daemons' pools on one database.
    let mut daemons = Vec::new();
    for _ in 0..3 {
        daemons.push(Arc::new(
            PgStore::open(&url, 4, Arc::new(crate::pipeline::Pipeline))
                .await
                .unwrap(),
        ));
    }
    let rules = rules();
    let mut tasks = Vec::new();
    for i in 0..24u32 {
        let store = daemons[i as usize % 3].clone();
        let rules = rules.clone();
        tasks.push(tokio::spawn(async move {
            let order = format!(
                r#"{{"id": "M-9", "updated_at": "2026-11-20T10:{:02}:00Z", "invoice_number": "I", "tags": []}}"#,
                i + 1
            );
            let distinct = store
                .ingest(&update(&rules, &format!("evt-{i}"), Event::Updated, &order, 1))
                .await
                .unwrap();
            let same = store
                .ingest(&update(&rules, "evt-same", Event::Updated, &order, 1))
                .await
                .unwrap();
            (distinct, same)
        }));
    }
    let mut stored_same = 0;
    let mut orders = std::collections::BTreeSet::new();
    for t in tasks {
        let (distinct, same) = t.await.unwrap();
        let Ingested::Stored { order, .. } = distinct else {
            panic!("a new update id was taken for a duplicate: {distinct:?}");
        };
        orders.insert(order);
        if matches!(same, Ingested::Stored { .. }) {
            stored_same += 1;
        }
    }
    // One order for all (its id is not always 1: a transaction that lost the
    // race for the link took an id before it was rolled back).
    assert_eq!(orders.len(), 1, "the racing updates made orders {orders:?}");
    let order = orders.first().unwrap().to_string();
    assert_eq!(
        stored_same, 1,
        "the same update id was stored more than once"
    );
    let store = Backend::on((*daemons[0]).clone());
    assert_eq!(
        store.rows("SELECT count(*) FROM orders").await,
        [vec![Some("1".into())]]
    );
    assert_eq!(
        store
            .rows("SELECT order_id, newest_updated_at FROM links")
            .await,
        [vec![Some(order), Some("2026-11-20T10:24:00Z".into())]]
    );
    assert_eq!(
        store.rows("SELECT count(*) FROM updates").await,
        [vec![Some("25".into())]]
    );
    // The update with the newest time is decided, whatever came after it was stale.
    let newest = store
        .rows("SELECT status FROM updates WHERE event_id = 'evt-23'")
        .await;
    assert_eq!(newest, [vec![Some("decided".into())]]);
    // Every delivery has its own key.
    assert_eq!(
        store
            .rows("SELECT count(*) - count(DISTINCT idempotency_key) FROM deliveries")
            .await,
        [vec![Some("0".into())]]
    );
}

/// Three daemons starting at once on an empty database migrate it once; a
/// database a newer ordersync migrated is refused, in words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrates_once_and_refuses_a_newer_schema() {
    let Some(url) = testdb::database_for("postgres_migrates_once_and_refuses_a_newer_schema").await
    else {
        return;
    };
    let opens = (0..3).map(|_| {
        let url = url.clone();
        tokio::spawn(
            async move { PgStore::open(&url, 1, Arc::new(crate::pipeline::Pipeline)).await },
        )
    });
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().unwrap());
    }
    let known = pg::MIGRATIONS.len() as i64;
    assert_eq!(stores[0].schema_version().await.unwrap(), known);
    let store = Backend::on(stores[0].clone());
    store.rows("UPDATE ordersync_schema SET version = 99").await;
    let Err(err) = PgStore::open(&url, 1, Arc::new(crate::pipeline::Pipeline)).await else {
        panic!("a database of schema version 99 was opened");
    };
    assert_eq!(
        err.to_string(),
        format!(
            "store: the database has schema version 99, newer than this ordersync knows ({known}); run the ordersync that last opened it, or a newer one"
        )
    );
}

/// The server goes away (a crash or a restart) and comes back: while it is
/// gone an update is refused as unavailable, never stored halfway, and the
/// same store takes updates again once it is back, with no restart of ours.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_reconnects_after_the_server_restarts() {
    let cluster = match testdb::Cluster::new() {
        Ok(c) => c,
        Err(why) => {
            return testdb::skipped("postgres_store_reconnects_after_the_server_restarts", &why);
        }
    };
    let url = cluster.database().await.unwrap();
    let store = Backend::postgres(&url, 2).await;
    let rules = rules();
    let order = |minute| {
        format!(
            r#"{{"id": "M-1", "updated_at": "2026-11-20T10:0{minute}:00Z", "note": "{minute}", "tags": []}}"#
        )
    };
    store
        .ingest(update(&rules, "e1", Event::Created, &order(1), 1))
        .await
        .unwrap();
    cluster.stop().unwrap();
    let err = store
        .ingest(update(&rules, "e2", Event::Updated, &order(2), 2))
        .await
        .unwrap_err();
    assert!(
        err.unavailable(),
        "not taken as the store being away: {err}"
    );
    cluster.start().unwrap();
    // The pool drops its broken connections and opens new ones.
    let mut again = None;
    for _ in 0..50 {
        match store
            .ingest(update(&rules, "e2", Event::Updated, &order(2), 2))
            .await
        {
            Ok(done) => {
                again = Some(done);
                break;
            }
            Err(e) if e.unavailable() => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await
            }
            Err(e) => panic!("after the restart: {e}"),
        }
    }
    assert!(matches!(again, Some(Ingested::Stored { .. })), "{again:?}");
    assert_eq!(
        store
            .rows("SELECT event_id, status FROM updates ORDER BY id")
            .await,
        [
            vec![Some("e1".into()), Some("decided".into())],
            vec![Some("e2".into()), Some("decided".into())]
        ]
    );
}
