//! The SLA ladder on the real norms (24 business hours, nudge in the thread, DM a day later, a
//! call half a day after that): every way a request closes; edits, deletes, tiers, what is not
//! tracked, quiet hours, time off and holidays, all walked on virtual time.

use asyncbot::slack::inbound::Inbound;
use serde_json::json;

use crate::inproc::*;

const NY: &str = "America/New_York";
const BERLIN: &str = "Europe/Berlin";
const KOLKATA: &str = "Asia/Kolkata";

/// Alice (Berlin) asks Bob (New York) on Monday at 10:00 her time, 04:00 his; nobody answers.
/// His 24 business hours end Tuesday 04:00, so the nudge waits for his 09:00; the DM comes a
/// business day later, the call suggestion 12 h after that, in his next morning. Each once.
#[tokio::test(start_paused = true)]
async fn the_whole_ladder_walks_a_week_in_the_recipients_working_hours() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let ts = bot
        .post(
            CHANNEL,
            "UALICE",
            "<@UBOB> can you review the Q3 budget doc?",
        )
        .await;

    bot.run_until(at("2026-11-24 08:59", NY)).await;
    assert!(bot.posts().is_empty(), "{}", bot.transcript(NY));
    bot.run_until(at("2026-11-24 09:01", NY)).await;
    let nudge = bot.posts().remove(0);
    assert_eq!(
        local(nudge.at, NY),
        "Tue 2026-11-24 09:00",
        "at the start of Bob's day"
    );
    assert_eq!(nudge.channel, CHANNEL);
    assert_eq!(
        nudge.thread_ts.as_deref(),
        Some(ts.as_str()),
        "the nudge goes in the thread"
    );
    assert!(
        nudge
            .text
            .contains("<@UBOB>, alice's request has waited 24 h (normal SLA)"),
        "{}",
        nudge.text
    );
    assert!(
        nudge.text.contains("<!date^"),
        "each reader sees their own local time: {}",
        nudge.text
    );

    bot.run_until(at("2026-11-26 18:00", NY)).await;
    let posts = bot.posts();
    assert_eq!(posts.len(), 3, "{}", bot.transcript(NY));
    let dm = &posts[1];
    assert_eq!(
        local(dm.at, NY),
        "Wed 2026-11-25 09:00",
        "a business day after the nudge"
    );
    assert_eq!(dm.channel, "DUBOB", "the DM goes to Bob");
    assert!(
        dm.text.contains("<@UALICE> is waiting on you"),
        "{}",
        dm.text
    );
    assert!(
        dm.text.contains("Q3 budget doc"),
        "one clear request: {}",
        dm.text
    );
    assert!(
        dm.text
            .contains(&format!("archives/{CHANNEL}/p{}", ts.replace('.', ""))),
        "a link to the message: {}",
        dm.text
    );
    let call = &posts[2];
    assert_eq!(
        local(call.at, NY),
        "Thu 2026-11-26 09:00",
        "12 h after the DM is 21:00: it waits for his morning"
    );
    assert_eq!(call.channel, "GUALICEUBOB", "to sender and recipient");
    assert_eq!(
        bot.slack.conversation_members("GUALICEUBOB"),
        Some(vec!["UALICE".to_string(), "UBOB".to_string()])
    );
    assert!(call.text.contains("15-minute call"), "{}", call.text);
    assert!(call.text.contains("write the outcome"), "{}", call.text);

    // Each step once: the rest of the week brings nothing more.
    bot.run_until(at("2026-11-27 18:00", NY)).await;
    assert_eq!(bot.posts().len(), 3, "{}", bot.transcript(NY));
}

/// A thread reply by Bob, or his 👀 or ✅, stops the clock; someone else's reply or reaction does
/// not, nor does the author's own reply; an answer in the channel that mentions the asker does.
#[tokio::test(start_paused = true)]
async fn answers_close_requests_and_others_do_not() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let by_reply = bot.post(CHANNEL, "UALICE", "<@UBOB> thoughts?").await;
    let by_eyes = bot.post(CHANNEL, "UALICE", "<@UBOB> and another one").await;
    let by_check = bot.post(CHANNEL, "UALICE", "<@UBOB> and a third").await;
    let still_open = bot
        .post(CHANNEL, "UALICE", "<@UCAROL> can you check?")
        .await;
    let by_channel = bot.post("COTHER", "UALICE", "<@UBOB> quick one").await;
    assert_eq!(bot.open_requests(), 5);

    bot.run_for(hours(1)).await;
    bot.reply(CHANNEL, "UBOB", &by_reply, "on it").await;
    bot.react("UBOB", "eyes", CHANNEL, &by_eyes).await;
    bot.react("UBOB", "white_check_mark", CHANNEL, &by_check)
        .await;
    bot.reply(CHANNEL, "UBOB", &still_open, "not me").await;
    bot.reply(CHANNEL, "UALICE", &still_open, "bump").await;
    bot.react("UCAROL", "heart", CHANNEL, &still_open).await;
    bot.post("COTHER", "UBOB", "<@UALICE> done!").await;
    assert_eq!(bot.open_requests(), 1, "only Carol's request waits");
    let _ = by_channel;

    // Carol's day (Kolkata) has passed its deadline; Bob's would have too, had any stayed open.
    bot.run_until(at("2026-11-24 12:00", NY)).await;
    let threads: Vec<_> = bot
        .posts()
        .into_iter()
        .filter_map(|p| p.thread_ts)
        .collect();
    assert_eq!(
        threads,
        vec![still_open.clone()],
        "{}",
        bot.transcript(KOLKATA)
    );
    let nudge = bot.posts().remove(0);
    assert!(nudge.text.starts_with("<@UCAROL>"), "{}", nudge.text);
    assert_eq!(
        local(nudge.at, KOLKATA),
        "Tue 2026-11-24 14:30",
        "24 business hours later"
    );
    assert_eq!(bot.open_requests(), 1);
}

