//! `asyncbot simulate`: the real engine (dispatch, store, timers, delivery) run on a virtual
//! clock against the in-memory Slack, driven by a scenario of people and traffic: a week of the
//! bot in seconds, with no Slack workspace. It prints a transcript of every message the bot sent
//! and a report (what each person received per day, messages outside working time, how requests,
//! RFCs and standups went), and can compare two configurations on the same scenario.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::app::{Core, CoreOptions};
use crate::config::Settings;
use crate::domain::sla::{RequestState, Tier, mentioned_users};
use crate::slack::inbound::{Command, Inbound};
use crate::slack::memory::{MemorySlack, Sent, SentKind};
use crate::store::Store;
use crate::store::prelude::*;

/// The built-in scenario: a week of a 12-person team across five time zones.
pub const BUILT_IN: &str = include_str!("../../config/scenario.toml");

/// What can go wrong before a simulation runs.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("the scenario is not valid TOML: {0}")]
    Toml(String),
    #[error("scenario {what}: {why}")]
    Invalid { what: String, why: String },
    #[error("cannot set up the simulation: {0}")]
    Setup(String),
}

fn invalid(what: impl Into<String>, why: impl Into<String>) -> SimulateError {
    SimulateError::Invalid {
        what: what.into(),
        why: why.into(),
    }
}

// ---- the scenario file ------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    /// The first day, `YYYY-MM-DD` (the run starts at its midnight UTC).
    start: String,
    days: u32,
    people: Vec<RawPerson>,
    #[serde(default)]
    channels: Vec<RawChannel>,
    #[serde(default)]
    requests: Vec<RawRequest>,
    #[serde(default)]
    away: Vec<RawAway>,
    #[serde(default)]
    rfcs: Vec<RawRfc>,
    /// Slack custom statuses people set (a `user_change` event each): what the bot learns of
    /// who is out or focused.
    #[serde(default)]
    statuses: Vec<RawStatus>,
}

/// `who` sets a status on `day` at `at` (their time); it expires at the start of `until_day`
/// (their midnight), or never.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    who: String,
    day: u32,
    at: String,
    #[serde(default)]
    emoji: String,
    #[serde(default)]
    text: String,
    until_day: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    id: String,
    name: String,
    tz: String,
    /// Answers each standup prompt this long after it; absent: never answers.
    standup_after: Option<String>,
    /// Days (0 = the first) whose standup answer names a blocker.
    #[serde(default)]
    blocker_on: Vec<u32>,
    /// Their own working time, as they would write it after `/sla hours` at the start
    /// ("mon-thu 07:00-15:00", "09:00-12:00 14:00-18:00 region DE-BY"); absent: the team's.
    working_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    id: String,
    members: Vec<String>,
    /// `"HH:MM Zone/Name"`: a weekday standup, set at the start by `standup_by`.
    standup: Option<String>,
    standup_by: Option<String>,
    /// Days (0 = the first) the channel skips its standup (a local holiday).
    #[serde(default)]
    skip: Vec<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    day: u32,
    /// `HH:MM` in the author's time zone.
    at: String,
    from: String,
    to: Vec<String>,
    channel: String,
    text: String,
    /// Each recipient answers in the thread this long after; absent: nobody answers.
    reply_after: Option<String>,
    /// Each recipient reacts :eyes: this long after.
    react_after: Option<String>,
    /// Each recipient presses a button on the latest reminder they got for it, this long after
    /// the request (nothing if no reminder has come yet).
    press: Option<RawPress>,
}

/// `press = { button = "answered", after = "30h" }`: `answered`, `not_for_me`, `snooze`, or
/// `on_it` (the latest ETA offered).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPress {
    button: String,
    after: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAway {
    who: String,
    from: u32,
    to: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRfc {
    day: u32,
    at: String,
    driver: String,
    channel: String,
    title: String,
    approver: String,
    #[serde(default)]
    contributors: Vec<String>,
    #[serde(default)]
    informed: Vec<String>,
    window: Option<String>,
    /// Contributor → how long after the RFC opens they comment in its thread.
    #[serde(default)]
    comments: BTreeMap<String, String>,
    /// The approver decides this long after the window closes; absent: never.
    decide_after: Option<String>,
    #[serde(default = "default_verdict")]
    verdict: String,
}

fn default_verdict() -> String {
    "accept".into()
}

/// A person of the scenario.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    name: String,
    tz: Tz,
}

/// One thing a person does, at a moment.
#[derive(Debug, Clone)]
enum Action {
    Message {
        user: String,
        channel: String,
        ts: String,
        thread_ts: Option<String>,
        text: String,
    },
    React {
        user: String,
        channel: String,
        ts: String,
    },
    Command {
        user: String,
        channel: String,
        command: String,
        text: String,
    },
    /// Answers the standup prompt posted in `channel` in the last hours, if there is one.
    StandupAnswer {
        user: String,
        channel: String,
        blocker: bool,
    },
    /// Presses `action_id` on the latest reminder `user` got for the request opened by the
    /// message `channel`/`ts`.
    Press {
        user: String,
        channel: String,
        ts: String,
        action_id: &'static str,
    },
    /// Comments in the thread of the RFC titled `title` in `channel`.
    RfcComment {
        user: String,
        channel: String,
        title: String,
    },
    /// Sets a Slack custom status (`expiration`: unix seconds, 0 for none).
    Status {
        user: String,
        emoji: String,
        text: String,
        expiration: i64,
    },
}

/// A status of the scenario: who, from when, until when (`None`: no expiry), emoji, text.
#[derive(Debug, Clone)]
struct StatusSpan {
    user: String,
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    emoji: String,
    text: String,
}

/// A parsed scenario: the people and everything they do, in time order.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub start: DateTime<Utc>,
    pub days: u32,
    people: Vec<Person>,
    /// Who is away, from which day to which (inclusive, their local dates).
    away: Vec<(String, crate::domain::standup::Away)>,
    members: Vec<(String, Vec<String>)>,
    actions: Vec<(DateTime<Utc>, Action)>,
    /// `None` when the scenario sets no statuses (its report then has no row for them).
    statuses: Option<Vec<StatusSpan>>,
}

