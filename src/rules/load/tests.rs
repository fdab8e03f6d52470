//! Pass 6: `tests` (SPEC 3.6): an update from a channel, and what each of its
//! destinations should get; `check` and `test` run them.

use chrono::{DateTime, Utc};

use super::connector;
use super::ctx::{Ctx, Doc};
use super::read::{
    Fields, fields, io_reason, list_names, text, to_value, unknown_channel, unknown_channel_key,
};
use super::schema::{OUTCOMES, REQUEST_EXPECT_KEYS, TEST_KEYS};
use crate::order::Event;
use crate::rules::yaml::{Kind, Node};
use crate::rules::{Channel, ConnectorKind, Expected, Place, RequestExpect, RuleTest};
use crate::suggest::did_you_mean;
use crate::value::Value;

/// Reads every file's tests.
pub(super) fn read(
    cx: &mut Ctx,
    docs: &[Doc],
    tops: &[Fields],
    channels: &[Channel],
    names: &[String],
) -> Vec<RuleTest> {
    let mut tests = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("tests") else {
            continue;
        };
        let Kind::Seq(items) = &node.kind else {
            if !matches!(node.kind, Kind::Null) {
                cx.node(
                    doc,
                    node,
                    format!("`tests` must be a list, not {}", node.kind_name()),
                    None,
                );
            }
            continue;
        };
        for item in items {
            if let Some(t) = test_case(cx, doc, item, channels, names) {
                tests.push(t);
            }
        }
    }
    tests
}

/// One test: the update it sends, and what each destination should get.
fn test_case(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    channels: &[Channel],
    names: &[String],
) -> Option<RuleTest> {
    let f = fields(cx, doc, n, "a test", &TEST_KEYS)?;
    let name = match f.get("name") {
        Some(x) => text(cx, doc, x, "`name`")?.to_string(),
        None => {
            cx.node(doc, n, "a test needs a `name`", None);
            return None;
        }
    };
    let place = Place {
        file: doc.name.clone(),
        line: n.loc.line,
    };
    let from = match f.get("from") {
        Some(x) => {
            let s = text(cx, doc, x, "`from`")?;
            match names.iter().position(|c| c == s) {
                Some(i) => Some(i),
                None => {
                    unknown_channel(cx, doc, x, s, names);
                    None
                }
            }
        }
        None => {
            cx.node(doc, n, format!("test `{name}` needs `from`"), None);
            None
        }
    };
    let event = f.get("event").map_or(Event::Updated, |x| event(cx, doc, x));
    let now = match f.get("now") {
        Some(x) => now(cx, doc, x),
        None => DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    };
    let order = order(cx, doc, n, &f, &name)?;
    let expect = match f.get("expect") {
        None => {
            cx.node(doc, n, format!("test `{name}` needs `expect`"), None);
            Vec::new()
        }
        Some(e) => expect(cx, doc, e, from, channels, names)?,
    };
    Some(RuleTest {
        name,
        from: from?,
        event,
        order,
        now,
        expect,
        place,
    })
}

/// `event`; an unknown one is reported and taken as `updated`.
fn event(cx: &mut Ctx, doc: &Doc, x: &Node) -> Event {
    let s = text(cx, doc, x, "`event`").unwrap_or_default();
    match s.parse::<Event>() {
        Ok(e) => e,
        Err(_) => {
            let all: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
            let hint = did_you_mean(s, all.iter().copied())
                .map(|h| format!("did you mean `{h}`?"))
                .unwrap_or_else(|| format!("events are {}", list_names(&all)));
            cx.node(doc, x, format!("unknown event `{s}`"), Some(hint));
            Event::Updated
        }
    }
}

/// `now`, the test's clock, in RFC 3339.
fn now(cx: &mut Ctx, doc: &Doc, x: &Node) -> DateTime<Utc> {
    let s = x.scalar_text().unwrap_or_default();
    match crate::condition::parse_timestamp(&s) {
        Some(t) => t,
        None => {
            cx.node(
                doc,
                x,
                format!("invalid timestamp `{s}`"),
                Some("write RFC 3339: `2026-11-22T10:00:00Z`".to_string()),
            );
            DateTime::<Utc>::UNIX_EPOCH
        }
    }
}

