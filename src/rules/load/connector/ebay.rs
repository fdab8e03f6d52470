//! `connector: { kind: ebay, ... }` (SPEC 12.2).

use super::super::ctx::{Ctx, Doc};
use super::super::read::{Fields, list_names, text};
use super::shared::{base_url, non_empty, required};
use crate::rules::yaml::{Kind, Node};
use crate::rules::{EBAY_SCOPES, EbayConnector, Secret};

/// The keys an `ebay` connector takes.
pub const KEYS: [&str; 8] = [
    "kind",
    "base_url",
    "client_id",
    "client_secret",
    "refresh_token",
    "scopes",
    "marketplace_id",
    "cancel_reason",
];

/// The Post-Order API's reasons a seller may give (CancelReasonEnum).
const SELLER_REASONS: [&str; 3] = [
    "OUT_OF_STOCK_OR_CANNOT_FULFILL",
    "BUYER_ASKED_CANCEL",
    "ADDRESS_ISSUES",
];

pub fn read(cx: &mut Ctx, doc: &Doc, n: &Node, f: &Fields) -> Option<EbayConnector> {
    let before = cx.errors.len();
    let secret = |cx: &mut Ctx, key: &str, example: &str| {
        required(cx, doc, n, f, "ebay", key, example).and_then(|v| non_empty(cx, doc, v, key))
    };
    let client_id = secret(cx, "client_id", "\"${EBAY_CLIENT_ID}\"");
    let client_secret = secret(cx, "client_secret", "\"${EBAY_CLIENT_SECRET}\"");
    let refresh_token = secret(cx, "refresh_token", "\"${EBAY_REFRESH_TOKEN}\"");
    let base_url = base_url(cx, doc, f, "`https://api.ebay.com`");
    let scopes = match f.get("scopes") {
        None => EBAY_SCOPES.iter().map(|s| s.to_string()).collect(),
        Some(node) => {
            let items: Vec<&Node> = match &node.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![node],
            };
            let mut out = Vec::new();
            for item in items {
                if let Some(s) = text(cx, doc, item, "a scope") {
                    if !s.starts_with("https://") || s.contains(' ') {
                        cx.node(
                            doc,
                            item,
                            format!("`{s}` is not an eBay OAuth scope"),
                            Some(format!("scopes are URLs, e.g. `{}`", EBAY_SCOPES[0])),
                        );
                    }
                    out.push(s.to_string());
                }
            }
            if out.is_empty() {
                cx.node(
                    doc,
                    node,
                    "`scopes` is empty",
                    Some(format!("leave it out for `{}`", EBAY_SCOPES[0])),
                );
            }
            out
        }
    };
    let marketplace_id = match f.get("marketplace_id") {
        None => "EBAY-US".to_string(),
        Some(m) => text(cx, doc, m, "`marketplace_id`")
            .map(str::to_string)
            .unwrap_or_default(),
    };
    if let Some(m) = f.get("marketplace_id")
        && !["EBAY-US", "EBAY-UK", "EBAY-DE"].contains(&marketplace_id.as_str())
    {
        cx.node(
            doc,
            m,
            format!("the Post-Order API does not serve marketplace `{marketplace_id}`"),
            Some("it serves `EBAY-US`, `EBAY-UK` and `EBAY-DE`".to_string()),
        );
    }
    let cancel_reason = match f.get("cancel_reason") {
        None => SELLER_REASONS[0].to_string(),
        Some(r) => {
            let t = text(cx, doc, r, "`cancel_reason`").unwrap_or_default();
            if !SELLER_REASONS.contains(&t) {
                let hint = crate::suggest::did_you_mean(t, SELLER_REASONS)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        format!("a seller may give {}", list_names(&SELLER_REASONS))
                    });
                cx.node(
                    doc,
                    r,
                    format!("`{t}` is not a seller's cancel reason"),
                    Some(hint),
                );
            }
            t.to_string()
        }
    };
    if cx.errors.len() > before {
        return None;
    }
    Some(EbayConnector {
        base_url: base_url.unwrap_or_else(|| "https://api.ebay.com".to_string()),
        client_id: client_id?,
        client_secret: Secret(client_secret?),
        refresh_token: Secret(refresh_token?),
        scopes,
        marketplace_id,
        cancel_reason,
    })
}
