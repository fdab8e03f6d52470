//! The store's own tests, one suite on both backends: the same updates into a
//! SQLite file (through the real writer thread) and into a database on a real
//! PostgreSQL server (`pg/testdb.rs`), then the same tables read back from
//! both and compared row by row, after the values each test asserts.
//! PostgreSQL's own concerns (several daemons racing for one order, one
//! update id, one migration) follow.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

use super::orders::Target;
use super::pg::{self, PgStore, testdb};
use super::{
    Attempt, DeliveryStatus, IngestRequest, Ingested, Quarantined, StepRecord, StoreError, Via,
    Writer, WriterThread, open,
};
use super::{Housekeeping, Pruned};
use crate::ingress::Incoming;
use crate::order::Event;
use crate::rules::RuleSet;
use crate::value::Value;

const RULES: &str = r#"version: 1
channels:
  shop: { role: commerce_platform, webhook: { format: ordersync, secret: s } }
  market: { role: marketplace, deliver: { url: "http://127.0.0.1:9/market" } }
  supplier:
    role: fulfillment
    deliver: { url: "http://127.0.0.1:9/supplier", accepts: [created, cancelled], require: [invoice_number] }
"#;

pub(super) fn rules() -> Arc<RuleSet> {
    Arc::new(
        crate::rules::load_str(
            "rules.yaml",
            RULES,
            &crate::rules::LoadOptions { env: &|_| None },
        )
        .unwrap(),
    )
}

fn at(minute: u32) -> DateTime<Utc> {
    format!("2026-11-20T10:{minute:02}:00Z").parse().unwrap()
}

pub(super) fn update(
    rules: &Arc<RuleSet>,
    event_id: &str,
    event: Event,
    order: &str,
    minute: u32,
) -> IngestRequest {
    IngestRequest {
        channel: Arc::from("shop"),
        via: Via::Webhook,
        topic: None,
        incoming: Incoming {
            id: event_id.to_string(),
            event,
            occurred_at: None,
            order: Value::from_json(order).unwrap(),
        },
        // As the `ordersync` format sends it, so re-sync can read it again.
        payload: format!(
            r#"{{"id": "{event_id}", "event": "{}", "order": {order}}}"#,
            event.as_str()
        )
        .into_bytes(),
        received_at: at(minute),
        rules: rules.clone(),
    }
}

/// One store under test.
enum Backend {
    Sqlite {
        writer: Writer,
        thread: WriterThread,
        dir: tempfile::TempDir,
    },
    Postgres(PgStore),
}

impl Backend {
    fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let (jobs, _pending) = mpsc::unbounded_channel();
        let opened = open(&dir.path().join("o.db")).unwrap();
        let (writer, thread) =
            Writer::start(opened, jobs, Arc::new(crate::pipeline::Pipeline)).unwrap();
        Backend::Sqlite {
            writer,
            thread,
            dir,
        }
    }

    async fn postgres(url: &str, pool: usize) -> Backend {
        Backend::Postgres(
            PgStore::open(url, pool, Arc::new(crate::pipeline::Pipeline))
                .await
                .unwrap(),
        )
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    async fn ingest(&self, req: IngestRequest) -> Result<Ingested, StoreError> {
        match self {
            Backend::Sqlite { writer, .. } => writer.ingest(req).await,
            Backend::Postgres(store) => store.ingest(&req).await,
        }
    }

    /// The rows of a query written in SQL both stores read alike, as text.
    async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Backend::Sqlite { dir, .. } => {
                let conn = rusqlite::Connection::open(dir.path().join("o.db")).unwrap();
                let mut stmt = conn.prepare(sql).unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            use rusqlite::types::ValueRef;
                            Ok(match r.get_ref(i)? {
                                ValueRef::Null => None,
                                ValueRef::Integer(v) => Some(v.to_string()),
                                ValueRef::Real(v) => Some(v.to_string()),
                                ValueRef::Text(t) | ValueRef::Blob(t) => {
                                    Some(String::from_utf8_lossy(t).into_owned())
                                }
                            })
                        })
                        .collect()
                })
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
            }
            // bytea comes as text in hex (`\\x7b22...`): its bytes, as SQLite's are.
            Backend::Postgres(store) => store
                .text_rows(sql)
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.into_iter().map(|v| v.map(unhex)).collect())
                .collect(),
        }
    }

    /// An operator's action, and its answer or error in words.
    async fn act(&self, action: Act) -> String {
        let rules = rules();
        let done = match (self, action) {
            (Backend::Sqlite { writer, .. }, Act::Retry(id)) => writer.retry(id).await,
            (Backend::Sqlite { writer, .. }, Act::Ignore(id)) => {
                writer.resolve(Target::Delivery, id, "ignored").await
            }
            (Backend::Sqlite { writer, .. }, Act::Complete(id)) => {
                writer
                    .complete_draft(
                        rules,
                        id,
                        vec![("invoice_number".into(), Value::text("INV-1"))],
                    )
                    .await
            }
            (Backend::Sqlite { writer, .. }, Act::Resync(id)) => writer.resync(rules, id).await,
            (Backend::Postgres(store), Act::Retry(id)) => store.retry(id).await,
            (Backend::Postgres(store), Act::Ignore(id)) => {
                store.resolve(Target::Delivery, id, "ignored").await
            }
            (Backend::Postgres(store), Act::Complete(id)) => {
                store
                    .complete_draft(
                        &rules,
                        id,
                        &[("invoice_number".into(), Value::text("INV-1"))],
                    )
                    .await
            }
            (Backend::Postgres(store), Act::Resync(id)) => store.resync(&rules, id).await,
        };
        match done {
            Ok(done) => format!(
                "{} jobs {:?}",
                done.answer,
                done.jobs.iter().map(|j| j.delivery_id).collect::<Vec<_>>()
            ),
            Err(e) => format!("error: {e}"),
        }
    }

    async fn housekeep(&self, h: Housekeeping) -> Pruned {
        match self {
            Backend::Sqlite { writer, .. } => writer.housekeep(h).await.unwrap(),
            Backend::Postgres(store) => store.housekeep(&h).await.unwrap(),
        }
    }

    async fn quarantine(&self, q: Quarantined) -> i64 {
        match self {
            Backend::Sqlite { writer, .. } => writer.quarantine(q).await.unwrap(),
            Backend::Postgres(store) => store.quarantine(&q).await.unwrap(),
        }
    }

    /// Records an attempt of delivery `id`: on SQLite through the writer, on
    /// PostgreSQL under the lease of the lane the delivery heads.
    async fn record(&self, attempt: Attempt) {
        match self {
            Backend::Sqlite { writer, .. } => writer.record(attempt).await.unwrap(),
            Backend::Postgres(store) => {
                let claimed = store.claim(100).await.unwrap();
                assert!(
                    claimed
                        .iter()
                        .any(|l| l.job.delivery_id == attempt.delivery_id),
                    "delivery {} heads no lane",
                    attempt.delivery_id
                );
                store.record(&attempt).await.unwrap();
                store.release_all().await.unwrap();
            }
        }
    }

    async fn close(self) {
        if let Backend::Sqlite { writer, thread, .. } = self {
            drop(writer);
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .unwrap();
        }
    }
}

