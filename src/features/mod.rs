//! What people do with the bot, per feature: its command parser, its flow (what happens on an
//! event, a command or a timer) and its answers. Features use the engine and the store; the
//! engine hands them the events and timers they own.

#[cfg(test)]
mod parser_props;
pub mod rfc;
pub mod sla;
pub mod standup;
