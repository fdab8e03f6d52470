//! Pass 4: each channel's routes: as written, or by role (SPEC 2.1).

use super::channels::ChannelDecl;
use super::ctx::{Ctx, Doc};
use super::read::{text, unknown_channel};
use crate::rules::yaml::{Kind, Node};
use crate::rules::{Channel, Role};

/// Sets every channel's routes from its `routes` node, or from the roles.
pub(super) fn resolve(
    cx: &mut Ctx,
    docs: &[Doc],
    decls: &[ChannelDecl],
    route_nodes: &[Option<&Node>],
    channels: &mut [Channel],
    names: &[String],
) {
    for i in 0..channels.len() {
        let doc = &docs[decls[i].doc];
        let routes = match route_nodes[i] {
            Some(node) => explicit(cx, doc, node, i, channels, names),
            None => by_role(channels, i),
        };
        channels[i].routes = routes;
    }
}

/// `routes` as written: channel names, each one with a `deliver`.
fn explicit(
    cx: &mut Ctx,
    doc: &Doc,
    node: &Node,
    i: usize,
    channels: &[Channel],
    names: &[String],
) -> Vec<usize> {
    let mut out = Vec::new();
    let items: Vec<&Node> = match &node.kind {
        Kind::Seq(items) => items.iter().collect(),
        _ => vec![node],
    };
    for item in items {
        let Some(name) = text(cx, doc, item, "a route") else {
            continue;
        };
        match names.iter().position(|n| n == name) {
            Some(j) if j == i => {
                cx.node(doc, item, format!("`{name}` cannot route to itself"), None)
            }
            Some(j) if channels[j].deliver.is_none() => cx.node(
                doc,
                item,
                format!("`{name}` has no `deliver`, so nothing can be routed to it"),
                None,
            ),
            Some(j) => out.push(j),
            None => unknown_channel(cx, doc, item, name, names),
        }
    }
    out
}

/// The default routes of channel `i`, by role (SPEC 2.1).
fn by_role(channels: &[Channel], i: usize) -> Vec<usize> {
    (0..channels.len())
        .filter(|&j| j != i && channels[j].deliver.is_some())
        .filter(|&j| {
            matches!(
                (channels[i].role, channels[j].role),
                (Role::Marketplace, Role::CommercePlatform)
                    | (
                        Role::CommercePlatform,
                        Role::Marketplace | Role::Fulfillment
                    )
                    | (Role::Fulfillment, Role::CommercePlatform)
            )
        })
        .collect()
}