fn duration(what: &str, s: &str) -> Result<chrono::Duration, SimulateError> {
    let d = humantime::parse_duration(s)
        .map_err(|e| invalid(what, format!("{s:?} is not a duration ({e})")))?;
    chrono::Duration::from_std(d).map_err(|_| invalid(what, "too long"))
}

impl Scenario {
    /// Parses a scenario; `start` overrides the file's first day.
    pub fn parse(text: &str, start: Option<NaiveDate>) -> Result<Scenario, SimulateError> {
        let raw: RawScenario =
            toml::from_str(text).map_err(|e| SimulateError::Toml(e.to_string()))?;
        let first = match start {
            Some(d) => d,
            None => raw.start.parse::<NaiveDate>().map_err(|_| {
                invalid(
                    "start",
                    format!("{:?} is not a date (YYYY-MM-DD)", raw.start),
                )
            })?,
        };
        if raw.days == 0 || raw.days > 62 {
            return Err(invalid("days", "must be between 1 and 62"));
        }
        let start = Utc.from_utc_datetime(&first.and_time(NaiveTime::MIN));
        let mut people = Vec::new();
        for (i, p) in raw.people.iter().enumerate() {
            let tz: Tz = p.tz.parse().map_err(|_| {
                invalid(
                    format!("people[{i}].tz"),
                    format!("{:?} is not a time zone", p.tz),
                )
            })?;
            people.push(Person {
                id: p.id.clone(),
                name: p.name.clone(),
                tz,
            });
        }
        let tz_of = |who: &str, what: String| -> Result<Tz, SimulateError> {
            people
                .iter()
                .find(|p| p.id == who)
                .map(|p| p.tz)
                .ok_or_else(|| invalid(what, format!("{who:?} is not one of the people")))
        };
        let local =
            |day: u32, at: &str, tz: Tz, what: String| -> Result<DateTime<Utc>, SimulateError> {
                let time = NaiveTime::parse_from_str(at, "%H:%M")
                    .map_err(|_| invalid(&what, format!("{at:?} is not HH:MM")))?;
                let date = first + chrono::Duration::days(i64::from(day));
                Ok(crate::domain::calendar::local_to_utc(tz, date, time))
            };
        let mut actions: Vec<(DateTime<Utc>, Action)> = Vec::new();
        let mut ts_counter = 0u64;
        let mut new_ts = |at: DateTime<Utc>| {
            ts_counter += 1;
            format!("{}.{:06}", at.timestamp(), ts_counter)
        };

        let mut members = Vec::new();
        for (i, c) in raw.channels.iter().enumerate() {
            for m in &c.members {
                tz_of(m, format!("channels[{i}].members"))?;
            }
            members.push((c.id.clone(), c.members.clone()));
            if let Some(standup) = &c.standup {
                let by = c
                    .standup_by
                    .clone()
                    .or_else(|| c.members.first().cloned())
                    .ok_or_else(|| {
                        invalid(format!("channels[{i}].standup_by"), "who sets the standup?")
                    })?;
                let (time, zone) = standup.split_once(' ').ok_or_else(|| {
                    invalid(
                        format!("channels[{i}].standup"),
                        "write it as \"09:30 Europe/Berlin\"",
                    )
                })?;
                let zone_tz: Tz = zone.parse().map_err(|_| {
                    invalid(
                        format!("channels[{i}].standup"),
                        format!("{zone:?} is not a time zone"),
                    )
                })?;
                actions.push((
                    start,
                    Action::Command {
                        user: by.clone(),
                        channel: c.id.clone(),
                        command: "/standup".into(),
                        text: format!("at {time} {zone} weekdays"),
                    },
                ));
                for day in &c.skip {
                    let date = first + chrono::Duration::days(i64::from(*day));
                    actions.push((
                        start,
                        Action::Command {
                            user: by.clone(),
                            channel: c.id.clone(),
                            command: "/standup".into(),
                            text: format!("skip {date}"),
                        },
                    ));
                }
                // Everyone who answers does so this long after each weekday's prompt.
                let prompt_time = NaiveTime::parse_from_str(time, "%H:%M").map_err(|_| {
                    invalid(
                        format!("channels[{i}].standup"),
                        format!("{time:?} is not HH:MM"),
                    )
                })?;
                for day in 0..raw.days {
                    let date = first + chrono::Duration::days(i64::from(day));
                    if date.weekday().number_from_monday() > 5 {
                        continue;
                    }
                    let prompt = crate::domain::calendar::local_to_utc(zone_tz, date, prompt_time);
                    for (j, p) in raw.people.iter().enumerate() {
                        let Some(after) = &p.standup_after else {
                            continue;
                        };
                        if !c.members.contains(&p.id) {
                            continue;
                        }
                        let after = duration(&format!("people[{j}].standup_after"), after)?;
                        actions.push((
                            prompt + after,
                            Action::StandupAnswer {
                                user: p.id.clone(),
                                channel: c.id.clone(),
                                blocker: p.blocker_on.contains(&day),
                            },
                        ));
                    }
                }
            }
        }
        // Nobody answers a standup on a day they are away.
        actions.retain(|(at, action)| match action {
            Action::StandupAnswer { user, .. } => !raw.away.iter().any(|a| {
                let day = (at.date_naive() - first).num_days();
                a.who == *user && (i64::from(a.from)..=i64::from(a.to)).contains(&day)
            }),
            _ => true,
        });
        let mut away = Vec::new();
        for (i, p) in raw.people.iter().enumerate() {
            let Some(args) = &p.working_time else {
                continue;
            };
            if let Err(e) = crate::domain::working_time::parse_hours(args) {
                return Err(invalid(format!("people[{i}].working_time"), e.to_string()));
            }
            actions.push((
                start,
                Action::Command {
                    user: p.id.clone(),
                    channel: format!("D{}", p.id),
                    command: "/sla".into(),
                    text: format!("hours {args}"),
                },
            ));
        }
        for (i, a) in raw.away.iter().enumerate() {
            tz_of(&a.who, format!("away[{i}].who"))?;
            let from = first + chrono::Duration::days(i64::from(a.from));
            let to = first + chrono::Duration::days(i64::from(a.to));
            away.push((a.who.clone(), crate::domain::standup::Away { from, to }));
            actions.push((
                start,
                Action::Command {
                    user: a.who.clone(),
                    channel: format!("D{}", a.who),
                    command: "/standup".into(),
                    text: format!("away {from}..{to}"),
                },
            ));
        }
        let mut statuses = Vec::new();
        for (i, st) in raw.statuses.iter().enumerate() {
            let what = format!("statuses[{i}]");
            let tz = tz_of(&st.who, format!("{what}.who"))?;
            let from = local(st.day, &st.at, tz, format!("{what}.at"))?;
            let until = match st.until_day {
                Some(d) if d <= st.day => {
                    return Err(invalid(format!("{what}.until_day"), "must be after `day`"));
                }
                Some(d) => Some(local(d, "00:00", tz, format!("{what}.until_day"))?),
                None => None,
            };
            actions.push((
                from,
                Action::Status {
                    user: st.who.clone(),
                    emoji: st.emoji.clone(),
                    text: st.text.clone(),
                    expiration: until.map_or(0, |u| u.timestamp()),
                },
            ));
            statuses.push(StatusSpan {
                user: st.who.clone(),
                from,
                until,
                emoji: st.emoji.clone(),
                text: st.text.clone(),
            });
        }
        for (i, r) in raw.requests.iter().enumerate() {
            let what = format!("requests[{i}]");
            let tz = tz_of(&r.from, format!("{what}.from"))?;
            let at = local(r.day, &r.at, tz, format!("{what}.at"))?;
            let mentions: String = r.to.iter().map(|u| format!("<@{u}> ")).collect();
            for u in &r.to {
                tz_of(u, format!("{what}.to"))?;
            }
            let ts = new_ts(at);
            actions.push((
                at,
                Action::Message {
                    user: r.from.clone(),
                    channel: r.channel.clone(),
                    ts: ts.clone(),
                    thread_ts: None,
                    text: format!("{mentions}{}", r.text),
                },
            ));
            if let Some(after) = &r.reply_after {
                let after = duration(&format!("{what}.reply_after"), after)?;
                for u in &r.to {
                    actions.push((
                        at + after,
                        Action::Message {
                            user: u.clone(),
                            channel: r.channel.clone(),
                            ts: new_ts(at + after),
                            thread_ts: Some(ts.clone()),
                            text: "Done, see above.".into(),
                        },
                    ));
                }
            }
            if let Some(press) = &r.press {
                let after = duration(&format!("{what}.press.after"), &press.after)?;
                let action_id = match press.button.as_str() {
                    "answered" => "sla_answered",
                    "not_for_me" => "sla_not_for_me",
                    "snooze" => "sla_snooze",
                    "on_it" => "sla_eta",
                    other => {
                        return Err(invalid(
                            format!("{what}.press.button"),
                            format!("{other:?}: one of answered, not_for_me, snooze, on_it"),
                        ));
                    }
                };
                for u in &r.to {
                    actions.push((
                        at + after,
                        Action::Press {
                            user: u.clone(),
                            channel: r.channel.clone(),
                            ts: ts.clone(),
                            action_id,
                        },
                    ));
                }
            }
            if let Some(after) = &r.react_after {
                let after = duration(&format!("{what}.react_after"), after)?;
                for u in &r.to {
                    actions.push((
                        at + after,
                        Action::React {
                            user: u.clone(),
                            channel: r.channel.clone(),
                            ts: ts.clone(),
                        },
                    ));
                }
            }
        }
        let mut rfcs: Vec<(DateTime<Utc>, &RawRfc, usize)> = Vec::new();
        for (i, r) in raw.rfcs.iter().enumerate() {
            let tz = tz_of(&r.driver, format!("rfcs[{i}].driver"))?;
            tz_of(&r.approver, format!("rfcs[{i}].approver"))?;
            rfcs.push((local(r.day, &r.at, tz, format!("rfcs[{i}].at"))?, r, i));
        }
        rfcs.sort_by_key(|(at, _, i)| (*at, *i));
        for (number, (at, r, i)) in rfcs.into_iter().enumerate() {
            let number = number + 1;
            let list = |ids: &[String]| {
                ids.iter()
                    .map(|u| format!("<@{u}>"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let mut text = format!("{} approver: <@{}>", r.title, r.approver);
            if !r.contributors.is_empty() {
                text.push_str(&format!(" contributors: {}", list(&r.contributors)));
            }
            if !r.informed.is_empty() {
                text.push_str(&format!(" informed: {}", list(&r.informed)));
            }
            if let Some(w) = &r.window {
                text.push_str(&format!(" window: {w}"));
            }
            actions.push((
                at,
                Action::Command {
                    user: r.driver.clone(),
                    channel: r.channel.clone(),
                    command: "/rfc".into(),
                    text,
                },
            ));
            for (who, after) in &r.comments {
                let after = duration(&format!("rfcs[{i}].comments.{who}"), after)?;
                actions.push((
                    at + after,
                    Action::RfcComment {
                        user: who.clone(),
                        channel: r.channel.clone(),
                        title: r.title.clone(),
                    },
                ));
            }
            if let Some(after) = &r.decide_after {
                let after = duration(&format!("rfcs[{i}].decide_after"), after)?;
                let window = match &r.window {
                    Some(w) => duration(&format!("rfcs[{i}].window"), w)?,
                    None => chrono::Duration::hours(48),
                };
                // "after the window closes" counted on the wall clock: the approver's reality.
                actions.push((
                    at + window + after,
                    Action::Command {
                        user: r.approver.clone(),
                        channel: r.channel.clone(),
                        command: "/rfc".into(),
                        text: format!(
                            "decide RFC-{number} {} the trade-offs were laid out well",
                            r.verdict
                        ),
                    },
                ));
            }
        }
        // Stable: actions at the same moment keep the scenario's order.
        actions.sort_by_key(|(at, _)| *at);
        Ok(Scenario {
            start,
            days: raw.days,
            people,
            away,
            members,
            actions,
            statuses: (!raw.statuses.is_empty()).then_some(statuses),
        })
    }

    fn person(&self, id: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.id == id)
    }
}

// ---- running it ---------------------------------------------------------------------------------

/// One message the bot sent, as its reader sees it.
#[derive(Debug, Clone, Serialize)]
pub struct TranscriptLine {
    /// UTC.
    pub at: DateTime<Utc>,
    /// Who it is for (by name), each with the local time it reached them.
    pub to: Vec<(String, String)>,
    /// `#channel`, `thread in #channel`, `DM`, `group DM`, `only you in #channel`, `edit`.
    pub place: String,
    pub text: String,
}

/// The numbers of a run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Report {
    pub days: u32,
    /// Messages each person received from the bot, per day of the run (their local days).
    pub received_per_day: BTreeMap<String, Vec<u32>>,
    /// Messages that pinged someone outside their working time, not counting answers to
    /// something that person or others just did (the goal is 0).
    pub outside_working_time: u32,
    /// Each of them: when, to whom (their local time), what.
    pub outside_working_time_messages: Vec<String>,
    /// `respect.max_nudges_per_day` (0: none), and how many days of one person went above it.
    pub budget: u32,
    pub days_over_budget: u32,
    /// Per tier: requests, met before the deadline, nudged in the thread, reached the DM,
    /// reached the call, answered, never answered.
    pub requests: BTreeMap<String, TierCounts>,
    /// How many requests were answered after 0, 1, 2, 3 ladder steps.
    pub resolved_at_step: Vec<u32>,
    pub rfcs: Vec<RfcOutcome>,
    pub standup_prompts: u32,
    pub standup_expected: u32,
    pub standup_answered: u32,
    /// With statuses in the scenario: posts that pinged someone whose Slack status said they
    /// were out of office (`respect.ooo_status`), not counting answers to something just done
    /// (the goal is 0). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pings_while_out: Option<u32>,
    /// With statuses in the scenario: people whose stored presence at the end of the run agrees
    /// with their last status (out until it expires, or not out): the bot learnt each change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_learnt: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TierCounts {
    pub total: u32,
    pub met: u32,
    pub nudged: u32,
    pub reached_dm: u32,
    pub reached_call: u32,
    pub answered: u32,
    pub never_answered: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RfcOutcome {
    pub name: String,
    pub title: String,
    /// `decided in window`, `decided late`, `undecided`, `withdrawn`.
    pub outcome: String,
}

/// A finished run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub transcript: Vec<TranscriptLine>,
    pub report: Report,
    /// The team's figures for the run, as `/sla stats` words them (the workspace).
    pub metrics: Vec<String>,
    /// The report page for the run (`asyncbot simulate --report FILE`).
    #[serde(skip)]
    pub report_html: String,
}

/// Runs `scenario` under `settings` on a virtual clock. Deterministic: the same inputs give the
/// same run.
pub fn run(scenario: &Scenario, settings: Settings) -> Result<Run, SimulateError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|e| SimulateError::Setup(e.to_string()))?;
    runtime.block_on(run_paused(scenario, settings))
}

