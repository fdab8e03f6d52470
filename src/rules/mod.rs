//! The control plane: a rules file (SPEC 3) read, validated and compiled into a
//! [`RuleSet`], the only form the engine sees.
//!
//! `yaml` reads text into a tree with a place on every node; `load` walks that
//! tree, interpolates `${ENV}` and `${file:PATH}`, checks everything SPEC 3.4
//! lists and compiles every expression, collecting every problem as a
//! [`RuleError`]. A `RuleSet` is built whole or not at all and never changes
//! afterwards: reloading builds a new one beside it.

mod connector;
pub mod error;
mod load;
pub mod template;
pub use load::{parse_duration, parse_schedule};
pub mod yaml;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::condition::{Condition, Rates};
use crate::order::{Event, Type};
use crate::value::Value;

pub use connector::{
    Connector, ConnectorKind, EBAY_CARRIES, EBAY_SCOPES, ETSY_CARRIES, EbayConnector,
    EtsyConnector, HttpAnswer, HttpConnector, HttpRequest, SHOPIFY_CARRIES, ShopifyConnector,
    WOOCOMMERCE_CARRIES, WooConnector,
};
pub use error::{RuleError, render_all};
pub use load::{LoadOptions, load, load_sources, load_str, load_with};

/// A channel's role (SPEC 2), which decides its default routes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The merchant's store or OMS.
    CommercePlatform,
    /// Where buyers order.
    Marketplace,
    /// A shipping tool, 3PL or dropship supplier.
    Fulfillment,
}

impl Role {
    /// The role as written in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::CommercePlatform => "commerce_platform",
            Role::Marketplace => "marketplace",
            Role::Fulfillment => "fulfillment",
        }
    }
}

/// The payload format of a webhook or poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ordersync's canonical update (SPEC 3.5).
    Ordersync,
    /// Shopify's order webhooks.
    Shopify,
    /// eBay's order JSON (Sell Fulfillment API `getOrders`), as the eBay connector polls it.
    Ebay,
    /// Etsy's receipt JSON (Open API v3 `getShopReceipts`), as the Etsy connector polls it.
    Etsy,
    /// WooCommerce's order webhooks (REST API v3 order JSON).
    WooCommerce,
}

/// A secret from the environment or a credential file; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Where something was written, for traces: `rules.yaml:41`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Place {
    /// The file, as the user named it.
    pub file: Arc<str>,
    /// The line, from 1.
    pub line: u32,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// `POST /webhooks/{channel}`.
#[derive(Clone, Debug)]
pub struct Webhook {
    /// How the body is read.
    pub format: Format,
    /// The HMAC key senders sign with.
    pub secret: Secret,
}

/// Polling for channels without webhooks.
#[derive(Clone, Debug, PartialEq)]
pub struct Poll {
    /// Cron with seconds, as tokio-cron-scheduler reads it.
    pub schedule: String,
    /// `GET url?since=<cursor>`; empty when the channel's connector polls.
    pub url: String,
    /// How the response is read.
    pub format: Format,
    /// How far back each run looks past the cursor, to catch late writes.
    pub overlap: Duration,
}

/// Retry policy for deliveries.
#[derive(Clone, Debug, PartialEq)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The first back-off.
    pub first: Duration,
    /// The longest back-off.
    pub max: Duration,
}

/// How updates are handed to a destination.
#[derive(Clone, Debug)]
pub struct Deliver {
    /// Where updates are POSTed; empty for a channel with a connector, which
    /// speaks its platform's API instead.
    pub url: String,
    /// Signs outgoing requests when set.
    pub secret: Option<Secret>,
    /// Events this destination takes.
    pub accepts: Vec<Event>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: Retry,
    /// Fields that must be non-empty, else the decision is `draft`.
    pub require: Vec<String>,
    /// What to do with a `label` event's label (SPEC 13).
    pub label: Label,
}

/// `deliver.label`: how a destination wants shipping labels (SPEC 13).
#[derive(Clone, Debug, Default)]
pub struct Label {
    /// The destination wrote `label:`. One that did not gets label events
    /// as before: the envelope as decided, the label untouched.
    pub configured: bool,
    /// `convert: pdf` turns HTML labels into PDF; `none` sends them as received.
    pub convert: Convert,
    /// The page an HTML label is printed on.
    pub page: Page,
    /// How the label travels.
    pub send: LabelSend,
    /// Where `send: email` mails it.
    pub email: Option<LabelEmail>,
    /// The warning `check` shows at the `convert: pdf` line on a host without
    /// Chromium: the loader knows the place, the caller knows the host.
    pub needs_chromium: Option<RuleError>,
}

