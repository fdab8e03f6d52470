//! Reading a rules file or directory into a [`RuleSet`], reporting every problem.
//!
//! The walk happens in passes, because later sections refer to earlier ones:
//! files and YAML, then interpolation, then `fields` and `currency_rates` (the
//! order type), then `channels` (names, roles, routes), then `rules` and `tests`
//! (which name channels and compile expressions against the order type).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::yaml::{self, Key, Kind, Loc, Node};
use super::{
    AttrValue, Attribute, Channel, Convert, Deliver, Expected, Format, Label, LabelEmail,
    LabelSend, Overwrite, Page, Place, Poll, Retry, Role, RuleError, RuleSet, RuleTest, Secret,
    SourceFile, Webhook,
};
use crate::condition::{CompileEnv, Rates};
use crate::order::{Event, Type, order_type_with};
use crate::suggest::did_you_mean;
use crate::value::Value;
use ctx::{Ctx, Doc, process_env};
use documents::{check_duplicates, split_lines};
use interpolate::interpolate;
use read::{
    Fields, duration, expression, fields, io_reason, list_names, refuse_keys, resolve_path, text,
    to_value, unknown_channel, unknown_channel_key, url,
};
use schema::*;

mod connector;
mod ctx;
mod documents;
mod interpolate;
mod read;
mod schema;

pub use ctx::LoadOptions;
pub use read::parse_duration;

/// Loads a rules file, or every `*.yaml` file in a directory, with the process environment.
pub fn load(path: &Path) -> Result<RuleSet, Vec<RuleError>> {
    load_with(path, &LoadOptions { env: &process_env })
}

/// Loads a rules file or directory.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<RuleSet, Vec<RuleError>> {
    let shown = path.display().to_string();
    let fail = |message: String| {
        vec![RuleError {
            file: shown.clone(),
            line: 0,
            column: 0,
            width: 0,
            message,
            hint: None,
            source_line: String::new(),
        }]
    };
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    if path.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|e| fail(format!("cannot read directory: {e}")))?;
        let mut names: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().is_some_and(|x| x == "yaml" || x == "yml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        names.sort();
        if names.is_empty() {
            return Err(fail(
                "no `*.yaml` rules files in this directory".to_string(),
            ));
        }
        for p in names {
            files.push((p.display().to_string(), p));
        }
    } else {
        files.push((shown.clone(), path.to_path_buf()));
        if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
            && !stem.ends_with(".test")
        {
            let beside = path.with_file_name(format!("{stem}.test.yaml"));
            if beside.is_file() {
                files.push((beside.display().to_string(), beside));
            }
        }
    }
    let mut sources = Vec::new();
    for (name, p) in &files {
        match std::fs::read_to_string(p) {
            Ok(text) => sources.push(SourceFile {
                name: name.clone(),
                text,
            }),
            Err(e) => {
                let mut err = fail(format!("cannot read rules: {e}"));
                err[0].file = name.clone();
                return Err(err);
            }
        }
    }
    let base = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    build(sources, &base, opts)
}

/// Loads rules from files already read (a version kept in the store), with
/// `${ENV}` from the process and `${file:}` paths relative to `base`.
pub fn load_sources(sources: Vec<SourceFile>, base: &Path) -> Result<RuleSet, Vec<RuleError>> {
    build(sources, base, &LoadOptions { env: &process_env })
}

/// Loads rules from text, as if read from a file called `name`.
pub fn load_str(name: &str, text: &str, opts: &LoadOptions) -> Result<RuleSet, Vec<RuleError>> {
    build(
        vec![SourceFile {
            name: name.to_string(),
            text: text.to_string(),
        }],
        Path::new("."),
        opts,
    )
}

/// A channel's declaration, before rules are read.
struct ChannelDecl<'n> {
    doc: usize,
    key: &'n Key,
    node: &'n Node,
}

