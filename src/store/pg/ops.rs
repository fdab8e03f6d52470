//! PostgreSQL's versions of the store's small named operations (SQLite's are
//! in `../ops.rs`), the singleton jobs' leases, and the daemons' roll call.
//!
//! **Singleton jobs** (each channel's poll schedule, housekeeping) run on one
//! daemon at a time: before a run, a daemon takes the job's lease row
//! (`job_leases`), renews it while the run lasts, and gives it up after. A
//! lease is a row, not a session advisory lock, so it works behind a
//! transaction-pooling PgBouncer and runs out when its daemon dies or hangs
//! instead of lasting as long as a TCP connection. A poll cursor is written
//! only in the same transaction that checks its job's lease still holds.
//!
//! **The roll call** (`daemons`): every daemon notes the rules version it
//! runs and is seen whenever it renews its leases, so `GET /api/rules` can
//! show the version of each daemon still alive.

use chrono::Utc;

use super::PgStore;
use crate::rules::RuleSet;
use crate::store::{Label, PollState, Quarantined, StoreError, stamp};

/// A daemon's hold on a singleton job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobLease {
    /// `poll:<channel>` or `housekeeping`.
    pub job: String,
    /// Goes up on every take: only the newest holder may write.
    pub token: i64,
}

/// A daemon still alive, and the rules it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveDaemon {
    /// Host, process and a random part.
    pub owner: String,
    pub rules_version: String,
    /// When it last renewed its leases (RFC 3339).
    pub seen_at: String,
    /// Whether it is the daemon asking.
    pub this: bool,
}

impl PgStore {
    /// Keeps an unreadable body; its quarantine id.
    pub async fn quarantine(&self, q: &Quarantined) -> Result<i64, StoreError> {
        let headers: serde_json::Map<String, serde_json::Value> = q
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "INSERT INTO quarantine (channel, received_at, reason, headers, body)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .await?;
        let row = client
            .query_one(
                &stmt,
                &[
                    &q.channel,
                    &stamp(q.received_at),
                    &q.reason,
                    &serde_json::Value::Object(headers).to_string(),
                    &q.body,
                ],
            )
            .await?;
        Ok(row.get(0))
    }

    /// Keeps, under the delivery's lease, the label it sends (the first one
    /// kept stays: a retry, by this daemon or another, sends the same bytes).
    pub async fn keep_label(&self, delivery_id: i64, label: &Label) -> Result<(), StoreError> {
        let lease = self.held(delivery_id)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        self.check(&tx, &lease).await?;
        tx.execute(
            "INSERT INTO labels (delivery_id, format, content_type, filename, bytes, kept_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id) DO NOTHING",
            &[
                &delivery_id,
                &label.format,
                &label.content_type,
                &label.filename,
                &label.bytes,
                &stamp(Utc::now()),
            ],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The label kept for a delivery, if any.
    pub async fn label(&self, delivery_id: i64) -> Result<Option<Label>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT format, content_type, filename, bytes FROM labels WHERE delivery_id = $1",
                &[&delivery_id],
            )
            .await?;
        Ok(row.map(|r| Label {
            format: r.get(0),
            content_type: r.get(1),
            filename: r.get(2),
            bytes: r.get(3),
        }))
    }

