//! The channels page (issue 12 section 6): whether each connection is
//! healthy. One JSON document (`GET /api/channels`) and two pages built from
//! it: the overview at `/channels` and one channel at `/channels/{name}`,
//! each with a 24-hour chart of deliveries per outcome drawn as inline SVG
//! (no external assets; it works offline).

use std::fmt::Write as _;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value as Json, json};

use crate::daemon::admin::dashboard::{banner, esc, page};
use crate::daemon::state::{State, answer, error};
use crate::store::StoreError;

type S = axum::extract::State<State>;

/// The outcomes the chart stacks, bottom to top, with their colours.
const OUTCOMES: [(&str, &str); 4] = [
    ("delivered", "#2a9d8f"),
    ("pending", "#8ecae6"),
    ("rejected", "#d62828"),
    ("dead", "#6d0000"),
];

/// Every channel of the rules in force, with its connection's state.
pub async fn channels_json(s: &State) -> Result<Json, StoreError> {
    let rules = s.live.rules();
    let names: Vec<String> = rules.channels.iter().map(|c| c.name.to_string()).collect();
    let now = Utc::now();
    let stats = s.reader.channel_stats(names, now).await?;
    let polls = s.poller.channels();
    let mut out = Vec::new();
    for c in &rules.channels {
        let st = stats.get(&*c.name).cloned().unwrap_or_default();
        let poll_state = polls.iter().find(|p| p.name == c.name);
        let credential = match (&c.connector, s.live.credentials.reason(&c.name)) {
            (None, _) => Json::Null,
            (Some(_), None) => json!({"state": "ok"}),
            (Some(_), Some(why)) => json!({"state": "needs reconnect", "reason": why}),
        };
        let last24: serde_json::Map<String, Json> = OUTCOMES
            .iter()
            .map(|(o, _)| {
                let n: u64 = st
                    .hours
                    .iter()
                    .map(|h| h.get(*o).copied().unwrap_or(0))
                    .sum();
                (o.to_string(), json!(n))
            })
            .collect();
        let hours: Vec<Json> = st.hours.iter().map(|h| json!(h)).collect();
        out.push(json!({
            "name": c.name,
            "role": c.role.as_str(),
            "kind": c.connector.as_ref().map_or("envelope", |k| k.kind_name()),
            "api_version": c.connector.as_ref().and_then(|k| k.api_version()),
            "credential": credential,
            "webhook": c.webhook.is_some(),
            "last_webhook_at": st.last_webhook,
            "poll": c.poll.as_ref().map(|p| json!({
                "schedule": p.schedule,
                "cursor": st.poll_cursor,
                "last_run_at": st.last_poll,
                "last_success_at": st.last_poll_success,
                "last_error": poll_state.and_then(|p| p.status_json(now)["last_error"].as_str().map(str::to_string)),
                "stalled": poll_state.is_some_and(|p| p.stalled(now)),
            })),
            "delivers": c.deliver.is_some(),
            "outbox": st.outbox,
            "oldest_pending_at": st.oldest_pending,
            "throttled_for_ms": s.live.throttles.remaining(&c.name).map(|d| d.as_millis() as u64),
            "last_24h": last24,
            "hours": hours,
        }));
    }
    Ok(json!({ "channels": out, "at": crate::store::stamp(now) }))
}