fn build(
    sources: Vec<SourceFile>,
    base: &Path,
    opts: &LoadOptions,
) -> Result<RuleSet, Vec<RuleError>> {
    let mut cx = Ctx {
        errors: Vec::new(),
        raw: Vec::new(),
        warnings: Vec::new(),
        opts,
        base,
    };
    // Pass 1: YAML.
    let mut docs: Vec<Doc> = Vec::new();
    for src in &sources {
        let lines = split_lines(&src.text);
        let name: Arc<str> = Arc::from(src.name.as_str());
        let is_test_file = src.name.ends_with(".test.yaml") || src.name.ends_with(".test.yml");
        match yaml::parse(&src.text) {
            Ok(root) => docs.push(Doc {
                name,
                lines,
                root,
                is_test_file,
            }),
            Err(e) => {
                let doc = Doc {
                    name,
                    lines,
                    root: Node {
                        loc: e.loc,
                        kind: Kind::Null,
                    },
                    is_test_file,
                };
                cx.at(&doc, e.loc, 1, format!("invalid YAML: {}", e.message), None);
            }
        }
    }
    if !cx.errors.is_empty() {
        return Err(finish(cx.errors));
    }
    for doc in &docs {
        check_duplicates(&mut cx, doc, &doc.root);
    }
    // Pass 2: interpolation.
    for doc in &mut docs {
        let mut root = std::mem::replace(
            &mut doc.root,
            Node {
                loc: Loc::default(),
                kind: Kind::Null,
            },
        );
        interpolate(&mut cx, doc, &mut root);
        doc.root = root;
    }

    // Pass 3: top-level keys, fields, rates.
    let mut tops: Vec<Fields> = Vec::new();
    let mut saw_version = false;
    for doc in &docs {
        let allowed: &[&str] = if doc.is_test_file {
            &["tests"]
        } else {
            &TOP_KEYS
        };
        let Some(top) = fields(&mut cx, doc, &doc.root, "the rules file", allowed) else {
            tops.push(Fields { entries: &[] });
            continue;
        };
        if let Some(v) = top.get("version") {
            saw_version = true;
            if !matches!(v.kind, Kind::Int(1)) {
                cx.node(
                    doc,
                    v,
                    "unsupported `version`",
                    Some("this ordersync reads `version: 1`".to_string()),
                );
            }
        }
        tops.push(top);
    }
    if !saw_version && !docs.is_empty() && docs.iter().any(|d| !d.is_test_file) {
        let doc = &docs[0];
        cx.at(
            doc,
            Loc { line: 1, col: 1 },
            1,
            "missing `version`",
            Some("start the file with `version: 1`".to_string()),
        );
    }

    let mut declared: Vec<(String, Type)> = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("fields") else {
            continue;
        };
        let Some(f) = fields(&mut cx, doc, node, "`fields`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            let Some(tname) = text(&mut cx, doc, v, "a field's type") else {
                continue;
            };
            match Type::parse_name(tname) {
                Some(t) => {
                    if declared.iter().any(|(n, _)| n == &k.name) {
                        cx.key(
                            doc,
                            k,
                            format!("field `{}` is declared twice", k.name),
                            None,
                        );
                    }
                    declared.push((k.name.clone(), t));
                }
                None => {
                    let hint = did_you_mean(tname, Type::FIELD_TYPE_NAMES.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            format!("types are {}", list_names(&Type::FIELD_TYPE_NAMES))
                        });
                    cx.node(doc, v, format!("unknown type `{tname}`"), Some(hint));
                }
            }
        }
    }
    let order_type = order_type_with(&declared);

    let mut rates = Rates::default();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("currency_rates") else {
            continue;
        };
        let Some(f) = fields(&mut cx, doc, node, "`currency_rates`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            if k.name == "base" {
                if let Some(b) = text(&mut cx, doc, v, "`base`") {
                    rates.base = b.to_ascii_uppercase();
                }
                continue;
            }
            let rate = match v.kind {
                Kind::Int(i) => rust_decimal::Decimal::from(i),
                Kind::Number(n) => n,
                _ => {
                    cx.node(
                        doc,
                        v,
                        format!(
                            "the rate for `{}` must be a number, not {}",
                            k.name,
                            v.kind_name()
                        ),
                        None,
                    );
                    continue;
                }
            };
            if rate <= rust_decimal::Decimal::ZERO {
                cx.node(
                    doc,
                    v,
                    format!("the rate for `{}` must be above zero", k.name),
                    None,
                );
                continue;
            }
            rates.rates.push((k.name.to_ascii_uppercase(), rate));
        }
        if rates.base.is_empty() && !f.entries.is_empty() {
            cx.node(
                doc,
                node,
                "`currency_rates` needs a `base`",
                Some("e.g. `base: USD`: the currency the rates are in".to_string()),
            );
        }
    }

    // Pass 4: channels.
    let mut decls: Vec<ChannelDecl> = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("channels") else {
            continue;
        };
        let Some(f) = fields(&mut cx, doc, node, "`channels`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            if let Some(prev) = decls.iter().find(|d| d.key.name == k.name) {
                // A repeat within one file was reported as a duplicate key already.
                if prev.doc != di {
                    cx.key(
                        doc,
                        k,
                        format!("channel `{}` is defined twice", k.name),
                        Some(format!(
                            "first defined in {}:{}",
                            docs[prev.doc].name, prev.key.loc.line
                        )),
                    );
                }
                continue;
            }
            if !valid_name(&k.name) {
                cx.key(
                    doc,
                    k,
                    format!("invalid channel name `{}`", k.name),
                    Some("use letters, digits, `_` and `-`".to_string()),
                );
            }
            decls.push(ChannelDecl {
                doc: di,
                key: k,
                node: v,
            });
        }
    }
    if decls.is_empty() && docs.iter().any(|d| !d.is_test_file) {
        let doc = &docs[0];
        cx.at(
            doc,
            Loc { line: 1, col: 1 },
            1,
            "no `channels` are defined",
            None,
        );
    }
    let names: Vec<String> = decls.iter().map(|d| d.key.name.clone()).collect();
    let mut channels: Vec<Channel> = Vec::new();
    let mut route_nodes: Vec<Option<&Node>> = Vec::new();
    for d in &decls {
        let doc = &docs[d.doc];
        let (ch, routes) = channel(&mut cx, doc, d, &order_type);
        channels.push(ch);
        route_nodes.push(routes);
    }
    // Routes: explicit, or by role (SPEC 2.1).
    for i in 0..channels.len() {
        let doc = &docs[decls[i].doc];
        let routes = match route_nodes[i] {
            Some(node) => {
                let mut out = Vec::new();
                let items: Vec<&Node> = match &node.kind {
                    Kind::Seq(items) => items.iter().collect(),
                    _ => vec![node],
                };
                for item in items {
                    let Some(name) = text(&mut cx, doc, item, "a route") else {
                        continue;
                    };
                    match names.iter().position(|n| n == name) {
                        Some(j) if j == i => {
                            cx.node(doc, item, format!("`{name}` cannot route to itself"), None)
                        }
                        Some(j) if channels[j].deliver.is_none() => cx.node(
                            doc,
                            item,
                            format!("`{name}` has no `deliver`, so nothing can be routed to it"),
                            None,
                        ),
                        Some(j) => out.push(j),
                        None => unknown_channel(&mut cx, doc, item, name, &names),
                    }
                }
                out
            }
            None => (0..channels.len())
                .filter(|&j| j != i && channels[j].deliver.is_some())
                .filter(|&j| {
                    matches!(
                        (channels[i].role, channels[j].role),
                        (Role::Marketplace, Role::CommercePlatform)
                            | (
                                Role::CommercePlatform,
                                Role::Marketplace | Role::Fulfillment
                            )
                            | (Role::Fulfillment, Role::CommercePlatform)
                    )
                })
                .collect(),
        };
        channels[i].routes = routes;
    }

    // Pass 5: rules.
    let mut seen_rules: Vec<(String, Arc<str>, u32)> = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("rules") else {
            continue;
        };
        let Some(f) = fields(&mut cx, doc, node, "`rules`", &[]) else {
            continue;
        };
        for (k, v) in f.entries {
            let Some(ci) = names.iter().position(|n| n == &k.name) else {
                unknown_channel_key(&mut cx, doc, k, &names);
                continue;
            };
            if let Some((_, file, line)) = seen_rules.iter().find(|(n, _, _)| n == &k.name)
                && **file != *doc.name
            {
                cx.key(
                    doc,
                    k,
                    format!("rules for `{}` are defined twice", k.name),
                    Some(format!("first defined in {file}:{line}")),
                );
                continue;
            }
            seen_rules.push((k.name.clone(), doc.name.clone(), k.loc.line));
            source_rules(
                &mut cx,
                doc,
                v,
                ci,
                &mut channels,
                &names,
                &order_type,
                &rates,
            );
        }
    }

    // Pass 6: tests.
    let mut tests = Vec::new();
    for (di, top) in tops.iter().enumerate() {
        let doc = &docs[di];
        let Some(node) = top.get("tests") else {
            continue;
        };
        let Kind::Seq(items) = &node.kind else {
            if !matches!(node.kind, Kind::Null) {
                cx.node(
                    doc,
                    node,
                    format!("`tests` must be a list, not {}", node.kind_name()),
                    None,
                );
            }
            continue;
        };
        for item in items {
            if let Some(t) = test_case(&mut cx, doc, item, &channels, &names) {
                tests.push(t);
            }
        }
    }

    if !cx.errors.is_empty() {
        return Err(finish(cx.errors));
    }
    let mut hasher = Sha256::new();
    let mut ordered: Vec<&SourceFile> = sources.iter().collect();
    ordered.sort_by(|a, b| a.name.cmp(&b.name));
    for s in ordered {
        let file = Path::new(&s.name)
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        hasher.update(file.as_bytes());
        hasher.update([0]);
        hasher.update(s.text.as_bytes());
        hasher.update([0]);
    }
    let digest = hasher.finalize();
    let version: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    Ok(RuleSet {
        version: Arc::from(version.as_str()),
        files: sources,
        channels,
        fields: declared,
        order_type,
        rates,
        tests,
        warnings: cx.warnings,
    })
}