async fn run_paused(scenario: &Scenario, settings: Settings) -> Result<Run, SimulateError> {
    let dir = tempfile::tempdir().map_err(|e| SimulateError::Setup(e.to_string()))?;
    let store = Store::open_scratch(&dir.path().join("simulation.redb"))
        .map_err(|e| SimulateError::Setup(e.to_string()))?;
    let settings = Arc::new(settings);
    let clock = crate::engine::clock::tokio_clock(scenario.start);
    let slack = MemorySlack::new(clock.clone());
    for p in &scenario.people {
        slack.add_person(&p.id, &p.name, p.tz.name());
    }
    for (channel, members) in &scenario.members {
        slack.set_members(channel, members);
    }
    // Everyone is known from the start, as in a workspace the bot has run in for a while:
    // commands answer at once instead of "one moment" (which would race the next command).
    store
        .write(|tx| {
            for p in &scenario.people {
                tx.cache_user(&crate::store::CachedUser {
                    id: p.id.clone(),
                    name: Some(p.name.clone()),
                    tz: Some(p.tz.name().to_owned()),
                    is_bot: false,
                    deleted: false,
                    fetched_at: scenario.start,
                })?;
            }
            Ok(())
        })
        .map_err(|e| SimulateError::Setup(e.to_string()))?;
    let shutdown = CancellationToken::new();
    let core = Core::start_with(
        store.clone(),
        Arc::new(slack.clone()),
        settings.clone(),
        slack.identity(),
        clock.clone(),
        shutdown.clone(),
        CoreOptions {
            // The virtual clock does not jump: no need to look every minute.
            idle_recheck: Some(Duration::from_secs(3600)),
            ..CoreOptions::default()
        },
    )
    .map_err(|e| SimulateError::Setup(e.to_string()))?;
    let origin = tokio::time::Instant::now();
    let at_instant =
        |at: DateTime<Utc>| origin + (at - scenario.start).to_std().unwrap_or(Duration::ZERO);
    let mut acted_at: Vec<DateTime<Utc>> = Vec::new();
    for (n, (at, action)) in scenario.actions.iter().enumerate() {
        tokio::time::sleep_until(at_instant(*at)).await;
        acted_at.push(*at);
        perform(&core, &slack, &store, n, action, clock()).await;
    }
    let end = scenario.start + chrono::Duration::days(i64::from(scenario.days));
    tokio::time::sleep_until(at_instant(end)).await;
    shutdown.cancel();
    let mut tasks = core.tasks;
    while tasks.join_next().await.is_some() {}

    let sent = slack.sent();
    let transcript = transcript(scenario, &slack, &sent);
    let report = report(scenario, &settings, &store, &slack, &sent, &acted_at, end)?;
    let (metrics, report_html) = team_metrics(&settings, &store, scenario.start, end)
        .map_err(|e| SimulateError::Setup(e.to_string()))?;
    Ok(Run {
        transcript,
        report,
        metrics,
        report_html,
    })
}

