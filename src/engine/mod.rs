//! The engine: hands accepted events and due timers to the features (see [`Feature`]) and knows
//! none of them. Each event is prepared (the features' Slack lookups, before any transaction),
//! then applied by every feature in one store transaction that writes the new state, its timers
//! and its outgoing messages together; each timer is fired by the feature that owns it. The
//! people service (`users.info`, cached) looks people up concurrently and within a time budget;
//! a lookup that fails or is skipped is owed, and done later by the people worker, which lets the
//! features correct what they started on a guessed time zone. The same lookups, the
//! `user_change` and `dnd_updated_user` events, and a periodic refresh for people with open
//! requests keep what Slack says of each person's presence (out of office, focus, Do Not
//! Disturb) in the store, for the clocks to ask.
//!
//! No item can stop a worker: each event and each timer runs contained (a panic or an error
//! fails that item alone), is retried a few times, then set aside as a dead letter.

pub mod clock;
pub mod health;
mod home;
pub mod reply;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::engine::health::{Health, contained, panic_message};

use crate::config::Settings;
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::engine::clock::Now;
use crate::engine::reply::{InteractionReply, Reply, UserError};
use crate::slack::inbound::{Command, Inbound};
use crate::slack::interaction::{BlockAction, ViewSubmission};
use crate::slack::{BotIdentity, ProfileStatus, SlackError, SlackPort};
use crate::store::{CachedUser, Store, StoreError, TimerKey, Tx};

/// How long a `users.info` answer is trusted (time zones change rarely).
const USER_CACHE_TTL: chrono::Duration = chrono::Duration::hours(24);
/// How many `users.info` calls one event may have in flight.
const LOOKUP_CONCURRENCY: usize = 8;
/// How long one event may wait for its lookups. Past it, people start on their cached or the
/// fallback zone and are looked up later.
const LOOKUP_BUDGET: Duration = Duration::from_millis(1500);
/// After a lookup timed out or was rate limited, events stop waiting for lookups this long.
const SLOW_SLACK_COOLDOWN: chrono::Duration = chrono::Duration::seconds(30);
/// An event or a timer that fails this many times is set aside as a dead letter.
pub const MAX_ATTEMPTS: u32 = 3;
/// The inbox worker takes up to this many events at once: their lookups run concurrently and
/// they share one commit (one fsync), which is what lets the engine keep up with the acks.
pub const INBOX_BATCH: usize = 256;
/// At most this many events of a batch wait on their lookups at once (each has at most
/// [`LOOKUP_CONCURRENCY`] `users.info` calls in flight).
const PREPARE_CONCURRENCY: usize = 16;
/// Up to this many due timers are fired in one transaction (one commit, one fsync).
const TIMER_BATCH: usize = 256;
/// At most this many App Home views are being published at once.
const HOME_PUBLISHES: usize = 4;
/// At most this many people have their presence refreshed per pass of the people worker (one
/// pass a minute in `serve`): 20 `dnd.info` calls a minute stay well under its Tier 3 limit
/// (about 50), and a pass stays short even when every call times out.
const PRESENCE_BATCH: usize = 20;

/// The workers' names in `/healthz`.
pub const INBOX_WORKER: &str = "inbox";
pub const TIMER_WORKER: &str = "timers";
pub const PEOPLE_WORKER: &str = "people";

/// Wakes the workers when there is new work.
#[derive(Clone, Default)]
pub struct Wakers {
    pub inbox: Arc<Notify>,
    pub timers: Arc<Notify>,
    pub delivery: Arc<Notify>,
    pub people: Arc<Notify>,
}

pub struct Engine {
    pub store: Store,
    pub slack: Arc<dyn SlackPort>,
    pub settings: Arc<Settings>,
    pub identity: BotIdentity,
    pub now: Now,
    pub wakers: Wakers,
    pub health: Health,
    /// Until when (unix ms) events do not wait for `users.info` (Slack was slow).
    slow_until: AtomicI64,
    /// Bounds the App Home publishes running beside the event loop.
    home_publishes: Arc<Semaphore>,
    /// The features the engine hands events and timers to (see [`Feature`]).
    pub features: Vec<Arc<dyn Feature>>,
    /// How often an idle worker looks again on its own (a safety net: wake-ups are by notify or
    /// by the next due time). A minute in `serve`, robust to wall-clock jumps; an hour in a
    /// simulation, where the virtual clock does not jump and every wake-up costs time.
    pub idle_recheck: Duration,
}

/// A message in a thread, as features see it.
pub struct ThreadMessage<'a> {
    pub channel: &'a str,
    /// The thread's first message.
    pub root: &'a str,
    pub user: &'a str,
    pub text: &'a str,
}

/// A reaction someone added.
pub struct Reaction<'a> {
    pub channel: &'a str,
    pub ts: &'a str,
    pub user: &'a str,
    pub name: &'a str,
}

/// What a feature looked up for one event before its transaction ([`Feature::prepare`]), handed
/// back to that feature alone in [`Feature::apply`]; each feature downcasts its own type.
pub type Prepared = Box<dyn std::any::Any + Send>;

