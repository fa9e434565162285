//! Response-time SLAs: which messages open a request, its tier, its deadline on the recipient's
//! clock, the escalation ladder it climbs when it stalls, and what closes it. Pure: every function
//! takes `now` and returns the new state and the messages to send, as data.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::{BusinessCalendar, Clock, local_to_utc, start_of_day};
use crate::domain::format::{excerpt, human_duration, link, mention, permalink, slack_date};
use crate::domain::outbox::{Destination, OutgoingMessage};

/// How fast a request expects an answer, chosen by markers in its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Urgent,
    Normal,
    Low,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Urgent => "urgent",
            Tier::Normal => "normal",
            Tier::Low => "low",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRule {
    pub within: Duration,
    pub clock: Clock,
    /// Lower-cased words, phrases or `:emoji:` that select this tier.
    pub markers: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepAction {
    ThreadMention,
    DirectMessage,
    SuggestCall,
}

impl StepAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "thread_mention" => Some(Self::ThreadMention),
            "direct_message" => Some(Self::DirectMessage),
            "suggest_call" => Some(Self::SuggestCall),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Self::ThreadMention => "a nudge in the thread",
            Self::DirectMessage => "a direct message to the recipient",
            Self::SuggestCall => "a 15-minute call suggested to both",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LadderStep {
    /// Wait since the previous step (the first step's since the deadline).
    pub after: Duration,
    pub action: StepAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaPolicy {
    /// A message mentioning more people than this is an announcement: it opens no requests.
    pub max_recipients: usize,
    pub urgent: TierRule,
    pub normal: TierRule,
    pub low: TierRule,
    /// Reaction names without colons (`eyes`).
    pub ack_reactions: Vec<String>,
    pub ladder: Vec<LadderStep>,
    /// An open request whose ladder has ended (or that has none) is closed as
    /// [`CancelReason::Expired`] this long (wall time) after its last step: nobody will answer
    /// it any more, and it should leave everyone's lists and, later, the store.
    pub forget_after: Duration,
}

impl SlaPolicy {
    pub fn rule(&self, tier: Tier) -> &TierRule {
        match tier {
            Tier::Urgent => &self.urgent,
            Tier::Normal => &self.normal,
            Tier::Low => &self.low,
        }
    }

    pub fn is_ack_reaction(&self, reaction: &str) -> bool {
        // Skin-tone variants arrive as `white_check_mark::skin-tone-2`.
        let base = reaction.split("::").next().unwrap_or(reaction);
        self.ack_reactions.iter().any(|r| r == base)
    }

    /// The tier a message's text asks for. Urgent markers win over low ones; a negated urgent
    /// marker ("not urgent", "non-urgent") does not count.
    pub fn classify(&self, text: &str) -> Tier {
        let lower = text.to_lowercase();
        if self.urgent.markers.iter().any(|m| has_marker(&lower, m)) {
            Tier::Urgent
        } else if self.low.markers.iter().any(|m| has_marker(&lower, m)) {
            Tier::Low
        } else {
            Tier::Normal
        }
    }
}

/// Whether lower-cased `text` carries `marker`: emoji anywhere, words and phrases as whole words,
/// not preceded by a negation.
fn has_marker(text: &str, marker: &str) -> bool {
    // Markers come from the config: compare them lower-cased like the text, and never search for
    // an empty one (it would match everywhere, and step past the end of the text).
    let marker = marker.trim().to_lowercase();
    let marker = marker.as_str();
    if marker.is_empty() {
        return false;
    }
    if marker.starts_with(':') && marker.ends_with(':') && marker.len() > 2 {
        return text.contains(marker);
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(pos) = text[from..].find(marker) {
        let start = from + pos;
        let end = start + marker.len();
        let before_ok = text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_word(c));
        let after_ok = text[end..].chars().next().is_none_or(|c| !is_word(c));
        if before_ok && after_ok && !negated(&text[..start]) {
            return true;
        }
        from = start + marker.len().max(1);
        while !text.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

/// True if the text right before a marker negates it: "not ", "non-", "no ", "isn't ".
fn negated(before: &str) -> bool {
    let trimmed = before.trim_end_matches([' ', '-']);
    let last_word = trimmed
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .next()
        .unwrap_or("");
    matches!(
        last_word,
        "not" | "non" | "no" | "isn't" | "isn’t" | "nothing" | "never"
    )
}

/// User ids mentioned in Slack text (`<@U123>` or `<@U123|name>`), first mention first, no repeats.
pub fn mentioned_users(text: &str) -> Vec<String> {
    let mut users: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        let after = &rest[start + 2..];
        let Some(close) = after.find('>') else { break };
        let inner = &after[..close];
        if inner.contains('<') {
            // `<@U1 <@U2>`: the first `<@` opens no token; look again from the next one.
            rest = after;
            continue;
        }
        let id = inner.split('|').next().unwrap_or("");
        let valid = id.len() >= 2
            && (id.starts_with('U') || id.starts_with('W'))
            && id.chars().all(|c| c.is_ascii_alphanumeric());
        if valid && !users.iter().any(|u| u == id) {
            users.push(id.to_owned());
        }
        rest = &after[close..];
    }
    users
}

// ---- a tracked request ---------------------------------------------------------------------------

/// How a request was answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Answer {
    ThreadReply,
    ChannelReply,
    Reaction {
        name: String,
    },
    /// The recipient pressed *Already answered* (in a call, in another thread, in person): an
    /// answer, so it counts in the answered metrics, at the moment of the press.
    MarkedAnswered,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    MentionEdited,
    MessageDeleted,
    /// A later lookup found the recipient is a bot, deactivated, or unknown to Slack.
    NotAPerson,
    /// Nobody answered it `sla.forget_after` after the ladder's last step: forgotten.
    Expired,
    /// The recipient pressed *Not for me*. A cancellation, not an answer: the asker's question is
    /// still unanswered, so counting it as answered would flatter the answer rate and the
    /// time-to-answer figures.
    NotForMe,
    /// A standup blocker that named the recipient was marked cleared by its author.
    BlockerCleared,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RequestState {
    Open,
    Answered {
        at: DateTime<Utc>,
        how: Answer,
    },
    Cancelled {
        at: DateTime<Utc>,
        why: CancelReason,
    },
}

/// One person's pending answer to one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaRequest {
    pub id: u64,
    pub channel: String,
    pub message_ts: String,
    /// The thread the request lives in: the message's `thread_ts`, or its own ts at top level.
    pub thread_root: String,
    pub author: String,
    pub recipient: String,
    pub recipient_tz: Tz,
    pub tier: Tier,
    pub excerpt: String,
    pub opened_at: DateTime<Utc>,
    /// When the SLA runs out on the recipient's clock.
    pub deadline: DateTime<Utc>,
    /// Ladder steps already posted.
    pub steps_taken: usize,
    /// When the next ladder step is due (inside the recipient's working time); `None` when the
    /// ladder is done or the request is closed.
    pub next_due: Option<DateTime<Utc>>,
    pub state: RequestState,
    /// What the recipient said with the buttons: an ETA, a snooze.
    #[serde(default)]
    pub respite: Respite,
}

/// What the recipient asked for with the buttons on a nudge: more time until an ETA they chose
/// (*On it, by …*), or a snooze until their next working day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Respite {
    /// The ETA the recipient promised; it replaced the deadline.
    #[serde(default)]
    pub eta: Option<DateTime<Utc>>,
    /// The recipient's local date of their last snooze: one snooze per request per day (a
    /// second press that day would only push the same nudge to the same morning again).
    #[serde(default)]
    pub snoozed_on: Option<NaiveDate>,
}

impl Respite {
    pub fn is_empty(&self) -> bool {
        self.eta.is_none() && self.snoozed_on.is_none()
    }
}

/// One ETA the recipient may pick with *On it, by …*: a label in their own words and time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtaChoice {
    /// "In 2 hours (Tue 15:00)": the time is the recipient's local time.
    pub label: String,
    pub at: DateTime<Utc>,
}

