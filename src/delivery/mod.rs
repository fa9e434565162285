//! Delivers the outbox: each conversation in order, at most one message per
//! `per_channel_interval` per conversation, many conversations at once (up to
//! `delivery.max_in_flight`, within `delivery.workspace_rate` sends per second), each message
//! posted once, and only inside its recipient's working time.
//!
//! Each conversation has its own queue in the store (indexed per conversation), its own
//! head-of-line message and its own not-before (its pace, or Slack's `Retry-After` for it
//! alone): the worker's timetable ([`schedule`]) says when to look at which conversation, so a
//! deep queue or a long `Retry-After` in one conversation never delays another.
//!
//! Slack's answers fall in three kinds, each handled its own way:
//! * **one message refused for good** (`channel_not_found`, `not_in_channel`, `msg_too_long`…):
//!   dropped with one log line, with everything that depends on it (edits, replies in its
//!   thread); its owner is told through the inbox ([`crate::slack::inbound::Inbound::PostDropped`]);
//! * **the workspace refuses the bot** (`invalid_auth`, `token_revoked`, `missing_scope`, HTTP
//!   401/403): all delivery pauses and every message is kept; retried with backoff up to a minute;
//!   one error line names the fix; `/healthz` says degraded;
//! * **transient** (5xx, timeouts, 429): retried after `Retry-After` or a backoff, until the
//!   message is `give_up_after` old, then set aside as a dead letter.
//!
//! Posted once: each post carries its outbox id in Slack message metadata. Before a post, the
//! item is marked `maybe_sent`; its removal and the record of where it went commit together as
//! soon as Slack answers (the answers that arrive together commit together). An item found
//! still marked (the bot was killed mid-call, or the call timed out) is first looked for in its
//! conversation and only posted if it is not there.

pub mod schedule;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::outbox::{Destination, OutboxItem, QuietFor};
use crate::domain::presence::Presence;
use crate::engine::Wakers;
use crate::engine::clock::Now;
use crate::engine::health::{Health, contained};
use crate::slack::{SlackError, SlackPort};
use crate::store::prelude::*;
use crate::store::{OutboxRecord, QueueHead, Store, StoreError};
use chrono_tz::Tz;
use schedule::{Bucket, Timetable};

/// A message that panics the sender this many times is set aside.
const MAX_PANICS: u32 = 3;
/// The longest pause between two tries while Slack refuses the bot's credentials.
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// The worker's name in `/healthz`.
pub const WORKER: &str = "delivery";

pub struct Delivery {
    sender: Arc<Sender>,
    store: Store,
    settings: Arc<Settings>,
    now: Now,
    wakers: Wakers,
    health: Health,
    /// When to look at which conversation, and when each may next be posted to.
    timetable: Timetable,
    /// The workspace-wide send rate.
    bucket: Bucket,
    /// The highest outbox id known: anything queued later has a higher one.
    seen_up_to: u64,
    /// When every conversation with a queue was last listed from the store.
    listed_at: Option<DateTime<Utc>>,
    /// Set while the workspace refuses the bot: nothing is sent before `until`.
    paused: Option<Pause>,
    /// When the current pass started.
    pass_started: DateTime<Utc>,
    /// The longest it sleeps without looking (it also tells `/healthz` it is alive); also how
    /// often it lists every conversation from the store again (a safety net: new messages are
    /// found by their ids, see [`Delivery::discover`]).
    pub idle_recheck: Duration,
}

/// Sends one message; shared by the concurrent sends.
struct Sender {
    store: Store,
    slack: Arc<dyn SlackPort>,
    settings: Arc<Settings>,
    now: Now,
    /// DM and group-DM channel ids already opened, by pacing key.
    conversations: std::sync::Mutex<HashMap<String, String>>,
}

#[derive(Debug, Clone)]
struct Pause {
    until: DateTime<Utc>,
    wait: Duration,
    code: String,
    /// When this pause was decided: several refusals in one pass double the wait once.
    set_at: DateTime<Utc>,
}

