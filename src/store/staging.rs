//! The staging inbox: where a delivery is made durable before its ack, in an append-only log
//! of its own beside the store (`<store>.ingest/`, see `ingest_log`).
//!
//! Why apart from the store: redb has one writer at a time per database. In the store itself,
//! an ack would wait behind whatever the engine is committing (a batch of 256 events, a
//! prune), and its commit would rewrite the pages of the `seen_events` B-tree, whose keys
//! (Slack's event ids) are random. Here an ack's batch is one write at the end of a
//! preallocated file and one `fdatasync`, and nothing else ever waits on that (see README,
//! "Performance").
//!
//! The flow:
//! - [`Store::accept_events`] deduplicates a batch (against the keys staged here and not yet
//!   imported, kept in memory, and against the store's `seen_events`), appends the new ones,
//!   flushes, then answers: each acked delivery is on disk.
//! - The engine imports staged entries into the store's inbox before it reads it
//!   ([`Store::import_staged`]): one durable store transaction moves their keys to
//!   `seen_events` and their events to `inbox`, and records how far it got (`staged_through`
//!   in `meta`). Only then are those keys dropped from memory, and the log's segments whose
//!   entries are all imported are let go of (kept for reuse or deleted).
//! - At open, entries at or below `staged_through` are skipped: an entry is never imported
//!   twice, whenever the process stopped. Entries above it are imported after a restart, and
//!   their keys reloaded for deduplication.
//! - A store last run by a version that staged in a redb file (`<store>.ingest.redb`) has that
//!   file's entries imported into the store at open, and the file deleted.
//!
//! Retention: an entry lives here from its ack until its import, normally milliseconds; a
//! backlog (the engine behind a burst) waits here rather than in the store's inbox.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use redb::{Database, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};

use super::ingest_log::IngestLog;
use super::tables::{INBOX, META};
use super::{Accepted, Arrival, Result, Store, StoreError, Tx, from_ms, ms, to_json};

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

