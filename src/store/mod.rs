//! The embedded store (redb): everything the bot has promised to do later. Tables are defined
//! here, in one place; each use case is one write transaction, so a state change, its timers and
//! the messages it causes commit together or not at all, and survive `kill -9`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use redb::{
    Database, Key, MultimapTableDefinition, ReadTransaction, ReadableDatabase,
    ReadableMultimapTable, ReadableTable, ReadableTableMetadata, TableDefinition, Value,
    WriteTransaction,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::domain::outbox::{OutboxItem, OutgoingMessage};
use crate::domain::rfc::Rfc;
use crate::domain::sla::SlaRequest;
use crate::domain::standup::{Away, Schedule, StandupDay};
use crate::slack::inbound::Inbound;

/// Counters (`next_request_id`, …).
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Slack `event_id`s already accepted, with when (unix ms): retries are processed once.
const SEEN_EVENTS: TableDefinition<&str, i64> = TableDefinition::new("seen_events");
/// Accepted events not yet processed, in arrival order. Acked to Slack only once written here.
const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("inbox");
/// SLA requests by id (JSON `SlaRequest`), open and recently closed.
const REQUESTS: TableDefinition<u64, &[u8]> = TableDefinition::new("sla_requests");
/// "channel:message_ts" → request ids of that message.
const REQUESTS_BY_MESSAGE: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_requests_by_message");
/// "channel:thread_root" → request ids living in that thread.
const REQUESTS_BY_THREAD: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_requests_by_thread");
/// recipient → ids of their *open* requests. Invariant: holds exactly the open requests.
const OPEN_BY_RECIPIENT: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_open_by_recipient");
/// author → ids of *open* requests they are waiting on. Same invariant.
const OPEN_BY_AUTHOR: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_open_by_author");
/// (due unix ms, timer key) → (). Invariant: one entry per entity with a pending timer, at the
/// due time the entity itself records.
const TIMERS: TableDefinition<(i64, &str), ()> = TableDefinition::new("timers");
/// Messages to deliver, in order (JSON `OutboxItem`).
const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
/// Facts learnt at start-up that offline tools need (`team_url`).
const FACTS: TableDefinition<&str, &str> = TableDefinition::new("facts");
/// RFCs by number (JSON `Rfc`): the decision log. Never pruned.
const RFCS: TableDefinition<u64, &[u8]> = TableDefinition::new("rfcs");
/// channel → RFC numbers posted there.
const RFCS_BY_CHANNEL: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("rfcs_by_channel");
/// channel → JSON `Schedule`.
const STANDUP_SCHEDULES: TableDefinition<&str, &[u8]> = TableDefinition::new("standup_schedules");
/// "channel:YYYY-MM-DD" → JSON `StandupDay`.
const STANDUP_DAYS: TableDefinition<&str, &[u8]> = TableDefinition::new("standup_days");
/// user → JSON `Vec<Away>`.
const AWAY: TableDefinition<&str, &[u8]> = TableDefinition::new("away");
/// tag → "channel ts" of the message posted with that tag.
const TAGS: TableDefinition<&str, &str> = TableDefinition::new("message_tags");
/// "channel:ts" → tag: which of our messages a reply or a reaction is about.
const TAGGED_MESSAGES: TableDefinition<&str, &str> = TableDefinition::new("tagged_messages");
/// Cached `users.info` answers (JSON `CachedUser`).
const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// People whose `users.info` lookup failed or was skipped (Slack slow): user → since (unix ms).
/// Their requests run on the fallback zone until a later lookup corrects them.
const PENDING_LOOKUPS: TableDefinition<&str, i64> = TableDefinition::new("pending_lookups");
/// Work that failed repeatedly (JSON `DeadLetter`), kept for an operator: never retried on its
/// own, listed by `asyncbot dead-letters`.
const DEAD_LETTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
/// Tags of messages Slack refused for good, with when (unix ms): whatever refers to them (an
/// edit, a reply in their thread) is dropped at once instead of waiting for a post that never
/// comes.
const DROPPED_TAGS: TableDefinition<&str, i64> = TableDefinition::new("dropped_tags");

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

