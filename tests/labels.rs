//! Shipping labels (SPEC 13) through the real daemon: HTML printed to PDF by
//! a real headless Chromium at the asked page size, PDF and ZPL passed
//! through, multipart and e-mail sending, the closed network, the time
//! limit, rejections with why, the kept label served back, and `check`
//! without Chromium. Tests that need Chromium or poppler's `pdfinfo` /
//! `pdftotext` say on their own line that they were skipped when absent.

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value as Json, json};
use support::{Daemon, Mock, Reply, post_update, sign, update};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const WAIT: Duration = Duration::from_secs(30);
const TRACKING: &str = "1Z999AA10123456784";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .unwrap()
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// True when Chromium (and, if `pdf_tools`, poppler) is here; else says why not.
fn have(test: &str, pdf_tools: bool) -> bool {
    if !on_path("chromium") {
        println!("skipped {test}: no `chromium` on PATH (apt-get install chromium)");
        return false;
    }
    if pdf_tools && !(on_path("pdfinfo") && on_path("pdftotext")) {
        println!("skipped {test}: no `pdfinfo`/`pdftotext` (apt-get install poppler-utils)");
        return false;
    }
    true
}

fn label_html() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/label_4x6.html"
    ))
    .unwrap()
}

/// `pdfinfo`'s pages and page size (points) of a PDF.
fn pdf_info(dir: &Path, pdf: &[u8]) -> (u32, String) {
    let path = dir.join(format!("check-{}.pdf", fastrand::u32(..)));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    (field("Pages:").parse().unwrap(), field("Page size:"))
}

