//! From [`Expr`] to [`Node`]: paths resolved against the order type, regexes
//! compiled, constants folded and types checked. Every problem is collected, so a
//! rules file shows all of its mistakes in one run.

use std::sync::Arc;

use regex::RegexBuilder;

use super::ast::{BinOp, Expr, ExprKind, Segment, path_text};
use super::error::ExprError;
use super::eval::Env;
use super::program::{ArOp, Check, FieldRef, Hint, ListFn, Needle, Node, OrdOp, Seg, Test, TextOp};
use super::scope::{Rates, Scope};
use crate::order::Type;
use crate::suggest::did_you_mean;
use crate::value::{Str, Value};

/// What an expression is compiled against.
pub struct CompileEnv<'a> {
    /// The order's type: the canonical shape plus the declared `fields`.
    pub order: &'a Type,
    /// Rates known to `convert()`.
    pub rates: &'a Rates,
    /// Whether `destination` means something here (attributes and overwrites).
    pub destination_known: bool,
}

/// Compiles a parsed expression.
pub(crate) fn compile(
    expr: &Expr,
    src: &str,
    env: &CompileEnv,
) -> Result<(Node, Type), Vec<ExprError>> {
    let mut c = Compiler {
        env,
        src,
        errors: Vec::new(),
        elems: Vec::new(),
    };
    let out = c.expr(expr);
    if c.errors.is_empty() {
        Ok(out)
    } else {
        Err(c.errors)
    }
}

struct Compiler<'a> {
    env: &'a CompileEnv<'a>,
    /// The expression's text, for naming its parts in messages.
    src: &'a str,
    errors: Vec<ExprError>,
    /// The element types of the enclosing `any`/`all`/`count`/`sum`, innermost last.
    elems: Vec<(Type, String)>,
}

const SPECIAL: [&str; 3] = ["event", "source", "destination"];
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

fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Any, _) | (_, Type::Any) => true,
        (x, y) if x.is_textual() && y.is_textual() => true,
        (Type::List(x), Type::List(y)) => compatible(x, y),
        (Type::Object(_), Type::Object(_)) => true,
        (x, y) => x.name() == y.name(),
    }
}

