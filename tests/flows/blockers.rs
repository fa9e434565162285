//! Standup blockers as requests: a blocker naming @bob opens a request to him on the normal tier,
//! in the standup's thread, that climbs the ladder on his calendar; his answer in the thread
//! closes it; its author's *My blocker is cleared* closes it too and updates the summary. A
//! mention in another section asks nothing, and a blocker naming nobody is listed as open
//! until cleared.

use asyncbot::slack::memory::SentKind;

use crate::inproc::*;

const TEAM: &str = "CTEAM";
const BERLIN: &str = "Europe/Berlin";
const NY: &str = "America/New_York";

async fn team_bot() -> Bot {
    Bot::start_with(
        at("2026-11-23 08:00", BERLIN),
        &format!("[[standups]]\nchannel = \"{TEAM}\"\nat = \"09:30\"\ntimezone = \"{BERLIN}\"\n"),
        |slack| {
            team(slack);
            slack.set_members(TEAM, &["UALICE", "UBOB", "UCAROL", BOT].map(String::from));
        },
    )
    .await
}

/// The day's prompt, posted at 09:30 Berlin; returns its ts.
async fn prompt(bot: &Bot) -> String {
    bot.run_until(at("2026-11-23 09:31", BERLIN)).await;
    let prompts = bot.posts_to(TEAM);
    assert_eq!(prompts.len(), 1, "{}", bot.transcript(BERLIN));
    prompts[0].ts.clone()
}

#[tokio::test(start_paused = true)]
async fn a_blocker_naming_bob_is_a_request_that_climbs_and_his_answer_closes() {
    let bot = team_bot().await;
    let root = prompt(&bot).await;
    bot.run_until(at("2026-11-23 10:00", BERLIN)).await;
    bot.reply(
        TEAM,
        "UALICE",
        &root,
        "Completed: paired with <@UCAROL> on the migration\nPlanned: urgent: ship the API\nBlockers: waiting on <@UBOB> for the DB credentials",
    )
    .await;
    // One request, to Bob only (Carol is in *Completed*), on the normal tier despite "urgent".
    assert_eq!(bot.open_requests(), 1);
    let requests = bot.store.read(|rx| {
        use asyncbot::store::RequestReads;
        rx.open_requests_for_recipient("UBOB")
    });
    let request = &requests.unwrap()[0];
    assert_eq!(request.tier, asyncbot::domain::sla::Tier::Normal);
    assert_eq!(request.thread_root, root);
    assert!(
        request.excerpt.starts_with("Blocker: waiting on"),
        "{}",
        request.excerpt
    );

    // Bob's own standup answer in the thread does not answer Alice's blocker.
    bot.run_until(at("2026-11-23 09:30", NY)).await;
    bot.reply(
        TEAM,
        "UBOB",
        &root,
        "Done: reviews\nToday: the release\nBlockers: none",
    )
    .await;
    assert_eq!(bot.open_requests(), 1);
    // The ladder: 24 business hours on Bob's clock (from 04:00 his time), then the thread
    // mention at the start of his Tuesday.
    bot.run_until(at("2026-11-24 10:01", NY)).await;
    let nudges: Vec<_> = bot
        .posts_in_thread(&root)
        .into_iter()
        .filter(|p| p.text.contains("<@UBOB>, alice's request has waited"))
        .collect();
    assert_eq!(nudges.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(nudges[0].at, NY), "Tue 2026-11-24 09:00");
    // A DM a business day later.
    bot.run_until(at("2026-11-25 10:01", NY)).await;
    assert_eq!(bot.posts_to("DUBOB").len(), 1, "{}", bot.transcript(NY));
    // Bob answers Alice in the thread: closed.
    bot.reply(TEAM, "UBOB", &root, "<@UALICE> creds are in the vault")
        .await;
    assert_eq!(bot.open_requests(), 0, "{}", bot.transcript(NY));
}

#[tokio::test(start_paused = true)]
async fn the_author_clears_the_blocker_with_the_summary_button() {
    let bot = team_bot().await;
    let root = prompt(&bot).await;
    bot.run_until(at("2026-11-23 10:00", BERLIN)).await;
    bot.reply(
        TEAM,
        "UALICE",
        &root,
        "Done: API\nToday: tests\nBlockers: waiting on <@UBOB> for the DB credentials",
    )
    .await;
    bot.reply(
        TEAM,
        "UCAROL",
        &root,
        "Done: docs\nToday: more docs\nBlockers: the staging cluster is down",
    )
    .await;
    assert_eq!(bot.open_requests(), 1, "Carol's blocker names nobody");
    let open = bot
        .store
        .read(|rx| {
            asyncbot::features::standup::blockers::open_unnamed_blockers(
                rx,
                TEAM,
                at("2026-11-23 12:00", BERLIN),
            )
        })
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].author, "UCAROL");
    assert!(open[0].text.contains("staging cluster"));

    // The summary at 15:30 lists both blockers and offers the button.
    bot.run_until(at("2026-11-23 15:31", BERLIN)).await;
    let summary = bot
        .posts_in_thread(&root)
        .into_iter()
        .find(|p| p.text.contains("Standup summary"))
        .unwrap_or_else(|| panic!("{}", bot.transcript(BERLIN)));
    let blocks = summary.blocks.clone().expect("the summary has the button");
    let button = &blocks[blocks.as_array().unwrap().len() - 1]["elements"][0];
    assert_eq!(button["action_id"], "standup_blocker_cleared");
    let value = button["value"].as_str().unwrap().to_owned();
    assert_eq!(value, format!("{TEAM}:2026-11-23"));

    // Bob (no blocker) presses it: nothing changes.
    bot.click("UBOB", TEAM, "standup_blocker_cleared", &value)
        .await;
    assert_eq!(bot.open_requests(), 1);
    assert!(
        bot.notes_for("UBOB")
            .last()
            .unwrap()
            .text
            .contains("no open blocker"),
        "{}",
        bot.transcript(BERLIN)
    );
    // Alice presses it: her request to Bob is closed, not answered; the summary says cleared.
    bot.click("UALICE", TEAM, "standup_blocker_cleared", &value)
        .await;
    bot.run_for(minutes(1)).await;
    assert_eq!(bot.open_requests(), 0);
    let note = bot.notes_for("UALICE").last().unwrap().text.clone();
    assert!(note.contains("I stopped waiting on <@UBOB>"), "{note}");
    let edits: Vec<_> = bot
        .sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Edit && s.text.contains("Standup summary"))
        .collect();
    let edited = edits
        .last()
        .unwrap_or_else(|| panic!("{}", bot.transcript(BERLIN)));
    assert!(edited.text.contains("✅ _cleared_"), "{}", edited.text);
    // Carol's is still open, so the button stays; Carol clears hers with the command.
    assert!(edited.blocks.is_some());
    let cleared = bot.command("/standup", "cleared", "UCAROL", TEAM).await;
    assert!(cleared.contains("marked cleared"), "{cleared}");
    let again = bot.command("/standup", "cleared", "UCAROL", TEAM).await;
    assert!(again.contains("no open blocker"), "{again}");
    bot.run_for(minutes(1)).await;
    let last = bot
        .sent()
        .into_iter()
        .rfind(|s| s.kind == SentKind::Edit && s.text.contains("Standup summary"))
        .unwrap();
    assert!(last.blocks.is_none(), "no open blocker left: no button");
    let open = bot
        .store
        .read(|rx| {
            asyncbot::features::standup::blockers::open_unnamed_blockers(
                rx,
                TEAM,
                at("2026-11-23 18:00", BERLIN),
            )
        })
        .unwrap();
    assert!(open.is_empty());
}
