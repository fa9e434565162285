//! How the team keeps its norms, read from the store: what each closed request, decided RFC,
//! standup day and blocker says, gathered for a scope (the workspace, a channel, or one person's
//! own requests) and a span of time ([`gather`]), then counted for any period inside it
//! ([`Gathered::figures`]). `/sla stats` and the Home tab show them here; the weekly update and
//! the report draw on the same gathering.
//!
//! Never a leaderboard: team figures are sums over everyone in the scope, and the only person's
//! own figures anyone sees are their own, privately.

pub mod report;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::domain::calendar::BusinessCalendar;
use crate::domain::metrics::{
    BlockerCounts, End, Figures, Outcome, RfcOutcome, StandupTally, describe, sparkline,
};
use crate::domain::sla::StepAction;
use crate::domain::working_time::personal_calendar;
use crate::store::prelude::*;
use crate::store::{ClosedRecord, StoreError};

/// Whose figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Everyone.
    Workspace,
    /// Requests asked, RFCs opened and standups held in one channel.
    Channel(String),
    /// One person's own: the requests that waited on them, the RFCs they were to decide, their
    /// standup answers. Shown only to that person.
    Person(String),
}

/// One blocker as the metrics count it: when it was opened and, if so, cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockerSpan {
    pub opened_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
}

/// Everything the store says of a scope over a span of time, ready to count.
#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub outcomes: Vec<Outcome>,
    pub rfcs: Vec<RfcOutcome>,
    pub standups: Vec<StandupTally>,
    pub blockers: Vec<BlockerSpan>,
    /// The ladder's steps by name ("thread mention", "DM", "call suggestion").
    pub steps: Vec<String>,
    /// How many people were counted: asked (and answered, or let the request expire) or expected
    /// at a standup. Team figures of fewer than `respect.metrics_min_group` are not shown.
    pub people: usize,
}

impl Gathered {
    /// Team figures drawn from fewer than `min_group` people would be theirs, not the team's.
    pub fn too_few(&self, min_group: usize) -> bool {
        self.people < min_group
    }

    /// The team's figures as Slack lines, or the sentence that says why they are not shown.
    pub fn team_lines(&self, figures: &Figures, min_group: usize) -> Vec<String> {
        if figures.is_empty() {
            return vec!["Nothing to count yet: figures appear as requests are answered, RFCs decided and standups answered.".to_owned()];
        }
        if self.too_few(min_group) {
            return vec![format!(
                "Fewer than {min_group} people were counted here, so the team's figures are not shown: they would be one person's own. (Each person sees their own in `/sla stats`.)"
            )];
        }
        describe(figures, &self.steps)
    }

