//! Daily async standups: a channel's schedule on its own calendar (exact across DST), the day's
//! prompt thread, its answers, the reminder and the summary with every blocker. Pure: the
//! engine brings the channel's members and people's clocks, and sends what this returns.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::local_to_utc;
use crate::domain::format::{escape, mention, quote_slack, split_text};

/// The most characters of summary text in one message: Slack advises at most 4,000 in a
/// message's `text`; the rest of the room is for the part's title line.
pub const SUMMARY_PART_CHARS: usize = 3_800;

/// The most people one thread reminder mentions (each `<@U…>` is about 14 characters).
const MENTIONS_PER_MESSAGE: usize = 100;
use crate::domain::outbox::{Destination, OutgoingMessage};

/// How the reminder reaches people who have not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemindMode {
    /// One message in the day's thread mentioning them.
    Thread,
    /// A direct message to each.
    DirectMessage,
}

impl RemindMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "thread" => Some(Self::Thread),
            "dm" | "direct_message" => Some(Self::DirectMessage),
            _ => None,
        }
    }
}

/// A channel's standup schedule and the state that outlives a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub channel: String,
    pub at: NaiveTime,
    pub timezone: Tz,
    /// Monday first.
    pub days: Vec<Weekday>,
    /// The channel's own holidays (the team's come from `[calendar]`).
    pub holidays: BTreeSet<NaiveDate>,
    /// Days skipped with `/standup skip`.
    pub skips: BTreeSet<NaiveDate>,
    pub remind_after_secs: u64,
    pub summary_after_secs: u64,
    pub remind: RemindMode,
    pub questions: Vec<String>,
    /// Seeded from the config file (a schedule changed in Slack is not overwritten by it).
    pub from_config: bool,
    /// False after `/standup off`.
    pub active: bool,
    /// When the engine must next look at this channel (the timer the store keeps).
    pub next_due: Option<DateTime<Utc>>,
    /// Prompts scheduled before this are not posted late (a new or changed schedule does not
    /// post at once for a time that has already passed today).
    #[serde(default)]
    pub effective_from: Option<DateTime<Utc>>,
    /// The day whose prompt is out and whose summary is not yet.
    #[serde(default)]
    pub open_day: Option<NaiveDate>,
    /// Who last set it with `/standup at` (told if the bot cannot post it); `None` for a
    /// schedule from the config file.
    #[serde(default)]
    pub set_by: Option<String>,
}

impl Schedule {
    pub fn remind_after(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.remind_after_secs as i64)
    }

    pub fn summary_after(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.summary_after_secs as i64)
    }

    /// Whether `date` (in the schedule's zone) has a standup.
    pub fn is_standup_day(&self, date: NaiveDate, team_holidays: &BTreeSet<NaiveDate>) -> bool {
        self.active
            && self.days.contains(&date.weekday())
            && !self.holidays.contains(&date)
            && !team_holidays.contains(&date)
            && !self.skips.contains(&date)
    }

    /// The prompt's instant on `date`: `at` in the schedule's zone, exact across DST (a time in
    /// the spring-forward gap moves to the first valid instant after it).
    pub fn prompt_time(&self, date: NaiveDate) -> DateTime<Utc> {
        local_to_utc(self.timezone, date, self.at)
    }

    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.timezone).date_naive()
    }

    /// The first standup whose prompt is strictly after `after`.
    pub fn next_prompt(
        &self,
        after: DateTime<Utc>,
        team_holidays: &BTreeSet<NaiveDate>,
    ) -> Option<(NaiveDate, DateTime<Utc>)> {
        let start = self.local_date(after).pred_opt()?;
        start
            .iter_days()
            .take(400)
            .filter(|d| self.is_standup_day(*d, team_holidays))
            .map(|d| (d, self.prompt_time(d)))
            .find(|(_, at)| *at > after)
    }

    /// The latest standup whose prompt is at or before `now` (within the last 8 days).
    pub fn latest_prompt(
        &self,
        now: DateTime<Utc>,
        team_holidays: &BTreeSet<NaiveDate>,
    ) -> Option<(NaiveDate, DateTime<Utc>)> {
        let mut date = self.local_date(now).succ_opt()?;
        for _ in 0..9 {
            if self.is_standup_day(date, team_holidays) {
                let at = self.prompt_time(date);
                if at <= now {
                    return self
                        .effective_from
                        .is_none_or(|from| at >= from)
                        .then_some((date, at));
                }
            }
            date = date.pred_opt()?;
        }
        None
    }

    pub fn tag(&self, date: NaiveDate) -> String {
        format!("standup:{}:{date}", self.channel)
    }

    pub fn summary_tag(&self, date: NaiveDate) -> String {
        format!("standup:{}:{date}:summary", self.channel)
    }

    /// Part `part` (from 1) of the day's summary: part 1 is [`Self::summary_tag`].
    pub fn summary_part_tag(&self, date: NaiveDate, part: usize) -> String {
        if part <= 1 {
            self.summary_tag(date)
        } else {
            format!("{}:{part}", self.summary_tag(date))
        }
    }

    /// The day's one top-level message.
    pub fn prompt(&self, date: NaiveDate) -> OutgoingMessage {
        let mut text = format!(
            "*Async standup — {}*\nReply in this thread with:\n",
            date.format("%a %-d %b")
        );
        for (i, q) in self.questions.iter().enumerate() {
            text.push_str(&format!("{}. *{}*\n", i + 1, escape(q)));
        }
        text.push_str(
            "One thread a day keeps the channel quiet: please answer here, not in the channel.",
        );
        OutgoingMessage::new(
            Destination::Channel {
                channel: self.channel.clone(),
            },
            text,
        )
        .tagged(self.tag(date))
    }

    /// A one-paragraph description for `/standup status`.
    pub fn describe(&self) -> String {
        if !self.active {
            return "There is no standup in this channel (it was turned off).".to_owned();
        }
        let days = self
            .days
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "Standup at *{}* {} on {days}; reminder after {}, summary after {}.",
            self.at.format("%H:%M"),
            self.timezone,
            crate::domain::format::human_duration(Duration::from_secs(self.remind_after_secs)),
            crate::domain::format::human_duration(Duration::from_secs(self.summary_after_secs)),
        )
    }
}

