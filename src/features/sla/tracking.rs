//! SLA tracking on events: a message that @mentions people opens a request for each, an edit
//! re-tiers or cancels them, a deletion cancels them, a reply or an ack reaction answers them;
//! a question answers nobody outside its thread; the bot introduces itself when it joins a
//! channel, points DMs to where answers count, and (when `respect.coach_nohello` is on) tips the
//! author of a bare "hi @ana" about asking in the first message.
//!
//! Each event is handled in two steps, so that many events can later share one transaction:
//! [`prepare`] looks the mentioned people up (through the engine's people service, before the
//! transaction), and [`apply`] writes the requests inside it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::asking::{NOHELLO_TIP_EVERY, asks_question, is_bare_greeting};
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::sla::{Answer, CancelReason, NewRequest, SlaRequest, Tier, mentioned_users};
use crate::domain::standup::{blocker_people, blockers, has_section};
use crate::engine::{Engine, Person, Prepared};
use crate::slack::inbound::Inbound;
use crate::store::prelude::*;
use crate::store::{StoreError, Tx};

use super::ladder_context;

/// What [`prepare`] found for a message: the people it asks something of, each with their
/// time zone and whether that zone is a guess (owed a lookup).
struct Mentioned(Vec<(String, Tz, bool)>);

/// Who a message asks something of.
enum Recipients {
    People(Vec<(String, Tz, bool)>),
    /// More people than `sla.max_recipients`: an announcement.
    Crowd(usize),
}

/// Looks up the people a posted or edited message mentions. Direct messages to the bot are
/// conversations with it, not requests to track: nothing is looked up for them.
pub(super) async fn prepare(engine: &Engine, event: &Inbound) -> Prepared {
    let people = match event {
        Inbound::MessagePosted {
            channel,
            channel_type,
            user,
            ts,
            text,
            ..
        } if channel_type.as_deref() != Some("im") => {
            recipients(engine, text, user, channel, ts).await
        }
        Inbound::MessageEdited {
            channel,
            user,
            ts,
            text,
        } => recipients(engine, text, user, channel, ts).await,
        _ => Vec::new(),
    };
    Box::new(Mentioned(people))
}

