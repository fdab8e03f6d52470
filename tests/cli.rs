//! The offline command line as a user runs it: `ordersync check`, `test` and
//! `explain`, the real binary, exact output and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ordersync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(args)
        .env_remove("SHOPIFY_WEBHOOK_SECRET")
        .output()
        .expect("the binary runs")
}

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn version() -> String {
    ordersync::rules::load(&example())
        .unwrap()
        .version
        .to_string()
}

/// The example copied into a temp dir, with edits.
fn copy_with(edits: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let mut text = std::fs::read_to_string(example()).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "`{from}` not in the example");
        text = text.replacen(from, to, 1);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn check_accepts_the_example() {
    let path = example();
    let out = ordersync(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "{}: ok (rules version {})
  5 channels, 5 with rules, 14 tests
  routes:
    shopify  -> ebay, amazon, etsy, supplier
    ebay     -> shopify
    amazon   -> shopify
    etsy     -> shopify
    supplier -> shopify
  connectors:
    shopify   shopify (Admin API 2025-10, acme-dev.myshopify.com)
    etsy      etsy (Open API v3, shop 12345678)
",
            path.display(),
            version()
        )
    );
}

#[test]
fn check_lists_every_error_in_a_broken_copy() {
    let (_dir, path) = copy_with(&[
        ("role: marketplace", "role: marketplce"),
        (
            "accepts: [created, cancelled]",
            "accepts: [created, canceled]",
        ),
        (
            "when: tags contains \"eBay\"",
            "when: tags contians \"eBay\"",
        ),
        (
            "convert(total_price, currency, \"USD\")",
            "convert(total_prize, currency, \"USD\")",
        ),
    ]);
    let p = path.display();
    let out = ordersync(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "error: unknown role `marketplce`
  --> {p}:41:11
   |
41 |     role: marketplce
   |           ^^^^^^^^^^ did you mean `marketplace`?

error: unknown event `canceled`
  --> {p}:74:26
   |
74 |       accepts: [created, canceled]          # once forwarded, the supplier takes no edits
   |                          ^^^^^^^^ did you mean `cancelled`?

error: syntax error: expected an operator or the end of the expression, found `contians`
   --> {p}:106:24
    |
106 |             when: tags contians \"eBay\"
    |                        ^^^^^^^^

error: unknown field `total_prize`
   --> {p}:119:42
    |
119 |           total_price: {{ value: 'convert(total_prize, currency, \"USD\")' }}
    |                                          ^^^^^^^^^^^ did you mean `total_price`?

error: rules rejected: 4 errors
"
        )
    );
}

