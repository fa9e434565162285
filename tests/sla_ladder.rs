//! The SLA ladder end to end, over HTTP and over Socket Mode alike: the real binary, the fake
//! Slack, second-long norms (normal 4 s, urgent 2 s, DM 3 s later, call 2 s after that).

mod common;

use std::time::{Duration, Instant};

use common::*;

const CHANNEL: &str = "CENG";

/// Alice asks Bob; nobody answers: nudge in the thread at 4 s, DM at 7 s, call at 9 s, each once.
async fn whole_ladder(mode: Mode) {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, mode, FAST_NORMS).await;
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
        nudge_after >= Duration::from_millis(3500),
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
        text.contains("<@UBOB>, <@UALICE>'s request has waited 4 s (normal SLA)"),
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
        started.elapsed() >= Duration::from_millis(6500),
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
        started.elapsed() >= Duration::from_millis(8500),
        "call suggestion too early"
    );
    assert_eq!(
        call.arg("channel").as_deref(),
        Some("GUALICEUBOB"),
        "to sender and recipient"
    );
    assert!(call.text().contains("15-minute call"), "{}", call.text());
    assert!(call.text().contains("write the outcome"), "{}", call.text());

    // Each step once: nothing more arrives.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(posts(&fake).len(), 3, "{}", fake.describe_calls());
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

/// A thread reply by Bob, or his 👀, stops the clock; someone else's reply or reaction does not.
async fn answers_close_requests(mode: Mode) {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, mode, FAST_NORMS).await;

    // 1. Bob replies in the thread.
    let by_reply = new_ts();
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &by_reply, "<@UBOB> thoughts?", None),
    )
    .await;
    // 2. Bob reacts with 👀.
    let by_reaction = new_ts();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &by_reaction,
            "<@UBOB> and another one",
            None,
        ),
    )
    .await;
    // 3. Carol is asked; Bob (not Carol) replies in her thread and reacts: still open.
    let still_open = new_ts();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &still_open,
            "<@UCAROL> can you check?",
            None,
        ),
    )
    .await;
    // 4. Bob answers in the channel, mentioning Alice, without a thread.
    let by_channel = new_ts();
    app.deliver(
        &fake,
        message("COTHER", "UALICE", &by_channel, "<@UBOB> quick one", None),
    )
    .await;

    app.deliver(
        &fake,
        message(CHANNEL, "UBOB", &new_ts(), "on it", Some(&by_reply)),
    )
    .await;
    app.deliver(&fake, reaction("UBOB", "eyes", CHANNEL, &by_reaction))
        .await;
    app.deliver(
        &fake,
        message(CHANNEL, "UBOB", &new_ts(), "not me", Some(&still_open)),
    )
    .await;
    app.deliver(&fake, reaction("UCAROL", "heart", CHANNEL, &still_open))
        .await;
    app.deliver(
        &fake,
        message("COTHER", "UBOB", &new_ts(), "<@UALICE> done!", None),
    )
    .await;

    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    assert_eq!(nudge.arg("thread_ts").as_deref(), Some(still_open.as_str()));
    assert!(nudge.text().starts_with("<@UCAROL>"), "{}", nudge.text());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let threads: Vec<_> = posts(&fake)
        .iter()
        .filter_map(|c| c.arg("thread_ts"))
        .collect();
    assert_eq!(
        threads,
        vec![still_open.clone()],
        "only Carol's request is nudged: {}",
        fake.describe_calls()
    );
    let health = app.health().await;
    assert_eq!(health["open_requests"], 1, "{health}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_close_requests_over_http() {
    answers_close_requests(Mode::Http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_close_requests_over_socket_mode() {
    answers_close_requests(Mode::SocketMode).await;
}

/// Editing the mention away or deleting the message cancels; an edit that adds a mention opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_cancel_requests() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let edited_away = new_ts();
    let removed = new_ts();
    let gained = new_ts();
    for (ts, text) in [
        (&edited_away, "<@UBOB> review please"),
        (&removed, "<@UBOB> this one will be deleted"),
        (&gained, "hello all"),
    ] {
        app.deliver(&fake, message(CHANNEL, "UALICE", ts, text, None))
            .await;
    }
    app.deliver(
        &fake,
        edited(
            CHANNEL,
            "UALICE",
            &edited_away,
            "<@UBOB> review please",
            "review please, anyone",
        ),
    )
    .await;
    app.deliver(
        &fake,
        deleted(
            CHANNEL,
            "UALICE",
            &removed,
            "<@UBOB> this one will be deleted",
        ),
    )
    .await;
    app.deliver(
        &fake,
        edited(
            CHANNEL,
            "UALICE",
            &gained,
            "hello all",
            "hello all, <@UCAROL> too",
        ),
    )
    .await;
    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    assert_eq!(nudge.arg("thread_ts").as_deref(), Some(gained.as_str()));
    assert!(nudge.text().starts_with("<@UCAROL>"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(posts(&fake).len(), 1, "{}", fake.describe_calls());
}

/// Not tracked: bots, the bot itself, the author, DMs. Urgent markers use the 2 s tier.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_tracked_and_the_urgent_tier() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let mut bot_message = message(CHANNEL, "UOTHERBOT", &new_ts(), "<@UBOB> beep", None);
    bot_message["bot_id"] = serde_json::json!("B0OTHER");
    app.deliver(&fake, bot_message).await;
    for text in [
        "<@UBOT> hello bot",
        "<@UALICE> note to self",
        "<@UOTHERBOT> status?",
    ] {
        app.deliver(&fake, message(CHANNEL, "UALICE", &new_ts(), text, None))
            .await;
    }
    let mut dm = message(
        "DALICE",
        "UALICE",
        &new_ts(),
        "<@UBOB> in a DM to the bot",
        None,
    );
    dm["channel_type"] = serde_json::json!("im");
    app.deliver(&fake, dm).await;

    let urgent = new_ts();
    let started = Instant::now();
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &urgent,
            ":rotating_light: <@UBOB> prod is down",
            None,
        ),
    )
    .await;
    // The DM to the bot gets a pointer (not a request); the nudge is the thread post.
    let nudge = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("thread_ts").is_some()
        })
        .await;
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_millis(3900),
        "urgent is 2 s: {after:?}"
    );
    let others: Vec<_> = posts(&fake)
        .into_iter()
        .filter(|c| c.arg("thread_ts").is_none())
        .collect();
    assert!(
        others.len() == 1 && others[0].text().contains("I don't read direct messages"),
        "only the pointer in the DM: {}",
        fake.describe_calls()
    );
    assert!(nudge.text().contains("(urgent SLA)"), "{}", nudge.text());
    assert_eq!(nudge.arg("thread_ts").as_deref(), Some(urgent.as_str()));
    assert_eq!(app.health().await["open_requests"], 1);
}

