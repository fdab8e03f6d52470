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
        /// The store: a SQLite file (default `ordersync.db`, or
        /// `$STATE_DIRECTORY/ordersync.db` under systemd), or a PostgreSQL URL
        /// (`postgres://USER@HOST/DB`) that several daemons share.
        #[arg(long, env = "ORDERSYNC_DB")]
        db: Option<PathBuf>,
        /// On PostgreSQL: connections this daemon keeps open at most.
        #[arg(long, env = "ORDERSYNC_POOL_SIZE", default_value_t = 16)]
        pool_size: usize,
        /// On PostgreSQL: how long a daemon's claim on a delivery lane, or on a
        /// poll schedule or housekeeping, lasts unless renewed; a daemon that
        /// dies or hangs loses them to the others after this long.
        #[arg(long, env = "ORDERSYNC_LEASE", default_value = "15s", value_parser = duration_arg)]
        lease: std::time::Duration,
        /// Where to listen (port 0 picks a free port and prints it).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// The largest webhook body accepted, in bytes; larger ones get 413.
        #[arg(long, default_value_t = 2 * 1024 * 1024)]
        max_body_bytes: usize,
        /// Webhook requests a second per channel; more get 429 with Retry-After (0: no limit).
        #[arg(long, default_value_t = 10_000)]
        webhook_rate: u32,
        /// How long SIGTERM waits for work in flight before exiting (e.g. `20s`).
        #[arg(long, default_value = "20s", value_parser = duration_arg)]
        shutdown_timeout: std::time::Duration,
        /// Delivery requests in flight at once, across all destinations.
        #[arg(long, default_value_t = 256)]
        concurrency: usize,
        /// Do not watch the rules file: reload only on SIGHUP, the API or `ordersync reload`.
        #[arg(long)]
        no_watch: bool,
        /// A file holding the admin token (else `ORDERSYNC_ADMIN_TOKEN`, else
        /// `$CREDENTIALS_DIRECTORY/admin-token`). Without a token the admin API is
        /// open, which is allowed only on a loopback address.
        #[arg(long)]
        admin_token_file: Option<PathBuf>,
        /// Log format: auto (journald under systemd's journal, else text), text, journald, json.
        #[arg(long, default_value = "auto")]
        log_format: ordersync::logging::LogFormat,
        /// How long settled updates keep their raw payload, and delivered deliveries their attempts.
        #[arg(long, default_value = "30d", value_parser = duration_arg)]
        retention: std::time::Duration,
        /// A pending delivery with no progress for this long is marked stuck.
        #[arg(long, default_value = "1h", value_parser = duration_arg)]
        stuck_after: std::time::Duration,
        /// When housekeeping runs (cron with seconds).
        #[arg(long, default_value = "0 * * * * *", value_parser = schedule_arg)]
        housekeeping_schedule: String,
        /// The Chromium that prints HTML labels to PDF (default: `chromium` on `PATH`).
        #[arg(long)]
        chromium: Option<PathBuf>,
        /// HTML labels converted at once, at most.
        #[arg(long, default_value_t = 2)]
        label_concurrency: usize,
        /// How long one label conversion may take before Chromium is killed.
        #[arg(long, default_value = "30s", value_parser = duration_arg)]
        label_timeout: std::time::Duration,
    },
    /// Replay the stored updates of a period through new rules and summarise what would change.
    Diff {
        /// The candidate rules file or directory.
        rules: PathBuf,
        /// The store (default `ordersync.db`, or `$STATE_DIRECTORY/ordersync.db`), or a
        /// PostgreSQL URL; read only, in one snapshot.
        #[arg(long, env = "ORDERSYNC_DB")]
        db: Option<PathBuf>,
        /// How far back to replay (e.g. `7d`, `12h`).
        #[arg(long, default_value = "7d", value_parser = duration_arg)]
        since: std::time::Duration,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Ask the running daemon to reload its rules; exit 1 if it refused them.
    Reload {
        #[command(flatten)]
        admin: Admin,
    },
    /// Order Health from the shell: list problems, show a timeline, act on it.
    Orders {
        #[command(flatten)]
        admin: Admin,
        /// What to do.
        #[command(subcommand)]
        command: OrdersCommand,
    },
    /// A connector's credentials, through the running daemon.
    Connector {
        #[command(flatten)]
        admin: Admin,
        /// What to do.
        #[command(subcommand)]
        command: ConnectorCommand,
    },
    /// Validate a rules file or directory; list every error; exit 1 if any.
    Check {
        /// The rules file or directory.
        #[arg(default_value = "rules.yaml")]
        path: PathBuf,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// The Chromium `convert: pdf` would use (default: `chromium` on `PATH`).
        #[arg(long)]
        chromium: Option<PathBuf>,
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

/// `ordersync orders ...`: each runs against the daemon's admin API.
#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Orders by Order Health status (default: every open problem), newest first.
    List {
        /// problems, all, resolved, ignored, rejected, dead, error, draft, stuck, pending,
        /// delivered or skipped.
        #[arg(long)]
        status: Option<String>,
        /// Only orders from or to this channel.
        #[arg(long)]
        channel: Option<String>,
        /// Text in the order's name, its ids in any channel or the customer's email; or ord_N.
        #[arg(long, short)]
        query: Option<String>,
        /// The page, from 1.
        #[arg(long, default_value_t = 1)]
        page: u32,
        /// Rows a page.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// One order's timeline: updates, decisions with their traces, deliveries and answers.
    Show {
        /// The order (`ord_5` or `5`).
        order: String,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Send a rejected or dead delivery again (same idempotency key).
    Retry {
        /// The delivery id.
        delivery: i64,
    },
    /// Decide the order's newest update again with the rules in force, and deliver it even if unchanged.
    Resync {
        /// The order (`ord_5` or `5`).
        order: String,
    },
    /// Mark a problem resolved: it reopens if it happens again.
    Resolve {
        /// The delivery id (or, with --decision, the decision id of an error or draft).
        id: i64,
        /// The id is a decision's.
        #[arg(long)]
        decision: bool,
    },
    /// Ignore a problem: the same problem on that order and destination stays ignored.
    Ignore {
        /// The delivery id (or, with --decision, the decision id of an error or draft).
        id: i64,
        /// The id is a decision's.
        #[arg(long)]
        decision: bool,
    },
    /// Fill a draft's missing fields and deliver it.
    Complete {
        /// The draft's decision id.
        draft: i64,
        /// `field=value`; the value is read as JSON when it is JSON (12.5, true, "x"), else as text.
        #[arg(long = "set", value_name = "FIELD=VALUE", required = true)]
        set: Vec<String>,
    },
}

/// `ordersync connector ...`.
#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Give a channel (ebay, etsy) a new OAuth refresh token, read from standard
    /// input or a file (never from the command line, where `ps` would show it);
    /// it is stored durably and the channel's waiting deliveries resume.
    SetToken {
        /// The channel.
        channel: String,
        /// A file holding the refresh token (default: standard input).
        #[arg(long, value_name = "PATH")]
        refresh_token_file: Option<PathBuf>,
    },
}

/// How the command line reaches a running daemon.
#[derive(Debug, clap::Args)]
pub struct Admin {
    /// The daemon's address.
    #[arg(long, env = "ORDERSYNC_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A file holding the admin token (else `ORDERSYNC_ADMIN_TOKEN`, else
    /// `$CREDENTIALS_DIRECTORY/admin-token`).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

fn schedule_arg(s: &str) -> Result<String, String> {
    ordersync::rules::parse_schedule(s)
        .map(|_| s.to_string())
        .map_err(|e| format!("`{s}` is not a cron schedule with seconds ({e})"))
}

fn duration_arg(s: &str) -> Result<std::time::Duration, String> {
    ordersync::rules::parse_duration(s)
        .ok_or_else(|| format!("`{s}` is not a duration such as 500ms, 20s, 1m or 30d"))
}
