//! Where errors go: [`LoadOptions`], each file's tree and lines, and the
//! [`Ctx`] that collects every problem with its `file:line:col`, placing
//! carets under scalars and inside expressions.

use std::path::Path;
use std::sync::Arc;

use crate::condition::ExprError;
use crate::rules::RuleError;
use crate::rules::yaml::{Key, Kind, Loc, Node};

/// How a load looks up the outside world; tests pass their own environment.
pub struct LoadOptions<'a> {
    /// Looks up `${NAME}`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

pub(super) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A file's parsed tree and its text, for errors.
pub(super) struct Doc {
    pub(super) name: Arc<str>,
    pub(super) lines: Vec<String>,
    pub(super) root: Node,
    pub(super) is_test_file: bool,
}

/// A text value as written, before interpolation.
pub(super) struct RawText {
    pub(super) file: Arc<str>,
    pub(super) loc: Loc,
    pub(super) text: String,
    /// Each `${...}` inside (`SUPPLIER_TOKEN`, `file:token`) and its value.
    pub(super) refs: Vec<(String, String)>,
}

/// Collects errors with the file context to render them.
pub(super) struct Ctx<'a> {
    pub(super) errors: Vec<RuleError>,
    /// Text values as written, before `${...}` was interpolated, with each
    /// `${...}` and its value: request templates are compiled from these.
    pub(super) raw: Vec<RawText>,
    /// Problems that do not stop the rules loading (`check` prints them).
    pub(super) warnings: Vec<RuleError>,
    pub(super) opts: &'a LoadOptions<'a>,
    pub(super) base: &'a Path,
}

impl Ctx<'_> {
    /// A text node as written, before interpolation, with its `${...}` values.
    pub(super) fn raw_text(&self, doc: &Doc, n: &Node) -> Option<(String, Vec<(String, String)>)> {
        if let Some(r) = self
            .raw
            .iter()
            .find(|r| r.loc == n.loc && r.file == doc.name)
        {
            return Some((r.text.clone(), r.refs.clone()));
        }
        match &n.kind {
            Kind::Str(s) => Some((s.clone(), Vec::new())),
            _ => n.scalar_text().map(|t| (t, Vec::new())),
        }
    }

    pub(super) fn at(
        &mut self,
        doc: &Doc,
        loc: Loc,
        width: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let source_line = doc
            .lines
            .get(loc.line.saturating_sub(1) as usize)
            .cloned()
            .unwrap_or_default();
        self.errors.push(RuleError {
            file: doc.name.to_string(),
            line: loc.line,
            column: loc.col,
            width: width.max(1),
            message: message.into(),
            hint,
            source_line,
        });
    }

    /// A warning under a node: kept beside the rules, never a refusal.
    pub(super) fn warn(
        &mut self,
        doc: &Doc,
        n: &Node,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let before = self.errors.len();
        self.node(doc, n, message, hint);
        let w = self.errors.split_off(before);
        self.warnings.extend(w);
    }

    /// An error under a node: the caret covers the scalar's text on its line.
    pub(super) fn node(
        &mut self,
        doc: &Doc,
        n: &Node,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let width = scalar_width(doc, n);
        self.at(doc, n.loc, width, message, hint);
    }

    pub(super) fn key(
        &mut self,
        doc: &Doc,
        k: &Key,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.at(doc, k.loc, k.name.chars().count(), message, hint);
    }

    /// An error inside an expression: the caret goes under the exact token.
    pub(super) fn expr(&mut self, doc: &Doc, n: &Node, text: &str, e: &ExprError) {
        let start = locate(doc, n.loc, text, e.span.start);
        let end = locate(
            doc,
            n.loc,
            text,
            e.span
                .end
                .max(e.span.start + 1)
                .min(text.len().max(e.span.start)),
        );
        let width = if end.line == start.line && end.col > start.col {
            (end.col - start.col) as usize
        } else {
            1
        };
        self.at(doc, start, width, e.message.clone(), e.hint.clone());
    }
}

