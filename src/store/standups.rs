//! Standups: each channel's schedule, each day's prompt and answers, and who is away when.

use super::tables::{AWAY, AWAY_BY_END, STANDUP_DAYS, STANDUP_DAYS_BY_DATE, STANDUP_SCHEDULES};
use redb::ReadableTable;

use super::{Reads, Result, Tx, get_json, to_json};
use crate::domain::standup::{Away, Schedule, StandupDay};

pub(super) fn day_key(channel: &str, date: chrono::NaiveDate) -> String {
    format!("{channel}:{date}")
}

/// Reads of standups and absences, inside a read or a write transaction.
pub trait StandupReads: Reads {
    fn standup_schedule(&self, channel: &str) -> Result<Option<Schedule>> {
        get_json(
            &self.table(STANDUP_SCHEDULES)?,
            "standup_schedules",
            channel,
        )
    }

    fn standup_day(&self, channel: &str, date: chrono::NaiveDate) -> Result<Option<StandupDay>> {
        get_json(
            &self.table(STANDUP_DAYS)?,
            "standup_days",
            &day_key(channel, date),
        )
    }

    /// Every channel's standup days dated in [`from`, `to`), by date then channel: through the
    /// date index, so a week costs what a week holds.
    fn standup_days_between(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<StandupDay>> {
        let mut out = Vec::new();
        if to <= from {
            return Ok(out);
        }
        let index = self.table(STANDUP_DAYS_BY_DATE)?;
        let days = self.table(STANDUP_DAYS)?;
        let (from, to) = (from.to_string(), to.to_string());
        for entry in index.range((from.as_str(), "")..(to.as_str(), ""))? {
            let (k, _) = entry?;
            let (date, channel) = k.value();
            let Ok(date) = date.parse::<chrono::NaiveDate>() else {
                continue;
            };
            if let Some(day) = get_json(&days, "standup_days", &day_key(channel, date))? {
                out.push(day);
            }
        }
        Ok(out)
    }

    fn away(&self, user: &str) -> Result<Vec<Away>> {
        Ok(get_json(&self.table(AWAY)?, "away", user)?.unwrap_or_default())
    }
}

impl<T: Reads + ?Sized> StandupReads for T {}

impl Tx<'_> {
    /// Writes a schedule and keeps its timer at `next_due`.
    pub fn put_standup_schedule(&mut self, schedule: &Schedule) -> Result<()> {
        let old = self.standup_schedule(&schedule.channel)?;
        self.move_timer(
            &format!("standup:{}", schedule.channel),
            old.as_ref().and_then(|o| o.next_due),
            schedule.next_due,
        )?;
        self.txn
            .open_table(STANDUP_SCHEDULES)?
            .insert(schedule.channel.as_str(), to_json(schedule).as_slice())?;
        Ok(())
    }

    pub fn put_standup_day(&mut self, day: &StandupDay) -> Result<()> {
        self.txn.open_table(STANDUP_DAYS)?.insert(
            day_key(&day.channel, day.date).as_str(),
            to_json(day).as_slice(),
        )?;
        // Its row in the date index the pruner walks (`retention`).
        self.txn
            .open_table(STANDUP_DAYS_BY_DATE)?
            .insert((day.date.to_string().as_str(), day.channel.as_str()), ())?;
        Ok(())
    }

    /// Adds one absence (`/sla away`, `/standup away`).
    pub fn add_away(&mut self, user: &str, away: Away) -> Result<()> {
        let mut ranges = self.away(user)?;
        ranges.push(away);
        self.put_away(user, &ranges)
    }

    /// Ends someone's absences from their `today` on (`/sla back`): the past stays as it was.
    pub fn come_back(&mut self, user: &str, today: chrono::NaiveDate) -> Result<()> {
        let ranges: Vec<Away> = self
            .away(user)?
            .into_iter()
            .filter_map(|r| {
                if r.to < today {
                    Some(r)
                } else if r.from < today {
                    Some(Away {
                        from: r.from,
                        to: today.pred_opt()?,
                    })
                } else {
                    None
                }
            })
            .collect();
        self.put_away(user, &ranges)
    }

    /// Writes someone's absences, and keeps the index of their last days (which the pruner
    /// walks, `retention`) in step.
    pub fn put_away(&mut self, user: &str, ranges: &[Away]) -> Result<()> {
        let old = self.away(user)?;
        {
            let mut by_end = self.txn.open_table(AWAY_BY_END)?;
            for range in &old {
                by_end.remove((range.to.to_string().as_str(), user))?;
            }
            for range in ranges {
                by_end.insert((range.to.to_string().as_str(), user), ())?;
            }
        }
        let mut table = self.txn.open_table(AWAY)?;
        if ranges.is_empty() {
            table.remove(user)?;
        } else {
            table.insert(user, to_json(&ranges).as_slice())?;
        }
        Ok(())
    }
}
