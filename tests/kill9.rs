//! Posted once under fire: the real binary is killed with SIGKILL at random moments while it
//! turns a stream of mentions into nudges, against a fake Slack that holds every post's answer
//! back for 100 ms after accepting it (the window in which a kill loses the answer). Afterwards,
//! counted from what the fake Slack received: no nudge lost, at most 0.1 % repeated.
//!
//! The figures are printed (`cargo test --test kill9 -- --nocapture`); README quotes them.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::*;

/// One nudge per request, a second after it, one channel post per second per channel; the
/// workspace-wide rate lifted (its default, 5/s, would make the 150 nudges take 30 s: this test
/// is about SIGKILL, the rate has its own tests in `flows/delivery.rs`).
const NORMS: &str = r#"
[calendar]
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
working_hours = ["00:00", "24:00"]

[sla.normal]
within = "1s"
clock = "wall"

[escalation]
steps = [{ after = "0s", action = "thread_mention" }]

# 150 nudges to one person: the subject here is SIGKILL, not the daily nudge budget.
[respect]
max_nudges_per_day = 0

[delivery]
request_timeout = "2s"
max_backoff = "2s"
workspace_rate = 100
"#;

const REQUESTS: usize = 150;
const CHANNELS: usize = 30;
const KILLS: usize = 10;

/// A small deterministic generator (seeded from the clock, printed so a run can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_nothing_and_repeats_nothing() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = Lcg(seed);
    let fake = fake_with_team().await;
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::AcceptThenHang(Duration::from_millis(100)); REQUESTS * 3],
    );
    let mut app = TestApp::start(&fake, Mode::Http, NORMS).await;
    let started = Instant::now();

    let mut requests: Vec<String> = Vec::new();
    let per_round = REQUESTS.div_ceil(KILLS);
    for round in 0..KILLS {
        for i in 0..per_round {
            if requests.len() == REQUESTS {
                break;
            }
            let channel = format!("CK{:03}", (round * per_round + i) % CHANNELS);
            let ts = new_ts();
            app.deliver(
                &fake,
                message(&channel, "UALICE", &ts, "<@UBOB> can you check this?", None),
            )
            .await;
            requests.push(ts);
        }
        tokio::time::sleep(Duration::from_millis(300 + rng.next(900))).await;
        app.kill9();
        app.restart(&fake).await;
    }

    // Let it finish: every request's nudge, or a generous timeout.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = app.health().await;
        let nudged = fake
            .posted()
            .iter()
            .filter(|(_, m)| m["thread_ts"].is_string())
            .count();
        if nudged >= REQUESTS && health["outbox"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "not done: {health}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut per_request: HashMap<String, usize> = HashMap::new();
    for (_, m) in fake.posted() {
        if let Some(root) = m["thread_ts"].as_str() {
            *per_request.entry(root.to_owned()).or_insert(0) += 1;
        }
    }
    let lost = requests
        .iter()
        .filter(|ts| !per_request.contains_key(*ts))
        .count();
    let repeated: usize = per_request.values().map(|n| n.saturating_sub(1)).sum();
    let lookups = fake.calls_to("conversations.replies").len();
    eprintln!(
        "kill9: seed {seed}, {REQUESTS} requests in {CHANNELS} channels, {KILLS} SIGKILLs, {:.1} s: \
         {lost} lost, {repeated} repeated, {} posts, {lookups} metadata look-ups after an unknown outcome",
        started.elapsed().as_secs_f64(),
        fake.posted().len(),
    );
    assert_eq!(lost, 0, "no nudge lost (seed {seed})");
    assert!(
        repeated * 1000 <= REQUESTS,
        "at most 0.1 % repeated: {repeated} of {REQUESTS} (seed {seed})"
    );
    let by_id = fake.posts_by_outbox_id();
    assert!(
        by_id.values().all(|n| *n == 1),
        "each outbox id posted once (seed {seed}): {by_id:?}"
    );
}
