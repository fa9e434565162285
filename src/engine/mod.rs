//! The engine: turns accepted events into SLA state changes and fires due timers. Each event and
//! each timer is one store transaction that writes the new state, its timers and its outgoing
//! messages together. Slack lookups (`users.info`) happen before the transaction, concurrently
//! and within a time budget; a lookup that fails or is skipped is owed, and done later by the
//! people worker, which corrects what was started on a guessed time zone.
//!
//! No item can stop a worker: each event and each timer runs contained (a panic or an error
//! fails that item alone), is retried a few times, then set aside as a dead letter.

pub mod clock;
pub mod health;
pub mod reply;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::engine::health::{Health, contained};

use crate::config::Settings;
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::sla::{
    Answer, CancelReason, LadderContext, NewRequest, SlaRequest, mentioned_users,
};
use crate::engine::clock::Now;
use crate::engine::reply::{InteractionReply, Reply, UserError};
use crate::slack::inbound::{Command, Inbound};
use crate::slack::interaction::{BlockAction, ViewSubmission};
use crate::slack::{BotIdentity, SlackError, SlackPort};
use crate::store::Reads;
use crate::store::{CachedUser, Store, StoreError, TimerKey};

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
/// At most this many App Home views are being published at once.
const HOME_PUBLISHES: usize = 4;

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

/// What a feature (RFCs, standups, the `/sla` overview) handles for the engine. The engine knows
/// features only through this trait: it hands each one the events and timers, inside the same
/// transaction where there is one, and the feature decides whether they are its own.
pub trait Feature: Send + Sync {
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

