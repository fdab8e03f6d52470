//! The command line (SPEC 7): clap types only.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Keeps e-commerce orders in sync between sales channels, by rules.
#[derive(Debug, Parser)]
#[command(name = "ordersync", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: take updates in, decide them, deliver them.
    Serve {
        /// The rules file or directory.
        #[arg(long, default_value = "rules.yaml")]
        rules: PathBuf,
        /// The SQLite database (default `ordersync.db`, or `$STATE_DIRECTORY/ordersync.db`
        /// under systemd).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Where to listen (port 0 picks a free port and prints it).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The largest webhook body accepted, in bytes; larger ones get 413.
        #[arg(long, default_value_t = 2 * 1024 * 1024)]
        max_body_bytes: usize,
        /// How long SIGTERM waits for work in flight before exiting (e.g. `20s`).
        #[arg(long, default_value = "20s", value_parser = duration_arg)]
        shutdown_timeout: std::time::Duration,
        /// Delivery requests in flight at once, across all destinations.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Do not watch the rules file: reload only on SIGHUP.
        #[arg(long)]
        no_watch: bool,
    },
    /// Validate a rules file or directory; list every error; exit 1 if any.
    Check {
        /// The rules file or directory.
        #[arg(default_value = "rules.yaml")]
        path: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Run the rules' tests; exit 1 if any fails.
    Test {
        /// The rules file or directory.
        #[arg(default_value = "rules.yaml")]
        path: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Decide one order offline and print each destination's decision and why.
    Explain {
        /// `[RULES] ORDER.json`: the rules (default `rules.yaml`) and the order, or a
        /// canonical update `{"event", "order"}`; `-` reads standard input.
        #[arg(num_args = 1..=2, required = true, value_names = ["RULES", "ORDER.json"])]
        paths: Vec<PathBuf>,
        /// The source channel.
        #[arg(long)]
        from: String,
        /// The event (default: the update's own, else `created`).
        #[arg(long)]
        event: Option<String>,
        /// The time `now()` returns (RFC 3339; default: the current time).
        #[arg(long)]
        now: Option<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    ordersync::rules::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration such as 500ms, 20s or 1m"))
}
