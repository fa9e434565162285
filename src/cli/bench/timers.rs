//! `asyncbot bench timers`: a store with N open requests (filled in bulk, many requests per
//! durable commit), then, in a fresh process as after a restart, the time to open it and be
//! ready, the resident memory, and how late the real timer worker fires the requests that
//! fall due while it watches (against the in-memory Slack, with delivery running).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{mb, print_table, quantile, resident_bytes, scratch, settings};
use crate::domain::sla::{RequestState, SlaRequest, Tier};
use crate::engine::health::Health;
use crate::engine::{Engine, Feature, Person, Prepared, Reaction, ThreadMessage, Wakers};
use crate::slack::inbound::Inbound;
use crate::slack::memory::MemorySlack;
use crate::store::prelude::*;
use crate::store::{Store, StoreError, TimerKey, Tx};

/// Requests written per durable commit while filling.
const FILL_CHUNK: u64 = 10_000;

pub struct Args {
    pub pending: u64,
    pub due: u64,
    pub window: Duration,
    pub dir: Option<PathBuf>,
    pub json: bool,
    pub resume: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(dir) = &args.resume {
        let figures = serve_phase(&args, dir)?;
        println!("{figures}");
        return Ok(());
    }
    let dir = scratch(args.dir.as_deref())?;
    let settings = settings(dir.path())?;
    let far = args.pending - args.due;
    // Fill: the requests that stay pending, due over the next weeks.
    let started = Instant::now();
    let store = Store::open_with_cache(&settings.store_path, settings.store_cache_bytes)?;
    let now = Utc::now();
    let mut written = 0;
    while written < far {
        let chunk = FILL_CHUNK.min(far - written);
        store.write(|tx| {
            for i in written..written + chunk {
                let id = tx.next_id("sla_request")?;
                let due = now + chrono::Duration::hours(1) + spread(i, far, 21 * 24 * 3600);
                tx.put_request(&request(id, i, due))?;
            }
            Ok(())
        })?;
        written += chunk;
    }
    let fill = started.elapsed();
    let resident_filled = resident_bytes();
    drop(store);
    let file = std::fs::metadata(&settings.store_path)?.len();

    // Restart: a fresh process opens the store, as after `kill -9`.
    let exe = std::env::current_exe().context("cannot find the asyncbot binary")?;
    let output = std::process::Command::new(exe)
        .args(["bench", "timers", "--pending"])
        .arg(args.pending.to_string())
        .arg("--due")
        .arg(args.due.to_string())
        .arg("--window")
        .arg(args.window.as_secs_f64().to_string())
        .arg("--resume")
        .arg(dir.path())
        .stderr(std::process::Stdio::inherit())
        .output()?;
    anyhow::ensure!(
        output.status.success(),
        "the restarted half failed ({})",
        output.status
    );
    let mut figures: Value =
        serde_json::from_slice(&output.stdout).context("the restarted half printed no figures")?;
    let sample = request(1, 1, now);
    let per_request = if args.pending > 0 {
        file / args.pending.max(1)
    } else {
        0
    };
    figures["pending"] = json!(args.pending);
    figures["fill_secs"] = json!(fill.as_secs_f64());
    figures["store_bytes"] = json!(file);
    figures["store_bytes_per_request"] = json!(per_request);
    figures["record_bytes"] = json!(crate::store::request_record_len(&sample));
    figures["record_bytes_json"] = json!(serde_json::to_vec(&sample)?.len());
    figures["resident_after_fill_bytes"] = json!(resident_filled);
    if args.json {
        println!("{figures}");
        return Ok(());
    }
    let f = |k: &str| figures[k].as_f64().unwrap_or(f64::NAN);
    let u = |k: &str| figures[k].as_u64().unwrap_or(0);
    print_table(
        &format!(
            "asyncbot bench timers: {} open requests, {} of them due over {:.1} s",
            args.pending,
            args.due,
            args.window.as_secs_f64()
        ),
        &[
            (
                "fill",
                format!(
                    "{:.1} s ({:.0} requests/s, {FILL_CHUNK} per commit)",
                    fill.as_secs_f64(),
                    far as f64 / fill.as_secs_f64().max(1e-9)
                ),
            ),
            (
                "store file",
                format!("{} ({per_request} B/request)", mb(file)),
            ),
            (
                "request record",
                format!(
                    "{} B (as JSON: {} B)",
                    u("record_bytes"),
                    u("record_bytes_json")
                ),
            ),
            ("resident after filling", mb(resident_filled)),
            (
                "restart to ready",
                format!(
                    "{:.3} s (store open {:.3} s)",
                    f("ready_secs"),
                    f("open_secs")
                ),
            ),
            (
                "resident after restart",
                mb(u("resident_after_restart_bytes")),
            ),
            (
                "resident after firing",
                mb(u("resident_after_firing_bytes")),
            ),
            (
                "timer lateness p50/p99/max",
                format!(
                    "{:.1} / {:.1} / {:.1} ms ({} fired)",
                    f("lateness_p50_ms"),
                    f("lateness_p99_ms"),
                    f("lateness_max_ms"),
                    u("fired")
                ),
            ),
        ],
    );
    Ok(())
}

