//! Operating the bot: `GET /metrics` counts what happened and parses as Prometheus' text format
//! (over HTTP and in Socket Mode), SIGTERM stops it cleanly within its grace with nothing lost,
//! a grace too short for the work in flight says so, and `asyncbot healthcheck` / `asyncbot
//! backup` work against the real binary.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use asyncbot::slack::inbound::Inbound;
use asyncbot::store::Store;
use asyncbot::store::prelude::*;
use common::*;

const CHANNEL: &str = "CENG";

async fn scrape(base_url: &str) -> String {
    let response = reqwest::get(format!("{base_url}/metrics")).await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().await.unwrap()
}

/// Checks the exposition format: every line is `# HELP`, `# TYPE`, `# UNIT`, the closing
/// `# EOF`, or a sample `name{labels} value`; every sample belongs to a family with HELP and
/// TYPE. Returns each sample's value by `name{labels}`.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let mut helped = BTreeSet::new();
    let mut typed = BTreeMap::new();
    let mut samples = BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "no closing # EOF");
    let is_name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(is_name(name) && !help.trim().is_empty(), "{line}");
            helped.insert(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(
                [
                    "counter",
                    "gauge",
                    "histogram",
                    "info",
                    "summary",
                    "unknown"
                ]
                .contains(&kind),
                "{line}"
            );
            typed.insert(name.to_owned(), kind.to_owned());
        } else if line.starts_with("# UNIT ") {
        } else {
            assert!(!line.starts_with('#'), "an unknown comment: {line}");
            let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("not a number in {line}"));
            let name = series.split('{').next().unwrap();
            assert!(is_name(name), "bad name in {line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                let inner = labels
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix('}'))
                    .unwrap_or_else(|| panic!("bad labels in {line}"));
                for pair in inner.split("\",").filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                    assert!(is_name(key) && !value.contains('\n'), "{line}");
                }
            }
            let family = ["_total", "_bucket", "_sum", "_count", "_created", "_info"]
                .iter()
                .find_map(|suffix| {
                    name.strip_suffix(suffix)
                        .filter(|base| typed.contains_key(*base))
                })
                .unwrap_or(name);
            assert!(typed.contains_key(family), "no # TYPE for {name}");
            assert!(helped.contains(family), "no # HELP for {name}");
            samples.insert(series.to_owned(), value);
        }
    }
    for name in typed.keys() {
        assert!(name.starts_with("asyncbot_"), "{name} lacks the prefix");
    }
    samples
}

