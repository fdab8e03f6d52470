//! Readers the connector kinds share: required keys, non-empty text,
//! `base_url` and flags.

use super::super::ctx::{Ctx, Doc};
use super::super::read::{Fields, text};
use crate::rules::yaml::{Kind, Node};

/// A key a connector of `kind` must have; reported at the block when missing.
pub(super) fn required<'n>(
    cx: &mut Ctx,
    doc: &Doc,
    parent: &Node,
    f: &Fields<'n>,
    kind: &str,
    key: &str,
    example: &str,
) -> Option<&'n Node> {
    let found = f.get(key);
    if found.is_none() {
        cx.node(
            doc,
            parent,
            format!("a `{kind}` connector needs `{key}`"),
            Some(format!("e.g. `{key}: {example}`")),
        );
    }
    found
}

/// A text value that must not be empty (a secret, an id).
pub(super) fn non_empty(cx: &mut Ctx, doc: &Doc, n: &Node, key: &str) -> Option<String> {
    let t = text(cx, doc, n, &format!("`{key}`"))?.to_string();
    if t.trim().is_empty() {
        cx.node(doc, n, format!("the connector's `{key}` is empty"), None);
        return None;
    }
    Some(t)
}

/// `base_url`: absolute http(s), without a trailing `/`.
pub(super) fn base_url(cx: &mut Ctx, doc: &Doc, f: &Fields, replaces: &str) -> Option<String> {
    let b = f.get("base_url")?;
    let u = text(cx, doc, b, "`base_url`").unwrap_or_default();
    if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() <= "https://".len() {
        cx.node(
            doc,
            b,
            format!("invalid `base_url` `{u}`"),
            Some(format!(
                "an absolute `http://` or `https://` URL; it replaces {replaces}"
            )),
        );
    }
    Some(u.trim_end_matches('/').to_string())
}

/// A `true`/`false` key, `default` when absent.
pub(super) fn flag(cx: &mut Ctx, doc: &Doc, f: &Fields, key: &str, default: bool) -> bool {
    match f.get(key) {
        None => default,
        Some(Node {
            kind: Kind::Bool(b),
            ..
        }) => *b,
        Some(other) => {
            cx.node(
                doc,
                other,
                format!(
                    "`{key}` must be `true` or `false`, not {}",
                    other.kind_name()
                ),
                None,
            );
            default
        }
    }
}
