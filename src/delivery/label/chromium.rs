//! HTML labels printed to PDF by headless Chromium, treating the HTML as
//! hostile: one short-lived browser per label with a fresh profile in a
//! private temporary directory, the network closed (every connection goes to
//! a proxy on 127.0.0.1:9 that is not there, no name resolves, WebRTC off;
//! the page's own Content-Security-Policy from [`super::for_printing`] blocks
//! the rest), a time limit after which the whole process group is killed,
//! and at most a few at once.
//!
//! One process per label was measured against the goals before anything more
//! clever was built (see `BENCHMARKS.md`, "Shipping labels").

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

/// Why a conversion did not come out; both are tried again like a delivery.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The time limit passed; the browser was killed.
    #[error("label conversion timed out after {0:?}; the renderer was killed")]
    TimedOut(Duration),
    /// Chromium failed or wrote no PDF.
    #[error("label conversion failed: {0}")]
    Failed(String),
}

/// Finds Chromium: `explicit` (`--chromium PATH`) if given, else `chromium`
/// or `chromium-browser` on `path` (the `PATH` variable).
pub fn find(explicit: Option<&Path>, path: Option<&OsStr>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return is_executable(p).then(|| p.to_path_buf());
    }
    let path = path?;
    for dir in std::env::split_paths(path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Some(candidate);
            }
        }
    }
    None
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The renderer: where Chromium is, its time limit, how many run at once.
pub struct Renderer {
    program: PathBuf,
    timeout: Duration,
    permits: Semaphore,
}

static RUNS: AtomicU64 = AtomicU64::new(0);

impl Renderer {
    /// A renderer running `program`, each conversion killed after `timeout`,
    /// `concurrency` at once.
    pub fn new(program: PathBuf, timeout: Duration, concurrency: usize) -> Renderer {
        Renderer {
            program,
            timeout,
            permits: Semaphore::new(concurrency.max(1)),
        }
    }

    /// The Chromium it runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Prints `html` (already [`super::for_printing`]) to PDF.
    pub async fn render(&self, html: &[u8]) -> Result<Vec<u8>, RenderError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| RenderError::Failed("the renderer is shutting down".to_string()))?;
        let dir = Scratch::create()
            .map_err(|e| RenderError::Failed(format!("cannot make a temporary directory: {e}")))?;
        let page = dir.0.join("label.html");
        let out = dir.0.join("label.pdf");
        let log = dir.0.join("chromium.log");
        std::fs::write(&page, html)
            .map_err(|e| RenderError::Failed(format!("cannot write the label: {e}")))?;
        let stderr = std::fs::File::create(&log)
            .map_err(|e| RenderError::Failed(format!("cannot write the log: {e}")))?;
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(args(&dir.0.join("profile"), &out, &page))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            // Chromium's own temporary files go in here too, and go with it.
            .env("TMPDIR", &dir.0)
            // Its own process group, so the browser and every helper it
            // starts can be killed at once.
            .process_group(0)
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            RenderError::Failed(format!("cannot start {}: {e}", self.program.display()))
        })?;
        let group = Group(
            child
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(rustix::process::Pid::from_raw),
        );
        let waited = tokio::time::timeout(self.timeout, child.wait()).await;
        // Whatever happened, nothing of this browser stays running.
        drop(group);
        let status = match waited {
            Err(_) => {
                let _ = child.kill().await;
                return Err(RenderError::TimedOut(self.timeout));
            }
            Ok(Err(e)) => return Err(RenderError::Failed(format!("waiting for Chromium: {e}"))),
            Ok(Ok(status)) => status,
        };
        let pdf = std::fs::read(&out).unwrap_or_default();
        if status.success() && pdf.starts_with(b"%PDF-") {
            return Ok(pdf);
        }
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        let last = said
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string();
        Err(RenderError::Failed(format!(
            "Chromium exited with {status} and no PDF{}",
            if last.is_empty() {
                String::new()
            } else {
                format!(": {last}")
            }
        )))
    }
}

/// Chromium's command line for one label.
pub fn args(profile: &Path, out: &Path, page: &Path) -> Vec<std::ffi::OsString> {
    let mut a: Vec<std::ffi::OsString> = [
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--mute-audio",
        // The network, closed: every request goes to a proxy that is not
        // there (loopback too), no host name resolves, and WebRTC may not
        // reach around the proxy.
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--no-pdf-header-footer",
    ]
    .iter()
    .map(Into::into)
    .collect();
    // Chromium refuses to run its sandbox as root.
    if running_as_root() {
        a.push("--no-sandbox".into());
    }
    let mut flag = |name: &str, p: &Path| {
        let mut s = std::ffi::OsString::from(name);
        s.push(p.as_os_str());
        a.push(s);
    };
    flag("--user-data-dir=", profile);
    flag("--print-to-pdf=", out);
    flag("file://", page);
    a
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A process group, killed when dropped.
struct Group(Option<rustix::process::Pid>);

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            // The group this renderer made (`process_group(0)`: its id is the
            // browser's pid), so nothing else is touched. It fails harmlessly
            // if the group is gone.
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    }
}

/// A private temporary directory (mode 0700), removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> std::io::Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt as _;
        let n = RUNS.fetch_add(1, Ordering::Relaxed);
        // Short: Chromium makes its sockets under here (TMPDIR), and a Unix
        // socket's path has at most 108 bytes.
        let dir = std::env::temp_dir().join(format!(
            "osl-{}-{n}-{:04x}",
            std::process::id(),
            fastrand::u16(..)
        ));
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // A helper killed a moment ago may still be closing its files.
        for _ in 0..5 {
            if std::fs::remove_dir_all(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!(dir = %self.0.display(), "could not remove a label's temporary directory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_chromium_on_the_path_or_where_told() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("chromium");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        assert_eq!(find(None, Some(dir.path().as_os_str())), None);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find(None, Some(dir.path().as_os_str())), Some(bin.clone()));
        assert_eq!(find(Some(&bin), None), Some(bin.clone()));
        assert_eq!(find(Some(&dir.path().join("nope")), None), None);
        assert_eq!(find(None, None), None);
    }

    #[test]
    fn the_command_line_closes_the_network_and_uses_a_fresh_profile() {
        let a = args(
            Path::new("/t/p"),
            Path::new("/t/o.pdf"),
            Path::new("/t/l.html"),
        );
        let a: Vec<String> = a.iter().map(|s| s.to_string_lossy().into_owned()).collect();
        for want in [
            "--headless",
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--user-data-dir=/t/p",
            "--print-to-pdf=/t/o.pdf",
            "--no-pdf-header-footer",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} missing from {a:?}");
        }
        assert_eq!(a.last().map(String::as_str), Some("file:///t/l.html"));
    }
}