/// Writes what an event does to requests, inside its transaction.
pub(super) fn apply(
    engine: &Engine,
    tx: &mut Tx<'_>,
    event: &Inbound,
    prepared: Prepared,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let people = prepared
        .downcast::<Mentioned>()
        .map(|m| m.0)
        .unwrap_or_default();
    match event {
        Inbound::MessagePosted {
            channel,
            channel_type,
            user,
            ts,
            thread_ts,
            text,
        } => {
            let trackable = channel_type.as_deref() != Some("im");
            if *user == engine.identity.user_id {
                return Ok(());
            }
            if !trackable {
                point_to_threads(engine, tx, channel, user, now)?;
            }
            // The asker is named (not pinged) in the nudges, and a call waits for their working
            // time: learn who they are if we do not know yet.
            if !people.is_empty() && tx.user_tz(user)?.is_none() {
                tx.want_lookup(user, now)?;
            }
            let message = Posted {
                channel,
                user,
                ts,
                thread_ts: thread_ts.as_deref(),
                text,
                question: asks_question(text),
            };
            // A standup answer asks something only of the people its blockers name, on the
            // normal tier; and it answers only the requests whose asker it mentions (Bob's own
            // standup answer in the thread does not answer Alice's blocker naming him).
            let blocker = standup_answer(tx, &message)?;
            let answered = match &blocker {
                Some(_) => close_in_standup_thread(tx, &message, now)?,
                None => close_by_reply(tx, &message, now)?,
            };
            // "@alice done!" answers Alice; it does not ask her something back. A question asks
            // everyone it mentions, Alice too ("@alice which doc do you mean?" in her thread
            // answers her request and opens one for her).
            let mut asked = Vec::new();
            for (recipient, tz, guessed) in people.iter().filter(|(p, _, _)| match &blocker {
                Some(named) => named.contains(p),
                None => message.question || !answered.contains(p),
            }) {
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
                    text: match &blocker {
                        Some(_) => format!("Blocker: {}", blockers(text).unwrap_or_default()),
                        None => text.clone(),
                    },
                };
                let id = tx.next_id("sla_request")?;
                // The deadline is counted on the recipient's own calendar.
                let calendar = tx.calendar_of(recipient, &engine.settings.calendar, *tz)?;
                let ctx = ladder_context(engine, &calendar);
                let request = match &blocker {
                    Some(_) => SlaRequest::open_as(id, new, Tier::Normal, now, &ctx),
                    None => SlaRequest::open(id, new, now, &ctx),
                };
                tracing::info!(
                    request = id,
                    channel = %request.channel,
                    tier = request.tier.as_str(),
                    deadline = %request.deadline,
                    "tracking a request"
                );
                tx.put_request(&request)?;
                super::heads_up::maybe(engine, tx, &request, &calendar, now)?;
                asked.push(recipient.as_str());
            }
            let top_level = thread_ts.as_deref().is_none_or(|root| root == ts);
            if trackable && top_level && !asked.is_empty() {
                coach_nohello(engine, tx, &message, &asked, now)?;
            }
        }
        Inbound::MessageEdited {
            channel,
            user,
            ts,
            text,
        } => {
            let message = Edited {
                channel,
                user,
                ts,
                text,
            };
            // An edited standup answer still asks only the people its blockers name.
            let people = if edits_a_standup_answer(tx, channel, ts)? {
                let named = blocker_people(text, user);
                people
                    .into_iter()
                    .filter(|(p, _, _)| named.contains(p))
                    .collect()
            } else {
                people
            };
            edited(engine, tx, &message, &people, now)?;
        }
        Inbound::MessageDeleted { channel, ts } => {
            for mut r in tx.requests_for_message(channel, ts)? {
                if r.is_open() {
                    tracing::info!(request = r.id, "message deleted; cancelled");
                    r.cancel(CancelReason::MessageDeleted, now);
                    tx.put_request(&r)?;
                }
            }
        }
        Inbound::ReactionAdded {
            user,
            reaction,
            channel,
            ts,
        } if engine.settings.sla.is_ack_reaction(reaction) => {
            // On the request itself, or on our nudge or DM about it.
            let mut requests = tx.requests_for_message(channel, ts)?;
            if let Some(id) = tx
                .tag_of(channel, ts)?
                .as_deref()
                .and_then(crate::domain::sla::request_of_tag)
            {
                requests.extend(tx.request(id)?);
            }
            for mut r in requests {
                if r.is_open() && r.recipient == *user {
                    tracing::info!(request = r.id, %reaction, "acknowledged by reaction");
                    r.answer(
                        Answer::Reaction {
                            name: reaction.clone(),
                        },
                        now,
                    );
                    tx.put_request(&r)?;
                }
            }
        }
        Inbound::MemberJoinedChannel { user, channel } if *user == engine.identity.user_id => {
            tx.enqueue(introduction(engine, channel), now)?;
        }
        _ => {}
    }
    Ok(())
}

/// If `message` is its author's answer in a standup's thread, the people its blockers name.
/// The standup recorded it before this runs (the engine's thread hooks come first): it is their
/// answer if it is their first message of the day's thread, or has a section heading
/// ("Blockers: …"); a later message without one is a reply, tracked like any other.
fn standup_answer(tx: &Tx<'_>, message: &Posted<'_>) -> Result<Option<Vec<String>>, StoreError> {
    let Some(root) = message.thread_ts.filter(|root| *root != message.ts) else {
        return Ok(None);
    };
    let Some(date) = tx
        .tag_of(message.channel, root)?
        .and_then(|tag| standup_prompt_date(&tag, message.channel))
    else {
        return Ok(None);
    };
    let Some(day) = tx.standup_day(message.channel, date)? else {
        return Ok(None);
    };
    let first = day
        .answers
        .get(message.user)
        .is_some_and(|a| a.text == message.text);
    if !first && !has_section(message.text) {
        return Ok(None);
    }
    Ok(Some(blocker_people(message.text, message.user)))
}

/// True if the message `channel`/`ts` opened requests in a standup's thread (a blocker).
fn edits_a_standup_answer(tx: &Tx<'_>, channel: &str, ts: &str) -> Result<bool, StoreError> {
    for r in tx.requests_for_message(channel, ts)? {
        if r.thread_root != r.message_ts
            && tx
                .tag_of(channel, &r.thread_root)?
                .is_some_and(|tag| standup_prompt_date(&tag, channel).is_some())
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The date of a standup prompt's tag (`standup:{channel}:{date}`); `None` for any other tag
/// (a summary's has a part after the date).
pub fn standup_prompt_date(tag: &str, channel: &str) -> Option<chrono::NaiveDate> {
    tag.strip_prefix("standup:")?
        .strip_prefix(channel)?
        .strip_prefix(':')?
        .parse()
        .ok()
}

/// A standup answer answers the requests in its thread waiting on its author whose asker it
/// mentions ("Blockers: none. @alice the keys are in the vault").
fn close_in_standup_thread(
    tx: &mut Tx<'_>,
    message: &Posted<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut answered = Vec::new();
    let (Some(root), mentioned) = (message.thread_ts, mentioned_users(message.text)) else {
        return Ok(answered);
    };
    for mut r in tx.requests_in_thread(message.channel, root)? {
        if r.is_open() && r.recipient == message.user && mentioned.contains(&r.author) {
            tracing::info!(request = r.id, "answered in the standup thread");
            r.answer(Answer::ThreadReply, now);
            tx.put_request(&r)?;
            answered.push(r.author.clone());
        }
    }
    Ok(answered)
}

/// A message just posted, and whether it asks something.
struct Posted<'a> {
    channel: &'a str,
    user: &'a str,
    ts: &'a str,
    thread_ts: Option<&'a str>,
    text: &'a str,
    question: bool,
}

/// A message as it reads after an edit.
struct Edited<'a> {
    channel: &'a str,
    user: &'a str,
    ts: &'a str,
    text: &'a str,
}

