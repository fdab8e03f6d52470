//! Property tests for the condition language (SPEC 4) and the rules loader (SPEC 3).
//!
//! - The printer and the parser agree: `parse(&expr.to_string()) == Ok(expr)` for
//!   random trees covering every `ExprKind` and every `BinOp`.
//! - The parser, the compiler and the evaluator never panic (nor overflow the stack)
//!   on random text, on "token soup" made of the language's own tokens, or on very
//!   deep input.
//! - The rules loader never panics on random text, YAML-ish token soup or mutations
//!   of `rules.example.yaml`, and every error it reports has a sane place.
//!
//! Case counts are fixed in each `ProptestConfig` so the file runs in a few seconds
//! in debug mode, and `failure_persistence` is off so no files are written.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use ordersync::condition::ast::{BinOp, Expr, ExprKind, Segment};
use ordersync::condition::parser::{self, MAX_DEPTH, MAX_LEN, MAX_TREE_DEPTH};
use ordersync::condition::{CompileEnv, Condition, Rates, Scope};
use ordersync::order::{CANONICAL_ORDER, Event};
use ordersync::rules::{self, LoadOptions};
use ordersync::value::{Decimal, Value};

// ---------------------------------------------------------------------------
// Shared fixtures
// ---------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Words the grammar reserves; they can be neither field names nor function names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "is",
    "empty",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
    "true",
    "false",
    "null",
];

const ALL_BINOPS: &[BinOp] = &[
    BinOp::Or,
    BinOp::And,
    BinOp::Eq,
    BinOp::Ne,
    BinOp::Lt,
    BinOp::Le,
    BinOp::Gt,
    BinOp::Ge,
    BinOp::Contains,
    BinOp::StartsWith,
    BinOp::EndsWith,
    BinOp::Matches,
    BinOp::In,
    BinOp::NotIn,
    BinOp::Add,
    BinOp::Sub,
    BinOp::Mul,
    BinOp::Div,
];

fn rates() -> Rates {
    Rates {
        base: "USD".to_string(),
        rates: vec![
            ("EUR".to_string(), Decimal::new(108, 2)),
            ("GBP".to_string(), Decimal::new(127, 2)),
        ],
    }
}

fn fixed_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).expect("a valid timestamp")
}

const ORDER_JSON: &str = r##"{
    "id": "5003",
    "name": "#5003",
    "created_at": "2025-12-01T10:00:00Z",
    "status": "open",
    "financial_status": "paid",
    "fulfillment_status": null,
    "currency": "EUR",
    "total_price": 100,
    "subtotal_price": 90.5,
    "total_tax": 0,
    "tags": ["eBay", "gift", ""],
    "note": "",
    "customer": { "email": "a@example.com", "first_name": "Ana" },
    "shipping_address": { "address1": "1 Rue de Rivoli", "country": "FR" },
    "line_items": [
        { "sku": "DS-MUG-1", "title": "Mug", "quantity": 2, "price": 50 },
        { "sku": "TEE-2", "quantity": 0, "price": 0 }
    ],
    "shipments": [
        { "carrier": "UPS", "tracking_number": "1Z999", "shipped_at": "2025-12-02T08:00:00Z" }
    ],
    "marketplace_fee": 3.5
}"##;

fn order() -> Value {
    Value::from_json(ORDER_JSON).expect("the fixture order is valid JSON")
}

/// Compiles `text`; when that succeeds, evaluates it every way the engine does.
/// Only a panic (or a hang) can fail this.
fn compile_and_eval(text: &str, order: &Value, rates: &Rates) {
    for destination_known in [true, false] {
        let env = CompileEnv {
            order: &CANONICAL_ORDER,
            rates,
            destination_known,
        };
        let Ok(cond) = Condition::compile(text, &env) else {
            continue;
        };
        let scope = Scope {
            order,
            event: Event::Created,
            source: "ebay",
            destination: Some("shopify"),
            now: fixed_now(),
            rates,
        };
        let _ = cond.eval(&scope);
        let _ = cond.eval_bool(&scope);
        let mut seen = Vec::new();
        let _ = cond.eval_traced(&scope, &mut seen);
        let _ = cond.constant();
        let _ = cond.uses_destination();
    }
}

