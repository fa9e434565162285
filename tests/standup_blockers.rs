//! A standup blocker end to end (issue 11, item 3): the real binary over HTTP against the fake
//! Slack, with a standup a few seconds ahead. Alice's answer names Bob in its *Blockers* and
//! Carol in its *Completed*: one request, to Bob, on the normal tier (4 s in these norms), whose
//! first ladder step (the thread mention) comes in the standup's thread; Carol is asked
//! nothing. The rest of the ladder, Bob's answer and the cleared button are tested on the
//! virtual clock in `tests/flows/blockers.rs`.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;

const TEAM: &str = "CTEAM";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocker_naming_bob_becomes_a_request_that_climbs() {
    let fake = fake_with_team().await;
    fake.set_members(TEAM, &["UALICE", "UBOB", "UCAROL", "UBOT"]);
    let at = (Utc::now() + chrono::Duration::seconds(3)).format("%H:%M:%S");
    let config = format!(
        "{FAST_NORMS}\n[[standups]]\nchannel = \"{TEAM}\"\nat = \"{at}\"\ntimezone = \"UTC\"\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nremind_after = \"1h\"\nsummary_after = \"2h\"\n"
    );
    let app = TestApp::start(&fake, Mode::Http, &config).await;
    let prompt = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(15), |c| {
            c.arg("channel").as_deref() == Some(TEAM) && c.text().contains("*Async standup")
        })
        .await;
    let root = prompt.response_ts().expect("the prompt's ts");
    app.deliver(
        &fake,
        message(
            TEAM,
            "UALICE",
            &new_ts(),
            "Completed: paired with <@UCAROL> on the migration\nPlanned: urgent: the API\nBlockers: waiting on <@UBOB> for the DB credentials",
            Some(&root),
        ),
    )
    .await;
    let nudge = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(15), |c| {
            c.arg("thread_ts").as_deref() == Some(root.as_str())
                && c.text().starts_with("<@UBOB>,")
                && c.text().contains("request has waited")
        })
        .await;
    assert!(nudge.text().contains("(normal SLA)"), "{}", nudge.text());
    let health = app.health().await;
    assert_eq!(health["open_requests"], 1, "only Bob's: {health}");
    assert!(
        !fake
            .calls_to("chat.postMessage")
            .iter()
            .any(|c| c.text().starts_with("<@UCAROL>,")),
        "Carol, in Completed, is asked nothing: {}",
        fake.describe_calls()
    );
}
