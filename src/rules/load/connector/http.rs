//! `connector: { kind: http, requests: { <event>: {...} } }` (SPEC 12.2):
//! request templates, compiled and checked here so a delivery never meets a
//! template it cannot read.

use super::super::ctx::{Ctx, Doc};
use super::super::read::{Fields, fields, list_names, text};
use super::shared::required;
use crate::condition::ExprError;
use crate::order::{Event, Type};
use crate::rules::template::{self, Check, METHODS, Template};
use crate::rules::yaml::{Kind, Node};
use crate::rules::{HttpAnswer, HttpConnector, HttpRequest, Place, Secret};
use crate::suggest::did_you_mean;

/// The keys an `http` connector takes.
pub const KEYS: [&str; 2] = ["kind", "requests"];

/// The keys of one request.
const REQUEST_KEYS: [&str; 5] = ["method", "url", "headers", "body", "answer"];

/// The keys of `answer`.
const ANSWER_KEYS: [&str; 3] = ["id", "rejected_if", "retry_if_status"];

pub fn read(cx: &mut Ctx, doc: &Doc, n: &Node, f: &Fields, order: &Type) -> Option<HttpConnector> {
    let before = cx.errors.len();
    let requests_node = required(
        cx,
        doc,
        n,
        f,
        "http",
        "requests",
        "{ created: { method: POST, url: \"https://api.example/orders\", body: ... } }",
    )?;
    let rf = fields(cx, doc, requests_node, "`requests`", &[])?;
    let mut out = HttpConnector {
        requests: Vec::new(),
        carries: Vec::new(),
        secrets: Vec::new(),
    };
    for (i, (k, v)) in rf.entries.iter().enumerate() {
        if rf.entries[..i].iter().any(|(p, _)| p.name == k.name) {
            continue;
        }
        let event = match k.name.parse::<Event>() {
            Ok(e) => e,
            Err(_) => {
                let all: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
                let hint = did_you_mean(&k.name, all.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("events are {}", list_names(&all)));
                cx.key(doc, k, format!("unknown event `{}`", k.name), Some(hint));
                continue;
            }
        };
        if let Some(r) = request(cx, doc, v, event, order, &mut out.secrets) {
            out.carries.push(event);
            out.requests.push(r);
        }
    }
    if out.requests.is_empty() && cx.errors.len() == before {
        cx.node(
            doc,
            requests_node,
            "an `http` connector needs at least one request",
            Some("e.g. `requests: { created: { method: POST, url: ... } }`".to_string()),
        );
    }
    (cx.errors.len() == before).then_some(out)
}

fn request(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    event: Event,
    order: &Type,
    secrets: &mut Vec<(String, Secret)>,
) -> Option<HttpRequest> {
    let before = cx.errors.len();
    let what = format!("the `{}` request", event.as_str());
    let f = fields(cx, doc, n, &what, &REQUEST_KEYS)?;
    let kind = "http";
    let method = required(cx, doc, n, &f, kind, "method", "POST").and_then(|m| {
        let t = compile(cx, doc, m, "`method`", false, order, secrets)?;
        if t.is_constant() && !METHODS.contains(&t.text()) {
            let hint = METHODS
                .iter()
                .find(|s| s.eq_ignore_ascii_case(t.text()))
                .map(|s| format!("write it in capitals: `{s}`"))
                .unwrap_or_else(|| format!("methods are {}", list_names(&METHODS)));
            cx.node(doc, m, format!("unknown method `{}`", t.text()), Some(hint));
        }
        Some(t)
    });
    let url = required(
        cx,
        doc,
        n,
        &f,
        kind,
        "url",
        "\"https://api.example/orders\"",
    )
    .and_then(|u| {
        let t = compile(cx, doc, u, "`url`", false, order, secrets)?;
        // A URL whose scheme is written is checked now; one that starts
        // with a template is checked when rendered.
        if !(t.text().starts_with('{')
            || t.text().starts_with("http://")
            || t.text().starts_with("https://"))
        {
            cx.node(
                doc,
                u,
                format!("invalid `url` `{}`", t.text()),
                Some("an absolute `http://` or `https://` URL".to_string()),
            );
        }
        Some(t)
    });
    let mut headers = Vec::new();
    let mut content_type_header: Option<String> = None;
    if let Some(h) = f.get("headers")
        && let Some(hf) = fields(cx, doc, h, "`headers`", &[])
    {
        for (i, (k, v)) in hf.entries.iter().enumerate() {
            if hf.entries[..i]
                .iter()
                .any(|(p, _)| p.name.eq_ignore_ascii_case(&k.name))
            {
                cx.key(doc, k, format!("header `{}` is given twice", k.name), None);
                continue;
            }
            if k.name.is_empty()
                || !k
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            {
                cx.key(doc, k, format!("invalid header name `{}`", k.name), None);
                continue;
            }
            if let Some(t) = compile(cx, doc, v, "a header", false, order, secrets) {
                if k.name.eq_ignore_ascii_case("content-type") {
                    content_type_header = Some(t.text().to_ascii_lowercase());
                }
                headers.push((k.name.clone(), t));
            }
        }
    }
    let mut content_type = "text/plain; charset=utf-8";
    let body = f.get("body").and_then(|b| {
        let written = cx.raw_text(doc, b).map(|(t, _)| t).unwrap_or_default();
        let json = match &content_type_header {
            Some(ct) => ct.contains("json"),
            None => matches!(written.trim_start().chars().next(), Some('{' | '[')),
        };
        if json {
            content_type = "application/json";
        }
        compile(cx, doc, b, "`body`", json, order, secrets)
    });
    let answer = match f.get("answer") {
        None => HttpAnswer::default(),
        Some(a) => answer(cx, doc, a).unwrap_or_default(),
    };
    if cx.errors.len() > before {
        return None;
    }
    Some(HttpRequest {
        event,
        method: method?,
        url: url?,
        headers,
        body,
        content_type,
        answer,
        place: Place {
            file: doc.name.clone(),
            line: n.loc.line,
        },
    })
}

