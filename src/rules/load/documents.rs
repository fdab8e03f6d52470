//! Pass 1: each file's YAML, its lines for errors, and its repeated keys.

use std::sync::Arc;

use super::ctx::{Ctx, Doc};
use crate::rules::SourceFile;
use crate::rules::yaml::{self, Kind, Node};

/// Parses every file; a file that is not YAML is reported and left out.
pub(super) fn parse(cx: &mut Ctx, sources: &[SourceFile]) -> Vec<Doc> {
    let mut docs: Vec<Doc> = Vec::new();
    for src in sources {
        let lines = split_lines(&src.text);
        let name: Arc<str> = Arc::from(src.name.as_str());
        let is_test_file = src.name.ends_with(".test.yaml") || src.name.ends_with(".test.yml");
        match yaml::parse(&src.text) {
            Ok(root) => docs.push(Doc {
                name,
                lines,
                root,
                is_test_file,
            }),
            Err(e) => {
                let doc = Doc {
                    name,
                    lines,
                    root: Node {
                        loc: e.loc,
                        kind: Kind::Null,
                    },
                    is_test_file,
                };
                cx.at(&doc, e.loc, 1, format!("invalid YAML: {}", e.message), None);
            }
        }
    }
    docs
}

/// Reports the repeated keys of every file.
pub(super) fn check_repeats(cx: &mut Ctx, docs: &[Doc]) {
    for doc in docs {
        check_duplicates(cx, doc, &doc.root);
    }
}

/// Reports every repeated key in a document, once, wherever it is; readers of
/// the tree then take the first of the repeats.
fn check_duplicates(cx: &mut Ctx, doc: &Doc, n: &Node) {
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
fn split_lines(text: &str) -> Vec<String> {
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
