//! The engine: turns accepted events into SLA state changes and fires due timers. Each event and
//! each timer is one store transaction that writes the new state, its timers and its outgoing
//! messages together. Slack lookups (`users.info`) happen before the transaction.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::inbound::Inbound;
use crate::outbox::{Destination, OutgoingMessage};
use crate::rfc::RfcContext;
use crate::sla::{Answer, CancelReason, LadderContext, NewRequest, SlaRequest, mentioned_users};
use crate::slack::{BotIdentity, SlackError, SlackPort};
use crate::store::Reads;
use crate::store::{CachedUser, Store, StoreError, TimerKey};
use crate::time::Now;

/// How long a `users.info` answer is trusted (time zones change rarely).
const USER_CACHE_TTL: chrono::Duration = chrono::Duration::hours(24);

/// Wakes the workers when there is new work.
#[derive(Clone, Default)]
pub struct Wakers {
    pub inbox: Arc<Notify>,
    pub timers: Arc<Notify>,
    pub delivery: Arc<Notify>,
}

pub struct Engine {
    pub store: Store,
    pub slack: Arc<dyn SlackPort>,
    pub settings: Arc<Settings>,
    pub identity: BotIdentity,
    pub now: Now,
    pub wakers: Wakers,
}

/// A mentioned person, as far as tracking is concerned.
pub(crate) enum Person {
    Human { tz: Tz, name: Option<String> },
    NotTracked,
}

