//! The command line: its arguments (`commands`), `serve`, the offline store tools, the simulator,
//! the benchmarks (`bench`), and logging set-up.

mod bench;
pub mod commands;
mod offline;
mod serve;
pub mod simulate;
pub mod telemetry;
