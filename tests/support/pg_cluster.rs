//! A throwaway PostgreSQL cluster for the tests of the store (in the library,
//! as `store::pg::testdb`) and of the daemon (`tests/`, as
//! `support::pg_cluster`): `initdb` into a temp directory, the server on a Unix socket there (no TCP port), `fsync` on.
//! One cluster per test process, one fresh database per test. The server is
//! stopped, and its directory removed, by a watcher that waits for the test
//! process to exit.
//!
//! The binaries are PostgreSQL's from Debian (`apt-get install postgresql`,
//! as `.ci/run` does): `$ORDERSYNC_PG_BIN`, else the newest
//! `/usr/lib/postgresql/*/bin`. As root, the server runs as the `postgres`
//! user (it refuses root). Without them, [`database`] says why and the test
//! returns early, which it prints on its own line ([`skipped`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The test process's shared cluster, or why there is none.
static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// The directory with `initdb`, `pg_ctl` and `postgres`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ORDERSYNC_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// `program args` as the cluster's owner (`postgres` when we are root).
fn as_owner(program: &Path, args: &[&str], root: bool) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

/// A cluster of the test process: its directory (data and socket) and how
/// to run its programs.
pub(crate) struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    root: bool,
}

/// Runs `c`; its output is the error when it fails.
fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

static NEXT_CLUSTER: AtomicUsize = AtomicUsize::new(0);

impl Cluster {
    /// A new cluster, started.
    pub(crate) fn new() -> Result<Cluster, String> {
        let bin = bin_dir().ok_or(
            "no PostgreSQL server binaries (apt-get install postgresql, or set ORDERSYNC_PG_BIN)",
        )?;
        let root = rustix::process::geteuid().is_root();
        let dir = std::env::temp_dir().join(format!(
            "ordersync-pg-{}-{}",
            std::process::id(),
            NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if root {
            let mut chown = Command::new("chown");
            chown.args(["postgres:postgres"]).arg(&dir);
            run(chown, "chown")?;
        }
        let cluster = Cluster { dir, bin, root };
        let data = cluster.path("data")?;
        let made = run(
            as_owner(
                &cluster.bin.join("initdb"),
                &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8"],
                root,
            ),
            "initdb",
        )
        .and_then(|()| cluster.start());
        if let Err(why) = made {
            let _ = std::fs::remove_dir_all(&cluster.dir);
            return Err(why);
        }
        // The watcher: once this process is gone, stop the server, remove it all.
        let stop = format!(
            "while [ -d /proc/{pid} ]; do sleep 1; done; {pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = cluster.bin.join("pg_ctl").display(),
            dir = cluster.path("")?,
        );
        as_owner(Path::new("/bin/sh"), &["-c", &stop], root)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("watcher: {e}"))?;
        Ok(cluster)
    }

    fn path(&self, name: &str) -> Result<String, String> {
        let p = if name.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(name)
        };
        p.to_str()
            .map(str::to_string)
            .ok_or_else(|| "temp dir is not UTF-8".to_string())
    }

    /// Starts the server (again), waiting until it takes connections.
    pub(crate) fn start(&self) -> Result<(), String> {
        let options = format!(
            "-k {} -c listen_addresses='' -c fsync=on -c max_connections=200",
            self.path("")?
        );
        let (data, log) = (self.path("data")?, self.path("server.log")?);
        run(
            as_owner(
                &self.bin.join("pg_ctl"),
                &["-D", &data, "-o", &options, "-l", &log, "-w", "start"],
                self.root,
            ),
            "pg_ctl start",
        )
    }

    /// Stops the server the way a crash or a restart does (`immediate`).
    pub(crate) fn stop(&self) -> Result<(), String> {
        let data = self.path("data")?;
        run(
            as_owner(
                &self.bin.join("pg_ctl"),
                &["-D", &data, "-m", "immediate", "-w", "stop"],
                self.root,
            ),
            "pg_ctl stop",
        )
    }

    /// The URL of a new, empty database on this cluster.
    pub(crate) async fn database(&self) -> Result<String, String> {
        let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
        let host = self.path("")?;
        let admin = format!("host={host} user=postgres dbname=postgres");
        let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("connect to the test cluster: {e}"))?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("CREATE DATABASE: {e}"))?;
        Ok(format!("postgres://postgres@{}/{name}", url_escape(&host)))
    }
}

/// The URL of a new, empty database on the test process's shared cluster,
/// or why there is no cluster here (the caller prints it as the reason it
/// was skipped).
pub(crate) async fn database() -> Result<String, String> {
    match CLUSTER.get_or_init(Cluster::new) {
        Ok(cluster) => cluster.database().await,
        Err(why) => Err(why.clone()),
    }
}

/// [`database`], or `None` once [`skipped`] said why test `test` did not run.
pub(crate) async fn database_for(test: &str) -> Option<String> {
    match database().await {
        Ok(url) => Some(url),
        Err(why) => {
            skipped(test, &why);
            None
        }
    }
}

/// A socket directory as a URL's host (`/` escaped).
fn url_escape(path: &str) -> String {
    path.replace('%', "%25").replace('/', "%2F")
}

/// Prints why a PostgreSQL test did not run, on its own line. Where a
/// server is promised (`ORDERSYNC_PG_REQUIRED=1`, as `.ci/run` sets after
/// installing one), not running is a failure instead.
pub(crate) fn skipped(test: &str, why: &str) {
    assert!(
        std::env::var_os("ORDERSYNC_PG_REQUIRED").is_none_or(|v| v != "1"),
        "{test} needs PostgreSQL (ORDERSYNC_PG_REQUIRED=1): {why}"
    );
    println!("skipped {test}: {why}");
}
