//! Acks under load, through the real binary: signed events fired concurrently (with Slack's
//! retries mixed in) are each acked only once durable, and each is in the store exactly once
//! afterwards — also when the bot is killed with SIGKILL in the middle of the load.
//! Counted from the store itself, opened after the bot is gone: every acked `event_id` is among
//! the seen keys, and the inbox's counter says how many events were ever queued.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use asyncbot::store::Store;
use common::*;

const TASKS: usize = 64;

/// One signed delivery of a plain channel message (no mention: the engine's work stays small)
/// under `event_id`. Answers the HTTP status, or `None` if the connection failed.
async fn post(app: &TestApp, event_id: &str) -> Option<u16> {
    let ts = new_ts();
    let body = serde_json::to_vec(&event_callback(
        event_id,
        message("CLOAD", "UALICE", &ts, "lunch at noon?", None),
    ))
    .unwrap();
    let stamp = unix_now().to_string();
    let signature = sign(&stamp, &body);
    app.http
        .post(format!("{}/slack/events", app.base_url))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &stamp)
        .header("x-slack-signature", &signature)
        .body(body)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

fn open_store(app: &TestApp) -> Store {
    Store::open(&app.store_dir().join("asyncbot.redb")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_events_are_each_acked_once_durable_and_stored_once() {
    let fake = fake_with_team().await;
    let app = Arc::new(TestApp::start(&fake, Mode::Http, FAST_NORMS).await);

    // 2 000 deliveries of 1 600 event ids: every fifth one repeats an id another task sends
    // at about the same time, as Slack's retries would.
    let distinct = 1_600;
    let ids: Vec<String> = (0..2_000)
        .map(|i| {
            let n = if i % 5 == 4 {
                (i * 7) % distinct
            } else {
                i - i / 5
            };
            format!("EvLOAD{n:05}")
        })
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), distinct);
    let ids = Arc::new(ids);
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let (app, ids) = (app.clone(), ids.clone());
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            for id in ids.iter().skip(t).step_by(TASKS) {
                // 503 means "not recorded, try again": what Slack does.
                let status = loop {
                    match post(&app, id).await {
                        Some(503) | None => tokio::task::yield_now().await,
                        Some(status) => break status,
                    }
                };
                statuses.push((id.clone(), status));
            }
            statuses
        });
    }
    let mut acked = HashSet::new();
    let mut answers = 0;
    while let Some(statuses) = tasks.join_next().await {
        for (id, status) in statuses.unwrap() {
            assert_eq!(status, 200, "{id} not acked");
            acked.insert(id);
            answers += 1;
        }
    }
    assert_eq!(answers, 2_000);
    assert_eq!(acked.len(), distinct);

    // Gone without a chance to flush anything: only what was committed remains.
    let mut app = Arc::into_inner(app).unwrap();
    app.kill9();
    let store = open_store(&app);
    for id in &acked {
        assert!(store.was_seen(id).unwrap(), "{id} acked but not stored");
    }
    assert_eq!(
        store.events_queued().unwrap(),
        distinct as u64,
        "each event queued once, its repeats not at all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acked_event() {
    let fake = fake_with_team().await;
    let app = Arc::new(TestApp::start(&fake, Mode::Http, FAST_NORMS).await);
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let (app, stop, acks) = (app.clone(), stop.clone(), acks.clone());
        tasks.spawn(async move {
            let (mut acked, mut sent) = (Vec::new(), 0usize);
            while !stop.load(Ordering::Relaxed) {
                let id = format!("EvKILL{t:02}x{sent:06}");
                sent += 1;
                if post(&app, &id).await == Some(200) {
                    acked.push(id);
                    acks.fetch_add(1, Ordering::Relaxed);
                }
            }
            (acked, sent)
        });
    }
    // SIGKILL once a good number of events has been acked, with 64 requests in flight.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while acks.load(Ordering::Relaxed) < 1_000 {
        assert!(tokio::time::Instant::now() < deadline, "the load never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let killed = std::process::Command::new("kill")
        .args(["-9", &app.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    stop.store(true, Ordering::Relaxed);
    let (mut acked, mut sent) = (Vec::new(), 0);
    while let Some(result) = tasks.join_next().await {
        let (a, s) = result.unwrap();
        acked.extend(a);
        sent += s;
    }
    let mut app = Arc::into_inner(app).unwrap();
    app.stop();
    assert!(sent > acked.len(), "some requests were cut by the kill");
    let store = open_store(&app);
    let lost: Vec<_> = acked
        .iter()
        .filter(|id| !store.was_seen(id).unwrap())
        .collect();
    eprintln!(
        "ack_load: {} sent, {} acked before SIGKILL, {} queued in the store, {} acked but lost",
        sent,
        acked.len(),
        store.events_queued().unwrap(),
        lost.len()
    );
    assert!(lost.is_empty(), "acked but lost: {lost:?}");
    let queued = store.events_queued().unwrap() as usize;
    assert!(queued >= acked.len() && queued <= sent);
}
