//! RFCs (DACI): a comment window, one reminder to the contributors who have not responded, the
//! approver's decision with the escalation ladder behind it, and the permanent decision record.
//! Pure: transitions take `now` and return the messages to send as data.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::{BusinessCalendar, Clock};
use crate::domain::format::{
    escape, human_duration, link, mention, quote_slack, shorten, slack_date,
};
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::sla::{LadderStep, StepAction};

/// The most contributors an RFC asks: each gets a reminder mention and is listed on the RFC.
pub const MAX_CONTRIBUTORS: usize = 50;
/// The most people an RFC informs directly: each gets a DM with the outcome.
pub const MAX_INFORMED_PEOPLE: usize = 50;
/// The most channels an RFC informs: each gets a post with the outcome.
pub const MAX_INFORMED_CHANNELS: usize = 10;

/// The approver's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    Reject,
}

impl Verdict {
    /// The word used in `/rfc decide`: `accept` or `reject`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Accept => "accept",
            Verdict::Reject => "reject",
        }
    }
}

/// The `[rfc]` norms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfcSettings {
    pub default_window: Duration,
    pub min_window: Duration,
    pub max_window: Duration,
    /// The reminder to silent contributors goes out this long before the window closes.
    pub remind_before: Duration,
    /// How windows and reminders are counted (in the driver's time zone).
    pub clock: Clock,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RfcStatus {
    /// The comment window is open.
    Proposed,
    /// The window closed; the approver is asked to decide.
    AwaitingDecision,
    Accepted,
    Rejected,
    Withdrawn,
    Superseded,
}

impl RfcStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Proposed => "Proposed",
            Self::AwaitingDecision => "Awaiting decision",
            Self::Accepted => "Accepted",
            Self::Rejected => "Rejected",
            Self::Withdrawn => "Withdrawn",
            Self::Superseded => "Superseded",
        }
    }

    /// Still waiting for a decision.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Proposed | Self::AwaitingDecision)
    }
}

/// How a contributor responded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Commented,
    NoComments,
    Acknowledged,
}

impl Response {
    pub fn label(self) -> &'static str {
        match self {
            Self::Commented => "commented",
            Self::NoComments => "no comments",
            Self::Acknowledged => "acknowledged",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: RfcStatus,
    pub at: DateTime<Utc>,
    pub by: Option<String>,
}

/// One RFC and, for good, its decision record (NORMS §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rfc {
    pub id: u64,
    /// Plain text, as a person reads it (Slack entities decoded, no tokens): shown as is in
    /// plain_text blocks and Markdown, passed through `escape` in mrkdwn.
    pub title: String,
    /// The problem, as the driver described it (the modal's Context field); may be empty.
    /// Stored as Slack mrkdwn (the modal's plain text is escaped on the way in), like the
    /// rationale: posted through `quote_slack`, read outside Slack through `slack_to_plain`.
    #[serde(default)]
    pub context: String,
    pub channel: String,
    pub driver: String,
    pub approver: String,
    pub contributors: Vec<String>,
    pub informed_users: Vec<String>,
    pub informed_channels: Vec<String>,
    pub driver_tz: Tz,
    pub approver_tz: Tz,
    pub opened_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
    /// When the reminder to silent contributors is due; `None` once sent or when there is none.
    pub remind_at: Option<DateTime<Utc>>,
    /// The deadline the approver is given at close.
    pub decide_by: Option<DateTime<Utc>>,
    pub responses: BTreeMap<String, Response>,
    pub status: RfcStatus,
    pub history: Vec<StatusChange>,
    /// Slack mrkdwn: as Slack sent it with `/rfc decide`, or escaped from the decide modal.
    /// Posted through `quote_slack` (mentions stay, broadcasts go inert).
    pub rationale: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Ladder steps taken after the close (the close itself counts as the thread mention).
    pub steps_taken: usize,
    pub next_step_at: Option<DateTime<Utc>>,
    pub superseded_by: Option<u64>,
    pub supersedes: Option<u64>,
}

/// What a person tried that the rules do not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RfcError {
    #[error("Only the approver of {id}, {approver}, can decide it.", id = rfc_name(*.id), approver = mention(.approver))]
    NotApprover { id: u64, approver: String },
    #[error("Only the driver of {id}, {driver}, can do that.", id = rfc_name(*.id), driver = mention(.driver))]
    NotDriver { id: u64, driver: String },
    #[error("{id} is already {status}.", id = rfc_name(*.id), status = .status.label().to_lowercase())]
    Closed { id: u64, status: RfcStatus },
    #[error("Only contributors of {id} are asked for comments; you are not one of them.", id = rfc_name(*.id))]
    NotContributor { id: u64 },
    #[error("Only the driver or the approver of {id} can mark it superseded.", id = rfc_name(*.id))]
    CannotSupersede { id: u64 },
    #[error("{id} can only be superseded once it is decided (it is {status}).", id = rfc_name(*.id), status = .status.label().to_lowercase())]
    NotDecidedYet { id: u64, status: RfcStatus },
}

