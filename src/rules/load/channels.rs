//! Pass 4: `channels`: each channel's name, role, webhook, poll and
//! connector; `deliver` is read in `deliver.rs`, routes in `routes.rs`.

use std::sync::Arc;
use std::time::Duration;

use super::connector;
use super::ctx::{Ctx, Doc};
use super::deliver::deliver;
use super::read::{Fields, duration, fields, list_names, refuse_keys, text, url};
use super::schema::{CHANNEL_KEYS, POLL_KEYS, ROLES, WEBHOOK_KEYS};
use crate::order::Type;
use crate::rules::yaml::{Key, Kind, Loc, Node};
use crate::rules::{Channel, Format, Poll, Role, Secret, Webhook};
use crate::suggest::did_you_mean;

/// A channel's declaration, before rules are read.
pub(super) struct ChannelDecl<'n> {
    pub(super) doc: usize,
    pub(super) key: &'n Key,
    pub(super) node: &'n Node,
}

/// Every channel declared, in file order, each name once.
pub(super) fn declare<'d>(
    cx: &mut Ctx,
    docs: &'d [Doc],
    tops: &[Fields<'d>],
) -> Vec<ChannelDecl<'d>> {
    let mut decls: Vec<ChannelDecl> = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("channels") else {
            continue;
        };
        let Some(f) = fields(cx, doc, node, "`channels`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            if let Some(prev) = decls.iter().find(|d| d.key.name == k.name) {
                // A repeat within one file was reported as a duplicate key already.
                if prev.doc != di {
                    cx.key(
                        doc,
                        k,
                        format!("channel `{}` is defined twice", k.name),
                        Some(format!(
                            "first defined in {}:{}",
                            docs[prev.doc].name, prev.key.loc.line
                        )),
                    );
                }
                continue;
            }
            if !valid_name(&k.name) {
                cx.key(
                    doc,
                    k,
                    format!("invalid channel name `{}`", k.name),
                    Some("use letters, digits, `_` and `-`".to_string()),
                );
            }
            decls.push(ChannelDecl {
                doc: di,
                key: k,
                node: v,
            });
        }
    }
    if decls.is_empty() && docs.iter().any(|d| !d.is_test_file) {
        let doc = &docs[0];
        cx.at(
            doc,
            Loc { line: 1, col: 1 },
            1,
            "no `channels` are defined",
            None,
        );
    }
    decls
}

/// Reads each declared channel; beside each, its `routes` node if it has one.
pub(super) fn read<'n>(
    cx: &mut Ctx,
    docs: &[Doc],
    decls: &[ChannelDecl<'n>],
    order_type: &Type,
) -> (Vec<Channel>, Vec<Option<&'n Node>>) {
    let mut channels: Vec<Channel> = Vec::new();
    let mut route_nodes: Vec<Option<&Node>> = Vec::new();
    for d in decls {
        let doc = &docs[d.doc];
        let (ch, routes) = channel(cx, doc, d, order_type);
        channels.push(ch);
        route_nodes.push(routes);
    }
    (channels, route_nodes)
}

/// One channel; beside it, its `routes` node if it has one.
fn channel<'n>(
    cx: &mut Ctx,
    doc: &Doc,
    d: &ChannelDecl<'n>,
    order: &Type,
) -> (Channel, Option<&'n Node>) {
    let name = d.key.name.clone();
    let mut ch = Channel {
        name: Arc::from(name.as_str()),
        role: Role::Marketplace,
        webhook: None,
        poll: None,
        deliver: None,
        routes: Vec::new(),
        import: None,
        attributes: Vec::new(),
        shared_attributes: true,
        overwrites: Vec::new(),
        connector: None,
    };
    let Some(f) = fields(cx, doc, d.node, &format!("channel `{name}`"), &CHANNEL_KEYS) else {
        return (ch, None);
    };
    let connector_node = f.get("connector");
    if let Some(c) = connector_node {
        ch.connector = connector::connector(cx, doc, c, &name, order);
    }
    // A connector channel speaks its platform's API: no `url`s of ours.
    let speaks = connector_node.map(|_| {
        ch.connector
            .as_ref()
            .map_or("its connector", |c| c.kind_name())
    });
    // An `http` connector only delivers: the channel's webhook and poll read
    // the canonical format (a supplier reports shipments as any sender does).
    let delivers_only = ch.connector.as_ref().is_some_and(|c| !c.reads())
        || connector_node
            .and_then(|c| match &c.kind {
                Kind::Map(entries) => entries.iter().find(|(k, _)| k.name == "kind"),
                _ => None,
            })
            .is_some_and(|(_, v)| matches!(&v.kind, Kind::Str(s) if s == "http"));
    let reads_through = speaks.filter(|_| !delivers_only);
    // The format its platform's webhooks and listings come in.
    let own = ch
        .connector
        .as_ref()
        .map_or(Format::Shopify, |c| c.format());
    if let Some(role) = role(cx, doc, d.key, f.get("role"), &name) {
        ch.role = role;
    }
    if let Some(w) = f.get("webhook") {
        ch.webhook = webhook(cx, doc, w, own, reads_through);
    }
    if let Some(p) = f.get("poll") {
        ch.poll = poll(cx, doc, p, own, reads_through);
    }
    if let Some(dn) = f.get("deliver") {
        ch.deliver = deliver(
            cx,
            doc,
            dn,
            ch.connector.as_ref(),
            speaks,
            delivers_only,
            order,
        );
    }
    if ch.webhook.is_none() && ch.poll.is_none() && ch.deliver.is_none() {
        cx.key(
            doc,
            d.key,
            format!("channel `{name}` has neither `webhook` nor `poll` nor `deliver`"),
            Some("a channel must send updates, receive them, or both".to_string()),
        );
    }
    (ch, f.get("routes"))
}

