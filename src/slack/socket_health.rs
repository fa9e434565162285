//! Whether Socket Mode is connected, for `/healthz`: the connections report into a
//! [`SocketHealth`] and the health report reads it. Apart from the transport (`socket.rs`), so
//! the engine's health can hold one without importing the transport, which imports the engine.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// Whether Socket Mode is connected: cheap to clone, shared by the connections and `/healthz`.
#[derive(Clone)]
pub struct SocketHealth(Arc<Mutex<HealthState>>);

struct HealthState {
    live: usize,
    last_connected: Option<Instant>,
    /// Since when no connection has been live (the start counts as down: nothing is served yet).
    down_since: Option<Instant>,
}

/// A point-in-time view of [`SocketHealth`], ready to be shown as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SocketStatus {
    pub live_connections: usize,
    /// Seconds since a connection last said `hello`; `None` before the first.
    pub last_connected_secs_ago: Option<u64>,
    /// Seconds without any live connection; `None` while one is live.
    pub disconnected_secs: Option<u64>,
}

impl SocketHealth {
    /// Nothing is connected yet: the down clock starts `now`.
    pub fn new(now: Instant) -> Self {
        Self(Arc::new(Mutex::new(HealthState {
            live: 0,
            last_connected: None,
            down_since: Some(now),
        })))
    }

    fn state(&self) -> MutexGuard<'_, HealthState> {
        // The state is three plain fields, consistent after every update: a poisoned lock is usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many connections are live (said `hello` and not lost since).
    pub fn live_connections(&self) -> usize {
        self.state().live
    }

    /// When a connection last said `hello`.
    pub fn last_connected(&self) -> Option<Instant> {
        self.state().last_connected
    }

    /// How long no connection has been live; `None` while at least one is.
    pub fn disconnected_for(&self, now: Instant) -> Option<Duration> {
        self.state()
            .down_since
            .map(|since| now.saturating_duration_since(since))
    }

    pub fn status(&self, now: Instant) -> SocketStatus {
        let state = self.state();
        SocketStatus {
            live_connections: state.live,
            last_connected_secs_ago: state
                .last_connected
                .map(|at| now.saturating_duration_since(at).as_secs()),
            disconnected_secs: state
                .down_since
                .map(|since| now.saturating_duration_since(since).as_secs()),
        }
    }

    /// Counts one connection as live until the guard is dropped (also on a panic or a cancel).
    pub(crate) fn connected(&self, now: Instant) -> LiveGuard {
        let mut state = self.state();
        state.live += 1;
        state.last_connected = Some(now);
        state.down_since = None;
        LiveGuard(self.clone())
    }
}

impl Default for SocketHealth {
    fn default() -> Self {
        Self::new(Instant::now())
    }
}

/// One live connection; dropping it (also on a panic or a cancel) counts it gone.
pub(crate) struct LiveGuard(SocketHealth);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.live = state.live.saturating_sub(1);
        if state.live == 0 {
            state.down_since = Some(Instant::now());
        }
    }
}
