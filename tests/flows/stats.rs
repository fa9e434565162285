//! Team metrics: `/sla stats` and the Home tab's team week count what happened to requests
//! (on each recipient's own clock), and show a person's own figures only to that person.

use serde_json::{Value, json};

use crate::inproc::*;

const NY: &str = "America/New_York";

/// Three requests on Monday 16 November 2026, 10:00 in New York:
/// - Bob (New York, normal tier) answers in the thread at 12:00: 2 business hours, before any
///   nudge, within the SLA;
/// - Carol (Kolkata, normal tier; asked at 20:30 her time) is nudged in the thread at her
///   Wednesday 09:00 and answers at 10:00: 37 h 30 min of her business days, late, after the
///   thread mention;
/// - Dan (Sydney, urgent) acks with :eyes: 30 minutes later: within the 2 hours.
async fn a_week_of_requests() -> Bot {
    let bot = Bot::start(at("2026-11-16 09:00", NY), "").await;
    bot.run_until(at("2026-11-16 10:00", NY)).await;
    let to_bob = bot
        .post(CHANNEL, "UALICE", "<@UBOB> can you review the plan?")
        .await;
    let to_carol = bot
        .post(CHANNEL, "UALICE", "<@UCAROL> can you check the numbers?")
        .await;
    let to_dan = bot
        .post(CHANNEL, "UALICE", "<@UDAN> urgent: the deploy is stuck")
        .await;
    bot.run_until(at("2026-11-16 10:30", NY)).await;
    bot.react("UDAN", "eyes", CHANNEL, &to_dan).await;
    bot.run_until(at("2026-11-16 12:00", NY)).await;
    bot.reply(CHANNEL, "UBOB", &to_bob, "looks good").await;
    bot.run_until(at("2026-11-18 09:30", "Asia/Kolkata")).await;
    assert_eq!(
        bot.posts_in_thread(&to_carol).len(),
        1,
        "Carol's thread mention came at her 09:00: {}",
        bot.transcript(NY)
    );
    bot.run_until(at("2026-11-18 10:00", "Asia/Kolkata")).await;
    bot.reply(CHANNEL, "UCAROL", &to_carol, "numbers are fine")
        .await;
    bot.run_until(at("2026-11-18 12:00", "Asia/Kolkata")).await;
    assert_eq!(bot.open_requests(), 0);
    bot
}

/// Nobody's name or mention, and no user id, in a team view.
fn names_nobody(text: &str) {
    for who in [
        "UALICE", "UBOB", "UCAROL", "UDAN", "alice", "bob", "carol", "dan", "<@",
    ] {
        assert!(!text.contains(who), "{who} in {text}");
    }
}

#[tokio::test(start_paused = true)]
async fn sla_stats_counts_the_teams_requests_on_each_recipients_clock() {
    let bot = a_week_of_requests().await;
    let stats = bot.command("/sla", "stats", "UALICE", CHANNEL).await;
    let (team, own) = stats.split_once("*Your own*").expect(&stats);
    assert!(
        team.contains("in the workspace, the last 4 weeks"),
        "{stats}"
    );
    assert!(
        team.contains(
            "*Urgent*: 1 answered, median 30 min, 90% within 30 min · 100% within the SLA"
        ),
        "{stats}"
    );
    assert!(
        team.contains(
            "*Normal*: 2 answered, median 2 h, 90% within 37 h 30 min · 50% within the SLA"
        ),
        "{stats}"
    );
    assert!(team.contains("*SLA met*: 67% of 3 requests"), "{stats}");
    assert!(
        team.contains("before any nudge 2 · after the thread mention 1 · 100% by the second step"),
        "{stats}"
    );
    names_nobody(team);
    // Alice was asked nothing: her own figures are empty.
    assert!(own.contains("Nothing yet"), "{stats}");

    // Bob sees the same team figures, and his own: one answer, 2 hours.
    let bobs = bot.command("/sla", "stats here 1w", "UBOB", CHANNEL).await;
    let (team, own) = bobs.split_once("*Your own*").expect(&bobs);
    assert!(team.contains("in <#CENG>, the last week"), "{bobs}");
    assert!(team.contains("*Normal*: 2 answered"), "{bobs}");
    assert!(own.contains("(only you see this)"), "{bobs}");
    assert!(
        own.contains("*Normal*: 1 answered, median 2 h, 90% within 2 h · 100% within the SLA"),
        "{bobs}"
    );
    assert!(!own.contains("Urgent"), "Dan's answer is not Bob's: {bobs}");

    // Another channel counts nothing; another person's figures are never shown.
    let other = bot
        .command("/sla", "stats <#COTHER|other>", "UBOB", CHANNEL)
        .await;
    assert!(other.contains("Nothing to count yet"), "{other}");
    let carols = bot
        .command("/sla", "stats <@UCAROL>", "UBOB", CHANNEL)
        .await;
    assert!(carols.contains("never per person"), "{carols}");
    assert!(!carols.contains("37 h"), "{carols}");
    let bad = bot
        .command("/sla", "stats fortnight", "UBOB", CHANNEL)
        .await;
    assert!(bad.contains("I don't understand `fortnight`"), "{bad}");
}

/// The Home tab's team week: the same team figures, sparklines, and the viewer's own week.
#[tokio::test(start_paused = true)]
async fn the_home_tab_shows_the_teams_week_and_only_the_viewers_own() {
    let bot = a_week_of_requests().await;
    let home = open_home(&bot, "UCAROL").await;
    let text = insights(&home);
    let (team, own) = text.split_once("*Your week*").expect(&text);
    assert!(team.starts_with("*The team's week*"), "{text}");
    assert!(team.contains("*SLA met*: 67% of 3 requests"), "{text}");
    assert!(team.contains("SLA met, last 8 weeks: `"), "{text}");
    names_nobody(team);
    assert!(
        own.contains(
            "*Normal*: 1 answered, median 37 h 30 min, 90% within 37 h 30 min · 0% within the SLA"
        ),
        "Carol's own week: {text}"
    );
    assert!(!own.contains("2 h,"), "Bob's answer is not Carol's: {text}");
    // Alice, asked nothing, sees the team's week and no section of her own.
    let alices = insights(&open_home(&bot, "UALICE").await);
    assert!(alices.contains("*The team's week*"), "{alices}");
    assert!(!alices.contains("*Your week*"), "{alices}");
}

async fn open_home(bot: &Bot, user: &str) -> Value {
    let before = bot.slack.published_homes().len();
    bot.deliver(json!({
        "type": "app_home_opened", "user": user, "channel": format!("D{user}"), "tab": "home",
        "event_ts": bot.new_ts()
    }))
    .await;
    let homes = bot.slack.published_homes();
    assert_eq!(homes.len(), before + 1, "the Home tab is published");
    homes.last().unwrap().1.clone()
}

fn insights(home: &Value) -> String {
    home["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block_id"] == "insights_week")
        .unwrap_or_else(|| panic!("no team week section: {home}"))["text"]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}
