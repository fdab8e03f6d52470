//! Request templates (SPEC 12.2, `kind: http`): minijinja text compiled and
//! checked when the rules load, rendered once per delivery.
//!
//! A template sees the delivery envelope of SPEC 6.3 (`event`, `order_id`,
//! `external_id`, `source`, `destination`, `rules_version`, `order`) plus
//! `idempotency_key` and `now`, and nothing else: no loader (a template reaches
//! no file), no function that touches the outside, a fuel limit and an output
//! limit. Undefined values are errors ([`UndefinedBehavior::Strict`]); a field
//! the order's shape knows but the order lacks is `none`, as in conditions.
//!
//! Secrets: a template's text is compiled *before* `${NAME}` interpolation, so
//! `${NAME}` stays in the rendered request as a marker. That rendered request is
//! what is stored and resent; [`expand`] puts the secret in just before sending.
//! A value a template writes cannot forge a marker: `${` in any value comes out
//! as `$${`, which [`expand`] turns back into `${`.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use minijinja::machinery::ast::{self, Expr, Stmt};
use minijinja::machinery::{Span, WhitespaceConfig};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use crate::order::{Event, Type};
use crate::suggest::did_you_mean;
use crate::value::Value;

/// Instructions one render may run: far more than any request needs, and a
/// loop that does not end stops within milliseconds.
pub const FUEL: u64 = 50_000;

/// The longest text one template may render.
pub const MAX_OUTPUT: usize = 1 << 20;

/// The names a template sees at its top level.
pub const NAMES: [&str; 9] = [
    "event",
    "order_id",
    "external_id",
    "source",
    "destination",
    "rules_version",
    "order",
    "idempotency_key",
    "now",
];

/// minijinja's own global functions (pure): `range`, `dict`, `namespace`.
const GLOBALS: [&str; 3] = ["range", "dict", "namespace"];

/// The widest `tojson(indent=N)` allowed (a huge indent is a memory bomb).
const MAX_INDENT: usize = 16;

/// A problem in a template's text, at a byte offset of that text.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Where in the template text it starts (bytes).
    pub offset: usize,
    /// How many bytes it covers (at least 1).
    pub len: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// What a template is checked against at load.
pub struct Check<'a> {
    /// The order's shape (canonical plus `fields:`).
    pub order: &'a Type,
    /// The template is a JSON body: every `{{ value }}` must end in `| tojson`.
    pub json: bool,
}

/// A compiled template.
#[derive(Clone)]
pub struct Template {
    env: Arc<Environment<'static>>,
    text: Arc<str>,
    constant: bool,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.text).finish()
    }
}

const NAME: &str = "request";

/// The one environment shape every template gets.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    // `tojson` with a bounded indent; the rest of the builtins are pure.
    env.add_filter(
        "tojson",
        |value: &minijinja::Value,
         indent: Option<minijinja::Value>,
         kwargs: Kwargs|
         -> Result<minijinja::Value, minijinja::Error> {
            let wide = indent
                .as_ref()
                .or(kwargs
                    .peek::<Option<&minijinja::Value>>("indent")
                    .ok()
                    .flatten())
                .and_then(|v| usize::try_from(v.clone()).ok())
                .is_some_and(|n| n > MAX_INDENT);
            if wide {
                return Err(minijinja::Error::new(
                    ErrorKind::InvalidOperation,
                    format!("`tojson` indents at most {MAX_INDENT} spaces"),
                ));
            }
            minijinja::filters::tojson(value, indent, kwargs)
        },
    );
    // Every value is written as text; `${` in it is escaped so it can never
    // be taken for a secret's marker (see `expand`).
    env.set_formatter(|out, _state, value| {
        if value.is_undefined() {
            return Err(minijinja::Error::from(ErrorKind::UndefinedError));
        }
        let text = value.to_string();
        out.write_str(&text.replace("${", "$${"))
            .map_err(minijinja::Error::from)
    });
    env
}