/// How many characters a scalar node covers on its line.
fn scalar_width(doc: &Doc, n: &Node) -> usize {
    let Some(line) = doc.lines.get(n.loc.line.saturating_sub(1) as usize) else {
        return 1;
    };
    let rest: String = line
        .chars()
        .skip(n.loc.col.saturating_sub(1) as usize)
        .collect();
    match rest.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let mut len = 1;
            let mut chars = rest.chars().skip(1).peekable();
            while let Some(c) = chars.next() {
                len += 1;
                if c == '\\' && q == '"' {
                    chars.next();
                    len += 1;
                } else if c == q {
                    if q == '\'' && chars.peek() == Some(&'\'') {
                        chars.next();
                        len += 1;
                    } else {
                        break;
                    }
                }
            }
            len
        }
        Some('[' | '{') | None => 1,
        Some(_) => match &n.kind {
            Kind::Str(_) | Kind::Int(_) | Kind::Number(_) | Kind::Bool(_) => {
                let end = rest.find(" #").unwrap_or(rest.len());
                let text = rest[..end].trim_end();
                let text = text
                    .find([',', '}', ']'])
                    .filter(|_| line.contains('{') || line.contains('['))
                    .map(|i| text[..i].trim_end())
                    .unwrap_or(text);
                text.chars().count().max(1)
            }
            _ => 1,
        },
    }
}

/// True when a line ends in a block scalar's header (`key: |`, `- >-`, `|2`).
fn opens_block_scalar(line: &str) -> bool {
    let line = match line.find(" #") {
        Some(i) => &line[..i],
        None => line,
    };
    let t = line.trim_end();
    let head = t.trim_end_matches(|c: char| c == '-' || c == '+' || c.is_ascii_digit());
    (head.ends_with('|') || head.ends_with('>'))
        && head[..head.len() - 1].trim_end().ends_with([':', '-'])
}

/// The place of byte `offset` of a scalar's decoded `text`, walking its source.
pub(super) fn locate(doc: &Doc, at: Loc, text: &str, offset: usize) -> Loc {
    let mut line_no = at.line;
    let Some(first) = doc.lines.get(line_no.saturating_sub(1) as usize) else {
        return at;
    };
    let chars: Vec<char> = first.chars().collect();
    let mut col = (at.col as usize).saturating_sub(1);
    // A block scalar (`|`, `>`): its text starts on the next line, each line
    // indented as its first non-empty one; more indentation is text.
    let mut block_indent = None;
    // The parser places a block scalar at its first line of text.
    if at.line >= 2
        && col == chars.iter().take_while(|c| **c == ' ').count()
        && doc
            .lines
            .get(at.line as usize - 2)
            .is_some_and(|l| opens_block_scalar(l))
    {
        block_indent = Some(col);
    }
    let quote = match chars.get(col) {
        _ if block_indent.is_some() => None,
        Some(q @ ('"' | '\'')) => {
            col += 1;
            Some(*q)
        }
        Some('|' | '>') => {
            let indent = doc
                .lines
                .iter()
                .skip(line_no as usize)
                .find(|l| !l.trim().is_empty())
                .map(|l| l.chars().take_while(|c| *c == ' ').count());
            let Some(indent) = indent else {
                return at;
            };
            block_indent = Some(indent);
            line_no += 1;
            col = indent;
            None
        }
        _ => None,
    };
    let mut line: Vec<char> = match block_indent {
        Some(_) => doc
            .lines
            .get(line_no as usize - 1)
            .map(|l| l.chars().collect())
            .unwrap_or_default(),
        None => chars,
    };
    for (i, c) in text.char_indices() {
        if i >= offset {
            break;
        }
        // Advance the source by one decoded char.
        loop {
            match line.get(col) {
                None => {
                    line_no += 1;
                    match doc.lines.get(line_no as usize - 1) {
                        Some(l) => {
                            line = l.chars().collect();
                            col = match block_indent {
                                Some(indent) => indent.min(line.len()),
                                None => line.iter().take_while(|c| c.is_whitespace()).count(),
                            };
                        }
                        None => {
                            return Loc {
                                line: line_no - 1,
                                col: col as u32 + 1,
                            };
                        }
                    }
                    if c == ' ' || c == '\n' {
                        break;
                    }
                }
                Some('\\') if quote == Some('"') => {
                    col += 2;
                    break;
                }
                Some('\'') if quote == Some('\'') && line.get(col + 1) == Some(&'\'') => {
                    col += 2;
                    break;
                }
                Some(_) => {
                    col += 1;
                    break;
                }
            }
        }
    }
    Loc {
        line: line_no,
        col: col as u32 + 1,
    }
}
