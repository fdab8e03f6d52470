//! Platform connectors as the rules configure them (SPEC 12): which platform,
//! how to reach it, and what it can carry.

use super::template;
use super::{Format, Place, Secret};
use crate::order::Event;

/// A platform connector (SPEC 12): the channel speaks its platform's own API.
#[derive(Clone, Debug)]
pub struct Connector {
    /// Which platform, and how to reach it.
    pub kind: ConnectorKind,
    /// Where it was written.
    pub place: Place,
}

impl Connector {
    /// The kind as written in rules (`shopify`).
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ConnectorKind::Shopify(_) => "shopify",
            ConnectorKind::Ebay(_) => "ebay",
            ConnectorKind::Etsy(_) => "etsy",
            ConnectorKind::WooCommerce(_) => "woocommerce",
            ConnectorKind::Http(_) => "http",
        }
    }

    /// The format its platform's webhooks and order listings come in.
    pub fn format(&self) -> Format {
        match self.kind {
            ConnectorKind::Shopify(_) => Format::Shopify,
            ConnectorKind::Ebay(_) => Format::Ebay,
            ConnectorKind::Etsy(_) => Format::Etsy,
            ConnectorKind::WooCommerce(_) => Format::WooCommerce,
            // Its channel's webhook and poll take the canonical format.
            ConnectorKind::Http(_) => Format::Ordersync,
        }
    }

    /// The platform API version it is pinned to, if the platform has one.
    pub fn api_version(&self) -> Option<&str> {
        match &self.kind {
            ConnectorKind::Shopify(s) => Some(&s.api_version),
            ConnectorKind::Ebay(_) => Some("sell/fulfillment/v1"),
            ConnectorKind::Etsy(_) => Some("v3"),
            // The REST namespace is part of the path (`wc/v3`), not a pin.
            ConnectorKind::WooCommerce(_) => Some("wc/v3"),
            ConnectorKind::Http(_) => None,
        }
    }

    /// The events its platform can be sent.
    pub fn carries(&self) -> &[Event] {
        match &self.kind {
            ConnectorKind::Shopify(_) => &SHOPIFY_CARRIES,
            ConnectorKind::Ebay(_) => &EBAY_CARRIES,
            ConnectorKind::Etsy(_) => &ETSY_CARRIES,
            ConnectorKind::WooCommerce(_) => &WOOCOMMERCE_CARRIES,
            ConnectorKind::Http(h) => &h.carries,
        }
    }

    /// The format its polled items are stored in (re-sync and `diff` read them again).
    pub fn poll_format(&self) -> Format {
        match self.kind {
            ConnectorKind::Shopify(_) => Format::Shopify,
            ConnectorKind::Ebay(_) => Format::Ebay,
            ConnectorKind::Etsy(_) => Format::Etsy,
            ConnectorKind::WooCommerce(_) => Format::WooCommerce,
            ConnectorKind::Http(_) => Format::Ordersync,
        }
    }

    /// True when the connector also lists the platform's orders (`poll`
    /// through it) and reads its webhooks; an `http` connector only delivers,
    /// and its channel's `webhook` and `poll` take the canonical format.
    pub fn reads(&self) -> bool {
        !matches!(self.kind, ConnectorKind::Http(_))
    }
}

/// What the eBay connector can send: tracking (`createShippingFulfillment`)
/// and a seller's cancellation (Post-Order API).
pub const EBAY_CARRIES: [Event; 2] = [Event::Shipped, Event::Cancelled];

/// What the Etsy connector can send: Open API v3 has no call to cancel or
/// refund a receipt, only `createReceiptShipment`.
pub const ETSY_CARRIES: [Event; 1] = [Event::Shipped];

/// What the Shopify connector can send (SPEC 12.1).
pub const SHOPIFY_CARRIES: [Event; 4] = [
    Event::Created,
    Event::Updated,
    Event::Cancelled,
    Event::Shipped,
];

/// What the WooCommerce connector can send (issue 12, section 4).
pub const WOOCOMMERCE_CARRIES: [Event; 3] = [Event::Created, Event::Cancelled, Event::Shipped];

/// The platforms ordersync speaks.
#[derive(Clone, Debug)]
pub enum ConnectorKind {
    /// The Shopify Admin GraphQL API.
    Shopify(ShopifyConnector),
    /// eBay's Sell Fulfillment API, with the OAuth refresh-token grant.
    Ebay(EbayConnector),
    /// Etsy's Open API v3, with OAuth 2 refresh tokens that rotate.
    Etsy(EtsyConnector),
    /// The WooCommerce REST API v3.
    WooCommerce(WooConnector),
    /// Request templates for any other API (SPEC 12.2).
    Http(HttpConnector),
}

