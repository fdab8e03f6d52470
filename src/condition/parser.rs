//! Reads condition text into the owned [`Expr`] tree. pest stays in this file.
//!
//! Precedence, loosest first: `or`; `and`; prefix `not`; comparisons, text and
//! membership operators and `is [not] empty`; `+ -`; `* /`; prefix `-`.

use std::sync::LazyLock;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest_derive::Parser;

use super::ast::{BinOp, Expr, ExprKind, Segment};
use super::error::ExprError;

/// The longest expression accepted, in bytes.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting of brackets, and the longest run of prefix operators, accepted.
pub const MAX_DEPTH: usize = 32;
/// The deepest tree accepted (a chain `a or b or c ...` is as deep as it is long).
pub const MAX_TREE_DEPTH: usize = 128;

#[derive(Parser)]
#[grammar = "../grammar/condition.pest"]
struct ConditionParser;

static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or, Assoc::Left))
        .op(Op::infix(Rule::and, Assoc::Left))
        .op(Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::eq, Assoc::Left)
            | Op::infix(Rule::ne, Assoc::Left)
            | Op::infix(Rule::lt, Assoc::Left)
            | Op::infix(Rule::le, Assoc::Left)
            | Op::infix(Rule::gt, Assoc::Left)
            | Op::infix(Rule::ge, Assoc::Left)
            | Op::infix(Rule::contains, Assoc::Left)
            | Op::infix(Rule::starts_with, Assoc::Left)
            | Op::infix(Rule::ends_with, Assoc::Left)
            | Op::infix(Rule::matches, Assoc::Left)
            | Op::infix(Rule::in_op, Assoc::Left)
            | Op::infix(Rule::not_in, Assoc::Left)
            | Op::postfix(Rule::is_empty)
            | Op::postfix(Rule::is_not_empty))
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::sub, Assoc::Left))
        .op(Op::infix(Rule::mul, Assoc::Left) | Op::infix(Rule::div, Assoc::Left))
        .op(Op::prefix(Rule::neg))
});

/// Parses one expression. Errors carry byte offsets into `src`.
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    if src.len() > MAX_LEN {
        return Err(ExprError::new(
            MAX_LEN..src.len(),
            format!("expression is longer than {MAX_LEN} bytes"),
        ));
    }
    check_nesting(src)?;
    let mut pairs =
        ConditionParser::parse(Rule::condition, src).map_err(|e| syntax_error(src, e))?;
    let condition = pairs
        .next()
        .expect("the condition rule always yields one pair");
    let expr_pair = condition
        .into_inner()
        .next()
        .expect("condition holds an expr");
    // A literal a decimal cannot hold exactly is refused here, at its place,
    // so that building the tree below has nothing left that can fail.
    for p in expr_pair.clone().into_inner().flatten() {
        if p.as_rule() == Rule::number
            && let Err(why) = crate::value::parse_number(p.as_str())
        {
            return Err(ExprError::new(span_of(&p), why.message(p.as_str())));
        }
    }
    let expr = build_expr(expr_pair.into_inner());
    if expr.depth() > MAX_TREE_DEPTH {
        return Err(ExprError::new(
            0..src.len(),
            format!("expression nests deeper than {MAX_TREE_DEPTH} levels"),
        ));
    }
    Ok(expr)
}

/// Refuses bracket nesting and runs of prefix operators (`not not ...`, `- - ...`)
/// past [`MAX_DEPTH`] before pest recurses into them: pest's parser and its Pratt
/// table take stack for each level.
fn check_nesting(src: &str) -> Result<(), ExprError> {
    let mut depth = 0usize;
    let mut quotes = Quotes::default();
    let mut prefixes = 0usize;
    let bytes = src.as_bytes();
    for (i, c) in src.char_indices() {
        if !quotes.inside() {
            let is_not = c == 'n'
                && src[i..].starts_with("not")
                && !bytes
                    .get(i + 3)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'));
            if c == '-' || is_not {
                prefixes += 1;
                if prefixes > MAX_DEPTH {
                    return Err(ExprError::new(
                        i..i + if is_not { 3 } else { 1 },
                        format!("more than {MAX_DEPTH} `not` or `-` in a row"),
                    ));
                }
            } else if !(c.is_whitespace() || c == '(' || (is_not_tail(src, i))) {
                prefixes = 0;
            }
        }
        if !quotes.code(c) {
            continue;
        }
        match c {
            '(' | '[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ExprError::new(
                        i..i + 1,
                        format!("expression nests deeper than {MAX_DEPTH} brackets"),
                    ));
                }
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Tracks whether the characters of an expression are inside a text literal.
#[derive(Default)]
struct Quotes {
    open: Option<char>,
    escaped: bool,
}

