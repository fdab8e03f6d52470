//! Hot reload (SPEC 6.4): a saved rules file takes effect without a restart,
//! or is refused and the rules in force keep running.
//!
//! Every trigger (a change seen in the rules file's directory, SIGHUP, the
//! periodic re-hash) goes through [`Reloader::reload`]: read, validate, run the
//! file's `tests`, and only if all pass swap the rule set. Updates already
//! being decided finish with the set they started with (each request holds its
//! own `Arc`). A file whose content is unchanged is a no-op.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc};

use super::Live;
use crate::engine::testing::run_tests;
use crate::rules::{self, RuleSet};
use crate::store::WeakWriter;

/// How long the watcher waits after the last change before reloading, so an
/// editor's several writes make one reload.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// How often the file is re-hashed, for file systems that send no events.
const REHASH_EVERY: Duration = Duration::from_secs(2);

/// What a reload came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reloaded {
    /// A new version is in force.
    Applied(Arc<str>),
    /// The file's content is the version already in force.
    Unchanged(Arc<str>),
    /// Refused; the previous rules keep running.
    Rejected(String),
}

/// Reloads the rules from one path; one reload at a time.
pub struct Reloader {
    path: PathBuf,
    live: Arc<Live>,
    writer: WeakWriter,
    /// The fingerprint of the files at the last attempt, accepted or not.
    seen: Mutex<Option<[u8; 32]>>,
}

impl Reloader {
    /// A reloader for the rules at `path`, whose current set is in `live`.
    pub fn new(path: PathBuf, live: Arc<Live>, writer: WeakWriter) -> Arc<Reloader> {
        let seen = fingerprint(&path);
        Arc::new(Reloader {
            path,
            live,
            writer,
            seen: Mutex::new(seen),
        })
    }

    /// The rules file or directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads, validates and tests the rules file; swaps it in if all pass.
    pub async fn reload(&self, trigger: &str) -> Reloaded {
        let mut seen = self.seen.lock().await;
        *seen = fingerprint(&self.path);
        // systemd (Type=notify): RELOADING, then READY whatever the outcome.
        let mut reloading = vec![sd_notify::NotifyState::Reloading];
        if let Ok(now) = sd_notify::NotifyState::monotonic_usec_now() {
            reloading.push(now);
        }
        super::notify(&reloading);
        let outcome = self.load_and_swap(trigger).await;
        super::notify(&[sd_notify::NotifyState::Ready]);
        outcome
    }

    async fn load_and_swap(&self, trigger: &str) -> Reloaded {
        let path = self.path.clone();
        let has_chromium = self.live.renderer.is_some();
        let loaded = tokio::task::spawn_blocking(move || load_and_test(&path, has_chromium)).await;
        let loaded = loaded.unwrap_or_else(|e| Err(format!("the reload failed: {e}")));
        let rules = match loaded {
            Ok(rules) => Arc::new(rules),
            Err(errors) => {
                tracing::error!(
                    trigger,
                    "rules reload refused; the rules in force keep running:\n{errors}"
                );
                self.live.set_error(Some(errors.clone()));
                self.live.note_reload(trigger, "rejected");
                return Reloaded::Rejected(errors);
            }
        };
        let current = self.live.rules();
        if rules.version == current.version {
            self.live.set_error(None);
            self.live.note_reload(trigger, "unchanged");
            return Reloaded::Unchanged(current.version.clone());
        }
        let noted = match self.writer.upgrade() {
            Ok(w) => w.note_rules(rules.clone()).await,
            Err(e) => Err(e),
        };
        if let Err(e) = noted {
            let message = format!("the new rules could not be recorded in the store: {e}");
            tracing::error!(trigger, "{message}");
            self.live.set_error(Some(message.clone()));
            self.live.note_reload(trigger, "rejected");
            return Reloaded::Rejected(message);
        }
        let version = rules.version.clone();
        self.live.swap(rules);
        self.live.note_reload(trigger, "applied");
        tracing::info!(trigger, from = %current.version, to = %version, "rules reloaded");
        Reloaded::Applied(version)
    }

    /// True if the files differ from what the last attempt read.
    async fn changed(&self) -> bool {
        *self.seen.lock().await != fingerprint(&self.path)
    }
}