/// What became of one attempt.
#[derive(Debug)]
enum Outcome {
    /// Delivered; for a post, where it went (channel, ts).
    Sent(Option<(String, String)>),
    /// Try again after `after`. `maybe_sent`: Slack may have accepted the post.
    Retry {
        after: Duration,
        rate_limited: bool,
        maybe_sent: bool,
        why: String,
    },
    /// Refused for good: drop it and what depends on it.
    Drop(String),
    /// The workspace refuses the bot: pause everything, keep the message.
    Pause(String),
    /// Outside the recipient's working time: wait until then (not a failure).
    Later(DateTime<Utc>),
    /// The sender panicked on this message.
    Panicked(String),
}

/// What woke the worker while messages were in flight.
enum Woken {
    Answers(Vec<(OutboxItem, Outcome)>),
    /// A conversation fell due, or the worker is to stop: look again.
    Due,
    Queued,
}

impl Delivery {
    pub fn new(
        store: Store,
        slack: Arc<dyn SlackPort>,
        settings: Arc<Settings>,
        now: Now,
        wakers: Wakers,
        health: Health,
    ) -> Self {
        Self {
            sender: Arc::new(Sender {
                store: store.clone(),
                slack,
                settings: settings.clone(),
                now: now.clone(),
                conversations: std::sync::Mutex::new(HashMap::new()),
            }),
            store,
            bucket: Bucket::per_second(settings.delivery.workspace_rate),
            settings,
            now,
            wakers,
            health,
            timetable: Timetable::default(),
            seen_up_to: 0,
            listed_at: None,
            paused: None,
            pass_started: DateTime::<Utc>::MIN_UTC,
            idle_recheck: Duration::from_secs(60),
        }
    }

