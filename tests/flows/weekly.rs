//! The weekly update: the draft to its owner an hour before, the post on time with each section
//! filled from the week's standups, requests, RFCs and blockers, *Post now* and *Skip this
//! week*, and nothing on a holiday (the next update then covers both weeks).

use asyncbot::slack::memory::SentKind;

use crate::inproc::*;

const TEAM: &str = "CTEAM";
const BERLIN: &str = "Europe/Berlin";

fn config(extra: &str) -> String {
    format!(
        "[respect]\nmetrics_min_group = 1\n\n[[standups]]\nchannel = \"{TEAM}\"\nat = \"09:30\"\ntimezone = \"{BERLIN}\"\n\n\
         [[weekly]]\nchannel = \"{TEAM}\"\nat = \"fri 15:00\"\ntimezone = \"{BERLIN}\"\nowner = \"UALICE\"\n{extra}"
    )
}

async fn team_bot(extra: &str) -> Bot {
    Bot::start_with(at("2026-11-16 08:00", BERLIN), &config(extra), |slack| {
        team(slack);
        slack.set_members(TEAM, &["UALICE", "UBOB", "UCAROL", BOT].map(String::from));
    })
    .await
}

/// The channel's top-level posts that are weekly updates.
fn updates(bot: &Bot) -> Vec<asyncbot::slack::memory::Sent> {
    bot.posts_to(TEAM)
        .into_iter()
        .filter(|p| p.thread_ts.is_none() && p.text.starts_with("*Weekly update*"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_update_is_drafted_then_posted_with_every_section() {
    let bot = team_bot("").await;
    bot.run_until(at("2026-11-16 09:31", BERLIN)).await;
    let root = bot.posts_to(TEAM)[0].ts.clone();
    bot.reply(
        TEAM,
        "UALICE",
        &root,
        "Completed: shipped the billing API\nPlanned: load tests\nBlockers: the staging cluster is down",
    )
    .await;
    bot.reply(
        TEAM,
        "UBOB",
        &root,
        "Done: reviewed the rota <!channel>\nToday: release prep\nBlockers: none",
    )
    .await;
    let asked = bot
        .post(TEAM, "UALICE", "<@UCAROL> can you check the invoice run?")
        .await;
    let opened = bot
        .command(
            "/rfc",
            "Adopt Rust for billing approver:<@UBOB|bob> window:1h",
            "UALICE",
            TEAM,
        )
        .await;
    assert!(opened.contains("RFC-1"), "{opened}");
    bot.run_until(at("2026-11-17 11:00", BERLIN)).await;
    let decided = bot
        .command(
            "/rfc",
            "decide RFC-1 accept it is faster and safer",
            "UBOB",
            TEAM,
        )
        .await;
    assert!(decided.contains("Accepted"), "{decided}");

    // The draft, an hour before, to Alice with the two buttons.
    bot.run_until(at("2026-11-20 13:59", BERLIN)).await;
    assert!(
        bot.posts_to("DUALICE").is_empty(),
        "{}",
        bot.transcript(BERLIN)
    );
    bot.run_until(at("2026-11-20 14:01", BERLIN)).await;
    let drafts = bot.posts_to("DUALICE");
    assert_eq!(drafts.len(), 1, "{}", bot.transcript(BERLIN));
    assert_eq!(local(drafts[0].at, BERLIN), "Fri 2026-11-20 14:00");
    let blocks = drafts[0].blocks.clone().unwrap().to_string();
    assert!(
        blocks.contains("weekly_post_now") && blocks.contains("weekly_skip"),
        "{blocks}"
    );
    assert!(updates(&bot).is_empty());

    // The post, on time, in the seed's template.
    bot.run_until(at("2026-11-20 15:01", BERLIN)).await;
    let posted = updates(&bot);
    assert_eq!(posted.len(), 1, "{}", bot.transcript(BERLIN));
    assert_eq!(local(posted[0].at, BERLIN), "Fri 2026-11-20 15:00");
    let text = &posted[0].text;
    let wins = section(text, "🏆 Wins");
    assert!(wins.contains("*alice*: shipped the billing API"), "{text}");
    assert!(wins.contains("*bob*: reviewed the rota"), "{text}");
    assert!(!text.contains("<!channel>"), "{text}");
    let metrics = section(text, "📊 Key metrics");
    assert!(metrics.contains("Standup answers: "), "{text}");
    assert!(
        metrics.contains("RFCs decided: 1 ↗️ (last week 0)"),
        "{text}"
    );
    let priorities = section(text, "🎯 Priorities");
    assert!(priorities.contains("*alice*: load tests"), "{text}");
    assert!(priorities.contains("*bob*: release prep"), "{text}");
    let questions = section(text, "❓ Open questions");
    assert!(
        questions.contains("can you check the invoice run?"),
        "{text}"
    );
    assert!(
        !questions.contains("UCAROL") && !questions.contains("carol"),
        "no blame: {text}"
    );
    assert!(
        questions.contains("Blocker since Mon 16 Nov: the staging cluster is down"),
        "{text}"
    );
    let decisions = section(text, "📝 Decisions");
    assert!(
        decisions.contains("*RFC-1 Adopt Rust for billing* — Accepted: it is faster and safer"),
        "{text}"
    );
    assert!(
        decisions.contains("|thread>"),
        "a link to the record: {text}"
    );
    let _ = asked;

    // Pressing a button after the post changes nothing.
    bot.click(
        "UALICE",
        "DUALICE",
        "weekly_skip",
        &format!("{TEAM}:2026-11-20"),
    )
    .await;
    assert!(
        bot.notes_for("UALICE")
            .last()
            .is_none_or(|n| !n.text.contains("Skipped"))
    );
    assert_eq!(updates(&bot).len(), 1);
}

/// The text of one section: from its heading to the next blank line.
fn section(text: &str, heading: &str) -> String {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading}: {text}"));
    let rest = &text[start..];
    rest.split("\n\n").next().unwrap_or(rest).to_owned()
}

#[tokio::test(start_paused = true)]
async fn skip_this_week_and_post_now() {
    let bot = team_bot("").await;
    bot.run_until(at("2026-11-20 14:01", BERLIN)).await;
    assert_eq!(
        bot.posts_to("DUALICE").len(),
        1,
        "{}",
        bot.transcript(BERLIN)
    );
    // Bob is not the owner.
    bot.click(
        "UBOB",
        "DUALICE",
        "weekly_skip",
        &format!("{TEAM}:2026-11-20"),
    )
    .await;
    bot.click(
        "UALICE",
        "DUALICE",
        "weekly_skip",
        &format!("{TEAM}:2026-11-20"),
    )
    .await;
    bot.run_until(at("2026-11-20 16:00", BERLIN)).await;
    assert!(
        updates(&bot).is_empty(),
        "skipped: {}",
        bot.transcript(BERLIN)
    );
    // Next week: Post now sends it at once, and nothing more at 15:00.
    bot.run_until(at("2026-11-27 14:10", BERLIN)).await;
    assert_eq!(
        bot.posts_to("DUALICE").len(),
        2,
        "{}",
        bot.transcript(BERLIN)
    );
    bot.click(
        "UALICE",
        "DUALICE",
        "weekly_post_now",
        &format!("{TEAM}:2026-11-27"),
    )
    .await;
    bot.run_for(minutes(1)).await;
    let posted = updates(&bot);
    assert_eq!(posted.len(), 1, "{}", bot.transcript(BERLIN));
    assert_eq!(local(posted[0].at, BERLIN), "Fri 2026-11-27 14:10");
    bot.run_until(at("2026-11-27 16:00", BERLIN)).await;
    assert_eq!(updates(&bot).len(), 1, "{}", bot.transcript(BERLIN));
    let notes: Vec<String> = bot
        .sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Ephemeral || s.kind == SentKind::Response)
        .map(|s| s.text)
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("Only the update's owner")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|n| n.contains("Skipped")), "{notes:?}");
    assert!(
        notes.iter().any(|n| n.contains("Posted in <#CTEAM>")),
        "{notes:?}"
    );
}