/// What an operator does, in the suite.
#[derive(Clone, Copy)]
enum Act {
    Retry(i64),
    Ignore(i64),
    Complete(i64),
    Resync(i64),
}

/// PostgreSQL's text form of a `bytea` read back as its bytes (as text);
/// any other text as it is.
fn unhex(text: String) -> String {
    let Some(hex) = text.strip_prefix("\\x") else {
        return text;
    };
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes {
        Some(b) => String::from_utf8_lossy(&b).into_owned(),
        None => text,
    }
}

/// What the store holds after an update, every table an ingest writes, in
/// SQL both stores read alike (times left out: they are the arrival's).
const TABLES: &[&str] = &[
    "SELECT id, channel, event_id, event, order_id, external_id, status, via, received_at FROM updates ORDER BY id",
    "SELECT id, update_id, order_id, destination, outcome, detail, rules_version, body, changes,
            why, trigger, decided_at, released_at FROM decisions ORDER BY id",
    "SELECT id, decision_id, order_id, destination, source, event, idempotency_key, status,
            attempts, next_at, last_status, last_error, updated_at FROM deliveries ORDER BY id",
    "SELECT id, delivery_id, at, external_id, http_status, error, response, duration_ms, step, request
       FROM attempts ORDER BY id",
    "SELECT order_id, destination, source, status, decision_id, delivery_id, detail, resolution
       FROM health ORDER BY order_id, destination",
    "SELECT channel, external_id, order_id, newest_updated_at FROM links ORDER BY channel, external_id",
    "SELECT id, created_at, name, source, search, updated_at FROM orders ORDER BY id",
    "SELECT order_id, channel, body FROM known ORDER BY order_id, channel",
    "SELECT id, channel, received_at, reason, headers, body FROM quarantine ORDER BY id",
];

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

    let url = match testdb::database().await {
        Ok(url) => url,
        Err(why) => {
            sqlite.close().await;
            return testdb::skipped(
                "the PostgreSQL half of both_stores_ingest_the_same_updates_into_the_same_rows",
                &why,
            );
        }
    };
    let postgres = Backend::postgres(&url, 4).await;
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

/// Daemons racing: many updates of one new order at once, each on its own
/// connection, make one order and one link, and every update is stored once
/// whichever daemon wins; the same update id sent to all is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_serializes_racing_updates_of_one_order() {
    let url = match testdb::database().await {
        Ok(url) => url,
        Err(why) => {
            return testdb::skipped("postgres_serializes_racing_updates_of_one_order", &why);
        }
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
    let store = Backend::Postgres((*daemons[0]).clone());
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
    let url = match testdb::database().await {
        Ok(url) => url,
        Err(why) => {
            return testdb::skipped("postgres_migrates_once_and_refuses_a_newer_schema", &why);
        }
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
    let store = Backend::Postgres(stores[0].clone());
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
    let url = match testdb::database().await {
        Ok(url) => url,
        Err(why) => {
            sqlite.close().await;
            return testdb::skipped(
                "the PostgreSQL half of both_stores_run_operators_actions_alike",
                &why,
            );
        }
    };
    let postgres = Backend::postgres(&url, 2).await;
    let pg_said = actions(&postgres).await;
    // The writer hands SQLite's jobs to the dispatcher; PostgreSQL's are
    // claimed from their lanes, so its answers list them.
    let without_jobs = |s: &String| s.split(" jobs ").next().unwrap().to_string();
    assert_eq!(
        pg_said.iter().map(without_jobs).collect::<Vec<_>>(),
        said.iter().map(without_jobs).collect::<Vec<_>>()
    );
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
async fn housekeeping(store: &Backend) -> Vec<Pruned> {
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
    let url = match testdb::database().await {
        Ok(url) => url,
        Err(why) => {
            sqlite.close().await;
            return testdb::skipped("the PostgreSQL half of both_stores_keep_house_alike", &why);
        }
    };
    let postgres = Backend::postgres(&url, 2).await;
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
