//! The reads of a shared store's delivery and metrics, against SQLite's
//! `Reader` on the same state.

use super::*;
use crate::store::orders::Owned;
use crate::store::{Job, Outbox, Reader};

impl Backend {
    fn reader(&self) -> Option<Reader> {
        match self {
            Backend::Sqlite { dir, .. } => Some(Reader::new(&dir.path().join("o.db"))),
            Backend::Postgres(_) => None,
        }
    }

    async fn outbox(&self) -> Outbox {
        match self.reader() {
            Some(r) => r.outbox().await.unwrap(),
            None => self.pg().outbox().await.unwrap(),
        }
    }

    async fn pending_job(&self, id: i64) -> Option<Job> {
        match self.reader() {
            Some(r) => r.pending_job(id).await.unwrap(),
            None => self.pg().pending_job(id).await.unwrap(),
        }
    }

    async fn last_delivered_body(&self, order: i64, to: &str, before: i64) -> Option<String> {
        match self.reader() {
            Some(r) => r
                .last_delivered_body(order, to.into(), before)
                .await
                .unwrap(),
            None => self
                .pg()
                .last_delivered_body(order, to, before)
                .await
                .unwrap(),
        }
    }

    async fn owner(&self, what: Owned, id: i64) -> Option<String> {
        match self.reader() {
            Some(r) => r.owner(what, id).await.unwrap(),
            None => self.pg().order_of(what, id).await.unwrap(),
        }
    }
}

/// What the reads say of a store, in words.
async fn said(store: &Backend) -> Vec<String> {
    let o = store.outbox().await;
    let mut out = vec![format!("outbox {} stuck {}", o.depth, o.stuck)];
    for id in 1..=5 {
        let job = store.pending_job(id).await.map(|j| {
            (
                j.delivery_id,
                j.idempotency_key,
                j.order_json,
                j.attempts,
                j.sent,
                j.external_id,
                j.received_at,
            )
        });
        out.push(format!("{job:?}"));
    }
    out.push(format!(
        "{:?}",
        store.last_delivered_body(1, "market", 4).await
    ));
    out.push(format!(
        "{:?}",
        store.last_delivered_body(1, "market", 1).await
    ));
    for (what, id) in [
        (Owned::Delivery, 1),
        (Owned::Decision, 3),
        (Owned::Delivery, 99),
    ] {
        out.push(format!("{:?}", store.owner(what, id).await));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_read_outbox_jobs_and_owners_alike() {
    let sqlite = Backend::sqlite();
    super::operations::housekeeping(&sqlite).await;
    let read = said(&sqlite).await;
    // Deliveries 2 and 4 pending (and stuck), 1 and 3 delivered.
    assert_eq!(read[0], "outbox 2 stuck 2");
    assert_eq!(read[1], "None");
    assert!(read[2].starts_with("Some((2, \"os-"), "{}", read[2]);
    assert!(
        read[6].contains("note"),
        "the body delivered before delivery 4: {}",
        read[6]
    );
    assert_eq!(read[7], "None");
    assert_eq!(&read[8..], ["Some(\"ord_1\")", "Some(\"ord_1\")", "None"]);
    let Some(postgres) =
        Backend::postgres_half("both_stores_read_outbox_jobs_and_owners_alike", 2).await
    else {
        return sqlite.close().await;
    };
    super::operations::housekeeping(&postgres).await;
    assert_eq!(said(&postgres).await, read);
    sqlite.close().await;
}
