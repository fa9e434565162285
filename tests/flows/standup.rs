//! A standup day on the real offsets (reminder 3 h after the prompt, summary 6 h after), in a
//! team spread over Berlin, New York, Kolkata and Los Angeles: the prompt on time with the three
//! sections, the reminder, the summary with its blockers, a late answer that updates it, a
//! holiday, someone away, and the next working day.

use asyncbot::slack::memory::SentKind;

use crate::inproc::*;

const TEAM: &str = "CTEAM";
const BERLIN: &str = "Europe/Berlin";

fn config(today: &str) -> String {
    format!(
        "[[standups]]\nchannel = \"{TEAM}\"\nat = \"09:30\"\ntimezone = \"{BERLIN}\"\n\n\
         [[standups]]\nchannel = \"CHOLIDAY\"\nat = \"09:30\"\ntimezone = \"{BERLIN}\"\nholidays = [\"{today}\"]\n"
    )
}

async fn team_bot() -> Bot {
    Bot::start_with(
        at("2026-11-23 08:00", BERLIN),
        &config("2026-11-23"),
        |slack| {
            team(slack);
            slack.add_person("UDAVE", "dave", "America/Los_Angeles");
            slack.set_members(
                TEAM,
                &["UALICE", "UBOB", "UCAROL", "UDAVE", "UOTHERBOT", BOT].map(String::from),
            );
            slack.set_members("CHOLIDAY", &["UALICE", "UBOB"].map(String::from));
        },
    )
    .await
}

