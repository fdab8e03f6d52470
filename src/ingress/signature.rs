//! Webhook signatures (SPEC 3.5, 6.1, 6.3): HMAC-SHA256 over the raw body,
//! checked before anything is parsed, compared in constant time.
//!
//! - ordersync's own format, and ordersync's deliveries: header
//!   `X-Ordersync-Signature: sha256=<hex>`.
//! - Shopify: header `X-Shopify-Hmac-Sha256: <base64>`.
//! - WooCommerce: header `X-WC-Webhook-Signature: <base64>` (WooCommerce
//!   signs the JSON body it sends with the webhook's secret).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::rules::Format;

type HmacSha256 = Hmac<Sha256>;

/// The header a format's signature comes in, as its senders write it
/// (HTTP header names match ignoring case).
pub fn header_name(format: Format) -> &'static str {
    match format {
        // eBay and Etsy are read from their APIs by polling, never by webhook.
        Format::Ordersync | Format::Ebay | Format::Etsy => "X-Ordersync-Signature",
        Format::Shopify => "X-Shopify-Hmac-Sha256",
        Format::WooCommerce => "X-WC-Webhook-Signature",
    }
}

/// True if `signature` (the header's value) is the HMAC of `body` under `secret`.
/// Any malformed or missing signature is simply not valid.
pub fn verify(format: Format, secret: &[u8], body: &[u8], signature: Option<&str>) -> bool {
    let Some(signature) = signature else {
        return false;
    };
    let expected = match format {
        Format::Ordersync | Format::Ebay | Format::Etsy => signature
            .trim()
            .strip_prefix("sha256=")
            .and_then(hex_decode),
        Format::Shopify | Format::WooCommerce => base64::engine::general_purpose::STANDARD
            .decode(signature.trim())
            .ok(),
    };
    let Some(expected) = expected else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&expected).is_ok()
}

/// Compares two secrets (an admin token) in time that depends on neither:
/// both are hashed first, so not even their lengths show.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest as _;
    let (x, y) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The `X-Ordersync-Signature` value for `body`: `sha256=<hex>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format!("sha256={}", hex(&mac(secret, body)))
}

/// Shopify's `X-Shopify-Hmac-Sha256` value for `body` (for tests and tools).
pub fn sign_shopify(secret: &[u8], body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(mac(secret, body))
}

/// WooCommerce's `X-WC-Webhook-Signature` value for `body` (for tests and tools).
pub fn sign_woocommerce(secret: &[u8], body: &[u8]) -> String {
    sign_shopify(secret, body)
}

fn mac(secret: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies_both_schemes() {
        let body = br#"{"id":"evt-1","event":"created","order":{"id":"1"}}"#;
        let sig = sign(b"s3cret", body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify(Format::Ordersync, b"s3cret", body, Some(&sig)));
        assert!(verify(
            Format::Ordersync,
            b"s3cret",
            body,
            Some(&sig.to_uppercase().replace("SHA256=", "sha256="))
        ));
        assert!(!verify(Format::Ordersync, b"other", body, Some(&sig)));
        assert!(!verify(Format::Ordersync, b"s3cret", body, None));
        assert!(!verify(
            Format::Ordersync,
            b"s3cret",
            body,
            Some("sha256=zz")
        ));
        assert!(!verify(Format::Ordersync, b"s3cret", body, Some(&sig[7..])));

        let shop = sign_shopify(b"s3cret", body);
        assert!(verify(Format::Shopify, b"s3cret", body, Some(&shop)));
        assert!(!verify(
            Format::Shopify,
            b"s3cret",
            body,
            Some("not base64!")
        ));

        let woo = sign_woocommerce(b"s3cret", body);
        assert!(verify(Format::WooCommerce, b"s3cret", body, Some(&woo)));
        assert!(!verify(Format::WooCommerce, b"other", body, Some(&woo)));
        assert!(!verify(Format::WooCommerce, b"s3cret", body, None));
    }

    #[test]
    fn tokens_compare_equal_only_when_equal() {
        assert!(same(b"s3cret", b"s3cret"));
        assert!(!same(b"s3cret", b"s3cres"));
        assert!(!same(b"s3cret", b"s3cret "));
        assert!(!same(b"", b"x"));
    }

    #[test]
    fn one_changed_byte_breaks_the_signature() {
        let body =
            br#"{"id":"evt-1","event":"created","order":{"id":"1","total_price":20}}"#.to_vec();
        let sig = sign(b"k", &body);
        for i in 0..body.len() {
            let mut changed = body.clone();
            changed[i] ^= 1;
            assert!(
                !verify(Format::Ordersync, b"k", &changed, Some(&sig)),
                "byte {i}"
            );
        }
    }

    /// RFC 4231 test case 2.
    #[test]
    fn matches_the_rfc_vector() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
