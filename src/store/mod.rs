//! The embedded store (redb): everything the bot has promised to do later. Tables are defined in
//! one place (`tables`), each group of tables has its module (inbox, requests, timers, outbox,
//! RFCs, standups, people, dead letters); each use case is one write transaction, so a state
//! change, its timers and the messages it causes commit together or not at all, and survive
//! `kill -9`. Deliveries are made durable before their ack in a second, small file beside it
//! (`staging`), so that an ack never waits for the engine's transactions.

mod budget;
mod coaching;
mod dead_letters;
mod group_commit;
mod inbox;
mod ingest_log;
mod outbox;
mod outcomes;
mod people;
mod presence;
mod requests;
pub mod retention;
mod rfcs;
mod staging;
mod standups;
mod stats;
mod tables;
mod timers;
mod weekly;
mod working_time;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use redb::{
    Database, Key, MultimapTableDefinition, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, TableDefinition, Value, WriteTransaction,
};
use serde::{Serialize, de::DeserializeOwned};

pub use budget::{BudgetReads, Digest, digest_timer};
pub use coaching::CoachingReads;
pub use dead_letters::{DeadKind, DeadLetter};
pub use group_commit::GroupCommit;
pub use inbox::{Accepted, Arrival};
pub use outbox::{OutboxReads, OutboxRecord, QueueHead};
pub use outcomes::{ClosedRecord, OutcomeReads};
pub use people::{CachedUser, PeopleReads};
pub use presence::PresenceReads;
pub use requests::{RequestReads, request_record_len};
pub use rfcs::RfcReads;
pub use staging::staging_path;
pub use standups::StandupReads;
pub use stats::StoreStats;
use tables::*;
pub use timers::TimerKey;
pub use weekly::{WeeklyReads, weekly_timer};
pub use working_time::WorkingTimeReads;

/// Everything needed to read the store: `use crate::store::prelude::*;`.
pub mod prelude {
    pub use super::{
        BudgetReads, CoachingReads, OutboxReads, OutcomeReads, PeopleReads, PresenceReads, Reads,
        RequestReads, RfcReads, StandupReads, WeeklyReads, WorkingTimeReads,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the store {0} is in use by another asyncbot process (stop the bot first, or point --config at another store)"
    )]
    Locked(PathBuf),
    #[error("cannot open the store {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error("store error: {0}")]
    Db(#[from] redb::Error),
    #[error("stored record {what} cannot be read: {reason}")]
    Corrupt { what: String, reason: String },
    #[error("store task failed: {0}")]
    Task(String),
    #[error("too many deliveries are waiting for a commit; refused so that Slack retries")]
    Busy,
    #[error("the group commit failed: {0}")]
    GroupCommit(String),
    #[error("the ingest log {path}: {error}")]
    IngestLog {
        path: PathBuf,
        error: std::io::Error,
    },
}

macro_rules! db_err {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}
db_err!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// Where deliveries are made durable before their ack (`staging`).
    staging: Arc<staging::Staging>,
    /// False for a scratch store (`asyncbot simulate`): commits skip the fsync, since nothing
    /// has to survive the process.
    durable: bool,
}

/// A reference to the store that does not keep it open: the group-commit writer's, so that
/// once the bot's last handle is dropped the file is free at once (for the offline tools),
/// whenever the writer task next runs.
#[derive(Clone)]
pub(crate) struct WeakStore {
    db: std::sync::Weak<Database>,
    staging: std::sync::Weak<staging::Staging>,
    durable: bool,
}

impl WeakStore {
    pub(crate) fn upgrade(&self) -> Option<Store> {
        Some(Store {
            db: self.db.upgrade()?,
            staging: self.staging.upgrade()?,
            durable: self.durable,
        })
    }
}

impl Store {
    pub(crate) fn downgrade(&self) -> WeakStore {
        WeakStore {
            db: Arc::downgrade(&self.db),
            staging: Arc::downgrade(&self.staging),
            durable: self.durable,
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Our own types always serialize: no maps with non-string keys, no failing Serialize impls.
    serde_json::to_vec(value).expect("stored types serialize to JSON")
}

fn from_json<T: DeserializeOwned>(what: impl FnOnce() -> String, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: what(),
        reason: e.to_string(),
    })
}

