//! Rewrites a field compared with constants into a [`Node::Test`], which reads
//! the field in place and never builds a value; the result is the same.

use super::super::program::{Check, FieldRef, Needle, Node, OrdOp, Test};
use crate::value::Value;

/// The specialised form of `node`, or `node` itself.
pub(super) fn specialise(node: Node) -> Node {
    match node {
        Node::Eq(a, b, negated) => equality(*a, *b, negated),
        Node::Ord(op, a, b) => ordering(op, *a, *b),
        Node::In(a, b, negated) => membership(*a, *b, negated),
        Node::TextConst(op, a, needle) => match *a {
            Node::Field(f) => test(*f, Test::Text(op, *needle)),
            a => Node::TextConst(op, Box::new(a), needle),
        },
        Node::Matches(a, re) => match *a {
            Node::Field(f) => test(*f, Test::Matches(*re)),
            a => Node::Matches(Box::new(a), re),
        },
        Node::IsEmpty(a, negated) => match *a {
            Node::Field(f) => negated_test(*f, Test::Empty, negated),
            a => Node::IsEmpty(Box::new(a), negated),
        },
        Node::Not(x) => match *x {
            Node::Test(mut c) => {
                c.negate = !c.negate;
                Node::Test(c)
            }
            x => Node::Not(Box::new(x)),
        },
        Node::And(parts) if all_tests(&parts) => Node::All(checks(parts)),
        Node::Or(parts) if all_tests(&parts) => Node::Any(checks(parts)),
        other => other,
    }
}

/// `field == c` and `field != c`, either way round.
fn equality(a: Node, b: Node, negated: bool) -> Node {
    match (a, b) {
        (Node::Field(f), Node::Const(Value::Text(t)))
        | (Node::Const(Value::Text(t)), Node::Field(f)) => {
            negated_test(*f, Test::EqText(Needle::new(&t)), negated)
        }
        (Node::Field(f), Node::Const(c)) | (Node::Const(c), Node::Field(f)) => {
            negated_test(*f, Test::Eq(c), negated)
        }
        (a, b) => Node::Eq(Box::new(a), Box::new(b), negated),
    }
}

/// `field < c` either way round (the operator flipped when the constant is on
/// the left), and `len(field) < n`.
fn ordering(op: OrdOp, a: Node, b: Node) -> Node {
    match (a, b) {
        (Node::Field(f), Node::Const(Value::Number(n))) => test(*f, Test::OrdNum(op, n)),
        (Node::Const(Value::Number(n)), Node::Field(f)) => test(*f, Test::OrdNum(flip(op), n)),
        (Node::Field(f), Node::Const(c)) => test(*f, Test::Ord(op, c)),
        (Node::Const(c), Node::Field(f)) => test(*f, Test::Ord(flip(op), c)),
        (Node::Len(x), Node::Const(Value::Number(n))) if matches!(*x, Node::Field(_)) => {
            let Node::Field(f) = *x else {
                unreachable!("matched just above")
            };
            test(*f, Test::Len(op, n))
        }
        (a, b) => Node::Ord(op, Box::new(a), Box::new(b)),
    }
}

/// `field in [..]`, `field not in [..]` and `c in field` (a list field).
fn membership(a: Node, b: Node, negated: bool) -> Node {
    match (a, b) {
        (Node::Field(f), Node::Const(Value::List(items)))
            if items.iter().all(|i| matches!(i, Value::Text(_))) =>
        {
            let needles = items
                .iter()
                .filter_map(Value::as_str)
                .map(Needle::new)
                .collect();
            test(*f, Test::InText(needles, negated))
        }
        (Node::Field(f), Node::Const(Value::List(items))) => {
            test(*f, Test::In(items.iter().cloned().collect(), negated))
        }
        (Node::Const(Value::Text(t)), Node::Field(f)) if !negated => {
            test(*f, Test::HasText(Needle::new(&t)))
        }
        (Node::Const(c), Node::Field(f)) if !negated => test(*f, Test::Has(c)),
        (a, b) => Node::In(Box::new(a), Box::new(b), negated),
    }
}

/// `a < b` is `b > a`.
fn flip(op: OrdOp) -> OrdOp {
    match op {
        OrdOp::Lt => OrdOp::Gt,
        OrdOp::Le => OrdOp::Ge,
        OrdOp::Gt => OrdOp::Lt,
        OrdOp::Ge => OrdOp::Le,
    }
}

fn test(field: FieldRef, test: Test) -> Node {
    negated_test(field, test, false)
}

fn negated_test(field: FieldRef, test: Test, negate: bool) -> Node {
    Node::Test(Box::new(Check {
        field,
        test,
        negate,
    }))
}

fn all_tests(parts: &[Node]) -> bool {
    parts.iter().all(|p| matches!(p, Node::Test(_)))
}

/// The checks of parts that are all [`Node::Test`]s.
fn checks(parts: Box<[Node]>) -> Box<[Check]> {
    parts
        .into_vec()
        .into_iter()
        .filter_map(|n| match n {
            Node::Test(c) => Some(*c),
            _ => None,
        })
        .collect()
}
