//! The compiled form of an expression: a [`Node`] tree with every path resolved,
//! every regex compiled and every constant folded. `compile` builds it and
//! `eval` runs it; both depend on this file, and `eval` on nothing of `compile`'s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use regex::Regex;

use crate::value::{Decimal, Str, Value};

/// One step of a resolved path.
#[derive(Clone, Debug)]
pub(crate) enum Seg {
    /// An object key, and where it was found last time.
    Key(Str, Hint),
    Index(usize),
}

/// An inline cache: the index at which a key was last found. Orders from one
/// source keep their keys in one order, so the next lookup is usually a single
/// comparison instead of a scan. Only a hint: a miss falls back to the scan.
#[derive(Debug, Default)]
pub(crate) struct Hint(AtomicU32);

impl Hint {
    #[inline]
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed) as usize
    }

    #[inline]
    pub(crate) fn set(&self, i: usize) {
        self.0.store(i as u32, Ordering::Relaxed)
    }
}

impl Clone for Hint {
    fn clone(&self) -> Hint {
        Hint(AtomicU32::new(self.0.load(Ordering::Relaxed)))
    }
}

/// One field, one test, perhaps negated: the common shape of a condition,
/// evaluated without building intermediate values or dispatching per operator.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    pub field: FieldRef,
    pub test: Test,
    pub negate: bool,
}

/// A test of one field against constants.
#[derive(Clone, Debug)]
pub(crate) enum Test {
    /// `== "text"`, the text lower-cased once (`!=` is the check negated).
    EqText(Needle),
    /// `in ["a", "b"]` (or `not in` when negated), all text. `not in` keeps its
    /// own flag because it is not the negation of `in`: both are false for null.
    InText(Box<[Needle]>, bool),
    /// A list field `contains "text"`.
    HasText(Needle),
    /// `== c` (`!=` is the check negated).
    Eq(Value),
    /// `< <= > >= n` for a number.
    OrdNum(OrdOp, Decimal),
    /// `< <= > >= c`.
    Ord(OrdOp, Value),
    /// `in [..]` (or `not in`, with its own flag as for `InText`).
    In(Box<[Value]>, bool),
    /// A list field `contains c`.
    Has(Value),
    /// `contains`, `starts_with`, `ends_with` a constant.
    Text(TextOp, Needle),
    /// `matches` a regex.
    Matches(Regex),
    /// `is empty` (`is not empty` is the check negated).
    Empty,
    /// `len(field) OP n`.
    Len(OrdOp, Decimal),
}

/// A field read.
#[derive(Clone, Debug)]
pub(crate) struct FieldRef {
    /// Read from the current list element (inside `any`/`all`/`count`/`sum`).
    pub elem: bool,
    pub segs: Box<[Seg]>,
    /// The path when it is a single key (most are), held inline to save a
    /// pointer chase and the loop.
    pub one: Option<Seg>,
    /// The path as written, for traces.
    pub text: Arc<str>,
}

impl FieldRef {
    /// A read of `segs` from the order, or from the element when `elem`.
    pub(crate) fn new(elem: bool, segs: Vec<Seg>, text: Arc<str>) -> FieldRef {
        FieldRef {
            elem,
            one: match segs.as_slice() {
                [seg @ Seg::Key(..)] => Some(seg.clone()),
                _ => None,
            },
            segs: segs.into(),
            text,
        }
    }
}

/// Text operators with a right-hand side known at compile time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// A constant needle, lower-cased once.
#[derive(Clone, Debug)]
pub(crate) struct Needle {
    pub lower: String,
    pub ascii: bool,
    /// Contains `i` or `k`: the only ASCII letters a non-ASCII character can
    /// lower-case into (`İ` -> `i̇`, the Kelvin sign -> `k`). Without them, an
    /// ASCII needle can be matched against raw bytes even in non-ASCII text.
    pub fold_risk: bool,
    /// Up to 24 ASCII bytes, as little-endian words, for word-at-a-time compares.
    pub words: Option<[u64; 3]>,
}

impl Needle {
    /// Lower-cases `text` once, for case-insensitive matching.
    pub(crate) fn new(text: &str) -> Needle {
        let lower = text.to_lowercase();
        let ascii = lower.is_ascii();
        let words = (ascii && lower.len() <= 24).then(|| {
            let mut w = [0u64; 3];
            for (i, chunk) in lower.as_bytes().chunks(8).enumerate() {
                let mut b = [0u8; 8];
                b[..chunk.len()].copy_from_slice(chunk);
                w[i] = u64::from_le_bytes(b);
            }
            w
        });
        Needle {
            fold_risk: lower.contains(['i', 'k']),
            lower,
            ascii,
            words,
        }
    }
}