/// The team's figures for the run and its report page, from the store as the bot left it.
fn team_metrics(
    settings: &Settings,
    store: &Store,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> crate::store::Result<(Vec<String>, String)> {
    use crate::features::insights::{Scope, gather, report};
    let gathered = store.read(|rx| gather(rx, settings, &Scope::Workspace, start, end))?;
    let figures = gathered.figures(start, end);
    let lines = gathered
        .team_lines(&figures, settings.respect.metrics_min_group)
        .iter()
        .map(|l| report::plain(l))
        .collect();
    let weeks = u32::try_from((end - start).num_days().div_euclid(7).max(1)).unwrap_or(1);
    let page = report::render(
        &gathered,
        "The simulated team",
        end,
        weeks,
        settings.respect.metrics_min_group,
    );
    Ok((lines, page))
}

async fn perform(
    core: &Core,
    slack: &MemorySlack,
    store: &Store,
    n: usize,
    action: &Action,
    now: DateTime<Utc>,
) {
    let event = |inbound: Inbound| {
        let id = format!("EvSim{n:06}");
        if let Err(e) = store.accept_event(Some(&id), &inbound, now) {
            tracing::error!(error = %e, "simulation: could not record an event");
        }
        core.engine.wakers.inbox.notify_one();
    };
    match action {
        Action::Message {
            user,
            channel,
            ts,
            thread_ts,
            text,
        } => event(Inbound::MessagePosted {
            channel: channel.clone(),
            channel_type: Some("channel".into()),
            user: user.clone(),
            ts: ts.clone(),
            thread_ts: thread_ts.clone(),
            text: text.clone(),
        }),
        Action::React { user, channel, ts } => event(Inbound::ReactionAdded {
            user: user.clone(),
            reaction: "eyes".into(),
            channel: channel.clone(),
            ts: ts.clone(),
        }),
        Action::Command {
            user,
            channel,
            command,
            text,
        } => {
            let reply = core
                .dispatcher
                .command(Command {
                    command: command.clone(),
                    text: text.clone(),
                    user_id: user.clone(),
                    channel_id: channel.clone(),
                    trigger_id: format!("sim.{n}"),
                    response_url: format!("sim://response/{n}"),
                })
                .await;
            tracing::debug!(%command, reply = %reply.text, "simulated command");
        }
        Action::StandupAnswer {
            user,
            channel,
            blocker,
        } => {
            let Some(prompt) = latest_top_level(slack, channel, now, |m| {
                m.text.to_lowercase().contains("standup")
            }) else {
                return;
            };
            let blockers = if *blocker {
                "Blockers: waiting on the staging database credentials from ops"
            } else {
                "Blockers: none"
            };
            event(Inbound::MessagePosted {
                channel: channel.clone(),
                channel_type: Some("channel".into()),
                user: user.clone(),
                ts: format!("{}.{:06}", now.timestamp(), 500_000 + n),
                thread_ts: Some(prompt.ts),
                text: format!(
                    "Completed yesterday: reviewed two pull requests\nPlanned today: ship the onboarding fix\n{blockers}"
                ),
            });
        }
        Action::Press {
            user,
            channel,
            ts,
            action_id,
        } => press(core, slack, store, n, user, channel, ts, action_id).await,
        Action::Status {
            user,
            emoji,
            text,
            expiration,
        } => {
            // Slack's profile changes too: a later lookup reads the same status the event said.
            slack.set_status(user, emoji, text, *expiration);
            event(Inbound::StatusChanged {
                user: user.clone(),
                emoji: emoji.clone(),
                text: text.clone(),
                expiration: *expiration,
            })
        }
        Action::RfcComment {
            user,
            channel,
            title,
        } => {
            let Some(post) =
                latest_top_level(slack, channel, now, |m| m.text.contains(title.as_str()))
            else {
                return;
            };
            event(Inbound::MessagePosted {
                channel: channel.clone(),
                channel_type: Some("channel".into()),
                user: user.clone(),
                ts: format!("{}.{:06}", now.timestamp(), 700_000 + n),
                thread_ts: Some(post.ts),
                text: "One concern: the migration window. Otherwise good.".into(),
            });
        }
    }
}

/// `user` presses `action_id` on the latest message carrying the buttons of their request
/// opened by `channel`/`ts`, as Slack would send it (`on_it` picks the latest ETA offered).
#[allow(clippy::too_many_arguments)]
async fn press(
    core: &Core,
    slack: &MemorySlack,
    store: &Store,
    n: usize,
    user: &str,
    channel: &str,
    ts: &str,
    action_id: &str,
) {
    let Ok(requests) = store.read(|rx| rx.requests_for_message(channel, ts)) else {
        return;
    };
    let Some(request) = requests.iter().find(|r| r.recipient == user) else {
        return;
    };
    let block_id = format!("sla_actions:{}", request.id);
    let Some((message, elements)) = slack.sent().into_iter().rev().find_map(|m| {
        let blocks = m.blocks.clone()?;
        let actions = blocks
            .as_array()?
            .iter()
            .find(|b| b["block_id"] == block_id.as_str())?
            .clone();
        Some((m, actions["elements"].as_array()?.clone()))
    }) else {
        return;
    };
    let Some(element) = elements.iter().find(|e| e["action_id"] == action_id) else {
        return;
    };
    let action = if action_id == "sla_eta" {
        let Some(option) = element["options"].as_array().and_then(|o| o.last()) else {
            return;
        };
        serde_json::json!({"type": "static_select", "action_id": action_id, "block_id": block_id,
            "selected_option": option, "action_ts": message.ts})
    } else {
        serde_json::json!({"type": "button", "action_id": action_id, "block_id": block_id,
            "value": element["value"], "text": element["text"], "action_ts": message.ts})
    };
    let payload = serde_json::json!({
        "type": "block_actions",
        "team": {"id": "TSIMULATED", "domain": "simulated"},
        "user": {"id": user, "username": user, "team_id": "TSIMULATED"},
        "api_app_id": "ASIMULATED",
        "token": "simulated",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": message.channel, "is_ephemeral": false},
        "trigger_id": format!("sim.press.{n}"),
        "channel": {"id": message.channel, "name": message.channel},
        "actions": [action],
    });
    match serde_json::from_value(payload) {
        Ok(event) => {
            core.dispatcher.interaction(&event).await;
        }
        Err(e) => tracing::error!(error = %e, "simulation: could not build a button press"),
    }
}

/// The bot's latest top-level post in `channel` in the last 18 hours that matches.
fn latest_top_level(
    slack: &MemorySlack,
    channel: &str,
    now: DateTime<Utc>,
    matches: impl Fn(&Sent) -> bool,
) -> Option<Sent> {
    slack
        .sent()
        .into_iter()
        .filter(|m| {
            m.kind == SentKind::Post
                && m.channel == channel
                && m.thread_ts.is_none()
                && m.at <= now
                && now - m.at < chrono::Duration::hours(18)
                && matches(m)
        })
        .last()
}

/// Whether `user`'s scenario status at `at` is an out-of-office one (the last one set by then).
fn is_out(
    spans: &[StatusSpan],
    rules: &crate::domain::presence::StatusRules,
    user: &str,
    at: DateTime<Utc>,
) -> bool {
    spans
        .iter()
        .filter(|s| s.user == user && s.from <= at)
        .max_by_key(|s| s.from)
        .is_some_and(|s| {
            let expiration = s.until.map_or(0, |u| u.timestamp());
            let (ooo, _) = crate::domain::presence::classify_status(
                &s.emoji, &s.text, expiration, s.from, rules,
            );
            ooo.is_some_and(|until| at < until)
        })
}

/// How many people's stored presence says what their last status says at the end of the run
/// (out until its expiry, or not out): the bot learnt every status change.
fn presence_learnt(
    spans: &[StatusSpan],
    settings: &Settings,
    store: &Store,
    end: DateTime<Utc>,
) -> crate::store::Result<u32> {
    let mut people: Vec<&str> = spans.iter().map(|s| s.user.as_str()).collect();
    people.sort_unstable();
    people.dedup();
    let mut learnt = 0;
    for user in people {
        let stored = store.read(|rx| rx.presence(user))?;
        let expected = is_out(spans, &settings.presence.rules, user, end);
        if stored.is_some_and(|p| p.is_out(end) == expected) {
            learnt += 1;
        }
    }
    Ok(learnt)
}

/// Who a message pings: a DM's person, a group DM's people, the people a post mentions.
fn recipients(slack: &MemorySlack, m: &Sent) -> Vec<String> {
    match m.kind {
        SentKind::Ephemeral => m.only_for.iter().cloned().collect(),
        SentKind::Edit | SentKind::Response => Vec::new(),
        SentKind::Post => {
            if let Some(people) = slack.conversation_members(&m.channel) {
                people
            } else {
                mentioned_users(&m.text)
            }
        }
    }
}

fn readable(scenario: &Scenario, text: &str) -> String {
    let mut named = text.to_owned();
    for p in &scenario.people {
        named = named.replace(&format!("<@{}>", p.id), &format!("<@{}|{}>", p.id, p.name));
    }
    crate::domain::format::excerpt(&crate::domain::format::slack_to_plain(&named), 160)
}

fn transcript(scenario: &Scenario, slack: &MemorySlack, sent: &[Sent]) -> Vec<TranscriptLine> {
    // Sends to different conversations at the same moment may complete in any order: sorted,
    // the same run always reads the same.
    let mut sent = sent.to_vec();
    sent.sort_by(|a, b| {
        (a.at, &a.channel, &a.thread_ts, &a.ts, &a.text).cmp(&(
            b.at,
            &b.channel,
            &b.thread_ts,
            &b.ts,
            &b.text,
        ))
    });
    sent.iter()
        .filter(|m| m.kind != SentKind::Response)
        .map(|m| {
            let to = recipients(slack, m)
                .iter()
                .filter_map(|u| scenario.person(u))
                .map(|p| {
                    (
                        p.name.clone(),
                        m.at.with_timezone(&p.tz).format("%a %H:%M").to_string(),
                    )
                })
                .collect();
            let place = match m.kind {
                SentKind::Edit => format!("edit in #{}", m.channel),
                SentKind::Ephemeral => format!("only them, in #{}", m.channel),
                _ if m.channel.starts_with('D') => "DM".to_owned(),
                _ if m.channel.starts_with('G') => "group DM".to_owned(),
                _ if m.thread_ts.is_some() => format!("thread in #{}", m.channel),
                _ => format!("#{}", m.channel),
            };
            TranscriptLine {
                at: m.at,
                to,
                place,
                text: readable(scenario, &m.text),
            }
        })
        .collect()
}

fn report(
    scenario: &Scenario,
    settings: &Settings,
    store: &Store,
    slack: &MemorySlack,
    sent: &[Sent],
    acted_at: &[DateTime<Utc>],
    end: DateTime<Utc>,
) -> Result<Report, SimulateError> {
    let setup = |e: crate::store::StoreError| SimulateError::Setup(e.to_string());
    let mut report = Report {
        days: scenario.days,
        resolved_at_step: vec![0; settings.sla.ladder.len() + 1],
        pings_while_out: scenario.statuses.as_ref().map(|_| 0),
        ..Report::default()
    };
    if let Some(spans) = &scenario.statuses {
        report.presence_learnt = Some(presence_learnt(spans, settings, store, end).map_err(setup)?);
    }
    for p in &scenario.people {
        report
            .received_per_day
            .insert(p.name.clone(), vec![0; scenario.days as usize]);
    }
    let first_day = scenario.start.date_naive();
    // Each person's own calendar: the working time they set (from the store) and the days they
    // were away (from the scenario: the store forgets absences once they are over).
    let mut calendars = BTreeMap::new();
    for p in &scenario.people {
        let own = store.read(|rx| rx.working_time(&p.id)).map_err(setup)?;
        let away: Vec<_> = scenario
            .away
            .iter()
            .filter(|(who, _)| *who == p.id)
            .map(|(_, a)| *a)
            .collect();
        let calendar = crate::domain::working_time::personal_calendar(
            &settings.calendar,
            own.as_ref(),
            &away,
            p.tz,
            [],
        );
        calendars.insert(p.id.clone(), calendar);
    }
    for m in sent {
        // A reply to something someone just did: that person chose the moment.
        let prompted = acted_at
            .iter()
            .any(|a| *a <= m.at && m.at - *a <= chrono::Duration::seconds(5));
        for user in recipients(slack, m) {
            let Some(p) = scenario.person(&user) else {
                continue;
            };
            let day = (m.at.with_timezone(&p.tz).date_naive() - first_day).num_days();
            if let Some(slot) = usize::try_from(day)
                .ok()
                .and_then(|d| report.received_per_day.get_mut(&p.name)?.get_mut(d))
            {
                *slot += 1;
            }
            if let (Some(spans), Some(count)) = (&scenario.statuses, &mut report.pings_while_out)
                && !prompted
                && m.kind == SentKind::Post
                && is_out(spans, &settings.presence.rules, &user, m.at)
            {
                *count += 1;
            }
            if !prompted
                && m.kind == SentKind::Post
                && !calendars
                    .get(&p.id)
                    .unwrap_or(&settings.calendar)
                    .is_working_time(m.at, p.tz)
            {
                report.outside_working_time += 1;
                report.outside_working_time_messages.push(format!(
                    "{} to {} ({} local): {}",
                    m.at.format("%a %H:%M UTC"),
                    p.name,
                    m.at.with_timezone(&p.tz).format("%a %H:%M"),
                    crate::domain::format::excerpt(&readable(scenario, &m.text), 80)
                ));
            }
        }
    }
    report.budget = settings.respect.max_nudges_per_day;
    if report.budget > 0 {
        report.days_over_budget = report
            .received_per_day
            .values()
            .flatten()
            .filter(|n| **n > report.budget)
            .count() as u32;
    }
    let requests = store.read(|rx| rx.all_requests()).map_err(setup)?;
    for tier in [Tier::Urgent, Tier::Normal, Tier::Low] {
        report
            .requests
            .insert(tier.as_str().to_owned(), TierCounts::default());
    }
    for r in &requests {
        let counts = report
            .requests
            .get_mut(r.tier.as_str())
            .expect("every tier is listed");
        counts.total += 1;
        match &r.state {
            RequestState::Answered { at, .. } => {
                counts.answered += 1;
                if *at <= r.deadline {
                    counts.met += 1;
                }
                if let Some(slot) = report.resolved_at_step.get_mut(r.steps_taken) {
                    *slot += 1;
                }
            }
            RequestState::Open => counts.never_answered += 1,
            RequestState::Cancelled { .. } => {}
        }
        counts.nudged += u32::from(r.steps_taken >= 1);
        counts.reached_dm += u32::from(r.steps_taken >= 2);
        counts.reached_call += u32::from(r.steps_taken >= 3);
    }
    let rfcs = store.read(|rx| rx.all_rfcs()).map_err(setup)?;
    for rfc in rfcs {
        let outcome = match (rfc.decided_at, rfc.decide_by) {
            (Some(at), Some(by)) if at <= by => "decided in window",
            (Some(at), None) if at <= rfc.closes_at => "decided in window",
            (Some(_), _) => "decided late",
            (None, _) if rfc.status == crate::domain::rfc::RfcStatus::Withdrawn => "withdrawn",
            (None, _) => "undecided",
        };
        report.rfcs.push(RfcOutcome {
            name: rfc.name(),
            title: rfc.title.clone(),
            outcome: outcome.to_owned(),
        });
    }
    for (channel, _) in &scenario.members {
        let mut date = first_day - chrono::Duration::days(1);
        while date <= end.date_naive() {
            if let Some(day) = store
                .read(|rx| rx.standup_day(channel, date))
                .map_err(setup)?
            {
                report.standup_prompts += 1;
                report.standup_expected += day.expected.len() as u32;
                report.standup_answered += day
                    .expected
                    .iter()
                    .filter(|u| day.answers.contains_key(*u))
                    .count() as u32;
            }
            date += chrono::Duration::days(1);
        }
    }
    Ok(report)
}

// ---- printing -----------------------------------------------------------------------------------

/// The transcript as text, one message per line.
pub fn print_transcript(run: &Run) -> String {
    let mut out = String::from("TRANSCRIPT: every message the bot sent\n");
    for line in &run.transcript {
        let to = if line.to.is_empty() {
            "(nobody pinged)".to_owned()
        } else {
            line.to
                .iter()
                .map(|(name, local)| format!("{name} {local}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "{}  {:<22} → {to}\n    {}\n",
            line.at.format("%a %d %b %H:%M UTC"),
            line.place,
            line.text
        ));
    }
    out
}

/// The report's rows: (label, value).
fn rows(report: &Report) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for (name, per_day) in &report.received_per_day {
        let days: Vec<String> = per_day.iter().map(u32::to_string).collect();
        rows.push((
            format!("messages to {name}, per day"),
            format!(
                "{} (max {})",
                days.join(" "),
                per_day.iter().max().unwrap_or(&0)
            ),
        ));
    }
    rows.push((
        "pings outside the recipient's own working time".into(),
        report.outside_working_time.to_string(),
    ));
    if report.budget > 0 {
        rows.push((
            format!("days someone got more than {} messages", report.budget),
            report.days_over_budget.to_string(),
        ));
    }
    if let Some(n) = report.pings_while_out {
        rows.push((
            "pings while out of office (Slack status)".into(),
            n.to_string(),
        ));
    }
    if let Some(n) = report.presence_learnt {
        rows.push(("people whose status the bot learnt".into(), n.to_string()));
    }
    for (tier, c) in &report.requests {
        rows.push((
            format!("{tier} requests: met / nudged / DM / call"),
            format!(
                "{} of {}: {} / {} / {} / {}",
                c.met, c.total, c.met, c.nudged, c.reached_dm, c.reached_call
            ),
        ));
        rows.push((
            format!("{tier} requests: answered / never"),
            format!("{} / {}", c.answered, c.never_answered),
        ));
    }
    rows.push((
        "answered after 0 / 1 / 2 / 3 ladder steps".into(),
        report
            .resolved_at_step
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" / "),
    ));
    for rfc in &report.rfcs {
        rows.push((format!("{} {}", rfc.name, rfc.title), rfc.outcome.clone()));
    }
    let rate = if report.standup_expected == 0 {
        "n/a".to_owned()
    } else {
        format!(
            "{:.0} %",
            100.0 * f64::from(report.standup_answered) / f64::from(report.standup_expected)
        )
    };
    rows.push((
        "standups: prompts, answers / expected".into(),
        format!(
            "{} prompts, {} / {} ({rate})",
            report.standup_prompts, report.standup_answered, report.standup_expected
        ),
    ));
    rows
}

