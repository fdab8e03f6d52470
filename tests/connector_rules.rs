//! The `connector` block (SPEC 12) as `ordersync check` sees it: each mistake
//! an error at its line with a hint, exact text; a good one listed with its
//! kind and API version; an old API version a warning.

use std::path::Path;
use std::process::{Command, Output};

const GOOD: &str = r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: { secret: "${SHOP_SECRET}" }
    connector:
      kind: shopify
      shop: acme.myshopify.com
      api_version: "2026-10"
      token: "${SHOPIFY_ADMIN_TOKEN}"
      base_url: "http://127.0.0.1:9101"
    poll: { schedule: "0 */10 * * * *" }
    deliver:
      accepts: [created, updated, cancelled, shipped]
  ebay:
    role: marketplace
    webhook: { format: ordersync, secret: ebay }
    deliver: { url: "http://127.0.0.1:9102/updates", accepts: [shipped] }
"#;

fn check(text: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ordersync"));
    cmd.arg("check").arg(&path).current_dir(dir.path());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    drop(dir);
    out
}

const ENV: [(&str, &str); 2] = [("SHOP_SECRET", "s"), ("SHOPIFY_ADMIN_TOKEN", "shpat_test")];

/// The errors `check` prints for GOOD with `from` replaced by `to`, with the
/// temp path taken out.
fn errors(from: &str, to: &str, env: &[(&str, &str)]) -> String {
    assert_eq!(GOOD.matches(from).count(), 1, "`{from}` once in GOOD");
    let out = check(&GOOD.replacen(from, to, 1), env);
    assert_eq!(
        out.status.code(),
        Some(1),
        "accepted: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let re = regex::Regex::new(r"--> \S*rules\.yaml").unwrap();
    re.replace_all(&text, "--> rules.yaml").into_owned()
}

#[test]
fn a_good_connector_is_listed_with_its_version() {
    let out = check(GOOD, &ENV);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with(
            "  connectors:\n    shop  shopify (Admin API 2026-10, acme.myshopify.com)\n"
        ),
        "{text}"
    );
}

#[test]
fn an_unknown_kind_gets_a_did_you_mean() {
    assert_eq!(
        errors("kind: shopify", "kind: shopfy", &ENV),
        "error: unknown connector kind `shopfy`
 --> rules.yaml:7:13
  |
7 |       kind: shopfy
  |             ^^^^^^ did you mean `shopify`?

error: rules rejected: 1 error
"
    );
}

#[test]
fn a_missing_token_variable_is_named() {
    assert_eq!(
        errors("kind: shopify", "kind: shopify", &ENV[..1])
            .lines()
            .next(),
        Some("error: environment variable `SHOPIFY_ADMIN_TOKEN` is not set")
    );
    let text = errors("kind: shopify", "kind: shopify", &ENV[..1]);
    assert!(text.contains(" --> rules.yaml:10:15\n"), "{text}");
}

#[test]
fn an_event_the_connector_cannot_carry_is_refused_at_its_line() {
    assert_eq!(
        errors(
            "accepts: [created, updated, cancelled, shipped]",
            "accepts: [created, returned]",
            &ENV
        ),
        "error: the shopify connector cannot carry `returned`
  --> rules.yaml:14:26
   |
14 |       accepts: [created, returned]
   |                          ^^^^^^^^ it carries `created`, `updated`, `cancelled`, `shipped`

error: rules rejected: 1 error
"
    );
}

#[test]
fn the_api_version_must_be_a_quarter() {
    assert_eq!(
        errors("api_version: \"2026-10\"", "api_version: \"2026-11\"", &ENV),
        "error: `api_version` must be `YYYY-MM`, not `2026-11`
 --> rules.yaml:9:20
  |
9 |       api_version: \"2026-11\"
  |                    ^^^^^^^^^ quote it: `api_version: \"2025-10\"` (Shopify releases one each quarter: 01, 04, 07, 10)

error: rules rejected: 1 error
"
    );
    // Unquoted, YAML reads 2026-10 as text too, but a bare number is refused.
    let text = errors("api_version: \"2026-10\"", "api_version: 202610", &ENV);
    assert!(
        text.starts_with("error: `api_version` must be `YYYY-MM`, not `202610`\n"),
        "{text}"
    );
}

