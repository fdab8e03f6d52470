//! The shared store on PostgreSQL (SPEC 11): several daemons on one database.
//!
//! Where SQLite has one writer thread committing groups, PostgreSQL has a pool
//! of connections and one transaction per request: the server orders them,
//! the order's row lock (`pg/statements.rs`) serializes two updates of one
//! order, and every daemon can take any request. The logic is the same code
//! as SQLite's (`ingest.rs` against the `Statements` of `../statements.rs`);
//! only the statements differ.
//!
//! What it does: the store opens, migrates (first daemon migrates, the
//! others wait, a newer schema is refused), does every write of
//! [`Writer`](super::Writer) (ingest, attempts, operators' actions,
//! housekeeping, `ops.rs`), shares the deliveries out on leases (`lanes.rs`),
//! runs singleton jobs on lease rows and keeps a roll call of live daemons
//! (`ops.rs`), and answers every read of [`Reader`](super::Reader)
//! (`reads.rs` and `../query.rs`). `serve --db postgres://...` runs on it
//! (`daemon/mod.rs`), and `diff` reads it (`../history.rs`).

mod housekeeping;
mod lanes;
mod ops;
mod reads;
mod schema;
mod statements;
/// The test cluster, shared with the daemon's tests in `tests/` (one file).
#[cfg(test)]
#[path = "../../../tests/support/pg_cluster.rs"]
pub(crate) mod testdb;
#[cfg(test)]
mod tests;

pub use lanes::{Lease, Leased};
pub use ops::{JobLease, LiveDaemon};
pub use schema::MIGRATIONS;

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::orders::{Done, Target};
use super::{Decide, IngestRequest, Ingested, PgError, StoreError, actions, ingest};
use crate::rules::RuleSet;
use crate::value::Value;
use statements::Pg;

/// How many times a transaction that lost a race is run again.
const RETRIES: usize = 8;

/// How long a daemon holds a delivery lane without renewing its lease.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// Any number with which `pg_advisory_xact_lock` serializes migrations: only
/// ordersync takes it, for the length of the migrating transaction (released
/// at its end, so it also works behind a transaction-pooling PgBouncer).
const MIGRATION_LOCK: i64 = 0x6f72_6465_7273_796e; // "ordersyn"

/// A pool of connections to the shared store.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    decide: Arc<dyn Decide>,
    /// This daemon, as the lanes it holds name it: host, process, and a
    /// random part (a restarted process with the same pid is another daemon).
    owner: Arc<str>,
    /// How long a claim holds a lane without being renewed.
    lease: Duration,
    /// The deliveries this daemon claimed and has not recorded yet, with the
    /// lease of each: what it records or marks for them is fenced by it.
    held: Arc<std::sync::Mutex<std::collections::HashMap<i64, Lease>>>,
    /// The singleton jobs this daemon took, by name, with their leases.
    jobs_held: Arc<std::sync::Mutex<std::collections::HashMap<String, JobLease>>>,
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// Runs `$body` on `$db`, the statements of one transaction, and commits;
/// runs it again when it lost a race with another daemon (for the same order
/// or update id), up to [`RETRIES`] times. (A macro, not a function taking an
/// async closure: a closure over a borrowed transaction makes the caller's
/// future lose `Send`.)
macro_rules! transact {
    ($store:expr, |$db:ident| $body:expr) => {{
        let mut tries = 0;
        loop {
            let mut client = $store.client().await?;
            let tx = client.transaction().await?;
            let done = {
                let $db = &mut Pg(&tx);
                $body.await
            };
            let done = match done {
                Ok(done) => tx.commit().await.map(|()| done).map_err(StoreError::from),
                Err(e) => Err(e),
            };
            match done {
                Err(StoreError::Postgres(PgError { retry: true, .. })) if tries < RETRIES => {
                    tries += 1;
                }
                done => break done,
            }
        }
    }};
}