/// Compiles `text` and checks it: its syntax, the names it reads, and in a
/// JSON body that every value goes through `tojson`. Every problem is returned.
pub fn compile(text: &str, check: &Check) -> Result<Template, Vec<Problem>> {
    let mut env = environment();
    if let Err(e) = env.add_template_owned(NAME, text.to_string()) {
        let range = e.range().unwrap_or(0..1);
        let message = e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        return Err(vec![Problem {
            offset: range.start.min(text.len()),
            len: range.len().max(1),
            message: format!("template syntax error: {message}"),
            hint: None,
        }]);
    }
    let mut problems = Vec::new();
    let undeclared = env
        .get_template(NAME)
        .map(|t| t.undeclared_variables(false))
        .unwrap_or_default();
    let ast = minijinja::machinery::parse(text, NAME, SyntaxConfig, WhitespaceConfig::default());
    if let Ok(ast) = &ast {
        let mut walk = Walk::default();
        walk.stmt(ast, true);
        // The first place each unknown name is read.
        let mut reported: Vec<&str> = Vec::new();
        for (id, span) in &walk.vars {
            if !undeclared.contains(*id)
                || NAMES.contains(id)
                || GLOBALS.contains(id)
                || reported.contains(id)
            {
                continue;
            }
            reported.push(id);
            let hint = did_you_mean(id, NAMES)
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| {
                    format!(
                        "a template sees {}",
                        NAMES
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
            problems.push(at(
                span,
                text,
                format!("unknown variable `{id}`"),
                Some(hint),
            ));
        }
        if undeclared.contains("order") {
            for (path, span) in &walk.order_paths {
                if let Some((message, hint)) = unknown_field(check.order, path) {
                    problems.push(at(span, text, message, hint));
                }
            }
        }
        if check.json {
            for (expr, span) in &walk.emits {
                if !ends_in_tojson(expr) {
                    let shown = slice(text, span).trim();
                    problems.push(at(
                        span,
                        text,
                        format!("`{{{{ {shown} }}}}` puts a value into a JSON body without `| tojson`"),
                        Some(format!(
                            "write `{{{{ {shown} | tojson }}}}`: it quotes and escapes text and writes lists and objects as JSON (e.g. `{{{{ order.id | tojson }}}}`)"
                        )),
                    ));
                }
            }
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.offset);
        return Err(problems);
    }
    Ok(Template {
        env: Arc::new(env),
        constant: !text.contains("{{") && !text.contains("{%") && !text.contains("{#"),
        text: Arc::from(text),
    })
}

impl Template {
    /// The template's text as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// True when the text has no template syntax: it renders as itself.
    pub fn is_constant(&self) -> bool {
        self.constant
    }

    /// Renders against a context from [`context`]; the error is a reason in words.
    pub fn render(&self, ctx: &minijinja::Value) -> Result<String, String> {
        let t = self
            .env
            .get_template(NAME)
            .map_err(|e| format!("the template cannot be read: {e}"))?;
        let mut out = Capped::default();
        match t.render_captured_to(ctx, &mut out) {
            Ok(_) => String::from_utf8(out.bytes)
                .map_err(|_| "the template rendered text that is not UTF-8".to_string()),
            Err(_) if out.over => Err(format!(
                "the template renders more than {} KiB",
                MAX_OUTPUT >> 10
            )),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(format!(
                "the template ran out of fuel ({FUEL} steps): a loop that does not end, or too much work for one request"
            )),
            Err(e) => Err(render_reason(&e, &self.text)),
        }
    }
}

fn render_reason(e: &minijinja::Error, text: &str) -> String {
    let what = match e.kind() {
        ErrorKind::UndefinedError => "undefined value".to_string(),
        _ => e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.kind().to_string()),
    };
    match e.range().and_then(|r| text.get(r)) {
        Some(at) if !at.is_empty() => format!("the template failed: {what} at `{at}`"),
        _ => format!("the template failed: {what}"),
    }
}

/// Output with a cap: writing past [`MAX_OUTPUT`] fails the render.
#[derive(Default)]
struct Capped {
    bytes: Vec<u8>,
    over: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len() + buf.len() > MAX_OUTPUT {
            self.over = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn at(span: &Span, text: &str, message: String, hint: Option<String>) -> Problem {
    let start = (span.start_offset as usize).min(text.len());
    let end = (span.end_offset as usize).clamp(start, text.len());
    Problem {
        offset: start,
        len: (end - start).max(1),
        message,
        hint,
    }
}

fn slice<'t>(text: &'t str, span: &Span) -> &'t str {
    text.get(span.start_offset as usize..span.end_offset as usize)
        .unwrap_or("")
}

fn ends_in_tojson(e: &Expr) -> bool {
    matches!(e, Expr::Filter(f) if f.name == "tojson")
}

/// `order.a.b` read by a template: an error when the shape has no such field.
fn unknown_field(order: &Type, path: &[&str]) -> Option<(String, Option<String>)> {
    let mut ty = order;
    for (i, seg) in path.iter().enumerate() {
        ty = match ty {
            Type::Any => return None,
            Type::List(inner) if seg.parse::<usize>().is_ok() => inner,
            Type::Object(_) => match ty.field(seg) {
                Some(t) => t,
                None => {
                    let prefix: Vec<&str> = path[..i].to_vec();
                    let full = |s: &str| {
                        let mut p = vec!["order"];
                        p.extend(prefix.iter().copied());
                        p.push(s);
                        p.join(".")
                    };
                    let hint = did_you_mean(seg, ty.field_names())
                        .map(|s| format!("did you mean `{}`?", full(s)))
                        .or_else(|| {
                            Some(
                                "declare custom fields under `fields:` with their type".to_string(),
                            )
                        });
                    return Some((format!("unknown field `{}`", full(seg)), hint));
                }
            },
            _ => return None,
        };
    }
    None
}

/// What a walk over a template's syntax tree collects.
#[derive(Default)]
struct Walk<'a> {
    /// Every variable read, in order.
    vars: Vec<(&'a str, Span)>,
    /// Every `order.a.b...` chain, as its segments after `order`.
    order_paths: Vec<(Vec<&'a str>, Span)>,
    /// Every `{{ expr }}` that writes into the output itself (not into a `set`).
    emits: Vec<(&'a Expr<'a>, Span)>,
}

impl<'a> Walk<'a> {
    fn stmts(&mut self, body: &'a [Stmt<'a>], out: bool) {
        for s in body {
            self.stmt(s, out);
        }
    }

    fn stmt(&mut self, s: &'a Stmt<'a>, out: bool) {
        match s {
            Stmt::Template(t) => self.stmts(&t.children, out),
            Stmt::EmitExpr(e) => {
                if out {
                    self.emits.push((&e.expr, e.expr.span()));
                }
                self.expr(&e.expr);
            }
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                if let Some(x) = &f.filter_expr {
                    self.expr(x);
                }
                self.stmts(&f.body, out);
                self.stmts(&f.else_body, out);
            }
            Stmt::IfCond(c) => {
                self.expr(&c.expr);
                self.stmts(&c.true_body, out);
                self.stmts(&c.false_body, out);
            }
            Stmt::WithBlock(w) => {
                for (_, value) in &w.assignments {
                    self.expr(value);
                }
                self.stmts(&w.body, out);
            }
            Stmt::Set(x) => self.expr(&x.expr),
            Stmt::SetBlock(x) => {
                if let Some(f) = &x.filter {
                    self.expr(f);
                }
                self.stmts(&x.body, false);
            }
            Stmt::AutoEscape(x) => {
                self.expr(&x.enabled);
                self.stmts(&x.body, out);
            }
            // A filter block changes what its body writes: checked as a whole.
            Stmt::FilterBlock(x) => {
                self.expr(&x.filter);
                self.stmts(&x.body, false);
            }
            Stmt::Do(d) => self.call(&d.call),
        }
    }

    fn call(&mut self, c: &'a ast::Call<'a>) {
        self.expr(&c.expr);
        self.args(&c.args);
    }

    fn args(&mut self, args: &'a [ast::CallArg<'a>]) {
        for a in args {
            match a {
                ast::CallArg::Pos(e)
                | ast::CallArg::Kwarg(_, e)
                | ast::CallArg::PosSplat(e)
                | ast::CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn expr(&mut self, e: &'a Expr<'a>) {
        match e {
            Expr::Var(v) => self.vars.push((v.id, v.span())),
            Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(x);
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                self.expr(&b.left);
                self.expr(&b.right);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                for op in &c.ops {
                    self.expr(&op.expr);
                }
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                if let Some(f) = &i.false_expr {
                    self.expr(f);
                }
            }
            Expr::Filter(f) => {
                if let Some(x) = &f.expr {
                    self.expr(x);
                }
                self.args(&f.args);
            }
            Expr::Test(t) => {
                self.expr(&t.expr);
                self.args(&t.args);
            }
            Expr::GetAttr(_) | Expr::GetItem(_) => {
                if let Some(path) = order_path(e) {
                    self.order_paths.push((path, e.span()));
                }
                match e {
                    Expr::GetAttr(g) => self.expr(&g.expr),
                    Expr::GetItem(g) => {
                        self.expr(&g.expr);
                        self.expr(&g.subscript_expr);
                    }
                    _ => {}
                }
            }
            Expr::Call(c) => self.call(c),
            Expr::List(l) => l.items.iter().for_each(|x| self.expr(x)),
            Expr::Map(m) => {
                m.keys.iter().for_each(|x| self.expr(x));
                m.values.iter().for_each(|x| self.expr(x));
            }
        }
    }
}

/// `order.a[0].b` as `["a", "0", "b"]`, when the chain starts at `order` and
/// every step is a name or a constant.
fn order_path<'a>(e: &'a Expr<'a>) -> Option<Vec<&'a str>> {
    match e {
        Expr::Var(v) if v.id == "order" => Some(Vec::new()),
        Expr::GetAttr(g) => {
            let mut p = order_path(&g.expr)?;
            p.push(g.name);
            Some(p)
        }
        Expr::GetItem(g) => {
            let mut p = order_path(&g.expr)?;
            let Expr::Const(c) = &g.subscript_expr else {
                return None;
            };
            // Only a constant key can be checked; an index keeps the list's element type.
            if c.value.as_usize().is_some() {
                p.push("0");
            } else {
                p.push(c.value.as_str()?);
            }
            Some(p)
        }
        _ => None,
    }
}

/// The SPEC 6.3 envelope of one delivery, plus `idempotency_key` and `now`.
pub struct Envelope<'a> {
    /// What happened.
    pub event: Event,
    /// ordersync's id (`ord_42`).
    pub order_id: &'a str,
    /// The destination's own id, if linked.
    pub external_id: Option<&'a str>,
    /// The source channel.
    pub source: &'a str,
    /// The destination channel.
    pub destination: &'a str,
    /// The rules version that decided it.
    pub rules_version: &'a str,
    /// The order as decided for the destination.
    pub order: &'a Value,
    /// Stable for this decision.
    pub idempotency_key: &'a str,
    /// When it is rendered.
    pub now: DateTime<Utc>,
}

