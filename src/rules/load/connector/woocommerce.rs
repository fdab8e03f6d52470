//! `connector: { kind: woocommerce, ... }` (issue 12, section 4).

use super::super::ctx::{Ctx, Doc};
use super::super::read::Fields;
use super::shared::{base_url, flag, non_empty, required};
use crate::rules::yaml::Node;
use crate::rules::{Secret, WooConnector};

/// The keys a `woocommerce` connector takes.
pub const KEYS: [&str; 5] = [
    "kind",
    "base_url",
    "consumer_key",
    "consumer_secret",
    "notify_customer",
];

pub fn read(cx: &mut Ctx, doc: &Doc, n: &Node, f: &Fields) -> Option<WooConnector> {
    let before = cx.errors.len();
    let given = required(
        cx,
        doc,
        n,
        f,
        "woocommerce",
        "base_url",
        "https://shop.example",
    )
    .is_some();
    let url = if given {
        base_url(cx, doc, f, "nothing: WooCommerce has no host of its own")
    } else {
        None
    };
    if let (Some(u), Some(node)) = (&url, f.get("base_url"))
        && u.starts_with("http://")
        && !is_loopback(u)
    {
        cx.warn(
            doc,
            node,
            format!("`{u}` is plain HTTP: WooCommerce reads Basic auth only over HTTPS"),
            Some("over HTTP WooCommerce expects OAuth 1.0a signatures, which ordersync does not send: use `https://` (or a proxy that terminates TLS for WordPress)".to_string()),
        );
    }
    let key = required(
        cx,
        doc,
        n,
        f,
        "woocommerce",
        "consumer_key",
        "\"${WC_CONSUMER_KEY}\"",
    )
    .and_then(|t| non_empty(cx, doc, t, "consumer_key"));
    let secret = required(
        cx,
        doc,
        n,
        f,
        "woocommerce",
        "consumer_secret",
        "\"${WC_CONSUMER_SECRET}\"",
    )
    .and_then(|t| non_empty(cx, doc, t, "consumer_secret"));
    let notify_customer = flag(cx, doc, f, "notify_customer", false);
    if cx.errors.len() > before {
        return None;
    }
    Some(WooConnector {
        notify_customer,
        base_url: url?,
        consumer_key: Secret(key?),
        consumer_secret: Secret(secret?),
    })
}

/// `http://127.0.0.1:...` and `http://localhost...`: tests and local proxies.
fn is_loopback(url: &str) -> bool {
    let host = url
        .trim_start_matches("http://")
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    host == "localhost" || host == "127.0.0.1" || host == "[::1]"
}
