//! The norms as pure logic: the business calendar, public holidays by region, SLA tiers and the
//! escalation ladder, the RFC lifecycle, standup schedules, presence (out of office, focus, Do
//! Not Disturb), decision records, team metrics, messages as data, and Slack text formatting.
//! Nothing here does I/O or knows tokio, redb or slack-morphism: a transition takes the state, the
//! input and `now`, and returns the new state and the messages to send.

pub mod asking;
pub mod calendar;
pub mod decisions;
pub mod format;
pub mod holidays;
pub mod metrics;
pub mod outbox;
pub mod presence;
pub mod rfc;
pub mod sla;
pub mod standup;
pub mod weekly;
pub mod working_time;
