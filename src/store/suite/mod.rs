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

pub(crate) fn update(
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

/// One store under test, written through its [`Writer`] either way.
enum Backend {
    Sqlite {
        writer: Writer,
        thread: WriterThread,
        dir: tempfile::TempDir,
    },
    Postgres(Writer),
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
        let store = PgStore::open(url, pool, Arc::new(crate::pipeline::Pipeline))
            .await
            .unwrap();
        Backend::on(store)
    }

    /// The PostgreSQL half of test `test`, on a fresh database, or `None`
    /// when there is no server here (said on its own line, see `testdb`).
    async fn postgres_half(test: &str, pool: usize) -> Option<Backend> {
        let url = testdb::database_for(&format!("the PostgreSQL half of {test}")).await?;
        Some(Backend::postgres(&url, pool).await)
    }

    /// A backend over an open PostgreSQL store.
    fn on(store: PgStore) -> Backend {
        // A lane's next job goes to the dispatcher, which this suite has not.
        let (jobs, _dispatcher) = mpsc::unbounded_channel();
        Backend::Postgres(Writer::postgres(store, jobs))
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite { .. } => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    fn writer(&self) -> &Writer {
        match self {
            Backend::Sqlite { writer, .. } | Backend::Postgres(writer) => writer,
        }
    }

    fn pg(&self) -> &PgStore {
        self.writer()
            .postgres_store()
            .expect("a PostgreSQL backend")
    }

    async fn ingest(&self, req: IngestRequest) -> Result<Ingested, StoreError> {
        self.writer().ingest(req).await
    }

    /// The rows of a query written in SQL both stores read alike, as text.
    async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            Backend::Sqlite { dir, .. } => {
                let conn = rusqlite::Connection::open(dir.path().join("o.db")).unwrap();
                text_rows::sqlite(&conn, sql)
            }
            Backend::Postgres(_) => self.pg().text_rows(sql).await.unwrap(),
        }
    }

    /// An operator's action, and its answer or error in words.
    async fn act(&self, action: Act) -> String {
        let rules = rules();
        let writer = self.writer();
        let done = match action {
            Act::Retry(id) => writer.retry(id).await,
            Act::Ignore(id) => writer.resolve(Target::Delivery, id, "ignored").await,
            Act::Complete(id) => {
                let set = vec![("invoice_number".into(), Value::text("INV-1"))];
                writer.complete_draft(rules, id, set).await
            }
            Act::Resync(id) => writer.resync(rules, id).await,
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
        self.writer().housekeep(h).await.unwrap()
    }

    async fn quarantine(&self, q: Quarantined) -> i64 {
        self.writer().quarantine(q).await.unwrap()
    }

    /// Records an attempt of delivery `id`; on PostgreSQL under the lease of
    /// the lane the delivery heads, claimed first.
    async fn record(&self, attempt: Attempt) {
        if let Backend::Postgres(_) = self {
            let claimed = self.pg().claim(100).await.unwrap();
            assert!(
                claimed
                    .iter()
                    .any(|l| l.job.delivery_id == attempt.delivery_id),
                "delivery {} heads no lane",
                attempt.delivery_id
            );
        }
        self.writer().record(attempt).await.unwrap();
        if let Backend::Postgres(_) = self {
            self.pg().release_all().await.unwrap();
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

mod ingest;
mod operations;
mod races;
mod reads;
/// Queries read back as text, shared with the daemon's tests.
#[path = "../../../tests/support/text_rows.rs"]
pub(crate) mod text_rows;