/// `deliver.label.convert`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Convert {
    /// As received.
    #[default]
    None,
    /// HTML to PDF; PDF and ZPL pass through.
    Pdf,
}

/// `deliver.label.page`: the paper an HTML label is printed on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Page {
    /// 4 x 6 inches, the thermal label printers' size.
    #[default]
    In4x6,
    /// ISO A6, 105 x 148 mm.
    A6,
    /// 100 x 150 mm, the metric thermal label.
    Mm100x150,
    /// US letter, 8.5 x 11 inches.
    Letter,
    /// ISO A4, 210 x 297 mm.
    A4,
}

impl Page {
    /// Every page, as written in rules.
    pub const ALL: [Page; 5] = [
        Page::In4x6,
        Page::A6,
        Page::Mm100x150,
        Page::Letter,
        Page::A4,
    ];

    /// As written in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            Page::In4x6 => "4x6in",
            Page::A6 => "A6",
            Page::Mm100x150 => "100x150mm",
            Page::Letter => "letter",
            Page::A4 => "A4",
        }
    }

    /// Width and height in PDF points (1/72 in), exactly.
    pub fn points(self) -> (f64, f64) {
        let mm = |w: f64, h: f64| (w * 72.0 / 25.4, h * 72.0 / 25.4);
        match self {
            Page::In4x6 => (288.0, 432.0),
            Page::A6 => mm(105.0, 148.0),
            Page::Mm100x150 => mm(100.0, 150.0),
            Page::Letter => (612.0, 792.0),
            Page::A4 => mm(210.0, 297.0),
        }
    }

    /// The CSS `@page { size }` value; written in the page's own unit so the
    /// PDF comes out exactly that size.
    pub fn css_size(self) -> &'static str {
        match self {
            Page::In4x6 => "4in 6in",
            Page::A6 => "105mm 148mm",
            Page::Mm100x150 => "100mm 150mm",
            Page::Letter => "8.5in 11in",
            Page::A4 => "210mm 297mm",
        }
    }
}

/// `deliver.label.send`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LabelSend {
    /// Base64 in the envelope's `order.label.data`.
    #[default]
    Envelope,
    /// `multipart/form-data`: the envelope and the label file.
    Multipart,
    /// An e-mail with the label attached.
    Email,
}

impl LabelSend {
    /// As written in rules.
    pub fn as_str(self) -> &'static str {
        match self {
            LabelSend::Envelope => "envelope",
            LabelSend::Multipart => "multipart",
            LabelSend::Email => "email",
        }
    }
}

/// `deliver.label.email`.
#[derive(Clone, Debug)]
pub struct LabelEmail {
    /// The recipient.
    pub to: String,
    /// The sender.
    pub from: String,
    /// `smtp://[user:password@]host[:port]` (STARTTLS when offered) or `smtps://` (TLS).
    pub smtp: Secret,
}

/// One channel, with the rules for updates coming from it.
#[derive(Clone, Debug)]
pub struct Channel {
    /// Its name, as used in URLs and rules.
    pub name: Arc<str>,
    /// Its role.
    pub role: Role,
    /// Webhook ingress, if any.
    pub webhook: Option<Webhook>,
    /// Polling, if any.
    pub poll: Option<Poll>,
    /// Delivery, if it takes updates.
    pub deliver: Option<Deliver>,
    /// The platform API it speaks instead of the envelope (SPEC 12), if any.
    pub connector: Option<Connector>,
    /// Where its updates go (indexes into [`RuleSet::channels`]).
    pub routes: Vec<usize>,
    /// `rules.<this channel>.import`.
    pub import: Option<Condition>,
    /// `rules.<this channel>.attributes`, for every destination.
    pub attributes: Vec<Attribute>,
    /// None of `attributes` reads `destination`, so they come out the same for
    /// every destination and the engine applies them once per update.
    pub shared_attributes: bool,
    /// `rules.<this channel>.overwrites`, per destination.
    pub overwrites: Vec<Overwrite>,
}

/// The attributes applied after the source's own for one destination.
#[derive(Clone, Debug)]
pub struct Overwrite {
    /// Index of the destination channel.
    pub destination: usize,
    /// Applied in order.
    pub attributes: Vec<Attribute>,
}

/// One attribute: sets a field of the outgoing order (SPEC 3.1).
#[derive(Clone, Debug)]
pub struct Attribute {
    /// The name as written (`shipping_address.country`, `publish`).
    pub name: String,
    /// The name split at dots.
    pub path: Vec<String>,
    /// What its trace steps are called: the name, or `name (case N)` for each case.
    pub labels: Vec<Arc<str>>,
    /// `file:line`, for traces.
    pub place_text: Arc<str>,
    /// How the value is found.
    pub value: AttrValue,
    /// `mode: replace`: lists are replaced instead of gaining the values.
    pub replace: bool,
    /// The field is a list in the order's shape (`tags`): a single value set
    /// on an order without the field makes a one-element list.
    pub list: bool,
    /// Where it was written.
    pub place: Place,
}

