//! Retention: what the store forgets, and when. Each table whose rows age out has a chunk
//! function here that removes at most `limit` rows past their time in one write transaction,
//! found through that table's time index (`tables.rs`), so no prune walks a whole table; a pass
//! runs every table's chunks in turn and yields between them, so events and timers interleave
//! with pruning. Stores written before these indexes existed are indexed once, by a chunked
//! backfill whose progress is kept in `FACTS`.

use std::ops::Bound;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use redb::{ReadableTable, TableDefinition};

use super::dead_letters::DeadLetter;
use super::standups::day_key;
use super::tables::{
    AWAY, AWAY_BY_END, CLOSED_REQUESTS, DEAD_LETTERS, DROPPED_BY_TIME, DROPPED_TAGS, NOHELLO_TIPS,
    NOHELLO_TIPS_BY_TIME, OUTCOMES, REQUESTS, REQUESTS_BY_MESSAGE, REQUESTS_BY_THREAD,
    SEEN_BY_TIME, SEEN_EVENTS, STANDUP_DAYS, STANDUP_DAYS_BY_DATE, TAGGED_MESSAGES, TAGS,
};
use super::timers::sla_timer_key;
use super::{Reads, RequestReads, Result, StandupReads, Store, StoreError, Tx, from_json, ms};
use crate::domain::sla::SlaRequest;

/// Most rows one chunk removes (a closed request counts as one, with its index entries and
/// tags). Measured on a 2-core box (README, "What the store keeps"): the costliest kind, closed
/// requests, holds the writer about 30 ms for 500 (and 45–65 ms for 1,000), fsync included.
pub const CHUNK: usize = 500;

/// Event ids and replay keys are kept this long: Slack retries within minutes.
pub const SEEN_KEEP: Duration = Duration::from_secs(24 * 3600);
/// Tags of refused messages are kept this long: what refers to one is queued with it or soon
/// after.
pub const DROPPED_TAGS_KEEP: Duration = Duration::from_secs(24 * 3600);
/// Closed requests (answered, cancelled, expired) are kept this long after they closed.
pub const CLOSED_KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// A standup day (its prompt, answers and summary) is kept this long after its date.
pub const STANDUP_DAYS_KEEP: Duration = Duration::from_secs(30 * 24 * 3600);
/// An absence is dropped this long after its last day (UTC): by then it is over in every zone.
pub const AWAY_KEEP: Duration = Duration::from_secs(2 * 24 * 3600);
/// When an author last got a coaching tip is kept as long as it holds back the next one.
pub const NOHELLO_TIPS_KEEP: Duration = crate::domain::asking::NOHELLO_TIP_EVERY;

/// What the team metrics count of a closed request is kept this long after it closed: a year of
/// weekly figures, for the report's trends.
pub const OUTCOMES_KEEP: Duration = Duration::from_secs(365 * 24 * 3600);

/// A day's nudge counts are kept this long after it (by then it is over in every zone).
pub const NUDGES_KEEP: Duration = Duration::from_secs(3 * 24 * 3600);

/// The date of the first row of a date-keyed index ((date, name) → anything): the oldest.
fn first_dated<V: redb::Value + 'static>(
    rx: &super::Rx,
    def: TableDefinition<(&'static str, &'static str), V>,
) -> Result<Option<String>> {
    let table = rx.table(def)?;
    let first = table.first()?;
    Ok(first.map(|(k, _)| k.value().0.to_owned()))
}

/// How long each kind of row is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub seen: Duration,
    pub dropped_tags: Duration,
    pub closed_requests: Duration,
    pub standup_days: Duration,
    pub away: Duration,
    pub nohello_tips: Duration,
    /// `store.dead_letters_keep`.
    pub dead_letters: Duration,
    /// `sla.forget_after`: the backfill gives an old open request whose ladder had ended (and
    /// so had no timer) an expiry this long after the upgrade.
    pub forget_after: Duration,
}

impl Rules {
    /// The fixed rules above, with the two that are configured.
    pub fn new(dead_letters: Duration, forget_after: Duration) -> Self {
        Rules {
            seen: SEEN_KEEP,
            dropped_tags: DROPPED_TAGS_KEEP,
            closed_requests: CLOSED_KEEP,
            standup_days: STANDUP_DAYS_KEEP,
            away: AWAY_KEEP,
            nohello_tips: NOHELLO_TIPS_KEEP,
            dead_letters,
            forget_after,
        }
    }
}

/// The tables the pruner removes rows from (with their index rows and dependants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pruned {
    SeenEvents,
    DroppedTags,
    ClosedRequests,
    StandupDays,
    Absences,
    DeadLetters,
    NudgeCounts,
    NohelloTips,
    Outcomes,
}

impl Pruned {
    pub const ALL: [Pruned; 9] = [
        Pruned::SeenEvents,
        Pruned::DroppedTags,
        Pruned::ClosedRequests,
        Pruned::StandupDays,
        Pruned::Absences,
        Pruned::DeadLetters,
        Pruned::NudgeCounts,
        Pruned::NohelloTips,
        Pruned::Outcomes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Pruned::SeenEvents => "seen_events",
            Pruned::DroppedTags => "dropped_tags",
            Pruned::ClosedRequests => "closed_requests",
            Pruned::StandupDays => "standup_days",
            Pruned::Absences => "absences",
            Pruned::DeadLetters => "dead_letters",
            Pruned::NudgeCounts => "nudges_by_day",
            Pruned::NohelloTips => "nohello_tips",
            Pruned::Outcomes => "request_outcomes",
        }
    }
}

/// What a pass (or the backfill) did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Rows removed (or, for the backfill, looked at).
    pub rows: usize,
    /// Write transactions committed.
    pub chunks: usize,
    /// The longest of them, from `begin_write` to the end of its commit.
    pub longest: Duration,
}

impl PassReport {
    fn add(&mut self, rows: usize, took: Duration) {
        self.rows += rows;
        self.chunks += 1;
        self.longest = self.longest.max(took);
    }
}