/// After the nudge, Bob's 👀 on the nudge itself (not on Alice's message) stops the ladder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reaction_on_the_nudge_stops_the_ladder() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let ts = new_ts();
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &ts, "<@UBOB> budget?", None),
    )
    .await;
    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    let nudge_ts = nudge.response_ts().expect("the fake answered with a ts");
    // A person reacts after reading it, not within the millisecond it is posted.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.deliver(&fake, reaction("UBOB", "eyes", CHANNEL, &nudge_ts))
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        posts(&fake).len(),
        1,
        "no DM after the ack: {}",
        fake.describe_calls()
    );
    assert_eq!(app.health().await["open_requests"], 0);
}

/// Someone away (`/standup away today`) is not nudged; the request stays open for their return.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_is_nudged_while_away() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let (away, _) = app
        .command(&fake, "/standup", "away today", "UBOB", CHANNEL)
        .await;
    assert!(away.contains("You're away"), "{away}");
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &new_ts(),
            "<@UBOB> <@UCAROL> budget?",
            None,
        ),
    )
    .await;
    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    assert!(
        nudge.text().starts_with("<@UCAROL>"),
        "Carol is here: {}",
        nudge.text()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let to_bob: Vec<_> = posts(&fake)
        .into_iter()
        .filter(|c| c.text().contains("<@UBOB>,"))
        .collect();
    assert!(to_bob.is_empty(), "Bob is away: {}", fake.describe_calls());
    assert_eq!(
        app.health().await["open_requests"],
        2,
        "both requests stay open"
    );
}

/// Writing to the bot gets a pointer to where answers count, at most once an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_to_the_bot_gets_one_pointer() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    for text in ["on it!", "also, <@UCAROL> should know"] {
        let mut dm = message("DBOB1", "UBOB", &new_ts(), text, None);
        dm["channel_type"] = serde_json::json!("im");
        app.deliver(&fake, dm).await;
    }
    let reply = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(reply.arg("channel").as_deref(), Some("DBOB1"));
    assert!(
        reply.text().contains("reply in a request's thread"),
        "{}",
        reply.text()
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        posts(&fake).len(),
        1,
        "one pointer, and no request from a DM: {}",
        fake.describe_calls()
    );
}