/// An edited message: requests whose recipient is still mentioned are re-tiered on the new
/// text, the others cancelled; newly mentioned people get a request starting now.
fn edited(
    engine: &Engine,
    tx: &mut Tx<'_>,
    message: &Edited<'_>,
    still_mentioned: &[(String, Tz, bool)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Edited {
        channel,
        user,
        ts,
        text,
    } = *message;
    let existing = tx.requests_for_message(channel, ts)?;
    for mut r in existing.clone() {
        if !r.is_open() {
            continue;
        }
        if still_mentioned.iter().any(|(p, _, _)| *p == r.recipient) {
            let calendar =
                tx.calendar_of(&r.recipient, &engine.settings.calendar, r.recipient_tz)?;
            r.retier(text, &ladder_context(engine, &calendar));
        } else {
            tracing::info!(request = r.id, "mention edited away; cancelled");
            r.cancel(CancelReason::MentionEdited, now);
        }
        tx.put_request(&r)?;
    }
    // Newly mentioned people: their request starts now. The thread is the one the message's
    // other requests live in; a message we never tracked is taken as top level (edit events do
    // not say which thread a message is in).
    let thread = existing
        .first()
        .filter(|r| r.thread_root != r.message_ts)
        .map(|r| r.thread_root.clone());
    for (recipient, tz, guessed) in still_mentioned {
        if existing.iter().any(|r| r.recipient == *recipient) {
            continue;
        }
        if *guessed {
            tx.want_lookup(recipient, now)?;
        }
        let id = tx.next_id("sla_request")?;
        let new = NewRequest {
            channel: channel.to_owned(),
            message_ts: ts.to_owned(),
            thread_ts: thread.clone(),
            author: user.to_owned(),
            recipient: recipient.clone(),
            recipient_tz: *tz,
            text: text.to_owned(),
        };
        let calendar = tx.calendar_of(recipient, &engine.settings.calendar, *tz)?;
        tx.put_request(&SlaRequest::open(
            id,
            new,
            now,
            &ladder_context(engine, &calendar),
        ))?;
    }
    Ok(())
}

/// Someone writes to the bot: point them to where answers count, at most once an hour, so a
/// conversation does not become a stream of replies.
fn point_to_threads(
    engine: &Engine,
    tx: &mut Tx<'_>,
    channel: &str,
    user: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key = format!("dm_reply:{user}");
    let last = tx.fact(&key)?.and_then(|v| v.parse::<i64>().ok());
    if last.is_some_and(|at| now.timestamp() - at <= 3600) {
        return Ok(());
    }
    let ack = engine
        .settings
        .sla
        .ack_reactions
        .first()
        .map_or("eyes", String::as_str);
    tx.enqueue(
        OutgoingMessage::new(
            Destination::Channel {
                channel: channel.to_owned(),
            },
            format!(
                "Hi {}! I don't read direct messages as answers: reply in a request's thread, \
                 or react :{ack}: on it, so its author sees it too. `/sla` shows what is \
                 waiting on you; `/rfc help` and `/standup help` show the rest.",
                crate::domain::format::mention(user)
            ),
        ),
        now,
    )?;
    tx.set_fact(&key, &now.timestamp().to_string())
}

/// What the bot says when it joins a channel: what it does there, on the team's norms.
fn introduction(engine: &Engine, channel: &str) -> OutgoingMessage {
    let normal = engine.settings.sla.rule(crate::domain::sla::Tier::Normal);
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
            engine
                .settings
                .sla
                .ack_reactions
                .first()
                .map_or("eyes", String::as_str)
        ),
    )
}

