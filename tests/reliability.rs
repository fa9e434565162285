//! What a team relies on: Slack's retries processed once, a `kill -9` mid-wait losing nothing and
//! doubling nothing, a 429 delaying but not losing a nudge, and `/sla` answering within 3 s.

mod common;

use std::time::{Duration, Instant};

use common::*;

const CHANNEL: &str = "CENG";

/// Slack redelivers the same `event_id` (at once, after 1 min, after 5 min): one nudge.
async fn retried_event_yields_one_nudge(mode: Mode) {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, mode, &due_in_1s(FAST_NORMS)).await;
    let payload = event_callback(
        "EvRETRIED0001",
        message(CHANNEL, "UALICE", &new_ts(), "<@UBOB> budget?", None),
    );
    app.send_event(&fake, &payload).await;
    if mode == Mode::Http {
        for n in ["1", "2"] {
            let body = serde_json::to_vec(&payload).unwrap();
            let ts = unix_now().to_string();
            let sig = sign(&ts, &body);
            let r = app
                .post_raw(
                    "/slack/events",
                    "application/json",
                    body,
                    Some((&ts, &sig)),
                    &[
                        ("x-slack-retry-num", n),
                        ("x-slack-retry-reason", "http_timeout"),
                    ],
                )
                .await;
            assert_eq!(r.status(), 200, "a retry is acked");
        }
    } else {
        app.send_event(&fake, &payload).await;
        app.send_event(&fake, &payload).await;
    }
    fake.wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await;
    // The nudge left the outbox and no duplicate is queued behind it (the channel's 1 s pacing
    // would hold one there), short of the DM (3 s later).
    app.wait_outbox_empty().await;
    let threads: Vec<_> = posts(&fake)
        .iter()
        .filter(|c| c.arg("thread_ts").is_some())
        .map(|c| c.arg("thread_ts"))
        .collect();
    assert_eq!(threads.len(), 1, "{}", fake.describe_calls());
    assert_eq!(app.health().await["open_requests"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_yields_one_nudge_over_http() {
    retried_event_yields_one_nudge(Mode::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_event_yields_one_nudge_over_socket_mode() {
    retried_event_yields_one_nudge(Mode::SocketMode).await;
}

/// `kill -9` while a request waits; after a restart, exactly one nudge, at the right time.
async fn kill_and_restart_mid_wait(mode: Mode) {
    let fake = fake_with_team().await;
    let mut app = TestApp::start(&fake, mode, FAST_NORMS).await;
    let ts = new_ts();
    let started = Instant::now();
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &ts, "<@UBOB> still there?", None),
    )
    .await;
    // Let it be recorded, then kill it mid-wait.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.health().await["open_requests"] != 1 {
        assert!(Instant::now() < deadline, "the request was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.kill9();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "killed before the deadline"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.restart(&fake).await;

    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    assert!(
        started.elapsed() >= Duration::from_millis(3500),
        "not before the deadline"
    );
    assert_eq!(nudge.arg("thread_ts").as_deref(), Some(ts.as_str()));
    app.wait_outbox_empty().await;
    assert_eq!(
        posts(&fake).len(),
        1,
        "exactly one nudge: {}",
        fake.describe_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_mid_wait_over_http() {
    kill_and_restart_mid_wait(Mode::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_and_restart_mid_wait_over_socket_mode() {
    kill_and_restart_mid_wait(Mode::SocketMode).await;
}

/// A 429 with Retry-After delays the nudge by that long, and it still arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_delays_but_does_not_lose_the_nudge() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, &due_in_1s(FAST_NORMS)).await;
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::RateLimited {
            retry_after_secs: 2,
        }],
    );
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &new_ts(), "<@UBOB> ping", None),
    )
    .await;
    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(20))
        .await
        .remove(0);
    let attempts = fake.attempts_to("chat.postMessage");
    assert_eq!(
        attempts.len(),
        2,
        "one refused, one delivered: {}",
        fake.describe_calls()
    );
    let waited = nudge.at.duration_since(attempts[0].at);
    assert!(
        waited >= Duration::from_millis(1900),
        "Retry-After honoured: waited {waited:?}"
    );
    assert!(nudge.text().contains("<@UBOB>"));
    app.wait_outbox_empty().await;
    let nudges = posts(&fake)
        .iter()
        .filter(|c| c.arg("thread_ts").is_some())
        .count();
    assert_eq!(nudges, 1, "{}", fake.describe_calls());
}

/// 5xx and timeouts are retried with backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried() {
    let fake = fake_with_team().await;
    let app = TestApp::start(
        &fake,
        Mode::Http,
        // Only the thread nudge, so that nothing else is queued when the outbox is checked.
        &due_in_1s(&fast_norms_with_steps(
            r#"[{ after = "0s", action = "thread_mention" }]"#,
        )),
    )
    .await;
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::ServerError, Failure::Hang(Duration::from_secs(3))],
    );
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &new_ts(), "<@UBOB> ping", None),
    )
    .await;
    let nudge = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(25), |c| {
            c.arg("channel").as_deref() == Some(CHANNEL)
        })
        .await;
    assert!(nudge.text().starts_with("<@UBOB>"));
    let to_channel: Vec<_> = fake
        .attempts_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.arg("channel").as_deref() == Some(CHANNEL))
        .collect();
    assert_eq!(
        to_channel.len(),
        3,
        "500, timeout, success: {}",
        fake.describe_calls()
    );
}