fn finish(mut errors: Vec<RuleError>) -> Vec<RuleError> {
    errors.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    errors.dedup();
    errors
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn format_of(cx: &mut Ctx, doc: &Doc, n: Option<&Node>, parent: &Node) -> Format {
    let Some(n) = n else {
        cx.node(
            doc,
            parent,
            "missing `format`",
            Some("`format: ordersync`, `format: shopify` or `format: woocommerce`".to_string()),
        );
        return Format::Ordersync;
    };
    match text(cx, doc, n, "`format`") {
        Some("ordersync") => Format::Ordersync,
        Some("shopify") => Format::Shopify,
        Some("woocommerce") => Format::WooCommerce,
        Some(other) => {
            let hint = did_you_mean(other, ["ordersync", "shopify", "woocommerce"])
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "`ordersync`, `shopify` or `woocommerce`".to_string());
            cx.node(doc, n, format!("unknown format `{other}`"), Some(hint));
            Format::Ordersync
        }
        None => Format::Ordersync,
    }
}

fn channel<'n>(
    cx: &mut Ctx,
    doc: &Doc,
    d: &ChannelDecl<'n>,
    order: &Type,
) -> (Channel, Option<&'n Node>) {
    let name = d.key.name.clone();
    let mut ch = Channel {
        name: Arc::from(name.as_str()),
        role: Role::Marketplace,
        webhook: None,
        poll: None,
        deliver: None,
        routes: Vec::new(),
        import: None,
        attributes: Vec::new(),
        shared_attributes: true,
        overwrites: Vec::new(),
        connector: None,
    };
    let Some(f) = fields(cx, doc, d.node, &format!("channel `{name}`"), &CHANNEL_KEYS) else {
        return (ch, None);
    };
    let connector_node = f.get("connector");
    if let Some(c) = connector_node {
        ch.connector = connector::connector(cx, doc, c, &name, order);
    }
    // A connector channel speaks its platform's API: no `url`s of ours.
    let speaks = connector_node.map(|_| {
        ch.connector
            .as_ref()
            .map_or("its connector", |c| c.kind_name())
    });
    // An `http` connector only delivers: the channel's webhook and poll read
    // the canonical format (a supplier reports shipments as any sender does).
    let delivers_only = ch.connector.as_ref().is_some_and(|c| !c.reads())
        || connector_node
            .and_then(|c| match &c.kind {
                Kind::Map(entries) => entries.iter().find(|(k, _)| k.name == "kind"),
                _ => None,
            })
            .is_some_and(|(_, v)| matches!(&v.kind, Kind::Str(s) if s == "http"));
    let reads_through = speaks.filter(|_| !delivers_only);
    match f.get("role") {
        None => cx.key(
            doc,
            d.key,
            format!("channel `{name}` needs a `role`"),
            Some(format!("roles are {}", list_names(&ROLES))),
        ),
        Some(r) => match text(cx, doc, r, "`role`") {
            Some("commerce_platform") => ch.role = Role::CommercePlatform,
            Some("marketplace") => ch.role = Role::Marketplace,
            Some("fulfillment") => ch.role = Role::Fulfillment,
            Some(other) => {
                let hint = did_you_mean(other, ROLES)
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("roles are {}", list_names(&ROLES)));
                cx.node(doc, r, format!("unknown role `{other}`"), Some(hint));
            }
            None => {}
        },
    }
    if let Some(w) = f.get("webhook")
        && let Some(wf) = fields(cx, doc, w, "`webhook`", &WEBHOOK_KEYS)
    {
        // A connector's channel reads its platform's webhooks: no `format`.
        let own = ch
            .connector
            .as_ref()
            .map_or(Format::Shopify, |c| c.format());
        let format = match wf.get("format") {
            None if reads_through.is_some() => own,
            n => format_of(cx, doc, n, w),
        };
        let secret = match wf.get("secret") {
            Some(s) => text(cx, doc, s, "`secret`").unwrap_or_default().to_string(),
            None => {
                cx.node(
                    doc,
                    w,
                    "`webhook` needs a `secret`",
                    Some("e.g. `secret: ${SHOPIFY_WEBHOOK_SECRET}`".to_string()),
                );
                String::new()
            }
        };
        if let Some(s) = wf.get("secret")
            && secret.is_empty()
            && matches!(s.kind, Kind::Str(_))
        {
            cx.node(doc, s, "the webhook `secret` is empty", None);
        }
        ch.webhook = Some(Webhook {
            format,
            secret: Secret(secret),
        });
    }
    if let Some(p) = f.get("poll")
        && let Some(pf) = fields(cx, doc, p, "`poll`", &POLL_KEYS)
    {
        let schedule = match pf.get("schedule") {
            Some(s) => {
                let sched = s.scalar_text().unwrap_or_default();
                if let Err(e) = parse_schedule(&sched) {
                    cx.node(
                        doc,
                        s,
                        format!("invalid cron schedule `{sched}`: {}", cron_reason(&e)),
                        Some(
                            "six fields, seconds first: `0 */10 * * * *` is every 10 minutes"
                                .to_string(),
                        ),
                    );
                }
                sched
            }
            None => {
                cx.node(doc, p, "`poll` needs a `schedule`", None);
                String::new()
            }
        };
        let (url, format) = match reads_through {
            Some(kind) => {
                refuse_keys(cx, doc, &pf, &["url", "format"], |key| {
                    (
                        format!(
                            "a channel with a connector polls through it: `poll` takes no `{key}`"
                        ),
                        format!(
                            "remove `{key}`: the {kind} connector lists the platform's orders itself"
                        ),
                    )
                });
                let own = ch
                    .connector
                    .as_ref()
                    .map_or(Format::Shopify, |c| c.format());
                (String::new(), own)
            }
            None => (
                url(cx, doc, pf.get("url"), p, "`poll`"),
                format_of(cx, doc, pf.get("format"), p),
            ),
        };
        let overlap = pf
            .get("overlap")
            .and_then(|o| duration(cx, doc, o, "`overlap`"))
            .unwrap_or(Duration::from_secs(300));
        ch.poll = Some(Poll {
            schedule,
            url,
            format,
            overlap,
        });
    }
    if let Some(dn) = f.get("deliver")
        && let Some(df) = fields(cx, doc, dn, "`deliver`", &DELIVER_KEYS)
    {
        let url = match speaks {
            Some(kind) => {
                refuse_keys(cx, doc, &df, &["url", "secret"], |key| {
                    (
                        format!(
                            "a channel with a connector delivers through it: `deliver` takes no `{key}`"
                        ),
                        format!(
                            "remove `{key}`: the {kind} connector sends to the platform's own API"
                        ),
                    )
                });
                String::new()
            }
            None => url(cx, doc, df.get("url"), dn, "`deliver`"),
        };
        let secret = df
            .get("secret")
            .filter(|_| speaks.is_none())
            .and_then(|s| text(cx, doc, s, "`secret`"))
            .map(|s| Secret(s.to_string()));
        let carries = ch.connector.as_ref().map(|c| (c.kind_name(), c.carries()));
        let accepts = match df.get("accepts") {
            None => match carries {
                Some((_, events)) => events.to_vec(),
                None => Event::ALL.to_vec(),
            },
            Some(a) => {
                let items: Vec<&Node> = match &a.kind {
                    Kind::Seq(items) => items.iter().collect(),
                    _ => vec![a],
                };
                let mut out = Vec::new();
                for item in items {
                    let Some(name) = text(cx, doc, item, "an event") else {
                        continue;
                    };
                    match name.parse::<Event>() {
                        Ok(e)
                            if carries.is_some_and(|(kind, events)| {
                                kind == "etsy" && !events.contains(&e)
                            }) =>
                        {
                            cx.node(
                                doc,
                                item,
                                format!("the etsy connector cannot carry `{name}`: Etsy's Open API v3 has no call to cancel or refund a receipt"),
                                Some("cancel or refund it on Etsy's own site (Shop Manager > Orders); the etsy connector carries `shipped`".to_string()),
                            );
                        }
                        Ok(e)
                            if delivers_only
                                && carries.is_some_and(|(_, events)| !events.contains(&e)) =>
                        {
                            cx.node(
                                doc,
                                item,
                                format!("the http connector has no request for `{name}`"),
                                Some(format!("add `{name}: {{ method: ..., url: ... }}` under the connector's `requests`, or remove `{name}` from `accepts`")),
                            );
                        }
                        Ok(e) if carries.is_some_and(|(_, events)| !events.contains(&e)) => {
                            let (kind, events) = carries.unwrap_or_default();
                            let names: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
                            cx.node(
                                doc,
                                item,
                                format!("the {kind} connector cannot carry `{name}`"),
                                Some(format!("it carries {}", list_names(&names))),
                            );
                        }
                        Ok(e) => out.push(e),
                        Err(_) => {
                            let all: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
                            let hint = did_you_mean(name, all.iter().copied())
                                .map(|s| format!("did you mean `{s}`?"))
                                .unwrap_or_else(|| format!("events are {}", list_names(&all)));
                            cx.node(doc, item, format!("unknown event `{name}`"), Some(hint));
                        }
                    }
                }
                out
            }
        };
        let timeout = df
            .get("timeout")
            .and_then(|t| duration(cx, doc, t, "`timeout`"))
            .unwrap_or(Duration::from_secs(10));
        let mut retry = Retry {
            attempts: 12,
            first: Duration::from_secs(2),
            max: Duration::from_secs(1800),
        };
        if let Some(r) = df.get("retry")
            && let Some(rf) = fields(cx, doc, r, "`retry`", &RETRY_KEYS)
        {
            if let Some(a) = rf.get("attempts") {
                match a.kind {
                    Kind::Int(n) if (1..=1000).contains(&n) => retry.attempts = n as u32,
                    _ => cx.node(
                        doc,
                        a,
                        "`attempts` must be a whole number from 1 to 1000",
                        None,
                    ),
                }
            }
            if let Some(d) = rf
                .get("first")
                .and_then(|n| duration(cx, doc, n, "`first`"))
            {
                retry.first = d;
            }
            if let Some(d) = rf.get("max").and_then(|n| duration(cx, doc, n, "`max`")) {
                retry.max = d;
            }
        }
        let mut require = Vec::new();
        if let Some(r) = df.get("require") {
            let items: Vec<&Node> = match &r.kind {
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![r],
            };
            for item in items {
                if let Some(p) = text(cx, doc, item, "a required field")
                    && resolve_path(cx, doc, item, p, order, None).is_some()
                {
                    require.push(p.to_string());
                }
            }
        }
        let label = match df.get("label") {
            Some(l) => label(cx, doc, l, speaks),
            None => Label::default(),
        };
        ch.deliver = Some(Deliver {
            url,
            secret,
            accepts,
            timeout,
            retry,
            require,
            label,
        });
    }
    if ch.webhook.is_none() && ch.poll.is_none() && ch.deliver.is_none() {
        cx.key(
            doc,
            d.key,
            format!("channel `{name}` has neither `webhook` nor `poll` nor `deliver`"),
            Some("a channel must send updates, receive them, or both".to_string()),
        );
    }
    (ch, f.get("routes"))
}