/// The test's order: `order` written inline, or `order_file` read as JSON.
/// `None` when `order_file` is not text, which ends the test's reading.
fn order(cx: &mut Ctx, doc: &Doc, n: &Node, f: &Fields, name: &str) -> Option<Value> {
    Some(match (f.get("order"), f.get("order_file")) {
        (Some(o), None) => {
            if !matches!(o.kind, Kind::Map(_)) {
                cx.node(
                    doc,
                    o,
                    format!("`order` must be a mapping, not {}", o.kind_name()),
                    None,
                );
            }
            to_value(o)
        }
        (None, Some(p)) => {
            let path = text(cx, doc, p, "`order_file`")?;
            order_file(cx, doc, p, path)
        }
        (Some(_), Some(p)) => {
            cx.node(doc, p, "give `order` or `order_file`, not both", None);
            Value::Null
        }
        (None, None) => {
            cx.node(
                doc,
                n,
                format!("test `{name}` needs an `order` or an `order_file`"),
                None,
            );
            Value::Null
        }
    })
}

/// Reads `order_file` (relative to the rules), which must hold a JSON object.
fn order_file(cx: &mut Ctx, doc: &Doc, p: &Node, path: &str) -> Value {
    let full = cx.base.join(path);
    match std::fs::read_to_string(&full) {
        Ok(t) => match Value::from_json(&t) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                cx.node(doc, p, format!("`{path}` must hold a JSON object"), None);
                Value::Null
            }
            Err(e) => {
                cx.node(doc, p, format!("`{path}` is not valid JSON: {e}"), None);
                Value::Null
            }
        },
        Err(e) => {
            cx.node(
                doc,
                p,
                format!("cannot read `{path}`: {}", io_reason(&e)),
                None,
            );
            Value::Null
        }
    }
}

/// `expect`: for each destination of `from`, what it should get. `None` when
/// `expect` is not a mapping, which ends the test's reading.
fn expect(
    cx: &mut Ctx,
    doc: &Doc,
    e: &Node,
    from: Option<usize>,
    channels: &[Channel],
    names: &[String],
) -> Option<Vec<(usize, Expected)>> {
    let mut expect = Vec::new();
    let ef = fields(cx, doc, e, "`expect`", &[])?;
    for (k, v) in ef.entries {
        let Some(di) = names.iter().position(|c| c == &k.name) else {
            unknown_channel_key(cx, doc, k, names);
            continue;
        };
        if let Some(fi) = from
            && !channels[fi].routes.contains(&di)
        {
            cx.key(
                doc,
                k,
                format!("`{}` is not a destination of `{}`", k.name, names[fi]),
                None,
            );
            continue;
        }
        let http = channels[di]
            .connector
            .as_ref()
            .is_some_and(|c| matches!(c.kind, ConnectorKind::Http(_)));
        if let Some(x) = expectation(cx, doc, v, http) {
            expect.push((di, x));
        }
    }
    Some(expect)
}

