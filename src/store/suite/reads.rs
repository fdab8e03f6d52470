//! The reads (`Reader`) of both stores on the same state: delivery's and
//! metrics', Order Health's list and timeline, the quarantine page and the
//! channels page.

use serde_json::Value as Json;

use super::*;
use crate::store::Reader;
use crate::store::orders::{ListFilter, Owned};

impl Backend {
    fn reader(&self) -> Reader {
        match self {
            Backend::Sqlite { dir, .. } => Reader::new(&dir.path().join("o.db")),
            Backend::Postgres(_) => Reader::postgres(self.pg().clone()),
        }
    }
}

/// What the reads say of a store, in words.
async fn said(store: &Backend) -> Vec<String> {
    let store = store.reader();
    let o = store.outbox().await.unwrap();
    let mut out = vec![format!("outbox {} stuck {}", o.depth, o.stuck)];
    for id in 1..=5 {
        let job = store.pending_job(id).await.unwrap().map(|j| {
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
        store
            .last_delivered_body(1, "market".into(), 4)
            .await
            .unwrap()
    ));
    out.push(format!(
        "{:?}",
        store
            .last_delivered_body(1, "market".into(), 1)
            .await
            .unwrap()
    ));
    for (what, id) in [
        (Owned::Delivery, 1),
        (Owned::Decision, 3),
        (Owned::Delivery, 99),
    ] {
        out.push(format!("{:?}", store.owner(what, id).await.unwrap()));
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

/// Times and durations, which each store stamps with its own clock, as `T`.
fn masked(mut v: Json) -> Json {
    fn walk(v: &mut Json) {
        match v {
            Json::Object(m) => {
                for (k, v) in m.iter_mut() {
                    let timed = k == "at" || k.ends_with("_at") || k == "duration_ms";
                    if timed && !v.is_null() {
                        *v = Json::String("T".into());
                    } else {
                        walk(v);
                    }
                }
            }
            Json::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// What Order Health, the quarantine page and the channels page show of a store.
async fn pages(store: &Backend, now: DateTime<Utc>) -> Vec<Json> {
    let reader = store.reader();
    let mut out = Vec::new();
    for (status, channel, q, page) in [
        (None, None, None, 1),
        (Some("all"), None, None, 1),
        (Some("stuck"), None, None, 1),
        (Some("delivered"), Some("market"), None, 1),
        (Some("all"), None, Some("m-1"), 1),
        (Some("all"), None, Some("ord_1"), 1),
        (Some("all"), None, Some("100%_"), 1),
        (Some("all"), Some("supplier"), None, 9),
    ] {
        let filter = ListFilter {
            status: status.map(String::from),
            channel: channel.map(String::from),
            q: q.map(String::from),
            page,
            limit: 1,
        };
        let list = reader.orders(filter).await.unwrap();
        out.push(masked(serde_json::to_value(list).unwrap()));
    }
    for id in [1, 2] {
        let timeline = reader.timeline(id).await.unwrap();
        out.push(masked(serde_json::to_value(timeline).unwrap()));
    }
    let quarantined = reader.quarantined(10).await.unwrap();
    out.push(masked(serde_json::to_value(quarantined).unwrap()));
    let names = ["shop", "market", "supplier", "nobody"].map(String::from);
    let stats = reader.channel_stats(names.to_vec(), now).await.unwrap();
    out.push(Json::String(format!("{stats:?}")));
    out
}

async fn quarantine_two(store: &Backend) {
    for (reason, body) in [("not JSON", &b"{oops"[..]), ("no id", &b"{}"[..])] {
        store
            .quarantine(Quarantined {
                channel: "shop".into(),
                received_at: at(5),
                reason: reason.into(),
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.to_vec(),
            })
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_stores_show_order_health_quarantine_and_channels_alike() {
    let now = Utc::now();
    let sqlite = Backend::sqlite();
    super::operations::housekeeping(&sqlite).await;
    quarantine_two(&sqlite).await;
    let shown = pages(&sqlite, now).await;
    // The problems by default: deliveries 2 and 4 are stuck.
    assert_eq!(shown[0]["total"], 2, "{}", shown[0]);
    assert_eq!(shown[0]["counts"]["status"]["stuck"], 2, "{}", shown[0]);
    assert_eq!(shown[4]["rows"][0]["order"], "ord_1", "{}", shown[4]);
    assert_eq!(
        shown[6]["total"], 0,
        "a search for 100%_ is literal: {}",
        shown[6]
    );
    assert_eq!(shown[7]["rows"], serde_json::json!([]), "{}", shown[7]);
    assert_eq!(shown[8]["links"][0]["external_id"], "M-1", "{}", shown[8]);
    assert_eq!(shown[9], Json::Null, "no order 2");
    assert_eq!(shown[10]["rows"][0]["reason"], "no id", "{}", shown[10]);
    assert!(
        shown[11]
            .as_str()
            .unwrap()
            .contains("\"market\": ChannelStats"),
        "{}",
        shown[11]
    );
    let Some(postgres) = Backend::postgres_half(
        "both_stores_show_order_health_quarantine_and_channels_alike",
        2,
    )
    .await
    else {
        return sqlite.close().await;
    };
    super::operations::housekeeping(&postgres).await;
    quarantine_two(&postgres).await;
    let on_postgres = pages(&postgres, now).await;
    for (i, (pg, lite)) in on_postgres.iter().zip(&shown).enumerate() {
        assert_eq!(pg, lite, "page {i}");
    }
    sqlite.close().await;
}
