//! The nudge budget: how many messages the bot sent (or queued) that ask something of each
//! person on each of their local days, and the digest of what was held back for them once the
//! day's budget was spent (sent at the start of their next working period, on its timer).

use chrono::{DateTime, NaiveDate, Utc};
use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::tables::{DIGESTS, NUDGES_BY_DAY};
use super::{Reads, Result, Tx, get_json, to_json};
use crate::domain::outbox::OutgoingMessage;

/// What waits in someone's digest, and when it goes out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// Requests whose step was held back, oldest first.
    pub requests: Vec<u64>,
    pub due: Option<DateTime<Utc>>,
}

/// The timer key of `user`'s digest.
pub fn digest_timer(user: &str) -> String {
    format!("digest:{user}")
}

/// Reads of the nudge budget, inside a read or a write transaction.
pub trait BudgetReads: Reads {
    /// Messages that asked something of `user` on their local `day`.
    fn nudges_on(&self, user: &str, day: NaiveDate) -> Result<u32> {
        Ok(self
            .table(NUDGES_BY_DAY)?
            .get((day.to_string().as_str(), user))?
            .map_or(0, |v| v.value()))
    }

    fn digest(&self, user: &str) -> Result<Option<Digest>> {
        get_json(&self.table(DIGESTS)?, "digests", user)
    }
}

impl<T: Reads + ?Sized> BudgetReads for T {}

impl Tx<'_> {
    /// Counts one message asking something of `user` on their local `day`.
    pub fn count_nudge(&mut self, user: &str, day: NaiveDate) -> Result<()> {
        let count = self.nudges_on(user, day)?;
        self.txn
            .open_table(NUDGES_BY_DAY)?
            .insert((day.to_string().as_str(), user), count.saturating_add(1))?;
        Ok(())
    }

    /// Counts `message` for everyone it asks something of (its `quiet_for`), each on their own
    /// local date of `at`.
    pub fn count_pings(&mut self, message: &OutgoingMessage, at: DateTime<Utc>) -> Result<()> {
        for q in &message.quiet_for {
            self.count_nudge(&q.user, at.with_timezone(&q.tz).date_naive())?;
        }
        Ok(())
    }

    /// Adds request `id` to `user`'s digest, due at `due` (an earlier due time already set
    /// stands), and keeps its timer.
    pub fn add_to_digest(&mut self, user: &str, id: u64, due: DateTime<Utc>) -> Result<()> {
        let mut digest = self.digest(user)?.unwrap_or_default();
        if !digest.requests.contains(&id) {
            digest.requests.push(id);
        }
        let old = digest.due;
        let new = old.map_or(due, |o| o.min(due));
        digest.due = Some(new);
        self.move_timer(&digest_timer(user), old, Some(new))?;
        self.txn
            .open_table(DIGESTS)?
            .insert(user, to_json(&digest).as_slice())?;
        Ok(())
    }

    /// Takes `user`'s digest out (with its timer): it is being sent.
    pub fn take_digest(&mut self, user: &str) -> Result<Digest> {
        let digest = self.digest(user)?.unwrap_or_default();
        self.move_timer(&digest_timer(user), digest.due, None)?;
        self.txn.open_table(DIGESTS)?.remove(user)?;
        Ok(digest)
    }

    /// Forgets the counts of days before `cutoff`, at most `limit` rows. Returns how many.
    pub(super) fn prune_nudge_counts(&mut self, cutoff: NaiveDate, limit: usize) -> Result<usize> {
        Ok(self.take_dated(NUDGES_BY_DAY, cutoff, limit)?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use chrono::TimeZone;

    #[test]
    fn counts_per_person_per_day_and_digests_keep_their_timer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_scratch(&dir.path().join("asyncbot.redb")).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let due = Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap();
        store
            .write(|tx| {
                tx.count_nudge("UBOB", day)?;
                tx.count_nudge("UBOB", day)?;
                tx.count_nudge("UANA", day)?;
                tx.add_to_digest("UBOB", 7, due)?;
                tx.add_to_digest("UBOB", 9, due + chrono::Duration::hours(1))?;
                tx.add_to_digest("UBOB", 7, due)
            })
            .unwrap();
        let (bob, ana, next) = store
            .read(|rx| {
                Ok((
                    rx.nudges_on("UBOB", day)?,
                    rx.nudges_on("UANA", day.succ_opt().unwrap())?,
                    rx.digest("UBOB")?,
                ))
            })
            .unwrap();
        assert_eq!((bob, ana), (2, 0));
        assert_eq!(
            next,
            Some(Digest {
                requests: vec![7, 9],
                due: Some(due)
            })
        );
        assert_eq!(store.due_timers(due).unwrap().len(), 1);
        let taken = store.write(|tx| tx.take_digest("UBOB")).unwrap();
        assert_eq!(taken.requests, vec![7, 9]);
        assert!(store.due_timers(due).unwrap().is_empty());
        assert_eq!(store.read(|rx| rx.digest("UBOB")).unwrap(), None);
        // Old days are forgotten, the others kept.
        let removed = store
            .write(|tx| tx.prune_nudge_counts(day.succ_opt().unwrap(), 10))
            .unwrap();
        assert_eq!(removed, 2);
        assert_eq!(store.read(|rx| rx.nudges_on("UBOB", day)).unwrap(), 0);
    }
}
