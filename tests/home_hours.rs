//! The Home tab's *My working time* end to end: the real binary, the fake Slack, signed
//! payloads. Opening the tab publishes the section, its button opens the modal, and the
//! submitted modal is stored (`/sla hours` shows it) and the tab redrawn. The flows on virtual
//! time (deadlines following it, a form filled wrong) are in `tests/flows/home_hours.rs`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn person(user: &str) -> Value {
    json!({"id": user, "username": user.to_lowercase(), "team_id": "T0FAKE"})
}

fn option(v: &str) -> Value {
    json!({"text": {"type": "plain_text", "text": v}, "value": v})
}

/// The *My working time* text of the `n`-th Home tab published (from 1).
async fn home_section(fake: &FakeSlack, n: usize) -> String {
    let published = fake
        .wait_for("views.publish", n, Duration::from_secs(10))
        .await;
    let call = &published[n - 1];
    assert_eq!(call.arg("user_id").as_deref(), Some("UBOB"));
    let view = call.json_arg("view").unwrap();
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block_id"] == "sla_hours")
        .and_then(|b| b["text"]["text"].as_str())
        .unwrap_or_else(|| panic!("no My working time section: {view}"))
        .to_owned()
}

async fn set_from_the_home_tab(mode: Mode) {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, mode, FAST_NORMS).await;

    app.deliver(
        &fake,
        json!({"type": "app_home_opened", "user": "UBOB", "channel": "DUBOB", "tab": "home",
            "event_ts": new_ts()}),
    )
    .await;
    let section = home_section(&fake, 1).await;
    assert!(section.contains("(the team's)"), "{section}");

    let trigger = format!("{}.trigger", new_event_id());
    let ack = app
        .interaction(
            &fake,
            &json!({
                "type": "block_actions", "team": {"id": "T0FAKE", "domain": "fake"},
                "user": person("UBOB"), "api_app_id": "A0FAKE", "token": "ignored",
                "container": {"type": "view", "view_id": "VHOME"}, "trigger_id": trigger,
                "actions": [{"type": "button", "action_id": "sla_hours_open", "block_id": "sla_hours",
                    "action_ts": "1700000000.000001", "text": {"type": "plain_text", "text": "Change"}}]
            }),
        )
        .await;
    assert_eq!(ack, Value::Null, "a bare ack: {ack}");
    let opened = fake
        .wait_for("views.open", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(opened.arg("trigger_id"), Some(trigger));
    let view = opened.json_arg("view").unwrap();
    assert_eq!(view["callback_id"], "sla_hours");
    assert!(
        view.to_string().contains("America/New_York"),
        "the modal names his zone: {view}"
    );

    let ack = app
        .interaction(
            &fake,
            &json!({
                "type": "view_submission", "team": {"id": "T0FAKE", "domain": "fake"},
                "user": person("UBOB"), "api_app_id": "A0FAKE", "token": "ignored",
                "trigger_id": format!("{}.trigger", new_event_id()),
                "view": {
                    "id": "V0MODAL", "team_id": "T0FAKE", "type": "modal", "callback_id": "sla_hours",
                    "private_metadata": "", "hash": "1700000000.abc",
                    "title": {"type": "plain_text", "text": "My working time"}, "blocks": [],
                    "state": {"values": {
                        "days": {"value": {"type": "checkboxes", "selected_options":
                            (["mon", "tue", "wed", "thu"].map(option))}},
                        "hours": {"value": {"type": "plain_text_input", "value": "07:00-15:00"}},
                        "region": {"value": {"type": "plain_text_input", "value": "us"}},
                        "team": {"value": {"type": "checkboxes", "selected_options": []}}
                    }}
                }
            }),
        )
        .await;
    assert_eq!(ack, Value::Null, "the modal closes: {ack}");
    let section = home_section(&fake, 2).await;
    assert!(
        section.contains(
            "Your working time (your own): Mon, Tue, Wed, Thu, 07:00–15:00 (America/New_York), public holidays of US"
        ),
        "{section}"
    );
    let (shown, _) = app
        .command(&fake, "/sla", "hours", "UBOB", "CGENERAL")
        .await;
    assert!(shown.contains("Mon, Tue, Wed, Thu, 07:00–15:00"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_working_time_over_http() {
    set_from_the_home_tab(Mode::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_working_time_over_socket_mode() {
    set_from_the_home_tab(Mode::SocketMode).await;
}
