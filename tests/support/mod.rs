//! Helpers for the tests that run the real daemon: the `ordersync` binary on
//! port 0 with a SQLite file in a temp dir, and local HTTP servers standing in
//! for the store, the marketplaces and the supplier.

#![allow(dead_code)]

pub mod browser;
pub mod pg_cluster;
pub mod text_rows;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// An environment value replaced by the log file's `device:inode`, as systemd
/// sets `JOURNAL_STREAM` when standard error is the journal.
pub const LOG_DEV_INO: &str = "<log file dev:ino>";

/// The `ordersync serve` process.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its database file.
    pub db: PathBuf,
    /// Its standard error (the log), once it has stopped.
    pub log: PathBuf,
    /// The PostgreSQL database it runs on instead, if any.
    pub shared: Option<String>,
}

/// Whether the daemon tests run on PostgreSQL (`ORDERSYNC_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("ORDERSYNC_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// Runs `f` on a runtime of its own, off the test's (the helpers are sync).
fn off_runtime<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}

/// On PostgreSQL, the database of the daemon kept in `dir` (made at its first start).
fn pg_store(dir: &Path) -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let kept = dir.join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&kept) {
        return Some(url);
    }
    let url = off_runtime(pg_cluster::database())
        .unwrap_or_else(|why| panic!("ORDERSYNC_TEST_STORE=postgres, but: {why}"));
    std::fs::write(&kept, &url).unwrap();
    Some(url)
}