/// Reads `deliver.label` (SPEC 13).
fn label(cx: &mut Ctx, doc: &Doc, n: &Node, speaks: Option<&str>) -> Label {
    let mut out = Label {
        configured: true,
        ..Label::default()
    };
    let Some(f) = fields(cx, doc, n, "`label`", &LABEL_KEYS) else {
        return out;
    };
    if let Some(kind) = speaks {
        cx.node(
            doc,
            n,
            "a channel with a connector delivers through it: `deliver` takes no `label`",
            Some(format!(
                "remove `label`: the {kind} connector does not carry labels"
            )),
        );
    }
    let choice = |cx: &mut Ctx, key: &str, names: &[&str]| -> Option<usize> {
        let v = f.get(key)?;
        let s = text(cx, doc, v, &format!("`{key}`"))?;
        match names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            Some(i) => Some(i),
            None => {
                let hint = did_you_mean(s, names.iter().copied())
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| format!("`{key}` is one of {}", list_names(names)));
                cx.node(doc, v, format!("unknown `{key}` `{s}`"), Some(hint));
                None
            }
        }
    };
    if let Some(i) = choice(cx, "convert", &["none", "pdf"]) {
        out.convert = [Convert::None, Convert::Pdf][i];
    }
    let pages: Vec<&str> = Page::ALL.iter().map(|p| p.as_str()).collect();
    if let Some(i) = choice(cx, "page", &pages) {
        out.page = Page::ALL[i];
    }
    let sends = [LabelSend::Envelope, LabelSend::Multipart, LabelSend::Email];
    let send_names: Vec<&str> = sends.iter().map(|s| s.as_str()).collect();
    if let Some(i) = choice(cx, "send", &send_names) {
        out.send = sends[i];
    }
    if out.convert == Convert::Pdf
        && let Some(c) = f.get("convert")
    {
        // Kept, not reported: only the caller knows whether this host has Chromium.
        let before = cx.errors.len();
        cx.node(
            doc,
            c,
            "`convert: pdf` needs Chromium, which is not on this host: HTML labels for this destination will be rejected",
            Some("install Debian's `chromium`, or give its path with `--chromium PATH`".to_string()),
        );
        out.needs_chromium = cx.errors.split_off(before).pop();
    }
    match (f.get("email"), out.send) {
        (Some(e), send) => {
            if send != LabelSend::Email {
                cx.node(
                    doc,
                    e,
                    "`email` is only for `send: email`",
                    Some("add `send: email`, or remove `email`".to_string()),
                );
            }
            if let Some(ef) = fields(cx, doc, e, "`email`", &LABEL_EMAIL_KEYS) {
                let mut part = |key: &str| -> String {
                    match ef.get(key) {
                        Some(v) => text(cx, doc, v, &format!("`{key}`"))
                            .unwrap_or_default()
                            .to_string(),
                        None => {
                            cx.node(doc, e, format!("`email` needs `{key}`"), None);
                            String::new()
                        }
                    }
                };
                let (to, from, smtp) = (part("to"), part("from"), part("smtp"));
                for (key, addr) in [("to", &to), ("from", &from)] {
                    if let Some(v) = ef.get(key)
                        && !addr.is_empty()
                        && addr.parse::<lettre::Address>().is_err()
                    {
                        cx.node(doc, v, format!("`{key}` is not an e-mail address"), None);
                    }
                }
                if let Some(v) = ef.get("smtp")
                    && !smtp.is_empty()
                    && !(smtp.starts_with("smtp://") || smtp.starts_with("smtps://"))
                {
                    cx.node(
                        doc,
                        v,
                        "`smtp` must be an `smtp://` or `smtps://` URL",
                        Some("e.g. `smtp://user:${SMTP_PASSWORD}@mail.example:587` (STARTTLS when offered) or `smtps://...:465`".to_string()),
                    );
                }
                out.email = Some(LabelEmail {
                    to,
                    from,
                    smtp: Secret(smtp),
                });
            }
        }
        (None, LabelSend::Email) => cx.node(
            doc,
            n,
            "`send: email` needs `email: { to, from, smtp }`",
            None,
        ),
        (None, _) => {}
    }
    out
}

