//! What people do with the bot, per feature: its command parser, its flow (what happens on an
//! event, a command or a timer) and its answers. Features use the engine and the store; the
//! engine hands them the events and timers they own.

#[cfg(test)]
mod parser_props;
pub mod rfc;
pub mod sla;
pub mod standup;

/// Every feature, for the engine to hand its events and timers to.
pub fn all() -> Vec<std::sync::Arc<dyn crate::engine::Feature>> {
    vec![
        std::sync::Arc::new(rfc::Rfcs),
        std::sync::Arc::new(standup::Standups),
        std::sync::Arc::new(sla::Sla),
    ]
}
