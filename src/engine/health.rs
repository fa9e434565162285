//! Liveness of the bot's workers, for `/healthz`: each worker says when it starts and finishes an
//! item; a supervisor restarts a worker that stops; delivery says when Slack refuses the bot's
//! credentials. A worker busy on one item for too long is *stuck*; one that is restarting is
//! *down*. Either makes the bot unhealthy (503), as does Socket Mode disconnected for long.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::FutureExt;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::engine::clock::Now;

/// Idle workers report at least every minute (`Engine::idle_recheck`); this much more silence
/// than `stuck_after` means one is hung.
const HEARTBEAT_SLACK: chrono::Duration = chrono::Duration::seconds(90);

/// What a worker is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for work.
    Idle,
    /// On one item since `since`.
    Busy { what: String, since: DateTime<Utc> },
    /// Stopped unexpectedly; the supervisor restarts it at `at`.
    Restarting { at: DateTime<Utc>, why: String },
}

#[derive(Debug, Clone)]
struct Worker {
    phase: Phase,
    /// The last time it finished an item or went idle.
    last_progress: DateTime<Utc>,
    restarts: u32,
}

#[derive(Default)]
struct State {
    workers: BTreeMap<&'static str, Worker>,
    /// Why delivery is paused (a workspace-wide refusal), if it is.
    delivery_paused: Option<String>,
    /// Socket Mode's connections (`None` in HTTP mode).
    socket: Option<crate::slack::socket_health::SocketHealth>,
}

/// Its thresholds are settings (`[health]`), read with the rest of the config.
pub use crate::config::HealthLimits;

/// Shared by the workers (who report) and `/healthz` (which reads). Cheap to clone.
#[derive(Clone)]
pub struct Health {
    state: Arc<Mutex<State>>,
    limits: HealthLimits,
    now: Now,
}

/// The verdict: `ok` and `degraded` answer 200 (restarting cannot fix a revoked token);
/// `unhealthy` answers 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Degraded,
    Unhealthy,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Degraded => "degraded",
            Verdict::Unhealthy => "unhealthy",
        }
    }
}

impl Health {
    pub fn new(limits: HealthLimits, now: Now) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            limits,
            now,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        // A panic while holding this lock cannot leave it inconsistent (every update is one
        // assignment), so a poisoned lock is still good to use.
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    fn worker(&self, name: &'static str, f: impl FnOnce(&mut Worker)) {
        let now = (self.now)();
        self.with(|s| {
            let w = s.workers.entry(name).or_insert(Worker {
                phase: Phase::Idle,
                last_progress: now,
                restarts: 0,
            });
            f(w);
        });
    }

    /// `name` started working on `what`.
    pub fn busy(&self, name: &'static str, what: impl Into<String>) {
        let now = (self.now)();
        let what = what.into();
        self.worker(name, |w| w.phase = Phase::Busy { what, since: now });
    }

    /// `name` finished an item or is waiting for work.
    pub fn idle(&self, name: &'static str) {
        let now = (self.now)();
        self.worker(name, |w| {
            w.phase = Phase::Idle;
            w.last_progress = now;
        });
    }

    fn restarting(&self, name: &'static str, at: DateTime<Utc>, why: String) {
        self.worker(name, |w| {
            w.phase = Phase::Restarting { at, why };
            w.restarts += 1;
        });
    }

    pub fn set_delivery_paused(&self, reason: Option<String>) {
        self.with(|s| s.delivery_paused = reason);
    }

    /// Socket Mode's connections, reported from now on.
    pub fn watch_socket(&self, socket: crate::slack::socket_health::SocketHealth) {
        self.with(|s| s.socket = Some(socket));
    }

