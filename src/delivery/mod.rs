//! Delivers the outbox: in order per conversation, at most one message per `per_channel_interval`
//! per conversation, each posted once, and only inside its recipient's working time.
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
//! soon as Slack answers. An item found still marked (the bot was killed mid-call, or the call
//! timed out) is first looked for in its conversation and only posted if it is not there.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::outbox::{Destination, OutboxItem};
use crate::engine::Wakers;
use crate::engine::clock::Now;
use crate::engine::health::{Health, contained};
use crate::slack::{SlackError, SlackPort};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};

/// How many messages (to different conversations) may be in flight at once.
const MAX_IN_FLIGHT: usize = 8;
/// How many outbox entries one pass looks at.
const SCAN: usize = 500;
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
    /// When each conversation may next be posted to.
    next_allowed: HashMap<String, DateTime<Utc>>,
    /// Set while the workspace refuses the bot: nothing is sent before `until`.
    paused: Option<Pause>,
    /// When the current pass started.
    pass_started: DateTime<Utc>,
    /// The longest it sleeps without looking (it also tells `/healthz` it is alive).
    pub idle_recheck: Duration,
}

/// Sends one message; shared by the concurrent sends of a pass.
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
            settings,
            now,
            wakers,
            health,
            next_allowed: HashMap::new(),
            paused: None,
            pass_started: DateTime::<Utc>::MIN_UTC,
            idle_recheck: Duration::from_secs(60),
        }
    }

    /// Runs until `shutdown`, waking when the outbox gets a message or a wait ends.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            // On shutdown, the posts in flight were finished and recorded: nothing new starts.
            if shutdown.is_cancelled() {
                return;
            }
            let next_wake = match self.pass().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "delivery pass failed; retrying shortly");
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

    /// Sends what may be sent now; returns when the next message becomes sendable.
    pub async fn pass(&mut self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let now = (self.now)();
        if let Some(pause) = &self.paused
            && pause.until > now
        {
            return Ok(Some(pause.until));
        }
        self.pass_started = now;
        let items = self.store.call(|s| s.pending_outbox(SCAN)).await?;
        let mut blocked: HashSet<String> = HashSet::new();
        let mut batch: Vec<OutboxItem> = Vec::new();
        let mut next_wake: Option<DateTime<Utc>> = None;
        let mut wake_at = |t: DateTime<Utc>| {
            next_wake = Some(next_wake.map_or(t, |w: DateTime<Utc>| w.min(t)));
        };
        for item in items {
            let key = item.message.destination.pacing_key();
            // Order per conversation: one at a time, and nothing overtakes a waiting message.
            if blocked.contains(&key) {
                continue;
            }
            if item.not_before > now {
                // Waiting for its recipient's working time does not hold up the conversation
                // (other people's messages in the same channel go on); a retry backoff does.
                if !self.is_quiet_wait(&item) {
                    blocked.insert(key);
                }
                wake_at(item.not_before);
                continue;
            }
            blocked.insert(key.clone());
            let allowed = self.next_allowed.get(&key).copied().unwrap_or(now);
            if allowed > now {
                wake_at(allowed);
                continue;
            }
            if batch.len() < MAX_IN_FLIGHT {
                batch.push(item);
            } else {
                wake_at(now);
            }
        }
        if batch.is_empty() {
            return Ok(next_wake);
        }
        self.health.busy(
            WORKER,
            format!("{} message(s), first outbox/{}", batch.len(), batch[0].id),
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
        let mut in_flight: FuturesUnordered<_> = batch
            .into_iter()
            .map(|item| {
                let sender = self.sender.clone();
                async move {
                    let outcome = match contained(sender.send(&item)).await {
                        Ok(outcome) => outcome,
                        Err(panic) => Outcome::Panicked(panic),
                    };
                    (item, outcome)
                }
            })
            .collect();
        // Each outcome is recorded as soon as it is known, not after the whole batch.
        while let Some((item, outcome)) = in_flight.next().await {
            self.record(item, outcome).await?;
        }
        // Something was sent or rescheduled: look again at once.
        Ok(Some((self.now)()))
    }

    fn is_quiet_wait(&self, item: &OutboxItem) -> bool {
        item.attempts == 0 && !item.message.quiet_for.is_empty()
    }

    /// Stores what became of `item`.
    async fn record(&mut self, mut item: OutboxItem, outcome: Outcome) -> Result<(), StoreError> {
        let key = item.message.destination.pacing_key();
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
        match outcome {
            Outcome::Sent(posted) => {
                crate::metrics::send(crate::metrics::SendResult::Ok);
                self.next_allowed.insert(key, now + interval);
                let id = item.id;
                let tag = item.message.tag.clone();
                self.store
                    .call(move |s| {
                        let posted = match (&tag, &posted) {
                            (Some(tag), Some((channel, ts))) => {
                                Some((tag.as_str(), channel.as_str(), ts.as_str()))
                            }
                            _ => None,
                        };
                        s.outbox_delivered(id, posted)
                    })
                    .await?;
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
                self.wakers.delivery.notify_one();
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
                self.store.call(move |s| s.outbox_retry(&item)).await?;
            }
            Outcome::Later(at) => {
                tracing::info!(outbox_id = item.id, %at, "outside the recipient's working time; the message waits");
                // Not attempted: an earlier attempt's mark, if any, stays.
                item.not_before = at;
                self.store.call(move |s| s.outbox_retry(&item)).await?;
            }
            Outcome::Panicked(panic) => {
                crate::metrics::send(crate::metrics::SendResult::Panicked);
                item.attempts += 1;
                // It may have panicked after Slack took the post.
                item.maybe_sent |= item.message.destination.is_post();
                if item.attempts >= MAX_PANICS {
                    self.set_aside(item, &panic).await?;
                } else {
                    tracing::warn!(outbox_id = item.id, %panic, attempt = item.attempts, "sending a message panicked; it will be retried");
                    item.not_before = now + chrono::Duration::seconds(1 << item.attempts);
                    self.store.call(move |s| s.outbox_retry(&item)).await?;
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
                    return self.set_aside(item, &why).await;
                }
                let retry_at =
                    now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::seconds(1));
                item.not_before = retry_at;
                if rate_limited {
                    self.next_allowed.insert(key, retry_at);
                }
                tracing::info!(
                    outbox_id = item.id,
                    attempt = item.attempts,
                    retry_in_ms = after.as_millis() as u64,
                    rate_limited,
                    %why,
                    "delivery will be retried"
                );
                self.store.call(move |s| s.outbox_retry(&item)).await?;
            }
        }
        Ok(())
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
    /// Resolves the destination and sends.
    async fn send(&self, item: &OutboxItem) -> Outcome {
        let now = (self.now)();
        let msg = &item.message;
        if let Some(at) = shared_working_time(&self.settings.calendar, &msg.quiet_for, now)
            && at > now
        {
            return Outcome::Later(at);
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

/// The first moment from `now` that is working time for everyone in `people` (`None` if there
/// is nobody to wait for). When their working times never meet (within two weeks), the first
/// person's (the one the message asks something of) decides alone.
pub fn shared_working_time(
    calendar: &crate::domain::calendar::BusinessCalendar,
    people: &[crate::domain::outbox::QuietFor],
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let first = people.first()?;
    let mut at = now;
    for _ in 0..64 {
        let next = people
            .iter()
            .map(|p| calendar.next_working_time(at, p.tz))
            .max()
            .unwrap_or(at);
        if people.iter().all(|p| calendar.is_working_time(next, p.tz)) {
            return Some(next);
        }
        if next - now > chrono::Duration::days(14) {
            break;
        }
        // Someone's working time ended before the others' began: try from that moment.
        at = next;
        if let Some(gap) = people
            .iter()
            .filter(|p| !calendar.is_working_time(next, p.tz))
            .map(|p| calendar.next_working_time(next, p.tz))
            .min()
        {
            at = gap.max(next);
        }
    }
    Some(calendar.next_working_time(now, first.tz))
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
        use crate::domain::calendar::{BusinessCalendar, WorkingHours};
        use crate::domain::outbox::QuietFor;
        let calendar = BusinessCalendar::new(
            vec![
                chrono::Weekday::Mon,
                chrono::Weekday::Tue,
                chrono::Weekday::Wed,
                chrono::Weekday::Thu,
                chrono::Weekday::Fri,
            ],
            WorkingHours::parse("09:00", "18:00").unwrap(),
            Vec::new(),
        )
        .unwrap();
        let people = [
            QuietFor {
                user: "UANA".into(),
                tz: chrono_tz::Europe::Berlin,
            },
            QuietFor {
                user: "UBEN".into(),
                tz: chrono_tz::America::New_York,
            },
        ];
        // Thu 08:00 UTC: 09:00 in Berlin, 03:00 in New York. Both work from 14:00 UTC.
        let now: DateTime<Utc> = "2026-11-26T08:00:00Z".parse().unwrap();
        let at = shared_working_time(&calendar, &people, now).unwrap();
        assert_eq!(at, "2026-11-26T14:00:00Z".parse::<DateTime<Utc>>().unwrap());
        // Already a shared moment: now.
        assert_eq!(shared_working_time(&calendar, &people, at), Some(at));
        // Berlin and Sydney never share a working hour: the recipient (first) decides.
        let apart = [
            people[0].clone(),
            QuietFor {
                user: "UZOE".into(),
                tz: chrono_tz::Australia::Sydney,
            },
        ];
        let at = shared_working_time(&calendar, &apart, now).unwrap();
        assert!(calendar.is_working_time(at, chrono_tz::Europe::Berlin));
        assert!(shared_working_time(&calendar, &[], now).is_none());
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