impl PgStore {
    /// Connects to the database at `url` (a libpq-style URL), migrates it,
    /// and refuses it if a newer ordersync migrated it past what this one
    /// knows. Several daemons starting at once migrate once: the first holds
    /// the lock, the others wait for it and then find nothing to do.
    pub async fn open(
        url: &str,
        pool_size: usize,
        decide: Arc<dyn Decide>,
    ) -> Result<PgStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("--db: not a PostgreSQL URL: {e}")))?;
        let manager = Manager::from_config(
            config,
            tls()?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .build()
            .map_err(|e| StoreError::Invalid(format!("--db: {e}")))?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".to_string());
        let store = PgStore {
            pool,
            decide,
            owner: Arc::from(format!(
                "{host}:{}:{:08x}",
                std::process::id(),
                fastrand::u32(..)
            )),
            lease: DEFAULT_LEASE,
            held: Arc::default(),
            jobs_held: Arc::default(),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// The same store with leases of `lease` (default [`DEFAULT_LEASE`]).
    pub fn with_lease(mut self, lease: Duration) -> PgStore {
        self.lease = lease;
        self
    }

    /// This daemon's name on the lanes it holds.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub(in crate::store) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| {
            let message = match e {
                deadpool_postgres::PoolError::Backend(e) => return StoreError::from(e),
                other => other.to_string(),
            };
            StoreError::Postgres(PgError {
                message,
                retry: false,
                unavailable: true,
            })
        })
    }

    /// Applies the migrations this database has not had, in one transaction.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS ordersync_schema (
                 one     BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
                 version INTEGER NOT NULL
             )",
        )
        .await?;
        let found: i64 = tx
            .query_opt("SELECT version FROM ordersync_schema", &[])
            .await?
            .map_or(0, |r| i64::from(r.get::<_, i32>(0)));
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::Newer { found, known });
        }
        for migration in &MIGRATIONS[found as usize..] {
            tx.batch_execute(migration).await?;
        }
        if found < known {
            tx.execute(
                "INSERT INTO ordersync_schema (version) VALUES ($1)
                 ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                &[&(known as i32)],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The schema version the database is at.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT version FROM ordersync_schema", &[])
            .await?;
        Ok(i64::from(row.get::<_, i32>(0)))
    }

    /// One update into the store (SPEC 5 steps 1-4): stored, decided, its
    /// deliveries written, committed, in one transaction.
    pub async fn ingest(&self, req: &IngestRequest) -> Result<Ingested, StoreError> {
        transact!(self, |db| ingest::ingest(db, &*self.decide, req))
    }

    /// Sends a rejected or dead delivery again (see `Writer::retry`).
    pub async fn retry(&self, delivery_id: i64) -> Result<Done, StoreError> {
        transact!(self, |db| actions::retry(db, delivery_id))
    }

    /// Marks a problem `resolved` or `ignored` (see `Writer::resolve`).
    pub async fn resolve(
        &self,
        what: Target,
        id: i64,
        resolution: &str,
    ) -> Result<Done, StoreError> {
        transact!(self, |db| actions::resolve(db, what, id, resolution))
    }

    /// Completes a draft (see `Writer::complete_draft`).
    pub async fn complete_draft(
        &self,
        rules: &RuleSet,
        id: i64,
        set: &[(String, Value)],
    ) -> Result<Done, StoreError> {
        transact!(self, |db| actions::complete_draft(
            db,
            &*self.decide,
            rules,
            id,
            set
        ))
    }

    /// Decides an order's newest update again (see `Writer::resync`).
    pub async fn resync(&self, rules: &RuleSet, order_id: i64) -> Result<Done, StoreError> {
        transact!(self, |db| actions::resync(
            db,
            &*self.decide,
            rules,
            order_id
        ))
    }
}

/// One connection of its own, not pooled and not migrating (`diff`'s
/// read-only snapshot); its driver runs on the current runtime.
pub(crate) async fn connect_one(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| StoreError::Invalid(format!("--db: not a PostgreSQL URL: {e}")))?;
    let (client, conn) = config.connect(tls()?).await?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "a PostgreSQL connection ended");
        }
    });
    Ok(client)
}

/// TLS by rustls (ring, the webpki roots), used when the URL's `sslmode`
/// asks for it (`prefer`, libpq's default, tries it first).
fn tls() -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Invalid(format!("--db: TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

#[cfg(test)]
impl PgStore {
    /// The rows of any statement, every value as text (`NULL` as `None`,
    /// `bytea` as the text it holds).
    pub(crate) async fn text_rows(
        &self,
        sql: &str,
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        let client = self.client().await?;
        Ok(crate::store::suite::text_rows::postgres(&client, sql).await?)
    }
}