    /// The verdict and a JSON report of every worker.
    pub fn report(&self) -> (Verdict, Value) {
        let now = (self.now)();
        let stuck_after =
            chrono::Duration::from_std(self.limits.stuck_after).unwrap_or(chrono::Duration::MAX);
        self.with(|s| {
            let mut verdict = Verdict::Ok;
            let mut workers = serde_json::Map::new();
            for (name, w) in &s.workers {
                let (state, detail) = match &w.phase {
                    // An idle worker looks again at least every minute and says so: one that has
                    // not for much longer is hung somewhere it did not report (a store call).
                    Phase::Idle if now - w.last_progress > stuck_after + HEARTBEAT_SLACK => {
                        verdict = Verdict::Unhealthy;
                        ("stalled", Value::Null)
                    }
                    Phase::Idle => ("idle", Value::Null),
                    Phase::Busy { what, since } if now - *since > stuck_after => {
                        verdict = Verdict::Unhealthy;
                        ("stuck", json!({ "on": what, "since": since.to_rfc3339() }))
                    }
                    Phase::Busy { what, since } => {
                        ("busy", json!({ "on": what, "since": since.to_rfc3339() }))
                    }
                    Phase::Restarting { at, why } => {
                        verdict = Verdict::Unhealthy;
                        (
                            "restarting",
                            json!({ "why": why, "restart_at": at.to_rfc3339() }),
                        )
                    }
                };
                workers.insert(
                    (*name).to_owned(),
                    json!({
                        "state": state,
                        "detail": detail,
                        "last_progress": w.last_progress.to_rfc3339(),
                        "restarts": w.restarts,
                    }),
                );
            }
            let socket = match &s.socket {
                None => Value::Null,
                Some(socket) => {
                    let at = tokio::time::Instant::now();
                    let down = socket.disconnected_for(at);
                    if down.is_some_and(|d| d > self.limits.socket_down_after) {
                        verdict = Verdict::Unhealthy;
                    }
                    let mut status = serde_json::to_value(socket.status(at)).unwrap_or_default();
                    status["state"] = json!(if down.is_some() {
                        "disconnected"
                    } else {
                        "connected"
                    });
                    status
                }
            };
            if s.delivery_paused.is_some() && verdict == Verdict::Ok {
                verdict = Verdict::Degraded;
            }
            let report = json!({
                "status": verdict.label(),
                "workers": workers,
                "delivery": match &s.delivery_paused {
                    None => json!({ "state": "running" }),
                    Some(reason) => json!({ "state": "paused", "why": reason }),
                },
                "socket_mode": socket,
            });
            (verdict, report)
        })
    }
}

/// The message of a caught panic, cut to 300 characters (a slicing panic quotes the whole text
/// it sliced, which may be a 40,000-character message).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let message = if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.as_str()
    } else {
        "a panic with no message"
    };
    let mut cut: String = message.chars().take(300).collect();
    if cut.len() < message.len() {
        cut.push('…');
    }
    cut
}

/// Runs `fut`, turning a panic inside it into an error with the panic's message.
pub async fn contained<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|p| format!("panicked: {}", panic_message(p.as_ref())))
}

