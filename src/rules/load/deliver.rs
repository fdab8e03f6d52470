//! Pass 4: a channel's `deliver`: where and what it is sent, and how retried.

use std::time::Duration;

use super::ctx::{Ctx, Doc};
use super::label::label;
use super::read::{duration, fields, list_names, refuse_keys, resolve_path, text, url};
use super::schema::{DELIVER_KEYS, RETRY_KEYS};
use crate::order::{Event, Type};
use crate::rules::yaml::{Kind, Node};
use crate::rules::{Connector, Deliver, Label, Retry, Secret};
use crate::suggest::did_you_mean;

/// Reads `deliver`; `speaks` names the connector it goes through, if any.
pub(super) fn deliver(
    cx: &mut Ctx,
    doc: &Doc,
    dn: &Node,
    connector: Option<&Connector>,
    speaks: Option<&str>,
    delivers_only: bool,
    order: &Type,
) -> Option<Deliver> {
    let df = fields(cx, doc, dn, "`deliver`", &DELIVER_KEYS)?;
    let url = match speaks {
        Some(kind) => {
            refuse_keys(cx, doc, &df, &["url", "secret"], |key| {
                (
                    format!(
                        "a channel with a connector delivers through it: `deliver` takes no `{key}`"
                    ),
                    format!("remove `{key}`: the {kind} connector sends to the platform's own API"),
                )
            });
            String::new()
        }
        None => url(cx, doc, df.get("url"), dn, "`deliver`"),
    };
    let secret = df
        .get("secret")
        .filter(|_| speaks.is_none())
        .and_then(|s| text(cx, doc, s, "`secret`"))
        .map(|s| Secret(s.to_string()));
    let carries = connector.map(|c| (c.kind_name(), c.carries()));
    let accepts = accepts(cx, doc, df.get("accepts"), carries, delivers_only);
    let timeout = df
        .get("timeout")
        .and_then(|t| duration(cx, doc, t, "`timeout`"))
        .unwrap_or(Duration::from_secs(10));
    let retry = retry(cx, doc, df.get("retry"));
    let require = require(cx, doc, df.get("require"), order);
    let label = match df.get("label") {
        Some(l) => label(cx, doc, l, speaks),
        None => Label::default(),
    };
    Some(Deliver {
        url,
        secret,
        accepts,
        timeout,
        retry,
        require,
        label,
    })
}

/// `accepts`: the events sent, each one its connector (if any) can carry.
fn accepts(
    cx: &mut Ctx,
    doc: &Doc,
    a: Option<&Node>,
    carries: Option<(&str, &[Event])>,
    delivers_only: bool,
) -> Vec<Event> {
    let Some(a) = a else {
        return match carries {
            Some((_, events)) => events.to_vec(),
            None => Event::ALL.to_vec(),
        };
    };
    let items: Vec<&Node> = match &a.kind {
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![a],
    };
    let mut out = Vec::new();
    for item in items {
        let Some(name) = text(cx, doc, item, "an event") else {
            continue;
        };
        match name.parse::<Event>() {
            Ok(e)
                if carries.is_some_and(|(kind, events)| kind == "etsy" && !events.contains(&e)) =>
            {
                cx.node(
                    doc,
                    item,
                    format!("the etsy connector cannot carry `{name}`: Etsy's Open API v3 has no call to cancel or refund a receipt"),
                    Some("cancel or refund it on Etsy's own site (Shop Manager > Orders); the etsy connector carries `shipped`".to_string()),
                );
            }
            Ok(e) if delivers_only && carries.is_some_and(|(_, events)| !events.contains(&e)) => {
                cx.node(
                    doc,
                    item,
                    format!("the http connector has no request for `{name}`"),
                    Some(format!("add `{name}: {{ method: ..., url: ... }}` under the connector's `requests`, or remove `{name}` from `accepts`")),
                );
            }
            Ok(e) if carries.is_some_and(|(_, events)| !events.contains(&e)) => {
                let (kind, events) = carries.unwrap_or_default();
                let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
                cx.node(
                    doc,
                    item,
                    format!("the {kind} connector cannot carry `{name}`"),
                    Some(format!("it carries {}", list_names(&names))),
                );
            }
            Ok(e) => out.push(e),
            Err(_) => {
                let all: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
                let hint = did_you_mean(name, all.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("events are {}", list_names(&all)));
                cx.node(doc, item, format!("unknown event `{name}`"), Some(hint));
            }
        }
    }
    out
}

/// `retry`, over the defaults: 12 attempts from 2 s, at most 30 min apart.
fn retry(cx: &mut Ctx, doc: &Doc, r: Option<&Node>) -> Retry {
    let mut retry = Retry {
        attempts: 12,
        first: Duration::from_secs(2),
        max: Duration::from_secs(1800),
    };
    if let Some(r) = r
        && let Some(rf) = fields(cx, doc, r, "`retry`", &RETRY_KEYS)
    {
        if let Some(a) = rf.get("attempts") {
            match a.kind {
                Kind::Int(n) if (1..=1000).contains(&n) => retry.attempts = n as u32,
                _ => cx.node(
                    doc,
                    a,
                    "`attempts` must be a whole number from 1 to 1000",
                    None,
                ),
            }
        }
        if let Some(d) = rf
            .get("first")
            .and_then(|n| duration(cx, doc, n, "`first`"))
        {
            retry.first = d;
        }
        if let Some(d) = rf.get("max").and_then(|n| duration(cx, doc, n, "`max`")) {
            retry.max = d;
        }
    }
    retry
}

/// `require`: the order fields a delivery needs, each one a known path.
fn require(cx: &mut Ctx, doc: &Doc, r: Option<&Node>, order: &Type) -> Vec<String> {
    let mut require = Vec::new();
    if let Some(r) = r {
        let items: Vec<&Node> = match &r.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![r],
        };
        for item in items {
            if let Some(p) = text(cx, doc, item, "a required field")
                && resolve_path(cx, doc, item, p, order, None).is_some()
            {
                require.push(p.to_string());
            }
        }
    }
    require
}