#[test]
fn a_url_left_in_deliver_or_poll_is_refused_with_a_hint() {
    assert_eq!(
        errors(
            "    deliver:\n      accepts: [created, updated, cancelled, shipped]",
            "    deliver:\n      url: \"http://127.0.0.1:9101/orders\"\n      accepts: [created, updated, cancelled, shipped]",
            &ENV
        ),
        "error: a channel with a connector delivers through it: `deliver` takes no `url`
  --> rules.yaml:14:7
   |
14 |       url: \"http://127.0.0.1:9101/orders\"
   |       ^^^ remove `url`: the shopify connector sends to the platform's own API

error: rules rejected: 1 error
"
    );
    let text = errors(
        "poll: { schedule: \"0 */10 * * * *\" }",
        "poll: { schedule: \"0 */10 * * * *\", url: \"http://x.example/o\" }",
        &ENV,
    );
    assert!(
        text.starts_with(
            "error: a channel with a connector polls through it: `poll` takes no `url`\n"
        ),
        "{text}"
    );
}

#[test]
fn unknown_keys_and_missing_fields_are_each_reported() {
    let text = errors(
        "      shop: acme.myshopify.com\n",
        "      shp: acme.myshopify.com\n",
        &ENV,
    );
    assert_eq!(
        text,
        "error: a `shopify` connector needs `shop`
 --> rules.yaml:7:7
  |
7 |       kind: shopify
  |       ^ e.g. `shop: acme.myshopify.com`

error: unknown key `shp` in a `shopify` connector
 --> rules.yaml:8:7
  |
8 |       shp: acme.myshopify.com
  |       ^^^ did you mean `shop`?

error: rules rejected: 2 errors
"
    );
}

#[test]
fn an_old_api_version_loads_with_a_warning() {
    let out = check(&GOOD.replace("\"2026-10\"", "\"2024-01\""), &ENV);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("warning: Shopify API version `2024-01` is "),
        "{text}"
    );
    assert!(text.contains("quarters old and out of support\n"), "{text}");
}

#[test]
fn the_example_uses_the_connector() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules.example.yaml");
    let rules = ordersync::rules::load(&example).unwrap();
    let shop = rules.channel("shopify").unwrap();
    let c = shop.connector.as_ref().expect("the store speaks Shopify");
    assert_eq!(c.kind_name(), "shopify");
    assert_eq!(c.api_version(), Some("2025-10"));
    assert_eq!(shop.deliver.as_ref().unwrap().url, "");
}

#[test]
fn explain_shows_the_graphql_call_with_the_token_masked() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, GOOD).unwrap();
    let order = dir.path().join("order.json");
    std::fs::write(
        &order,
        r#"{"id": "27-1138", "currency": "EUR", "financial_status": "paid",
            "line_items": [{"sku": "MUG-1", "title": "Mug", "quantity": 2, "price": 9.5}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args(["explain"])
        .arg(&rules)
        .args(["--from", "ebay"])
        .arg(&order)
        .env("SHOP_SECRET", "s")
        .env("SHOPIFY_ADMIN_TOKEN", "shpat_must_not_show")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("shpat_must_not_show"), "{text}");
    let want = "  would send (shopify (Admin API 2026-10, acme.myshopify.com)):
    1. orderCreate POST http://127.0.0.1:9101/admin/api/2026-10/graphql.json
       Content-Type: application/json
       X-Shopify-Access-Token: [masked]
       variables:
";
    assert!(text.contains(want), "{text}");
    assert!(text.contains("\"amount\": \"9.50\","), "{text}");
    assert!(text.contains("\"currencyCode\": \"EUR\""), "{text}");
}
