//! The weekly update (`[[weekly]]`): each configured channel gets one top-level post a week in
//! the seed's template (see `domain::weekly`), its owner a draft by DM an hour before with *Post
//! now* and *Skip this week*, and `/weekly preview` shows it at any time. Nothing goes out on a
//! day off on the team's calendar; the next update then covers everything since the last one.
//! The week is gathered from the store: standup answers, request outcomes, open requests,
//! decided RFCs and blockers.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures::future::BoxFuture;

use crate::domain::format::{excerpt, permalink};
use crate::domain::metrics::{percent, short_duration, trend};
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::sla::Tier;
use crate::domain::standup::{completed, planned};
use crate::domain::weekly::{
    Item, Metric, WeeklyInput, WeeklySchedule, WeeklyState, compose, without_mentions,
};
use crate::engine::reply::{Reply, UserError};
use crate::engine::{Engine, Feature};
use crate::features::insights::{Scope, gather};
use crate::slack::inbound::Command;
use crate::slack::interaction::BlockAction;
use crate::store::prelude::*;
use crate::store::{StoreError, TimerKey, Tx};

/// Buttons on the draft: `weekly_post_now`, `weekly_skip`; the value is `channel:date`.
pub const ACTION_PREFIX: &str = "weekly_";
const POST_NOW: &str = "weekly_post_now";
const SKIP: &str = "weekly_skip";

pub const USAGE: &str = "*`/weekly preview`* shows this channel's weekly update as it would be posted now (only you see it).\n\
*`/weekly`* (or `/weekly status`) says when it is posted and who gets the draft.\n\
*`/weekly help`* shows this help.\n\
The weekly update is set up in the bot's configuration (`[[weekly]]`: channel, `at = \"fri 15:00\"`, time zone, owner): its owner gets a draft by DM an hour before, with *Post now* and *Skip this week*.";

/// The feature.
pub struct Weekly;

/// Makes sure each configured channel's update has its timer (at start).
pub fn seed(engine: &Engine) -> Result<(), StoreError> {
    let now = (engine.now)();
    engine.store.write(|tx| {
        for schedule in &engine.settings.weekly {
            let mut state = tx.weekly_state(&schedule.channel)?.unwrap_or_default();
            if state.next_due.is_none() || state.planned_for != schedule.key() {
                state.plan(schedule, now);
                tx.put_weekly_state(&schedule.channel, &state)?;
            }
        }
        Ok(())
    })
}

fn schedule_of<'a>(engine: &'a Engine, channel: &str) -> Option<&'a WeeklySchedule> {
    engine.settings.weekly.iter().find(|s| s.channel == channel)
}

/// The week's timer: the draft, or the post. Returns whether messages were queued.
fn fire_in(
    engine: &Engine,
    tx: &mut Tx<'_>,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(schedule) = schedule_of(engine, channel) else {
        tx.drop_weekly(channel)?;
        return Ok(false);
    };
    let mut state = tx.weekly_state(channel)?.unwrap_or_default();
    let (Some(week), Some(post_at)) = (state.week, state.post_at) else {
        state.plan(schedule, now);
        tx.put_weekly_state(channel, &state)?;
        return Ok(false);
    };
    let mut queued = false;
    if !engine.settings.calendar.is_working_day(week) {
        tracing::info!(%channel, %week, "no weekly update: a day off on the team's calendar");
        state.skipped = true;
    } else if state.posted || state.skipped {
        // Done already (a button); only the plan moves on.
    } else if now < post_at {
        if let Some(owner) = &schedule.owner
            && !state.draft_sent
        {
            let text = update_text(engine, tx, schedule, &state, now)?;
            tx.enqueue(draft(owner, channel, week, &text), now)?;
            state.draft_sent = true;
            queued = true;
        }
    } else if now <= post_at + crate::domain::weekly::LATE_POST_GRACE {
        post(engine, tx, schedule, &mut state, now)?;
        queued = true;
    }
    state.plan(schedule, now);
    tx.put_weekly_state(channel, &state)?;
    Ok(queued)
}

/// Posts the update in the channel now and records it.
fn post(
    engine: &Engine,
    tx: &mut Tx<'_>,
    schedule: &WeeklySchedule,
    state: &mut WeeklyState,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let text = update_text(engine, tx, schedule, state, now)?;
    let week = state.week.unwrap_or(now.date_naive());
    tx.enqueue(
        OutgoingMessage::new(
            Destination::Channel {
                channel: schedule.channel.clone(),
            },
            text,
        )
        .tagged(format!("weekly:{}:{week}", schedule.channel)),
        now,
    )?;
    tracing::info!(channel = %schedule.channel, %week, "weekly update posted");
    state.posted = true;
    state.last_posted = Some(now);
    Ok(())
}

