//! The SLA buttons end to end: the real binary, the fake Slack, a signed interactivity payload
//! over HTTP. *Already answered* on the nudge closes the request and replaces the buttons. The
//! other buttons, and every refusal, are tested in-process on virtual time in
//! `tests/flows/buttons.rs`.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};

const CHANNEL: &str = "CENG";

fn press(user: &str, action_id: &str, value: &str, message_ts: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "ignored",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": format!("{}.trigger", new_event_id()),
        "channel": {"id": CHANNEL, "name": "eng"},
        "response_url": "https://hooks.slack.com/actions/T0FAKE/1/abc",
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": "sla_actions:1",
            "value": value, "action_ts": "1700000000.000001",
            "text": {"type": "plain_text", "text": "Already answered"}
        }]
    })
}

/// Bob presses *Already answered* on his nudge: the ack is fast, the request closes (no longer
/// open on `/healthz`), the nudge is edited to say so without its buttons, and Bob is told.
#[tokio::test]
async fn already_answered_over_http_closes_the_request_and_edits_the_nudge() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, &due_in_1s(FAST_NORMS)).await;
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
    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    let blocks = nudge.json_arg("blocks").expect("the nudge has blocks");
    let answered = blocks
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action_id"] == "sla_answered")
        .unwrap_or_else(|| panic!("no Already answered button: {blocks}"));
    let value = answered["value"].as_str().unwrap().to_owned();
    let nudge_ts = nudge.response_ts().unwrap();
    assert_eq!(app.health().await["open_requests"], 1);

    let started = Instant::now();
    app.interaction(&fake, &press("UBOB", "sla_answered", &value, &nudge_ts))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "acked within Slack's 3 s: {:?}",
        started.elapsed()
    );
    let edit = fake
        .wait_for("chat.update", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(edit.arg("channel").as_deref(), Some(CHANNEL));
    assert_eq!(edit.arg("ts").as_deref(), Some(nudge_ts.as_str()));
    let edited = edit.json_arg("blocks").unwrap().to_string();
    assert!(edited.contains("<@UBOB> marked this answered"), "{edited}");
    assert!(!edited.contains("sla_"), "the buttons are gone: {edited}");
    let told = fake
        .wait_for("chat.postEphemeral", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(told.arg("user").as_deref(), Some("UBOB"));
    assert!(
        told.text().starts_with("Marked answered"),
        "{}",
        told.text()
    );
    assert_eq!(app.health().await["open_requests"], 0);
}