/// Editing the mention away or deleting the message cancels; an edit that adds a mention opens.
#[tokio::test(start_paused = true)]
async fn edits_and_deletes_cancel_requests_and_an_edit_can_open_one() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let edited_away = bot.post(CHANNEL, "UALICE", "<@UBOB> review please").await;
    let removed = bot
        .post(CHANNEL, "UALICE", "<@UBOB> this one will be deleted")
        .await;
    let gained = bot.post(CHANNEL, "UALICE", "hello all").await;
    bot.run_for(minutes(10)).await;
    bot.edit(
        CHANNEL,
        "UALICE",
        &edited_away,
        "<@UBOB> review please",
        "review please, anyone",
    )
    .await;
    bot.delete(
        CHANNEL,
        "UALICE",
        &removed,
        "<@UBOB> this one will be deleted",
    )
    .await;
    bot.edit(
        CHANNEL,
        "UALICE",
        &gained,
        "hello all",
        "hello all, <@UCAROL> too",
    )
    .await;
    assert_eq!(bot.open_requests(), 1);

    // Past the time Bob's nudges would have come (Tuesday 09:00 in New York) and Carol's.
    bot.run_until(at("2026-11-24 09:05", NY)).await;
    let posts = bot.posts();
    assert_eq!(
        posts.len(),
        1,
        "Carol's nudge, nothing for Bob: {}",
        bot.transcript(KOLKATA)
    );
    assert_eq!(posts[0].thread_ts.as_deref(), Some(gained.as_str()));
    assert!(posts[0].text.starts_with("<@UCAROL>"), "{}", posts[0].text);
    assert_eq!(
        local(posts[0].at, KOLKATA),
        "Tue 2026-11-24 14:40",
        "the clock starts at the edit"
    );
}