impl Quotes {
    /// Feeds the next character; true when it is code: not inside a literal
    /// and not the quote that closes one (the opening quote is code).
    fn code(&mut self, c: char) -> bool {
        if let Some(q) = self.open {
            if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
            } else if c == q {
                self.open = None;
            }
            return false;
        }
        if c == '"' || c == '\'' {
            self.open = Some(c);
        }
        true
    }

    /// True while inside a literal.
    fn inside(&self) -> bool {
        self.open.is_some()
    }
}

/// True for the `o` and `t` of a `not` that was counted at its `n`.
fn is_not_tail(src: &str, i: usize) -> bool {
    (i >= 1 && src[..i].ends_with('n') && src[i..].starts_with("ot"))
        || (i >= 2 && src[..i].ends_with("no") && src[i..].starts_with('t'))
}

fn syntax_error(src: &str, e: pest::error::Error<Rule>) -> ExprError {
    let pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let found = token_at(src, pos);
    let expected = match &e.variant {
        ErrorVariant::ParsingError { positives, .. } => describe_expected(positives, src, pos),
        ErrorVariant::CustomError { message } => message.clone(),
    };
    let end = pos + found.len().max(1);
    let found_text = if found.is_empty() {
        "the end of the expression".to_string()
    } else {
        format!("`{found}`")
    };
    ExprError::new(
        pos..end.min(src.len().max(pos)),
        format!("syntax error: expected {expected}, found {found_text}"),
    )
}

/// The word, number, quoted text or single character at `pos`.
fn token_at(src: &str, pos: usize) -> &str {
    let rest = &src[pos.min(src.len())..];
    let mut chars = rest.char_indices();
    let Some((_, first)) = chars.next() else {
        return "";
    };
    let end = if first.is_alphanumeric() || first == '_' {
        rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len())
    } else if first == '"' || first == '\'' {
        rest[1..].find(first).map(|i| i + 2).unwrap_or(rest.len())
    } else {
        let two = rest.get(..2).unwrap_or("");
        if ["==", "!=", "<=", ">="].contains(&two) {
            2
        } else {
            first.len_utf8()
        }
    };
    &rest[..end]
}

fn describe_expected(rules: &[Rule], src: &str, pos: usize) -> String {
    let is_operator = |r: &Rule| {
        matches!(
            r,
            Rule::eq
                | Rule::ne
                | Rule::lt
                | Rule::le
                | Rule::gt
                | Rule::ge
                | Rule::add
                | Rule::sub
                | Rule::mul
                | Rule::div
                | Rule::kw_and
                | Rule::kw_or
                | Rule::kw_in
                | Rule::kw_is
                | Rule::kw_contains
                | Rule::kw_starts_with
                | Rule::kw_ends_with
                | Rule::kw_matches
        )
    };
    let operator = rules.iter().any(is_operator);
    let value = rules.iter().any(|r| {
        matches!(
            r,
            Rule::neg
                | Rule::paren
                | Rule::number
                | Rule::string
                | Rule::list
                | Rule::ident
                | Rule::kw_true
                | Rule::kw_false
                | Rule::kw_null
        ) || (*r == Rule::kw_not && !operator)
    });
    let mut wanted: Vec<String> = Vec::new();
    if value {
        wanted.push("a value".to_string());
    }
    if operator {
        wanted.push("an operator".to_string());
    }
    if rules.contains(&Rule::kw_empty) {
        wanted.push("`empty`".to_string());
    }
    if operator && let Some(close) = unclosed_bracket(&src[..pos.min(src.len())]) {
        wanted.push(format!("`{close}`"));
    }
    if rules.contains(&Rule::EOI) {
        wanted.push("the end of the expression".to_string());
    }
    match wanted.len() {
        0 => "a value".to_string(),
        1 => wanted.remove(0),
        _ => {
            let last = wanted.pop().unwrap_or_default();
            format!("{} or {last}", wanted.join(", "))
        }
    }
}