/// The draft to the owner, with the two buttons.
fn draft(owner: &str, channel: &str, week: NaiveDate, text: &str) -> OutgoingMessage {
    let intro = format!(
        "Here is the weekly update for <#{channel}>, posted there in an hour. *Post now* sends it at once; *Skip this week* sends nothing this week (the next one will cover it)."
    );
    let value = format!("{channel}:{week}");
    let mut blocks: Vec<serde_json::Value> = vec![serde_json::json!({
        "type": "section", "text": {"type": "mrkdwn", "text": intro}
    })];
    for chunk in crate::domain::format::split_text(text, 2_900) {
        blocks.push(
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk}}),
        );
    }
    blocks.push(serde_json::json!({"type": "actions", "elements": [
        {"type": "button", "action_id": POST_NOW, "style": "primary",
         "text": {"type": "plain_text", "text": "Post now"}, "value": value},
        {"type": "button", "action_id": SKIP,
         "text": {"type": "plain_text", "text": "Skip this week"}, "value": value},
    ]}));
    OutgoingMessage::new(
        Destination::DirectMessage {
            user: owner.to_owned(),
        },
        format!("{intro}\n\n{text}"),
    )
    .with_blocks(serde_json::Value::Array(blocks))
    .tagged(format!("weekly:{channel}:{week}:draft"))
}

/// The update as it would go out now: the period since the last post (a week the first
/// time, two at most).
fn update_text<R: Reads + ?Sized>(
    engine: &Engine,
    rx: &R,
    schedule: &WeeklySchedule,
    state: &WeeklyState,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let from = state
        .last_posted
        .unwrap_or(now - Duration::weeks(1))
        .max(now - Duration::weeks(2));
    Ok(compose(&week_input(
        engine,
        rx,
        &schedule.channel,
        from,
        now,
    )?))
}