/// Slack told who `user` is after their requests started on a guess: open requests are re-timed
/// on the real zone, or cancelled if the id is not a person.
pub(super) fn person_learned(
    engine: &Engine,
    tx: &mut Tx<'_>,
    user: &str,
    person: &Person,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    for mut r in tx.open_requests_for_recipient(user)? {
        match person {
            Person::Human { tz, .. } if *tz != r.recipient_tz => {
                tracing::info!(request = r.id, %tz, "recipient's time zone now known; deadline re-counted");
                let calendar = tx.calendar_of(user, &engine.settings.calendar, *tz)?;
                r.retime(*tz, &ladder_context(engine, &calendar));
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
}

/// The people a message asks something of: mentioned humans other than the author and the bot,
/// each with their time zone and whether it is a guess. None when it mentions more people than
/// `sla.max_recipients` (an announcement).
async fn recipients(
    engine: &Engine,
    text: &str,
    author: &str,
    channel: &str,
    ts: &str,
) -> Vec<(String, Tz, bool)> {
    match people_to_track(engine, text, author).await {
        Recipients::People(people) => people,
        Recipients::Crowd(n) => {
            tracing::info!(
                %channel,
                %ts,
                mentioned = n,
                max = engine.settings.sla.max_recipients,
                "a message mentions more people than sla.max_recipients: an announcement, not tracked"
            );
            Vec::new()
        }
    }
}

async fn people_to_track(engine: &Engine, text: &str, author: &str) -> Recipients {
    let mut candidates: Vec<String> = Vec::new();
    for user in mentioned_users(text) {
        if user != author && user != engine.identity.user_id && !candidates.contains(&user) {
            candidates.push(user);
        }
    }
    if candidates.len() > engine.settings.sla.max_recipients {
        return Recipients::Crowd(candidates.len());
    }
    let wait: Duration = engine.lookup_budget();
    let found = engine.quick_people(candidates, wait).await;
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

/// A message by its author answers the open requests waiting on them in its thread (a reply in
/// a request's thread is an answer, even when it asks something back). Outside that thread, a
/// message that asks nothing answers the author's top-level requests in this channel from each
/// person it mentions ("@alice done!"), and a question answers nobody: "@alice @dave who takes
/// the on-call swap?" is a new request to both, not an answer to Alice. Returns the people whose
/// requests it answered.
fn close_by_reply(
    tx: &mut Tx<'_>,
    message: &Posted<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let Posted {
        channel,
        user,
        ts,
        thread_ts,
        text,
        question,
    } = *message;
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
    if question {
        return Ok(answered);
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

/// `respect.coach_nohello`: the author of a top-level message that is only a hello or a ping
/// ("hi @ana", "@ana are you there?") gets one private tip about asking in the first message, at
/// most once in [`NOHELLO_TIP_EVERY`]. Only they see it, right after they wrote (their moment,
/// so it waits for nobody's working time); the request itself is tracked as any other.
fn coach_nohello(
    engine: &Engine,
    tx: &mut Tx<'_>,
    message: &Posted<'_>,
    asked: &[&str],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if !engine.settings.respect.coach_nohello || !is_bare_greeting(message.text) {
        return Ok(());
    }
    let every = chrono::Duration::from_std(NOHELLO_TIP_EVERY).unwrap_or(chrono::Duration::MAX);
    if tx
        .last_nohello_tip(message.user)?
        .is_some_and(|at| now - at < every)
    {
        return Ok(());
    }
    tracing::info!(channel = %message.channel, "a bare hello; the author gets the weekly tip");
    tx.enqueue(
        OutgoingMessage::new(
            Destination::Ephemeral {
                channel: message.channel.to_owned(),
                user: message.user.to_owned(),
            },
            nohello_tip(asked),
        ),
        now,
    )?;
    tx.record_nohello_tip(message.user, now)
}

/// The tip: friendly, short, with an example and where to read more.
fn nohello_tip(asked: &[&str]) -> String {
    let who = match asked {
        [one] => crate::domain::format::mention(one),
        [first, second] => format!(
            "{} and {}",
            crate::domain::format::mention(first),
            crate::domain::format::mention(second)
        ),
        _ => "the people you mention".to_owned(),
    };
    format!(
        ":wave: A small tip, only you can see this: a hello on its own makes {who} wait for \
         the question, sometimes until their next working day. Say hello _and_ ask in the same \
         message (\u{201c}Hi! Could you review the Q3 doc by Thursday?\u{201d}), so they can \
         answer in one go. More on why: <https://nohello.net|nohello.net>. (I share this tip at \
         most once a week.)"
    )
}