/// Parses a cron schedule with the settings tokio-cron-scheduler 0.15 uses
/// (six fields, seconds first), so `check` accepts exactly what the daemon runs.
pub fn parse_schedule(schedule: &str) -> Result<croner::Cron, croner::errors::CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
}

fn cron_reason(e: &croner::errors::CronError) -> String {
    let s = e.to_string();
    let s = s.trim_end_matches('.');
    let s = s
        .strip_prefix("Invalid pattern: ")
        .or_else(|| s.strip_prefix("invalid pattern: "))
        .unwrap_or(s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => "not a cron pattern".to_string(),
    }
}

#[allow(clippy::too_many_arguments)]
fn source_rules(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    ci: usize,
    channels: &mut [Channel],
    names: &[String],
    order: &Type,
    rates: &Rates,
) {
    let source = names[ci].clone();
    let Some(f) = fields(cx, doc, n, &format!("`rules.{source}`"), &RULE_KEYS) else {
        return;
    };
    if let Some(imp) = f.get("import") {
        let env = CompileEnv {
            order,
            rates,
            destination_known: false,
        };
        if let Some(c) = expression(cx, doc, imp, &env, true) {
            channels[ci].import = Some(c);
        }
    }
    if let Some(a) = f.get("attributes") {
        channels[ci].attributes = attributes(
            cx,
            doc,
            a,
            order,
            rates,
            &format!("`rules.{source}.attributes`"),
        );
        channels[ci].shared_attributes = !channels[ci]
            .attributes
            .iter()
            .any(Attribute::uses_destination);
    }
    if let Some(o) = f.get("overwrites") {
        let Some(of) = fields(cx, doc, o, "`overwrites`", &[]) else {
            return;
        };
        for (k, v) in of.entries {
            let Some(di) = names.iter().position(|x| x == &k.name) else {
                unknown_channel_key(cx, doc, k, names);
                continue;
            };
            if !channels[ci].routes.contains(&di) {
                let routes: Vec<&str> = channels[ci]
                    .routes
                    .iter()
                    .map(|&r| names[r].as_str())
                    .collect();
                let hint = if routes.is_empty() {
                    format!("`{source}` routes to no channel")
                } else {
                    format!("`{source}` routes to {}", list_names(&routes))
                };
                cx.key(
                    doc,
                    k,
                    format!(
                        "overwrite for `{}`, which `{source}` never routes to",
                        k.name
                    ),
                    Some(hint),
                );
                continue;
            }
            let Some(wf) = fields(
                cx,
                doc,
                v,
                &format!("`overwrites.{}`", k.name),
                &OVERWRITE_KEYS,
            ) else {
                continue;
            };
            let attrs = match wf.get("attributes") {
                Some(a) => attributes(
                    cx,
                    doc,
                    a,
                    order,
                    rates,
                    &format!("`overwrites.{}.attributes`", k.name),
                ),
                None => Vec::new(),
            };
            channels[ci].overwrites.push(Overwrite {
                destination: di,
                attributes: attrs,
            });
        }
    }
}