/// The values a template sees; the order's known-but-absent fields are `none`.
pub fn context(e: &Envelope, order_type: &Type) -> Result<minijinja::Value, String> {
    let order = to_jinja(e.order, Some(order_type))?;
    let s = minijinja::Value::from;
    let pairs: Vec<(&str, minijinja::Value)> = vec![
        ("event", s(e.event.as_str())),
        ("order_id", s(e.order_id)),
        (
            "external_id",
            e.external_id.map(s).unwrap_or(minijinja::Value::from(())),
        ),
        ("source", s(e.source)),
        ("destination", s(e.destination)),
        ("rules_version", s(e.rules_version)),
        ("order", order),
        ("idempotency_key", s(e.idempotency_key)),
        (
            "now",
            s(e.now.to_rfc3339_opts(SecondsFormat::Secs, true).as_str()),
        ),
    ];
    Ok(minijinja::Value::from_iter(pairs))
}

/// One of our values as minijinja's; numbers exactly or not at all (SPEC 3.6).
fn to_jinja(v: &Value, ty: Option<&Type>) -> Result<minijinja::Value, String> {
    Ok(match v {
        Value::Null => minijinja::Value::from(()),
        Value::Bool(b) => minijinja::Value::from(*b),
        Value::Text(t) => minijinja::Value::from(t.as_str()),
        Value::Number(n) => {
            let n = n.normalize();
            if n.scale() == 0 {
                minijinja::Value::from(n.mantissa())
            } else {
                let text = crate::value::number_text(n);
                match text.parse::<f64>() {
                    Ok(f) if f.is_finite() && format!("{f}") == text => minijinja::Value::from(f),
                    _ => {
                        return Err(format!(
                            "the number {text} has more digits than a template can write exactly"
                        ));
                    }
                }
            }
        }
        Value::List(items) => {
            let inner = match ty {
                Some(Type::List(t)) => Some(&**t),
                _ => None,
            };
            let out: Result<Vec<_>, _> = items.iter().map(|i| to_jinja(i, inner)).collect();
            minijinja::Value::from(out?)
        }
        Value::Object(entries) => {
            let mut map = Vec::with_capacity(entries.len());
            for (k, x) in entries.iter() {
                let field = ty.and_then(|t| t.field(k.as_str()));
                map.push((k.as_str().to_string(), to_jinja(x, field)?));
            }
            let known = match ty {
                Some(Type::Object(fields)) => fields.iter().map(|(n, _)| n.clone()).collect(),
                _ => Vec::new(),
            };
            minijinja::Value::from_object(Shaped { map, known })
        }
    })
}