/// `role`, which every channel needs.
fn role(cx: &mut Ctx, doc: &Doc, key: &Key, n: Option<&Node>, name: &str) -> Option<Role> {
    match n {
        None => {
            cx.key(
                doc,
                key,
                format!("channel `{name}` needs a `role`"),
                Some(format!("roles are {}", list_names(&ROLES))),
            );
            None
        }
        Some(r) => match text(cx, doc, r, "`role`") {
            Some("commerce_platform") => Some(Role::CommercePlatform),
            Some("marketplace") => Some(Role::Marketplace),
            Some("fulfillment") => Some(Role::Fulfillment),
            Some(other) => {
                let hint = did_you_mean(other, ROLES)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("roles are {}", list_names(&ROLES)));
                cx.node(doc, r, format!("unknown role `{other}`"), Some(hint));
                None
            }
            None => None,
        },
    }
}

/// `webhook`; a channel reading through its connector takes the platform's format.
fn webhook(
    cx: &mut Ctx,
    doc: &Doc,
    w: &Node,
    own: Format,
    reads_through: Option<&str>,
) -> Option<Webhook> {
    let wf = fields(cx, doc, w, "`webhook`", &WEBHOOK_KEYS)?;
    // A connector's channel reads its platform's webhooks: no `format`.
    let format = match wf.get("format") {
        None if reads_through.is_some() => own,
        n => format_of(cx, doc, n, w),
    };
    let secret = match wf.get("secret") {
        Some(s) => text(cx, doc, s, "`secret`").unwrap_or_default().to_string(),
        None => {
            cx.node(
                doc,
                w,
                "`webhook` needs a `secret`",
                Some("e.g. `secret: ${SHOPIFY_WEBHOOK_SECRET}`".to_string()),
            );
            String::new()
        }
    };
    if let Some(s) = wf.get("secret")
        && secret.is_empty()
        && matches!(s.kind, Kind::Str(_))
    {
        cx.node(doc, s, "the webhook `secret` is empty", None);
    }
    Some(Webhook {
        format,
        secret: Secret(secret),
    })
}

/// `poll`; a channel reading through its connector lists its platform's orders.
fn poll(
    cx: &mut Ctx,
    doc: &Doc,
    p: &Node,
    own: Format,
    reads_through: Option<&str>,
) -> Option<Poll> {
    let pf = fields(cx, doc, p, "`poll`", &POLL_KEYS)?;
    let schedule = match pf.get("schedule") {
        Some(s) => {
            let sched = s.scalar_text().unwrap_or_default();
            if let Err(e) = parse_schedule(&sched) {
                cx.node(
                    doc,
                    s,
                    format!("invalid cron schedule `{sched}`: {}", cron_reason(&e)),
                    Some(
                        "six fields, seconds first: `0 */10 * * * *` is every 10 minutes"
                            .to_string(),
                    ),
                );
            }
            sched
        }
        None => {
            cx.node(doc, p, "`poll` needs a `schedule`", None);
            String::new()
        }
    };
    let (url, format) = match reads_through {
        Some(kind) => {
            refuse_keys(cx, doc, &pf, &["url", "format"], |key| {
                (
                    format!("a channel with a connector polls through it: `poll` takes no `{key}`"),
                    format!(
                        "remove `{key}`: the {kind} connector lists the platform's orders itself"
                    ),
                )
            });
            (String::new(), own)
        }
        None => (
            url(cx, doc, pf.get("url"), p, "`poll`"),
            format_of(cx, doc, pf.get("format"), p),
        ),
    };
    let overlap = pf
        .get("overlap")
        .and_then(|o| duration(cx, doc, o, "`overlap`"))
        .unwrap_or(Duration::from_secs(300));
    Some(Poll {
        schedule,
        url,
        format,
        overlap,
    })
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn format_of(cx: &mut Ctx, doc: &Doc, n: Option<&Node>, parent: &Node) -> Format {
    let Some(n) = n else {
        cx.node(
            doc,
            parent,
            "missing `format`",
            Some("`format: ordersync`, `format: shopify` or `format: woocommerce`".to_string()),
        );
        return Format::Ordersync;
    };
    match text(cx, doc, n, "`format`") {
        Some("ordersync") => Format::Ordersync,
        Some("shopify") => Format::Shopify,
        Some("woocommerce") => Format::WooCommerce,
        Some(other) => {
            let hint = did_you_mean(other, ["ordersync", "shopify", "woocommerce"])
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "`ordersync`, `shopify` or `woocommerce`".to_string());
            cx.node(doc, n, format!("unknown format `{other}`"), Some(hint));
            Format::Ordersync
        }
        None => Format::Ordersync,
    }
}

/// Parses a cron schedule with the settings tokio-cron-scheduler 0.15 uses
/// (six fields, seconds first), so `check` accepts exactly what the daemon runs.
pub fn parse_schedule(schedule: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
}

fn cron_reason(e: &croner::errors::CronError) -> String {
    let s = e.to_string();
    let s = s.trim_end_matches('.');
    let s = s
        .strip_prefix("Invalid pattern: ")
        .or_else(|| s.strip_prefix("invalid pattern: "))
        .unwrap_or(s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => "not a cron pattern".to_string(),
    }
}