fn attributes(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    order: &Type,
    rates: &Rates,
    what: &str,
) -> Vec<Attribute> {
    let Some(f) = fields(cx, doc, n, what, &[]) else {
        return Vec::new();
    };
    let env = CompileEnv {
        order,
        rates,
        destination_known: true,
    };
    let mut out = Vec::new();
    for (k, v) in f.entries {
        let place = Place {
            file: doc.name.clone(),
            line: k.loc.line,
        };
        let field_type = if k.name == "publish" {
            Some(Type::Bool)
        } else {
            resolve_path(cx, doc, v, &k.name, order, Some(k))
        };
        let Some(field_type) = field_type else {
            continue;
        };
        let mut replace = false;
        let value = match &v.kind {
            Kind::Map(_) => {
                let Some(af) = fields(cx, doc, v, &format!("attribute `{}`", k.name), &ATTR_KEYS)
                else {
                    continue;
                };
                if let Some(m) = af.get("mode") {
                    match text(cx, doc, m, "`mode`") {
                        Some("replace") => replace = true,
                        Some("merge") => {}
                        Some(other) => cx.node(
                            doc,
                            m,
                            format!("unknown mode `{other}`"),
                            Some("`mode: replace` or `mode: merge` (the default)".to_string()),
                        ),
                        None => {}
                    }
                }
                let forms: Vec<&str> = ["constant", "value", "when", "cases"]
                    .into_iter()
                    .filter(|f| af.get(f).is_some())
                    .collect();
                if forms.len() > 1 {
                    cx.key(
                        doc,
                        k,
                        format!(
                            "attribute `{}` has both `{}` and `{}`",
                            k.name, forms[0], forms[1]
                        ),
                        Some("give one of `constant`, `value`, `when` or `cases`".to_string()),
                    );
                    continue;
                }
                match forms.first().copied() {
                    Some("constant") => AttrValue::Constant(constant(
                        cx,
                        doc,
                        af.get("constant"),
                        &k.name,
                        &field_type,
                    )),
                    Some("value") => {
                        let Some(node) = af.get("value") else {
                            continue;
                        };
                        let Some(c) = expression(cx, doc, node, &env, false) else {
                            continue;
                        };
                        if !type_fits(&field_type, &c.ty) {
                            cx.node(
                                doc,
                                node,
                                format!(
                                    "`{}` is {}, but this value is {}",
                                    k.name,
                                    crate::condition::type_article(&field_type),
                                    crate::condition::type_article(&c.ty)
                                ),
                                None,
                            );
                            continue;
                        }
                        AttrValue::Expr(c)
                    }
                    Some("when") => {
                        let Some(node) = af.get("when") else { continue };
                        let when = expression(cx, doc, node, &env, true);
                        let Some(then_node) = af.get("then") else {
                            cx.key(
                                doc,
                                k,
                                format!("attribute `{}` has `when` but no `then`", k.name),
                                None,
                            );
                            continue;
                        };
                        let then = constant(cx, doc, Some(then_node), &k.name, &field_type);
                        let otherwise = af
                            .get("otherwise")
                            .map(|o| constant(cx, doc, Some(o), &k.name, &field_type));
                        let Some(when) = when else { continue };
                        AttrValue::When {
                            when,
                            then,
                            otherwise,
                        }
                    }
                    Some(_) => {
                        let Some(node) = af.get("cases") else {
                            continue;
                        };
                        let mut cases = Vec::new();
                        match &node.kind {
                            Kind::Seq(items) => {
                                for item in items {
                                    let Some(cf) = fields(cx, doc, item, "a case", &CASE_KEYS)
                                    else {
                                        continue;
                                    };
                                    let (Some(w), Some(t)) = (cf.get("when"), cf.get("then"))
                                    else {
                                        cx.node(doc, item, "a case needs `when` and `then`", None);
                                        continue;
                                    };
                                    let when = expression(cx, doc, w, &env, true);
                                    let then = constant(cx, doc, Some(t), &k.name, &field_type);
                                    if let Some(when) = when {
                                        cases.push((when, then));
                                    }
                                }
                            }
                            _ => cx.node(
                                doc,
                                node,
                                "`cases` must be a list of `{ when, then }`",
                                None,
                            ),
                        }
                        let Some(o) = af.get("otherwise") else {
                            cx.key(
                                doc,
                                k,
                                format!("`cases` of `{}` has no `otherwise`", k.name),
                                Some("add `otherwise: V` for orders no case matches".to_string()),
                            );
                            continue;
                        };
                        let otherwise = constant(cx, doc, Some(o), &k.name, &field_type);
                        AttrValue::Cases { cases, otherwise }
                    }
                    None => {
                        cx.key(
                            doc,
                            k,
                            format!("attribute `{}` has no value", k.name),
                            Some("give one of `constant`, `value`, `when` or `cases`".to_string()),
                        );
                        continue;
                    }
                }
            }
            _ => AttrValue::Constant(constant(cx, doc, Some(v), &k.name, &field_type)),
        };
        let path = k.name.split('.').map(str::to_string).collect();
        let labels = match &value {
            AttrValue::Cases { cases, .. } => (1..=cases.len())
                .map(|i| Arc::from(format!("{} (case {i})", k.name).as_str()))
                .collect(),
            _ => vec![Arc::from(k.name.as_str())],
        };
        let place_text = Arc::from(place.to_string().as_str());
        out.push(Attribute {
            labels,
            place_text,
            name: k.name.clone(),
            path,
            value,
            replace,
            list: matches!(field_type, Type::List(_)),
            place,
        });
    }
    out
}

