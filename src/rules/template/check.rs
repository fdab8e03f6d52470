//! Checking a template when the rules load: the names it reads, the order
//! fields it walks, and in a JSON body that every value goes through `tojson`.

use std::collections::HashSet;

use minijinja::machinery::ast::{self, Expr, Stmt};
use minijinja::machinery::{Span, WhitespaceConfig};
use minijinja::syntax::SyntaxConfig;

use crate::order::Type;
use crate::suggest::did_you_mean;

/// The name a template is compiled under (it shows in no message).
pub(super) const NAME: &str = "request";

/// The names a template sees at its top level.
pub const NAMES: [&str; 9] = [
    "event",
    "order_id",
    "external_id",
    "source",
    "destination",
    "rules_version",
    "order",
    "idempotency_key",
    "now",
];

/// minijinja's own global functions (pure): `range`, `dict`, `namespace`.
const GLOBALS: [&str; 3] = ["range", "dict", "namespace"];

/// A problem in a template's text, at a byte offset of that text.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Where in the template text it starts (bytes).
    pub offset: usize,
    /// How many bytes it covers (at least 1).
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// What a template is checked against at load.
pub struct Check<'a> {
    /// The order's shape (canonical plus `fields:`).
    pub order: &'a Type,
    /// The template is a JSON body: every `{{ value }}` must end in `| tojson`.
    pub json: bool,
}

/// Every problem of a template's text that its syntax tree shows, given the
/// names minijinja found it reads without defining (`undeclared`).
pub(super) fn problems(text: &str, check: &Check, undeclared: &HashSet<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let ast = minijinja::machinery::parse(text, NAME, SyntaxConfig, WhitespaceConfig::default());
    if let Ok(ast) = &ast {
        let mut walk = Walk::default();
        walk.stmt(ast, true);
        // The first place each unknown name is read.
        let mut reported: Vec<&str> = Vec::new();
        for (id, span) in &walk.vars {
            if !undeclared.contains(*id)
                || NAMES.contains(id)
                || GLOBALS.contains(id)
                || reported.contains(id)
            {
                continue;
            }
            reported.push(id);
            let hint = did_you_mean(id, NAMES)
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "a template sees {}",
                        NAMES
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            problems.push(at(
                span,
                text,
                format!("unknown variable `{id}`"),
                Some(hint),
            ));
        }
        if undeclared.contains("order") {
            for (path, span) in &walk.order_paths {
                if let Some((message, hint)) = unknown_field(check.order, path) {
                    problems.push(at(span, text, message, hint));
                }
            }
        }
        if check.json {
            for (expr, span) in &walk.emits {
                if !ends_in_tojson(expr) {
                    let shown = slice(text, span).trim();
                    problems.push(at(
                        span,
                        text,
                        format!("`{{{{ {shown} }}}}` puts a value into a JSON body without `| tojson`"),
                        Some(format!(
                            "write `{{{{ {shown} | tojson }}}}`: it quotes and escapes text and writes lists and objects as JSON (e.g. `{{{{ order.id | tojson }}}}`)"
                        )),
                    ));
                }
            }
        }
    }
    problems
}

fn at(span: &Span, text: &str, message: String, hint: Option<String>) -> Problem {
    let start = (span.start_offset as usize).min(text.len());
    let end = (span.end_offset as usize).clamp(start, text.len());
    Problem {
        offset: start,
        len: (end - start).max(1),
        message,
        hint,
    }
}

fn slice<'t>(text: &'t str, span: &Span) -> &'t str {
    text.get(span.start_offset as usize..span.end_offset as usize)
        .unwrap_or("")
}

fn ends_in_tojson(e: &Expr) -> bool {
    matches!(e, Expr::Filter(f) if f.name == "tojson")
}

/// `order.a.b` read by a template: an error when the shape has no such field.
fn unknown_field(order: &Type, path: &[&str]) -> Option<(String, Option<String>)> {
    let mut ty = order;
    for (i, seg) in path.iter().enumerate() {
        ty = match ty {
            Type::Any => return None,
            Type::List(inner) if seg.parse::<usize>().is_ok() => inner,
            Type::Object(_) => match ty.field(seg) {
                Some(t) => t,
                None => {
                    let prefix: Vec<&str> = path[..i].to_vec();
                    let full = |s: &str| {
                        let mut p = vec!["order"];
                        p.extend(prefix.iter().copied());
                        p.push(s);
                        p.join(".")
                    };
                    let hint = did_you_mean(seg, ty.field_names())
                        .map(|s| format!("did you mean `{}`?", full(s)))
                        .or_else(|| {
                            Some(
                                "declare custom fields under `fields:` with their type".to_string(),
                            )
                        });
                    return Some((format!("unknown field `{}`", full(seg)), hint));
                }
            },
            _ => return None,
        };
    }
    None
}

