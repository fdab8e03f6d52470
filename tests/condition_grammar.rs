//! The condition language (SPEC 4) as tables of rows: how text parses
//! (precedence), what it evaluates to against one order (every operator and
//! function, null and case rules, `any`/`all` scoping), and the exact message for
//! each kind of mistake.

use chrono::{DateTime, Utc};
use ordersync::condition::{CompileEnv, Condition, Rates, Scope, parser};
use ordersync::order::{Event, Type, order_type_with};
use ordersync::value::{Decimal, Value};

const ORDER: &str = r##"{
  "id": "5001", "name": "#5001",
  "financial_status": "paid", "fulfillment_status": null,
  "currency": "EUR", "total_price": 120.5, "subtotal_price": 100,
  "tags": ["eBay", "VIP"], "note": "",
  "customer": {"email": "Ann@Example.com", "first_name": "Ann"},
  "shipping_address": {"country": "US", "city": "Zürich"},
  "line_items": [
    {"sku": "DS-MUG", "quantity": 2, "price": 10},
    {"sku": "TEE-1", "quantity": 1, "price": 80.5}
  ],
  "shipments": [],
  "created_at": "2026-11-20T10:00:00Z",
  "marketplace_fee": 3
}"##;

fn rates() -> Rates {
    Rates {
        base: "USD".into(),
        rates: vec![
            ("EUR".into(), Decimal::new(108, 2)),
            ("GBP".into(), Decimal::new(127, 2)),
        ],
    }
}

fn order_type() -> Type {
    order_type_with(&[("marketplace_fee".to_string(), Type::Number)])
}

fn now() -> DateTime<Utc> {
    "2026-11-22T12:00:00Z".parse().unwrap()
}