impl Engine {
    fn ladder(&self) -> LadderContext<'_> {
        LadderContext {
            policy: &self.settings.sla,
            calendar: &self.settings.calendar,
            team_url: Some(self.identity.team_url.as_str()),
        }
    }

    pub fn rfc_context(&self, permalink: Option<String>) -> RfcContext<'_> {
        RfcContext {
            settings: &self.settings.rfc,
            calendar: &self.settings.calendar,
            ladder: &self.settings.sla.ladder,
            permalink,
        }
    }

    /// The permalink of an RFC's message, once it has been posted.
    pub fn permalink_of(
        &self,
        tx: &crate::store::Tx<'_>,
        id: u64,
    ) -> Result<Option<String>, StoreError> {
        Ok(tx
            .tagged(&crate::rfc::message_tag(id))?
            .map(|(channel, ts)| {
                crate::format::permalink(&self.identity.team_url, &channel, &ts, None)
            }))
    }

    /// Processes the inbox until it is empty, then waits for more.
    pub async fn run_inbox(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            match self.process_next().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "processing an event failed; retrying shortly");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakers.inbox.notified() => {}
                // A safety net: never sleep on work that arrived between the check and the wait.
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
        }
    }

    /// Handles the oldest inbox event. Returns whether there was one.
    pub async fn process_next(&self) -> Result<bool, StoreError> {
        let Some((seq, event)) = self.store.call(|s| s.next_inbound()).await? else {
            return Ok(false);
        };
        tracing::debug!(seq, ?event, "processing event");
        self.handle(seq, event).await?;
        self.wakers.timers.notify_one();
        self.wakers.delivery.notify_one();
        Ok(true)
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
                    self.people_to_track(&text, &user).await
                } else {
                    Vec::new()
                };
                let from_me = user == self.identity.user_id;
                let holidays = self.team_holidays();
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
                                        crate::format::mention(&user)
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
                        // A contributor's comment in an RFC's thread is their response; a
                        // message in a standup's thread is an answer.
                        if let Some(root) = thread_ts.as_deref().filter(|root| *root != ts) {
                            crate::standup_flow::record_answer(
                                tx, &holidays, &channel, root, &user, &text, now,
                            )?;
                            record_rfc_response(
                                tx,
                                &channel,
                                root,
                                &user,
                                crate::rfc::Response::Commented,
                            )?;
                        }
                        // "@alice done!" answers Alice; it does not ask her something back.
                        for (recipient, tz) in people.iter().filter(|(p, _)| !answered.contains(p))
                        {
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
                let still_mentioned = self.people_to_track(&text, &user).await;
                self.store.write(|tx| {
                    let existing = tx.requests_for_message(&channel, &ts)?;
                    for mut r in existing.clone() {
                        if !r.is_open() {
                            continue;
                        }
                        if still_mentioned.iter().any(|(p, _)| *p == r.recipient) {
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
                    for (recipient, tz) in &still_mentioned {
                        if existing.iter().any(|r| r.recipient == *recipient) {
                            continue;
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
                    if is_rfc_ack(&reaction) {
                        record_rfc_response(tx, &channel, &ts, &user, crate::rfc::Response::Acknowledged)?;
                    }
                    if is_ack {
                        // On the request itself, or on our nudge or DM about it.
                        let mut requests = tx.requests_for_message(&channel, &ts)?;
                        if let Some(id) = tx.tag_of(&channel, &ts)?.as_deref().and_then(crate::sla::request_of_tag) {
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
                // The Home tab shows what `/sla` shows. It is a view, not a message: published
                // directly (a lost one is redrawn the next time the tab opens).
                let store = self.store.clone();
                let settings = self.settings.clone();
                let team_url = self.identity.team_url.clone();
                let id = user.clone();
                let text = self
                    .store
                    .call(move |_| {
                        crate::commands::overview(&id, &store, &settings, Some(&team_url), now)
                    })
                    .await?;
                if let Err(e) = self.slack.publish_home(&user, &home_view(&text)).await {
                    tracing::warn!(%user, error = %e, "could not publish the Home tab");
                }
                self.store.write(|tx| tx.finish_inbound(seq))?;
            }
        }
        Ok(())
    }

    fn introduction(&self, channel: &str) -> OutgoingMessage {
        let normal = self.settings.sla.rule(crate::sla::Tier::Normal);
        OutgoingMessage::new(
            Destination::Channel {
                channel: channel.to_owned(),
            },
            format!(
                ":wave: Hi, I'm asyncbot. When someone here @mentions a person, I keep an eye on the \
                 request on that person's own clock (normal requests: {} on {}). If it stalls, I nudge \
                 in the thread, then by DM, then suggest a short call. A reply in the thread or a \
                 :{}: reaction closes it. Type `/sla` to see the norms and what is waiting on you.",
                crate::format::human_duration(normal.within),
                crate::commands::describe_clock(normal.clock),
                self.settings
                    .sla
                    .ack_reactions
                    .first()
                    .map_or("eyes", String::as_str)
            ),
        )
    }

    /// The people a message asks something of: mentioned humans other than the author and the
    /// bot, each with their time zone.
    async fn people_to_track(&self, text: &str, author: &str) -> Vec<(String, Tz)> {
        let mut people = Vec::new();
        for user in mentioned_users(text) {
            if user == author || user == self.identity.user_id {
                continue;
            }
            if let Person::Human { tz, .. } = self.person(&user).await {
                people.push((user, tz));
            }
        }
        people
    }

    /// A person's time zone, or `None` if they are a bot, deactivated or unknown to Slack.
    pub async fn human_time_zone(&self, user: &str) -> Option<Tz> {
        match self.person(user).await {
            Person::Human { tz, .. } => Some(tz),
            Person::NotTracked => None,
        }
    }

    /// Looks a person up (cached). When Slack cannot answer, the person is assumed human, in the
    /// fallback time zone: a request is better tracked on a guessed clock than lost.
    pub(crate) async fn person(&self, user: &str) -> Person {
        let now = (self.now)();
        let id = user.to_owned();
        let cached = self
            .store
            .call(move |s| s.cached_user(&id))
            .await
            .ok()
            .flatten();
        let fresh = cached
            .as_ref()
            .filter(|c| now - c.fetched_at < USER_CACHE_TTL)
            .cloned();
        let user_record = match fresh {
            Some(c) => Some(c),
            None => match self.fetch_user(user).await {
                Ok(profile) => {
                    let record = CachedUser {
                        id: profile.id,
                        name: profile.name,
                        tz: profile.tz,
                        is_bot: profile.is_bot,
                        deleted: profile.deleted,
                        fetched_at: now,
                    };
                    let to_store = record.clone();
                    if let Err(e) = self.store.call(move |s| s.cache_user(&to_store)).await {
                        tracing::warn!(error = %e, "could not cache a user");
                    }
                    Some(record)
                }
                Err(SlackError::Permanent(code)) => {
                    tracing::info!(user, %code, "mentioned user cannot be looked up; not tracking");
                    return Person::NotTracked;
                }
                Err(e) => {
                    tracing::warn!(user, error = %e, "users.info failed; using the cached or fallback time zone");
                    cached
                }
            },
        };
        match user_record {
            Some(u) if u.is_bot || u.deleted => Person::NotTracked,
            Some(u) => Person::Human {
                tz: u
                    .tz
                    .as_deref()
                    .and_then(|tz| tz.parse().ok())
                    .unwrap_or(self.settings.fallback_timezone),
                name: u.name,
            },
            None => Person::Human {
                tz: self.settings.fallback_timezone,
                name: None,
            },
        }
    }

    /// `users.info`, retried briefly on rate limits and transient errors.
    async fn fetch_user(&self, user: &str) -> Result<crate::slack::UserProfile, SlackError> {
        let mut attempt = 0;
        loop {
            match self.slack.user_info(user).await {
                Ok(p) => return Ok(p),
                Err(SlackError::Permanent(code)) => return Err(SlackError::Permanent(code)),
                Err(e) if attempt >= 3 => return Err(e),
                Err(SlackError::RateLimited { retry_after }) => {
                    tokio::time::sleep(
                        retry_after
                            .unwrap_or(Duration::from_secs(1))
                            .min(Duration::from_secs(30)),
                    )
                    .await;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250 << attempt)).await,
            }
            attempt += 1;
        }
    }

    // ---- timers --------------------------------------------------------------------------------

    /// Fires due timers as they come due, until `shutdown`.
    pub async fn run_timers(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let next = match self.fire_due().await {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "firing timers failed; retrying shortly");
                    Some((self.now)() + chrono::Duration::seconds(1))
                }
            };
            let sleep = next
                .map(|at| (at - (self.now)()).to_std().unwrap_or(Duration::ZERO))
                .unwrap_or(Duration::from_secs(3600))
                // Re-check at least every minute: cheap, and robust to clock jumps.
                .min(Duration::from_secs(60));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.wakers.timers.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
    }

    /// Fires every timer due now; returns when the next one is due.
    pub async fn fire_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let now = (self.now)();
        let due = self.store.call(move |s| s.due_timers(now)).await?;
        let mut sent = false;
        for key in due {
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
                                    .next_working_time(crate::calendar::start_of_day(tz, back), tz);
                                tracing::info!(request = id, %resume, "recipient is away; the nudge waits");
                                request.next_due = Some(resume);
                                tx.put_request(&request)?;
                            }
                            return Ok(false);
                        }
                        let messages = request.take_due_step(now, &self.ladder());
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
                TimerKey::Rfc(id) => {
                    sent |= self.store.write(|tx| {
                        let Some(mut rfc) = tx.rfc(id)? else {
                            tx.drop_timers_named(&format!("rfc:{id}"))?;
                            return Ok(false);
                        };
                        let permalink = self.permalink_of(tx, id)?;
                        let messages = rfc.fire(now, &self.rfc_context(permalink));
                        let any = !messages.is_empty();
                        if any {
                            tracing::info!(
                                rfc = id,
                                status = rfc.status.label(),
                                "RFC timer fired"
                            );
                        }
                        for m in messages {
                            tx.enqueue(m, now)?;
                        }
                        if rfc.next_due().is_some_and(|d| d <= now) {
                            // Nothing more can happen at this instant: never spin on it.
                            rfc.next_step_at = None;
                        }
                        tx.put_rfc(&rfc)?;
                        Ok(any)
                    })?;
                }
                TimerKey::Standup(channel) => {
                    sent |= self.fire_standup(&channel, now).await?;
                }
                TimerKey::Other(key) => {
                    tracing::warn!(%key, "dropping a timer nobody owns");
                    self.store.write(|tx| tx.drop_timers_named(&key))?;
                }
            }
        }
        if sent {
            self.wakers.delivery.notify_one();
        }
        self.store.call(|s| s.next_timer_due()).await
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

/// ✅ on an RFC counts as a contributor's response.
fn is_rfc_ack(reaction: &str) -> bool {
    let base = reaction.split("::").next().unwrap_or(reaction);
    matches!(
        base,
        "white_check_mark" | "heavy_check_mark" | "ballot_box_with_check"
    )
}

/// Records a contributor's response if `channel`/`ts` is an RFC message.
fn record_rfc_response(
    tx: &mut crate::store::Tx<'_>,
    channel: &str,
    ts: &str,
    user: &str,
    response: crate::rfc::Response,
) -> Result<(), StoreError> {
    let Some(id) = tx
        .tag_of(channel, ts)?
        .as_deref()
        .and_then(crate::rfc::rfc_of_tag)
    else {
        return Ok(());
    };
    let Some(mut rfc) = tx.rfc(id)? else {
        return Ok(());
    };
    if let Ok(true) = rfc.respond(user, response) {
        tracing::info!(rfc = id, %user, response = response.label(), "RFC response recorded");
        tx.put_rfc(&rfc)?;
    }
    Ok(())
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