fn value(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

/// Scrapes until `series` reaches `at_least` (counters move as the bot works).
async fn wait_metric(base_url: &str, series: &str, at_least: f64) -> BTreeMap<String, f64> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let samples = parse_exposition(&scrape(base_url).await);
        if samples.get(series).is_some_and(|v| *v >= at_least) {
            return samples;
        }
        assert!(
            Instant::now() < deadline,
            "{series} never reached {at_least}: {samples:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_events_commands_sends_and_timers_over_http() {
    let fake = fake_with_team().await;
    // The first post meets a 429: the nudge goes out on the retry.
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::RateLimited {
            retry_after_secs: 1,
        }],
    );
    let app = TestApp::start(&fake, Mode::Http, &due_in_1s(FAST_NORMS)).await;
    let before = parse_exposition(&scrape(&app.base_url).await);
    assert_eq!(value(&before, "asyncbot_inbox_queued_events"), 0.0);
    assert_eq!(value(&before, "asyncbot_outbox_depth"), 0.0);
    assert_eq!(
        value(&before, "asyncbot_worker_state{worker=\"inbox\"}"),
        0.0
    );
    assert!(
        !before.keys().any(|k| k.starts_with("asyncbot_socket_mode")),
        "no Socket Mode figures over HTTP"
    );

    let payload = event_callback(
        &new_event_id(),
        message(CHANNEL, "UALICE", &new_ts(), "<@UBOB> budget?", None),
    );
    app.send_event(&fake, &payload).await;
    app.send_event(&fake, &payload).await;
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &new_ts(), "<@UCAROL> and you?", None),
    )
    .await;
    let (norms, _) = app.command(&fake, "/sla", "", "UALICE", CHANNEL).await;
    assert!(!norms.is_empty());

    let samples = wait_metric(&app.base_url, "asyncbot_sends_total{result=\"ok\"}", 2.0).await;
    assert_eq!(
        value(&samples, "asyncbot_events_acked_total{transport=\"http\"}"),
        2.0
    );
    assert_eq!(
        value(
            &samples,
            "asyncbot_events_duplicate_total{transport=\"http\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&samples, "asyncbot_commands_total{transport=\"http\"}"),
        1.0
    );
    assert_eq!(
        value(&samples, "asyncbot_sends_total{result=\"rate_limited\"}"),
        1.0
    );
    assert!(value(&samples, "asyncbot_slack_rate_limited_total") >= 1.0);
    // Two nudges fired, each a little after its due time.
    assert!(value(&samples, "asyncbot_timer_lateness_seconds_count") >= 2.0);
    assert!(
        value(
            &samples,
            "asyncbot_timer_lateness_seconds_bucket{le=\"+Inf\"}"
        ) >= 2.0
    );
    // The two requests wait on their next step (the DM): two timers.
    assert_eq!(value(&samples, "asyncbot_timers_pending"), 2.0);
    assert_eq!(value(&samples, "asyncbot_inbox_queued_events"), 0.0);
    assert_eq!(value(&samples, "asyncbot_inbox_oldest_age_seconds"), 0.0);
    assert_eq!(value(&samples, "asyncbot_dead_letters"), 0.0);
    assert_eq!(value(&samples, "asyncbot_delivery_paused"), 0.0);
    for worker in ["inbox", "timers", "delivery", "people"] {
        let state = value(
            &samples,
            &format!("asyncbot_worker_state{{worker=\"{worker}\"}}"),
        );
        assert!(state <= 1.0, "{worker} is {state}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_served_in_socket_mode_with_its_connections() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::SocketMode, FAST_NORMS).await;
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &new_ts(), "<@UBOB> budget?", None),
    )
    .await;
    app.command(&fake, "/sla", "", "UALICE", CHANNEL).await;
    let samples = wait_metric(
        &app.base_url,
        "asyncbot_events_acked_total{transport=\"socket_mode\"}",
        1.0,
    )
    .await;
    assert_eq!(
        value(
            &samples,
            "asyncbot_commands_total{transport=\"socket_mode\"}"
        ),
        1.0
    );
    assert!(
        value(
            &samples,
            "asyncbot_socket_mode_connections{transport=\"socket_mode\"}"
        ) >= 1.0
    );
}

// ---- the real binary, stopped by a signal ---------------------------------------------------

/// The bot as a child process whose log is kept, to stop it with a signal.
struct Bot {
    child: Child,
    base_url: String,
    log: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
    store: PathBuf,
    config: PathBuf,
}

