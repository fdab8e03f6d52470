//! A YAML document as a tree where every node knows its line and column.
//!
//! serde-saphyr reads the text (we keep it rather than the archived serde_yaml
//! because its `Spanned` gives line:col for every value and it is built to never
//! panic); we read into this generic tree, not straight into config structs, so
//! that validation can walk the whole file and report every problem at once
//! instead of stopping at serde's first error. Repeated keys are passed through
//! to the tree so that they too are reported with both places.

use std::cell::RefCell;
use std::fmt;

use rust_decimal::Decimal;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, NonFiniteFloatPolicy, Options, Spanned};

/// A position in a file: 1-based line and column, in characters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub col: u32,
}

/// One YAML node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub loc: Loc,
    /// What it holds.
    pub kind: Kind,
}

/// The kinds of YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// `~`, `null` or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// Any other number, read exactly from its text in the file.
    Number(Decimal),
    /// Text.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in order; repeated keys are kept (and reported by validation).
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    /// The key's text (non-text keys are written as their YAML text).
    pub name: String,
    /// Where the key starts.
    pub loc: Loc,
}

impl Node {
    /// The kind's name as error messages say it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "nothing",
            Kind::Bool(_) => "true or false",
            Kind::Int(_) | Kind::Number(_) => "a number",
            Kind::Str(_) => "text",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The scalar as text, if it is a scalar.
    pub fn scalar_text(&self) -> Option<String> {
        Some(match &self.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(i) => i.to_string(),
            Kind::Number(n) => crate::value::number_text(*n),
            Kind::Bool(b) => b.to_string(),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => return None,
        })
    }
}

/// A YAML syntax error with its place.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub loc: Loc,
    /// The parser's message, first line.
    pub message: String,
}

/// How deep a rules file may nest.
const MAX_DEPTH: usize = 64;

thread_local! {
    /// The text being read, for reading numbers from their own digits: the
    /// parser hands them over as `f64` (or as integers, which are exact).
    static SOURCE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Reads one YAML document into a [`Node`] tree.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    SOURCE.with_borrow_mut(|s| {
        s.clear();
        s.push_str(text);
    });
    let out = parse_text(text);
    SOURCE.with_borrow_mut(|s| *s = String::new());
    out
}

fn parse_text(text: &str) -> Result<Node, SyntaxError> {
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    // `1e400`, `.inf` and `.nan` reach `exact`, which names them as it names
    // every number a decimal cannot hold.
    options.non_finite_float_policy = NonFiniteFloatPolicy::PassThrough;
    if text.trim().is_empty() {
        return Ok(Node {
            loc: Loc { line: 1, col: 1 },
            kind: Kind::Null,
        });
    }
    let spanned: Result<Spanned<Tree>, _> = serde_saphyr::from_str_with_options(text, options);
    match spanned {
        Ok(s) => {
            let loc = loc_of(&s);
            with_exact_loc(s).map_err(|message| SyntaxError { loc, message })
        }
        Err(e) => {
            let loc = e
                .location()
                .map(|l| Loc {
                    line: l.line() as u32,
                    col: l.column() as u32,
                })
                .unwrap_or(Loc { line: 1, col: 1 });
            Err(SyntaxError {
                loc,
                message: first_line_of(&e),
            })
        }
    }
}

fn first_line_of(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or("invalid YAML").trim();
    // The crate prefixes some messages with a location we print ourselves.
    let line = match line.find(" at line ") {
        Some(i) => &line[..i],
        None => line,
    };
    let line = line.strip_prefix("error: ").unwrap_or(line);
    if line.contains("budget breached") {
        // The parser's limits against alias bombs and runaway documents.
        return "the document is too large once its aliases are expanded".to_string();
    }
    // Some messages start with `line N column M: `; the place is printed separately.
    let line = match line
        .strip_prefix("line ")
        .and_then(|rest| rest.find(": ").map(|i| &rest[i + 2..]))
    {
        Some(rest) => rest,
        None => line,
    };
    line.trim_end_matches('.').to_string()
}

fn loc_of<T>(s: &Spanned<T>) -> Loc {
    Loc {
        line: s.referenced.line() as u32,
        col: s.referenced.column() as u32,
    }
}

/// The node with its place, and a number the parser gave as an `f64` read
/// again from its text.
fn with_exact_loc(s: Spanned<Tree>) -> Result<Node, String> {
    let loc = loc_of(&s);
    let float = s.value.1;
    let mut node = match float {
        Some(f) => Node {
            loc,
            kind: Kind::Number(exact(&s, f)?),
        },
        None => s.value.0,
    };
    node.loc = loc;
    Ok(node)
}

/// A [`Node`] being read; its own location is filled in by the enclosing
/// `Spanned`, which also reads an `f64` (the second field) from its digits.
struct Tree(Node, Option<f64>);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor { depth: 0 })
    }
}

#[derive(Clone, Copy)]
struct TreeVisitor {
    depth: usize,
}

struct SpannedTree {
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for SpannedTree {
    type Value = Node;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(de::Error::custom(format!(
                "the document nests deeper than {MAX_DEPTH} levels"
            )));
        }
        let s: Spanned<Tree> = Spanned::deserialize(d)?;
        with_exact_loc(s).map_err(de::Error::custom)
    }
}

