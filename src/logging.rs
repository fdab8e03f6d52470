//! Logs (SPEC 9) on standard error, through tracing-subscriber, with the
//! level filter from `ORDERSYNC_LOG` (default `info`). tokio-cron-scheduler
//! is held at `warn` unless the filter names it: it reports its own start-up
//! at info.
//!
//! - `text`: for a terminal or a file; colours only on a terminal.
//! - `journald`: plain text, each line prefixed with its syslog level (`<3>`
//!   error, `<4>` warning, `<6>` info, `<7>` debug) as sd-daemon(3) describes,
//!   so `journalctl -p err` finds errors. Every line of a multi-line message
//!   (a refused reload's carets) carries the prefix, since journald stores
//!   each line as its own entry. No timestamps: journald adds its own.
//! - `json`: one JSON object a line, for log shippers.
//!
//! `auto` (the default) picks `journald` when standard error is the journal
//! (systemd sets `JOURNAL_STREAM` to its device and inode), else `text`.
//!
//! What the daemon logs at info names orders by ordersync's id and channels
//! by name; order contents, addresses and secrets never appear.

use std::fmt;
use std::io::IsTerminal as _;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The filter when `ORDERSYNC_LOG` is invalid.
const QUIET_SCHEDULER: &str = "info,tokio_cron_scheduler=warn";

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// `journald` under systemd's journal, else `text`.
    Auto,
    /// Human-readable lines.
    Text,
    /// Syslog level prefixes, for journald.
    Journald,
    /// One JSON object a line.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "auto" => Ok(LogFormat::Auto),
            "text" => Ok(LogFormat::Text),
            "journald" => Ok(LogFormat::Journald),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!(
                "`{s}` is not a log format: auto, text, journald or json"
            )),
        }
    }
}

/// True when standard error is the journal's stream (`JOURNAL_STREAM=dev:inode`).
fn stderr_is_journal() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let Some(stream) = std::env::var_os("JOURNAL_STREAM") else {
            return false;
        };
        let Some((dev, ino)) = stream.to_str().and_then(|s| s.split_once(':')) else {
            return false;
        };
        let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
            return false;
        };
        dev.parse() == Ok(meta.dev()) && ino.parse() == Ok(meta.ino())
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Installs the global subscriber.
pub fn init(format: LogFormat) {
    let mut directives = std::env::var("ORDERSYNC_LOG").unwrap_or_else(|_| "info".to_string());
    if !directives.contains("tokio_cron_scheduler") {
        directives.push_str(",tokio_cron_scheduler=warn");
    }
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(QUIET_SCHEDULER));
    let format = match format {
        LogFormat::Auto if stderr_is_journal() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Text,
        other => other,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Journald => builder
            .with_ansi(false)
            .event_format(Journald(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_ansi(false),
            ))
            .init(),
        LogFormat::Auto | LogFormat::Text => {
            builder.with_ansi(std::io::stderr().is_terminal()).init()
        }
    }
}

/// The syslog priority journald reads from a line's `<N>` prefix.
pub fn syslog_priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The plain format with a `<N>` prefix on every line.
struct Journald(Format<Full, ()>);

impl<S, N> FormatEvent<S, N> for Journald
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let priority = syslog_priority(event.metadata().level());
        for part in line.trim_end_matches('\n').split('\n') {
            writeln!(writer, "<{priority}>{part}")?;
        }
        Ok(())
    }
}
