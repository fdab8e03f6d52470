//! `ordersync diff` (SPEC 7) on a database with traffic recorded by the real
//! daemon: candidate rules are replayed against the stored updates and what
//! would change is summarised per source and destination, with examples.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use support::{Daemon, Mock, post_update, update};

const WAIT: Duration = Duration::from_secs(10);

/// The store `shop` and two marketplaces; each marketplace gets the store's
/// updates for its own orders, as `ebay_publish` and `amazon_publish` say.
/// `ebay_attributes` are added to the attributes of eBay orders.
fn rules_text(
    mock: &Mock,
    ebay_attributes: &str,
    ebay_publish: &str,
    amazon_publish: &str,
) -> String {
    format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ format: ordersync, secret: shop-secret }}
    deliver: {{ url: "{base}/shop/orders" }}
  ebay:
    role: marketplace
    webhook: {{ format: ordersync, secret: ebay-secret }}
    deliver: {{ url: "{base}/ebay/orders", accepts: [shipped] }}
  amazon:
    role: marketplace
    webhook: {{ format: ordersync, secret: amazon-secret }}
    deliver: {{ url: "{base}/amazon/orders", accepts: [shipped] }}
rules:
  ebay:
    attributes:
      tags: eBay{ebay_attributes}
  amazon:
    attributes:
      tags: Amazon
  shop:
    overwrites:
      ebay:
        attributes:
          publish: {{ when: '{ebay_publish}', then: true, otherwise: false }}
      amazon:
        attributes:
          publish: {{ when: '{amazon_publish}', then: true, otherwise: false }}
"#,
        base = mock.base
    )
}

fn recorded_rules(mock: &Mock) -> String {
    rules_text(
        mock,
        "",
        r#"tags contains "eBay""#,
        r#"tags contains "Amazon""#,
    )
}

/// The candidate: eBay orders get a note; big orders go to eBay, and Amazon
/// gets only the small ones.
fn changed_rules(mock: &Mock) -> String {
    rules_text(
        mock,
        "\n      note: from eBay",
        r#"tags contains "eBay" or total_price >= 200"#,
        r#"tags contains "Amazon" and total_price < 200"#,
    )
}

/// A database with six updates decided by the daemon on `recorded_rules`:
/// 1-3 three new eBay orders (`ord_1`..`ord_3`), delivered to the store;
/// 4 the first again, unchanged (`skip: no change` for the store);
/// 5 the store ships `ord_1` (delivered to eBay);
/// 6 the store ships an Amazon order of 250 (`ord_4`, delivered to Amazon).
struct Recorded {
    dir: tempfile::TempDir,
    mock: Mock,
    db: PathBuf,
}

async fn record() -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, recorded_rules(&mock)).unwrap();
    let mut daemon = Daemon::start(dir.path(), &path, &["--no-watch"]);
    let client = reqwest::Client::new();
    let sends = [
        (
            "ebay",
            "e1",
            "created",
            json!({"id": "E-1", "total_price": 30, "tags": []}),
        ),
        (
            "ebay",
            "e2",
            "created",
            json!({"id": "E-2", "total_price": 40, "tags": []}),
        ),
        (
            "ebay",
            "e3",
            "created",
            json!({"id": "E-3", "total_price": 50, "tags": []}),
        ),
        (
            "ebay",
            "e4",
            "updated",
            json!({"id": "E-1", "total_price": 30, "tags": []}),
        ),
        (
            "shop",
            "s1",
            "shipped",
            json!({"id": "S-1", "total_price": 30, "tags": ["eBay", "ordersync:ord_1"],
                   "tracking_number": "1Z1"}),
        ),
        (
            "shop",
            "s2",
            "shipped",
            json!({"id": "S-2", "total_price": 250, "tags": ["Amazon"], "tracking_number": "1Z2"}),
        ),
    ];
    for (channel, id, event, order) in sends {
        let body = update(id, event, order);
        let secret = format!("{channel}-secret");
        let (status, answer) = post_update(&client, &daemon, channel, &secret, &body).await;
        assert_eq!(status, 202, "{answer}");
    }
    mock.wait_for("/shop/orders", 3, WAIT).await;
    mock.wait_for("/ebay/orders", 1, WAIT).await;
    mock.wait_for("/amazon/orders", 1, WAIT).await;
    // The database is read while the daemon is running, too.
    let rules = ordersync::rules::load(&path).unwrap();
    let live = ordersync::diff::diff(&daemon.db, &rules, long_ago()).unwrap();
    assert_eq!((live.replayed, live.unchanged), (6, 6), "{}", live.text());
    assert!(
        daemon.terminate(WAIT).is_some_and(|s| s.success()),
        "{}",
        daemon.log_text()
    );
    Recorded {
        db: daemon.db.clone(),
        dir,
        mock,
    }
}

impl Recorded {
    fn rules(&self, text: &str) -> ordersync::rules::RuleSet {
        let path = self.dir.path().join("candidate.yaml");
        std::fs::write(&path, text).unwrap();
        ordersync::rules::load(&path)
            .unwrap_or_else(|e| panic!("{}", ordersync::rules::render_all(&e)))
    }

    /// The rules the daemon decided with, loaded from the same file.
    fn recorded(&self) -> ordersync::rules::RuleSet {
        ordersync::rules::load(&self.dir.path().join("rules.yaml")).unwrap()
    }

    /// When update `id` was received.
    fn received_at(&self, id: i64) -> DateTime<Utc> {
        let text: String = sql(&self.db)
            .query_row("SELECT received_at FROM updates WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        ordersync::store::parse_stamp(&text).unwrap()
    }
}

fn sql(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).unwrap()
}

