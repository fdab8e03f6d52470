//! `connector: { kind: shopify, ... }` (SPEC 12.1).

use chrono::{Datelike, Utc};

use super::super::ctx::{Ctx, Doc};
use super::super::read::{Fields, text};
use super::shared::{base_url, flag, non_empty, required};
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

/// A host name: dot-separated labels of letters, digits and `-`.
fn valid_host(s: &str) -> bool {
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
fn parse_version(v: &str) -> Option<(i32, u32)> {
    let (y, m) = v.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    let month: u32 = m.parse().ok()?;
    matches!(month, 1 | 4 | 7 | 10).then_some((year, month))
}

/// How many quarterly releases have come out since `v` (0 for the newest).
fn quarters_behind(v: &str, today: chrono::NaiveDate) -> Option<i32> {
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
