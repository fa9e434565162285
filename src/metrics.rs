//! Prometheus metrics for `GET /metrics`: every name, its help text, and one helper per place
//! where something happens (`crate::metrics::event_acked("http")`, one line at each site).
//!
//! A leaf module: it imports nothing of the bot, so the transports, the engine and delivery can
//! all call it. Counters and the timer lateness histogram are counted as things happen; what
//! is a state rather than an event (queue depths, worker states, Socket Mode) is handed in by
//! the `/metrics` handler as a [`Snapshot`] at scrape time, from cheap reads only (redb keeps
//! each table's length in its root: `len()` scans nothing).
//!
//! Built on `prometheus-client`, the Prometheus project's own Rust client: typed label sets, a
//! registry we own and render on request (no second listener, no global recorder to install
//! before the first count, so the in-process test rigs and `simulate` need no setup).

use std::collections::VecDeque;
use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The prefix of every name.
pub const PREFIX: &str = "asyncbot";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabel {
    transport: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabel {
    worker: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

/// What became of one attempt to send a message (`asyncbot_sends_total{result}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// Slack took it.
    Ok,
    /// HTTP 429: retried after `Retry-After`.
    RateLimited,
    /// 5xx, a timeout, a message waiting for the one it refers to: retried with a backoff.
    Transient,
    /// The workspace refuses the bot (revoked token, missing scope): delivery paused.
    Workspace,
    /// Refused for good (`channel_not_found`…): dropped.
    Permanent,
    /// The sender panicked on it.
    Panicked,
}

impl SendResult {
    /// A retry: `RateLimited` after a 429, otherwise `Transient`.
    pub fn retried(rate_limited: bool) -> Self {
        if rate_limited {
            SendResult::RateLimited
        } else {
            SendResult::Transient
        }
    }

    fn label(self) -> &'static str {
        match self {
            SendResult::Ok => "ok",
            SendResult::RateLimited => "rate_limited",
            SendResult::Transient => "transient",
            SendResult::Workspace => "workspace",
            SendResult::Permanent => "permanent",
            SendResult::Panicked => "panicked",
        }
    }
}

/// A worker's state as a number (`asyncbot_worker_state{worker}`), the order of gravity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerState {
    /// 0: waiting for work.
    Idle = 0,
    /// 1: on an item.
    Busy = 1,
    /// 2: on one item longer than `health.stuck_after`.
    Stuck = 2,
    /// 3: it stopped and its supervisor restarts it after a backoff.
    Restarting = 3,
    /// 4: idle but silent far past its heartbeat: hung where it did not report.
    Stalled = 4,
}

impl WorkerState {
    /// From the state `/healthz` shows (`idle`, `busy`, `stuck`, `restarting`, `stalled`).
    pub fn from_health(state: &str) -> Option<Self> {
        Some(match state {
            "idle" => WorkerState::Idle,
            "busy" => WorkerState::Busy,
            "stuck" => WorkerState::Stuck,
            "restarting" => WorkerState::Restarting,
            "stalled" => WorkerState::Stalled,
            _ => return None,
        })
    }
}

/// The states read at scrape time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Events accepted and not yet processed.
    pub inbox_queued: u64,
    /// The inbox's sequence number of the oldest queued event, if any.
    pub inbox_oldest_seq: Option<u64>,
    /// The last sequence number the inbox handed out (its counter).
    pub inbox_last_seq: u64,
    pub timers_pending: u64,
    pub outbox_depth: u64,
    pub dead_letters: u64,
    /// Each worker by name.
    pub workers: Vec<(String, WorkerState, u64)>,
    /// Socket Mode's live connections; `None` over HTTP.
    pub socket_live_connections: Option<u64>,
    /// 1 while delivery is paused because the workspace refuses the bot.
    pub delivery_paused: bool,
}