/// Friday 27 November is a holiday: no draft, no post; the update of 4 December covers the two
/// weeks since the last one.
#[tokio::test(start_paused = true)]
async fn nothing_on_a_holiday_and_the_next_update_covers_both_weeks() {
    let bot = team_bot("\n[calendar]\nholidays = [\"2026-11-27\"]\n").await;
    bot.run_until(at("2026-11-20 15:01", BERLIN)).await;
    assert_eq!(updates(&bot).len(), 1, "{}", bot.transcript(BERLIN));
    bot.run_until(at("2026-11-28 12:00", BERLIN)).await;
    assert_eq!(
        updates(&bot).len(),
        1,
        "nothing on the holiday: {}",
        bot.transcript(BERLIN)
    );
    assert_eq!(bot.posts_to("DUALICE").len(), 1, "no draft either");
    bot.run_until(at("2026-12-04 15:01", BERLIN)).await;
    let posted = updates(&bot);
    assert_eq!(posted.len(), 2, "{}", bot.transcript(BERLIN));
    assert!(
        posted[1]
            .text
            .starts_with("*Weekly update* for <#CTEAM>, Fri 20 Nov – Fri 4 Dec"),
        "{}",
        posted[1].text
    );
}

#[tokio::test(start_paused = true)]
async fn preview_status_and_help() {
    let bot = team_bot("").await;
    let preview = bot.command("/weekly", "preview", "UBOB", TEAM).await;
    assert!(
        preview.starts_with("_Preview: only you see this._"),
        "{preview}"
    );
    assert!(preview.contains("*🏆 Wins*"), "{preview}");
    let status = bot.command("/weekly", "", "UBOB", TEAM).await;
    assert!(
        status.contains("every Fri at 15:00 (Europe/Berlin)"),
        "{status}"
    );
    assert!(status.contains("draft to <@UALICE>"), "{status}");
    let none = bot.command("/weekly", "status", "UBOB", "COTHER").await;
    assert!(none.contains("has no weekly update"), "{none}");
    let bad = bot
        .command("/weekly", "sometimes <!here>", "UBOB", TEAM)
        .await;
    assert!(
        bad.contains("I don't understand") && !bad.contains("<!here>"),
        "{bad}"
    );
}
