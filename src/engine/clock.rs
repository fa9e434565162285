//! The one clock handle. Logic takes `now` as an argument; the workers read it from here, so a
//! test can substitute its own clock.

use std::sync::Arc;

use chrono::{DateTime, Utc};

/// Returns the current instant.
pub type Now = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system() -> Now {
    Arc::new(Utc::now)
}

/// A clock that reads tokio's clock, starting at `start`. Under `tokio::time::pause()` it is
/// virtual: it stands still while work runs and jumps to the next timer when everything waits,
/// so a week of the bot passes in moments (`asyncbot simulate`, in-process tests).
pub fn tokio_clock(start: DateTime<Utc>) -> Now {
    let origin = tokio::time::Instant::now();
    Arc::new(move || start + chrono::Duration::from_std(origin.elapsed()).unwrap_or_default())
}