/// What a walk over a template's syntax tree collects.
#[derive(Default)]
struct Walk<'a> {
    /// Every variable read, in order.
    vars: Vec<(&'a str, Span)>,
    /// Every `order.a.b...` chain, as its segments after `order`.
    order_paths: Vec<(Vec<&'a str>, Span)>,
    /// Every `{{ expr }}` that writes into the output itself (not into a `set`).
    emits: Vec<(&'a Expr<'a>, Span)>,
}

impl<'a> Walk<'a> {
    fn stmts(&mut self, body: &'a [Stmt<'a>], out: bool) {
        for s in body {
            self.stmt(s, out);
        }
    }

    fn stmt(&mut self, s: &'a Stmt<'a>, out: bool) {
        match s {
            Stmt::Template(t) => self.stmts(&t.children, out),
            Stmt::EmitExpr(e) => {
                if out {
                    self.emits.push((&e.expr, e.expr.span()));
                }
                self.expr(&e.expr);
            }
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                if let Some(x) = &f.filter_expr {
                    self.expr(x);
                }
                self.stmts(&f.body, out);
                self.stmts(&f.else_body, out);
            }
            Stmt::IfCond(c) => {
                self.expr(&c.expr);
                self.stmts(&c.true_body, out);
                self.stmts(&c.false_body, out);
            }
            Stmt::WithBlock(w) => {
                for (_, value) in &w.assignments {
                    self.expr(value);
                }
                self.stmts(&w.body, out);
            }
            Stmt::Set(x) => self.expr(&x.expr),
            Stmt::SetBlock(x) => {
                if let Some(f) = &x.filter {
                    self.expr(f);
                }
                self.stmts(&x.body, false);
            }
            Stmt::AutoEscape(x) => {
                self.expr(&x.enabled);
                self.stmts(&x.body, out);
            }
            // A filter block changes what its body writes: checked as a whole.
            Stmt::FilterBlock(x) => {
                self.expr(&x.filter);
                self.stmts(&x.body, false);
            }
            Stmt::Do(d) => self.call(&d.call),
        }
    }

    fn call(&mut self, c: &'a ast::Call<'a>) {
        self.expr(&c.expr);
        self.args(&c.args);
    }

    fn args(&mut self, args: &'a [ast::CallArg<'a>]) {
        for a in args {
            match a {
                ast::CallArg::Pos(e)
                | ast::CallArg::Kwarg(_, e)
                | ast::CallArg::PosSplat(e)
                | ast::CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn expr(&mut self, e: &'a Expr<'a>) {
        match e {
            Expr::Var(v) => self.vars.push((v.id, v.span())),
            Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(x);
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                self.expr(&b.left);
                self.expr(&b.right);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                for op in &c.ops {
                    self.expr(&op.expr);
                }
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                if let Some(f) = &i.false_expr {
                    self.expr(f);
                }
            }
            Expr::Filter(f) => {
                if let Some(x) = &f.expr {
                    self.expr(x);
                }
                self.args(&f.args);
            }
            Expr::Test(t) => {
                self.expr(&t.expr);
                self.args(&t.args);
            }
            Expr::GetAttr(_) | Expr::GetItem(_) => {
                if let Some(path) = order_path(e) {
                    self.order_paths.push((path, e.span()));
                }
                match e {
                    Expr::GetAttr(g) => self.expr(&g.expr),
                    Expr::GetItem(g) => {
                        self.expr(&g.expr);
                        self.expr(&g.subscript_expr);
                    }
                    _ => {}
                }
            }
            Expr::Call(c) => self.call(c),
            Expr::List(l) => l.items.iter().for_each(|x| self.expr(x)),
            Expr::Map(m) => {
                m.keys.iter().for_each(|x| self.expr(x));
                m.values.iter().for_each(|x| self.expr(x));
            }
        }
    }
}

/// `order.a[0].b` as `["a", "0", "b"]`, when the chain starts at `order` and
/// every step is a name or a constant.
fn order_path<'a>(e: &'a Expr<'a>) -> Option<Vec<&'a str>> {
    match e {
        Expr::Var(v) if v.id == "order" => Some(Vec::new()),
        Expr::GetAttr(g) => {
            let mut p = order_path(&g.expr)?;
            p.push(g.name);
            Some(p)
        }
        Expr::GetItem(g) => {
            let mut p = order_path(&g.expr)?;
            let Expr::Const(c) = &g.subscript_expr else {
                return None;
            };
            // Only a constant key can be checked; an index keeps the list's element type.
            if c.value.as_usize().is_some() {
                p.push("0");
            } else {
                p.push(c.value.as_str()?);
            }
            Some(p)
        }
        _ => None,
    }
}
