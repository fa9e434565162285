//! Delivers the outbox: in order per conversation, at most one message per `per_channel_interval`
//! per conversation, 429s retried after Slack's `Retry-After`, 5xx and timeouts retried with
//! exponential backoff and jitter, permanent errors logged once and dropped.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::DeliverySettings;
use crate::outbox::{Destination, OutboxItem};
use crate::slack::{SlackError, SlackPort};
use crate::store::Store;
use crate::time::Now;

/// How many messages (to different conversations) may be in flight at once.
const MAX_IN_FLIGHT: usize = 8;
/// How many outbox entries one pass looks at.
const SCAN: usize = 500;

pub struct Delivery {
    store: Store,
    slack: Arc<dyn SlackPort>,
    settings: DeliverySettings,
    now: Now,
    wake: Arc<Notify>,
    /// When each conversation may next be posted to.
    next_allowed: HashMap<String, DateTime<Utc>>,
    /// DM and group-DM channel ids already opened, by pacing key.
    conversations: HashMap<String, String>,
}

enum Outcome {
    Sent,
    Retry { after: Duration, rate_limited: bool },
    Drop(String),
}

impl Outcome {
    fn logged(self, reason: &str) -> Self {
        tracing::warn!(reason, "delivery postponed");
        self
    }
}