/// The ETAs offered at `now` to a recipient in `tz` working on `calendar`: in 2 hours, the end
/// of their working day, noon on their next working day, the end of their working week; each
/// later than `now`, earliest first, without repeats.
pub fn eta_choices(now: DateTime<Utc>, tz: Tz, calendar: &BusinessCalendar) -> Vec<EtaChoice> {
    let today = now.with_timezone(&tz).date_naive();
    // The end of the day's last working period; one that runs to midnight ends a minute
    // before, on the same date.
    let day_end = calendar
        .hours()
        .last()
        .and_then(|h| h.end)
        .unwrap_or_else(|| NaiveTime::from_hms_opt(23, 59, 0).unwrap_or(NaiveTime::MIN));
    let noon = NaiveTime::from_hms_opt(12, 0, 0).unwrap_or(NaiveTime::MIN);
    let next_working_day = (1..=366)
        .filter_map(|n| today.checked_add_days(chrono::Days::new(n)))
        .find(|d| calendar.is_working_day(*d));
    let mut candidates: Vec<(String, DateTime<Utc>)> =
        vec![("In 2 hours".into(), now + chrono::Duration::hours(2))];
    if calendar.is_working_day(today) {
        candidates.push(("End of my day".into(), local_to_utc(tz, today, day_end)));
    }
    if let Some(day) = next_working_day {
        let label = if Some(day) == today.succ_opt() {
            "Tomorrow noon".to_owned()
        } else {
            format!("{} noon", day.format("%A"))
        };
        candidates.push((label, local_to_utc(tz, day, noon)));
    }
    // The last working day of this week (Monday to Sunday), today included.
    let left_this_week = 6 - today.weekday().num_days_from_monday();
    if let Some(last) = (0..=left_this_week)
        .rev()
        .filter_map(|n| today.checked_add_days(chrono::Days::new(u64::from(n))))
        .find(|d| calendar.is_working_day(*d))
    {
        candidates.push(("End of this week".into(), local_to_utc(tz, last, day_end)));
    }
    let mut choices: Vec<EtaChoice> = Vec::new();
    for (label, at) in candidates {
        if at <= now || choices.iter().any(|c| c.at == at) {
            continue;
        }
        choices.push(EtaChoice {
            label: format!("{label} ({})", at.with_timezone(&tz).format("%a %H:%M")),
            at,
        });
    }
    choices.sort_by_key(|c| c.at);
    choices
}

/// What *On it, by …* did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtaOutcome {
    /// The ETA is the new deadline; the ladder waits until then.
    Set,
    /// The same ETA again (a double press): nothing changed.
    Unchanged,
    /// The chosen time has already passed (the message waited a while): nothing changed.
    Passed,
    /// The request is closed: nothing changed.
    Closed,
}

/// What *Snooze until tomorrow* did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnoozeOutcome {
    /// The next step waits until this moment (the start of their next working day, or later
    /// if it was due later anyway).
    Snoozed(DateTime<Utc>),
    /// Already snoozed today (their date): nothing changed; the next step is due then.
    AlreadyToday(Option<DateTime<Utc>>),
    /// The ladder has ended: no nudge is left to snooze.
    NothingLeft,
    /// The request is closed: nothing changed.
    Closed,
}

/// What opens a request: one mention of one person in one message.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub channel: String,
    pub message_ts: String,
    pub thread_ts: Option<String>,
    pub author: String,
    pub recipient: String,
    pub recipient_tz: Tz,
    pub text: String,
}

