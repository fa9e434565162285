//! Daily async standups: the `/standup` command and the flow (prompt, reminder, summary, answers).

pub mod command;
pub mod flow;
