//! The outbox: messages to deliver, committed with the change that caused them; where tagged
//! messages were posted; and the tags of messages Slack refused for good.

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata};

use super::tables::{DROPPED_BY_TIME, DROPPED_TAGS, OUTBOX, TAGGED_MESSAGES, TAGS};
use super::{Reads, Result, Store, Tx, from_json, message_key, ms, to_json};
use crate::domain::outbox::{OutboxItem, OutgoingMessage};
use crate::slack::inbound::Inbound;

/// Reads of tags, inside a read or a write transaction.
pub trait OutboxReads: Reads {
    fn tagged(&self, tag: &str) -> Result<Option<(String, String)>> {
        let table = self.table(TAGS)?;
        let found = table.get(tag)?;
        Ok(found.and_then(|v| {
            v.value()
                .split_once(' ')
                .map(|(c, ts)| (c.to_owned(), ts.to_owned()))
        }))
    }

    /// The tag of our message `channel`/`ts`, if it is one of ours that was tagged.
    fn tag_of(&self, channel: &str, ts: &str) -> Result<Option<String>> {
        let table = self.table(TAGGED_MESSAGES)?;
        let found = table.get(message_key(channel, ts).as_str())?;
        Ok(found.map(|v| v.value().to_owned()))
    }

    /// Whether the message with this tag was refused by Slack for good.
    fn is_dropped_tag(&self, tag: &str) -> Result<bool> {
        Ok(self.table(DROPPED_TAGS)?.get(tag)?.is_some())
    }
}

impl<T: Reads + ?Sized> OutboxReads for T {}

impl Store {
    /// The oldest `limit` messages to deliver. Unreadable entries are logged and removed.
    pub fn pending_outbox(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        let mut unreadable = Vec::new();
        let items = self.read(|rx| {
            let table = rx.txn.open_table(OUTBOX)?;
            let mut items = Vec::new();
            for entry in table.iter()?.take(limit) {
                let (k, v) = entry?;
                let id = k.value();
                match from_json(|| format!("outbox/{id}"), v.value()) {
                    Ok(item) => items.push(item),
                    Err(e) => {
                        tracing::error!(error = %e, "dropping an unreadable outgoing message");
                        unreadable.push(id);
                    }
                }
            }
            Ok(items)
        })?;
        for id in unreadable {
            self.outbox_remove(id)?;
        }
        Ok(items)
    }

    pub fn outbox_len(&self) -> Result<u64> {
        self.read(|rx| Ok(rx.txn.open_table(OUTBOX)?.len()?))
    }

    /// Removes a delivered (or dropped) message.
    pub fn outbox_remove(&self, id: u64) -> Result<()> {
        self.write(|tx| {
            tx.txn.open_table(OUTBOX)?.remove(id)?;
            Ok(())
        })
    }

    /// Records a failed attempt: the message waits until `not_before`.
    pub fn outbox_retry(&self, item: &OutboxItem) -> Result<()> {
        self.write(|tx| {
            let mut table = tx.txn.open_table(OUTBOX)?;
            // A message removed meanwhile stays removed.
            if table.get(item.id)?.is_some() {
                table.insert(item.id, to_json(item).as_slice())?;
            }
            Ok(())
        })
    }

    /// Notes that these messages are about to be posted: until each one's outcome is recorded,
    /// Slack may have accepted it (see [`OutboxItem::maybe_sent`]).
    pub fn outbox_mark_maybe_sent(&self, ids: &[u64]) -> Result<()> {
        self.write(|tx| {
            let mut table = tx.txn.open_table(OUTBOX)?;
            for &id in ids {
                let item = match table.get(id)? {
                    Some(v) => from_json::<OutboxItem>(|| format!("outbox/{id}"), v.value()),
                    None => continue,
                };
                if let Ok(mut item) = item
                    && !item.maybe_sent
                {
                    item.maybe_sent = true;
                    table.insert(id, to_json(&item).as_slice())?;
                }
            }
            Ok(())
        })
    }

