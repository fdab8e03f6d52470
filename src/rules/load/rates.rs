//! Pass 3: `currency_rates`, for `convert()` in expressions.

use super::ctx::{Ctx, Doc};
use super::read::{Fields, fields, text};
use crate::condition::Rates;
use crate::rules::yaml::Kind;

/// The rates of every file, each to the `base` currency.
pub(super) fn rates(cx: &mut Ctx, docs: &[Doc], tops: &[Fields]) -> Rates {
    let mut rates = Rates::default();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("currency_rates") else {
            continue;
        };
        let Some(f) = fields(cx, doc, node, "`currency_rates`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            if k.name == "base" {
                if let Some(b) = text(cx, doc, v, "`base`") {
                    rates.base = b.to_ascii_uppercase();
                }
                continue;
            }
            let rate = match v.kind {
                Kind::Int(i) => rust_decimal::Decimal::from(i),
                Kind::Number(n) => n,
                _ => {
                    cx.node(
                        doc,
                        v,
                        format!(
                            "the rate for `{}` must be a number, not {}",
                            k.name,
                            v.kind_name()
                        ),
                        None,
                    );
                    continue;
                }
            };
            if rate <= rust_decimal::Decimal::ZERO {
                cx.node(
                    doc,
                    v,
                    format!("the rate for `{}` must be above zero", k.name),
                    None,
                );
                continue;
            }
            rates.rates.push((k.name.to_ascii_uppercase(), rate));
        }
        if rates.base.is_empty() && !f.entries.is_empty() {
            cx.node(
                doc,
                node,
                "`currency_rates` needs a `base`",
                Some("e.g. `base: USD`: the currency the rates are in".to_string()),
            );
        }
    }
    rates
}
