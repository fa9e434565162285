//! The inbox: events Slack delivered, recorded (once per `event_id`) before the ack, and the
//! replay keys of commands and interactions.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata};

use super::tables::{INBOX, META, SEEN_BY_TIME, SEEN_EVENTS};
use super::{Reads, Result, Store, Tx, from_json, ms, to_json};
use crate::slack::inbound::Inbound;

/// What happened to an event Slack delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Queued,
    /// The same `event_id` was accepted before: a Slack retry. Nothing is stored.
    Duplicate,
}

/// One delivery to record durably before its ack: an Events API event under its `event_id`,
/// or only the replay key of a command or an interaction (`event: None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// The deduplication key (`event_id`, `trigger:…`, `sig:…`); `None` records the event
    /// without deduplicating it.
    pub key: Option<String>,
    /// What goes into the inbox, if anything.
    pub event: Option<Inbound>,
    /// When it arrived: the seen key is forgotten a day after it.
    pub at: DateTime<Utc>,
}

impl Store {
    /// Records a delivered event for processing, once per `event_id`.
    pub fn accept_event(
        &self,
        event_id: Option<&str>,
        event: &Inbound,
        now: DateTime<Utc>,
    ) -> Result<Accepted> {
        let arrival = Arrival {
            key: event_id.map(str::to_owned),
            event: Some(event.clone()),
            at: now,
        };
        Ok(self.accept_events(std::slice::from_ref(&arrival))?[0])
    }

    /// Records a command or interaction delivery under `key` (its signature, its `trigger_id`,
    /// a Socket Mode envelope id). Returns false if it was seen before: a replay, to be acked
    /// and not processed again. Keys are forgotten with event ids, after a day.
    pub fn first_delivery(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        let arrival = Arrival {
            key: Some(key.to_owned()),
            event: None,
            at: now,
        };
        Ok(self.accept_events(std::slice::from_ref(&arrival))?[0] == Accepted::Queued)
    }

    /// Whether a deduplication key (an `event_id`, a replay key) has been recorded and not yet
    /// forgotten.
    pub fn was_seen(&self, key: &str) -> Result<bool> {
        if self.is_staged(key) {
            return Ok(true);
        }
        self.read(|rx| Ok(rx.table(SEEN_EVENTS)?.get(key)?.is_some()))
    }

    /// How many events have ever been queued in the inbox (the inbox's sequence counter), and
    /// staged for it: duplicates are not counted. Reads every staged entry.
    pub fn events_queued(&self) -> Result<u64> {
        let queued = self.read(|rx| Ok(rx.table(META)?.get("inbox")?.map_or(0, |v| v.value())))?;
        Ok(queued + self.staged_events()?)
    }

    /// The oldest unprocessed event. An entry that cannot be read (written by an incompatible
    /// version) is logged and removed, so it cannot block the events behind it.
    pub fn next_inbound(&self) -> Result<Option<(u64, Inbound)>> {
        Ok(self.next_inbound_batch(1)?.into_iter().next())
    }

    /// Up to `limit` of the oldest unprocessed events, oldest first, read in one transaction,
    /// after importing as many staged deliveries as the inbox lacks for a full batch (see
    /// `staging`). Entries that cannot be read are logged and removed (in one write), as for
    /// [`Store::next_inbound`].
    pub fn next_inbound_batch(&self, limit: usize) -> Result<Vec<(u64, Inbound)>> {
        loop {
            let queued = self.read(|rx| Ok(rx.txn.open_table(INBOX)?.len()?))? as usize;
            // Staged entries imported: some may carry only a command's replay key.
            let imported = if queued < limit {
                self.import_staged(limit - queued)?
            } else {
                0
            };
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
                self.write(|tx| tx.finish_all_inbound(&unreadable))?;
            }
            // A batch of nothing but unreadable entries, or an import of nothing but replay
            // keys, does not mean the inbox is empty.
            if !events.is_empty() || (unreadable.is_empty() && imported == 0) {
                return Ok(events);
            }
        }
    }

    /// How many events wait in the inbox or are staged for it (O(1): redb keeps each table's
    /// length, and staged entries are numbered densely). A staged command's replay key counts
    /// as one until it is imported.
    pub fn inbox_len(&self) -> Result<u64> {
        let queued = self.read(|rx| Ok(rx.txn.open_table(INBOX)?.len()?))?;
        Ok(queued + self.staged_waiting()?)
    }
}

impl Tx<'_> {
    /// Records `key` (an `event_id`, a replay key) as seen at `now`, with its row in the time
    /// index the pruner walks (`retention`): every write of a seen key goes through here.
    pub fn remember_seen(&mut self, key: &str, now: DateTime<Utc>) -> Result<()> {
        self.remember_all_seen(&[(key, now)])
    }

    /// [`Tx::remember_seen`] for many keys, each with when it was seen: the tables are opened
    /// once (an import moves hundreds at a time).
    pub fn remember_all_seen(&mut self, seen: &[(&str, DateTime<Utc>)]) -> Result<()> {
        let mut by_key = self.txn.open_table(SEEN_EVENTS)?;
        let mut by_time = self.txn.open_table(SEEN_BY_TIME)?;
        for &(key, at) in seen {
            by_key.insert(key, ms(at))?;
            by_time.insert((ms(at), key), ())?;
        }
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
        self.finish_all_inbound(&[seq])
    }

    /// Removes processed events from the inbox, the table opened once.
    pub fn finish_all_inbound(&mut self, seqs: &[u64]) -> Result<()> {
        let mut inbox = self.txn.open_table(INBOX)?;
        for seq in seqs {
            inbox.remove(*seq)?;
        }
        Ok(())
    }
}