    /// The figures of [`from`, `to`): requests closed, RFCs decided, standups dated and
    /// blockers opened or cleared in it.
    pub fn figures(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Figures {
        let inside = |at: DateTime<Utc>| from <= at && at < to;
        let outcomes: Vec<Outcome> = self
            .outcomes
            .iter()
            .filter(|o| inside(o.closed_at))
            .cloned()
            .collect();
        let rfcs: Vec<RfcOutcome> = self
            .rfcs
            .iter()
            .filter(|r| inside(r.decided_at))
            .cloned()
            .collect();
        let (first, last) = (from.date_naive(), to.date_naive());
        let standups: Vec<StandupTally> = self
            .standups
            .iter()
            .filter(|s| first <= s.date && s.date < last)
            .cloned()
            .collect();
        let blockers = BlockerCounts {
            opened: self.blockers.iter().filter(|b| inside(b.opened_at)).count(),
            cleared: self
                .blockers
                .iter()
                .filter(|b| b.cleared_at.is_some_and(inside))
                .count(),
        };
        Figures::compute(&outcomes, &rfcs, &standups, blockers)
    }

    /// The SLA met rate of each of `weeks` rolling weeks ending at `to`, oldest first (`None`
    /// for a week with nothing to count).
    pub fn weekly_met_rates(&self, to: DateTime<Utc>, weeks: u32) -> Vec<Option<f64>> {
        (0..weeks)
            .rev()
            .map(|n| {
                let end = to - chrono::Duration::weeks(i64::from(n));
                self.figures(end - chrono::Duration::weeks(1), end)
                    .met_rate()
            })
            .collect()
    }

    /// Requests answered on each of the `days` days ending at `to`, oldest first.
    pub fn daily_answers(&self, to: DateTime<Utc>, days: u32) -> Vec<Option<f64>> {
        (0..days)
            .rev()
            .map(|n| {
                let end = to - chrono::Duration::days(i64::from(n));
                let start = end - chrono::Duration::days(1);
                let answered = self
                    .outcomes
                    .iter()
                    .filter(|o| o.end == End::Answered && start <= o.closed_at && o.closed_at < end)
                    .count();
                Some(answered as f64)
            })
            .collect()
    }
}

/// What the store holds of `scope` in [`from`, `to`). Response times are counted on each
/// recipient's own clock: the tier's clock on their calendar (the team's, with the days, hours
/// and holiday region they set), as it is when the figures are read. Absences are left out
/// (they are forgotten days after they end): someone who answered, answered.
pub fn gather<R: Reads + ?Sized>(
    rx: &R,
    settings: &Settings,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Gathered, StoreError> {
    let mut calendars: HashMap<String, BusinessCalendar> = HashMap::new();
    let mut people: BTreeSet<String> = BTreeSet::new();
    let call_step = settings
        .sla
        .ladder
        .iter()
        .position(|s| s.action == StepAction::SuggestCall);
    let mut outcomes = Vec::new();
    for record in rx.outcomes_between(from, to)? {
        if !in_scope(scope, &record.channel, Some(&record.recipient)) {
            continue;
        }
        let calendar = match calendars.get(&record.recipient) {
            Some(c) => c,
            None => {
                let own = rx.working_time(&record.recipient)?;
                let calendar = personal_calendar(
                    &settings.calendar,
                    own.as_ref(),
                    &[],
                    record.recipient_tz,
                    None,
                );
                calendars
                    .entry(record.recipient.clone())
                    .or_insert(calendar)
            }
        };
        if record.end != End::Withdrawn {
            people.insert(record.recipient.clone());
        }
        outcomes.push(outcome(&record, calendar, settings, call_step));
    }
    let mut rfcs = Vec::new();
    for rfc in rx.all_rfcs()? {
        let Some(decided_at) = rfc.decided_at else {
            continue;
        };
        let person = matches!(scope, Scope::Person(_)).then_some(rfc.approver.as_str());
        if decided_at < from || decided_at >= to || !in_scope(scope, &rfc.channel, person) {
            continue;
        }
        let due = rfc.decide_by.unwrap_or(rfc.closes_at).max(rfc.closes_at);
        rfcs.push(RfcOutcome {
            channel: rfc.channel.clone(),
            opened_at: rfc.opened_at,
            decided_at,
            on_time: decided_at <= due,
        });
    }
    let mut standups = Vec::new();
    let mut blockers = Vec::new();
    for day in rx.standup_days_between(
        from.date_naive(),
        to.date_naive().succ_opt().unwrap_or(to.date_naive()),
    )? {
        for b in day.blockers() {
            let counted = match scope {
                Scope::Person(user) => b.author == *user,
                _ => in_scope(scope, &day.channel, None),
            };
            if counted {
                blockers.push(BlockerSpan {
                    opened_at: b.opened_at,
                    cleared_at: b.cleared_at,
                });
            }
        }
        // Who was expected is settled at the summary: a day not summarized yet counts nothing.
        if !day.summarized {
            continue;
        }
        let tally = match scope {
            Scope::Person(user) => StandupTally {
                date: day.date,
                expected: usize::from(day.expected.contains(user)),
                answered: usize::from(
                    day.expected.contains(user) && day.answers.contains_key(user),
                ),
            },
            _ if !in_scope(scope, &day.channel, None) => continue,
            _ => StandupTally {
                date: day.date,
                expected: day.expected.len(),
                answered: day
                    .expected
                    .iter()
                    .filter(|u| day.answers.contains_key(*u))
                    .count(),
            },
        };
        if tally.expected > 0 {
            people.extend(day.expected.iter().cloned());
            standups.push(tally);
        }
    }
    Ok(Gathered {
        outcomes,
        rfcs,
        standups,
        blockers,
        steps: step_names(settings),
        people: people.len(),
    })
}

/// The ladder's steps as the figures name them.
pub fn step_names(settings: &Settings) -> Vec<String> {
    settings
        .sla
        .ladder
        .iter()
        .map(|s| {
            match s.action {
                StepAction::ThreadMention => "thread mention",
                StepAction::DirectMessage => "DM",
                StepAction::SuggestCall => "call suggestion",
            }
            .to_owned()
        })
        .collect()
}

fn in_scope(scope: &Scope, channel: &str, person: Option<&str>) -> bool {
    match scope {
        Scope::Workspace => true,
        Scope::Channel(c) => c == channel,
        Scope::Person(p) => person == Some(p.as_str()),
    }
}

fn outcome(
    record: &ClosedRecord,
    calendar: &BusinessCalendar,
    settings: &Settings,
    call_step: Option<usize>,
) -> Outcome {
    let clock = settings.sla.rule(record.tier).clock;
    let answered = record.end == End::Answered;
    Outcome {
        channel: record.channel.clone(),
        recipient: record.recipient.clone(),
        tier: record.tier,
        opened_at: record.opened_at,
        closed_at: record.closed_at,
        end: record.end,
        response: answered.then(|| {
            calendar
                .elapsed(
                    clock,
                    record.opened_at,
                    record.closed_at,
                    record.recipient_tz,
                )
                .to_std()
                .unwrap_or_default()
        }),
        met: answered && record.closed_at <= record.deadline,
        steps: record.steps,
        reached_call: call_step.is_some_and(|i| record.steps > i),
    }
}

// ---- `/sla stats` --------------------------------------------------------------------------------

/// The longest period `/sla stats` counts: what the store keeps of closed requests.
pub const LONGEST: Duration = crate::store::retention::OUTCOMES_KEEP;
/// `/sla stats` with no period: the last four weeks.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(28 * 86_400);

/// What `/sla stats …` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRequest {
    /// `None`: the whole workspace.
    pub channel: Option<String>,
    pub period: Duration,
}

pub const STATS_USAGE: &str = "`/sla stats` shows how the team keeps its norms over the last 4 weeks; `/sla stats here` or `/sla stats #channel` for one channel, and a period such as `1w`, `2w`, `30d` or `12w` (up to a year). Your own figures come below the team's, seen only by you.";

/// Parses the words after `/sla stats`. `here` is the channel the command was typed in
/// (`current`; not a DM). Figures are per team: asking for someone else's is refused.
pub fn parse_stats(args: &str, current: &str) -> Result<StatsRequest, String> {
    let mut request = StatsRequest {
        channel: None,
        period: DEFAULT_PERIOD,
    };
    for word in args.split_whitespace() {
        if let Some(inner) = word.strip_prefix("<#").and_then(|w| w.strip_suffix('>')) {
            let id = inner.split('|').next().unwrap_or("");
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!(
                    "I can't read `{}` as a channel.",
                    crate::domain::format::escape(word)
                ));
            }
            request.channel = Some(id.to_owned());
        } else if word.eq_ignore_ascii_case("here") || word.eq_ignore_ascii_case("channel") {
            if current.starts_with('D') || current.is_empty() {
                return Err("This is a direct message, not a team channel: run `/sla stats here` in the channel, or name it: `/sla stats #channel`.".into());
            }
            request.channel = Some(current.to_owned());
        } else if word.starts_with("<@") || word.starts_with("<!subteam") {
            return Err("Figures are per team, never per person: I only show anyone their own (below the team's, in `/sla stats`).".into());
        } else if word.starts_with('#') {
            return Err(format!(
                "Pick the channel from Slack's list as you type `#` (so it becomes a link), or run `/sla stats here` in `{}`.",
                crate::domain::format::escape(word)
            ));
        } else {
            let period = humantime::parse_duration(word).map_err(|_| {
                format!(
                    "I don't understand `{}`. {STATS_USAGE}",
                    crate::domain::format::escape(word)
                )
            })?;
            if period < Duration::from_secs(86_400) || period > LONGEST {
                return Err(format!(
                    "The period must be between a day and a year (`1d` to `52w`), not `{}`.",
                    crate::domain::format::escape(word)
                ));
            }
            request.period = period;
        }
    }
    Ok(request)
}