/// The staging log, and what is known of it in memory.
pub(super) struct Staging {
    log: IngestLog,
    /// Held for the whole of an accept (its check, its append, and the update below) and for
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

/// The staging log of the store at `store`, a directory: `asyncbot.redb` → `asyncbot.ingest`.
pub fn staging_path(store: &Path) -> PathBuf {
    store.with_extension("ingest")
}

/// Where versions before the log staged deliveries: `asyncbot.redb` → `asyncbot.ingest.redb`.
pub fn old_staging_path(store: &Path) -> PathBuf {
    store.with_extension("ingest.redb")
}

/// The table of the old staging file: entries by sequence number, each a [`Staged`].
const OLD_STAGED: TableDefinition<u64, &[u8]> = TableDefinition::new("staged");

fn log_error(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |error| StoreError::IngestLog {
        path: path.to_owned(),
        error,
    }
}

impl Staging {
    /// Opens (or creates) the staging log, skipping what the store has already imported, and
    /// reloads the keys of the rest.
    pub(super) fn open(path: PathBuf, durable: bool, imported: u64) -> Result<Self> {
        let mut pending = HashSet::new();
        let (log, last) = IngestLog::open(&path, durable, imported, |_, payload| {
            if let Some(key) = Staged::decode(payload).and_then(|s| s.key) {
                pending.insert(key.to_owned());
            }
        })
        .map_err(log_error(&path))?;
        Ok(Staging {
            log,
            state: Mutex::new(State {
                pending,
                next_seq: last + 1,
            }),
            importing: Mutex::new(()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is updated only after an append succeeded, in two plain steps: a panic
        // elsewhere cannot leave it half-changed.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last sequence number handed out.
    fn last_seq(&self) -> u64 {
        self.state().next_seq - 1
    }
}

/// Imports the entries of an old staging file (`<store>.ingest.redb`) above `imported` into
/// the store, in one durable transaction, then deletes the file. Returns the new
/// `staged_through`.
pub(super) fn import_old_staging(db: &Database, old: &Path, imported: u64) -> Result<u64> {
    let open_error = |reason: String| StoreError::Open {
        path: old.to_owned(),
        reason,
    };
    let entries: Vec<(u64, Vec<u8>)> = {
        let file = Database::open(old).map_err(|e| open_error(e.to_string()))?;
        let txn = file.begin_read()?;
        match txn.open_table(OLD_STAGED) {
            Ok(table) => {
                let mut entries = Vec::new();
                for entry in table.range(imported + 1..)? {
                    let (seq, bytes) = entry?;
                    entries.push((seq.value(), bytes.value().to_vec()));
                }
                entries
            }
            Err(redb::TableError::TableDoesNotExist(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        }
    };
    let through = entries.last().map_or(imported, |&(seq, _)| seq);
    if !entries.is_empty() {
        let txn = db.begin_write()?;
        {
            let mut tx = Tx { txn: &txn };
            import_into(
                &mut tx,
                entries.iter().map(|(seq, b)| (*seq, Some(b.as_slice()))),
                through,
            )?;
        }
        txn.commit()?;
        tracing::info!(entries = entries.len(), file = %old.display(), "imported the deliveries staged by an earlier version");
    }
    std::fs::remove_file(old).map_err(|e| open_error(e.to_string()))?;
    Ok(through)
}

/// Moves staged entries into the store inside `tx`: keys to `seen_events`, events to the end
/// of the inbox, and `staged_through` set to `through`. Returns the keys. An entry that cannot
/// be read (written by an incompatible version, or damaged) is logged and skipped.
fn import_into<'a>(
    tx: &mut Tx<'_>,
    entries: impl Iterator<Item = (u64, Option<&'a [u8]>)>,
    through: u64,
) -> Result<Vec<String>> {
    let mut inbox_seq = tx.counter("inbox")?;
    let mut inbox = tx.txn.open_table(INBOX)?;
    let mut seen = Vec::new();
    let mut keys = Vec::new();
    for (seq, bytes) in entries {
        let Some(staged) = bytes.and_then(Staged::decode) else {
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
    tx.set_counter(STAGED_THROUGH, through)?;
    Ok(keys)
}

impl Store {
    /// Records many deliveries with one durable append (group commit): each answer says
    /// whether its arrival was new or a duplicate of an earlier one, in this batch or before
    /// it. All of them are recorded or none is.
    pub fn accept_events(&self, batch: &[Arrival]) -> Result<Vec<Accepted>> {
        self.stage(batch, || Ok(()))
    }

    /// [`Store::accept_events`], with `before_commit` run after the batch is encoded and before
    /// it is written: an error there (a test's full disk) records nothing.
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
        let seen = seen_txn.open_table(super::tables::SEEN_EVENTS)?;
        let mut answers = Vec::with_capacity(batch.len());
        let mut new_keys: HashSet<&str> = HashSet::new();
        let mut payloads: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut seq = state.next_seq;
        for arrival in batch {
            if let Some(key) = arrival.key.as_deref() {
                if state.pending.contains(key) || new_keys.contains(key) || seen.get(key)?.is_some()
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
                payloads.push((seq, staged.encode()));
                seq += 1;
            }
            answers.push(Accepted::Queued);
        }
        before_commit()?;
        if payloads.is_empty() {
            // Nothing new (only duplicates): nothing to make durable.
            return Ok(answers);
        }
        let records: Vec<(u64, &[u8])> = payloads.iter().map(|(s, p)| (*s, p.as_slice())).collect();
        staging
            .log
            .append(&records)
            .map_err(log_error(staging.log.dir()))?;
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
        let log = &self.staging.log;
        let imported = self.staged_through()?;
        let entries = log
            .read_from(imported + 1, limit)
            .map_err(log_error(log.dir()))?;
        let Some(&(through, _)) = entries.last() else {
            return Ok(0);
        };
        let keys = self.write(|tx| {
            import_into(
                tx,
                entries.iter().map(|(seq, bytes)| (*seq, bytes.as_deref())),
                through,
            )
        })?;
        {
            let mut state = self.staging.state();
            for key in &keys {
                state.pending.remove(key);
            }
        }
        // The store's commit above says they are imported: their segments may go.
        log.release_through(through).map_err(log_error(log.dir()))?;
        if let Err(e) = log.prepare_spare() {
            // Only an append that fills a segment waits longer (it makes the file itself).
            tracing::warn!(error = %e, dir = %log.dir().display(), "cannot prepare the next ingest log segment");
        }
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
        let log = &self.staging.log;
        let mut from = self.staged_through()? + 1;
        let mut events = 0;
        loop {
            let chunk = log.read_from(from, 4096).map_err(log_error(log.dir()))?;
            let Some(&(last, _)) = chunk.last() else {
                return Ok(events);
            };
            events += chunk
                .iter()
                .filter(|(_, bytes)| {
                    bytes
                        .as_deref()
                        .and_then(Staged::decode)
                        .is_some_and(|s| s.event.is_some())
                })
                .count() as u64;
            from = last + 1;
        }
    }

    /// Whether `key` is staged and not yet imported.
    pub(super) fn is_staged(&self, key: &str) -> bool {
        self.staging.state().pending.contains(key)
    }

    /// Why the staging log refuses every ack until a restart, if a write or flush to it failed.
    pub fn ingest_failure(&self) -> Option<String> {
        self.staging.log.failure().map(str::to_owned)
    }

    /// The staging log's directory beside the store (see the module's doc).
    pub fn staging_dir(&self) -> &Path {
        self.staging.log.dir()
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
    fn the_store_and_its_staging_log_sit_side_by_side() {
        assert_eq!(
            staging_path(Path::new("/var/lib/asyncbot/asyncbot.redb")),
            Path::new("/var/lib/asyncbot/asyncbot.ingest")
        );
        assert_eq!(
            staging_path(Path::new("data/store.db")),
            Path::new("data/store.ingest")
        );
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("asyncbot.redb")).unwrap();
        assert_eq!(s.staging_dir(), dir.path().join("asyncbot.ingest"));
        assert!(s.staging_dir().is_dir());
        // The store is held: a second process is refused before it touches the log.
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
    fn entries_still_in_the_log_after_their_import_are_not_imported_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let s = Store::open(&path).unwrap();
            s.accept_events(&[
                arrival(Some("Ev1"), Some("1")),
                arrival(Some("Ev2"), Some("2")),
            ])
            .unwrap();
            assert_eq!(drain(&s), [event("1"), event("2")]);
            // The segment appended to is kept: the process stops with the entries on disk.
            assert_eq!(s.staging.log.held(), 2);
        }
        let s = Store::open(&path).unwrap();
        assert!(drain(&s).is_empty());
        assert!(!s.is_staged("Ev1"));
        assert!(s.was_seen("Ev1").unwrap());
        // Numbering goes on after the imported ones.
        s.accept_event(Some("Ev3"), &event("3"), Utc::now())
            .unwrap();
        assert_eq!(s.staged_last_seq(), 3);
        assert_eq!(drain(&s), [event("3")]);
        // The segment written before the restart is let go of once all of it is imported.
        assert_eq!(s.staging.log.held(), 1);
    }

    #[test]
    fn an_unreadable_staged_entry_is_skipped_not_stuck() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("s.redb")).unwrap();
        s.accept_event(Some("Ev1"), &event("1"), Utc::now())
            .unwrap();
        // A future version's entry, then ours.
        {
            let mut state = s.staging.state();
            s.staging
                .log
                .append(&[(state.next_seq, [9u8, 1, 2, 3].as_slice())])
                .unwrap();
            state.next_seq += 1;
        }
        s.accept_event(Some("Ev2"), &event("2"), Utc::now())
            .unwrap();
        assert_eq!(s.staged_waiting().unwrap(), 3);
        assert_eq!(s.staged_events().unwrap(), 2);
        assert_eq!(drain(&s), [event("1"), event("2")]);
        assert_eq!(s.staged_waiting().unwrap(), 0);
    }

    #[test]
    fn what_an_earlier_version_staged_in_its_redb_file_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let old = old_staging_path(&path);
        assert_eq!(old, dir.path().join("s.ingest.redb"));
        {
            let file = Database::create(&old).unwrap();
            let txn = file.begin_write().unwrap();
            {
                let mut table = txn.open_table(OLD_STAGED).unwrap();
                for (seq, key, ts) in [(1u64, "Ev1", "1"), (2, "Ev2", "2")] {
                    let json = to_json(&event(ts));
                    let staged = Staged {
                        at: ms(Utc::now()),
                        key: Some(key),
                        event: Some(&json),
                    };
                    table.insert(seq, staged.encode().as_slice()).unwrap();
                }
                // An unreadable one is skipped, as in the log.
                table.insert(3, [9u8].as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert!(!old.exists(), "the old file is deleted once imported");
        assert!(s.was_seen("Ev2").unwrap());
        assert_eq!(s.staged_through().unwrap(), 3);
        s.accept_event(Some("Ev4"), &event("4"), Utc::now())
            .unwrap();
        assert_eq!(
            s.staged_last_seq(),
            4,
            "numbering goes on after the old file's"
        );
        assert_eq!(drain(&s), [event("1"), event("2"), event("4")]);
        drop(s);
        let s = Store::open(&path).unwrap();
        assert!(drain(&s).is_empty());
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
