//! Refusals at the door (issue 6): a noisy channel is rate limited without
//! touching the others, paths smuggled with `..` reach nothing, oversized
//! headers are refused, and the daemon keeps serving after each.

mod support;

use std::time::Duration;

use serde_json::json;
use support::{Daemon, Mock, metric, post_update, update};

const TOKEN: &str = "security-token";

fn rules(dir: &std::path::Path, mock: &Mock) -> std::path::PathBuf {
    let text = format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver: {{ url: "{base}/shop/orders" }}
  noisy:
    role: marketplace
    webhook: {{ format: ordersync, secret: noisy-secret }}
  quiet:
    role: marketplace
    webhook: {{ format: ordersync, secret: quiet-secret }}
"#,
        base = mock.base
    );
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &std::path::Path, mock: &Mock, extra: &[&str]) -> Daemon {
    let path = rules(dir, mock);
    Daemon::start_with(
        dir,
        &path,
        "127.0.0.1:0",
        extra,
        &[("ORDERSYNC_ADMIN_TOKEN", TOKEN)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noisy_channel_is_rate_limited_and_the_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let daemon = start(dir.path(), &mock, &["--webhook-rate", "20"]);
    let client = reqwest::Client::new();
    let mut noisy = Vec::new();
    for n in 0..80 {
        let body = update(&format!("n{n}"), "created", json!({"id": format!("N-{n}")}));
        let (c, d) = (client.clone(), daemon.url("/webhooks/noisy"));
        noisy.push(tokio::spawn(async move {
            let r = c
                .post(d)
                .header(
                    "X-Ordersync-Signature",
                    support::sign("noisy-secret", &body),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry, r.text().await.unwrap())
        }));
    }
    let mut quiet_ok = 0;
    for n in 0..10 {
        let body = update(&format!("q{n}"), "created", json!({"id": format!("Q-{n}")}));
        let (status, _) = post_update(&client, &daemon, "quiet", "quiet-secret", &body).await;
        quiet_ok += usize::from(status == 202);
    }
    let mut accepted = 0;
    let mut limited = 0;
    for t in noisy {
        let (status, retry, text) = t.await.unwrap();
        match status {
            202 => accepted += 1,
            429 => {
                limited += 1;
                assert_eq!(retry.as_deref(), Some("1"));
                assert_eq!(
                    text,
                    r#"{"error":"channel `noisy` is over its limit of 20 webhooks a second; send it again later"}"#
                );
            }
            other => panic!("{other}: {text}"),
        }
    }
    assert_eq!(quiet_ok, 10, "the quiet channel is not held back");
    assert!(limited >= 40, "{limited} limited, {accepted} accepted");
    assert_eq!(accepted + limited, 80);
    // Nothing of a refused request was stored.
    assert_eq!(
        daemon.count("SELECT count(*) FROM updates WHERE channel = 'noisy'"),
        accepted as i64
    );
    let text = client
        .get(daemon.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(
            &text,
            "ordersync_webhook_requests_total{channel=\"noisy\",outcome=\"rate_limited\"}"
        ),
        Some(limited as f64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggled_paths_and_oversized_headers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let daemon = start(dir.path(), &mock, &[]);
    let base = daemon.base.trim_start_matches("http://").to_string();
    // Raw requests, so no client normalises the paths first.
    let raw = |request: String| {
        use std::io::{Read as _, Write as _};
        let mut conn = std::net::TcpStream::connect(&base).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = conn.write_all(request.as_bytes());
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        String::from_utf8_lossy(&answer).into_owned()
    };
    let status_of = |answer: &str| answer.split(' ').nth(1).unwrap_or("").to_string();
    for path in [
        "/webhooks/../api/rules/reload",
        "/webhooks/%2e%2e/api/rules/reload",
        "/webhooks/..%2Fapi%2Frules%2Freload",
        "/api/../metrics",
        "/healthz/../api/orders",
    ] {
        let answer = raw(format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ));
        let status = status_of(&answer);
        assert!(
            status == "404" || status == "401" || status == "400" || status == "405",
            "{path}: {answer}"
        );
    }
    // Many headers, and one huge header: refused before any handler runs.
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer = raw(format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n"
    ));
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    let huge = "a".repeat(1024 * 1024);
    let answer = raw(format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\nConnection: close\r\n\r\n"
    ));
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    // Still serving.
    let health = reqwest::get(daemon.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        daemon.count("SELECT count(*) FROM rules_versions"),
        1,
        "no reload happened"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_never_redirects_to_another_site() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let daemon = start(dir.path(), &mock, &[]);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (next, to) in [
        ("/orders/ord_1", "/orders/ord_1"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example", "/"),
    ] {
        let r = client
            .post(daemon.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "token={TOKEN}&next={}",
                ordersync::delivery::request::url_encode(next)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{next}");
        assert_eq!(r.headers()["location"], to, "{next}");
        let cookie = r.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.contains("HttpOnly; SameSite=Strict"), "{cookie}");
        assert!(
            !cookie.contains(TOKEN),
            "the cookie holds a hash, not the token"
        );
    }
    // Without the cookie, pages send you to sign in; forms are refused.
    let r = client
        .get(daemon.url("/orders/ord_1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["location"], "/login?next=%2Forders%2Ford_1");
    let r = client
        .post(daemon.url("/ui/orders/ord_1/resync"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
