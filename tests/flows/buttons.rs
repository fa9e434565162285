//! The one-click answers on the ladder's messages, on the real norms and virtual time: *On it,
//! by …* (an ETA the ladder waits for, told to the asker), *Snooze until tomorrow*, *Already
//! answered* and *Not for me*; presses by someone else, after the request closed, twice, and
//! replayed by Slack.

use asyncbot::slack::memory::{Sent, SentKind};
use serde_json::Value;

use crate::inproc::*;

const NY: &str = "America/New_York";
const BERLIN: &str = "Europe/Berlin";

/// A nudge now, a DM two business hours later: a snooze then moves something visible.
const SHORT_LADDER: &str = "[escalation]\nsteps = [\n  { after = \"0s\", action = \"thread_mention\" },\n  { after = \"2h\", action = \"direct_message\" },\n]\n";

/// Alice (Berlin) asks Bob (New York) on Monday at 10:00 her time; his nudge comes Tuesday at
/// 09:00 his time. Returns the bot, the request's ts and the nudge.
async fn nudged(config: &str) -> (Bot, String, Sent) {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), config).await;
    let ts = bot
        .post(
            CHANNEL,
            "UALICE",
            "<@UBOB> can you review the Q3 budget doc?",
        )
        .await;
    bot.run_until(at("2026-11-24 09:01", NY)).await;
    let nudge = bot.posts_in_thread(&ts).remove(0);
    assert_eq!(local(nudge.at, NY), "Tue 2026-11-24 09:00");
    (bot, ts, nudge)
}

