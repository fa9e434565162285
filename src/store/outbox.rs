//! The outbox: messages to deliver, committed with the change that caused them, and indexed
//! per conversation (each conversation's queue in order), by the tag they need (their parent)
//! and by their own tag; where tagged messages were posted; and the tags of messages Slack
//! refused for good.

use chrono::{DateTime, Utc};
use redb::{ReadableMultimapTable, ReadableTable, ReadableTableMetadata};

use super::tables::{
    DROPPED_BY_TIME, DROPPED_TAGS, META, OUTBOX, OUTBOX_BY_PARENT, OUTBOX_BY_TAG, OUTBOX_QUEUES,
    TAGGED_MESSAGES, TAGS,
};
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

/// The `META` counter of outbox ids (the highest id ever given).
const OUTBOX_COUNTER: &str = "outbox";
/// Set in `META` once the outbox indexes hold every queued message (see [`Tx::index_outbox_once`]).
const INDEXED_MARK: &str = "outbox_indexed";

/// What one conversation's queue offers at a given moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueHead {
    /// The message to send next in this conversation.
    Ready(Box<OutboxItem>),
    /// Nothing may be sent in this conversation before then (a retry's backoff, or everyone
    /// in it waiting for their recipients' working time).
    Wait(DateTime<Utc>),
    /// Nothing is queued in this conversation.
    Empty,
}

/// An outcome of delivery to commit, many in one transaction.
#[derive(Debug, Clone)]
pub enum OutboxRecord {
    /// Delivered: removed, and for a tagged post where it went (tag, channel, ts).
    Delivered {
        id: u64,
        posted: Option<(String, String, String)>,
    },
    /// Not delivered this time: kept, with its new state (`not_before`, attempts, mark).
    Retry(OutboxItem),
}

