//! The commands that talk to a running daemon through its admin API
//! (`ordersync reload`, `ordersync orders ...`), and how their answers are
//! shown. Exit codes: 0 done; 1 the daemon refused (rules rejected, no such
//! order, a draft still missing fields); 2 the daemon could not be asked.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value as Json, json};

use crate::cli::{Admin, ConnectorCommand, OrdersCommand};
use ordersync::delivery::request::url_encode as encode;

/// The admin token: from the flag's file, else `ORDERSYNC_ADMIN_TOKEN`, else
/// the systemd credential `admin-token`.
pub fn token(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    let from_file = |path: &Path| -> anyhow::Result<String> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the admin token file `{}`", path.display()))?;
        let token = text.trim().to_string();
        if token.is_empty() {
            bail!("the admin token file `{}` is empty", path.display());
        }
        Ok(token)
    };
    if let Some(path) = file {
        return from_file(path).map(Some);
    }
    if let Ok(token) = std::env::var("ORDERSYNC_ADMIN_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(Some(token.trim().to_string()));
    }
    if let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join("admin-token");
        if path.exists() {
            return from_file(&path).map(Some);
        }
    }
    Ok(None)
}

/// One request to the daemon: its status and JSON answer. A 401 is an error
/// here (exit 2), with how to give the token.
fn call(
    admin: &Admin,
    method: reqwest::Method,
    path: &str,
    body: Option<Json>,
) -> anyhow::Result<(u16, Json)> {
    let token = token(admin.token_file.as_deref())?;
    let url = format!("{}{path}", admin.url.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let (status, text) = runtime.block_on(async {
        let mut req = reqwest::Client::new()
            .request(method, &url)
            .timeout(Duration::from_secs(60));
        if let Some(token) = &token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the daemon at {}", admin.url))?;
        let status = resp.status().as_u16();
        let text = resp
            .text()
            .await
            .context("the daemon's answer was cut off")?;
        anyhow::Ok((status, text))
    })?;
    let json: Json = serde_json::from_str(&text).unwrap_or(Json::String(text));
    if status == 401 {
        bail!(
            "the daemon refused the request: {} (give the token with --token-file or ORDERSYNC_ADMIN_TOKEN)",
            json["error"].as_str().unwrap_or("")
        );
    }
    Ok((status, json))
}

fn text<'a>(v: &'a Json, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// `ordersync reload`: the daemon's answer, as an exit code.
pub fn reload(admin: &Admin) -> anyhow::Result<ExitCode> {
    let (status, json) = call(admin, reqwest::Method::POST, "/api/rules/reload", None)?;
    match (status, text(&json, "outcome")) {
        (200, "applied") => {
            println!(
                "rules reloaded: version {} is in force",
                text(&json, "version")
            );
            Ok(ExitCode::SUCCESS)
        }
        (200, "unchanged") => {
            println!(
                "rules unchanged: version {} is already in force",
                text(&json, "version")
            );
            Ok(ExitCode::SUCCESS)
        }
        (422, _) => {
            eprint!("{}", text(&json, "errors"));
            eprintln!(
                "error: the daemon refused the new rules; version {} keeps routing",
                text(&json, "version")
            );
            Ok(ExitCode::from(1))
        }
        _ => bail!("the daemon answered {status}: {json}"),
    }
}

/// `ordersync connector ...`.
pub fn connector(admin: &Admin, command: &ConnectorCommand) -> anyhow::Result<ExitCode> {
    match command {
        ConnectorCommand::SetToken {
            channel,
            refresh_token_file,
        } => {
            let text = match refresh_token_file {
                Some(path) => std::fs::read_to_string(path).with_context(|| {
                    format!("cannot read the refresh token file `{}`", path.display())
                })?,
                None => {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                        .context("cannot read the refresh token from standard input")?;
                    text
                }
            };
            let token = text.trim();
            if token.is_empty() {
                bail!("no refresh token given (pipe it in, or use --refresh-token-file)");
            }
            let path = format!("/api/connectors/{}/token", encode(channel));
            let (status, json) = call(
                admin,
                reqwest::Method::PUT,
                &path,
                Some(json!({ "refresh_token": token })),
            )?;
            match status {
                200 => {
                    println!("channel `{channel}` has a new refresh token; its deliveries resume");
                    Ok(ExitCode::SUCCESS)
                }
                400 | 404 => {
                    eprintln!("error: {}", text_of(&json));
                    Ok(ExitCode::from(1))
                }
                _ => bail!("the daemon answered {status}: {}", text_of(&json)),
            }
        }
    }
}

fn text_of(json: &Json) -> String {
    json["error"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| json.to_string())
}

/// `ordersync orders ...`.
pub fn orders(admin: &Admin, command: &OrdersCommand) -> anyhow::Result<ExitCode> {
    use reqwest::Method;
    let (answer, json_out, render): (_, bool, fn(&Json) -> String) = match command {
        OrdersCommand::List {
            status,
            channel,
            query,
            page,
            limit,
            json,
        } => {
            let mut q: Vec<(&str, String)> =
                vec![("page", page.to_string()), ("limit", limit.to_string())];
            q.extend(status.clone().map(|s| ("status", s)));
            q.extend(channel.clone().map(|s| ("channel", s)));
            q.extend(query.clone().map(|s| ("q", s)));
            let query = q
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect::<Vec<_>>()
                .join("&");
            (
                call(admin, Method::GET, &format!("/api/orders?{query}"), None)?,
                *json,
                list_text,
            )
        }
        OrdersCommand::Show { order, json } => (
            call(
                admin,
                Method::GET,
                &format!("/api/orders/{}", encode(order)),
                None,
            )?,
            *json,
            timeline_text,
        ),
        OrdersCommand::Retry { delivery } => (
            call(
                admin,
                Method::POST,
                &format!("/api/deliveries/{delivery}/retry"),
                None,
            )?,
            false,
            |a| {
                format!(
                    "delivery {} is pending again: it is sent with the same idempotency key\n",
                    a["delivery"]
                )
            },
        ),
        OrdersCommand::Resync { order } => (
            call(
                admin,
                Method::POST,
                &format!("/api/orders/{}/resync", encode(order)),
                None,
            )?,
            false,
            resync_text,
        ),
        OrdersCommand::Resolve { id, decision } | OrdersCommand::Ignore { id, decision } => {
            let action = if matches!(command, OrdersCommand::Resolve { .. }) {
                "resolve"
            } else {
                "ignore"
            };
            let kind = if *decision { "decisions" } else { "deliveries" };
            (
                call(
                    admin,
                    Method::POST,
                    &format!("/api/{kind}/{id}/{action}"),
                    None,
                )?,
                false,
                |a| {
                    format!(
                        "{} at {}: {}\n",
                        text(a, "order"),
                        text(a, "destination"),
                        text(a, "resolution")
                    )
                },
            )
        }
        OrdersCommand::Complete { draft, set } => {
            let mut fields = serde_json::Map::new();
            for pair in set {
                let Some((field, value)) = pair.split_once('=') else {
                    bail!("`--set {pair}` is not FIELD=VALUE");
                };
                let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
                fields.insert(field.trim().to_string(), value);
            }
            (
                call(
                    admin,
                    Method::PATCH,
                    &format!("/api/drafts/{draft}"),
                    Some(json!({ "set": fields })),
                )?,
                false,
                |a| {
                    format!(
                        "draft {} completed: delivery {} is pending\n",
                        a["draft"], a["delivery"]
                    )
                },
            )
        }
    };
    let (status, body) = answer;
    if !(200..300).contains(&status) {
        eprintln!(
            "error: {}",
            body["error"].as_str().unwrap_or(&body.to_string())
        );
        return Ok(ExitCode::from(if status >= 500 { 2 } else { 1 }));
    }
    if json_out {
        println!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
    } else {
        print!("{}", render(&body));
    }
    Ok(ExitCode::SUCCESS)
}

/// Columns padded to their widest cell.
fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn list_text(list: &Json) -> String {
    let rows = list["rows"].as_array().cloned().unwrap_or_default();
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no orders match\n");
    } else {
        let mut cells = vec![
            ["ORDER", "NAME", "ROUTE", "STATUS", "DETAIL", "UPDATED"]
                .map(String::from)
                .to_vec(),
        ];
        for r in &rows {
            let mut status = text(r, "status").to_string();
            if let Some(res) = r["resolution"].as_str() {
                status = format!("{status} ({res})");
            }
            cells.push(vec![
                text(r, "order").into(),
                text(r, "name").into(),
                format!("{} -> {}", text(r, "source"), text(r, "destination")),
                status,
                text(r, "detail").chars().take(60).collect(),
                text(r, "updated_at").chars().take(19).collect(),
            ]);
        }
        out.push_str(&table(&cells));
    }
    let total = list["total"].as_i64().unwrap_or(0);
    let limit = list["limit"].as_i64().unwrap_or(50).max(1);
    let pages = ((total + limit - 1) / limit).max(1);
    out.push_str(&format!(
        "page {} of {pages}, {total} in all\n",
        list["page"]
    ));
    let counts = &list["counts"]["status"];
    let open: Vec<String> = ordersync::store::health::PROBLEMS
        .iter()
        .filter_map(|s| {
            let n = counts[s].as_i64().unwrap_or(0);
            (n > 0).then(|| format!("{n} {s}"))
        })
        .collect();
    out.push_str(&format!(
        "open problems: {}\n",
        if open.is_empty() {
            "none".to_string()
        } else {
            open.join(", ")
        }
    ));
    out
}