// ---------------------------------------------------------------------------
// 1. Round trip: print then parse gives the same tree
// ---------------------------------------------------------------------------

fn ex(kind: ExprKind) -> Expr {
    Expr { kind, span: 0..0 }
}

/// A name that is not a keyword (prefixes of keywords such as `android` or
/// `not_in` are fine, and are generated on purpose).
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        // Keyword look-alikes: a keyword with something glued on.
        (
            prop::sample::select(KEYWORDS),
            "[a-zA-Z0-9_]{1,3}",
            any::<bool>()
        )
            .prop_map(|(kw, extra, before)| {
                if before && !extra.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("{extra}{kw}")
                } else {
                    format!("{kw}{extra}")
                }
            }),
    ]
    .prop_filter("keywords are not names", |s| {
        !KEYWORDS.contains(&s.as_str())
    })
}

/// Non-negative numbers: integers, short decimals, and any exact decimal
/// (every 96-bit mantissa at every scale up to 28).
fn number() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        4 => (0u32..1_000_000).prop_map(Decimal::from),
        2 => prop::sample::select(vec![
            "0", "0.5", "12.25", "0.1", "3.75", "0.0000001", "1000000000000000000000",
            "123456.789", "79228162514264337593543950335", "0.0000000000000000000000000001",
        ])
        .prop_map(|t| t.parse::<Decimal>().unwrap()),
        1 => (any::<u64>(), any::<u32>(), 0u32..=28).prop_map(|(lo, hi, scale)| {
            Decimal::from_i128_with_scale((i128::from(hi) << 64) | i128::from(lo), scale)
        }),
    ]
}

/// Text with the characters a printer can get wrong.
fn text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        "\"", "'", "\\", "\\\\", "\\n", "\n", "\t", "\r", "\r\n", "(", ")", "[", "]", "(([[", " ",
        "é", "日本", "🎉", "\u{0}", "\u{7f}", "\u{200b}", "a", "Z", "$", "{", "}", "not", "or",
    ]);
    prop_oneof![
        prop::collection::vec(tricky, 0..8).prop_map(|parts| parts.concat()),
        any::<String>().prop_map(|s| s.chars().take(16).collect()),
        "[ -~]{0,12}",
    ]
}

fn segment_tail() -> impl Strategy<Value = Segment> {
    prop_oneof![
        ident().prop_map(Segment::Field),
        prop_oneof![0usize..20, any::<usize>()].prop_map(Segment::Index),
    ]
}

fn path() -> impl Strategy<Value = Vec<Segment>> {
    (ident(), prop::collection::vec(segment_tail(), 0..4)).prop_map(|(first, rest)| {
        let mut segs = vec![Segment::Field(first)];
        segs.extend(rest);
        segs
    })
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        Just(ExprKind::Null),
        any::<bool>().prop_map(ExprKind::Bool),
        number().prop_map(ExprKind::Number),
        text().prop_map(ExprKind::Text),
        path().prop_map(ExprKind::Path),
        // Leaves that hold no sub-expression but use brackets.
        Just(ExprKind::List(Vec::new())),
        ident().prop_map(|name| ExprKind::Call(name, Vec::new())),
    ]
    .prop_map(ex)
}

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(6, 64, 4, |inner| {
        let boxed = inner.clone().prop_map(Box::new);
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(ExprKind::List),
            1 => (ident(), prop::collection::vec(inner.clone(), 0..4))
                .prop_map(|(name, args)| ExprKind::Call(name, args)),
            1 => boxed.clone().prop_map(ExprKind::Not),
            1 => boxed.clone().prop_map(ExprKind::Neg),
            1 => (boxed.clone(), any::<bool>()).prop_map(|(x, negated)| ExprKind::IsEmpty(x, negated)),
            3 => (prop::sample::select(ALL_BINOPS), boxed.clone(), boxed)
                .prop_map(|(op, a, b)| ExprKind::Binary(op, a, b)),
        ]
        .prop_map(ex)
    })
}