/// The bracket that closes the innermost one left open in `src`, if any.
fn unclosed_bracket(src: &str) -> Option<char> {
    let mut stack = Vec::new();
    let mut quotes = Quotes::default();
    for c in src.chars() {
        if !quotes.code(c) {
            continue;
        }
        match c {
            '(' => stack.push(')'),
            '[' => stack.push(']'),
            ')' | ']' => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.pop()
}

fn span_of(pair: &Pair<Rule>) -> std::ops::Range<usize> {
    let s = pair.as_span();
    s.start()..s.end()
}

fn build_expr(pairs: Pairs<Rule>) -> Expr {
    PRATT
        .map_primary(build_primary)
        .map_prefix(|op, rhs| {
            let span = op.as_span().start()..rhs.span.end;
            let kind = match op.as_rule() {
                Rule::not_op => ExprKind::Not(Box::new(rhs)),
                _ => ExprKind::Neg(Box::new(rhs)),
            };
            Expr { kind, span }
        })
        .map_postfix(|lhs, op| {
            let span = lhs.span.start..op.as_span().end();
            let negated = op.as_rule() == Rule::is_not_empty;
            Expr {
                kind: ExprKind::IsEmpty(Box::new(lhs), negated),
                span,
            }
        })
        .map_infix(|lhs, op, rhs| {
            let op = match op.as_rule() {
                Rule::or => BinOp::Or,
                Rule::and => BinOp::And,
                Rule::eq => BinOp::Eq,
                Rule::ne => BinOp::Ne,
                Rule::lt => BinOp::Lt,
                Rule::le => BinOp::Le,
                Rule::gt => BinOp::Gt,
                Rule::ge => BinOp::Ge,
                Rule::contains => BinOp::Contains,
                Rule::starts_with => BinOp::StartsWith,
                Rule::ends_with => BinOp::EndsWith,
                Rule::matches => BinOp::Matches,
                Rule::in_op => BinOp::In,
                Rule::not_in => BinOp::NotIn,
                Rule::add => BinOp::Add,
                Rule::sub => BinOp::Sub,
                Rule::mul => BinOp::Mul,
                _ => BinOp::Div,
            };
            let span = lhs.span.start..rhs.span.end;
            Expr {
                kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)),
                span,
            }
        })
        .parse(pairs)
}

fn build_primary(pair: Pair<Rule>) -> Expr {
    let span = span_of(&pair);
    let kind = match pair.as_rule() {
        Rule::paren => {
            let inner = pair.into_inner().next().expect("paren holds an expr");
            let mut e = build_expr(inner.into_inner());
            e.span = span;
            return e;
        }
        Rule::true_lit => ExprKind::Bool(true),
        Rule::false_lit => ExprKind::Bool(false),
        Rule::null_lit => ExprKind::Null,
        // Read exactly; `parse` has refused any literal that does not fit.
        Rule::number => {
            ExprKind::Number(crate::value::parse_number(pair.as_str()).unwrap_or_default())
        }
        Rule::string => {
            let inner = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
            ExprKind::Text(unescape(inner))
        }
        Rule::list => ExprKind::List(
            pair.into_inner()
                .map(|p| build_expr(p.into_inner()))
                .collect(),
        ),
        Rule::call => {
            let mut inner = pair.into_inner();
            let name = inner
                .next()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            ExprKind::Call(name, inner.map(|p| build_expr(p.into_inner())).collect())
        }
        Rule::path => ExprKind::Path(
            pair.into_inner()
                .map(|p| match p.as_rule() {
                    Rule::index => Segment::Index(p.as_str().parse().unwrap_or(usize::MAX)),
                    _ => Segment::Field(p.as_str().to_string()),
                })
                .collect(),
        ),
        other => unreachable!("the grammar yields no primary {other:?}"),
    };
    Expr { kind, span }
}

/// Resolves `\"`, `\'`, `\\`, `\n`, `\t` and `\r`; any other backslash is kept, so
/// regexes such as `"^\d+$"` read as written.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(c @ ('"' | '\'' | '\\')) => out.push(c),
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    out
}
