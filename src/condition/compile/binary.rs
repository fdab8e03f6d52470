//! The infix operators, one method per family: `and`/`or`, `==`/`!=`, the
//! orderings, the text operators, `matches`, `in`/`not in` and arithmetic.
//! Each checks its operands' types, then builds and folds its node.

use regex::{Regex, RegexBuilder};

use super::super::ast::{BinOp, Expr};
use super::super::error::ExprError;
use super::super::program::{ArOp, Needle, Node, OrdOp, TextOp};
use super::{Compiler, article, compatible, textual_or_any};
use crate::order::Type;
use crate::value::Value;

/// One compiled operand, with the expression it came from (for messages).
struct Operand<'e> {
    expr: &'e Expr,
    node: Node,
    ty: Type,
}

impl Compiler<'_> {
    pub(super) fn binary(&mut self, e: &Expr, op: BinOp, a: &Expr, b: &Expr) -> (Node, Type) {
        let (node, ty) = self.expr(a);
        let a = Operand { expr: a, node, ty };
        let (node, ty) = self.expr(b);
        let b = Operand { expr: b, node, ty };
        match op {
            BinOp::And | BinOp::Or => self.logic(e, op, a, b),
            BinOp::Eq | BinOp::Ne => self.equality(e, op, a, b),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => self.ordering(e, op, a, b),
            BinOp::Contains | BinOp::StartsWith | BinOp::EndsWith => self.text(e, op, a, b),
            BinOp::Matches => self.matches(e, a, b),
            BinOp::In | BinOp::NotIn => self.membership(e, op, a, b),
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => self.arithmetic(e, op, a, b),
        }
    }

    /// `and` and `or`; a chain of one operator becomes one flat node.
    fn logic(&mut self, e: &Expr, op: BinOp, a: Operand, b: Operand) -> (Node, Type) {
        for side in [&a, &b] {
            if !matches!(side.ty, Type::Bool | Type::Any) {
                return self.mismatch(op, side, "true or false on both sides");
            }
        }
        let mut parts = Vec::new();
        for n in [a.node, b.node] {
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

    fn equality(&mut self, e: &Expr, op: BinOp, a: Operand, b: Operand) -> (Node, Type) {
        if !compatible(&a.ty, &b.ty) {
            return self.cannot_compare(e, &a, &b);
        }
        let node = Node::Eq(Box::new(a.node), Box::new(b.node), op == BinOp::Ne);
        self.fold(node, Type::Bool, &e.span)
    }

    /// `<`, `<=`, `>` and `>=`, between numbers or between text.
    fn ordering(&mut self, e: &Expr, op: BinOp, a: Operand, b: Operand) -> (Node, Type) {
        for side in [&a, &b] {
            if !(matches!(side.ty, Type::Number | Type::Any) || side.ty.is_textual()) {
                return self.mismatch(op, side, "numbers or text");
            }
        }
        if !compatible(&a.ty, &b.ty) {
            return self.cannot_compare(e, &a, &b);
        }
        let o = match op {
            BinOp::Lt => OrdOp::Lt,
            BinOp::Le => OrdOp::Le,
            BinOp::Gt => OrdOp::Gt,
            _ => OrdOp::Ge,
        };
        let node = Node::Ord(o, Box::new(a.node), Box::new(b.node));
        self.fold(node, Type::Bool, &e.span)
    }

    /// `contains`, `starts_with` and `ends_with`; `contains` also looks in a list.
    fn text(&mut self, e: &Expr, op: BinOp, a: Operand, b: Operand) -> (Node, Type) {
        let list_ok = op == BinOp::Contains;
        match &a.ty {
            Type::List(inner) if list_ok => {
                if !compatible(inner, &b.ty) {
                    let what =
                        format!("{} to look for in {}", article(inner), self.text_of(a.expr));
                    return self.mismatch(op, &b, &what);
                }
                let node = Node::In(Box::new(b.node), Box::new(a.node), false);
                return self.fold(node, Type::Bool, &e.span);
            }
            t if textual_or_any(t) => {}
            _ if list_ok => return self.mismatch(op, &a, "text or a list on the left"),
            _ => return self.mismatch(op, &a, "text on the left"),
        }
        if !textual_or_any(&b.ty) {
            return self.mismatch(op, &b, "text on the right");
        }
        let t = match op {
            BinOp::Contains => TextOp::Contains,
            BinOp::StartsWith => TextOp::StartsWith,
            _ => TextOp::EndsWith,
        };
        // A constant needle is lower-cased once, here.
        let node = match (b.node.as_const(), a.ty == Type::Any) {
            (Some(Value::Text(s)), false) => {
                Node::TextConst(t, Box::new(a.node), Box::new(Needle::new(s)))
            }
            _ => Node::Text(t, Box::new(a.node), Box::new(b.node)),
        };
        self.fold(node, Type::Bool, &e.span)
    }

    /// `matches`, with the regex compiled here: it must be a text literal.
    fn matches(&mut self, e: &Expr, a: Operand, b: Operand) -> (Node, Type) {
        if !textual_or_any(&a.ty) {
            return self.mismatch(BinOp::Matches, &a, "text on the left");
        }
        let Some(Value::Text(pattern)) = b.node.as_const() else {
            return self.error(ExprError::new(
                b.expr.span.clone(),
                "`matches` needs a regex written as a text literal",
            ));
        };
        match regex(pattern) {
            Ok(re) => {
                let node = Node::Matches(Box::new(a.node), Box::new(re));
                self.fold(node, Type::Bool, &e.span)
            }
            Err(err) => self.error(ExprError::new(
                b.expr.span.clone(),
                format!("invalid regex: {}", regex_message(&err)),
            )),
        }
    }

    /// `in` and `not in` a list.
    fn membership(&mut self, e: &Expr, op: BinOp, a: Operand, b: Operand) -> (Node, Type) {
        let elem = match &b.ty {
            Type::List(inner) => (**inner).clone(),
            Type::Any => Type::Any,
            _ => return self.mismatch(op, &b, "a list on the right"),
        };
        if !compatible(&a.ty, &elem) {
            return self.mismatch(op, &a, &format!("{} to look for", article(&elem)));
        }
        let node = Node::In(Box::new(a.node), Box::new(b.node), op == BinOp::NotIn);
        self.fold(node, Type::Bool, &e.span)
    }

    /// `+ - * /` on numbers; `+` also joins text.
    fn arithmetic(&mut self, e: &Expr, op: BinOp, a: Operand, b: Operand) -> (Node, Type) {
        let joins = op == BinOp::Add && (a.ty.is_textual() || b.ty.is_textual());
        if !joins {
            for side in [&a, &b] {
                if !matches!(side.ty, Type::Number | Type::Any) {
                    let need = if op == BinOp::Add {
                        "numbers, or text to join"
                    } else {
                        "numbers"
                    };
                    return self.mismatch(op, side, need);
                }
            }
        }
        let ty = if joins {
            Type::Text
        } else if a.ty == Type::Any || b.ty == Type::Any {
            Type::Any
        } else {
            Type::Number
        };
        let o = match op {
            BinOp::Add => ArOp::Add,
            BinOp::Sub => ArOp::Sub,
            BinOp::Mul => ArOp::Mul,
            _ => ArOp::Div,
        };
        let (node, ty) = self.fold(
            Node::Arith(o, Box::new(a.node), Box::new(b.node)),
            ty,
            &e.span,
        );
        // A division left for run time can divide by zero: its error names the expression.
        if o == ArOp::Div && node.as_const().is_none() {
            return (self.guard(e, node), ty);
        }
        (node, ty)
    }

    /// "`op` needs what; `x` is a list", about one operand.
    fn mismatch(&mut self, op: BinOp, side: &Operand, need: &str) -> (Node, Type) {
        self.error(self.needs(op.as_str(), side.expr, need, &side.ty))
    }

    fn cannot_compare(&mut self, e: &Expr, a: &Operand, b: &Operand) -> (Node, Type) {
        let message = format!(
            "cannot compare {} with {}: {} is {} and {} is {}",
            a.ty.name(),
            b.ty.name(),
            self.text_of(a.expr),
            article(&a.ty),
            self.text_of(b.expr),
            article(&b.ty)
        );
        self.error(ExprError::new(e.span.clone(), message))
    }
}

/// A `matches` pattern, case-insensitive, with limits on its size and nesting.
fn regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(&format!("(?i){pattern}"))
        .size_limit(1 << 20)
        .nest_limit(64)
        .build()
}

/// The regex crate's message without its drawing of the pattern.
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