/// Everything the update says of `channel` in [`from`, `to`).
pub fn week_input<R: Reads + ?Sized>(
    engine: &Engine,
    rx: &R,
    channel: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<WeeklyInput, StoreError> {
    let team_url = engine.identity.team_url.as_str();
    let name = |day_names: &BTreeMap<String, String>, user: &str| -> Result<String, StoreError> {
        Ok(match day_names.get(user) {
            Some(n) => n.clone(),
            None => rx.user_name(user)?.unwrap_or_else(|| user.to_owned()),
        })
    };
    let mut wins = Vec::new();
    let mut plans: BTreeMap<String, Item> = BTreeMap::new();
    let days =
        rx.standup_days_between(from.date_naive(), to.date_naive() + chrono::Days::new(1))?;
    for day in days.iter().filter(|d| d.channel == channel) {
        let thread = rx
            .tagged(&format!("standup:{channel}:{}", day.date))?
            .map(|(c, ts)| permalink(team_url, &c, &ts, None));
        for (user, answer) in &day.answers {
            if answer.at < from || answer.at >= to {
                continue;
            }
            let done = completed(&answer.text);
            if !done.is_empty() {
                wins.push(Item {
                    who: Some(name(&day.names, user)?),
                    text: done.join("; "),
                    link: thread.clone(),
                });
            }
            let next = planned(&answer.text);
            if !next.is_empty() {
                plans.insert(
                    user.clone(),
                    Item {
                        who: Some(name(&day.names, user)?),
                        text: next.join("; "),
                        link: thread.clone(),
                    },
                );
            }
        }
    }
    let mut questions: Vec<Item> = rx
        .overdue_requests(Some(channel), to)?
        .into_iter()
        .map(|r| {
            let thread = (r.thread_root != r.message_ts).then_some(r.thread_root.as_str());
            Item {
                who: None,
                text: format!(
                    "{} (waiting since {})",
                    without_mentions(&excerpt(&r.excerpt, 160)),
                    r.opened_at.format("%a %-d %b")
                ),
                link: Some(permalink(team_url, &r.channel, &r.message_ts, thread)),
            }
        })
        .collect();
    for b in crate::features::standup::blockers::open_unnamed_blockers(rx, channel, to)? {
        let link = rx
            .tagged(&format!("standup:{channel}:{}", b.date))?
            .map(|(c, ts)| permalink(team_url, &c, &ts, None));
        questions.push(Item {
            who: None,
            text: format!("Blocker since {}: {}", b.date.format("%a %-d %b"), b.text),
            link,
        });
    }
    let mut decisions = Vec::new();
    let mut rfcs = rx.rfcs_in_channel(channel)?;
    rfcs.sort_by_key(|r| r.decided_at);
    for rfc in rfcs {
        let Some(decided) = rfc.decided_at else {
            continue;
        };
        if decided < from || decided >= to {
            continue;
        }
        let link = rx
            .tagged(&crate::domain::rfc::message_tag(rfc.id))?
            .map(|(c, ts)| permalink(team_url, &c, &ts, None));
        let rationale = rfc
            .rationale
            .as_deref()
            .map(|r| format!(": {}", excerpt(r, 140)))
            .unwrap_or_default();
        decisions.push(Item {
            who: None,
            text: format!(
                "*{} {}* — {}{rationale}",
                rfc.name(),
                rfc.title,
                rfc.status.label()
            ),
            link,
        });
    }
    Ok(WeeklyInput {
        channel: channel.to_owned(),
        from,
        to,
        wins,
        metrics: metrics(engine, rx, channel, from, to)?,
        priorities: plans.into_values().collect(),
        questions,
        decisions,
    })
}

/// The key figures of [`from`, `to`) against the period of the same length before it.
fn metrics<R: Reads + ?Sized>(
    engine: &Engine,
    rx: &R,
    channel: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Option<Vec<Metric>>, StoreError> {
    let before = from - (to - from);
    let gathered = gather(
        rx,
        &engine.settings,
        &Scope::Channel(channel.to_owned()),
        before,
        to,
    )?;
    if gathered.too_few(engine.settings.respect.metrics_min_group) {
        return Ok(None);
    }
    let (now, last) = (gathered.figures(from, to), gathered.figures(before, from));
    let mut out = Vec::new();
    let rate = |label: &str, n: Option<f64>, b: Option<f64>| Metric {
        label: label.to_owned(),
        now: percent(n),
        before: percent(b),
        arrow: trend(n, b, 1.0),
    };
    if now.met_rate().is_some() || last.met_rate().is_some() {
        out.push(rate(
            "Requests answered within the SLA",
            now.met_rate(),
            last.met_rate(),
        ));
    }
    let median = |f: &crate::domain::metrics::Figures| f.tier(Tier::Normal).median;
    if median(&now).is_some() || median(&last).is_some() {
        let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
        out.push(Metric {
            label: "Median response (normal tier, on each recipient's clock)".into(),
            now: median(&now).map_or("–".into(), short_duration),
            before: median(&last).map_or("–".into(), short_duration),
            arrow: trend(secs(median(&now)), secs(median(&last)), 60.0),
        });
    }
    if now.early_rate().is_some() || last.early_rate().is_some() {
        out.push(rate(
            "Answered by the second step",
            now.early_rate(),
            last.early_rate(),
        ));
    }
    if now.standup_expected + last.standup_expected > 0 {
        out.push(rate(
            "Standup answers",
            now.standup_rate(),
            last.standup_rate(),
        ));
    }
    if now.rfcs_decided + last.rfcs_decided > 0 {
        out.push(Metric {
            label: "RFCs decided".into(),
            now: now.rfcs_decided.to_string(),
            before: last.rfcs_decided.to_string(),
            arrow: trend(
                Some(now.rfcs_decided as f64),
                Some(last.rfcs_decided as f64),
                0.0,
            ),
        });
    }
    if now.blockers_opened + now.blockers_cleared + last.blockers_opened + last.blockers_cleared > 0
    {
        out.push(Metric {
            label: "Blockers opened / cleared".into(),
            now: format!("{} / {}", now.blockers_opened, now.blockers_cleared),
            before: format!("{} / {}", last.blockers_opened, last.blockers_cleared),
            arrow: "",
        });
    }
    Ok(Some(out))
}

/// `/weekly …` in `channel`.
fn command_text(engine: &Engine, command: &Command) -> Result<String, StoreError> {
    let text = command.text.trim().to_lowercase();
    let channel = command.channel_id.as_str();
    let now = (engine.now)();
    match text.as_str() {
        "help" | "?" => Ok(USAGE.to_owned()),
        "" | "status" => Ok(match schedule_of(engine, channel) {
            Some(s) => {
                let next = engine
                    .store
                    .read(|rx| rx.weekly_state(channel))?
                    .and_then(|st| st.post_at)
                    .map(|at| format!(" The next one: {}.", crate::domain::format::slack_date(at)))
                    .unwrap_or_default();
                format!("{}{next}", s.describe())
            }
            None => format!(
                "This channel has no weekly update. `/weekly preview` shows what one would say; the bot's configuration sets one up (`[[weekly]]`).\n{USAGE}"
            ),
        }),
        "preview" => {
            if channel.starts_with('D') {
                return Ok(
                    "Weekly updates belong to a channel: run `/weekly preview` in it.".to_owned(),
                );
            }
            engine.store.read(|rx| {
                let state = rx.weekly_state(channel)?.unwrap_or_default();
                let from = state
                    .last_posted
                    .unwrap_or(now - Duration::weeks(1))
                    .max(now - Duration::weeks(2));
                let text = compose(&week_input(engine, rx, channel, from, now)?);
                Ok(format!("_Preview: only you see this._\n\n{text}"))
            })
        }
        _ => Ok(format!(
            "I don't understand `/weekly {}`.\n{USAGE}",
            crate::domain::format::escape(command.text.trim())
        )),
    }
}

/// *Post now* / *Skip this week* on the draft.
async fn block_action(
    engine: &Arc<Engine>,
    action: &BlockAction,
) -> Option<Result<String, UserError>> {
    let (channel, week) = action.value.as_deref()?.rsplit_once(':')?;
    let week: NaiveDate = week.parse().ok()?;
    let now = (engine.now)();
    let post_now = action.action_id == POST_NOW;
    let (shared, user, channel) = (engine.clone(), action.user.clone(), channel.to_owned());
    // Off the async runtime, like every other write a button makes.
    let result = engine
        .store
        .call(move |store| {
            store.write(|tx| press(&shared, tx, &channel, week, &user, post_now, now))
        })
        .await;
    engine.wakers.timers.notify_one();
    engine.wakers.delivery.notify_one();
    Some(result.map_err(UserError::from))
}

/// A press of *Post now* (`post_now`) or *Skip this week* on the draft of `channel`'s `week`.
fn press(
    engine: &Engine,
    tx: &mut Tx<'_>,
    channel: &str,
    week: NaiveDate,
    user: &str,
    post_now: bool,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let Some(schedule) = schedule_of(engine, channel) else {
        return Ok("That channel has no weekly update any more. Nothing was changed.".to_owned());
    };
    if schedule.owner.as_deref() != Some(user) {
        return Ok("Only the update's owner can post or skip it. Nothing was changed.".to_owned());
    }
    let mut state = tx.weekly_state(channel)?.unwrap_or_default();
    if state.week != Some(week) {
        return Ok("That week's update is over. Nothing was changed.".to_owned());
    }
    if state.posted {
        return Ok("This week's update is already posted.".to_owned());
    }
    if state.skipped {
        return Ok("This week's update was skipped: nothing is posted this week.".to_owned());
    }
    let answer = if post_now {
        post(engine, tx, schedule, &mut state, now)?;
        format!("Posted in <#{channel}>.")
    } else {
        state.skipped = true;
        "Skipped: nothing is posted this week; the next update covers it.".to_owned()
    };
    state.plan(schedule, now);
    tx.put_weekly_state(channel, &state)?;
    Ok(answer)
}

impl Feature for Weekly {
    fn fire<'a>(
        &'a self,
        engine: &'a Engine,
        key: &'a TimerKey,
        now: DateTime<Utc>,
    ) -> Option<BoxFuture<'a, Result<bool, StoreError>>> {
        let TimerKey::Other(name) = key else {
            return None;
        };
        let channel = name.strip_prefix("weekly:")?.to_owned();
        Some(Box::pin(async move {
            engine.store.write(|tx| fire_in(engine, tx, &channel, now))
        }))
    }

    fn fire_in(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        key: &TimerKey,
        now: DateTime<Utc>,
    ) -> Option<Result<bool, StoreError>> {
        let TimerKey::Other(name) = key else {
            return None;
        };
        let channel = name.strip_prefix("weekly:")?;
        Some(fire_in(engine, tx, channel, now))
    }

    fn commands(&self) -> &'static [&'static str] {
        &["/weekly"]
    }

    fn actions(&self) -> &'static [&'static str] {
        &[ACTION_PREFIX]
    }

    fn on_command<'a>(
        &'a self,
        engine: &'a Arc<Engine>,
        command: &'a Command,
    ) -> BoxFuture<'a, Result<Reply, UserError>> {
        Box::pin(async move { Ok(Reply::new(command_text(engine, command)?)) })
    }

    fn on_block_action<'a>(
        &'a self,
        engine: &'a Arc<Engine>,
        action: &'a BlockAction,
    ) -> BoxFuture<'a, Option<Result<String, UserError>>> {
        Box::pin(block_action(engine, action))
    }
}
