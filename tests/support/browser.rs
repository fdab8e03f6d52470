//! A real headless Chromium driven over WebDriver (chromedriver), for the
//! dashboard tests: a few W3C WebDriver commands over plain HTTP, so the
//! tests need no client crate. `Browser::start` answers `None` (and the test
//! says why it skipped) where Chromium or chromedriver is not installed;
//! `.ci/run` installs both.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value as Json, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    /// Where screenshots are saved.
    pub shots: PathBuf,
}

/// One WebDriver request; its JSON answer.
async fn request(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Json>,
) -> Json {
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let text = req.send().await.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(Json::Null)
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` when either is missing.
    pub async fn start(shots: &Path) -> Option<Browser> {
        let driver_bin = find_program(&["chromedriver"])?;
        let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"])?;
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = client.get(format!("{base}/status")).send().await;
            if let Ok(r) = ready
                && let Ok(text) = r.text().await
                && serde_json::from_str::<Json>(&text).is_ok_and(|j| j["value"]["ready"] == true)
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,1000"],
            },
        }}});
        let r = request(
            &client,
            reqwest::Method::POST,
            &format!("{base}/session"),
            Some(&caps),
        )
        .await;
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_string();
        std::fs::create_dir_all(shots).unwrap();
        Some(Browser {
            driver,
            base,
            session,
            client,
            shots: shots.to_path_buf(),
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Json>) -> Json {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let r = request(&self.client, method, &url, body.as_ref()).await;
        if r["value"]["error"].is_string() {
            panic!("WebDriver {path}: {}", r["value"]);
        }
        r["value"].clone()
    }

    /// Opens a URL.
    pub async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The first element matching a CSS selector, waiting up to 5 s for it.
    pub async fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let query = json!({"using": "css selector", "value": css});
            let r = request(&self.client, reqwest::Method::POST, &url, Some(&query)).await;
            if let Some(id) = r["value"][ELEMENT].as_str() {
                return id.to_string();
            }
            if started.elapsed() > Duration::from_secs(5) {
                let source = self.cmd(reqwest::Method::GET, "/source", None).await;
                panic!(
                    "no element `{css}` on {}:\n{}",
                    self.url().await,
                    source.as_str().unwrap_or("")
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether an element matching `css` is on the page now.
    pub async fn has(&self, css: &str) -> bool {
        let r = self
            .cmd(
                reqwest::Method::POST,
                "/elements",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        r.as_array().is_some_and(|a| !a.is_empty())
    }

    /// Clicks an element.
    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Types into an element.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// An element's visible text; found again if the page changed under it
    /// (a form's navigation may still be landing).
    pub async fn text(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let e = self.find(css).await;
            let url = format!("{}/session/{}/element/{e}/text", self.base, self.session);
            let r = request(&self.client, reqwest::Method::GET, &url, None).await;
            if let Some(t) = r["value"].as_str() {
                return t.to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "cannot read `{css}`: {r}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the page as `name.png` in the screenshots folder.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let b64 = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // End the session (which closes Chromium) before stopping the driver.
        use std::io::{Read as _, Write as _};
        let addr = self.base.trim_start_matches("http://").to_string();
        if let Ok(mut conn) = std::net::TcpStream::connect(&addr) {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = conn.write_all(request.as_bytes());
            let mut answer = Vec::new();
            let _ = conn.read_to_end(&mut answer);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