/// Loads the rules and runs their tests; the errors as people read them.
fn load_and_test(path: &Path, has_chromium: bool) -> Result<RuleSet, String> {
    let mut rules = rules::load(path).map_err(|errors| rules::render_all(&errors))?;
    rules.note_chromium(has_chromium);
    super::log_warnings(&rules);
    let failed: Vec<String> = run_tests(&rules)
        .into_iter()
        .filter(|t| !t.passed())
        .map(|t| format!("error: test `{}` failed\n  --> {}\n", t.name, t.place))
        .collect();
    if failed.is_empty() {
        Ok(rules)
    } else {
        Err(format!(
            "{}\nerror: rules rejected: {} test{} failed\n",
            failed.join("\n"),
            failed.len(),
            if failed.len() == 1 { "" } else { "s" }
        ))
    }
}

/// A hash of the rules' bytes: the file, or every `*.yaml` in the directory.
fn fingerprint(path: &Path) -> Option<[u8; 32]> {
    let mut h = Sha256::new();
    if path.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(path)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
            .collect();
        names.sort();
        for name in names {
            h.update(name.to_string_lossy().as_bytes());
            h.update(std::fs::read(&name).ok()?);
        }
    } else {
        h.update(std::fs::read(path).ok()?);
    }
    Some(h.finalize().into())
}

/// True for names editors and tools write beside the real file.
fn is_scratch(name: &str) -> bool {
    name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name.ends_with(".tmp")
        || name == "4913"
        || (name.starts_with(".#"))
}

/// Starts the triggers: SIGHUP, and with `watch` the directory watcher and
/// the periodic re-hash. Runs until the runtime stops.
pub fn start(reloader: Arc<Reloader>, watch: bool) {
    let (tx, mut rx) = mpsc::unbounded_channel::<&'static str>();
    if watch {
        watch_files(&reloader, &tx);
    }

    #[cfg(unix)]
    {
        let hup_tx = tx.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP");
                return;
            };
            while hup.recv().await.is_some() {
                let _ = hup_tx.send("SIGHUP");
            }
        });
    }

    tokio::spawn(async move {
        while let Some(mut trigger) = rx.recv().await {
            // Debounce: wait for the writes to settle; a SIGHUP wins the name.
            loop {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(next)) => {
                        if next == "SIGHUP" {
                            trigger = next;
                        }
                    }
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            if trigger != "SIGHUP" && !reloader.changed().await {
                continue;
            }
            reloader.reload(trigger).await;
        }
    });
}

fn watch_files(reloader: &Arc<Reloader>, tx: &mpsc::UnboundedSender<&'static str>) {
    // Watch the directory, not the file: editors save by writing a temp file
    // and renaming it, and Kubernetes swaps a `..data` symlink.
    let dir = if reloader.path.is_dir() {
        reloader.path.clone()
    } else {
        match reloader.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    let watch_tx = tx.clone();
    // Only the rules' own names count (and Kubernetes' `..data` swaps): the
    // database often lives in the same directory, and its every commit would
    // otherwise wake the reloader.
    let own_name = (!reloader.path.is_dir())
        .then(|| reloader.path.file_name().map(|n| n.to_os_string()))
        .flatten();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        let relevant = event.paths.iter().any(|p| {
            let Some(name) = p.file_name() else {
                return false;
            };
            let text = name.to_string_lossy();
            if is_scratch(&text) {
                return false;
            }
            text.starts_with("..")
                || match &own_name {
                    Some(own) => name == own.as_os_str(),
                    None => text.ends_with(".yaml") || text.ends_with(".yml"),
                }
        });
        if relevant {
            let _ = watch_tx.send("file change");
        }
    });
    match watcher {
        Ok(mut w) => {
            use notify::Watcher as _;
            match w.watch(&dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => {
                    // The watcher lives as long as the daemon.
                    std::mem::forget(w);
                }
                Err(e) => tracing::warn!(
                    dir = %dir.display(), error = %e,
                    "cannot watch the rules directory; changes are found by re-hashing every 2 s"
                ),
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot start the file watcher"),
    }

    let rehash = reloader.clone();
    let rehash_tx = tx.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REHASH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if rehash.changed().await {
                let _ = rehash_tx.send("re-hash");
            }
        }
    });
}
