//! Standups in motion: seeding schedules from the config, the channel timer (prompt, possibly
//! late but never twice; reminder; deferred reminders; summary), answers in the day's thread, and
//! the `/standup` command. Slack lookups (members, people) happen before each transaction.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::standup::{Away, Schedule, StandupDay, is_away, plan_reminders};
use crate::domain::working_time::WorkingTime;
use crate::engine::reply::UserError;
use crate::engine::{Engine, Person};
use crate::features::standup::command::{self as standup_command, StandupCommand};
use crate::store::prelude::*;
use crate::store::{StoreError, Tx};

/// A participant: a human member of the channel who is not away.
struct Participant {
    user: String,
    tz: chrono_tz::Tz,
    name: String,
}

#[derive(Default)]
struct Roster {
    present: Vec<Participant>,
    /// Names of members who are away.
    away: Vec<String>,
}

/// A message in a standup's thread is that person's answer; after the summary it updates it.
pub fn record_answer(
    tx: &mut Tx<'_>,
    team_holidays: &BTreeSet<NaiveDate>,
    channel: &str,
    root: &str,
    user: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(tag) = tx.tag_of(channel, root)? else {
        return Ok(());
    };
    let Some(date) = tag
        .strip_prefix(&format!("standup:{channel}:"))
        .and_then(|d| d.parse::<NaiveDate>().ok())
    else {
        return Ok(());
    };
    let (Some(schedule), Some(mut day)) = (
        tx.standup_schedule(channel)?,
        tx.standup_day(channel, date)?,
    ) else {
        return Ok(());
    };
    if !day.names.contains_key(user) {
        let name = tx.user_name(user)?.unwrap_or_else(|| user.to_owned());
        day.names.insert(user.to_owned(), name);
    }
    let update = day.record_answer(user, text, now);
    tracing::info!(%channel, %date, %user, late = update, "standup answer");
    if update {
        for message in day.summary_update(&schedule) {
            tx.enqueue(message, now)?;
        }
    }
    tx.put_standup_day(&day)?;
    // An answer may cancel a deferred reminder: the channel's timer follows the day.
    let mut schedule = schedule;
    save_schedule(tx, &mut schedule, now, team_holidays)
}

/// Slack refused a standup prompt for good: the day's thread never exists, so its reminder and
/// summary went with it. Whoever set the schedule is told by DM; a channel that is gone or
/// archived has its standup turned off (it would fail every day).
pub fn prompt_dropped(
    tx: &mut Tx<'_>,
    tag: &str,
    reason: &str,
    now: DateTime<Utc>,
    team_holidays: &BTreeSet<NaiveDate>,
) -> Result<(), StoreError> {
    // `standup:{channel}:{date}`; the summary's tag has a third part and is not a prompt.
    let Some((channel, date)) = tag
        .strip_prefix("standup:")
        .and_then(|rest| rest.split_once(':'))
        .filter(|(_, date)| date.parse::<NaiveDate>().is_ok())
    else {
        return Ok(());
    };
    let Some(mut schedule) = tx.standup_schedule(channel)? else {
        return Ok(());
    };
    let gone = matches!(reason, "is_archived" | "channel_not_found");
    let why = match reason {
        "not_in_channel" => format!(
            "I'm not in <#{channel}>: invite me with `/invite @asyncbot` and tomorrow's standup will be posted."
        ),
        "is_archived" => format!("<#{channel}> is archived, so I turned its standup off."),
        "channel_not_found" => {
            format!("I can't find <#{channel}> any more, so I turned its standup off.")
        }
        other => format!("Slack answered `{other}`."),
    };
    tracing::warn!(%channel, %date, reason, "the standup prompt could not be posted");
    if gone {
        schedule.active = false;
        save_schedule(tx, &mut schedule, now, team_holidays)?;
    }
    if let Some(owner) = &schedule.set_by {
        tx.enqueue(
            crate::domain::outbox::OutgoingMessage::new(
                crate::domain::outbox::Destination::DirectMessage {
                    user: owner.clone(),
                },
                format!("I could not post the standup for {date} in <#{channel}>. {why}"),
            ),
            now,
        )?;
    }
    Ok(())
}