fn type_fits(field: &Type, value: &Type) -> bool {
    match (field, value) {
        (Type::Any, _) | (_, Type::Any) => true,
        (f, v) if f.is_textual() && v.is_textual() => true,
        (Type::List(_), _) => true,
        (f, v) => f.name() == v.name(),
    }
}

/// A constant attribute value, checked against the field's type.
fn constant(cx: &mut Ctx, doc: &Doc, n: Option<&Node>, name: &str, field: &Type) -> Value {
    let Some(n) = n else { return Value::Null };
    let v = to_value(n);
    let ok = match (field, &v) {
        (_, Value::Null) | (Type::Any, _) => true,
        (Type::Bool, Value::Bool(_)) | (Type::Number, Value::Number(_)) => true,
        (t, Value::Text(_)) if t.is_textual() => true,
        (t, Value::Number(_) | Value::Bool(_)) if t.is_textual() => true,
        (Type::List(inner), Value::List(items)) => items
            .iter()
            .all(|i| !matches!(i, Value::List(_) | Value::Object(_)) || **inner == Type::Any),
        (Type::List(_), Value::Text(_) | Value::Number(_)) => true,
        (Type::Object(_), Value::Object(_)) => true,
        _ => false,
    };
    if !ok {
        cx.node(
            doc,
            n,
            format!(
                "`{name}` is {}, but `{}` is {}",
                crate::condition::type_article(field),
                n.scalar_text().unwrap_or_else(|| v.to_string()),
                value_article(&v)
            ),
            None,
        );
    }
    // Text written for a number or a bool field is a common YAML slip; keep as given.
    v
}

