//! Every kind of rules-file mistake SPEC 3.4 lists, with the exact text
//! `ordersync check` shows for it: place, source line, caret and hint.

use ordersync::rules::{LoadOptions, RuleSet, load_str, load_with, render_all};

const BASE: &str = r#"version: 1
channels:
  shop:
    role: commerce_platform
    webhook: { format: shopify, secret: "${SHOP_SECRET}" }
    deliver: { url: "http://127.0.0.1:9101/orders", accepts: [created, updated] }
  ebay:
    role: marketplace
    poll: { schedule: "0 */10 * * * *", url: "http://127.0.0.1:9102/orders", format: ordersync }
    deliver: { url: "http://127.0.0.1:9102/updates", accepts: [shipped] }
rules:
  ebay:
    import: financial_status == "paid"
    attributes:
      tags: { constant: eBay }
  shop:
    overwrites:
      ebay:
        attributes:
          publish: { when: tags contains "eBay", then: true, otherwise: false }
"#;

fn env(name: &str) -> Option<String> {
    (name == "SHOP_SECRET").then(|| "s3cret".to_string())
}

fn load(text: &str) -> Result<RuleSet, String> {
    load_str("rules.yaml", text, &LoadOptions { env: &env }).map_err(|e| render_all(&e))
}

/// The base file with `from` replaced by `to` (exactly once).
fn variant(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

/// `line:column message` of each error.
fn places(errors: &[ordersync::rules::RuleError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| format!("{}:{} {}", e.line, e.column, e.message))
        .collect()
}

fn check(from: &str, to: &str, want: &str) {
    let got = load(&variant(from, to))
        .err()
        .unwrap_or_else(|| "accepted".to_string());
    assert_eq!(got, want, "\n--- got ---\n{got}\n--- want ---\n{want}");
}

#[test]
fn the_base_file_is_valid() {
    let rules = load(BASE).unwrap();
    assert_eq!(rules.channels.len(), 2);
    assert_eq!(rules.version.len(), 12);
}

#[test]
fn yaml_syntax() {
    check(
        "accepts: [created, updated] }",
        "accepts: [created, updated }",
        "error: invalid YAML: mismatched bracket '[' closed by '}'
 --> rules.yaml:6:62
  |
6 |     deliver: { url: \"http://127.0.0.1:9101/orders\", accepts: [created, updated }
  |                                                              ^

error: rules rejected: 1 error
",
    );
}

#[test]
fn unknown_key() {
    check(
        "    poll: {",
        "    pol: {",
        "error: unknown key `pol` in channel `ebay`
 --> rules.yaml:9:5
  |
9 |     pol: { schedule: \"0 */10 * * * *\", url: \"http://127.0.0.1:9102/orders\", format: ordersync }
  |     ^^^ did you mean `poll`?

error: rules rejected: 1 error
",
    );
}

#[test]
fn duplicate_key() {
    check(
        "      tags: { constant: eBay }\n",
        "      tags: { constant: eBay }\n      note: a\n      tags: b\n",
        "error: duplicate key `tags`
  --> rules.yaml:17:7
   |
17 |       tags: b
   |       ^^^^ first defined at line 15

error: rules rejected: 1 error
",
    );
}

#[test]
fn unknown_channel() {
    check(
        "rules:\n  ebay:",
        "rules:\n  ebya:",
        "error: unknown channel `ebya`
  --> rules.yaml:12:3
   |
12 |   ebya:
   |   ^^^^ did you mean `ebay`?

error: rules rejected: 1 error
",
    );
}

#[test]
fn unknown_field_with_hint() {
    check(
        "financial_status == \"paid\"",
        "financial_statsu == \"paid\"",
        "error: unknown field `financial_statsu`
  --> rules.yaml:13:13
   |
13 |     import: financial_statsu == \"paid\"
   |             ^^^^^^^^^^^^^^^^ did you mean `financial_status`?

error: rules rejected: 1 error
",
    );
}

#[test]
fn operator_type_mismatch() {
    check(
        "import: financial_status == \"paid\"",
        "import: total_price contains \"paid\"",
        "error: `contains` needs text or a list on the left; `total_price` is a number
  --> rules.yaml:13:13
   |
13 |     import: total_price contains \"paid\"
   |             ^^^^^^^^^^^

error: rules rejected: 1 error
",
    );
}

#[test]
fn attribute_type_mismatch() {
    check(
        "      tags: { constant: eBay }",
        "      total_price: { constant: lots }",
        "error: `total_price` is a number, but `lots` is text
  --> rules.yaml:15:32
   |
15 |       total_price: { constant: lots }
   |                                ^^^^

error: rules rejected: 1 error
",
    );
}

#[test]
fn invalid_regex() {
    check(
        "import: financial_status == \"paid\"",
        "import: name matches \"^#[0-9+$\"",
        "error: invalid regex: unclosed character class
  --> rules.yaml:13:26
   |
13 |     import: name matches \"^#[0-9+$\"
   |                          ^^^^^^^^^^

error: rules rejected: 1 error
",
    );
}

#[test]
fn invalid_cron() {
    check(
        "\"0 */10 * * * *\"",
        "\"0 */10 * * *\"",
        "error: invalid cron schedule `0 */10 * * *`: pattern must have 6 or 7 fields when seconds are required and years are optional
 --> rules.yaml:9:23
  |
9 |     poll: { schedule: \"0 */10 * * *\", url: \"http://127.0.0.1:9102/orders\", format: ordersync }
  |                       ^^^^^^^^^^^^^^ six fields, seconds first: `0 */10 * * * *` is every 10 minutes

error: rules rejected: 1 error
",
    );
}

#[test]
fn missing_env_var() {
    let got = load_str("rules.yaml", BASE, &LoadOptions { env: &|_| None })
        .map(|_| ())
        .map_err(|e| render_all(&e));
    assert_eq!(
        got,
        Err("error: environment variable `SHOP_SECRET` is not set
 --> rules.yaml:5:42
  |
5 |     webhook: { format: shopify, secret: \"${SHOP_SECRET}\" }
  |                                          ^^^^^^^^^^^^^^ set it in the service's environment, or use `${file:PATH}` for a credential

error: rules rejected: 1 error
"
        .to_string())
    );
}

#[test]
fn env_default_and_credential_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("creds")).unwrap();
    std::fs::write(dir.path().join("creds/shop"), "from-a-file\n").unwrap();
    let text = variant("\"${SHOP_SECRET}\"", "\"${file:creds/shop}\"");
    std::fs::write(dir.path().join("rules.yaml"), &text).unwrap();
    let rules = load_with(
        &dir.path().join("rules.yaml"),
        &LoadOptions { env: &|_| None },
    )
    .unwrap();
    let secret = &rules
        .channel("shop")
        .unwrap()
        .webhook
        .as_ref()
        .unwrap()
        .secret;
    assert_eq!(secret.0, "from-a-file");

    let text = variant("\"${SHOP_SECRET}\"", "\"${SHOP_SECRET:-dev-only}\"");
    let rules = load_str("rules.yaml", &text, &LoadOptions { env: &|_| None }).unwrap();
    assert_eq!(
        rules
            .channel("shop")
            .unwrap()
            .webhook
            .as_ref()
            .unwrap()
            .secret
            .0,
        "dev-only"
    );

    std::fs::remove_file(dir.path().join("creds/shop")).unwrap();
    let text = variant("\"${SHOP_SECRET}\"", "\"${file:creds/shop}\"");
    std::fs::write(dir.path().join("rules.yaml"), &text).unwrap();
    let err = load_with(
        &dir.path().join("rules.yaml"),
        &LoadOptions { env: &|_| None },
    )
    .unwrap_err();
    assert_eq!(err[0].message, "cannot read `creds/shop`: no such file");
    assert_eq!((err[0].line, err[0].column, err[0].width), (5, 42, 18));
}

#[test]
fn cases_without_otherwise() {
    check(
        "      tags: { constant: eBay }",
        "      shipping_method:\n        cases:\n          - { when: total_price > 100, then: express }",
        "error: `cases` of `shipping_method` has no `otherwise`
  --> rules.yaml:15:7
   |
15 |       shipping_method:
   |       ^^^^^^^^^^^^^^^ add `otherwise: V` for orders no case matches

error: rules rejected: 1 error
",
    );
}

#[test]
fn expression_syntax_error_points_inside_the_value() {
    check(
        "financial_status == \"paid\"",
        "financial_status == \"paid\" and and total_price > 5",
        "error: syntax error: expected a value, found `and`
  --> rules.yaml:13:44
   |
13 |     import: financial_status == \"paid\" and and total_price > 5
   |                                            ^^^

error: rules rejected: 1 error
",
    );
    // Inside single quotes in a flow mapping, with a quote escaped YAML's way.
    check(
        "when: tags contains \"eBay\",",
        "when: 'tags contains ''eBay'' or total_price >> 3',",
        "error: syntax error: expected a value, found `>`
  --> rules.yaml:20:68
   |
20 |           publish: { when: 'tags contains ''eBay'' or total_price >> 3', then: true, otherwise: false }
   |                                                                    ^

error: rules rejected: 1 error
",
    );
}

#[test]
fn overwrite_for_a_destination_outside_the_route() {
    check(
        "    overwrites:\n      ebay:",
        "    overwrites:\n      shop:",
        "error: overwrite for `shop`, which `shop` never routes to
  --> rules.yaml:18:7
   |
18 |       shop:
   |       ^^^^ `shop` routes to `ebay`

error: rules rejected: 1 error
",
    );
}

#[test]
fn unknown_event_and_role() {
    let text = variant("accepts: [shipped]", "accepts: [shiped]")
        .replace("role: marketplace", "role: market");
    assert_eq!(
        load(&text).unwrap_err(),
        "error: unknown role `market`
 --> rules.yaml:8:11
  |
8 |     role: market
  |           ^^^^^^ roles are `commerce_platform`, `marketplace`, `fulfillment`

error: unknown event `shiped`
  --> rules.yaml:10:64
   |
10 |     deliver: { url: \"http://127.0.0.1:9102/updates\", accepts: [shiped] }
   |                                                                ^^^^^^ did you mean `shipped`?

error: rules rejected: 2 errors
"
    );
}

#[test]
fn channel_that_neither_sends_nor_receives() {
    let text = variant(
        "    poll: { schedule: \"0 */10 * * * *\", url: \"http://127.0.0.1:9102/orders\", format: ordersync }\n    deliver: { url: \"http://127.0.0.1:9102/updates\", accepts: [shipped] }\n",
        "",
    );
    assert_eq!(
        load(&text).unwrap_err(),
        "error: channel `ebay` has neither `webhook` nor `poll` nor `deliver`
 --> rules.yaml:7:3
  |
7 |   ebay:
  |   ^^^^ a channel must send updates, receive them, or both

error: overwrite for `ebay`, which `shop` never routes to
  --> rules.yaml:16:7
   |
16 |       ebay:
   |       ^^^^ `shop` routes to no channel

error: rules rejected: 2 errors
"
    );
}

#[test]
fn tests_name_real_channels_and_outcomes() {
    let text = format!(
        "{BASE}tests:\n  - name: t\n    from: ebey\n    order: {{ id: \"1\" }}\n    expect: {{ shop: delivered, amzn: skip }}\n"
    );
    assert_eq!(
        load(&text).unwrap_err(),
        "error: unknown channel `ebey`
  --> rules.yaml:23:11
   |
23 |     from: ebey
   |           ^^^^ did you mean `ebay`?

error: unknown outcome `delivered`
  --> rules.yaml:25:21
   |
25 |     expect: { shop: delivered, amzn: skip }
   |                     ^^^^^^^^^ did you mean `deliver`?

error: unknown channel `amzn`
  --> rules.yaml:25:32
   |
25 |     expect: { shop: delivered, amzn: skip }
   |                                ^^^^ channels are `shop`, `ebay`

error: rules rejected: 3 errors
"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = BASE
        .replace("role: marketplace", "role: marketplaec")
        .replace("financial_status == \"paid\"", "total_prce > 1")
        .replace(
            "tags: { constant: eBay }",
            "tags: { constant: eBay, mode: append }",
        )
        .replace("then: true", "then: true, else: false");
    let errors = load_str("rules.yaml", &text, &LoadOptions { env: &env }).unwrap_err();
    let lines = places(&errors);
    assert_eq!(
        lines,
        [
            "8:11 unknown role `marketplaec`",
            "13:13 unknown field `total_prce`",
            "15:37 unknown mode `append`",
            "20:62 unknown key `else` in attribute `publish`",
        ]
    );
}

#[test]
fn a_directory_merges_files_and_refuses_a_channel_defined_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (channels, rules) = BASE.split_at(BASE.find("rules:").unwrap());
    std::fs::write(dir.path().join("10-channels.yaml"), channels).unwrap();
    std::fs::write(dir.path().join("20-rules.yaml"), rules).unwrap();
    let opts = LoadOptions { env: &env };
    let merged = load_with(dir.path(), &opts).unwrap();
    assert_eq!(merged.channels.len(), 2);
    assert!(merged.channel("ebay").unwrap().import.is_some());

    std::fs::write(
        dir.path().join("30-more.yaml"),
        "channels:\n  ebay:\n    role: marketplace\n    deliver: { url: \"http://127.0.0.1:1/x\" }\n",
    )
    .unwrap();
    let errors = load_with(dir.path(), &opts).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].message, "channel `ebay` is defined twice");
    assert_eq!(
        errors[0].hint.as_deref(),
        Some(
            format!(
                "first defined in {}:7",
                dir.path().join("10-channels.yaml").display()
            )
            .as_str()
        )
    );
}

#[test]
fn the_version_is_a_content_hash() {
    let a = load(BASE).unwrap();
    let b = load(BASE).unwrap();
    let c = load(&format!("{BASE}# a comment changes the text\n")).unwrap();
    assert_eq!(a.version, b.version);
    assert_ne!(a.version, c.version);
}

#[test]
fn tests_may_live_beside_the_rules_and_read_orders_from_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), BASE).unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    std::fs::write(
        dir.path().join("fixtures/paid.json"),
        r#"{"id": "27-1", "financial_status": "paid", "tags": []}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("rules.test.yaml"),
        "tests:\n  - name: a paid eBay order is imported\n    from: ebay\n    event: created\n    order_file: fixtures/paid.json\n    expect:\n      shop: { tags: [eBay] }\n",
    )
    .unwrap();
    let opts = LoadOptions { env: &env };
    let rules = load_with(&dir.path().join("rules.yaml"), &opts).unwrap();
    assert_eq!(rules.tests.len(), 1);
    assert_eq!(rules.tests[0].name, "a paid eBay order is imported");
    assert_eq!(
        rules.tests[0]
            .order
            .get("financial_status")
            .and_then(|v| v.as_str()),
        Some("paid")
    );
    let results = ordersync::engine::testing::run_tests(&rules);
    assert!(results[0].passed(), "{:?}", results[0].mismatches);

    // A test file holds only tests, and a missing fixture is an error at its place.
    std::fs::write(
        dir.path().join("rules.test.yaml"),
        "channels: {}\ntests:\n  - name: t\n    from: ebay\n    order_file: fixtures/missing.json\n    expect: { shop: deliver }\n",
    )
    .unwrap();
    let errors = load_with(&dir.path().join("rules.yaml"), &opts).unwrap_err();
    let lines = places(&errors);
    assert_eq!(
        lines,
        [
            "1:1 unknown key `channels` in the rules file",
            "5:17 cannot read `fixtures/missing.json`: no such file",
        ]
    );
}

#[test]
fn an_alias_bomb_is_refused_not_expanded() {
    let mut text = String::from("a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for i in 1..9 {
        let refs = vec![format!("*a{}", i - 1); 10].join(",");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let errors = load_str("rules.yaml", &text, &LoadOptions { env: &env }).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].message,
        "invalid YAML: the document is too large once its aliases are expanded"
    );
}
