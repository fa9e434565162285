//! SLA tracking: requests opened by @mentions and answered by replies or reactions
//! ([`tracking`]), the escalation ladder on their timers ([`ladder`]), the one-click answers on
//! its messages ([`buttons`]), and the `/sla` command and Home tab (here). Slash commands answer ephemerally (only the caller sees it) and fast: they
//! read the store and never wait on Slack.

pub mod buttons;
pub mod digest;
pub mod heads_up;
pub mod home_hours;
pub mod hours;
pub mod ladder;
pub mod tracking;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::config::Settings;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::format::{excerpt, human_duration, link, mention, permalink, slack_date};
use crate::domain::sla::{LadderContext, SlaRequest, Tier};
use crate::engine::reply::{Reply, UserError};
use crate::engine::{Engine, Feature, Person, Prepared};
use crate::slack::inbound::{Command, Inbound};
use crate::store::prelude::*;
use crate::store::{Store, StoreError, TimerKey, Tx};

pub const SLA_USAGE: &str = "*`/sla`* shows the team's response-time norms, what is waiting on you, and what you are waiting on.\n\
*`/sla hours`* shows or sets your own working days, hours and holiday region, e.g. `/sla hours mon-thu 07:00-15:00` or `/sla hours region DE-BY`.\n\
*`/sla away tomorrow`* (or a date, or `2026-12-24..2027-01-02`) pauses your deadlines and nudges while you're away; *`/sla back`* undoes it.\n\
*`/sla stats`* shows how the team keeps its norms (response times, SLA met, where answers came on the ladder, RFCs, standups, blockers) over the last 4 weeks, and your own figures only to you: `/sla stats here 2w`, `/sla stats #channel 12w`.\n\
*`/sla help`* shows this help.";

