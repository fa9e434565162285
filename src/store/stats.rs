//! Cheap counts for `/metrics`: table lengths (redb keeps each table's length in its root, so
//! `len()` scans nothing) and the ends of the inbox, all in one read transaction.

use redb::ReadableTableMetadata;

use super::staging::STAGED_THROUGH;
use super::tables::{DEAD_LETTERS, INBOX, META, OUTBOX, TIMERS};
use super::{Result, Store};

/// The store's queues at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Events accepted and not yet processed (in the inbox, or staged for it).
    pub inbox_queued: u64,
    /// The arrival number (the staging log's sequence number) of the oldest of them. For an
    /// event already moved to the inbox it is estimated from its place there: the inbox holds
    /// at most a batch of imported events, oldest first.
    pub inbox_oldest_seq: Option<u64>,
    /// The last arrival number handed out.
    pub inbox_last_seq: u64,
    pub timers_pending: u64,
    pub outbox_depth: u64,
    pub dead_letters: u64,
}

impl Store {
    /// The queues' sizes: O(log n) whatever the store holds.
    pub fn stats(&self) -> Result<StoreStats> {
        let last = self.staged_last_seq();
        self.read(|rx| {
            let in_inbox = rx.txn.open_table(INBOX)?.len()?;
            let imported = rx
                .txn
                .open_table(META)?
                .get(STAGED_THROUGH)?
                .map_or(0, |v| v.value());
            let staged = last.saturating_sub(imported);
            Ok(StoreStats {
                inbox_queued: in_inbox + staged,
                inbox_oldest_seq: if in_inbox > 0 {
                    Some((imported + 1).saturating_sub(in_inbox).max(1))
                } else {
                    (staged > 0).then_some(imported + 1)
                },
                inbox_last_seq: last,
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
        for id in ["Ev1", "Ev2", "Ev3"] {
            store.accept_event(Some(id), &event, now).unwrap();
        }
        let counts = |s: &Store| {
            let stats = s.stats().unwrap();
            (
                stats.inbox_queued,
                stats.inbox_oldest_seq,
                stats.inbox_last_seq,
            )
        };
        // All three staged.
        assert_eq!(counts(&store), (3, Some(1), 3));
        // Two imported into the inbox, one still staged: the oldest is the first imported.
        assert_eq!(store.import_staged(2).unwrap(), 2);
        assert_eq!(counts(&store), (3, Some(1), 3));
        store.write(|tx| tx.finish_inbound(1)).unwrap();
        assert_eq!(counts(&store), (2, Some(2), 3));
        store.write(|tx| tx.finish_inbound(2)).unwrap();
        assert_eq!(counts(&store), (1, Some(3), 3));
        assert_eq!(store.import_staged(10).unwrap(), 1);
        store.write(|tx| tx.finish_inbound(3)).unwrap();
        assert_eq!(counts(&store), (0, None, 3));
    }
}
