//! Hostile text in the standup, on virtual time: answers that change length when case-folded
//! (the Kelvin sign, a dozen dotted `İ`) are summarised and never kill a worker; a summary with
//! more blockers than one message holds is split, none lost, and a late answer edits every part;
//! the DM quotes a request as Slack shows it.

use asyncbot::slack::memory::SentKind;

use crate::inproc::*;

const TEAM: &str = "CTEAM";
const NY: &str = "America/New_York";

fn config() -> String {
    format!("[[standups]]\nchannel = \"{TEAM}\"\nat = \"09:00\"\ntimezone = \"UTC\"\n")
}

/// An on-time answer with a Kelvin sign (read by the summary timer) and a late one with a dozen
/// `İ` (read by the event worker) are both recorded and summarised, and a mention sent
/// afterwards is still tracked: neither worker died.
#[tokio::test(start_paused = true)]
async fn standup_answers_with_dotted_i_and_kelvin_are_summarised_and_the_bot_keeps_working() {
    let bot = Bot::start_with(at("2026-11-23 08:00", "UTC"), &config(), |slack| {
        team(slack);
        slack.set_members(TEAM, &["UALICE", "UBOB", "UCAROL", BOT].map(String::from));
    })
    .await;
    bot.run_until(at("2026-11-23 09:01", "UTC")).await;
    let root = bot.posts_to(TEAM).remove(0).ts;
    bot.reply(TEAM, "UCAROL", &root, "Done: x\nBlockers: \u{212A}")
        .await;
    bot.run_until(at("2026-11-23 15:01", "UTC")).await;
    let summary = bot
        .posts_in_thread(&root)
        .into_iter()
        .find(|p| p.text.contains("Standup summary"))
        .unwrap_or_else(|| panic!("{}", bot.transcript("UTC")));
    assert!(
        summary.text.contains("• carol: \u{212A}"),
        "{}",
        summary.text
    );

    // Late, after the summary: the event worker renders the summary again.
    let dotted = "İİİİİİİİİİİİ";
    bot.reply(TEAM, "UBOB", &root, &format!("Blockers: {dotted}"))
        .await;
    let edits: Vec<_> = bot
        .sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Edit)
        .collect();
    assert_eq!(edits.len(), 1, "{}", bot.transcript("UTC"));
    assert!(
        edits[0].text.contains(&format!("• bob: {dotted}")),
        "{}",
        edits[0].text
    );
    assert!(
        edits[0].text.contains("• carol: \u{212A}"),
        "{}",
        edits[0].text
    );
    assert_eq!(edits[0].ts, summary.ts, "edited in place");

    // A request sent afterwards is still tracked: Bob is nudged a business day later.
    let ts = bot
        .post(
            "CENG",
            "UALICE",
            "<@UBOB> can you check the İstanbul numbers?",
        )
        .await;
    assert_eq!(bot.open_requests(), 1);
    bot.run_until(at("2026-11-24 11:05", NY)).await;
    let nudges = bot.posts_in_thread(&ts);
    assert_eq!(nudges.len(), 1, "{}", bot.transcript(NY));
    assert!(nudges[0].text.contains("<@UBOB>"), "{}", nudges[0].text);
}

/// A summary with more blockers than one message holds is split into parts, none lost; a late
/// answer edits the parts in place and posts the part the summary grew into.
#[tokio::test(start_paused = true)]
async fn a_summary_with_many_blockers_is_split_and_a_late_answer_updates_every_part() {
    let people: Vec<String> = (0..12).map(|i| format!("UP{i:03}")).collect();
    let directory = people.clone();
    let bot = Bot::start_with(at("2026-11-23 08:00", "UTC"), &config(), move |slack| {
        for id in &directory {
            slack.add_person(id, &id.to_lowercase(), "UTC");
        }
        slack.add_person("UALICE", "alice", "Europe/Berlin");
        let mut members = directory.clone();
        members.push("UALICE".into());
        slack.set_members(TEAM, &members);
    })
    .await;
    bot.run_until(at("2026-11-23 09:01", "UTC")).await;
    let root = bot.posts_to(TEAM).remove(0).ts;
    let long = "the vendor has not answered ".repeat(15);
    for (i, id) in people.iter().enumerate() {
        bot.reply(TEAM, id, &root, &format!("Blockers: blocker-{i:03} {long}"))
            .await;
    }
    bot.run_until(at("2026-11-23 15:05", "UTC")).await;
    let parts: Vec<_> = bot
        .posts_in_thread(&root)
        .into_iter()
        .filter(|p| p.text.contains("Standup summary"))
        .collect();
    assert_eq!(parts.len(), 2, "{}", bot.transcript("UTC"));
    assert!(parts[1].text.contains("(part 2 of 2)"), "{}", parts[1].text);
    let all: String = parts.iter().map(shown).collect();
    for i in 0..people.len() {
        assert!(
            all.contains(&format!("blocker-{i:03}")),
            "blocker {i} kept: {all}"
        );
    }
    for part in &parts {
        assert!(part.text.chars().count() <= 3_900);
    }

    // Alice answers late, with more than fits: both parts are edited, a third is posted.
    bot.reply(
        TEAM,
        "UALICE",
        &root,
        &format!("Blockers: blocker-late {}", "x".repeat(3_000)),
    )
    .await;
    bot.run_for(minutes(1)).await;
    let third: Vec<_> = bot
        .posts_in_thread(&root)
        .into_iter()
        .filter(|p| p.text.contains("(part 3 of 3)"))
        .collect();
    assert_eq!(third.len(), 1, "{}", bot.transcript("UTC"));
    let edits: Vec<_> = bot
        .sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Edit)
        .collect();
    for part in &parts {
        assert!(
            edits.iter().any(|e| e.ts == part.ts),
            "every part edited: {}",
            bot.transcript("UTC")
        );
    }
    let now: String = edits.iter().chain(&third).map(shown).collect();
    assert!(now.contains("blocker-late"), "{now}");
    for i in 0..people.len() {
        assert!(now.contains(&format!("blocker-{i:03}")), "blocker {i} kept");
    }
}

/// The DM quotes the request as Slack shows it: the mention renders as a name, not as
/// `&lt;@U…&gt;`, and Slack's own escaping is kept once, not doubled.
#[tokio::test(start_paused = true)]
async fn the_dm_quotes_a_request_with_its_mention_rendered() {
    // An hour's SLA and an hour to the DM: the quoting is the point here, not the calendar.
    let config = "[sla.normal]\nwithin = \"1h\"\nclock = \"wall\"\n\n[escalation]\nsteps = [\n  { after = \"0s\", action = \"thread_mention\" },\n  { after = \"1h\", action = \"direct_message\" },\n]\n";
    let bot = Bot::start(at("2026-11-23 10:00", NY), config).await;
    bot.post(
        "CENG",
        "UALICE",
        "<@UBOB> can you review R&amp;D's doc with <@UCAROL>?",
    )
    .await;
    bot.run_for(minutes(125)).await;
    let dm = bot.posts_to("DUBOB");
    assert_eq!(dm.len(), 1, "{}", bot.transcript(NY));
    let text = &dm[0].text;
    assert!(
        text.contains("> <@UBOB> can you review R&amp;D's doc with <@UCAROL>?"),
        "{text}"
    );
    assert!(!text.contains("&lt;@"), "{text}");
    assert!(
        !text.contains("&amp;amp;"),
        "escaped once, not twice: {text}"
    );
}
