//! Readers shared by the passes: a mapping's keys, text, durations, URLs,
//! channel names, field paths and expressions, each reporting what is wrong.

use std::time::Duration;

use super::ctx::{Ctx, Doc};
use crate::condition::{CompileEnv, Condition};
use crate::order::Type;
use crate::rules::yaml::{Key, Kind, Node};
use crate::suggest::did_you_mean;
use crate::value::{Str, Value};

/// A mapping's entries, checked for unknown keys.
pub(super) struct Fields<'n> {
    pub(super) entries: &'n [(Key, Node)],
}

impl<'n> Fields<'n> {
    pub(super) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }
}

/// Reads a mapping node, reporting unknown and repeated keys.
pub(super) fn fields<'n>(
    cx: &mut Ctx,
    doc: &Doc,
    n: &'n Node,
    what: &str,
    allowed: &[&str],
) -> Option<Fields<'n>> {
    match &n.kind {
        Kind::Map(entries) => {
            for (i, (k, _)) in entries.iter().enumerate() {
                // A repeated key was reported by `check_duplicates`; the first one counts.
                if entries[..i].iter().any(|(p, _)| p.name == k.name) {
                    continue;
                }
                if !allowed.is_empty() && !allowed.contains(&k.name.as_str()) {
                    let hint = did_you_mean(&k.name, allowed.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| Some(format!("{what} takes {}", list_names(allowed))));
                    cx.key(doc, k, format!("unknown key `{}` in {what}", k.name), hint);
                }
            }
            Some(Fields { entries })
        }
        Kind::Null => Some(Fields { entries: &[] }),
        _ => {
            cx.node(
                doc,
                n,
                format!("{what} must be a mapping, not {}", n.kind_name()),
                None,
            );
            None
        }
    }
}

pub(super) fn list_names(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}

pub(super) fn text<'n>(cx: &mut Ctx, doc: &Doc, n: &'n Node, what: &str) -> Option<&'n str> {
    match &n.kind {
        Kind::Str(s) => Some(s),
        _ => {
            cx.node(
                doc,
                n,
                format!("{what} must be text, not {}", n.kind_name()),
                None,
            );
            None
        }
    }
}

/// Reads `10s`, `500ms`, `2m`, `1h30m`, `1d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ms" => n / 1000.0,
            "s" => n,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86400.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(secs).ok()?;
    }
    Some(total)
}

pub(super) fn duration(cx: &mut Ctx, doc: &Doc, n: &Node, what: &str) -> Option<Duration> {
    let s = n.scalar_text()?;
    match parse_duration(&s) {
        Some(d) => Some(d),
        None => {
            cx.node(
                doc,
                n,
                format!("invalid duration `{s}` for {what}"),
                Some("write a number and a unit: `500ms`, `10s`, `2m`, `1h`, `1d`".to_string()),
            );
            None
        }
    }
}

/// Converts a YAML node into a value (orders in tests, attribute constants).
pub(super) fn to_value(n: &Node) -> Value {
    match &n.kind {
        Kind::Null => Value::Null,
        Kind::Bool(b) => Value::Bool(*b),
        Kind::Int(i) => Value::int(*i),
        Kind::Number(n) => Value::Number(*n),
        Kind::Str(s) => Value::text(s),
        Kind::Seq(items) => Value::list(items.iter().map(to_value).collect()),
        Kind::Map(entries) => Value::object(
            entries
                .iter()
                .map(|(k, v)| (Str::new(&k.name), to_value(v)))
                .collect(),
        ),
    }
}

pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

pub(super) fn unknown_channel(cx: &mut Ctx, doc: &Doc, n: &Node, name: &str, names: &[String]) {
    let hint = did_you_mean(name, names.iter().map(String::as_str))
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(format!(
                "channels are {}",
                list_names(&names.iter().map(String::as_str).collect::<Vec<_>>())
            ))
        });
    cx.node(doc, n, format!("unknown channel `{name}`"), hint);
}

