//! asyncbot: a Slack bot that keeps a remote team's async norms. It tracks response-time
//! deadlines on each recipient's own clock and climbs an escalation ladder when a request stalls.
//!
//! The domain ([`calendar`], [`sla`], [`outbox`]) is pure; [`store`] keeps state in redb;
//! [`engine`] and [`delivery`] do the work; [`http`] and [`socket`] are the two transports, both
//! feeding one [`dispatch::Dispatcher`].
#![forbid(unsafe_code)]

pub mod app;
pub mod calendar;
pub mod commands;
pub mod config;
pub mod decisions;
pub mod delivery;
pub mod dispatch;
pub mod engine;
pub mod export;
pub mod format;
pub mod health;
pub mod http;
pub mod inbound;
pub mod memory_slack;
pub mod outbox;
#[cfg(test)]
mod parser_props;
pub mod rfc;
pub mod rfc_command;
pub mod rfc_flow;
pub mod simulate;
pub mod sla;
pub mod slack;
pub mod socket;
pub mod standup;
pub mod standup_command;
pub mod standup_flow;
pub mod store;
pub mod telemetry;
pub mod time;

/// Installs the process-wide rustls crypto provider (ring). reqwest and slack-morphism could
/// otherwise bring two and rustls would refuse to pick. Call first in `main` and in tests.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