/// An object of the order: its fields in their order; a field its shape
/// knows but it lacks reads as `none` (and is not written by `tojson`).
#[derive(Debug)]
struct Shaped {
    map: Vec<(String, minijinja::Value)>,
    known: Vec<String>,
}

impl minijinja::value::Object for Shaped {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let k = key.as_str()?;
        match self.map.iter().find(|(n, _)| n == k) {
            Some((_, v)) => Some(v.clone()),
            None => self
                .known
                .iter()
                .any(|n| n == k)
                .then(|| minijinja::Value::from(())),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let keys: Vec<minijinja::Value> = self
            .map
            .iter()
            .map(|(k, _)| minijinja::Value::from(k.as_str()))
            .collect();
        minijinja::value::Enumerator::Values(keys)
    }
}

/// A request as rendered: what is stored and sent again on every retry, with
/// `${NAME}` markers where secrets go.
#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Headers, as written in the rules (a body's `Content-Type` added).
    pub headers: Vec<(String, String)>,
    /// The body, if the request has one.
    pub body: Option<String>,
}

impl Rendered {
    /// As stored: JSON `{"method", "url", "headers", "body"}`.
    pub fn to_json(&self) -> String {
        let headers: serde_json::Map<String, serde_json::Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::json!({
            "method": self.method,
            "url": self.url,
            "headers": headers,
            "body": self.body,
        })
        .to_string()
    }

