//! Hot reload against the running daemon (SPEC 6.4): every way a rules file
//! is saved takes effect within a second, checked by the routing of the next
//! update; bad files are refused and the rules in force keep routing.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};
use support::{Daemon, Mock, post_update, update};

/// Rules importing `market` orders into `shop`, tagged with `tag`. `extra`
/// is appended (a broken line, a test).
fn rules(mock: &Mock, tag: &str, extra: &str) -> String {
    format!(
        r#"version: 1
channels:
  shop:
    role: commerce_platform
    deliver: {{ url: "{base}/shop/orders" }}
  market:
    role: marketplace
    webhook: {{ format: ordersync, secret: market-secret }}
rules:
  market:
    attributes:
      tags: {tag}
{extra}"#,
        base = mock.base
    )
}

async fn ready(client: &reqwest::Client, daemon: &Daemon) -> Json {
    let r = client.get(daemon.url("/readyz")).send().await.unwrap();
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

/// Waits until `/readyz` shows a version other than `old`; answers it and how long it took.
async fn new_version(client: &reqwest::Client, daemon: &Daemon, old: &str) -> (String, Duration) {
    let started = Instant::now();
    loop {
        let v = ready(client, daemon).await["rules_version"]
            .as_str()
            .unwrap()
            .to_string();
        if v != old {
            return (v, started.elapsed());
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the rules were not reloaded:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends one update and answers the tags the store received with it.
async fn routed_tags(client: &reqwest::Client, daemon: &Daemon, mock: &Mock, n: usize) -> Json {
    let body = update(
        &format!("evt-{n}"),
        "created",
        json!({"id": format!("M-{n}"), "tags": []}),
    );
    let (status, _) = post_update(client, daemon, "market", "market-secret", &body).await;
    assert_eq!(status, 202);
    let got = mock
        .wait_for("/shop/orders", n, Duration::from_secs(10))
        .await;
    got.into_iter()
        .find(|r| r.body["order"]["id"] == format!("M-{n}"))
        .unwrap()
        .body["order"]["tags"]
        .clone()
}

struct Setup {
    _dir: tempfile::TempDir,
    path: PathBuf,
    mock: Mock,
    daemon: Daemon,
    client: reqwest::Client,
}

async fn setup(extra_flags: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, rules(&mock, "One", "")).unwrap();
    let daemon = Daemon::start(dir.path(), &path, extra_flags);
    Setup {
        path,
        mock,
        daemon,
        client: reqwest::Client::new(),
        _dir: dir,
    }
}

fn version_of(daemon_ready: &Json) -> String {
    daemon_ready["rules_version"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_place_write_takes_effect_within_a_second() {
    let s = setup(&[]).await;
    assert_eq!(
        routed_tags(&s.client, &s.daemon, &s.mock, 1).await,
        json!(["One", "ordersync:ord_1"])
    );
    let old = version_of(&ready(&s.client, &s.daemon).await);
    std::fs::write(&s.path, rules(&s.mock, "Two", "")).unwrap();
    let (new, took) = new_version(&s.client, &s.daemon, &old).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        routed_tags(&s.client, &s.daemon, &s.mock, 2).await,
        json!(["Two", "ordersync:ord_2"])
    );
    // Each decision names the version that made it, and both versions' text is kept.
    let versions: Vec<String> = s
        .daemon
        .rows("SELECT rules_version FROM decisions ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();
    assert_eq!(versions, [old.clone(), new.clone()]);
    let text: String = s
        .daemon
        .text(&format!(
            "SELECT files FROM rules_versions WHERE version = '{}'",
            new.replace('\'', "''")
        ))
        .unwrap();
    assert!(text.contains("tags: Two"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_to_a_temp_file_and_a_rename_as_vim_does() {
    let s = setup(&[]).await;
    let old = version_of(&ready(&s.client, &s.daemon).await);
    let temp = s.path.with_file_name(".rules.yaml.swp");
    std::fs::write(&temp, rules(&s.mock, "Renamed", "")).unwrap();
    std::fs::rename(&temp, &s.path).unwrap();
    let (_, took) = new_version(&s.client, &s.daemon, &old).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        routed_tags(&s.client, &s.daemon, &s.mock, 1).await,
        json!(["Renamed", "ordersync:ord_1"])
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_swap_as_kubernetes_does() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    // rules.yaml -> ..data/rules.yaml, ..data -> ..v1
    let d = dir.path();
    std::fs::create_dir(d.join("..v1")).unwrap();
    std::fs::write(d.join("..v1/rules.yaml"), rules(&mock, "Version1", "")).unwrap();
    symlink("..v1", d.join("..data")).unwrap();
    symlink("..data/rules.yaml", d.join("rules.yaml")).unwrap();
    let daemon = Daemon::start(d, &d.join("rules.yaml"), &[]);
    let client = reqwest::Client::new();
    let old = version_of(&ready(&client, &daemon).await);

    std::fs::create_dir(d.join("..v2")).unwrap();
    std::fs::write(d.join("..v2/rules.yaml"), rules(&mock, "Version2", "")).unwrap();
    symlink("..v2", d.join("..data_tmp")).unwrap();
    std::fs::rename(d.join("..data_tmp"), d.join("..data")).unwrap();
    let (_, took) = new_version(&client, &daemon, &old).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        routed_tags(&client, &daemon, &mock, 1).await,
        json!(["Version2", "ordersync:ord_1"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_when_the_file_is_not_watched() {
    let s = setup(&["--no-watch"]).await;
    let old = version_of(&ready(&s.client, &s.daemon).await);
    std::fs::write(&s.path, rules(&s.mock, "Hup", "")).unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        version_of(&ready(&s.client, &s.daemon).await),
        old,
        "not watched"
    );
    std::process::Command::new("kill")
        .args(["-HUP", &s.daemon.pid().to_string()])
        .status()
        .unwrap();
    let (_, took) = new_version(&s.client, &s.daemon, &old).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(
        routed_tags(&s.client, &s.daemon, &s.mock, 1).await,
        json!(["Hup", "ordersync:ord_1"])
    );
    assert!(
        s.daemon.log_text().contains("trigger=\"SIGHUP\""),
        "{}",
        s.daemon.log_text()
    );
}

/// Writes a bad file, checks it is refused with `expected` in the error and
/// the old rules still route, then writes a good one.
async fn refused(s: &Setup, n: &mut usize, bad: String, expected: &str) {
    let before = ready(&s.client, &s.daemon).await;
    std::fs::write(&s.path, bad).unwrap();
    let started = Instant::now();
    // The previous case's refusal may still show: wait for this one's.
    loop {
        let r = ready(&s.client, &s.daemon).await;
        let error = r["rules_reload_error"].as_str().unwrap_or("");
        if error.contains(expected) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no refusal with {expected:?} reported; the last error: {error}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let after = ready(&s.client, &s.daemon).await;
    assert_eq!(after["status"], "ready");
    assert_eq!(after["rules_version"], before["rules_version"]);
    *n += 1;
    let tags = routed_tags(&s.client, &s.daemon, &s.mock, *n).await;
    assert_eq!(tags[0], "One", "the old rules keep routing");
    assert!(
        s.daemon.log_text().contains("rules reload refused"),
        "{}",
        s.daemon.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_are_refused_and_the_old_rules_keep_routing() {
    let s = setup(&[]).await;
    let mut n = 0;
    let path = s.path.display().to_string();
    // A YAML syntax error.
    refused(
        &s,
        &mut n,
        rules(&s.mock, "Broken", "  shop: [unclosed\n"),
        &format!("error: invalid YAML: unclosed bracket '['\n  --> {path}:13:9"),
    )
    .await;
    // An unknown field in an expression.
    refused(
        &s,
        &mut n,
        rules(&s.mock, "Typo", "    import: total_prce > 1\n"),
        "unknown field `total_prce`",
    )
    .await;
    // A failing test.
    let failing = "tests:\n  - name: tags say Three\n    from: market\n    event: created\n    order: { id: \"1\" }\n    expect:\n      shop: { tags: [Three] }\n";
    refused(
        &s,
        &mut n,
        rules(&s.mock, "Four", failing),
        "test `tags say Three` failed",
    )
    .await;
    // Fixed: accepted, and the error is gone.
    let old = version_of(&ready(&s.client, &s.daemon).await);
    std::fs::write(&s.path, rules(&s.mock, "Three", failing)).unwrap();
    new_version(&s.client, &s.daemon, &old).await;
    let r = ready(&s.client, &s.daemon).await;
    assert!(r.get("rules_reload_error").is_none(), "{r}");
    n += 1;
    assert_eq!(
        routed_tags(&s.client, &s.daemon, &s.mock, n).await[0],
        "Three"
    );
    // No decision was ever made by refused rules.
    let versions = s
        .daemon
        .count("SELECT count(DISTINCT rules_version) FROM decisions");
    assert_eq!(versions, 2);
}

/// `ordersync reload` against the daemon, with the token in the environment.
fn reload_cli(daemon: &Daemon, token: Option<&str>) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"));
    cmd.args(["reload", "--url", &daemon.base])
        .env_remove("ORDERSYNC_ADMIN_TOKEN")
        .env_remove("ORDERSYNC_URL")
        .env_remove("CREDENTIALS_DIRECTORY");
    if let Some(token) = token {
        cmd.env("ORDERSYNC_ADMIN_TOKEN", token);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_ordersync_reload_take_the_same_path_as_a_saved_file() {
    let dir = tempfile::tempdir().unwrap();
    let mock = Mock::start().await;
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, rules(&mock, "One", "")).unwrap();
    let daemon = Daemon::start_with(
        dir.path(),
        &path,
        "127.0.0.1:0",
        &["--no-watch"],
        &[("ORDERSYNC_ADMIN_TOKEN", "s3cret-token")],
    );
    let client = reqwest::Client::new();
    let old = version_of(&ready(&client, &daemon).await);

    // The API: applied at once, so the very next update routes by it.
    std::fs::write(&path, rules(&mock, "Api", "")).unwrap();
    let r = client
        .post(daemon.url("/api/rules/reload"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Json = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["outcome"], "applied");
    let api_version = body["version"].as_str().unwrap().to_string();
    assert_ne!(api_version, old);
    assert_eq!(body["last_reload"]["trigger"], "API");
    assert_eq!(
        routed_tags(&client, &daemon, &mock, 1).await,
        json!(["Api", "ordersync:ord_1"])
    );

    // `ordersync reload` with a bad file: exit 1, the errors, the old rules kept.
    std::fs::write(&path, rules(&mock, "Bad", "    import: total_prce > 1\n")).unwrap();
    let (code, stdout, stderr) = reload_cli(&daemon, Some("s3cret-token"));
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("error: unknown field `total_prce`"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!(
            "error: the daemon refused the new rules; version {api_version} keeps routing\n"
        )),
        "{stderr}"
    );
    let r = client
        .get(daemon.url("/api/rules"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    let status: Json = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(status["version"], api_version.as_str());
    assert_eq!(status["last_reload"]["outcome"], "rejected");
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("unknown field `total_prce`")
    );
    assert_eq!(routed_tags(&client, &daemon, &mock, 2).await[0], "Api");

    // Fixed: exit 0; the same file again is unchanged.
    std::fs::write(&path, rules(&mock, "Cli", "")).unwrap();
    let (code, stdout, stderr) = reload_cli(&daemon, Some("s3cret-token"));
    assert_eq!(code, 0, "{stderr}");
    let cli_version = version_of(&ready(&client, &daemon).await);
    assert_eq!(
        stdout,
        format!("rules reloaded: version {cli_version} is in force\n")
    );
    assert_eq!(routed_tags(&client, &daemon, &mock, 3).await[0], "Cli");
    let (code, stdout, _) = reload_cli(&daemon, Some("s3cret-token"));
    assert_eq!(
        (code, stdout),
        (
            0,
            format!("rules unchanged: version {cli_version} is already in force\n")
        )
    );

    // Without the token: refused, exit 2, nothing reloaded.
    let (code, _, stderr) = reload_cli(&daemon, None);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        "error: the daemon refused the request: this needs `Authorization: Bearer <admin token>` \
         (give the token with --token-file or ORDERSYNC_ADMIN_TOKEN)\n"
    );
    // Nobody listening: exit 2 with where it tried.
    let (code, _, stderr) = {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
            .args(["reload", "--url", "http://127.0.0.1:9"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            (),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("error: cannot reach the daemon at http://127.0.0.1:9: "),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_at_start_runs_the_last_good_rules_from_the_store() {
    let s = setup(&[]).await;
    let good = version_of(&ready(&s.client, &s.daemon).await);
    let mut daemon = s.daemon;
    assert!(daemon.terminate(Duration::from_secs(10)).unwrap().success());
    std::fs::write(
        &s.path,
        rules(&s.mock, "Broken", "    import: total_prce > 1\n"),
    )
    .unwrap();
    let daemon = Daemon::start(daemon.db.parent().unwrap(), &s.path, &[]);
    let r = ready(&s.client, &daemon).await;
    assert_eq!(
        r["rules_version"],
        good.as_str(),
        "the last good rules route"
    );
    assert!(
        r["rules_reload_error"]
            .as_str()
            .unwrap()
            .contains("error: unknown field `total_prce`"),
        "{r}"
    );
    assert!(
        daemon
            .log_text()
            .contains("running the last good version from the store"),
        "{}",
        daemon.log_text()
    );
    assert_eq!(
        routed_tags(&s.client, &daemon, &s.mock, 1).await,
        json!(["One", "ordersync:ord_1"])
    );
    // A good file saved takes over.
    std::fs::write(&s.path, rules(&s.mock, "Fixed", "")).unwrap();
    new_version(&s.client, &daemon, &good).await;
    assert_eq!(
        routed_tags(&s.client, &daemon, &s.mock, 2).await[0],
        "Fixed"
    );
}

#[test]
fn a_bad_file_at_the_first_start_refuses_to_start_with_every_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.yaml");
    std::fs::write(&path, "version: 1\nchannels:\n  shop: { role: seller }\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ordersync"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "text",
            "--rules",
        ])
        .arg(&path)
        .arg("--db")
        .arg(dir.path().join("o.db"))
        .env("ORDERSYNC_LOG", "info")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(&format!("the rules in {} were refused:", path.display())),
        "{log}"
    );
    assert!(log.contains("unknown role `seller`"), "{log}");
    assert!(
        log.contains("has neither `webhook` nor `poll` nor `deliver`"),
        "{log}"
    );
}