#[test]
fn check_json_reports_errors_as_data() {
    let (_dir, path) = copy_with(&[("role: marketplace", "role: marketplce")]);
    let out = ordersync(&["check", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["message"], "unknown role `marketplce`");
    assert_eq!(v["errors"][0]["line"], 41);
    assert_eq!(v["errors"][0]["column"], 11);
    assert_eq!(v["errors"][0]["hint"], "did you mean `marketplace`?");

    let out = ordersync(&["check", "--json", example().to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["version"], version().as_str());
    assert_eq!(
        v["channels"][0]["routes"],
        serde_json::json!(["ebay", "amazon", "etsy", "supplier"])
    );
}

#[test]
fn check_explains_a_missing_file() {
    let out = ordersync(&["check", "/nonexistent/rules.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: cannot read rules: No such file or directory (os error 2)\n --> /nonexistent/rules.yaml:0:0\n\nerror: rules rejected: 1 error\n"
    );
}

#[test]
fn test_passes_on_the_example() {
    let out = ordersync(&["test", example().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("ok    an eBay order is created in the store, tagged eBay\n"),
        "{text}"
    );
    assert!(text.ends_with("\n14 passed, 0 failed\n"), "{text}");
    assert!(!text.contains("FAIL"));
}

#[test]
fn a_wrong_expectation_fails_with_a_readable_diff() {
    let (_dir, path) = copy_with(&[(
        "      amazon: { skip: \"publish is false\" }",
        "      amazon: deliver",
    )]);
    let out = ordersync(&["test", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let want = format!(
        "FAIL  a store shipment goes back only to the marketplace the order came from  ({}:153)
  amazon:
    - expected: deliver
    + actual:   skip: publish is false
    trace:
      note  ({0}:101)
        \"synced by ordersync from \" + source -> \"synced by ordersync from shopify\"
      publish  ({0}:111)
        tags contains \"Amazon\" -> false
        where tags = [\"eBay\"]
",
        path.display()
    );
    assert!(text.contains(&want), "{text}");
    assert!(text.ends_with("\n13 passed, 1 failed\n"), "{text}");
}

#[test]
fn a_wrong_attribute_shows_expected_and_actual_values() {
    let (_dir, path) = copy_with(&[(
        "supplier: { total_price: 108, currency: USD, shipping_method: express }",
        "supplier: { total_price: 100, currency: USD, shipping_method: express }",
    )]);
    let out = ordersync(&["test", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["failed"], 1);
    let failed: Vec<&serde_json::Value> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["passed"] == false)
        .collect();
    assert_eq!(
        failed[0]["mismatches"][0]["expected"],
        "deliver with total_price = 100"
    );
    assert_eq!(
        failed[0]["mismatches"][0]["actual"],
        "deliver with total_price = 108"
    );
}

#[test]
fn explain_shows_each_destination_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let order = dir.path().join("order.json");
    std::fs::write(&order, r#"{"id":"5001","tags":["eBay"],"shipments":[{"carrier":"UPS","tracking_number":"1Z999"}]}"#).unwrap();
    let path = example();
    let out = ordersync(&[
        "explain",
        path.to_str().unwrap(),
        "--from",
        "shopify",
        "--event",
        "shipped",
        order.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let p = path.display();
    assert_eq!(
        stdout(&out),
        format!(
            "shopify shipped order 5001 (rules version {})

ebay: deliver
  why: published to ebay: `tags contains \"eBay\"` was true; tags was [\"eBay\"]
  changes:
    note: null -> \"synced by ordersync from shopify\"
  trace:
    note  ({p}:101)
      \"synced by ordersync from \" + source -> \"synced by ordersync from shopify\"
    publish  ({p}:105)
      tags contains \"eBay\" -> true
      where tags = [\"eBay\"]

amazon: skip: publish is false
  why: not published to amazon: `tags contains \"Amazon\"` was false; tags was [\"eBay\"]
  trace:
    note  ({p}:101)
      \"synced by ordersync from \" + source -> \"synced by ordersync from shopify\"
    publish  ({p}:111)
      tags contains \"Amazon\" -> false
      where tags = [\"eBay\"]

etsy: skip: publish is false
  why: not published to etsy: `tags contains \"Etsy\"` was false; tags was [\"eBay\"]
  trace:
    note  ({p}:101)
      \"synced by ordersync from \" + source -> \"synced by ordersync from shopify\"
    publish  ({p}:114)
      tags contains \"Etsy\" -> false
      where tags = [\"eBay\"]

supplier: skip: event shipped is not accepted
  why: supplier accepts only created, cancelled, not shipped
",
            version()
        )
    );
}

#[test]
fn explain_reads_a_canonical_update_and_answers_json() {
    let dir = tempfile::tempdir().unwrap();
    let update = dir.path().join("update.json");
    std::fs::write(&update, r#"{"id":"evt-1","event":"created","order":{"id":"27-1138","financial_status":"paid","tags":[]}}"#).unwrap();
    let out = ordersync(&[
        "explain",
        example().to_str().unwrap(),
        "--from",
        "ebay",
        "--json",
        update.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["event"], "created");
    assert_eq!(v["rules_version"], version().as_str());
    assert_eq!(v["decisions"][0]["destination"], "shopify");
    assert_eq!(v["decisions"][0]["outcome"], "deliver");
    assert_eq!(
        v["decisions"][0]["order"]["tags"],
        serde_json::json!(["eBay"])
    );
    assert_eq!(v["decisions"][0]["changes"][0]["field"], "tags");
}

#[test]
fn explain_refuses_an_unknown_channel_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let order = dir.path().join("order.json");
    std::fs::write(&order, r#"{"id":"1"}"#).unwrap();
    let out = ordersync(&[
        "explain",
        example().to_str().unwrap(),
        "--from",
        "shopfy",
        order.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: unknown channel `shopfy`; did you mean `shopify`?\n"
    );
}

#[test]
fn explain_refuses_bad_json_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let order = dir.path().join("order.json");
    std::fs::write(&order, r#"{"id": "1", "#).unwrap();
    let out = ordersync(&[
        "explain",
        example().to_str().unwrap(),
        "--from",
        "ebay",
        order.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: `{}` is not valid JSON: EOF while parsing an object at line 1 column 12\n",
            order.display()
        )
    );
}

/// `serve` on a PostgreSQL server that cannot be reached exits 1 saying
/// which (its password left out) and why; so does `diff` (exit 2), here
/// given the URL by `ORDERSYNC_DB`.
#[test]
fn serve_and_diff_name_an_unreachable_postgres() {
    let example = example();
    let example = example.to_str().unwrap();
    let serve = ordersync(&[
        "serve",
        "--rules",
        example,
        "--db",
        "postgres://os:s3cret@127.0.0.1:1/os",
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(serve.status.code(), Some(1));
    let log = stderr(&serve);
    assert!(
        log.contains(
            "cannot open the store postgres://os:***@127.0.0.1:1/os: store: postgres: \
             error connecting to server: Connection refused"
        ),
        "{log}"
    );
    assert!(!log.contains("s3cret"), "{log}");
    let by_env = Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["diff", example])
        .env("ORDERSYNC_DB", "postgresql://os:s3cret@127.0.0.1:1/os")
        .output()
        .unwrap();
    assert_eq!(by_env.status.code(), Some(2));
    assert_eq!(
        stderr(&by_env),
        "error: cannot read the database postgresql://os:***@127.0.0.1:1/os: store: postgres: \
         error connecting to server: Connection refused (os error 111)\n"
    );
}

/// A pool of no connections, or a lease shorter than its renewals can keep
/// up with, is refused before anything starts.
#[test]
fn serve_refuses_an_empty_pool_and_a_lease_under_a_second() {
    let example = example();
    let example = example.to_str().unwrap();
    let serve = |flag: &str, value: &str| {
        ordersync(&[
            "serve",
            "--rules",
            example,
            "--db",
            "postgres://os@127.0.0.1:1/os",
            "--listen",
            "127.0.0.1:0",
            flag,
            value,
        ])
    };
    let pool = serve("--pool-size", "0");
    assert_eq!(pool.status.code(), Some(2));
    assert_eq!(
        stderr(&pool),
        "error: --pool-size: give at least 1 connection\n"
    );
    let lease = serve("--lease", "500ms");
    assert_eq!(lease.status.code(), Some(2));
    assert_eq!(
        stderr(&lease),
        "error: --lease: give at least 1s (leases are renewed three times a lease)\n"
    );
}