fn ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn message_key(channel: &str, ts: &str) -> String {
    format!("{channel}:{ts}")
}

fn get_json<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &str,
    key: &str,
) -> Result<Option<T>> {
    match table.get(key)? {
        Some(v) => Ok(Some(from_json(|| format!("{name}/{key}"), v.value())?)),
        None => Ok(None),
    }
}

impl Store {
    /// Opens (or creates) the store at `path`, creating its directory, with redb's default
    /// cache (up to 1 GiB, filled as pages are read): for short-lived tools and tests. The bot
    /// uses [`Store::open_with_cache`].
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, Database::builder(), true)
    }

    /// Opens (or creates) the store at `path` with a page cache of at most `cache_bytes`
    /// (`store.cache_size`): the bound on the store's share of resident memory, whatever the
    /// number of requests it holds.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self> {
        let mut builder = Database::builder();
        builder.set_cache_size(cache_bytes);
        Self::open_with(path, builder, true)
    }

    /// Opens the store, then its staging log beside it (see `staging`).
    fn open_with(path: &Path, builder: redb::Builder, durable: bool) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        }
        let db = builder.create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.to_owned()),
            other => StoreError::Open {
                path: path.to_owned(),
                reason: other.to_string(),
            },
        })?;
        let db = Arc::new(db);
        create_tables(&db)?;
        let mut imported = db
            .begin_read()?
            .open_table(META)?
            .get(staging::STAGED_THROUGH)?
            .map_or(0, |v| v.value());
        let old = staging::old_staging_path(path);
        if old.exists() {
            imported = staging::import_old_staging(&db, &old, imported)?;
        }
        let staging = staging::Staging::open(staging_path(path), durable, imported)?;
        Ok(Store {
            db,
            staging: Arc::new(staging),
            durable,
        })
    }

    /// A store whose commits are not made durable (no fsync): for a simulation, thrown away
    /// at the end.
    pub fn open_scratch(path: &Path) -> Result<Self> {
        Self::open_with(path, Database::builder(), false)
    }
}

/// Creates every table the store has (a no-op for those that exist).
fn create_tables(db: &Database) -> Result<()> {
    let tx = db.begin_write()?;
    tx.open_table(META)?;
    tx.open_table(SEEN_EVENTS)?;
    tx.open_table(INBOX)?;
    tx.open_table(REQUESTS)?;
    tx.open_multimap_table(REQUESTS_BY_MESSAGE)?;
    tx.open_multimap_table(REQUESTS_BY_THREAD)?;
    tx.open_multimap_table(OPEN_BY_RECIPIENT)?;
    tx.open_multimap_table(OPEN_BY_AUTHOR)?;
    tx.open_table(TIMERS)?;
    tx.open_table(OUTBOX)?;
    tx.open_table(USERS)?;
    tx.open_table(PRESENCE)?;
    tx.open_table(TAGS)?;
    tx.open_table(TAGGED_MESSAGES)?;
    tx.open_table(RFCS)?;
    tx.open_multimap_table(RFCS_BY_CHANNEL)?;
    tx.open_table(FACTS)?;
    tx.open_table(STANDUP_SCHEDULES)?;
    tx.open_table(STANDUP_DAYS)?;
    tx.open_table(AWAY)?;
    tx.open_table(WORKING_TIME)?;
    tx.open_table(NUDGES_BY_DAY)?;
    tx.open_table(DIGESTS)?;
    tx.open_table(PENDING_LOOKUPS)?;
    tx.open_table(DEAD_LETTERS)?;
    tx.open_table(DROPPED_TAGS)?;
    // The retention indexes (see `retention`).
    tx.open_table(SEEN_BY_TIME)?;
    tx.open_table(CLOSED_REQUESTS)?;
    tx.open_table(STANDUP_DAYS_BY_DATE)?;
    tx.open_table(AWAY_BY_END)?;
    tx.open_table(DROPPED_BY_TIME)?;
    tx.open_table(OUTBOX_QUEUES)?;
    tx.open_multimap_table(OUTBOX_BY_PARENT)?;
    tx.open_table(OUTBOX_BY_TAG)?;
    tx.open_table(NOHELLO_TIPS)?;
    tx.open_table(NOHELLO_TIPS_BY_TIME)?;
    tx.open_table(OUTCOMES)?;
    tx.open_table(WEEKLY)?;
    Tx { txn: &tx }.index_outbox_once()?;
    tx.commit()?;
    Ok(())
}