/// Answers `/sla`. `team_url` makes links; `now` is only for display.
pub fn answer(
    command: &Command,
    store: &Store,
    settings: &Settings,
    team_url: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply, UserError> {
    Ok(sla(command, store, settings, team_url, now)?)
}

pub use crate::domain::calendar::describe_clock;

fn sla(
    command: &Command,
    store: &Store,
    settings: &Settings,
    team_url: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Reply, StoreError> {
    let text = command.text.trim();
    let (verb, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    let user = command.user_id.as_str();
    match verb.to_ascii_lowercase().as_str() {
        "" => {}
        "help" => return Ok(Reply::new(SLA_USAGE)),
        "stats" => {
            return match crate::features::insights::parse_stats(args, &command.channel_id) {
                Ok(request) => store
                    .read(|rx| crate::features::insights::stats(rx, settings, user, &request, now))
                    .map(Reply::new),
                Err(why) => Ok(Reply::new(why)),
            };
        }
        "hours" => return hours::hours(store, settings, user, args).map(Reply::new),
        "away" => return hours::away(store, settings, user, args, now).map(Reply::new),
        "back" if args.trim().is_empty() => {
            return hours::back(store, settings, user, now).map(Reply::new);
        }
        _ => {
            let other = text;
            return Ok(Reply::new(format!(
                "I don't understand `/sla {}`.\n{SLA_USAGE}",
                crate::domain::format::quote_slack(other)
            )));
        }
    }
    overview(&command.user_id, store, settings, team_url, now).map(Reply::new)
}

/// The most requests listed in each half of the overview: each line is up to ~300 characters,
/// and the whole reply must stay within what Slack shows in one ephemeral message.
pub const MAX_LISTED: usize = 10;

/// "… and 3 more." after a list cut at [`MAX_LISTED`]; empty when nothing was cut.
fn more(total: usize) -> String {
    if total > MAX_LISTED {
        format!("… and {} more.\n", total - MAX_LISTED)
    } else {
        String::new()
    }
}

/// The norms, what waits on `user` and what `user` waits on: `/sla` and the App Home.
pub fn overview(
    user: &str,
    store: &Store,
    settings: &Settings,
    team_url: Option<&str>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let user = user.to_owned();
    let (waiting_on_me, waiting_on_others) = store.read(|rx| {
        Ok((
            rx.open_requests_for_recipient(&user)?,
            rx.open_requests_by_author(&user)?,
        ))
    })?;
    let mut text = norms(settings);
    text.push_str(&format!("\n\n*Waiting on you ({})*\n", waiting_on_me.len()));
    if waiting_on_me.is_empty() {
        text.push_str("Nothing. :tada:\n");
    }
    for r in waiting_on_me.iter().take(MAX_LISTED) {
        text.push_str(&line(r, &r.author, "from", team_url, now));
    }
    text.push_str(&more(waiting_on_me.len()));
    text.push_str(&format!(
        "\n*You are waiting on ({})*\n",
        waiting_on_others.len()
    ));
    if waiting_on_others.is_empty() {
        text.push_str("Nobody.\n");
    }
    for r in waiting_on_others.iter().take(MAX_LISTED) {
        text.push_str(&line(r, &r.recipient, "for", team_url, now));
    }
    text.push_str(&more(waiting_on_others.len()));
    Ok(text)
}

/// The team's norms: tiers, clocks, the ladder and quiet hours.
pub fn norms(settings: &Settings) -> String {
    let policy = &settings.sla;
    let mut text = String::from("*Our response-time norms*\n");
    for tier in [Tier::Urgent, Tier::Normal, Tier::Low] {
        let rule = policy.rule(tier);
        let markers = if rule.markers.is_empty() {
            String::from("any other @mention")
        } else {
            format!(
                "marked {}",
                rule.markers
                    .iter()
                    .map(|m| if m.starts_with(':') {
                        m.clone()
                    } else {
                        format!("“{m}”")
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        text.push_str(&format!(
            "• *{}* ({markers}): within {}, on {}\n",
            tier.as_str(),
            human_duration(rule.within),
            describe_clock(rule.clock)
        ));
    }
    let acks = policy
        .ack_reactions
        .iter()
        .map(|r| format!(":{r}:"))
        .collect::<Vec<_>>()
        .join(" or ");
    text.push_str(&format!(
        "A reply in the thread, a {acks} reaction on the message, or *Already answered* on a reminder closes a request. \
         The reminders' buttons also take an ETA (*On it, by …*) or a snooze until your next working day.\n"
    ));
    text.push_str(&format!(
        "A message that mentions more than {} people is an announcement: it opens no requests.\n",
        policy.max_recipients
    ));
    text.push_str(&format!(
        "Working time: {} in each person's own time zone, unless they set their own (`/sla hours`). Nudges never land outside it.\n",
        settings.calendar.describe_week()
    ));
    if policy.ladder.is_empty() {
        text.push_str("*When a request stalls:* nothing is posted (the ladder is empty).");
    } else {
        text.push_str("*When a request stalls:* ");
        let steps: Vec<String> = policy
            .ladder
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let when = match (i, step.after.is_zero()) {
                    (0, true) => "at the deadline".to_owned(),
                    (0, false) => format!("{} after the deadline", human_duration(step.after)),
                    (_, _) => format!("{} later", human_duration(step.after)),
                };
                format!("{when}, {}", step.action.describe())
            })
            .collect();
        text.push_str(&steps.join(" → "));
        text.push('.');
    }
    text.push_str(&format!(
        "\nA request nobody answers is forgotten {} after {}.",
        match policy.forget_after.as_secs() {
            // Days read better than "720 h" at this scale.
            86_400 => "1 day".to_owned(),
            s if s % 86_400 == 0 => format!("{} days", s / 86_400),
            _ => human_duration(policy.forget_after),
        },
        if policy.ladder.is_empty() {
            "its deadline"
        } else {
            "the last step"
        }
    ));
    text
}

fn line(
    r: &SlaRequest,
    who: &str,
    preposition: &str,
    team_url: Option<&str>,
    now: DateTime<Utc>,
) -> String {
    // The excerpt is Slack text: quoted as it is (mentions render as names), broadcasts inert.
    let quote = crate::domain::format::quote_slack(&excerpt(&r.excerpt, 60));
    let target = match team_url {
        Some(url) => {
            let thread = (r.thread_root != r.message_ts).then_some(r.thread_root.as_str());
            link(&permalink(url, &r.channel, &r.message_ts, thread), "open")
        }
        None => format!("<#{}>", r.channel),
    };
    let due = if let Some(eta) = r.respite.eta {
        // The recipient pressed *On it, by …*: their ETA replaced the deadline. In their own
        // list ("from" the asker) it is theirs; in the asker's, it is the recipient's.
        let who = if preposition == "from" {
            "you are".to_owned()
        } else {
            format!("{} is", mention(&r.recipient))
        };
        let by = if eta <= now {
            "expected an answer by"
        } else {
            "answer expected by"
        };
        format!("{who} on it, {by} {}", slack_date(eta))
    } else if r.deadline <= now {
        format!("overdue since {}", slack_date(r.deadline))
    } else {
        format!("due {}", slack_date(r.deadline))
    };
    format!(
        "• {preposition} {} in <#{}>: “{quote}” ({} SLA), {due}. {target}\n",
        mention(who),
        r.channel,
        r.tier.as_str()
    )
}

/// SLA tracking as the engine sees it: mentions open requests, replies, reactions, edits and
/// deletions answer or cancel them, `sla:{id}` timers run their ladder, a person learnt late
/// re-times theirs, and the `/sla` overview is the Home tab.
pub struct Sla;

/// The ladder's context: the team's policy, the recipient's own calendar (see
/// [`WorkingTimeReads::calendar_of`]) and the workspace (for links).
fn ladder_context<'a>(engine: &'a Engine, calendar: &'a BusinessCalendar) -> LadderContext<'a> {
    LadderContext {
        policy: &engine.settings.sla,
        calendar,
        team_url: Some(engine.identity.team_url.as_str()),
        author_name: None,
    }
}

impl Feature for Sla {
    fn prepare<'a>(&'a self, engine: &'a Engine, event: &'a Inbound) -> BoxFuture<'a, Prepared> {
        Box::pin(tracking::prepare(engine, event))
    }

    fn apply(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        event: &Inbound,
        prepared: Prepared,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        tracking::apply(engine, tx, event, prepared, now)
    }

    fn on_person_learned(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        user: &str,
        person: &Person,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        tracking::person_learned(engine, tx, user, person, now)
    }

    fn fire<'a>(
        &'a self,
        engine: &'a Engine,
        key: &'a TimerKey,
        now: DateTime<Utc>,
    ) -> Option<BoxFuture<'a, Result<bool, StoreError>>> {
        match key {
            TimerKey::Sla(id) => {
                let id = *id;
                Some(Box::pin(async move { ladder::fire(engine, id, now) }))
            }
            TimerKey::Other(name) => {
                let user = name.strip_prefix("digest:")?.to_owned();
                Some(Box::pin(async move {
                    engine
                        .store
                        .write(|tx| digest::fire_in(engine, tx, &user, now))
                }))
            }
            _ => None,
        }
    }

    fn commands(&self) -> &'static [&'static str] {
        &["/sla"]
    }

    fn actions(&self) -> &'static [&'static str] {
        // `sla_` covers both the buttons on nudges and the Home tab's `sla_hours_open`.
        &[buttons::ACTION_PREFIX]
    }

    fn on_block_action<'a>(
        &'a self,
        engine: &'a std::sync::Arc<Engine>,
        action: &'a crate::slack::interaction::BlockAction,
    ) -> BoxFuture<'a, Option<Result<String, UserError>>> {
        Box::pin(async move {
            if action.action_id == home_hours::OPEN_ACTION {
                home_hours::block_action(engine, action).await
            } else {
                buttons::block_action(engine, action).await
            }
        })
    }

    fn on_command<'a>(
        &'a self,
        engine: &'a std::sync::Arc<crate::engine::Engine>,
        command: &'a Command,
    ) -> futures::future::BoxFuture<'a, Result<Reply, UserError>> {
        Box::pin(async move {
            let engine = engine.clone();
            let command = command.clone();
            // `/sla hours` and `/sla away` read the person's zone: learn it first if it is not
            // known yet (briefly: the answer must reach Slack within 3 s).
            engine
                .quick_people(
                    vec![command.user_id.clone()],
                    std::time::Duration::from_millis(1500),
                )
                .await;
            let now = (engine.now)();
            // redb reads block: off the async workers.
            tokio::task::spawn_blocking(move || {
                answer(
                    &command,
                    &engine.store,
                    &engine.settings,
                    Some(&engine.identity.team_url),
                    now,
                )
            })
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "the /sla task failed");
                Err(UserError::Internal)
            })
        })
    }

    fn fire_in(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        key: &TimerKey,
        now: DateTime<Utc>,
    ) -> Option<Result<bool, StoreError>> {
        match key {
            TimerKey::Sla(id) => Some(ladder::fire_in(engine, tx, *id, now)),
            TimerKey::Other(name) => {
                let user = name.strip_prefix("digest:")?;
                Some(digest::fire_in(engine, tx, user, now))
            }
            _ => None,
        }
    }

    fn home(
        &self,
        engine: &Engine,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        overview(
            user,
            &engine.store,
            &engine.settings,
            Some(&engine.identity.team_url),
            now,
        )
        .map(Some)
    }

    fn home_blocks(
        &self,
        engine: &Engine,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<slack_morphism::prelude::SlackBlock>, StoreError> {
        home_hours::home_blocks(engine, user, now)
    }

    fn views(&self) -> &'static [&'static str] {
        &[home_hours::CALLBACK]
    }

    fn on_view_submission<'a>(
        &'a self,
        engine: &'a std::sync::Arc<Engine>,
        submission: &'a crate::slack::interaction::ViewSubmission,
    ) -> BoxFuture<'a, crate::engine::reply::InteractionReply> {
        Box::pin(home_hours::view_submission(engine, submission))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn request(excerpt: &str) -> SlaRequest {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        SlaRequest {
            id: 1,
            channel: "C1".into(),
            message_ts: "1.2".into(),
            thread_root: "1.2".into(),
            author: "UALICE".into(),
            recipient: "UBOB".into(),
            recipient_tz: chrono_tz::UTC,
            tier: Tier::Normal,
            excerpt: excerpt.into(),
            opened_at: at,
            deadline: at,
            steps_taken: 0,
            next_due: None,
            state: crate::domain::sla::RequestState::Open,
            respite: Default::default(),
        }
    }

    #[test]
    fn a_request_is_quoted_as_slack_shows_it() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let r = request("<@U0BOB0001|bob> can you review &amp; <!here> sign off?");
        let text = line(&r, "UALICE", "from", None, now);
        assert!(
            text.contains("“<@U0BOB0001|bob> can you review &amp; @\u{2060}here sign off?”"),
            "{text}"
        );
        assert!(!text.contains("&lt;@"), "{text}");
        assert!(!text.contains("<!here>"), "{text}");
    }

    #[test]
    fn an_eta_shows_where_the_deadline_did() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap();
        let mut r = request("budget?");
        r.respite.eta = Some(now + chrono::Duration::hours(5));
        let for_alice = line(&r, &r.recipient, "for", None, now);
        assert!(
            for_alice.contains("<@UBOB> is on it, answer expected by <!date^1795532400^"),
            "{for_alice}"
        );
        assert!(!for_alice.contains("overdue"), "{for_alice}");
        let for_bob = line(&r, &r.author, "from", None, now);
        assert!(
            for_bob.contains("you are on it, answer expected by"),
            "{for_bob}"
        );
        let later = line(
            &r,
            &r.author,
            "from",
            None,
            now + chrono::Duration::hours(6),
        );
        assert!(
            later.contains("you are on it, expected an answer by"),
            "{later}"
        );
    }

    #[test]
    fn long_lists_end_with_how_many_more() {
        assert_eq!(more(MAX_LISTED), "");
        assert_eq!(more(MAX_LISTED + 3), "… and 3 more.\n");
    }
}