fn long_ago() -> DateTime<Utc> {
    "2000-01-01T00:00:00Z".parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_rule_is_summarised_per_source_and_destination() {
    let r = record().await;
    let old = r.recorded().version.to_string();
    let candidate = r.rules(&changed_rules(&r.mock));
    let new = candidate.version.to_string();
    let report = ordersync::diff::diff(&r.db, &candidate, long_ago()).unwrap();
    assert_eq!(
        report.text(),
        format!(
            "\
replayed 6 updates received since 2000-01-01T00:00:00Z (rules {old} -> {new})
3 updates from ebay would be delivered to shop with different fields (note), e.g. ord_1, ord_2, ord_3
1 update from shop would no longer be delivered to amazon (now: skip: publish is false), e.g. ord_4
1 update from shop would now be delivered to ebay (was: skip: publish is false), e.g. ord_4
no change for 2 updates
"
        )
    );
    let j = report.json();
    assert_eq!(j["rules"], json!({"old": [old], "new": new}));
    assert_eq!(
        (j["replayed"].clone(), j["unchanged"].clone()),
        (json!(6), json!(2))
    );
    assert_eq!(
        j["changes"][0],
        json!({
            "source": "ebay", "destination": "shop", "change": "different_fields",
            "was": "deliver", "now": "deliver", "fields": ["note"],
            "count": 3, "examples": ["ord_1", "ord_2", "ord_3"],
        })
    );
    assert_eq!(j["changes"][1]["change"], "no_longer_delivered");

    // The command line prints the same report, read-only against the file.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .arg("diff")
        .arg(r.dir.path().join("candidate.yaml"))
        .arg("--db")
        .arg(&r.db)
        .args(["--since", "36500d"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (head, rest) = stdout.split_once('\n').unwrap();
    assert!(
        head.starts_with("replayed 6 updates received since "),
        "{head}"
    );
    assert_eq!(rest, report.text().split_once('\n').unwrap().1);
    assert_eq!(j["changes"][2]["was"], "skip: publish is false");
    assert_eq!(j["not_replayed"], json!([]));

    // Only the period is counted, but each order is replayed from its first
    // update: the repeat of `ord_1` is still "no change" for the store,
    // because the replay remembers that the store got the note the first time.
    let since = r.received_at(4);
    let report = ordersync::diff::diff(&r.db, &candidate, since).unwrap();
    assert_eq!(
        report.text(),
        format!(
            "\
replayed 3 updates received since {} (rules {old} -> {new})
1 update from shop would no longer be delivered to amazon (now: skip: publish is false), e.g. ord_4
1 update from shop would now be delivered to ebay (was: skip: publish is false), e.g. ord_4
no change for 2 updates
",
            since.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_that_decided_change_nothing() {
    let r = record().await;
    let v = r.recorded().version.to_string();
    let report = ordersync::diff::diff(&r.db, &r.recorded(), long_ago()).unwrap();
    assert_eq!(
        report.text(),
        format!(
            "\
replayed 6 updates received since 2000-01-01T00:00:00Z (rules {v} -> {v})
no change for 6 updates
"
        )
    );
    assert_eq!(report.json()["changes"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_payloads_and_dropped_channels_are_reported() {
    let r = record().await;
    let v = r.recorded().version.to_string();
    sql(&r.db)
        .execute(
            "UPDATE updates SET payload = X'', pruned_at = '2026-12-01T00:00:00.000000Z' WHERE id = 2",
            [],
        )
        .unwrap();
    let report = ordersync::diff::diff(&r.db, &r.recorded(), long_ago()).unwrap();
    assert_eq!(
        report.text(),
        format!(
            "\
replayed 5 updates received since 2000-01-01T00:00:00Z (rules {v} -> {v})
1 update from ebay could not be replayed: the payload was pruned by retention, e.g. ord_2
no change for 5 updates
"
        )
    );
    assert_eq!(
        report.json()["not_replayed"],
        json!([{"source": "ebay", "reason": "pruned", "detail": null, "count": 1, "examples": ["ord_2"]}])
    );

    // Without Amazon, the store's updates are no longer decided for it.
    let without_amazon = r.rules(&format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: {{ format: ordersync, secret: shop-secret }}
    deliver: {{ url: "{base}/shop/orders" }}
  ebay:
    role: marketplace
    webhook: {{ format: ordersync, secret: ebay-secret }}
    deliver: {{ url: "{base}/ebay/orders", accepts: [shipped] }}
rules:
  ebay:
    attributes:
      tags: eBay
  shop:
    overwrites:
      ebay:
        attributes:
          publish: {{ when: 'tags contains "eBay"', then: true, otherwise: false }}
"#,
        base = r.mock.base
    ));
    let report = ordersync::diff::diff(&r.db, &without_amazon, long_ago()).unwrap();
    assert_eq!(
        report.text(),
        format!(
            "\
replayed 5 updates received since 2000-01-01T00:00:00Z (rules {v} -> {})
1 update from shop would no longer be decided for amazon (was: deliver), e.g. ord_4
1 update from shop would no longer be decided for amazon (was: skip: publish is false), e.g. ord_1
1 update from ebay could not be replayed: the payload was pruned by retention, e.g. ord_2
no change for 3 updates
",
            without_amazon.version
        )
    );
}

#[test]
fn a_missing_database_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let rules = ordersync::rules::load_str(
        "rules.yaml",
        "version: 1\nchannels:\n  shop: { role: commerce_platform, deliver: { url: \"http://127.0.0.1:9/\" } }\n",
        &ordersync::rules::LoadOptions { env: &|_| None },
    )
    .unwrap();
    let db = dir.path().join("nothing.db");
    let err = ordersync::diff::diff(&db, &rules, long_ago()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot open the database `{}`: no such file", db.display())
    );
}