/// One person's answer (all their messages in the day's thread).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandupAnswer {
    pub text: String,
    pub at: DateTime<Utc>,
}

/// One channel's standup on one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandupDay {
    pub channel: String,
    pub date: NaiveDate,
    pub prompted_at: DateTime<Utc>,
    pub remind_at: DateTime<Utc>,
    pub summary_at: DateTime<Utc>,
    pub answers: BTreeMap<String, StandupAnswer>,
    pub reminded: bool,
    /// People whose reminder waits for their working time: (user, when).
    pub deferred: Vec<(String, DateTime<Utc>)>,
    pub summarized: bool,
    /// Who was expected, with their names (set at the summary).
    pub expected: Vec<String>,
    pub names: BTreeMap<String, String>,
    /// How many summary messages (parts) are in the thread, so a late answer edits each of them
    /// and posts only the parts the summary grew into.
    #[serde(default)]
    pub summary_posted: usize,
    /// Blockers their authors marked cleared (the summary's button, `/standup cleared`): user →
    /// when.
    #[serde(default)]
    pub cleared: BTreeMap<String, DateTime<Utc>>,
}

/// One person's blocker on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayBlocker {
    pub channel: String,
    pub date: NaiveDate,
    pub author: String,
    /// As written (Slack mrkdwn).
    pub text: String,
    /// Who it names with an @-mention: each has a request open for it.
    pub named: Vec<String>,
    pub opened_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}

/// The action id of the summary's *My blocker is cleared* button; its value is the day's
/// `channel:date`.
pub const CLEARED_ACTION: &str = "standup_blocker_cleared";

impl StandupDay {
    /// The prompt went out at `now` (late if the bot was down at the scheduled time: the
    /// reminder and summary keep their scheduled times).
    pub fn new(schedule: &Schedule, date: NaiveDate, now: DateTime<Utc>) -> Self {
        let scheduled = schedule.prompt_time(date);
        StandupDay {
            channel: schedule.channel.clone(),
            date,
            prompted_at: now,
            remind_at: scheduled + schedule.remind_after(),
            summary_at: scheduled + schedule.summary_after(),
            answers: BTreeMap::new(),
            reminded: false,
            deferred: Vec::new(),
            summarized: false,
            expected: Vec::new(),
            names: BTreeMap::new(),
            summary_posted: 0,
            cleared: BTreeMap::new(),
        }
    }

    /// Every blocker of the day, by author.
    pub fn blockers(&self) -> Vec<DayBlocker> {
        self.answers
            .iter()
            .filter_map(|(user, answer)| {
                let text = blockers(&answer.text)?;
                Some(DayBlocker {
                    channel: self.channel.clone(),
                    date: self.date,
                    author: user.clone(),
                    named: blocker_people(&answer.text, user),
                    text,
                    opened_at: answer.at,
                    cleared_at: self.cleared.get(user).copied(),
                })
            })
            .collect()
    }

    /// `user` marks their blocker cleared. False if they have no blocker that day, or it was
    /// cleared already (a second press changes nothing).
    pub fn clear_blocker(&mut self, user: &str, now: DateTime<Utc>) -> bool {
        let has = self
            .answers
            .get(user)
            .is_some_and(|a| blockers(&a.text).is_some());
        if !has || self.cleared.contains_key(user) {
            return false;
        }
        self.cleared.insert(user.to_owned(), now);
        true
    }

    /// True while someone's blocker is not cleared: the summary offers the button.
    fn has_open_blocker(&self) -> bool {
        self.blockers().iter().any(|b| b.cleared_at.is_none())
    }