impl Compiler<'_> {
    /// The source text of `e`, for messages: `` `total_price` ``.
    fn text_of(&self, e: &Expr) -> String {
        let text = self
            .src
            .get(e.span.clone())
            .map(str::trim)
            .unwrap_or_default();
        let text = if text.is_empty() {
            e.to_string()
        } else {
            text.to_string()
        };
        if text.chars().count() > 40 {
            let short: String = text.chars().take(37).collect();
            format!("`{short}...`")
        } else {
            format!("`{text}`")
        }
    }

    fn error(&mut self, e: ExprError) -> (Node, Type) {
        self.errors.push(e);
        (Node::Const(Value::Null), Type::Any)
    }

    fn cannot_compare(
        &mut self,
        e: &Expr,
        (a, ta): (&Expr, &Type),
        (b, tb): (&Expr, &Type),
    ) -> (Node, Type) {
        let message = format!(
            "cannot compare {} with {}: {} is {} and {} is {}",
            ta.name(),
            tb.name(),
            self.text_of(a),
            article(ta),
            self.text_of(b),
            article(tb)
        );
        self.error(ExprError::new(e.span.clone(), message))
    }

    fn fold(&mut self, node: Node, ty: Type, span: &std::ops::Range<usize>) -> (Node, Type) {
        if !node.foldable() {
            return (specialise(node), ty);
        }
        let order = Value::Null;
        let scope = Scope {
            order: &order,
            event: crate::order::Event::Updated,
            source: "",
            destination: None,
            now: chrono::DateTime::UNIX_EPOCH,
            rates: self.env.rates,
        };
        match node.eval(&Env::new(&scope)) {
            Ok(v) => (Node::Const(v.into_owned()), ty),
            Err(e) => self.error(ExprError::new(span.clone(), e.message())),
        }
    }

    fn expr(&mut self, e: &Expr) -> (Node, Type) {
        match &e.kind {
            ExprKind::Null => (Node::Const(Value::Null), Type::Any),
            ExprKind::Bool(b) => (Node::Const(Value::Bool(*b)), Type::Bool),
            ExprKind::Number(n) => (Node::Const(Value::Number(*n)), Type::Number),
            ExprKind::Text(s) => (Node::Const(Value::text(s)), Type::Text),
            ExprKind::List(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                let mut elem: Option<Type> = None;
                for item in items {
                    let (n, t) = self.expr(item);
                    match &elem {
                        None => elem = Some(t),
                        Some(prev) if !compatible(prev, &t) => elem = Some(Type::Any),
                        Some(_) => {}
                    }
                    nodes.push(n);
                }
                let ty = Type::List(Box::new(elem.unwrap_or(Type::Any)));
                self.fold(Node::List(nodes.into()), ty, &e.span)
            }
            ExprKind::Path(segs) => self.path(e, segs),
            ExprKind::Call(name, args) => self.call(e, name, args),
            ExprKind::Not(x) => {
                let (n, t) = self.expr(x);
                if !matches!(t, Type::Bool | Type::Any) {
                    return self.error(ExprError::new(
                        x.span.clone(),
                        format!(
                            "`not` needs true or false; {} is {}",
                            self.text_of(x),
                            article(&t)
                        ),
                    ));
                }
                self.fold(Node::Not(Box::new(n)), Type::Bool, &e.span)
            }
            ExprKind::Neg(x) => {
                let (n, t) = self.expr(x);
                if !matches!(t, Type::Number | Type::Any) {
                    return self.error(ExprError::new(
                        x.span.clone(),
                        format!("`-` needs a number; {} is {}", self.text_of(x), article(&t)),
                    ));
                }
                self.fold(Node::Neg(Box::new(n)), Type::Number, &e.span)
            }
            ExprKind::IsEmpty(x, negated) => {
                let (n, _) = self.expr(x);
                self.fold(Node::IsEmpty(Box::new(n), *negated), Type::Bool, &e.span)
            }
            ExprKind::Binary(op, a, b) => self.binary(e, *op, a, b),
        }
    }

    fn path(&mut self, e: &Expr, segs: &[Segment]) -> (Node, Type) {
        let Some(Segment::Field(first)) = segs.first() else {
            return self.error(ExprError::new(e.span.clone(), "a path starts with a name"));
        };
        let text: Arc<str> = Arc::from(path_text(segs).as_str());
        let in_elem = !self.elems.is_empty();
        if segs.len() == 1 {
            match first.as_str() {
                "event" => return (Node::Event, Type::Text),
                "source" => return (Node::Source, Type::Text),
                "destination" if self.env.destination_known => {
                    return (Node::Destination, Type::Text);
                }
                "destination" => {
                    return self.error(ExprError::new(
                        e.span.clone(),
                        "`destination` is only known in attributes and overwrites",
                    ));
                }
                _ => {}
            }
        }
        let (mut ty, rest, elem, base_name) = if in_elem {
            let (elem_ty, list_name) = self
                .elems
                .last()
                .cloned()
                .unwrap_or((Type::Any, String::new()));
            if first == "it" {
                (
                    elem_ty,
                    &segs[1..],
                    true,
                    format!("the element of `{list_name}`"),
                )
            } else if !matches!(elem_ty, Type::Object(_) | Type::Any) {
                return self.error(
                    ExprError::new(
                        e.span.clone(),
                        format!(
                            "the elements of `{list_name}` are {}, which has no field `{first}`",
                            elem_ty.name()
                        ),
                    )
                    .hint("use `it` for the element itself"),
                );
            } else {
                (
                    elem_ty,
                    segs,
                    true,
                    format!("the elements of `{list_name}`"),
                )
            }
        } else {
            (self.env.order.clone(), segs, false, "the order".to_string())
        };
        let mut walked: Vec<Segment> = Vec::new();
        let mut out = Vec::with_capacity(rest.len());
        for seg in rest {
            match seg {
                Segment::Field(name) => {
                    ty = match &ty {
                        Type::Any => Type::Any,
                        Type::Object(_) => match ty.field(name) {
                            Some(t) => t.clone(),
                            None => {
                                let mut candidates: Vec<&str> = ty.field_names();
                                if walked.is_empty() {
                                    candidates.extend(SPECIAL);
                                    if elem {
                                        candidates.push("it");
                                    }
                                }
                                let prefix = path_text(&walked);
                                let full = |n: &str| {
                                    if prefix.is_empty() {
                                        n.to_string()
                                    } else {
                                        format!("{prefix}.{n}")
                                    }
                                };
                                let mut err = ExprError::new(
                                    e.span.clone(),
                                    format!("unknown field `{}`", full(name)),
                                );
                                if let Some(s) = did_you_mean(name, candidates.iter().copied()) {
                                    err = err.hint(format!("did you mean `{}`?", full(s)));
                                } else if walked.is_empty() && !elem {
                                    err = err.hint(
                                        "declare custom fields under `fields:` with their type",
                                    );
                                } else if walked.is_empty() {
                                    err = err.hint(format!("{base_name} have no such field"));
                                }
                                return self.error(err);
                            }
                        },
                        Type::List(_) => {
                            let shown = path_text(&walked);
                            return self.error(
                                ExprError::new(
                                    e.span.clone(),
                                    format!("`{shown}` is a list; it has no field `{name}`"),
                                )
                                .hint(format!(
                                    "use `any({shown}, {name} ...)` or an index: `{shown}[0].{name}`"
                                )),
                            );
                        }
                        other => {
                            let shown = path_text(&walked);
                            return self.error(ExprError::new(
                                e.span.clone(),
                                format!(
                                    "`{shown}` is {}; it has no field `{name}`",
                                    article(other)
                                ),
                            ));
                        }
                    };
                    out.push(Seg::Key(Str::new(name), Hint::default()));
                }
                Segment::Index(i) => {
                    ty = match &ty {
                        Type::Any => Type::Any,
                        Type::List(t) => (**t).clone(),
                        other => {
                            let shown = path_text(&walked);
                            return self.error(ExprError::new(
                                e.span.clone(),
                                format!(
                                    "`{shown}` is {}, not a list; it cannot be indexed",
                                    article(other)
                                ),
                            ));
                        }
                    };
                    out.push(Seg::Index(*i));
                }
            }
            walked.push(seg.clone());
        }
        (
            Node::Field(Box::new(FieldRef {
                elem,
                one: match out.as_slice() {
                    [seg @ Seg::Key(..)] => Some(seg.clone()),
                    _ => None,
                },
                segs: out.into(),
                text,
            })),
            ty,
        )
    }

    fn call(&mut self, e: &Expr, name: &str, args: &[Expr]) -> (Node, Type) {
        let arity = match name {
            "now" => 0,
            "len" | "lower" | "upper" | "days_since" => 1,
            "any" | "all" | "count" | "sum" => 2,
            "convert" => 3,
            _ => {
                let mut err = ExprError::new(
                    e.span.start..e.span.start + name.len(),
                    format!("unknown function `{name}`"),
                );
                if let Some(s) = did_you_mean(name, FUNCTIONS.iter().copied()) {
                    err = err.hint(format!("did you mean `{s}`?"));
                }
                return self.error(err);
            }
        };
        if args.len() != arity {
            let plural = if arity == 1 { "" } else { "s" };
            return self.error(ExprError::new(
                e.span.clone(),
                format!(
                    "`{name}` takes {arity} argument{plural}, not {}",
                    args.len()
                ),
            ));
        }
        let guard = |n: Node| {
            Node::Guard(
                Box::new(n),
                Arc::from(self.src.get(e.span.clone()).unwrap_or_default()),
            )
        };
        match name {
            "now" => (Node::Now, Type::Timestamp),
            "len" => {
                let (n, t) = self.expr(&args[0]);
                if !matches!(
                    t,
                    Type::Text | Type::Timestamp | Type::List(_) | Type::Object(_) | Type::Any
                ) {
                    return self.error(ExprError::new(
                        args[0].span.clone(),
                        format!(
                            "`len` needs text or a list; {} is {}",
                            self.text_of(&args[0]),
                            article(&t)
                        ),
                    ));
                }
                self.fold(Node::Len(Box::new(n)), Type::Number, &e.span)
            }
            "lower" | "upper" => {
                let (n, t) = self.expr(&args[0]);
                if !(t.is_textual() || t == Type::Any) {
                    return self.error(ExprError::new(
                        args[0].span.clone(),
                        format!(
                            "`{name}` needs text; {} is {}",
                            self.text_of(&args[0]),
                            article(&t)
                        ),
                    ));
                }
                let node = if name == "lower" {
                    Node::Lower(Box::new(n))
                } else {
                    Node::Upper(Box::new(n))
                };
                self.fold(node, Type::Text, &e.span)
            }
            "days_since" => {
                let (n, t) = self.expr(&args[0]);
                if !(t.is_textual() || t == Type::Any) {
                    return self.error(ExprError::new(
                        args[0].span.clone(),
                        format!(
                            "`days_since` needs a timestamp; {} is {}",
                            self.text_of(&args[0]),
                            article(&t)
                        ),
                    ));
                }
                (guard(Node::DaysSince(Box::new(n))), Type::Number)
            }
            "convert" => {
                let (amount, t) = self.expr(&args[0]);
                if !matches!(t, Type::Number | Type::Any) {
                    self.errors.push(ExprError::new(
                        args[0].span.clone(),
                        format!(
                            "`convert` needs an amount; {} is {}",
                            self.text_of(&args[0]),
                            article(&t)
                        ),
                    ));
                }
                let mut currencies = Vec::new();
                for (i, arg) in args.iter().enumerate().skip(1) {
                    let (n, t) = self.expr(arg);
                    if !(t.is_textual() || t == Type::Any) {
                        self.errors.push(ExprError::new(
                            arg.span.clone(),
                            format!(
                                "`convert` needs a currency code; {} is {}",
                                self.text_of(arg),
                                article(&t)
                            ),
                        ));
                    }
                    if let Some(Value::Text(code)) = n.as_const()
                        && self.env.rates.rate(code).is_none()
                    {
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
                    } else if let Some(Value::Text(code)) = n.as_const()
                        && i == args.len() - 1
                        && crate::money::minor_units(code).is_none()
                    {
                        self.errors.push(ExprError::new(
                            arg.span.clone(),
                            format!(
                                "`{code}` has no minor unit in ISO 4217, so `convert` \
                                 cannot round to it"
                            ),
                        ));
                    }
                    currencies.push(n);
                }
                let to = currencies.pop().unwrap_or(Node::Const(Value::Null));
                let from = currencies.pop().unwrap_or(Node::Const(Value::Null));
                let node = guard(Node::Convert(
                    Box::new(amount),
                    Box::new(from),
                    Box::new(to),
                ));
                (node, Type::Number)
            }
            _ => {
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
                    other => {
                        return self.error(ExprError::new(
                            args[0].span.clone(),
                            format!(
                                "`{name}` needs a list; {} is {}",
                                self.text_of(&args[0]),
                                article(&other)
                            ),
                        ));
                    }
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
                let (want, result) = if which == ListFn::Sum {
                    (Type::Number, Type::Number)
                } else if which == ListFn::Count {
                    (Type::Bool, Type::Number)
                } else {
                    (Type::Bool, Type::Bool)
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
                // `any(list, field OP constant)` over the elements' own fields is
                // one node: each element is tested in place.
                if matches!(which, ListFn::Any | ListFn::All)
                    && let (Node::Field(f), Node::Test(c)) = (&list, &body)
                    && c.field.elem
                    && !f.elem
                {
                    let (Node::Field(f), Node::Test(c)) = (list, body) else {
                        unreachable!("matched just above")
                    };
                    return (Node::Each(which == ListFn::All, f, c), result);
                }
                (Node::ListFn(which, Box::new(list), Box::new(body)), result)
            }
        }
    }

    fn binary(&mut self, e: &Expr, op: BinOp, a: &Expr, b: &Expr) -> (Node, Type) {
        let (na, ta) = self.expr(a);
        let (nb, tb) = self.expr(b);
        let opname = op.as_str();
        let mismatch = |this: &mut Self, side: &Expr, need: &str, t: &Type| {
            this.error(ExprError::new(
                side.span.clone(),
                format!(
                    "`{opname}` needs {need}; {} is {}",
                    this.text_of(side),
                    article(t)
                ),
            ))
        };
        match op {
            BinOp::And | BinOp::Or => {
                for (side, t) in [(a, &ta), (b, &tb)] {
                    if !matches!(t, Type::Bool | Type::Any) {
                        return mismatch(self, side, "true or false on both sides", t);
                    }
                }
                let mut parts = Vec::new();
                for n in [na, nb] {
                    match (op, n) {
                        (BinOp::And, Node::And(xs)) | (BinOp::Or, Node::Or(xs)) => {
                            parts.extend(xs.into_vec())
                        }
                        (BinOp::And, Node::All(cs)) | (BinOp::Or, Node::Any(cs)) => {
                            parts.extend(cs.into_vec().into_iter().map(|c| Node::Test(Box::new(c))))
                        }
                        (_, n) => parts.push(n),
                    }
                }
                let node = if op == BinOp::And {
                    Node::And(parts.into())
                } else {
                    Node::Or(parts.into())
                };
                self.fold(node, Type::Bool, &e.span)
            }
            BinOp::Eq | BinOp::Ne => {
                if !compatible(&ta, &tb) {
                    return self.cannot_compare(e, (a, &ta), (b, &tb));
                }
                let node = Node::Eq(Box::new(na), Box::new(nb), op == BinOp::Ne);
                self.fold(node, Type::Bool, &e.span)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let orderable = |t: &Type| matches!(t, Type::Number | Type::Any) || t.is_textual();
                if !orderable(&ta) {
                    return mismatch(self, a, "numbers or text", &ta);
                }
                if !orderable(&tb) {
                    return mismatch(self, b, "numbers or text", &tb);
                }
                if !compatible(&ta, &tb) {
                    return self.cannot_compare(e, (a, &ta), (b, &tb));
                }
                let o = match op {
                    BinOp::Lt => OrdOp::Lt,
                    BinOp::Le => OrdOp::Le,
                    BinOp::Gt => OrdOp::Gt,
                    _ => OrdOp::Ge,
                };
                self.fold(
                    Node::Ord(o, Box::new(na), Box::new(nb)),
                    Type::Bool,
                    &e.span,
                )
            }
            BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith => {
                let list_ok = op == BinOp::Contains;
                match &ta {
                    Type::List(inner) if list_ok => {
                        if !compatible(inner, &tb) {
                            let what =
                                format!("{} to look for in {}", article(inner), self.text_of(a));
                            return mismatch(self, b, &what, &tb);
                        }
                        let node = Node::In(Box::new(nb), Box::new(na), false);
                        return self.fold(node, Type::Bool, &e.span);
                    }
                    t if t.is_textual() || *t == Type::Any => {}
                    t => {
                        let need = if list_ok {
                            "text or a list on the left"
                        } else {
                            "text on the left"
                        };
                        return mismatch(self, a, need, t);
                    }
                }
                if !(tb.is_textual() || tb == Type::Any) {
                    return mismatch(self, b, "text on the right", &tb);
                }
                let t = match op {
                    BinOp::Contains => TextOp::Contains,
                    BinOp::StartsWith => TextOp::StartsWith,
                    _ => TextOp::EndsWith,
                };
                let node = match (nb.as_const(), ta == Type::Any) {
                    (Some(Value::Text(s)), false) => {
                        Node::TextConst(t, Box::new(na), Box::new(Needle::new(s)))
                    }
                    _ => Node::Text(t, Box::new(na), Box::new(nb)),
                };
                self.fold(node, Type::Bool, &e.span)
            }
            BinOp::Matches => {
                if !(ta.is_textual() || ta == Type::Any) {
                    return mismatch(self, a, "text on the left", &ta);
                }
                let Some(Value::Text(pattern)) = nb.as_const() else {
                    return self.error(ExprError::new(
                        b.span.clone(),
                        "`matches` needs a regex written as a text literal",
                    ));
                };
                match RegexBuilder::new(&format!("(?i){pattern}"))
                    .size_limit(1 << 20)
                    .nest_limit(64)
                    .build()
                {
                    Ok(re) => self.fold(
                        Node::Matches(Box::new(na), Box::new(re)),
                        Type::Bool,
                        &e.span,
                    ),
                    Err(err) => self.error(ExprError::new(
                        b.span.clone(),
                        format!("invalid regex: {}", regex_message(&err)),
                    )),
                }
            }
            BinOp::In | BinOp::NotIn => {
                let elem = match &tb {
                    Type::List(inner) => (**inner).clone(),
                    Type::Any => Type::Any,
                    other => return mismatch(self, b, "a list on the right", other),
                };
                if !compatible(&ta, &elem) {
                    return mismatch(self, a, &format!("{} to look for", article(&elem)), &ta);
                }
                let node = Node::In(Box::new(na), Box::new(nb), op == BinOp::NotIn);
                self.fold(node, Type::Bool, &e.span)
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                let joinable = op == BinOp::Add && (ta.is_textual() || tb.is_textual());
                let ty = if joinable {
                    Type::Text
                } else {
                    for (side, t) in [(a, &ta), (b, &tb)] {
                        if !matches!(t, Type::Number | Type::Any) {
                            let need = if op == BinOp::Add {
                                "numbers, or text to join"
                            } else {
                                "numbers"
                            };
                            return mismatch(self, side, need, t);
                        }
                    }
                    if ta == Type::Any || tb == Type::Any {
                        Type::Any
                    } else {
                        Type::Number
                    }
                };
                let o = match op {
                    BinOp::Add => ArOp::Add,
                    BinOp::Sub => ArOp::Sub,
                    BinOp::Mul => ArOp::Mul,
                    _ => ArOp::Div,
                };
                let (node, ty) = self.fold(Node::Arith(o, Box::new(na), Box::new(nb)), ty, &e.span);
                if o == ArOp::Div && node.as_const().is_none() {
                    let site = Arc::from(self.src.get(e.span.clone()).unwrap_or_default());
                    return (Node::Guard(Box::new(node), site), ty);
                }
                (node, ty)
            }
        }
    }
}

