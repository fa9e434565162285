//! asyncbot: a Slack bot that keeps a remote team's async norms. It tracks response-time
//! deadlines on each recipient's own clock and climbs an escalation ladder when a request stalls.
//!
//! The layout tells the story: [`domain`] is the norms as pure logic; [`features`] are what
//! people do (`/sla`, `/rfc`, `/standup`); [`engine`] runs the inbox, timer and people workers;
//! [`delivery`] sends the outbox; [`store`] keeps everything in redb; [`slack`] is the port to
//! Slack (Web API, HTTP and Socket Mode transports feeding one dispatcher, and an in-memory
//! Slack); [`app`] wires it together; [`metrics`] counts for Prometheus; [`cli`] holds the
//! command line and the simulator.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod delivery;
pub mod domain;
pub mod engine;
pub mod features;
pub mod metrics;
pub mod slack;
pub mod store;

/// Installs the process-wide rustls crypto provider (ring). reqwest and slack-morphism could
/// otherwise bring two and rustls would refuse to pick. Call first in `main` and in tests.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