/// `i`'s share of `span_secs`, spread evenly over `of`.
fn spread(i: u64, of: u64, span_secs: u64) -> chrono::Duration {
    let nanos = (u128::from(span_secs) * 1_000_000_000 * u128::from(i)) / u128::from(of.max(1));
    chrono::Duration::nanoseconds(i64::try_from(nanos).unwrap_or(i64::MAX))
}

/// A request as Slack traffic makes them: ids of Slack's length, a typical excerpt, one of a
/// few zones, people and channels shared among many requests.
fn request(id: u64, i: u64, due: DateTime<Utc>) -> SlaRequest {
    const ZONES: [chrono_tz::Tz; 4] = [
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
        chrono_tz::Asia::Kolkata,
        chrono_tz::UTC,
    ];
    let ts = format!("17955{:05}.{:06}", i / 1_000_000, i % 1_000_000);
    SlaRequest {
        id,
        channel: format!("C07{:08X}", i % 1000),
        thread_root: ts.clone(),
        message_ts: ts,
        author: format!("U07{:08X}", i % 5000),
        recipient: format!("U07{:08X}", (i * 7 + 1) % 5000),
        recipient_tz: ZONES[(i % 4) as usize],
        tier: Tier::Normal,
        excerpt: format!(
            "<@U07{:08X}> could you review the rollout plan for the billing migration before Thursday? #{i}",
            (i * 7 + 1) % 5000
        ),
        opened_at: due - chrono::Duration::hours(24),
        deadline: due,
        steps_taken: 0,
        next_due: Some(due),
        respite: Default::default(),
        state: RequestState::Open,
    }
}

