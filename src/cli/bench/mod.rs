//! `asyncbot bench`: the project's own measurements, one subcommand per figure of the
//! Performance table in README (timers with many pending requests, the engine's event rate,
//! nudges due at once across many channels).
//! Each runs the real store, engine and workers against the in-memory Slack, on the real clock,
//! and prints a small table (or JSON). Figures are measurements of this machine, never asserted.

mod delivery;
mod ingest;
mod timers;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;

use crate::config::Settings;

#[derive(Subcommand)]
pub enum Which {
    /// Fills a temporary store with N open requests, then measures its size, resident memory,
    /// the time to reopen it and be ready, and how late the real timer worker fires the ones due.
    Timers {
        /// Open requests in the store.
        #[arg(long, default_value_t = 1_000_000)]
        pending: u64,
        /// How many of them fall due while the bench watches.
        #[arg(long, default_value_t = 10_000)]
        due: u64,
        /// Over how many seconds those fall due (evenly).
        #[arg(long, default_value_t = 10.0)]
        window: f64,
        /// Where the temporary store goes (default: the system's temporary directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Prints the figures as one JSON object.
        #[arg(long)]
        json: bool,
        /// Internal: the second half, run in a fresh process on the store the first half filled.
        #[arg(long, value_name = "DIR", hide = true)]
        resume: Option<PathBuf>,
    },
    /// Pushes N mention events into the inbox of a temporary store and times the real engine
    /// turning them into open requests.
    Ingest {
        /// Mention events (each opens one request).
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Where the temporary store goes (default: the system's temporary directory).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Prints the figures as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Nudges due at once across many channels, against an in-memory Slack that answers 429
    /// beyond one post per second per channel: delivered, lost, 429s, wall time vs the bound.
    Delivery(delivery::Args),
}

/// Runs one benchmark.
pub fn run(which: Which) -> ExitCode {
    let result = match which {
        Which::Timers {
            pending,
            due,
            window,
            dir,
            json,
            resume,
        } => timers::run(timers::Args {
            pending,
            due: due.min(pending),
            window: std::time::Duration::from_secs_f64(window.max(0.0)),
            dir,
            json,
            resume,
        }),
        Which::Ingest { events, dir, json } => ingest::run(events, dir, json),
        Which::Delivery(args) => return delivery::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => super::commands::fail(&format!("bench: {e:#}")),
    }
}

/// The settings a bench runs with: the built-in defaults, the store in `dir`, and a calendar
/// where every hour is working time (a nudge that came due is sent, whatever the day and hour
/// the bench runs at).
fn settings(dir: &Path) -> anyhow::Result<Settings> {
    let file = dir.join("bench.toml");
    let store = dir.join("bench.redb");
    std::fs::write(
        &file,
        format!(
            "[store]\npath = {:?}\n[log]\nlevel = \"warn\"\n[calendar]\nworking_days = [\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\", \"sun\"]\nworking_hours = [\"00:00\", \"24:00\"]\n",
            store.display().to_string()
        ),
    )?;
    Ok(crate::config::load(Some(&file), &[])?)
}

/// A temporary directory under `dir` (or the system's), removed when dropped.
fn scratch(dir: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    let base = dir.map_or_else(std::env::temp_dir, Path::to_owned);
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::Builder::new()
        .prefix("asyncbot-bench-")
        .tempdir_in(base)?)
}

/// This process's resident memory (VmRSS), in bytes; 0 where /proc is not there.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The value at quantile `q` (0..=1) of sorted `values`.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Prints `rows` as a two-column table under `title`.
fn print_table(title: &str, rows: &[(&str, String)]) {
    println!("{title}");
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in rows {
        println!("  {k:<width$}  {v}");
    }
}