fn compile(text: &str, destination_known: bool) -> Result<Condition, String> {
    let ty = order_type();
    let rates = rates();
    let env = CompileEnv {
        order: &ty,
        rates: &rates,
        destination_known,
    };
    Condition::compile(text, &env).map_err(|errs| {
        errs.iter()
            .map(|e| {
                let mut s = format!("{} @{}..{}", e.message, e.span.start, e.span.end);
                if let Some(h) = &e.hint {
                    s.push_str(&format!(" ({h})"));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn eval(text: &str) -> Result<Value, String> {
    let c = compile(text, true).map_err(|e| format!("compile: {e}"))?;
    let order = Value::from_json(ORDER).unwrap();
    let rates = rates();
    let scope = Scope {
        order: &order,
        event: Event::Created,
        source: "ebay",
        destination: Some("shopify"),
        now: now(),
        rates: &rates,
    };
    c.eval(&scope).map_err(|e| e.to_string())
}

#[test]
fn precedence_and_shape() {
    let rows = [
        ("a or b and c", "(or a (and b c))"),
        ("a and b or c", "(or (and a b) c)"),
        ("a or b or c", "(or (or a b) c)"),
        ("not a and b", "(and (not a) b)"),
        ("not a == b", "(not (== a b))"),
        ("not not a", "(not (not a))"),
        ("a == b and c != d", "(and (== a b) (!= c d))"),
        ("a + b * c", "(+ a (* b c))"),
        ("(a + b) * c", "(* (+ a b) c)"),
        ("a - b - c", "(- (- a b) c)"),
        ("a / b / c", "(/ (/ a b) c)"),
        ("-a * b", "(* (neg a) b)"),
        ("- -3", "(neg (neg 3))"),
        ("a + b > c - 1", "(> (+ a b) (- c 1))"),
        ("a < b", "(< a b)"),
        ("a <= b", "(<= a b)"),
        ("a >= b", "(>= a b)"),
        (
            "a is empty and b is not empty",
            "(and (is_empty a) (is_not_empty b))",
        ),
        ("a + b is empty", "(is_empty (+ a b))"),
        ("a not in [1, 2]", "(not in a [1 2])"),
        ("not a in [1]", "(not (in a [1]))"),
        ("a in []", "(in a [])"),
        ("a in [1, 2,]", "(in a [1 2])"),
        (
            "tags contains \"x\" or total_price >= 10",
            "(or (contains tags \"x\") (>= total_price 10))",
        ),
        (
            "a starts_with 'x' and b ends_with \"y\"",
            "(and (starts_with a \"x\") (ends_with b \"y\"))",
        ),
        ("a matches \"^\\d+$\"", "(matches a \"^\\\\d+$\")"),
        (
            "any(line_items, sku starts_with \"DS-\")",
            "(any line_items (starts_with sku \"DS-\"))",
        ),
        (
            "count(line_items, quantity > 1) >= 2",
            "(>= (count line_items (> quantity 1)) 2)",
        ),
        ("now()", "(now)"),
        ("line_items[0].sku == 'x'", "(== line_items[0].sku \"x\")"),
        (
            "shipments[0].line_items[1].quantity",
            "shipments[0].line_items[1].quantity",
        ),
        ("x == 1 == true", "(== (== x 1) true)"),
        ("null == false", "(== null false)"),
        ("1.5e3 + 0.25", "(+ 1500 0.25)"),
        ("'it\\'s'", "\"it's\""),
        ("\"say \\\"hi\\\"\\n\"", "\"say \\\"hi\\\"\\n\""),
        // Names that begin with a keyword are names.
        (
            "notes or origin and android",
            "(or notes (and origin android))",
        ),
        ("index in island", "(in index island)"),
        (
            "contains_gift == true_value",
            "(== contains_gift true_value)",
        ),
        ("  a\n  and\tb  ", "(and a b)"),
    ];
    let mut failures = Vec::new();
    for (text, want) in rows {
        match parser::parse(text) {
            Ok(e) if e.sexpr() == want => {}
            Ok(e) => failures.push(format!("{text:?}: got {}, want {want}", e.sexpr())),
            Err(e) => failures.push(format!("{text:?}: error {}", e.message)),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_operator_and_function() {
    let rows: &[(&str, &str)] = &[
        // comparison; text ignores case
        ("financial_status == \"PAID\"", "true"),
        ("financial_status != \"paid\"", "false"),
        ("shipping_address.city == \"zürich\"", "true"),
        ("shipping_address.city == \"ZÜRICH\"", "true"),
        ("shipping_address.city in [\"Bern\", \"ZÜRICH\"]", "true"),
        ("\"\u{212A}\" == \"k\"", "true"),
        ("subtotal_price < total_price", "true"),
        ("customer.first_name == shipping_address.city", "false"),
        ("total_price > 100", "true"),
        ("total_price >= 120.5", "true"),
        ("total_price < 100", "false"),
        ("total_price <= 120", "false"),
        ("name < \"#6000\"", "true"),
        ("financial_status > \"PAID\"", "false"),
        // text operators
        ("customer.email contains \"EXAMPLE\"", "true"),
        ("customer.email starts_with \"ann@\"", "true"),
        ("customer.email ends_with \"@example.COM\"", "true"),
        ("customer.email ends_with \"@example.org\"", "false"),
        ("customer.email matches \"^ann@\"", "true"),
        ("customer.email matches \"(?-i)^ann@\"", "false"),
        ("name matches \"^#\\d+$\"", "true"),
        // membership
        ("tags contains \"ebay\"", "true"),
        ("tags contains \"Amazon\"", "false"),
        ("shipping_address.country in [\"us\", \"CA\"]", "true"),
        ("shipping_address.country not in [\"CA\", \"MX\"]", "true"),
        ("shipping_address.country not in [\"US\"]", "false"),
        ("\"vip\" in tags", "true"),
        ("tags == [\"EBAY\", \"vip\"]", "true"),
        // emptiness: null, "", [] and {} are empty
        ("fulfillment_status is empty", "true"),
        ("note is empty", "true"),
        ("shipments is empty", "true"),
        ("tags is empty", "false"),
        ("customer is not empty", "true"),
        ("total_tax is empty", "true"),
        // logic
        (
            "tags contains \"eBay\" and financial_status == \"paid\"",
            "true",
        ),
        ("tags contains \"x\" or total_price > 1", "true"),
        ("not tags contains \"x\"", "true"),
        ("not (total_price > 1 and tags is empty)", "true"),
        // arithmetic and joining text
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 / 4", "2.5"),
        ("7 - 10", "-3"),
        ("-total_price", "-120.5"),
        ("subtotal_price * 2 - 1", "199"),
        ("\"a\" + \"b\"", "\"ab\""),
        ("\"order \" + name", "\"order #5001\""),
        ("\"n=\" + 5", "\"n=5\""),
        ("source + \"/\" + destination", "\"ebay/shopify\""),
        ("event == \"created\"", "true"),
        ("marketplace_fee > 2", "true"),
        // paths
        ("line_items[1].sku == \"tee-1\"", "true"),
        ("line_items[5].sku == null", "true"),
        ("customer.phone == null", "true"),
        // functions
        ("len(line_items)", "2"),
        ("len(tags)", "2"),
        ("len(customer.first_name)", "3"),
        ("len(shipping_address.city)", "6"),
        ("len(note)", "0"),
        ("len(fulfillment_status)", "0"),
        ("len(customer)", "2"),
        ("lower(customer.email)", "\"ann@example.com\""),
        ("upper(shipping_address.country)", "\"US\""),
        ("lower(fulfillment_status)", "null"),
        ("any(line_items, sku starts_with \"ds-\")", "true"),
        ("any(line_items, price > 100)", "false"),
        ("all(line_items, quantity >= 1)", "true"),
        ("all(line_items, price > 50)", "false"),
        ("all(shipments, carrier == \"UPS\")", "true"),
        ("any(shipments, carrier == \"UPS\")", "false"),
        ("count(line_items, quantity > 1)", "1"),
        ("count(shipments, carrier == \"UPS\")", "0"),
        ("sum(line_items, price * quantity)", "100.5"),
        ("sum(line_items, quantity)", "3"),
        ("any(tags, it == \"vip\")", "true"),
        ("count(tags, it starts_with \"e\")", "1"),
        (
            "any(line_items, source == \"ebay\" and quantity == 2)",
            "true",
        ),
        ("convert(100, \"EUR\", \"USD\")", "108"),
        ("convert(127, \"USD\", \"GBP\")", "100"),
        ("convert(total_price, currency, \"usd\") > 130", "true"),
        ("convert(total_tax, \"EUR\", \"USD\")", "null"),
        ("now()", "\"2026-11-22T12:00:00Z\""),
        ("days_since(created_at)", "2"),
        ("days_since(\"2026-11-22\")", "0"),
        ("days_since(fulfillment_status)", "null"),
    ];
    let mut failures = Vec::new();
    for (text, want) in rows {
        let want_v = Value::from_json(want).unwrap();
        match eval(text) {
            Ok(got) if close(&got, &want_v) => {}
            Ok(got) => failures.push(format!("{text}: got {got}, want {want}")),
            Err(e) => failures.push(format!("{text}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Numbers are exact, so "close" is equal (it allowed float noise once).
fn close(a: &Value, b: &Value) -> bool {
    a == b
}

#[test]
fn null_is_never_an_error_and_compares_false() {
    // fulfillment_status is null; a missing field is null too.
    let rows = [
        ("fulfillment_status == null", "true"),
        ("fulfillment_status != \"x\"", "true"),
        ("fulfillment_status == \"x\"", "false"),
        ("fulfillment_status > \"a\"", "false"),
        ("fulfillment_status < \"a\"", "false"),
        ("fulfillment_status contains \"x\"", "false"),
        ("fulfillment_status starts_with \"\"", "false"),
        ("fulfillment_status ends_with \"\"", "false"),
        ("fulfillment_status matches \".*\"", "false"),
        ("fulfillment_status in [\"a\", null]", "false"),
        ("fulfillment_status not in [\"a\"]", "false"),
        ("not (fulfillment_status == \"x\")", "true"),
        ("customer.phone > \"1\"", "false"),
        ("total_tax + 1", "null"),
        ("(total_tax + 1) > 0", "false"),
        ("billing_address.country in [\"US\"]", "false"),
        ("line_items[9].price >= 0", "false"),
    ];
    for (text, want) in rows {
        let got = eval(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got, Value::from_json(want).unwrap(), "{text}");
    }
}

#[test]
fn runtime_errors_name_the_expression() {
    let rows = [
        (
            "total_price / (subtotal_price - 100)",
            "division by zero in `total_price / (subtotal_price - 100)`",
        ),
        (
            "convert(total_price, customer.first_name, \"USD\")",
            "unknown currency \"Ann\" in `convert(total_price, customer.first_name, \"USD\")`",
        ),
        (
            "days_since(name) > 1",
            "invalid timestamp \"#5001\" in `days_since(name)`",
        ),
    ];
    for (text, want) in rows {
        assert_eq!(eval(text), Err(want.to_string()), "{text}");
    }
}

#[test]
fn mistakes_are_named_exactly() {
    let rows = [
        (
            "total_prce > 1",
            "unknown field `total_prce` @0..10 (did you mean `total_price`?)",
        ),
        (
            "shipping_address.contry == \"US\"",
            "unknown field `shipping_address.contry` @0..23 (did you mean `shipping_address.country`?)",
        ),
        (
            "gift_wrap",
            "unknown field `gift_wrap` @0..9 (declare custom fields under `fields:` with their type)",
        ),
        (
            "total_price contains \"x\"",
            "`contains` needs text or a list on the left; `total_price` is a number @0..11",
        ),
        (
            "tags > 3",
            "`>` needs numbers or text; `tags` is a list of text @0..4",
        ),
        (
            "total_price == \"x\"",
            "cannot compare number with text: `total_price` is a number and `\"x\"` is a text @0..18",
        ),
        (
            "tags and true",
            "`and` needs true or false on both sides; `tags` is a list of text @0..4",
        ),
        (
            "not total_price",
            "`not` needs true or false; `total_price` is a number @4..15",
        ),
        (
            "lenght(tags)",
            "unknown function `lenght` @0..6 (did you mean `len`?)",
        ),
        ("len(tags, 1)", "`len` takes 1 argument, not 2 @0..12"),
        (
            "name matches \"([\"",
            "invalid regex: unclosed character class @13..17",
        ),
        (
            "name matches name",
            "`matches` needs a regex written as a text literal @13..17",
        ),
        (
            "any(tags, sku == \"x\")",
            "the elements of `tags` are text, which has no field `sku` @10..13 (use `it` for the element itself)",
        ),
        (
            "any(line_items, skuu == \"x\")",
            "unknown field `skuu` @16..20 (did you mean `sku`?)",
        ),
        (
            "line_items.sku == \"x\"",
            "`line_items` is a list; it has no field `sku` @0..14 (use `any(line_items, sku ...)` or an index: `line_items[0].sku`)",
        ),
        (
            "any(total_price, true)",
            "`any` needs a list; `total_price` is a number @4..15",
        ),
        (
            "count(line_items, price)",
            "`count` needs a condition as its second argument; `price` is a number @18..23",
        ),
        ("1 / 0", "division by zero @0..5"),
        (
            "convert(1, \"XYZ\", \"USD\")",
            "unknown currency `XYZ`; `currency_rates` has USD, EUR, GBP @11..16",
        ),
        (
            "total_price in \"US\"",
            "`in` needs a list on the right; `\"US\"` is a text @15..19",
        ),
        (
            "tags contains 3",
            "`contains` needs a text to look for in `tags`; `3` is a number @14..15",
        ),
        (
            "tags contains",
            "syntax error: expected a value, found the end of the expression @13..13",
        ),
        (
            "a == == b",
            "syntax error: expected a value, found `==` @5..7",
        ),
        (
            "(total_price > 1",
            "syntax error: expected an operator or `)`, found the end of the expression @16..16",
        ),
        (
            "total_price > 1)",
            "syntax error: expected an operator or the end of the expression, found `)` @15..16",
        ),
        (
            "tags contains \"x",
            "syntax error: expected a value, found `\"x` @14..16",
        ),
        (
            "total_price >",
            "syntax error: expected a value, found the end of the expression @13..13",
        ),
        ("and", "syntax error: expected a value, found `and` @0..3"),
        (
            "",
            "syntax error: expected a value, found the end of the expression @0..0",
        ),
    ];
    let mut failures = Vec::new();
    for (text, want) in rows {
        match compile(text, true) {
            Err(got) if got == want => {}
            Err(got) => failures.push(format!("{text}\n   got: {got}\n  want: {want}")),
            Ok(_) => failures.push(format!("{text}: compiled")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn destination_is_only_known_where_there_is_one() {
    assert_eq!(
        compile("destination == \"x\"", false).unwrap_err(),
        "`destination` is only known in attributes and overwrites @0..11"
    );
    assert!(compile("destination == \"x\"", true).is_ok());
}

#[test]
fn limits_are_errors_not_crashes() {
    let long = format!("total_price > {}", "1".repeat(5000));
    assert_eq!(
        compile(&long, true).unwrap_err(),
        "expression is longer than 4096 bytes @4096..5014"
    );
    let deep = format!("{}true{}", "(".repeat(40), ")".repeat(40));
    assert_eq!(
        compile(&deep, true).unwrap_err(),
        "expression nests deeper than 32 brackets @32..33"
    );
    let nots = format!("{}true", "not ".repeat(200));
    assert_eq!(
        compile(&nots, true).unwrap_err(),
        "more than 32 `not` or `-` in a row @128..131"
    );
    let negs = format!("{}1", "- ".repeat(40));
    assert_eq!(
        compile(&negs, true).unwrap_err(),
        "more than 32 `not` or `-` in a row @64..65"
    );
    // `not` and `-` that are not in a row are fine, and so are names containing `not`.
    let spaced = vec!["not (total_price - 1 > 0)"; 40].join(" and ");
    assert!(compile(&spaced, true).is_ok());
    assert!(parser::parse("notes == denote and knot").is_ok());
    let chain = vec!["total_price > 1"; 130].join(" or ");
    assert_eq!(
        compile(&chain, true).unwrap_err(),
        format!(
            "expression nests deeper than 128 levels @0..{}",
            chain.len()
        )
    );
    let fine = vec!["total_price > 1"; 100].join(" or ");
    assert!(compile(&fine, true).is_ok());
}

#[test]
fn constants_are_folded() {
    let c = compile("[\"US\", \"C\" + \"A\"]", true).unwrap();
    assert_eq!(
        c.constant(),
        Some(&Value::from_json(r#"["US","CA"]"#).unwrap())
    );
    let c = compile("2 * 3 > 5 and not false", true).unwrap();
    assert_eq!(c.constant(), Some(&Value::Bool(true)));
    assert!(
        compile("total_price * 2", true)
            .unwrap()
            .constant()
            .is_none()
    );
}
