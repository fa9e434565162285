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