fn timeline_text(o: &Json) -> String {
    let mut out = format!(
        "{} {}  from {}  created {}\n",
        text(o, "id"),
        text(o, "name"),
        text(o, "source"),
        text(o, "created_at")
    );
    let links: Vec<String> = o["links"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| format!("{} {}", text(l, "channel"), text(l, "external_id")))
        .collect();
    out.push_str(&format!("ids: {}\n", links.join(", ")));
    for h in o["health"].as_array().into_iter().flatten() {
        let res = h["resolution"]
            .as_str()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}: {}{res}: {}\n",
            text(h, "destination"),
            text(h, "status"),
            text(h, "detail")
        ));
    }
    for u in o["updates"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\nupdate {} {} {} from {} by {} ({}): {}\n",
            u["id"],
            text(u, "received_at"),
            text(u, "event"),
            text(u, "channel"),
            text(u, "via"),
            text(u, "event_id"),
            text(u, "status")
        ));
        for d in u["decisions"].as_array().into_iter().flatten() {
            let trigger = match text(d, "trigger") {
                "update" => String::new(),
                t => format!(" [{t}]"),
            };
            out.push_str(&format!(
                "  -> {}: {}{trigger} (decision {}, rules {})\n     why: {}\n",
                text(d, "destination"),
                text(d, "detail"),
                d["id"],
                text(d, "rules_version"),
                text(d, "why")
            ));
            for step in d["trace"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "     {} at {}: `{}` = {}\n",
                    text(step, "rule"),
                    text(step, "place"),
                    text(step, "expression"),
                    step["result"]
                ));
            }
            let delivery = &d["delivery"];
            if delivery.is_object() {
                out.push_str(&format!(
                    "     delivery {}: {}, {} attempt(s), Idempotency-Key {}\n",
                    delivery["id"],
                    text(delivery, "status"),
                    delivery["attempts"],
                    text(delivery, "idempotency_key")
                ));
                for t in delivery["tries"].as_array().into_iter().flatten() {
                    let answer = match t["http_status"].as_i64() {
                        Some(code) => format!("{code} {}", text(t, "response")),
                        None => text(t, "error").to_string(),
                    };
                    out.push_str(&format!("       {}  {}\n", text(t, "at"), answer.trim()));
                }
            }
        }
    }
    out
}

fn resync_text(a: &Json) -> String {
    let mut out = format!(
        "{} re-synced with rules {}:\n",
        text(a, "order"),
        text(a, "rules_version")
    );
    for d in a["decisions"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}: {}\n",
            text(d, "destination"),
            text(d, "outcome")
        ));
    }
    out
}
