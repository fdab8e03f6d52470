//! The keys each mapping of a rules file allows, and the names of its choices.

pub(super) const TOP_KEYS: [&str; 6] = [
    "version",
    "channels",
    "fields",
    "currency_rates",
    "rules",
    "tests",
];
pub(super) const CHANNEL_KEYS: [&str; 6] =
    ["role", "webhook", "poll", "deliver", "connector", "routes"];
pub(super) const WEBHOOK_KEYS: [&str; 2] = ["format", "secret"];
pub(super) const POLL_KEYS: [&str; 4] = ["schedule", "url", "format", "overlap"];
pub(super) const DELIVER_KEYS: [&str; 7] = [
    "url", "secret", "accepts", "timeout", "retry", "require", "label",
];
pub(super) const LABEL_KEYS: [&str; 4] = ["convert", "page", "send", "email"];
pub(super) const LABEL_EMAIL_KEYS: [&str; 3] = ["to", "from", "smtp"];
pub(super) const RETRY_KEYS: [&str; 3] = ["attempts", "first", "max"];
pub(super) const RULE_KEYS: [&str; 3] = ["import", "attributes", "overwrites"];
pub(super) const OVERWRITE_KEYS: [&str; 1] = ["attributes"];
pub(super) const ATTR_KEYS: [&str; 7] = [
    "constant",
    "value",
    "when",
    "then",
    "otherwise",
    "cases",
    "mode",
];
pub(super) const CASE_KEYS: [&str; 2] = ["when", "then"];
pub(super) const TEST_KEYS: [&str; 7] = [
    "name",
    "from",
    "event",
    "order",
    "order_file",
    "expect",
    "now",
];
pub(super) const REQUEST_EXPECT_KEYS: [&str; 4] = ["method", "url", "headers", "body"];
pub(super) const ROLES: [&str; 3] = ["commerce_platform", "marketplace", "fulfillment"];
pub(super) const OUTCOMES: [&str; 4] = ["deliver", "skip", "draft", "error"];
