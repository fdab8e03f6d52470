//! Signing in to the dashboard: a form for the admin token, kept as a hash of
//! it in an `HttpOnly`, `SameSite=Strict` cookie, and the check on every page.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Form, Query, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest as _, Sha256};

use super::{S, encode, esc, page};

const COOKIE: &str = "ordersync_session";

/// The cookie's value: a hash of the token, so the token itself never sits in a cookie.
pub(super) fn session_value(token: &str) -> String {
    let digest = Sha256::digest(format!("ordersync-session:{token}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(super) async fn signed_in(axum::extract::State(s): S, req: Request, next: Next) -> Response {
    let Some(token) = &s.admin_token else {
        return next.run(req).await;
    };
    let ok = cookie(&req, COOKIE).is_some_and(|v| {
        crate::ingress::signature::same(v.as_bytes(), session_value(token).as_bytes())
    });
    if ok {
        return next.run(req).await;
    }
    if req.method() == axum::http::Method::GET {
        let next_path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        Redirect::to(&format!("/login?next={}", encode(&next_path))).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "sign in first").into_response()
    }
}

pub(super) async fn login_page(Query(q): Query<HashMap<String, String>>) -> Response {
    login_form(q.get("next").map(String::as_str).unwrap_or("/"), None)
}

pub(super) fn login_form(next: &str, problem: Option<&str>) -> Response {
    let mut body = String::new();
    let _ = write!(
        body,
        r#"<main class="login"><h1>ordersync · Order Health</h1>
<form method="post" action="/login">
<label for="token">Admin token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus>
<input type="hidden" name="next" value="{}">
<button type="submit" id="sign-in">Sign in</button>
</form>{}</main>"#,
        esc(next),
        problem
            .map(|p| format!(r#"<p class="flash failed" id="login-error">{}</p>"#, esc(p)))
            .unwrap_or_default()
    );
    page("Sign in", &body)
}

pub(super) async fn login(
    axum::extract::State(s): S,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let next = f
        .get("next")
        // Only a path on this server: not `//host` nor `/\host`, which browsers read as another site.
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\"))
        .cloned()
        .unwrap_or_else(|| "/".into());
    let given = f.get("token").map(|t| t.trim()).unwrap_or("");
    let Some(token) = &s.admin_token else {
        return Redirect::to(&next).into_response();
    };
    if !crate::ingress::signature::same(given.as_bytes(), token.as_bytes()) {
        let mut r = login_form(&next, Some("That is not this daemon's admin token."));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let mut r = Redirect::to(&next).into_response();
    let value = format!(
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
        session_value(token)
    );
    if let Ok(v) = header::HeaderValue::from_str(&value) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

pub(super) async fn logout() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        header::HeaderValue::from_static("ordersync_session=; Path=/; Max-Age=0"),
    );
    r
}
