//! `/rfc` end to end: the real binary, the fake Slack, second-long windows. Buttons and modals
//! over both transports, every mistake's answer, and an RFC Slack refuses. The lifecycle on the
//! real norms (post, reminder, close, decision, Informed, the approver's ladder, the decision log
//! and its export) is tested in-process on virtual time in `tests/flows/rfc.rs`.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const ARCH: &str = "CARCH";

/// Windows of seconds: reminder 3 s before the close; the ladder as in FAST_NORMS (DM 3 s after
/// the close, call 2 s after that).
fn rfc_norms() -> String {
    format!(
        "{FAST_NORMS}\n[rfc]\ndefault_window = \"6s\"\nmin_window = \"1s\"\nmax_window = \"1h\"\nremind_before = \"3s\"\nclock = \"wall\"\n"
    )
}

async fn team() -> FakeSlack {
    let fake = fake_with_team().await;
    fake.add_user("UDAVE", "dave", "America/Los_Angeles");
    fake
}

/// The RFC's top-level message (the first post to the channel without a thread).
async fn rfc_message(fake: &FakeSlack) -> Call {
    fake.wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
        c.arg("channel").as_deref() == Some(ARCH) && c.arg("thread_ts").is_none()
    })
    .await
}

/// Each press or submission is a new user action, with its own trigger (a repeated trigger is
/// a replay, acked and not run again).
fn new_trigger() -> String {
    format!("{}.trigger", new_event_id())
}

fn block_action(user: &str, action_id: &str, id: u64, ts: &str) -> Value {
    json!({
        "type": "block_actions",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "ignored",
        "container": {"type": "message", "message_ts": ts, "channel_id": ARCH, "is_ephemeral": false},
        "trigger_id": new_trigger(),
        "channel": {"id": ARCH, "name": "arch"},
        "response_url": "https://hooks.slack.com/actions/T0FAKE/1/abc",
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": format!("rfc_actions:{id}"),
            "value": id.to_string(), "action_ts": "1700000000.000001",
            "text": {"type": "plain_text", "text": "button"}
        }]
    })
}

fn view_submission(user: &str, callback_id: &str, metadata: &str, values: Value) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "ignored",
        "trigger_id": new_trigger(),
        "view": {
            "id": "V0MODAL", "team_id": "T0FAKE", "type": "modal", "callback_id": callback_id,
            "private_metadata": metadata, "hash": "1700000000.abc",
            "title": {"type": "plain_text", "text": "Form"}, "blocks": [],
            "state": {"values": values}
        }
    })
}

