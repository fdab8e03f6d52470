//! The Order Health dashboard (SPEC 6.5, 8) at `/`: server-rendered HTML with
//! no external assets (it works offline), built from the same JSON the admin
//! API answers. It asks for the admin token once and keeps a hash of it in an
//! `HttpOnly`, `SameSite=Strict` session cookie (so no other site can post its
//! forms); the buttons post forms and come back to the page with what
//! happened.

mod signin;

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Form, Path, Query};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::Value as Json;

use crate::daemon::admin::api::{ListQuery, order_id};
use crate::daemon::state::State;
use crate::delivery::request::url_encode as encode;
use crate::store::StoreError;
use crate::store::health::{RESOLUTIONS, STATUSES};
use crate::store::orders::{self, Target};
use crate::store::rows::TimelineDecision;
use crate::value::Value;

use signin::{login, login_page, logout, signed_in};

type S = axum::extract::State<State>;

/// The dashboard's pages and form actions, `more` pages among them.
pub fn router(state: State, more: Router<State>) -> Router<State> {
    let pages = more
        .route("/", get(list))
        .route("/orders/{id}", get(order))
        .route("/deliveries/{id}/label", get(label))
        .route("/ui/orders/{id}/resync", post(resync))
        .route("/ui/deliveries/{id}/{action}", post(delivery_action))
        .route("/ui/decisions/{id}/{action}", post(decision_action))
        .route("/ui/drafts/{id}", post(complete_draft))
        .route_layer(middleware::from_fn_with_state(state, signed_in));
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", get(logout))
        .merge(pages)
}

