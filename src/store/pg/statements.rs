//! PostgreSQL's statements of an update's ingest (see `../statements.rs`),
//! on one transaction. Each is prepared once per pooled connection.
//!
//! Several daemons ingest at once, so the order is locked before its state is
//! read: `linked_order` and `hold_order` take the order's row (and the link's)
//! `FOR UPDATE`; two updates of one order queue there, and the second reads
//! what the first committed (each statement reads the newest committed rows,
//! `READ COMMITTED`). Two daemons that both create the same new link or store
//! the same update id meet at a unique index; the loser's transaction is run
//! again (`PgError::retry`) and then finds the winner's rows.

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use crate::engine::OrderState;
use crate::order::Event;
use crate::store::health::{Decided, HealthStatus};
use crate::store::statements::{
    AttemptOutcome, DraftRow, NewAttempt, NewDecision, NewDeliveryRow, NewUpdate, OrderNote,
    Statements, UpdateRow,
};
use crate::store::{DeliveryStatus, Job, StoreError};
use crate::value::Value;

/// PostgreSQL's statements, on one transaction.
pub(crate) struct Pg<'t, 'c>(pub &'t Transaction<'c>);

impl Pg<'_, '_> {
    async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, StoreError> {
        let stmt = self.0.prepare_cached(sql).await?;
        Ok(self.0.execute(&stmt, params).await?)
    }

    async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, StoreError> {
        let stmt = self.0.prepare_cached(sql).await?;
        Ok(self.0.query_opt(&stmt, params).await?)
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let stmt = self.0.prepare_cached(sql).await?;
        Ok(self.0.query(&stmt, params).await?)
    }

