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