    /// Reads a stored request back.
    pub fn from_json(text: &str) -> Result<Rendered, String> {
        let v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("the stored request is unreadable: {e}"))?;
        let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let headers = v
            .get("headers")
            .and_then(|h| h.as_object())
            .map(|h| {
                h.iter()
                    .filter_map(|(k, x)| x.as_str().map(|x| (k.clone(), x.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Rendered {
            method: field("method").ok_or("the stored request has no method")?,
            url: field("url").ok_or("the stored request has no URL")?,
            headers,
            body: field("body"),
        })
    }

    /// The header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The methods a request may use.
pub const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Renders every part of a request template and checks what came out.
pub fn render_request(
    r: &crate::rules::HttpRequest,
    ctx: &minijinja::Value,
) -> Result<Rendered, String> {
    let method = r.method.render(ctx).map_err(|e| format!("`method`: {e}"))?;
    let method = method.trim().to_string();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!(
            "`method` rendered `{method}`, which is not GET, POST, PUT, PATCH or DELETE"
        ));
    }
    let url = r.url.render(ctx).map_err(|e| format!("`url`: {e}"))?;
    let url = url.trim().to_string();
    if !(url.starts_with("http://") || url.starts_with("https://"))
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "`url` rendered `{url}`, which is not an absolute http(s) URL"
        ));
    }
    let mut headers = Vec::new();
    for (name, t) in &r.headers {
        let value = t.render(ctx).map_err(|e| format!("header `{name}`: {e}"))?;
        if value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(format!("header `{name}` rendered a line break"));
        }
        headers.push((name.clone(), value.trim().to_string()));
    }
    let body = match &r.body {
        Some(t) => Some(t.render(ctx).map_err(|e| format!("`body`: {e}"))?),
        None => None,
    };
    if body.is_some()
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("Content-Type".to_string(), r.content_type.to_string()));
    }
    Ok(Rendered {
        method,
        url,
        headers,
        body,
    })
}

