//! The inbox: events Slack delivered, recorded (once per `event_id`) before the ack, and the
//! replay keys of commands and interactions.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata};

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
        Ok(self.next_inbound_batch(1)?.into_iter().next())
    }

    /// Up to `limit` of the oldest unprocessed events, oldest first, read in one transaction.
    /// Entries that cannot be read are logged and removed (in one write), as for
    /// [`Store::next_inbound`].
    pub fn next_inbound_batch(&self, limit: usize) -> Result<Vec<(u64, Inbound)>> {
        loop {
            let raw = self.read(|rx| {
                let table = rx.txn.open_table(INBOX)?;
                let mut raw = Vec::new();
                for entry in table.iter()?.take(limit) {
                    let (k, v) = entry?;
                    raw.push((k.value(), v.value().to_vec()));
                }
                Ok(raw)
            })?;
            let mut events = Vec::with_capacity(raw.len());
            let mut unreadable = Vec::new();
            for (seq, bytes) in raw {
                match from_json::<Inbound>(|| format!("inbox/{seq}"), &bytes) {
                    Ok(event) => events.push((seq, event)),
                    Err(e) => {
                        tracing::error!(error = %e, "dropping an unreadable event");
                        unreadable.push(seq);
                    }
                }
            }
            if !unreadable.is_empty() {
                self.write(|tx| {
                    for seq in &unreadable {
                        tx.finish_inbound(*seq)?;
                    }
                    Ok(())
                })?;
            }
            // A batch of nothing but unreadable entries does not mean the inbox is empty.
            if !events.is_empty() || unreadable.is_empty() {
                return Ok(events);
            }
        }
    }

    /// How many events wait in the inbox (O(1): redb keeps each table's length).
    pub fn inbox_len(&self) -> Result<u64> {
        self.read(|rx| Ok(rx.txn.open_table(INBOX)?.len()?))
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
