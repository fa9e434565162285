//! Everyone's own calendar: a person's own working days and hours (`/sla hours`), a split day,
//! and `/sla away` / `/sla back`, each followed by the deadlines and the ladder, on virtual time.

use crate::inproc::*;

const NY: &str = "America/New_York";

/// Bob (New York) works Monday to Thursday, 07:00–15:00. Alice asks him on Thursday 10:00: his
/// 24 business hours skip his Friday and the weekend, so the nudge comes Monday 10:00, not
/// Friday 10:00 as on the team's calendar; and a DM due outside his hours waits for his 07:00.
#[tokio::test(start_paused = true)]
async fn a_four_day_week_moves_the_deadline_and_the_nudges() {
    let bot = Bot::start(at("2026-11-19 09:00", NY), "").await;
    let set = bot
        .command("/sla", "hours mon-thu 07:00-15:00", "UBOB", CHANNEL)
        .await;
    assert!(
        set.contains(
            "Your working time (your own): Mon, Tue, Wed, Thu, 07:00–15:00 (America/New_York)"
        ),
        "{set}"
    );
    bot.run_until(at("2026-11-19 10:00", NY)).await;
    let ts = bot
        .post(CHANNEL, "UALICE", "<@UBOB> can you check the invoice run?")
        .await;
    bot.run_until(at("2026-11-23 09:59", NY)).await;
    assert!(bot.posts().is_empty(), "{}", bot.transcript(NY));
    bot.run_until(at("2026-11-23 10:01", NY)).await;
    let nudge = bot.posts_in_thread(&ts);
    assert_eq!(nudge.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(nudge[0].at, NY), "Mon 2026-11-23 10:00");
    // The DM, a business day of his later (Tuesday 10:00), is inside his hours; the call
    // suggestion 12 h after that (Tuesday 22:00) waits for his Wednesday 07:00 (and Alice's
    // working time: 13:00 in Berlin).
    bot.run_until(at("2026-11-25 12:00", NY)).await;
    let dm = bot.posts_to("DUBOB");
    assert_eq!(dm.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(dm[0].at, NY), "Tue 2026-11-24 10:00");
    let call = bot.posts_to("GUALICEUBOB");
    assert_eq!(call.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(call[0].at, NY), "Wed 2026-11-25 07:00");
}

/// Bob works 09:00–12:00 and 14:00–18:00. A nudge due in his lunch break waits for 14:00.
#[tokio::test(start_paused = true)]
async fn a_split_day_keeps_nudges_out_of_the_gap() {
    let bot = Bot::start(at("2026-11-23 12:30", NY), "").await;
    let set = bot
        .command("/sla", "hours 14:00-18:00, 09:00-12:00", "UBOB", CHANNEL)
        .await;
    assert!(set.contains("09:00–12:00 and 14:00–18:00"), "{set}");
    let ts = bot
        .post(CHANNEL, "UALICE", "<@UBOB> quick look at the rota?")
        .await;
    // 24 business hours: Tuesday 12:30, in his lunch break.
    bot.run_until(at("2026-11-24 13:59", NY)).await;
    assert!(bot.posts().is_empty(), "{}", bot.transcript(NY));
    bot.run_until(at("2026-11-24 14:01", NY)).await;
    let nudge = bot.posts_in_thread(&ts);
    assert_eq!(nudge.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(nudge[0].at, NY), "Tue 2026-11-24 14:00");
}

