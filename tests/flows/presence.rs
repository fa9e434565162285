//! Presence learnt from Slack on virtual time: an out-of-office status from a `user_change`
//! event or from the first lookup of a person, Do Not Disturb from the periodic refresh of the
//! people with open requests and from `dnd_updated_user`, and Slack's errors there stopping
//! nothing.

use asyncbot::domain::presence::{Dnd, Presence};
use asyncbot::slack::SlackError;
use asyncbot::store::prelude::*;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::inproc::*;

const BERLIN: &str = "Europe/Berlin";

fn presence(bot: &Bot, user: &str) -> Option<Presence> {
    bot.store.read(|rx| rx.presence(user)).unwrap()
}

fn user_change(user: &str, emoji: &str, text: &str, expiration: i64) -> serde_json::Value {
    json!({
        "type": "user_change",
        "user": {
            "id": user, "team_id": "TSIMULATED", "name": "bob", "real_name": "Bob",
            "deleted": false, "tz": "America/New_York", "is_bot": false,
            "profile": {
                "real_name": "Bob", "display_name": "bob",
                "status_emoji": emoji, "status_text": text, "status_expiration": expiration,
            },
        },
        "cache_ts": 1_700_000_000,
        "event_ts": "1700000000.000100",
    })
}

#[tokio::test(start_paused = true)]
async fn an_out_of_office_status_is_stored_as_it_changes() {
    let bot = Bot::start(at("2027-03-10 10:00", BERLIN), "").await;
    let monday = at("2027-03-15 09:00", BERLIN);
    bot.deliver(user_change(
        "UBOB",
        ":palm_tree:",
        "🌴 OOO until Monday",
        monday.timestamp(),
    ))
    .await;
    let p = presence(&bot, "UBOB").expect("Bob's status is stored at once");
    assert_eq!(p.ooo_until, Some(monday));
    // Learnt when the event was applied (settling the workers takes a few virtual ms).
    assert!(bot.now() - p.learned_at < chrono::Duration::seconds(1));
    assert!(p.is_out(bot.now()));
    assert_eq!(p.out_until(bot.now()), Some(monday));
    assert!(!p.is_out(monday));
    // A focus status replaces it; cleared, it says nothing any more.
    bot.deliver(user_change("UBOB", ":brain:", "Deep Work", 0))
        .await;
    let p = presence(&bot, "UBOB").unwrap();
    assert_eq!(
        (p.ooo_until, p.focus_until),
        (None, Some(DateTime::<Utc>::MAX_UTC))
    );
    assert_eq!(
        p.dnd_or_focus_until(bot.now()),
        Some(DateTime::<Utc>::MAX_UTC)
    );
    bot.deliver(user_change("UBOB", "", "", 0)).await;
    let p = presence(&bot, "UBOB").unwrap();
    assert!(!p.is_out(bot.now()) && !p.is_focused(bot.now()));
    // Someone whose status says nothing, and who the bot never met, takes no row.
    bot.deliver(user_change("UCAROL", ":calendar:", "In a meeting", 0))
        .await;
    assert_eq!(presence(&bot, "UCAROL"), None);
}

#[tokio::test(start_paused = true)]
async fn the_first_lookup_learns_the_status_and_the_refresh_learns_dnd() {
    let start = at("2027-03-10 10:00", BERLIN);
    let back = at("2027-03-12 18:00", BERLIN);
    let bot = Bot::start_with(start, "", |slack| {
        team(slack);
        slack.set_status(
            "UBOB",
            ":face_with_thermometer:",
            "Out sick",
            back.timestamp(),
        );
        let evening = at("2027-03-10 22:00", BERLIN);
        let morning = at("2027-03-11 07:00", BERLIN);
        slack.set_dnd(
            "UBOB",
            Dnd::from_slack(true, evening.timestamp(), morning.timestamp(), false, 0),
        );
    })
    .await;
    bot.post(
        CHANNEL,
        "UALICE",
        "<@UBOB> <@UCAROL> can you review the plan?",
    )
    .await;
    // Bob's status came with the lookup of the mention: no extra call.
    let p = presence(&bot, "UBOB").expect("learnt with the lookup");
    assert_eq!(p.ooo_until, Some(back));
    assert_eq!(p.dnd, None);
    assert!(bot.slack.dnd_asked().is_empty());
    // The people worker's next pass asks for the DND of everyone with an open request, at once.
    bot.run_for(hours(1)).await;
    assert_eq!(
        bot.slack.dnd_asked(),
        vec![vec!["UBOB".to_owned(), "UCAROL".to_owned()]]
    );
    let p = presence(&bot, "UBOB").unwrap();
    assert_eq!(p.ooo_until, Some(back), "the status stays");
    assert!(p.in_dnd(at("2027-03-10 23:00", BERLIN)));
    assert!(!p.in_dnd(at("2027-03-11 07:00", BERLIN)));
    let carol = presence(&bot, "UCAROL").expect("Carol's DND (off) is known");
    assert!(!carol.in_dnd(bot.now()) && !carol.is_out(bot.now()));
    // A dnd_updated_user event keeps it current between refreshes.
    let snooze = DateTime::from_timestamp(bot.now().timestamp() + 1800, 0).unwrap();
    bot.deliver(json!({
        "type": "dnd_updated_user",
        "user": "UCAROL",
        "dnd_status": {
            "dnd_enabled": false, "next_dnd_start_ts": 0, "next_dnd_end_ts": 0,
            "snooze_enabled": true, "snooze_endtime": snooze.timestamp(),
        },
        "event_ts": "1700000000.000200",
    }))
    .await;
    let carol = presence(&bot, "UCAROL").unwrap();
    assert!(carol.in_dnd(bot.now()));
    assert_eq!(carol.dnd_or_focus_until(bot.now()), Some(snooze));
}

#[tokio::test(start_paused = true)]
async fn slack_errors_keep_the_last_known_presence_and_stop_nothing() {
    let start = at("2027-03-10 10:00", BERLIN);
    // Bob snoozed notifications for the next half hour (a snooze that is over by the time his
    // nudge is due: DND holds messages while it lasts).
    let snooze_end = start.timestamp() + 1800;
    let bot = Bot::start_with(start, "", |slack| {
        team(slack);
        slack.set_dnd("UBOB", Dnd::from_slack(false, 0, 0, true, snooze_end));
    })
    .await;
    let ts = bot
        .post(CHANNEL, "UALICE", "<@UBOB> can you review the plan?")
        .await;
    bot.run_for(hours(1)).await;
    let known = presence(&bot, "UBOB").unwrap().dnd;
    assert!(known.is_some_and(|d| d.snooze_until.is_some()));
    // From now on dnd.info fails: every refresh still asks (at most every 15 minutes), keeps
    // what it knew, and the request's ladder goes on.
    bot.slack
        .fail_dnd(Some(SlackError::Transient("HTTP 503".into())));
    bot.slack
        .set_dnd("UBOB", Dnd::from_slack(false, 0, 0, false, 0));
    bot.run_for(hours(30)).await;
    assert!(bot.slack.dnd_asked().len() >= 2);
    assert_eq!(presence(&bot, "UBOB").unwrap().dnd, known);
    assert_eq!(
        bot.posts_in_thread(&ts).len(),
        1,
        "{}",
        bot.transcript(BERLIN)
    );
}
