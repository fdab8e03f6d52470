//! The built-in functions: `len`, `lower`/`upper`, `days_since`, `convert`,
//! `now`, and the list functions `any`, `all`, `count` and `sum`, whose second
//! argument is compiled against the list's element.

use super::super::ast::Expr;
use super::super::error::ExprError;
use super::super::program::{ListFn, Node};
use super::{Compiler, article, textual_or_any};
use crate::order::Type;
use crate::suggest::did_you_mean;
use crate::value::Value;

/// Every function, for suggestions.
const FUNCTIONS: [&str; 10] = [
    "len",
    "lower",
    "upper",
    "any",
    "all",
    "count",
    "sum",
    "convert",
    "now",
    "days_since",
];

impl Compiler<'_> {
    pub(super) fn call(&mut self, e: &Expr, name: &str, args: &[Expr]) -> (Node, Type) {
        if let Err(err) = check_arity(e, name, args) {
            return self.error(err);
        }
        match name {
            "now" => (Node::Now, Type::Timestamp),
            "len" => self.len(e, &args[0]),
            "lower" | "upper" => self.change_case(e, name, &args[0]),
            "days_since" => self.days_since(e, &args[0]),
            "convert" => self.convert(e, args),
            _ => self.list_fn(name, args),
        }
    }

    fn len(&mut self, e: &Expr, arg: &Expr) -> (Node, Type) {
        let (n, t) = self.expr(arg);
        if !matches!(
            t,
            Type::Text | Type::Timestamp | Type::List(_) | Type::Object(_) | Type::Any
        ) {
            return self.error(self.needs("len", arg, "text or a list", &t));
        }
        self.fold(Node::Len(Box::new(n)), Type::Number, &e.span)
    }

    /// `lower(x)` and `upper(x)`.
    fn change_case(&mut self, e: &Expr, name: &str, arg: &Expr) -> (Node, Type) {
        let (n, t) = self.expr(arg);
        if !textual_or_any(&t) {
            return self.error(self.needs(name, arg, "text", &t));
        }
        let node = if name == "lower" {
            Node::Lower(Box::new(n))
        } else {
            Node::Upper(Box::new(n))
        };
        self.fold(node, Type::Text, &e.span)
    }

    fn days_since(&mut self, e: &Expr, arg: &Expr) -> (Node, Type) {
        let (n, t) = self.expr(arg);
        if !textual_or_any(&t) {
            return self.error(self.needs("days_since", arg, "a timestamp", &t));
        }
        (self.guard(e, Node::DaysSince(Box::new(n))), Type::Number)
    }

    /// `convert(amount, from, to)`; all three arguments are checked, so each
    /// problem is reported.
    fn convert(&mut self, e: &Expr, args: &[Expr]) -> (Node, Type) {
        let (amount, t) = self.expr(&args[0]);
        if !matches!(t, Type::Number | Type::Any) {
            let err = self.needs("convert", &args[0], "an amount", &t);
            self.errors.push(err);
        }
        let from = self.currency(&args[1], false);
        let to = self.currency(&args[2], true);
        let node = Node::Convert(Box::new(amount), Box::new(from), Box::new(to));
        (self.guard(e, node), Type::Number)
    }

    /// A currency code for `convert`. A constant one must have a rate, and the
    /// currency converted `into` a minor unit to round to.
    fn currency(&mut self, arg: &Expr, into: bool) -> Node {
        let (n, t) = self.expr(arg);
        if !textual_or_any(&t) {
            let err = self.needs("convert", arg, "a currency code", &t);
            self.errors.push(err);
        }
        if let Some(Value::Text(code)) = n.as_const() {
            if self.env.rates.rate(code).is_none() {
                let codes = self.env.rates.codes();
                let known = if codes.is_empty() {
                    "no `currency_rates` are given".to_string()
                } else {
                    format!("`currency_rates` has {}", codes.join(", "))
                };
                self.errors.push(ExprError::new(
                    arg.span.clone(),
                    format!("unknown currency `{code}`; {known}"),
                ));
            } else if into && crate::money::minor_units(code).is_none() {
                self.errors.push(ExprError::new(
                    arg.span.clone(),
                    format!(
                        "`{code}` has no minor unit in ISO 4217, so `convert` \
                         cannot round to it"
                    ),
                ));
            }
        }
        n
    }

    /// `any`, `all`, `count` and `sum`: the second argument is compiled with
    /// the list's element in scope.
    fn list_fn(&mut self, name: &str, args: &[Expr]) -> (Node, Type) {
        let which = match name {
            "any" => ListFn::Any,
            "all" => ListFn::All,
            "count" => ListFn::Count,
            _ => ListFn::Sum,
        };
        let (list, t) = self.expr(&args[0]);
        let elem = match t {
            Type::List(inner) => *inner,
            Type::Any => Type::Any,
            other => return self.error(self.needs(name, &args[0], "a list", &other)),
        };
        let list_text = self
            .src
            .get(args[0].span.clone())
            .unwrap_or_default()
            .trim()
            .to_string();
        self.elems.push((elem, list_text));
        let (body, bt) = self.expr(&args[1]);
        self.elems.pop();
        let (want, result) = match which {
            ListFn::Sum => (Type::Number, Type::Number),
            ListFn::Count => (Type::Bool, Type::Number),
            ListFn::Any | ListFn::All => (Type::Bool, Type::Bool),
        };
        if !(bt == want || bt == Type::Any) {
            let what = if want == Type::Bool {
                "a condition"
            } else {
                "a number"
            };
            return self.error(ExprError::new(
                args[1].span.clone(),
                format!(
                    "`{name}` needs {what} as its second argument; {} is {}",
                    self.text_of(&args[1]),
                    article(&bt)
                ),
            ));
        }
        (list_node(which, list, body), result)
    }
}

/// The number of arguments `name` takes, checked; an unknown name gets a suggestion.
fn check_arity(e: &Expr, name: &str, args: &[Expr]) -> Result<(), ExprError> {
    let arity = match name {
        "now" => 0,
        "len" | "lower" | "upper" | "days_since" => 1,
        "any" | "all" | "count" | "sum" => 2,
        "convert" => 3,
        _ => {
            let err = ExprError::new(
                e.span.start..e.span.start + name.len(),
                format!("unknown function `{name}`"),
            );
            return Err(match did_you_mean(name, FUNCTIONS.iter().copied()) {
                Some(s) => err.hint(format!("did you mean `{s}`?")),
                None => err,
            });
        }
    };
    if args.len() == arity {
        return Ok(());
    }
    let plural = if arity == 1 { "" } else { "s" };
    Err(ExprError::new(
        e.span.clone(),
        format!(
            "`{name}` takes {arity} argument{plural}, not {}",
            args.len()
        ),
    ))
}

/// `any(list, field OP constant)` over the elements' own fields is one node:
/// each element is tested in place.
fn list_node(which: ListFn, list: Node, body: Node) -> Node {
    match (which, list, body) {
        (ListFn::Any | ListFn::All, Node::Field(f), Node::Test(c)) if c.field.elem && !f.elem => {
            Node::Each(which == ListFn::All, f, c)
        }
        (which, list, body) => Node::ListFn(which, Box::new(list), Box::new(body)),
    }
}
