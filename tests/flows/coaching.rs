//! Gentle coaching (issue 10, item 8, `respect.coach_nohello`): a bare "hi @bob" gets its author
//! one private tip, at most once a week, walked on the virtual clock; off by default.

use asyncbot::slack::memory::{Sent, SentKind};

use crate::inproc::*;

const BERLIN: &str = "Europe/Berlin";
const ON: &str = "[respect]\ncoach_nohello = true\n";

/// The coaching tips sent (other private notes, such as a heads-up that someone is off, are not
/// tips).
fn tips(bot: &Bot) -> Vec<Sent> {
    bot.sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Ephemeral && s.text.contains("nohello.net"))
        .collect()
}

/// Alice says "hi @bob": she alone gets one tip, in that channel, right away, and her request to
/// Bob is tracked as any other. Her next bare pings that week get nothing; a week later, one again.
#[tokio::test(start_paused = true)]
async fn a_bare_hello_gets_one_private_tip_a_week() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), ON).await;
    bot.post(CHANNEL, "UALICE", "hi <@UBOB>").await;
    let sent = tips(&bot);
    assert_eq!(sent.len(), 1, "{}", bot.transcript(BERLIN));
    let tip = &sent[0];
    assert_eq!(tip.only_for.as_deref(), Some("UALICE"));
    assert_eq!(tip.channel, CHANNEL);
    assert_eq!(
        tip.at,
        at("2026-11-23 10:00", BERLIN),
        "right after she wrote"
    );
    assert!(tip.text.contains("https://nohello.net"), "{}", tip.text);
    assert!(tip.text.contains("<@UBOB>"), "{}", tip.text);
    assert_eq!(bot.open_requests(), 1, "the request is tracked as usual");

    bot.run_for(hours(1)).await;
    bot.post(CHANNEL, "UALICE", "<@UCAROL> are you there?")
        .await;
    bot.run_until(at("2026-11-30 09:59", BERLIN)).await;
    bot.post(CHANNEL, "UALICE", "hey <@UDAN> :wave:").await;
    assert_eq!(tips(&bot).len(), 1, "once a week at most");
    assert_eq!(bot.open_requests(), 3);

    bot.run_until(at("2026-11-30 10:01", BERLIN)).await;
    bot.post(CHANNEL, "UALICE", "<@UBOB> got a minute?").await;
    let sent = tips(&bot);
    assert_eq!(sent.len(), 2, "a week later, again");
    assert_eq!(local(sent[1].at, BERLIN), "Mon 2026-11-30 10:01");
}

/// Messages with something to answer, thread replies (the thread is the context) and messages
/// that open no request (an answer, an announcement) get no tip.
#[tokio::test(start_paused = true)]
async fn only_a_bare_top_level_request_is_coached() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), ON).await;
    let ask = bot
        .post(
            CHANNEL,
            "UALICE",
            "hi <@UBOB>, can you review PR 42 by Thursday?",
        )
        .await;
    bot.reply(CHANNEL, "UCAROL", &ask, "hi <@UDAN>").await;
    // Bob's hello mentions only the asker and asks nothing: an answer, not a request.
    bot.post(CHANNEL, "UBOB", "hey <@UALICE>!").await;
    bot.post("DUCAROL", "UCAROL", "hi <@UBOB>").await;
    assert!(tips(&bot).is_empty(), "{}", bot.transcript(BERLIN));
    assert_eq!(bot.open_requests(), 1, "Carol's thread request to Dan");
}

/// Off by default: the same hello sends nothing, and the request is tracked.
#[tokio::test(start_paused = true)]
async fn off_by_default_nothing_is_sent() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    bot.post(CHANNEL, "UALICE", "hi <@UBOB>").await;
    bot.post(CHANNEL, "UCAROL", "<@UDAN> are you there?").await;
    bot.run_for(hours(2)).await;
    assert!(tips(&bot).is_empty(), "{}", bot.transcript(BERLIN));
    assert_eq!(bot.open_requests(), 2);
}