/// A person as `users.info` described them, and when we asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedUser {
    pub id: String,
    /// The person's name (for exports outside Slack); older records have none.
    #[serde(default)]
    pub name: Option<String>,
    pub tz: Option<String>,
    pub is_bot: bool,
    pub deleted: bool,
    pub fetched_at: DateTime<Utc>,
}

impl CachedUser {
    /// What `users.info` said of a person, looked up at `at`.
    pub fn from_profile(profile: crate::slack::UserProfile, at: DateTime<Utc>) -> Self {
        Self {
            id: profile.id,
            name: profile.name,
            tz: profile.tz,
            is_bot: profile.is_bot,
            deleted: profile.deleted,
            fetched_at: at,
        }
    }
}

/// Which worker's item failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadKind {
    /// An accepted event from the inbox.
    Event,
    /// A timer (an SLA request's step, an RFC's, a standup channel's).
    Timer,
    /// An outgoing message.
    Message,
}

impl DeadKind {
    pub fn label(self) -> &'static str {
        match self {
            DeadKind::Event => "event",
            DeadKind::Timer => "timer",
            DeadKind::Message => "message",
        }
    }
}

/// An item that failed `attempts` times and was set aside so the work behind it goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: u64,
    pub kind: DeadKind,
    /// What it was: `inbox/12`, `timer sla:7`, `outbox/33`.
    pub key: String,
    /// The item itself (the event, the message, or the timer's key), to retry it later.
    pub payload: serde_json::Value,
    /// The last error or panic message.
    pub error: String,
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

/// What happened to an event Slack delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    Queued,
    /// The same `event_id` was accepted before: a Slack retry. Nothing is stored.
    Duplicate,
}

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// False for a scratch store (`asyncbot simulate`): commits skip the fsync, since nothing
    /// has to survive the process.
    durable: bool,
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

fn sla_timer_key(id: u64) -> String {
    format!("sla:{id}")
}

/// A timer that fired: what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerKey {
    Sla(u64),
    Rfc(u64),
    Standup(String),
    Other(String),
}

impl TimerKey {
    /// The key as stored.
    pub fn name(&self) -> String {
        match self {
            TimerKey::Sla(id) => sla_timer_key(*id),
            TimerKey::Rfc(id) => format!("rfc:{id}"),
            TimerKey::Standup(channel) => format!("standup:{channel}"),
            TimerKey::Other(key) => key.clone(),
        }
    }

    fn parse(key: &str) -> Self {
        if let Some(id) = key.strip_prefix("sla:").and_then(|id| id.parse().ok()) {
            TimerKey::Sla(id)
        } else if let Some(id) = key.strip_prefix("rfc:").and_then(|id| id.parse().ok()) {
            TimerKey::Rfc(id)
        } else if let Some(channel) = key.strip_prefix("standup:") {
            TimerKey::Standup(channel.to_owned())
        } else {
            TimerKey::Other(key.to_owned())
        }
    }
}

