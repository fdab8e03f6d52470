//! `connector: { kind: etsy, ... }` (SPEC 12.2).

use super::super::ctx::{Ctx, Doc};
use super::super::read::Fields;
use super::shared::{base_url, non_empty, required};
use crate::rules::yaml::Node;
use crate::rules::{EtsyConnector, Secret};

/// The keys an `etsy` connector takes.
pub const KEYS: [&str; 6] = [
    "kind",
    "base_url",
    "shop_id",
    "keystring",
    "shared_secret",
    "refresh_token",
];

pub fn read(cx: &mut Ctx, doc: &Doc, n: &Node, f: &Fields) -> Option<EtsyConnector> {
    let before = cx.errors.len();
    let value = |cx: &mut Ctx, key: &str, example: &str| {
        required(cx, doc, n, f, "etsy", key, example).and_then(|v| non_empty(cx, doc, v, key))
    };
    let shop_id = value(cx, "shop_id", "\"12345678\"");
    if let (Some(id), Some(node)) = (&shop_id, f.get("shop_id"))
        && (!id.bytes().all(|b| b.is_ascii_digit()) || id.starts_with('0'))
    {
        cx.node(
            doc,
            node,
            format!("`shop_id` must be the shop's numeric id, not `{id}`"),
            Some(
                "the number in `GET /v3/application/users/{user_id}/shops`, e.g. `\"12345678\"`"
                    .to_string(),
            ),
        );
    }
    let keystring = value(cx, "keystring", "\"${ETSY_KEYSTRING}\"");
    let shared_secret = value(cx, "shared_secret", "\"${ETSY_SHARED_SECRET}\"");
    let refresh_token = value(cx, "refresh_token", "\"${ETSY_REFRESH_TOKEN}\"");
    let base_url = base_url(cx, doc, f, "`https://api.etsy.com`");
    if cx.errors.len() > before {
        return None;
    }
    Some(EtsyConnector {
        base_url: base_url.unwrap_or_else(|| "https://api.etsy.com".to_string()),
        shop_id: shop_id?,
        keystring: keystring?,
        shared_secret: Secret(shared_secret?),
        refresh_token: Secret(refresh_token?),
    })
}
