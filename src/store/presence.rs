//! Presence: what Slack said about each person being out, focused or in Do Not Disturb (see
//! [`crate::domain::presence`]), and when the bot last asked, so that a refresh asks only about
//! the people whose answer is old.

use chrono::{DateTime, Utc};
use redb::ReadableMultimapTable;
use serde::{Deserialize, Serialize};

use super::tables::{OPEN_BY_RECIPIENT, PRESENCE};
use super::{Reads, Result, Store, Tx, get_json, to_json};
use crate::domain::presence::{Dnd, Presence};

/// A person's row: their presence, and when the bot last asked Slack about it (a refresh that
/// failed counts: the next one waits its turn, and the last known presence stands).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PresenceRecord {
    #[serde(flatten)]
    presence: Presence,
    #[serde(default = "never")]
    checked_at: DateTime<Utc>,
}

fn never() -> DateTime<Utc> {
    DateTime::<Utc>::MIN_UTC
}

fn record(reads: &(impl Reads + ?Sized), user: &str) -> Result<Option<PresenceRecord>> {
    get_json(&reads.table(PRESENCE)?, "presence", user)
}

/// Reads of presence, inside a read or a write transaction.
pub trait PresenceReads: Reads {
    /// What the bot knows of `user`'s presence; `None` if it learnt nothing yet.
    fn presence(&self, user: &str) -> Result<Option<Presence>> {
        Ok(record(self, user)?.map(|r| r.presence))
    }
}

impl<T: Reads + ?Sized> PresenceReads for T {}

impl Store {
    /// Up to `limit` people with open requests whose presence was not asked of Slack since
    /// `stale_before` (or ever), least recently asked first.
    pub fn presence_due(&self, stale_before: DateTime<Utc>, limit: usize) -> Result<Vec<String>> {
        self.read(|rx| {
            let recipients = rx.txn.open_multimap_table(OPEN_BY_RECIPIENT)?;
            let table = rx.txn.open_table(PRESENCE)?;
            let mut due: Vec<(DateTime<Utc>, String)> = Vec::new();
            for entry in recipients.iter()? {
                let (user, _) = entry?;
                let user = user.value();
                let checked = match get_json::<PresenceRecord>(&table, "presence", user)? {
                    Some(r) => r.checked_at,
                    None => never(),
                };
                if checked < stale_before {
                    due.push((checked, user.to_owned()));
                }
            }
            due.sort();
            Ok(due.into_iter().take(limit).map(|(_, u)| u).collect())
        })
    }
}

impl Tx<'_> {
    /// What `user`'s status says (from [`crate::domain::presence::classify_status`]), learnt at
    /// `now`; their Do Not Disturb stays as it was. Nothing is written for someone the bot knows
    /// nothing of whose status says nothing: only people who were out or focused take a row.
    pub fn learn_status(
        &mut self,
        user: &str,
        ooo_until: Option<DateTime<Utc>>,
        focus_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let old = record(&*self, user)?;
        if old.is_none() && ooo_until.is_none() && focus_until.is_none() {
            return Ok(());
        }
        self.put(user, old, |p| {
            p.ooo_until = ooo_until;
            p.focus_until = focus_until;
            p.learned_at = now;
        })
    }

    /// `user`'s Do Not Disturb, learnt at `now`; their status stays as it was.
    pub fn learn_dnd(&mut self, user: &str, dnd: Dnd, now: DateTime<Utc>) -> Result<()> {
        let old = record(&*self, user)?;
        self.put(user, old, |p| {
            p.dnd = Some(dnd);
            p.learned_at = now;
        })
    }

    /// The bot asked Slack about `user`'s presence at `now` (whatever the answer).
    pub fn presence_checked(&mut self, user: &str, now: DateTime<Utc>) -> Result<()> {
        let old = record(&*self, user)?;
        let mut row = old.unwrap_or_else(|| PresenceRecord {
            presence: Presence::empty(now),
            checked_at: never(),
        });
        row.checked_at = now;
        self.txn
            .open_table(PRESENCE)?
            .insert(user, to_json(&row).as_slice())?;
        Ok(())
    }

    fn put(
        &mut self,
        user: &str,
        old: Option<PresenceRecord>,
        change: impl FnOnce(&mut Presence),
    ) -> Result<()> {
        let mut row = old.unwrap_or_else(|| PresenceRecord {
            presence: Presence::empty(DateTime::<Utc>::MIN_UTC),
            checked_at: never(),
        });
        change(&mut row.presence);
        self.txn
            .open_table(PRESENCE)?
            .insert(user, to_json(&row).as_slice())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap()
    }

    #[test]
    fn status_and_dnd_are_learnt_apart_and_kept_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let later = now() + chrono::Duration::hours(1);
        let dnd = Dnd::from_slack(true, later.timestamp(), later.timestamp() + 60, false, 0);
        store
            .write(|tx| {
                // Someone the bot knows nothing of, with a status that says nothing: no row.
                tx.learn_status("UNONE", None, None, now())?;
                tx.learn_status("U1", Some(later), None, now())?;
                tx.learn_dnd("U1", dnd, later)
            })
            .unwrap();
        let p = store.read(|rx| rx.presence("U1")).unwrap().unwrap();
        assert_eq!(p.ooo_until, Some(later));
        assert_eq!(p.dnd, Some(dnd));
        assert_eq!(p.learned_at, later);
        assert_eq!(store.read(|rx| rx.presence("UNONE")).unwrap(), None);
        // A cleared status clears what it said; the DND stays.
        store
            .write(|tx| tx.learn_status("U1", None, None, later))
            .unwrap();
        let p = store.read(|rx| rx.presence("U1")).unwrap().unwrap();
        assert_eq!((p.ooo_until, p.dnd), (None, Some(dnd)));
    }
}