impl Store {
    /// Opens (or creates) the store at `path`, creating its directory.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Locked(path.to_owned()),
            other => StoreError::Open {
                path: path.to_owned(),
                reason: other.to_string(),
            },
        })?;
        let store = Store {
            db: Arc::new(db),
            durable: true,
        };
        store.create_tables()?;
        Ok(store)
    }

    /// A store whose commits are not made durable (no fsync): for a simulation, thrown away
    /// at the end.
    pub fn open_scratch(path: &Path) -> Result<Self> {
        let mut store = Self::open(path)?;
        store.durable = false;
        Ok(store)
    }

    fn create_tables(&self) -> Result<()> {
        let tx = self.db.begin_write()?;
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
        tx.open_table(TAGS)?;
        tx.open_table(TAGGED_MESSAGES)?;
        tx.open_table(RFCS)?;
        tx.open_multimap_table(RFCS_BY_CHANNEL)?;
        tx.open_table(FACTS)?;
        tx.open_table(STANDUP_SCHEDULES)?;
        tx.open_table(STANDUP_DAYS)?;
        tx.open_table(AWAY)?;
        tx.open_table(PENDING_LOOKUPS)?;
        tx.open_table(DEAD_LETTERS)?;
        tx.open_table(DROPPED_TAGS)?;
        tx.commit()?;
        Ok(())
    }

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

    // ---- inbox -------------------------------------------------------------------------------

    /// Records a delivered event for processing, once per `event_id`.
    pub fn accept_event(
        &self,
        event_id: Option<&str>,
        event: &Inbound,
        now: DateTime<Utc>,
    ) -> Result<Accepted> {
        self.write(|tx| {
            if let Some(id) = event_id {
                let mut seen = tx.txn.open_table(SEEN_EVENTS)?;
                if seen.get(id)?.is_some() {
                    return Ok(Accepted::Duplicate);
                }
                seen.insert(id, ms(now))?;
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
            let mut seen = tx.txn.open_table(SEEN_EVENTS)?;
            if seen.get(key)?.is_some() {
                return Ok(false);
            }
            seen.insert(key, ms(now))?;
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

    /// Drops event ids older than `before` and closed requests closed before `closed_before`.
    pub fn prune(&self, seen_before: DateTime<Utc>, closed_before: DateTime<Utc>) -> Result<usize> {
        self.write(|tx| {
            let mut removed = 0;
            {
                let mut seen = tx.txn.open_table(SEEN_EVENTS)?;
                let cutoff = ms(seen_before);
                removed += seen.extract_if(|_, at| at < cutoff)?.count();
                let mut dropped = tx.txn.open_table(DROPPED_TAGS)?;
                removed += dropped.extract_if(|_, at| at < cutoff)?.count();
            }
            let stale: Vec<SlaRequest> = {
                let table = tx.txn.open_table(REQUESTS)?;
                let mut stale = Vec::new();
                for entry in table.iter()? {
                    let (k, v) = entry?;
                    let id = k.value();
                    let r: SlaRequest = from_json(|| format!("sla_requests/{id}"), v.value())?;
                    let closed_at = match &r.state {
                        crate::domain::sla::RequestState::Open => None,
                        crate::domain::sla::RequestState::Answered { at, .. }
                        | crate::domain::sla::RequestState::Cancelled { at, .. } => Some(*at),
                    };
                    if closed_at.is_some_and(|at| at < closed_before) {
                        stale.push(r);
                    }
                }
                stale
            };
            for r in &stale {
                tx.txn.open_table(REQUESTS)?.remove(r.id)?;
                tx.txn
                    .open_multimap_table(REQUESTS_BY_MESSAGE)?
                    .remove(message_key(&r.channel, &r.message_ts).as_str(), r.id)?;
                tx.txn
                    .open_multimap_table(REQUESTS_BY_THREAD)?
                    .remove(message_key(&r.channel, &r.thread_root).as_str(), r.id)?;
            }
            Ok(removed + stale.len())
        })
    }

    // ---- timers ------------------------------------------------------------------------------

    /// The earliest pending timer.
    pub fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|rx| {
            let table = rx.txn.open_table(TIMERS)?;
            Ok(table.first()?.map(|(k, _)| from_ms(k.value().0)))
        })
    }

    /// The earliest pending timer not before `now`'s millisecond. Timers are kept at
    /// millisecond precision while entities record their due times to the nanosecond, so one in
    /// `now`'s own millisecond may not have been due yet when it was looked at: it is included
    /// (at worst the worker looks again within a millisecond). Earlier ones are those that were
    /// due and deliberately skipped (a failing timer waiting for its retry).
    pub fn next_timer_due_after(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
        self.read(|rx| {
            let table = rx.txn.open_table(TIMERS)?;
            let mut after = table.range((ms(now), "")..)?;
            Ok(after.next().transpose()?.map(|(k, _)| from_ms(k.value().0)))
        })
    }

    /// Timers due at or before `now`, earliest first.
    pub fn due_timers(&self, now: DateTime<Utc>) -> Result<Vec<TimerKey>> {
        self.read(|rx| {
            let table = rx.txn.open_table(TIMERS)?;
            let mut keys = Vec::new();
            for entry in table.range((i64::MIN, "")..=(ms(now), "\u{10FFFF}"))? {
                let (k, _) = entry?;
                keys.push(TimerKey::parse(k.value().1));
            }
            Ok(keys)
        })
    }

    // ---- outbox ------------------------------------------------------------------------------

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

    // ---- dead letters ------------------------------------------------------------------------

    /// Every dead letter, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        self.read(|rx| {
            let table = rx.txn.open_table(DEAD_LETTERS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                out.push(from_json(
                    || format!("dead_letters/{}", k.value()),
                    v.value(),
                )?);
            }
            Ok(out)
        })
    }

    pub fn count_dead_letters(&self) -> Result<u64> {
        self.read(|rx| Ok(rx.txn.open_table(DEAD_LETTERS)?.len()?))
    }

    /// Puts a dead letter back to work (after the cause was fixed): an event into the inbox, a
    /// message into the outbox (with a fresh age), a timer due now. Returns false if there is no
    /// such dead letter.
    pub fn retry_dead_letter(&self, id: u64, now: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let Some(letter) = tx
                .txn
                .open_table(DEAD_LETTERS)?
                .remove(id)?
                .map(|v| from_json::<DeadLetter>(|| format!("dead_letters/{id}"), v.value()))
            else {
                return Ok(false);
            };
            let letter = letter?;
            let corrupt = |e: serde_json::Error| StoreError::Corrupt {
                what: format!("dead_letters/{id}"),
                reason: e.to_string(),
            };
            match letter.kind {
                DeadKind::Event => {
                    let event: Inbound = serde_json::from_value(letter.payload).map_err(corrupt)?;
                    tx.push_inbound(&event)?;
                }
                DeadKind::Message => {
                    let mut item: OutboxItem =
                        serde_json::from_value(letter.payload).map_err(corrupt)?;
                    // Back under its own id, with its `maybe_sent` mark: if it was posted after
                    // all, the look-up by metadata finds it instead of posting it twice.
                    item.attempts = 0;
                    item.first_failed_at = None;
                    item.not_before = now;
                    tx.txn
                        .open_table(OUTBOX)?
                        .insert(item.id, to_json(&item).as_slice())?;
                }
                DeadKind::Timer => {
                    let key = letter.payload.as_str().unwrap_or(&letter.key).to_owned();
                    tx.txn
                        .open_table(TIMERS)?
                        .insert((ms(now), key.as_str()), ())?;
                }
            }
            Ok(true)
        })
    }

    /// Deletes a dead letter for good. Returns false if there is no such dead letter.
    pub fn discard_dead_letter(&self, id: u64) -> Result<bool> {
        self.write(|tx| Ok(tx.txn.open_table(DEAD_LETTERS)?.remove(id)?.is_some()))
    }

    /// Sets the inbox event `seq` aside as a dead letter. Returns the dead letter's id.
    pub fn dead_letter_event(
        &self,
        seq: u64,
        error: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.write(|tx| {
            let payload = tx
                .txn
                .open_table(INBOX)?
                .remove(seq)?
                .map(|v| serde_json::from_slice(v.value()).unwrap_or(serde_json::Value::Null))
                .unwrap_or(serde_json::Value::Null);
            tx.dead_letter(
                DeadKind::Event,
                &format!("inbox/{seq}"),
                payload,
                error,
                attempts,
                now,
            )
        })
    }

    /// Sets a timer aside as a dead letter: its entries are removed so it stops firing.
    pub fn dead_letter_timer(
        &self,
        key: &str,
        error: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.write(|tx| {
            tx.drop_timers_named(key)?;
            tx.dead_letter(
                DeadKind::Timer,
                &format!("timer {key}"),
                serde_json::Value::String(key.to_owned()),
                error,
                attempts,
                now,
            )
        })
    }

    /// Sets an outgoing message aside as a dead letter.
    pub fn dead_letter_message(
        &self,
        item: &OutboxItem,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.write(|tx| {
            tx.remove_outbox(item.id)?;
            tx.dead_letter(
                DeadKind::Message,
                &format!("outbox/{}", item.id),
                serde_json::to_value(item).unwrap_or(serde_json::Value::Null),
                error,
                item.attempts,
                now,
            )
        })
    }

    // ---- people to look up again -------------------------------------------------------------

    /// Up to `limit` people whose lookup is owed, oldest first.
    pub fn pending_lookups(&self, limit: usize) -> Result<Vec<String>> {
        self.read(|rx| {
            let table = rx.txn.open_table(PENDING_LOOKUPS)?;
            let mut people: Vec<(i64, String)> = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                people.push((v.value(), k.value().to_owned()));
            }
            people.sort();
            Ok(people.into_iter().take(limit).map(|(_, u)| u).collect())
        })
    }

    /// Where the message with this tag was posted: (channel, ts).
    pub fn tagged(&self, tag: &str) -> Result<Option<(String, String)>> {
        self.read(|rx| rx.tagged(tag))
    }

    pub fn set_fact(&self, key: &str, value: &str) -> Result<()> {
        self.write(|tx| tx.set_fact(key, value))
    }

    pub fn fact(&self, key: &str) -> Result<Option<String>> {
        self.read(|rx| rx.fact(key))
    }

    // ---- users -------------------------------------------------------------------------------

    pub fn cached_user(&self, id: &str) -> Result<Option<CachedUser>> {
        self.read(|rx| {
            let table = rx.txn.open_table(USERS)?;
            match table.get(id)? {
                Some(v) => Ok(Some(from_json(|| format!("users/{id}"), v.value())?)),
                None => Ok(None),
            }
        })
    }

    /// Names of every person looked up so far, by id (for exports outside Slack).
    pub fn user_names(&self) -> Result<std::collections::HashMap<String, String>> {
        self.read(|rx| {
            let table = rx.txn.open_table(USERS)?;
            let mut names = std::collections::HashMap::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                let user: CachedUser = from_json(|| format!("users/{}", k.value()), v.value())?;
                if let Some(name) = user.name {
                    names.insert(user.id, name);
                }
            }
            Ok(names)
        })
    }
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