fn expectation(cx: &mut Ctx, doc: &Doc, n: &Node, http: bool) -> Option<Expected> {
    match &n.kind {
        Kind::Str(s) => match s.as_str() {
            "deliver" => Some(Expected::Deliver(Vec::new(), None)),
            "skip" => Some(Expected::Skip(None)),
            "draft" => Some(Expected::Draft(None)),
            "error" => Some(Expected::Error),
            other => {
                let hint = did_you_mean(other, OUTCOMES)
                    .map(|h| format!("did you mean `{h}`?"))
                    .unwrap_or_else(|| {
                        format!("write {} or a mapping of attributes", list_names(&OUTCOMES))
                    });
                cx.node(doc, n, format!("unknown outcome `{other}`"), Some(hint));
                None
            }
        },
        Kind::Map(entries) => {
            let mut attrs = Vec::new();
            let mut request = None;
            let mut outcome: Option<Expected> = None;
            for (i, (k, v)) in entries.iter().enumerate() {
                if entries[..i].iter().any(|(p, _)| p.name == k.name) {
                    continue;
                }
                match k.name.as_str() {
                    "deliver" => match v.kind {
                        Kind::Bool(true) => {}
                        Kind::Bool(false) => outcome = Some(Expected::Skip(None)),
                        _ => cx.node(doc, v, "`deliver` must be true or false", None),
                    },
                    "skip" => {
                        outcome = Some(Expected::Skip(match &v.kind {
                            Kind::Str(s) => Some(s.clone()),
                            Kind::Bool(true) | Kind::Null => None,
                            _ => {
                                cx.node(doc, v, "`skip` takes the reason as text", None);
                                None
                            }
                        }))
                    }
                    "draft" => {
                        outcome = Some(Expected::Draft(match &v.kind {
                            Kind::Seq(items) => {
                                Some(items.iter().filter_map(|i| i.scalar_text()).collect())
                            }
                            Kind::Str(s) => Some(vec![s.clone()]),
                            _ => None,
                        }))
                    }
                    "error" => outcome = Some(Expected::Error),
                    // Only a `kind: http` destination renders a request; for
                    // any other, `request` is an attribute like any other.
                    "request" if http => request = request_expect(cx, doc, v),
                    _ => attrs.push((k.name.clone(), to_value(v))),
                }
            }
            match outcome {
                Some(o) if !attrs.is_empty() || request.is_some() => {
                    cx.node(
                        doc,
                        n,
                        "attributes can only be compared when the update is delivered",
                        None,
                    );
                    Some(o)
                }
                Some(o) => Some(o),
                None => Some(Expected::Deliver(attrs, request)),
            }
        }
        _ => {
            cx.node(
                doc,
                n,
                format!(
                    "an expectation must be {} or a mapping, not {}",
                    list_names(&OUTCOMES),
                    n.kind_name()
                ),
                None,
            );
            None
        }
    }
}

/// `request: { method, url, headers: {...}, body: "..." | { /pointer: value } }`
/// in a test's expectation for a `kind: http` destination.
fn request_expect(cx: &mut Ctx, doc: &Doc, n: &Node) -> Option<RequestExpect> {
    let f = fields(cx, doc, n, "`request`", &REQUEST_EXPECT_KEYS)?;
    let mut out = RequestExpect::default();
    let before = cx.errors.len();
    if let Some(m) = f.get("method") {
        out.method = text(cx, doc, m, "`method`").map(str::to_string);
    }
    if let Some(u) = f.get("url") {
        out.url = text(cx, doc, u, "`url`").map(str::to_string);
    }
    if let Some(h) = f.get("headers")
        && let Some(hf) = fields(cx, doc, h, "`headers`", &[])
    {
        for (k, v) in hf.entries {
            match v.scalar_text() {
                Some(t) => out.headers.push((k.name.clone(), t)),
                None => cx.node(doc, v, "a header's value must be text", None),
            }
        }
    }
    if let Some(b) = f.get("body") {
        match &b.kind {
            Kind::Str(s) => out.body = Some(s.clone()),
            Kind::Map(entries) => {
                for (k, v) in entries {
                    if !connector::valid_pointer(&k.name) || k.name.is_empty() {
                        cx.key(
                            doc,
                            k,
                            format!("`{}` is not a JSON pointer", k.name),
                            Some("each key of `body` is a JSON pointer into the rendered body: `/reference`, `/lines/0/sku`".to_string()),
                        );
                        continue;
                    }
                    out.body_pointers.push((k.name.clone(), to_value(v)));
                }
            }
            _ => cx.node(
                doc,
                b,
                format!(
                    "`body` must be the body's text or a mapping of JSON pointers, not {}",
                    b.kind_name()
                ),
                None,
            ),
        }
    }
    (cx.errors.len() == before).then_some(out)
}
