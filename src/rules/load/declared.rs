//! Pass 3: `fields`, the custom fields declared with their types (SPEC 3.3).

use super::ctx::{Ctx, Doc};
use super::read::{Fields, fields, list_names, text};
use crate::order::Type;
use crate::suggest::did_you_mean;

/// The declared fields, in the order written; the order type is built from them.
pub(super) fn declared(cx: &mut Ctx, docs: &[Doc], tops: &[Fields]) -> Vec<(String, Type)> {
    let mut declared: Vec<(String, Type)> = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("fields") else {
            continue;
        };
        let Some(f) = fields(cx, doc, node, "`fields`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            let Some(tname) = text(cx, doc, v, "a field's type") else {
                continue;
            };
            match Type::parse_name(tname) {
                Some(t) => {
                    if declared.iter().any(|(n, _)| n == &k.name) {
                        cx.key(
                            doc,
                            k,
                            format!("field `{}` is declared twice", k.name),
                            None,
                        );
                    }
                    declared.push((k.name.clone(), t));
                }
                None => {
                    let hint = did_you_mean(tname, Type::FIELD_TYPE_NAMES.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            format!("types are {}", list_names(&Type::FIELD_TYPE_NAMES))
                        });
                    cx.node(doc, v, format!("unknown type `{tname}`"), Some(hint));
                }
            }
        }
    }
    declared
}
