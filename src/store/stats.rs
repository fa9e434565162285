//! Cheap counts for `/metrics`: table lengths (redb keeps each table's length in its root, so
//! `len()` scans nothing) and the ends of the inbox, all in one read transaction.

use redb::{ReadableTable, ReadableTableMetadata};

use super::tables::{DEAD_LETTERS, INBOX, META, OUTBOX, TIMERS};
use super::{Result, Store};

/// The store's queues at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Events accepted and not yet processed.
    pub inbox_queued: u64,
    /// The sequence number of the oldest of them.
    pub inbox_oldest_seq: Option<u64>,
    /// The last sequence number the inbox handed out.
    pub inbox_last_seq: u64,
    pub timers_pending: u64,
    pub outbox_depth: u64,
    pub dead_letters: u64,
}

impl Store {
    /// The queues' sizes: O(log n) whatever the store holds.
    pub fn stats(&self) -> Result<StoreStats> {
        self.read(|rx| {
            let inbox = rx.txn.open_table(INBOX)?;
            Ok(StoreStats {
                inbox_queued: inbox.len()?,
                inbox_oldest_seq: inbox.first()?.map(|(k, _)| k.value()),
                inbox_last_seq: rx
                    .txn
                    .open_table(META)?
                    .get("inbox")?
                    .map_or(0, |v| v.value()),
                timers_pending: rx.txn.open_table(TIMERS)?.len()?,
                outbox_depth: rx.txn.open_table(OUTBOX)?.len()?,
                dead_letters: rx.txn.open_table(DEAD_LETTERS)?.len()?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::inbound::Inbound;

    #[test]
    fn the_counts_follow_the_queues() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        assert_eq!(store.stats().unwrap(), StoreStats::default());
        let event = Inbound::AppHomeOpened { user: "U1".into() };
        let now = chrono::Utc::now();
        store.accept_event(Some("Ev1"), &event, now).unwrap();
        store.accept_event(Some("Ev2"), &event, now).unwrap();
        store.write(|tx| tx.finish_inbound(1)).unwrap();
        let stats = store.stats().unwrap();
        assert_eq!(stats.inbox_queued, 1);
        assert_eq!(stats.inbox_oldest_seq, Some(2));
        assert_eq!(stats.inbox_last_seq, 2);
    }
}