    /// Runs until `shutdown`, waking when the outbox gets a message or a wait ends.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let next_wake = match self.pass_until(&shutdown).await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "delivery pass failed; retrying shortly");
                    // Sends of the failed pass were abandoned (their marks make a resend look
                    // first): start the timetable afresh from the store.
                    self.timetable = Timetable::default();
                    self.listed_at = None;
                    Some((self.now)() + chrono::Duration::seconds(1))
                }
            };
            self.health.idle(WORKER);
            let sleep = next_wake
                .map(|at| (at - (self.now)()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(self.idle_recheck)
                .min(self.idle_recheck);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakers.delivery.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Sends what may be sent now, starting each conversation's next message as soon as its
    /// pace allows while others are in flight; returns once nothing is in flight and nothing
    /// more may go now, with when the next message may.
    pub async fn pass(&mut self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.pass_until(&CancellationToken::new()).await
    }

    /// As [`Delivery::pass`]; once `shutdown` is cancelled it starts nothing new and returns
    /// when the messages in flight have their outcomes recorded.
    async fn pass_until(
        &mut self,
        shutdown: &CancellationToken,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let now = (self.now)();
        if let Some(pause) = &self.paused
            && pause.until > now
        {
            return Ok(Some(pause.until));
        }
        self.pass_started = now;
        self.discover(now).await?;
        let queued = self.wakers.delivery.clone();
        let mut in_flight = FuturesUnordered::new();
        loop {
            let now = (self.now)();
            let free = self
                .settings
                .delivery
                .max_in_flight
                .saturating_sub(in_flight.len());
            let stopping = shutdown.is_cancelled();
            if free > 0 && !stopping && self.paused.as_ref().is_none_or(|p| p.until <= now) {
                let batch = self.ready(now, free).await?;
                if !batch.is_empty() {
                    self.health.busy(
                        WORKER,
                        format!(
                            "{} message(s) in flight, first outbox/{}",
                            in_flight.len() + batch.len(),
                            batch[0].id
                        ),
                    );
                    // Slack may accept a post and the bot die before it records that: mark first.
                    let posts: Vec<u64> = batch
                        .iter()
                        .filter(|i| i.message.destination.is_post() && !i.maybe_sent)
                        .map(|i| i.id)
                        .collect();
                    if !posts.is_empty() {
                        self.store
                            .call(move |s| s.outbox_mark_maybe_sent(&posts))
                            .await?;
                    }
                    for item in batch {
                        let sender = self.sender.clone();
                        in_flight.push(async move {
                            let outcome = match contained(sender.send(&item)).await {
                                Ok(outcome) => outcome,
                                Err(panic) => Outcome::Panicked(panic),
                            };
                            (item, outcome)
                        });
                    }
                }
            }
            if in_flight.is_empty() {
                break;
            }
            // Wait for answers, for the next conversation to fall due (if it could start), or
            // for a new message.
            let now = (self.now)();
            let can_start = in_flight.len() < self.settings.delivery.max_in_flight
                && !stopping
                && self.paused.as_ref().is_none_or(|p| p.until <= now);
            let due_in = self
                .timetable
                .next_look()
                .filter(|_| can_start)
                .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO));
            let woken = tokio::select! {
                answer = in_flight.next() => {
                    let mut answers: Vec<_> = answer.into_iter().collect();
                    // The answers that are already in commit together.
                    while let Some(Some(more)) = in_flight.next().now_or_never() {
                        answers.push(more);
                    }
                    Woken::Answers(answers)
                }
                _ = tokio::time::sleep(due_in.unwrap_or_default()), if due_in.is_some() => Woken::Due,
                _ = queued.notified() => Woken::Queued,
                _ = shutdown.cancelled(), if !stopping => Woken::Due,
            };
            match woken {
                Woken::Answers(answers) => self.record(answers).await?,
                Woken::Due => {}
                Woken::Queued => self.discover((self.now)()).await?,
            }
        }
        let next = self.timetable.next_look();
        Ok(match &self.paused {
            Some(p) if p.until > (self.now)() => Some(next.map_or(p.until, |n| n.max(p.until))),
            _ => next,
        })
    }

    /// Puts the conversations with new messages in the timetable: those queued since the
    /// highest id known, or, at the start and every `idle_recheck`, every conversation.
    async fn discover(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let every = chrono::Duration::from_std(self.idle_recheck).unwrap_or(chrono::Duration::MAX);
        let (conversations, last) = if self.listed_at.is_none_or(|at| now - at >= every) {
            self.listed_at = Some(now);
            self.timetable.prune(now);
            self.store.call(|s| s.outbox_conversations()).await?
        } else {
            let after = self.seen_up_to;
            self.store
                .call(move |s| s.outbox_conversations_after(after))
                .await?
        };
        self.seen_up_to = last;
        for conversation in conversations {
            self.timetable.look_by(&conversation, now);
        }
        Ok(())
    }

    /// Up to `free` messages that may go now, each the head of its conversation's queue,
    /// within the workspace's rate. Conversations with nothing to send now are put back in
    /// the timetable for when they will have.
    async fn ready(
        &mut self,
        now: DateTime<Utc>,
        free: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut batch = Vec::new();
        while batch.len() < free {
            let due = self.timetable.take_due(now, free - batch.len());
            if due.is_empty() {
                break;
            }
            let asked = due.clone();
            let heads = self
                .store
                .call(move |s| s.outbox_heads(&asked, now))
                .await?;
            let mut out_of_tokens = false;
            for (conversation, head) in due.iter().zip(heads) {
                match head {
                    QueueHead::Empty => self.timetable.forget(conversation),
                    QueueHead::Wait(at) => self.timetable.look_at(conversation, at),
                    QueueHead::Ready(item) => match self.bucket.take(now) {
                        Ok(()) => {
                            self.timetable.start(conversation);
                            batch.push(*item);
                        }
                        Err(at) => {
                            out_of_tokens = true;
                            self.timetable.look_at(conversation, at);
                        }
                    },
                }
            }
            if out_of_tokens {
                break;
            }
        }
        Ok(batch)
    }

    /// Stores what became of these messages: deliveries and retries in one commit, then each
    /// conversation is looked at again as soon as its pace allows.
    async fn record(&mut self, answers: Vec<(OutboxItem, Outcome)>) -> Result<(), StoreError> {
        let mut records = Vec::new();
        let mut done = Vec::new();
        for (item, outcome) in answers {
            done.push(item.conversation());
            if let Some(record) = self.decide(item, outcome).await? {
                records.push(record);
            }
        }
        if !records.is_empty() {
            self.store.call(move |s| s.outbox_record(&records)).await?;
        }
        let now = (self.now)();
        for conversation in done {
            self.timetable.finish(&conversation, now);
        }
        Ok(())
    }

    /// What to store for one outcome; drops and dead letters are stored at once.
    async fn decide(
        &mut self,
        mut item: OutboxItem,
        outcome: Outcome,
    ) -> Result<Option<OutboxRecord>, StoreError> {
        let key = item.conversation();
        let now = (self.now)();
        let interval = chrono::Duration::from_std(self.settings.delivery.per_channel_interval)
            .unwrap_or(chrono::Duration::seconds(1));
        // Only an answer from Slack about the message itself shows the credentials work again
        // (not a quiet-hours wait, a panic, or a wait for another message).
        if matches!(outcome, Outcome::Sent(_) | Outcome::Drop(_))
            && let Some(pause) = self.paused.take()
        {
            tracing::info!(was = %pause.code, "Slack accepts the bot's credentials again; delivery resumed");
            self.health.set_delivery_paused(None);
        }
        Ok(match outcome {
            Outcome::Sent(posted) => {
                crate::metrics::send(crate::metrics::SendResult::Ok);
                // Paced from Slack's answer, not from the call: Slack saw the post before.
                self.timetable.pace(&key, now + interval);
                let posted = match (item.message.tag, posted) {
                    (Some(tag), Some((channel, ts))) => Some((tag, channel, ts)),
                    _ => None,
                };
                Some(OutboxRecord::Delivered {
                    id: item.id,
                    posted,
                })
            }
            Outcome::Drop(reason) => {
                crate::metrics::send(crate::metrics::SendResult::Permanent);
                tracing::warn!(
                    outbox_id = item.id,
                    destination = %key,
                    %reason,
                    "dropping a message Slack will not accept"
                );
                let store = self.store.clone();
                let dependants = store
                    .call(move |s| s.write(|tx| tx.drop_outbox(&item, &reason, now)))
                    .await?;
                if dependants > 0 {
                    tracing::warn!(
                        dependants,
                        "dropped the messages that depended on it (edits, thread replies)"
                    );
                }
                self.wakers.inbox.notify_one();
                None
            }
            Outcome::Pause(code) => {
                crate::metrics::send(crate::metrics::SendResult::Workspace);
                let wait = match &self.paused {
                    None => Duration::from_secs(1),
                    Some(p) if p.set_at >= self.pass_started => p.wait,
                    Some(p) => (p.wait * 2).min(MAX_PAUSE),
                };
                if self.paused.is_none() {
                    tracing::error!(
                        %code,
                        fix = SlackError::workspace_fix(&code),
                        "Slack refuses the bot's credentials; all delivery is paused and every message kept"
                    );
                }
                self.health.set_delivery_paused(Some(format!(
                    "{code}: {}",
                    SlackError::workspace_fix(&code)
                )));
                self.paused = Some(Pause {
                    until: now + chrono::Duration::from_std(wait).unwrap_or_default(),
                    wait,
                    code,
                    set_at: now,
                });
                // The message itself is fine: it keeps its place, its attempt count, and its
                // mark if an earlier attempt may have posted it (this one did not).
                Some(OutboxRecord::Retry(item))
            }
            Outcome::Later(at) => {
                tracing::info!(outbox_id = item.id, %at, "outside the recipient's working time; the message waits");
                // Not attempted: an earlier attempt's mark, if any, stays.
                item.not_before = at;
                Some(OutboxRecord::Retry(item))
            }
            Outcome::Panicked(panic) => {
                crate::metrics::send(crate::metrics::SendResult::Panicked);
                item.attempts += 1;
                // It may have panicked after Slack took the post.
                item.maybe_sent |= item.message.destination.is_post();
                if item.attempts >= MAX_PANICS {
                    self.set_aside(item, &panic).await?;
                    None
                } else {
                    tracing::warn!(outbox_id = item.id, %panic, attempt = item.attempts, "sending a message panicked; it will be retried");
                    item.not_before = now + chrono::Duration::seconds(1 << item.attempts);
                    Some(OutboxRecord::Retry(item))
                }
            }
            Outcome::Retry {
                after,
                rate_limited,
                maybe_sent,
                why,
            } => {
                crate::metrics::send(crate::metrics::SendResult::retried(rate_limited));
                item.attempts += 1;
                // Once in doubt, in doubt until a look-up settles it.
                item.maybe_sent |= maybe_sent;
                let failing_since = *item.first_failed_at.get_or_insert(now);
                let age = (now - failing_since).to_std().unwrap_or_default();
                if age >= self.settings.delivery.give_up_after {
                    self.set_aside(item, &why).await?;
                    return Ok(None);
                }
                let retry_at =
                    now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::seconds(1));
                item.not_before = retry_at;
                if rate_limited {
                    // Slack's Retry-After holds this conversation only.
                    self.timetable.pace(&key, retry_at);
                }
                tracing::info!(
                    outbox_id = item.id,
                    attempt = item.attempts,
                    retry_in_ms = after.as_millis() as u64,
                    rate_limited,
                    %why,
                    "delivery will be retried"
                );
                Some(OutboxRecord::Retry(item))
            }
        })
    }

    async fn set_aside(&self, item: OutboxItem, why: &str) -> Result<(), StoreError> {
        let now = (self.now)();
        let (id, attempts, key) = (
            item.id,
            item.attempts,
            item.message.destination.pacing_key(),
        );
        let error = why.to_owned();
        let letter = self
            .store
            .call(move |s| s.dead_letter_message(&item, &error, now))
            .await?;
        tracing::error!(
            outbox_id = id,
            destination = %key,
            attempts,
            error = %why,
            dead_letter = letter,
            "a message could not be delivered and was set aside; `asyncbot dead-letters list` shows it, `asyncbot dead-letters retry {letter}` sends it again"
        );
        Ok(())
    }
}