/// Every row of `sql` on a PostgreSQL database, as text (`text_rows.rs`).
pub fn pg_rows(url: &str, sql: &str) -> Vec<Vec<Option<String>>> {
    let (url, sql) = (url.to_string(), sql.to_string());
    off_runtime(async move {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        text_rows::postgres(&client, &sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    })
}

impl Daemon {
    /// Starts the daemon on `rules` with its database in `dir`, on a free
    /// port, plus extra flags.
    pub fn start(dir: &Path, rules: &Path, extra: &[&str]) -> Daemon {
        Daemon::start_at(dir, rules, "127.0.0.1:0", extra)
    }

    /// Starts the daemon listening on `listen`.
    pub fn start_at(dir: &Path, rules: &Path, listen: &str, extra: &[&str]) -> Daemon {
        Daemon::start_with(dir, rules, listen, extra, &[])
    }

    /// Starts the daemon with extra environment variables.
    pub fn start_with(
        dir: &Path,
        rules: &Path,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        let db = dir.join("ordersync.db");
        // With ORDERSYNC_TEST_STORE=postgres, the daemon of `dir` runs on a
        // database of the test cluster instead (the same one at each start).
        let shared = (!extra.contains(&"--db")).then(|| pg_store(dir)).flatten();
        let log = dir.join(format!("daemon-{}.log", fastrand::u32(..)));
        let log_file = std::fs::File::create(&log).unwrap();
        let dev_ino = {
            use std::os::unix::fs::MetadataExt as _;
            let m = log_file.metadata().unwrap();
            format!("{}:{}", m.dev(), m.ino())
        };
        let env: Vec<(&str, &str)> = env
            .iter()
            .map(|(k, v)| {
                (
                    *k,
                    if *v == LOG_DEV_INO {
                        dev_ino.as_str()
                    } else {
                        *v
                    },
                )
            })
            .collect();
        let mut command = Command::new(env!("CARGO_BIN_EXE_ordersync"));
        command.arg("serve").arg("--rules").arg(rules);
        // A test that names the store (a PostgreSQL URL) passes `--db` itself.
        match &shared {
            Some(url) => {
                command.args(["--db", url]);
                // A killed daemon's poll schedule passes on after its lease:
                // short, so a test restarting one waits little.
                if !extra.contains(&"--lease") {
                    command.args(["--lease", "2s"]);
                }
            }
            None if !extra.contains(&"--db") => {
                command.arg("--db").arg(&db);
            }
            None => {}
        }
        let mut child = command
            .args(["--listen", listen])
            .args(extra)
            .env("ORDERSYNC_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("the ordersync binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let Some(base) = line.trim().strip_prefix("ordersync listening on ") else {
            let _ = child.kill();
            panic!(
                "the daemon did not start: {line:?}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        };
        Daemon {
            base: base.to_string(),
            child,
            db,
            log,
            shared,
        }
    }

    /// Its store, as `--db` names it.
    pub fn store(&self) -> ordersync::store::Location {
        match &self.shared {
            Some(url) => ordersync::store::Location::Postgres(url.clone()),
            None => ordersync::store::Location::Sqlite(self.db.clone()),
        }
    }

    /// A URL on the daemon.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (`STOP`, `CONT`, ...).
    pub fn signal(&self, signal: &str) {
        Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, and wait up to `within` for it to exit.
    pub fn terminate(&mut self, within: Duration) -> Option<ExitStatus> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Waits up to `within` for the process to end by itself.
    pub fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// A read-only connection to its database (SQLite only).
    pub fn sql(&self) -> rusqlite::Connection {
        assert!(
            self.shared.is_none(),
            "this test reads the SQLite file itself; it runs on SQLite only"
        );
        let c = rusqlite::Connection::open_with_flags(
            &self.db,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        c.busy_timeout(Duration::from_secs(5)).unwrap();
        c
    }

    /// Every row of a query, on either store, each value as text (`NULL` as
    /// `None`; bodies as the UTF-8 text they hold).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match &self.shared {
            Some(url) => pg_rows(url, sql),
            None => text_rows::sqlite(&self.sql(), sql),
        }
    }

    /// What the store kept of every attempt that got a response: its
    /// request (or nothing) and its response, joined by `,`.
    pub fn attempts_kept(&self) -> String {
        let kept: Vec<String> = self
            .rows("SELECT request, response FROM attempts ORDER BY id")
            .into_iter()
            .filter_map(|r| {
                Some(format!(
                    "{}{}",
                    r[0].clone().unwrap_or_default(),
                    r[1].clone()?
                ))
            })
            .collect();
        assert!(!kept.is_empty(), "no attempt kept a response");
        kept.join(",")
    }

    /// The first value of a query's first row, as text.
    pub fn text(&self, sql: &str) -> Option<String> {
        self.rows(sql).into_iter().next()?.into_iter().next()?
    }

    /// One number from a query, on either store.
    pub fn count(&self, sql: &str) -> i64 {
        if let Some(url) = &self.shared {
            let rows = pg_rows(url, sql);
            return rows[0][0].as_deref().unwrap_or("0").parse().unwrap();
        }
        self.sql().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request a mock destination received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The path.
    pub path: String,
    /// The query string, without `?` (empty when none).
    pub query: String,
    /// Headers by lower-case name.
    pub headers: HashMap<String, String>,
    /// The JSON body.
    pub body: serde_json::Value,
    /// The body as sent.
    pub raw: Vec<u8>,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

/// What a mock answers.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The body.
    pub body: String,
    /// How long to wait before answering.
    pub delay: Duration,
    /// Extra response headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A status with a body.
    pub fn new(status: u16, body: &str) -> Reply {
        Reply {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
            headers: Vec::new(),
        }
    }
}

type Responder = Box<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

struct MockState {
    received: Mutex<Vec<Received>>,
    responder: Mutex<Responder>,
}

/// A local HTTP server that records every request and answers as told.
#[derive(Clone)]
pub struct Mock {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<MockState>,
}

impl Mock {
    /// Starts a mock answering 200 `{}` to everything, on the current runtime.
    pub async fn start() -> Mock {
        let state = Arc::new(MockState {
            received: Mutex::new(Vec::new()),
            responder: Mutex::new(Box::new(|_, _| Reply::new(200, "{}"))),
        });
        let app = Router::new().fallback(record).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Mock {
            base: format!("http://{addr}"),
            state,
        }
    }

    /// Sets how it answers: given the request and how many came before it on that path.
    pub fn respond(&self, f: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static) {
        *self.state.responder.lock().unwrap() = Box::new(f);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// The requests so far on one path.
    pub fn on(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Waits until `n` requests have come to `path`; panics after `within`.
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Received> {
        let until = Instant::now() + within;
        loop {
            let got = self.on(path);
            if got.len() >= n {
                return got;
            }
            if Instant::now() > until {
                panic!(
                    "expected {n} requests to {path} within {within:?}, got {}: {got:#?}",
                    got.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn record(
    State(state): State<Arc<MockState>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let received = Received {
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        raw: body.to_vec(),
        at: Instant::now(),
    };
    let reply = {
        let mut all = state.received.lock().unwrap();
        let before = all.iter().filter(|r| r.path == received.path).count();
        all.push(received.clone());
        (state.responder.lock().unwrap())(&received, before)
    };
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap(),
        [("content-type", "application/json")],
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    resp
}

/// GETs a daemon URL with the admin token; answers the status and body text.
pub async fn get_with_token(
    client: &reqwest::Client,
    daemon: &Daemon,
    path: &str,
    token: &str,
) -> (u16, String) {
    let resp = client
        .get(daemon.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// One sample's value from Prometheus text: `name{labels}` exactly as written.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Signs a canonical webhook body as a sender does.
pub fn sign(secret: &str, body: &str) -> String {
    ordersync::ingress::signature::sign(secret.as_bytes(), body.as_bytes())
}

/// Signs a Shopify webhook body as Shopify does.
pub fn sign_shopify(secret: &str, body: &str) -> String {
    ordersync::ingress::signature::sign_shopify(secret.as_bytes(), body.as_bytes())
}

/// POSTs a signed canonical update; answers the status and the JSON body.
pub async fn post_update(
    client: &reqwest::Client,
    daemon: &Daemon,
    channel: &str,
    secret: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let resp = client
        .post(daemon.url(&format!("/webhooks/{channel}")))
        .header("X-Ordersync-Signature", sign(secret, body))
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// Posts a signed canonical update until it is answered 2xx, as a sender
/// that retries does (the same body, the same id); answers how many tries
/// were refused (5xx, 429) or cut off. Panics past `deadline`.
pub async fn send_until_accepted(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &str,
    deadline: Instant,
) -> usize {
    let mut refused = 0;
    loop {
        assert!(Instant::now() < deadline, "ran out of time sending {body}");
        let sent = client
            .post(url)
            .header("X-Ordersync-Signature", sign(secret, body))
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return refused,
            Ok(r) => {
                let s = r.status();
                assert!(s.is_server_error() || s == 429, "{s}");
            }
            Err(_) => {}
        }
        refused += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A canonical update as JSON text.
pub fn update(id: &str, event: &str, order: serde_json::Value) -> String {
    serde_json::json!({ "id": id, "event": event, "order": order }).to_string()
}