/// Not tracked: other bots' messages, a mention of the bot itself, of the author, of a bot user,
/// anything in a DM. Urgent markers use the 2 h wall-clock tier.
#[tokio::test(start_paused = true)]
async fn what_is_not_tracked_and_the_urgent_tier() {
    // 16:00 in Berlin is 10:00 in New York: Bob is working.
    let bot = Bot::start(at("2026-11-23 16:00", BERLIN), "").await;
    bot.deliver(json!({
        "type": "message", "channel": CHANNEL, "channel_type": "channel",
        "user": "UOTHERBOT", "bot_id": "B0OTHER", "text": "<@UBOB> beep",
        "ts": bot.new_ts(), "event_ts": bot.new_ts()
    }))
    .await;
    for text in [
        format!("<@{BOT}> hello bot"),
        "<@UALICE> note to self".to_string(),
        "<@UOTHERBOT> status?".to_string(),
    ] {
        bot.post(CHANNEL, "UALICE", &text).await;
    }
    bot.post("DALICE", "UALICE", "<@UBOB> in a DM to the bot")
        .await;
    assert_eq!(bot.open_requests(), 0);

    let asked = bot.now();
    let urgent = bot
        .post(CHANNEL, "UALICE", ":rotating_light: <@UBOB> prod is down")
        .await;
    bot.run_for(hours(3)).await;
    let nudges = bot.posts_in_thread(&urgent);
    assert_eq!(nudges.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(
        nudges[0].at - asked,
        chrono::Duration::hours(2),
        "urgent is 2 h"
    );
    assert!(
        nudges[0].text.contains("(urgent SLA)"),
        "{}",
        nudges[0].text
    );
    let others: Vec<_> = bot
        .posts()
        .into_iter()
        .filter(|p| p.thread_ts.is_none())
        .collect();
    assert!(
        others.len() == 1
            && others[0].channel == "DALICE"
            && others[0].text.contains("I don't read direct messages"),
        "only the pointer in the DM: {}",
        bot.transcript(NY)
    );
    assert_eq!(bot.open_requests(), 1);
}

/// After the nudge, Bob's 👀 on the nudge itself (not on Alice's message) stops the ladder.
#[tokio::test(start_paused = true)]
async fn a_reaction_on_the_nudge_stops_the_ladder() {
    let bot = Bot::start(at("2026-11-23 10:00", NY), "").await;
    bot.post(CHANNEL, "UALICE", "<@UBOB> budget?").await;
    bot.run_until(at("2026-11-24 10:01", NY)).await;
    let nudge = bot.posts().remove(0);
    bot.run_for(minutes(30)).await;
    bot.react("UBOB", "eyes", CHANNEL, &nudge.ts).await;
    assert_eq!(bot.open_requests(), 0);
    // Past the DM's time, a business day after the nudge.
    bot.run_until(at("2026-11-25 10:05", NY)).await;
    assert_eq!(
        bot.posts().len(),
        1,
        "no DM after the ack: {}",
        bot.transcript(NY)
    );
}

/// Someone away (`/standup away tomorrow`) is not nudged, and their day away does not count
/// toward the deadline; the request stays open.
#[tokio::test(start_paused = true)]
async fn nobody_is_nudged_while_away() {
    let bot = Bot::start(at("2026-11-23 10:00", NY), "").await;
    let away = bot
        .command("/standup", "away tomorrow", "UBOB", CHANNEL)
        .await;
    assert!(away.contains("You're away Tue 24 Nov"), "{away}");
    let ts = bot
        .post(CHANNEL, "UALICE", "<@UBOB> <@UCAROL> budget?")
        .await;
    // His day away does not count: Bob's deadline is Wednesday 10:00, not Tuesday 10:00;
    // Carol's nudge comes at her Wednesday 09:00.
    bot.run_until(at("2026-11-24 23:00", NY)).await;
    let posts = bot.posts_in_thread(&ts);
    assert_eq!(posts.len(), 1, "{}", bot.transcript(NY));
    assert!(
        posts[0].text.starts_with("<@UCAROL>"),
        "Carol is here: {}",
        posts[0].text
    );
    assert_eq!(local(posts[0].at, KOLKATA), "Wed 2026-11-25 09:00");
    assert_eq!(bot.open_requests(), 2, "both requests stay open");

    bot.run_until(at("2026-11-25 12:00", NY)).await;
    let to_bob: Vec<_> = bot
        .posts_in_thread(&ts)
        .into_iter()
        .filter(|p| p.text.starts_with("<@UBOB>,"))
        .collect();
    assert_eq!(to_bob.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(
        local(to_bob[0].at, NY),
        "Wed 2026-11-25 10:00",
        "a full business day of his, the day away not counted"
    );
}

/// Writing to the bot gets a pointer to where answers count, at most once an hour.
#[tokio::test(start_paused = true)]
async fn a_direct_message_to_the_bot_gets_one_pointer_an_hour() {
    let bot = Bot::start(at("2026-11-23 10:00", NY), "").await;
    bot.post("DBOB1", "UBOB", "on it!").await;
    bot.post("DBOB1", "UBOB", "also, <@UCAROL> should know")
        .await;
    bot.run_for(minutes(30)).await;
    let posts = bot.posts();
    assert_eq!(posts.len(), 1, "one pointer: {}", bot.transcript(NY));
    assert_eq!(posts[0].channel, "DBOB1");
    assert!(
        posts[0].text.contains("reply in a request's thread"),
        "{}",
        posts[0].text
    );
    assert_eq!(bot.open_requests(), 0, "no request from a DM");

    bot.run_for(hours(1)).await;
    bot.post("DBOB1", "UBOB", "hello?").await;
    bot.run_for(minutes(5)).await;
    assert_eq!(
        bot.posts().len(),
        2,
        "an hour later, one more: {}",
        bot.transcript(NY)
    );
}

/// Slack redelivers the same `event_id` (at once, after 1 min, after 5 min): one request, one
/// nudge.
#[tokio::test(start_paused = true)]
async fn a_redelivered_event_is_processed_once() {
    let bot = Bot::start(at("2026-11-23 10:00", NY), "").await;
    let ts = bot.new_ts();
    let event = Inbound::MessagePosted {
        channel: CHANNEL.into(),
        channel_type: Some("channel".into()),
        user: "UALICE".into(),
        ts: ts.clone(),
        thread_ts: None,
        text: "<@UBOB> budget?".into(),
    };
    for wait in [minutes(0), minutes(1), minutes(5)] {
        bot.run_for(wait).await;
        bot.event_with_id("EvRETRIED0001", event.clone()).await;
    }
    assert_eq!(bot.open_requests(), 1);
    bot.run_until(at("2026-11-24 12:00", NY)).await;
    assert_eq!(bot.posts_in_thread(&ts).len(), 1, "{}", bot.transcript(NY));
    assert_eq!(bot.posts().len(), 1, "{}", bot.transcript(NY));
}