/// Rewrites a field compared with constants into a [`Node::Test`], which reads
/// the field in place and never builds a value; the result is the same.
fn specialise(node: Node) -> Node {
    fn flip(op: OrdOp) -> OrdOp {
        match op {
            OrdOp::Lt => OrdOp::Gt,
            OrdOp::Le => OrdOp::Ge,
            OrdOp::Gt => OrdOp::Lt,
            OrdOp::Ge => OrdOp::Le,
        }
    }
    let negated_test = |f: Box<FieldRef>, t: Test, negate: bool| {
        Node::Test(Box::new(Check {
            field: *f,
            test: t,
            negate,
        }))
    };
    let test = |f: Box<FieldRef>, t: Test| negated_test(f, t, false);
    let needle = Needle::new;
    match node {
        Node::Eq(a, b, negated) => match (*a, *b) {
            (Node::Field(f), Node::Const(Value::Text(t)))
            | (Node::Const(Value::Text(t)), Node::Field(f)) => {
                negated_test(f, Test::EqText(needle(&t)), negated)
            }
            (Node::Field(f), Node::Const(c)) | (Node::Const(c), Node::Field(f)) => {
                negated_test(f, Test::Eq(c), negated)
            }
            (a, b) => Node::Eq(Box::new(a), Box::new(b), negated),
        },
        Node::Ord(op, a, b) => match (*a, *b) {
            (Node::Field(f), Node::Const(Value::Number(n))) => test(f, Test::OrdNum(op, n)),
            (Node::Const(Value::Number(n)), Node::Field(f)) => test(f, Test::OrdNum(flip(op), n)),
            (Node::Field(f), Node::Const(c)) => test(f, Test::Ord(op, c)),
            (Node::Const(c), Node::Field(f)) => test(f, Test::Ord(flip(op), c)),
            (Node::Len(x), Node::Const(Value::Number(n))) if matches!(*x, Node::Field(_)) => {
                let Node::Field(f) = *x else { unreachable!() };
                test(f, Test::Len(op, n))
            }
            (a, b) => Node::Ord(op, Box::new(a), Box::new(b)),
        },
        Node::In(a, b, negated) => match (*a, *b) {
            (Node::Field(f), Node::Const(Value::List(items)))
                if items.iter().all(|i| matches!(i, Value::Text(_))) =>
            {
                let needles = items.iter().filter_map(Value::as_str).map(needle).collect();
                test(f, Test::InText(needles, negated))
            }
            (Node::Field(f), Node::Const(Value::List(items))) => {
                test(f, Test::In(items.iter().cloned().collect(), negated))
            }
            (Node::Const(Value::Text(t)), Node::Field(f)) if !negated => {
                test(f, Test::HasText(needle(&t)))
            }
            (Node::Const(c), Node::Field(f)) if !negated => test(f, Test::Has(c)),
            (a, b) => Node::In(Box::new(a), Box::new(b), negated),
        },
        Node::TextConst(op, a, needle) => match *a {
            Node::Field(f) => test(f, Test::Text(op, *needle)),
            a => Node::TextConst(op, Box::new(a), needle),
        },
        Node::Matches(a, re) => match *a {
            Node::Field(f) => test(f, Test::Matches(*re)),
            a => Node::Matches(Box::new(a), re),
        },
        Node::IsEmpty(a, negated) => match *a {
            Node::Field(f) => negated_test(f, Test::Empty, negated),
            a => Node::IsEmpty(Box::new(a), negated),
        },
        Node::Not(x) => match *x {
            Node::Test(mut c) => {
                c.negate = !c.negate;
                Node::Test(c)
            }
            x => Node::Not(Box::new(x)),
        },
        Node::And(parts) if parts.iter().all(|p| matches!(p, Node::Test(_))) => Node::All(
            parts
                .into_vec()
                .into_iter()
                .filter_map(into_check)
                .collect(),
        ),
        Node::Or(parts) if parts.iter().all(|p| matches!(p, Node::Test(_))) => Node::Any(
            parts
                .into_vec()
                .into_iter()
                .filter_map(into_check)
                .collect(),
        ),
        other => other,
    }
}

fn into_check(n: Node) -> Option<Check> {
    match n {
        Node::Test(c) => Some(*c),
        _ => None,
    }
}

/// `a number`, `an object`, `a list of text`.
pub fn article(t: &Type) -> String {
    match t {
        Type::Any => "unknown".to_string(),
        Type::Object(_) => "an object".to_string(),
        Type::List(inner) if matches!(**inner, Type::Object(_)) => "a list of objects".to_string(),
        Type::List(inner) => format!("a list of {}", inner.name()),
        Type::Bool => "true or false".to_string(),
        other => format!("a {}", other.name()),
    }
}

fn regex_message(err: &regex::Error) -> String {
    match err {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .map(|l| l.trim_start_matches("error:").trim().to_string())
            .unwrap_or_else(|| s.clone()),
        regex::Error::CompiledTooBig(_) => "the pattern is too large".to_string(),
        other => other.to_string(),
    }
}
