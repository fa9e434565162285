//! The Home tab's *My working time*: the section, its button, the modal it opens and the
//! modal's submission (stored, the Home tab redrawn, every clock following it; a mistake shown
//! on its field and nothing changed), through the dispatcher on virtual time.

use serde_json::{Value, json};

use asyncbot::engine::reply::InteractionReply;
use asyncbot::store::prelude::*;

use crate::inproc::*;

const NY: &str = "America/New_York";

/// Bob opens his Home tab; returns the Home tab published for him.
async fn open_home(bot: &Bot, user: &str) -> Value {
    let before = bot.slack.published_homes().len();
    bot.deliver(json!({
        "type": "app_home_opened", "user": user, "channel": format!("D{user}"), "tab": "home",
        "event_ts": bot.new_ts()
    }))
    .await;
    let homes = bot.slack.published_homes();
    assert_eq!(homes.len(), before + 1, "the Home tab is published");
    let (to, view) = homes.last().unwrap().clone();
    assert_eq!(to, user);
    view
}

/// The text of the *My working time* section of a Home tab.
fn my_working_time(home: &Value) -> String {
    let block = home["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block_id"] == "sla_hours")
        .unwrap_or_else(|| panic!("no My working time section: {home}"));
    assert_eq!(block["accessory"]["action_id"], "sla_hours_open");
    block["text"]["text"].as_str().unwrap().to_owned()
}

async fn interact(bot: &Bot, payload: Value) -> InteractionReply {
    let event = serde_json::from_value(payload).expect("an interaction Slack could send");
    let reply = bot.core.dispatcher.interaction(&event).await;
    bot.settle().await;
    reply
}

/// `user` presses *Change my working time* on their Home tab; returns the modal that opened.
async fn press_change(bot: &Bot, user: &str) -> Value {
    let trigger = format!("{}.trigger", bot.new_ts());
    let reply = interact(
        bot,
        json!({
            "type": "block_actions",
            "team": {"id": "TSIMULATED", "domain": "sim"},
            "user": {"id": user, "username": user.to_lowercase(), "team_id": "TSIMULATED"},
            "api_app_id": "A0FAKE", "token": "ignored",
            "container": {"type": "view", "view_id": "VHOME"},
            "trigger_id": trigger,
            "actions": [{"type": "button", "action_id": "sla_hours_open", "block_id": "sla_hours",
                "action_ts": "1700000000.000001", "text": {"type": "plain_text", "text": "Change"}}]
        }),
    )
    .await;
    assert_eq!(reply, InteractionReply::Ack);
    let views = bot.slack.opened_views();
    let (on, view) = views.last().expect("the modal opens").clone();
    assert_eq!(on, trigger, "on the click's own trigger");
    view
}

fn option(v: &str) -> Value {
    json!({"text": {"type": "plain_text", "text": v}, "value": v})
}

async fn submit(bot: &Bot, user: &str, days: &[&str], hours: &str) -> InteractionReply {
    interact(
        bot,
        json!({
            "type": "view_submission",
            "team": {"id": "TSIMULATED", "domain": "sim"},
            "user": {"id": user, "username": user.to_lowercase(), "team_id": "TSIMULATED"},
            "api_app_id": "A0FAKE", "token": "ignored",
            "trigger_id": format!("{}.trigger", bot.new_ts()),
            "view": {
                "id": "VMODAL", "team_id": "TSIMULATED", "type": "modal", "callback_id": "sla_hours",
                "private_metadata": "", "hash": "1700000000.abc",
                "title": {"type": "plain_text", "text": "My working time"}, "blocks": [],
                "state": {"values": {
                    "days": {"value": {"type": "checkboxes",
                        "selected_options": days.iter().map(|d| option(d)).collect::<Vec<_>>()}},
                    "hours": {"value": {"type": "plain_text_input", "value": hours}},
                    "region": {"value": {"type": "plain_text_input", "value": null}},
                    "team": {"value": {"type": "checkboxes", "selected_options": []}}
                }}
            }
        }),
    )
    .await
}

/// Bob (New York) sets a Monday-to-Thursday week, 07:00–15:00, from his Home tab: the tab shows
/// it, and Alice's request on Thursday 10:00 is nudged on Monday 10:00 (his Friday and weekend
/// do not count), as with `/sla hours mon-thu 07:00-15:00`.
#[tokio::test(start_paused = true)]
async fn the_home_tab_sets_a_four_day_week_that_the_deadlines_follow() {
    let bot = Bot::start(at("2026-11-19 09:00", NY), "").await;
    let home = open_home(&bot, "UBOB").await;
    let section = my_working_time(&home);
    assert!(
        section.contains("Your working time (the team's): Mon, Tue, Wed, Thu, Fri, 09:00–18:00"),
        "{section}"
    );
    assert!(section.contains("No absences coming up"), "{section}");

    let modal = press_change(&bot, "UBOB").await;
    assert_eq!(modal["callback_id"], "sla_hours");
    let intro = modal["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        intro.contains("(America/New_York)"),
        "his zone, learnt on the click: {intro}"
    );
    let checked: Vec<&str> = modal["blocks"][1]["element"]["initial_options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        checked,
        ["mon", "tue", "wed", "thu", "fri"],
        "the team's days"
    );
    assert_eq!(
        modal["blocks"][2]["element"]["initial_value"],
        "09:00-18:00"
    );

    let reply = submit(&bot, "UBOB", &["mon", "tue", "wed", "thu"], "07:00-15:00").await;
    assert_eq!(reply, InteractionReply::Ack, "the modal closes");
    let (to, home) = bot.slack.published_homes().last().unwrap().clone();
    assert_eq!(to, "UBOB", "his Home tab is redrawn");
    let section = my_working_time(&home);
    assert!(
        section.contains(
            "Your working time (your own): Mon, Tue, Wed, Thu, 07:00–15:00 (America/New_York)"
        ),
        "{section}"
    );
    // Opened again, the modal shows what he set.
    let modal = press_change(&bot, "UBOB").await;
    assert_eq!(
        modal["blocks"][1]["element"]["initial_options"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        modal["blocks"][2]["element"]["initial_value"],
        "07:00-15:00"
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
}

/// Overlapping periods and no day ticked: the modal stays open with each reason on its field;
/// nothing is stored and the Home tab is not redrawn.
#[tokio::test(start_paused = true)]
async fn a_form_filled_wrong_shows_why_and_changes_nothing() {
    let bot = Bot::start(at("2026-11-19 09:00", NY), "").await;
    let homes = bot.slack.published_homes().len();
    let reply = submit(&bot, "UBOB", &[], "09:00-13:00 12:00-18:00").await;
    let InteractionReply::ViewErrors(errors) = reply else {
        panic!("errors expected: {reply:?}");
    };
    assert_eq!(errors["days"], "Pick at least one working day.");
    assert!(
        errors["hours"].starts_with("Those hours don't work"),
        "{errors:?}"
    );
    assert_eq!(bot.store.read(|rx| rx.working_time("UBOB")).unwrap(), None);
    assert_eq!(bot.slack.published_homes().len(), homes);
    let section = my_working_time(&open_home(&bot, "UBOB").await);
    assert!(section.contains("(the team's)"), "{section}");
}