/// What a feature (SLA tracking, RFCs, standups) handles for the engine. The engine knows
/// features only through this trait: it hands each one the events and timers, inside the same
/// transaction where there is one, and the feature decides whether they are its own.
///
/// An event is handled in two steps so that many events can share one transaction: every
/// feature's `prepare` runs first (it may wait on Slack, and writes nothing), then every
/// feature's `apply` (and the thread-message and reaction hooks) runs inside the transaction
/// that also records the event as processed.
pub trait Feature: Send + Sync {
    /// Before an event's transaction: the lookups the feature needs for it (people's time
    /// zones, through the engine's `quick_people`). Side-effect free apart from the people cache.
    fn prepare<'a>(
        &'a self,
        _engine: &'a Engine,
        _event: &'a Inbound,
    ) -> futures::future::BoxFuture<'a, Prepared> {
        Box::pin(futures::future::ready(Box::new(()) as Prepared))
    }

    /// An event, inside its transaction; `prepared` is what this feature's `prepare` returned.
    fn apply(
        &self,
        _engine: &Engine,
        _tx: &mut crate::store::Tx<'_>,
        _event: &Inbound,
        _prepared: Prepared,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// The people worker learnt who `user` is (after the feature went ahead on a guess, and
    /// asked for the lookup with `want_lookup`): the feature corrects what it started.
    fn on_person_learned(
        &self,
        _engine: &Engine,
        _tx: &mut crate::store::Tx<'_>,
        _user: &str,
        _person: &Person,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// A message in a thread (not the bot's own).
    fn on_thread_message(
        &self,
        _engine: &Engine,
        _tx: &mut crate::store::Tx<'_>,
        _message: &ThreadMessage<'_>,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// A reaction on any message.
    fn on_reaction(
        &self,
        _engine: &Engine,
        _tx: &mut crate::store::Tx<'_>,
        _reaction: &Reaction<'_>,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    /// Slack refused the message posted with `tag` for good. Returns whether the tag was this
    /// feature's (then it has told whoever needs to know).
    fn on_post_dropped(
        &self,
        _engine: &Engine,
        _tx: &mut crate::store::Tx<'_>,
        _tag: &str,
        _reason: &str,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    /// Fires a timer if it is this feature's: `None` if it is not. The future says whether
    /// messages were queued.
    fn fire<'a>(
        &'a self,
        _engine: &'a Engine,
        _key: &'a TimerKey,
        _now: DateTime<Utc>,
    ) -> Option<futures::future::BoxFuture<'a, Result<bool, StoreError>>> {
        None
    }

    /// Fires a timer inside a transaction the engine shares among many due timers, if it is
    /// this feature's and can be fired that way (it needs nothing outside the store): `None`
    /// otherwise, having written nothing (then [`Feature::fire`] fires it). `Some(true)` if
    /// messages were queued.
    fn fire_in(
        &self,
        _engine: &Engine,
        _tx: &mut crate::store::Tx<'_>,
        _key: &TimerKey,
        _now: DateTime<Utc>,
    ) -> Option<Result<bool, StoreError>> {
        None
    }

    /// The text of `user`'s Home tab, if this feature draws it.
    fn home(
        &self,
        _engine: &Engine,
        _user: &str,
        _now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
    }

    /// Blocks this feature adds to `user`'s Home tab below the text (a section with a button,
    /// say), each within Block Kit's limits; none by default.
    fn home_blocks(
        &self,
        _engine: &Engine,
        _user: &str,
        _now: DateTime<Utc>,
    ) -> Result<Vec<slack_morphism::prelude::SlackBlock>, StoreError> {
        Ok(Vec::new())
    }

    // Commands and interactions: the dispatcher routes each slash command, button and form to
    // the feature that declares it, and answers anything undeclared itself.

    /// The slash commands this feature answers (`/rfc`).
    fn commands(&self) -> &'static [&'static str] {
        &[]
    }

    /// The people whose time zone `command` reads (the caller for "away today", an RFC's
    /// approver), to be looked up before it runs: meanwhile the dispatcher acks "one moment".
    fn people_in(&self, _command: &Command) -> Vec<String> {
        Vec::new()
    }

    /// Answers one of [`Feature::commands`] within Slack's 3 seconds: it reads and writes the
    /// store and never waits on Slack (a modal is opened after the ack).
    fn on_command<'a>(
        &'a self,
        _engine: &'a Arc<Engine>,
        _command: &'a Command,
    ) -> BoxFuture<'a, Result<Reply, UserError>> {
        // Only reached if a feature lists a command it does not answer.
        Box::pin(async { Err(UserError::Internal) })
    }

    /// The `action_id` prefixes of the buttons this feature owns.
    fn actions(&self) -> &'static [&'static str] {
        &[]
    }

    /// A click on one of its buttons. What it returns is told to the person (ephemerally, in
    /// the button's channel); `None` tells nothing (a modal opens instead).
    fn on_block_action<'a>(
        &'a self,
        _engine: &'a Arc<Engine>,
        _action: &'a BlockAction,
    ) -> BoxFuture<'a, Option<Result<String, UserError>>> {
        Box::pin(async { None })
    }

    /// The `callback_id` prefixes of the modals this feature owns.
    fn views(&self) -> &'static [&'static str] {
        &[]
    }

    /// One of its modals, submitted: an ack closes it, field errors keep it open.
    fn on_view_submission<'a>(
        &'a self,
        _engine: &'a Arc<Engine>,
        _submission: &'a ViewSubmission,
    ) -> BoxFuture<'a, InteractionReply> {
        Box::pin(async { InteractionReply::Ack })
    }
}

/// A person, as the people service knows them.
pub enum Person {
    Human {
        tz: Tz,
        name: Option<String>,
    },
    NotTracked,
    /// Slack could not say in time: their cached zone, or the fallback. Owed a lookup.
    Guessed {
        tz: Tz,
    },
}

impl Engine {
    pub fn new(
        store: Store,
        slack: Arc<dyn SlackPort>,
        settings: Arc<Settings>,
        identity: BotIdentity,
        now: Now,
        wakers: Wakers,
        health: Health,
    ) -> Self {
        Self {
            store,
            slack,
            settings,
            identity,
            now,
            wakers,
            health,
            slow_until: AtomicI64::new(0),
            home_publishes: Arc::new(Semaphore::new(HOME_PUBLISHES)),
            idle_recheck: Duration::from_secs(60),
            features: Vec::new(),
        }
    }

