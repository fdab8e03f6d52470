//! Pass 5: `rules`: each source channel's `import`, `attributes` and `overwrites`.

use std::sync::Arc;

use super::attributes::attributes;
use super::ctx::{Ctx, Doc};
use super::read::{Fields, expression, fields, list_names, unknown_channel_key};
use super::schema::{OVERWRITE_KEYS, RULE_KEYS};
use crate::condition::{CompileEnv, Rates};
use crate::order::Type;
use crate::rules::yaml::Node;
use crate::rules::{Attribute, Channel, Overwrite};

/// Reads every file's `rules` into the channels they are for.
pub(super) fn read(
    cx: &mut Ctx,
    docs: &[Doc],
    tops: &[Fields],
    channels: &mut [Channel],
    names: &[String],
    order_type: &Type,
    rates: &Rates,
) {
    let mut seen_rules: Vec<(String, Arc<str>, u32)> = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("rules") else {
            continue;
        };
        let Some(f) = fields(cx, doc, node, "`rules`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            let Some(ci) = names.iter().position(|n| n == &k.name) else {
                unknown_channel_key(cx, doc, k, names);
                continue;
            };
            if let Some((_, file, line)) = seen_rules.iter().find(|(n, _, _)| n == &k.name)
                && **file != *doc.name
            {
                cx.key(
                    doc,
                    k,
                    format!("rules for `{}` are defined twice", k.name),
                    Some(format!("first defined in {file}:{line}")),
                );
                continue;
            }
            seen_rules.push((k.name.clone(), doc.name.clone(), k.loc.line));
            source_rules(cx, doc, v, &mut channels[ci], names, order_type, rates);
        }
    }
}

/// One source channel's `rules`: its `import`, `attributes` and `overwrites`.
fn source_rules(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    ch: &mut Channel,
    names: &[String],
    order: &Type,
    rates: &Rates,
) {
    let source = ch.name.to_string();
    let Some(f) = fields(cx, doc, n, &format!("`rules.{source}`"), &RULE_KEYS) else {
        return;
    };
    if let Some(imp) = f.get("import") {
        let env = CompileEnv {
            order,
            rates,
            destination_known: false,
        };
        if let Some(c) = expression(cx, doc, imp, &env, true) {
            ch.import = Some(c);
        }
    }
    if let Some(a) = f.get("attributes") {
        ch.attributes = attributes(
            cx,
            doc,
            a,
            order,
            rates,
            &format!("`rules.{source}.attributes`"),
        );
        ch.shared_attributes = !ch.attributes.iter().any(Attribute::uses_destination);
    }
    if let Some(o) = f.get("overwrites") {
        let found = overwrites(cx, doc, o, ch, names, order, rates);
        ch.overwrites.extend(found);
    }
}

/// `overwrites`: attributes for one destination only, each one a route of `ch`.
fn overwrites(
    cx: &mut Ctx,
    doc: &Doc,
    o: &Node,
    ch: &Channel,
    names: &[String],
    order: &Type,
    rates: &Rates,
) -> Vec<Overwrite> {
    let source = &ch.name;
    let mut out = Vec::new();
    let Some(of) = fields(cx, doc, o, "`overwrites`", &[]) else {
        return out;
    };
    for (k, v) in of.entries {
        let Some(di) = names.iter().position(|x| x == &k.name) else {
            unknown_channel_key(cx, doc, k, names);
            continue;
        };
        if !ch.routes.contains(&di) {
            let routes: Vec<&str> = ch.routes.iter().map(|&r| names[r].as_str()).collect();
            let hint = if routes.is_empty() {
                format!("`{source}` routes to no channel")
            } else {
                format!("`{source}` routes to {}", list_names(&routes))
            };
            cx.key(
                doc,
                k,
                format!(
                    "overwrite for `{}`, which `{source}` never routes to",
                    k.name
                ),
                Some(hint),
            );
            continue;
        }
        let Some(wf) = fields(
            cx,
            doc,
            v,
            &format!("`overwrites.{}`", k.name),
            &OVERWRITE_KEYS,
        ) else {
            continue;
        };
        let attrs = match wf.get("attributes") {
            Some(a) => attributes(
                cx,
                doc,
                a,
                order,
                rates,
                &format!("`overwrites.{}.attributes`", k.name),
            ),
            None => Vec::new(),
        };
        out.push(Overwrite {
            destination: di,
            attributes: attrs,
        });
    }
    out
}