/// Where the backfill stands, in `FACTS`: `done`, or the stage and the last key it indexed.
const BACKFILL: &str = "retention_backfill";
const STAGES: usize = 6;

impl Store {
    /// One pass: every table's rows past their time, chunk by chunk (each a write transaction
    /// of at most `limit` rows), yielding between chunks so that events and timers go on.
    pub async fn prune_pass(
        &self,
        rules: Rules,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<PassReport> {
        let mut report = PassReport::default();
        // One read transaction says which tables have anything to remove: most passes find
        // nothing, and then take no write lock at all.
        let due = self.call(move |s| s.prunable(&rules, now)).await?;
        for table in due {
            loop {
                let (removed, took) = self
                    .call(move |s| {
                        let start = Instant::now();
                        let removed = s.prune_chunk(table, &rules, now, limit)?;
                        Ok((removed, start.elapsed()))
                    })
                    .await?;
                if removed == 0 {
                    break;
                }
                report.add(removed, took);
                if removed < limit {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(report)
    }

    /// The tables whose oldest row (by their time index) is past its time.
    pub fn prunable(&self, rules: &Rules, now: DateTime<Utc>) -> Result<Vec<Pruned>> {
        let before = |keep: Duration| now - chrono::Duration::from_std(keep).unwrap_or_default();
        self.read(|rx| {
            let first_timed = |def: TableDefinition<(i64, &str), ()>| -> Result<Option<i64>> {
                let table = rx.table(def)?;
                let first = table.first()?;
                Ok(first.map(|(k, _)| k.value().0))
            };
            let mut due = Vec::new();
            if first_timed(SEEN_BY_TIME)?.is_some_and(|at| at < ms(before(rules.seen))) {
                due.push(Pruned::SeenEvents);
            }
            if first_timed(DROPPED_BY_TIME)?.is_some_and(|at| at < ms(before(rules.dropped_tags))) {
                due.push(Pruned::DroppedTags);
            }
            if first_timed(NOHELLO_TIPS_BY_TIME)?
                .is_some_and(|at| at < ms(before(rules.nohello_tips)))
            {
                due.push(Pruned::NohelloTips);
            }
            let outcome = rx.table(OUTCOMES)?.first()?.map(|(k, _)| k.value().0);
            if outcome.is_some_and(|at| at < ms(before(OUTCOMES_KEEP))) {
                due.push(Pruned::Outcomes);
            }
            let closed = rx
                .table(CLOSED_REQUESTS)?
                .first()?
                .map(|(k, _)| k.value().0);
            if closed.is_some_and(|at| at < ms(before(rules.closed_requests))) {
                due.push(Pruned::ClosedRequests);
            }
            let day_cutoff = before(rules.standup_days).date_naive().to_string();
            if first_dated(rx, STANDUP_DAYS_BY_DATE)?.is_some_and(|d| d < day_cutoff) {
                due.push(Pruned::StandupDays);
            }
            let away_cutoff = before(rules.away).date_naive().to_string();
            if first_dated(rx, AWAY_BY_END)?.is_some_and(|d| d < away_cutoff) {
                due.push(Pruned::Absences);
            }
            let nudge_cutoff = before(NUDGES_KEEP).date_naive().to_string();
            if first_dated(rx, super::tables::NUDGES_BY_DAY)?.is_some_and(|d| d < nudge_cutoff) {
                due.push(Pruned::NudgeCounts);
            }
            let letters = rx.table(DEAD_LETTERS)?;
            let oldest = letters.first()?.map(|(k, v)| {
                from_json::<DeadLetter>(|| format!("dead_letters/{}", k.value()), v.value())
            });
            // An unreadable first letter: let the chunk walk past it.
            if oldest.is_some_and(|l| l.map_or(true, |l| l.at < before(rules.dead_letters))) {
                due.push(Pruned::DeadLetters);
            }
            Ok(due)
        })
    }

    /// Removes at most `limit` of `table`'s rows that are past their time, in one write
    /// transaction (none when there is nothing to remove). Returns how many.
    pub fn prune_chunk(
        &self,
        table: Pruned,
        rules: &Rules,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize> {
        let before = |keep: Duration| now - chrono::Duration::from_std(keep).unwrap_or_default();
        self.write_if_changed(|tx| match table {
            Pruned::SeenEvents => {
                tx.prune_timed(SEEN_BY_TIME, SEEN_EVENTS, ms(before(rules.seen)), limit)
            }
            Pruned::DroppedTags => tx.prune_timed(
                DROPPED_BY_TIME,
                DROPPED_TAGS,
                ms(before(rules.dropped_tags)),
                limit,
            ),
            Pruned::ClosedRequests => {
                tx.prune_closed_requests(ms(before(rules.closed_requests)), limit)
            }
            Pruned::StandupDays => {
                tx.prune_standup_days(before(rules.standup_days).date_naive(), limit)
            }
            Pruned::Absences => tx.prune_absences(before(rules.away).date_naive(), limit),
            Pruned::DeadLetters => tx.prune_dead_letters(before(rules.dead_letters), limit),
            Pruned::NudgeCounts => tx.prune_nudge_counts(before(NUDGES_KEEP).date_naive(), limit),
            Pruned::NohelloTips => tx.prune_timed(
                NOHELLO_TIPS_BY_TIME,
                NOHELLO_TIPS,
                ms(before(rules.nohello_tips)),
                limit,
            ),
            Pruned::Outcomes => tx.prune_outcomes(ms(before(OUTCOMES_KEEP)), limit),
        })
    }

    /// A write transaction that commits only if `f` changed something (returns more than 0):
    /// a pass that finds nothing to remove costs no commit.
    fn write_if_changed(&self, f: impl FnOnce(&mut Tx<'_>) -> Result<usize>) -> Result<usize> {
        let mut txn = self.db.begin_write()?;
        if !self.durable {
            txn.set_durability(redb::Durability::None)
                .map_err(|e| StoreError::Task(e.to_string()))?;
        }
        let changed = {
            let mut tx = Tx { txn: &txn };
            f(&mut tx)?
        };
        if changed == 0 {
            txn.abort()?;
        } else {
            txn.commit()?;
        }
        Ok(changed)
    }

    /// Whether the one-time backfill of the retention indexes has finished.
    pub fn backfill_done(&self) -> Result<bool> {
        Ok(self.fact(BACKFILL)?.as_deref() == Some("done"))
    }

    /// The one-time backfill, for a store written before the retention indexes existed: it
    /// indexes every row that ages out (closed requests, event ids, dropped tags, standup days,
    /// absences), gives open requests whose ladder had ended an expiry, and removes tags whose
    /// request or standup day is long gone. In chunks of `limit` rows, yielding between them;
    /// its progress is kept, so a restart goes on where it stopped. On a new store it finds
    /// empty tables and is done at once.
    pub async fn backfill(
        &self,
        rules: Rules,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<PassReport> {
        let mut report = PassReport::default();
        loop {
            let (more, rows, took) = self
                .call(move |s| {
                    let start = Instant::now();
                    let (more, rows) = s.backfill_chunk(&rules, now, limit)?;
                    Ok((more, rows, start.elapsed()))
                })
                .await?;
            if rows > 0 || more {
                report.add(rows, took);
            }
            if !more {
                return Ok(report);
            }
            tokio::task::yield_now().await;
        }
    }

    /// One chunk of the backfill. Returns whether there is more to do, and the rows looked at.
    pub fn backfill_chunk(
        &self,
        rules: &Rules,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<(bool, usize)> {
        if self.backfill_done()? {
            return self.backfill_outcomes_chunk(limit);
        }
        self.write(|tx| {
            let state = tx.fact(BACKFILL)?.unwrap_or_else(|| "0".to_owned());
            // "2" is stage 2 from its start; "2:key" is stage 2 after `key`.
            let (stage, after) = match state.split_once(':') {
                Some((stage, key)) => (stage.parse().unwrap_or(0), Some(key.to_owned())),
                None => (state.parse().unwrap_or(0), None),
            };
            let after = after.as_deref();
            let keys = match stage {
                0 => tx.backfill_requests(after, limit, now, rules.forget_after)?,
                1 => tx.backfill_timed(SEEN_EVENTS, SEEN_BY_TIME, after, limit)?,
                2 => tx.backfill_timed(DROPPED_TAGS, DROPPED_BY_TIME, after, limit)?,
                3 => tx.backfill_standup_days(after, limit)?,
                4 => tx.backfill_absences(after, limit)?,
                _ => {
                    let cutoff =
                        now - chrono::Duration::from_std(rules.standup_days).unwrap_or_default();
                    tx.backfill_tags(after, limit, cutoff.date_naive())?
                }
            };
            let rows = keys.len();
            let next = match keys.last() {
                Some(last) if rows >= limit => format!("{stage}:{last}"),
                _ if stage + 1 >= STAGES => "done".to_owned(),
                _ => (stage + 1).to_string(),
            };
            if next == "done" {
                tracing::info!("the retention indexes are complete");
            }
            tx.set_fact(BACKFILL, &next)?;
            // The metrics' backfill follows this one (see `backfill_outcomes_chunk`).
            let outcomes_left = tx.fact(OUTCOMES_BACKFILL)?.as_deref() != Some("done");
            Ok((next != "done" || outcomes_left, rows))
        })
    }
}

impl Store {
    /// One chunk of the metrics' backfill, once the retention indexes are complete: a store
    /// from before the metrics gets a record of each request that closed in the 30 days it
    /// still holds. Its progress is kept in `FACTS` like the other backfill's.
    fn backfill_outcomes_chunk(&self, limit: usize) -> Result<(bool, usize)> {
        if self.fact(OUTCOMES_BACKFILL)?.as_deref() == Some("done") {
            return Ok((false, 0));
        }
        self.write(|tx| {
            let after = tx.fact(OUTCOMES_BACKFILL)?.and_then(|state| {
                let (at, id) = state.split_once(':')?;
                Some((at.parse().ok()?, id.parse().ok()?))
            });
            let keys = tx.backfill_outcomes(after, limit)?;
            let next = match keys.last() {
                Some((at, id)) if keys.len() >= limit => format!("{at}:{id}"),
                _ => "done".to_owned(),
            };
            tx.set_fact(OUTCOMES_BACKFILL, &next)?;
            Ok((next != "done", keys.len()))
        })
    }
}

/// Where the metrics' backfill stands, in `FACTS`: `done`, or the last closed request's key.
const OUTCOMES_BACKFILL: &str = "outcomes_backfill";

/// Up to `limit` keys of a string-keyed table after `after` (from the start when `None`).
fn str_keys_after<V: redb::Value + 'static>(
    table: &impl ReadableTable<&'static str, V>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<String>> {
    let range = match after {
        Some(key) => table.range::<&str>((Bound::Excluded(key), Bound::Unbounded))?,
        None => table.range::<&str>(..)?,
    };
    let mut keys = Vec::new();
    for entry in range.take(limit) {
        keys.push(entry?.0.value().to_owned());
    }
    Ok(keys)
}

impl Tx<'_> {
    /// Rows of `table` (key → unix ms) older than `cutoff`, through `index` ((ms, key) → ()).
    fn prune_timed(
        &mut self,
        index: TableDefinition<(i64, &str), ()>,
        table: TableDefinition<&str, i64>,
        cutoff: i64,
        limit: usize,
    ) -> Result<usize> {
        let stale: Vec<(i64, String)> = {
            let index = self.txn.open_table(index)?;
            let mut stale = Vec::new();
            for entry in index.range(..(cutoff, ""))?.take(limit) {
                let (k, _) = entry?;
                let (at, key) = k.value();
                stale.push((at, key.to_owned()));
            }
            stale
        };
        let mut index = self.txn.open_table(index)?;
        let mut table = self.txn.open_table(table)?;
        for (at, key) in &stale {
            index.remove((*at, key.as_str()))?;
            // Only the row this index entry stands for: a key written again later has its own.
            let current = table.get(key.as_str())?.map(|v| v.value());
            if current == Some(*at) {
                table.remove(key.as_str())?;
            }
        }
        Ok(stale.len())
    }

    /// Requests closed before `cutoff`, with their index entries and their messages' tags.
    fn prune_closed_requests(&mut self, cutoff: i64, limit: usize) -> Result<usize> {
        let stale: Vec<(i64, u64)> = {
            let index = self.txn.open_table(CLOSED_REQUESTS)?;
            let mut stale = Vec::new();
            for entry in index.range(..(cutoff, 0))?.take(limit) {
                stale.push(entry?.0.value());
            }
            stale
        };
        for &(at, id) in &stale {
            self.txn.open_table(CLOSED_REQUESTS)?.remove((at, id))?;
            let request = match self.request(id) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e @ StoreError::Corrupt { .. }) => {
                    // Its index entries cannot be named without it; the row itself goes.
                    tracing::warn!(error = %e, "removing an unreadable closed request");
                    self.txn.open_table(REQUESTS)?.remove(id)?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if request.closed_at().map(ms) == Some(at) {
                self.delete_request(&request)?;
            }
        }
        Ok(stale.len())
    }

    /// Deletes a request with its index entries, its timer and its messages' tags.
    fn delete_request(&mut self, r: &SlaRequest) -> Result<()> {
        self.move_timer(&sla_timer_key(r.id), r.next_due, None)?;
        self.txn
            .open_multimap_table(REQUESTS_BY_MESSAGE)?
            .remove(super::message_key(&r.channel, &r.message_ts).as_str(), r.id)?;
        self.txn.open_multimap_table(REQUESTS_BY_THREAD)?.remove(
            super::message_key(&r.channel, &r.thread_root).as_str(),
            r.id,
        )?;
        if r.is_open() {
            self.txn
                .open_multimap_table(super::tables::OPEN_BY_RECIPIENT)?
                .remove(r.recipient.as_str(), r.id)?;
            self.txn
                .open_multimap_table(super::tables::OPEN_BY_AUTHOR)?
                .remove(r.author.as_str(), r.id)?;
        }
        self.txn.open_table(REQUESTS)?.remove(r.id)?;
        self.forget_tags(&format!("sla:{}:", r.id))
    }

    /// Removes every tag starting with `prefix`, and the reverse entries of their messages.
    fn forget_tags(&mut self, prefix: &str) -> Result<()> {
        let found: Vec<(String, String)> = {
            let tags = self.txn.open_table(TAGS)?;
            let mut found = Vec::new();
            for entry in tags.range(prefix..)? {
                let (k, v) = entry?;
                if !k.value().starts_with(prefix) {
                    break;
                }
                found.push((k.value().to_owned(), v.value().to_owned()));
            }
            found
        };
        for (tag, posted) in found {
            self.forget_tag(&tag, &posted)?;
        }
        Ok(())
    }

    /// Removes one tag, posted at "channel ts", and its message's reverse entry.
    fn forget_tag(&mut self, tag: &str, posted: &str) -> Result<()> {
        self.txn.open_table(TAGS)?.remove(tag)?;
        if let Some((channel, ts)) = posted.split_once(' ') {
            let key = super::message_key(channel, ts);
            let mut tagged = self.txn.open_table(TAGGED_MESSAGES)?;
            let names_it = tagged.get(key.as_str())?.is_some_and(|v| v.value() == tag);
            if names_it {
                tagged.remove(key.as_str())?;
            }
        }
        Ok(())
    }

    /// Standup days dated before `cutoff`, with their messages' tags.
    fn prune_standup_days(&mut self, cutoff: NaiveDate, limit: usize) -> Result<usize> {
        let stale = self.take_dated(STANDUP_DAYS_BY_DATE, cutoff, limit)?;
        for (date, channel) in &stale {
            if let Ok(day) = date.parse::<NaiveDate>() {
                self.txn
                    .open_table(STANDUP_DAYS)?
                    .remove(day_key(channel, day).as_str())?;
            }
            self.forget_tags(&format!("standup:{channel}:{date}"))?;
        }
        Ok(stale.len())
    }

    /// Absences whose last day is before `cutoff`.
    fn prune_absences(&mut self, cutoff: NaiveDate, limit: usize) -> Result<usize> {
        let stale = self.take_dated(AWAY_BY_END, cutoff, limit)?;
        for (_, user) in &stale {
            let ranges = self.away(user)?;
            let kept: Vec<_> = ranges.iter().filter(|r| r.to >= cutoff).cloned().collect();
            if kept.len() != ranges.len() {
                self.put_away(user, &kept)?;
            }
        }
        Ok(stale.len())
    }

    /// Removes up to `limit` rows of a date-keyed index ((date "YYYY-MM-DD", name) → anything)
    /// dated before `cutoff`, oldest first, and returns their keys: the one walk behind every
    /// table pruned by date (the key starts with the date, so it is a range).
    pub(super) fn take_dated<V: redb::Value + 'static>(
        &mut self,
        index: TableDefinition<(&'static str, &'static str), V>,
        cutoff: NaiveDate,
        limit: usize,
    ) -> Result<Vec<(String, String)>> {
        let cutoff = cutoff.to_string();
        let mut table = self.txn.open_table(index)?;
        let stale: Vec<(String, String)> = {
            let mut stale = Vec::new();
            for entry in table.range(..(cutoff.as_str(), ""))?.take(limit) {
                let (k, _) = entry?;
                let (date, name) = k.value();
                stale.push((date.to_owned(), name.to_owned()));
            }
            stale
        };
        for (date, name) in &stale {
            table.remove((date.as_str(), name.as_str()))?;
        }
        Ok(stale)
    }

    /// Dead letters set aside before `cutoff`. Their ids grow with time, so the oldest come
    /// first and the walk stops at the first one to keep. One that cannot be read is kept for
    /// the operator.
    fn prune_dead_letters(&mut self, cutoff: DateTime<Utc>, limit: usize) -> Result<usize> {
        let stale: Vec<u64> = {
            let table = self.txn.open_table(DEAD_LETTERS)?;
            let mut stale = Vec::new();
            for entry in table.iter()?.take(limit) {
                let (k, v) = entry?;
                let id = k.value();
                match from_json::<DeadLetter>(|| format!("dead_letters/{id}"), v.value()) {
                    Ok(letter) if letter.at < cutoff => stale.push(id),
                    Ok(_) => break,
                    Err(_) => continue,
                }
            }
            stale
        };
        let mut table = self.txn.open_table(DEAD_LETTERS)?;
        for id in &stale {
            table.remove(*id)?;
        }
        Ok(stale.len())
    }

    // ---- the one-time backfill -----------------------------------------------------------------

    /// Requests after id `after`: closed ones into the closed index; open ones whose ladder had
    /// ended (no timer) get their expiry, `forget_after` from now.
    fn backfill_requests(
        &mut self,
        after: Option<&str>,
        limit: usize,
        now: DateTime<Utc>,
        forget_after: Duration,
    ) -> Result<Vec<String>> {
        let from = after
            .and_then(|a| a.parse::<u64>().ok())
            .map_or(0, |a| a.saturating_add(1));
        let ids: Vec<u64> = {
            let table = self.txn.open_table(REQUESTS)?;
            let mut ids = Vec::new();
            for entry in table.range(from..)?.take(limit) {
                ids.push(entry?.0.value());
            }
            ids
        };
        for &id in &ids {
            let mut request = match self.request(id) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(e @ StoreError::Corrupt { .. }) => {
                    tracing::warn!(error = %e, "an unreadable request is left as it is");
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(closed_at) = request.closed_at() {
                self.txn
                    .open_table(CLOSED_REQUESTS)?
                    .insert((ms(closed_at), id), ())?;
            } else if request.expire_later(now, forget_after) {
                self.put_request(&request)?;
            }
        }
        Ok(ids.iter().map(u64::to_string).collect())
    }

    /// Rows of `table` (key → unix ms) after `after` into `index`.
    fn backfill_timed(
        &mut self,
        table: TableDefinition<&str, i64>,
        index: TableDefinition<(i64, &str), ()>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>> {
        let rows: Vec<(String, i64)> = {
            let table = self.txn.open_table(table)?;
            let mut rows = Vec::new();
            for key in str_keys_after(&table, after, limit)? {
                let at = table.get(key.as_str())?.map_or(0, |v| v.value());
                rows.push((key, at));
            }
            rows
        };
        let mut index = self.txn.open_table(index)?;
        for (key, at) in &rows {
            index.insert((*at, key.as_str()), ())?;
        }
        Ok(rows.into_iter().map(|(k, _)| k).collect())
    }

    fn backfill_standup_days(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let keys = str_keys_after(&self.txn.open_table(STANDUP_DAYS)?, after, limit)?;
        let mut index = self.txn.open_table(STANDUP_DAYS_BY_DATE)?;
        for key in &keys {
            if let Some((channel, date)) = key.rsplit_once(':') {
                index.insert((date, channel), ())?;
            }
        }
        Ok(keys)
    }

    fn backfill_absences(&mut self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        let users = str_keys_after(&self.txn.open_table(AWAY)?, after, limit)?;
        for user in &users {
            let ranges = self.away(user)?;
            let mut index = self.txn.open_table(AWAY_BY_END)?;
            for range in &ranges {
                index.insert((range.to.to_string().as_str(), user.as_str()), ())?;
            }
        }
        Ok(users)
    }

    /// Tags whose owner is gone: `sla:{id}:…` of a request already deleted, `standup:…` of a
    /// day before `standup_cutoff` (its day is pruned too). Tags of RFCs stay.
    fn backfill_tags(
        &mut self,
        after: Option<&str>,
        limit: usize,
        standup_cutoff: NaiveDate,
    ) -> Result<Vec<String>> {
        let keys = str_keys_after(&self.txn.open_table(TAGS)?, after, limit)?;
        for tag in &keys {
            let orphan = if let Some(id) = crate::domain::sla::request_of_tag(tag) {
                self.txn.open_table(REQUESTS)?.get(id)?.is_none()
            } else if let Some(rest) = tag.strip_prefix("standup:") {
                rest.split(':')
                    .nth(1)
                    .and_then(|d| d.parse::<NaiveDate>().ok())
                    .is_some_and(|date| date < standup_cutoff)
            } else {
                false
            };
            if orphan {
                let posted = self
                    .txn
                    .open_table(TAGS)?
                    .get(tag.as_str())?
                    .map(|v| v.value().to_owned());
                if let Some(posted) = posted {
                    self.forget_tag(tag, &posted)?;
                }
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sla::{Answer, RequestState, Tier};
    use crate::domain::standup::{Away, StandupDay};
    use crate::store::prelude::*;
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    const K: usize = CHUNK;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        // Scratch: these tests commit thousands of rows; durability is not what they check.
        let store = Store::open_scratch(&dir.path().join("asyncbot.redb")).unwrap();
        (dir, store)
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn rules() -> Rules {
        Rules::new(
            Duration::from_secs(30 * 24 * 3600),
            Duration::from_secs(30 * 24 * 3600),
        )
    }

    fn days(n: i64) -> chrono::Duration {
        chrono::Duration::days(n)
    }

    /// Runs `table`'s chunks until one comes back short, as a pass does; returns each chunk's
    /// count.
    fn prune_all(s: &Store, table: Pruned, limit: usize) -> Vec<usize> {
        let mut chunks = Vec::new();
        loop {
            let n = s.prune_chunk(table, &rules(), now(), limit).unwrap();
            if n > 0 {
                chunks.push(n);
            }
            if n < limit {
                return chunks;
            }
        }
    }

    fn request(id: u64, state: RequestState) -> SlaRequest {
        let at = now() - days(60);
        SlaRequest {
            id,
            channel: "C1".into(),
            message_ts: format!("{id}.000100"),
            thread_root: format!("{id}.000100"),
            author: "UALICE".into(),
            recipient: "UBOB".into(),
            recipient_tz: chrono_tz::UTC,
            tier: Tier::Normal,
            excerpt: "hi".into(),
            opened_at: at,
            deadline: at,
            steps_taken: 0,
            next_due: None,
            state,
            respite: Default::default(),
        }
    }

    fn answered(at: DateTime<Utc>) -> RequestState {
        RequestState::Answered {
            at,
            how: Answer::ThreadReply,
        }
    }

    fn count<K: redb::Key + 'static, V: redb::Value + 'static>(
        s: &Store,
        def: TableDefinition<K, V>,
    ) -> u64 {
        use redb::ReadableTableMetadata;
        s.read(|rx| Ok(rx.table(def)?.len()?)).unwrap()
    }

    #[test]
    fn thousands_of_stale_event_ids_go_in_bounded_chunks_and_fresh_ones_stay() {
        let (_dir, s) = store();
        s.write(|tx| {
            for i in 0..2_500 {
                tx.remember_seen(&format!("EvOld{i}"), now() - chrono::Duration::hours(25))?;
            }
            for i in 0..10 {
                tx.remember_seen(&format!("EvNew{i}"), now() - chrono::Duration::hours(23))?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(
            s.prunable(&rules(), now()).unwrap(),
            vec![Pruned::SeenEvents]
        );
        let chunks = prune_all(&s, Pruned::SeenEvents, K);
        assert!(s.prunable(&rules(), now()).unwrap().is_empty());
        assert_eq!(chunks.iter().sum::<usize>(), 2_500);
        assert!(chunks.len() >= 2_500 / K, "{chunks:?}");
        assert!(chunks.iter().all(|&n| n <= K), "{chunks:?}");
        assert_eq!(count(&s, SEEN_EVENTS), 10);
        assert_eq!(count(&s, SEEN_BY_TIME), 10);
        // A fresh id is still a duplicate; a forgotten one is new again.
        assert!(!s.first_delivery("EvNew3", now()).unwrap());
        assert!(s.first_delivery("EvOld3", now()).unwrap());
    }

    #[test]
    fn dropped_tags_are_forgotten_after_a_day() {
        let (_dir, s) = store();
        s.write(|tx| {
            for (tag, at) in [("rfc:1", now() - days(2)), ("rfc:2", now())] {
                tx.txn.open_table(DROPPED_TAGS)?.insert(tag, ms(at))?;
                tx.txn
                    .open_table(DROPPED_BY_TIME)?
                    .insert((ms(at), tag), ())?;
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(prune_all(&s, Pruned::DroppedTags, K), vec![1]);
        let (old, new) = s
            .read(|rx| Ok((rx.is_dropped_tag("rfc:1")?, rx.is_dropped_tag("rfc:2")?)))
            .unwrap();
        assert!(!old && new);
    }

    #[test]
    fn closed_requests_go_thirty_days_after_they_closed_with_their_indexes_and_tags() {
        let (_dir, s) = store();
        s.write(|tx| {
            // 1: closed 31 days ago; 2: closed 29 days ago; 3: open.
            for id in 1..=3 {
                tx.put_request(&request(id, RequestState::Open))?;
            }
            tx.put_request(&request(1, answered(now() - days(31))))?;
            tx.put_request(&request(2, answered(now() - days(29))))?;
            tx.record_tag("sla:1:nudge", "C1", "1.000200")?;
            tx.record_tag("sla:1:dm", "D1", "1.000300")?;
            tx.record_tag("sla:10:nudge", "C1", "10.000200")?;
            tx.record_tag("sla:2:nudge", "C1", "2.000200")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(prune_all(&s, Pruned::ClosedRequests, K), vec![1]);
        s.read(|rx| {
            assert!(rx.request(1)?.is_none());
            assert!(rx.request(2)?.is_some());
            assert!(rx.request(3)?.is_some());
            assert!(rx.requests_for_message("C1", "1.000100")?.is_empty());
            assert!(rx.requests_in_thread("C1", "1.000100")?.is_empty());
            assert_eq!(rx.requests_for_message("C1", "2.000100")?.len(), 1);
            assert_eq!(rx.tagged("sla:1:nudge")?, None);
            assert_eq!(rx.tag_of("D1", "1.000300")?, None);
            // Request 10's tag shares a prefix with "sla:1" but not "sla:1:".
            assert!(rx.tagged("sla:10:nudge")?.is_some());
            assert!(rx.tagged("sla:2:nudge")?.is_some());
            assert_eq!(rx.count_open_requests()?, 1);
            Ok(())
        })
        .unwrap();
        assert_eq!(count(&s, CLOSED_REQUESTS), 1);
    }

    #[test]
    fn thousands_of_closed_requests_take_several_bounded_chunks() {
        let (_dir, s) = store();
        s.write(|tx| {
            for id in 1..=2_500 {
                tx.put_request(&request(id, RequestState::Open))?;
                tx.put_request(&request(id, answered(now() - days(40))))?;
            }
            Ok(())
        })
        .unwrap();
        let chunks = prune_all(&s, Pruned::ClosedRequests, K);
        assert_eq!(chunks.iter().sum::<usize>(), 2_500);
        assert!(chunks.len() >= 2_500 / K && chunks.iter().all(|&n| n <= K));
        assert_eq!(count(&s, REQUESTS), 0);
    }

    fn standup_day(channel: &str, date: NaiveDate) -> StandupDay {
        let at = now();
        StandupDay {
            channel: channel.into(),
            date,
            prompted_at: at,
            remind_at: at,
            summary_at: at,
            answers: BTreeMap::new(),
            reminded: true,
            deferred: Vec::new(),
            summarized: true,
            expected: Vec::new(),
            names: BTreeMap::new(),
            summary_posted: 1,
            cleared: BTreeMap::new(),
        }
    }

    #[test]
    fn standup_days_go_thirty_days_after_their_date_with_their_tags() {
        let (_dir, s) = store();
        let old = (now() - days(31)).date_naive();
        let recent = (now() - days(29)).date_naive();
        s.write(|tx| {
            tx.put_standup_day(&standup_day("C1", old))?;
            tx.put_standup_day(&standup_day("C1", recent))?;
            tx.record_tag(&format!("standup:C1:{old}"), "C1", "1.1")?;
            tx.record_tag(&format!("standup:C1:{old}:summary"), "C1", "1.2")?;
            tx.record_tag(&format!("standup:C1:{recent}"), "C1", "2.1")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(prune_all(&s, Pruned::StandupDays, K), vec![1]);
        s.read(|rx| {
            assert!(rx.standup_day("C1", old)?.is_none());
            assert!(rx.standup_day("C1", recent)?.is_some());
            assert_eq!(rx.tag_of("C1", "1.1")?, None);
            assert_eq!(rx.tag_of("C1", "1.2")?, None);
            assert!(rx.tag_of("C1", "2.1")?.is_some());
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn absences_are_dropped_once_over_everywhere() {
        let (_dir, s) = store();
        let d = |n: i64| (now() + days(n)).date_naive();
        s.write(|tx| {
            tx.put_away(
                "UBOB",
                &[
                    Away {
                        from: d(-10),
                        to: d(-3),
                    },
                    Away {
                        from: d(-1),
                        to: d(5),
                    },
                ],
            )?;
            // Ended yesterday: some zones may still be in it.
            tx.put_away(
                "UCAROL",
                &[Away {
                    from: d(-4),
                    to: d(-1),
                }],
            )?;
            tx.put_away(
                "UDAN",
                &[Away {
                    from: d(-9),
                    to: d(-8),
                }],
            )?;
            Ok(())
        })
        .unwrap();
        assert_eq!(prune_all(&s, Pruned::Absences, K), vec![2]);
        s.read(|rx| {
            assert_eq!(
                rx.away("UBOB")?,
                vec![Away {
                    from: d(-1),
                    to: d(5)
                }]
            );
            assert_eq!(rx.away("UCAROL")?.len(), 1);
            assert!(rx.away("UDAN")?.is_empty());
            Ok(())
        })
        .unwrap();
        assert_eq!(count(&s, AWAY), 2);
        assert_eq!(count(&s, AWAY_BY_END), 2);
    }

    #[test]
    fn dead_letters_go_after_their_keep() {
        let (_dir, s) = store();
        for age in [40, 31, 29, 1] {
            s.dead_letter_timer("sla:1", "boom", 3, now() - days(age))
                .unwrap();
        }
        assert_eq!(prune_all(&s, Pruned::DeadLetters, K), vec![2]);
        let left: Vec<_> = s.dead_letters().unwrap().iter().map(|l| l.at).collect();
        assert_eq!(left, vec![now() - days(29), now() - days(1)]);
        // Chunks are bounded here too.
        assert_eq!(prune_all(&s, Pruned::DeadLetters, 1), Vec::<usize>::new());
    }

    #[test]
    fn coaching_tips_are_forgotten_a_week_after_they_went() {
        let (_dir, s) = store();
        s.write(|tx| {
            tx.record_nohello_tip("UOLD", now() - days(8))?;
            tx.record_nohello_tip("UNEW", now() - days(6))?;
            // Tipped twice: only the later tip counts, and it is recent.
            tx.record_nohello_tip("UAGAIN", now() - days(9))?;
            tx.record_nohello_tip("UAGAIN", now() - days(1))
        })
        .unwrap();
        assert_eq!(
            s.prunable(&rules(), now()).unwrap(),
            vec![Pruned::NohelloTips]
        );
        assert_eq!(prune_all(&s, Pruned::NohelloTips, K), vec![1]);
        use crate::store::CoachingReads;
        let last = |u: &str| s.read(|rx| rx.last_nohello_tip(u)).unwrap();
        assert_eq!(last("UOLD"), None);
        assert_eq!(last("UNEW"), Some(now() - days(6)));
        assert_eq!(last("UAGAIN"), Some(now() - days(1)));
        assert_eq!(count(&s, NOHELLO_TIPS), 2);
        assert_eq!(count(&s, NOHELLO_TIPS_BY_TIME), 2);
        assert!(s.prunable(&rules(), now()).unwrap().is_empty());
    }

    #[test]
    fn a_pass_finds_nothing_to_do_on_a_fresh_store() {
        let (_dir, s) = store();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let report = rt.block_on(s.prune_pass(rules(), now(), K)).unwrap();
        assert_eq!(report, PassReport::default());
        let backfill = rt.block_on(s.backfill(rules(), now(), K)).unwrap();
        assert_eq!(backfill.rows, 0);
        assert!(s.backfill_done().unwrap());
    }

    #[test]
    fn the_backfill_indexes_an_old_store_in_chunks_and_remembers_it() {
        let (_dir, s) = store();
        let old_day = (now() - days(40)).date_naive();
        // Rows as an older version wrote them: no index entries.
        s.write(|tx| {
            let raw = |r: &SlaRequest| serde_json::to_vec(r).unwrap();
            let mut requests = tx.txn.open_table(REQUESTS)?;
            for id in 1..=25 {
                requests.insert(id, raw(&request(id, answered(now() - days(40)))).as_slice())?;
            }
            // An open request whose ladder had ended: no timer, nothing would ever close it.
            requests.insert(26, raw(&request(26, RequestState::Open)).as_slice())?;
            drop(requests);
            tx.txn
                .open_multimap_table(super::super::tables::OPEN_BY_RECIPIENT)?
                .insert("UBOB", 26)?;
            tx.txn
                .open_multimap_table(super::super::tables::OPEN_BY_AUTHOR)?
                .insert("UALICE", 26)?;
            tx.txn
                .open_table(SEEN_EVENTS)?
                .insert("EvOld", ms(now() - days(2)))?;
            tx.txn.open_table(STANDUP_DAYS)?.insert(
                day_key("C1", old_day).as_str(),
                crate::store::to_json(&standup_day("C1", old_day)).as_slice(),
            )?;
            tx.txn.open_table(AWAY)?.insert(
                "UBOB",
                crate::store::to_json(&vec![Away {
                    from: old_day,
                    to: old_day,
                }])
                .as_slice(),
            )?;
            // Tags left behind by requests an older version pruned; an RFC's stays.
            tx.record_tag("sla:999:nudge", "C1", "9.9")?;
            tx.record_tag("rfc:1", "C1", "8.8")?;
            tx.record_tag(&format!("standup:C1:{old_day}"), "C1", "7.7")?;
            Ok(())
        })
        .unwrap();
        let mut chunks = 0;
        while s.backfill_chunk(&rules(), now(), 10).unwrap().0 {
            chunks += 1;
            assert!(chunks < 100, "the backfill ends");
        }
        assert!(chunks >= 3, "26 requests in chunks of 10: {chunks}");
        assert!(s.backfill_done().unwrap());
        assert_eq!(s.backfill_chunk(&rules(), now(), 10).unwrap(), (false, 0));
        s.read(|rx| {
            assert_eq!(rx.tagged("sla:999:nudge")?, None);
            assert!(rx.tagged("rfc:1")?.is_some());
            assert_eq!(rx.tag_of("C1", "7.7")?, None);
            // The open request expires forget_after from the upgrade.
            assert_eq!(rx.request(26)?.unwrap().next_due, Some(now() + days(30)));
            Ok(())
        })
        .unwrap();
        assert_eq!(s.next_timer_due().unwrap(), Some(now() + days(30)));
        // And now everything old is found by the pruner.
        assert_eq!(prune_all(&s, Pruned::ClosedRequests, K), vec![25]);
        assert_eq!(prune_all(&s, Pruned::SeenEvents, K), vec![1]);
        assert_eq!(prune_all(&s, Pruned::StandupDays, K), vec![1]);
        assert_eq!(prune_all(&s, Pruned::Absences, K), vec![1]);
        assert_eq!(count(&s, REQUESTS), 1);
        // The metrics got a record of each closed request, and keep it after the request.
        assert_eq!(count(&s, OUTCOMES), 25);
        assert_eq!(s.fact(OUTCOMES_BACKFILL).unwrap().as_deref(), Some("done"));
    }

    #[test]
    fn the_metrics_keep_a_closed_request_for_a_year() {
        let (_dir, s) = store();
        s.write(|tx| {
            for (id, age) in [(1, 400), (2, 366), (3, 364), (4, 2)] {
                tx.put_request(&request(id, RequestState::Open))?;
                tx.put_request(&request(id, answered(now() - days(age))))?;
            }
            // An open request has no outcome yet.
            tx.put_request(&request(5, RequestState::Open))
        })
        .unwrap();
        assert_eq!(count(&s, OUTCOMES), 4);
        assert!(
            s.prunable(&rules(), now())
                .unwrap()
                .contains(&Pruned::Outcomes)
        );
        assert_eq!(prune_all(&s, Pruned::Outcomes, 1), vec![1, 1]);
        let left: Vec<u64> = s
            .read(|rx| rx.outcomes_between(now() - days(1000), now()))
            .unwrap()
            .iter()
            .map(|o| o.id)
            .collect();
        assert_eq!(left, vec![3, 4]);
    }

    /// Not a timed test: prints how long the largest chunk holds the writer on a large store.
    /// `ASYNCBOT_PRUNE_ROWS=100000 cargo test --release --lib retention::tests::measure -- \
    /// --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, run by hand in release mode"]
    fn measure_the_largest_chunk() {
        let rows: u64 = std::env::var("ASYNCBOT_PRUNE_ROWS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100_000);
        let dir = tempfile::tempdir().unwrap();
        // Durable, as in production: each chunk's commit includes its fsync.
        let s = Store::open(&dir.path().join("asyncbot.redb")).unwrap();
        for batch in 0..rows.div_ceil(10_000) {
            s.write(|tx| {
                for id in batch * 10_000 + 1..=((batch + 1) * 10_000).min(rows) {
                    tx.remember_seen(&format!("Ev{id:08}"), now() - days(2))?;
                    let mut r = request(id, RequestState::Open);
                    r.message_ts = format!("{}.{id:06}", 1_700_000_000 + id);
                    r.thread_root = r.message_ts.clone();
                    tx.put_request(&r)?;
                    tx.record_tag(&format!("sla:{id}:nudge"), "C1", &format!("{id}.1"))?;
                    tx.put_request(&SlaRequest {
                        state: answered(now() - days(40)),
                        ..r
                    })?;
                }
                Ok(())
            })
            .unwrap();
        }
        // Ten chunks at each size, on each of the two biggest tables.
        for table in [Pruned::SeenEvents, Pruned::ClosedRequests] {
            for limit in [250, 500, 1000, 2000] {
                let mut longest = Duration::ZERO;
                for _ in 0..10 {
                    let start = Instant::now();
                    s.prune_chunk(table, &rules(), now(), limit).unwrap();
                    longest = longest.max(start.elapsed());
                }
                println!(
                    "{}: chunks of {limit} rows: largest {:.1} ms",
                    table.name(),
                    longest.as_secs_f64() * 1000.0
                );
            }
        }
        // Then the rest, as the pruner does it.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let start = Instant::now();
        let report = rt.block_on(s.prune_pass(rules(), now(), CHUNK)).unwrap();
        println!(
            "a pass over the rest ({rows} rows each of 2 tables, less the above): {} rows in {} chunks of at most {CHUNK}, {:.1} s; largest chunk {:.1} ms",
            report.rows,
            report.chunks,
            start.elapsed().as_secs_f64(),
            report.longest.as_secs_f64() * 1000.0
        );
    }
}
