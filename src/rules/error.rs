//! A problem in a rules file, with its place, and how it is shown (like `just`):
//!
//! ```text
//! error: unknown field `total_prce`
//!   --> rules.yaml:31:18
//!    |
//! 31 |     when: total_prce > 100
//!    |           ^^^^^^^^^^ did you mean `total_price`?
//! ```

use std::fmt;

use serde::Serialize;

/// One problem found while loading rules.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleError {
    /// The file, as the user named it.
    pub file: String,
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1, in characters.
    pub column: u32,
    /// How many characters the caret underlines (at least 1).
    #[serde(skip)]
    pub width: usize,
    /// What is wrong.
    pub message: String,
    /// A suggestion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The text of the line, for the excerpt.
    #[serde(skip)]
    pub source_line: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        let num = self.line.to_string();
        let pad = " ".repeat(num.len());
        writeln!(f, "{pad}--> {}:{}:{}", self.file, self.line, self.column)?;
        if self.line == 0 {
            if let Some(hint) = &self.hint {
                writeln!(f, "{pad} = {hint}")?;
            }
            return Ok(());
        }
        writeln!(f, "{pad} |")?;
        writeln!(f, "{num} | {}", self.source_line)?;
        let lead: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let carets = "^".repeat(self.width.max(1));
        match &self.hint {
            Some(hint) => writeln!(f, "{pad} | {lead}{carets} {hint}"),
            None => writeln!(f, "{pad} | {lead}{carets}"),
        }
    }
}

/// Prints every error, then a count: what `ordersync check` shows.
pub fn render_all(errors: &[RuleError]) -> String {
    let mut out = String::new();
    for e in errors {
        out.push_str(&e.to_string());
        out.push('\n');
    }
    let n = errors.len();
    out.push_str(&format!(
        "error: rules rejected: {n} error{}\n",
        if n == 1 { "" } else { "s" }
    ));
    out
}

/// One warning, shown as an error is but headed `warning:`.
pub fn render_warning(w: &RuleError) -> String {
    let text = w.to_string();
    match text.strip_prefix("error: ") {
        Some(rest) => format!("warning: {rest}"),
        None => text,
    }
}
