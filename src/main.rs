//! The `ordersync` binary: parse the command line, call into the library, map
//! results to exit codes (0 ok, 1 rejected rules or failed tests, 2 bad usage).

#![forbid(unsafe_code)]

mod admin;
mod cli;

use std::io::Read as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser as _;

use cli::{Cli, Command};
use ordersync::engine::{self, testing};
use ordersync::order::Event;
use ordersync::rules::{self, RuleError, RuleSet};
use ordersync::value::Value;
use ordersync::{condition, report};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `./ordersync.db`, or `$STATE_DIRECTORY/ordersync.db` under systemd.
fn default_db() -> std::path::PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        // systemd may list several directories, separated by colons.
        Some(dirs) => std::env::split_paths(&dirs)
            .next()
            .unwrap_or_default()
            .join("ordersync.db"),
        None => "ordersync.db".into(),
    }
}

fn print_json(v: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Loads rules; on failure prints every error and returns `None`.
fn load_or_report(path: &Path, json: bool) -> Option<RuleSet> {
    match rules::load(path) {
        Ok(r) => Some(r),
        Err(errors) => {
            report_errors(&errors, json);
            None
        }
    }
}

fn report_errors(errors: &[RuleError], json: bool) {
    if json {
        print_json(&report::errors_json(errors));
    } else {
        eprint!("{}", rules::render_all(errors));
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            rules,
            db,
            pool_size,
            lease,
            listen,
            max_body_bytes,
            webhook_rate,
            shutdown_timeout,
            concurrency,
            no_watch,
            admin_token_file,
            log_format,
            retention,
            stuck_after,
            housekeeping_schedule,
            chromium,
            label_concurrency,
            label_timeout,
        } => {
            let admin_token = admin::token(admin_token_file.as_deref())?;
            if admin_token.is_none() && !listen.ip().is_loopback() {
                bail!(
                    "refusing to listen on {listen} without an admin token: the admin API and \
                     /metrics would be open to the network; set ORDERSYNC_ADMIN_TOKEN or \
                     --admin-token-file, or listen on 127.0.0.1"
                );
            }
            ordersync::logging::init(log_format);
            if pool_size == 0 {
                bail!("--pool-size: give at least 1 connection");
            }
            if lease < std::time::Duration::from_secs(1) {
                bail!("--lease: give at least 1s (leases are renewed three times a lease)");
            }
            let config = ordersync::daemon::Config {
                rules,
                db: ordersync::store::Location::of(db.unwrap_or_else(default_db)),
                pool: pool_size,
                lease,
                listen,
                max_body: max_body_bytes,
                webhook_rate,
                shutdown_timeout,
                concurrency,
                watch: !no_watch,
                admin_token,
                housekeeping: ordersync::daemon::jobs::HousekeepingConfig {
                    schedule: housekeeping_schedule,
                    retention,
                    stuck_after,
                },
                labels: ordersync::daemon::LabelConfig {
                    chromium,
                    concurrency: label_concurrency,
                    timeout: label_timeout,
                },
            };
            let runtime = tokio::runtime::Runtime::new().context("cannot start the runtime")?;
            // The caller owns shutdown: SIGTERM or Ctrl-C cancels the token.
            let shutdown = tokio_util::sync::CancellationToken::new();
            let serving = async {
                let signal = shutdown.clone();
                tokio::spawn(async move {
                    ordersync::daemon::signalled().await;
                    signal.cancel();
                });
                ordersync::daemon::serve(config, shutdown).await
            };
            match runtime.block_on(serving) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    tracing::error!("{e:#}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Diff {
            rules,
            db,
            since,
            json,
        } => {
            let Some(candidate) = load_or_report(&rules, json) else {
                return Ok(ExitCode::from(1));
            };
            let db = ordersync::store::Location::of(db.unwrap_or_else(default_db));
            let since = chrono::Utc::now()
                - chrono::Duration::from_std(since).context("--since is too long")?;
            let report = ordersync::diff::diff_store(&db, &candidate, since)?;
            if json {
                print_json(&report.json());
            } else {
                print!("{}", report.text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Reload { admin } => admin::reload(&admin),
        Command::Orders { admin, command } => admin::orders(&admin, &command),
        Command::Connector { admin, command } => admin::connector(&admin, &command),
        Command::Check {
            path,
            json,
            chromium,
        } => {
            let Some(mut rules) = load_or_report(&path, json) else {
                return Ok(ExitCode::from(1));
            };
            let path_var = std::env::var_os("PATH");
            let found = ordersync::delivery::label::chromium::find(
                chromium.as_deref(),
                path_var.as_deref(),
            );
            rules.note_chromium(found.is_some());
            if json {
                print_json(&report::check_json(&rules));
            } else {
                print!(
                    "{}",
                    report::check_text(&path.display().to_string(), &rules)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Test { path, json } => {
            let Some(rules) = load_or_report(&path, json) else {
                return Ok(ExitCode::from(1));
            };
            let results = testing::run_tests(&rules);
            if json {
                print_json(&report::tests_json(&results));
            } else {
                print!("{}", report::tests_text(&results));
            }
            if results.iter().all(|r| r.passed()) {
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::from(1))
            }
        }
        Command::Explain {
            paths,
            from,
            event,
            now,
            json,
        } => {
            let (rules_path, order_path) = match paths.as_slice() {
                [order] => (Path::new("rules.yaml").to_path_buf(), order.clone()),
                [rules, order] => (rules.clone(), order.clone()),
                _ => bail!("give the order file, and optionally the rules before it"),
            };
            let Some(rules) = load_or_report(&rules_path, json) else {
                return Ok(ExitCode::from(1));
            };
            let text = if order_path.as_os_str() == "-" {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("cannot read standard input")?;
                s
            } else {
                std::fs::read_to_string(&order_path)
                    .with_context(|| format!("cannot read `{}`", order_path.display()))?
            };
            let doc = Value::from_json(&text)
                .with_context(|| format!("`{}` is not valid JSON", order_path.display()))?;
            // A canonical update carries its event and the order; a bare order is the order.
            let (order, own_event) = match (doc.get("order"), doc.get("event")) {
                (Some(o @ Value::Object(_)), e) => {
                    (o.clone(), e.and_then(Value::as_str).map(str::to_string))
                }
                _ => (doc.clone(), None),
            };
            if !matches!(order, Value::Object(_)) {
                bail!(
                    "`{}` must hold an order (a JSON object)",
                    order_path.display()
                );
            }
            let event_name = event.or(own_event).unwrap_or_else(|| "created".to_string());
            let event: Event = event_name.parse().map_err(anyhow::Error::msg)?;
            let now = match now {
                Some(t) => condition::parse_timestamp(&t)
                    .with_context(|| format!("invalid --now `{t}`"))?,
                None => chrono::Utc::now(),
            };
            let update = engine::Update {
                source: &from,
                event,
                order: &order,
                now,
            };
            let decisions = match engine::decide(&rules, &update, &[]) {
                Ok(d) => d,
                Err(e) => {
                    let names: Vec<&str> = rules.channels.iter().map(|c| &*c.name).collect();
                    let hint = ordersync::suggest::did_you_mean(&from, names.iter().copied())
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_else(|| format!("; channels are {}", names.join(", ")));
                    bail!("{e}{hint}");
                }
            };
            if json {
                print_json(&report::decisions_json(&decisions));
            } else {
                let id = order.get("id").map(|v| match v {
                    Value::Text(s) => s.to_string(),
                    other => other.to_string(),
                });
                print!(
                    "{}",
                    report::explain_text(&rules, &decisions, id.as_deref().unwrap_or("(no id)"))
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
