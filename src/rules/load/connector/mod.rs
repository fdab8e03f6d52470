//! `connector:` on a channel (SPEC 12): read, checked, and what it changes
//! about the channel's `deliver`, `poll` and `webhook`.

use super::ctx::{Ctx, Doc};
use super::read::{fields, list_names, text};
use crate::order::Type;
use crate::rules::yaml::{Kind, Node};
use crate::rules::{Connector, ConnectorKind, Place};
use crate::suggest::did_you_mean;

/// The connector kinds this build speaks.
pub const KINDS: [&str; 5] = ["shopify", "ebay", "etsy", "woocommerce", "http"];

mod ebay;
mod etsy;
mod http;
mod shared;
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