/// The team's figures, after the report: what `/sla stats` would say of the run.
pub fn print_metrics(lines: &[String]) -> String {
    let mut out = "TEAM METRICS (as /sla stats shows them)\n".to_owned();
    for line in lines {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

pub fn print_report(report: &Report) -> String {
    let rows = rows(report);
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = format!("REPORT: {} days\n", report.days);
    for (label, value) in rows {
        out.push_str(&format!("  {label:<width$}  {value}\n"));
    }
    if !report.outside_working_time_messages.is_empty() {
        out.push_str("\nOUTSIDE WORKING TIME: who was pinged when they were not working\n");
        for line in &report.outside_working_time_messages {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// Two reports side by side, with the differing rows marked.
pub fn print_comparison(a_name: &str, a: &Report, b_name: &str, b: &Report) -> String {
    let (ra, rb) = (rows(a), rows(b));
    let width = ra.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    let va = ra
        .iter()
        .map(|(_, v)| v.chars().count())
        .max()
        .unwrap_or(0)
        .max(a_name.len());
    let mut out = format!(
        "COMPARISON: {} days\n  {:<width$}  {a_name:<va$}  {b_name}\n",
        a.days, ""
    );
    for (label, value_a) in &ra {
        let value_b = rb
            .iter()
            .find(|(l, _)| l == label)
            .map_or("—", |(_, v)| v.as_str());
        let mark = if value_a == value_b { " " } else { "*" };
        out.push_str(&format!(
            "{mark} {label:<width$}  {value_a:<va$}  {value_b}\n"
        ));
    }
    out
}

/// Loads the settings for a simulation: the built-in defaults, then `config` (no environment:
/// a dry run is about the file).
pub fn settings(config: Option<&Path>) -> Result<Settings, SimulateError> {
    crate::config::load(config, &[])
        .map_err(|e| SimulateError::Setup(format!("invalid configuration: {e}")))
}

/// `asyncbot simulate`: runs a scenario (or the built-in week), prints the transcript and the
/// report, or both runs side by side with `--compare`.
pub fn command(
    scenario: Option<std::path::PathBuf>,
    config: Option<std::path::PathBuf>,
    compare: Option<std::path::PathBuf>,
    start: Option<chrono::NaiveDate>,
    json: bool,
    quiet: bool,
    report_file: Option<std::path::PathBuf>,
) -> std::process::ExitCode {
    let text = match &scenario {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                return super::commands::fail(&format!(
                    "cannot read the scenario {}: {e}",
                    path.display()
                ));
            }
        },
        None => BUILT_IN.to_owned(),
    };
    let scenario = match Scenario::parse(&text, start) {
        Ok(s) => s,
        Err(e) => return super::commands::fail(&e.to_string()),
    };
    let run_with = |config: Option<&std::path::Path>| {
        settings(config).and_then(|settings| run(&scenario, settings))
    };
    let first = match run_with(config.as_deref()) {
        Ok(run) => run,
        Err(e) => return super::commands::fail(&e.to_string()),
    };
    let Some(other) = compare else {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&first).unwrap_or_default()
            );
        } else {
            if !quiet {
                println!("{}", print_transcript(&first));
            }
            print!("{}", print_report(&first.report));
            print!("{}", print_metrics(&first.metrics));
        }
        if let Some(path) = &report_file {
            if let Err(e) = std::fs::write(path, &first.report_html) {
                return super::commands::fail(&format!("cannot write {}: {e}", path.display()));
            }
            eprintln!("wrote {}", path.display());
        }
        return std::process::ExitCode::SUCCESS;
    };
    let second = match run_with(Some(&other)) {
        Ok(run) => run,
        Err(e) => return super::commands::fail(&e.to_string()),
    };
    let name = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map_or_else(|| "defaults".to_owned(), |p| p.display().to_string())
    };
    if json {
        let both = serde_json::json!({ name(&config): first, other.display().to_string(): second });
        println!(
            "{}",
            serde_json::to_string_pretty(&both).unwrap_or_default()
        );
    } else {
        print!(
            "{}",
            print_comparison(
                &name(&config),
                &first.report,
                &other.display().to_string(),
                &second.report
            )
        );
    }
    std::process::ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_scenario_parses() {
        let s = Scenario::parse(BUILT_IN, None).unwrap();
        assert_eq!(s.people.len(), 12);
        assert_eq!(s.days, 7);
        assert!(
            s.actions.windows(2).all(|w| w[0].0 <= w[1].0),
            "in time order"
        );
    }

    #[test]
    fn a_bad_scenario_names_what_is_wrong() {
        let bad = BUILT_IN.replace("tz = \"Europe/Berlin\"", "tz = \"Europe/Atlantis\"");
        let err = Scenario::parse(&bad, None).unwrap_err().to_string();
        assert!(err.contains("Europe/Atlantis"), "{err}");
        let err = Scenario::parse("days = 7", None).unwrap_err().to_string();
        assert!(
            err.contains("not valid TOML") || err.contains("missing"),
            "{err}"
        );
    }
}