/// Puts each `${NAME}` marker's secret into stored, rendered text, and turns
/// `$${` back into `${`. A marker whose secret `lookup` does not know is an error.
pub fn expand(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let Some(close) = rest[i..].find('}') else {
            out.push_str(&rest[i..]);
            return Ok(out);
        };
        let inner = &rest[i + 2..i + close];
        match lookup(inner) {
            Some(v) => out.push_str(&v),
            None => {
                return Err(format!(
                    "the stored request needs `${{{inner}}}`, which the rules no longer give this connector"
                ));
            }
        }
        rest = &rest[i + close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::order_type_with;

    fn check(json: bool) -> (Type, bool) {
        (order_type_with(&[]), json)
    }

    fn problems(text: &str, json: bool) -> Vec<(usize, usize, String)> {
        let (t, json) = check(json);
        match compile(text, &Check { order: &t, json }) {
            Ok(_) => Vec::new(),
            Err(ps) => ps
                .into_iter()
                .map(|p| (p.offset, p.len, p.message))
                .collect(),
        }
    }

    fn envelope_ctx(order: &str) -> minijinja::Value {
        let order = Value::from_json(order).unwrap();
        let e = Envelope {
            event: Event::Created,
            order_id: "ord_1",
            external_id: None,
            source: "shop",
            destination: "supplier",
            rules_version: "abc",
            order: &order,
            idempotency_key: "k1",
            now: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        context(&e, &order_type_with(&[])).unwrap()
    }

    fn render(text: &str, order: &str) -> Result<String, String> {
        let (t, _) = check(false);
        compile(
            text,
            &Check {
                order: &t,
                json: false,
            },
        )
        .unwrap()
        .render(&envelope_ctx(order))
    }

    #[test]
    fn syntax_errors_are_placed() {
        let p = problems("a {{ order.id }", false);
        assert_eq!(p.len(), 1);
        assert!(p[0].2.starts_with("template syntax error: "), "{p:?}");
    }

    #[test]
    fn unknown_names_and_fields() {
        assert_eq!(
            problems("{{ ordr.id }} {{ ordr.name }}", false),
            vec![(3, 4, "unknown variable `ordr`".to_string())]
        );
        assert_eq!(
            problems(
                "{% for l in order.line_items %}{{ l.sku }}{% endfor %}{{ range(3) }}",
                false
            ),
            Vec::new()
        );
        assert_eq!(
            problems("{{ order.total_prce }}", false),
            vec![(3, 16, "unknown field `order.total_prce`".to_string())]
        );
        assert_eq!(problems("{{ order.line_items[0].sku }}", false), Vec::new());
        assert_eq!(
            problems("{{ order.shipping_address.zipp }}", false).len(),
            1
        );
    }

    #[test]
    fn json_bodies_need_tojson() {
        assert_eq!(
            problems(
                r#"{"a": {{ order.id }}, "b": {{ order.id | tojson }}}"#,
                true
            ),
            vec![(
                9,
                8,
                "`{{ order.id }}` puts a value into a JSON body without `| tojson`".to_string()
            )]
        );
        // Inside `set` the value is not written: only what is written counts.
        assert_eq!(
            problems(r#"{% set x = order.id %}{"a": {{ x | tojson }}}"#, true),
            Vec::new()
        );
    }

    #[test]
    fn renders_exactly() {
        let out = render(
            r#"{"id": {{ order.id | tojson }}, "n": {{ order.total_price | tojson }}, "note": {{ order.note | tojson }}, "k": "{{ idempotency_key }}", "t": "{{ now }}"}"#,
            r#"{"id": "5001", "total_price": 104.5}"#,
        )
        .unwrap();
        assert_eq!(
            out,
            r#"{"id": "5001", "n": 104.5, "note": null, "k": "k1", "t": "2026-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            render("{{ order.id | tojson }}", r#"{"id": 820982911946154508}"#).unwrap(),
            "820982911946154508"
        );
    }

    #[test]
    fn values_cannot_forge_markers() {
        let out = render(
            "A ${TOKEN} {{ order.note }}",
            r#"{"note": "${TOKEN} $${x}"}"#,
        )
        .unwrap();
        assert_eq!(out, "A ${TOKEN} $${TOKEN} $$${x}");
        let sent = expand(&out, &|n| (n == "TOKEN").then(|| "s3cr3t".to_string())).unwrap();
        assert_eq!(sent, "A s3cr3t ${TOKEN} $${x}");
        assert!(
            expand("${GONE}", &|_| None)
                .unwrap_err()
                .contains("`${GONE}`")
        );
    }

    #[test]
    fn limits() {
        let e = render("{% for i in range(100000) %}{{ i }}{% endfor %}", "{}").unwrap_err();
        assert!(e.contains("ran out of fuel"), "{e}");
        let e = render("{{ 'x' * 2000000 }}", "{}").unwrap_err();
        assert!(e.contains("renders more than 1024 KiB"), "{e}");
        let e = render("{{ order | tojson(indent=100000000) }}", "{}").unwrap_err();
        assert!(e.contains("indents at most"), "{e}");
        let e = render("{% set o = order %}{{ o.nope }}", "{}").unwrap_err();
        assert!(e.contains("undefined value"), "{e}");
    }
}
