//! What the command line runs besides `serve`: the simulator, and logging set-up.

pub mod simulate;
pub mod telemetry;
