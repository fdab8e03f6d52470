//! `connector: { kind: shopify, ... }` (SPEC 12.1).

use chrono::Utc;

use super::super::ctx::{Ctx, Doc};
use super::super::read::{Fields, text};
use super::{base_url, flag, non_empty, parse_version, quarters_behind, required, valid_host};
use crate::rules::yaml::{Kind, Node};
use crate::rules::{Secret, ShopifyConnector};

/// The keys a `shopify` connector takes.
pub const KEYS: [&str; 7] = [
    "kind",
    "shop",
    "api_version",
    "token",
    "base_url",
    "notify_customer",
    "restock_on_cancel",
];

pub fn read(cx: &mut Ctx, doc: &Doc, n: &Node, f: &Fields) -> Option<ShopifyConnector> {
    let before = cx.errors.len();
    let shop = required(cx, doc, n, f, "shopify", "shop", "acme.myshopify.com")
        .and_then(|s| text(cx, doc, s, "`shop`").map(|t| (s, t.to_string())));
    if let Some((node, shop)) = &shop
        && !valid_host(shop)
    {
        cx.node(
            doc,
            node,
            format!("`shop` must be the store's domain, not `{shop}`"),
            Some("the myshopify domain, e.g. `acme.myshopify.com`".to_string()),
        );
    }
    let version = required(cx, doc, n, f, "shopify", "api_version", "\"2025-10\"").map(|v| {
        let text = v.scalar_text().unwrap_or_default();
        (v, text)
    });
    if let Some((node, v)) = &version {
        if !matches!(node.kind, Kind::Str(_)) || parse_version(v).is_none() {
            cx.node(
                doc,
                node,
                format!("`api_version` must be `YYYY-MM`, not `{v}`"),
                Some("quote it: `api_version: \"2025-10\"` (Shopify releases one each quarter: 01, 04, 07, 10)".to_string()),
            );
        } else if let Some(age) = quarters_behind(v, Utc::now().date_naive())
            && age > 4
        {
            cx.warn(
                doc,
                node,
                format!("Shopify API version `{v}` is {age} quarters old and out of support"),
                Some("Shopify serves its oldest supported version instead of an unsupported one: pin a version from the last four quarters".to_string()),
            );
        }
    }
    let token = required(
        cx,
        doc,
        n,
        f,
        "shopify",
        "token",
        "\"${SHOPIFY_ADMIN_TOKEN}\"",
    )
    .and_then(|t| non_empty(cx, doc, t, "token"));
    let base_url = base_url(cx, doc, f, "`https://<shop>`");
    let notify_customer = flag(cx, doc, f, "notify_customer", false);
    let restock_on_cancel = flag(cx, doc, f, "restock_on_cancel", true);
    if cx.errors.len() > before {
        return None;
    }
    let (_, shop) = shop?;
    let (_, api_version) = version?;
    let token = token?;
    Some(ShopifyConnector {
        base_url: base_url.unwrap_or_else(|| format!("https://{shop}")),
        shop,
        api_version,
        token: Secret(token),
        notify_customer,
        restock_on_cancel,
    })
}
