//! `asyncbot bench delivery`: many nudges due at the same moment across many channels, sent by
//! the real delivery worker (durable store, per-conversation queues, workspace rate) to the
//! in-memory Slack, which answers 429 with `Retry-After` beyond one post per second per channel,
//! on the real clock. Prints what was delivered and lost, the share of 429s, and the wall time
//! against the per-channel bound (a channel with n messages needs (n − 1) × the interval).

use std::collections::HashSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::delivery::Delivery;
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::engine::Wakers;
use crate::engine::clock;
use crate::engine::health::Health;
use crate::slack::memory::{MemorySlack, SentKind};
use crate::store::Store;

/// `asyncbot bench delivery`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// How many nudges fall due at once.
    #[arg(long, default_value_t = 10_000)]
    pub nudges: u32,
    /// Across how many channels (round robin).
    #[arg(long, default_value_t = 1_000)]
    pub channels: u32,
    /// Posts per second to the whole workspace (`delivery.workspace_rate`). The default lets
    /// the per-channel limit alone decide; set the configured value to see its effect.
    #[arg(long, default_value_t = 100_000)]
    pub workspace_rate: u32,
    /// Messages in flight at once (`delivery.max_in_flight`; the configured default if unset).
    #[arg(long)]
    pub max_in_flight: Option<u32>,
    /// Gives up waiting after this many seconds (what is not delivered by then counts as lost).
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub nudges: u64,
    pub channels: u64,
    /// Distinct messages Slack took.
    pub delivered: u64,
    /// Messages never taken.
    pub lost: u64,
    /// Messages Slack took more than once.
    pub duplicates: u64,
    /// Posts answered 429.
    pub rate_limited: u64,
    /// Every post attempted (taken or answered 429).
    pub sends: u64,
    /// Queuing all the nudges, in one transaction.
    pub enqueue: Duration,
    /// From the worker's wake-up to the last post.
    pub wall: Duration,
    /// The least time the per-channel limit allows: (most messages in a channel − 1) × interval.
    pub bound: Duration,
    pub workspace_rate: u32,
    pub max_in_flight: usize,
}

impl Figures {
    pub fn ratio(&self) -> f64 {
        self.wall.as_secs_f64() / self.bound.as_secs_f64().max(f64::EPSILON)
    }

    fn print(&self) {
        let pct = |n: u64| 100.0 * n as f64 / self.sends.max(1) as f64;
        println!(
            "bench delivery: {} nudges due at once across {} channels, one post/s per channel (429 beyond), workspace rate {}/s, {} in flight",
            self.nudges, self.channels, self.workspace_rate, self.max_in_flight
        );
        println!(
            "  queued in        {:>10.3} s (one transaction)",
            self.enqueue.as_secs_f64()
        );
        println!("  delivered        {:>10}", self.delivered);
        println!("  lost             {:>10}", self.lost);
        println!("  posted twice     {:>10}", self.duplicates);
        println!(
            "  429s             {:>10} ({:.2} % of {} sends)",
            self.rate_limited,
            pct(self.rate_limited),
            self.sends
        );
        println!("  wall time        {:>10.3} s", self.wall.as_secs_f64());
        println!("  per-channel bound{:>10.3} s", self.bound.as_secs_f64());
        println!("  ratio            {:>10.3}", self.ratio());
        println!(
            "  throughput       {:>10.0} posts/s",
            self.delivered as f64 / self.wall.as_secs_f64().max(f64::EPSILON)
        );
    }
}

/// Runs the benchmark and prints its figures; fails if a message was lost or posted twice
/// (never on timings: a benchmark measures, it does not judge).
pub fn run(args: Args) -> ExitCode {
    match measure(&args) {
        Ok(figures) => {
            figures.print();
            if figures.lost == 0 && figures.duplicates == 0 {
                ExitCode::SUCCESS
            } else {
                super::super::commands::fail("messages were lost or posted twice")
            }
        }
        Err(e) => super::super::commands::fail(&e),
    }
}