/// `GET /api/channels`.
pub async fn api(axum::extract::State(s): S) -> Response {
    match channels_json(&s).await {
        Ok(v) => answer(StatusCode::OK, v),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// `/channels`: every channel, a row each.
pub async fn overview(axum::extract::State(s): S) -> Response {
    let doc = match channels_json(&s).await {
        Ok(v) => v,
        Err(e) => return page("Channels", &esc(&e.to_string())),
    };
    let mut b = String::new();
    banner(&s, &mut b);
    b.push_str(r#"<h1>Channels</h1><table id="channels"><tr><th>channel</th><th>kind</th><th>credential</th><th>last webhook</th><th>last poll</th><th>outbox</th><th>throttle</th><th>last 24 h</th></tr>"#);
    for c in doc["channels"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("");
        let _ = write!(
            b,
            r#"<tr class="channel" id="channel-{n}"><td><a href="/channels/{n}">{n}</a><br><small>{role}</small></td><td>{kind}</td><td>{cred}</td><td>{hook}</td><td>{poll}</td><td>{outbox}</td><td>{throttle}</td><td>{chart}</td></tr>"#,
            n = esc(name),
            role = esc(c["role"].as_str().unwrap_or("")),
            kind = esc(&kind_text(c)),
            cred = credential_html(c),
            hook = esc(&when(c, "last_webhook_at", c["webhook"] == true)),
            poll = esc(&poll_text(c)),
            outbox = esc(&outbox_text(c)),
            throttle = esc(&throttle_text(c)),
            chart = chart(c, 240, 40),
        );
    }
    b.push_str("</table>");
    match crate::daemon::admin::api::daemons_json(&s).await {
        Ok(Some(daemons)) => daemons_html(&daemons, &mut b),
        Ok(None) => {}
        Err(e) => {
            let _ = write!(b, r#"<p class="flash failed">{}</p>"#, esc(&e.to_string()));
        }
    }
    page("Channels", &b)
}

/// The daemons sharing the store, and a warning while they run different rules.
fn daemons_html(daemons: &Json, b: &mut String) {
    let list = daemons.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut versions: Vec<&str> = list
        .iter()
        .filter_map(|d| d["rules_version"].as_str())
        .collect();
    versions.sort();
    versions.dedup();
    b.push_str("<h2>Daemons on this store</h2>");
    if versions.len() > 1 {
        let _ = write!(
            b,
            r#"<section class="banner" id="rules-differ"><p><b>The daemons run different rules: {}.</b> Each decides the updates it takes with its own; save the same file on every host.</p></section>"#,
            esc(&versions.join(", "))
        );
    }
    b.push_str(r#"<table id="daemons"><tr><th>daemon</th><th>rules</th><th>last seen</th></tr>"#);
    for d in list {
        let _ = write!(
            b,
            r#"<tr class="daemon"><td>{}{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(d["daemon"].as_str().unwrap_or("")),
            if d["this"] == true {
                " <small>(this one)</small>"
            } else {
                ""
            },
            esc(d["rules_version"].as_str().unwrap_or("")),
            esc(d["seen_at"].as_str().unwrap_or("")),
        );
    }
    b.push_str("</table>");
}

/// `/channels/{name}`: one channel, in full.
pub async fn one(axum::extract::State(s): S, Path(name): Path<String>) -> Response {
    let doc = match channels_json(&s).await {
        Ok(v) => v,
        Err(e) => return page("Channels", &esc(&e.to_string())),
    };
    let Some(c) = doc["channels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == name.as_str())
    else {
        let mut r = page(
            "Channels",
            &format!(
                "<p>No channel <code>{}</code> in the rules in force.</p>",
                esc(&name)
            ),
        );
        *r.status_mut() = StatusCode::NOT_FOUND;
        return r;
    };
    let mut b = String::new();
    banner(&s, &mut b);
    let _ = write!(b, r#"<h1>{}</h1><table id="channel">"#, esc(&name));
    let rows = [
        ("role", esc(c["role"].as_str().unwrap_or(""))),
        ("kind", esc(&kind_text(c))),
        ("credential", credential_html(c)),
        (
            "last webhook",
            esc(&when(c, "last_webhook_at", c["webhook"] == true)),
        ),
        ("last poll", esc(&poll_text(c))),
        (
            "poll cursor",
            esc(c["poll"]["cursor"].as_str().unwrap_or("-")),
        ),
        ("outbox", esc(&outbox_text(c))),
        ("throttle", esc(&throttle_text(c))),
    ];
    for (k, v) in rows {
        let _ = write!(b, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    b.push_str("</table><h2>Deliveries, last 24 hours</h2>");
    b.push_str(&chart(c, 720, 160));
    b.push_str(r#"<p class="legend">"#);
    for (o, colour) in OUTCOMES {
        let _ = write!(
            b,
            r#"<span><i style="background:{colour}"></i>{o} {}</span> "#,
            c["last_24h"][o].as_u64().unwrap_or(0)
        );
    }
    let _ = write!(
        b,
        r#"</p><p><a href="/?channel={}">Order Health for this channel</a> · <a href="/channels">all channels</a></p>"#,
        esc(&name)
    );
    page(&format!("{name} · channels"), &b)
}

fn kind_text(c: &Json) -> String {
    match c["api_version"].as_str() {
        Some(v) => format!("{} (API {v})", c["kind"].as_str().unwrap_or("")),
        None => c["kind"].as_str().unwrap_or("").to_string(),
    }
}

fn credential_html(c: &Json) -> String {
    match c["credential"]["state"].as_str() {
        None => r#"<span class="muted">-</span>"#.to_string(),
        Some("ok") => r#"<span class="badge delivered">ok</span>"#.to_string(),
        Some(other) => format!(
            r#"<span class="badge dead" title="{}">{}</span>"#,
            esc(c["credential"]["reason"].as_str().unwrap_or("")),
            esc(other)
        ),
    }
}

fn when(c: &Json, key: &str, applies: bool) -> String {
    if !applies {
        return "-".to_string();
    }
    c[key].as_str().unwrap_or("never").to_string()
}

fn poll_text(c: &Json) -> String {
    let p = &c["poll"];
    if p.is_null() {
        return "-".to_string();
    }
    let mut t = match p["last_run_at"].as_str() {
        Some(at) => at.to_string(),
        None => "not yet".to_string(),
    };
    if p["stalled"] == true {
        t.push_str(" (stalled)");
    }
    if let Some(e) = p["last_error"].as_str() {
        let _ = write!(t, " · failing: {e}");
    }
    t
}

fn outbox_text(c: &Json) -> String {
    if c["delivers"] != true {
        return "-".to_string();
    }
    match (
        c["outbox"].as_u64().unwrap_or(0),
        c["oldest_pending_at"].as_str(),
    ) {
        (0, _) => "empty".to_string(),
        (n, Some(at)) => format!("{n} pending, oldest {at}"),
        (n, None) => format!("{n} pending"),
    }
}

fn throttle_text(c: &Json) -> String {
    match c["throttled_for_ms"].as_u64() {
        Some(ms) => format!("held {:.1} s more", ms as f64 / 1000.0),
        None => "-".to_string(),
    }
}

/// 24 stacked bars, one an hour, oldest left.
fn chart(c: &Json, width: u32, height: u32) -> String {
    let hours: Vec<&Json> = c["hours"]
        .as_array()
        .map(|h| h.iter().collect())
        .unwrap_or_default();
    let total = |h: &Json| -> u64 {
        OUTCOMES
            .iter()
            .map(|(o, _)| h[o].as_u64().unwrap_or(0))
            .sum()
    };
    let peak = hours.iter().map(|h| total(h)).max().unwrap_or(0).max(1);
    let bar = width as f64 / 24.0;
    let mut svg = format!(
        r##"<svg class="chart" role="img" aria-label="deliveries per hour, last 24 hours" width="{width}" height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg"><rect width="{width}" height="{height}" fill="#fff"/>"##
    );
    for (i, h) in hours.iter().enumerate() {
        let mut y = height as f64;
        for (o, colour) in OUTCOMES {
            let n = h[o].as_u64().unwrap_or(0);
            if n == 0 {
                continue;
            }
            let hgt = (n as f64 / peak as f64) * (height as f64 - 2.0);
            y -= hgt;
            let _ = write!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{n} {o}, {} h ago</title></rect>"#,
                i as f64 * bar + 1.0,
                y,
                (bar - 2.0).max(1.0),
                hgt,
                23 - i
            );
        }
    }
    svg.push_str("</svg>");
    svg
}
