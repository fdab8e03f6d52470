//! A stored update is read again (re-sync, `ordersync diff`) in the format its
//! channel speaks *now*: one rule for both, so a channel that moved from
//! webhooks to polling is read the same way by both (issue 14's drift bug:
//! re-sync used to pick the format only by how the update arrived, and failed,
//! while diff fell back to the poll's format and succeeded).

mod support;

use std::path::Path;
use std::time::Duration;

use support::{Daemon, Mock, Reply, sign_shopify};

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "reread-token";
const ORDER: &str = include_str!("fixtures/shopify_order.json");

/// `shop` speaks Shopify's format by webhook (`by_webhook`) or by polling
/// (once a year: the test never sees it run); `supplier` takes created orders.
fn rules(dir: &Path, mock: &Mock, by_webhook: bool) -> std::path::PathBuf {
    let intake = if by_webhook {
        "webhook: { format: shopify, secret: shop-secret }".to_string()
    } else {
        format!(
            "poll: {{ schedule: \"0 0 0 1 1 *\", url: \"{}/feed\", format: shopify }}",
            mock.base
        )
    };
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    {intake}
  supplier:
    role: fulfillment
    deliver: {{ url: "{base}/supplier/orders", accepts: [created] }}
"#,
        base = mock.base
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, rules: &Path) -> Daemon {
    Daemon::start_with(
        dir,
        rules,
        "127.0.0.1:0",
        &["--no-watch"],
        &[("ORDERSYNC_ADMIN_TOKEN", TOKEN)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_moved_from_webhooks_to_polling_resyncs_and_diffs_alike() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(200, "{}"));
    let client = reqwest::Client::new();

    let mut daemon = start(dir.path(), &rules(dir.path(), &mock, true));
    let resp = client
        .post(daemon.url("/webhooks/shop"))
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Event-Id", "evt-1")
        .header("X-Shopify-Hmac-Sha256", sign_shopify("shop-secret", ORDER))
        .body(ORDER)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        202,
        "{}",
        resp.text().await.unwrap()
    );
    mock.wait_for("/supplier/orders", 1, WAIT).await;
    assert!(daemon.terminate(WAIT).is_some_and(|s| s.success()));

    // The shop now sends by polling, in the same format.
    let polled = rules(dir.path(), &mock, false);
    let mut daemon = start(dir.path(), &polled);
    let resp = client
        .post(daemon.url("/api/orders/ord_1/resync"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: serde_json::Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["decisions"],
        serde_json::json!([{"destination": "supplier", "outcome": "deliver"}])
    );
    let sent = mock.wait_for("/supplier/orders", 2, WAIT).await;
    assert_eq!(sent[1].body["order"]["name"], "#1042", "{}", sent[1].body);

    let candidate = ordersync::rules::load(&polled).unwrap();
    let long_ago = "2000-01-01T00:00:00Z".parse().unwrap();
    let report = ordersync::diff::diff_store(&daemon.store(), &candidate, long_ago).unwrap();
    assert_eq!(
        (report.replayed, report.not_replayed.len()),
        (1, 0),
        "{}",
        report.text()
    );
    assert!(daemon.terminate(WAIT).is_some_and(|s| s.success()));
}
