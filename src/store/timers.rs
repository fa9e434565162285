//! Timers: (due time, key) pairs ordered by due time, so the next one is found without a scan.
//! Each entity with a pending timer (a request's next step, an RFC's, a standup channel's)
//! records its own due time; its `put_*` keeps the timer entry in step through [`Tx::move_timer`].

use chrono::{DateTime, Utc};
use redb::ReadableTable;

use super::tables::TIMERS;
use super::{Result, Store, Tx, from_ms, ms};

pub(super) fn sla_timer_key(id: u64) -> String {
    format!("sla:{id}")
}

/// A timer that fired: what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerKey {
    Sla(u64),
    Rfc(u64),
    Standup(String),
    Other(String),
}

impl TimerKey {
    /// The key as stored.
    pub fn name(&self) -> String {
        match self {
            TimerKey::Sla(id) => sla_timer_key(*id),
            TimerKey::Rfc(id) => format!("rfc:{id}"),
            TimerKey::Standup(channel) => format!("standup:{channel}"),
            TimerKey::Other(key) => key.clone(),
        }
    }

    fn parse(key: &str) -> Self {
        if let Some(id) = key.strip_prefix("sla:").and_then(|id| id.parse().ok()) {
            TimerKey::Sla(id)
        } else if let Some(id) = key.strip_prefix("rfc:").and_then(|id| id.parse().ok()) {
            TimerKey::Rfc(id)
        } else if let Some(channel) = key.strip_prefix("standup:") {
            TimerKey::Standup(channel.to_owned())
        } else {
            TimerKey::Other(key.to_owned())
        }
    }
}

impl Store {
    /// The earliest pending timer.
    pub fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|rx| {
            let table = rx.txn.open_table(TIMERS)?;
            Ok(table.first()?.map(|(k, _)| from_ms(k.value().0)))
        })
    }

    /// The earliest pending timer not before `now`'s millisecond. Timers are kept at
    /// millisecond precision while entities record their due times to the nanosecond, so one in
    /// `now`'s own millisecond may not have been due yet when it was looked at: it is included
    /// (at worst the worker looks again within a millisecond). Earlier ones are those that were
    /// due and deliberately skipped (a failing timer waiting for its retry).
    pub fn next_timer_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        self.read(|rx| {
            let table = rx.txn.open_table(TIMERS)?;
            let mut after = table.range((ms(now), "")..)?;
            Ok(after.next().transpose()?.map(|(k, _)| from_ms(k.value().0)))
        })
    }

    /// Timers due at or before `now`, earliest first, each with its due time.
    pub fn due_timers(&self, now: DateTime<Utc>) -> Result<Vec<(DateTime<Utc>, TimerKey)>> {
        self.read(|rx| {
            let table = rx.txn.open_table(TIMERS)?;
            let mut keys = Vec::new();
            for entry in table.range((i64::MIN, "")..=(ms(now), "\u{10FFFF}"))? {
                let (k, _) = entry?;
                keys.push((from_ms(k.value().0), TimerKey::parse(k.value().1)));
            }
            Ok(keys)
        })
    }
}

impl Tx<'_> {
    /// Moves the timer `key` from `old` to `new` (either may be none): the one way entities
    /// keep their timer entry in step with the due time they record.
    pub fn move_timer(
        &mut self,
        key: &str,
        old: Option<DateTime<Utc>>,
        new: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut timers = self.txn.open_table(TIMERS)?;
        if let Some(due) = old {
            timers.remove((ms(due), key))?;
        }
        if let Some(due) = new {
            timers.insert((ms(due), key), ())?;
        }
        Ok(())
    }

    /// Removes every timer entry with this key (used when an entity it names no longer exists).
    pub fn drop_timers_named(&mut self, key: &str) -> Result<()> {
        let mut timers = self.txn.open_table(TIMERS)?;
        timers.retain(|(_, k), _| k != key)?;
        Ok(())
    }
}