pub(super) fn unknown_channel_key(cx: &mut Ctx, doc: &Doc, k: &Key, names: &[String]) {
    let hint = did_you_mean(&k.name, names.iter().map(String::as_str))
        .map(|s| format!("did you mean `{s}`?"))
        .or_else(|| {
            Some(format!(
                "channels are {}",
                list_names(&names.iter().map(String::as_str).collect::<Vec<_>>())
            ))
        });
    cx.key(doc, k, format!("unknown channel `{}`", k.name), hint);
}

pub(super) fn url(cx: &mut Ctx, doc: &Doc, n: Option<&Node>, parent: &Node, what: &str) -> String {
    let Some(n) = n else {
        cx.node(doc, parent, format!("{what} needs a `url`"), None);
        return String::new();
    };
    let Some(u) = text(cx, doc, n, "`url`") else {
        return String::new();
    };
    if !(u.starts_with("http://") || u.starts_with("https://")) || u.len() <= "https://".len() {
        cx.node(
            doc,
            n,
            format!("invalid url `{u}`"),
            Some("write an absolute `http://` or `https://` URL".to_string()),
        );
    }
    u.to_string()
}

/// Reports each of `keys` that `f` has, with `say(key)`'s message and hint.
pub(super) fn refuse_keys(
    cx: &mut Ctx,
    doc: &Doc,
    f: &Fields,
    keys: &[&str],
    say: impl Fn(&str) -> (String, String),
) {
    for key in keys {
        if let Some((k, _)) = f.entries.iter().find(|(k, _)| k.name == *key) {
            let (message, hint) = say(key);
            cx.key(doc, k, message, Some(hint));
        }
    }
}

/// Checks that every dotted path in `require` and attribute names exists.
pub(super) fn resolve_path(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    path: &str,
    order: &Type,
    at_key: Option<&Key>,
) -> Option<Type> {
    let mut ty = order.clone();
    let mut walked: Vec<&str> = Vec::new();
    for seg in path.split('.') {
        let next = match &ty {
            Type::Any => Some(Type::Any),
            Type::Object(_) => ty.field(seg).cloned(),
            _ => None,
        };
        match next {
            Some(t) => ty = t,
            None => {
                let prefix = walked.join(".");
                let full = |s: &str| {
                    if prefix.is_empty() {
                        s.to_string()
                    } else {
                        format!("{prefix}.{s}")
                    }
                };
                let hint = did_you_mean(seg, ty.field_names())
                    .map(|s| format!("did you mean `{}`?", full(s)))
                    .or_else(|| {
                        Some("declare custom fields under `fields:` with their type".to_string())
                    });
                let msg = format!("unknown field `{path}`");
                match at_key {
                    Some(k) => cx.key(doc, k, msg, hint),
                    None => cx.node(doc, n, msg, hint),
                }
                return None;
            }
        }
        walked.push(seg);
    }
    Some(ty)
}

/// Compiles an expression node; a bare `true`/`false`/number is taken as written.
pub(super) fn expression(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    env: &CompileEnv,
    want_bool: bool,
) -> Option<Condition> {
    let src = match &n.kind {
        Kind::Str(s) => s.clone(),
        Kind::Bool(_) | Kind::Int(_) | Kind::Number(_) => n.scalar_text().unwrap_or_default(),
        _ => {
            cx.node(
                doc,
                n,
                format!("an expression must be text, not {}", n.kind_name()),
                None,
            );
            return None;
        }
    };
    match Condition::compile(&src, env) {
        Ok(c) => {
            if want_bool && !matches!(c.ty, Type::Bool | Type::Any) {
                cx.node(
                    doc,
                    n,
                    format!(
                        "a condition must be true or false; this is {}",
                        crate::condition::type_article(&c.ty)
                    ),
                    None,
                );
                return None;
            }
            Some(c)
        }
        Err(errs) => {
            for e in &errs {
                cx.expr(doc, n, &src, e);
            }
            None
        }
    }
}
