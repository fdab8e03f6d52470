//! The store's migrations: a database made by the first release (schema
//! version 1) is brought up to date by `ordersync serve` and keeps its data;
//! a database migrated by a newer ordersync is refused, with why.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::json;
use support::{Daemon, Mock, Reply, post_update, update};

const WAIT: Duration = Duration::from_secs(10);

fn rules(dir: &std::path::Path, mock: &Mock) -> std::path::PathBuf {
    let text = format!(
        r#"version: 1
channels:
  ebay:
    role: marketplace
    webhook: {{ format: ordersync, secret: ebay-secret }}
  shop:
    role: commerce_platform
    deliver: {{ url: "{}/shop/orders" }}
"#,
        mock.base
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_database_is_upgraded_and_keeps_its_orders() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ordersync.db");
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(ordersync::store::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO orders (id, created_at) VALUES (7, '2026-01-01T00:00:00.000000Z')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO links (channel, external_id, order_id) VALUES ('ebay', 'E-7', 7)",
            [],
        )
        .unwrap();
    }
    let mock = Mock::start().await;
    mock.respond(|_, _| Reply::new(200, "{}"));
    let mut daemon = Daemon::start(dir.path(), &rules(dir.path(), &mock), &["--no-watch"]);
    let client = reqwest::Client::new();
    let body = update("u1", "created", json!({"id": "E-7", "tags": []}));
    let (status, answer) = post_update(&client, &daemon, "ebay", "ebay-secret", &body).await;
    assert_eq!(status, 202, "{answer}");
    let sent = mock.wait_for("/shop/orders", 1, WAIT).await;
    // The update joined the order the version-1 database already had.
    assert_eq!(daemon.count("SELECT order_id FROM updates WHERE id = 1"), 7);
    assert_eq!(sent[0].body["order"]["id"], "E-7");
    let version: i64 = daemon
        .sql()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, ordersync::store::MIGRATIONS.len() as i64);
    assert!(daemon.terminate(WAIT).is_some_and(|s| s.success()));
}

#[tokio::test]
async fn a_database_from_a_newer_ordersync_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ordersync.db");
    let newer = ordersync::store::MIGRATIONS.len() as i64 + 1;
    {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.pragma_update(None, "user_version", newer).unwrap();
    }
    let mock = Mock::start().await;
    let out = Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .arg("serve")
        .arg("--rules")
        .arg(rules(dir.path(), &mock))
        .arg("--db")
        .arg(&db)
        .args(["--listen", "127.0.0.1:0", "--no-watch"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let known = ordersync::store::MIGRATIONS.len();
    assert!(
        stderr.contains(&format!(
            "store: the database has schema version {newer}, newer than this ordersync knows ({known}); run the ordersync that last opened it, or a newer one"
        )),
        "{stderr}"
    );
}