struct Metrics {
    registry: Registry,
    events_acked: Family<TransportLabel, Counter>,
    events_duplicate: Family<TransportLabel, Counter>,
    commands: Family<TransportLabel, Counter>,
    interactions: Family<TransportLabel, Counter>,
    sends: Family<ResultLabel, Counter>,
    rate_limited: Counter,
    timer_lateness: Histogram,
    inbox_queued: Gauge,
    inbox_oldest_age: Gauge<f64, std::sync::atomic::AtomicU64>,
    timers_pending: Gauge,
    outbox_depth: Gauge,
    dead_letters: Gauge,
    worker_state: Family<WorkerLabel, Gauge>,
    worker_restarts: Family<WorkerLabel, Gauge>,
    socket_connections: Family<TransportLabel, Gauge>,
    delivery_paused: Gauge,
    /// When the inbox's counter was seen at which value: see [`InboxClock`].
    inbox_clock: Mutex<InboxClock>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix(PREFIX);
        let m = Metrics {
            registry: Registry::default(),
            events_acked: Family::default(),
            events_duplicate: Family::default(),
            commands: Family::default(),
            interactions: Family::default(),
            sends: Family::default(),
            rate_limited: Counter::default(),
            // 1 ms to ~65 s.
            timer_lateness: Histogram::new(exponential_buckets(0.001, 2.0, 17)),
            inbox_queued: Gauge::default(),
            inbox_oldest_age: Gauge::default(),
            timers_pending: Gauge::default(),
            outbox_depth: Gauge::default(),
            dead_letters: Gauge::default(),
            worker_state: Family::default(),
            worker_restarts: Family::default(),
            socket_connections: Family::default(),
            delivery_paused: Gauge::default(),
            inbox_clock: Mutex::new(InboxClock::new(Instant::now())),
        };
        // Every result from the start, so that `rate()` and alerts see a 0 rather than nothing.
        for result in [
            SendResult::Ok,
            SendResult::RateLimited,
            SendResult::Transient,
            SendResult::Workspace,
            SendResult::Permanent,
            SendResult::Panicked,
        ] {
            m.sends
                .get_or_create(&ResultLabel {
                    result: result.label(),
                })
                .inc_by(0);
        }
        let build = Family::<VersionLabel, Gauge>::default();
        build
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; its label says which version of the bot is running",
            build,
        );
        registry.register(
            "events_acked",
            "Slack events recorded in the store and acknowledged, by transport (http or socket_mode)",
            m.events_acked.clone(),
        );
        registry.register(
            "events_duplicate",
            "Slack events delivered again (a retry of an event_id already recorded): acked, not processed twice",
            m.events_duplicate.clone(),
        );
        registry.register(
            "commands",
            "Slash commands handled, by transport",
            m.commands.clone(),
        );
        registry.register(
            "interactions",
            "Interactions (buttons, forms) handled, by transport",
            m.interactions.clone(),
        );
        registry.register(
            "sends",
            "Attempts to send an outbox message, by Slack's answer: ok, rate_limited (429), transient (retried), workspace (the workspace refuses the bot: delivery paused), permanent (dropped), panicked",
            m.sends.clone(),
        );
        registry.register(
            "slack_rate_limited",
            "Web API calls Slack answered with HTTP 429 (any method: posts, lookups, edits)",
            m.rate_limited.clone(),
        );
        registry.register(
            "timer_lateness_seconds",
            "How long after its due time a timer (a nudge, an escalation, a standup) was fired",
            m.timer_lateness.clone(),
        );
        registry.register(
            "inbox_queued_events",
            "Events accepted and not yet processed by the engine",
            m.inbox_queued.clone(),
        );
        registry.register(
            "inbox_oldest_age_seconds",
            "How long the oldest unprocessed event has been waiting (to the scrape interval: measured from the first scrape that saw it queued, or the bot's start)",
            m.inbox_oldest_age.clone(),
        );
        registry.register(
            "timers_pending",
            "Timers waiting for their due time",
            m.timers_pending.clone(),
        );
        registry.register(
            "outbox_depth",
            "Messages waiting to be sent",
            m.outbox_depth.clone(),
        );
        registry.register(
            "dead_letters",
            "Work set aside after failing repeatedly (`asyncbot dead-letters list` shows it)",
            m.dead_letters.clone(),
        );
        registry.register(
            "worker_state",
            "Each worker's state: 0 idle, 1 busy, 2 stuck (on one item too long), 3 restarting, 4 stalled (silent past its heartbeat)",
            m.worker_state.clone(),
        );
        registry.register(
            "worker_restarts",
            "How many times the supervisor restarted each worker since the bot started",
            m.worker_restarts.clone(),
        );
        registry.register(
            "socket_mode_connections",
            "Live Socket Mode connections (absent over HTTP); 0 means Slack cannot reach the bot",
            m.socket_connections.clone(),
        );
        registry.register(
            "delivery_paused",
            "1 while all delivery is paused because the workspace refuses the bot's credentials",
            m.delivery_paused.clone(),
        );
        Metrics { registry, ..m }
    }
}

