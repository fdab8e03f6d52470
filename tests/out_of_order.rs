//! Updates of one order arriving in any order end with the newest state, and
//! exactly the ones that came after a newer one are `stale` (SPEC 10.4): a
//! property test over permutations, through the store's real writer and a
//! SQLite file.

use std::sync::Arc;

use chrono::Utc;
use ordersync::ingress::Incoming;
use ordersync::order::Event;
use ordersync::store::{self, IngestRequest, Ingested, Via, Writer};
use ordersync::value::Value;
use proptest::prelude::*;

const RULES: &str = r#"version: 1
channels:
  shop: { role: commerce_platform, deliver: { url: "http://127.0.0.1:9/shop" } }
  market: { role: marketplace, webhook: { format: ordersync, secret: s } }
"#;

fn run(order: &[usize]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let rules = Arc::new(
        ordersync::rules::load_str(
            "rules.yaml",
            RULES,
            &ordersync::rules::LoadOptions { env: &|_| None },
        )
        .unwrap(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let conn = store::open(&dir.path().join("o.db")).unwrap();
        let (jobs, _rx) = tokio::sync::mpsc::unbounded_channel();
        let (writer, thread) = Writer::start(conn, jobs, std::sync::Arc::new(ordersync::pipeline::Pipeline)).unwrap();
        let mut newest_seen = None;
        for &v in order {
            let text = format!(
                r#"{{"id": "M-1", "updated_at": "2026-11-20T10:0{v}:00Z", "note": "v{v}", "tags": []}}"#
            );
            let got = writer
                .ingest(IngestRequest {
                    channel: Arc::from("market"),
                    via: Via::Webhook,
                    topic: None,
                    incoming: Incoming {
                        id: format!("evt-{v}"),
                        event: Event::Updated,
                        occurred_at: None,
                        order: Value::from_json(&text).unwrap(),
                    },
                    payload: text.into_bytes(),
                    received_at: Utc::now(),
                    rules: rules.clone(),
                })
                .await
                .unwrap();
            let Ingested::Stored { status, .. } = got else {
                return Err(TestCaseError::fail("a new id was taken for a duplicate"));
            };
            // Stale exactly when a newer one came before it.
            let expect = if newest_seen.is_some_and(|n| n > v) { "stale" } else { "decided" };
            prop_assert_eq!(status.as_str(), expect, "v{} after {:?}", v, newest_seen);
            newest_seen = Some(newest_seen.map_or(v, |n: usize| n.max(v)));
        }
        drop(writer);
        tokio::task::spawn_blocking(move || thread.join()).await.unwrap();
        Ok(())
    })?;
    let conn = rusqlite::Connection::open(dir.path().join("o.db")).unwrap();
    let newest = order.iter().max().unwrap();
    let known: String = conn
        .query_row("SELECT body FROM known WHERE channel = 'market'", [], |r| {
            r.get(0)
        })
        .unwrap();
    prop_assert!(
        known.contains(&format!("\"note\":\"v{newest}\"")),
        "{}",
        known
    );
    let last_sent: String = conn
        .query_row(
            "SELECT c.body FROM deliveries d JOIN decisions c ON c.id = d.decision_id ORDER BY d.id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    prop_assert!(
        last_sent.contains(&format!("\"note\":\"v{newest}\"")),
        "{}",
        last_sent
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn any_arrival_order_ends_with_the_newest_state(order in Just((1..=5).collect::<Vec<usize>>()).prop_shuffle()) {
        run(&order)?;
    }
}