    /// The next instant this day needs attention, if any.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        if self.summarized {
            return None;
        }
        let mut due = self.summary_at;
        if !self.reminded {
            due = due.min(self.remind_at);
        }
        for (_, at) in &self.deferred {
            due = due.min(*at);
        }
        Some(due)
    }

    /// Records a message in the day's thread. Returns true if the summary should be updated.
    pub fn record_answer(&mut self, user: &str, text: &str, now: DateTime<Utc>) -> bool {
        let entry = self
            .answers
            .entry(user.to_owned())
            .or_insert_with(|| StandupAnswer {
                text: String::new(),
                at: now,
            });
        if !entry.text.is_empty() {
            entry.text.push('\n');
        }
        entry.text.push_str(text);
        self.deferred.retain(|(u, _)| u != user);
        self.summarized
    }

    fn name(&self, user: &str) -> String {
        self.names
            .get(user)
            .cloned()
            .unwrap_or_else(|| user.to_owned())
    }

    /// The summary's text, split into parts that each fit one Slack message: answered out of
    /// expected, who has not (names, no @-ping), and every blocker with its author. A day with
    /// many blockers gets several parts; no blocker is ever left out.
    pub fn summary_parts(&self) -> Vec<String> {
        let answered: Vec<&String> = self.answers.keys().collect();
        let expected_answered = self
            .expected
            .iter()
            .filter(|u| self.answers.contains_key(*u))
            .count();
        let missing: Vec<String> = self
            .expected
            .iter()
            .filter(|u| !self.answers.contains_key(*u))
            .map(|u| escape(&self.name(u)))
            .collect();
        let mut body = format!("Answered: {} of {}", expected_answered, self.expected.len());
        if !answered.is_empty() {
            body.push_str(&format!(
                " ({})",
                answered
                    .iter()
                    .map(|u| escape(&self.name(u)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        body.push('\n');
        if !missing.is_empty() {
            body.push_str(&format!("Not yet: {}\n", missing.join(", ")));
        }
        // Answers came from Slack: quoted as they are, with broadcasts made inert.
        let blockers: Vec<String> = self
            .answers
            .iter()
            .filter_map(|(u, a)| {
                blockers(&a.text).map(|b| {
                    let cleared = if self.cleared.contains_key(u) {
                        " ✅ _cleared_"
                    } else {
                        ""
                    };
                    format!("• {}: {}{cleared}", escape(&self.name(u)), quote_slack(&b))
                })
            })
            .collect();
        if blockers.is_empty() {
            body.push_str("*Blockers:* none reported.");
        } else {
            body.push_str(&format!("*Blockers*\n{}", blockers.join("\n")));
        }
        body.push_str("\n_Late answers still count: this summary updates when they arrive._");
        let title = format!("*Standup summary — {}*", self.date.format("%a %-d %b"));
        let chunks = split_text(&body, SUMMARY_PART_CHARS);
        let parts = chunks.len();
        chunks
            .into_iter()
            .enumerate()
            .map(|(i, chunk)| {
                if parts == 1 {
                    format!("{title}\n{chunk}")
                } else {
                    format!("{title} (part {} of {parts})\n{chunk}", i + 1)
                }
            })
            .collect()
    }

    /// The summary, posted in the day's thread: one message per part, part 1 tagged
    /// `summary_tag`, part n `summary_part_tag(n)`.
    pub fn summary(&mut self, schedule: &Schedule) -> Vec<OutgoingMessage> {
        let parts = self.summary_parts();
        let count = parts.len();
        self.summary_posted = count;
        parts
            .into_iter()
            .enumerate()
            .map(|(i, text)| self.summary_post(schedule, i + 1, text, i + 1 == count))
            .collect()
    }

    fn summary_post(
        &self,
        schedule: &Schedule,
        part: usize,
        text: String,
        last: bool,
    ) -> OutgoingMessage {
        self.with_button(
            OutgoingMessage::new(
                Destination::ThreadOfTag {
                    channel: self.channel.clone(),
                    tag: schedule.tag(self.date),
                },
                text,
            ),
            last,
        )
        .tagged(schedule.summary_part_tag(self.date, part))
    }

    /// The summary's last part carries the *My blocker is cleared* button while a blocker is
    /// open; its text goes in sections (Block Kit allows 3,000 characters a section).
    fn with_button(&self, message: OutgoingMessage, last: bool) -> OutgoingMessage {
        if !last || !self.has_open_blocker() {
            return message;
        }
        let mut blocks: Vec<serde_json::Value> = split_text(&message.text, 2_900)
            .into_iter()
            .map(|chunk| serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": chunk}}))
            .collect();
        blocks.push(serde_json::json!({"type": "actions", "elements": [{
            "type": "button",
            "action_id": CLEARED_ACTION,
            "text": {"type": "plain_text", "text": "✅ My blocker is cleared"},
            "value": format!("{}:{}", self.channel, self.date),
        }]}));
        message.with_blocks(serde_json::Value::Array(blocks))
    }

    /// The summary again after a late answer: the parts already posted are edited in place, a
    /// part the summary grew into is posted, and a part no longer needed says so.
    pub fn summary_update(&mut self, schedule: &Schedule) -> Vec<OutgoingMessage> {
        let parts = self.summary_parts();
        // A day summarised before parts existed has posted exactly one message.
        let posted = self.summary_posted.max(1);
        let mut out = Vec::new();
        for (i, text) in parts.iter().enumerate() {
            let part = i + 1;
            if part <= posted {
                out.push(self.with_button(
                    OutgoingMessage::new(
                        Destination::Edit {
                            channel: self.channel.clone(),
                            tag: schedule.summary_part_tag(self.date, part),
                        },
                        text.clone(),
                    ),
                    part == parts.len(),
                ));
            } else {
                out.push(self.summary_post(schedule, part, text.clone(), part == parts.len()));
            }
        }
        for part in parts.len() + 1..=posted {
            out.push(OutgoingMessage::new(
                Destination::Edit {
                    channel: self.channel.clone(),
                    tag: schedule.summary_part_tag(self.date, part),
                },
                "_This part of the standup summary is no longer needed: it all fits above._"
                    .to_owned(),
            ));
        }
        self.summary_posted = posted.max(parts.len());
        out
    }

    /// The reminder for `users`: one thread message, or a DM each.
    pub fn reminder(&self, schedule: &Schedule, users: &[String]) -> Vec<OutgoingMessage> {
        if users.is_empty() {
            return Vec::new();
        }
        match schedule.remind {
            // A big channel's mentions are spread over several messages, each well inside
            // Slack's limits, so nobody is left out of the reminder.
            RemindMode::Thread => users
                .chunks(MENTIONS_PER_MESSAGE)
                .map(|group| {
                    OutgoingMessage::new(
                        Destination::ThreadOfTag {
                            channel: self.channel.clone(),
                            tag: schedule.tag(self.date),
                        },
                        format!(
                            "{}: a gentle reminder to add your standup here when you can.",
                            group.iter().map(|u| mention(u)).collect::<Vec<_>>().join(" ")
                        ),
                    )
                })
                .collect(),
            RemindMode::DirectMessage => users
                .iter()
                .map(|u| {
                    OutgoingMessage::new(
                        Destination::DirectMessage { user: u.clone() },
                        format!(
                            "A gentle reminder: today's standup in <#{}> is waiting for your answer, in its thread.",
                            self.channel
                        ),
                    )
                })
                .collect(),
        }
    }
}

/// Who is reminded now (inside their own working time), and who later, when their working time
/// starts, if that comes before the summary; the rest are not reminded at all. Each person comes
/// with their own calendar (hours, holidays, absences) and zone.
pub fn plan_reminders(
    people: &[(String, Tz, crate::domain::calendar::BusinessCalendar)],
    now: DateTime<Utc>,
    summary_at: DateTime<Utc>,
) -> (Vec<String>, Vec<(String, DateTime<Utc>)>) {
    let mut now_group = Vec::new();
    let mut later = Vec::new();
    for (user, tz, calendar) in people {
        if calendar.is_working_time(now, *tz) {
            now_group.push(user.clone());
        } else {
            let at = calendar.next_working_time(now, *tz);
            if at < summary_at {
                later.push((user.clone(), at));
            }
        }
    }
    (now_group, later)
}

/// Words that mean "no blockers".
const NO_BLOCKERS: &[&str] = &[
    "none",
    "no",
    "n/a",
    "na",
    "nope",
    "nothing",
    "no blockers",
    "none so far",
    "nil",
    "-",
    "—",
    "no blocker",
    "not blocked",
    "nothing blocking",
    "all good",
];

/// The sections of an answer (`standup.questions`: completed, planned, blockers), each known by
/// the words its heading starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Completed,
    Planned,
    Blockers,
}

impl Section {
    fn headings(self) -> &'static [&'static str] {
        match self {
            Section::Completed => &["completed", "done", "yesterday"],
            Section::Planned => &["planned", "plan", "today", "tomorrow", "next"],
            Section::Blockers => &["blockers", "blocker", "blocked by", "blocking"],
        }
    }
}

/// The lines of one section of an answer: the text on its heading's line and under it, up to
/// the next heading, without list markers. Empty when the answer has no such heading.
pub fn section(answer: &str, which: Section) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut inside = false;
    for line in answer.lines() {
        let cleaned = strip_markup(line);
        if let Some(rest) = heading_rest(&cleaned, which.headings()) {
            inside = true;
            if !rest.is_empty() {
                found.push(rest);
            }
            continue;
        }
        if inside {
            if is_other_heading(&cleaned)
                || (which != Section::Blockers
                    && heading_rest(&cleaned, Section::Blockers.headings()).is_some())
            {
                inside = false;
                continue;
            }
            if !cleaned.is_empty() {
                found.push(cleaned);
            }
        }
    }
    found
}

/// The *completed* section of an answer, one line per item ("none" and the like left out).
pub fn completed(answer: &str) -> Vec<String> {
    meaningful(section(answer, Section::Completed))
}

/// The *planned* section of an answer, one line per item.
pub fn planned(answer: &str) -> Vec<String> {
    meaningful(section(answer, Section::Planned))
}

fn meaningful(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .filter(|l| {
            !NO_BLOCKERS.contains(
                &l.trim()
                    .trim_end_matches(['.', '!'])
                    .to_lowercase()
                    .as_str(),
            )
        })
        .collect()
}

/// True if the answer has a section heading (completed, planned or blockers): a message that
/// does is (part of) its author's answer, one that does not may be a reply to someone.
pub fn has_section(answer: &str) -> bool {
    [Section::Completed, Section::Planned, Section::Blockers]
        .iter()
        .any(|s| {
            answer
                .lines()
                .any(|l| heading_rest(&strip_markup(l), s.headings()).is_some())
        })
}

/// The blockers in an answer: the text on a "Blockers" line and under a "Blockers" heading, up
/// to the next heading. "none", "no", "n/a" and empty are not blockers.
pub fn blockers(answer: &str) -> Option<String> {
    let text = section(answer, Section::Blockers).join("; ");
    let normalized = text
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_lowercase();
    if normalized.is_empty() || NO_BLOCKERS.contains(&normalized.as_str()) {
        None
    } else {
        Some(text)
    }
}

/// The people an answer's blockers name with an @-mention, first named first, without its
/// author: whoever can unblock them. A blocker is a request to them.
pub fn blocker_people(answer: &str, author: &str) -> Vec<String> {
    blockers(answer)
        .map(|b| crate::domain::sla::mentioned_users(&b))
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u != author)
        .collect()
}

/// A line without list markers, numbering, emphasis and emoji at its start.
fn strip_markup(line: &str) -> String {
    let mut s = line.trim();
    loop {
        let before = s;
        s = s.trim_start_matches(['*', '_', '#', '>', '•', '-', '~', '`', ' ', '\t']);
        // "3." or "3)" numbering.
        let digits = s.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 && s[digits..].starts_with(['.', ')']) {
            s = &s[digits + 1..];
        }
        // A leading :emoji:
        if let Some(rest) = s.strip_prefix(':')
            && let Some(end) = rest.find(':')
            && end > 0
            && !rest[..end].contains(' ')
        {
            s = &rest[end + 1..];
        }
        if s == before {
            break;
        }
    }
    s.trim_end_matches(['*', '_', '~', '`', ' '])
        .trim()
        .to_owned()
}

/// `text` without `word` at its start, compared case-insensitively on `text` itself: each char
/// of `text` is lower-cased and must spell the next chars of `word` (lower-case ASCII). Indices
/// come only from `text`, so a char whose lower case has another length (`İ` → 3 bytes,
/// Kelvin `K` → 1) can never make a slice cut inside a char.
fn strip_prefix_ci<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let mut want = word.chars();
    let mut wanted = want.clone().count();
    for (i, c) in text.char_indices() {
        if wanted == 0 {
            return Some(&text[i..]);
        }
        for lower in c.to_lowercase() {
            if want.next() != Some(lower) {
                return None;
            }
            wanted -= 1;
        }
    }
    (wanted == 0).then_some("")
}