impl Bot {
    async fn start(fake: &FakeSlack, config: &str) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store/asyncbot.redb");
        let config_path = dir.path().join("asyncbot.toml");
        std::fs::write(
            &config_path,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n{config}\n[store]\npath = {:?}\n",
                store.display().to_string()
            ),
        )
        .unwrap();
        let (child, base_url, log) = spawn_logged(&config_path, fake).await;
        Bot {
            child,
            base_url,
            log,
            _dir: dir,
            store,
            config: config_path,
        }
    }

    /// Starts the binary again on the same configuration and store.
    async fn restart(&mut self, fake: &FakeSlack) {
        let (child, base_url, log) = spawn_logged(&self.config, fake).await;
        (self.child, self.base_url, self.log) = (child, base_url, log);
    }

    async fn deliver(&self, event: serde_json::Value) {
        let body = serde_json::to_vec(&event_callback(&new_event_id(), event)).unwrap();
        let ts = unix_now().to_string();
        let response = reqwest::Client::new()
            .post(format!("{}/slack/events", self.base_url))
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", &ts)
            .header("x-slack-signature", sign(&ts, &body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }

    /// Sends SIGTERM; returns the exit status and how long the bot took to exit.
    async fn terminate(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let sent = Instant::now();
        let kill = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success());
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, sent.elapsed());
            }
            assert!(
                sent.elapsed() < limit,
                "the bot did not exit within {limit:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn logged(&self, text: &str) -> bool {
        // The reader thread may be a moment behind the exit.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if self.log.lock().unwrap().iter().any(|l| l.contains(text)) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Starts `asyncbot serve` over HTTP; returns it, its address and its log (kept as it comes).
// The child is handed to a `Bot`, whose `Drop` waits for it: clippy cannot follow it there.
#[allow(clippy::zombie_processes)]
async fn spawn_logged(config: &Path, fake: &FakeSlack) -> (Child, String, Arc<Mutex<Vec<String>>>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_asyncbot"));
    command
        .arg("serve")
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .env("SLACK_API_URL", fake.api_base())
        .env("RUST_LOG", "warn,asyncbot=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start asyncbot");
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines = log.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[asyncbot] {line}");
            lines.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = log.lock().unwrap().iter().find_map(|l| {
            l.split("listening on http://")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_owned())
        });
        if let Some(addr) = found {
            return (child, format!("http://{addr}"), log);
        }
        if Instant::now() > deadline {
            // Reaped when the test process exits.
            let _ = child.kill();
            panic!("the bot did not start (its log is above)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Three requests in one channel: their nudges go out one at a time, the first held by Slack.
async fn three_nudges_first_in_flight(fake: &FakeSlack, bot: &Bot) {
    for who in ["UBOB", "UCAROL", "UBOB"] {
        bot.deliver(message(
            CHANNEL,
            "UALICE",
            &new_ts(),
            &format!("<@{who}> budget?"),
            None,
        ))
        .await;
    }
    // The attempt is recorded as it arrives, before the fake answers it.
    let deadline = Instant::now() + Duration::from_secs(15);
    while fake.attempts_to("chat.postMessage").is_empty() {
        assert!(Instant::now() < deadline, "no nudge was attempted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn open_store(path: &Path) -> Store {
    Store::open(path).expect("the store opens after the bot exited")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_post_in_flight_keeps_the_queue_and_exits_zero() {
    let fake = fake_with_team().await;
    // Slack takes 1.5 s to answer the first post: SIGTERM arrives while it is in flight.
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::Hang(Duration::from_millis(1500))],
    );
    let mut bot = Bot::start(
        &fake,
        &format!("shutdown_grace = \"10s\"\n{}", due_in_1s(FAST_NORMS)),
    )
    .await;
    three_nudges_first_in_flight(&fake, &bot).await;
    let (status, took) = bot.terminate(Duration::from_secs(12)).await;
    assert_eq!(status.code(), Some(0), "took {took:?}");
    assert!(bot.logged("stopped cleanly"));
    // The post in flight went out and was recorded as sent; the two behind it wait in the store,
    // and the three accepted events are three open requests.
    assert_eq!(posts(&fake).len(), 1, "{}", fake.describe_calls());
    let store = open_store(&bot.store);
    assert_eq!(store.read(|rx| rx.count_open_requests()).unwrap(), 3);
    let stats = store.stats().unwrap();
    assert_eq!(stats.inbox_queued, 0);
    let waiting = store.pending_outbox(10).unwrap();
    assert!(
        waiting.iter().all(|item| !item.maybe_sent),
        "the post in flight was recorded as sent: {waiting:?}"
    );
    drop(store);
    // Restarted, the bot sends the two other nudges, each once: nothing was lost or repeated.
    bot.restart(&fake).await;
    let nudges = || {
        posts(&fake)
            .iter()
            .filter_map(|c| c.arg("thread_ts"))
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while nudges().len() < 3 {
        assert!(Instant::now() < deadline, "{}", fake.describe_calls());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let distinct: BTreeSet<String> = nudges().into_iter().collect();
    assert_eq!(distinct.len(), 3, "{}", fake.describe_calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grace_too_short_for_the_post_in_flight_exits_non_zero_and_keeps_it() {
    let fake = fake_with_team().await;
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::Hang(Duration::from_secs(20))],
    );
    let mut bot = Bot::start(
        &fake,
        &format!("shutdown_grace = \"1s\"\n{}", due_in_1s(FAST_NORMS)),
    )
    .await;
    three_nudges_first_in_flight(&fake, &bot).await;
    let (status, took) = bot.terminate(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(1), "took {took:?}");
    assert!(bot.logged("stopped after the shutdown grace (1s)"));
    // Nothing was lost: the post in flight is still queued, marked as maybe sent (the next
    // start looks for it before posting it again), and the three requests are open.
    let store = open_store(&bot.store);
    let waiting = store.pending_outbox(10).unwrap();
    let in_doubt: Vec<_> = waiting.iter().filter(|item| item.maybe_sent).collect();
    assert_eq!(in_doubt.len(), 1, "{waiting:?}");
    assert_eq!(store.read(|rx| rx.count_open_requests()).unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_asks_the_running_bot_and_backup_waits_for_it_to_stop() {
    let fake = fake_with_team().await;
    let mut bot = Bot::start(&fake, &due_in_1s(FAST_NORMS)).await;
    bot.deliver(message(CHANNEL, "UALICE", &new_ts(), "<@UBOB> hi?", None))
        .await;
    let addr = bot.base_url.trim_start_matches("http://").to_owned();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_asyncbot"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .output()
            .unwrap()
    };
    let health = run(&["healthcheck", "--addr", &addr]);
    assert!(health.status.success(), "{health:?}");
    assert!(String::from_utf8_lossy(&health.stdout).contains("\"status\":\"ok\""));

    let config = bot.config.display().to_string();
    let backup_dir = tempfile::tempdir().unwrap();
    let copy = backup_dir.path().join("backup.redb");
    let copy_arg = copy.display().to_string();
    // While the bot runs, the store is locked: the backup says what to do instead.
    let refused = run(&["backup", "--config", &config, "--to", &copy_arg]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("the bot is running") && stderr.contains("systemctl stop"),
        "{stderr}"
    );
    assert!(!copy.exists());

    let (status, _) = bot.terminate(Duration::from_secs(12)).await;
    assert!(status.success());
    let down = run(&["healthcheck", "--addr", &addr]);
    assert_eq!(down.status.code(), Some(1), "a stopped bot is not healthy");
    assert!(String::from_utf8_lossy(&down.stderr).contains("cannot reach the bot"));

    // A delivery acked just before the bot stopped, still in the staging log beside the store.
    let store = open_store(&bot.store);
    let staged = Inbound::MessageDeleted {
        channel: CHANNEL.into(),
        ts: "1700000000.000100".into(),
    };
    store
        .accept_event(Some("EvStagedLast"), &staged, chrono::Utc::now())
        .unwrap();
    assert!(asyncbot::store::staging_path(&bot.store).exists());
    drop(store);

    let done = run(&["backup", "--config", &config, "--to", &copy_arg]);
    assert!(done.status.success(), "{done:?}");
    // The copy is a store of its own, with the request the bot had recorded, and the staged
    // delivery moved into it: the backup is one file.
    let restored = open_store(&copy);
    assert_eq!(restored.read(|rx| rx.count_open_requests()).unwrap(), 1);
    assert!(restored.was_seen("EvStagedLast").unwrap());
    let (_, event) = restored.next_inbound().unwrap().expect("the staged event");
    assert_eq!(event, staged);
    drop(restored);
    let again = run(&["backup", "--config", &config, "--to", &copy_arg]);
    assert!(!again.status.success(), "a backup never overwrites");
}
