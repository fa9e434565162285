//! The recipient's calendar, walked exactly on virtual time: weekends, holidays, quiet hours, the
//! other tiers, and the daylight-saving changes in Berlin and New York (March and October), where
//! a business day is 23 or 25 hours of wall clock and the nudge must still land at the same
//! local time.

use crate::inproc::*;

const NY: &str = "America/New_York";
const BERLIN: &str = "Europe/Berlin";
const KOLKATA: &str = "Asia/Kolkata";

/// Asks `who` on the Friday `asked` (local to `tz`) and returns the first nudge's local time.
async fn first_nudge(asked: &str, tz: &str, asker: &str, who: &str) -> (Bot, String) {
    let bot = Bot::start(at(asked, tz), "").await;
    let ts = bot
        .post(
            CHANNEL,
            asker,
            &format!("<@{who}> can you sign off the plan?"),
        )
        .await;
    // Three days and an hour: past Monday's deadline, short of Tuesday's DM.
    bot.run_for(hours(73)).await;
    let nudges = bot.posts_in_thread(&ts);
    assert_eq!(nudges.len(), 1, "{}", bot.transcript(tz));
    let seen = local(nudges[0].at, tz);
    (bot, seen)
}

/// New York springs forward on Sunday 2027-03-14: Friday 10:00 plus 24 business hours is Monday
/// 10:00 EDT, 71 wall-clock hours later, not 72.
#[tokio::test(start_paused = true)]
async fn the_march_change_in_new_york() {
    let (bot, nudge) = first_nudge("2027-03-12 10:00", NY, "UALICE", "UBOB").await;
    assert_eq!(nudge, "Mon 2027-03-15 10:00", "{}", bot.transcript(NY));
    assert_eq!(
        bot.posts()[0].at - at("2027-03-12 10:00", NY),
        chrono::Duration::hours(71)
    );
}

/// Berlin springs forward on Sunday 2027-03-28.
#[tokio::test(start_paused = true)]
async fn the_march_change_in_berlin() {
    let (bot, nudge) = first_nudge("2027-03-26 09:30", BERLIN, "UBOB", "UALICE").await;
    assert_eq!(nudge, "Mon 2027-03-29 09:30", "{}", bot.transcript(BERLIN));
}

/// Berlin falls back on Sunday 2026-10-25: 73 wall-clock hours, the same local time.
#[tokio::test(start_paused = true)]
async fn the_october_change_in_berlin() {
    let bot = Bot::start(at("2026-10-23 11:00", BERLIN), "").await;
    let ts = bot
        .post(CHANNEL, "UBOB", "<@UALICE> can you sign off the plan?")
        .await;
    bot.run_until(at("2026-10-27 12:00", BERLIN)).await;
    let posts = bot.posts();
    assert_eq!(posts.len(), 2, "nudge and DM: {}", bot.transcript(BERLIN));
    assert_eq!(posts[0].thread_ts.as_deref(), Some(ts.as_str()));
    assert_eq!(local(posts[0].at, BERLIN), "Mon 2026-10-26 11:00");
    assert_eq!(
        posts[0].at - at("2026-10-23 11:00", BERLIN),
        chrono::Duration::hours(73)
    );
    assert_eq!(posts[1].channel, "DUALICE");
    assert_eq!(local(posts[1].at, BERLIN), "Tue 2026-10-27 11:00");
}

/// New York falls back on Sunday 2026-11-01, a week after Berlin: Alice in Berlin asks Bob, and
/// his clock, not hers, decides.
#[tokio::test(start_paused = true)]
async fn the_november_change_in_new_york() {
    let (bot, nudge) = first_nudge("2026-10-30 15:00", NY, "UALICE", "UBOB").await;
    assert_eq!(nudge, "Mon 2026-11-02 15:00", "{}", bot.transcript(NY));
    assert_eq!(
        local(bot.posts()[0].at, BERLIN),
        "Mon 2026-11-02 21:00",
        "Alice's evening: the recipient's hours count"
    );
}

/// A team holiday does not count: Wednesday's request to Bob is nudged on Friday, not Thursday.
#[tokio::test(start_paused = true)]
async fn a_holiday_does_not_count() {
    let bot = Bot::start(
        at("2026-11-25 10:00", NY),
        "[calendar]\nholidays = [\"2026-11-26\"]\n",
    )
    .await;
    let ts = bot.post(CHANNEL, "UALICE", "<@UBOB> can you look?").await;
    bot.run_until(at("2026-11-27 09:59", NY)).await;
    assert!(bot.posts().is_empty(), "{}", bot.transcript(NY));
    bot.run_until(at("2026-11-27 10:01", NY)).await;
    let nudges = bot.posts_in_thread(&ts);
    assert_eq!(nudges.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(nudges[0].at, NY), "Fri 2026-11-27 10:00");
}

/// An urgent request due at 02:30 in Kolkata waits for Carol's 09:00; the low tier takes 48
/// business hours.
#[tokio::test(start_paused = true)]
async fn quiet_hours_and_the_low_tier() {
    let bot = Bot::start(at("2026-11-23 20:00", BERLIN), "").await;
    let urgent = bot
        .post(
            CHANNEL,
            "UALICE",
            "<@UCAROL> urgent: the release is blocked",
        )
        .await;
    let low = bot
        .post(CHANNEL, "UALICE", "<@UBOB> fyi, the new schedule, no rush")
        .await;
    bot.run_until(at("2026-11-24 08:59", KOLKATA)).await;
    assert!(
        bot.posts().is_empty(),
        "nothing at night: {}",
        bot.transcript(KOLKATA)
    );
    bot.run_until(at("2026-11-24 09:01", KOLKATA)).await;
    let nudges = bot.posts_in_thread(&urgent);
    assert_eq!(nudges.len(), 1, "{}", bot.transcript(KOLKATA));
    assert_eq!(local(nudges[0].at, KOLKATA), "Tue 2026-11-24 09:00");
    assert!(
        nudges[0].text.contains("(urgent SLA)"),
        "{}",
        nudges[0].text
    );

    // Monday 14:00 in New York plus 48 business hours: Wednesday 14:00.
    bot.run_until(at("2026-11-25 14:01", NY)).await;
    let nudges = bot.posts_in_thread(&low);
    assert_eq!(nudges.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(nudges[0].at, NY), "Wed 2026-11-25 14:00");
    assert!(
        nudges[0].text.contains("has waited 48 h"),
        "{}",
        nudges[0].text
    );
}
