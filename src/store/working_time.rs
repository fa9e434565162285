//! People's own working time (`/sla hours`, the Home tab), and each person's calendar built from
//! it, their absences and the team's calendar: what every clock that concerns them is read on.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::prelude::*;
use super::tables::WORKING_TIME;
use super::{Reads, Result, Tx, get_json, to_json};
use crate::domain::calendar::BusinessCalendar;
use crate::domain::presence::Presence;
use crate::domain::working_time::{WorkingTime, personal_calendar};

/// Reads of people's working time, inside a read or a write transaction.
pub trait WorkingTimeReads: Reads {
    /// What `user` set for themselves; `None` when they follow the team's calendar.
    fn working_time(&self, user: &str) -> Result<Option<WorkingTime>> {
        get_json(&self.table(WORKING_TIME)?, "working_time", user)
    }

    /// `user`'s calendar: the team's (`team`) with their own days and hours, blocked while they
    /// are away (`/sla away`) or out of office (their Slack status). Read in their zone `tz`.
    fn calendar_of(&self, user: &str, team: &BusinessCalendar, tz: Tz) -> Result<BusinessCalendar> {
        let own = self.working_time(user)?;
        let away = self.away(user)?;
        let out = self.presence(user)?.and_then(|p| out_of_office(&p));
        Ok(personal_calendar(team, own.as_ref(), &away, tz, out))
    }
}

impl<T: Reads + ?Sized> WorkingTimeReads for T {}

/// How long an out-of-office status with no expiry blocks someone's time, from when it was last
/// seen: the presence refresh sees it again well before then (`respect.presence_refresh`), so
/// it keeps blocking while it lasts, and a status forgotten by Slack cannot block for ever.
pub const OPEN_ENDED_OUT: chrono::Duration = chrono::Duration::days(1);

/// The time an out-of-office status blocks: up to its expiry, or [`OPEN_ENDED_OUT`] past when it
/// was last seen for one with no expiry.
fn out_of_office(p: &Presence) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let until = p.ooo_until?;
    let end = if until == DateTime::<Utc>::MAX_UTC {
        p.learned_at + OPEN_ENDED_OUT
    } else {
        until
    };
    Some((DateTime::<Utc>::MIN_UTC, end))
}

impl Tx<'_> {
    /// Stores what `user` set; the default (nothing set) removes their row.
    pub fn put_working_time(&mut self, user: &str, own: &WorkingTime) -> Result<()> {
        let mut table = self.txn.open_table(WORKING_TIME)?;
        if own.is_default() {
            table.remove(user)?;
        } else {
            table.insert(user, to_json(own).as_slice())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::standup::Away;
    use crate::domain::working_time::{HoursCommand, parse_hours};
    use crate::store::Store;
    use chrono::{NaiveDate, TimeZone};

    #[test]
    fn a_persons_calendar_has_their_hours_and_absences() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_scratch(&dir.path().join("asyncbot.redb")).unwrap();
        let team = BusinessCalendar::office_hours();
        let tz = chrono_tz::Europe::Berlin;
        let HoursCommand::Set(own) = parse_hours("mon-thu 07:00-15:00").unwrap() else {
            panic!()
        };
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        store
            .write(|tx| {
                tx.put_working_time("UANA", &own)?;
                tx.put_away("UANA", &[Away { from: day, to: day }])
            })
            .unwrap();
        let local = |d: u32, h: u32| tz.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().to_utc();
        let (ana, ben) = store
            .read(|rx| {
                Ok((
                    rx.calendar_of("UANA", &team, tz)?,
                    rx.calendar_of("UBEN", &team, tz)?,
                ))
            })
            .unwrap();
        assert!(ana.is_working_time(local(23, 7), tz));
        assert!(!ben.is_working_time(local(23, 7), tz));
        assert!(!ana.is_working_time(local(24, 10), tz), "away");
        assert!(ben.is_working_time(local(24, 10), tz));
        // Back to the team's calendar: the row goes.
        store
            .write(|tx| tx.put_working_time("UANA", &WorkingTime::default()))
            .unwrap();
        assert_eq!(store.read(|rx| rx.working_time("UANA")).unwrap(), None);
    }
}