impl Store {
    /// Runs blocking store work off the async runtime's worker threads.
    pub async fn call<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// One write transaction: `f` reads and writes through [`Tx`]; all of it commits or none.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        let mut txn = self.db.begin_write()?;
        if !self.durable {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        let result = {
            let mut tx = Tx { txn: &txn };
            f(&mut tx)?
        };
        txn.commit()?;
        Ok(result)
    }

    pub fn read<T>(&self, f: impl FnOnce(&Rx) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_read()?;
        f(&Rx { txn })
    }

    pub fn set_fact(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| tx.set_fact(key, value))
    }

    pub fn fact(&self, key: &str) -> Result<Option<String>> {
        self.read(|rx| rx.fact(key))
    }
}

/// Reads, the same inside a read or a write transaction.
pub trait Reads {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V>>;

    fn multimap<K: Key + 'static, V: Key + 'static>(
        &self,
        def: MultimapTableDefinition<K, V>,
    ) -> Result<impl ReadableMultimapTable<K, V>>;

    fn fact(&self, key: &str) -> Result<Option<String>> {
        let table = self.table(FACTS)?;
        let found = table.get(key)?;
        Ok(found.map(|v| v.value().to_owned()))
    }
}

/// Reads inside one read transaction.
pub struct Rx {
    txn: ReadTransaction,
}

impl Reads for Rx {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V>> {
        Ok(self.txn.open_table(def)?)
    }

    fn multimap<K: Key + 'static, V: Key + 'static>(
        &self,
        def: MultimapTableDefinition<K, V>,
    ) -> Result<impl ReadableMultimapTable<K, V>> {
        Ok(self.txn.open_multimap_table(def)?)
    }
}

/// Reads and writes inside one write transaction.
pub struct Tx<'a> {
    txn: &'a WriteTransaction,
}

impl Reads for Tx<'_> {
    fn table<K: Key + 'static, V: Value + 'static>(
        &self,
        def: TableDefinition<K, V>,
    ) -> Result<impl ReadableTable<K, V>> {
        Ok(self.txn.open_table(def)?)
    }

    fn multimap<K: Key + 'static, V: Key + 'static>(
        &self,
        def: MultimapTableDefinition<K, V>,
    ) -> Result<impl ReadableMultimapTable<K, V>> {
        Ok(self.txn.open_multimap_table(def)?)
    }
}