    /// The text of `user`'s Home tab, if this feature draws it.
    fn home(
        &self,
        _engine: &Engine,
        _user: &str,
        _now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        Ok(None)
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

/// Who a message asks something of.
enum Recipients {
    /// Each person with their time zone, and whether that zone is a guess (owed a lookup).
    People(Vec<(String, Tz, bool)>),
    /// More people than `sla.max_recipients`: an announcement.
    Crowd(usize),
}

/// A mentioned person, as far as tracking is concerned.
pub(crate) enum Person {
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

    fn ladder(&self) -> LadderContext<'_> {
        LadderContext {
            policy: &self.settings.sla,
            calendar: &self.settings.calendar,
            team_url: Some(self.identity.team_url.as_str()),
        }
    }

    /// Processes the inbox until it is empty, then waits for more. An event that fails (an
    /// error or a panic) is retried after 1 s and 2 s, then set aside as a dead letter, so the
    /// events behind it go on.
    pub async fn run_inbox(self: Arc<Self>, shutdown: CancellationToken) {
        let mut failures: HashMap<u64, u32> = HashMap::new();
        loop {
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

    /// Handles the oldest inbox event, contained. `None`: the inbox is empty; `Some(None)`: one
    /// was handled (or set aside); `Some(Some(wait))`: it failed and is retried after `wait`.
    pub async fn process_next(
        &self,
        failures: &mut HashMap<u64, u32>,
    ) -> Result<Option<Option<Duration>>, StoreError> {
        let Some((seq, event)) = self.store.call(|s| s.next_inbound()).await? else {
            return Ok(None);
        };
        tracing::debug!(seq, kind = event.kind(), "processing event");
        self.health
            .busy(INBOX_WORKER, format!("inbox/{seq} ({})", event.kind()));
        let kind = event.kind();
        let error = match contained(self.handle(seq, event)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(panic) => Some(panic),
        };
        self.wakers.timers.notify_one();
        self.wakers.delivery.notify_one();
        let Some(error) = error else {
            failures.remove(&seq);
            return Ok(Some(None));
        };
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

    async fn handle(&self, seq: u64, event: Inbound) -> Result<(), StoreError> {
        let now = (self.now)();
        match event {
            Inbound::MessagePosted {
                channel,
                channel_type,
                user,
                ts,
                thread_ts,
                text,
            } => {
                // Direct messages to the bot are conversations with it, not requests to track.
                let trackable = channel_type.as_deref() != Some("im");
                let people = if trackable {
                    self.recipients(&text, &user, &channel, &ts).await
                } else {
                    Vec::new()
                };
                let from_me = user == self.identity.user_id;
                let ack = self
                    .settings
                    .sla
                    .ack_reactions
                    .first()
                    .map_or("eyes", String::as_str);
                self.store.write(|tx| {
                    if !trackable && !from_me {
                        // Someone writes to the bot: point them to where answers count, at most
                        // once an hour, so a conversation does not become a stream of replies.
                        let key = format!("dm_reply:{user}");
                        let last = tx.fact(&key)?.and_then(|v| v.parse::<i64>().ok());
                        if last.is_none_or(|at| now.timestamp() - at > 3600) {
                            tx.enqueue(
                                OutgoingMessage::new(
                                    Destination::Channel {
                                        channel: channel.clone(),
                                    },
                                    format!(
                                        "Hi {}! I don't read direct messages as answers: reply in a request's thread, \
                                         or react :{ack}: on it, so its author sees it too. `/sla` shows what is \
                                         waiting on you; `/rfc help` and `/standup help` show the rest.",
                                        crate::domain::format::mention(&user)
                                    ),
                                ),
                                now,
                            )?;
                            tx.set_fact(&key, &now.timestamp().to_string())?;
                        }
                    }
                    if !from_me {
                        let answered = close_by_reply(
                            tx,
                            &channel,
                            &user,
                            &ts,
                            thread_ts.as_deref(),
                            &text,
                            now,
                        )?;
                        // A comment in an RFC's thread, an answer in a standup's: the features
                        // decide whether the thread is theirs.
                        if let Some(root) = thread_ts.as_deref().filter(|root| *root != ts) {
                            let message = ThreadMessage {
                                channel: &channel,
                                root,
                                user: &user,
                                text: &text,
                            };
                            for feature in &self.features {
                                feature.on_thread_message(self, tx, &message, now)?;
                            }
                        }
                        // "@alice done!" answers Alice; it does not ask her something back.
                        for (recipient, tz, guessed) in
                            people.iter().filter(|(p, _, _)| !answered.contains(p))
                        {
                            if *guessed {
                                tx.want_lookup(recipient, now)?;
                            }
                            let new = NewRequest {
                                channel: channel.clone(),
                                message_ts: ts.clone(),
                                thread_ts: thread_ts.clone(),
                                author: user.clone(),
                                recipient: recipient.clone(),
                                recipient_tz: *tz,
                                text: text.clone(),
                            };
                            let id = tx.next_id("sla_request")?;
                            let request = SlaRequest::open(id, new, now, &self.ladder());
                            tracing::info!(
                                request = id,
                                channel = %request.channel,
                                tier = request.tier.as_str(),
                                deadline = %request.deadline,
                                "tracking a request"
                            );
                            tx.put_request(&request)?;
                        }
                    }
                    tx.finish_inbound(seq)
                })?;
            }
            Inbound::MessageEdited {
                channel,
                user,
                ts,
                text,
            } => {
                let still_mentioned = self.recipients(&text, &user, &channel, &ts).await;
                self.store.write(|tx| {
                    let existing = tx.requests_for_message(&channel, &ts)?;
                    for mut r in existing.clone() {
                        if !r.is_open() {
                            continue;
                        }
                        if still_mentioned.iter().any(|(p, _, _)| *p == r.recipient) {
                            r.retier(&text, &self.ladder());
                        } else {
                            tracing::info!(request = r.id, "mention edited away; cancelled");
                            r.cancel(CancelReason::MentionEdited, now);
                        }
                        tx.put_request(&r)?;
                    }
                    // Newly mentioned people: their request starts now. The thread is the one the
                    // message's other requests live in; a message we never tracked is taken as
                    // top level (edit events do not say which thread a message is in).
                    let thread = existing
                        .first()
                        .filter(|r| r.thread_root != r.message_ts)
                        .map(|r| r.thread_root.clone());
                    for (recipient, tz, guessed) in &still_mentioned {
                        if existing.iter().any(|r| r.recipient == *recipient) {
                            continue;
                        }
                        if *guessed {
                            tx.want_lookup(recipient, now)?;
                        }
                        let id = tx.next_id("sla_request")?;
                        let new = NewRequest {
                            channel: channel.clone(),
                            message_ts: ts.clone(),
                            thread_ts: thread.clone(),
                            author: user.clone(),
                            recipient: recipient.clone(),
                            recipient_tz: *tz,
                            text: text.clone(),
                        };
                        tx.put_request(&SlaRequest::open(id, new, now, &self.ladder()))?;
                    }
                    tx.finish_inbound(seq)
                })?;
            }
            Inbound::MessageDeleted { channel, ts } => {
                self.store.write(|tx| {
                    for mut r in tx.requests_for_message(&channel, &ts)? {
                        if r.is_open() {
                            tracing::info!(request = r.id, "message deleted; cancelled");
                            r.cancel(CancelReason::MessageDeleted, now);
                            tx.put_request(&r)?;
                        }
                    }
                    tx.finish_inbound(seq)
                })?;
            }
            Inbound::ReactionAdded {
                user,
                reaction,
                channel,
                ts,
            } => {
                let is_ack = self.settings.sla.is_ack_reaction(&reaction);
                self.store.write(|tx| {
                    let added = Reaction {
                        channel: &channel,
                        ts: &ts,
                        user: &user,
                        name: &reaction,
                    };
                    for feature in &self.features {
                        feature.on_reaction(self, tx, &added, now)?;
                    }
                    if is_ack {
                        // On the request itself, or on our nudge or DM about it.
                        let mut requests = tx.requests_for_message(&channel, &ts)?;
                        if let Some(id) = tx.tag_of(&channel, &ts)?.as_deref().and_then(crate::domain::sla::request_of_tag) {
                            requests.extend(tx.request(id)?);
                        }
                        for mut r in requests {
                            if r.is_open() && r.recipient == user {
                                tracing::info!(request = r.id, %reaction, "acknowledged by reaction");
                                r.answer(Answer::Reaction { name: reaction.clone() }, now);
                                tx.put_request(&r)?;
                            }
                        }
                    }
                    tx.finish_inbound(seq)
                })?;
            }
            Inbound::MemberJoinedChannel { user, channel } => {
                let me = user == self.identity.user_id;
                let intro = self.introduction(&channel);
                self.store.write(|tx| {
                    if me {
                        tx.enqueue(intro, now)?;
                    }
                    tx.finish_inbound(seq)
                })?;
            }
            Inbound::AppHomeOpened { user } => {
                // The Home tab, as a feature draws it. It is a view, not a message: published
                // directly (a lost one is redrawn the next time the tab opens).
                let mut text = None;
                for feature in &self.features {
                    if let Some(drawn) = feature.home(self, &user, now)? {
                        text = Some(drawn);
                        break;
                    }
                }
                self.store.write(|tx| tx.finish_inbound(seq))?;
                let Some(text) = text else {
                    return Ok(());
                };
                // Published beside the event loop, never awaited in it: a slow Slack must not
                // hold up the events behind this one. Bounded; when all slots are busy, this
                // view is skipped (it is redrawn the next time the tab opens).
                match self.home_publishes.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let slack = self.slack.clone();
                        tokio::spawn(async move {
                            if let Err(e) = slack.publish_home(&user, &home_view(&text)).await {
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
            Inbound::PostDropped { tag, reason } => {
                self.store.write(|tx| {
                    self.post_dropped(tx, &tag, &reason, now)?;
                    tx.finish_inbound(seq)
                })?;
            }
        }
        Ok(())
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
        tx: &mut crate::store::Tx<'_>,
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

    fn introduction(&self, channel: &str) -> OutgoingMessage {
        let normal = self.settings.sla.rule(crate::domain::sla::Tier::Normal);
        OutgoingMessage::new(
            Destination::Channel {
                channel: channel.to_owned(),
            },
            format!(
                ":wave: Hi, I'm asyncbot. When someone here @mentions a person, I keep an eye on the \
                 request on that person's own clock (normal requests: {} on {}). If it stalls, I nudge \
                 in the thread, then by DM, then suggest a short call. A reply in the thread or a \
                 :{}: reaction closes it. Type `/sla` to see the norms and what is waiting on you.",
                crate::domain::format::human_duration(normal.within),
                crate::domain::calendar::describe_clock(normal.clock),
                self.settings
                    .sla
                    .ack_reactions
                    .first()
                    .map_or("eyes", String::as_str)
            ),
        )
    }

    /// The people a message asks something of: mentioned humans other than the author and the
    /// bot, each with their time zone and whether it is a guess. None when it mentions more
    /// people than `sla.max_recipients` (an announcement).
    async fn recipients(
        &self,
        text: &str,
        author: &str,
        channel: &str,
        ts: &str,
    ) -> Vec<(String, Tz, bool)> {
        match self.people_to_track(text, author).await {
            Recipients::People(people) => people,
            Recipients::Crowd(n) => {
                tracing::info!(
                    %channel,
                    %ts,
                    mentioned = n,
                    max = self.settings.sla.max_recipients,
                    "a message mentions more people than sla.max_recipients: an announcement, not tracked"
                );
                Vec::new()
            }
        }
    }

    async fn people_to_track(&self, text: &str, author: &str) -> Recipients {
        let mut candidates: Vec<String> = Vec::new();
        for user in mentioned_users(text) {
            if user != author && user != self.identity.user_id && !candidates.contains(&user) {
                candidates.push(user);
            }
        }
        if candidates.len() > self.settings.sla.max_recipients {
            return Recipients::Crowd(candidates.len());
        }
        let now = (self.now)();
        let wait = if self.slow_until.load(Ordering::Relaxed) > now.timestamp_millis() {
            Duration::ZERO
        } else {
            LOOKUP_BUDGET
        };
        let found = self.quick_people(candidates, wait).await;
        Recipients::People(
            found
                .into_iter()
                .filter_map(|(user, person)| match person {
                    Person::Human { tz, .. } => Some((user, tz, false)),
                    Person::NotTracked => None,
                    Person::Guessed { tz } => Some((user, tz, true)),
                })
                .collect(),
        )
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
        let ids = users.clone();
        let cached: Vec<Option<CachedUser>> = self
            .store
            .call(move |s| ids.iter().map(|u| s.cached_user(u)).collect())
            .await
            .unwrap_or_else(|_| vec![None; users.len()]);
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
        let mut learnt: Vec<CachedUser> = Vec::new();
        for (user, stale) in to_fetch {
            let person = match results.remove(&user) {
                Some(Ok(profile)) => {
                    let record = CachedUser::from_profile(profile, now);
                    let person = self.person_from_record(&record);
                    learnt.push(record);
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
        // Everyone learnt in one commit.
        if !learnt.is_empty() {
            let written = self
                .store
                .call(move |s| {
                    s.write(|tx| {
                        for record in &learnt {
                            tx.cache_user(record)?;
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

    /// Looks up the people whose lookup is owed, and corrects what started on a guess: open
    /// requests are re-timed on the real zone, or cancelled if the person is not a person.
    pub async fn run_people(self: Arc<Self>, shutdown: CancellationToken) {
        let mut wait = Duration::from_secs(1);
        loop {
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
                        tracing::error!(%user, %panic, "correcting a person's requests panicked; dropping the lookup");
                        let user = user.clone();
                        let _ = self
                            .store
                            .call(move |s| s.write(|tx| tx.lookup_done(&user)))
                            .await;
                    }
                }
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

    async fn correct_person(&self, user: &str) -> Result<(), SlackError> {
        let now = (self.now)();
        let found = match self.slack.user_info(user).await {
            Ok(profile) => Some(CachedUser::from_profile(profile, now)),
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
            tx.lookup_done(user)?;
            for mut r in tx.open_requests_for_recipient(user)? {
                match &person {
                    Person::Human { tz, .. } if *tz != r.recipient_tz => {
                        tracing::info!(request = r.id, %tz, "recipient's time zone now known; deadline re-counted");
                        r.retime(*tz, &self.ladder());
                        tx.put_request(&r)?;
                    }
                    Person::NotTracked => {
                        tracing::info!(request = r.id, "recipient is not a person; cancelled");
                        r.cancel(CancelReason::NotAPerson, now);
                        tx.put_request(&r)?;
                    }
                    _ => {}
                }
            }
            Ok(())
        });
        if let Err(e) = written {
            tracing::error!(error = %e, "could not correct a person's requests");
        }
        self.wakers.timers.notify_one();
        Ok(())
    }

    // ---- timers --------------------------------------------------------------------------------

    /// Fires due timers as they come due, until `shutdown`.
    pub async fn run_timers(self: Arc<Self>, shutdown: CancellationToken) {
        let mut failures: HashMap<String, (u32, DateTime<Utc>)> = HashMap::new();
        loop {
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
        let due_names: std::collections::HashSet<String> = due.iter().map(TimerKey::name).collect();
        failures.retain(|name, _| due_names.contains(name));
        let mut sent = false;
        for key in due {
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

    /// Does what one timer asks. Returns whether messages were queued.
    async fn fire(&self, key: TimerKey, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut sent = false;
        match key {
            TimerKey::Sla(id) => {
                sent |= self.store.write(|tx| {
                        let Some(mut request) = tx.request(id)? else {
                            tx.drop_timers_named(&format!("sla:{id}"))?;
                            return Ok(false);
                        };
                        // Nobody is nudged while away (`/standup away`, in their own dates): the
                        // ladder resumes at the start of their first working period back.
                        let tz = request.recipient_tz;
                        let today = now.with_timezone(&tz).date_naive();
                        let away = tx.away(&request.recipient)?;
                        if let Some(absence) = away.iter().find(|a| a.from <= today && today <= a.to) {
                            if request.is_open() && request.next_due.is_some() {
                                let back = absence.to.succ_opt().unwrap_or(absence.to);
                                let resume = self
                                    .settings
                                    .calendar
                                    .next_working_time(crate::domain::calendar::start_of_day(tz, back), tz);
                                tracing::info!(request = id, %resume, "recipient is away; the nudge waits");
                                request.next_due = Some(resume);
                                tx.put_request(&request)?;
                            }
                            return Ok(false);
                        }
                        // Due while the bot was down or behind, at 3 a.m. their time: it waits
                        // for the start of their working day.
                        if request.defer_out_of_quiet_hours(now, &self.ladder()) {
                            tracing::info!(request = id, next = ?request.next_due, "a late step falls in quiet hours; it waits");
                            tx.put_request(&request)?;
                            return Ok(false);
                        }
                        let mut messages = request.take_due_step(now, &self.ladder());
                        // A call is for both: it waits for a moment that is working time for the
                        // asker too (when their zone is known).
                        if let Some(tz) = tx.user_tz(&request.author)? {
                            for m in &mut messages {
                                if matches!(m.destination, crate::domain::outbox::Destination::GroupMessage { .. }) {
                                    *m = m.clone().in_working_time_of(request.author.clone(), tz);
                                }
                            }
                        }
                        let any = !messages.is_empty();
                        for m in messages {
                            tracing::info!(
                                request = id,
                                step = request.steps_taken,
                                recipient = %request.recipient,
                                "escalating a stalled request"
                            );
                            tx.enqueue(m, now)?;
                        }
                        if !any && request.next_due.is_some_and(|d| d <= now) {
                            // Nothing left to do for a due timer: clear it rather than spin.
                            request.next_due = None;
                        }
                        tx.put_request(&request)?;
                        Ok(any)
                    })?;
            }
            other => {
                let owned = self.features.iter().find_map(|f| f.fire(self, &other, now));
                match owned {
                    Some(fire) => sent |= fire.await?,
                    None => {
                        let key = other.name();
                        tracing::warn!(%key, "dropping a timer nobody owns");
                        self.store.write(|tx| tx.drop_timers_named(&key))?;
                    }
                }
            }
        }
        Ok(sent)
    }
}

/// The App Home: the overview in sections of at most 3,000 characters (Slack's limit), cut at
/// line ends.
fn home_view(text: &str) -> serde_json::Value {
    let mut blocks = vec![
        serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": "asyncbot"}}),
    ];
    let mut chunk = String::new();
    for line in text.lines() {
        if chunk.len() + line.len() + 1 > 2900 && !chunk.is_empty() {
            blocks.push(
                serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk}}),
            );
            chunk = String::new();
        }
        let line: String = line.chars().take(2900).collect();
        chunk.push_str(&line);
        chunk.push('\n');
    }
    if !chunk.trim().is_empty() {
        blocks.push(
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk}}),
        );
    }
    blocks.push(
        serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text":
        "Commands: `/sla`, `/rfc help`, `/decisions`, `/standup help`."}]}),
    );
    serde_json::json!({"type": "home", "blocks": blocks})
}

/// `users.info` answers that mean the id is not a person the bot can track. Any other refusal
/// (a proxy's 404, an unknown code) is a failed lookup, tried again later.
fn is_not_a_person(code: &str) -> bool {
    matches!(
        code,
        "user_not_found" | "user_not_visible" | "users_not_found"
    )
}

/// A message by `user` answers the open requests waiting on them in this thread; a top-level
/// request is also answered by a message of theirs in the channel that mentions its author.
/// Returns the authors whose requests it answered.
fn close_by_reply(
    tx: &mut crate::store::Tx<'_>,
    channel: &str,
    user: &str,
    ts: &str,
    thread_ts: Option<&str>,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut answered = Vec::new();
    if let Some(root) = thread_ts.filter(|root| *root != ts) {
        for mut r in tx.requests_in_thread(channel, root)? {
            if r.is_open() && r.recipient == user {
                tracing::info!(request = r.id, "answered in the thread");
                r.answer(Answer::ThreadReply, now);
                tx.put_request(&r)?;
                answered.push(r.author.clone());
            }
        }
    }
    let mentioned = mentioned_users(text);
    if mentioned.is_empty() {
        return Ok(answered);
    }
    for mut r in tx.open_requests_for_recipient(user)? {
        let top_level = r.thread_root == r.message_ts;
        if r.is_open()
            && top_level
            && r.channel == channel
            && r.message_ts != ts
            && mentioned.contains(&r.author)
        {
            tracing::info!(request = r.id, "answered in the channel");
            r.answer(Answer::ChannelReply, now);
            tx.put_request(&r)?;
            answered.push(r.author.clone());
        }
    }
    Ok(answered)
}