pub fn rfc_name(id: u64) -> String {
    format!("RFC-{id}")
}

/// Free text in a section block: Slack allows 3,000 characters, the rest is for our words.
pub const SECTION_TEXT_CHARS: usize = 2_500;
/// Free text quoted in a plain message (Slack advises at most 4,000 characters in all).
const MESSAGE_QUOTE_CHARS: usize = 3_000;

/// The tag of the RFC's top-level message.
pub fn message_tag(id: u64) -> String {
    format!("rfc:{id}")
}

/// The RFC a tag names (`rfc:12`).
pub fn rfc_of_tag(tag: &str) -> Option<u64> {
    tag.strip_prefix("rfc:")?.parse().ok()
}

/// What the RFC needs to compute times and links.
pub struct RfcContext<'a> {
    pub settings: &'a RfcSettings,
    /// The team's calendar: the clock of anyone not in `people`.
    pub calendar: &'a BusinessCalendar,
    pub ladder: &'a [LadderStep],
    /// Where the RFC message is, once posted: a permalink.
    pub permalink: Option<String>,
    /// The people of the RFC that are known: their own calendars and names. The window is
    /// counted on the driver's calendar, reminders on each contributor's, the approver's ladder
    /// on the approver's; summaries name people rather than @-mention them (no ping at night).
    pub people: BTreeMap<String, PersonClock>,
}

/// One person's own calendar (hours, holidays, absences), zone and display name.
#[derive(Debug, Clone)]
pub struct PersonClock {
    pub calendar: BusinessCalendar,
    pub tz: Tz,
    pub name: Option<String>,
}

impl RfcContext<'_> {
    /// `user`'s calendar and zone, or the team's calendar in `tz` when they are not known.
    fn clock_of(&self, user: &str, tz: Tz) -> (&BusinessCalendar, Tz) {
        match self.people.get(user) {
            Some(p) => (&p.calendar, p.tz),
            None => (self.calendar, tz),
        }
    }

    /// `user` by name, which pings nobody; an @-mention when the name is not known.
    fn name_of(&self, user: &str) -> String {
        match self.people.get(user).and_then(|p| p.name.as_deref()) {
            Some(name) => escape(name),
            None => mention(user),
        }
    }
}