/// The request a tag on one of our messages (`sla:7:nudge`, `sla:7:dm`) belongs to.
pub fn request_of_tag(tag: &str) -> Option<u64> {
    let rest = tag.strip_prefix("sla:")?;
    rest.split(':').next()?.parse().ok()
}

/// What the ladder needs besides the request: the norms, the calendar and the workspace URL.
pub struct LadderContext<'a> {
    pub policy: &'a SlaPolicy,
    pub calendar: &'a BusinessCalendar,
    /// `https://team.slack.com/` from `auth.test`, for links; `None` before it is known.
    pub team_url: Option<&'a str>,
    /// The asker's display name: the nudge in the thread names them rather than @-mentioning
    /// them (it is for the recipient; the asker is not pinged, perhaps at night). `None`: the
    /// mention stands in.
    pub author_name: Option<String>,
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl SlaRequest {
    pub fn open(id: u64, new: NewRequest, now: DateTime<Utc>, ctx: &LadderContext<'_>) -> Self {
        let tier = ctx.policy.classify(&new.text);
        Self::open_as(id, new, tier, now, ctx)
    }

    /// A request on a given tier, whatever its text's markers say (a standup blocker is on
    /// the normal tier).
    pub fn open_as(
        id: u64,
        new: NewRequest,
        tier: Tier,
        now: DateTime<Utc>,
        ctx: &LadderContext<'_>,
    ) -> Self {
        let mut request = SlaRequest {
            id,
            thread_root: new
                .thread_ts
                .clone()
                .unwrap_or_else(|| new.message_ts.clone()),
            channel: new.channel,
            message_ts: new.message_ts,
            author: new.author,
            recipient: new.recipient,
            recipient_tz: new.recipient_tz,
            tier,
            excerpt: excerpt(&new.text, 140),
            opened_at: now,
            deadline: now,
            steps_taken: 0,
            next_due: None,
            state: RequestState::Open,
            respite: Respite::default(),
        };
        request.schedule_from_start(ctx);
        request
    }

    pub fn is_open(&self) -> bool {
        self.state == RequestState::Open
    }

    /// When it was answered or cancelled; `None` while open.
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        match &self.state {
            RequestState::Open => None,
            RequestState::Answered { at, .. } | RequestState::Cancelled { at, .. } => Some(*at),
        }
    }

    /// Whether every ladder step has been taken: what is left is its expiry.
    pub fn ladder_done(&self, policy: &SlaPolicy) -> bool {
        self.steps_taken >= policy.ladder.len()
    }

    /// An open request with no timer (stored by a version that did not expire requests, once
    /// its ladder ended) expires `forget_after` from `now`. Returns whether it changed.
    pub fn expire_later(&mut self, now: DateTime<Utc>, forget_after: Duration) -> bool {
        if !self.is_open() || self.next_due.is_some() {
            return false;
        }
        self.next_due = Some(now + to_chrono(forget_after));
        true
    }

    fn clock(&self, policy: &SlaPolicy) -> Clock {
        policy.rule(self.tier).clock
    }

    /// Sets the deadline and the first step from `opened_at` and the tier.
    fn schedule_from_start(&mut self, ctx: &LadderContext<'_>) {
        let rule = ctx.policy.rule(self.tier);
        self.deadline = ctx.calendar.add(
            rule.clock,
            self.opened_at,
            self.recipient_tz,
            to_chrono(rule.within),
        );
        self.next_due = Some(match ctx.policy.ladder.first() {
            Some(step) => self.step_time(self.deadline, step.after, ctx),
            // No ladder: tracked without nudging, and forgotten that long after the deadline.
            None => self.deadline + to_chrono(ctx.policy.forget_after),
        });
    }

    /// When a step waiting `after` from `base` may be posted: counted on the tier's clock, then
    /// moved out of the recipient's quiet hours.
    fn step_time(
        &self,
        base: DateTime<Utc>,
        after: Duration,
        ctx: &LadderContext<'_>,
    ) -> DateTime<Utc> {
        let raw = ctx.calendar.add(
            self.clock(ctx.policy),
            base,
            self.recipient_tz,
            to_chrono(after),
        );
        ctx.calendar.next_working_time(raw, self.recipient_tz)
    }

    /// The text was edited: a new tier applies if no step has been posted yet.
    pub fn retier(&mut self, text: &str, ctx: &LadderContext<'_>) {
        let tier = ctx.policy.classify(text);
        self.excerpt = excerpt(text, 140);
        if self.is_open() && self.steps_taken == 0 && tier != self.tier {
            self.tier = tier;
            self.schedule_from_start(ctx);
        }
    }

    /// The recipient's time zone became known (the first lookup failed and the request started
    /// on the fallback zone): the deadline is counted again from the start if no step has been
    /// posted yet; otherwise only later steps use the new zone.
    pub fn retime(&mut self, tz: Tz, ctx: &LadderContext<'_>) {
        if self.recipient_tz == tz {
            return;
        }
        self.recipient_tz = tz;
        if self.is_open() && self.steps_taken == 0 {
            self.schedule_from_start(ctx);
        }
    }

    /// A step came due at a moment outside the recipient's working time (the bot was down or
    /// behind): it moves to the start of their next working period instead of landing at 3 a.m.
    /// Returns whether it moved.
    pub fn defer_out_of_quiet_hours(
        &mut self,
        now: DateTime<Utc>,
        ctx: &LadderContext<'_>,
    ) -> bool {
        match self.next_due {
            // An expiry posts nothing: it need not wait for working time.
            Some(due) if self.is_open() && due <= now && !self.ladder_done(ctx.policy) => {
                if ctx.calendar.is_working_time(now, self.recipient_tz) {
                    return false;
                }
                self.next_due = Some(ctx.calendar.next_working_time(now, self.recipient_tz));
                true
            }
            _ => false,
        }
    }

    pub fn answer(&mut self, how: Answer, now: DateTime<Utc>) {
        if self.is_open() {
            self.state = RequestState::Answered { at: now, how };
            self.next_due = None;
        }
    }

    pub fn cancel(&mut self, why: CancelReason, now: DateTime<Utc>) {
        if self.is_open() {
            self.state = RequestState::Cancelled { at: now, why };
            self.next_due = None;
        }
    }

    /// *On it, by …*: the recipient promises an answer by `eta`. The ETA replaces the deadline;
    /// the ladder waits until then (moved into their working time) and continues from the step
    /// it was at; after the last step, the expiry counts from the ETA.
    pub fn promise_eta(
        &mut self,
        eta: DateTime<Utc>,
        now: DateTime<Utc>,
        ctx: &LadderContext<'_>,
    ) -> EtaOutcome {
        if !self.is_open() {
            return EtaOutcome::Closed;
        }
        if eta <= now {
            return EtaOutcome::Passed;
        }
        if self.respite.eta == Some(eta) {
            return EtaOutcome::Unchanged;
        }
        self.respite.eta = Some(eta);
        self.deadline = eta;
        self.next_due = Some(if self.ladder_done(ctx.policy) {
            eta + to_chrono(ctx.policy.forget_after)
        } else {
            ctx.calendar.next_working_time(eta, self.recipient_tz)
        });
        EtaOutcome::Set
    }

    /// *Snooze until tomorrow*: the next step waits until the start of the recipient's next
    /// working day (never earlier than it was due). Once per request per day, their date.
    pub fn snooze(&mut self, now: DateTime<Utc>, ctx: &LadderContext<'_>) -> SnoozeOutcome {
        if !self.is_open() {
            return SnoozeOutcome::Closed;
        }
        if self.ladder_done(ctx.policy) {
            return SnoozeOutcome::NothingLeft;
        }
        let tz = self.recipient_tz;
        let today = now.with_timezone(&tz).date_naive();
        if self.respite.snoozed_on == Some(today) {
            return SnoozeOutcome::AlreadyToday(self.next_due);
        }
        let tomorrow = today.succ_opt().unwrap_or(today);
        let until = ctx
            .calendar
            .next_working_time(start_of_day(tz, tomorrow), tz);
        let until = self.next_due.map_or(until, |due| due.max(until));
        self.next_due = Some(until);
        self.respite.snoozed_on = Some(today);
        SnoozeOutcome::Snoozed(until)
    }

    /// The ladder steps already posted, each with the tag its message carries: the messages
    /// whose buttons change when the request closes by a button.
    pub fn posted_steps(&self, policy: &SlaPolicy) -> Vec<(StepAction, String)> {
        policy
            .ladder
            .iter()
            .take(self.steps_taken)
            .map(|step| (step.action, self.step_tag(step.action)))
            .collect()
    }

    /// The tag of this request's message for `action`: `sla:7:nudge`, `sla:7:dm`, `sla:7:call`.
    pub fn step_tag(&self, action: StepAction) -> String {
        let kind = match action {
            StepAction::ThreadMention => "nudge",
            StepAction::DirectMessage => "dm",
            StepAction::SuggestCall => "call",
        };
        format!("sla:{}:{kind}", self.id)
    }

    /// Posts the ladder step that is due at `now`, if any, and schedules the next one from `now`
    /// (so a step delayed by downtime still leaves the recipient the full wait before the next).
    /// After the last step, the next due time is the request's expiry, `forget_after` later;
    /// when that comes, it is closed as [`CancelReason::Expired`].
    pub fn take_due_step(
        &mut self,
        now: DateTime<Utc>,
        ctx: &LadderContext<'_>,
    ) -> Vec<OutgoingMessage> {
        let Some(due) = self.next_due else {
            return Vec::new();
        };
        if !self.is_open() || due > now {
            return Vec::new();
        }
        let forget_after = to_chrono(ctx.policy.forget_after);
        let Some(step) = ctx.policy.ladder.get(self.steps_taken).cloned() else {
            // The ladder has ended. The last step came after the deadline, so an expiry is never
            // earlier than `deadline + forget_after`; a timer before that was set for a step the
            // ladder no longer has (it was shortened meanwhile): the expiry counts from now.
            if now >= self.deadline + forget_after {
                self.cancel(CancelReason::Expired, now);
            } else {
                self.next_due = Some(now + forget_after);
            }
            return Vec::new();
        };
        self.steps_taken += 1;
        self.next_due = Some(match ctx.policy.ladder.get(self.steps_taken) {
            Some(next) => self.step_time(now, next.after, ctx),
            None => now + forget_after,
        });
        // Checked again when it goes out: delivery may be behind, or the bot down.
        vec![
            self.render(step.action, ctx)
                .in_working_time_of(self.recipient.clone(), self.recipient_tz),
        ]
    }

    /// What the asker reads, privately in the request's channel, when the recipient picks an
    /// ETA: the time shows in the asker's own zone (Slack renders `<!date>` for each reader).
    pub fn eta_note_for_asker(&self, eta: DateTime<Utc>, ctx: &LadderContext<'_>) -> String {
        format!(
            "{} is on it and expects to answer by {} your time. {}",
            mention(&self.recipient),
            slack_date(eta),
            self.link_to_message(ctx, "Your request")
        )
    }

    /// What the asker reads, privately in the request's channel, after *Not for me*.
    pub fn not_for_me_note_for_asker(&self, ctx: &LadderContext<'_>) -> String {
        format!(
            "{} says your request isn't for them: {}. It is no longer tracked; you may ask someone else.",
            mention(&self.recipient),
            self.link_to_message(ctx, "the request")
        )
    }

    /// The line that replaces the buttons on the ladder's messages once a button closed the
    /// request; `None` while it is open or when something else closed it.
    pub fn closed_by_button_note(&self) -> Option<String> {
        match &self.state {
            RequestState::Answered {
                at,
                how: Answer::MarkedAnswered,
            } => Some(format!(
                ":white_check_mark: {} marked this answered, {}. Nothing more will be sent about it.",
                mention(&self.recipient),
                slack_date(*at)
            )),
            RequestState::Cancelled {
                at,
                why: CancelReason::NotForMe,
            } => Some(format!(
                ":leftwards_arrow_with_hook: {} said this isn't for them, {}; {} was told. Nothing more will be sent about it.",
                mention(&self.recipient),
                slack_date(*at),
                mention(&self.author)
            )),
            _ => None,
        }
    }

    fn link_to_message(&self, ctx: &LadderContext<'_>, label: &str) -> String {
        match ctx.team_url {
            Some(url) => {
                let thread =
                    (self.thread_root != self.message_ts).then_some(self.thread_root.as_str());
                link(
                    &permalink(url, &self.channel, &self.message_ts, thread),
                    label,
                )
            }
            None => format!("{label} in <#{}>", self.channel),
        }
    }

    /// The message of ladder step `action` (its text and where it goes; the buttons are added
    /// by the feature).
    pub fn render(&self, action: StepAction, ctx: &LadderContext<'_>) -> OutgoingMessage {
        let rule = ctx.policy.rule(self.tier);
        let waited = human_duration(rule.within);
        let since = slack_date(self.opened_at);
        let (recipient, author) = (mention(&self.recipient), mention(&self.author));
        let author_named = ctx
            .author_name
            .as_deref()
            .map_or_else(|| author.clone(), crate::domain::format::escape);
        match action {
            StepAction::ThreadMention => OutgoingMessage::new(
                Destination::Thread {
                    channel: self.channel.clone(),
                    thread_ts: self.thread_root.clone(),
                },
                format!(
                    "{recipient}, {author_named}'s request has waited {waited} ({tier} SLA), since {since}. \
                     A reply in this thread, or a :{ack}: reaction (on their message or on this one), lets them know you have seen it.",
                    tier = self.tier.as_str(),
                    ack = ctx
                        .policy
                        .ack_reactions
                        .first()
                        .map_or("eyes", String::as_str),
                ),
            )
            .tagged(self.step_tag(StepAction::ThreadMention)),
            StepAction::DirectMessage => OutgoingMessage::new(
                Destination::DirectMessage {
                    user: self.recipient.clone(),
                },
                format!(
                    "{author} is waiting on you, since {since}:\n> {quote}\nCould you reply in the thread, \
                     or react :{ack}: (there or here) if you need more time? {link}",
                    // The request came from Slack: mentions stay mentions, broadcasts go inert.
                    quote = crate::domain::format::quote_slack(&self.excerpt),
                    ack = ctx
                        .policy
                        .ack_reactions
                        .first()
                        .map_or("eyes", String::as_str),
                    link = self.link_to_message(ctx, "Open the message"),
                ),
            )
            .tagged(self.step_tag(StepAction::DirectMessage)),
            StepAction::SuggestCall => OutgoingMessage::new(
                Destination::GroupMessage {
                    users: vec![self.author.clone(), self.recipient.clone()],
                },
                format!(
                    "{author} {recipient}: this request has waited since {since}, through a nudge and a direct message. \
                     A 15-minute call usually settles it: pick a slot now. Afterwards, write the outcome in the thread \
                     so the next similar question is answered there. {link}",
                    link = self.link_to_message(ctx, "The request"),
                ),
            )
            .tagged(self.step_tag(StepAction::SuggestCall)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rule(hours: u64, clock: Clock, markers: &[&str]) -> TierRule {
        TierRule {
            within: Duration::from_secs(hours * 3600),
            clock,
            markers: markers.iter().map(|m| m.to_string()).collect(),
        }
    }

    pub(crate) fn policy() -> SlaPolicy {
        SlaPolicy {
            max_recipients: 8,
            urgent: rule(2, Clock::Wall, &["urgent", "asap", ":rotating_light:"]),
            normal: rule(24, Clock::BusinessDays, &[]),
            low: rule(48, Clock::BusinessDays, &["fyi", "no rush", ":turtle:"]),
            ack_reactions: vec!["eyes".into(), "white_check_mark".into()],
            ladder: vec![
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
            ],
            forget_after: Duration::from_secs(30 * 24 * 3600),
        }
    }

    #[test]
    fn tiers_follow_markers() {
        let p = policy();
        let cases = [
            ("<@U1> can you review the Q3 budget doc?", Tier::Normal),
            ("URGENT <@U1> prod is down", Tier::Urgent),
            ("<@U1> :rotating_light: build broken", Tier::Urgent),
            ("<@U1> need this asap please", Tier::Urgent),
            ("fyi <@U1> new doc is up", Tier::Low),
            ("FYI: <@U1> no rush on this", Tier::Low),
            ("<@U1> :turtle: whenever", Tier::Low),
            ("<@U1> not urgent, fyi", Tier::Low),
            ("<@U1> this is non-urgent", Tier::Normal),
            ("<@U1> fyi but also URGENT", Tier::Urgent),
            ("<@U1> the urgently-needed report", Tier::Normal),
            ("<@U1> #urgent", Tier::Urgent),
            ("<@U1> fyifyi", Tier::Normal),
            ("<@U1> non urgent", Tier::Normal),
        ];
        for (text, want) in cases {
            assert_eq!(p.classify(text), want, "{text}");
        }
    }

    #[test]
    fn mentions_are_parsed_in_order_without_repeats() {
        let cases: &[(&str, &[&str])] = &[
            ("<@U1> and <@W2|bob> and <@U1>", &["U1", "W2"]),
            ("no mentions, <!here> <!subteam^S1|team> <#C1|chan>", &[]),
            ("broken <@U1", &[]),
            ("<@U123ABC|alice>?", &["U123ABC"]),
            ("<@>", &[]),
            ("<@bad id>", &[]),
            ("<@U1 <@U2>", &["U2"]),
            ("İİ <@U\u{212A}> <@UİX> <@U3|İ>", &["U3"]),
        ];
        for (text, want) in cases {
            assert_eq!(mentioned_users(text), *want, "{text}");
        }
    }

    #[test]
    fn markers_survive_text_whose_lower_case_changes_length() {
        let p = policy();
        assert_eq!(p.classify("İİİİ urgent <@U1>"), Tier::Urgent);
        assert_eq!(p.classify("\u{212A}\u{212A} fyi"), Tier::Low);
        assert_eq!(p.classify("İ"), Tier::Normal);
        // An empty or upper-case marker from the config neither loops nor misses.
        assert!(!has_marker("abc", ""));
        assert!(!has_marker("abc", "  "));
        assert!(has_marker("x urgent", "URGENT"));
    }

    #[test]
    fn the_dm_quotes_the_request_as_slack_shows_it() {
        let p = policy();
        let cal = BusinessCalendar::always();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        let text = "<@UBOB|bob> can you review <#C9|dev> &amp; <https://x.io|the doc>? <!channel> <!subteam^S1|@eng>";
        let r = SlaRequest::open(1, new_request(chrono_tz::UTC, text), now, &ctx);
        let dm = r.render(StepAction::DirectMessage, &ctx);
        assert!(
            dm.text
                .contains("> <@UBOB|bob> can you review <#C9|dev> &amp; <https://x.io|the doc>?"),
            "mentions, channels and links render, not &lt;@UBOB&gt;: {}",
            dm.text
        );
        assert!(!dm.text.contains("&lt;@"), "{}", dm.text);
        assert!(!dm.text.contains("<!channel>"), "{}", dm.text);
        assert!(!dm.text.contains("<!subteam"), "{}", dm.text);
    }

    #[test]
    fn ack_reactions_accept_skin_tones() {
        let p = policy();
        assert!(p.is_ack_reaction("eyes"));
        assert!(p.is_ack_reaction("white_check_mark::skin-tone-3"));
        assert!(!p.is_ack_reaction("heart"));
    }

    pub(crate) fn new_request(tz: Tz, text: &str) -> NewRequest {
        NewRequest {
            channel: "C1".into(),
            message_ts: "1700000000.000100".into(),
            thread_ts: None,
            author: "UALICE".into(),
            recipient: "UBOB".into(),
            recipient_tz: tz,
            text: text.into(),
        }
    }

    #[test]
    fn the_ladder_climbs_once_per_step_on_the_recipients_clock() {
        let p = policy();
        let cal = BusinessCalendar::office_hours();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: Some("https://acme.slack.com/"),
            author_name: None,
        };
        let tz = chrono_tz::America::New_York;
        // Friday 2026-11-20 10:00 in New York.
        let opened = tz
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        let mut r = SlaRequest::open(1, new_request(tz, "<@UBOB> budget?"), opened, &ctx);
        assert_eq!(r.tier, Tier::Normal);
        let monday_10 = tz
            .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(r.deadline, monday_10, "weekend does not count");
        assert_eq!(r.next_due, Some(monday_10));
        assert!(
            r.take_due_step(monday_10 - chrono::Duration::seconds(1), &ctx)
                .is_empty()
        );

        let out = r.take_due_step(monday_10, &ctx);
        assert_eq!(out.len(), 1);
        assert!(matches!(out[0].destination, Destination::Thread { .. }));
        assert!(
            out[0]
                .text
                .contains("<@UBOB>, <@UALICE>'s request has waited 24 h (normal SLA)")
        );
        assert!(out[0].text.contains("<!date^"));
        // The same instant again posts nothing: each step once.
        assert!(r.take_due_step(monday_10, &ctx).is_empty());

        let tuesday_10 = monday_10 + chrono::Duration::hours(24);
        assert_eq!(r.next_due, Some(tuesday_10));
        let out = r.take_due_step(tuesday_10, &ctx);
        assert!(
            matches!(&out[0].destination, Destination::DirectMessage { user } if user == "UBOB")
        );
        assert!(
            out[0]
                .text
                .contains("https://acme.slack.com/archives/C1/p1700000000000100")
        );

        // Tuesday 22:00 is outside working hours: the call suggestion waits for Wednesday 09:00.
        let wednesday_9 = tz
            .with_ymd_and_hms(2026, 11, 25, 9, 0, 0)
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(r.next_due, Some(wednesday_9));
        let out = r.take_due_step(wednesday_9, &ctx);
        assert!(
            matches!(&out[0].destination, Destination::GroupMessage { users } if users == &vec!["UALICE".to_string(), "UBOB".to_string()])
        );
        assert!(out[0].text.contains("15-minute call"));
        // The ladder has ended: what is left is the expiry, 30 days (wall time) later.
        let expiry = wednesday_9 + chrono::Duration::days(30);
        assert_eq!(r.next_due, Some(expiry));
        assert!(r.is_open());
        // At 3 a.m. their time it still expires: it posts nothing, so quiet hours do not matter.
        let night = expiry + chrono::Duration::hours(1);
        assert!(!r.defer_out_of_quiet_hours(night, &ctx));
        assert!(
            r.take_due_step(expiry - chrono::Duration::seconds(1), &ctx)
                .is_empty()
        );
        assert!(r.is_open());
        assert!(r.take_due_step(night, &ctx).is_empty());
        assert_eq!(
            r.state,
            RequestState::Cancelled {
                at: night,
                why: CancelReason::Expired
            }
        );
        assert_eq!(r.next_due, None);
        assert_eq!(r.closed_at(), Some(night));
    }

    #[test]
    fn without_a_ladder_a_request_is_forgotten_after_its_deadline() {
        let mut p = policy();
        p.ladder.clear();
        let cal = BusinessCalendar::always();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        let mut r = SlaRequest::open(1, new_request(chrono_tz::UTC, "<@UBOB> hi"), now, &ctx);
        let expiry = r.deadline + chrono::Duration::days(30);
        assert_eq!(r.next_due, Some(expiry));
        assert!(r.take_due_step(expiry, &ctx).is_empty());
        assert!(matches!(
            r.state,
            RequestState::Cancelled {
                why: CancelReason::Expired,
                ..
            }
        ));
    }

    #[test]
    fn a_shortened_ladder_counts_the_expiry_from_its_old_step() {
        let p = policy();
        let cal = BusinessCalendar::always();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        let mut r = SlaRequest::open(1, new_request(chrono_tz::UTC, "<@UBOB> hi"), now, &ctx);
        // Two steps taken; the third was due when the ladder was cut to two.
        r.steps_taken = 2;
        let due = r.deadline + chrono::Duration::hours(36);
        r.next_due = Some(due);
        let mut short = p.clone();
        short.ladder.truncate(2);
        let ctx = LadderContext {
            policy: &short,
            ..ctx
        };
        assert!(r.take_due_step(due, &ctx).is_empty());
        assert!(r.is_open(), "not forgotten before forget_after has passed");
        assert_eq!(r.next_due, Some(due + chrono::Duration::days(30)));
    }

    #[test]
    fn an_old_request_without_a_timer_expires_later() {
        let p = policy();
        let cal = BusinessCalendar::always();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        let mut r = SlaRequest::open(1, new_request(chrono_tz::UTC, "<@UBOB> hi"), now, &ctx);
        assert!(
            !r.expire_later(now, p.forget_after),
            "it has a timer already"
        );
        r.next_due = None;
        assert!(r.expire_later(now, p.forget_after));
        assert_eq!(r.next_due, Some(now + chrono::Duration::days(30)));
        r.answer(Answer::ThreadReply, now);
        assert!(
            !r.expire_later(now, p.forget_after),
            "a closed request never expires"
        );
    }

    #[test]
    fn an_answer_stops_the_ladder() {
        let p = policy();
        let cal = BusinessCalendar::always();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        let mut r = SlaRequest::open(1, new_request(chrono_tz::UTC, "urgent <@UBOB>"), now, &ctx);
        assert_eq!(r.tier, Tier::Urgent);
        assert_eq!(r.deadline, now + chrono::Duration::hours(2));
        r.answer(Answer::ThreadReply, now + chrono::Duration::minutes(5));
        assert_eq!(r.next_due, None);
        assert!(
            r.take_due_step(now + chrono::Duration::hours(3), &ctx)
                .is_empty()
        );
        // Closing twice keeps the first answer.
        r.cancel(
            CancelReason::MessageDeleted,
            now + chrono::Duration::hours(4),
        );
        assert!(matches!(r.state, RequestState::Answered { .. }));
    }

    #[test]
    fn an_edit_changes_the_tier_until_the_first_nudge() {
        let p = policy();
        let cal = BusinessCalendar::always();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
        let mut r = SlaRequest::open(1, new_request(chrono_tz::UTC, "<@UBOB> hi"), now, &ctx);
        assert_eq!(r.deadline, now + chrono::Duration::hours(24));
        r.retier("<@UBOB> hi, urgent", &ctx);
        assert_eq!(r.tier, Tier::Urgent);
        assert_eq!(r.deadline, now + chrono::Duration::hours(2));
    }
    fn ny(local: &str) -> DateTime<Utc> {
        let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").unwrap();
        chrono_tz::America::New_York
            .from_local_datetime(&naive)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn eta_choices_follow_the_recipients_calendar_and_show_their_local_time() {
        let cal = BusinessCalendar::office_hours();
        let tz = chrono_tz::America::New_York;
        // Tuesday 2026-11-24 13:00 in New York; office hours end at 18:00.
        let choices = eta_choices(ny("2026-11-24 13:00"), tz, &cal);
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "In 2 hours (Tue 15:00)",
                "End of my day (Tue 18:00)",
                "Tomorrow noon (Wed 12:00)",
                "End of this week (Fri 18:00)",
            ]
        );
        assert_eq!(choices[1].at, ny("2026-11-24 18:00"));
        // Friday at 17:00: the end of the day is the end of the week (once), and the next
        // working day is Monday.
        let friday = eta_choices(ny("2026-11-27 17:00"), tz, &cal);
        let labels: Vec<&str> = friday.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "End of my day (Fri 18:00)",
                "In 2 hours (Fri 19:00)",
                "Monday noon (Mon 12:00)",
            ]
        );
        // Saturday: no working day is left this week; nothing in the past is offered.
        let saturday = eta_choices(ny("2026-11-28 10:00"), tz, &cal);
        assert!(saturday.iter().all(|c| c.at > ny("2026-11-28 10:00")));
        assert!(saturday.iter().all(|c| !c.label.starts_with("End of")));
    }

    fn ctx_parts() -> (SlaPolicy, BusinessCalendar) {
        (policy(), BusinessCalendar::office_hours())
    }

    #[test]
    fn an_eta_replaces_the_deadline_and_the_ladder_waits_for_it() {
        let (p, cal) = ctx_parts();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let tz = chrono_tz::America::New_York;
        let opened = ny("2026-11-23 10:00");
        let mut r = SlaRequest::open(1, new_request(tz, "<@UBOB> budget?"), opened, &ctx);
        // The nudge went out at the deadline, Tuesday 10:00; Bob promises Thursday noon.
        assert_eq!(r.take_due_step(ny("2026-11-24 10:00"), &ctx).len(), 1);
        let now = ny("2026-11-24 11:00");
        let eta = ny("2026-11-26 12:00");
        assert_eq!(r.promise_eta(eta, now, &ctx), EtaOutcome::Set);
        assert_eq!(r.deadline, eta);
        assert_eq!(r.next_due, Some(eta));
        assert_eq!(r.respite.eta, Some(eta));
        assert_eq!(r.promise_eta(eta, now, &ctx), EtaOutcome::Unchanged);
        assert_eq!(r.promise_eta(now, now, &ctx), EtaOutcome::Passed);
        // Nothing before the ETA; then the ladder goes on from its second step, the DM.
        assert!(
            r.take_due_step(eta - chrono::Duration::minutes(1), &ctx)
                .is_empty()
        );
        let out = r.take_due_step(eta, &ctx);
        assert!(matches!(
            &out[0].destination,
            Destination::DirectMessage { .. }
        ));
        assert_eq!(r.steps_taken, 2);
        // An ETA at night waits for the recipient's morning.
        let night = ny("2026-11-26 23:00");
        assert_eq!(r.promise_eta(night, eta, &ctx), EtaOutcome::Set);
        assert_eq!(r.next_due, Some(ny("2026-11-27 09:00")));
        r.answer(Answer::MarkedAnswered, night);
        assert_eq!(
            r.promise_eta(night + chrono::Duration::hours(9), night, &ctx),
            EtaOutcome::Closed
        );
    }

    #[test]
    fn an_eta_after_the_last_step_moves_the_expiry() {
        let (p, cal) = ctx_parts();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let now = ny("2026-11-24 10:00");
        let mut r = SlaRequest::open(
            1,
            new_request(chrono_tz::America::New_York, "<@UBOB> x"),
            now,
            &ctx,
        );
        r.steps_taken = p.ladder.len();
        let eta = ny("2026-11-25 10:00");
        assert_eq!(r.promise_eta(eta, now, &ctx), EtaOutcome::Set);
        assert_eq!(r.next_due, Some(eta + chrono::Duration::days(30)));
    }

    #[test]
    fn a_snooze_waits_for_the_next_working_day_once_a_day() {
        let (p, cal) = ctx_parts();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let tz = chrono_tz::America::New_York;
        let mut r = SlaRequest::open(
            1,
            new_request(tz, "<@UBOB> budget?"),
            ny("2026-11-23 10:00"),
            &ctx,
        );
        assert_eq!(r.take_due_step(ny("2026-11-24 10:00"), &ctx).len(), 1);
        // The DM is due Wednesday 10:00; a snooze on Tuesday leaves it there (never earlier).
        assert_eq!(r.next_due, Some(ny("2026-11-25 10:00")));
        assert_eq!(
            r.snooze(ny("2026-11-24 11:00"), &ctx),
            SnoozeOutcome::Snoozed(ny("2026-11-25 10:00"))
        );
        assert_eq!(
            r.snooze(ny("2026-11-24 17:00"), &ctx),
            SnoozeOutcome::AlreadyToday(Some(ny("2026-11-25 10:00")))
        );
        // Friday: the DM, due at 10:00, is snoozed to Monday 09:00.
        r.next_due = Some(ny("2026-11-27 10:00"));
        assert_eq!(
            r.snooze(ny("2026-11-27 09:30"), &ctx),
            SnoozeOutcome::Snoozed(ny("2026-11-30 09:00"))
        );
        assert_eq!(
            r.respite.snoozed_on,
            chrono::NaiveDate::from_ymd_opt(2026, 11, 27)
        );
        r.steps_taken = p.ladder.len();
        assert_eq!(
            r.snooze(ny("2026-11-30 10:00"), &ctx),
            SnoozeOutcome::NothingLeft
        );
        r.cancel(CancelReason::NotForMe, ny("2026-11-30 10:00"));
        assert_eq!(
            r.snooze(ny("2026-12-01 10:00"), &ctx),
            SnoozeOutcome::Closed
        );
        assert!(
            r.closed_by_button_note()
                .unwrap()
                .contains("isn't for them")
        );
    }

    #[test]
    fn the_posted_steps_carry_their_tags() {
        let (p, cal) = ctx_parts();
        let ctx = LadderContext {
            policy: &p,
            calendar: &cal,
            team_url: None,
            author_name: None,
        };
        let mut r = SlaRequest::open(
            7,
            new_request(chrono_tz::UTC, "<@UBOB> x"),
            ny("2026-11-23 10:00"),
            &ctx,
        );
        assert!(r.posted_steps(&p).is_empty());
        r.steps_taken = 2;
        assert_eq!(
            r.posted_steps(&p),
            [
                (StepAction::ThreadMention, "sla:7:nudge".to_owned()),
                (StepAction::DirectMessage, "sla:7:dm".to_owned())
            ]
        );
        assert_eq!(r.closed_by_button_note(), None, "open");
        r.answer(Answer::ThreadReply, ny("2026-11-24 10:00"));
        assert_eq!(
            r.closed_by_button_note(),
            None,
            "a reply closed it, not a button"
        );
    }
}
