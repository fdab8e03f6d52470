//! A throwaway PostgreSQL cluster for the store's tests: `initdb` into a temp
//! directory, the server on a Unix socket there (no TCP port), `fsync` on.
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

/// Where the cluster's socket is, or why there is none.
static CLUSTER: OnceLock<Result<PathBuf, String>> = OnceLock::new();
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

fn start() -> Result<PathBuf, String> {
    let bin = bin_dir().ok_or(
        "no PostgreSQL server binaries (apt-get install postgresql, or set ORDERSYNC_PG_BIN)",
    )?;
    let root = rustix::process::geteuid().is_root();
    let dir = std::env::temp_dir().join(format!("ordersync-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let data = dir.join("data");
    let run = |mut c: Command, what: &str| -> Result<(), String> {
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
    };
    if root {
        let mut chown = Command::new("chown");
        chown.args(["postgres:postgres"]).arg(&dir);
        run(chown, "chown")?;
    }
    let data_s = data.to_str().ok_or("temp dir is not UTF-8")?;
    let dir_s = dir.to_str().ok_or("temp dir is not UTF-8")?;
    run(
        as_owner(
            &bin.join("initdb"),
            &["-D", data_s, "-U", "postgres", "-A", "trust", "-E", "UTF8"],
            root,
        ),
        "initdb",
    )?;
    let options = format!("-k {dir_s} -c listen_addresses='' -c fsync=on -c max_connections=200");
    let log = dir.join("server.log");
    run(
        as_owner(
            &bin.join("pg_ctl"),
            &[
                "-D",
                data_s,
                "-o",
                &options,
                "-l",
                log.to_str().unwrap_or("server.log"),
                "-w",
                "start",
            ],
            root,
        ),
        "pg_ctl start",
    )?;
    // The watcher: once this process is gone, stop the server, remove it all.
    let stop = format!(
        "while [ -d /proc/{pid} ]; do sleep 1; done; {pg_ctl} -D {data_s} -m immediate stop >/dev/null 2>&1; rm -rf {dir_s}",
        pid = std::process::id(),
        pg_ctl = bin.join("pg_ctl").display(),
    );
    as_owner(Path::new("/bin/sh"), &["-c", &stop], root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("watcher: {e}"))?;
    Ok(dir)
}

/// The URL of a new, empty database on the test cluster, or why there is no
/// cluster here (the caller prints it as the reason it was skipped).
pub(crate) async fn database() -> Result<String, String> {
    let socket = CLUSTER.get_or_init(start).clone()?;
    let name = format!("t{}", NEXT_DB.fetch_add(1, Ordering::Relaxed));
    let host = socket.to_str().ok_or("temp dir is not UTF-8")?.to_string();
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