impl Sender {
    /// Each person's own calendar (their hours, holidays and absences, as of now), with their
    /// zone. Should the store fail, the team's calendar stands in: a message is better sent in
    /// the team's working time than held for good.
    async fn calendars_of(
        &self,
        people: &[QuietFor],
    ) -> (Vec<(BusinessCalendar, Tz)>, Vec<Option<Presence>>) {
        let team = self.settings.calendar.clone();
        let wanted = people.to_vec();
        let read = self
            .store
            .call(move |s| {
                s.read(|rx| {
                    let mut calendars = Vec::with_capacity(wanted.len());
                    let mut presences = Vec::with_capacity(wanted.len());
                    for q in &wanted {
                        calendars.push((rx.calendar_of(&q.user, &team, q.tz)?, q.tz));
                        presences.push(rx.presence(&q.user)?);
                    }
                    Ok((calendars, presences))
                })
            })
            .await;
        read.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot read people's calendars; the team's calendar stands in");
            let calendars = people
                .iter()
                .map(|q| (self.settings.calendar.clone(), q.tz))
                .collect();
            (calendars, Vec::new())
        })
    }

    /// Resolves the destination and sends.
    async fn send(&self, item: &OutboxItem) -> Outcome {
        let now = (self.now)();
        let msg = &item.message;
        if !msg.quiet_for.is_empty() {
            let (people, presences) = self.calendars_of(&msg.quiet_for).await;
            if let Some(at) = shared_working_time(&people, now)
                && at > now
            {
                return Outcome::Later(at);
            }
            // Slack's Do Not Disturb holds every message that asks something of someone; a
            // focus status holds DMs and calls (a thread mention waits for working time only).
            let personal = matches!(
                msg.destination,
                Destination::DirectMessage { .. } | Destination::GroupMessage { .. }
            );
            if let Some(until) = presences
                .iter()
                .flatten()
                .filter_map(|p| {
                    let mut p = p.clone();
                    if !personal {
                        p.focus_until = None;
                    }
                    p.dnd_or_focus_until(now)
                })
                .max()
            {
                // A focus status with no expiry is looked at again after a while.
                let recheck = now
                    + chrono::Duration::from_std(self.settings.presence.refresh)
                        .unwrap_or(chrono::Duration::minutes(15));
                return Outcome::Later(until.min(recheck));
            }
        }
        let (channel, thread_ts) = match &msg.destination {
            Destination::Edit { channel, tag } => {
                return self.edit(channel, tag, item).await;
            }
            Destination::Ephemeral { channel, user } => {
                let outcome = match self.slack.post_ephemeral(channel, user, &msg.text).await {
                    Ok(()) => Outcome::Sent(None),
                    Err(e) => self.classify(item, e, false),
                };
                return outcome;
            }
            Destination::ThreadOfTag { channel, tag } => match self.tagged_ts(tag, item).await {
                Ok(root) => (channel.clone(), Some(root)),
                Err(outcome) => return outcome,
            },
            Destination::Channel { channel } => (channel.clone(), None),
            Destination::Thread { channel, thread_ts } => {
                (channel.clone(), Some(thread_ts.clone()))
            }
            Destination::DirectMessage { user } => {
                match self
                    .resolve(&msg.destination, std::slice::from_ref(user))
                    .await
                {
                    Ok(c) => (c, None),
                    Err(e) => return self.classify(item, e, item.maybe_sent),
                }
            }
            Destination::GroupMessage { users } => {
                match self.resolve(&msg.destination, users).await {
                    Ok(c) => (c, None),
                    Err(e) => return self.classify(item, e, item.maybe_sent),
                }
            }
        };
        if item.maybe_sent {
            // An earlier attempt's outcome is unknown: look before posting again.
            let since = item.created_at - chrono::Duration::minutes(1);
            match self
                .slack
                .find_posted(&channel, thread_ts.as_deref(), item.id, since)
                .await
            {
                Ok(Some(ts)) => {
                    tracing::info!(
                        outbox_id = item.id,
                        "found the message already posted by an earlier attempt; not posting it again"
                    );
                    return Outcome::Sent(Some((channel, ts)));
                }
                Ok(None) => {}
                Err(e) => return self.classify(item, e, true),
            }
        }
        let result = self
            .slack
            .post_message(
                &channel,
                thread_ts.as_deref(),
                &msg.text,
                msg.blocks.as_ref(),
                item.id,
            )
            .await;
        match result {
            Ok(ts) => Outcome::Sent(Some((channel, ts))),
            // Slack may have posted it before the answer was lost.
            Err(e @ SlackError::Transient(_)) => self.classify(item, e, true),
            Err(e) => self.classify(item, e, false),
        }
    }

    /// The `ts` of the message posted with `tag`. Until that post has gone out (it is ahead in
    /// the same conversation's queue), whatever needs it waits; if it was dropped, so is this.
    async fn tagged_ts(&self, tag: &str, item: &OutboxItem) -> Result<String, Outcome> {
        let key = tag.to_owned();
        let found = self
            .store
            .call(move |s| {
                s.read(|rx| {
                    Ok(match rx.tagged(&key)? {
                        Some((_, ts)) => Ok(ts),
                        None => Err(rx.is_dropped_tag(&key)?),
                    })
                })
            })
            .await;
        let wait = |why: &str| Outcome::Retry {
            after: backoff(item.attempts, self.settings.delivery.max_backoff, item.id),
            rate_limited: false,
            maybe_sent: false,
            why: why.to_owned(),
        };
        match found {
            Ok(Ok(ts)) => Ok(ts),
            Ok(Err(true)) => Err(Outcome::Drop("the message it refers to was dropped".into())),
            Ok(Err(false)) => Err(wait("the message it refers to has not been posted yet")),
            Err(e) => Err(wait(&e.to_string())),
        }
    }

    /// `chat.update` of the message posted with `tag` (idempotent: safe to repeat).
    async fn edit(&self, channel: &str, tag: &str, item: &OutboxItem) -> Outcome {
        let ts = match self.tagged_ts(tag, item).await {
            Ok(ts) => ts,
            Err(outcome) => return outcome,
        };
        let msg = &item.message;
        match self
            .slack
            .update_message(channel, &ts, &msg.text, msg.blocks.as_ref())
            .await
        {
            Ok(()) => Outcome::Sent(None),
            Err(e) => self.classify(item, e, false),
        }
    }

    async fn resolve(
        &self,
        destination: &Destination,
        users: &[String],
    ) -> Result<String, SlackError> {
        let key = destination.pacing_key();
        let known = self
            .conversations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(c) = known {
            return Ok(c);
        }
        let channel = self.slack.open_conversation(users).await?;
        self.conversations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, channel.clone());
        Ok(channel)
    }

    fn classify(&self, item: &OutboxItem, err: SlackError, maybe_sent: bool) -> Outcome {
        match err {
            SlackError::Permanent(code) => Outcome::Drop(code),
            SlackError::Workspace(code) => Outcome::Pause(code),
            SlackError::RateLimited { retry_after } => Outcome::Retry {
                after: retry_after.unwrap_or(Duration::from_secs(1)),
                rate_limited: true,
                maybe_sent,
                why: "rate limited (429)".into(),
            },
            SlackError::Transient(reason) => Outcome::Retry {
                after: backoff(item.attempts, self.settings.delivery.max_backoff, item.id),
                rate_limited: false,
                maybe_sent,
                why: reason,
            },
        }
    }
}