/// A permanent error is logged once and dropped, never retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_errors_are_dropped_not_retried() {
    let fake = fake_with_team().await;
    let app = TestApp::start(
        &fake,
        Mode::Http,
        &due_in_1s(&fast_norms_with_steps(
            r#"[{ after = "0s", action = "thread_mention" }]"#,
        )),
    )
    .await;
    app.deliver(
        &fake,
        message("CARCHIVED1", "UALICE", &new_ts(), "<@UCAROL> ping", None),
    )
    .await;
    // Attempted once and dropped: it left the outbox, so nothing can retry it.
    let deadline = Instant::now() + Duration::from_secs(15);
    while !fake
        .attempts_to("chat.postMessage")
        .iter()
        .any(|c| c.arg("channel").as_deref() == Some("CARCHIVED1"))
    {
        assert!(Instant::now() < deadline, "{}", fake.describe_calls());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.wait_outbox_empty().await;
    let archived: Vec<_> = fake
        .attempts_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.arg("channel").as_deref() == Some("CARCHIVED1"))
        .collect();
    assert!(
        !archived.is_empty(),
        "the nudge was attempted: {}",
        fake.describe_calls()
    );
    assert!(
        archived.iter().all(|c| c.text().starts_with("<@UCAROL>, ")),
        "only the thread nudge: later steps go to DMs"
    );
    assert_eq!(
        archived.len(),
        1,
        "is_archived is not retried: {}",
        fake.describe_calls()
    );
    assert_eq!(
        app.health().await["outbox"],
        0,
        "the dropped message left the outbox"
    );
}

