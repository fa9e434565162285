//! The weekly updates' state, one row per channel, with its timer kept in step.

use super::tables::WEEKLY;
use super::{Reads, Result, Tx, get_json, to_json};
use crate::domain::weekly::WeeklyState;

/// The timer of `channel`'s weekly update.
pub fn weekly_timer(channel: &str) -> String {
    format!("weekly:{channel}")
}

/// Reads of the weekly updates, inside a read or a write transaction.
pub trait WeeklyReads: Reads {
    fn weekly_state(&self, channel: &str) -> Result<Option<WeeklyState>> {
        get_json(&self.table(WEEKLY)?, "weekly", channel)
    }
}

impl<T: Reads + ?Sized> WeeklyReads for T {}

impl Tx<'_> {
    /// Writes `channel`'s state and moves its timer to `state.next_due`.
    pub fn put_weekly_state(&mut self, channel: &str, state: &WeeklyState) -> Result<()> {
        let old = self.weekly_state(channel)?.and_then(|s| s.next_due);
        self.move_timer(&weekly_timer(channel), old, state.next_due)?;
        self.txn
            .open_table(WEEKLY)?
            .insert(channel, to_json(state).as_slice())?;
        Ok(())
    }

    /// Forgets `channel`'s weekly update (no longer configured), with its timer.
    pub fn drop_weekly(&mut self, channel: &str) -> Result<()> {
        let old = self.weekly_state(channel)?.and_then(|s| s.next_due);
        self.move_timer(&weekly_timer(channel), old, None)?;
        self.txn.open_table(WEEKLY)?.remove(channel)?;
        Ok(())
    }
}