    /// A message was delivered: where it went (if it has a tag) and its removal from the outbox
    /// commit together, so a crash never leaves a delivered message queued.
    pub fn outbox_delivered(&self, id: u64, posted: Option<(&str, &str, &str)>) -> Result<()> {
        self.write(|tx| {
            if let Some((tag, channel, ts)) = posted {
                tx.record_tag(tag, channel, ts)?;
            }
            tx.remove_outbox(id)
        })
    }

    /// Records where a tagged message was posted.
    pub fn record_tag(&self, tag: &str, channel: &str, ts: &str) -> Result<()> {
        self.write(|tx| tx.record_tag(tag, channel, ts))
    }

    /// Where the message with this tag was posted: (channel, ts).
    pub fn tagged(&self, tag: &str) -> Result<Option<(String, String)>> {
        self.read(|rx| rx.tagged(tag))
    }
}

impl Tx<'_> {
    /// Queues a message for delivery; it commits with the rest of this transaction.
    pub fn enqueue(&mut self, message: OutgoingMessage, now: DateTime<Utc>) -> Result<u64> {
        let id = self.next_id("outbox")?;
        let item = OutboxItem {
            id,
            message,
            created_at: now,
            not_before: now,
            attempts: 0,
            maybe_sent: false,
            first_failed_at: None,
        };
        self.txn
            .open_table(OUTBOX)?
            .insert(id, to_json(&item).as_slice())?;
        Ok(id)
    }

    /// Removes a message from the outbox (delivered or dropped).
    pub fn remove_outbox(&mut self, id: u64) -> Result<()> {
        self.txn.open_table(OUTBOX)?.remove(id)?;
        Ok(())
    }

    pub fn record_tag(&mut self, tag: &str, channel: &str, ts: &str) -> Result<()> {
        self.txn
            .open_table(TAGS)?
            .insert(tag, format!("{channel} {ts}").as_str())?;
        self.txn
            .open_table(TAGGED_MESSAGES)?
            .insert(message_key(channel, ts).as_str(), tag)?;
        Ok(())
    }

    /// Drops a message Slack refused for good, and with it every queued message that needs it
    /// (edits of it, replies in its thread, and theirs in turn). A tagged message's tag is
    /// remembered, so later dependants are dropped too, and its owner is told through the inbox
    /// ([`Inbound::PostDropped`]). Returns how many dependants were dropped.
    pub fn drop_outbox(
        &mut self,
        item: &OutboxItem,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        self.remove_outbox(item.id)?;
        let Some(tag) = item.message.tag.clone() else {
            return Ok(0);
        };
        let mut dropped = 0;
        let mut tags = vec![tag.clone()];
        while let Some(parent) = tags.pop() {
            self.txn
                .open_table(DROPPED_TAGS)?
                .insert(parent.as_str(), ms(now))?;
            // Its row in the time index the pruner walks (`retention`).
            self.txn
                .open_table(DROPPED_BY_TIME)?
                .insert((ms(now), parent.as_str()), ())?;
            let dependants: Vec<(u64, Option<String>)> = {
                let table = self.txn.open_table(OUTBOX)?;
                let mut found = Vec::new();
                for entry in table.iter()? {
                    let (k, v) = entry?;
                    let Ok(other) = from_json::<OutboxItem>(String::new, v.value()) else {
                        continue;
                    };
                    if other.message.destination.parent_tag() == Some(parent.as_str()) {
                        found.push((k.value(), other.message.tag));
                    }
                }
                found
            };
            for (id, child_tag) in dependants {
                self.remove_outbox(id)?;
                dropped += 1;
                tags.extend(child_tag);
            }
        }
        self.push_inbound(&Inbound::PostDropped {
            tag,
            reason: reason.to_owned(),
        })?;
        Ok(dropped)
    }
}
