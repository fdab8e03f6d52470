//! The owned syntax tree of a condition, and its printer.
//!
//! The printer writes every binary operation in parentheses, so that
//! `parse(print(ast)) == ast` holds whatever the precedence table says; the
//! property test in `tests/condition_props.rs` checks it.

use std::fmt;
use std::ops::Range;

/// An expression with the byte range of the source it came from.
#[derive(Clone, Debug)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Byte offsets into the expression's source text.
    pub span: Range<usize>,
}

/// Two expressions are equal when their trees are; where they were written does not matter.
impl PartialEq for Expr {
    fn eq(&self, other: &Expr) -> bool {
        self.kind == other.kind
    }
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number literal, exact (never negative: `-3` is `Neg(3)`).
    Number(rust_decimal::Decimal),
    /// A text literal, escapes resolved.
    Text(String),
    /// `[a, b]`.
    List(Vec<Expr>),
    /// A field path.
    Path(Vec<Segment>),
    /// `name(args)`.
    Call(String, Vec<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// `-x`.
    Neg(Box<Expr>),
    /// `x is empty` (false) or `x is not empty` (true).
    IsEmpty(Box<Expr>, bool),
    /// `a OP b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    /// `.name`
    Field(String),
    /// `[3]`
    Index(usize),
}

/// The binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `contains`
    Contains,
    /// `starts_with`
    StartsWith,
    /// `ends_with`
    EndsWith,
    /// `matches`
    Matches,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Or => "or",
            BinOp::And => "and",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Contains => "contains",
            BinOp::StartsWith => "starts_with",
            BinOp::EndsWith => "ends_with",
            BinOp::Matches => "matches",
            BinOp::In => "in",
            BinOp::NotIn => "not in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Segment::Field(name) => f.write_str(name),
            Segment::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// Writes a path as it is written in the language: `line_items[0].sku`.
pub fn path_text(segments: &[Segment]) -> String {
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        match seg {
            Segment::Field(name) => {
                if i > 0 {
                    out.push('.');
                }
                out.push_str(name);
            }
            Segment::Index(n) => {
                out.push('[');
                out.push_str(&n.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Writes text as a double-quoted literal the parser reads back unchanged.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Null => f.write_str("null"),
            ExprKind::Bool(b) => write!(f, "{b}"),
            ExprKind::Number(n) => crate::value::fmt_number(*n, f),
            ExprKind::Text(s) => f.write_str(&quote(s)),
            ExprKind::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            ExprKind::Path(segments) => f.write_str(&path_text(segments)),
            ExprKind::Call(name, args) => {
                write!(f, "{name}(")?;
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(")")
            }
            ExprKind::Not(x) => write!(f, "(not {x})"),
            ExprKind::Neg(x) => write!(f, "(-{x})"),
            ExprKind::IsEmpty(x, false) => write!(f, "({x} is empty)"),
            ExprKind::IsEmpty(x, true) => write!(f, "({x} is not empty)"),
            ExprKind::Binary(op, a, b) => write!(f, "({a} {} {b})", op.as_str()),
        }
    }
}

impl Expr {
    /// The tree as an S-expression, for tests of precedence: `(or a (and b c))`.
    pub fn sexpr(&self) -> String {
        match &self.kind {
            ExprKind::Null | ExprKind::Bool(_) | ExprKind::Number(_) | ExprKind::Text(_) => {
                self.to_string()
            }
            ExprKind::Path(segments) => path_text(segments),
            ExprKind::List(items) => {
                let inner: Vec<String> = items.iter().map(Expr::sexpr).collect();
                format!("[{}]", inner.join(" "))
            }
            ExprKind::Call(name, args) => {
                let mut s = format!("({name}");
                for a in args {
                    s.push(' ');
                    s.push_str(&a.sexpr());
                }
                s.push(')');
                s
            }
            ExprKind::Not(x) => format!("(not {})", x.sexpr()),
            ExprKind::Neg(x) => format!("(neg {})", x.sexpr()),
            ExprKind::IsEmpty(x, false) => format!("(is_empty {})", x.sexpr()),
            ExprKind::IsEmpty(x, true) => format!("(is_not_empty {})", x.sexpr()),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", op.as_str(), a.sexpr(), b.sexpr()),
        }
    }

    /// How deeply the tree nests.
    pub fn depth(&self) -> usize {
        1 + match &self.kind {
            ExprKind::List(items) | ExprKind::Call(_, items) => {
                items.iter().map(Expr::depth).max().unwrap_or(0)
            }
            ExprKind::Not(x) | ExprKind::Neg(x) | ExprKind::IsEmpty(x, _) => x.depth(),
            ExprKind::Binary(_, a, b) => a.depth().max(b.depth()),
            _ => 0,
        }
    }
}