/// Ordering comparisons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum OrdOp {
    Lt,
    Le,
    Gt,
    Ge,
}

/// Arithmetic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ArOp {
    Add,
    Sub,
    Mul,
    Div,
}

/// List functions whose second argument is evaluated per element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ListFn {
    Any,
    All,
    Count,
    Sum,
}

/// A compiled expression.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    Const(Value),
    /// A field of the order or, inside `any`/`all`/`count`/`sum`, of the element
    /// (`it` is the element's path with no steps).
    Field(Box<FieldRef>),
    /// A field tested against constants.
    Test(Box<Check>),
    /// Checks joined by `and`.
    All(Box<[Check]>),
    /// Checks joined by `or`.
    Any(Box<[Check]>),
    /// `all` (true) or `any` (false) of a check of each element of a list field.
    Each(bool, Box<FieldRef>, Box<Check>),
    Event,
    Source,
    Destination,
    Now,
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<[Node]>),
    Or(Box<[Node]>),
    IsEmpty(Box<Node>, bool),
    Eq(Box<Node>, Box<Node>, bool),
    Ord(OrdOp, Box<Node>, Box<Node>),
    TextConst(TextOp, Box<Node>, Box<Needle>),
    Text(TextOp, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>, bool),
    Matches(Box<Node>, Box<Regex>),
    Arith(ArOp, Box<Node>, Box<Node>),
    Len(Box<Node>),
    Lower(Box<Node>),
    Upper(Box<Node>),
    List(Box<[Node]>),
    ListFn(ListFn, Box<Node>, Box<Node>),
    Convert(Box<Node>, Box<Node>, Box<Node>),
    DaysSince(Box<Node>),
    /// Carries the expression text of a runtime error's site.
    Guard(Box<Node>, Arc<str>),
}

impl Node {
    /// The folded constant, if this node is one.
    pub(crate) fn as_const(&self) -> Option<&Value> {
        match self {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }

    fn children(&self) -> Vec<&Node> {
        match self {
            Node::Const(_)
            | Node::Field(_)
            | Node::Test(_)
            | Node::All(_)
            | Node::Any(_)
            | Node::Each(..)
            | Node::Event
            | Node::Source
            | Node::Destination
            | Node::Now => Vec::new(),
            Node::Not(a)
            | Node::Neg(a)
            | Node::IsEmpty(a, _)
            | Node::TextConst(_, a, _)
            | Node::Matches(a, _)
            | Node::Len(a)
            | Node::Lower(a)
            | Node::Upper(a)
            | Node::DaysSince(a)
            | Node::Guard(a, _) => vec![a],
            Node::And(xs) | Node::Or(xs) | Node::List(xs) => xs.iter().collect(),
            Node::Eq(a, b, _)
            | Node::Ord(_, a, b)
            | Node::Text(_, a, b)
            | Node::In(a, b, _)
            | Node::Arith(_, a, b)
            | Node::ListFn(_, a, b) => vec![a, b],
            Node::Convert(a, b, c) => vec![a, b, c],
        }
    }

    /// Collects the order's fields this node names, outside list elements, in order.
    pub(crate) fn root_fields(&self, out: &mut Vec<(Arc<str>, Box<[Seg]>)>) {
        let mut add = |f: &FieldRef| {
            if !f.elem && !out.iter().any(|(t, _)| *t == f.text) {
                out.push((f.text.clone(), f.segs.clone()));
            }
        };
        match self {
            Node::Field(f) => add(f),
            Node::Test(c) => add(&c.field),
            Node::All(cs) | Node::Any(cs) => cs.iter().for_each(|c| add(&c.field)),
            Node::Each(_, list, _) => add(list),
            _ => {}
        }
        for child in self.children() {
            child.root_fields(out);
        }
    }

    /// True if any part reads `destination`.
    pub(crate) fn uses_destination(&self) -> bool {
        matches!(self, Node::Destination) || self.children().iter().any(|c| c.uses_destination())
    }

    /// Folds a node whose inputs are all constants. `ListFn` is not folded: its
    /// second argument reads the element, which is not a constant.
    pub(crate) fn foldable(&self) -> bool {
        !matches!(
            self,
            Node::Const(_)
                | Node::Field(_)
                | Node::Test(_)
                | Node::All(_)
                | Node::Any(_)
                | Node::Each(..)
                | Node::Event
                | Node::Source
                | Node::Destination
                | Node::Now
                | Node::ListFn(..)
        ) && self.children().iter().all(|c| c.as_const().is_some())
    }
}