impl Delivery {
    pub fn new(
        store: Store,
        slack: Arc<dyn SlackPort>,
        settings: DeliverySettings,
        now: Now,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            slack,
            settings,
            now,
            wake,
            next_allowed: HashMap::new(),
            conversations: HashMap::new(),
        }
    }

    /// Runs until `shutdown`, waking when the outbox gets a message or a wait ends.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let next_wake = match self.pass().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "delivery pass failed; retrying shortly");
                    Some((self.now)() + chrono::Duration::seconds(1))
                }
            };
            let sleep = next_wake
                .map(|at| (at - (self.now)()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Sends what may be sent now; returns when the next message becomes sendable.
    async fn pass(&mut self) -> Result<Option<DateTime<Utc>>, crate::store::StoreError> {
        let now = (self.now)();
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
            if !blocked.insert(key.clone()) {
                continue;
            }
            let allowed = self.next_allowed.get(&key).copied().unwrap_or(now);
            let ready_at = allowed.max(item.not_before);
            if ready_at > now {
                wake_at(ready_at);
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
        let results = futures::future::join_all(batch.iter().map(|item| self.send(item))).await;
        let interval = chrono::Duration::from_std(self.settings.per_channel_interval)
            .unwrap_or(chrono::Duration::seconds(1));
        for (mut item, (outcome, resolved)) in batch.into_iter().zip(results) {
            let key = item.message.destination.pacing_key();
            if let Some(channel) = resolved {
                self.conversations.insert(key.clone(), channel);
            }
            let done = (self.now)();
            match outcome {
                Outcome::Sent => {
                    self.next_allowed.insert(key, done + interval);
                    let id = item.id;
                    self.store.call(move |s| s.outbox_remove(id)).await?;
                }
                Outcome::Drop(reason) => {
                    tracing::warn!(
                        outbox_id = item.id,
                        destination = %key,
                        reason = %reason,
                        "dropping a message Slack will not accept"
                    );
                    let (id, tag) = (item.id, item.message.tag.clone());
                    let now = (self.now)();
                    self.store
                        .call(move |s| {
                            s.write(|tx| {
                                if let Some(tag) = &tag {
                                    crate::rfc_flow::post_dropped(tx, tag, &reason, now)?;
                                }
                                tx.remove_outbox(id)
                            })
                        })
                        .await?;
                    self.wake.notify_one();
                }
                Outcome::Retry {
                    after,
                    rate_limited,
                } => {
                    item.attempts += 1;
                    // A 429 is Slack pacing us, not a failure of the message: it does not use up
                    // attempts (but a message is still dropped if it is rate limited for ever).
                    let limit = if rate_limited {
                        self.settings.max_attempts.saturating_mul(4)
                    } else {
                        self.settings.max_attempts
                    };
                    if item.attempts >= limit {
                        tracing::error!(
                            outbox_id = item.id,
                            destination = %key,
                            attempts = item.attempts,
                            "giving up on a message after repeated failures"
                        );
                        let id = item.id;
                        self.store.call(move |s| s.outbox_remove(id)).await?;
                        continue;
                    }
                    let retry_at = done
                        + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::seconds(1));
                    item.not_before = retry_at;
                    if rate_limited {
                        self.next_allowed.insert(key, retry_at);
                    }
                    tracing::info!(
                        outbox_id = item.id,
                        attempt = item.attempts,
                        retry_in_ms = after.as_millis() as u64,
                        rate_limited,
                        "delivery will be retried"
                    );
                    self.store.call(move |s| s.outbox_retry(&item)).await?;
                }
            }
        }
        // Something was sent or rescheduled: look again at once.
        Ok(Some((self.now)()))
    }

    /// Resolves the destination to a channel and posts. Returns the outcome and, for a DM or
    /// group DM, the channel id that was opened.
    async fn send(&self, item: &OutboxItem) -> (Outcome, Option<String>) {
        let msg = &item.message;
        let (channel, thread_ts, opened) = match &msg.destination {
            Destination::Edit { channel, tag } => {
                return (self.edit(channel, tag, item).await, None);
            }
            Destination::ThreadOfTag { channel, tag } => match self.tagged_ts(tag, item).await {
                Ok(root) => (channel.clone(), Some(root), None),
                Err(outcome) => return (outcome, None),
            },
            Destination::Channel { channel } => (channel.clone(), None, None),
            Destination::Thread { channel, thread_ts } => {
                (channel.clone(), Some(thread_ts.clone()), None)
            }
            Destination::DirectMessage { user } => {
                match self
                    .resolve(&msg.destination, std::slice::from_ref(user))
                    .await
                {
                    Ok(c) => (c.clone(), None, Some(c)),
                    Err(e) => return (self.classify(item, e), None),
                }
            }
            Destination::GroupMessage { users } => {
                match self.resolve(&msg.destination, users).await {
                    Ok(c) => (c.clone(), None, Some(c)),
                    Err(e) => return (self.classify(item, e), None),
                }
            }
        };
        let result = self
            .slack
            .post_message(
                &channel,
                thread_ts.as_deref(),
                &msg.text,
                msg.blocks.as_ref(),
            )
            .await;
        match result {
            Ok(ts) => {
                if let Some(tag) = &msg.tag {
                    let (tag, channel) = (tag.clone(), channel.clone());
                    if let Err(e) = self
                        .store
                        .call(move |s| s.record_tag(&tag, &channel, &ts))
                        .await
                    {
                        tracing::error!(error = %e, "could not record where a message was posted");
                    }
                }
                (Outcome::Sent, opened)
            }
            Err(e) => (self.classify(item, e), opened),
        }
    }

    /// The `ts` of the message posted with `tag`. Until that post has gone out (it is ahead in
    /// the same conversation's queue), whatever needs it waits.
    async fn tagged_ts(&self, tag: &str, item: &OutboxItem) -> Result<String, Outcome> {
        let key = tag.to_owned();
        let wait = || Outcome::Retry {
            after: backoff(item.attempts, self.settings.max_backoff, item.id),
            rate_limited: false,
        };
        match self.store.call(move |s| s.tagged(&key)).await {
            Ok(Some((_, ts))) => Ok(ts),
            Ok(None) => Err(wait().logged("the message it refers to has not been posted yet")),
            Err(e) => Err(wait().logged(&e.to_string())),
        }
    }

    /// `chat.update` of the message posted with `tag`.
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
            Ok(()) => Outcome::Sent,
            Err(e) => self.classify(item, e),
        }
    }

    async fn resolve(
        &self,
        destination: &Destination,
        users: &[String],
    ) -> Result<String, SlackError> {
        if let Some(c) = self.conversations.get(&destination.pacing_key()) {
            return Ok(c.clone());
        }
        self.slack.open_conversation(users).await
    }

    fn classify(&self, item: &OutboxItem, err: SlackError) -> Outcome {
        match err {
            SlackError::Permanent(code) => Outcome::Drop(code),
            SlackError::RateLimited { retry_after } => Outcome::Retry {
                after: retry_after.unwrap_or(Duration::from_secs(1)),
                rate_limited: true,
            },
            SlackError::Transient(reason) => {
                let after = backoff(item.attempts, self.settings.max_backoff, item.id);
                tracing::warn!(outbox_id = item.id, reason = %reason, "Slack call failed");
                Outcome::Retry {
                    after,
                    rate_limited: false,
                }
            }
        }
    }
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
    fn backoff_doubles_and_stays_under_the_cap() {
        let max = Duration::from_secs(300);
        let waits: Vec<Duration> = (0..12).map(|a| backoff(a, max, 7)).collect();
        assert!(waits[0] >= Duration::from_secs(1) && waits[0] < Duration::from_millis(1250));
        assert!(waits[3] >= Duration::from_secs(8) && waits[3] < Duration::from_secs(10));
        assert!(waits.iter().all(|w| *w <= max));
        assert_eq!(waits[11], max);
    }
}