    /// The `id` a `RETURNING id` statement answers.
    async fn returning_id(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<i64, StoreError> {
        let stmt = self.0.prepare_cached(sql).await?;
        Ok(self.0.query_one(&stmt, params).await?.get(0))
    }
}

impl Statements for Pg<'_, '_> {
    async fn seen(&mut self, channel: &str, event_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM updates WHERE channel = $1 AND event_id = $2",
                &[&channel, &event_id],
            )
            .await?
            .is_some())
    }

    async fn linked_order(
        &mut self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<(i64, Option<String>)>, StoreError> {
        let row = self
            .query_opt(
                "SELECT l.order_id, l.newest_updated_at FROM links l JOIN orders o ON o.id = l.order_id
                 WHERE l.channel = $1 AND l.external_id = $2 FOR UPDATE",
                &[&channel, &external_id],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    async fn hold_order(&mut self, order_id: i64) -> Result<bool, StoreError> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM orders WHERE id = $1 FOR UPDATE",
                &[&order_id],
            )
            .await?
            .is_some())
    }

    async fn new_order(&mut self, created_at: &str) -> Result<i64, StoreError> {
        self.returning_id(
            "INSERT INTO orders (created_at) VALUES ($1) RETURNING id",
            &[&created_at],
        )
        .await
    }

    async fn add_link(
        &mut self,
        channel: &str,
        external_id: &str,
        order_id: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO links (channel, external_id, order_id) VALUES ($1, $2, $3)",
            &[&channel, &external_id, &order_id],
        )
        .await?;
        Ok(())
    }

    async fn set_newest(
        &mut self,
        channel: &str,
        external_id: &str,
        updated_at: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE links SET newest_updated_at = $3 WHERE channel = $1 AND external_id = $2",
            &[&channel, &external_id, &updated_at],
        )
        .await?;
        Ok(())
    }

    async fn insert_update(&mut self, u: &NewUpdate<'_>) -> Result<i64, StoreError> {
        self.returning_id(
            "INSERT INTO updates (channel, event_id, event, occurred_at, received_at, order_id,
                                  external_id, status, payload, via, topic)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            &[
                &u.channel,
                &u.event_id,
                &u.event.as_str(),
                &u.occurred_at,
                &u.received_at,
                &u.order_id,
                &u.external_id,
                &u.status,
                &u.payload,
                &u.via,
                &u.topic,
            ],
        )
        .await
    }

    async fn state_of(&mut self, order_id: i64) -> Result<OrderState, StoreError> {
        let mut state = OrderState::default();
        for row in self
            .query(
                "SELECT channel, body FROM known WHERE order_id = $1",
                &[&order_id],
            )
            .await?
        {
            let body: &str = row.get(1);
            if let Ok(v) = Value::from_json(body) {
                state.known.push((row.get(0), v));
            }
        }
        for row in self
            .query(
                "SELECT h.destination, u.event FROM health h
                 JOIN decisions c ON c.id = h.decision_id JOIN updates u ON u.id = c.update_id
                 WHERE h.order_id = $1 AND h.status = 'draft'",
                &[&order_id],
            )
            .await?
        {
            if let Ok(event) = row.get::<_, &str>(1).parse::<Event>() {
                state.drafts.push((row.get(0), event));
            }
        }
        Ok(state)
    }

    async fn set_known(
        &mut self,
        order_id: i64,
        channel: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO known (order_id, channel, body) VALUES ($1, $2, $3)
             ON CONFLICT (order_id, channel) DO UPDATE SET body = excluded.body",
            &[&order_id, &channel, &body],
        )
        .await?;
        Ok(())
    }

    async fn note_order(&mut self, n: &OrderNote<'_>) -> Result<(), StoreError> {
        self.execute(
            "UPDATE orders SET updated_at = $2, name = coalesce(name, $3), source = coalesce(source, $4),
                 search = CASE WHEN $5::text = '' OR strpos(search, $5::text) > 0 THEN search
                               ELSE ltrim(search || ' ' || $5::text) END
             WHERE id = $1",
            &[&n.order_id, &n.at, &n.name, &n.source, &n.words],
        )
        .await?;
        Ok(())
    }

    async fn destination_id(
        &mut self,
        order_id: i64,
        destination: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .query_opt(
                "SELECT external_id FROM links WHERE order_id = $1 AND channel = $2
                 ORDER BY id LIMIT 1",
                &[&order_id, &destination],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn insert_decision(&mut self, d: &NewDecision<'_>) -> Result<i64, StoreError> {
        self.returning_id(
            "INSERT INTO decisions (update_id, order_id, destination, outcome, detail, rules_version,
                                    body, changes, trace, decided_at, why, trigger)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
            &[
                &d.update_id,
                &d.order_id,
                &d.destination,
                &d.outcome,
                &d.detail,
                &d.rules_version,
                &d.body,
                &d.changes,
                &d.trace,
                &d.decided_at,
                &d.why,
                &d.trigger,
            ],
        )
        .await
    }

    async fn insert_delivery(&mut self, d: &NewDeliveryRow<'_>) -> Result<i64, StoreError> {
        // Its lane: the row daemons claim it by (`lanes.rs`). An existing
        // lane is locked, not passed over (`DO NOTHING` would not wait): a
        // daemon recording the lane's last delivery meanwhile holds it and
        // would remove it as empty, not seeing this uncommitted delivery;
        // locking waits for that, and then inserts the lane again.
        self.execute(
            "INSERT INTO lanes (order_id, destination) VALUES ($1, $2)
             ON CONFLICT (order_id, destination) DO UPDATE SET due_at = lanes.due_at",
            &[&d.order_id, &d.destination],
        )
        .await?;
        self.returning_id(
            "INSERT INTO deliveries (decision_id, order_id, destination, source, event,
                                     idempotency_key, status, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7) RETURNING id",
            &[
                &d.decision_id,
                &d.order_id,
                &d.destination,
                &d.source,
                &d.event.as_str(),
                &d.idempotency_key,
                &d.at,
            ],
        )
        .await
    }

    async fn on_decision(&mut self, d: &Decided<'_>) -> Result<(), StoreError> {
        let status = HealthStatus::of_decision(d.outcome).as_str();
        // SQLite's statement (`health::on_decision`), and in the same
        // statement what its trigger `health_release` does: a draft this
        // decision replaces is released.
        self.execute(
            "WITH prev AS (
                 SELECT decision_id, status FROM health WHERE order_id = $1 AND destination = $2
             ), up AS (
                 INSERT INTO health (order_id, destination, source, status, decision_id, delivery_id,
                                     detail, resolution, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)
                 ON CONFLICT (order_id, destination) DO UPDATE SET
                     source = excluded.source, status = excluded.status,
                     decision_id = excluded.decision_id, delivery_id = excluded.delivery_id,
                     detail = excluded.detail, updated_at = excluded.updated_at,
                     resolution = CASE WHEN health.ignored = excluded.status THEN 'ignored' END
                 WHERE excluded.status != 'skipped' OR health.status IN ('delivered', 'skipped')
                 RETURNING status
             )
             UPDATE decisions SET released_at = $8
             WHERE id = (SELECT decision_id FROM prev WHERE status = 'draft')
               AND EXISTS (SELECT 1 FROM up WHERE status != 'draft')",
            &[
                &d.order_id,
                &d.destination,
                &d.source,
                &status,
                &d.decision_id,
                &d.delivery_id,
                &d.detail,
                &d.at,
            ],
        )
        .await?;
        Ok(())
    }

    async fn insert_attempt(&mut self, a: &NewAttempt<'_>) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO attempts (delivery_id, at, external_id, http_status, error, response,
                                   duration_ms, step, request)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &a.delivery_id,
                &a.at,
                &a.external_id,
                &a.http_status.map(i32::from),
                &a.error,
                &a.response,
                &a.duration_ms,
                &a.step,
                &a.request,
            ],
        )
        .await?;
        Ok(())
    }

    async fn after_attempt(&mut self, o: &AttemptOutcome<'_>) -> Result<(), StoreError> {
        self.execute(
            "UPDATE deliveries SET status = $2, attempts = attempts + 1, next_at = $3,
                 last_status = $4, last_error = $5, updated_at = $6 WHERE id = $1",
            &[
                &o.delivery_id,
                &o.status.as_str(),
                &o.next_at,
                &o.http_status.map(i32::from),
                &o.error,
                &o.at,
            ],
        )
        .await?;
        // `health::on_attempt`'s two statements.
        if o.status == DeliveryStatus::Pending {
            self.execute(
                "UPDATE health SET detail = $4, updated_at = $5
                 WHERE order_id = $1 AND destination = $2 AND delivery_id = $3",
                &[
                    &o.order_id,
                    &o.destination,
                    &o.delivery_id,
                    &o.detail,
                    &o.at,
                ],
            )
            .await?;
        } else {
            self.execute(
                "UPDATE health SET status = $6, detail = $4, updated_at = $5,
                     resolution = CASE WHEN ignored = $6 THEN 'ignored' ELSE NULL END
                 WHERE order_id = $1 AND destination = $2 AND delivery_id = $3",
                &[
                    &o.order_id,
                    &o.destination,
                    &o.delivery_id,
                    &o.detail,
                    &o.at,
                    &o.status.as_str(),
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn add_link_if_new(
        &mut self,
        channel: &str,
        external_id: &str,
        order_id: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO links (channel, external_id, order_id) VALUES ($1, $2, $3)
             ON CONFLICT (channel, external_id) DO NOTHING",
            &[&channel, &external_id, &order_id],
        )
        .await?;
        Ok(())
    }

    async fn delivery_row(&mut self, id: i64) -> Result<Option<(i64, String, String)>, StoreError> {
        let row = self
            .query_opt(
                "SELECT order_id, destination, status FROM deliveries WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1), r.get(2))))
    }

    async fn health_delivery(
        &mut self,
        order_id: i64,
        destination: &str,
    ) -> Result<Option<i64>, StoreError> {
        let row = self
            .query_opt(
                "SELECT delivery_id FROM health WHERE order_id = $1 AND destination = $2",
                &[&order_id, &destination],
            )
            .await?;
        Ok(row.and_then(|r| r.get(0)))
    }

    async fn reset_for_retry(
        &mut self,
        id: i64,
        order_id: i64,
        destination: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_at = NULL, updated_at = $2
             WHERE id = $1",
            &[&id, &at],
        )
        .await?;
        self.execute(
            "UPDATE health SET status = 'pending', detail = 'retry requested by an operator',
                 resolution = NULL, updated_at = $3
             WHERE order_id = $1 AND destination = $2",
            &[&order_id, &destination, &at],
        )
        .await?;
        // Its lane again, due now: the daemons claim it.
        self.execute(
            "INSERT INTO lanes (order_id, destination) VALUES ($1, $2)
             ON CONFLICT (order_id, destination) DO UPDATE SET due_at = least(lanes.due_at, now())",
            &[&order_id, &destination],
        )
        .await?;
        Ok(())
    }

    async fn job(&mut self, id: i64) -> Result<Option<Job>, StoreError> {
        self.query_opt(super::lanes::BY_ID, &[&id])
            .await?
            .map(|r| super::lanes::job(&r))
            .transpose()
    }

    async fn decision_target(&mut self, id: i64) -> Result<Option<(i64, String)>, StoreError> {
        let row = self
            .query_opt(
                "SELECT order_id, destination FROM decisions WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    async fn set_resolution(
        &mut self,
        order_id: i64,
        destination: &str,
        resolution: &str,
    ) -> Result<bool, StoreError> {
        // `health::set_resolution`: ignoring remembers the kind of problem.
        let sql = if resolution == "ignored" {
            "UPDATE health SET resolution = $3, ignored = status
             WHERE order_id = $1 AND destination = $2 AND resolution IS DISTINCT FROM $3
               AND status IN ('rejected', 'dead', 'error', 'draft', 'stuck')"
        } else {
            "UPDATE health SET resolution = $3, ignored = NULL
             WHERE order_id = $1 AND destination = $2 AND resolution IS DISTINCT FROM $3
               AND status IN ('rejected', 'dead', 'error', 'draft', 'stuck')"
        };
        Ok(self
            .execute(sql, &[&order_id, &destination, &resolution])
            .await?
            > 0)
    }

    async fn draft_row(&mut self, id: i64) -> Result<Option<DraftRow>, StoreError> {
        let row = self
            .query_opt(
                "SELECT c.order_id, c.update_id, c.destination, c.outcome, c.body, c.released_at,
                        u.channel, u.event
                 FROM decisions c JOIN updates u ON u.id = c.update_id WHERE c.id = $1",
                &[&id],
            )
            .await?;
        Ok(row.map(|r| DraftRow {
            order_id: r.get(0),
            update_id: r.get(1),
            destination: r.get(2),
            outcome: r.get(3),
            body: r.get(4),
            released: r.get(5),
            source: r.get(6),
            event: r.get(7),
        }))
    }

    async fn newest_update(&mut self, order_id: i64) -> Result<Option<UpdateRow>, StoreError> {
        let row = self
            .query_opt(
                "SELECT id, channel, event_id, payload, topic, via, pruned_at FROM updates
                 WHERE order_id = $1 AND status != 'stale' ORDER BY id DESC LIMIT 1",
                &[&order_id],
            )
            .await?;
        Ok(row.map(|r| UpdateRow {
            update_id: r.get(0),
            channel: r.get(1),
            event_id: r.get(2),
            payload: r.get(3),
            topic: r.get(4),
            via: r.get(5),
            pruned: r.get(6),
        }))
    }
}
