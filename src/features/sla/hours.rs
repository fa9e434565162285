//! `/sla hours`, `/sla away` and `/sla back`: each person sets their own working time (days,
//! hours, holiday region) and their absences; every clock that concerns them follows it.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::config::Settings;
use crate::domain::working_time::{
    BACK_REPLY, HoursCommand, WorkingTime, away_reply, describe, parse_hours,
};
use crate::features::standup::command::{self as standup_command, StandupCommand};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};

pub const HOURS_USAGE: &str = "*`/sla hours`* shows your working time. *`/sla hours mon-thu 07:00-15:00`* sets your days and hours (a split day: `/sla hours 09:00-12:00 14:00-18:00`), *`/sla hours region DE-BY`* your public holidays, *`/sla hours reset`* goes back to the team's. Nudges, deadlines and reminders follow it, in your Slack time zone.\n\
*`/sla away today`* (or `tomorrow`, `2026-12-24`, `2026-12-24..2027-01-02`) pauses your deadlines and nudges while you're away; *`/sla back`* undoes it.";

/// A person's zone: from Slack's profile, or the fallback until it is known.
fn zone_of(rx: &impl Reads, user: &str, settings: &Settings) -> Result<Tz, StoreError> {
    Ok(rx.user_tz(user)?.unwrap_or(settings.fallback_timezone))
}

/// `user`'s working time in words, as they see it: "Your working time: …".
pub fn show(store: &Store, settings: &Settings, user: &str) -> Result<String, StoreError> {
    let (own, tz, calendar) = store.read(|rx| {
        let tz = zone_of(rx, user, settings)?;
        let own = rx.working_time(user)?;
        let calendar = own.as_ref().map_or_else(
            || settings.calendar.clone(),
            |o| o.apply(&settings.calendar),
        );
        Ok((own, tz, calendar))
    })?;
    let region = calendar.region().map(|r| r.code().to_owned());
    let region = region.as_deref();
    let whose = if own.is_some() {
        "your own"
    } else {
        "the team's"
    };
    Ok(format!(
        "Your working time ({whose}): {}. Deadlines, nudges and reminders follow it.",
        describe(&calendar, tz, region)
    ))
}

/// `/sla hours …`.
pub fn hours(
    store: &Store,
    settings: &Settings,
    user: &str,
    args: &str,
) -> Result<String, StoreError> {
    let command = match parse_hours(args) {
        Ok(c) => c,
        Err(e) => return Ok(format!("{e}\n{HOURS_USAGE}")),
    };
    match command {
        HoursCommand::Show => {}
        HoursCommand::Reset => {
            store.write(|tx| tx.put_working_time(user, &WorkingTime::default()))?;
        }
        HoursCommand::Set(change) => {
            store.write(|tx| {
                let merged = tx.working_time(user)?.unwrap_or_default().merged(&change);
                tx.put_working_time(user, &merged)
            })?;
        }
    }
    show(store, settings, user)
}

/// `/sla away …` (the same as `/standup away …`).
pub fn away(
    store: &Store,
    settings: &Settings,
    user: &str,
    args: &str,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let tz = store.read(|rx| zone_of(rx, user, settings))?;
    let today = now.with_timezone(&tz).date_naive();
    match standup_command::parse(&format!("away {args}"), today) {
        Ok(StandupCommand::Away { from, to }) => {
            store.write(|tx| tx.add_away(user, crate::domain::standup::Away { from, to }))?;
            Ok(away_reply(from, to))
        }
        Ok(_) => Ok(HOURS_USAGE.to_owned()),
        Err(e) => Ok(format!(
            "{}\n{HOURS_USAGE}",
            e.to_string().replace("/standup", "/sla")
        )),
    }
}

/// `/sla back`.
pub fn back(
    store: &Store,
    settings: &Settings,
    user: &str,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    store.write(|tx| {
        let tz = zone_of(tx, user, settings)?;
        tx.come_back(user, now.with_timezone(&tz).date_naive())
    })?;
    Ok(BACK_REPLY.to_owned())
}