fn pdf_text(dir: &Path, pdf: &[u8]) -> String {
    let path = dir.join(format!("text-{}.pdf", fastrand::u32(..)));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Rules: `shipper` (the shipping tool) sends label events to each of
/// `destinations`, given as `(name, extra deliver YAML)`.
fn rules(dir: &Path, mock: &Mock, destinations: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("version: 1\nchannels:\n");
    let names: Vec<&str> = destinations.iter().map(|(n, _)| *n).collect();
    text.push_str(&format!(
        "  shipper:\n    role: fulfillment\n    webhook: {{ format: ordersync, secret: ship-secret }}\n    routes: [{}]\n",
        names.join(", ")
    ));
    for (name, extra) in destinations {
        text.push_str(&format!(
            "  {name}:\n    role: commerce_platform\n    deliver:\n      url: \"{}/{name}\"\n      secret: {name}-secret\n      accepts: [label]\n      retry: {{ attempts: 3, first: 200ms, max: 400ms }}\n",
            mock.base
        ));
        for line in extra.lines() {
            text.push_str(&format!("      {line}\n"));
        }
    }
    let path = dir.join("rules.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn label_update(id: &str, format: &str, data: &[u8]) -> String {
    update(
        id,
        "label",
        json!({
            "id": "5001",
            "name": "#1001",
            "label": { "format": format, "data": b64(data), "tracking_number": TRACKING },
        }),
    )
}

fn delivery_id(d: &Daemon, destination: &str) -> i64 {
    d.count(&format!(
        "SELECT id FROM deliveries WHERE destination = '{destination}'"
    ))
}

async fn wait_status(d: &Daemon, destination: &str, status: &str) -> Json {
    let until = Instant::now() + WAIT;
    loop {
        let row: Option<(String, Option<String>)> = d
            .rows(&format!(
                "SELECT status, last_error FROM deliveries WHERE destination = '{destination}'"
            ))
            .into_iter()
            .next()
            .and_then(|r| Some((r[0].clone()?, r[1].clone())));
        if let Some((s, e)) = &row
            && s == status
        {
            return json!({ "status": s, "error": e });
        }
        assert!(
            Instant::now() < until,
            "{destination} is not {status}: {row:?}\n{}",
            d.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_html_label_arrives_as_a_one_page_pdf_of_the_asked_size() {
    if !have(
        "an_html_label_arrives_as_a_one_page_pdf_of_the_asked_size",
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(
        dir.path(),
        &mock,
        &[
            ("oms", "label: { convert: pdf }"),
            ("oms_a6", "label: { convert: pdf, page: A6 }"),
            ("oms_letter", "label: { convert: pdf, page: letter }"),
        ],
    );
    let d = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let body = label_update("evt-1", "html", &label_html());
    let (status, _) = post_update(&client, &d, "shipper", "ship-secret", &body).await;
    assert_eq!(status, 202);
    for (dest, size) in [
        ("oms", "288 x 432 pts"),
        ("oms_a6", "297.638 x 419.528 pts"),
        ("oms_letter", "612 x 792 pts (letter)"),
    ] {
        let got = mock.wait_for(&format!("/{dest}"), 1, WAIT).await;
        let label = &got[0].body["order"]["label"];
        assert_eq!(label["format"], "pdf", "{dest}");
        assert_eq!(label["tracking_number"], TRACKING);
        let pdf = unb64(label["data"].as_str().unwrap());
        assert!(pdf.starts_with(b"%PDF-"));
        let (pages, page_size) = pdf_info(dir.path(), &pdf);
        assert_eq!((pages, page_size.as_str()), (1, size), "{dest}");
        assert!(pdf_text(dir.path(), &pdf).contains(TRACKING), "{dest}");
        // What was sent is kept with the delivery and served back as sent.
        wait_status(&d, dest, "delivered").await;
        let id = delivery_id(&d, dest);
        let resp = client
            .get(d.url(&format!("/api/deliveries/{id}/label")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/pdf");
        assert_eq!(
            resp.headers()["content-disposition"],
            "inline; filename=\"label-1001.pdf\""
        );
        assert_eq!(resp.bytes().await.unwrap().to_vec(), pdf, "{dest}");
    }
    // Order Health links to it.
    let text = client
        .get(d.url("/api/orders/ord_1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("\"filename\":\"label-1001.pdf\""), "{text}");
    assert!(text.contains("/label\""), "{text}");
}

#[tokio::test]
async fn pdf_and_zpl_pass_through_byte_for_byte_and_a_retry_sends_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    // The first answer is a 503: the retry must carry the same label.
    mock.respond(|_, before| {
        if before == 0 {
            Reply::new(503, "busy")
        } else {
            Reply::new(200, "{}")
        }
    });
    let path = rules(dir.path(), &mock, &[("oms", "label: { convert: pdf }")]);
    let d = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &label_update("e1", "pdf", &pdf),
    )
    .await;
    assert_eq!(status, 202);
    let got = mock.wait_for("/oms", 2, WAIT).await;
    for r in &got {
        assert_eq!(r.body["order"]["label"]["format"], "pdf");
        assert_eq!(
            unb64(r.body["order"]["label"]["data"].as_str().unwrap()),
            pdf
        );
    }
    assert_eq!(got[0].raw, got[1].raw, "a retry sends the same bytes");
    assert_eq!(
        got[0].header("idempotency-key"),
        got[1].header("idempotency-key")
    );
    let zpl = b"^XA^FO50,50^A0N,50,50^FD1Z999AA10123456784^FS^XZ\r\n".to_vec();
    let mut order = json!({"id": "5002", "name": "#1002",
        "label": {"format": "zpl", "data": b64(&zpl), "tracking_number": "1Z2"}});
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &update("e2", "label", order.take()),
    )
    .await;
    assert_eq!(status, 202);
    let got = mock.wait_for("/oms", 3, WAIT).await;
    assert_eq!(got[2].body["order"]["label"]["format"], "zpl");
    assert_eq!(
        unb64(got[2].body["order"]["label"]["data"].as_str().unwrap()),
        zpl
    );
}

/// The parts of a `multipart/form-data` body: (headers, bytes) by name.
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, String, Vec<u8>)> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"');
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, delim.as_bytes()).unwrap();
    rest = &rest[start + delim.len()..];
    while !rest.starts_with(b"--") {
        rest = &rest[2..]; // CRLF after the delimiter
        let head_end = find(rest, b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        rest = &rest[head_end + 4..];
        let next = find(rest, format!("\r\n{delim}").as_bytes()).unwrap();
        let name = head
            .split("name=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        out.push((name, head, rest[..next].to_vec()));
        rest = &rest[next + 2 + delim.len()..];
    }
    out
}

#[tokio::test]
async fn multipart_sends_the_envelope_and_the_label_file_signed() {
    if !have(
        "multipart_sends_the_envelope_and_the_label_file_signed",
        true,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(
        dir.path(),
        &mock,
        &[
            ("oms", "label: { convert: pdf, send: multipart }"),
            ("raw", "label: { send: multipart }"),
        ],
    );
    let d = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &label_update("e1", "html", &label_html()),
    )
    .await;
    assert_eq!(status, 202);
    for (dest, filename, content_type) in [
        ("oms", "label-1001.pdf", "application/pdf"),
        ("raw", "label-1001.html", "text/html; charset=utf-8"),
    ] {
        let r = &mock.wait_for(&format!("/{dest}"), 1, WAIT).await[0];
        let ct = r.header("content-type");
        assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
        let p = parts(ct, &r.raw);
        let names: Vec<&str> = p.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, ["envelope", "label"]);
        let (_, head, envelope) = &p[0];
        assert!(head.contains("Content-Type: application/json"), "{head}");
        let env: Json = serde_json::from_slice(envelope).unwrap();
        assert_eq!(env["event"], "label");
        assert_eq!(env["order"]["label"]["tracking_number"], TRACKING);
        assert!(env["order"]["label"].get("data").is_none(), "{env}");
        // The signature covers the envelope part's bytes.
        assert_eq!(
            r.header("x-ordersync-signature"),
            sign(
                &format!("{dest}-secret"),
                std::str::from_utf8(envelope).unwrap()
            )
        );
        assert!(r.header("idempotency-key").starts_with("os-"));
        assert_eq!(r.header("x-ordersync-event"), "label");
        let (_, head, file) = &p[1];
        assert!(head.contains(&format!("filename=\"{filename}\"")), "{head}");
        assert!(
            head.contains(&format!("Content-Type: {content_type}")),
            "{head}"
        );
        if dest == "oms" {
            assert_eq!(env["order"]["label"]["format"], "pdf");
            assert_eq!(pdf_info(dir.path(), file).0, 1);
            assert!(pdf_text(dir.path(), file).contains(TRACKING));
        } else {
            assert_eq!(env["order"]["label"]["format"], "html");
            assert_eq!(file, &label_html(), "html passes through as it is");
        }
    }
}

/// What the test SMTP server got: each message's DATA.
#[derive(Clone, Default)]
struct Mailbox(Arc<Mutex<Vec<String>>>);

/// A minimal SMTP server on 127.0.0.1:0 (EHLO, MAIL, RCPT, DATA, RSET, NOOP,
/// QUIT) answering the end of the n-th DATA with `answers[n]` (the last one
/// again after that).
async fn smtp_server(answers: Vec<&'static str>) -> (u16, Mailbox) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mailbox = Mailbox::default();
    let mb = mailbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let (mb, answers) = (mb.clone(), answers.clone());
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                w.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_ascii_uppercase();
                    let reply = if cmd.starts_with("EHLO") || cmd.starts_with("HELO") {
                        "250-test\r\n250 8BITMIME\r\n".to_string()
                    } else if cmd.starts_with("DATA") {
                        w.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = String::new();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            data.push_str(&l);
                        }
                        let n = {
                            let mut all = mb.0.lock().unwrap();
                            all.push(data);
                            all.len() - 1
                        };
                        format!("{}\r\n", answers[n.min(answers.len() - 1)])
                    } else if cmd.starts_with("QUIT") {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        "250 ok\r\n".to_string()
                    };
                    w.write_all(reply.as_bytes()).await.unwrap();
                }
            });
        }
    });
    (port, mailbox)
}