/// Compiles a template value, each problem placed inside its text.
fn compile(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    what: &str,
    json: bool,
    order: &Type,
    secrets: &mut Vec<(String, Secret)>,
) -> Option<Template> {
    if !matches!(n.kind, Kind::Str(_) | Kind::Int(_) | Kind::Number(_)) {
        cx.node(
            doc,
            n,
            format!("{what} must be text, not {}", n.kind_name()),
            None,
        );
        return None;
    }
    let (written, refs) = cx.raw_text(doc, n)?;
    match template::compile(&written, &Check { order, json }) {
        Ok(t) => {
            for (inner, value) in refs {
                if !secrets.iter().any(|(n, _)| *n == inner) {
                    secrets.push((inner, Secret(value)));
                }
            }
            Some(t)
        }
        Err(problems) => {
            for p in problems {
                let e = ExprError {
                    span: p.offset..p.offset + p.len,
                    message: p.message,
                    hint: p.hint,
                };
                cx.expr(doc, n, &written, &e);
            }
            None
        }
    }
}

/// `answer: { id, rejected_if, retry_if_status }`.
fn answer(cx: &mut Ctx, doc: &Doc, n: &Node) -> Option<HttpAnswer> {
    let f = fields(cx, doc, n, "`answer`", &ANSWER_KEYS)?;
    let mut out = HttpAnswer::default();
    for key in ["id", "rejected_if"] {
        let Some(v) = f.get(key) else { continue };
        let Some(p) = text(cx, doc, v, &format!("`{key}`")) else {
            continue;
        };
        if !valid_pointer(p) {
            cx.node(
                doc,
                v,
                format!("`{key}` must be a JSON pointer, not `{p}`"),
                Some("a JSON pointer starts with `/`: `/data/id`, `/errors/0`".to_string()),
            );
            continue;
        }
        match key {
            "id" => out.id = Some(p.to_string()),
            _ => out.rejected_if = Some(p.to_string()),
        }
    }
    if let Some(r) = f.get("retry_if_status") {
        let items: Vec<&Node> = match &r.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![r],
        };
        for item in items {
            match item.kind {
                Kind::Int(code) if (400..=599).contains(&code) => {
                    out.retry_if_status.push(code as u16)
                }
                _ => cx.node(
                    doc,
                    item,
                    "`retry_if_status` takes HTTP statuses from 400 to 599",
                    Some(
                        "e.g. `retry_if_status: [409, 423]`; 408, 429 and 5xx are always retried"
                            .to_string(),
                    ),
                ),
            }
        }
    }
    Some(out)
}

/// RFC 6901: empty (the whole document) or `/`-separated, `~` only as `~0`, `~1`.
pub fn valid_pointer(p: &str) -> bool {
    (p.is_empty() || p.starts_with('/')) && {
        let b = p.as_bytes();
        b.iter()
            .enumerate()
            .all(|(i, c)| *c != b'~' || matches!(b.get(i + 1), Some(b'0' | b'1')))
    }
}