/// The deepest bracket nesting in the printed form, counted as the parser does.
fn bracket_depth(e: &Expr) -> usize {
    match &e.kind {
        ExprKind::List(items) | ExprKind::Call(_, items) => {
            1 + items.iter().map(bracket_depth).max().unwrap_or(0)
        }
        ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::IsEmpty(x, _) => 1 + bracket_depth(x),
        ExprKind::Binary(_, a, b) => 1 + bracket_depth(a).max(bracket_depth(b)),
        ExprKind::Path(segs) => usize::from(segs.iter().any(|s| matches!(s, Segment::Index(_)))),
        _ => 0,
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn printed_expr_parses_back_to_the_same_tree(e in expr()) {
        let printed = e.to_string();
        prop_assume!(printed.len() <= MAX_LEN);
        prop_assert!(bracket_depth(&e) <= MAX_DEPTH, "generator made too deep a tree: {printed}");
        prop_assert!(e.depth() <= MAX_TREE_DEPTH);
        let parsed = parser::parse(&printed);
        prop_assert_eq!(parsed, Ok(e.clone()), "printed as {}", printed);
    }

    /// The single-quote form and surrounding whitespace read the same text.
    #[test]
    fn single_quoted_text_reads_like_double_quoted(s in text()) {
        let mut single = String::from("'");
        for c in s.chars() {
            match c {
                '\'' => single.push_str("\\'"),
                '\\' => single.push_str("\\\\"),
                '\n' => single.push_str("\\n"),
                '\t' => single.push_str("\\t"),
                '\r' => single.push_str("\\r"),
                c => single.push(c),
            }
        }
        single.push('\'');
        let padded = format!(" \t\n{single}\r\n ");
        prop_assert_eq!(parser::parse(&padded), Ok(ex(ExprKind::Text(s))), "input {:?}", padded);
    }
}

/// Every `ExprKind` and `BinOp` really is produced by the generator (a guard
/// against the round-trip property silently testing less than it claims).
#[test]
fn expr_generator_covers_every_kind_and_operator() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    fn visit(e: &Expr, kinds: &mut [bool; 11], ops: &mut Vec<BinOp>) {
        let i = match &e.kind {
            ExprKind::Null => 0,
            ExprKind::Bool(_) => 1,
            ExprKind::Number(_) => 2,
            ExprKind::Text(_) => 3,
            ExprKind::List(items) | ExprKind::Call(_, items) => {
                for x in items {
                    visit(x, kinds, ops);
                }
                if matches!(e.kind, ExprKind::List(_)) {
                    4
                } else {
                    6
                }
            }
            ExprKind::Path(_) => 5,
            ExprKind::Not(x) => {
                visit(x, kinds, ops);
                7
            }
            ExprKind::Neg(x) => {
                visit(x, kinds, ops);
                8
            }
            ExprKind::IsEmpty(x, _) => {
                visit(x, kinds, ops);
                9
            }
            ExprKind::Binary(op, a, b) => {
                if !ops.contains(op) {
                    ops.push(*op);
                }
                visit(a, kinds, ops);
                visit(b, kinds, ops);
                10
            }
        };
        kinds[i] = true;
    }

    let mut runner = TestRunner::deterministic();
    let strategy = expr();
    let mut kinds = [false; 11];
    let mut ops = Vec::new();
    for _ in 0..512 {
        let e = strategy.new_tree(&mut runner).expect("a tree").current();
        visit(&e, &mut kinds, &mut ops);
    }
    assert!(kinds.iter().all(|&k| k), "kinds seen: {kinds:?}");
    assert_eq!(ops.len(), ALL_BINOPS.len(), "operators seen: {ops:?}");
}

// ---------------------------------------------------------------------------
// 2. The parser, compiler and evaluator never panic
// ---------------------------------------------------------------------------