impl Attribute {
    /// True if any condition of this attribute reads `destination`.
    pub fn uses_destination(&self) -> bool {
        match &self.value {
            AttrValue::Constant(_) => false,
            AttrValue::Expr(c) => c.uses_destination(),
            AttrValue::When { when, .. } => when.uses_destination(),
            AttrValue::Cases { cases, .. } => cases.iter().any(|(c, _)| c.uses_destination()),
        }
    }
}

/// How an attribute's value is found.
#[derive(Clone, Debug)]
pub enum AttrValue {
    /// `{ constant: V }` or a bare value.
    Constant(Value),
    /// `{ value: EXPR }`.
    Expr(Condition),
    /// `{ when: EXPR, then: V, otherwise: V }`; without `otherwise` the field is left as it is.
    When {
        /// The condition.
        when: Condition,
        /// Used when it holds.
        then: Value,
        /// Used when it does not.
        otherwise: Option<Value>,
    },
    /// `{ cases: [{when, then}...], otherwise: V }`: first match wins.
    Cases {
        /// Tried in order.
        cases: Vec<(Condition, Value)>,
        /// Used when none holds.
        otherwise: Value,
    },
}

/// What a test expects for one destination.
#[derive(Clone, Debug, PartialEq)]
pub enum Expected {
    /// `deliver`, possibly with attributes to compare and, for a `kind: http`
    /// destination, the request it renders.
    Deliver(Vec<(String, Value)>, Option<RequestExpect>),
    /// `skip`, possibly with the reason.
    Skip(Option<String>),
    /// `draft`, possibly with the missing fields.
    Draft(Option<Vec<String>>),
    /// `error`.
    Error,
}

/// `request:` in a test's expectation for a `kind: http` destination: parts of
/// the rendered request (as stored: `${NAME}` markers, never secrets).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestExpect {
    /// The method, exactly.
    pub method: Option<String>,
    /// The URL, exactly.
    pub url: Option<String>,
    /// Headers (names in any case), values exactly.
    pub headers: Vec<(String, String)>,
    /// `body: "..."`: the whole body, exactly.
    pub body: Option<String>,
    /// `body: { /pointer: value }`: values in the JSON body.
    pub body_pointers: Vec<(String, Value)>,
}

/// One test case from `tests:`.
#[derive(Clone, Debug)]
pub struct RuleTest {
    /// Its name.
    pub name: String,
    /// The source channel (index).
    pub from: usize,
    /// The event.
    pub event: Event,
    /// The order.
    pub order: Value,
    /// The time `now()` returns; fixed so tests repeat.
    pub now: DateTime<Utc>,
    /// Per destination (index), what is expected.
    pub expect: Vec<(usize, Expected)>,
    /// Where it was written.
    pub place: Place,
}

/// One file a rule set was read from.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path as given.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// A validated, compiled rules file: what the engine runs.
#[derive(Clone, Debug)]
pub struct RuleSet {
    /// Content hash of the files (12 hex digits): names every decision made with it.
    pub version: Arc<str>,
    /// The files, kept so any past decision can be explained with its rules.
    pub files: Vec<SourceFile>,
    /// Channels in the order they were written.
    pub channels: Vec<Channel>,
    /// The declared custom fields.
    pub fields: Vec<(String, Type)>,
    /// The order type conditions were checked against.
    pub order_type: Type,
    /// Currency rates.
    pub rates: Rates,
    /// The file's tests.
    pub tests: Vec<RuleTest>,
    /// What loads but deserves a look (`check` prints them).
    pub warnings: Vec<RuleError>,
}

impl RuleSet {
    /// Adds, on a host without Chromium, a warning at every `convert: pdf`
    /// (SPEC 13): the rules still load; such deliveries are rejected.
    pub fn note_chromium(&mut self, found: bool) {
        if found {
            return;
        }
        let missing: Vec<RuleError> = self
            .channels
            .iter()
            .filter_map(|c| c.deliver.as_ref()?.label.needs_chromium.clone())
            .collect();
        self.warnings.extend(missing);
    }

    /// The channel called `name`.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| &*c.name == name)
    }

    /// The index of the channel called `name`.
    pub fn channel_index(&self, name: &str) -> Option<usize> {
        self.channels.iter().position(|c| &*c.name == name)
    }
}