    /// Processes the inbox until it is empty, then waits for more. An event that fails (an
    /// error or a panic) is retried after 1 s and 2 s, then set aside as a dead letter, so the
    /// events behind it go on.
    pub async fn run_inbox(self: Arc<Self>, shutdown: CancellationToken) {
        let mut failures: HashMap<u64, u32> = HashMap::new();
        loop {
            // On shutdown, the event in hand is finished and committed; the rest wait in the store.
            if shutdown.is_cancelled() {
                return;
            }
            match self.process_next(&mut failures).await {
                Ok(Some(None)) => continue,
                Ok(Some(Some(wait))) => {
                    self.health.idle(INBOX_WORKER);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "the inbox cannot be read; retrying shortly");
                    self.health.idle(INBOX_WORKER);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            }
            self.health.idle(INBOX_WORKER);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakers.inbox.notified() => {}
                // A safety net only: `notify_one` keeps a permit for work that arrived between
                // the check and the wait, so nothing is missed; this bounds the cost of a bug.
                _ = tokio::time::sleep(self.idle_recheck) => {}
            }
        }
    }

    /// Handles the oldest inbox events, up to [`INBOX_BATCH`] of them in one transaction,
    /// contained. `None`: the inbox is empty; `Some(None)`: events were handled (or one set
    /// aside); `Some(Some(wait))`: the oldest failed and is retried after `wait`.
    ///
    /// Events keep their order, and one that fails never takes the others down: the batch is
    /// applied in one transaction, and if an event in it fails (an error or a panic, in its
    /// lookups or in its transaction) nothing of the batch is committed; the events before it
    /// are then applied again without it, and it is left at the head of the inbox, where it is
    /// retried alone and set aside as a dead letter after [`MAX_ATTEMPTS`], as before batching.
    pub async fn process_next(
        &self,
        failures: &mut HashMap<u64, u32>,
    ) -> Result<Option<Option<Duration>>, StoreError> {
        let mut batch = self
            .store
            .call(|s| s.next_inbound_batch(INBOX_BATCH))
            .await?;
        let Some(&(first, _)) = batch.first() else {
            return Ok(None);
        };
        // The Home tab is drawn from the store as the events before it left it: it goes alone.
        let alone = batch
            .iter()
            .position(|(_, e)| matches!(e, Inbound::AppHomeOpened { .. }))
            .map_or(batch.len(), |at| at.max(1));
        batch.truncate(alone);
        let error = loop {
            self.health.busy(
                INBOX_WORKER,
                match batch.len() {
                    1 => format!("inbox/{first} ({})", batch[0].1.kind()),
                    n => format!("inbox/{first} and the {} after it", n - 1),
                },
            );
            match self.handle_batch(&batch).await {
                Ok(()) => break None,
                Err((0, error)) => break Some(error),
                Err((at, error)) => {
                    tracing::debug!(seq = batch[at].0, %error, "an event failed in its batch; applying the ones before it alone");
                    batch.truncate(at);
                }
            }
        };
        self.wakers.timers.notify_one();
        self.wakers.delivery.notify_one();
        let Some(error) = error else {
            for (seq, _) in &batch {
                failures.remove(seq);
            }
            return Ok(Some(None));
        };
        let (seq, kind) = (first, batch[0].1.kind());
        let attempts = failures.entry(seq).or_insert(0);
        *attempts += 1;
        if *attempts < MAX_ATTEMPTS {
            tracing::warn!(seq, kind, attempt = *attempts, %error, "an event failed; it will be retried");
            return Ok(Some(Some(Duration::from_secs(1 << (*attempts - 1)))));
        }
        let attempts = failures.remove(&seq).unwrap_or(MAX_ATTEMPTS);
        let now = (self.now)();
        let err = error.clone();
        let letter = self
            .store
            .call(move |s| s.dead_letter_event(seq, &err, attempts, now))
            .await?;
        tracing::error!(
            seq,
            kind,
            attempts,
            %error,
            dead_letter = letter,
            "an event failed repeatedly and was set aside; the events behind it go on. `asyncbot dead-letters list` shows it, `asyncbot dead-letters retry {letter}` runs it again"
        );
        Ok(Some(None))
    }

    /// Applies `batch` in one transaction: every event's lookups first (concurrently, at most
    /// [`PREPARE_CONCURRENCY`] events at once), then each event in order, then one commit.
    /// All of it commits, or nothing: then the position of the first event that failed (in its
    /// lookups or in the transaction), with why.
    async fn handle_batch(&self, batch: &[(u64, Inbound)]) -> Result<(), (usize, String)> {
        if let [(seq, Inbound::AppHomeOpened { user })] = batch {
            return match contained(async { self.open_home(*seq, user.clone(), (self.now)()) }).await
            {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err((0, e.to_string())),
                Err(panic) => Err((0, panic)),
            };
        }
        // Boxed, so that the stream's item type names no closure lifetime (the worker's future
        // must be `Send` for any borrow of the batch).
        let lookups: Vec<futures::future::BoxFuture<'_, Result<Vec<Prepared>, String>>> = batch
            .iter()
            .map(|(seq, event)| {
                tracing::debug!(seq, kind = event.kind(), "processing event");
                Box::pin(contained(self.prepare(event))) as futures::future::BoxFuture<'_, _>
            })
            .collect();
        let prepared: Vec<Result<Vec<Prepared>, String>> = futures::stream::iter(lookups)
            .buffered(PREPARE_CONCURRENCY)
            .collect()
            .await;
        let mut ready = Vec::with_capacity(prepared.len());
        for (at, result) in prepared.into_iter().enumerate() {
            ready.push(result.map_err(|error| (at, error))?);
        }
        let mut failed: Option<(usize, String)> = None;
        let written = off_the_runtime(|| {
            self.store.write(|tx| {
                for (at, ((_, event), prepared)) in batch.iter().zip(ready).enumerate() {
                    let now = (self.now)();
                    let applied = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        self.apply(tx, event, prepared, now)
                    }));
                    let error = match applied {
                        Ok(Ok(())) => continue,
                        Ok(Err(e)) => e.to_string(),
                        Err(panic) => format!("panicked: {}", panic_message(panic.as_ref())),
                    };
                    failed = Some((at, error));
                    // Nothing of the batch is committed: the transaction may hold half of this event.
                    return Err(StoreError::Task("an event in the batch failed".into()));
                }
                // Every event applied: all leave the inbox in this same transaction.
                let seqs: Vec<u64> = batch.iter().map(|(seq, _)| *seq).collect();
                tx.finish_all_inbound(&seqs)
            })
        });
        match (written, failed) {
            (_, Some(failed)) => Err(failed),
            // The commit itself failed: the oldest event bears it (as it did alone).
            (Err(e), None) => Err((0, e.to_string())),
            (Ok(()), None) => Ok(()),
        }
    }

    /// Every feature's lookups for one event, run concurrently.
    async fn prepare(&self, event: &Inbound) -> Vec<Prepared> {
        futures::future::join_all(self.features.iter().map(|f| f.prepare(self, event))).await
    }

    /// What one event does, inside a transaction: the features' thread-message and reaction
    /// hooks, the owner of a refused post, then every feature's `apply` with what it prepared.
    fn apply(
        &self,
        tx: &mut Tx<'_>,
        event: &Inbound,
        prepared: Vec<Prepared>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match event {
            // A comment in an RFC's thread, an answer in a standup's: the features decide
            // whether the thread is theirs. The bot's own messages are nobody's answer.
            Inbound::MessagePosted {
                channel,
                user,
                ts,
                thread_ts: Some(root),
                text,
                ..
            } if root != ts && *user != self.identity.user_id => {
                let message = ThreadMessage {
                    channel,
                    root,
                    user,
                    text,
                };
                for feature in &self.features {
                    feature.on_thread_message(self, tx, &message, now)?;
                }
            }
            Inbound::ReactionAdded {
                user,
                reaction,
                channel,
                ts,
            } => {
                let added = Reaction {
                    channel,
                    ts,
                    user,
                    name: reaction,
                };
                for feature in &self.features {
                    feature.on_reaction(self, tx, &added, now)?;
                }
            }
            Inbound::PostDropped { tag, reason } => self.post_dropped(tx, tag, reason, now)?,
            Inbound::StatusChanged {
                user,
                emoji,
                text,
                expiration,
            } => {
                let status = ProfileStatus {
                    emoji: emoji.clone(),
                    text: text.clone(),
                    expiration: *expiration,
                };
                self.learn_status(tx, user, &status, now)?;
            }
            Inbound::DndChanged { user, dnd } => tx.learn_dnd(user, *dnd, now)?,
            _ => {}
        }
        for (feature, prepared) in self.features.iter().zip(prepared) {
            feature.apply(self, tx, event, prepared, now)?;
        }
        Ok(())
    }

    /// The Home tab, as a feature draws it. It is a view, not a message: published directly (a
    /// lost one is redrawn the next time the tab opens).
    fn open_home(&self, seq: u64, user: String, now: DateTime<Utc>) -> Result<(), StoreError> {
        let view = self.draw_home(&user, now)?;
        self.store.write(|tx| tx.finish_inbound(seq))?;
        if let Some(view) = view {
            self.send_home(user, view);
        }
        Ok(())
    }

    /// Draws `user`'s Home tab again and publishes it (after they changed something it shows).
    pub fn publish_home(&self, user: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(view) = self.draw_home(user, now)? {
            self.send_home(user.to_owned(), view);
        }
        Ok(())
    }

    /// `user`'s Home tab: the first feature's text, then every feature's blocks; `None` when no
    /// feature draws anything.
    fn draw_home(
        &self,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<slack_morphism::prelude::SlackHomeView>, StoreError> {
        let mut text = None;
        for feature in &self.features {
            if let Some(drawn) = feature.home(self, user, now)? {
                text = Some(drawn);
                break;
            }
        }
        let mut blocks = Vec::new();
        for feature in &self.features {
            blocks.extend(feature.home_blocks(self, user, now)?);
        }
        if text.is_none() && blocks.is_empty() {
            return Ok(None);
        }
        Ok(Some(home::view(
            text.as_deref().unwrap_or_default(),
            blocks,
        )))
    }

    fn send_home(&self, user: String, view: slack_morphism::prelude::SlackHomeView) {
        // Published beside the event loop, never awaited in it: a slow Slack must not hold up
        // the events behind this one. Bounded; when all slots are busy, this view is skipped
        // (it is redrawn the next time the tab opens).
        match self.home_publishes.clone().try_acquire_owned() {
            Ok(permit) => {
                let slack = self.slack.clone();
                tokio::spawn(async move {
                    if let Err(e) = slack.publish_home(&user, &view).await {
                        tracing::warn!(%user, error = %e, "could not publish the Home tab");
                    }
                    drop(permit);
                });
            }
            Err(_) => {
                tracing::info!(%user, "Home tab publishes are backed up; skipped one")
            }
        }
    }

    /// A note only `user` sees in `channel` (an answer to a button press), through the outbox.
    pub fn tell(&self, channel: &str, user: &str, text: String) {
        let now = (self.now)();
        let message = OutgoingMessage::new(
            Destination::Ephemeral {
                channel: channel.to_owned(),
                user: user.to_owned(),
            },
            text,
        );
        match self.store.write(|tx| tx.enqueue(message, now)) {
            Ok(_) => self.wakers.delivery.notify_one(),
            Err(e) => tracing::error!(error = %e, "could not queue a note to a person"),
        }
    }

    /// Slack refused a tagged post for good: the feature that owns it tells its owner.
    fn post_dropped(
        &self,
        tx: &mut Tx<'_>,
        tag: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for feature in &self.features {
            if feature.on_post_dropped(self, tx, tag, reason, now)? {
                return Ok(());
            }
        }
        tracing::debug!(tag, reason, "a dropped message with no one to tell");
        Ok(())
    }

    /// How long an event may wait for its `users.info` lookups: none while Slack is slow
    /// (after a timeout or a rate limit), so events go ahead on cached or fallback zones.
    pub(crate) fn lookup_budget(&self) -> Duration {
        let now = (self.now)();
        if self.slow_until.load(Ordering::Relaxed) > now.timestamp_millis() {
            Duration::ZERO
        } else {
            LOOKUP_BUDGET
        }
    }

    /// Looks people up concurrently (at most [`LOOKUP_CONCURRENCY`] calls at once), waiting at
    /// most `wait` in all. Whoever is not known by then is `Guessed`: their cached zone, however
    /// old, or the fallback zone.
    pub(crate) async fn quick_people(
        &self,
        users: Vec<String>,
        wait: Duration,
    ) -> Vec<(String, Person)> {
        let now = (self.now)();
        // Point reads served from redb's page cache (microseconds, and a reader never waits
        // for a writer): made here, not in a blocking task, which would cost two thread
        // switches per event while a burst is processed. One that fails counts as unknown.
        let cached: Vec<Option<CachedUser>> = users
            .iter()
            .map(|u| self.store.cached_user(u).unwrap_or(None))
            .collect();
        let mut out: Vec<(String, Person)> = Vec::new();
        let mut to_fetch: Vec<(String, Option<CachedUser>)> = Vec::new();
        for (user, cached) in users.into_iter().zip(cached) {
            match cached {
                Some(c) if now - c.fetched_at < USER_CACHE_TTL => {
                    out.push((user, self.person_from_record(&c)));
                }
                stale => to_fetch.push((user, stale)),
            }
        }
        if to_fetch.is_empty() {
            return out;
        }
        let mut results: HashMap<String, Result<crate::slack::UserProfile, SlackError>> =
            HashMap::new();
        if !wait.is_zero() {
            let ids: Vec<String> = to_fetch.iter().map(|(user, _)| user.clone()).collect();
            let slack = self.slack.clone();
            let lookups = futures::stream::iter(ids)
                .map(move |user| {
                    let slack = slack.clone();
                    async move {
                        let result = slack.user_info(&user).await;
                        (user, result)
                    }
                })
                .buffer_unordered(LOOKUP_CONCURRENCY);
            let collect = lookups.for_each(|(user, result)| {
                results.insert(user, result);
                futures::future::ready(())
            });
            if tokio::time::timeout(wait, collect).await.is_err() {
                self.slack_is_slow("users.info took longer than the event's budget");
            }
        }
        let mut learnt: Vec<(CachedUser, Option<ProfileStatus>)> = Vec::new();
        for (user, stale) in to_fetch {
            let person = match results.remove(&user) {
                Some(Ok(profile)) => {
                    let status = profile.status.clone();
                    let record = CachedUser::from_profile(profile, now);
                    let person = self.person_from_record(&record);
                    learnt.push((record, status));
                    person
                }
                Some(Err(SlackError::Permanent(code))) if is_not_a_person(&code) => {
                    tracing::info!(%user, %code, "mentioned user cannot be looked up; not tracking");
                    Person::NotTracked
                }
                other => {
                    if let Some(Err(e)) = &other {
                        if matches!(e, SlackError::RateLimited { .. }) {
                            self.slack_is_slow("users.info is rate limited");
                        }
                        tracing::warn!(%user, error = %e, "users.info failed; starting on the cached or fallback time zone, to be corrected later");
                    }
                    match stale.as_ref().map(|c| self.person_from_record(c)) {
                        Some(Person::NotTracked) => Person::NotTracked,
                        Some(Person::Human { tz, .. }) => Person::Guessed { tz },
                        _ => Person::Guessed {
                            tz: self.settings.fallback_timezone,
                        },
                    }
                }
            };
            out.push((user, person));
        }
        // Everyone learnt in one commit, with what their status says of their presence.
        if !learnt.is_empty() {
            let rules = self.settings.presence.rules.clone();
            let written = self
                .store
                .call(move |s| {
                    s.write(|tx| {
                        for (record, status) in &learnt {
                            tx.cache_user(record)?;
                            if let Some(status) = status {
                                learn_status(tx, &rules, &record.id, status, now)?;
                            }
                        }
                        Ok(())
                    })
                })
                .await;
            if let Err(e) = written {
                tracing::warn!(error = %e, "could not cache the people looked up");
            }
        }
        out
    }

    fn slack_is_slow(&self, why: &str) {
        let until = ((self.now)() + SLOW_SLACK_COOLDOWN).timestamp_millis();
        if self.slow_until.swap(until, Ordering::Relaxed) < (self.now)().timestamp_millis() {
            tracing::warn!(
                why,
                "Slack is slow: events stop waiting for lookups for 30 s"
            );
        }
        self.wakers.people.notify_one();
    }

    fn person_from_record(&self, u: &CachedUser) -> Person {
        if u.is_bot || u.deleted {
            return Person::NotTracked;
        }
        Person::Human {
            tz: u
                .tz
                .as_deref()
                .and_then(|tz| tz.parse().ok())
                .unwrap_or(self.settings.fallback_timezone),
            name: u.name.clone(),
        }
    }

    /// A person as far as the store knows, without asking Slack: for answering a command
    /// within Slack's 3 seconds. Unknown people are `Guessed` on the fallback zone.
    pub(crate) fn cached_person(&self, user: &str) -> Person {
        match self.store.cached_user(user) {
            Ok(Some(c)) => self.person_from_record(&c),
            _ => Person::Guessed {
                tz: self.settings.fallback_timezone,
            },
        }
    }

    /// Looks up the people whose lookup is owed, and lets the features correct what they
    /// started on a guess (see [`Feature::on_person_learned`]).
    pub async fn run_people(self: Arc<Self>, shutdown: CancellationToken) {
        let mut wait = Duration::from_secs(1);
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let pending = self
                .store
                .call(|s| s.pending_lookups(20))
                .await
                .unwrap_or_default();
            let mut failed = false;
            for user in &pending {
                self.health
                    .busy(PEOPLE_WORKER, format!("users.info {user}"));
                match contained(self.correct_person(user)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::info!(%user, error = %e, "a later lookup failed; it will be tried again");
                        failed = true;
                        break;
                    }
                    Err(panic) => {
                        tracing::error!(%user, %panic, "correcting what started on a guess about a person panicked; dropping the lookup");
                        let user = user.clone();
                        let _ = self
                            .store
                            .call(move |s| s.write(|tx| tx.lookup_done(&user)))
                            .await;
                    }
                }
            }
            if !failed && let Err(panic) = contained(self.refresh_presence()).await {
                tracing::error!(%panic, "refreshing presence panicked; the last known presence stands");
            }
            self.health.idle(PEOPLE_WORKER);
            let sleep = if failed {
                wait = (wait * 2).min(Duration::from_secs(60));
                wait
            } else {
                wait = Duration::from_secs(1);
                if pending.is_empty() {
                    self.idle_recheck
                } else {
                    Duration::ZERO
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakers.people.notified(), if !failed => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// What `status` says of `user`'s presence, learnt at `now` (`respect.ooo_status`,
    /// `respect.focus_status`).
    fn learn_status(
        &self,
        tx: &mut Tx<'_>,
        user: &str,
        status: &ProfileStatus,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        learn_status(tx, &self.settings.presence.rules, user, status, now)
    }

    /// Asks Slack again about the presence of up to [`PRESENCE_BATCH`] people with open
    /// requests whose last answer is older than `respect.presence_refresh`: their status (from
    /// `users.info`) and their Do Not Disturb (`dnd.info`). Slack's errors stop nothing: they
    /// are logged, the last known presence stands, and those people are asked again after the
    /// next interval.
    pub async fn refresh_presence(&self) {
        let now = (self.now)();
        let interval = chrono::Duration::from_std(self.settings.presence.refresh)
            .unwrap_or(chrono::Duration::MAX);
        let stale_before = now.checked_sub_signed(interval).unwrap_or(now);
        let due = match self
            .store
            .call(move |s| s.presence_due(stale_before, PRESENCE_BATCH))
            .await
        {
            Ok(due) if due.is_empty() => return,
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read whose presence is due for a refresh");
                return;
            }
        };
        self.health
            .busy(PEOPLE_WORKER, format!("presence of {} people", due.len()));
        let slack = self.slack.clone();
        let statuses: Vec<(String, Option<ProfileStatus>)> = futures::stream::iter(due.clone())
            .map(|user| {
                let slack = slack.clone();
                async move {
                    match slack.user_info(&user).await {
                        Ok(profile) => (user, profile.status),
                        Err(e) => {
                            tracing::info!(%user, error = %e, "users.info failed; keeping the last known status");
                            (user, None)
                        }
                    }
                }
            })
            .buffer_unordered(LOOKUP_CONCURRENCY)
            .collect()
            .await;
        let dnd = match self.slack.dnd_info(&due).await {
            Ok(dnd) => dnd,
            Err(e) => {
                tracing::info!(people = due.len(), error = %e, "dnd.info failed; keeping the last known Do Not Disturb");
                Vec::new()
            }
        };
        let rules = self.settings.presence.rules.clone();
        let written = self
            .store
            .call(move |s| {
                s.write(|tx| {
                    for (user, status) in &statuses {
                        if let Some(status) = status {
                            learn_status(tx, &rules, user, status, now)?;
                        }
                    }
                    for (user, dnd) in &dnd {
                        tx.learn_dnd(user, *dnd, now)?;
                    }
                    for user in &due {
                        tx.presence_checked(user, now)?;
                    }
                    Ok(())
                })
            })
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not store the presence learnt");
        }
    }

    async fn correct_person(&self, user: &str) -> Result<(), SlackError> {
        let now = (self.now)();
        let mut status = None;
        let found = match self.slack.user_info(user).await {
            Ok(profile) => {
                status = profile.status.clone();
                Some(CachedUser::from_profile(profile, now))
            }
            Err(SlackError::Permanent(code)) if is_not_a_person(&code) => None,
            Err(e) => return Err(e),
        };
        let person = found
            .as_ref()
            .map_or(Person::NotTracked, |c| self.person_from_record(c));
        let written = self.store.write(|tx| {
            if let Some(record) = &found {
                tx.cache_user(record)?;
            }
            if let Some(status) = &status {
                self.learn_status(tx, user, status, now)?;
            }
            tx.lookup_done(user)?;
            for feature in &self.features {
                feature.on_person_learned(self, tx, user, &person, now)?;
            }
            Ok(())
        });
        if let Err(e) = written {
            tracing::error!(error = %e, "could not correct what started on a guess about a person");
        }
        self.wakers.timers.notify_one();
        Ok(())
    }

    // ---- timers --------------------------------------------------------------------------------

    /// Fires due timers as they come due, until `shutdown`.
    pub async fn run_timers(self: Arc<Self>, shutdown: CancellationToken) {
        let mut failures: HashMap<String, (u32, DateTime<Utc>)> = HashMap::new();
        loop {
            if shutdown.is_cancelled() {
                return;
            }
            let next = match self.fire_due(&mut failures).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "the timers cannot be read; retrying shortly");
                    Some((self.now)() + chrono::Duration::seconds(1))
                }
            };
            self.health.idle(TIMER_WORKER);
            let sleep = next
                .map(|at| (at - (self.now)()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600))
                // Re-check at least this often: cheap, and robust to wall-clock jumps.
                .min(self.idle_recheck);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakers.timers.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Fires every timer due now, each contained: one that fails (an error or a panic) is
    /// retried after 1 s and 2 s, then set aside as a dead letter, and never stops the others.
    /// Returns when the next timer (or retry) is due.
    pub async fn fire_due(
        &self,
        failures: &mut HashMap<String, (u32, DateTime<Utc>)>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let now = (self.now)();
        let due = self.store.call(move |s| s.due_timers(now)).await?;
        // A failing timer that is no longer due (its request was answered, its standup moved)
        // is forgotten: its retry time must not keep waking the worker.
        let due_names: std::collections::HashSet<String> =
            due.iter().map(|(_, key)| key.name()).collect();
        failures.retain(|name, _| due_names.contains(name));
        let mut sent = false;
        let mut ready: Vec<TimerKey> = due
            .into_iter()
            .filter(|(_, key)| {
                failures
                    .get(&key.name())
                    .is_none_or(|(_, retry_at)| *retry_at <= now)
            })
            .map(|(due_at, key)| {
                // Lateness as the worker takes the timer up: the due time to this pass.
                crate::metrics::timer_fired(due_at, now);
                key
            })
            .collect();
        // Many timers due at once (a burst at the start of a working day, a backlog after a
        // restart) share commits: up to TIMER_BATCH per transaction. Those no feature fires in
        // a shared transaction, and one that fails in it, are fired alone below.
        let mut alone: Vec<TimerKey> = Vec::new();
        while !ready.is_empty() {
            let rest = ready.split_off(ready.len().min(TIMER_BATCH));
            let mut batch = std::mem::replace(&mut ready, rest);
            while !batch.is_empty() {
                self.health.busy(
                    TIMER_WORKER,
                    format!("timer {} and {} more", batch[0].name(), batch.len() - 1),
                );
                match self.fire_batch(&batch, now) {
                    Ok((any, skipped)) => {
                        sent |= any;
                        for key in &batch {
                            if !skipped.contains(key) {
                                failures.remove(&key.name());
                            }
                        }
                        alone.extend(skipped);
                        break;
                    }
                    Err(at) => {
                        // Nothing of the batch was committed: the ones before the failing
                        // timer go again without it, it goes alone (where its failure is
                        // counted), and the ones after it go back in line.
                        let mut tail = batch.split_off(at);
                        alone.push(tail.remove(0));
                        ready.splice(0..0, tail);
                    }
                }
            }
        }
        for key in alone {
            let name = key.name();
            if failures
                .get(&name)
                .is_some_and(|(_, retry_at)| *retry_at > now)
            {
                continue;
            }
            self.health.busy(TIMER_WORKER, format!("timer {name}"));
            let error = match contained(self.fire(key, now)).await {
                Ok(Ok(any)) => {
                    sent |= any;
                    failures.remove(&name);
                    None
                }
                Ok(Err(e)) => Some(e.to_string()),
                Err(panic) => Some(panic),
            };
            let Some(error) = error else { continue };
            let attempts = failures.get(&name).map_or(0, |(n, _)| *n) + 1;
            if attempts < MAX_ATTEMPTS {
                tracing::warn!(timer = %name, attempt = attempts, %error, "a timer failed; it will be retried");
                let retry_at = now + chrono::Duration::seconds(1 << (attempts - 1));
                failures.insert(name, (attempts, retry_at));
                continue;
            }
            failures.remove(&name);
            let (key, err) = (name.clone(), error.clone());
            let letter = self
                .store
                .call(move |s| s.dead_letter_timer(&key, &err, attempts, now))
                .await?;
            tracing::error!(
                timer = %name,
                attempts,
                %error,
                dead_letter = letter,
                "a timer failed repeatedly and was set aside; the other timers go on. `asyncbot dead-letters list` shows it, `asyncbot dead-letters retry {letter}` runs it again"
            );
        }
        if sent {
            self.wakers.delivery.notify_one();
        }
        let next = self
            .store
            .call(move |s| s.next_timer_due_after(now))
            .await?;
        let retry = failures.values().map(|(_, at)| *at).min();
        Ok(match (next, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// Fires `batch` in one transaction, through the features' [`Feature::fire_in`]. Returns
    /// whether messages were queued and the timers no feature fires that way (to fire alone);
    /// or, having committed nothing, the position of the first timer that failed.
    fn fire_batch(
        &self,
        batch: &[TimerKey],
        now: DateTime<Utc>,
    ) -> Result<(bool, Vec<TimerKey>), usize> {
        let mut failed_at = None;
        let written = off_the_runtime(|| {
            self.store.write(|tx| {
                let mut any = false;
                let mut skipped = Vec::new();
                for (at, key) in batch.iter().enumerate() {
                    let fired = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        self.features
                            .iter()
                            .find_map(|f| f.fire_in(self, tx, key, now))
                    }));
                    match fired {
                        Ok(Some(Ok(queued))) => any |= queued,
                        Ok(None) => skipped.push(key.clone()),
                        Ok(Some(Err(_))) | Err(_) => {
                            failed_at = Some(at);
                            return Err(StoreError::Task("a timer in the batch failed".into()));
                        }
                    }
                }
                Ok((any, skipped))
            })
        });
        match (written, failed_at) {
            (_, Some(at)) => Err(at),
            (Ok(done), None) => Ok(done),
            (Err(e), None) => {
                tracing::warn!(error = %e, "a batch of timers could not be committed; firing them one by one");
                Err(0)
            }
        }
    }

    /// Does what one timer asks, through the feature that owns it. Returns whether messages
    /// were queued.
    async fn fire(&self, key: TimerKey, now: DateTime<Utc>) -> Result<bool, StoreError> {
        match self.features.iter().find_map(|f| f.fire(self, &key, now)) {
            Some(fire) => fire.await,
            None => {
                let key = key.name();
                tracing::warn!(%key, "dropping a timer nobody owns");
                self.store.write(|tx| tx.drop_timers_named(&key))?;
                Ok(false)
            }
        }
    }
}

