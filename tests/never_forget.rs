//! Never forget, never misfire (issue 7), end to end against the fake Slack: a crowd of mentions
//! is an announcement and does not delay an urgent request; a revoked token pauses delivery and
//! loses nothing (nor withdraws an RFC); a post whose answer is lost is posted once; a nudge due
//! while the bot was down waits for working hours; a replayed signed command runs once; a
//! message Slack refuses for good takes its dependants with it and tells the owner.

mod common;

use std::time::{Duration, Instant};

use chrono::Timelike;
use common::*;
use serde_json::json;

const CHANNEL: &str = "CENG";

/// A direct message to the bot: answered at once with a pointer (one post, no ladder).
fn dm_to_bot(user: &str) -> serde_json::Value {
    let ts = new_ts();
    json!({
        "type": "message",
        "channel": format!("D{user}"),
        "user": user,
        "text": "hi",
        "ts": ts,
        "event_ts": ts,
        "channel_type": "im",
    })
}

async fn wait_until<F: Fn(&serde_json::Value) -> bool>(
    app: &TestApp,
    timeout: Duration,
    what: &str,
    f: F,
) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let health = app.health().await;
        if f(&health) {
            return health;
        }
        assert!(Instant::now() < deadline, "never saw {what}: {health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `/healthz` until it answers 503; returns that answer's body.
async fn wait_for_503(app: &TestApp, timeout: Duration) -> serde_json::Value {
    let deadline = Instant::now() + timeout;
    loop {
        let r = app
            .http
            .get(format!("{}/healthz", app.base_url))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        if status == 503 {
            return body;
        }
        assert!(Instant::now() < deadline, "never unhealthy: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crowd_of_mentions_is_an_announcement_and_an_urgent_request_is_not_delayed() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let crowd: String = (0..300).map(|i| format!("<@U{i:08}> ")).collect();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &new_ts(),
            &format!("{crowd} welcome everyone!"),
            None,
        ),
    )
    .await;
    let urgent_ts = new_ts();
    let sent = Instant::now();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &urgent_ts,
            "<@UBOB> urgent: the deploy is stuck",
            None,
        ),
    )
    .await;
    let nudge = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("thread_ts").as_deref() == Some(urgent_ts.as_str())
        })
        .await;
    assert!(nudge.text().contains("<@UBOB>"), "{}", nudge.text());
    assert!(
        sent.elapsed() < Duration::from_millis(4500),
        "the urgent nudge (due at 2 s) came at {:?}",
        sent.elapsed()
    );
    let health = app.health().await;
    assert_eq!(
        health["open_requests"], 1,
        "only the urgent request: {health}"
    );
    let crowd_lookups = fake
        .calls_to("users.info")
        .iter()
        .filter(|c| c.arg("user").is_some_and(|u| u.starts_with("U0000")))
        .count();
    assert_eq!(crowd_lookups, 0, "nobody in the crowd was even looked up");
    assert!(
        fake.calls_to("conversations.open").is_empty(),
        "no DM to anyone"
    );
    // `/sla` says where the line is.
    let (norms, _) = app.command(&fake, "/sla", "", "UALICE", CHANNEL).await;
    assert!(norms.contains("more than 8 people"), "{norms}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_pauses_delivery_keeps_every_message_and_does_not_withdraw_an_rfc() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    fake.fail_next(
        "chat.postMessage",
        vec![
            Failure::ApiError("invalid_auth".into()),
            Failure::ApiError("token_revoked".into()),
            Failure::Status(403),
        ],
    );
    let (reply, _) = app
        .command(
            &fake,
            "/rfc",
            "Adopt trunk-based development approver: <@UBOB>",
            "UALICE",
            CHANNEL,
        )
        .await;
    assert!(reply.contains("RFC-1"), "{reply}");
    let degraded = wait_until(&app, Duration::from_secs(5), "degraded", |h| {
        h["status"] == "degraded"
    })
    .await;
    assert_eq!(degraded["delivery"]["state"], "paused");
    assert!(
        degraded["delivery"]["why"]
            .as_str()
            .is_some_and(|w| w.contains("SLACK_BOT_TOKEN") || w.contains("reinstall")),
        "{degraded}"
    );
    // Paused 1 s, 2 s, 4 s: then Slack accepts, and the RFC is posted, once.
    let post = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(15), |c| {
            c.text().contains("Adopt trunk-based development")
        })
        .await;
    assert_eq!(post.arg("channel").as_deref(), Some(CHANNEL));
    wait_until(&app, Duration::from_secs(5), "ok again", |h| {
        h["status"] == "ok"
    })
    .await;
    let attempts = fake.attempts_to("chat.postMessage").len();
    assert_eq!(attempts, 4, "three refusals, one success");
    assert!(
        !posts(&fake)
            .iter()
            .any(|c| c.text().contains("could not post")),
        "the RFC was not withdrawn: {}",
        fake.describe_calls()
    );
    let (list, _) = app.command(&fake, "/rfc", "list", "UALICE", CHANNEL).await;
    assert!(list.contains("RFC-1"), "still open: {list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_whose_answer_is_lost_is_found_by_its_metadata_and_not_posted_again() {
    let fake = fake_with_team().await;
    let config = FAST_NORMS.replace("request_timeout = \"2s\"", "request_timeout = \"1s\"");
    let app = TestApp::start(&fake, Mode::Http, &config).await;
    // Slack posts it, but the answer comes after the bot gave up waiting.
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::AcceptThenHang(Duration::from_secs(3))],
    );
    app.deliver(&fake, dm_to_bot("UALICE")).await;
    fake.wait_for("conversations.history", 1, Duration::from_secs(15))
        .await;
    // Give a second post every chance to happen.
    wait_until(&app, Duration::from_secs(10), "an empty outbox", |h| {
        h["outbox"] == 0
    })
    .await;
    let posted = fake.posted();
    assert_eq!(posted.len(), 1, "posted once: {posted:?}");
    assert_eq!(
        posted[0].1["metadata"]["event_type"], "asyncbot_outbox",
        "every post carries its outbox id"
    );
    let counts = fake.posts_by_outbox_id();
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nudge_due_while_the_bot_was_down_waits_for_the_recipients_working_hours() {
    let fake = fake_with_team().await;
    let mut app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let asked = Instant::now();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &new_ts(),
            "<@UBOB> can you review?",
            None,
        ),
    )
    .await;
    wait_until(&app, Duration::from_secs(5), "the request", |h| {
        h["open_requests"] == 1
    })
    .await;
    app.kill9();
    // While it is down, the deadline passes; it comes back on a calendar where it is now the
    // middle of Bob's night (his working hour starts two hours from now, New York time).
    tokio::time::sleep_until((asked + Duration::from_millis(4500)).into()).await;
    let bob_hour = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .hour();
    let start = (bob_hour + 2) % 24;
    let quiet = FAST_NORMS.replace(
        "working_hours = [\"00:00\", \"24:00\"]",
        &format!(
            "working_hours = [\"{start:02}:00\", \"{:02}:00\"]",
            start + 1
        ),
    );
    let config = std::fs::read_to_string(app.config_path()).unwrap();
    std::fs::write(app.config_path(), config.replace(FAST_NORMS, &quiet)).unwrap();
    app.restart(&fake).await;
    // The overdue timer fires at once on restart and is deferred, not queued.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.wait_outbox_empty().await;
    assert!(
        posts(&fake).is_empty(),
        "nothing lands in Bob's night: {}",
        fake.describe_calls()
    );
    assert_eq!(app.health().await["open_requests"], 1, "still tracked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_signed_command_opens_one_rfc() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    // Both looked up once, so the command answers inline.
    for user in ["UALICE", "UBOB"] {
        let (_, _) = app.command(&fake, "/standup", "back", user, CHANNEL).await;
    }
    let form = [
        ("command", "/rfc"),
        ("text", "Replay me approver: <@UBOB>"),
        ("user_id", "UALICE"),
        ("channel_id", CHANNEL),
        ("team_id", "T0FAKE"),
        (
            "response_url",
            "https://hooks.slack.com/commands/T0FAKE/9/x",
        ),
        ("trigger_id", "999.999.replayed"),
    ];
    let body = serde_urlencoded_encode(&form).into_bytes();
    let ts = unix_now().to_string();
    let sig = sign(&ts, &body);
    let mut replies = Vec::new();
    for _ in 0..2 {
        let r = app
            .post_raw(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                body.clone(),
                Some((&ts, &sig)),
                &[],
            )
            .await;
        assert_eq!(r.status(), 200);
        replies.push(r.text().await.unwrap());
    }
    assert!(replies[0].contains("RFC-1"), "{replies:?}");
    assert!(
        replies[1].trim().is_empty(),
        "the replay is acked, not run: {replies:?}"
    );
    // The same trigger signed again a second later is still the same action.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ts2 = unix_now().to_string();
    let r = app
        .post_raw(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            body.clone(),
            Some((&ts2, &sign(&ts2, &body))),
            &[],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().trim().is_empty());
    fake.wait_for("chat.postMessage", 1, Duration::from_secs(5))
        .await;
    app.wait_outbox_empty().await;
    let rfc_posts = posts(&fake)
        .iter()
        .filter(|c| c.text().contains("Replay me"))
        .count();
    assert_eq!(rfc_posts, 1, "{}", fake.describe_calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standup_prompt_slack_refuses_takes_its_thread_with_it_and_tells_who_set_it() {
    let fake = fake_with_team().await;
    fake.set_members("CNOTFOUNDX", &["UALICE", "UBOB"]);
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let at = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .format("%H:%M:%S")
        .to_string();
    let (reply, _) = app
        .command(
            &fake,
            "/standup",
            &format!("at {at} UTC daily"),
            "UALICE",
            "CNOTFOUNDX",
        )
        .await;
    assert!(reply.contains("Standup"), "{reply}");
    let dm = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(15), |c| {
            c.arg("channel").as_deref() == Some("DUALICE")
        })
        .await;
    assert!(
        dm.text().contains("could not post the standup")
            && dm.text().contains("turned its standup off"),
        "{}",
        dm.text()
    );
    let (status, _) = app
        .command(&fake, "/standup", "status", "UALICE", "CNOTFOUNDX")
        .await;
    assert!(status.to_lowercase().contains("off"), "{status}");
    assert_eq!(
        app.health().await["outbox"],
        0,
        "nothing left waiting on the dropped prompt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_says_which_worker_is_stuck_and_answers_503() {
    let fake = fake_with_team().await;
    let config = format!(
        "{}\n[health]\nstuck_after = \"1s\"\n",
        FAST_NORMS.replace("request_timeout = \"2s\"", "request_timeout = \"6s\"")
    );
    let app = TestApp::start(&fake, Mode::Http, &config).await;
    fake.fail_next(
        "chat.postMessage",
        vec![Failure::Hang(Duration::from_secs(4))],
    );
    app.deliver(&fake, dm_to_bot("UALICE")).await;
    let body = wait_for_503(&app, Duration::from_secs(5)).await;
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["workers"]["delivery"]["state"], "stuck", "{body}");
    assert!(body["workers"]["inbox"]["last_progress"].is_string());
    // Once Slack answers, it is healthy again.
    wait_until(&app, Duration::from_secs(8), "healthy again", |h| {
        h["status"] == "ok"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_and_a_standup_off_given_while_the_summary_asks_slack_are_kept() {
    let fake = fake_with_team().await;
    fake.set_members("CLATE", &["UALICE", "UBOB"]);
    let at = (chrono::Utc::now() + chrono::Duration::seconds(2))
        .format("%H:%M:%S")
        .to_string();
    // The members list is slow (2 s), not lost: the bot waits longer than that for it. With
    // FAST_NORMS' 2 s timeout, the hang and the timeout would race, and a lost call is only
    // seen by `wait_for` once the summary's own call succeeds, after the summary.
    let norms = FAST_NORMS.replace("request_timeout = \"2s\"", "request_timeout = \"6s\"");
    let config = format!(
        "{norms}\n[[standups]]\nchannel = \"CLATE\"\nat = \"{at}\"\ntimezone = \"UTC\"\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nremind_after = \"2s\"\nsummary_after = \"5s\"\n"
    );
    let app = TestApp::start(&fake, Mode::Http, &config).await;
    let prompt = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("channel").as_deref() == Some("CLATE") && c.arg("thread_ts").is_none()
        })
        .await;
    let root = prompt.response_ts().unwrap();
    // The reminder's members list is slow to come; meanwhile Bob answers and Alice turns the
    // standup off.
    fake.fail_next(
        "conversations.members",
        vec![Failure::Hang(Duration::from_secs(2))],
    );
    fake.wait_for("conversations.members", 1, Duration::from_secs(10))
        .await;
    app.deliver(
        &fake,
        message(
            "CLATE",
            "UBOB",
            &new_ts(),
            "Done: the release\nBlockers: none",
            Some(&root),
        ),
    )
    .await;
    let (off, _) = app
        .command(&fake, "/standup", "off", "UALICE", "CLATE")
        .await;
    assert!(off.contains("is off"), "{off}");
    let summary = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("thread_ts").as_deref() == Some(root.as_str()) && c.text().contains("summary")
        })
        .await;
    assert!(
        summary.text().contains("1 of 2"),
        "Bob's answer counts: {}",
        summary.text()
    );
    let (status, _) = app
        .command(&fake, "/standup", "status", "UALICE", "CLATE")
        .await;
    assert!(status.contains("turned off"), "still off: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_503_while_socket_mode_stays_disconnected() {
    let fake = fake_with_team().await;
    let config = format!("{FAST_NORMS}\n[health]\nsocket_down_after = \"1s\"\n");
    let app = TestApp::start(&fake, Mode::SocketMode, &config).await;
    assert_eq!(app.health().await["socket_mode"]["state"], "connected");
    // Slack drops every connection and cannot hand out new ones for a while.
    fake.fail_next("apps.connections.open", vec![Failure::ServerError; 200]);
    fake.socket_drop_all();
    let body = wait_for_503(&app, Duration::from_secs(10)).await;
    assert_eq!(body["socket_mode"]["state"], "disconnected", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_command_envelope_runs_once_over_socket_mode() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::SocketMode, FAST_NORMS).await;
    for user in ["UALICE", "UBOB"] {
        let (_, _) = app.command(&fake, "/standup", "back", user, CHANNEL).await;
    }
    let payload = json!({
        "command": "/rfc",
        "text": "Once only approver: <@UBOB>",
        "user_id": "UALICE",
        "channel_id": CHANNEL,
        "team_id": "T0FAKE",
        "response_url": fake.response_url("once"),
        "trigger_id": "777.777.once",
    });
    let first = fake
        .socket_send("slash_commands", payload.clone(), Duration::from_secs(5))
        .await;
    let again = fake
        .socket_send("slash_commands", payload, Duration::from_secs(5))
        .await;
    assert!(
        first["payload"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("RFC-1")),
        "{first}"
    );
    assert!(
        !again.to_string().contains("RFC-2"),
        "the redelivery is acked, not run: {again}"
    );
    fake.wait_for("chat.postMessage", 1, Duration::from_secs(5))
        .await;
    app.wait_outbox_empty().await;
    let rfc_posts = posts(&fake)
        .iter()
        .filter(|c| c.text().contains("Once only"))
        .count();
    assert_eq!(rfc_posts, 1, "{}", fake.describe_calls());
}
