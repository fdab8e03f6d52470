//! Housekeeping on PostgreSQL: SQLite's passes (`../housekeeping.rs`, where
//! what is kept and why is explained) in PostgreSQL's SQL, one transaction
//! per bounded pass. It is a singleton job: the daemon runs it only while it
//! holds the `housekeeping` job's lease (`ops.rs`).

use super::PgStore;
use crate::store::{Housekeeping, Pruned, StoreError, stamp};

impl PgStore {
    /// One bounded pass of housekeeping; call again while it reports `more`.
    pub async fn housekeep(&self, h: &Housekeeping) -> Result<Pruned, StoreError> {
        let mut client = self.client().await?;
        if h.optimize {
            // The planner's statistics (autovacuum keeps them too; this is
            // the same periodic nudge SQLite's `PRAGMA optimize` is).
            client.batch_execute("ANALYZE").await?;
            return Ok(Pruned::default());
        }
        let now = stamp(h.now);
        let batch = h.batch as i64;
        let tx = client.transaction().await?;
        let stuck = tx
            .execute(
                "UPDATE deliveries SET stuck_at = $1 WHERE id IN (
                     SELECT d.id FROM deliveries d JOIN decisions c ON c.id = d.decision_id
                     WHERE d.status = 'pending' AND d.stuck_at IS NULL AND c.decided_at < $2
                     LIMIT $3)",
                &[&now, &stamp(h.stuck_before), &batch],
            )
            .await?;
        if stuck > 0 {
            tx.execute(
                "UPDATE health SET status = 'stuck', updated_at = $1,
                     resolution = CASE WHEN ignored = 'stuck' THEN 'ignored' ELSE NULL END
                 WHERE status = 'pending'
                   AND delivery_id IN (SELECT id FROM deliveries WHERE stuck_at = $1)",
                &[&now],
            )
            .await?;
        }
        let cutoff = stamp(h.retain_after);
        let attempts = tx
            .execute(
                "DELETE FROM attempts WHERE id IN (
                     SELECT a.id FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
                     WHERE d.status = 'delivered' AND a.at < $1 ORDER BY a.id LIMIT $2)",
                &[&cutoff, &batch],
            )
            .await?;
        let payloads = tx
            .execute(
                "UPDATE updates SET payload = ''::bytea, pruned_at = $1 WHERE id IN (
                     SELECT u.id FROM updates u
                     WHERE u.pruned_at IS NULL AND u.received_at < $2
                       AND u.id < (SELECT max(n.id) FROM updates n WHERE n.order_id = u.order_id)
                       AND NOT EXISTS (
                           SELECT 1 FROM decisions c LEFT JOIN deliveries d ON d.decision_id = c.id
                           WHERE c.update_id = u.id
                             AND (c.outcome IN ('draft', 'error')
                                  OR (d.id IS NOT NULL AND d.status != 'delivered')))
                     ORDER BY u.id LIMIT $3)",
                &[&now, &cutoff, &batch],
            )
            .await?;
        tx.commit().await?;
        Ok(Pruned::counted(
            stuck as usize,
            attempts as usize,
            payloads as usize,
            h.batch,
        ))
    }
}
