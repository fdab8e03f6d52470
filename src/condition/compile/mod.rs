//! From [`Expr`] to [`Node`]: paths resolved against the order type, regexes
//! compiled, constants folded and types checked. Every problem is collected, so a
//! rules file shows all of its mistakes in one run.
//!
//! One [`Compiler`] walks the tree. Its methods are split by what they compile:
//! `path.rs` the field paths, `call.rs` the built-in functions, `binary.rs` the
//! infix operators; `specialise.rs` rewrites the common shapes into tests that
//! `eval` runs without building values. Folding a constant runs `eval` on it,
//! the one thing this module uses of `eval`.

mod binary;
mod call;
mod path;
mod specialise;

use std::ops::Range;
use std::sync::Arc;

use super::ast::{Expr, ExprKind};
use super::error::ExprError;
use super::eval::Env;
use super::program::Node;
use super::scope::{Rates, Scope};
use crate::order::{Event, Type};
use crate::value::Value;

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

/// Whether values of the two types can be compared.
fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Any, _) | (_, Type::Any) => true,
        (x, y) if x.is_textual() && y.is_textual() => true,
        (Type::List(x), Type::List(y)) => compatible(x, y),
        (Type::Object(_), Type::Object(_)) => true,
        (x, y) => x.name() == y.name(),
    }
}

/// Text, or a type known only at run time.
fn textual_or_any(t: &Type) -> bool {
    t.is_textual() || *t == Type::Any
}

impl Compiler<'_> {
    fn expr(&mut self, e: &Expr) -> (Node, Type) {
        match &e.kind {
            ExprKind::Null => (Node::Const(Value::Null), Type::Any),
            ExprKind::Bool(b) => (Node::Const(Value::Bool(*b)), Type::Bool),
            ExprKind::Number(n) => (Node::Const(Value::Number(*n)), Type::Number),
            ExprKind::Text(s) => (Node::Const(Value::text(s)), Type::Text),
            ExprKind::List(items) => self.list(e, items),
            ExprKind::Path(segs) => self.path(e, segs),
            ExprKind::Call(name, args) => self.call(e, name, args),
            ExprKind::Not(x) => self.not(e, x),
            ExprKind::Neg(x) => self.neg(e, x),
            ExprKind::IsEmpty(x, negated) => {
                let (n, _) = self.expr(x);
                self.fold(Node::IsEmpty(Box::new(n), *negated), Type::Bool, &e.span)
            }
            ExprKind::Binary(op, a, b) => self.binary(e, *op, a, b),
        }
    }

    /// `[a, b]`: a list of the items' common type, or of unknown when they differ.
    fn list(&mut self, e: &Expr, items: &[Expr]) -> (Node, Type) {
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

    fn not(&mut self, e: &Expr, x: &Expr) -> (Node, Type) {
        let (n, t) = self.expr(x);
        if !matches!(t, Type::Bool | Type::Any) {
            return self.error(self.needs("not", x, "true or false", &t));
        }
        self.fold(Node::Not(Box::new(n)), Type::Bool, &e.span)
    }

    fn neg(&mut self, e: &Expr, x: &Expr) -> (Node, Type) {
        let (n, t) = self.expr(x);
        if !matches!(t, Type::Number | Type::Any) {
            return self.error(self.needs("-", x, "a number", &t));
        }
        self.fold(Node::Neg(Box::new(n)), Type::Number, &e.span)
    }

    /// Evaluates a node whose inputs are all constants, at compile time; any
    /// other node is [`specialise`](specialise::specialise)d.
    fn fold(&mut self, node: Node, ty: Type, span: &Range<usize>) -> (Node, Type) {
        if !node.foldable() {
            return (specialise::specialise(node), ty);
        }
        let order = Value::Null;
        let scope = Scope {
            order: &order,
            event: Event::Updated,
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

    /// Wraps a node that can fail at run time, so that its error names the
    /// expression `e` it came from.
    fn guard(&self, e: &Expr, node: Node) -> Node {
        let site = Arc::from(self.src.get(e.span.clone()).unwrap_or_default());
        Node::Guard(Box::new(node), site)
    }

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

    /// "`op` needs what; `x` is a number", about `side`.
    fn needs(&self, op: &str, side: &Expr, what: &str, t: &Type) -> ExprError {
        ExprError::new(
            side.span.clone(),
            format!(
                "`{op}` needs {what}; {} is {}",
                self.text_of(side),
                article(t)
            ),
        )
    }

    /// Records `e`; the node stands in for the broken part so compiling goes on.
    fn error(&mut self, e: ExprError) -> (Node, Type) {
        self.errors.push(e);
        (Node::Const(Value::Null), Type::Any)
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
