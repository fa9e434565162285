//! The command line: its arguments (`commands`), `serve`, the offline store tools, the simulator,
//! the deployment's health check and backup, the benchmarks (`bench`), and logging set-up.

mod bench;
pub mod commands;
mod healthcheck;
mod offline;
mod serve;
pub mod simulate;
pub mod telemetry;
