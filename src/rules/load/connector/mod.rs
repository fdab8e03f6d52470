//! `connector:` on a channel (SPEC 12): read, checked, and what it changes
//! about the channel's `deliver`, `poll` and `webhook`.

use chrono::Datelike;

use super::ctx::{Ctx, Doc};
use super::read::{Fields, fields, list_names, text};
use crate::order::Type;
use crate::rules::yaml::{Kind, Node};
use crate::rules::{Connector, ConnectorKind, Place};
use crate::suggest::did_you_mean;

/// The connector kinds this build speaks.
pub const KINDS: [&str; 5] = ["shopify", "ebay", "etsy", "woocommerce", "http"];

mod ebay;
mod etsy;
mod http;
mod shopify;
mod woocommerce;

pub use http::valid_pointer;

/// Reads a `connector:` block; `None` when it is unusable (every problem reported).
pub fn connector(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    channel: &str,
    order: &Type,
) -> Option<Connector> {
    let place = Place {
        file: doc.name.clone(),
        line: n.loc.line,
    };
    let Kind::Map(_) = &n.kind else {
        cx.node(
            doc,
            n,
            format!("`connector` must be a mapping, not {}", n.kind_name()),
            Some("e.g. `connector: { kind: shopify, shop: acme.myshopify.com, ... }`".to_string()),
        );
        return None;
    };
    // Keys are checked per kind, once the kind is known.
    let all = fields(cx, doc, n, "`connector`", &[])?;
    let Some(kind_node) = all.get("kind") else {
        cx.node(
            doc,
            n,
            format!("the connector of channel `{channel}` needs a `kind`"),
            Some(format!("kinds are {}", list_names(&KINDS))),
        );
        return None;
    };
    let kind = text(cx, doc, kind_node, "`kind`")?;
    match kind {
        "shopify" => {
            let f = fields(cx, doc, n, "a `shopify` connector", &shopify::KEYS)?;
            let s = shopify::read(cx, doc, n, &f)?;
            Some(Connector {
                kind: ConnectorKind::Shopify(s),
                place,
            })
        }
        "ebay" => {
            let f = fields(cx, doc, n, "an `ebay` connector", &ebay::KEYS)?;
            let e = ebay::read(cx, doc, n, &f)?;
            Some(Connector {
                kind: ConnectorKind::Ebay(e),
                place,
            })
        }
        "etsy" => {
            let f = fields(cx, doc, n, "an `etsy` connector", &etsy::KEYS)?;
            let e = etsy::read(cx, doc, n, &f)?;
            Some(Connector {
                kind: ConnectorKind::Etsy(e),
                place,
            })
        }
        "woocommerce" => {
            let f = fields(cx, doc, n, "a `woocommerce` connector", &woocommerce::KEYS)?;
            let w = woocommerce::read(cx, doc, n, &f)?;
            Some(Connector {
                kind: ConnectorKind::WooCommerce(w),
                place,
            })
        }
        "http" => {
            let f = fields(cx, doc, n, "an `http` connector", &http::KEYS)?;
            let h = http::read(cx, doc, n, &f, order)?;
            Some(Connector {
                kind: ConnectorKind::Http(h),
                place,
            })
        }
        other => {
            let hint = did_you_mean(other, KINDS)
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("kinds are {}", list_names(&KINDS)));
            cx.node(
                doc,
                kind_node,
                format!("unknown connector kind `{other}`"),
                Some(hint),
            );
            None
        }
    }
}

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

pub(super) fn valid_host(s: &str) -> bool {
    !s.is_empty()
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `YYYY-MM` with a month Shopify releases in (01, 04, 07, 10).
pub fn parse_version(v: &str) -> Option<(i32, u32)> {
    let (y, m) = v.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    let month: u32 = m.parse().ok()?;
    matches!(month, 1 | 4 | 7 | 10).then_some((year, month))
}

/// How many quarterly releases have come out since `v` (0 for the newest).
pub fn quarters_behind(v: &str, today: chrono::NaiveDate) -> Option<i32> {
    let (year, month) = parse_version(v)?;
    let quarter = |y: i32, m: u32| y * 4 + (m as i32 - 1) / 3;
    Some(quarter(today.year(), today.month()) - quarter(year, month))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_quarterly() {
        assert_eq!(parse_version("2025-10"), Some((2025, 10)));
        assert_eq!(parse_version("2025-11"), None);
        assert_eq!(parse_version("2025-1"), None);
        assert_eq!(parse_version("25-10"), None);
        let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        assert_eq!(quarters_behind("2026-10", day), Some(0));
        assert_eq!(quarters_behind("2025-10", day), Some(4));
        assert_eq!(quarters_behind("2026-01", day), Some(3));
    }

    #[test]
    fn hosts() {
        assert!(valid_host("acme.myshopify.com"));
        assert!(!valid_host("https://acme.myshopify.com"));
        assert!(!valid_host("acme"));
        assert!(!valid_host("a..b"));
    }
}
