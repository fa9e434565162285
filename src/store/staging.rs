//! The staging inbox: where a delivery is made durable before its ack, in a small redb file of
//! its own beside the store (`<store>.ingest.redb`).
//!
//! Why a second file: redb has one writer at a time per database. In the store itself, an ack
//! would wait behind whatever the engine is committing (a batch of 256 events, a prune), and its
//! commit would rewrite the pages of the `seen_events` B-tree, whose keys (Slack's event ids) are
//! random. Here an ack's commit only appends to one table keyed by a sequence number, and no
//! other work takes this writer for more than a moment: measured, a commit of 32 deliveries
//! takes about half the time (see README, "Performance").
//!
//! The flow:
//! - [`Store::accept_events`] deduplicates a batch (against the keys staged here and not yet
//!   imported, kept in memory, and against the store's `seen_events`), appends the new ones,
//!   commits durably, then answers: each acked delivery is on disk.
//! - The engine imports staged entries into the store's inbox before it reads it
//!   ([`Store::import_staged`]): one durable store transaction moves their keys to
//!   `seen_events` and their events to `inbox`, and records how far it got (`staged_through`
//!   in `meta`). Only then are those keys dropped from memory and the entries deleted here.
//! - A crash between the import's commit and the deletion leaves entries at or below
//!   `staged_through`; they are skipped and deleted at the next open, never imported twice.
//!   Entries above it are imported after a restart, and their keys reloaded for deduplication.
//!
//! Retention: an entry lives here from its ack until its import, normally milliseconds; a
//! backlog (the engine behind a burst) waits here rather than in the store's inbox.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::tables::{INBOX, META, SEEN_EVENTS};
use super::{Accepted, Arrival, Result, Store, StoreError, from_ms, ms, to_json};

/// Staged deliveries by sequence number (dense, from 1), each [`Staged`] behind a version byte.
const STAGED: TableDefinition<u64, &[u8]> = TableDefinition::new("staged");

/// The `meta` counter in the store: the last staged sequence number imported.
pub(super) const STAGED_THROUGH: &str = "staged_through";

const STAGED_V1: u8 = 1;

/// One staged delivery: when it arrived, its deduplication key, and its event as the inbox
/// stores it (JSON), copied into the inbox without being parsed again.
#[derive(Debug, Serialize, Deserialize)]
struct Staged<'a> {
    at: i64,
    #[serde(borrow)]
    key: Option<&'a str>,
    #[serde(borrow)]
    event: Option<&'a [u8]>,
}

impl Staged<'_> {
    fn encode(&self) -> Vec<u8> {
        // Integers, strings and bytes only: postcard cannot fail on them into a Vec.
        postcard::to_extend(self, vec![STAGED_V1]).expect("a staged delivery encodes")
    }

    fn decode(bytes: &[u8]) -> Option<Staged<'_>> {
        match bytes.split_first() {
            Some((&STAGED_V1, rest)) => postcard::from_bytes(rest).ok(),
            _ => None,
        }
    }
}

/// The staging file, and what is known of it in memory.
pub(super) struct Staging {
    db: Database,
    path: PathBuf,
    durable: bool,
    /// Held for the whole of an accept (its check, its commit, and the update below) and for
    /// the update after an import: deduplication sees either a key here or the import's commit.
    state: Mutex<State>,
    /// Held for a whole import: two at once would both take the same entries in.
    importing: Mutex<()>,
}

struct State {
    /// Keys staged and not yet imported into `seen_events`.
    pending: HashSet<String>,
    /// The next sequence number to hand out.
    next_seq: u64,
}

/// The staging file of the store at `store`: `asyncbot.redb` → `asyncbot.ingest.redb`.
pub fn staging_path(store: &Path) -> PathBuf {
    store.with_extension("ingest.redb")
}