/// The ETA options of a message: (label, value), earliest first.
fn eta_options(sent: &Sent) -> Vec<(String, String)> {
    let blocks = sent.blocks.as_ref().expect("the message has blocks");
    let mut out = Vec::new();
    for block in blocks.as_array().unwrap() {
        for element in block["elements"].as_array().into_iter().flatten() {
            if element["action_id"] == "sla_eta" {
                for option in element["options"].as_array().unwrap() {
                    out.push((
                        option["text"]["text"].as_str().unwrap().to_owned(),
                        option["value"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}

/// The value of a button in a message's blocks.
fn button_value(sent: &Sent, action_id: &str) -> String {
    let blocks = sent.blocks.as_ref().expect("the message has blocks");
    blocks
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .find(|e| e["action_id"] == action_id)
        .and_then(|e| e["value"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no {action_id} in {blocks}"))
}

fn edits(bot: &Bot) -> Vec<Sent> {
    bot.sent()
        .into_iter()
        .filter(|s| s.kind == SentKind::Edit)
        .collect()
}

fn has_buttons(blocks: &Option<Value>) -> bool {
    blocks
        .as_ref()
        .is_some_and(|b| b.to_string().contains("\"sla_"))
}

/// Bob picks "Tomorrow noon": Alice is told privately, `/sla` shows the ETA, the DM due
/// Wednesday 09:00 waits until his noon, and the ladder goes on from there (the call 12
/// business hours later, in his next morning). The same pick again changes nothing.
#[tokio::test(start_paused = true)]
async fn on_it_by_sets_an_eta_the_ladder_waits_for_and_the_asker_sees() {
    let (bot, _ts, nudge) = nudged("").await;
    let options = eta_options(&nudge);
    let labels: Vec<&str> = options.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        labels,
        [
            "In 2 hours (Tue 11:00)",
            "End of my day (Tue 18:00)",
            "Tomorrow noon (Wed 12:00)",
            "End of this week (Fri 18:00)"
        ],
        "from Bob's calendar, in his time"
    );
    let noon = &options[2].1;
    bot.click("UBOB", CHANNEL, "sla_eta", noon).await;
    let told = bot.notes_for("UALICE");
    assert_eq!(told.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(told[0].channel, CHANNEL, "in the request's channel");
    assert!(
        told[0]
            .text
            .contains("<@UBOB> is on it and expects to answer by <!date^"),
        "{}",
        told[0].text
    );
    assert!(told[0].text.contains("your time"), "{}", told[0].text);
    let bob = bot.notes_for("UBOB");
    assert!(
        bob[0].text.starts_with("Noted: you expect to answer by"),
        "{}",
        bob[0].text
    );

    let overview = bot.command("/sla", "", "UALICE", CHANNEL).await;
    assert!(
        overview.contains("<@UBOB> is on it, answer expected by <!date^"),
        "{overview}"
    );
    let bobs = bot.command("/sla", "", "UBOB", CHANNEL).await;
    assert!(bobs.contains("you are on it, answer expected by"), "{bobs}");

    // A double press: nothing changes twice, and Alice is not told again.
    bot.click("UBOB", CHANNEL, "sla_eta", noon).await;
    assert_eq!(bot.notes_for("UALICE").len(), 1);
    assert!(
        bot.notes_for("UBOB")[1]
            .text
            .contains("Nothing was changed"),
        "{}",
        bot.transcript(NY)
    );

    bot.run_until(at("2026-11-25 11:59", NY)).await;
    assert_eq!(bot.posts().len(), 1, "{}", bot.transcript(NY));
    bot.run_until(at("2026-11-25 12:01", NY)).await;
    let dm = bot.posts().remove(1);
    assert_eq!(local(dm.at, NY), "Wed 2026-11-25 12:00", "at his ETA");
    assert_eq!(dm.channel, "DUBOB");
    assert!(has_buttons(&dm.blocks), "the DM has the buttons too");
    bot.run_until(at("2026-11-26 18:00", NY)).await;
    let posts = bot.posts();
    assert_eq!(posts.len(), 3, "{}", bot.transcript(NY));
    assert_eq!(
        local(posts[2].at, NY),
        "Thu 2026-11-26 09:00",
        "the call, 12 h after the DM, in his next morning"
    );
    assert!(has_buttons(&posts[2].blocks), "the call suggestion too");
}

/// *Snooze until tomorrow* after the nudge: the DM due two hours later waits for Bob's next
/// working day; a second snooze that day changes nothing.
#[tokio::test(start_paused = true)]
async fn snooze_moves_the_next_step_to_the_next_working_day_once_a_day() {
    let (bot, _ts, nudge) = nudged(SHORT_LADDER).await;
    let id = button_value(&nudge, "sla_snooze");
    bot.run_until(at("2026-11-24 10:00", NY)).await;
    bot.click("UBOB", CHANNEL, "sla_snooze", &id).await;
    let note = bot.notes_for("UBOB").remove(0);
    assert!(
        note.text
            .starts_with("Snoozed: the next reminder waits until"),
        "{}",
        note.text
    );
    bot.click("UBOB", CHANNEL, "sla_snooze", &id).await;
    assert!(
        bot.notes_for("UBOB")[1]
            .text
            .contains("snoozed this one today already"),
        "{}",
        bot.transcript(NY)
    );
    assert!(
        bot.notes_for("UALICE").is_empty(),
        "a snooze is Bob's business"
    );
    bot.run_until(at("2026-11-25 08:59", NY)).await;
    assert_eq!(bot.posts().len(), 1, "not at 11:00: {}", bot.transcript(NY));
    bot.run_until(at("2026-11-25 09:01", NY)).await;
    let dm = bot.posts().remove(1);
    assert_eq!(
        local(dm.at, NY),
        "Wed 2026-11-25 09:00",
        "the start of his next day"
    );
}

/// *Already answered* closes the request, the nudge's buttons become a line saying so, and
/// nothing more comes. Carol's press before it was refused; Bob's second press and Slack's
/// replay of his first change nothing.
#[tokio::test(start_paused = true)]
async fn already_answered_closes_it_and_only_the_recipient_may_press() {
    let (bot, _ts, nudge) = nudged("").await;
    let id = button_value(&nudge, "sla_answered");

    bot.click("UCAROL", CHANNEL, "sla_answered", &id).await;
    let refused = bot.notes_for("UCAROL").remove(0);
    assert_eq!(
        refused.text,
        "Only <@UBOB> can answer this one. Nothing was changed."
    );
    assert_eq!(bot.open_requests(), 1);
    assert!(edits(&bot).is_empty());

    let trigger = bot.click("UBOB", CHANNEL, "sla_answered", &id).await;
    assert_eq!(bot.open_requests(), 0);
    let edited = edits(&bot);
    assert_eq!(edited.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(edited[0].channel, CHANNEL);
    assert_eq!(edited[0].ts, nudge.ts, "the nudge itself");
    assert!(!has_buttons(&edited[0].blocks), "the buttons are gone");
    assert!(
        shown(&edited[0]).contains("<@UBOB> marked this answered"),
        "{}",
        shown(&edited[0])
    );
    assert!(bot.notes_for("UBOB")[0].text.starts_with("Marked answered"));

    let notes = bot.notes_for("UBOB").len();
    bot.click_with_trigger("UBOB", CHANNEL, "sla_answered", &id, &trigger)
        .await;
    assert_eq!(
        bot.notes_for("UBOB").len(),
        notes,
        "a replay is not run again"
    );
    bot.click("UBOB", CHANNEL, "sla_answered", &id).await;
    let again = bot.notes_for("UBOB").pop().unwrap();
    assert!(
        again.text.contains("was marked answered already")
            && again.text.contains("Nothing was changed"),
        "{}",
        again.text
    );
    assert_eq!(edits(&bot).len(), 1, "no second edit");

    bot.run_until(at("2026-11-27 18:00", NY)).await;
    assert_eq!(
        bot.posts().len(),
        1,
        "no DM, no call: {}",
        bot.transcript(NY)
    );
}

/// *Not for me*, pressed in the DM: the request closes, Alice is told privately in the channel,
/// and both the nudge and the DM lose their buttons.
#[tokio::test(start_paused = true)]
async fn not_for_me_closes_it_and_tells_the_asker_privately() {
    let (bot, ts, _nudge) = nudged("").await;
    bot.run_until(at("2026-11-25 09:01", NY)).await;
    let dm = bot.posts().remove(1);
    assert_eq!(dm.channel, "DUBOB");
    let id = button_value(&dm, "sla_not_for_me");
    bot.click("UBOB", "DUBOB", "sla_not_for_me", &id).await;
    assert_eq!(bot.open_requests(), 0);
    let told = bot.notes_for("UALICE");
    assert_eq!(told.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(told[0].channel, CHANNEL);
    assert!(
        told[0]
            .text
            .contains("<@UBOB> says your request isn't for them")
            && told[0]
                .text
                .contains(&format!("archives/{CHANNEL}/p{}", ts.replace('.', ""))),
        "{}",
        told[0].text
    );
    let bob = bot.notes_for("UBOB").remove(0);
    assert_eq!(bob.channel, "DUBOB", "Bob's answer where he pressed");
    let edited = edits(&bot);
    let mut channels: Vec<&str> = edited.iter().map(|e| e.channel.as_str()).collect();
    channels.sort();
    assert_eq!(channels, [CHANNEL, "DUBOB"], "{}", bot.transcript(NY));
    assert!(edited.iter().all(|e| !has_buttons(&e.blocks)));
    assert!(
        edited
            .iter()
            .all(|e| shown(e).contains("<@UBOB> said this isn't for them")),
        "{}",
        bot.transcript(NY)
    );
    let overview = bot.command("/sla", "", "UALICE", CHANNEL).await;
    assert!(overview.contains("*You are waiting on (0)*"), "{overview}");
    bot.run_until(at("2026-11-27 18:00", NY)).await;
    assert_eq!(bot.posts().len(), 2, "no call: {}", bot.transcript(NY));
}

/// A request answered in the thread, then a press on its old nudge: a polite word, nothing
/// changed. And the reactions keep working on a nudge that has buttons.
#[tokio::test(start_paused = true)]
async fn a_press_after_the_answer_changes_nothing_and_reactions_still_close() {
    let (bot, ts, nudge) = nudged("").await;
    let id = button_value(&nudge, "sla_snooze");
    bot.reply(CHANNEL, "UBOB", &ts, "done, see the doc").await;
    assert_eq!(bot.open_requests(), 0);
    bot.click("UBOB", CHANNEL, "sla_snooze", &id).await;
    let note = bot.notes_for("UBOB").remove(0);
    assert!(
        note.text.contains("was answered already") && note.text.contains("Nothing was changed"),
        "{}",
        note.text
    );
    for (_, eta) in eta_options(&nudge) {
        bot.click("UBOB", CHANNEL, "sla_eta", &eta).await;
    }
    assert!(
        bot.notes_for("UALICE").is_empty(),
        "no ETA told for a closed request"
    );
    assert!(edits(&bot).is_empty());

    let second = bot.post(CHANNEL, "UALICE", "<@UBOB> one more thing").await;
    bot.run_until(at("2026-11-25 09:30", NY)).await;
    let nudge = bot.posts_in_thread(&second).remove(0);
    assert!(has_buttons(&nudge.blocks));
    bot.react("UBOB", "eyes", CHANNEL, &nudge.ts).await;
    assert_eq!(bot.open_requests(), 0, "👀 on the nudge still answers it");
}