fn day_key(channel: &str, date: chrono::NaiveDate) -> String {
    format!("{channel}:{date}")
}

/// The requests an index lists under `key`, oldest first.
fn load_requests(
    index: &impl ReadableMultimapTable<&'static str, u64>,
    requests: &impl ReadableTable<u64, &'static [u8]>,
    key: &str,
) -> Result<Vec<SlaRequest>> {
    let mut out = Vec::new();
    for id in index.get(key)? {
        let id = id?.value();
        if let Some(v) = requests.get(id)? {
            out.push(from_json(|| format!("sla_requests/{id}"), v.value())?);
        }
    }
    out.sort_by_key(|r: &SlaRequest| r.id);
    Ok(out)
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

    fn requests_in(
        &self,
        index: MultimapTableDefinition<&str, u64>,
        key: &str,
    ) -> Result<Vec<SlaRequest>> {
        load_requests(&self.multimap(index)?, &self.table(REQUESTS)?, key)
    }

    /// Open requests waiting on `user`, oldest first.
    fn open_requests_for_recipient(&self, user: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(OPEN_BY_RECIPIENT, user)
    }

    /// Open requests `user` is waiting on, oldest first.
    fn open_requests_by_author(&self, user: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(OPEN_BY_AUTHOR, user)
    }

    fn request(&self, id: u64) -> Result<Option<SlaRequest>> {
        let table = self.table(REQUESTS)?;
        match table.get(id)? {
            Some(v) => Ok(Some(from_json(|| format!("sla_requests/{id}"), v.value())?)),
            None => Ok(None),
        }
    }

    fn tagged(&self, tag: &str) -> Result<Option<(String, String)>> {
        let table = self.table(TAGS)?;
        let found = table.get(tag)?;
        Ok(found.and_then(|v| {
            v.value()
                .split_once(' ')
                .map(|(c, ts)| (c.to_owned(), ts.to_owned()))
        }))
    }

    fn rfc(&self, id: u64) -> Result<Option<Rfc>> {
        let table = self.table(RFCS)?;
        let found = table.get(id)?;
        match found {
            Some(v) => Ok(Some(from_json(|| format!("rfcs/{id}"), v.value())?)),
            None => Ok(None),
        }
    }

    /// Every request (open and recently closed), oldest first.
    fn all_requests(&self) -> Result<Vec<SlaRequest>> {
        let table = self.table(REQUESTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let id = k.value();
            out.push(from_json(|| format!("sla_requests/{id}"), v.value())?);
        }
        Ok(out)
    }

    /// Every RFC, oldest first.
    fn all_rfcs(&self) -> Result<Vec<Rfc>> {
        let table = self.table(RFCS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let id = k.value();
            out.push(from_json(|| format!("rfcs/{id}"), v.value())?);
        }
        Ok(out)
    }

    /// RFCs posted in `channel`, oldest first.
    fn rfcs_in_channel(&self, channel: &str) -> Result<Vec<Rfc>> {
        let index = self.multimap(RFCS_BY_CHANNEL)?;
        let mut out = Vec::new();
        for id in index.get(channel)? {
            if let Some(rfc) = self.rfc(id?.value())? {
                out.push(rfc);
            }
        }
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    fn standup_schedule(&self, channel: &str) -> Result<Option<Schedule>> {
        get_json(
            &self.table(STANDUP_SCHEDULES)?,
            "standup_schedules",
            channel,
        )
    }

    fn standup_day(&self, channel: &str, date: chrono::NaiveDate) -> Result<Option<StandupDay>> {
        get_json(
            &self.table(STANDUP_DAYS)?,
            "standup_days",
            &day_key(channel, date),
        )
    }

    fn away(&self, user: &str) -> Result<Vec<Away>> {
        Ok(get_json(&self.table(AWAY)?, "away", user)?.unwrap_or_default())
    }

    fn count_open_requests(&self) -> Result<u64> {
        Ok(self.multimap(OPEN_BY_RECIPIENT)?.len()?)
    }

    /// The tag of our message `channel`/`ts`, if it is one of ours that was tagged.
    fn tag_of(&self, channel: &str, ts: &str) -> Result<Option<String>> {
        let table = self.table(TAGGED_MESSAGES)?;
        let found = table.get(message_key(channel, ts).as_str())?;
        Ok(found.map(|v| v.value().to_owned()))
    }

    /// Every request (open or closed) opened by the message `channel`/`ts`.
    fn requests_for_message(&self, channel: &str, ts: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(REQUESTS_BY_MESSAGE, &message_key(channel, ts))
    }

    /// Every request living in the thread rooted at `channel`/`root`.
    fn requests_in_thread(&self, channel: &str, root: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(REQUESTS_BY_THREAD, &message_key(channel, root))
    }

    /// Whether the message with this tag was refused by Slack for good.
    fn is_dropped_tag(&self, tag: &str) -> Result<bool> {
        Ok(self.table(DROPPED_TAGS)?.get(tag)?.is_some())
    }

    fn fact(&self, key: &str) -> Result<Option<String>> {
        let table = self.table(FACTS)?;
        let found = table.get(key)?;
        Ok(found.map(|v| v.value().to_owned()))
    }

    /// A person's time zone from the `users.info` cache.
    fn user_tz(&self, user: &str) -> Result<Option<chrono_tz::Tz>> {
        let cached: Option<CachedUser> = get_json(&self.table(USERS)?, "users", user)?;
        Ok(cached.and_then(|u| u.tz).and_then(|tz| tz.parse().ok()))
    }

    /// A person's name from the `users.info` cache.
    fn user_name(&self, user: &str) -> Result<Option<String>> {
        let cached: Option<CachedUser> = get_json(&self.table(USERS)?, "users", user)?;
        Ok(cached.and_then(|u| u.name))
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
    /// The next value of a named counter, starting at 1.
    pub fn next_id(&mut self, counter: &str) -> Result<u64> {
        let mut meta = self.txn.open_table(META)?;
        let next = meta.get(counter)?.map_or(1, |v| v.value() + 1);
        meta.insert(counter, next)?;
        Ok(next)
    }

    /// Adds an event to the end of the inbox.
    pub fn push_inbound(&mut self, event: &Inbound) -> Result<u64> {
        let seq = self.next_id("inbox")?;
        self.txn
            .open_table(INBOX)?
            .insert(seq, to_json(event).as_slice())?;
        Ok(seq)
    }

    fn dead_letter(
        &mut self,
        kind: DeadKind,
        key: &str,
        payload: serde_json::Value,
        error: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let id = self.next_id("dead_letter")?;
        let letter = DeadLetter {
            id,
            kind,
            key: key.to_owned(),
            payload,
            error: error.to_owned(),
            attempts,
            at: now,
        };
        self.txn
            .open_table(DEAD_LETTERS)?
            .insert(id, to_json(&letter).as_slice())?;
        Ok(id)
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

    /// Someone's `users.info` answer is owed: look them up again later.
    pub fn want_lookup(&mut self, user: &str, now: DateTime<Utc>) -> Result<()> {
        let mut table = self.txn.open_table(PENDING_LOOKUPS)?;
        if table.get(user)?.is_none() {
            table.insert(user, ms(now))?;
        }
        Ok(())
    }

    pub fn lookup_done(&mut self, user: &str) -> Result<()> {
        self.txn.open_table(PENDING_LOOKUPS)?.remove(user)?;
        Ok(())
    }

    pub fn cache_user(&mut self, user: &CachedUser) -> Result<()> {
        self.txn
            .open_table(USERS)?
            .insert(user.id.as_str(), to_json(user).as_slice())?;
        Ok(())
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
        Ok(id)
    }

    pub fn set_fact(&mut self, key: &str, value: &str) -> Result<()> {
        self.txn.open_table(FACTS)?.insert(key, value)?;
        Ok(())
    }

    /// Removes a message from the outbox (delivered or dropped).
    pub fn remove_outbox(&mut self, id: u64) -> Result<()> {
        self.txn.open_table(OUTBOX)?.remove(id)?;
        Ok(())
    }

    /// Removes a processed event from the inbox.
    pub fn finish_inbound(&mut self, seq: u64) -> Result<()> {
        self.txn.open_table(INBOX)?.remove(seq)?;
        Ok(())
    }

    /// Writes a request and keeps its indexes and its timer in step with it.
    pub fn put_request(&mut self, request: &SlaRequest) -> Result<()> {
        let old = self.request(request.id)?;
        let timer = sla_timer_key(request.id);
        {
            let mut timers = self.txn.open_table(TIMERS)?;
            if let Some(due) = old.as_ref().and_then(|o| o.next_due) {
                timers.remove((ms(due), timer.as_str()))?;
            }
            if let Some(due) = request.next_due {
                timers.insert((ms(due), timer.as_str()), ())?;
            }
        }
        if old.is_none() {
            self.txn.open_multimap_table(REQUESTS_BY_MESSAGE)?.insert(
                message_key(&request.channel, &request.message_ts).as_str(),
                request.id,
            )?;
            self.txn.open_multimap_table(REQUESTS_BY_THREAD)?.insert(
                message_key(&request.channel, &request.thread_root).as_str(),
                request.id,
            )?;
        }
        let was_open = old.as_ref().is_some_and(SlaRequest::is_open);
        if was_open != request.is_open() {
            let mut by_recipient = self.txn.open_multimap_table(OPEN_BY_RECIPIENT)?;
            let mut by_author = self.txn.open_multimap_table(OPEN_BY_AUTHOR)?;
            if request.is_open() {
                by_recipient.insert(request.recipient.as_str(), request.id)?;
                by_author.insert(request.author.as_str(), request.id)?;
            } else {
                by_recipient.remove(request.recipient.as_str(), request.id)?;
                by_author.remove(request.author.as_str(), request.id)?;
            }
        }
        if was_open && !request.is_open() {
            // Answered or cancelled: a nudge still queued (waiting for working hours, or for
            // a revoked token to be fixed) would nag someone who already replied.
            let prefix = format!("sla:{}:", request.id);
            let mut outbox = self.txn.open_table(OUTBOX)?;
            let stale = outbox.extract_if(|_, v| {
                from_json::<OutboxItem>(String::new, v)
                    .ok()
                    .and_then(|item| item.message.tag)
                    .is_some_and(|tag| tag.starts_with(&prefix))
            })?;
            let removed = stale.count();
            if removed > 0 {
                tracing::info!(
                    request = request.id,
                    removed,
                    "the request closed; its queued nudges were withdrawn"
                );
            }
        }
        self.txn
            .open_table(REQUESTS)?
            .insert(request.id, to_json(request).as_slice())?;
        Ok(())
    }

    /// Writes an RFC and keeps its channel index and its timer in step with it.
    pub fn put_rfc(&mut self, rfc: &Rfc) -> Result<()> {
        let old = self.rfc(rfc.id)?;
        let timer = format!("rfc:{}", rfc.id);
        {
            let mut timers = self.txn.open_table(TIMERS)?;
            if let Some(due) = old.as_ref().and_then(Rfc::next_due) {
                timers.remove((ms(due), timer.as_str()))?;
            }
            if let Some(due) = rfc.next_due() {
                timers.insert((ms(due), timer.as_str()), ())?;
            }
        }
        if old.is_none() {
            self.txn
                .open_multimap_table(RFCS_BY_CHANNEL)?
                .insert(rfc.channel.as_str(), rfc.id)?;
        }
        self.txn
            .open_table(RFCS)?
            .insert(rfc.id, to_json(rfc).as_slice())?;
        Ok(())
    }

    /// Writes a schedule and keeps its timer at `next_due`.
    pub fn put_standup_schedule(&mut self, schedule: &Schedule) -> Result<()> {
        let old = self.standup_schedule(&schedule.channel)?;
        let timer = format!("standup:{}", schedule.channel);
        {
            let mut timers = self.txn.open_table(TIMERS)?;
            if let Some(due) = old.as_ref().and_then(|o| o.next_due) {
                timers.remove((ms(due), timer.as_str()))?;
            }
            if let Some(due) = schedule.next_due {
                timers.insert((ms(due), timer.as_str()), ())?;
            }
        }
        self.txn
            .open_table(STANDUP_SCHEDULES)?
            .insert(schedule.channel.as_str(), to_json(schedule).as_slice())?;
        Ok(())
    }

    pub fn put_standup_day(&mut self, day: &StandupDay) -> Result<()> {
        self.txn.open_table(STANDUP_DAYS)?.insert(
            day_key(&day.channel, day.date).as_str(),
            to_json(day).as_slice(),
        )?;
        Ok(())
    }

    pub fn put_away(&mut self, user: &str, ranges: &[Away]) -> Result<()> {
        let mut table = self.txn.open_table(AWAY)?;
        if ranges.is_empty() {
            table.remove(user)?;
        } else {
            table.insert(user, to_json(&ranges).as_slice())?;
        }
        Ok(())
    }

    /// Removes every timer entry with this key (used when an entity it names no longer exists).
    pub fn drop_timers_named(&mut self, key: &str) -> Result<()> {
        let mut timers = self.txn.open_table(TIMERS)?;
        timers.retain(|(_, k), _| k != key)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::outbox::Destination;

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