/// The fields of a new RFC, checked.
#[derive(Debug, Clone)]
pub struct NewRfc {
    pub title: String,
    pub context: String,
    pub channel: String,
    pub driver: String,
    pub approver: String,
    pub contributors: Vec<String>,
    pub informed_users: Vec<String>,
    pub informed_channels: Vec<String>,
    pub window: Duration,
    pub driver_tz: Tz,
    pub approver_tz: Tz,
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The earliest instant in `[lower, end]` from which `remaining` (on `clock`) reaches `end`: the
/// inverse of `BusinessCalendar::add`, found by bisection (it is monotonic in its start).
fn time_before(
    calendar: &BusinessCalendar,
    clock: Clock,
    tz: Tz,
    end: DateTime<Utc>,
    remaining: Duration,
    lower: DateTime<Utc>,
) -> DateTime<Utc> {
    let remaining = to_chrono(remaining);
    if clock == Clock::Wall {
        return (end - remaining).max(lower);
    }
    let reaches = |offset: i64| {
        calendar.add(
            clock,
            lower + chrono::Duration::seconds(offset),
            tz,
            remaining,
        ) >= end
    };
    if reaches(0) {
        return lower;
    }
    // Whole seconds: reaches(lo) is false, reaches(hi) is true.
    let (mut lo, mut hi) = (0_i64, (end - lower).num_seconds().max(1));
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reaches(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    lower + chrono::Duration::seconds(hi)
}

/// Checks a window against the configured bounds.
pub fn check_window(window: Duration, settings: &RfcSettings) -> Result<(), String> {
    if window < settings.min_window || window > settings.max_window {
        return Err(format!(
            "The comment window must be between {} and {} (you asked for {}).",
            human_duration(settings.min_window),
            human_duration(settings.max_window),
            human_duration(window)
        ));
    }
    Ok(())
}

impl Rfc {
    /// Opens an RFC: returns it and its top-level message, tagged with [`message_tag`] (the
    /// feature draws the card on it, and on every edit of it).
    pub fn open(
        id: u64,
        new: NewRfc,
        now: DateTime<Utc>,
        ctx: &RfcContext<'_>,
    ) -> (Self, Vec<OutgoingMessage>) {
        let clock = ctx.settings.clock;
        let (calendar, driver_tz) = ctx.clock_of(&new.driver, new.driver_tz);
        let closes_at = calendar.add(clock, now, driver_tz, to_chrono(new.window));
        // The reminder goes out when `remind_before` of the window remains, counted on the same
        // clock, and only if that is after now.
        let remind_at = (!new.contributors.is_empty() && !ctx.settings.remind_before.is_zero())
            .then(|| {
                time_before(
                    calendar,
                    clock,
                    driver_tz,
                    closes_at,
                    ctx.settings.remind_before,
                    now,
                )
            })
            .filter(|at| *at > now);
        let rfc = Rfc {
            id,
            title: new.title,
            context: new.context,
            channel: new.channel,
            driver: new.driver,
            approver: new.approver,
            contributors: new.contributors,
            informed_users: new.informed_users,
            informed_channels: new.informed_channels,
            driver_tz: new.driver_tz,
            approver_tz: new.approver_tz,
            opened_at: now,
            closes_at,
            remind_at,
            decide_by: None,
            responses: BTreeMap::new(),
            status: RfcStatus::Proposed,
            history: vec![StatusChange {
                status: RfcStatus::Proposed,
                at: now,
                by: None,
            }],
            rationale: None,
            decided_at: None,
            steps_taken: 0,
            next_step_at: None,
            superseded_by: None,
            supersedes: None,
        };
        let post = OutgoingMessage::new(
            Destination::Channel {
                channel: rfc.channel.clone(),
            },
            rfc.fallback_text(),
        )
        .tagged(message_tag(id));
        (rfc, vec![post])
    }

    pub fn name(&self) -> String {
        rfc_name(self.id)
    }

    /// When this RFC next needs attention.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        match self.status {
            RfcStatus::Proposed => Some(
                self.remind_at
                    .map_or(self.closes_at, |r| r.min(self.closes_at)),
            ),
            RfcStatus::AwaitingDecision => self.next_step_at,
            _ => None,
        }
    }

    /// Its driver, approver and contributors.
    pub fn people(&self) -> Vec<&str> {
        let mut people = vec![self.driver.as_str(), self.approver.as_str()];
        people.extend(self.contributors.iter().map(String::as_str));
        people
    }

    /// Contributors who have not responded, in the order they were named.
    pub fn silent_contributors(&self) -> Vec<String> {
        self.contributors
            .iter()
            .filter(|c| !self.responses.contains_key(*c))
            .cloned()
            .collect()
    }

    fn thread(&self, text: String) -> OutgoingMessage {
        OutgoingMessage::new(
            Destination::ThreadOfTag {
                channel: self.channel.clone(),
                tag: message_tag(self.id),
            },
            text,
        )
    }

    /// The RFC message, re-rendered from the current state. Only its notification text here:
    /// the feature draws the card on it (`features::rfc::messages::with_card`).
    fn edit(&self) -> OutgoingMessage {
        OutgoingMessage::new(
            Destination::Edit {
                channel: self.channel.clone(),
                tag: message_tag(self.id),
            },
            self.fallback_text(),
        )
    }

    fn set_status(&mut self, status: RfcStatus, at: DateTime<Utc>, by: Option<&str>) {
        self.status = status;
        self.history.push(StatusChange {
            status,
            at,
            by: by.map(str::to_owned),
        });
    }

    fn step_time(
        &self,
        base: DateTime<Utc>,
        after: Duration,
        ctx: &RfcContext<'_>,
    ) -> DateTime<Utc> {
        let (calendar, tz) = ctx.clock_of(&self.approver, self.approver_tz);
        let raw = calendar.add(ctx.settings.clock, base, tz, to_chrono(after));
        calendar.next_working_time(raw, tz)
    }