/// The attachment named `filename` of a MIME message, decoded.
fn attachment(message: &str, filename: &str) -> Vec<u8> {
    let at = message
        .find(&format!("filename=\"{filename}\""))
        .unwrap_or_else(|| panic!("no {filename} in {message}"));
    let rest = &message[at..];
    let body_start = rest.find("\r\n\r\n").unwrap() + 4;
    let body = &rest[body_start..];
    let end = body.find("\r\n--").unwrap();
    unb64(&body[..end])
}

#[tokio::test]
async fn email_sends_the_pdf_attached_retries_a_4xx_and_rejects_a_5xx() {
    if !have(
        "email_sends_the_pdf_attached_retries_a_4xx_and_rejects_a_5xx",
        true,
    ) {
        return;
    }
    let (ok_port, ok_box) = smtp_server(vec!["451 4.3.0 try later", "250 2.0.0 queued"]).await;
    let (no_port, no_box) = smtp_server(vec!["550 5.7.1 not here"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let email = |port: u16| {
        format!(
            "label:\n  convert: pdf\n  send: email\n  email:\n    to: labels@merchant.example\n    from: ordersync@merchant.example\n    smtp: \"smtp://127.0.0.1:{port}\""
        )
    };
    let (ok, no) = (email(ok_port), email(no_port));
    let path = rules(dir.path(), &mock, &[("mail", &ok), ("refused", &no)]);
    let d = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &label_update("e1", "html", &label_html()),
    )
    .await;
    assert_eq!(status, 202);
    wait_status(&d, "mail", "delivered").await;
    let got = ok_box.0.lock().unwrap().clone();
    assert_eq!(got.len(), 2, "the 451 was tried again");
    for m in &got {
        assert!(
            m.contains("Subject: Shipping label #1001 1Z999AA10123456784\r\n"),
            "{m}"
        );
        assert!(m.contains("To: labels@merchant.example\r\n"), "{m}");
        assert!(m.contains("From: ordersync@merchant.example\r\n"), "{m}");
    }
    let id = |m: &str| {
        m.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        id(&got[0]),
        id(&got[1]),
        "a resend carries the same Message-ID"
    );
    assert!(
        id(&got[0]).ends_with(".label@ordersync>"),
        "{}",
        id(&got[0])
    );
    let pdf = attachment(&got[1], "label-1001.pdf");
    assert!(got[1].contains("Content-Type: application/pdf"));
    assert_eq!(pdf_info(dir.path(), &pdf), (1, "288 x 432 pts".to_string()));
    assert!(pdf_text(dir.path(), &pdf).contains(TRACKING));
    let refused = wait_status(&d, "refused", "rejected").await;
    let why = refused["error"].as_str().unwrap();
    assert!(
        why.starts_with("the SMTP server refused the label: "),
        "{why}"
    );
    assert!(why.contains("not here"), "{why}");
    assert_eq!(
        no_box.0.lock().unwrap().len(),
        1,
        "a 5xx is not tried again"
    );
}

#[tokio::test]
async fn an_html_label_that_tries_the_network_reaches_nothing() {
    if !have("an_html_label_that_tries_the_network_reaches_nothing", true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let spy = Mock::start().await;
    let path = rules(dir.path(), &mock, &[("oms", "label: { convert: pdf }")]);
    let d = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let html = format!(
        r#"<!DOCTYPE html><html><head><link rel="stylesheet" href="{s}/css">
<script src="{s}/js"></script></head><body><p>{TRACKING}</p>
<img src="{s}/img.png"><iframe src="{s}/frame"></iframe><iframe src="file:///etc/passwd"></iframe>
<script>fetch("{s}/fetch"); new Image().src = "{s}/beacon"; navigator.sendBeacon("{s}/send");
var x = new XMLHttpRequest(); x.open("GET", "{s}/xhr"); x.send();</script>
<img src="http://example.com/remote.png"></body></html>"#,
        s = spy.base
    );
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &label_update("e1", "html", html.as_bytes()),
    )
    .await;
    assert_eq!(status, 202);
    let got = mock.wait_for("/oms", 1, WAIT).await;
    let pdf = unb64(got[0].body["order"]["label"]["data"].as_str().unwrap());
    let text = pdf_text(dir.path(), &pdf);
    assert!(text.contains(TRACKING), "{text}");
    assert!(!text.contains("root:"), "a local file was printed: {text}");
    assert_eq!(spy.received().len(), 0, "{:#?}", spy.received());
}

#[tokio::test]
async fn invalid_base64_is_rejected_with_why_while_the_other_destinations_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(
        dir.path(),
        &mock,
        &[("oms", "label: { convert: pdf }"), ("archive", "")],
    );
    let d = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let body = update(
        "e1",
        "label",
        json!({"id": "5001", "name": "#1001",
               "label": {"format": "html", "data": "not*base64", "tracking_number": TRACKING}}),
    );
    let (status, _) = post_update(&client, &d, "shipper", "ship-secret", &body).await;
    assert_eq!(status, 202);
    let rejected = wait_status(&d, "oms", "rejected").await;
    assert!(
        rejected["error"]
            .as_str()
            .unwrap()
            .starts_with("`order.label.data` is not valid base64: "),
        "{rejected}"
    );
    // A destination without `label:` gets the envelope as decided.
    let got = mock.wait_for("/archive", 1, WAIT).await;
    assert_eq!(got[0].body["order"]["label"]["data"], "not*base64");
    wait_status(&d, "archive", "delivered").await;
    assert!(mock.on("/oms").is_empty());
    let id = delivery_id(&d, "oms");
    let resp = client
        .get(d.url(&format!("/api/deliveries/{id}/label")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

/// Processes whose command line mentions `needle`.
fn running_with(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            continue;
        }
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) {
                out.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    out
}

#[tokio::test]
async fn a_label_that_hangs_the_renderer_is_killed_at_the_time_limit() {
    if !have(
        "a_label_that_hangs_the_renderer_is_killed_at_the_time_limit",
        false,
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let mock = Mock::start().await;
    let path = rules(
        dir.path(),
        &mock,
        &[(
            "oms",
            "label: { convert: pdf }\nretry: { attempts: 2, first: 100ms, max: 100ms }",
        )],
    );
    // The extra `retry` key above replaces the default one: write it once.
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "      retry: { attempts: 3, first: 200ms, max: 400ms }\n",
        "",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let d = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &["--label-timeout", "3s"],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    let client = reqwest::Client::new();
    let html = b"<!DOCTYPE html><html><body>stuck<script>while(true){}</script></body></html>";
    let started = Instant::now();
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &label_update("e1", "html", html),
    )
    .await;
    assert_eq!(status, 202);
    let dead = wait_status(&d, "oms", "dead").await;
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "two tries of 3 s each"
    );
    assert_eq!(
        dead["error"],
        "label conversion timed out after 3s; the renderer was killed"
    );
    assert_eq!(d.count("SELECT count(*) FROM attempts"), 2);
    let tmp_text = tmp.to_str().unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = running_with(tmp_text);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < until, "left running: {left:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let leftovers: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(leftovers.is_empty(), "the profile stayed: {leftovers:?}");
    assert!(mock.on("/oms").is_empty());
}

#[tokio::test]
async fn without_chromium_check_warns_at_the_convert_line_and_deliveries_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = rules(
        dir.path(),
        &mock,
        &[("oms", "label: { convert: pdf }"), ("archive", "label: {}")],
    );
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .arg("check")
        .arg(&path)
        .env("PATH", &empty)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let line = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .position(|l| l.contains("convert: pdf"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("rules.yaml:{line}:")),
        "no warning at line {line}: {text}"
    );
    assert!(
        text.contains("`convert: pdf` needs Chromium, which is not on this host"),
        "{text}"
    );
    if on_path("chromium") {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
            .arg("check")
            .arg(&path)
            .args(["--chromium", "/usr/bin/chromium"])
            .env("PATH", &empty)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!text.contains("needs Chromium"), "{text}");
    }
    let d = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &[],
        &[("PATH", empty.to_str().unwrap())],
    );
    let client = reqwest::Client::new();
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &label_update("e1", "html", &label_html()),
    )
    .await;
    assert_eq!(status, 202);
    let rejected = wait_status(&d, "oms", "rejected").await;
    assert_eq!(rejected["error"], "label conversion needs Chromium");
    // `label: {}` asks for no conversion: the HTML goes as received.
    let got = mock.wait_for("/archive", 1, WAIT).await;
    assert_eq!(got[0].body["order"]["label"]["format"], "html");
    assert_eq!(
        unb64(got[0].body["order"]["label"]["data"].as_str().unwrap()),
        label_html()
    );
}

