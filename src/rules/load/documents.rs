//! Pass 1: each file's YAML, its lines for errors, and its repeated keys.

use super::ctx::{Ctx, Doc};
use crate::rules::yaml::{Kind, Node};

/// Reports every repeated key in a document, once, wherever it is; readers of
/// the tree then take the first of the repeats.
pub(super) fn check_duplicates(cx: &mut Ctx, doc: &Doc, n: &Node) {
    match &n.kind {
        Kind::Map(entries) => {
            for (i, (k, v)) in entries.iter().enumerate() {
                if let Some((first, _)) = entries[..i].iter().find(|(p, _)| p.name == k.name) {
                    cx.key(
                        doc,
                        k,
                        format!("duplicate key `{}`", k.name),
                        Some(format!("first defined at line {}", first.loc.line)),
                    );
                }
                check_duplicates(cx, doc, v);
            }
        }
        Kind::Seq(items) => items.iter().for_each(|i| check_duplicates(cx, doc, i)),
        _ => {}
    }
}

/// Splits text into lines the way YAML counts them: at `\r\n`, `\n` or a lone `\r`.
pub(super) fn split_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\r', '\n']) {
            Some(i) => {
                lines.push(rest[..i].to_string());
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
            }
            None => {
                lines.push(rest.to_string());
                break;
            }
        }
    }
    lines
}