/// The first moment from `now` that is working time for everyone in `people` (each on their
/// own calendar, in their zone; `None` if there is nobody to wait for). When their working
/// times never meet (within two weeks), the first person's (the one the message asks something
/// of) decides alone.
pub fn shared_working_time(
    people: &[(BusinessCalendar, Tz)],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let (first, first_tz) = people.first()?;
    let mut at = now;
    for _ in 0..64 {
        let next = people
            .iter()
            .map(|(calendar, tz)| calendar.next_working_time(at, *tz))
            .max()
            .unwrap_or(at);
        if people
            .iter()
            .all(|(calendar, tz)| calendar.is_working_time(next, *tz))
        {
            return Some(next);
        }
        if next - now > chrono::Duration::days(14) {
            break;
        }
        // Someone's working time ended before the others' began: try from that moment.
        at = next;
        if let Some(gap) = people
            .iter()
            .filter(|(calendar, tz)| !calendar.is_working_time(next, *tz))
            .map(|(calendar, tz)| calendar.next_working_time(next, *tz))
            .min()
        {
            at = gap.max(next);
        }
    }
    Some(first.next_working_time(now, *first_tz))
}

/// 1 s, 2 s, 4 s … up to `max`, with up to 25 % jitter (derived from `salt`, so it is
/// deterministic per message and spreads messages apart).
pub fn backoff(attempts: u32, max: Duration, salt: u64) -> Duration {
    let base = Duration::from_secs(1u64 << attempts.min(20)).min(max);
    let jitter_permille =
        (salt.wrapping_mul(2654435761).wrapping_add(attempts as u64) % 250) as u32;
    (base + base * jitter_permille / 1000).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_waits_for_a_moment_that_is_working_time_for_both() {
        use chrono_tz::{America, Australia, Europe};
        let calendar = BusinessCalendar::office_hours();
        let people = [
            (calendar.clone(), Europe::Berlin),
            (calendar.clone(), America::New_York),
        ];
        // Thu 08:00 UTC: 09:00 in Berlin, 03:00 in New York. Both work from 14:00 UTC.
        let now: DateTime<Utc> = "2026-11-26T08:00:00Z".parse().unwrap();
        let at = shared_working_time(&people, now).unwrap();
        assert_eq!(at, "2026-11-26T14:00:00Z".parse::<DateTime<Utc>>().unwrap());
        // Already a shared moment: now.
        assert_eq!(shared_working_time(&people, at), Some(at));
        // Berlin and Sydney never share a working hour: the recipient (first) decides.
        let apart = [people[0].clone(), (calendar.clone(), Australia::Sydney)];
        let at = shared_working_time(&apart, now).unwrap();
        assert!(calendar.is_working_time(at, Europe::Berlin));
        assert!(shared_working_time(&[], now).is_none());
        // Each on their own calendar: New York starting at 07:00 meets Berlin at 12:00 UTC.
        let early = calendar
            .with_hours(vec![
                crate::domain::calendar::WorkingHours::parse("07:00", "15:00").unwrap(),
            ])
            .unwrap();
        let own = [people[0].clone(), (early, America::New_York)];
        assert_eq!(
            shared_working_time(&own, now),
            Some("2026-11-26T12:00:00Z".parse::<DateTime<Utc>>().unwrap())
        );
    }

    #[test]
    fn backoff_doubles_and_stays_under_the_cap() {
        let max = Duration::from_secs(300);
        let waits: Vec<Duration> = (0..12).map(|a| backoff(a, max, 7)).collect();
        assert!(waits[0] >= Duration::from_secs(1) && waits[0] < Duration::from_millis(1250));
        assert!(waits[3] >= Duration::from_secs(8) && waits[3] < Duration::from_secs(10));
        assert!(waits.iter().all(|w| *w <= max));
        assert_eq!(waits[11], max);
    }
}