/// An event arrived over `transport` (`http`, `socket_mode`) and was acknowledged: recorded
/// (`new`), or a redelivery of one recorded before.
pub fn event_recorded(transport: &'static str, new: bool) {
    let label = TransportLabel { transport };
    if new {
        METRICS.events_acked.get_or_create(&label).inc();
    } else {
        METRICS.events_duplicate.get_or_create(&label).inc();
    }
}

/// A slash command was handled.
pub fn command_handled(transport: &'static str) {
    METRICS
        .commands
        .get_or_create(&TransportLabel { transport })
        .inc();
}

/// An interaction (a button, a form) was handled.
pub fn interaction_handled(transport: &'static str) {
    METRICS
        .interactions
        .get_or_create(&TransportLabel { transport })
        .inc();
}

/// One attempt to send a message ended so.
pub fn send(result: SendResult) {
    METRICS
        .sends
        .get_or_create(&ResultLabel {
            result: result.label(),
        })
        .inc();
}

/// Slack answered a Web API call with 429.
pub fn slack_rate_limited() {
    METRICS.rate_limited.inc();
}

/// A timer due at `due` fired at `now`.
pub fn timer_fired(due: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) {
    let late = (now - due).num_microseconds().unwrap_or(i64::MAX).max(0);
    METRICS.timer_lateness.observe(late as f64 / 1e6);
}

/// The metrics in Prometheus' text exposition format (OpenMetrics), with the states of
/// `snapshot`.
pub fn render(snapshot: &Snapshot) -> String {
    let m = &*METRICS;
    m.inbox_queued.set(clamp(snapshot.inbox_queued));
    let age = m
        .inbox_clock
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .oldest_age(
            Instant::now(),
            snapshot.inbox_last_seq,
            snapshot.inbox_oldest_seq,
        );
    m.inbox_oldest_age.set(age);
    m.timers_pending.set(clamp(snapshot.timers_pending));
    m.outbox_depth.set(clamp(snapshot.outbox_depth));
    m.dead_letters.set(clamp(snapshot.dead_letters));
    m.delivery_paused.set(i64::from(snapshot.delivery_paused));
    for (name, state, restarts) in &snapshot.workers {
        let label = WorkerLabel {
            worker: name.clone(),
        };
        m.worker_state.get_or_create(&label).set(*state as i64);
        m.worker_restarts
            .get_or_create(&label)
            .set(clamp(*restarts));
    }
    if let Some(live) = snapshot.socket_live_connections {
        m.socket_connections
            .get_or_create(&TransportLabel {
                transport: "socket_mode",
            })
            .set(clamp(live));
    }
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &m.registry);
    out
}

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// When each inbox sequence number was first seen handed out, to tell how long the oldest
/// queued event has waited without storing a time with every event. Each scrape notes the
/// inbox's counter and the time; the oldest queued event was accepted after the last note
/// whose counter was below its number, so it has waited at least since the next note. Notes
/// older than the oldest queued event are forgotten, so the list stays as short as the backlog
/// is old in scrapes.
struct InboxClock {
    started: Instant,
    /// (the counter's value, when it was seen), oldest first.
    notes: VecDeque<(u64, Instant)>,
}