/// What a profile status says of a person's presence, written in `tx`.
fn learn_status(
    tx: &mut Tx<'_>,
    rules: &crate::domain::presence::StatusRules,
    user: &str,
    status: &ProfileStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (ooo_until, focus_until) = crate::domain::presence::classify_status(
        &status.emoji,
        &status.text,
        status.expiration,
        now,
        rules,
    );
    tx.learn_status(user, ooo_until, focus_until, now)
}

/// `users.info` answers that mean the id is not a person the bot can track. Any other refusal
/// (a proxy's 404, an unknown code) is a failed lookup, tried again later.
fn is_not_a_person(code: &str) -> bool {
    matches!(
        code,
        "user_not_found" | "user_not_visible" | "users_not_found"
    )
}

/// Runs a batch's store transaction (its commit waits for an fsync) without holding up the tasks
/// queued on this runtime thread: on the multi-threaded runtime of `serve` they move to another
/// thread meanwhile (the HTTP acks must not wait behind the engine's commit). On a
/// current-thread runtime (the simulator, in-process tests) there is nowhere to move them, and it
/// simply runs.
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::memory::MemorySlack;
    use crate::store::DeadKind;

    /// A feature that records each deletion it applies as a fact, and fails on purpose: a
    /// deleted message `panic` panics in the transaction, `error` returns an error there, and
    /// `lookup` panics in its lookups.
    struct Poisoned;

    impl Feature for Poisoned {
        fn prepare<'a>(
            &'a self,
            _engine: &'a Engine,
            event: &'a Inbound,
        ) -> futures::future::BoxFuture<'a, Prepared> {
            if matches!(event, Inbound::MessageDeleted { ts, .. } if ts == "lookup") {
                panic!("a bug in the lookups");
            }
            Box::pin(futures::future::ready(Box::new(()) as Prepared))
        }

        fn apply(
            &self,
            _engine: &Engine,
            tx: &mut Tx<'_>,
            event: &Inbound,
            _prepared: Prepared,
            _now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            let Inbound::MessageDeleted { ts, .. } = event else {
                return Ok(());
            };
            // Written before failing: a failed event must leave nothing behind.
            tx.set_fact(ts, "applied")?;
            match ts.as_str() {
                "panic" => panic!("a bug in the transaction"),
                "error" => Err(StoreError::Task("refused".into())),
                _ => Ok(()),
            }
        }

        /// Timers `t:NAME`: recorded as the fact NAME; `t:panic` panics, `t:error` fails.
        fn fire_in(
            &self,
            _engine: &Engine,
            tx: &mut Tx<'_>,
            key: &TimerKey,
            now: DateTime<Utc>,
        ) -> Option<Result<bool, StoreError>> {
            let TimerKey::Other(key) = key else {
                return None;
            };
            let name = key.strip_prefix("t:")?;
            Some((|| {
                tx.set_fact(name, "fired")?;
                tx.move_timer(key, Some(now), None)?;
                match name {
                    "panic" => panic!("a bug in a timer"),
                    "error" => Err(StoreError::Task("refused".into())),
                    _ => Ok(false),
                }
            })())
        }

        fn fire<'a>(
            &'a self,
            engine: &'a Engine,
            key: &'a TimerKey,
            now: DateTime<Utc>,
        ) -> Option<futures::future::BoxFuture<'a, Result<bool, StoreError>>> {
            matches!(key, TimerKey::Other(k) if k.starts_with("t:")).then(
                || -> futures::future::BoxFuture<'a, Result<bool, StoreError>> {
                    Box::pin(async move {
                        engine
                            .store
                            .write(|tx| self.fire_in(engine, tx, key, now).unwrap_or(Ok(false)))
                    })
                },
            )
        }
    }

    fn start() -> DateTime<Utc> {
        "2026-11-23T10:00:00Z".parse().unwrap()
    }

    fn engine(dir: &tempfile::TempDir) -> Engine {
        engine_at(dir, Arc::new(std::sync::Mutex::new(start())))
    }

    fn engine_at(dir: &tempfile::TempDir, clock: Arc<std::sync::Mutex<DateTime<Utc>>>) -> Engine {
        let store = Store::open(&dir.path().join("s.redb")).unwrap();
        let settings = Arc::new(crate::config::load(None, &[]).unwrap());
        let now: Now = Arc::new(move || *clock.lock().unwrap());
        let slack = MemorySlack::new(now.clone());
        let identity = slack.identity();
        let health = Health::new(settings.health, now.clone());
        let mut engine = Engine::new(
            store,
            Arc::new(slack),
            settings,
            identity,
            now,
            Wakers::default(),
            health,
        );
        engine.features = vec![Arc::new(Poisoned)];
        engine
    }

    fn deleted(engine: &Engine, ts: &str) {
        let event = Inbound::MessageDeleted {
            channel: "C1".into(),
            ts: ts.into(),
        };
        let now = (engine.now)();
        engine.store.accept_event(None, &event, now).unwrap();
    }

    fn applied(engine: &Engine) -> Vec<String> {
        let mut out = Vec::new();
        for ts in ["a", "b", "c", "d", "e", "panic", "error", "lookup"] {
            if engine.store.fact(ts).unwrap().is_some() {
                out.push(ts.to_owned());
            }
        }
        out
    }

    #[tokio::test]
    async fn a_batch_shares_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(&dir);
        for ts in ["a", "b", "c"] {
            deleted(&engine, ts);
        }
        let mut failures = HashMap::new();
        assert_eq!(
            engine.process_next(&mut failures).await.unwrap(),
            Some(None)
        );
        assert_eq!(applied(&engine), ["a", "b", "c"]);
        assert_eq!(engine.store.inbox_len().unwrap(), 0);
        assert_eq!(engine.process_next(&mut failures).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_poisoned_event_in_a_batch_never_holds_up_the_others() {
        for poison in ["panic", "error", "lookup"] {
            let dir = tempfile::tempdir().unwrap();
            let engine = engine(&dir);
            for ts in ["a", "b", poison, "c", "d"] {
                deleted(&engine, ts);
            }
            let mut failures = HashMap::new();
            // The events before it are applied without it...
            assert_eq!(
                engine.process_next(&mut failures).await.unwrap(),
                Some(None)
            );
            assert_eq!(applied(&engine), ["a", "b"], "{poison}");
            // ...then it fails alone, is retried, and is set aside after its attempts...
            for attempt in 1..MAX_ATTEMPTS {
                let wait = engine.process_next(&mut failures).await.unwrap();
                assert_eq!(
                    wait,
                    Some(Some(Duration::from_secs(1 << (attempt - 1)))),
                    "{poison}"
                );
            }
            assert_eq!(
                engine.process_next(&mut failures).await.unwrap(),
                Some(None)
            );
            let letters = engine.store.dead_letters().unwrap();
            assert_eq!(letters.len(), 1, "{poison}: {letters:?}");
            assert_eq!(letters[0].kind, DeadKind::Event);
            assert_eq!(letters[0].attempts, MAX_ATTEMPTS);
            // ...and the events behind it go on, in one batch.
            assert_eq!(
                engine.process_next(&mut failures).await.unwrap(),
                Some(None)
            );
            assert_eq!(applied(&engine), ["a", "b", "c", "d"], "{poison}");
            assert_eq!(engine.store.inbox_len().unwrap(), 0);
            assert!(failures.is_empty());
        }
    }

    #[tokio::test]
    async fn a_poisoned_timer_in_a_batch_never_holds_up_the_others() {
        for poison in ["panic", "error"] {
            let dir = tempfile::tempdir().unwrap();
            let clock = Arc::new(std::sync::Mutex::new(start()));
            let engine = engine_at(&dir, clock.clone());
            let due = start();
            engine
                .store
                .write(|tx| {
                    for name in ["a", "b", poison, "c", "d"] {
                        tx.move_timer(&format!("t:{name}"), None, Some(due))?;
                    }
                    Ok(())
                })
                .unwrap();
            let mut failures = HashMap::new();
            engine.fire_due(&mut failures).await.unwrap();
            assert_eq!(applied(&engine), ["a", "b", "c", "d"], "{poison}");
            assert_eq!(failures.len(), 1, "{poison}");
            for _ in 1..MAX_ATTEMPTS {
                *clock.lock().unwrap() += chrono::Duration::seconds(4);
                engine.fire_due(&mut failures).await.unwrap();
            }
            let letters = engine.store.dead_letters().unwrap();
            assert_eq!(letters.len(), 1, "{poison}: {letters:?}");
            assert_eq!(letters[0].kind, DeadKind::Timer);
            assert_eq!(letters[0].key, format!("timer t:{poison}"));
            assert!(failures.is_empty());
        }
    }

    #[tokio::test]
    async fn the_home_tab_is_drawn_after_the_events_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(&dir);
        deleted(&engine, "a");
        let home = Inbound::AppHomeOpened { user: "U1".into() };
        engine
            .store
            .accept_event(None, &home, (engine.now)())
            .unwrap();
        deleted(&engine, "b");
        let mut failures = HashMap::new();
        engine.process_next(&mut failures).await.unwrap();
        assert_eq!(applied(&engine), ["a"]);
        assert_eq!(engine.store.inbox_len().unwrap(), 2);
        engine.process_next(&mut failures).await.unwrap();
        assert_eq!(engine.store.inbox_len().unwrap(), 1);
        engine.process_next(&mut failures).await.unwrap();
        assert_eq!(applied(&engine), ["a", "b"]);
    }
}
