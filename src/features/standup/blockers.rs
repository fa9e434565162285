//! Standup blockers as requests: a blocker that names someone (`Blockers: waiting on @bob for
//! the keys`) is a request to them, opened by SLA tracking on the normal tier in the standup's
//! thread (see `features::sla::tracking`). Here: its author marks it cleared (the summary's
//! *My blocker is cleared* button, `/standup cleared`), which closes those requests and updates
//! the summary; and the blockers still open, for the weekly update and the metrics.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::format::mention;
use crate::domain::sla::CancelReason;
use crate::domain::standup::DayBlocker;
use crate::engine::Engine;
use crate::engine::reply::UserError;
use crate::slack::interaction::BlockAction;
use crate::store::prelude::*;
use crate::store::{StoreError, Tx};

/// How far back `/standup cleared` and the open blockers look: what the store keeps of
/// standup days.
const LOOK_BACK_DAYS: u64 = 30;

/// The summary's button: the value is the day's `channel:date`.
pub async fn block_action(
    engine: &Arc<Engine>,
    action: &BlockAction,
) -> Option<Result<String, UserError>> {
    let (channel, date) = action.value.as_deref()?.rsplit_once(':')?;
    let date: NaiveDate = date.parse().ok()?;
    let (user, channel) = (action.user.clone(), channel.to_owned());
    let now = (engine.now)();
    let result = engine
        .store
        .call(move |store| store.write(|tx| clear(tx, &channel, date, &user, now)))
        .await;
    engine.wakers.delivery.notify_one();
    Some(result.map_err(UserError::from))
}

/// `user` clears their blocker of `channel`'s standup on `date`: the requests it opened are
/// closed (not counted as answered: the people named did not answer), and the summary shows
/// it cleared. Anyone without an open blocker that day is told so, and nothing changes.
pub fn clear(
    tx: &mut Tx<'_>,
    channel: &str,
    date: NaiveDate,
    user: &str,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let (Some(schedule), Some(mut day)) = (
        tx.standup_schedule(channel)?,
        tx.standup_day(channel, date)?,
    ) else {
        return Ok("That standup is no longer kept. Nothing was changed.".to_owned());
    };
    if day.cleared.contains_key(user) {
        return Ok("Your blocker in this standup is already marked cleared.".to_owned());
    }
    if !day.clear_blocker(user, now) {
        return Ok("You have no open blocker in this standup. Nothing was changed.".to_owned());
    }
    let mut closed = Vec::new();
    if let Some((_, root)) = tx.tagged(&schedule.tag(date))? {
        for mut r in tx.requests_in_thread(channel, &root)? {
            if r.is_open() && r.author == user {
                r.cancel(CancelReason::BlockerCleared, now);
                tx.put_request(&r)?;
                closed.push(mention(&r.recipient));
            }
        }
    }
    if day.summarized {
        for message in day.summary_update(&schedule) {
            tx.enqueue(message, now)?;
        }
    }
    tx.put_standup_day(&day)?;
    tracing::info!(%channel, %date, closed = closed.len(), "a standup blocker was cleared");
    Ok(if closed.is_empty() {
        "Your blocker is marked cleared.".to_owned()
    } else {
        format!(
            "Your blocker is marked cleared, and I stopped waiting on {} for it.",
            closed.join(", ")
        )
    })
}

/// The latest day of `channel`'s standup (in the last 30) where `user` has a blocker not yet
/// cleared.
pub fn latest_blocker_day<R: Reads + ?Sized>(
    rx: &R,
    channel: &str,
    user: &str,
    now: DateTime<Utc>,
) -> Result<Option<NaiveDate>, StoreError> {
    Ok(recent_blockers(rx, Some(channel), now)?
        .into_iter()
        .filter(|b| b.author == user && b.cleared_at.is_none())
        .map(|b| b.date)
        .max())
}

/// Every blocker of the standups of the last 30 days (of `channel`, or every channel), oldest
/// first.
pub fn recent_blockers<R: Reads + ?Sized>(
    rx: &R,
    channel: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<DayBlocker>, StoreError> {
    let today = now.date_naive();
    let from = today - chrono::Days::new(LOOK_BACK_DAYS);
    let to = today + chrono::Days::new(2);
    let mut out = Vec::new();
    for day in rx.standup_days_between(from, to)? {
        if channel.is_none_or(|c| c == day.channel) {
            out.extend(day.blockers());
        }
    }
    out.sort_by_key(|b| b.opened_at);
    Ok(out)
}

/// Blockers not cleared that name nobody: listed in the weekly update until cleared.
pub fn open_unnamed_blockers<R: Reads + ?Sized>(
    rx: &R,
    channel: &str,
    now: DateTime<Utc>,
) -> Result<Vec<DayBlocker>, StoreError> {
    Ok(recent_blockers(rx, Some(channel), now)?
        .into_iter()
        .filter(|b| b.cleared_at.is_none() && b.named.is_empty())
        .collect())
}