impl Staging {
    /// Opens (or creates) the staging file, with a small page cache (it holds only what waits
    /// for the engine), deletes what the store has already imported, and reloads the keys of
    /// the rest.
    pub(super) fn open(path: PathBuf, durable: bool, imported: u64) -> Result<Self> {
        let mut builder = Database::builder();
        builder.set_cache_size(16 << 20);
        let db = builder.create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.clone()),
            other => StoreError::Open {
                path: path.clone(),
                reason: other.to_string(),
            },
        })?;
        let tx = db.begin_write()?;
        let (mut pending, mut last) = (HashSet::new(), imported);
        {
            let mut table = tx.open_table(STAGED)?;
            table.retain_in(..=imported, |_, _| false)?;
            for entry in table.iter()? {
                let (seq, bytes) = entry?;
                last = last.max(seq.value());
                if let Some(key) = Staged::decode(bytes.value()).and_then(|s| s.key) {
                    pending.insert(key.to_owned());
                }
            }
        }
        tx.commit()?;
        Ok(Staging {
            db,
            path,
            durable,
            state: Mutex::new(State {
                pending,
                next_seq: last + 1,
            }),
            importing: Mutex::new(()),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is updated only after a commit succeeded, in two plain steps: a panic
        // elsewhere cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last sequence number handed out.
    fn last_seq(&self) -> u64 {
        self.state().next_seq - 1
    }
}

impl Store {
    /// Records many deliveries in one durable commit (group commit): each answer says whether
    /// its arrival was new or a duplicate of an earlier one, in this batch or before it. All
    /// of them commit or none does.
    pub fn accept_events(&self, batch: &[Arrival]) -> Result<Vec<Accepted>> {
        self.stage(batch, || Ok(()))
    }

    /// [`Store::accept_events`], with `before_commit` run after the batch is written and before
    /// its commit: an error there (a test's full disk) commits nothing.
    pub(super) fn stage(
        &self,
        batch: &[Arrival],
        before_commit: impl FnOnce() -> Result<()>,
    ) -> Result<Vec<Accepted>> {
        let staging = &self.staging;
        let mut state = staging.state();
        // Begun after the lock is taken: a key an import dropped from `pending` is in the
        // `seen_events` this transaction reads.
        let seen_txn = self.db.begin_read()?;
        let seen = seen_txn.open_table(SEEN_EVENTS)?;
        let mut answers = Vec::with_capacity(batch.len());
        let mut new_keys: HashSet<&str> = HashSet::new();
        let mut seq = state.next_seq;
        let mut txn = staging.db.begin_write()?;
        if !staging.durable {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        {
            let mut table = txn.open_table(STAGED)?;
            for arrival in batch {
                if let Some(key) = arrival.key.as_deref() {
                    if state.pending.contains(key)
                        || new_keys.contains(key)
                        || seen.get(key)?.is_some()
                    {
                        answers.push(Accepted::Duplicate);
                        continue;
                    }
                    new_keys.insert(key);
                }
                if arrival.key.is_some() || arrival.event.is_some() {
                    let event_json = arrival.event.as_ref().map(to_json);
                    let staged = Staged {
                        at: ms(arrival.at),
                        key: arrival.key.as_deref(),
                        event: event_json.as_deref(),
                    };
                    table.insert(seq, staged.encode().as_slice())?;
                    seq += 1;
                }
                answers.push(Accepted::Queued);
            }
        }
        before_commit()?;
        if seq == state.next_seq {
            // Nothing new (only duplicates): nothing to make durable.
            return Ok(answers);
        }
        txn.commit()?;
        state.next_seq = seq;
        state
            .pending
            .extend(new_keys.into_iter().map(str::to_owned));
        Ok(answers)
    }

    /// Moves up to `limit` staged deliveries into the store, oldest first, in one durable
    /// transaction: their keys to `seen_events`, their events to the end of the inbox. Returns
    /// how many entries it took. An entry that cannot be read (written by an incompatible
    /// version) is logged and skipped.
    pub fn import_staged(&self, limit: usize) -> Result<usize> {
        let _importing = self
            .staging
            .importing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let imported = self.staged_through()?;
        let entries: Vec<(u64, Vec<u8>)> = {
            let txn = self.staging.db.begin_read()?;
            let table = txn.open_table(STAGED)?;
            let mut entries = Vec::new();
            for entry in table.range(imported + 1..)?.take(limit) {
                let (seq, bytes) = entry?;
                entries.push((seq.value(), bytes.value().to_vec()));
            }
            entries
        };
        let Some(&(through, _)) = entries.last() else {
            return Ok(0);
        };
        let mut keys = Vec::with_capacity(entries.len());
        self.write(|tx| {
            let mut inbox_seq = tx.counter("inbox")?;
            let mut inbox = tx.txn.open_table(INBOX)?;
            let mut seen = Vec::with_capacity(entries.len());
            for (seq, bytes) in &entries {
                let Some(staged) = Staged::decode(bytes) else {
                    tracing::error!(seq, "dropping an unreadable staged delivery");
                    continue;
                };
                if let Some(key) = staged.key {
                    seen.push((key, from_ms(staged.at)));
                    keys.push(key.to_owned());
                }
                if let Some(event) = staged.event {
                    inbox_seq += 1;
                    inbox.insert(inbox_seq, event)?;
                }
            }
            drop(inbox);
            tx.remember_all_seen(&seen)?;
            tx.set_counter("inbox", inbox_seq)?;
            tx.set_counter(STAGED_THROUGH, through)
        })?;
        {
            let mut state = self.staging.state();
            for key in &keys {
                state.pending.remove(key);
            }
        }
        // Not durable: if it is lost, the entries are at or below `staged_through` and are
        // deleted at the next open.
        let mut txn = self.staging.db.begin_write()?;
        txn.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Task(e.to_string()))?;
        txn.open_table(STAGED)?
            .retain_in(..=through, |_, _| false)?;
        txn.commit()?;
        Ok(entries.len())
    }

    /// Imports everything staged (see [`Store::import_staged`]): for a backup, which copies
    /// only the store.
    pub fn import_all_staged(&self) -> Result<u64> {
        let mut total = 0;
        loop {
            match self.import_staged(4096)? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }

    /// The last staged sequence number imported into the store.
    pub(super) fn staged_through(&self) -> Result<u64> {
        self.read(|rx| {
            Ok(rx
                .txn
                .open_table(META)?
                .get(STAGED_THROUGH)?
                .map_or(0, |v| v.value()))
        })
    }

    /// Staged entries waiting for import (events, and the replay keys of commands).
    pub(super) fn staged_waiting(&self) -> Result<u64> {
        Ok(self
            .staged_last_seq()
            .saturating_sub(self.staged_through()?))
    }

    /// The last staged sequence number handed out: how many deliveries were ever staged.
    pub(super) fn staged_last_seq(&self) -> u64 {
        self.staging.last_seq()
    }

    /// Staged entries waiting for import that carry an event: reads each of them.
    pub(super) fn staged_events(&self) -> Result<u64> {
        let imported = self.staged_through()?;
        let txn = self.staging.db.begin_read()?;
        let table = txn.open_table(STAGED)?;
        let mut events = 0;
        for entry in table.range(imported + 1..)? {
            let (_, bytes) = entry?;
            if Staged::decode(bytes.value()).is_some_and(|s| s.event.is_some()) {
                events += 1;
            }
        }
        Ok(events)
    }

    /// Whether `key` is staged and not yet imported.
    pub(super) fn is_staged(&self, key: &str) -> bool {
        self.staging.state().pending.contains(key)
    }

    /// The staging file beside the store (see the module's doc).
    pub fn staging_file(&self) -> &Path {
        self.staging.path()
    }

    /// Entries in the staging file, imported or not (deleted after import): for tests.
    #[cfg(test)]
    pub(super) fn staged_rows(&self) -> u64 {
        use redb::ReadableTableMetadata;
        let txn = self.staging.db.begin_read().unwrap();
        txn.open_table(STAGED).unwrap().len().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use proptest::prelude::*;

    use super::*;
    use crate::slack::inbound::Inbound;
    use crate::store::group_commit::tests::{arrival, event};

    /// Processes the inbox to its end, as the engine does: the events, oldest first.
    fn drain(s: &Store) -> Vec<Inbound> {
        let mut events = Vec::new();
        loop {
            let batch = s.next_inbound_batch(3).unwrap();
            if batch.is_empty() {
                return events;
            }
            for (seq, e) in batch {
                s.write(|tx| tx.finish_inbound(seq)).unwrap();
                events.push(e);
            }
        }
    }

    #[test]
    fn the_store_and_its_staging_file_sit_side_by_side() {
        assert_eq!(
            staging_path(Path::new("/var/lib/asyncbot/asyncbot.redb")),
            Path::new("/var/lib/asyncbot/asyncbot.ingest.redb")
        );
        assert_eq!(
            staging_path(Path::new("data/store.db")),
            Path::new("data/store.ingest.redb")
        );
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("asyncbot.redb")).unwrap();
        assert_eq!(s.staging_file(), dir.path().join("asyncbot.ingest.redb"));
        assert!(s.staging_file().exists());
        // Both files are held: a second process is refused, naming the one it found in use.
        assert!(matches!(
            Store::open(&dir.path().join("asyncbot.redb")),
            Err(StoreError::Locked(_))
        ));
    }

    #[test]
    fn what_was_acked_survives_a_restart_and_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let s = Store::open(&path).unwrap();
            let answers = s
                .accept_events(&[
                    arrival(Some("Ev1"), Some("1")),
                    arrival(Some("Ev2"), Some("2")),
                    arrival(Some("trigger:T1"), None),
                    arrival(Some("Ev3"), Some("3")),
                ])
                .unwrap();
            assert!(answers.iter().all(|a| *a == Accepted::Queued));
            // Imported into the store's inbox, not processed: the engine stopped here.
            assert_eq!(s.import_staged(1).unwrap(), 1);
            assert_eq!(s.inbox_len().unwrap(), 4);
            assert_eq!(s.events_queued().unwrap(), 3);
        }
        let s = Store::open(&path).unwrap();
        // The staged keys were reloaded: a retry of any of them is a duplicate.
        for key in ["Ev1", "Ev2", "Ev3", "trigger:T1"] {
            assert!(s.was_seen(key).unwrap(), "{key}");
        }
        assert_eq!(
            s.accept_events(&[
                arrival(Some("Ev3"), Some("3")),
                arrival(Some("trigger:T1"), None)
            ])
            .unwrap(),
            [Accepted::Duplicate, Accepted::Duplicate]
        );
        assert_eq!(drain(&s), [event("1"), event("2"), event("3")]);
        assert_eq!(s.staged_rows(), 0, "imported entries are deleted");
        assert_eq!(s.inbox_len().unwrap(), 0);
        drop(s);
        let s = Store::open(&path).unwrap();
        assert!(drain(&s).is_empty());
        // Now known from `seen_events`.
        assert_eq!(
            s.accept_event(Some("Ev2"), &event("2"), Utc::now())
                .unwrap(),
            Accepted::Duplicate
        );
        assert_eq!(s.events_queued().unwrap(), 3);
    }

    #[test]
    fn entries_left_behind_by_a_crash_after_their_import_are_not_imported_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let staged: Vec<(u64, Vec<u8>)>;
        {
            let s = Store::open(&path).unwrap();
            s.accept_events(&[
                arrival(Some("Ev1"), Some("1")),
                arrival(Some("Ev2"), Some("2")),
            ])
            .unwrap();
            staged = {
                let txn = s.staging.db.begin_read().unwrap();
                let table = txn.open_table(STAGED).unwrap();
                table
                    .iter()
                    .unwrap()
                    .map(|e| {
                        let (k, v) = e.unwrap();
                        (k.value(), v.value().to_vec())
                    })
                    .collect()
            };
            assert_eq!(drain(&s), [event("1"), event("2")]);
            // The deletion after the import was lost (the process died before it reached
            // the disk): the entries are back.
            let txn = s.staging.db.begin_write().unwrap();
            {
                let mut table = txn.open_table(STAGED).unwrap();
                for (seq, bytes) in &staged {
                    table.insert(*seq, bytes.as_slice()).unwrap();
                }
            }
            txn.commit().unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.staged_rows(), 0);
        assert!(drain(&s).is_empty());
        assert!(!s.is_staged("Ev1"));
        // Numbering goes on after the imported ones.
        s.accept_event(Some("Ev3"), &event("3"), Utc::now())
            .unwrap();
        assert_eq!(s.staged_last_seq(), 3);
        assert_eq!(drain(&s), [event("3")]);
    }

    #[test]
    fn an_unreadable_staged_entry_is_skipped_not_stuck() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb")).unwrap();
        s.accept_event(Some("Ev1"), &event("1"), Utc::now())
            .unwrap();
        // A future version's entry, then ours.
        {
            let txn = s.staging.db.begin_write().unwrap();
            txn.open_table(STAGED)
                .unwrap()
                .insert(1, [9u8, 1, 2, 3].as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        s.accept_event(Some("Ev2"), &event("2"), Utc::now())
            .unwrap();
        assert_eq!(drain(&s), [event("2")]);
        assert_eq!(s.staged_rows(), 0);
    }

    #[test]
    fn imports_running_at_once_take_each_entry_in_once() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb")).unwrap();
        let arrivals: Vec<Arrival> = (0..400)
            .map(|i| arrival(Some(&format!("Ev{i}")), Some(&i.to_string())))
            .collect();
        s.accept_events(&arrivals).unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| while s.import_staged(7).unwrap() > 0 {});
            }
        });
        let expected: Vec<Inbound> = (0..400).map(|i| event(&i.to_string())).collect();
        assert_eq!(drain(&s), expected);
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// A batch of deliveries: (key out of a few, carries an event).
        Accept(Vec<(Option<u8>, bool)>),
        /// The engine imports up to this many.
        Import(usize),
        /// The engine processes up to this many.
        Process(usize),
        /// The process stops and starts again.
        Restart,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => proptest::collection::vec((proptest::option::of(0u8..6), any::<bool>()), 0..6)
                .prop_map(Op::Accept),
            2 => (1usize..5).prop_map(Op::Import),
            2 => (1usize..5).prop_map(Op::Process),
            1 => Just(Op::Restart),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Whatever the order of acks, imports, processing and restarts: each key is accepted
        /// once, every accepted event is processed exactly once, in the order of its ack.
        #[test]
        fn every_acked_event_is_processed_once_in_order(ops in proptest::collection::vec(op(), 1..24)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("s.redb");
            let mut store = Some(Store::open(&path).unwrap());
            let (mut seen, mut expected, mut processed) = (HashSet::new(), Vec::new(), Vec::new());
            let mut n = 0;
            for op in ops {
                let s = store.as_ref().unwrap();
                match op {
                    Op::Accept(batch) => {
                        let arrivals: Vec<Arrival> = batch
                            .iter()
                            .map(|(key, has_event)| {
                                n += 1;
                                let key = key.map(|k| format!("Ev{k}"));
                                Arrival {
                                    key,
                                    event: has_event.then(|| event(&n.to_string())),
                                    at: Utc::now(),
                                }
                            })
                            .collect();
                        let answers = s.accept_events(&arrivals).unwrap();
                        for (arrival, answer) in arrivals.iter().zip(answers) {
                            let new = arrival.key.as_ref().is_none_or(|k| seen.insert(k.clone()));
                            prop_assert_eq!(answer == Accepted::Queued, new, "{:?}", arrival);
                            if let (true, Some(e)) = (new, &arrival.event) {
                                expected.push(e.clone());
                            }
                        }
                    }
                    Op::Import(k) => {
                        s.import_staged(k).unwrap();
                    }
                    Op::Process(k) => {
                        for (seq, e) in s.next_inbound_batch(k).unwrap() {
                            s.write(|tx| tx.finish_inbound(seq)).unwrap();
                            processed.push(e);
                        }
                    }
                    Op::Restart => {
                        // The files are released before they are opened again.
                        drop(store.take());
                        store = Some(Store::open(&path).unwrap());
                    }
                }
            }
            let s = store.as_ref().unwrap();
            prop_assert_eq!(s.events_queued().unwrap() as usize, expected.len());
            processed.extend(drain(s));
            prop_assert_eq!(processed, expected);
            prop_assert_eq!(s.inbox_len().unwrap(), 0);
            for key in &seen {
                prop_assert!(s.was_seen(key).unwrap());
            }
        }
    }
}
