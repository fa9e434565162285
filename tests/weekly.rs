//! The weekly update end to end (issue 11, item 2): the real binary over HTTP (signed requests)
//! against the fake Slack, with a `[[weekly]]` entry due a few seconds after the start. The
//! owner's draft comes at once (the hour before has begun), with its two buttons; the post
//! comes on time as one top-level message in the seed's template, its open questions filled
//! from the store without naming who owes them. The week itself (wins, priorities, decisions,
//! arrows, holidays, the buttons) is tested on the virtual clock in `tests/flows/weekly.rs`.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;

const CHANNEL: &str = "CPLAN";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weekly_update_is_drafted_then_posted_on_time() {
    let fake = fake_with_team().await;
    let at = Utc::now() + chrono::Duration::seconds(6);
    let config = format!(
        "{FAST_NORMS}\n[respect]\nmetrics_min_group = 1\n\n[[weekly]]\nchannel = \"{CHANNEL}\"\nat = \"{}\"\ntimezone = \"UTC\"\nowner = \"UALICE\"\n",
        at.format("%a %H:%M:%S")
    );
    let app = TestApp::start(&fake, Mode::Http, &config).await;
    app.deliver(
        &fake,
        message(
            CHANNEL,
            "UALICE",
            &new_ts(),
            "<@UBOB> can you sign off the budget?",
            None,
        ),
    )
    .await;

    // The draft, to Alice, with Post now and Skip this week.
    let draft = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.text().contains("Here is the weekly update for <#CPLAN>")
        })
        .await;
    let blocks = draft.arg("blocks").unwrap_or_default();
    assert!(
        blocks.contains("weekly_post_now") && blocks.contains("weekly_skip"),
        "{blocks}"
    );
    assert_ne!(
        draft.arg("channel").as_deref(),
        Some(CHANNEL),
        "the draft is a DM"
    );

    // `/weekly preview` meanwhile: only the caller sees it.
    let (preview, _) = app
        .command(&fake, "/weekly", "preview", "UCAROL", CHANNEL)
        .await;
    assert!(
        preview.contains("_Preview: only you see this._"),
        "{preview}"
    );

    let post = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(20), |c| {
            c.arg("channel").as_deref() == Some(CHANNEL) && c.text().starts_with("*Weekly update*")
        })
        .await;
    let posted_at = Utc::now();
    assert!(
        posted_at >= at - chrono::Duration::seconds(1),
        "not before its time: {posted_at} < {at}"
    );
    assert!(post.arg("thread_ts").is_none(), "one top-level post");
    let text = post.text();
    for heading in [
        "🏆 Wins",
        "📊 Key metrics",
        "🎯 Priorities",
        "❓ Open questions",
        "📝 Decisions",
    ] {
        assert!(text.contains(heading), "{heading}: {text}");
    }
    // The request to Bob (4 s normal tier) is past its SLA by then: listed, without Bob.
    assert!(text.contains("can you sign off the budget?"), "{text}");
    assert!(!text.contains("UBOB"), "{text}");
    app.wait_outbox_empty().await;
    let updates = fake
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.text().starts_with("*Weekly update*"))
        .count();
    assert_eq!(updates, 1, "posted once: {}", fake.describe_calls());
}