fn value_article(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::Text(_) => "text",
        Value::List(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn test_case(
    cx: &mut Ctx,
    doc: &Doc,
    n: &Node,
    channels: &[Channel],
    names: &[String],
) -> Option<RuleTest> {
    let f = fields(cx, doc, n, "a test", &TEST_KEYS)?;
    let name = match f.get("name") {
        Some(x) => text(cx, doc, x, "`name`")?.to_string(),
        None => {
            cx.node(doc, n, "a test needs a `name`", None);
            return None;
        }
    };
    let place = Place {
        file: doc.name.clone(),
        line: n.loc.line,
    };
    let from = match f.get("from") {
        Some(x) => {
            let s = text(cx, doc, x, "`from`")?;
            match names.iter().position(|c| c == s) {
                Some(i) => Some(i),
                None => {
                    unknown_channel(cx, doc, x, s, names);
                    None
                }
            }
        }
        None => {
            cx.node(doc, n, format!("test `{name}` needs `from`"), None);
            None
        }
    };
    let event = match f.get("event") {
        Some(x) => {
            let s = text(cx, doc, x, "`event`").unwrap_or_default();
            match s.parse::<Event>() {
                Ok(e) => e,
                Err(_) => {
                    let all: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
                    let hint = did_you_mean(s, all.iter().copied())
                        .map(|h| format!("did you mean `{h}`?"))
                        .unwrap_or_else(|| format!("events are {}", list_names(&all)));
                    cx.node(doc, x, format!("unknown event `{s}`"), Some(hint));
                    Event::Updated
                }
            }
        }
        None => Event::Updated,
    };
    let now = match f.get("now") {
        Some(x) => {
            let s = x.scalar_text().unwrap_or_default();
            match crate::condition::parse_timestamp(&s) {
                Some(t) => t,
                None => {
                    cx.node(
                        doc,
                        x,
                        format!("invalid timestamp `{s}`"),
                        Some("write RFC 3339: `2026-11-22T10:00:00Z`".to_string()),
                    );
                    DateTime::<Utc>::UNIX_EPOCH
                }
            }
        }
        None => DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
    };
    let order = match (f.get("order"), f.get("order_file")) {
        (Some(o), None) => {
            if !matches!(o.kind, Kind::Map(_)) {
                cx.node(
                    doc,
                    o,
                    format!("`order` must be a mapping, not {}", o.kind_name()),
                    None,
                );
            }
            to_value(o)
        }
        (None, Some(p)) => {
            let path = text(cx, doc, p, "`order_file`")?;
            let full = cx.base.join(path);
            match std::fs::read_to_string(&full) {
                Ok(t) => match Value::from_json(&t) {
                    Ok(v @ Value::Object(_)) => v,
                    Ok(_) => {
                        cx.node(doc, p, format!("`{path}` must hold a JSON object"), None);
                        Value::Null
                    }
                    Err(e) => {
                        cx.node(doc, p, format!("`{path}` is not valid JSON: {e}"), None);
                        Value::Null
                    }
                },
                Err(e) => {
                    cx.node(
                        doc,
                        p,
                        format!("cannot read `{path}`: {}", io_reason(&e)),
                        None,
                    );
                    Value::Null
                }
            }
        }
        (Some(_), Some(p)) => {
            cx.node(doc, p, "give `order` or `order_file`, not both", None);
            Value::Null
        }
        (None, None) => {
            cx.node(
                doc,
                n,
                format!("test `{name}` needs an `order` or an `order_file`"),
                None,
            );
            Value::Null
        }
    };
    let mut expect = Vec::new();
    match f.get("expect") {
        None => cx.node(doc, n, format!("test `{name}` needs `expect`"), None),
        Some(e) => {
            let ef = fields(cx, doc, e, "`expect`", &[])?;
            for (k, v) in ef.entries {
                let Some(di) = names.iter().position(|c| c == &k.name) else {
                    unknown_channel_key(cx, doc, k, names);
                    continue;
                };
                if let Some(fi) = from
                    && !channels[fi].routes.contains(&di)
                {
                    cx.key(
                        doc,
                        k,
                        format!("`{}` is not a destination of `{}`", k.name, names[fi]),
                        None,
                    );
                    continue;
                }
                let http = channels[di]
                    .connector
                    .as_ref()
                    .is_some_and(|c| matches!(c.kind, super::ConnectorKind::Http(_)));
                if let Some(x) = expectation(cx, doc, v, http) {
                    expect.push((di, x));
                }
            }
        }
    }
    Some(RuleTest {
        name,
        from: from?,
        event,
        order,
        now,
        expect,
        place,
    })
}

fn expectation(cx: &mut Ctx, doc: &Doc, n: &Node, http: bool) -> Option<Expected> {
    match &n.kind {
        Kind::Str(s) => match s.as_str() {
            "deliver" => Some(Expected::Deliver(Vec::new(), None)),
            "skip" => Some(Expected::Skip(None)),
            "draft" => Some(Expected::Draft(None)),
            "error" => Some(Expected::Error),
            other => {
                let hint = did_you_mean(other, OUTCOMES)
                    .map(|h| format!("did you mean `{h}`?"))
                    .unwrap_or_else(|| {
                        format!("write {} or a mapping of attributes", list_names(&OUTCOMES))
                    });
                cx.node(doc, n, format!("unknown outcome `{other}`"), Some(hint));
                None
            }
        },
        Kind::Map(entries) => {
            let mut attrs = Vec::new();
            let mut request = None;
            let mut outcome: Option<Expected> = None;
            for (i, (k, v)) in entries.iter().enumerate() {
                if entries[..i].iter().any(|(p, _)| p.name == k.name) {
                    continue;
                }
                match k.name.as_str() {
                    "deliver" => match v.kind {
                        Kind::Bool(true) => {}
                        Kind::Bool(false) => outcome = Some(Expected::Skip(None)),
                        _ => cx.node(doc, v, "`deliver` must be true or false", None),
                    },
                    "skip" => {
                        outcome = Some(Expected::Skip(match &v.kind {
                            Kind::Str(s) => Some(s.clone()),
                            Kind::Bool(true) | Kind::Null => None,
                            _ => {
                                cx.node(doc, v, "`skip` takes the reason as text", None);
                                None
                            }
                        }))
                    }
                    "draft" => {
                        outcome = Some(Expected::Draft(match &v.kind {
                            Kind::Seq(items) => {
                                Some(items.iter().filter_map(|i| i.scalar_text()).collect())
                            }
                            Kind::Str(s) => Some(vec![s.clone()]),
                            _ => None,
                        }))
                    }
                    "error" => outcome = Some(Expected::Error),
                    // Only a `kind: http` destination renders a request; for
                    // any other, `request` is an attribute like any other.
                    "request" if http => request = request_expect(cx, doc, v),
                    _ => attrs.push((k.name.clone(), to_value(v))),
                }
            }
            match outcome {
                Some(o) if !attrs.is_empty() || request.is_some() => {
                    cx.node(
                        doc,
                        n,
                        "attributes can only be compared when the update is delivered",
                        None,
                    );
                    Some(o)
                }
                Some(o) => Some(o),
                None => Some(Expected::Deliver(attrs, request)),
            }
        }
        _ => {
            cx.node(
                doc,
                n,
                format!(
                    "an expectation must be {} or a mapping, not {}",
                    list_names(&OUTCOMES),
                    n.kind_name()
                ),
                None,
            );
            None
        }
    }
}

/// `request: { method, url, headers: {...}, body: "..." | { /pointer: value } }`
/// in a test's expectation for a `kind: http` destination.
fn request_expect(cx: &mut Ctx, doc: &Doc, n: &Node) -> Option<super::RequestExpect> {
    let f = fields(cx, doc, n, "`request`", &REQUEST_EXPECT_KEYS)?;
    let mut out = super::RequestExpect::default();
    let before = cx.errors.len();
    if let Some(m) = f.get("method") {
        out.method = text(cx, doc, m, "`method`").map(str::to_string);
    }
    if let Some(u) = f.get("url") {
        out.url = text(cx, doc, u, "`url`").map(str::to_string);
    }
    if let Some(h) = f.get("headers")
        && let Some(hf) = fields(cx, doc, h, "`headers`", &[])
    {
        for (k, v) in hf.entries {
            match v.scalar_text() {
                Some(t) => out.headers.push((k.name.clone(), t)),
                None => cx.node(doc, v, "a header's value must be text", None),
            }
        }
    }
    if let Some(b) = f.get("body") {
        match &b.kind {
            Kind::Str(s) => out.body = Some(s.clone()),
            Kind::Map(entries) => {
                for (k, v) in entries {
                    if !connector::valid_pointer(&k.name) || k.name.is_empty() {
                        cx.key(
                            doc,
                            k,
                            format!("`{}` is not a JSON pointer", k.name),
                            Some("each key of `body` is a JSON pointer into the rendered body: `/reference`, `/lines/0/sku`".to_string()),
                        );
                        continue;
                    }
                    out.body_pointers.push((k.name.clone(), to_value(v)));
                }
            }
            _ => cx.node(
                doc,
                b,
                format!(
                    "`body` must be the body's text or a mapping of JSON pointers, not {}",
                    b.kind_name()
                ),
                None,
            ),
        }
    }
    (cx.errors.len() == before).then_some(out)
}