fn settings(args: &Args) -> Result<Settings, String> {
    let mut env = vec![(
        "ASYNCBOT_DELIVERY__WORKSPACE_RATE".to_owned(),
        args.workspace_rate.to_string(),
    )];
    if let Some(n) = args.max_in_flight {
        env.push(("ASYNCBOT_DELIVERY__MAX_IN_FLIGHT".to_owned(), n.to_string()));
    }
    crate::config::load(None, &env).map_err(|e| e.to_string())
}

/// Runs the benchmark in a fresh store in a temporary directory.
pub fn measure(args: &Args) -> Result<Figures, String> {
    if args.nudges == 0 || args.channels == 0 {
        return Err("--nudges and --channels must be more than 0".into());
    }
    let settings = Arc::new(settings(args)?);
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a temporary store: {e}"))?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(measure_in(args, settings, &dir.path().join("bench.redb")))
}

async fn measure_in(args: &Args, settings: Arc<Settings>, path: &Path) -> Result<Figures, String> {
    let store = Store::open(path).map_err(|e| e.to_string())?;
    let now = clock::system();
    let slack = MemorySlack::new(now.clone());
    let interval = settings.delivery.per_channel_interval;
    slack.limit_posts_per_channel(interval);

    // Round by round across the channels, as timers falling due together queue them.
    let (nudges, channels) = (args.nudges, args.channels);
    let queued_at = now();
    let started = Instant::now();
    store
        .call(move |s| {
            s.write(|tx| {
                for n in 0..nudges {
                    let channel = format!("CBENCH{:06}", n % channels);
                    let message = OutgoingMessage::new(
                        Destination::Channel { channel },
                        format!("nudge {}", n / channels),
                    );
                    tx.enqueue(message, queued_at)?;
                }
                Ok(())
            })
        })
        .await
        .map_err(|e| e.to_string())?;
    let enqueue = started.elapsed();

    let wakers = Wakers::default();
    let health = Health::new(settings.health, now.clone());
    let delivery = Delivery::new(
        store.clone(),
        Arc::new(slack.clone()),
        settings.clone(),
        now,
        wakers.clone(),
        health,
    );
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(delivery.run(shutdown.clone()));
    let started = Instant::now();
    let woke_at = clock::system()();
    wakers.delivery.notify_one();
    let deadline = started + Duration::from_secs(args.timeout);
    // The last post's moment is read from what Slack recorded, not from this loop's polling.
    while slack.posts_made() < nudges as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    let _ = worker.await;

    let posts: Vec<_> = slack
        .sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Post)
        .collect();
    let distinct: HashSet<u64> = posts.iter().filter_map(|p| p.outbox_id).collect();
    let wall = posts
        .iter()
        .map(|p| p.at)
        .max()
        .map_or(started.elapsed(), |last| {
            (last - woke_at).to_std().unwrap_or_default()
        });
    let most_in_a_channel = nudges.div_ceil(channels);
    let rate_limited = slack.rate_limited();
    Ok(Figures {
        nudges: u64::from(nudges),
        channels: u64::from(channels.min(nudges)),
        delivered: distinct.len() as u64,
        lost: u64::from(nudges) - distinct.len() as u64,
        duplicates: (posts.len() - distinct.len()) as u64,
        rate_limited,
        sends: posts.len() as u64 + rate_limited,
        enqueue,
        wall,
        bound: interval * most_in_a_channel.saturating_sub(1),
        workspace_rate: settings.delivery.workspace_rate,
        max_in_flight: settings.delivery.max_in_flight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_run_delivers_everything_once() {
        let figures = measure(&Args {
            nudges: 12,
            channels: 6,
            workspace_rate: 100_000,
            max_in_flight: None,
            timeout: 60,
        })
        .unwrap();
        assert_eq!(
            (figures.delivered, figures.lost, figures.duplicates),
            (12, 0, 0)
        );
        assert_eq!(figures.bound, Duration::from_secs(1));
        assert_eq!(figures.sends, 12 + figures.rate_limited);
    }
}
