//! Field paths: `total_price`, `shipping_address.country`, `line_items[0].sku`,
//! and inside `any`/`all`/`count`/`sum`, the element's own fields and `it`.
//! Each step is checked against the order's type, with a suggestion for a
//! misspelt name.

use std::sync::Arc;

use super::super::ast::{Expr, Segment, path_text};
use super::super::error::ExprError;
use super::super::program::{FieldRef, Hint, Node, Seg};
use super::{Compiler, article};
use crate::order::Type;
use crate::suggest::did_you_mean;
use crate::value::Str;

/// Names that are not fields of the order, offered as suggestions too.
const SPECIAL: [&str; 3] = ["event", "source", "destination"];

/// Where a path starts: the order, or the element of the innermost list function.
struct Base<'s> {
    ty: Type,
    /// The steps after the start (`it`, the element itself, is not a step).
    steps: &'s [Segment],
    elem: bool,
    /// What the first name is looked up in, for hints: "the order".
    name: String,
}

impl Compiler<'_> {
    pub(super) fn path(&mut self, e: &Expr, segs: &[Segment]) -> (Node, Type) {
        let Some(Segment::Field(first)) = segs.first() else {
            return self.error(ExprError::new(e.span.clone(), "a path starts with a name"));
        };
        if segs.len() == 1
            && let Some(special) = self.special(e, first)
        {
            return special;
        }
        let base = match self.base(e, first, segs) {
            Ok(base) => base,
            Err(err) => return self.error(err),
        };
        let mut ty = base.ty.clone();
        let mut out = Vec::with_capacity(base.steps.len());
        for (i, seg) in base.steps.iter().enumerate() {
            let walked = &base.steps[..i];
            let step = match seg {
                Segment::Field(name) => field_step(e, &ty, name, walked, &base)
                    .map(|t| (t, Seg::Key(Str::new(name), Hint::default()))),
                Segment::Index(i) => index_step(e, &ty, walked).map(|t| (t, Seg::Index(*i))),
            };
            match step {
                Ok((next, seg)) => {
                    ty = next;
                    out.push(seg);
                }
                Err(err) => return self.error(err),
            }
        }
        let text: Arc<str> = Arc::from(path_text(segs).as_str());
        (
            Node::Field(Box::new(FieldRef::new(base.elem, out, text))),
            ty,
        )
    }

    /// `event`, `source` and `destination`, when written alone.
    fn special(&mut self, e: &Expr, name: &str) -> Option<(Node, Type)> {
        Some(match name {
            "event" => (Node::Event, Type::Text),
            "source" => (Node::Source, Type::Text),
            "destination" if self.env.destination_known => (Node::Destination, Type::Text),
            "destination" => self.error(ExprError::new(
                e.span.clone(),
                "`destination` is only known in attributes and overwrites",
            )),
            _ => return None,
        })
    }

    fn base<'s>(&self, e: &Expr, first: &str, segs: &'s [Segment]) -> Result<Base<'s>, ExprError> {
        let Some((elem_ty, list_name)) = self.elems.last() else {
            return Ok(Base {
                ty: self.env.order.clone(),
                steps: segs,
                elem: false,
                name: "the order".to_string(),
            });
        };
        if first == "it" {
            return Ok(Base {
                ty: elem_ty.clone(),
                steps: &segs[1..],
                elem: true,
                name: format!("the element of `{list_name}`"),
            });
        }
        if !matches!(elem_ty, Type::Object(_) | Type::Any) {
            return Err(ExprError::new(
                e.span.clone(),
                format!(
                    "the elements of `{list_name}` are {}, which has no field `{first}`",
                    elem_ty.name()
                ),
            )
            .hint("use `it` for the element itself"));
        }
        Ok(Base {
            ty: elem_ty.clone(),
            steps: segs,
            elem: true,
            name: format!("the elements of `{list_name}`"),
        })
    }
}

/// The type of field `name` of a `ty`, reached by `walked`.
fn field_step(
    e: &Expr,
    ty: &Type,
    name: &str,
    walked: &[Segment],
    base: &Base,
) -> Result<Type, ExprError> {
    match ty {
        Type::Any => Ok(Type::Any),
        Type::Object(_) => ty
            .field(name)
            .cloned()
            .ok_or_else(|| unknown_field(e, ty, name, walked, base)),
        Type::List(_) => {
            let shown = path_text(walked);
            Err(ExprError::new(
                e.span.clone(),
                format!("`{shown}` is a list; it has no field `{name}`"),
            )
            .hint(format!(
                "use `any({shown}, {name} ...)` or an index: `{shown}[0].{name}`"
            )))
        }
        other => Err(ExprError::new(
            e.span.clone(),
            format!(
                "`{}` is {}; it has no field `{name}`",
                path_text(walked),
                article(other)
            ),
        )),
    }
}

/// No field `name` in the object type `ty`: a suggestion if one is close, else
/// where fields come from.
fn unknown_field(e: &Expr, ty: &Type, name: &str, walked: &[Segment], base: &Base) -> ExprError {
    let mut candidates: Vec<&str> = ty.field_names();
    if walked.is_empty() {
        candidates.extend(SPECIAL);
        if base.elem {
            candidates.push("it");
        }
    }
    let prefix = path_text(walked);
    let full = |n: &str| {
        if prefix.is_empty() {
            n.to_string()
        } else {
            format!("{prefix}.{n}")
        }
    };
    let err = ExprError::new(e.span.clone(), format!("unknown field `{}`", full(name)));
    if let Some(s) = did_you_mean(name, candidates.iter().copied()) {
        err.hint(format!("did you mean `{}`?", full(s)))
    } else if walked.is_empty() && !base.elem {
        err.hint("declare custom fields under `fields:` with their type")
    } else if walked.is_empty() {
        err.hint(format!("{} have no such field", base.name))
    } else {
        err
    }
}

/// The element type of the list `ty`, reached by `walked`.
fn index_step(e: &Expr, ty: &Type, walked: &[Segment]) -> Result<Type, ExprError> {
    match ty {
        Type::Any => Ok(Type::Any),
        Type::List(t) => Ok((**t).clone()),
        other => Err(ExprError::new(
            e.span.clone(),
            format!(
                "`{}` is {}, not a list; it cannot be indexed",
                path_text(walked),
                article(other)
            ),
        )),
    }
}
