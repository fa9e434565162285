//! Everyone's own calendar, end to end (issue 10, items 1 and 6): the real binary over HTTP
//! (signed requests) against the fake Slack. Bob says he is away for three days (`/sla away`);
//! Alice asks him something and is told privately, once, that he is off and when her request is
//! due; her second request that day tells her nothing more.
//! The calendars themselves are tested in-process (`tests/flows/own_calendar.rs`).

mod common;

use std::time::Duration;

use common::*;

const CHANNEL: &str = "CPLAN";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absence_pauses_the_nudges_and_the_asker_gets_one_heads_up() {
    let fake = fake_with_team().await;
    let norms = fast_norms_with_steps(r#"[{ after = "0s", action = "thread_mention" }]"#);
    let app = TestApp::start(&fake, Mode::Http, &norms).await;

    // Today and the next two days, in Bob's own zone.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    let last = today + chrono::Days::new(2);
    let (away, _) = app
        .command(
            &fake,
            "/sla",
            &format!("away {today}..{last}"),
            "UBOB",
            CHANNEL,
        )
        .await;
    assert!(away.starts_with("You're away"), "{away}");

    for text in ["<@UBOB> can you check the rota?", "<@UBOB> and the budget?"] {
        app.deliver(&fake, message(CHANNEL, "UALICE", &new_ts(), text, None))
            .await;
    }
    let notes = fake
        .wait_for("chat.postEphemeral", 1, Duration::from_secs(10))
        .await;
    let note = &notes[0];
    assert_eq!(note.arg("user").as_deref(), Some("UALICE"));
    assert_eq!(note.arg("channel").as_deref(), Some(CHANNEL));
    let text = note.text();
    assert!(
        text.starts_with("bob is off until")
            && text.contains("their time (away); your request is due"),
        "{text}"
    );
    // Both requests are tracked and everything queued has gone out: still one heads-up (once a
    // day per pair). That no nudge comes while he is away is shown on the virtual clock
    // (tests/flows/own_calendar.rs), where waiting costs nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let health = app.health().await;
        if health["open_requests"] == 2 && health["outbox"] == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        fake.calls_to("chat.postEphemeral").len(),
        1,
        "{}",
        fake.describe_calls()
    );
}