const CONDITION_TOKENS: &[&str] = &[
    "and",
    "or",
    "not",
    "not in",
    "in",
    "is",
    "empty",
    "is not empty",
    "contains",
    "starts_with",
    "ends_with",
    "matches",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "+",
    "-",
    "*",
    "/",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "\"x\"",
    "'y'",
    "\"([\"",
    "'\\''",
    "\"\\\\\"",
    "\"",
    "'",
    "\\",
    "\"\\d+\"",
    "\"(?-i)DS-\"",
    "\"(\"",
    "\"[a-\"",
    "\"^.*$\"",
    "\"USD\"",
    "\"EUR\"",
    "\"XXX\"",
    "\"2025-01-01T00:00:00Z\"",
    "\"\"",
    "0",
    "1",
    "12",
    "3.5",
    "1e3",
    "1e999",
    "99999999999999999999999",
    "0.0",
    "true",
    "false",
    "null",
    "tags",
    "total_price",
    "currency",
    "line_items",
    "line_items[0].sku",
    "line_items[99]",
    "line_items[18446744073709551616]",
    "shipping_address.country",
    "customer",
    "shipments[0].shipped_at",
    "created_at",
    "marketplace_fee",
    "sku",
    "quantity",
    "price",
    "event",
    "source",
    "destination",
    "nosuchfield",
    "any(",
    "all(",
    "count(",
    "sum(",
    "len(",
    "lower(",
    "upper(",
    "convert(",
    "now()",
    "now(",
    "days_since(",
    "frobnicate(",
    "é",
    "🎉",
    "\t",
    "\n",
];

