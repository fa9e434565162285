//! Delivery at scale on virtual time, against an in-memory Slack that answers 429 beyond one
//! post per second per channel: thousands of messages due at once drain in the per-channel
//! bound with almost no 429s, none lost, in order per channel; a long `Retry-After` or a deep
//! queue in one conversation holds up no other; the workspace-wide rate is kept.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use asyncbot::domain::outbox::{Destination, OutgoingMessage};

use crate::inproc::{Bot, at};

fn start() -> DateTime<Utc> {
    at("2026-11-23 10:00", "UTC")
}

fn channel(c: usize) -> String {
    format!("C{c:04}")
}

/// Starts the bot with `config` and Slack's per-channel limit.
async fn bot(config: &str) -> Bot {
    let bot = Bot::start(start(), config).await;
    bot.slack.limit_posts_per_channel(Duration::from_secs(1));
    bot
}

/// Queues `(channel, text)` messages in one transaction, in this order, and tells delivery.
async fn queue(bot: &Bot, messages: Vec<(String, String)>) {
    let now = bot.now();
    bot.store
        .call(move |s| {
            s.write(|tx| {
                for (channel, text) in messages {
                    tx.enqueue(
                        OutgoingMessage::new(Destination::Channel { channel }, text),
                        now,
                    )?;
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    bot.core.engine.wakers.delivery.notify_one();
}

/// Each channel's posts: (text, seconds after the start), in the order Slack took them.
fn by_channel(bot: &Bot) -> HashMap<String, Vec<(String, f64)>> {
    let mut seen: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    for post in bot.posts() {
        let after = (post.at - start()).num_milliseconds() as f64 / 1000.0;
        seen.entry(post.channel)
            .or_default()
            .push((post.text, after));
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn two_thousand_nudges_due_at_once_drain_in_the_per_channel_bound() {
    let bot = bot("[delivery]\nworkspace_rate = 1000\nmax_in_flight = 64\n").await;
    let (channels, per_channel) = (200, 10);
    // Round by round, as timers falling due together would queue them.
    let messages = (0..per_channel)
        .flat_map(|round| (0..channels).map(move |c| (channel(c), format!("nudge {round}"))))
        .collect();
    queue(&bot, messages).await;
    bot.run_for(Duration::from_secs(30)).await;

    let posts = bot.posts();
    assert_eq!(posts.len(), channels * per_channel, "none lost");
    let mut ids: Vec<u64> = posts.iter().filter_map(|p| p.outbox_id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), channels * per_channel, "each posted once");
    assert_eq!(bot.store.outbox_len().unwrap(), 0);
    for (channel, seen) in by_channel(&bot) {
        let texts: Vec<String> = seen.iter().map(|(t, _)| t.clone()).collect();
        let expected: Vec<String> = (0..per_channel).map(|r| format!("nudge {r}")).collect();
        assert_eq!(texts, expected, "in order in {channel}");
    }
    let rate_limited = bot.slack.rate_limited() as usize;
    assert!(
        rate_limited * 100 < posts.len(),
        "{rate_limited} posts answered 429 (1 % is {})",
        posts.len() / 100
    );
    // The bound: ten posts a channel at one a second, the first at once: the last after 9 s.
    let bound = (per_channel - 1) as f64;
    let drained =
        (posts.iter().map(|p| p.at).max().unwrap() - start()).num_milliseconds() as f64 / 1000.0;
    println!(
        "{} posts in {channels} channels: drained in {drained} s of virtual time (bound {bound} s), {rate_limited} answered 429",
        posts.len()
    );
    assert!(
        drained <= 1.2 * bound,
        "drained in {drained} s of virtual time; the per-channel bound is {bound} s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_or_a_deep_queue_in_one_conversation_holds_up_no_other() {
    let bot = bot("").await;
    // A minute's Retry-After for CSLOW; 600 messages queued first in CDEEP (more than the
    // delivery once looked at in a pass).
    bot.slack
        .refuse_posts_until("CSLOW", start() + chrono::Duration::seconds(60));
    let mut messages: Vec<(String, String)> = (0..600)
        .map(|i| ("CDEEP".to_owned(), format!("deep {i}")))
        .collect();
    for i in 0..3 {
        messages.push(("CSLOW".into(), format!("slow {i}")));
        messages.push(("CFAST".into(), format!("fast {i}")));
    }
    queue(&bot, messages).await;
    bot.run_for(Duration::from_secs(70)).await;

    let seen = by_channel(&bot);
    let fast: Vec<f64> = seen["CFAST"].iter().map(|(_, after)| *after).collect();
    assert_eq!(fast, vec![0.0, 1.0, 2.0], "CFAST at its own pace");
    let slow = &seen["CSLOW"];
    assert_eq!(slow.len(), 3, "{slow:?}");
    assert!(
        slow.iter().all(|(_, after)| *after >= 60.0),
        "CSLOW waited for its Retry-After: {slow:?}"
    );
    assert_eq!(
        bot.slack.rate_limited(),
        1,
        "one 429, then CSLOW waited as told"
    );
    let deep = &seen["CDEEP"];
    assert!(
        deep.len() >= 70 && deep[0].1 == 0.0,
        "CDEEP went on at its own pace: {} posts",
        deep.len()
    );
}

#[tokio::test(start_paused = true)]
async fn the_workspace_rate_is_kept_across_conversations() {
    let bot = bot("[delivery]\nworkspace_rate = 10\n").await;
    let messages = (0..50).map(|c| (channel(c), "hello".to_owned())).collect();
    queue(&bot, messages).await;
    bot.run_for(Duration::from_secs(10)).await;

    let mut times: Vec<f64> = bot
        .posts()
        .iter()
        .map(|p| (p.at - start()).num_milliseconds() as f64 / 1000.0)
        .collect();
    times.sort_by(f64::total_cmp);
    assert_eq!(times.len(), 50);
    // A second's worth at once, then ten a second.
    for (n, t) in times.iter().enumerate() {
        let allowed = n.saturating_sub(9) as f64 * 0.1;
        assert!(
            *t >= allowed - 1e-9,
            "post {n} at {t} s: the workspace rate allows it from {allowed} s"
        );
    }
    assert!(times[49] <= 4.1, "the last at {} s", times[49]);
}