/// `/sla` answers in under 3 s with the norms and what waits on whom, over both transports.
async fn sla_command_answers(mode: Mode) {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, mode, FAST_NORMS).await;
    let ts = new_ts();
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
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.health().await["open_requests"] != 1 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (bob, took) = app.command(&fake, "/sla", "", "UBOB", CHANNEL).await;
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(bob.contains("Our response-time norms"), "{bob}");
    assert!(
        bob.contains("*urgent*") && bob.contains("*normal*") && bob.contains("*low*"),
        "{bob}"
    );
    assert!(bob.contains("within 4 s"), "{bob}");
    assert!(
        bob.contains("a direct message to the recipient"),
        "the ladder: {bob}"
    );
    assert!(bob.contains("*Waiting on you (1)*"), "{bob}");
    assert!(
        bob.contains("from <@UALICE>") && bob.contains("Q3 budget doc"),
        "{bob}"
    );
    assert!(
        bob.contains(&format!("p{}", ts.replace('.', ""))),
        "a link: {bob}"
    );
    assert!(
        bob.contains("due <!date^") || bob.contains("overdue since <!date^"),
        "{bob}"
    );

    let (alice, _) = app.command(&fake, "/sla", "", "UALICE", CHANNEL).await;
    assert!(alice.contains("*Waiting on you (0)*"), "{alice}");
    assert!(
        alice.contains("*You are waiting on (1)*") && alice.contains("for <@UBOB>"),
        "{alice}"
    );

    let (help, _) = app.command(&fake, "/sla", "help", "UBOB", CHANNEL).await;
    assert!(help.contains("`/sla help`"), "{help}");
    let (nonsense, _) = app
        .command(&fake, "/sla", "frobnicate", "UBOB", CHANNEL)
        .await;
    assert!(
        nonsense.contains("I don't understand `/sla frobnicate`"),
        "{nonsense}"
    );
    let (standup, _) = app
        .command(&fake, "/standup", "help", "UBOB", CHANNEL)
        .await;
    assert!(standup.contains("/standup at"), "{standup}");
    let (unknown, _) = app.command(&fake, "/weather", "", "UBOB", CHANNEL).await;
    assert!(
        unknown.contains("I don't know the command `/weather`"),
        "{unknown}"
    );
    assert!(
        unknown.contains("I answer `/rfc`, `/decisions`, `/standup`, `/sla` and `/weekly`."),
        "the known commands are listed: {unknown}"
    );
    assert_eq!(
        app.health().await["open_requests"],
        1,
        "commands change nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_command_answers_over_http() {
    sla_command_answers(Mode::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_command_answers_over_socket_mode() {
    sla_command_answers(Mode::SocketMode).await;
}

/// The bot introduces itself when it is added to a channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_introduces_itself_when_invited() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::SocketMode, FAST_NORMS).await;
    let joined = serde_json::json!({
        "type": "member_joined_channel", "user": "UBOT", "channel": "CNEW",
        "channel_type": "C", "team": "T0FAKE", "inviter": "UALICE"
    });
    app.deliver(&fake, joined).await;
    let hello = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(hello.arg("channel").as_deref(), Some("CNEW"));
    assert!(hello.text().contains("/sla"), "{}", hello.text());
}

/// Slack asks Socket Mode clients to reconnect every few hours: the bot does, and keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_mode_reconnects_when_slack_asks() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::SocketMode, FAST_NORMS).await;
    let before = fake.socket_connections();
    fake.socket_disconnect_all().await;
    fake.wait_socket_connections(before + 1, Duration::from_secs(30))
        .await;
    fake.wait_socket_connected(Duration::from_secs(10)).await;
    let (reply, _) = app.command(&fake, "/sla", "", "UBOB", CHANNEL).await;
    assert!(reply.contains("Our response-time norms"), "{reply}");
    assert_eq!(app.health().await["status"], "ok");
}

/// Opening asyncbot's Home tab shows the same overview as `/sla`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_tab_shows_the_overview() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::SocketMode, FAST_NORMS).await;
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &new_ts(),
            "<@UBOB> can you look at the Q3 budget?",
            None,
        ),
    )
    .await;
    let opened = serde_json::json!({
        "type": "app_home_opened", "user": "UBOB", "channel": "DUBOB", "tab": "home", "event_ts": new_ts()
    });
    app.deliver(&fake, opened).await;
    let published = fake
        .wait_for("views.publish", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(published.arg("user_id").as_deref(), Some("UBOB"));
    let text = published.text();
    assert!(text.contains("Our response-time norms"), "{text}");
    assert!(
        text.contains("*Waiting on you (1)*") && text.contains("Q3 budget"),
        "{text}"
    );
}
