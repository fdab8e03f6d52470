//! Pass 2: `${NAME}`, `${NAME:-default}` and `${file:PATH}` in text values.

use super::ctx::{Ctx, Doc, RawText, locate};
use super::read::io_reason;
use crate::rules::yaml::{Kind, Loc, Node};

/// Interpolates every file's values in place.
pub(super) fn all(cx: &mut Ctx, docs: &mut [Doc]) {
    for doc in docs {
        let mut root = std::mem::replace(
            &mut doc.root,
            Node {
                loc: Loc::default(),
                kind: Kind::Null,
            },
        );
        interpolate(cx, doc, &mut root);
        doc.root = root;
    }
}

/// Replaces `${NAME}` and `${file:PATH}` in every text value; `$${` writes `${`.
fn interpolate(cx: &mut Ctx, doc: &Doc, n: &mut Node) {
    let node_loc = n.loc;
    match &mut n.kind {
        Kind::Str(s) if s.contains("${") => {
            let original = s.clone();
            let mut out = String::with_capacity(s.len());
            let mut rest = original.as_str();
            let mut consumed = 0usize;
            let mut failed = false;
            let mut refs: Vec<(String, String)> = Vec::new();
            while let Some(i) = rest.find("${") {
                if i > 0 && rest.as_bytes()[i - 1] == b'$' {
                    out.push_str(&rest[..i - 1]);
                    out.push_str("${");
                    rest = &rest[i + 2..];
                    consumed += i + 2;
                    continue;
                }
                out.push_str(&rest[..i]);
                let Some(close) = rest[i..].find('}') else {
                    let loc = locate(doc, node_loc, &original, consumed + i);
                    cx.at(
                        doc,
                        loc,
                        2,
                        "unclosed `${` in value",
                        Some("write `${NAME}`, or `$${` for a literal `${`".to_string()),
                    );
                    failed = true;
                    break;
                };
                let inner = &rest[i + 2..i + close];
                let loc = locate(doc, node_loc, &original, consumed + i);
                let width = close + 1;
                let before = out.len();
                if !reference(cx, doc, inner, loc, width, &mut out) {
                    failed = true;
                }
                refs.push((inner.to_string(), out[before..].to_string()));
                consumed += i + close + 1;
                rest = &rest[i + close + 1..];
            }
            if !failed {
                out.push_str(rest);
                *s = out;
                cx.raw.push(RawText {
                    file: doc.name.clone(),
                    loc: node_loc,
                    text: original,
                    refs,
                });
            }
        }
        Kind::Seq(items) => {
            for item in items {
                interpolate(cx, doc, item);
            }
        }
        Kind::Map(entries) => {
            for (_, v) in entries {
                interpolate(cx, doc, v);
            }
        }
        _ => {}
    }
}

/// Writes the value of one `${inner}` (at `loc`, `width` wide) to `out`;
/// false when it has none, which is reported.
fn reference(
    cx: &mut Ctx,
    doc: &Doc,
    inner: &str,
    loc: Loc,
    width: usize,
    out: &mut String,
) -> bool {
    let mut ok = true;
    if let Some(file) = inner.strip_prefix("file:") {
        let path = cx.base.join(file);
        match std::fs::read_to_string(&path) {
            Ok(t) => out.push_str(t.trim()),
            Err(e) => {
                cx.at(
                    doc,
                    loc,
                    width,
                    format!("cannot read `{file}`: {}", io_reason(&e)),
                    None,
                );
                ok = false;
            }
        }
    } else if let Some((var, default)) = inner.split_once(":-").filter(|(v, _)| valid_var(v)) {
        match (cx.opts.env)(var) {
            Some(v) if !v.is_empty() => out.push_str(&v),
            _ => out.push_str(default),
        }
    } else if !valid_var(inner) {
        cx.at(
            doc,
            loc,
            width,
            format!("invalid variable name `{inner}`"),
            Some("write `${NAME}`, `${NAME:-default}` or `${file:PATH}`".to_string()),
        );
        ok = false;
    } else {
        match (cx.opts.env)(inner) {
            Some(v) => out.push_str(&v),
            None => {
                cx.at(
                    doc,
                    loc,
                    width,
                    format!("environment variable `{inner}` is not set"),
                    Some("set it in the service's environment, or use `${file:PATH}` for a credential".to_string()),
                );
                ok = false;
            }
        }
    }
    ok
}

fn valid_var(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