    /// Stores a rules version's text (so its decisions can be explained
    /// later) and notes it as the version this daemon runs.
    pub async fn note_rules(&self, rules: &RuleSet) -> Result<(), StoreError> {
        let files: Vec<serde_json::Value> = rules
            .files
            .iter()
            .map(|f| serde_json::json!({"name": f.name, "text": f.text}))
            .collect();
        let now = stamp(Utc::now());
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO rules_versions (version, files, loaded_at) VALUES ($1, $2, $3)
             ON CONFLICT (version) DO NOTHING",
            &[
                &&*rules.version,
                &serde_json::Value::Array(files).to_string(),
                &now,
            ],
        )
        .await?;
        tx.execute(
            "INSERT INTO daemons (owner, rules_version, started_at, seen_at) VALUES ($1, $2, $3, now())
             ON CONFLICT (owner) DO UPDATE SET rules_version = excluded.rules_version, seen_at = now()",
            &[&&*self.owner, &&*rules.version, &now],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The daemons seen within three leases, with the rules each runs,
    /// oldest first.
    pub async fn live_daemons(&self) -> Result<Vec<LiveDaemon>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT owner, rules_version,
                        to_char(seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
                 FROM daemons WHERE seen_at > now() - make_interval(secs => $1)
                 ORDER BY started_at, owner",
                &[&(3.0 * self.lease.as_secs_f64())],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let owner: String = r.get(0);
                LiveDaemon {
                    this: owner == *self.owner,
                    owner,
                    rules_version: r.get(1),
                    seen_at: r.get(2),
                }
            })
            .collect())
    }

    /// Stores a channel's newest OAuth refresh token, replacing the one before.
    pub async fn save_refresh_token(&self, channel: &str, token: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO credentials (channel, refresh_token, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (channel) DO UPDATE SET refresh_token = excluded.refresh_token,
                     updated_at = excluded.updated_at",
                &[&channel, &token, &stamp(Utc::now())],
            )
            .await?;
        Ok(())
    }

    /// A channel's stored refresh token, if one was ever stored.
    pub async fn refresh_token(&self, channel: &str) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT refresh_token FROM credentials WHERE channel = $1",
                &[&channel],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// A channel's polling cursor and run times.
    pub async fn poll_state(&self, channel: &str) -> Result<PollState, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT cursor, last_run_at, last_success_at FROM poll_cursors WHERE channel = $1",
                &[&channel],
            )
            .await?;
        Ok(row
            .map(|r| PollState {
                cursor: r.get(0),
                last_run_at: r.get(1),
                last_success_at: r.get(2),
            })
            .unwrap_or_default())
    }

    /// Stores a channel's polling cursor and run times, only while this
    /// daemon holds the channel's poll job (`poll:<channel>`, taken by
    /// [`take_job`](PgStore::take_job)) and nobody took it since.
    pub async fn save_poll_state(
        &self,
        channel: &str,
        state: &PollState,
    ) -> Result<(), StoreError> {
        let job = format!("poll:{channel}");
        let lease = self
            .jobs_held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&job)
            .cloned()
            .ok_or_else(|| {
                StoreError::LeaseLost(format!(
                    "store: this daemon does not hold the job {job}; the poll cursor of {channel} is not moved"
                ))
            })?;
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let held = tx
            .query_opt(
                "SELECT 1 FROM job_leases WHERE job = $1 AND owner = $2 AND token = $3 FOR UPDATE",
                &[&lease.job, &&*self.owner, &lease.token],
            )
            .await?;
        if held.is_none() {
            return Err(StoreError::LeaseLost(format!(
                "store: the lease on the job {} was taken by another daemon; the poll cursor of {channel} is not moved",
                lease.job
            )));
        }
        tx.execute(
            "INSERT INTO poll_cursors (channel, cursor, last_run_at, last_success_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (channel) DO UPDATE SET cursor = excluded.cursor,
                 last_run_at = excluded.last_run_at, last_success_at = excluded.last_success_at",
            &[&channel, &state.cursor, &state.last_run_at, &state.last_success_at],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the lease on a singleton job, unless another live daemon holds
    /// it (`None`): one whose lease ran out, or this daemon, may take it.
    pub async fn take_job(&self, job: &str) -> Result<Option<JobLease>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "INSERT INTO job_leases (job, owner, token, lease_until)
                 VALUES ($1, $2, 1, now() + make_interval(secs => $3))
                 ON CONFLICT (job) DO UPDATE SET owner = excluded.owner,
                     token = job_leases.token + 1, lease_until = excluded.lease_until
                 WHERE job_leases.lease_until < now() OR job_leases.owner = excluded.owner
                 RETURNING token",
                &[&job, &&*self.owner, &self.lease.as_secs_f64()],
            )
            .await?;
        let lease = row.map(|r| JobLease {
            job: job.to_string(),
            token: r.get(0),
        });
        let mut held = self.jobs_held.lock().unwrap_or_else(|p| p.into_inner());
        match &lease {
            Some(l) => held.insert(job.to_string(), l.clone()),
            None => held.remove(job),
        };
        Ok(lease)
    }

    /// Answers once the server answers (the store is reachable).
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }
}