/// Writes a schedule with its timer set to when the channel needs attention next.
fn save_schedule(
    tx: &mut Tx<'_>,
    schedule: &mut Schedule,
    now: DateTime<Utc>,
    team_holidays: &BTreeSet<NaiveDate>,
) -> Result<(), StoreError> {
    let day = match schedule.open_day {
        Some(d) => tx.standup_day(&schedule.channel, d)?,
        None => None,
    };
    schedule.next_due = next_due(
        schedule,
        day.as_ref().filter(|d| !d.summarized),
        now,
        team_holidays,
    );
    tx.put_standup_schedule(schedule)
}

/// When the channel needs attention next: the open day's next step or the next prompt.
fn next_due(
    schedule: &Schedule,
    day: Option<&StandupDay>,
    now: DateTime<Utc>,
    team_holidays: &BTreeSet<NaiveDate>,
) -> Option<DateTime<Utc>> {
    let prompt = schedule.next_prompt(now, team_holidays).map(|(_, at)| at);
    let day = day.and_then(StandupDay::next_due);
    match (prompt, day) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Engine {
    pub(crate) fn team_holidays(&self) -> BTreeSet<NaiveDate> {
        self.settings.calendar.holidays().copied().collect()
    }

    /// Writes the config's `[[standups]]` into the store (a schedule changed in Slack is kept),
    /// and makes sure every active schedule has its timer.
    pub fn seed_standups(&self) -> Result<(), StoreError> {
        let now = (self.now)();
        let team = self.team_holidays();
        self.store.write(|tx| {
            for configured in &self.settings.standups {
                let stored = tx.standup_schedule(&configured.channel)?;
                if stored.as_ref().is_some_and(|s| !s.from_config) {
                    continue;
                }
                let mut schedule = configured.clone();
                match stored {
                    Some(old) => {
                        // Keep what happened in Slack: skips, the open day, the start.
                        schedule.skips = old.skips;
                        schedule.open_day = old.open_day;
                        schedule.effective_from = old.effective_from;
                    }
                    None => schedule.effective_from = Some(now),
                }
                let day = match schedule.open_day {
                    Some(d) => tx.standup_day(&schedule.channel, d)?,
                    None => None,
                };
                // Look at it now: a prompt missed while the bot was down goes out late.
                schedule.next_due =
                    next_due(&schedule, day.as_ref(), now, &team).map(|at| at.min(now));
                tx.put_standup_schedule(&schedule)?;
            }
            Ok(())
        })
    }

    /// The channel's human members at `at`: those taking part, and the names of those away (an
    /// absence is in the person's own dates: "away today" means their today). Lookups run
    /// concurrently within a budget; someone Slack cannot describe in time is taken on their
    /// cached or the fallback zone (and looked up later).
    async fn roster(&self, channel: &str, at: DateTime<Utc>) -> Roster {
        let mut roster = Roster::default();
        let members = match self.slack.channel_members(channel).await {
            Ok(m) => m,
            Err(e) => {
                // The members the standup saw last time stand in: a reminder or a summary is
                // not silently emptied by one failed call.
                return match self.cached_roster(channel, at) {
                    Ok(cached) => {
                        tracing::warn!(%channel, error = %e, "conversations.members failed; using the members seen last time");
                        cached
                    }
                    Err(_) => {
                        tracing::warn!(%channel, error = %e, "conversations.members failed and no members are known yet; nobody is reminded");
                        roster
                    }
                };
            }
        };
        let members: Vec<String> = members
            .into_iter()
            .filter(|u| *u != self.identity.user_id)
            .collect();
        // Remembered for `/standup status`, which answers from the store alone.
        let key = format!("members:{channel}");
        let list = serde_json::to_string(&members).unwrap_or_default();
        if let Err(e) = self.store.set_fact(&key, &list) {
            tracing::warn!(error = %e, "could not remember a channel's members");
        }
        let people = self
            .quick_people(members, std::time::Duration::from_secs(5))
            .await;
        let ids: Vec<String> = people.iter().map(|(u, _)| u.clone()).collect();
        let absences: Vec<(Vec<Away>, Option<WorkingTime>)> = self
            .store
            .call(move |s| {
                s.read(|rx| {
                    ids.iter()
                        .map(|u| Ok((rx.away(u)?, rx.working_time(u)?)))
                        .collect()
                })
            })
            .await
            .unwrap_or_default();
        let mut guessed = Vec::new();
        for (i, (user, person)) in people.into_iter().enumerate() {
            let (tz, name) = match person {
                Person::Human { tz, name } => (tz, name),
                Person::Guessed { tz } => {
                    guessed.push(user.clone());
                    (tz, None)
                }
                Person::NotTracked => continue,
            };
            let name = name.unwrap_or_else(|| user.clone());
            let (away, own) = absences.get(i).cloned().unwrap_or_default();
            if self.is_off(&away, own.as_ref(), at.with_timezone(&tz).date_naive()) {
                roster.away.push(name);
            } else {
                roster.present.push(Participant { name, user, tz });
            }
        }
        if !guessed.is_empty() {
            let now = (self.now)();
            let written = self.store.write(|tx| {
                for user in &guessed {
                    tx.want_lookup(user, now)?;
                }
                Ok(())
            });
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not note the lookups owed");
            }
            self.wakers.people.notify_one();
        }
        roster
    }

    /// Whether someone is off on their local `date`: away, or not one of the working days they
    /// set for themselves (`/sla hours`). They are not reminded or listed as missing that day.
    /// (The channel's own days and holidays decide whether there is a standup at all.)
    fn is_off(&self, away: &[Away], own: Option<&WorkingTime>, date: NaiveDate) -> bool {
        is_away(away, date)
            || own
                .and_then(|o| o.days.as_ref())
                .is_some_and(|days| !days.contains(&chrono::Datelike::weekday(&date)))
    }

    /// The roster from the store: the members the standup last saw, with cached zones and
    /// names. `Err` if this channel's members have never been fetched.
    fn cached_roster(&self, channel: &str, at: DateTime<Utc>) -> Result<Roster, StoreError> {
        let members: Vec<String> = self
            .store
            .fact(&format!("members:{channel}"))?
            .and_then(|list| serde_json::from_str(&list).ok())
            .ok_or_else(|| StoreError::Task("members not known yet".into()))?;
        let mut roster = Roster::default();
        for user in members {
            let (tz, name) = match self.cached_person(&user) {
                Person::Human { tz, name } => (tz, name),
                Person::Guessed { tz } => (tz, None),
                Person::NotTracked => continue,
            };
            let (away, own) = self
                .store
                .read(|rx| Ok((rx.away(&user)?, rx.working_time(&user)?)))?;
            let name = name.unwrap_or_else(|| user.clone());
            if self.is_off(&away, own.as_ref(), at.with_timezone(&tz).date_naive()) {
                roster.away.push(name);
            } else {
                roster.present.push(Participant { name, user, tz });
            }
        }
        Ok(roster)
    }

    /// Does what the channel's standup needs at `now`. Returns whether messages were queued.
    ///
    /// The members list comes from Slack first; then one transaction re-reads the schedule and
    /// the day and decides on them, so an answer recorded or a `/standup off` given while Slack
    /// was answering is kept, never overwritten by a stale copy.
    pub async fn fire_standup(
        &self,
        channel: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let team = self.team_holidays();
        let key = channel.to_owned();
        let peek = self
            .store
            .call(move |s| {
                s.read(|rx| {
                    let Some(schedule) = rx.standup_schedule(&key)? else {
                        return Ok(None);
                    };
                    let day = match schedule.open_day {
                        Some(d) => rx.standup_day(&key, d)?,
                        None => None,
                    };
                    Ok(Some((schedule, day)))
                })
            })
            .await?;
        let Some((schedule, day)) = peek else {
            self.store
                .write(|tx| tx.drop_timers_named(&format!("standup:{channel}")))?;
            return Ok(false);
        };
        let roster_day = day.filter(|d| !d.summarized).filter(|d| {
            (!d.reminded && d.remind_at <= now)
                || d.deferred.iter().any(|(_, at)| *at <= now)
                || d.summary_at <= now
        });
        let people = match &roster_day {
            Some(d) => Some(
                self.roster(channel, schedule.prompt_time(d.date))
                    .await
                    .present,
            ),
            None => None,
        };

        self.store.write(|tx| {
            let Some(mut schedule) = tx.standup_schedule(channel)? else {
                tx.drop_timers_named(&format!("standup:{channel}"))?;
                return Ok(false);
            };
            let mut day = match schedule.open_day {
                Some(d) => tx.standup_day(channel, d)?,
                None => None,
            }
            .filter(|d| !d.summarized);
            let mut out = Vec::new();

            // The roster is for the day it was fetched for; if another day is open now, wait
            // for the next firing.
            let people = people.filter(|_| {
                day.as_ref().map(|d| d.date) == roster_day.as_ref().map(|d| d.date)
            });
            if let (Some(d), Some(people)) = (day.as_mut(), people.as_ref()) {
                let remind_now = !d.reminded && d.remind_at <= now;
                let deferred_due: Vec<String> = d
                    .deferred
                    .iter()
                    .filter(|(_, at)| *at <= now)
                    .map(|(u, _)| u.clone())
                    .collect();
                let summarize = d.summary_at <= now;
                let waiting: Vec<(String, chrono_tz::Tz)> = people
                    .iter()
                    .filter(|p| !d.answers.contains_key(&p.user))
                    .map(|p| (p.user.clone(), p.tz))
                    .collect();
                // Reminders follow each person's own calendar (hours, holidays, absences).
                let calendars = waiting
                    .iter()
                    .map(|(user, tz)| {
                        Ok((
                            user.clone(),
                            *tz,
                            tx.calendar_of(user, &self.settings.calendar, *tz)?,
                        ))
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let mut remind: Vec<String> = Vec::new();
                if remind_now {
                    d.reminded = true;
                    let (now_group, later) =
                        plan_reminders(&calendars, now, d.summary_at);
                    remind.extend(now_group);
                    d.deferred.extend(later);
                }
                d.deferred.retain(|(_, at)| *at > now);
                remind.extend(
                    deferred_due
                        .into_iter()
                        .filter(|u| waiting.iter().any(|(w, _)| w == u)),
                );
                if summarize {
                    d.expected = people.iter().map(|p| p.user.clone()).collect();
                    let mut names: BTreeMap<String, String> = people
                        .iter()
                        .map(|p| (p.user.clone(), p.name.clone()))
                        .collect();
                    for (user, name) in std::mem::take(&mut d.names) {
                        names.entry(user).or_insert(name);
                    }
                    d.names = names;
                    d.summarized = true;
                    d.deferred.clear();
                    out.extend(d.summary(&schedule));
                    tracing::info!(%channel, date = %d.date, "standup summary");
                } else {
                    // A reminder is a nicety: someone whose day already had its share of
                    // messages from the bot (`respect.max_nudges_per_day`) is not reminded.
                    let budget = self.settings.respect.max_nudges_per_day;
                    let mut within = Vec::new();
                    for user in remind {
                        let Some((_, tz)) = waiting.iter().find(|(w, _)| *w == user) else {
                            continue;
                        };
                        let today = now.with_timezone(tz).date_naive();
                        if budget > 0 && tx.nudges_on(&user, today)? >= budget {
                            tracing::info!(%user, "the standup reminder is skipped: their nudges for today are spent");
                            continue;
                        }
                        tx.count_nudge(&user, today)?;
                        within.push(user);
                    }
                    out.extend(d.reminder(&schedule, &within));
                }
            }

            // The day's prompt, on time or late (within the summary's offset), never twice.
            if let Some((date, at)) = schedule.latest_prompt(now, &team)
                && tx.standup_day(channel, date)?.is_none()
                && now < at + schedule.summary_after()
            {
                if now > at + chrono::Duration::seconds(60) {
                    tracing::info!(%channel, %date, "posting a standup prompt late (the bot was down at its time)");
                }
                if let Some(open) = day.take() {
                    // The previous day's thread closes unsummarised only if its summary time
                    // has not come; keep it as it is.
                    tx.put_standup_day(&open)?;
                }
                out.push(schedule.prompt(date));
                schedule.open_day = Some(date);
                day = Some(StandupDay::new(&schedule, date, now));
            }

            schedule.next_due = next_due(
                &schedule,
                day.as_ref().filter(|d| !d.summarized),
                now,
                &team,
            );
            let any = !out.is_empty();
            for m in out {
                tx.enqueue(m, now)?;
            }
            if let Some(d) = &day {
                tx.put_standup_day(d)?;
            }
            tx.put_standup_schedule(&schedule)?;
            Ok(any)
        })
    }

    /// `/standup …`: answers in a sentence; never fails loudly.
    pub async fn standup_command(&self, user: &str, channel: &str, text: &str) -> String {
        // Answered within Slack's 3 seconds without waiting for Slack: the zone comes from the
        // lookup cache (the fallback zone until the person has been looked up once).
        let user_tz = match self.zone_now(user) {
            Ok((tz, guessed)) => {
                if guessed {
                    let now = (self.now)();
                    let _ = self.store.write(|tx| tx.want_lookup(user, now));
                    self.wakers.people.notify_one();
                }
                tz
            }
            Err(_) => self.settings.fallback_timezone,
        };
        let now = (self.now)();
        let today = now.with_timezone(&user_tz).date_naive();
        let command = match standup_command::parse(text, today) {
            Ok(c) => c,
            Err(e) => {
                return UserError::BadInput {
                    problem: e.to_string(),
                    usage: standup_command::USAGE,
                }
                .text();
            }
        };
        let in_dm = channel.starts_with('D');
        let channel_only =
            "Standups belong to a channel: run this in the channel whose standup it is.";
        let result = match command {
            StandupCommand::Help => Ok(standup_command::USAGE.to_owned()),
            StandupCommand::At { .. }
            | StandupCommand::Off
            | StandupCommand::Skip { .. }
            | StandupCommand::Status
            | StandupCommand::Cleared
                if in_dm =>
            {
                Ok(channel_only.to_owned())
            }
            StandupCommand::At {
                time,
                timezone,
                days,
            } => self.set_schedule(user, channel, time, timezone.unwrap_or(user_tz), days, now),
            StandupCommand::Off => self.turn_off(channel, now),
            StandupCommand::Skip { date } => self.skip(channel, date, now),
            StandupCommand::Away { from, to } => self.set_away(user, from, to),
            StandupCommand::Back => self.come_back(user, today),
            StandupCommand::Status => self.standup_status(channel, now).await,
            StandupCommand::Cleared => {
                let cleared = self.store.write(|tx| {
                    let Some(date) = super::blockers::latest_blocker_day(tx, channel, user, now)?
                    else {
                        return Ok("You have no open blocker in this channel's recent standups. Nothing was changed.".to_owned());
                    };
                    super::blockers::clear(tx, channel, date, user, now)
                });
                self.wake_workers();
                cleared
            }
        };
        result.unwrap_or_else(|e| UserError::from(e).text())
    }

    fn set_schedule(
        &self,
        user: &str,
        channel: &str,
        time: chrono::NaiveTime,
        timezone: chrono_tz::Tz,
        days: Option<Vec<chrono::Weekday>>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let team = self.team_holidays();
        let schedule = self.store.write(|tx| {
            let old = tx.standup_schedule(channel)?;
            let mut schedule = self.settings.standup.schedule(channel, time, timezone);
            if let Some(old) = &old {
                schedule.days = old.days.clone();
                schedule.holidays = old.holidays.clone();
                schedule.skips = old.skips.clone();
                schedule.remind_after_secs = old.remind_after_secs;
                schedule.summary_after_secs = old.summary_after_secs;
                schedule.remind = old.remind;
                schedule.open_day = old.open_day;
            }
            if let Some(days) = days {
                schedule.days = days;
            }
            schedule.effective_from = Some(now);
            schedule.set_by = Some(user.to_owned());
            save_schedule(tx, &mut schedule, now, &team)?;
            Ok(schedule)
        })?;
        self.wake_workers();
        let next = schedule
            .next_prompt(now, &team)
            .map(|(_, at)| {
                format!(
                    " The next one is {}.",
                    crate::domain::format::slack_date(at)
                )
            })
            .unwrap_or_default();
        Ok(format!("{}{next}", schedule.describe()))
    }

    fn turn_off(&self, channel: &str, now: DateTime<Utc>) -> Result<String, StoreError> {
        let team = self.team_holidays();
        self.store.write(|tx| {
            let Some(mut schedule) = tx.standup_schedule(channel)? else {
                return Ok("There is no standup in this channel to turn off.".to_owned());
            };
            schedule.active = false;
            // A day already under way still gets its summary.
            save_schedule(tx, &mut schedule, now, &team)?;
            Ok(
                "The standup in this channel is off. `/standup at 09:30` starts it again."
                    .to_owned(),
            )
        })
    }

    fn skip(
        &self,
        channel: &str,
        date: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let team = self.team_holidays();
        self.store.write(|tx| {
            let Some(mut schedule) = tx.standup_schedule(channel)? else {
                return Ok(
                    "There is no standup in this channel. `/standup at 09:30` sets one.".to_owned(),
                );
            };
            let date = date.unwrap_or_else(|| schedule.local_date(now));
            if tx.standup_day(channel, date)?.is_some() {
                return Ok(format!(
                    "The standup for {} is already posted; there is nothing to skip.",
                    date.format("%a %-d %b")
                ));
            }
            schedule.skips.insert(date);
            save_schedule(tx, &mut schedule, now, &team)?;
            Ok(format!(
                "No standup in this channel on {}.",
                date.format("%a %-d %b")
            ))
        })
    }

    fn set_away(&self, user: &str, from: NaiveDate, to: NaiveDate) -> Result<String, StoreError> {
        self.store
            .write(|tx| tx.add_away(user, Away { from, to }))?;
        Ok(crate::domain::working_time::away_reply(from, to))
    }

    fn come_back(&self, user: &str, today: NaiveDate) -> Result<String, StoreError> {
        self.store.write(|tx| tx.come_back(user, today))?;
        Ok(crate::domain::working_time::BACK_REPLY.to_owned())
    }

    async fn standup_status(
        &self,
        channel: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let key = channel.to_owned();
        let (schedule, today_day) = self
            .store
            .call(move |s| {
                s.read(|rx| {
                    let schedule = rx.standup_schedule(&key)?;
                    let day = match &schedule {
                        Some(sc) => rx.standup_day(&key, sc.local_date(now))?,
                        None => None,
                    };
                    Ok((schedule, day))
                })
            })
            .await?;
        let Some(schedule) = schedule else {
            return Ok("There is no standup in this channel. `/standup at 09:30 Europe/Berlin mon-fri` sets one.".to_owned());
        };
        let team = self.team_holidays();
        let mut text = schedule.describe();
        if let Some((_, at)) = schedule.next_prompt(now, &team) {
            text.push_str(&format!(
                " Next: {}.",
                crate::domain::format::slack_date(at)
            ));
        }
        // Answered from the store alone (Slack is not asked before the ack): the members the
        // standup last saw, and what the lookup cache knows of them.
        let roster = self.cached_roster(channel, now);
        let name_of = |user: &String| match &roster {
            Ok(r) => r
                .present
                .iter()
                .find(|p| &p.user == user)
                .map_or_else(|| user.clone(), |p| p.name.clone()),
            Err(_) => user.clone(),
        };
        match today_day {
            Some(day) => {
                let answered: Vec<String> = day
                    .answers
                    .keys()
                    .map(|u| day.names.get(u).cloned().unwrap_or_else(|| name_of(u)))
                    .collect();
                text.push_str(&format!(
                    "\n*Today:* {} answer(s){}.",
                    answered.len(),
                    if answered.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", answered.join(", "))
                    }
                ));
            }
            None => text.push_str("\n*Today:* no standup posted (yet)."),
        }
        match &roster {
            Ok(r) if r.away.is_empty() => text.push_str("\n*Away today:* nobody."),
            Ok(r) => text.push_str(&format!("\n*Away today:* {}.", r.away.join(", "))),
            Err(_) => text.push_str(
                "\n_Who is away shows here once the standup has run once in this channel._",
            ),
        }
        Ok(text)
    }
}