/// The second half, in a fresh process: reopen, get ready, add the requests that fall due
/// soon, fire them with the real workers, and print the figures as JSON.
fn serve_phase(args: &Args, dir: &std::path::Path) -> anyhow::Result<Value> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let settings = Arc::new(settings(dir)?);
        let started = Instant::now();
        let store = Store::open_with_cache(&settings.store_path, settings.store_cache_bytes)?;
        let open = started.elapsed();
        let now: crate::engine::clock::Now = crate::engine::clock::system();
        let slack = MemorySlack::new(now.clone());
        let wakers = Wakers::default();
        let health = Health::new(settings.health, now.clone());
        let mut engine = Engine::new(
            store.clone(),
            Arc::new(slack.clone()),
            settings.clone(),
            slack.identity(),
            now.clone(),
            wakers.clone(),
            health.clone(),
        );
        let fired: Fired = Arc::default();
        engine.features = crate::features::all()
            .into_iter()
            .map(|inner| {
                Arc::new(Timed {
                    inner,
                    fired: fired.clone(),
                }) as Arc<dyn Feature>
            })
            .collect();
        let engine = Arc::new(engine);
        // What start-up reads before serving: the configured standups, the next timer, the
        // inbox, and what /healthz reports.
        engine.seed_standups()?;
        store.next_timer_due()?;
        store.inbox_len()?;
        store.read(|rx| rx.count_open_requests())?;
        store.outbox_len()?;
        store.count_dead_letters()?;
        let ready = started.elapsed();
        let resident_restart = resident_bytes();

        // The requests that fall due while we watch, from a second from now.
        let start = Utc::now() + chrono::Duration::seconds(1);
        let mut due_at: HashMap<u64, DateTime<Utc>> = HashMap::new();
        let mut written = 0;
        while written < args.due {
            let chunk = FILL_CHUNK.min(args.due - written);
            let added = store.write(|tx| {
                let mut added = Vec::new();
                for i in written..written + chunk {
                    let id = tx.next_id("sla_request")?;
                    let offset = args.window.as_nanos() * u128::from(i) / u128::from(args.due);
                    let due = start
                        + chrono::Duration::nanoseconds(i64::try_from(offset).unwrap_or(i64::MAX));
                    tx.put_request(&request(id, i + 7_000_000, due))?;
                    added.push((id, due));
                }
                Ok(added)
            })?;
            due_at.extend(added);
            written += chunk;
        }
        let shutdown = CancellationToken::new();
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(engine.clone().run_timers(shutdown.clone()));
        tasks.spawn(engine.clone().run_inbox(shutdown.clone()));
        tasks.spawn(
            crate::delivery::Delivery::new(
                store.clone(),
                Arc::new(slack.clone()),
                settings.clone(),
                now.clone(),
                wakers.clone(),
                health.clone(),
            )
            .run(shutdown.clone()),
        );
        wakers.timers.notify_one();
        let give_up = Instant::now() + args.window + Duration::from_secs(120);
        while fired.lock().unwrap_or_else(|e| e.into_inner()).len() < due_at.len() {
            anyhow::ensure!(
                Instant::now() < give_up,
                "only {} of {} timers fired",
                fired.lock().unwrap_or_else(|e| e.into_inner()).len(),
                due_at.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        let mut late: Vec<f64> = fired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(|(id, at)| {
                due_at
                    .get(id)
                    .map(|due| (*at - *due).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e3)
            })
            .collect();
        late.sort_by(f64::total_cmp);
        Ok(json!({
            "open_secs": open.as_secs_f64(),
            "ready_secs": ready.as_secs_f64(),
            "resident_after_restart_bytes": resident_restart,
            "resident_after_firing_bytes": resident_bytes(),
            "fired": late.len(),
            "lateness_p50_ms": quantile(&late, 0.5),
            "lateness_p99_ms": quantile(&late, 0.99),
            "lateness_max_ms": quantile(&late, 1.0),
        }))
    })
}

/// The requests whose step was taken, with when.
type Fired = Arc<Mutex<Vec<(u64, DateTime<Utc>)>>>;

/// A feature as the engine has it, noting when each request's timer has fired: its step taken
/// alone and committed, or taken in a batch of due timers (whose one commit follows, a few
/// milliseconds later at most: the batch is bounded).
struct Timed {
    inner: Arc<dyn Feature>,
    fired: Fired,
}

impl Feature for Timed {
    fn prepare<'a>(&'a self, engine: &'a Engine, event: &'a Inbound) -> BoxFuture<'a, Prepared> {
        self.inner.prepare(engine, event)
    }

    fn apply(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        event: &Inbound,
        prepared: Prepared,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.apply(engine, tx, event, prepared, now)
    }

    fn on_person_learned(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        user: &str,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.on_person_learned(engine, tx, user, person, now)
    }

    fn on_thread_message(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        message: &ThreadMessage<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.on_thread_message(engine, tx, message, now)
    }

    fn on_reaction(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        reaction: &Reaction<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.inner.on_reaction(engine, tx, reaction, now)
    }

    fn on_post_dropped(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        tag: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.on_post_dropped(engine, tx, tag, reason, now)
    }

    fn fire<'a>(
        &'a self,
        engine: &'a Engine,
        key: &'a TimerKey,
        now: DateTime<Utc>,
    ) -> Option<BoxFuture<'a, Result<bool, StoreError>>> {
        let fire = self.inner.fire(engine, key, now)?;
        Some(Box::pin(async move {
            let result = fire.await;
            if let (TimerKey::Sla(id), Ok(true)) = (key, &result) {
                self.fired
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((*id, Utc::now()));
            }
            result
        }))
    }

    fn fire_in(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        key: &TimerKey,
        now: DateTime<Utc>,
    ) -> Option<Result<bool, StoreError>> {
        let result = self.inner.fire_in(engine, tx, key, now)?;
        // Only when the step was taken: a timer looked at within its due millisecond but
        // before its due nanosecond does nothing and fires again a moment later.
        if let (TimerKey::Sla(id), Ok(true)) = (key, &result) {
            self.fired
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((*id, Utc::now()));
        }
        Some(result)
    }

    fn home(
        &self,
        engine: &Engine,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        self.inner.home(engine, user, now)
    }
}