/// At most this many notes: a day of 15-second scrapes.
const MAX_NOTES: usize = 5760;

impl InboxClock {
    fn new(started: Instant) -> Self {
        Self {
            started,
            notes: VecDeque::new(),
        }
    }

    /// Seconds the oldest queued event (`oldest`, `None`: the inbox is empty) has waited.
    fn oldest_age(&mut self, now: Instant, last: u64, oldest: Option<u64>) -> f64 {
        if self.notes.back().is_none_or(|(seen, _)| *seen != last) {
            self.notes.push_back((last, now));
            if self.notes.len() > MAX_NOTES {
                self.notes.pop_front();
            }
        }
        let Some(oldest) = oldest else {
            // Nothing waits: only the latest note matters from now on.
            while self.notes.len() > 1 {
                self.notes.pop_front();
            }
            return 0.0;
        };
        // Notes that already counted the oldest event: the first of them is when it was first
        // seen; everything before the one just before it is of events processed since.
        while self.notes.len() > 1 && self.notes[1].0 < oldest {
            self.notes.pop_front();
        }
        let since = match self.notes.iter().find(|(seen, _)| *seen >= oldest) {
            Some((_, at)) if self.notes.front().is_some_and(|(s, _)| *s < oldest) => *at,
            // Queued before any note: before the bot started, or before its first scrape.
            _ => self.started,
        };
        now.saturating_duration_since(since).as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_oldest_event_is_timed_from_the_first_scrape_that_counted_it() {
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut clock = InboxClock::new(start);
        assert_eq!(clock.oldest_age(at(10), 5, None), 0.0);
        // Events 6 and 7 arrive; the scrape at 25 s sees them.
        assert_eq!(clock.oldest_age(at(25), 7, Some(6)), 0.0);
        assert_eq!(clock.oldest_age(at(40), 9, Some(6)), 15.0);
        // 6 and 7 processed; 8 was first counted at 40 s.
        assert_eq!(clock.oldest_age(at(55), 9, Some(8)), 15.0);
        assert_eq!(clock.oldest_age(at(70), 9, None), 0.0);
        assert_eq!(clock.notes.len(), 1);
    }

    #[test]
    fn a_backlog_from_before_the_start_is_timed_from_the_start() {
        let start = Instant::now();
        let mut clock = InboxClock::new(start);
        let age = clock.oldest_age(start + Duration::from_secs(30), 100, Some(1));
        assert_eq!(age, 30.0);
    }

    #[test]
    fn the_text_names_every_metric_with_help_and_type() {
        event_recorded("http", true);
        send(SendResult::RateLimited);
        timer_fired(
            chrono::Utc::now() - chrono::Duration::milliseconds(20),
            chrono::Utc::now(),
        );
        let text = render(&Snapshot {
            inbox_queued: 3,
            workers: vec![("inbox".into(), WorkerState::Busy, 2)],
            ..Snapshot::default()
        });
        for name in [
            "asyncbot_events_acked",
            "asyncbot_sends",
            "asyncbot_timer_lateness_seconds",
            "asyncbot_inbox_queued_events",
            "asyncbot_worker_state",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
            assert!(text.contains(&format!("# TYPE {name} ")), "{name}: {text}");
        }
        assert!(text.contains("asyncbot_inbox_queued_events 3\n"), "{text}");
        assert!(text.contains("asyncbot_worker_state{worker=\"inbox\"} 1\n"));
        assert!(text.contains("asyncbot_sends_total{result=\"rate_limited\"} "));
        assert!(text.contains("asyncbot_sends_total{result=\"permanent\"} "));
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
