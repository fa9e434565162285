//! Answers and questions told apart, end to end (issue 10, item 7): the real binary over HTTP
//! (signed requests) against the fake Slack. Alice asks Bob; Bob asks Alice and Dave who takes
//! the on-call swap. His question answers nobody: all three requests run their ladder, so each
//! of the three is nudged at its deadline. The other cases are tested in-process
//! (`tests/flows/questions.rs`).

mod common;

use std::time::Duration;

use common::*;

const CHANNEL: &str = "COPS";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_call_swap_question_keeps_alices_request_and_asks_alice_and_dave() {
    let fake = fake_with_team().await;
    fake.add_user("UDAVE", "dave", "Europe/London");
    // Normal requests due in 2 s, one thread nudge at the deadline, nothing after it.
    let norms = fast_norms_with_steps(r#"[{ after = "0s", action = "thread_mention" }]"#).replace(
        "[sla.normal]\nwithin = \"4s\"",
        "[sla.normal]\nwithin = \"2s\"",
    );
    let app = TestApp::start(&fake, Mode::Http, &norms).await;

    let ask = new_ts();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &ask,
            "<@UBOB> can you take my on-call shift on Friday?",
            None,
        ),
    )
    .await;
    let question = new_ts();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UBOB",
            &question,
            "<@UALICE> <@UDAVE> who takes the on-call swap?",
            None,
        ),
    )
    .await;

    let nudges = fake
        .wait_for("chat.postMessage", 3, Duration::from_secs(20))
        .await;
    let in_thread = |root: &str| -> Vec<String> {
        let mut texts: Vec<String> = nudges
            .iter()
            .filter(|n| n.arg("thread_ts").as_deref() == Some(root))
            .map(|n| n.text())
            .collect();
        texts.sort();
        texts
    };
    let on_ask = in_thread(&ask);
    assert_eq!(on_ask.len(), 1, "{}", fake.describe_calls());
    assert!(
        // The asker is named once the bot has looked them up, @-mentioned before: either way.
        on_ask[0].starts_with("<@UBOB>, ") && on_ask[0].contains("'s request has waited"),
        "Alice's request to Bob is still open: {}",
        on_ask[0]
    );
    let on_question = in_thread(&question);
    assert_eq!(on_question.len(), 2, "{}", fake.describe_calls());
    assert!(
        on_question[0].starts_with("<@UALICE>, ")
            && on_question[0].contains("'s request has waited"),
        "{}",
        on_question[0]
    );
    assert!(
        on_question[1].starts_with("<@UDAVE>, ")
            && on_question[1].contains("'s request has waited"),
        "{}",
        on_question[1]
    );
    assert_eq!(app.health().await["open_requests"], 3);
    assert!(
        fake.invalid_calls().is_empty(),
        "{:?}",
        fake.invalid_calls()
    );
}
