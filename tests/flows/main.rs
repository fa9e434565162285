//! In-process flow tests: the whole bot (dispatch, store, timers, people, delivery) against the
//! in-memory Slack on tokio's virtual clock, with the real norms (24 business hours, the default
//! ladder, a Mon–Fri 09:00–18:00 team calendar). Days of ladder, RFCs and standups run in
//! milliseconds; the real-binary tests beside this one cover the transports.

mod blockers;
mod buttons;
mod calendar;
mod coaching;
mod delivery;
mod home_hours;
mod hostile;
mod inproc;
mod ladder;
mod own_calendar;
mod presence;
mod questions;
mod retention;
mod rfc;
mod standup;
mod start;
mod stats;
mod weekly;