/// Runs the worker `make()` until `shutdown`; when it stops on its own (a panic that escaped
/// its per-item containment, or a return), it is restarted after a backoff (1 s doubling to
/// 30 s, reset after a minute of good running). The worker is known (idle) from the call on,
/// before the future first runs: a scrape or a health check right after the start sees it.
pub fn supervise<F, Fut>(
    name: &'static str,
    health: Health,
    shutdown: CancellationToken,
    mut make: F,
) -> impl Future<Output = ()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    health.idle(name);
    async move {
        let mut wait = Duration::from_secs(1);
        loop {
            health.idle(name);
            let started = tokio::time::Instant::now();
            let outcome = tokio::spawn(make()).await;
            if shutdown.is_cancelled() {
                return;
            }
            let why = match outcome {
                Ok(()) => "it stopped".to_owned(),
                Err(e) if e.is_panic() => format!("panicked: {}", panic_message(&*e.into_panic())),
                Err(e) => e.to_string(),
            };
            if started.elapsed() > Duration::from_secs(60) {
                wait = Duration::from_secs(1);
            }
            let at = (health.now)() + chrono::Duration::from_std(wait).unwrap_or_default();
            tracing::error!(worker = name, %why, restart_in_ms = wait.as_millis() as u64, "a worker stopped; restarting it");
            health.restarting(name, at, why);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = (wait * 2).min(Duration::from_secs(30));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn clock(start: DateTime<Utc>) -> (Arc<Mutex<DateTime<Utc>>>, Now) {
        let at = Arc::new(Mutex::new(start));
        let read = at.clone();
        (at, Arc::new(move || *read.lock().unwrap()))
    }

    #[test]
    fn a_worker_busy_too_long_is_stuck_and_unhealthy() {
        let (at, now) = clock(Utc::now());
        let health = Health::new(HealthLimits::default(), now);
        health.busy("inbox", "inbox/1");
        assert_eq!(health.report().0, Verdict::Ok);
        *at.lock().unwrap() += chrono::Duration::seconds(121);
        let (verdict, report) = health.report();
        assert_eq!(verdict, Verdict::Unhealthy);
        assert_eq!(report["workers"]["inbox"]["state"], "stuck");
        health.idle("inbox");
        assert_eq!(health.report().0, Verdict::Ok);
        // Idle, but silent far longer than its heartbeat: hung where it did not say.
        *at.lock().unwrap() += chrono::Duration::seconds(211);
        let (verdict, report) = health.report();
        assert_eq!(verdict, Verdict::Unhealthy);
        assert_eq!(report["workers"]["inbox"]["state"], "stalled");
    }

    #[test]
    fn paused_delivery_is_degraded() {
        let (_, now) = clock(Utc::now());
        let health = Health::new(HealthLimits::default(), now);
        health.set_delivery_paused(Some("invalid_auth".into()));
        let (verdict, report) = health.report();
        assert_eq!(verdict, Verdict::Degraded);
        assert_eq!(report["delivery"]["why"], "invalid_auth");
        health.set_delivery_paused(None);
        assert_eq!(health.report().0, Verdict::Ok);
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_socket_mode_outage_is_unhealthy() {
        let health = Health::new(HealthLimits::default(), crate::engine::clock::system());
        let socket = crate::slack::socket_health::SocketHealth::new(tokio::time::Instant::now());
        health.watch_socket(socket);
        let (verdict, report) = health.report();
        assert_eq!(
            verdict,
            Verdict::Ok,
            "a short outage is a reconnect: {report}"
        );
        assert_eq!(report["socket_mode"]["state"], "disconnected");
        tokio::time::advance(Duration::from_secs(121)).await;
        assert_eq!(health.report().0, Verdict::Unhealthy);
    }

    #[tokio::test]
    async fn a_panic_is_contained_to_its_item() {
        let result = contained(async { panic!("İ at byte 7") }).await;
        assert_eq!(result, Err::<(), _>("panicked: İ at byte 7".into()));
        assert_eq!(contained(async { 5 }).await, Ok(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_that_dies_is_restarted() {
        let health = Health::new(HealthLimits::default(), crate::engine::clock::system());
        let shutdown = CancellationToken::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let stop = shutdown.clone();
        let task = tokio::spawn(supervise(
            "w",
            health.clone(),
            shutdown.clone(),
            move || {
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let stop = stop.clone();
                async move {
                    if n < 2 {
                        panic!("boom {n}");
                    }
                    stop.cancelled().await;
                }
            },
        ));
        // Two crashes, each followed by a restart after 1 s and 2 s of (virtual) time.
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let (_, report) = health.report();
        assert_eq!(report["workers"]["w"]["restarts"], 2);
        assert_eq!(report["workers"]["w"]["state"], "idle");
        shutdown.cancel();
        task.await.unwrap();
    }
}