/// Dave (Los Angeles) is away; Alice answers with a blocker, another bot chatters in the
/// thread. Carol is reminded at 12:30 Berlin (17:00 for her); Bob at the start of his day
/// (09:00 New York, 15:00 Berlin), not at 06:30; Dave, away, never. The summary at 15:30 counts,
/// names without pinging, lists the blocker; Bob's late answer edits it.
#[tokio::test(start_paused = true)]
async fn a_standup_day_from_prompt_to_updated_summary() {
    let bot = team_bot().await;
    // It is still Sunday evening in Los Angeles: "today" is his Sunday, so he names the day.
    let sunday = bot.command("/standup", "away today", "UDAVE", TEAM).await;
    assert!(sunday.contains("You're away Sun 22 Nov"), "{sunday}");
    let away = bot
        .command("/standup", "away 2026-11-23", "UDAVE", TEAM)
        .await;
    assert!(away.contains("You're away Mon 23 Nov"), "{away}");

    bot.run_until(at("2026-11-23 09:29", BERLIN)).await;
    assert!(bot.posts().is_empty(), "{}", bot.transcript(BERLIN));
    bot.run_until(at("2026-11-23 09:31", BERLIN)).await;
    let prompts = bot.posts_to(TEAM);
    assert_eq!(prompts.len(), 1, "{}", bot.transcript(BERLIN));
    let prompt = &prompts[0];
    assert_eq!(local(prompt.at, BERLIN), "Mon 2026-11-23 09:30");
    assert!(
        prompt.thread_ts.is_none(),
        "the prompt opens the day's thread"
    );
    assert!(prompt.text.contains("*Async standup"), "{}", prompt.text);
    for section in ["Completed yesterday", "Planned today", "Blockers"] {
        assert!(prompt.text.contains(section), "{section}: {}", prompt.text);
    }
    let root = prompt.ts.clone();

    bot.run_for(minutes(20)).await;
    bot.reply(
        TEAM,
        "UALICE",
        &root,
        "Done: API\nToday: tests\nBlockers: waiting for DB creds, Bob can help",
    )
    .await;
    bot.deliver(serde_json::json!({
        "type": "message", "channel": TEAM, "channel_type": "channel", "user": "UOTHERBOT",
        "bot_id": "B0OTHER", "text": "beep", "ts": bot.new_ts(), "thread_ts": root,
    }))
    .await;

    bot.run_until(at("2026-11-23 15:31", BERLIN)).await;
    let thread = bot.posts_in_thread(&root);
    let reminders: Vec<_> = thread
        .iter()
        .filter(|p| p.text.contains("reminder"))
        .collect();
    assert_eq!(reminders.len(), 2, "{}", bot.transcript(BERLIN));
    assert!(
        reminders[0].text.starts_with("<@UCAROL>"),
        "{}",
        reminders[0].text
    );
    assert_eq!(local(reminders[0].at, BERLIN), "Mon 2026-11-23 12:30");
    assert!(
        reminders[1].text.starts_with("<@UBOB>"),
        "{}",
        reminders[1].text
    );
    assert_eq!(
        local(reminders[1].at, "America/New_York"),
        "Mon 2026-11-23 09:00",
        "Bob is reminded when his day starts"
    );
    for r in &reminders {
        for not in ["UALICE", "UDAVE", "UOTHERBOT", BOT] {
            assert!(!r.text.contains(not), "{not} is not reminded: {}", r.text);
        }
    }
    let summary = thread
        .iter()
        .find(|p| p.text.contains("Standup summary"))
        .unwrap_or_else(|| panic!("no summary: {}", bot.transcript(BERLIN)))
        .clone();
    assert_eq!(local(summary.at, BERLIN), "Mon 2026-11-23 15:30");
    let s = &summary.text;
    assert!(
        s.contains("Answered: 1 of 3 (alice)"),
        "Dave is away, bots are not asked: {s}"
    );
    assert!(s.contains("Not yet: bob, carol"), "{s}");
    assert!(
        s.contains("• alice: waiting for DB creds, Bob can help"),
        "{s}"
    );
    assert!(!s.contains("<@"), "no @-ping in the summary: {s}");

    // Bob answers late: the summary is edited in place, not lost.
    bot.run_for(minutes(30)).await;
    bot.reply(TEAM, "UBOB", &root, "Completed: review\nBlockers: none")
        .await;
    let edits: Vec<_> = bot
        .sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Edit)
        .collect();
    assert_eq!(edits.len(), 1, "{}", bot.transcript(BERLIN));
    assert_eq!(edits[0].ts, summary.ts, "the summary itself is edited");
    assert!(
        edits[0].text.contains("Answered: 2 of 3 (alice, bob)"),
        "{}",
        edits[0].text
    );
    assert!(
        edits[0].text.contains("Not yet: carol"),
        "{}",
        edits[0].text
    );

    let status = bot.command("/standup", "status", "UALICE", TEAM).await;
    assert!(
        status.contains("Standup at *09:30* Europe/Berlin"),
        "{status}"
    );
    assert!(status.contains("2 answer(s): alice, bob"), "{status}");
    assert!(status.contains("*Away today:* dave"), "{status}");

    // One prompt a day; the channel whose holiday is today gets nothing until Tuesday's.
    assert!(
        bot.posts_to("CHOLIDAY").is_empty(),
        "a holiday gets nothing"
    );
    bot.run_until(at("2026-11-24 09:31", BERLIN)).await;
    let team_prompts: Vec<_> = bot
        .posts_to(TEAM)
        .into_iter()
        .filter(|p| p.thread_ts.is_none())
        .collect();
    assert_eq!(team_prompts.len(), 2, "{}", bot.transcript(BERLIN));
    assert_eq!(local(team_prompts[1].at, BERLIN), "Tue 2026-11-24 09:30");
    let holiday = bot.posts_to("CHOLIDAY");
    assert_eq!(holiday.len(), 1, "{}", bot.transcript(BERLIN));
    assert_eq!(local(holiday[0].at, BERLIN), "Tue 2026-11-24 09:30");
}

/// Nothing on a weekend: Friday's prompt, then Monday's.
#[tokio::test(start_paused = true)]
async fn no_standup_on_the_weekend() {
    let bot = Bot::start_with(
        at("2026-11-27 09:00", BERLIN),
        &config("2026-11-20"),
        |slack| {
            team(slack);
            slack.set_members(TEAM, &["UALICE", "UBOB"].map(String::from));
        },
    )
    .await;
    bot.run_until(at("2026-11-30 09:31", BERLIN)).await;
    let prompts: Vec<_> = bot
        .posts_to(TEAM)
        .into_iter()
        .filter(|p| p.thread_ts.is_none())
        .map(|p| local(p.at, BERLIN))
        .collect();
    assert_eq!(
        prompts,
        vec!["Fri 2026-11-27 09:30", "Mon 2026-11-30 09:30"],
        "{}",
        bot.transcript(BERLIN)
    );
}