/// If the line starts with one of `words` as a heading, what follows it on the line (without a
/// colon, dash or emphasis).
fn heading_rest(line: &str, words: &[&str]) -> Option<String> {
    for word in words {
        let Some(rest) = strip_prefix_ci(line, word) else {
            continue;
        };
        if rest.chars().next().is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let tail = rest
            .trim_start_matches(['*', '_', ':', '-', '–', '—', ' ', ')', '('])
            .trim();
        // "Blockers (and who can help):" — skip the rest of the heading's parenthesis.
        let tail = if rest.trim_start().starts_with('(') {
            tail.split_once(')')
                .map(|(_, after)| after.trim_start_matches(['*', '_', ':', '-', ' ']).trim())
                .unwrap_or("")
        } else {
            tail
        };
        return Some(tail.to_owned());
    }
    None
}

fn is_other_heading(line: &str) -> bool {
    [
        "completed",
        "done",
        "yesterday",
        "planned",
        "plan",
        "today",
        "tomorrow",
        "next",
        "notes",
        "progress",
    ]
    .iter()
    .any(|w| {
        strip_prefix_ci(line, w)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ', '(', '*', '-']))
    })
}

/// An absence: inclusive local dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Away {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub fn is_away(ranges: &[Away], date: NaiveDate) -> bool {
    ranges.iter().any(|r| r.from <= date && date <= r.to)
}