fn condition_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(CONDITION_TOKENS),
            prop::sample::select(&[" ", " ", "", "\n"][..]),
        ),
        0..24,
    )
    .prop_map(|parts| {
        let mut s = String::new();
        for (tok, sep) in parts {
            s.push_str(tok);
            s.push_str(sep);
        }
        s
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn parser_never_panics_on_random_text(s in prop_oneof![any::<String>(), ".{0,200}"]) {
        let _ = parser::parse(&s);
    }

    #[test]
    fn compile_and_eval_never_panic_on_random_text(s in ".{0,200}") {
        compile_and_eval(&s, &order(), &rates());
    }

    #[test]
    fn parser_never_panics_on_token_soup(s in condition_soup()) {
        if let Err(e) = parser::parse(&s) {
            // Error spans point into the text (so a caret can be drawn under them).
            prop_assert!(e.span.start <= e.span.end, "span {:?} for {:?}", e.span, s);
            prop_assert!(e.span.end <= s.len().max(1), "span {:?} for {:?}", e.span, s);
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn compile_and_eval_never_panic_on_token_soup(s in condition_soup()) {
        compile_and_eval(&s, &order(), &rates());
    }

    /// Well-formed trees (mostly ill-typed) get through the compiler and evaluator too.
    #[test]
    fn compile_and_eval_never_panic_on_generated_trees(e in expr()) {
        let printed = e.to_string();
        prop_assume!(printed.len() <= MAX_LEN);
        compile_and_eval(&printed, &order(), &rates());
    }
}

/// Runs `f` on a thread with a 2 MiB stack: a stack overflow aborts the test
/// binary, a panic fails the test.
fn on_small_stack(name: &str, f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .name(name.to_string())
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn a thread")
        .join()
        .unwrap_or_else(|_| panic!("{name} panicked"));
}

#[test]
fn deep_input_is_refused_or_parsed_without_overflowing_the_stack() {
    let mut inputs: Vec<(&str, String)> = vec![
        ("open parens", "(".repeat(10_000)),
        ("open brackets", "[".repeat(10_000)),
        (
            "balanced parens",
            format!("{}1{}", "(".repeat(5_000), ")".repeat(5_000)),
        ),
        ("long not chain", "not ".repeat(3000) + "true"),
        ("long minus chain", "-".repeat(5000) + "1"),
        // The same shapes, short enough to pass the length limit and reach the parser.
        (
            "not chain under the length limit",
            "not ".repeat(1000) + "true",
        ),
        ("minus chain of 1000", "-".repeat(1000) + "1"),
        ("not/minus chain", "not -".repeat(800) + "1"),
        ("is empty chain", "x".to_string() + &" is empty".repeat(400)),
        (
            "is not empty chain",
            "x".to_string() + &" is not empty".repeat(300),
        ),
        ("or chain", "a".to_string() + &" or a".repeat(800)),
        ("plus chain", "1".to_string() + &"+1".repeat(2000)),
        ("comparison chain", "1".to_string() + &"<1".repeat(2000)),
        ("path chain", "a".to_string() + &".a".repeat(2000)),
        ("index chain", "a".to_string() + &"[0]".repeat(1000)),
        (
            "nested lists at the limit",
            format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH)),
        ),
        (
            "nested calls at the limit",
            format!("{}1{}", "len(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH)),
        ),
        (
            "nested calls over the limit",
            format!(
                "{}1{}",
                "len(".repeat(MAX_DEPTH + 1),
                ")".repeat(MAX_DEPTH + 1)
            ),
        ),
        ("quoted parens", format!("\"{}\"", "(".repeat(4000))),
    ];
    inputs.push(("long string", format!("\"{}\"", "a".repeat(MAX_LEN))));
    for (name, input) in inputs {
        on_small_stack(name, move || {
            let result = parser::parse(&input);
            if let Ok(e) = &result {
                assert!(
                    e.depth() <= MAX_TREE_DEPTH,
                    "{name}: accepted a tree deeper than the limit"
                );
            }
            compile_and_eval(&input, &order(), &rates());
        });
    }
}

/// A run of prefix operators short enough to pass `MAX_LEN` (one byte each for
/// `-`) recurses in pest's Pratt parser once per operator before the tree-depth
/// check can refuse it: about 1 KiB of stack per `-` in a debug build, so ~1900
/// of them overflow a 2 MiB thread (e.g. a tokio worker's default stack).
#[test]
fn long_prefix_chain_under_the_length_limit_does_not_overflow_the_stack() {
    for (name, input) in [
        (
            "minus chain under the length limit",
            "-".repeat(MAX_LEN - 1) + "1",
        ),
        (
            "not/minus chain under the length limit",
            "not -".repeat(MAX_LEN / 5 - 1) + "1",
        ),
    ] {
        on_small_stack(name, move || {
            assert!(input.len() <= MAX_LEN);
            let result = parser::parse(&input);
            assert!(
                result.is_err(),
                "{name}: a tree deeper than the limit was accepted"
            );
            compile_and_eval(&input, &order(), &rates());
        });
    }
}

// ---------------------------------------------------------------------------
// 3. The rules loader never panics
// ---------------------------------------------------------------------------

const EXAMPLE: &str = include_str!("../rules.example.yaml");

fn no_env(_: &str) -> Option<String> {
    None
}

/// The lines of `text` as YAML counts them: `\r\n`, `\r` and `\n` each end a line.
fn yaml_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n']) {
        lines.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    lines.push(rest);
    lines
}

/// Loads `text` and checks that each error's excerpt is the line it names.
fn check_excerpts(text: &str) -> Result<(), TestCaseError> {
    let opts = LoadOptions { env: &no_env };
    let Err(errors) = rules::load_str("rules.yaml", text, &opts) else {
        return Ok(());
    };
    let lines = yaml_lines(text);
    for e in errors.iter().filter(|e| e.line >= 1) {
        let Some(line) = lines.get(e.line as usize - 1) else {
            prop_assert!(
                false,
                "line {} is past the end in {:?} for {:?}",
                e.line,
                e,
                text
            );
            unreachable!();
        };
        prop_assert_eq!(
            e.source_line.as_str(),
            *line,
            "excerpt of {:?} for {:?}",
            e,
            text
        );
        prop_assert!(
            e.column as usize <= line.chars().count() + 1,
            "column past the end of the line in {:?} for {:?}",
            e,
            text
        );
    }
    Ok(())
}

/// Loads `text` and checks the errors, if any, are well formed.
fn check_load(text: &str) -> Result<(), TestCaseError> {
    let opts = LoadOptions { env: &no_env };
    let Err(errors) = rules::load_str("rules.yaml", text, &opts) else {
        return Ok(());
    };
    prop_assert!(!errors.is_empty(), "rejected with no errors: {:?}", text);
    let lines = u32::try_from(yaml_lines(text).len()).unwrap_or(u32::MAX);
    for e in &errors {
        // `line` is 1-based; 0 means the problem is about the whole file.
        prop_assert!(
            e.line <= lines,
            "line {} of {} in {:?} for {:?}",
            e.line,
            lines,
            e,
            text
        );
        if e.line >= 1 {
            prop_assert!(e.column >= 1, "column 0 in {:?} for {:?}", e, text);
        }
        prop_assert_eq!(e.file.as_str(), "rules.yaml");
        prop_assert!(!e.message.is_empty(), "empty message in {:?}", e);
        let shown = e.to_string();
        prop_assert!(shown.contains(&e.message));
    }
    let _ = rules::render_all(&errors);
    Ok(())
}

const YAML_LINES: &[&str] = &[
    "version: 1",
    "version: 2",
    "version: one",
    "channels:",
    "  shopify:",
    "  ebay:",
    "    role: commerce_platform",
    "    role: marketplace",
    "    role: fulfillment",
    "    role: wizard",
    "    deliver: { url: \"http://127.0.0.1:1/x\" }",
    "    deliver: { url: \"http://127.0.0.1:1/x\", accepts: [created, shipped] }",
    "    deliver:",
    "      url: http://127.0.0.1:1/y",
    "      accepts: [created, updated, cancelled, shipped]",
    "      timeout: 10s",
    "      retry: { attempts: 3, first: 2s, max: 30m }",
    "      require: [invoice_number, shipping_address.address1]",
    "    webhook: { format: shopify, secret: abc }",
    "    webhook: { format: ordersync, secret: \"${SECRET:-dev}\" }",
    "    webhook: { format: ordersync, secret: \"${SECRET}\" }",
    "    poll:",
    "      schedule: \"0 */10 * * * *\"",
    "      schedule: \"not a cron\"",
    "      url: http://127.0.0.1:1/poll",
    "      format: ordersync",
    "fields:",
    "  marketplace_fee: number",
    "  gift.wrap: text",
    "currency_rates:",
    "  base: USD",
    "  EUR: 1.08",
    "  GBP: -1",
    "rules:",
    "  shopify:",
    "  ebay:",
    "    import: financial_status == \"paid\"",
    "    import: 'tags contains'",
    "    attributes:",
    "      tags: { when: 'tags contains \"a\"', then: x }",
    "      tags: { constant: eBay }",
    "      tags: Etsy",
    "      note: { value: '\"from \" + source' }",
    "      note: { value: 'nosuch + 1' }",
    "      total_price: { value: 'convert(total_price, currency, \"USD\")' }",
    "      publish: { when: tags contains \"eBay\", then: true, otherwise: false }",
    "      shipping_method:",
    "        cases:",
    "          - { when: total_price > 100, then: express }",
    "          - { when: '(((', then: x }",
    "        otherwise: standard",
    "    overwrites:",
    "      shopify:",
    "        attributes:",
    "tests:",
    "  - name: t",
    "    from: shopify",
    "    from: nowhere",
    "    event: created",
    "    event: exploded",
    "    order: { id: \"1\", tags: [a], total_price: 20 }",
    "    order: [1, 2]",
    "    expect:",
    "      shopify: { deliver: true, tags: [eBay] }",
    "      ebay: skip",
    "      ebay: { skip: \"publish is false\" }",
    "      shopify: { draft: [invoice_number] }",
    "- [",
    "- ]",
    "{",
    "}",
    "[",
    "\"",
    "'",
    "&a",
    "*a",
    "a: &a { x: 1 }",
    "b: *a",
    "<<: *a",
    "  <<: *a",
    "? complex",
    ": value",
    "---",
    "...",
    "%YAML 1.2",
    "!!binary aGVsbG8=",
    "key: !!int x",
    "\t",
    "\tversion: 1",
    "",
    "   ",
    "# comment",
    "x: |",
    "x: >-",
    "  folded text",
    "k: \"unterminated",
    "k: 'it''s'",
    "k: \"\\u00e9\\x\"",
    "k: 1e999",
    "k: 99999999999999999999999",
    "k: 0x1F",
    "k: ~",
    "k: ${",
    "k: ${NAME:-}",
    "k: $${NAME}",
    "k: ${1bad}",
    "é: 日本",
    "🎉",
];

fn yaml_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(YAML_LINES), 0..40)
        .prop_map(|lines| lines.join("\n"))
}