async fn buttons_and_modals(mode: Mode) {
    let fake = team().await;
    let app = TestApp::start(&fake, mode, &rfc_norms()).await;

    // `/rfc` alone opens the modal; submitting it with a bad window shows the error on the field.
    let (reply, took) = app.command_raw(&fake, "/rfc", "", "UALICE", ARCH).await;
    assert!(took < Duration::from_secs(3));
    assert!(
        reply.as_str().unwrap_or_default().is_empty(),
        "no message, a modal: {reply}"
    );
    let opened = fake
        .wait_for("views.open", 1, Duration::from_secs(5))
        .await
        .remove(0);
    assert!(
        opened
            .arg("trigger_id")
            .is_some_and(|t| t.ends_with(".trigger")),
        "the modal opens on the command's own trigger"
    );
    let view = opened.json_arg("view").unwrap();
    assert_eq!(view["callback_id"], "rfc_open");
    assert_eq!(view["private_metadata"], ARCH);

    let values = |window: &str| {
        json!({
            "title": {"value": {"type": "plain_text_input", "value": "Move CI to our own runners"}},
            "context": {"value": {"type": "plain_text_input", "value": "Builds queue for 20 minutes at peak."}},
            "approver": {"value": {"type": "users_select", "selected_user": "UBOB"}},
            "contributors": {"value": {"type": "multi_users_select", "selected_users": ["UCAROL", "UDAVE"]}},
            "informed_channels": {"value": {"type": "multi_conversations_select", "selected_conversations": ["CANN"]}},
            "informed_users": {"value": {"type": "multi_users_select", "selected_users": []}},
            "window": {"value": {"type": "plain_text_input", "value": window}}
        })
    };
    let bad = app
        .interaction(
            &fake,
            &view_submission("UALICE", "rfc_open", ARCH, values("a fortnight-ish")),
        )
        .await;
    assert_eq!(bad["response_action"], "errors", "{bad}");
    assert!(
        bad["errors"]["window"]
            .as_str()
            .unwrap()
            .contains("is not a duration"),
        "{bad}"
    );
    let too_long = app
        .interaction(
            &fake,
            &view_submission("UALICE", "rfc_open", ARCH, values("30d")),
        )
        .await;
    assert!(
        too_long["errors"]["window"]
            .as_str()
            .unwrap()
            .contains("between"),
        "{too_long}"
    );
    assert!(posts(&fake).is_empty(), "an invalid form posts nothing");

    let ok = app
        .interaction(
            &fake,
            &view_submission("UALICE", "rfc_open", ARCH, values("20s")),
        )
        .await;
    assert!(ok.is_null() || ok == json!({}), "accepted: {ok}");
    let post = rfc_message(&fake).await;
    assert!(
        post.text().contains("RFC-1: Move CI to our own runners"),
        "{}",
        post.text()
    );
    assert!(
        post.text().contains("Builds queue for 20 minutes"),
        "the context is on the RFC: {}",
        post.text()
    );
    let ts = post.response_ts().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Dave has no comments; Carol may not accept; Bob's Accept opens the rationale form.
    app.interaction(&fake, &block_action("UDAVE", "rfc_no_comments", 1, &ts))
        .await;
    let noted = fake
        .wait_for("chat.postEphemeral", 1, Duration::from_secs(5))
        .await
        .remove(0);
    assert_eq!(noted.arg("user").as_deref(), Some("UDAVE"));
    assert!(
        noted.text().contains("Noted: no comments on RFC-1"),
        "{}",
        noted.text()
    );
    app.interaction(&fake, &block_action("UCAROL", "rfc_accept", 1, &ts))
        .await;
    let refused = fake
        .wait_for("chat.postEphemeral", 2, Duration::from_secs(5))
        .await
        .remove(1);
    assert!(
        refused.text().contains("Only the approver of RFC-1"),
        "{}",
        refused.text()
    );
    app.interaction(&fake, &block_action("UBOB", "rfc_reject", 1, &ts))
        .await;
    let decide = fake
        .wait_for("views.open", 2, Duration::from_secs(5))
        .await
        .remove(1);
    let view = decide.json_arg("view").unwrap();
    assert_eq!(view["callback_id"], "rfc_decide");
    assert_eq!(view["private_metadata"], "1:reject");

    let empty = app
        .interaction(
            &fake,
            &view_submission(
                "UBOB",
                "rfc_decide",
                "1:reject",
                json!({"rationale": {"value": {"type": "plain_text_input", "value": "  "}}}),
            ),
        )
        .await;
    assert!(empty["errors"]["rationale"].is_string(), "{empty}");
    app.interaction(
        &fake,
        &view_submission("UBOB", "rfc_decide", "1:reject", json!({"rationale": {"value": {"type": "plain_text_input", "value": "Too costly for this quarter."}}})),
    )
    .await;
    let update = fake
        .wait_for("chat.update", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert!(
        update.text().contains("*Rejected* by <@UBOB>"),
        "{}",
        update.text()
    );
    assert!(update.text().contains("Too costly"), "{}", update.text());

    // The close that would have come finds nothing to do.
    let (list, _) = app.command(&fake, "/rfc", "list", "UALICE", ARCH).await;
    assert!(list.contains("No open RFCs"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_and_modals_over_http() {
    buttons_and_modals(Mode::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_and_modals_over_socket_mode() {
    buttons_and_modals(Mode::SocketMode).await;
}

/// Every mistake gets a clear answer and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_get_clear_answers_and_change_nothing() {
    let fake = team().await;
    let app = TestApp::start(&fake, Mode::Http, &rfc_norms()).await;
    let cases: &[(&str, &str, &str)] = &[
        ("Adopt Rust", ARCH, "needs an approver"),
        (
            "Adopt Rust approver:<@UBOB> <@UCAROL>",
            ARCH,
            "exactly one approver",
        ),
        ("Adopt Rust approver:@bob", ARCH, "autocomplete"),
        ("Adopt Rust approver:<@UBOB> window:3d", ARCH, "between"),
        ("Adopt Rust approver:<@UBOB> window:soon", ARCH, "soon"),
        ("Adopt Rust approver:<@UOTHERBOT>", ARCH, "can't approve"),
        (
            "Adopt Rust approver:<@UBOB>",
            "DALICE",
            "RFCs live in a channel",
        ),
        ("", "DALICE", "RFCs live in a channel"),
        ("decide RFC-99 accept fine", ARCH, "There is no RFC-99"),
        ("decide RFC-1", ARCH, "accept"),
        ("withdraw RFC-7", ARCH, "There is no RFC-7"),
        ("supersede RFC-1 RFC-2", ARCH, "with"),
    ];
    for (text, channel, expected) in cases {
        let (reply, took) = app.command(&fake, "/rfc", text, "UALICE", channel).await;
        assert!(took < Duration::from_secs(3));
        assert!(
            reply.contains(expected),
            "/rfc {text:?} in {channel}: {reply}"
        );
    }
    let (help, _) = app.command(&fake, "/rfc", "help", "UALICE", ARCH).await;
    assert!(help.contains("/rfc decide"), "{help}");
    let (list, _) = app.command(&fake, "/rfc", "list", "UALICE", ARCH).await;
    assert!(list.contains("No open RFCs"), "{list}");
    let (log, _) = app.command(&fake, "/decisions", "", "UALICE", ARCH).await;
    assert!(log.contains("empty"), "{log}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        posts(&fake).is_empty(),
        "nothing was posted: {}",
        fake.describe_calls()
    );

    // Withdraw is the driver's; supersede needs a decided record.
    app.command(
        &fake,
        "/rfc",
        "First approver:<@UBOB> window:1h",
        "UALICE",
        ARCH,
    )
    .await;
    app.command(
        &fake,
        "/rfc",
        "Second approver:<@UBOB> window:1h",
        "UALICE",
        ARCH,
    )
    .await;
    let (not_driver, _) = app
        .command(&fake, "/rfc", "withdraw RFC-1", "UBOB", ARCH)
        .await;
    assert!(
        not_driver.contains("Only the driver of RFC-1"),
        "{not_driver}"
    );
    let (undecided, _) = app
        .command(&fake, "/rfc", "supersede RFC-1 with RFC-2", "UALICE", ARCH)
        .await;
    assert!(
        undecided.contains("only be superseded once it is decided"),
        "{undecided}"
    );
    app.command(&fake, "/rfc", "decide RFC-1 accept ok", "UBOB", ARCH)
        .await;
    let (superseded, _) = app
        .command(&fake, "/rfc", "supersede RFC-1 with RFC-2", "UALICE", ARCH)
        .await;
    assert!(
        superseded.contains("RFC-1 is marked superseded by RFC-2"),
        "{superseded}"
    );
    let (withdrawn, _) = app
        .command(&fake, "/rfc", "withdraw RFC-2", "UALICE", ARCH)
        .await;
    assert!(withdrawn.contains("RFC-2 is withdrawn"), "{withdrawn}");
    let (log, _) = app.command(&fake, "/decisions", "", "UALICE", ARCH).await;
    assert!(
        log.contains("Superseded") && log.contains("Withdrawn"),
        "{log}"
    );
}

/// If Slack refuses the RFC's message (the bot is not in the channel), the driver is told how to
/// fix it, and the RFC does not run on unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rfc_slack_refuses_is_withdrawn_and_the_driver_told() {
    let fake = team().await;
    let app = TestApp::start(&fake, Mode::Http, &rfc_norms()).await;
    let opened = std::time::Instant::now();
    let (reply, _) = app
        .command(
            &fake,
            "/rfc",
            "Adopt Rust approver:<@UBOB> contributors:<@UCAROL> window:3s",
            "UALICE",
            "CNOTFOUND1",
        )
        .await;
    assert!(reply.contains("invite me"), "{reply}");
    let dm = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("channel").as_deref() == Some("DUALICE")
        })
        .await;
    assert!(
        dm.text().contains("I could not post *RFC-1: Adopt Rust*"),
        "{}",
        dm.text()
    );
    assert!(dm.text().contains("/invite @asyncbot"), "{}", dm.text());
    let (list, _) = app
        .command(&fake, "/rfc", "list", "UALICE", "CNOTFOUND1")
        .await;
    assert!(list.contains("No open RFCs"), "{list}");
    // Past its close: no reminder, no close (and so no ladder) for an RFC nobody could see.
    tokio::time::sleep_until((opened + Duration::from_millis(3500)).into()).await;
    let attempts = fake.attempts_to("chat.postMessage");
    assert_eq!(
        attempts.len(),
        2,
        "the refused post and the DM only: {}",
        fake.describe_calls()
    );
}
