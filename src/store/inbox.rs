//! The inbox: events Slack delivered, recorded (once per `event_id`) before the ack, and the
//! replay keys of commands and interactions.

use chrono::{DateTime, Utc};
use redb::ReadableTable;

use super::tables::{INBOX, SEEN_BY_TIME, SEEN_EVENTS};
use super::{Result, Store, Tx, from_json, ms, to_json};
use crate::slack::inbound::Inbound;

/// What happened to an event Slack delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Queued,
    /// The same `event_id` was accepted before: a Slack retry. Nothing is stored.
    Duplicate,
}

impl Store {
    /// Records a delivered event for processing, once per `event_id`.
    pub fn accept_event(
        &self,
        event_id: Option<&str>,
        event: &Inbound,
        now: DateTime<Utc>,
    ) -> Result<Accepted> {
        self.write(|tx| {
            if let Some(id) = event_id {
                let seen = tx.txn.open_table(SEEN_EVENTS)?;
                if seen.get(id)?.is_some() {
                    return Ok(Accepted::Duplicate);
                }
                drop(seen);
                tx.remember_seen(id, now)?;
            }
            tx.push_inbound(event)?;
            Ok(Accepted::Queued)
        })
    }

    /// Records a command or interaction delivery under `key` (its signature, its `trigger_id`,
    /// a Socket Mode envelope id). Returns false if it was seen before: a replay, to be acked
    /// and not processed again. Keys are forgotten with event ids, after a day.
    pub fn first_delivery(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let seen = tx.txn.open_table(SEEN_EVENTS)?;
            if seen.get(key)?.is_some() {
                return Ok(false);
            }
            drop(seen);
            tx.remember_seen(key, now)?;
            Ok(true)
        })
    }

    /// The oldest unprocessed event. An entry that cannot be read (written by an incompatible
    /// version) is logged and removed, so it cannot block the events behind it.
    pub fn next_inbound(&self) -> Result<Option<(u64, Inbound)>> {
        loop {
            let first = self.read(|rx| {
                let table = rx.txn.open_table(INBOX)?;
                let first = table.first()?;
                Ok(first.map(|(k, v)| (k.value(), v.value().to_vec())))
            })?;
            let Some((seq, bytes)) = first else {
                return Ok(None);
            };
            match from_json::<Inbound>(|| format!("inbox/{seq}"), &bytes) {
                Ok(event) => return Ok(Some((seq, event))),
                Err(e) => {
                    tracing::error!(error = %e, "dropping an unreadable event");
                    self.write(|tx| tx.finish_inbound(seq))?;
                }
            }
        }
    }
}

impl Tx<'_> {
    /// Records `key` (an `event_id`, a replay key) as seen at `now`, with its row in the time
    /// index the pruner walks (`retention`): every write of a seen key goes through here.
    pub fn remember_seen(&mut self, key: &str, now: DateTime<Utc>) -> Result<()> {
        self.txn.open_table(SEEN_EVENTS)?.insert(key, ms(now))?;
        self.txn
            .open_table(SEEN_BY_TIME)?
            .insert((ms(now), key), ())?;
        Ok(())
    }

    /// Adds an event to the end of the inbox.
    pub fn push_inbound(&mut self, event: &Inbound) -> Result<u64> {
        let seq = self.next_id("inbox")?;
        self.txn
            .open_table(INBOX)?
            .insert(seq, to_json(event).as_slice())?;
        Ok(seq)
    }

    /// Removes a processed event from the inbox.
    pub fn finish_inbound(&mut self, seq: u64) -> Result<()> {
        self.txn.open_table(INBOX)?.remove(seq)?;
        Ok(())
    }
}