/// `connector: { kind: ebay, ... }` (SPEC 12.2).
#[derive(Clone, Debug)]
pub struct EbayConnector {
    /// `https://api.ebay.com`, or what `base_url` says (sandbox, tests).
    pub base_url: String,
    /// The app's Client ID (App ID).
    pub client_id: String,
    /// The app's Client Secret (Cert ID).
    pub client_secret: Secret,
    /// The seller's refresh token: the seed; once one is stored
    /// (`ordersync connector set-token`), the stored one is used.
    pub refresh_token: Secret,
    /// The OAuth scopes asked for on refresh.
    pub scopes: Vec<String>,
    /// `X-EBAY-C-MARKETPLACE-ID` for the Post-Order API (`EBAY-US`).
    pub marketplace_id: String,
    /// The Post-Order `cancelReason` a seller's cancellation gives.
    pub cancel_reason: String,
}

/// The scopes asked for when none are written: orders read and written.
pub const EBAY_SCOPES: [&str; 1] = ["https://api.ebay.com/oauth/api_scope/sell.fulfillment"];

/// `connector: { kind: etsy, ... }` (SPEC 12.2).
#[derive(Clone, Debug)]
pub struct EtsyConnector {
    /// `https://api.etsy.com`, or what `base_url` says (tests, proxies).
    pub base_url: String,
    /// The shop's numeric id.
    pub shop_id: String,
    /// The app's API keystring (also the OAuth `client_id`).
    pub keystring: String,
    /// The app's shared secret (sent in `x-api-key` as `keystring:shared_secret`).
    pub shared_secret: Secret,
    /// The seed refresh token; Etsy rotates it on every refresh and the
    /// newest is kept in the store, which wins from then on.
    pub refresh_token: Secret,
}

/// `connector: { kind: woocommerce, ... }`.
#[derive(Clone, Debug)]
pub struct WooConnector {
    /// The store's address (`https://shop.example`), without a trailing `/`.
    pub base_url: String,
    /// The REST API key's consumer key (`ck_...`), the Basic auth user.
    pub consumer_key: Secret,
    /// The REST API key's consumer secret (`cs_...`), the Basic auth password.
    pub consumer_secret: Secret,
    /// Tracking notes are customer notes, which WooCommerce e-mails to the buyer.
    pub notify_customer: bool,
}

impl WooConnector {
    /// `{base_url}/wp-json/wc/v3`.
    pub fn api(&self) -> String {
        format!("{}/wp-json/wc/v3", self.base_url.trim_end_matches('/'))
    }
}

/// `connector: { kind: http, requests: { <event>: {...} } }`: one request
/// template per event it carries.
#[derive(Clone, Debug)]
pub struct HttpConnector {
    /// The requests, in the order written.
    pub requests: Vec<HttpRequest>,
    /// The events that have a request.
    pub carries: Vec<Event>,
    /// Each `${...}` written in a template (its inside, `SUPPLIER_TOKEN`) and
    /// its value: put into the stored request only when it is sent.
    pub secrets: Vec<(String, Secret)>,
}

impl HttpConnector {
    /// The request for `event`.
    pub fn request(&self, event: Event) -> Option<&HttpRequest> {
        self.requests.iter().find(|r| r.event == event)
    }

    /// The value of `${inner}`, as these rules give it.
    pub fn secret(&self, inner: &str) -> Option<String> {
        self.secrets
            .iter()
            .find(|(n, _)| n == inner)
            .map(|(_, s)| s.0.clone())
    }
}

/// `requests.<event>`: how one event is sent.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// The event it sends.
    pub event: Event,
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE` (a template).
    pub method: template::Template,
    /// An absolute `http(s)` URL once rendered.
    pub url: template::Template,
    /// Header names and their value templates.
    pub headers: Vec<(String, template::Template)>,
    /// The body, if any.
    pub body: Option<template::Template>,
    /// The body's `Content-Type` when no header names one.
    pub content_type: &'static str,
    /// How the answer is read.
    pub answer: HttpAnswer,
    /// Where it was written.
    pub place: Place,
}

/// `answer:` of a request template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HttpAnswer {
    /// JSON pointer to the destination's id in a 2xx answer, linked.
    pub id: Option<String>,
    /// JSON pointer: present and not empty in a 2xx answer means rejected.
    pub rejected_if: Option<String>,
    /// Statuses retried besides 408, 429 and 5xx.
    pub retry_if_status: Vec<u16>,
}

/// `connector: { kind: shopify, ... }`.
#[derive(Clone, Debug)]
pub struct ShopifyConnector {
    /// The store's myshopify domain (`acme.myshopify.com`).
    pub shop: String,
    /// The pinned Admin API version (`2025-10`).
    pub api_version: String,
    /// The Admin API access token, sent as `X-Shopify-Access-Token`.
    pub token: Secret,
    /// `https://<shop>`, or what `base_url` says (tests, proxies).
    pub base_url: String,
    /// Shopify's own e-mails to the customer on fulfilment and cancel.
    pub notify_customer: bool,
    /// Put the stock back when an order is cancelled.
    pub restock_on_cancel: bool,
}

impl ShopifyConnector {
    /// `{base_url}/admin/api/{api_version}/graphql.json`.
    pub fn endpoint(&self) -> String {
        format!(
            "{}/admin/api/{}/graphql.json",
            self.base_url.trim_end_matches('/'),
            self.api_version
        )
    }
}