/// The first of `conversation`'s queued messages that may go at `now`. Messages waiting only
/// for their recipients' working time are stepped over (they do not hold up the others); a
/// message waiting for a retry blocks the queue behind it, so order is kept. Index entries
/// with no message, and messages that cannot be read, are returned for removal.
fn queue_head(
    queues: &impl ReadableTable<(&'static str, u64), ()>,
    outbox: &impl ReadableTable<u64, &'static [u8]>,
    conversation: &str,
    now: DateTime<Utc>,
    broken: &mut Vec<(String, u64)>,
) -> Result<QueueHead> {
    let mut wake: Option<DateTime<Utc>> = None;
    for entry in queues.range((conversation, 0)..=(conversation, u64::MAX))? {
        let id = entry?.0.value().1;
        let Some(bytes) = outbox.get(id)? else {
            broken.push((conversation.to_owned(), id));
            continue;
        };
        let item: OutboxItem = match from_json(|| format!("outbox/{id}"), bytes.value()) {
            Ok(item) => item,
            Err(e) => {
                tracing::error!(error = %e, "dropping an unreadable outgoing message");
                broken.push((conversation.to_owned(), id));
                continue;
            }
        };
        if item.not_before <= now {
            return Ok(QueueHead::Ready(Box::new(item)));
        }
        let at = wake.map_or(item.not_before, |w| w.min(item.not_before));
        if !item.waits_for_working_time() {
            return Ok(QueueHead::Wait(at));
        }
        wake = Some(at);
    }
    Ok(wake.map_or(QueueHead::Empty, QueueHead::Wait))
}

impl Store {
    /// Every conversation with queued messages, and the highest outbox id given so far (to
    /// ask later for what was queued after it, [`Store::outbox_conversations_after`]).
    pub fn outbox_conversations(&self) -> Result<(Vec<String>, u64)> {
        self.read(|rx| {
            let queues = rx.table(OUTBOX_QUEUES)?;
            let mut found = Vec::new();
            // One seek per conversation: from each one, jump past all of its entries.
            let mut from = String::new();
            loop {
                let next = queues.range((from.as_str(), 0)..)?.next();
                let Some(entry) = next else { break };
                let conversation = entry?.0.value().0.to_owned();
                from = format!("{conversation}\0");
                found.push(conversation);
            }
            let last = rx
                .table(META)?
                .get(OUTBOX_COUNTER)?
                .map_or(0, |v| v.value());
            Ok((found, last))
        })
    }

    /// The conversations of the messages queued with an id above `after` (queued since it was
    /// the highest), and the highest id now.
    pub fn outbox_conversations_after(&self, after: u64) -> Result<(Vec<String>, u64)> {
        self.read(|rx| {
            let last = rx
                .table(META)?
                .get(OUTBOX_COUNTER)?
                .map_or(0, |v| v.value());
            let mut found = Vec::new();
            if last > after {
                let outbox = rx.table(OUTBOX)?;
                for entry in outbox.range(after + 1..)? {
                    let (_, v) = entry?;
                    // An unreadable one is dealt with when its conversation is read; it has
                    // no conversation to name here.
                    if let Ok(item) = from_json::<OutboxItem>(String::new, v.value())
                        && !found.contains(&item.conversation())
                    {
                        found.push(item.conversation());
                    }
                }
            }
            Ok((found, last.max(after)))
        })
    }

    /// What each of `conversations` may send at `now`, in one read. Broken index entries and
    /// unreadable messages met on the way are removed (and logged).
    pub fn outbox_heads(
        &self,
        conversations: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<QueueHead>> {
        let mut broken = Vec::new();
        let heads = self.read(|rx| {
            let queues = rx.table(OUTBOX_QUEUES)?;
            let outbox = rx.table(OUTBOX)?;
            conversations
                .iter()
                .map(|c| queue_head(&queues, &outbox, c, now, &mut broken))
                .collect::<Result<Vec<_>>>()
        })?;
        if !broken.is_empty() {
            self.write(|tx| {
                for (conversation, id) in &broken {
                    tx.txn
                        .open_table(OUTBOX_QUEUES)?
                        .remove((conversation.as_str(), *id))?;
                    tx.txn.open_table(OUTBOX)?.remove(*id)?;
                }
                Ok(())
            })?;
        }
        Ok(heads)
    }

    /// Commits many outcomes of delivery in one transaction.
    pub fn outbox_record(&self, records: &[OutboxRecord]) -> Result<()> {
        self.write(|tx| {
            for record in records {
                match record {
                    OutboxRecord::Delivered { id, posted } => {
                        if let Some((tag, channel, ts)) = posted {
                            tx.record_tag(tag, channel, ts)?;
                        }
                        tx.remove_outbox(*id)?;
                    }
                    OutboxRecord::Retry(item) => tx.update_outbox(item)?,
                }
            }
            Ok(())
        })
    }

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
        self.write(|tx| tx.remove_outbox(id))
    }

    /// Records a failed attempt: the message waits until `not_before`.
    pub fn outbox_retry(&self, item: &OutboxItem) -> Result<()> {
        self.write(|tx| tx.update_outbox(item))
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
    /// Builds the outbox indexes from the outbox, once: a store written before they existed
    /// has messages queued without them. Later, every write keeps them in step.
    pub(super) fn index_outbox_once(&mut self) -> Result<()> {
        if self.table(META)?.get(INDEXED_MARK)?.is_some() {
            return Ok(());
        }
        let items: Vec<OutboxItem> = {
            let outbox = self.txn.open_table(OUTBOX)?;
            let mut items = Vec::new();
            for entry in outbox.iter()? {
                let (_, v) = entry?;
                // An unreadable one stays unindexed: `pending_outbox` removes it.
                if let Ok(item) = from_json::<OutboxItem>(String::new, v.value()) {
                    items.push(item);
                }
            }
            items
        };
        if !items.is_empty() {
            tracing::info!(
                queued = items.len(),
                "indexed the outbox per conversation (a store from an older version)"
            );
        }
        for item in &items {
            self.index_outbox(item)?;
        }
        self.txn.open_table(META)?.insert(INDEXED_MARK, 1)?;
        Ok(())
    }

    fn index_outbox(&mut self, item: &OutboxItem) -> Result<()> {
        let conversation = item.conversation();
        self.txn
            .open_table(OUTBOX_QUEUES)?
            .insert((conversation.as_str(), item.id), ())?;
        if let Some(parent) = item.message.destination.parent_tag() {
            self.txn
                .open_multimap_table(OUTBOX_BY_PARENT)?
                .insert(parent, item.id)?;
        }
        if let Some(tag) = &item.message.tag {
            self.txn
                .open_table(OUTBOX_BY_TAG)?
                .insert((tag.as_str(), item.id), ())?;
        }
        Ok(())
    }

    fn unindex_outbox(&mut self, item: &OutboxItem) -> Result<()> {
        let conversation = item.conversation();
        self.txn
            .open_table(OUTBOX_QUEUES)?
            .remove((conversation.as_str(), item.id))?;
        if let Some(parent) = item.message.destination.parent_tag() {
            self.txn
                .open_multimap_table(OUTBOX_BY_PARENT)?
                .remove(parent, item.id)?;
        }
        if let Some(tag) = &item.message.tag {
            self.txn
                .open_table(OUTBOX_BY_TAG)?
                .remove((tag.as_str(), item.id))?;
        }
        Ok(())
    }

    /// Puts a message (back) in the outbox under its own id, indexed: a dead letter retried.
    pub fn requeue_outbox(&mut self, item: &OutboxItem) -> Result<()> {
        let old = self
            .txn
            .open_table(OUTBOX)?
            .insert(item.id, to_json(item).as_slice())?
            .and_then(|v| from_json::<OutboxItem>(String::new, v.value()).ok());
        if let Some(old) = old {
            self.unindex_outbox(&old)?;
        }
        self.index_outbox(item)
    }

    /// Stores a queued message's new state (its destination and tags are unchanged, so are
    /// its index entries). A message removed meanwhile stays removed.
    pub fn update_outbox(&mut self, item: &OutboxItem) -> Result<()> {
        let mut table = self.txn.open_table(OUTBOX)?;
        if table.get(item.id)?.is_some() {
            table.insert(item.id, to_json(item).as_slice())?;
        }
        Ok(())
    }

    /// Withdraws every queued message whose tag starts with `prefix` (a request's nudges,
    /// `sla:7:`). Returns how many.
    pub fn withdraw_outbox_tagged(&mut self, prefix: &str) -> Result<usize> {
        let ids: Vec<u64> = {
            let table = self.txn.open_table(OUTBOX_BY_TAG)?;
            let mut ids = Vec::new();
            for entry in table.range((prefix, 0)..)? {
                let (key, _) = entry?;
                let (tag, id) = key.value();
                if !tag.starts_with(prefix) {
                    break;
                }
                ids.push(id);
            }
            ids
        };
        let mut removed = 0;
        for id in ids {
            removed += usize::from(self.take_outbox(id)?.is_some());
        }
        Ok(removed)
    }

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
        self.index_outbox(&item)?;
        Ok(id)
    }

    /// Removes a message from the outbox (delivered or dropped), and from its indexes.
    pub fn remove_outbox(&mut self, id: u64) -> Result<()> {
        self.take_outbox(id).map(drop)
    }

    /// Removes a message and its index entries; returns it if it was there and readable.
    fn take_outbox(&mut self, id: u64) -> Result<Option<OutboxItem>> {
        let removed = self
            .txn
            .open_table(OUTBOX)?
            .remove(id)?
            .and_then(|v| from_json::<OutboxItem>(String::new, v.value()).ok());
        if let Some(item) = &removed {
            self.unindex_outbox(item)?;
        }
        Ok(removed)
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
            let dependants: Vec<u64> = self
                .txn
                .open_multimap_table(OUTBOX_BY_PARENT)?
                .get(parent.as_str())?
                .map(|id| id.map(|id| id.value()))
                .collect::<std::result::Result<_, _>>()?;
            for id in dependants {
                // An index entry left by an unreadable message goes with it.
                self.txn
                    .open_multimap_table(OUTBOX_BY_PARENT)?
                    .remove(parent.as_str(), id)?;
                if let Some(child) = self.take_outbox(id)? {
                    dropped += 1;
                    tags.extend(child.message.tag);
                }
            }
        }
        self.push_inbound(&Inbound::PostDropped {
            tag,
            reason: reason.to_owned(),
        })?;
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outbox::{Destination, OutgoingMessage};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("asyncbot.redb")).unwrap();
        (dir, store)
    }

    fn to(channel: &str, text: &str) -> OutgoingMessage {
        OutgoingMessage::new(
            Destination::Channel {
                channel: channel.into(),
            },
            text,
        )
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T10:00:00Z".parse().unwrap()
    }

    fn text(head: &QueueHead) -> &str {
        match head {
            QueueHead::Ready(item) => &item.message.text,
            other => panic!("not ready: {other:?}"),
        }
    }

    #[test]
    fn each_conversation_has_its_own_head_and_a_retry_blocks_only_its_own() {
        let (_dir, s) = store();
        let ids = s
            .write(|tx| {
                let mut ids = Vec::new();
                for (c, t) in [("C1", "a1"), ("C2", "b1"), ("C1", "a2"), ("C3", "c1")] {
                    ids.push(tx.enqueue(to(c, t), now())?);
                }
                // Waits for its recipient's morning: does not hold up the next one.
                ids.push(tx.enqueue(
                    to("C3", "c2").in_working_time_of("U1", chrono_tz::UTC),
                    now(),
                )?);
                Ok(ids)
            })
            .unwrap();
        let (conversations, last) = s.outbox_conversations().unwrap();
        assert_eq!(conversations, vec!["C1", "C2", "C3"]);
        assert_eq!(last, ids[4]);
        let later = now() + chrono::Duration::hours(1);
        let mut items = s.pending_outbox(10).unwrap();
        // C2's head waits for a retry; both of C3 wait for their recipient's working time.
        items[1].attempts = 1;
        items[1].not_before = later;
        items[3].message = items[4].message.clone();
        items[3].not_before = later + chrono::Duration::hours(1);
        items[4].not_before = later;
        s.outbox_record(&[
            OutboxRecord::Retry(items[1].clone()),
            OutboxRecord::Retry(items[3].clone()),
            OutboxRecord::Retry(items[4].clone()),
        ])
        .unwrap();
        let all = ["C1".to_owned(), "C2".into(), "C3".into(), "C9".into()];
        let heads = s.outbox_heads(&all, now()).unwrap();
        assert_eq!(text(&heads[0]), "a1");
        assert_eq!(heads[1], QueueHead::Wait(later));
        assert_eq!(
            heads[2],
            QueueHead::Wait(later),
            "both of C3 wait; the earlier decides"
        );
        assert_eq!(heads[3], QueueHead::Empty);
        // Delivered: the next of C1 comes up; a record commits with its tag.
        s.outbox_record(&[OutboxRecord::Delivered {
            id: ids[0],
            posted: None,
        }])
        .unwrap();
        assert_eq!(text(&s.outbox_heads(&all[..1], now()).unwrap()[0]), "a2");
        // Only what was queued after the highest id known is new.
        let (new, last2) = s.outbox_conversations_after(last).unwrap();
        assert!(new.is_empty() && last2 == last);
        s.write(|tx| tx.enqueue(to("C7", "z"), now())).unwrap();
        let (new, _) = s.outbox_conversations_after(last).unwrap();
        assert_eq!(new, vec!["C7"]);
    }

    #[test]
    fn a_dropped_message_takes_its_dependants_through_the_index() {
        let (_dir, s) = store();
        let parent = s
            .write(|tx| {
                let parent = tx.enqueue(to("C1", "card").tagged("rfc:1"), now())?;
                let edit = Destination::Edit {
                    channel: "C1".into(),
                    tag: "rfc:1".into(),
                };
                tx.enqueue(OutgoingMessage::new(edit, "card v2"), now())?;
                let reply = Destination::ThreadOfTag {
                    channel: "C1".into(),
                    tag: "rfc:1".into(),
                };
                tx.enqueue(OutgoingMessage::new(reply, "q").tagged("rfc:1:q"), now())?;
                let reply_edit = Destination::Edit {
                    channel: "C1".into(),
                    tag: "rfc:1:q".into(),
                };
                tx.enqueue(OutgoingMessage::new(reply_edit, "q v2"), now())?;
                tx.enqueue(to("C1", "unrelated"), now())?;
                Ok(parent)
            })
            .unwrap();
        let item = s
            .pending_outbox(10)
            .unwrap()
            .into_iter()
            .find(|i| i.id == parent)
            .unwrap();
        let dropped = s
            .write(|tx| tx.drop_outbox(&item, "channel_not_found", now()))
            .unwrap();
        assert_eq!(dropped, 3);
        let left: Vec<String> = s
            .pending_outbox(10)
            .unwrap()
            .into_iter()
            .map(|i| i.message.text)
            .collect();
        assert_eq!(left, vec!["unrelated"]);
        assert!(s.read(|rx| rx.is_dropped_tag("rfc:1:q")).unwrap());
        let heads = s.outbox_heads(&["C1".to_owned()], now()).unwrap();
        assert_eq!(text(&heads[0]), "unrelated");
    }

    #[test]
    fn a_requests_nudges_are_withdrawn_by_tag_prefix() {
        let (_dir, s) = store();
        s.write(|tx| {
            tx.enqueue(to("C1", "n").tagged("sla:7:nudge"), now())?;
            tx.enqueue(to("C2", "d").tagged("sla:7:dm"), now())?;
            tx.enqueue(to("C1", "other").tagged("sla:70:nudge"), now())?;
            Ok(())
        })
        .unwrap();
        assert_eq!(
            s.write(|tx| tx.withdraw_outbox_tagged("sla:7:")).unwrap(),
            2
        );
        assert_eq!(s.outbox_len().unwrap(), 1);
        let (conversations, _) = s.outbox_conversations().unwrap();
        assert_eq!(
            conversations,
            vec!["C1"],
            "C2's queue went with its message"
        );
    }

    #[test]
    fn a_store_from_before_the_index_is_indexed_once_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("asyncbot.redb");
        {
            let s = Store::open(&path).unwrap();
            s.write(|tx| {
                tx.enqueue(to("C1", "a"), now())?;
                tx.enqueue(to("C2", "b").tagged("sla:1:nudge"), now())?;
                // As an older version left it: messages, no indexes.
                tx.txn.delete_table(OUTBOX_QUEUES)?;
                tx.txn.delete_table(OUTBOX_BY_TAG)?;
                tx.txn.delete_multimap_table(OUTBOX_BY_PARENT)?;
                tx.txn.open_table(META)?.remove(INDEXED_MARK)?;
                Ok(())
            })
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let (conversations, _) = s.outbox_conversations().unwrap();
        assert_eq!(conversations, vec!["C1", "C2"]);
        assert_eq!(
            s.write(|tx| tx.withdraw_outbox_tagged("sla:1:")).unwrap(),
            1
        );
    }
}