    /// The reminder to the silent contributors: each is reminded inside their own working
    /// time, so those whose working time starts at the same moment share one message, sent
    /// then. Whoever's working time does not start before the window closes is not reminded.
    fn reminders(&self, now: DateTime<Utc>, ctx: &RfcContext<'_>) -> Vec<OutgoingMessage> {
        let mut groups: BTreeMap<DateTime<Utc>, Vec<(String, Tz)>> = BTreeMap::new();
        for user in self.silent_contributors() {
            let (calendar, tz) = ctx.clock_of(&user, self.driver_tz);
            let at = calendar.next_working_time(now, tz);
            if at < self.closes_at {
                groups.entry(at).or_default().push((user, tz));
            }
        }
        groups
            .into_values()
            .map(|group| {
                let text = format!(
                    "{}: the comment window for *{}* closes {}. We have not heard from you yet: \
                     comment in this thread, or press *No comments from me* on the RFC.",
                    group
                        .iter()
                        .map(|(u, _)| mention(u))
                        .collect::<Vec<_>>()
                        .join(" "),
                    self.name(),
                    slack_date(self.closes_at)
                );
                group.into_iter().fold(self.thread(text), |m, (user, tz)| {
                    m.in_working_time_of(user, tz)
                })
            })
            .collect()
    }

    /// Records a contributor's response while the window is open. Returns whether it changed
    /// anything (a comment after "no comments" upgrades it; nothing downgrades a comment).
    pub fn respond(&mut self, user: &str, response: Response) -> Result<bool, RfcError> {
        if !self.contributors.iter().any(|c| c == user) {
            return Err(RfcError::NotContributor { id: self.id });
        }
        if !self.status.is_open() {
            return Err(RfcError::Closed {
                id: self.id,
                status: self.status,
            });
        }
        let previous = self.responses.get(user).copied();
        let keep = match (previous, response) {
            (Some(Response::Commented), _) => Response::Commented,
            (_, new) => new,
        };
        self.responses.insert(user.to_owned(), keep);
        Ok(previous != Some(keep))
    }

    /// Whatever is due at `now`: the reminder, the close, or the next ladder step.
    pub fn fire(&mut self, now: DateTime<Utc>, ctx: &RfcContext<'_>) -> Vec<OutgoingMessage> {
        let mut out = Vec::new();
        if self.status == RfcStatus::Proposed {
            if self
                .remind_at
                .is_some_and(|at| at <= now && at < self.closes_at)
            {
                self.remind_at = None;
                out.extend(self.reminders(now, ctx));
            }
            if self.closes_at <= now {
                self.remind_at = None;
                out.extend(self.close(now, ctx));
            }
            return out;
        }
        if self.status != RfcStatus::AwaitingDecision || self.next_step_at.is_none_or(|at| at > now)
        {
            return out;
        }
        let Some(step) = ctx.ladder.get(self.steps_taken).cloned() else {
            self.next_step_at = None;
            return out;
        };
        self.steps_taken += 1;
        self.next_step_at = ctx
            .ladder
            .get(self.steps_taken)
            .map(|next| self.step_time(now, next.after, ctx));
        out.push(self.render_step(step.action, ctx));
        out
    }

    fn decide_hint(&self) -> String {
        format!(
            "`/rfc decide {} accept|reject <rationale>` or the buttons on the RFC",
            self.name()
        )
    }

