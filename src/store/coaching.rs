//! Coaching tips: when each author last got one (`respect.coach_nohello`), so that nobody gets
//! more than one a week.

use chrono::{DateTime, Utc};
use redb::ReadableTable;

use super::tables::{NOHELLO_TIPS, NOHELLO_TIPS_BY_TIME};
use super::{Reads, Result, Tx, from_ms, ms};

/// Reads of the coaching tips, inside a read or a write transaction.
pub trait CoachingReads: Reads {
    /// When `user` last got a coaching tip, if it is still on record (a week at most).
    fn last_nohello_tip(&self, user: &str) -> Result<Option<DateTime<Utc>>> {
        let table = self.table(NOHELLO_TIPS)?;
        let at = table.get(user)?.map(|v| v.value());
        Ok(at.map(from_ms))
    }
}

impl<T: Reads + ?Sized> CoachingReads for T {}

impl Tx<'_> {
    /// Records that `user` got a coaching tip at `now`, replacing the earlier one and its index
    /// entry (the pruner finds rows through the index, one entry per row).
    pub fn record_nohello_tip(&mut self, user: &str, now: DateTime<Utc>) -> Result<()> {
        let mut tips = self.txn.open_table(NOHELLO_TIPS)?;
        let mut index = self.txn.open_table(NOHELLO_TIPS_BY_TIME)?;
        let earlier = tips.insert(user, ms(now))?.map(|v| v.value());
        if let Some(at) = earlier {
            index.remove((at, user))?;
        }
        index.insert((ms(now), user), ())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use chrono::TimeZone;

    #[test]
    fn a_later_tip_replaces_the_earlier_one_and_its_index_entry() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb")).unwrap();
        let monday = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let later = monday + chrono::Duration::days(8);
        assert_eq!(s.read(|rx| rx.last_nohello_tip("UANA")).unwrap(), None);
        s.write(|tx| tx.record_nohello_tip("UANA", monday)).unwrap();
        assert_eq!(
            s.read(|rx| rx.last_nohello_tip("UANA")).unwrap(),
            Some(monday)
        );
        s.write(|tx| tx.record_nohello_tip("UANA", later)).unwrap();
        assert_eq!(
            s.read(|rx| rx.last_nohello_tip("UANA")).unwrap(),
            Some(later)
        );
        let entries = s
            .read(|rx| {
                let index = rx.table(NOHELLO_TIPS_BY_TIME)?;
                let mut all = Vec::new();
                for entry in index.iter()? {
                    let (k, _) = entry?;
                    let (at, user) = k.value();
                    all.push((at, user.to_owned()));
                }
                Ok(all)
            })
            .unwrap();
        assert_eq!(entries, vec![(ms(later), "UANA".to_owned())]);
    }
}