/// "the last 4 weeks", "the last 10 days".
pub fn describe_period(period: Duration) -> String {
    let days = period.as_secs() / 86_400;
    match days {
        1 => "the last day".to_owned(),
        7 => "the last week".to_owned(),
        d if d % 7 == 0 => format!("the last {} weeks", d / 7),
        d => format!("the last {d} days"),
    }
}

/// The answer to `/sla stats`: the team's figures for the scope asked, with the SLA met rate
/// week by week, then `viewer`'s own.
pub fn stats<R: Reads + ?Sized>(
    rx: &R,
    settings: &Settings,
    viewer: &str,
    request: &StatsRequest,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let from = now - chrono::Duration::from_std(request.period).unwrap_or_default();
    let scope = match &request.channel {
        Some(c) => Scope::Channel(c.clone()),
        None => Scope::Workspace,
    };
    let whose = match &request.channel {
        Some(c) => format!("<#{c}>"),
        None => "the workspace".to_owned(),
    };
    let period = describe_period(request.period);
    let team = gather(rx, settings, &scope, from, now)?;
    let figures = team.figures(from, now);
    let min_group = settings.respect.metrics_min_group;
    let mut text = format!("*How the team keeps its norms* in {whose}, {period}\n");
    for line in team.team_lines(&figures, min_group) {
        text.push_str(&line);
        text.push('\n');
    }
    if !figures.is_empty() && !team.too_few(min_group) {
        let weeks = u32::try_from(request.period.as_secs() / (7 * 86_400)).unwrap_or(1);
        if weeks >= 2 {
            let rates = team.weekly_met_rates(now, weeks.min(26));
            text.push_str(&format!(
                "• *SLA met, week by week*: {} (oldest first)\n",
                sparkline(&rates, Some(100.0))
            ));
        }
    }
    text.push_str("_Team figures only: nobody's own numbers are shown to anyone else._\n");
    let own = gather(rx, settings, &Scope::Person(viewer.to_owned()), from, now)?;
    let mine = own.figures(from, now);
    text.push_str(&format!("\n*Your own*, {period} (only you see this)\n"));
    if mine.is_empty() {
        text.push_str("Nothing yet: no request to you closed, no standup of yours counted.\n");
    } else {
        for line in describe(&mine, &own.steps) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    Ok(text)
}

/// The Home tab's section: the team's last seven days with sparklines, then the viewer's own.
pub fn home<R: Reads + ?Sized>(
    rx: &R,
    settings: &Settings,
    viewer: &str,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let weeks = 8;
    let from = now - chrono::Duration::weeks(weeks);
    let team = gather(rx, settings, &Scope::Workspace, from, now)?;
    let week = team.figures(now - chrono::Duration::weeks(1), now);
    let min_group = settings.respect.metrics_min_group;
    let mut text = "*The team's week*\n".to_owned();
    for line in team.team_lines(&week, min_group) {
        text.push_str(&line);
        text.push('\n');
    }
    let rates = team.weekly_met_rates(now, 8);
    if rates.iter().any(Option::is_some) && !team.too_few(min_group) {
        text.push_str(&format!(
            "SLA met, last 8 weeks: `{}` · answers, last 7 days: `{}`\n",
            sparkline(&rates, Some(100.0)),
            sparkline(&team.daily_answers(now, 7), None)
        ));
    }
    let own = gather(
        rx,
        settings,
        &Scope::Person(viewer.to_owned()),
        now - chrono::Duration::weeks(1),
        now,
    )?;
    let mine = own.figures(now - chrono::Duration::weeks(1), now);
    if !mine.is_empty() {
        text.push_str("*Your week* (only you see this)\n");
        for line in describe(&mine, &own.steps) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text.push_str("_`/sla stats` for more, by channel and period._");
    Ok(text)
}

/// The Home tab section's block id.
pub const HOME_BLOCK: &str = "insights_week";

/// The feature: the team's week on the Home tab (`/sla stats` is answered by the SLA feature's
/// command, through [`stats`]).
pub struct Insights;

impl crate::engine::Feature for Insights {
    fn home_blocks(
        &self,
        engine: &crate::engine::Engine,
        user: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<slack_morphism::prelude::SlackBlock>, StoreError> {
        use slack_morphism::prelude::*;
        let text = engine
            .store
            .read(|rx| home(rx, &engine.settings, user, now))?;
        Ok(vec![
            SlackDividerBlock::new().into(),
            SlackSectionBlock::new()
                .with_block_id(SlackBlockId::new(HOME_BLOCK.into()))
                .with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text)))
                .into(),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stats_words_are_read_or_refused_clearly() {
        let ok = |args: &str| parse_stats(args, "C0HERE").unwrap();
        assert_eq!(
            ok(""),
            StatsRequest {
                channel: None,
                period: DEFAULT_PERIOD
            }
        );
        assert_eq!(ok("here 2w").channel.as_deref(), Some("C0HERE"));
        assert_eq!(ok("2w").period, Duration::from_secs(14 * 86_400));
        assert_eq!(
            ok("<#C0OTHER|general> 30d").channel.as_deref(),
            Some("C0OTHER")
        );
        assert_eq!(ok("<#C0OTHER>").channel.as_deref(), Some("C0OTHER"));
        let err = |args: &str, here: &str| parse_stats(args, here).unwrap_err();
        assert!(err("<@U0BOB>", "C1").contains("never per person"));
        assert!(err("here", "D0DM").contains("direct message"));
        assert!(err("2y", "C1").contains("between a day and a year"));
        assert!(err("1h", "C1").contains("between a day and a year"));
        assert!(err("#general", "C1").contains("Slack's list"));
        assert!(err("lots", "C1").contains("I don't understand `lots`"));
        assert!(err("<#C1 <script>", "C1").contains("&lt;"));
    }

    #[test]
    fn periods_read_as_people_say_them() {
        assert_eq!(describe_period(DEFAULT_PERIOD), "the last 4 weeks");
        assert_eq!(
            describe_period(Duration::from_secs(7 * 86_400)),
            "the last week"
        );
        assert_eq!(
            describe_period(Duration::from_secs(10 * 86_400)),
            "the last 10 days"
        );
    }

    proptest! {
        /// Any text: an answer or a clear refusal, never a panic, and never a broadcast echoed.
        #[test]
        fn any_stats_text_is_answered(args in "\\PC{0,200}", here in "[CD][A-Z0-9]{0,10}") {
            match parse_stats(&args, &here) {
                Ok(r) => prop_assert!(r.period >= Duration::from_secs(86_400) && r.period <= LONGEST),
                Err(e) => prop_assert!(!e.contains("<!")),
            }
        }

        #[test]
        fn hostile_stats_text_is_refused_without_echoing_broadcasts(
            noise in proptest::collection::vec(prop_oneof![
                Just("<!channel>".to_owned()), Just("<!here>".to_owned()), Just("<@U0BOB>".to_owned()),
                Just("4w".to_owned()), Just("here".to_owned()), "\\PC{0,12}"
            ], 0..40)
        ) {
            let args = noise.join(" ");
            if let Err(e) = parse_stats(&args, "C1") {
                prop_assert!(!e.contains("<!"));
            }
        }
    }
}