    /// The window closes: a summary, and the approver is asked to decide by a deadline.
    fn close(&mut self, now: DateTime<Utc>, ctx: &RfcContext<'_>) -> Vec<OutgoingMessage> {
        self.set_status(RfcStatus::AwaitingDecision, now, None);
        // The close is the ladder's thread mention; the rest of the ladder follows it.
        self.steps_taken = usize::from(
            ctx.ladder
                .first()
                .is_some_and(|s| s.action == StepAction::ThreadMention),
        );
        self.next_step_at = ctx
            .ladder
            .get(self.steps_taken)
            .map(|next| self.step_time(now, next.after, ctx));
        self.decide_by = self.next_step_at;
        let responded: Vec<String> = self
            .contributors
            .iter()
            .filter_map(|c| {
                self.responses
                    .get(c)
                    .map(|r| format!("{} ({})", ctx.name_of(c), r.label()))
            })
            .collect();
        let silent = self.silent_contributors();
        let mut text = format!("The comment window for *{}* has closed.\n", self.name());
        if self.contributors.is_empty() {
            text.push_str("No contributors were named.\n");
        } else {
            text.push_str(&format!(
                "Responded: {}.\n",
                if responded.is_empty() {
                    "nobody".to_owned()
                } else {
                    responded.join(", ")
                }
            ));
            if !silent.is_empty() {
                text.push_str(&format!(
                    "No response: {} (silence does not block).\n",
                    silent
                        .iter()
                        .map(|u| ctx.name_of(u))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        let by = match self.decide_by {
            Some(at) => format!(" by {}", slack_date(at)),
            None => String::new(),
        };
        text.push_str(&format!(
            "{}, please decide{by}: {}.",
            mention(&self.approver),
            self.decide_hint()
        ));
        // The summary is the approver's first nudge: it waits for their working time. The RFC
        // card changes at once.
        let (_, approver_tz) = ctx.clock_of(&self.approver, self.approver_tz);
        vec![
            self.thread(text)
                .in_working_time_of(self.approver.clone(), approver_tz),
            self.edit(),
        ]
    }

    fn render_step(&self, action: StepAction, ctx: &RfcContext<'_>) -> OutgoingMessage {
        let rfc_link = match &ctx.permalink {
            Some(url) => link(url, &format!("{}: {}", self.name(), self.title)),
            None => format!(
                "*{}: {}* in <#{}>",
                self.name(),
                escape(&self.title),
                self.channel
            ),
        };
        match action {
            StepAction::ThreadMention => self.thread(format!(
                "{}, *{}* is still waiting for your decision: {}.",
                mention(&self.approver),
                self.name(),
                self.decide_hint()
            )),
            StepAction::DirectMessage => OutgoingMessage::new(
                Destination::DirectMessage {
                    user: self.approver.clone(),
                },
                format!(
                    "{} is waiting for your decision since {}. Could you decide it now? {}. {rfc_link}",
                    self.name(),
                    slack_date(self.closes_at),
                    self.decide_hint()
                ),
            ),
            StepAction::SuggestCall => OutgoingMessage::new(
                Destination::GroupMessage {
                    users: vec![self.driver.clone(), self.approver.clone()],
                },
                format!(
                    "{} {}: *{}* has waited for a decision since {}. A 15-minute call usually settles it: \
                     pick a slot now. Afterwards, record the outcome with `/rfc decide {} accept|reject <rationale>` \
                     so it lands in the decision log. {rfc_link}",
                    mention(&self.driver),
                    mention(&self.approver),
                    self.name(),
                    slack_date(self.closes_at),
                    self.name()
                ),
            ),
        }
    }

    /// The approver decides. Returns the messages: the updated RFC, a note in its thread, the
    /// Informed channels and people.
    pub fn decide(
        &mut self,
        by: &str,
        verdict: Verdict,
        rationale: &str,
        now: DateTime<Utc>,
        ctx: &RfcContext<'_>,
    ) -> Result<Vec<OutgoingMessage>, RfcError> {
        if by != self.approver {
            return Err(RfcError::NotApprover {
                id: self.id,
                approver: self.approver.clone(),
            });
        }
        if !self.status.is_open() {
            return Err(RfcError::Closed {
                id: self.id,
                status: self.status,
            });
        }
        let status = match verdict {
            Verdict::Accept => RfcStatus::Accepted,
            Verdict::Reject => RfcStatus::Rejected,
        };
        self.set_status(status, now, Some(by));
        self.rationale = Some(rationale.trim().to_owned());
        self.decided_at = Some(now);
        self.next_step_at = None;
        self.remind_at = None;
        let verb = status.label().to_lowercase();
        let why = quote_slack(&shorten(rationale.trim(), MESSAGE_QUOTE_CHARS));
        let mut out = vec![
            self.edit(),
            self.thread(format!(
                "*{}* was *{verb}* by {}: {why}",
                self.name(),
                mention(by),
            )),
        ];
        let rfc_link = match &ctx.permalink {
            Some(url) => link(url, &format!("{}: {}", self.name(), self.title)),
            None => format!("*{}: {}*", self.name(), escape(&self.title)),
        };
        // Every line of the rationale is quoted, not only the first.
        let quoted = why
            .lines()
            .map(|line| format!(">{line}"))
            .collect::<Vec<_>>()
            .join("\n");
        let notice = format!(
            ":memo: {rfc_link} was *{verb}* by {} on {}.\n{quoted}",
            mention(by),
            slack_date(now),
        );
        for channel in &self.informed_channels {
            out.push(OutgoingMessage::new(
                Destination::Channel {
                    channel: channel.clone(),
                },
                notice.clone(),
            ));
        }
        for user in &self.informed_users {
            out.push(OutgoingMessage::new(
                Destination::DirectMessage { user: user.clone() },
                notice.clone(),
            ));
        }
        Ok(out)
    }

    /// The driver withdraws the RFC.
    pub fn withdraw(
        &mut self,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutgoingMessage>, RfcError> {
        if by != self.driver {
            return Err(RfcError::NotDriver {
                id: self.id,
                driver: self.driver.clone(),
            });
        }
        if !self.status.is_open() {
            return Err(RfcError::Closed {
                id: self.id,
                status: self.status,
            });
        }
        self.set_status(RfcStatus::Withdrawn, now, Some(by));
        self.next_step_at = None;
        self.remind_at = None;
        Ok(vec![
            self.edit(),
            self.thread(format!(
                "{} withdrew *{}*. No decision is needed.",
                mention(by),
                self.name()
            )),
        ])
    }

    /// Marks this (decided) record superseded by `new`.
    pub fn supersede_with(
        &mut self,
        new: &Rfc,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutgoingMessage>, RfcError> {
        if by != self.driver && by != self.approver {
            return Err(RfcError::CannotSupersede { id: self.id });
        }
        if !matches!(self.status, RfcStatus::Accepted | RfcStatus::Rejected) {
            return Err(RfcError::NotDecidedYet {
                id: self.id,
                status: self.status,
            });
        }
        self.set_status(RfcStatus::Superseded, now, Some(by));
        self.superseded_by = Some(new.id);
        Ok(vec![
            self.edit(),
            self.thread(format!(
                "*{}* is superseded by *{}: {}* (marked by {}).",
                self.name(),
                new.name(),
                escape(&new.title),
                mention(by)
            )),
        ])
    }

    /// The notification text of the RFC message.
    pub fn fallback_text(&self) -> String {
        format!(
            "{}: {} ({})",
            self.name(),
            escape(&self.title),
            self.status.label()
        )
    }

    /// The RFC's state in one line of mrkdwn: the card's status section.
    pub fn status_line(&self) -> String {
        match self.status {
            RfcStatus::Proposed => format!(
                ":speech_balloon: *Open for comments* until {}. Comment in this thread.",
                slack_date(self.closes_at)
            ),
            RfcStatus::AwaitingDecision => format!(
                ":hourglass_flowing_sand: *Awaiting decision* by {}{}.",
                mention(&self.approver),
                self.decide_by
                    .map(|at| format!(", by {}", slack_date(at)))
                    .unwrap_or_default()
            ),
            RfcStatus::Accepted | RfcStatus::Rejected => format!(
                "{} *{}* by {} on {}: {}",
                if self.status == RfcStatus::Accepted {
                    ":white_check_mark:"
                } else {
                    ":x:"
                },
                self.status.label(),
                mention(&self.approver),
                self.decided_at.map(slack_date).unwrap_or_default(),
                // Shortened after quoting: quoting escapes a stray `<` into four characters.
                shorten(
                    &quote_slack(self.rationale.as_deref().unwrap_or("")),
                    SECTION_TEXT_CHARS
                )
            ),
            RfcStatus::Withdrawn => ":no_entry_sign: *Withdrawn* by the driver.".to_owned(),
            RfcStatus::Superseded => format!(
                ":arrows_counterclockwise: *Superseded* by {}.",
                self.superseded_by.map(rfc_name).unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The team's default RFC settings, for tests here and in the feature's messages.
    pub(crate) fn settings() -> RfcSettings {
        RfcSettings {
            default_window: Duration::from_secs(48 * 3600),
            min_window: Duration::from_secs(3600),
            max_window: Duration::from_secs(14 * 24 * 3600),
            remind_before: Duration::from_secs(24 * 3600),
            clock: Clock::BusinessDays,
        }
    }

    fn ladder() -> Vec<LadderStep> {
        vec![
            LadderStep {
                after: Duration::ZERO,
                action: StepAction::ThreadMention,
            },
            LadderStep {
                after: Duration::from_secs(24 * 3600),
                action: StepAction::DirectMessage,
            },
            LadderStep {
                after: Duration::from_secs(12 * 3600),
                action: StepAction::SuggestCall,
            },
        ]
    }

    fn new_rfc() -> NewRfc {
        NewRfc {
            title: "Adopt Rust for the billing service".into(),
            context: String::new(),
            channel: "CARCH".into(),
            driver: "UALICE".into(),
            approver: "UBOB".into(),
            contributors: vec!["UCAROL".into(), "UDAVE".into()],
            informed_users: vec!["UERIN".into()],
            informed_channels: vec!["CANN".into()],
            window: Duration::from_secs(72 * 3600),
            driver_tz: chrono_tz::Europe::Berlin,
            approver_tz: chrono_tz::Europe::Berlin,
        }
    }

    /// Every mrkdwn text the messages carry (the card's blocks are drawn by the feature, and
    /// checked there).
    fn all_mrkdwn(messages: &[OutgoingMessage]) -> String {
        messages.iter().map(|m| m.text.as_str()).collect()
    }

    #[test]
    fn user_text_never_broadcasts() {
        let s = settings();
        let cal = BusinessCalendar::always();
        let ladder = ladder();
        let ctx = RfcContext {
            settings: &s,
            calendar: &cal,
            ladder: &ladder,
            permalink: Some("https://acme.slack.com/archives/CARCH/p1".into()),
            people: Default::default(),
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let mut new = new_rfc();
        // A title is plain text: whatever it holds is escaped on the way out.
        new.title = format!("<!here> {}", "t".repeat(142));
        // The context is mrkdwn (escaped from the modal, or as Slack sent it).
        new.context = format!("<!channel> see <@UCAROL|carol> {}", "c".repeat(5_000));
        let (mut rfc, mut out) = Rfc::open(12, new, now, &ctx);
        let rationale =
            "<!channel> because <@UCAROL|carol> measured it\nsecond line <!subteam^S1|@eng>";
        out.extend(
            rfc.decide("UBOB", Verdict::Accept, rationale, now, &ctx)
                .unwrap(),
        );
        // The card's status line quotes the rationale too.
        let everything = all_mrkdwn(&out) + &rfc.status_line();
        for broadcast in ["<!here", "<!channel", "<!everyone", "<!subteam"] {
            assert!(
                !everything.contains(broadcast),
                "{broadcast} in {everything}"
            );
        }
        assert!(
            everything.contains("<@UCAROL|carol> measured it"),
            "mentions stay mentions"
        );
        let notice = out
            .iter()
            .find(
                |m| matches!(&m.destination, Destination::Channel { channel } if channel == "CANN"),
            )
            .unwrap();
        assert!(
            notice.text.contains("\n>@\u{2060}channel because"),
            "{}",
            notice.text
        );
        assert!(
            notice.text.contains("\n>second line"),
            "every line is quoted: {}",
            notice.text
        );
    }

    #[test]
    fn the_lifecycle_runs_from_comments_to_decision() {
        let s = settings();
        let cal = BusinessCalendar::always();
        let ladder = ladder();
        let ctx = RfcContext {
            settings: &s,
            calendar: &cal,
            ladder: &ladder,
            permalink: None,
            people: Default::default(),
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let (mut rfc, out) = Rfc::open(12, new_rfc(), now, &ctx);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].tag.as_deref(), Some("rfc:12"));
        assert_eq!(rfc.closes_at, now + chrono::Duration::hours(72));
        assert_eq!(rfc.remind_at, Some(now + chrono::Duration::hours(48)));
        assert_eq!(rfc.next_due(), rfc.remind_at);

        assert!(rfc.respond("UCAROL", Response::Commented).unwrap());
        assert!(
            !rfc.respond("UCAROL", Response::NoComments).unwrap(),
            "a comment stays a comment"
        );
        assert_eq!(
            rfc.respond("UBOB", Response::NoComments),
            Err(RfcError::NotContributor { id: 12 })
        );

        let reminder = rfc.fire(now + chrono::Duration::hours(48), &ctx);
        assert_eq!(
            reminder.len(),
            1,
            "one reminder message, not one per person"
        );
        assert!(
            reminder[0].text.starts_with("<@UDAVE>:"),
            "{}",
            reminder[0].text
        );
        assert!(!reminder[0].text.contains("UCAROL"));
        assert!(
            rfc.fire(now + chrono::Duration::hours(49), &ctx).is_empty(),
            "once"
        );

        let close = rfc.fire(rfc.closes_at, &ctx);
        assert_eq!(rfc.status, RfcStatus::AwaitingDecision);
        assert!(
            close[0].text.contains("<@UBOB>, please decide by <!date^"),
            "{}",
            close[0].text
        );
        assert!(close[0].text.contains("<@UCAROL> (commented)"));
        assert!(close[0].text.contains("No response: <@UDAVE>"));
        assert_eq!(
            rfc.decide_by,
            Some(rfc.closes_at + chrono::Duration::hours(24))
        );

        let refused = rfc.decide("UCAROL", Verdict::Accept, "yes", now, &ctx);
        assert!(matches!(refused, Err(RfcError::NotApprover { .. })));
        let dm = rfc.fire(rfc.decide_by.unwrap(), &ctx);
        assert!(
            matches!(&dm[0].destination, Destination::DirectMessage { user } if user == "UBOB")
        );

        let decided_at = rfc.decide_by.unwrap() + chrono::Duration::hours(1);
        let out = rfc
            .decide(
                "UBOB",
                Verdict::Accept,
                "Safer and faster.",
                decided_at,
                &ctx,
            )
            .unwrap();
        assert_eq!(rfc.status, RfcStatus::Accepted);
        assert_eq!(rfc.next_due(), None, "the ladder stops");
        assert!(matches!(&out[0].destination, Destination::Edit { tag, .. } if tag == "rfc:12"));
        assert!(out[0].text.contains("Accepted"), "{}", out[0].text);
        assert!(out.iter().any(
            |m| matches!(&m.destination, Destination::Channel { channel } if channel == "CANN")
        ));
        assert!(out.iter().any(
            |m| matches!(&m.destination, Destination::DirectMessage { user } if user == "UERIN")
        ));
        assert!(matches!(
            rfc.decide("UBOB", Verdict::Reject, "no", decided_at, &ctx),
            Err(RfcError::Closed {
                status: RfcStatus::Accepted,
                ..
            })
        ));
        let statuses: Vec<_> = rfc.history.iter().map(|h| h.status).collect();
        assert_eq!(
            statuses,
            vec![
                RfcStatus::Proposed,
                RfcStatus::AwaitingDecision,
                RfcStatus::Accepted
            ]
        );
    }

    #[test]
    fn an_undecided_rfc_climbs_to_the_call() {
        let s = settings();
        let cal = BusinessCalendar::always();
        let ladder = ladder();
        let ctx = RfcContext {
            settings: &s,
            calendar: &cal,
            ladder: &ladder,
            permalink: Some("https://a.slack.com/archives/CARCH/p1".into()),
            people: Default::default(),
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let (mut rfc, _) = Rfc::open(3, new_rfc(), now, &ctx);
        rfc.fire(rfc.closes_at, &ctx);
        let dm = rfc.fire(rfc.next_step_at.unwrap(), &ctx);
        assert!(dm[0].text.contains("https://a.slack.com/archives/CARCH/p1"));
        let call = rfc.fire(rfc.next_step_at.unwrap(), &ctx);
        assert!(
            matches!(&call[0].destination, Destination::GroupMessage { users } if users == &vec!["UALICE".to_string(), "UBOB".to_string()])
        );
        assert!(call[0].text.contains("/rfc decide RFC-3"));
        assert_eq!(rfc.next_step_at, None);
    }

    #[test]
    fn withdraw_and_supersede_follow_the_roles() {
        let s = settings();
        let cal = BusinessCalendar::always();
        let ladder = ladder();
        let ctx = RfcContext {
            settings: &s,
            calendar: &cal,
            ladder: &ladder,
            permalink: None,
            people: Default::default(),
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let (mut a, _) = Rfc::open(1, new_rfc(), now, &ctx);
        let (mut b, _) = Rfc::open(2, new_rfc(), now, &ctx);
        assert!(matches!(
            a.withdraw("UBOB", now),
            Err(RfcError::NotDriver { .. })
        ));
        assert!(matches!(
            a.supersede_with(&b, "UALICE", now),
            Err(RfcError::NotDecidedYet { .. })
        ));
        a.decide("UBOB", Verdict::Accept, "ok", now, &ctx).unwrap();
        assert!(matches!(
            a.supersede_with(&b, "UCAROL", now),
            Err(RfcError::CannotSupersede { .. })
        ));
        a.supersede_with(&b, "UALICE", now).unwrap();
        assert_eq!(a.status, RfcStatus::Superseded);
        assert_eq!(a.superseded_by, Some(2));
        b.withdraw("UALICE", now).unwrap();
        assert_eq!(b.status, RfcStatus::Withdrawn);
        assert_eq!(b.next_due(), None);
    }

    #[test]
    fn the_reminder_counts_back_on_the_business_clock() {
        let s = settings();
        let cal = BusinessCalendar::office_hours();
        let ladder = ladder();
        let ctx = RfcContext {
            settings: &s,
            calendar: &cal,
            ladder: &ladder,
            permalink: None,
            people: Default::default(),
        };
        // Thursday 26 Nov 2026, 10:00 Berlin (09:00 UTC); 48 business hours: Monday 10:00.
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 9, 0, 0).unwrap();
        let mut new = new_rfc();
        new.window = Duration::from_secs(48 * 3600);
        let (rfc, _) = Rfc::open(1, new, now, &ctx);
        assert_eq!(
            rfc.closes_at,
            Utc.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap()
        );
        // 24 business hours before Monday 10:00 is Friday 10:00, not Sunday.
        assert_eq!(
            rfc.remind_at,
            Some(Utc.with_ymd_and_hms(2026, 11, 27, 9, 0, 0).unwrap())
        );
    }

    #[test]
    fn windows_are_checked_against_the_bounds() {
        let s = settings();
        assert!(check_window(Duration::from_secs(72 * 3600), &s).is_ok());
        let err = check_window(Duration::from_secs(60), &s).unwrap_err();
        assert!(err.contains("between 1 h and 336 h"), "{err}");
    }
}
