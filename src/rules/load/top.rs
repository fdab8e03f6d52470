//! Pass 3: each file's top-level keys, and `version: 1`.

use super::ctx::{Ctx, Doc};
use super::read::{Fields, fields};
use super::schema::TOP_KEYS;
use crate::rules::yaml::{Kind, Loc};

/// Each file's top-level mapping (empty where it is not one), in file order.
pub(super) fn check<'d>(cx: &mut Ctx, docs: &'d [Doc]) -> Vec<Fields<'d>> {
    let mut tops: Vec<Fields> = Vec::new();
    let mut saw_version = false;
    for doc in docs {
        let allowed: &[&str] = if doc.is_test_file {
            &["tests"]
        } else {
            &TOP_KEYS
        };
        let Some(top) = fields(cx, doc, &doc.root, "the rules file", allowed) else {
            tops.push(Fields { entries: &[] });
            continue;
        };
        if let Some(v) = top.get("version") {
            saw_version = true;
            if !matches!(v.kind, Kind::Int(1)) {
                cx.node(
                    doc,
                    v,
                    "unsupported `version`",
                    Some("this ordersync reads `version: 1`".to_string()),
                );
            }
        }
        tops.push(top);
    }
    if !saw_version && !docs.is_empty() && docs.iter().any(|d| !d.is_test_file) {
        let doc = &docs[0];
        cx.at(
            doc,
            Loc { line: 1, col: 1 },
            1,
            "missing `version`",
            Some("start the file with `version: 1`".to_string()),
        );
    }
    tops
}