#[tokio::test]
async fn a_url_label_is_fetched_first_and_a_bad_url_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let labels = Mock::start().await;
    labels.respond(|r, _| match r.path.as_str() {
        "/1.zpl" => Reply::new(200, "^XA^FDhello^FS^XZ"),
        _ => Reply::new(404, "no such label"),
    });
    let path = rules(dir.path(), &mock, &[("oms", "label: {}")]);
    let d = Daemon::start(dir.path(), &path, &[]);
    let client = reqwest::Client::new();
    let body = |id: &str, url: &str| {
        update(
            id,
            "label",
            json!({"id": id, "name": format!("#{id}"), "label": {"format": "zpl", "url": url}}),
        )
    };
    let url = format!("{}/1.zpl", labels.base);
    let (status, _) = post_update(&client, &d, "shipper", "ship-secret", &body("7", &url)).await;
    assert_eq!(status, 202);
    let got = mock.wait_for("/oms", 1, WAIT).await;
    assert_eq!(
        unb64(got[0].body["order"]["label"]["data"].as_str().unwrap()),
        b"^XA^FDhello^FS^XZ"
    );
    let missing = format!("{}/gone.zpl", labels.base);
    let (status, _) =
        post_update(&client, &d, "shipper", "ship-secret", &body("8", &missing)).await;
    assert_eq!(status, 202);
    let (status, _) = post_update(
        &client,
        &d,
        "shipper",
        "ship-secret",
        &body("9", "file:///etc/passwd"),
    )
    .await;
    assert_eq!(status, 202);
    let until = Instant::now() + WAIT;
    loop {
        let errors: Vec<String> = d
            .rows("SELECT last_error FROM deliveries WHERE status = 'rejected' ORDER BY id")
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect();
        if errors.len() == 2 {
            assert_eq!(
                errors,
                [
                    format!("fetching the label: {missing} answered 404"),
                    "the label url `file:///etc/passwd` is not http or https".to_string()
                ]
            );
            break;
        }
        assert!(Instant::now() < until, "{errors:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
