//! The command line: its arguments (`commands`), `serve`, the offline store tools, the simulator,
//! and logging set-up.

pub mod bench;
pub mod commands;
mod offline;
mod serve;
pub mod simulate;
pub mod telemetry;