impl Tx<'_> {
    /// A counter's value (0 if never set).
    pub fn counter(&self, counter: &str) -> Result<u64> {
        Ok(self
            .txn
            .open_table(META)?
            .get(counter)?
            .map_or(0, |v| v.value()))
    }

    pub fn set_counter(&mut self, counter: &str, value: u64) -> Result<()> {
        self.txn.open_table(META)?.insert(counter, value)?;
        Ok(())
    }

    /// The next value of a named counter, starting at 1.
    pub fn next_id(&mut self, counter: &str) -> Result<u64> {
        let mut meta = self.txn.open_table(META)?;
        let next = meta.get(counter)?.map_or(1, |v| v.value() + 1);
        meta.insert(counter, next)?;
        Ok(next)
    }

    pub fn set_fact(&mut self, key: &str, value: &str) -> Result<()> {
        self.txn.open_table(FACTS)?.insert(key, value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outbox::{Destination, OutgoingMessage};
    use crate::slack::inbound::Inbound;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("sub/asyncbot.redb")).unwrap();
        (dir, store)
    }

    fn event() -> Inbound {
        Inbound::MessageDeleted {
            channel: "C1".into(),
            ts: "1.2".into(),
        }
    }

    #[test]
    fn an_event_id_is_accepted_once() {
        let (_dir, s) = store();
        let now = Utc::now();
        assert_eq!(
            s.accept_event(Some("Ev1"), &event(), now).unwrap(),
            Accepted::Queued
        );
        assert_eq!(
            s.accept_event(Some("Ev1"), &event(), now).unwrap(),
            Accepted::Duplicate
        );
        assert_eq!(
            s.accept_event(Some("Ev2"), &event(), now).unwrap(),
            Accepted::Queued
        );
        let (seq, ev) = s.next_inbound().unwrap().unwrap();
        assert_eq!(ev, event());
        s.write(|tx| tx.finish_inbound(seq)).unwrap();
        let (seq2, _) = s.next_inbound().unwrap().unwrap();
        assert!(seq2 > seq);
        s.write(|tx| tx.finish_inbound(seq2)).unwrap();
        assert!(s.next_inbound().unwrap().is_none());
    }

    #[test]
    fn a_second_process_is_refused_with_a_clear_error() {
        let (dir, _s) = store();
        let err = Store::open(&dir.path().join("sub/asyncbot.redb"))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::Locked(_)), "{err}");
        assert!(
            err.to_string()
                .contains("in use by another asyncbot process")
        );
    }

    #[test]
    fn the_outbox_commits_with_its_transaction_or_not_at_all() {
        let (_dir, s) = store();
        let now = Utc::now();
        let msg = OutgoingMessage::new(
            Destination::Channel {
                channel: "C1".into(),
            },
            "hi",
        );
        let failed: Result<()> = s.write(|tx| {
            tx.enqueue(msg.clone(), now)?;
            Err(StoreError::Task("boom".into()))
        });
        assert!(failed.is_err());
        assert_eq!(s.outbox_len().unwrap(), 0);
        s.write(|tx| tx.enqueue(msg.clone(), now)).unwrap();
        let items = s.pending_outbox(10).unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].message, msg);
        s.outbox_remove(items[0].id).unwrap();
        assert_eq!(s.outbox_len().unwrap(), 0);
    }

    #[test]
    fn unreadable_entries_are_dropped_instead_of_blocking_the_queue() {
        let (_dir, s) = store();
        s.write(|tx| {
            tx.txn
                .open_table(INBOX)?
                .insert(0, b"{not json".as_slice())?;
            tx.txn.open_table(OUTBOX)?.insert(1, b"[]".as_slice())?;
            Ok(())
        })
        .unwrap();
        s.accept_event(Some("Ev1"), &event(), Utc::now()).unwrap();
        let (_, ev) = s.next_inbound().unwrap().unwrap();
        assert_eq!(ev, event());
        assert!(s.pending_outbox(10).unwrap().is_empty());
        assert_eq!(s.outbox_len().unwrap(), 0);
    }

    #[test]
    fn a_timer_in_the_current_millisecond_is_still_ahead() {
        let (_dir, s) = store();
        let at: DateTime<Utc> = "2026-11-22T03:51:49.011883469Z".parse().unwrap();
        s.write(|tx| {
            tx.txn.open_table(TIMERS)?.insert((ms(at), "sla:150"), ())?;
            tx.txn
                .open_table(TIMERS)?
                .insert((ms(at) - 5, "sla:149"), ())?;
            Ok(())
        })
        .unwrap();
        // Looked at half a millisecond before it is due, within its millisecond: the timer is
        // not due yet (its request says .011883) but must still be the next wake-up.
        let now: DateTime<Utc> = "2026-11-22T03:51:49.011500Z".parse().unwrap();
        assert_eq!(s.next_timer_due_after(now).unwrap(), Some(from_ms(ms(at))));
        let later: DateTime<Utc> = "2026-11-22T03:51:49.012000Z".parse().unwrap();
        assert_eq!(s.next_timer_due_after(later).unwrap(), None);
    }

    #[test]
    fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.redb");
        {
            let s = Store::open(&path).unwrap();
            s.accept_event(Some("Ev9"), &event(), Utc::now()).unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert!(s.next_inbound().unwrap().is_some());
        assert_eq!(
            s.accept_event(Some("Ev9"), &event(), Utc::now()).unwrap(),
            Accepted::Duplicate
        );
    }
}