/// `/sla away` pauses Bob's deadline like `/standup away`; `/sla back` ends it; `/sla hours
/// reset` returns to the team's calendar; nonsense changes nothing and says what to write.
#[tokio::test(start_paused = true)]
async fn away_back_reset_and_nonsense() {
    let bot = Bot::start(at("2026-11-23 10:00", NY), "").await;
    let away = bot.command("/sla", "away tomorrow", "UBOB", CHANNEL).await;
    assert!(away.contains("You're away Tue 24 Nov"), "{away}");
    assert!(away.contains("`/sla back` undoes it"), "{away}");
    let ts = bot.post(CHANNEL, "UALICE", "<@UBOB> sign-off?").await;
    // His day away does not count: the nudge comes Wednesday 10:00.
    bot.run_until(at("2026-11-25 09:59", NY)).await;
    assert!(bot.posts().is_empty(), "{}", bot.transcript(NY));
    bot.run_until(at("2026-11-25 10:01", NY)).await;
    assert_eq!(bot.posts_in_thread(&ts).len(), 1, "{}", bot.transcript(NY));

    let back = bot.command("/sla", "back", "UBOB", CHANNEL).await;
    assert!(back.contains("Welcome back"), "{back}");

    let bad = bot
        .command("/sla", "hours mon-thu 25:00-26:00", "UBOB", CHANNEL)
        .await;
    assert!(
        bad.contains("`25:00-26:00` is not a range of hours"),
        "{bad}"
    );
    assert!(bad.contains("/sla hours mon-thu 07:00-15:00"), "{bad}");
    let shown = bot.command("/sla", "hours", "UBOB", CHANNEL).await;
    assert!(
        shown.contains("(the team's): Mon, Tue, Wed, Thu, Fri, 09:00–18:00"),
        "nothing was changed: {shown}"
    );
    bot.command("/sla", "hours sat sun", "UBOB", CHANNEL).await;
    let reset = bot.command("/sla", "hours reset", "UBOB", CHANNEL).await;
    assert!(reset.contains("(the team's)"), "{reset}");
}

/// Bob's own holiday region: with `region US`, Thanksgiving (Thursday 26 November 2026) is not a
/// working day of his, so a request of Wednesday 10:00 is nudged on Friday 10:00, not Thursday;
/// Carol (Kolkata, the team's calendar, no region) counts Thursday.
#[tokio::test(start_paused = true)]
async fn a_persons_holiday_region_keeps_their_holiday_free() {
    let bot = Bot::start(at("2026-11-25 09:00", NY), "").await;
    let set = bot
        .command("/sla", "hours region us", "UBOB", CHANNEL)
        .await;
    assert!(set.contains("public holidays of US"), "{set}");
    let bad = bot
        .command("/sla", "hours region XX", "UBOB", CHANNEL)
        .await;
    assert!(bad.contains("`XX` is not a country code"), "{bad}");
    bot.run_until(at("2026-11-25 10:00", NY)).await;
    let ts = bot
        .post(
            CHANNEL,
            "UALICE",
            "<@UBOB> <@UCAROL> can you check the numbers?",
        )
        .await;
    bot.run_until(at("2026-11-27 12:00", NY)).await;
    let nudges = bot.posts_in_thread(&ts);
    let to = |who: &str| {
        nudges
            .iter()
            .find(|p| p.text.starts_with(who))
            .unwrap_or_else(|| panic!("{who}: {}", bot.transcript(NY)))
            .at
    };
    assert_eq!(local(to("<@UBOB>"), NY), "Fri 2026-11-27 10:00");
    assert_eq!(
        local(to("<@UCAROL>"), "Asia/Kolkata"),
        "Fri 2026-11-27 09:00",
        "due Thursday 20:30 hers (Thanksgiving is not her holiday), after her working hours"
    );
}

/// Alice asks Bob on his holiday (his own region, US: Thanksgiving): she is told once, privately,
/// when he is back and when her request is due; a second request the same day tells her
/// nothing more; asking Dan, whose day starts within 8 hours (Sydney), tells her nothing.
#[tokio::test(start_paused = true)]
async fn the_asker_gets_one_heads_up_a_day_when_the_recipient_is_off_for_long() {
    let bot = Bot::start(at("2026-11-26 09:00", NY), "").await;
    bot.command("/sla", "hours region US", "UBOB", CHANNEL)
        .await;
    bot.post(CHANNEL, "UALICE", "<@UBOB> can you check the numbers?")
        .await;
    bot.run_for(minutes(1)).await;
    let notes = bot.notes_for("UALICE");
    assert_eq!(notes.len(), 1, "{}", bot.transcript(NY));
    assert!(
        notes[0]
            .text
            .starts_with("bob is off until Fri 27 Nov 09:00 their time (holiday: Thanksgiving Day); your request is due <!date^"),
        "{}",
        notes[0].text
    );
    assert_eq!(notes[0].channel, CHANNEL);
    bot.post(CHANNEL, "UALICE", "<@UBOB> and the budget?").await;
    bot.post(CHANNEL, "UALICE", "<@UDAN> are the slides ready?")
        .await;
    bot.run_for(minutes(1)).await;
    assert_eq!(bot.notes_for("UALICE").len(), 1, "{}", bot.transcript(NY));
}