/// "09:30", "9:30", "09:30:15" (HH:MM or HH:MM:SS, 24h). None otherwise. ("24:00" is invalid here.)
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    let mut parts = s.trim().split(':');
    let hour = parts.next()?;
    let minute = parts.next()?;
    let second = parts.next();
    if parts.next().is_some() {
        return None;
    }
    let digits = |text: &str, lengths: &[usize]| {
        (lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse::<u32>().ok())
            .flatten()
    };
    let hour = digits(hour, &[1, 2])?;
    let minute = digits(minute, &[2])?;
    let second = match second {
        Some(text) => digits(text, &[2])?,
        None => 0,
    };
    NaiveTime::from_hms_opt(hour, minute, second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(tz: Tz, at: &str, days: &[Weekday]) -> Schedule {
        Schedule {
            channel: "CTEAM".into(),
            at: NaiveTime::parse_from_str(at, "%H:%M").unwrap(),
            timezone: tz,
            days: days.to_vec(),
            holidays: BTreeSet::new(),
            skips: BTreeSet::new(),
            remind_after_secs: 3 * 3600,
            summary_after_secs: 6 * 3600,
            remind: RemindMode::Thread,
            questions: vec![
                "Completed yesterday".into(),
                "Planned today".into(),
                "Blockers".into(),
            ],
            from_config: true,
            active: true,
            next_due: None,
            effective_from: None,
            open_day: None,
            set_by: None,
        }
    }

    const WEEKDAYS: &[Weekday] = &[
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    const ALL: &[Weekday] = &[
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    fn utc(s: &str) -> DateTime<Utc> {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
            .unwrap()
            .and_utc()
    }

    #[test]
    fn prompts_are_exact_across_dst_in_both_hemispheres() {
        struct Case {
            name: &'static str,
            tz: Tz,
            at: &'static str,
            days: &'static [Weekday],
            after: &'static str,
            expect_date: &'static str,
            expect_utc: &'static str,
        }
        let cases = [
            // Berlin: CET (+1) until Sun 29 Mar 2026, CEST (+2) after.
            Case {
                name: "berlin before spring",
                tz: chrono_tz::Europe::Berlin,
                at: "09:30",
                days: WEEKDAYS,
                after: "2026-03-26 12:00",
                expect_date: "2026-03-27",
                expect_utc: "2026-03-27 08:30",
            },
            Case {
                name: "berlin after spring",
                tz: chrono_tz::Europe::Berlin,
                at: "09:30",
                days: WEEKDAYS,
                after: "2026-03-27 12:00",
                expect_date: "2026-03-30",
                expect_utc: "2026-03-30 07:30",
            },
            Case {
                name: "berlin autumn",
                tz: chrono_tz::Europe::Berlin,
                at: "09:30",
                days: WEEKDAYS,
                after: "2026-10-23 12:00",
                expect_date: "2026-10-26",
                expect_utc: "2026-10-26 08:30",
            },
            Case {
                name: "berlin gap time",
                tz: chrono_tz::Europe::Berlin,
                at: "02:30",
                days: ALL,
                after: "2026-03-28 12:00",
                expect_date: "2026-03-29",
                expect_utc: "2026-03-29 01:00",
            },
            // Sydney: AEDT (+11) until Sun 5 Apr 2026, AEST (+10) after; back to +11 on 4 Oct.
            Case {
                name: "sydney autumn",
                tz: chrono_tz::Australia::Sydney,
                at: "09:00",
                days: WEEKDAYS,
                after: "2026-04-03 12:00",
                expect_date: "2026-04-06",
                expect_utc: "2026-04-05 23:00",
            },
            Case {
                name: "sydney spring",
                tz: chrono_tz::Australia::Sydney,
                at: "09:00",
                days: WEEKDAYS,
                after: "2026-10-02 12:00",
                expect_date: "2026-10-05",
                expect_utc: "2026-10-04 22:00",
            },
            // New York: EDT (-4) from 8 Mar 2026.
            Case {
                name: "new york spring",
                tz: chrono_tz::America::New_York,
                at: "10:00",
                days: ALL,
                after: "2026-03-07 16:00",
                expect_date: "2026-03-08",
                expect_utc: "2026-03-08 14:00",
            },
            // Kolkata +5:30, no DST.
            Case {
                name: "kolkata",
                tz: chrono_tz::Asia::Kolkata,
                at: "09:30",
                days: WEEKDAYS,
                after: "2026-11-23 05:00",
                expect_date: "2026-11-24",
                expect_utc: "2026-11-24 04:00",
            },
            // Year end, Friday to Monday.
            Case {
                name: "year end",
                tz: chrono_tz::UTC,
                at: "09:00",
                days: WEEKDAYS,
                after: "2026-12-31 10:00",
                expect_date: "2027-01-01",
                expect_utc: "2027-01-01 09:00",
            },
        ];
        for c in cases {
            let s = schedule(c.tz, c.at, c.days);
            let (date, at) = s.next_prompt(utc(c.after), &BTreeSet::new()).unwrap();
            assert_eq!(date.to_string(), c.expect_date, "{}", c.name);
            assert_eq!(at, utc(c.expect_utc), "{}", c.name);
        }
    }

    #[test]
    fn holidays_skips_and_off_mean_no_standup() {
        let mut s = schedule(chrono_tz::Europe::Berlin, "09:30", WEEKDAYS);
        s.holidays
            .insert(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap());
        let team: BTreeSet<NaiveDate> = [NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()].into();
        s.skips
            .insert(NaiveDate::from_ymd_opt(2026, 12, 28).unwrap());
        let (date, _) = s.next_prompt(utc("2026-12-23 12:00"), &team).unwrap();
        assert_eq!(
            date.to_string(),
            "2026-12-29",
            "24th channel holiday, 25th team holiday, weekend, 28th skipped"
        );
        assert!(!s.is_standup_day(NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(), &team));
        s.active = false;
        assert_eq!(s.next_prompt(utc("2026-12-23 12:00"), &team), None);
    }

    #[test]
    fn the_latest_prompt_is_found_for_a_late_start() {
        let s = schedule(chrono_tz::Europe::Berlin, "09:30", WEEKDAYS);
        // Monday 11:00 Berlin: the Monday prompt (08:30 UTC) is the latest.
        let (date, at) = s
            .latest_prompt(utc("2026-11-23 10:00"), &BTreeSet::new())
            .unwrap();
        assert_eq!(date.to_string(), "2026-11-23");
        assert_eq!(at, utc("2026-11-23 08:30"));
        // Sunday: Friday's.
        let (date, _) = s
            .latest_prompt(utc("2026-11-22 10:00"), &BTreeSet::new())
            .unwrap();
        assert_eq!(date.to_string(), "2026-11-20");
    }

    #[test]
    fn blockers_are_found_under_a_heading_or_on_a_line() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                "Done: API\nToday: tests\nBlockers: waiting for DB creds, Bob can help",
                Some("waiting for DB creds, Bob can help"),
            ),
            (
                "*Completed yesterday*\nAPI\n*Planned today*\ntests\n*Blockers*\nstaging is down\nneed Ops",
                Some("staging is down; need Ops"),
            ),
            (
                "1. shipped\n2. more\n3. Blockers (and who can help): none",
                None,
            ),
            ("Blockers: n/a", None),
            ("Blockers: No.", None),
            ("Blockers:", None),
            ("Blockers:\n\nToday: stuff", None),
            ("just a chat message", None),
            (
                ":no_entry: Blockers: vendor contract unsigned",
                Some("vendor contract unsigned"),
            ),
            (
                "Blockers: the build\nPlanned today: fix it",
                Some("the build"),
            ),
            ("Blockersmith is my handle", None),
        ];
        for (text, want) in cases {
            assert_eq!(blockers(text).as_deref(), *want, "{text:?}");
        }
    }

    #[test]
    fn a_day_reminds_summarizes_and_updates() {
        let s = schedule(chrono_tz::UTC, "09:00", ALL);
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let mut day = StandupDay::new(&s, date, utc_fixed(2026, 11, 24, 9, 0));
        assert_eq!(day.next_due(), Some(day.remind_at));
        assert!(!day.record_answer(
            "UALICE",
            "Blockers: need a review from Bob",
            utc_fixed(2026, 11, 24, 9, 5)
        ));
        day.reminded = true;
        assert_eq!(day.next_due(), Some(day.summary_at));
        day.expected = vec!["UALICE".into(), "UBOB".into()];
        day.names = [
            ("UALICE".to_string(), "Alice".to_string()),
            ("UBOB".to_string(), "Bob".to_string()),
        ]
        .into();
        day.summarized = true;
        let mut summary = day.summary(&s);
        assert_eq!(summary.len(), 1, "a short summary is one message");
        let summary = summary.remove(0);
        assert!(
            summary.text.contains("Answered: 1 of 2 (Alice)"),
            "{}",
            summary.text
        );
        assert!(summary.text.contains("Not yet: Bob"), "{}", summary.text);
        assert!(!summary.text.contains("<@"), "no @-ping in the summary");
        assert!(summary.text.contains("• Alice: need a review from Bob"));
        assert_eq!(
            summary.tag.as_deref(),
            Some("standup:CTEAM:2026-11-24:summary")
        );
        assert!(
            day.record_answer("UBOB", "all fine", utc_fixed(2026, 11, 24, 16, 0)),
            "a late answer updates the summary"
        );
        let mut update = day.summary_update(&s);
        assert_eq!(update.len(), 1);
        let update = update.remove(0);
        assert!(
            matches!(update.destination, Destination::Edit { ref tag, .. } if tag == "standup:CTEAM:2026-11-24:summary")
        );
        assert!(update.text.contains("Answered: 2 of 2"));
        assert_eq!(day.next_due(), None);
        let prompt = s.prompt(date);
        assert!(prompt.text.starts_with("*Async standup — Tue 24 Nov*"));
        assert!(prompt.text.contains("1. *Completed yesterday*"));
    }

    #[test]
    fn headings_match_case_insensitively_on_the_original_text() {
        let cases: &[(&str, Option<&str>)] = &[
            // Lower-casing these changes their length in bytes: they must neither panic nor be cut.
            ("Blockers: İİİİİİİİİİİİ", Some("İİİİİİİİİİİİ")),
            ("İİİİ Blockers: none", None),
            ("Blockers: \u{212A}", Some("\u{212A}")),
            (
                "BLOC\u{212A}ERS: the \u{212A}elvin sign",
                Some("the \u{212A}elvin sign"),
            ),
            ("blocKERS (who can help): İ", Some("İ")),
            (
                "Blockers:\nİstanbul office is closed\nToday: İzmir",
                Some("İstanbul office is closed"),
            ),
            (
                "Blocked by: ß and 🙂 and \u{202E}rtl",
                Some("ß and 🙂 and \u{202E}rtl"),
            ),
            ("Blocke\u{0301}rs: x", None),
            ("\u{0130}", None),
        ];
        for (text, want) in cases {
            assert_eq!(blockers(text).as_deref(), *want, "{text:?}");
        }
        assert_eq!(
            strip_prefix_ci("İx", "i"),
            None,
            "half of İ's lower case is no match"
        );
        assert_eq!(strip_prefix_ci("\u{212A}ey", "key"), Some(""));
        assert_eq!(strip_prefix_ci("Done: x", "done"), Some(": x"));
    }

    #[test]
    fn a_summary_with_many_blockers_is_split_and_loses_none() {
        let s = schedule(chrono_tz::UTC, "09:00", ALL);
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let mut day = StandupDay::new(&s, date, utc_fixed(2026, 11, 24, 9, 0));
        let long = "x".repeat(300);
        for i in 0..40 {
            day.record_answer(
                &format!("U{i:03}"),
                &format!("Blockers: blocker-{i:03} <!channel> {long}"),
                utc_fixed(2026, 11, 24, 9, 5),
            );
        }
        day.expected = day.answers.keys().cloned().collect();
        day.summarized = true;
        let posts = day.summary(&s);
        assert!(posts.len() > 1, "40 long blockers do not fit one message");
        assert_eq!(day.summary_posted, posts.len());
        let all: String = posts.iter().map(|p| p.text.as_str()).collect();
        for i in 0..40 {
            assert!(all.contains(&format!("blocker-{i:03}")), "blocker {i} kept");
        }
        assert!(
            !all.contains("<!channel>"),
            "a broadcast in an answer is inert"
        );
        for (i, post) in posts.iter().enumerate() {
            assert!(post.text.chars().count() <= 3_900, "part {i} fits Slack");
            assert!(
                post.text
                    .contains(&format!("(part {} of {})", i + 1, posts.len()))
            );
            assert_eq!(
                post.tag.as_deref(),
                Some(s.summary_part_tag(date, i + 1).as_str())
            );
        }
        assert_eq!(posts[0].tag.as_deref(), Some(s.summary_tag(date).as_str()));

        // A late answer edits every part posted and posts the part the summary grew into.
        let before = posts.len();
        for i in 40..60 {
            day.record_answer(
                &format!("U{i:03}"),
                &format!("Blockers: blocker-{i:03} {long}"),
                utc_fixed(2026, 11, 24, 17, 0),
            );
        }
        let update = day.summary_update(&s);
        assert!(update.len() > before);
        for (i, message) in update.iter().enumerate() {
            let tag = s.summary_part_tag(date, i + 1);
            if i < before {
                assert!(
                    matches!(&message.destination, Destination::Edit { tag: t, .. } if *t == tag)
                );
            } else {
                assert!(matches!(
                    message.destination,
                    Destination::ThreadOfTag { .. }
                ));
                assert_eq!(message.tag.as_deref(), Some(tag.as_str()));
            }
        }
        let all: String = update.iter().map(|p| p.text.as_str()).collect();
        for i in 0..60 {
            assert!(all.contains(&format!("blocker-{i:03}")), "blocker {i} kept");
        }
        assert_eq!(day.summary_posted, update.len());
    }

    #[test]
    fn a_big_channels_reminder_is_spread_over_messages() {
        let s = schedule(chrono_tz::UTC, "09:00", ALL);
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let day = StandupDay::new(&s, date, utc_fixed(2026, 11, 24, 9, 0));
        let users: Vec<String> = (0..250).map(|i| format!("U{i:08}")).collect();
        let messages = day.reminder(&s, &users);
        assert_eq!(messages.len(), 3);
        for m in &messages {
            assert!(m.text.chars().count() <= 3_900, "{}", m.text.len());
        }
        let all: String = messages.iter().map(|m| m.text.as_str()).collect();
        for u in &users {
            assert!(all.contains(&format!("<@{u}>")), "{u} reminded");
        }
    }

    #[test]
    fn a_summary_that_shrinks_empties_its_extra_parts() {
        let s = schedule(chrono_tz::UTC, "09:00", ALL);
        let date = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let mut day = StandupDay::new(&s, date, utc_fixed(2026, 11, 24, 9, 0));
        day.record_answer("UALICE", "Blockers: one", utc_fixed(2026, 11, 24, 9, 5));
        day.summarized = true;
        day.summary_posted = 2;
        let update = day.summary_update(&s);
        assert_eq!(update.len(), 2);
        assert!(update[1].text.contains("no longer needed"));
        assert!(
            matches!(&update[1].destination, Destination::Edit { tag, .. } if *tag == s.summary_part_tag(date, 2))
        );
    }

    fn utc_fixed(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn reminders_respect_each_persons_working_hours() {
        let cal = crate::domain::calendar::BusinessCalendar::office_hours();
        // Tuesday 12:30 UTC: 13:30 in Berlin, 07:30 in New York, 21:30 in Tokyo.
        let now = utc_fixed(2026, 11, 24, 12, 30);
        let summary_at = utc_fixed(2026, 11, 24, 16, 0);
        let people = vec![
            (
                "UBERLIN".to_string(),
                chrono_tz::Europe::Berlin,
                cal.clone(),
            ),
            (
                "UNEWYORK".to_string(),
                chrono_tz::America::New_York,
                cal.clone(),
            ),
            ("UTOKYO".to_string(), chrono_tz::Asia::Tokyo, cal.clone()),
        ];
        let (now_group, later) = plan_reminders(&people, now, summary_at);
        assert_eq!(now_group, vec!["UBERLIN".to_string()]);
        // New York starts at 09:00 EST = 14:00 UTC, before the summary; Tokyo not before it.
        assert_eq!(
            later,
            vec![("UNEWYORK".to_string(), utc_fixed(2026, 11, 24, 14, 0))]
        );
        // Their own hours: New York starting at 07:00 is reminded at 12:00 UTC, Berlin working
        // only mornings is not reminded before the summary.
        let early = cal
            .with_hours(vec![
                crate::domain::calendar::WorkingHours::parse("07:00", "15:00").unwrap(),
            ])
            .unwrap();
        let mornings = cal
            .with_hours(vec![
                crate::domain::calendar::WorkingHours::parse("08:00", "12:00").unwrap(),
            ])
            .unwrap();
        let people = vec![
            ("UBERLIN".to_string(), chrono_tz::Europe::Berlin, mornings),
            ("UNEWYORK".to_string(), chrono_tz::America::New_York, early),
        ];
        let (now_group, later) =
            plan_reminders(&people, utc_fixed(2026, 11, 24, 11, 30), summary_at);
        assert!(now_group.is_empty());
        assert_eq!(
            later,
            vec![("UNEWYORK".to_string(), utc_fixed(2026, 11, 24, 12, 0))]
        );
    }

    #[test]
    fn away_ranges_are_inclusive() {
        let ranges = [Away {
            from: NaiveDate::from_ymd_opt(2026, 12, 24).unwrap(),
            to: NaiveDate::from_ymd_opt(2027, 1, 2).unwrap(),
        }];
        assert!(is_away(
            &ranges,
            NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()
        ));
        assert!(is_away(
            &ranges,
            NaiveDate::from_ymd_opt(2027, 1, 2).unwrap()
        ));
        assert!(!is_away(
            &ranges,
            NaiveDate::from_ymd_opt(2027, 1, 3).unwrap()
        ));
    }
}
