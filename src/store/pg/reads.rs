//! PostgreSQL's own reads behind [`Reader`](crate::store::Reader): the ones
//! delivery and metrics need. Order Health's list and timeline, the
//! quarantine page and the channels page are written once for both stores
//! (`../query.rs`).

use chrono::Utc;

use super::PgStore;
use crate::store::orders::Owned;
use crate::store::{Job, Outbox, StoreError, order_ref, parse_stamp};

impl PgStore {
    /// The files of the rules loaded last by any daemon: what a daemon
    /// started on a file it refuses runs meanwhile (SPEC 10.6).
    pub async fn last_rules(&self) -> Result<Option<Vec<crate::rules::SourceFile>>, StoreError> {
        let q = crate::store::query::PgRead(self.client().await?);
        crate::store::ops::last_rules(&q).await
    }

    /// Delivery `id` as a job, while it is still pending.
    pub async fn pending_job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(concat!(
                super::lanes::job_select!(),
                " WHERE d.id = $1 AND d.status = 'pending'"
            ))
            .await?;
        client
            .query_opt(&stmt, &[&id])
            .await?
            .map(|r| super::lanes::job(&r))
            .transpose()
    }

    /// The order as decided in the newest delivered delivery of `order` to
    /// `destination` older than delivery `before`: what the destination was
    /// last given.
    pub async fn last_delivered_body(
        &self,
        order: i64,
        destination: &str,
        before: i64,
    ) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT c.body FROM deliveries d JOIN decisions c ON c.id = d.decision_id
                 WHERE d.order_id = $1 AND d.destination = $2 AND d.id < $3 AND d.status = 'delivered'
                 ORDER BY d.id DESC LIMIT 1",
                &[&order, &destination, &before],
            )
            .await?;
        Ok(row.and_then(|r| r.get(0)))
    }

    /// The order (`ord_<id>`) a delivery or a decision belongs to.
    pub async fn order_of(&self, what: Owned, id: i64) -> Result<Option<String>, StoreError> {
        let sql = match what {
            Owned::Delivery => "SELECT order_id FROM deliveries WHERE id = $1",
            Owned::Decision => "SELECT order_id FROM decisions WHERE id = $1",
        };
        let client = self.client().await?;
        let row = client.query_opt(sql, &[&id]).await?;
        Ok(row.map(|r| order_ref(r.get(0))))
    }

    /// The outbox: pending deliveries, the oldest one's wait, the stuck ones.
    pub async fn outbox(&self) -> Result<Outbox, StoreError> {
        let client = self.client().await?;
        let r = client
            .query_one(
                "SELECT count(*), min(c.decided_at), count(d.stuck_at)
                 FROM deliveries d JOIN decisions c ON c.id = d.decision_id
                 WHERE d.status = 'pending'",
                &[],
            )
            .await?;
        let oldest: Option<&str> = r.get(1);
        Ok(Outbox {
            depth: r.get::<_, i64>(0).max(0) as u64,
            oldest_age: oldest
                .and_then(parse_stamp)
                .and_then(|t| (Utc::now() - t).to_std().ok())
                .unwrap_or_default(),
            stuck: r.get::<_, i64>(2).max(0) as u64,
        })
    }
}
