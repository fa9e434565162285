//! `asyncbot bench …`: TEMPORARY wiring in branch wt9-e so `bench delivery` runs; the lead
//! reconciles it with the bench module of the other helper (timers, ingest).

pub mod delivery;

use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum Bench {
    /// Nudges due at once across many channels, against an in-memory Slack that answers 429
    /// beyond one post per second per channel: delivered, lost, 429s, wall time vs the bound.
    Delivery(delivery::Args),
}

pub fn run(bench: Bench) -> ExitCode {
    match bench {
        Bench::Delivery(args) => delivery::run(args),
    }
}