/// The health list: counts per status and channel, filters, search, pages.
async fn list(axum::extract::State(s): S, Query(q): Query<ListQuery>) -> Response {
    let filter = match q.filter() {
        Ok(f) => f,
        Err(e) => return page_error(&s, StatusCode::BAD_REQUEST, &e),
    };
    let f = filter.clone();
    let list = match s.reader.orders(f).await {
        Ok(l) => l,
        Err(e) => return page_error(&s, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let status = filter.status.clone().unwrap_or_else(|| "problems".into());
    let mut b = String::new();
    banner(&s, &mut b);
    b.push_str(r#"<form class="filters" method="get" action="/" id="filters">"#);
    let _ = write!(
        b,
        r#"<input type="search" name="q" id="q" placeholder="Order name, id or email" value="{}">"#,
        esc(filter.q.as_deref().unwrap_or(""))
    );
    b.push_str(r#"<select name="status" id="status">"#);
    let filters = ["problems", "all"]
        .into_iter()
        .chain(STATUSES)
        .chain(RESOLUTIONS);
    for option in filters {
        let _ = write!(
            b,
            r#"<option value="{option}"{}>{option}</option>"#,
            if option == status { " selected" } else { "" }
        );
    }
    b.push_str(
        r#"</select><select name="channel" id="channel"><option value="">every channel</option>"#,
    );
    let rules = s.live.rules();
    for ch in &rules.channels {
        let selected = filter.channel.as_deref() == Some(&*ch.name);
        let _ = write!(
            b,
            r#"<option value="{0}"{1}>{0}</option>"#,
            esc(&ch.name),
            if selected { " selected" } else { "" }
        );
    }
    b.push_str(r#"</select><button type="submit" id="search">Search</button></form>"#);

    let counts = &list.counts.status;
    b.push_str(r#"<nav class="counts" id="counts">"#);
    for st in STATUSES.into_iter().chain(RESOLUTIONS) {
        let n = counts.get(st).copied().unwrap_or(0);
        let _ = write!(
            b,
            r#"<a class="chip {st}{}" href="/?status={st}">{st} <b>{n}</b></a>"#,
            if st == status { " current" } else { "" }
        );
    }
    b.push_str("</nav>");
    let by = &list.counts.problems_by_destination;
    if !by.is_empty() {
        b.push_str(r#"<p class="by-channel">Open problems by destination: "#);
        let parts: Vec<String> = by
            .iter()
            .map(|(ch, n)| format!(r#"<a href="/?channel={0}">{0}</a> {1}"#, esc(ch), n))
            .collect();
        b.push_str(&parts.join(" · "));
        b.push_str("</p>");
    }
    let rows = &list.rows;
    if rows.is_empty() {
        b.push_str(r#"<p class="empty" id="no-orders">No orders match.</p>"#);
    } else {
        b.push_str(r#"<table class="orders" id="orders"><thead><tr><th>Order</th><th>Name</th><th>Route</th><th>Status</th><th>Detail</th><th>Updated</th></tr></thead><tbody>"#);
        for r in rows {
            let resolution = r
                .resolution
                .as_deref()
                .map(|x| format!(" <small>({x})</small>"))
                .unwrap_or_default();
            let _ = write!(
                b,
                r#"<tr><td><a href="/orders/{0}">{0}</a></td><td>{1}</td><td>{2} → {3}</td><td><span class="badge {4}">{4}</span>{5}</td><td>{6}</td><td>{7}</td></tr>"#,
                esc(&r.order),
                esc(or_empty(&r.name)),
                esc(or_empty(&r.source)),
                esc(&r.destination),
                esc(&r.status),
                resolution,
                esc(&r.detail),
                esc(&r.updated_at.chars().take(19).collect::<String>()),
            );
        }
        b.push_str("</tbody></table>");
    }
    let total = list.total;
    let limit = i64::from(list.limit.max(1));
    let pages = ((total + limit - 1) / limit).max(1);
    let here = i64::from(list.page);
    let link = |p: i64| {
        format!(
            "/?status={}&channel={}&q={}&page={p}",
            encode(&status),
            encode(filter.channel.as_deref().unwrap_or("")),
            encode(filter.q.as_deref().unwrap_or(""))
        )
    };
    let _ = write!(
        b,
        r#"<p class="pages">Page {here} of {pages} · {total} in all"#
    );
    if here > 1 {
        let _ = write!(
            b,
            r#" · <a href="{}" id="prev">previous</a>"#,
            esc(&link(here - 1))
        );
    }
    if here < pages {
        let _ = write!(
            b,
            r#" · <a href="{}" id="next">next</a>"#,
            esc(&link(here + 1))
        );
    }
    b.push_str("</p>");
    page("Order Health", &b)
}

/// The label a delivery sent (the same answer as the API's).
async fn label(axum::extract::State(s): S, Path(id): Path<i64>) -> Response {
    crate::daemon::admin::api::label_answer(&s, id).await
}

/// One order: where it stands per destination, with the buttons, and its timeline.
async fn order(
    axum::extract::State(s): S,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(oid) = order_id(&id) else {
        return page_error(&s, StatusCode::NOT_FOUND, &format!("No order {id}."));
    };
    let found = s.reader.timeline(oid).await;
    let o = match found {
        Ok(Some(o)) => o,
        Ok(None) => return page_error(&s, StatusCode::NOT_FOUND, &format!("No order {id}.")),
        Err(e) => return page_error(&s, StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let order = o.id.clone();
    let mut b = String::new();
    banner(&s, &mut b);
    if let Some(done) = q.get("done") {
        let _ = write!(b, r#"<p class="flash done" id="flash">{}</p>"#, esc(done));
    }
    if let Some(failed) = q.get("failed") {
        let _ = write!(
            b,
            r#"<p class="flash failed" id="flash">{}</p>"#,
            esc(failed)
        );
    }
    let _ = write!(
        b,
        r#"<h2 id="order-title">{} <span class="name">{}</span></h2><p class="ids">From {} · created {} · "#,
        esc(&order),
        esc(or_empty(&o.name)),
        esc(or_empty(&o.source)),
        esc(&o.created_at)
    );
    let ids: Vec<String> = o
        .links
        .iter()
        .map(|l| format!("{} <code>{}</code>", esc(&l.channel), esc(&l.external_id)))
        .collect();
    b.push_str(&ids.join(", "));
    let _ = write!(
        b,
        r#"</p><form method="post" action="/ui/orders/{}/resync" class="inline"><button id="resync" title="Decide the newest update again with the rules in force and deliver it, even if unchanged">Re-sync</button></form>"#,
        esc(&order)
    );

    // The newest decision per destination, for its explanation.
    let mut why: HashMap<i64, &str> = HashMap::new();
    for u in &o.updates {
        for d in &u.decisions {
            why.insert(d.id, &d.why);
        }
    }
    b.push_str(r#"<table class="health" id="health"><thead><tr><th>Destination</th><th>Status</th><th>What happened</th><th>Why</th><th></th></tr></thead><tbody>"#);
    for h in &o.health {
        let dest = h.destination.as_str();
        let st = h.status.as_str();
        let resolution = h.resolution.as_deref();
        let decision = h.decision;
        let delivery = h.delivery;
        let _ = write!(
            b,
            r#"<tr id="health-{0}"><td>{0}</td><td><span class="badge {1}">{1}</span>{2}</td><td class="detail">{3}</td><td class="why">{4}</td><td class="actions">"#,
            esc(dest),
            esc(st),
            resolution
                .map(|r| format!(" <small>({r})</small>"))
                .unwrap_or_default(),
            esc(&h.detail),
            esc(why.get(&decision).copied().unwrap_or("")),
        );
        let open = resolution.is_none();
        let button = |b: &mut String, action: &str, path: String, label: &str| {
            let _ = write!(
                b,
                r#"<form method="post" action="{}" class="inline"><button id="{}-{}">{}</button></form>"#,
                esc(&path),
                action,
                esc(dest),
                label
            );
        };
        match (st, delivery) {
            ("rejected" | "dead", Some(d)) => {
                button(
                    &mut b,
                    "retry",
                    format!("/ui/deliveries/{d}/retry"),
                    "Retry",
                );
            }
            ("draft", _) => {
                let missing = h.detail.strip_prefix("draft: missing ").unwrap_or("");
                let _ = write!(
                    b,
                    r#"<form method="post" action="/ui/drafts/{decision}" class="draft" id="draft-{}">"#,
                    esc(dest)
                );
                for field in missing.split(", ").filter(|f| !f.is_empty()) {
                    let _ = write!(
                        b,
                        r#"<label>{0} <input name="{0}" id="field-{0}" required></label>"#,
                        esc(field)
                    );
                }
                let _ = write!(
                    b,
                    r#"<button id="complete-{}">Complete and send</button></form>"#,
                    esc(dest)
                );
            }
            _ => {}
        }
        let problem = matches!(st, "rejected" | "dead" | "stuck" | "error" | "draft");
        if problem && open {
            let target = match (st, delivery) {
                ("rejected" | "dead" | "stuck", Some(d)) => format!("/ui/deliveries/{d}"),
                _ => format!("/ui/decisions/{decision}"),
            };
            button(&mut b, "resolve", format!("{target}/resolve"), "Resolve");
            button(&mut b, "ignore", format!("{target}/ignore"), "Ignore");
        }
        b.push_str("</td></tr>");
    }
    b.push_str("</tbody></table><h3>Timeline</h3><ol class=\"timeline\" id=\"timeline\">");
    for u in &o.updates {
        let _ = write!(
            b,
            r#"<li class="update"><p><b>{}</b> from <b>{}</b> by {} · {} · {} <code>{}</code></p>"#,
            esc(&u.event),
            esc(&u.channel),
            esc(&u.via),
            esc(&u.received_at),
            esc(&u.status),
            esc(&u.event_id),
        );
        match u.payload.as_deref() {
            Some(p) => {
                let _ = write!(
                    b,
                    "<details><summary>Received payload</summary><pre>{}</pre></details>",
                    esc(&pretty(p))
                );
            }
            None => b.push_str("<p class=\"muted\">Payload pruned by retention.</p>"),
        }
        for d in &u.decisions {
            decision_html(&mut b, d);
        }
        b.push_str("</li>");
    }
    b.push_str("</ol>");
    page(&format!("{order} · Order Health"), &b)
}

fn decision_html(b: &mut String, d: &TimelineDecision) {
    let trigger = match d.trigger.as_str() {
        "update" => String::new(),
        "resync" => " (re-sync)".into(),
        "draft" => " (draft released)".into(),
        t => format!(" ({t})"),
    };
    let _ = write!(
        b,
        r#"<div class="decision {}" id="decision-{}"><p>→ <b>{}</b>: {}{} <small>rules {}</small></p><p class="why">{}</p>"#,
        esc(&d.outcome),
        d.id,
        esc(&d.destination),
        esc(&d.detail),
        trigger,
        esc(&d.rules_version),
        esc(&d.why),
    );
    if let Some(trace) = d.trace.as_array().filter(|t| !t.is_empty()) {
        b.push_str("<details><summary>Trace</summary><table class=\"trace\"><tr><th>Rule</th><th>Where</th><th>Expression</th><th>Result</th><th>Fields seen</th></tr>");
        for s in trace {
            let seen: Vec<String> = s["seen"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| format!("{} = {}", text(x, "field"), x["value"]))
                .collect();
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(text(s, "rule")),
                esc(text(s, "place")),
                esc(text(s, "expression")),
                esc(&s["result"].to_string()),
                esc(&seen.join(", ")),
            );
        }
        b.push_str("</table></details>");
    }
    if let Some(delivery) = &d.delivery {
        let _ = write!(
            b,
            r#"<div class="delivery">Delivery {} · <span class="badge {}">{}</span> · Idempotency-Key <code>{}</code>"#,
            delivery.id,
            esc(&delivery.status),
            esc(&delivery.status),
            esc(&delivery.idempotency_key),
        );
        if let Some(order) = d.order.as_ref().filter(|o| o.is_object()) {
            let _ = write!(
                b,
                "<details><summary>Order sent</summary><pre>{}</pre></details>",
                esc(&serde_json::to_string_pretty(order).unwrap_or_default())
            );
        }
        if let Some(l) = &delivery.label {
            let _ = write!(
                b,
                r#" · <a class="label" href="/deliveries/{}/label">Label sent: {}</a> <small>({}, {} bytes)</small>"#,
                delivery.id,
                esc(&l.filename),
                esc(&l.content_type),
                l.bytes,
            );
        }
        b.push_str("<ul class=\"tries\">");
        for t in &delivery.tries {
            let answer = match t.http_status {
                Some(code) => format!("{code} {}", or_empty(&t.response)),
                None => or_empty(&t.error).to_string(),
            };
            let step = match &t.step {
                Some(step) => format!("{step} · "),
                None => String::new(),
            };
            let answer = match &t.error {
                Some(e) if t.step.is_some() => format!("{answer} ({e})"),
                _ => answer,
            };
            let request = match t.request.as_ref().filter(|r| r.is_object()) {
                Some(request) => format!(
                    "<details><summary>request</summary><pre>{}</pre></details>",
                    esc(&serde_json::to_string_pretty(request).unwrap_or_default())
                ),
                None => String::new(),
            };
            let _ = write!(
                b,
                "<li>{} · {}{} <small>({:.0} ms)</small>{request}</li>",
                esc(&t.at),
                esc(&step),
                esc(answer.trim()),
                t.duration_ms
            );
        }
        b.push_str("</ul></div>");
    }
    b.push_str("</div>");
}

fn back(order: &str, result: Result<String, String>) -> Response {
    let (key, message) = match result {
        Ok(m) => ("done", m),
        Err(m) => ("failed", m),
    };
    Redirect::to(&format!(
        "/orders/{}?{key}={}",
        encode(order),
        encode(&message)
    ))
    .into_response()
}

fn said_error(e: StoreError) -> String {
    e.to_string()
}

async fn resync(axum::extract::State(s): S, Path(id): Path<String>) -> Response {
    let Some(oid) = order_id(&id) else {
        return page_error(&s, StatusCode::NOT_FOUND, &format!("No order {id}."));
    };
    let rules = s.live.rules();
    let version = rules.version.clone();
    let done = s.writer.resync(rules, oid).await;
    back(
        &id,
        done.map(|_| format!("Re-synced with rules {version}."))
            .map_err(said_error),
    )
}

/// The order a delivery or decision belongs to, for coming back to its page.
async fn owner(s: &State, what: orders::Owned, id: i64) -> Option<String> {
    s.reader.owner(what, id).await.ok().flatten()
}

async fn delivery_action(
    axum::extract::State(s): S,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    let Some(order) = owner(&s, orders::Owned::Delivery, id).await else {
        return page_error(&s, StatusCode::NOT_FOUND, &format!("No delivery {id}."));
    };
    acted(&s, &order, Target::Delivery, id, &action).await
}

async fn decision_action(
    axum::extract::State(s): S,
    Path((id, action)): Path<(i64, String)>,
) -> Response {
    let Some(order) = owner(&s, orders::Owned::Decision, id).await else {
        return page_error(&s, StatusCode::NOT_FOUND, &format!("No decision {id}."));
    };
    acted(&s, &order, Target::Decision, id, &action).await
}

/// Does what a button asks and goes back to the order's page saying what came of it.
async fn acted(s: &State, order: &str, target: Target, id: i64, action: &str) -> Response {
    match crate::daemon::admin::api::act(s, target, id, action).await {
        Ok(done) => {
            let said = match action {
                "retry" => format!("Delivery {id} is being sent again."),
                "resolve" => "Marked resolved.".to_string(),
                _ => "Marked ignored.".to_string(),
            };
            back(order, done.map(|_| said).map_err(said_error))
        }
        Err(e) => page_error(s, StatusCode::NOT_FOUND, &e),
    }
}

async fn complete_draft(
    axum::extract::State(s): S,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let Some(order) = owner(&s, orders::Owned::Decision, id).await else {
        return page_error(&s, StatusCode::NOT_FOUND, &format!("No draft {id}."));
    };
    let set: Vec<(String, Value)> = fields
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| (k, Value::Text(crate::value::Str::from(v.trim()))))
        .collect();
    if set.is_empty() {
        return back(&order, Err("Fill in the missing fields first.".into()));
    }
    let rules = s.live.rules();
    let done = s.writer.complete_draft(rules, id, set).await.map(|d| {
        format!(
            "Draft completed; delivery {} is on its way.",
            d.answer["delivery"]
        )
    });
    back(&order, done.map_err(said_error))
}

/// The refused-reload banner, on every page while the last reload stands refused.
pub(crate) fn banner(s: &State, b: &mut String) {
    if let Some(errors) = s.live.last_error() {
        let _ = write!(
            b,
            r#"<section class="banner" id="reload-banner"><p><b>The last rules reload was rejected.</b> Rules {} keep routing until a good file is loaded.</p><pre>{}</pre></section>"#,
            esc(&s.live.rules().version),
            esc(&errors)
        );
    }
    let rules = s.live.rules();
    for c in rules.channels.iter().filter(|c| c.connector.is_some()) {
        if let Some(why) = s.live.credentials.reason(&c.name) {
            let _ = write!(
                b,
                r#"<section class="banner" id="reconnect-{n}"><p><b>{n} needs reconnecting:</b> {why}</p><p>Its deliveries wait and nothing is lost. Get a new refresh token from the platform and give it with <code>ordersync connector set-token {n}</code> (or <code>PUT /api/connectors/{n}/token</code>); they resume at once. <a href="/channels/{n}">Channel</a></p></section>"#,
                n = esc(&c.name),
                why = esc(&why)
            );
        }
    }
    if !rules.warnings.is_empty() {
        let text: Vec<String> = rules
            .warnings
            .iter()
            .map(crate::rules::error::render_warning)
            .collect();
        let _ = write!(
            b,
            r#"<section class="banner" id="rules-warnings"><p><b>The rules in force load with {} warning{}.</b></p><pre>{}</pre></section>"#,
            rules.warnings.len(),
            if rules.warnings.len() == 1 { "" } else { "s" },
            esc(&text.join("\n"))
        );
    }
}

fn page_error(s: &State, status: StatusCode, message: &str) -> Response {
    let mut b = String::new();
    banner(s, &mut b);
    let _ = write!(
        b,
        r#"<p class="flash failed" id="error">{}</p><p><a href="/">Back to Order Health</a></p>"#,
        esc(message)
    );
    let mut r = page("Order Health", &b);
    *r.status_mut() = status;
    r
}

pub(crate) fn page(title: &str, body: &str) -> Response {
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{}</title><style>{STYLE}</style></head><body><header><a href="/" class="home">ordersync · Order Health</a><nav><a href="/channels" id="nav-channels">Channels</a> <a href="/logout" class="logout">Sign out</a></nav></header><main>{body}</main></body></html>"#,
        esc(title)
    ))
    .into_response()
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}\
header{display:flex;justify-content:space-between;padding:10px 20px;background:#1d3557}\
header a{color:#fff;text-decoration:none;font-weight:600}main{padding:16px 20px;max-width:1200px}\
.login{max-width:360px;margin:60px auto}.login input{display:block;width:100%;margin:6px 0 12px;padding:6px}\
table{border-collapse:collapse;width:100%;background:#fff;margin:10px 0}th,td{border-bottom:1px solid #e3e6ea;padding:6px 8px;text-align:left;vertical-align:top}\
th{background:#eef1f5;font-weight:600}.filters{display:flex;gap:8px;margin-bottom:10px}.filters input{flex:1;padding:6px}\
.counts{display:flex;flex-wrap:wrap;gap:6px;margin:8px 0}.chip{padding:3px 10px;border-radius:12px;background:#e3e6ea;color:#1d232a;text-decoration:none}\
.chip.current{outline:2px solid #1d3557}.badge{padding:1px 8px;border-radius:10px;background:#e3e6ea;font-size:12px}\
.rejected,.dead,.error{background:#fde2e1}.badge.rejected,.badge.dead,.badge.error{background:#d62828;color:#fff}\
.badge.draft,.badge.stuck{background:#f4a261}.badge.delivered{background:#2a9d8f;color:#fff}.badge.pending{background:#8ecae6}\
.banner{background:#fff3cd;border:1px solid #e0b100;padding:8px 12px;margin-bottom:12px}.banner pre{white-space:pre-wrap;font-size:12px}\
.flash{padding:8px 12px}.flash.done{background:#d8f3dc}.flash.failed{background:#fde2e1}\
form.inline{display:inline}button{margin:2px;padding:4px 10px;cursor:pointer}.draft label{display:block}\
.timeline{padding-left:18px}.update{margin-bottom:14px}.decision{background:#fff;border-left:3px solid #8ecae6;padding:4px 10px;margin:6px 0}\
.decision.error,.decision.draft{border-left-color:#d62828}.why{color:#444}pre{background:#f0f2f5;padding:8px;overflow:auto}\
.muted{color:#888}code{font-size:12px}header nav a{margin-left:14px}\
.chart{border:1px solid #e3e6ea}.legend i{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}";

fn or_empty(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn text<'a>(v: &'a Json, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn pretty(payload: &str) -> String {
    serde_json::from_str::<Json>(payload)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| payload.to_string())
}

/// HTML-escapes text and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::signin::session_value;
    use super::*;

    #[test]
    fn escapes_markup_and_encodes_urls() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(encode("#1001 a/b"), "%231001%20a%2Fb");
        assert_ne!(session_value("a"), session_value("b"));
        assert_eq!(session_value("a").len(), 64);
    }
}