/// `rules.example.yaml` with a random byte range removed or a token inserted.
fn mutated_example() -> impl Strategy<Value = String> {
    let len = EXAMPLE.len();
    let delete = (0..len, 0usize..64).prop_map(move |(start, n)| {
        let mut start = start;
        while !EXAMPLE.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (start + n).min(len);
        while !EXAMPLE.is_char_boundary(end) {
            end += 1;
        }
        format!("{}{}", &EXAMPLE[..start], &EXAMPLE[end..])
    });
    let insert_tokens = prop_oneof![
        prop::sample::select(YAML_LINES).prop_map(str::to_string),
        prop::sample::select(CONDITION_TOKENS).prop_map(str::to_string),
        prop::sample::select(
            &[
                "\n", ":", " ", "\t", "-", "#", "'", "\"", "{", "[", "}", "]", ","
            ][..]
        )
        .prop_map(str::to_string),
    ];
    let insert = (0..=len, insert_tokens).prop_map(move |(at, tok)| {
        let mut at = at;
        while !EXAMPLE.is_char_boundary(at) {
            at -= 1;
        }
        format!("{}{}{}", &EXAMPLE[..at], tok, &EXAMPLE[at..])
    });
    prop_oneof![delete, insert]
}

#[test]
fn example_rules_file_loads() {
    let opts = LoadOptions { env: &no_env };
    if let Err(errors) = rules::load_str("rules.example.yaml", EXAMPLE, &opts) {
        panic!("{}", rules::render_all(&errors));
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn rules_loader_never_panics_on_random_text(s in prop_oneof![any::<String>(), ".{0,200}", "[ -~\n\t]{0,300}"]) {
        check_load(&s)?;
    }

    #[test]
    fn rules_loader_never_panics_on_yaml_token_soup(s in yaml_soup()) {
        check_load(&s)?;
    }

    #[test]
    fn rules_loader_never_panics_on_mutated_example(s in mutated_example()) {
        check_load(&s)?;
    }
}

/// `text` without carriage returns that are not part of a `\r\n`.
fn drop_lone_cr(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\r' || chars.peek() == Some(&'\n') {
            out.push(c);
        }
    }
    out
}

fn rules_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        "[ -~\n\t\r]{0,300}",
        yaml_soup(),
        mutated_example()
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// The excerpt under an error is the line it names (line endings `\n` and `\r\n`).
    #[test]
    fn rule_error_excerpt_is_the_line_it_names(s in rules_text().prop_map(|s| drop_lone_cr(&s))) {
        check_excerpts(&s)?;
    }

    /// The same with lone `\r` line breaks, which YAML counts as line ends.
    #[test]
    fn rule_error_excerpt_is_the_line_it_names_with_lone_cr(s in rules_text()) {
        check_excerpts(&s)?;
    }
}

#[test]
fn rule_error_excerpt_with_lone_cr_line_breaks() {
    let text = "version: 1\rbogus: 2\r";
    let opts = LoadOptions { env: &no_env };
    let errors = rules::load_str("rules.yaml", text, &opts).expect_err("an unknown key");
    let e = errors
        .iter()
        .find(|e| e.message.contains("bogus"))
        .unwrap_or(&errors[0]);
    println!("{errors:#?}");
    assert_eq!(e.line, 2, "{e:?}");
    assert_eq!(e.source_line, "bogus: 2", "{e:?}");
}