/// A number the parser gave as an `f64`, read again from its text (where the
/// value is defined, so an alias reads its anchor's digits). Out of range,
/// `.inf`, `.nan` or more digits than a decimal keeps are errors: a rule's
/// number is never silently rounded.
fn exact(s: &Spanned<Tree>, f: f64) -> Result<Decimal, String> {
    let span = s.defined.span();
    let text = match (span.byte_offset(), span.byte_len()) {
        (Some(at), Some(len)) => SOURCE.with_borrow(|src| {
            src.get(at as usize..(at + len) as usize)
                .map(|t| t.trim().replace('_', ""))
        }),
        _ => None,
    };
    match text {
        Some(t) => crate::value::parse_number(&t).map_err(|why| why.message(&t)),
        // No text to read: only a value an f64 holds exactly as written.
        None => {
            crate::value::parse_number(&f.to_string()).map_err(|why| why.message(&f.to_string()))
        }
    }
}

fn node(kind: Kind) -> Tree {
    Tree(
        Node {
            loc: Loc::default(),
            kind,
        },
        None,
    )
}

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Tree, E> {
        Ok(node(Kind::Null))
    }
    fn visit_none<E>(self) -> Result<Tree, E> {
        Ok(node(Kind::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Tree, E> {
        Ok(node(Kind::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Tree, E> {
        Ok(node(Kind::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Tree, E> {
        Ok(node(match i64::try_from(v) {
            Ok(i) => Kind::Int(i),
            Err(_) => Kind::Number(Decimal::from(v)),
        }))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Tree, E> {
        Decimal::try_from_i128_with_scale(v, 0)
            .map(|n| node(Kind::Number(n)))
            .map_err(|_| E::custom(crate::value::NumberError::OutOfRange.message(&v.to_string())))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Tree, E> {
        match i128::try_from(v) {
            Ok(i) => self.visit_i128(i),
            Err(_) => Err(E::custom(
                crate::value::NumberError::OutOfRange.message(&v.to_string()),
            )),
        }
    }
    fn visit_f64<E>(self, v: f64) -> Result<Tree, E> {
        // Read again from its text by the enclosing `Spanned`.
        let mut t = node(Kind::Null);
        t.1 = Some(v);
        Ok(t)
    }
    fn visit_str<E>(self, v: &str) -> Result<Tree, E> {
        Ok(node(Kind::Str(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Tree, E> {
        Ok(node(Kind::Str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element_seed(SpannedTree {
            depth: self.depth + 1,
        })? {
            items.push(n);
        }
        Ok(node(Kind::Seq(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key_seed(SpannedTree {
            depth: self.depth + 1,
        })? {
            let v = map.next_value_seed(SpannedTree {
                depth: self.depth + 1,
            })?;
            let name = match &k.kind {
                Kind::Null => "null".to_string(),
                Kind::Seq(_) | Kind::Map(_) => {
                    return Err(de::Error::custom("a mapping key must be a plain value"));
                }
                _ => k.scalar_text().unwrap_or_default(),
            };
            entries.push((Key { name, loc: k.loc }, v));
        }
        Ok(node(Kind::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(n: &Node) -> (u32, u32) {
        (n.loc.line, n.loc.col)
    }

    #[test]
    fn every_node_has_its_place() {
        let doc = parse("a: 1\nb:\n  c: 'x y'\n  d: [p, \"q\"]\n  e: plain text\na: 2\n").unwrap();
        let Kind::Map(entries) = &doc.kind else {
            panic!("not a map")
        };
        assert_eq!(entries.len(), 3, "repeated keys are kept");
        assert_eq!((entries[0].0.loc.line, entries[0].0.loc.col), (1, 1));
        assert_eq!(at(&entries[0].1), (1, 4));
        let Kind::Map(b) = &entries[1].1.kind else {
            panic!("not a map")
        };
        assert_eq!(at(&b[0].1), (3, 6));
        assert_eq!(b[0].1.kind, Kind::Str("x y".into()));
        let Kind::Seq(d) = &b[1].1.kind else {
            panic!("not a seq")
        };
        assert_eq!(at(&d[0]), (4, 7));
        assert_eq!(at(&d[1]), (4, 10));
        assert_eq!(at(&b[2].1), (5, 6));
        assert_eq!((entries[2].0.loc.line, entries[2].0.loc.col), (6, 1));
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let e = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert_eq!(e.loc, Loc { line: 2, col: 2 });
        assert_eq!(e.message, "illegal placement of ':' indicator");
    }

    #[test]
    fn numbers_are_read_from_their_text() {
        let doc = parse("a: 1.10\nb: 0.30000000000000004\nc: 12345678901234567890\nd: &x 95.5\ne: *x\nf: -3\ng: 1e3\n")
            .unwrap();
        let Kind::Map(entries) = &doc.kind else {
            panic!("not a map")
        };
        let got: Vec<String> = entries
            .iter()
            .map(|(_, v)| v.scalar_text().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "1.1",
                "0.30000000000000004",
                "12345678901234567890",
                "95.5",
                "95.5",
                "-3",
                "1000"
            ]
        );
        assert!(matches!(entries[0].1.kind, Kind::Number(_)));
        assert!(matches!(entries[5].1.kind, Kind::Int(-3)));
    }

    #[test]
    fn a_number_that_cannot_be_kept_exactly_is_an_error() {
        let e = parse("rates:\n  EUR: 1e400\n").unwrap_err();
        assert!(
            e.message.contains("number `1e400` is out of range"),
            "{e:?}"
        );
        let e = parse("x: 0.12345678901234567890123456789\n").unwrap_err();
        assert!(
            e.message
                .contains("has more digits than can be kept exactly"),
            "{e:?}"
        );
        let e = parse("x: .inf\n").unwrap_err();
        assert_eq!(e.message, "`.inf` is not a number");
        assert_eq!(e.loc, Loc { line: 1, col: 4 });
    }
}
