//! The SLA ladder end to end, one smoke test per transport (HTTP and Socket Mode): the real
//! binary, the fake Slack, second-long norms (normal 2 s, DM 1 s later, call 1 s after that).
//! The ladder's behaviour (every way a request closes, edits, deletes, tiers, quiet hours, time
//! off, DST) is tested in-process on virtual time in `tests/flows/`.

mod common;

use std::time::{Duration, Instant};

use common::*;

const CHANNEL: &str = "CENG";

/// The smoke test's norms: the whole ladder within 4 s.
fn smoke_norms() -> String {
    fast_norms_with_steps(
        r#"[
  { after = "0s", action = "thread_mention" },
  { after = "1s", action = "direct_message" },
  { after = "1s", action = "suggest_call" },
]"#,
    )
    .replace(
        "[sla.normal]\nwithin = \"4s\"",
        "[sla.normal]\nwithin = \"2s\"",
    )
}

/// Alice asks Bob; nobody answers: nudge in the thread at 2 s, DM at 3 s, call at 4 s, each once.
async fn whole_ladder(mode: Mode) {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, mode, &smoke_norms()).await;
    let ts = new_ts();
    let started = Instant::now();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &ts,
            "<@UBOB> can you review the Q3 budget doc?",
            None,
        ),
    )
    .await;

    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    let nudge_after = started.elapsed();
    assert!(
        nudge_after >= Duration::from_millis(1500),
        "nudged too early: {nudge_after:?}"
    );
    assert_eq!(nudge.arg("channel").as_deref(), Some(CHANNEL));
    assert_eq!(
        nudge.arg("thread_ts").as_deref(),
        Some(ts.as_str()),
        "the nudge goes in the thread"
    );
    let text = nudge.text();
    assert!(
        // The asker is named once looked up, @-mentioned before: either way, the recipient first.
        text.starts_with("<@UBOB>, ") && text.contains("'s request has waited 2 s (normal SLA)"),
        "{text}"
    );
    assert!(
        text.contains("<!date^"),
        "each reader sees their own local time: {text}"
    );

    let calls = fake
        .wait_for("chat.postMessage", 2, Duration::from_secs(15))
        .await;
    let dm = &calls[1];
    assert!(
        started.elapsed() >= Duration::from_millis(2500),
        "DM too early"
    );
    assert_eq!(
        dm.arg("channel").as_deref(),
        Some("DUBOB"),
        "the DM goes to Bob"
    );
    assert!(
        dm.text().contains("<@UALICE> is waiting on you"),
        "{}",
        dm.text()
    );
    assert!(
        dm.text().contains("Q3 budget doc"),
        "one clear request: {}",
        dm.text()
    );
    assert!(
        dm.text()
            .contains(&format!("archives/{CHANNEL}/p{}", ts.replace('.', ""))),
        "a link to the message: {}",
        dm.text()
    );

    let calls = fake
        .wait_for("chat.postMessage", 3, Duration::from_secs(15))
        .await;
    let call = &calls[2];
    assert!(
        started.elapsed() >= Duration::from_millis(3500),
        "call suggestion too early"
    );
    assert_eq!(
        call.arg("channel").as_deref(),
        Some("GUALICEUBOB"),
        "to sender and recipient"
    );
    assert!(call.text().contains("15-minute call"), "{}", call.text());
    assert!(call.text().contains("write the outcome"), "{}", call.text());

    // Each step once (that nothing follows over days is asserted in-process, on virtual time).
    assert_eq!(posts(&fake).len(), 3, "{}", fake.describe_calls());
    assert_eq!(app.health().await["open_requests"], 1);
    assert!(
        fake.invalid_calls().is_empty(),
        "{:?}",
        fake.invalid_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_ladder_over_http() {
    whole_ladder(Mode::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_ladder_over_socket_mode() {
    whole_ladder(Mode::SocketMode).await;
}
