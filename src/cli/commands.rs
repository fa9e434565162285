//! The command line's arguments (clap) and which function each subcommand runs.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A Slack bot that keeps your team's async norms: response-time SLAs on each person's own
/// clock, and a step-by-step escalation ladder when a request stalls.
#[derive(Parser)]
#[command(name = "asyncbot", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot. Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP with SLACK_SIGNING_SECRET.
    Serve {
        /// A TOML file layered over the built-in defaults.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Check a configuration and print the norms it sets, without connecting to Slack.
    CheckConfig {
        /// A TOML file layered over the built-in defaults.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Print the built-in default configuration (a starting point for your own file).
    DefaultConfig,
    /// The decision log: every RFC's record. Reads the store while the bot is stopped.
    Decisions {
        #[command(subcommand)]
        action: DecisionsAction,
    },
    /// See a week of the bot in seconds, with no Slack: the real engine on a virtual clock against
    /// an in-memory Slack, driven by a scenario of people and traffic. Prints every message the
    /// bot sent (who got it, in their local time) and a report.
    Simulate {
        /// A scenario file (see `config/scenario.toml`, the built-in one, for the format).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// A TOML file layered over the built-in defaults, as for `serve`.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Runs the same scenario under this configuration too, and prints both reports side by side.
        #[arg(long, value_name = "OTHER.toml")]
        compare: Option<PathBuf>,
        /// The first day (YYYY-MM-DD) instead of the scenario's; late March or October crosses a
        /// daylight-saving change.
        #[arg(long, value_name = "DATE")]
        start: Option<chrono::NaiveDate>,
        /// Prints the transcript and the report as JSON.
        #[arg(long)]
        json: bool,
        /// Only the report, no transcript.
        #[arg(long)]
        quiet: bool,
        /// Also writes the team's report page (as `asyncbot report --html`) for the run.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// The report: one self-contained HTML page with the team's figures and charts (response
    /// times, SLA met by week, ladder steps, RFC cycle times, standup participation), from the
    /// store. Reads the store while the bot is stopped.
    Report {
        /// Where to write the page (`-`: standard output).
        #[arg(long, value_name = "FILE")]
        html: PathBuf,
        /// How many weeks back (1 to 52).
        #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=52))]
        weeks: u32,
        /// One channel (its id) instead of the whole workspace.
        #[arg(long, value_name = "CHANNEL")]
        channel: Option<String>,
        /// A TOML file layered over the built-in defaults, as for `serve`.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Measures the bot on this machine (the figures of README's Performance table): the real
    /// store and engine on a temporary store against an in-memory Slack. Prints a table.
    Bench {
        #[command(subcommand)]
        which: super::bench::Which,
    },
    /// Work set aside after failing repeatedly (events, timers, messages). Run while the bot is
    /// stopped: list them, put one back to work once its cause is fixed, or discard it.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLettersAction,
    },
    // ---- operations: run beside a deployed bot ----
    /// Ask the running bot's GET /healthz: exit 0 when it answers 200, 1 otherwise (for a
    /// container's HEALTHCHECK or a probe; the runtime image needs no curl).
    Healthcheck {
        /// A TOML file layered over the built-in defaults (for `server.listen`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Ask this address instead of the configured one.
        #[arg(long, value_name = "HOST:PORT")]
        addr: Option<std::net::SocketAddr>,
    },
    /// Copy the store to FILE, consistently. Run while the bot is stopped (the store is locked
    /// while it runs): `systemctl stop asyncbot && asyncbot backup --to FILE && systemctl start asyncbot`.
    Backup {
        /// Where to write the copy (must not exist yet).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum DeadLettersAction {
    /// Every dead letter: id, kind, when, attempts, the error, and the item itself.
    List {
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Puts a dead letter back to work (the bot picks it up when it next runs).
    Retry {
        id: u64,
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Deletes a dead letter for good.
    Discard {
        id: u64,
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum DecisionsAction {
    /// List every decision record: number, status, date, title.
    List {
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Write every decision record to a directory, one file each.
    Export {
        /// `markdown` (the decision-record outline) or `json`.
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
        /// The directory to write to (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Markdown,
    Json,
}

/// Runs the command line: what `asyncbot` does with its arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let env: Vec<(String, String)> = std::env::vars().collect();
    match cli.command {
        Command::DefaultConfig => {
            print!("{}", crate::config::DEFAULT_CONFIG);
            ExitCode::SUCCESS
        }
        Command::CheckConfig { config } => super::serve::check_config(config.as_deref(), &env),
        Command::Decisions { action } => super::offline::decisions(action, &env),
        Command::DeadLetters { action } => super::offline::dead_letters(action, &env),
        Command::Report {
            html,
            weeks,
            channel,
            config,
        } => super::offline::report(&html, weeks, channel, config.as_deref(), &env),
        Command::Simulate {
            scenario,
            config,
            compare,
            start,
            json,
            quiet,
            report,
        } => super::simulate::command(scenario, config, compare, start, json, quiet, report),
        Command::Serve { config } => super::serve::serve(config.as_deref(), &env),
        // ---- operations ----
        Command::Healthcheck { config, addr } => {
            super::healthcheck::healthcheck(config.as_deref(), addr, &env)
        }
        Command::Backup { to, config } => super::healthcheck::backup(config.as_deref(), &to, &env),
        Command::Bench { which } => super::bench::run(which),
    }
}

/// Prints `message` as the command's error and returns a failing exit code.
pub(crate) fn fail(message: &str) -> ExitCode {
    eprintln!("asyncbot: {message}");
    ExitCode::FAILURE
}
