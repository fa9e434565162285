//! Team metrics: how well a team keeps its async norms, from what the store remembers of each
//! closed request, each RFC, each standup day and each blocker. Pure: the figures for a period
//! ([`Figures::compute`]), the series a sparkline or a chart draws, and their Slack text.
//!
//! Never a leaderboard: the figures are sums and distributions over a team (a channel, the
//! workspace) or over one person's own requests, shown only to that person. Nothing here ranks
//! or lists people.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};

use crate::domain::format::human_duration;
use crate::domain::sla::Tier;

/// How a closed request ended, as the metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// A reply, an ack reaction, or *Already answered*.
    Answered,
    /// Nobody answered before `sla.forget_after`: a request the norms failed.
    Expired,
    /// Closed without an answer for a reason that is nobody's failure: the mention was edited
    /// away, the message deleted, the recipient not a person, *Not for me*, a blocker cleared.
    Withdrawn,
}

/// One closed request, as the metrics see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub channel: String,
    pub recipient: String,
    pub tier: Tier,
    pub opened_at: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
    pub end: End,
    /// How long the answer took on the recipient's own clock (the tier's clock on their
    /// calendar); `None` unless answered.
    pub response: Option<Duration>,
    /// Answered by the deadline (or by the ETA the recipient promised, which replaced it).
    pub met: bool,
    /// Ladder steps posted before it closed: 0 means answered before any nudge.
    pub steps: usize,
    /// The ladder had suggested a call by then.
    pub reached_call: bool,
}

/// One RFC, as the metrics see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RfcOutcome {
    pub channel: String,
    pub opened_at: DateTime<Utc>,
    pub decided_at: DateTime<Utc>,
    /// Decided before the approver's first reminder after the window closed (or before the
    /// window closed): "within its window".
    pub on_time: bool,
}

/// One standup day: who was expected and who answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandupTally {
    pub date: NaiveDate,
    pub expected: usize,
    pub answered: usize,
}

/// Figures of one tier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierFigures {
    pub answered: usize,
    pub median: Option<Duration>,
    pub p90: Option<Duration>,
    /// Answered by the deadline.
    pub met: usize,
    /// Answered late, or expired unanswered.
    pub missed: usize,
}

impl TierFigures {
    /// Met out of met and missed, in percent; `None` when there is nothing to count.
    pub fn met_rate(&self) -> Option<f64> {
        rate(self.met, self.met + self.missed)
    }
}

/// Everything the metrics say of one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Urgent, normal, low.
    pub tiers: [TierFigures; 3],
    pub answered: usize,
    pub expired: usize,
    pub withdrawn: usize,
    /// How many requests were answered after `n` ladder steps (index `n`; 0 = before any
    /// nudge). The norm: most at 0, 1 or 2.
    pub answered_at_step: Vec<usize>,
    /// Requests whose ladder reached the call suggestion.
    pub calls: usize,
    pub rfcs_decided: usize,
    pub rfcs_on_time: usize,
    /// Opening to decision, wall time, each RFC decided in the period (in order of decision).
    pub rfc_cycles: Vec<Duration>,
    pub standup_expected: usize,
    pub standup_answered: usize,
    pub blockers_opened: usize,
    pub blockers_cleared: usize,
}

/// Blockers opened and cleared in a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockerCounts {
    pub opened: usize,
    pub cleared: usize,
}

impl Figures {
    /// The figures of the outcomes, RFCs and standup days given (the caller picks those of the
    /// period and the scope).
    pub fn compute(
        outcomes: &[Outcome],
        rfcs: &[RfcOutcome],
        standups: &[StandupTally],
        blockers: BlockerCounts,
    ) -> Figures {
        let mut figures = Figures::default();
        let mut times: [Vec<Duration>; 3] = Default::default();
        for o in outcomes {
            let t = tier_index(o.tier);
            match o.end {
                End::Answered => {
                    figures.answered += 1;
                    let tier = &mut figures.tiers[t];
                    tier.answered += 1;
                    if o.met {
                        tier.met += 1;
                    } else {
                        tier.missed += 1;
                    }
                    if let Some(r) = o.response {
                        times[t].push(r);
                    }
                    if figures.answered_at_step.len() <= o.steps {
                        figures.answered_at_step.resize(o.steps + 1, 0);
                    }
                    figures.answered_at_step[o.steps] += 1;
                }
                End::Expired => {
                    figures.expired += 1;
                    figures.tiers[t].missed += 1;
                }
                End::Withdrawn => figures.withdrawn += 1,
            }
            if o.reached_call {
                figures.calls += 1;
            }
        }
        for (tier, mut times) in figures.tiers.iter_mut().zip(times) {
            times.sort_unstable();
            tier.median = percentile(&times, 50);
            tier.p90 = percentile(&times, 90);
        }
        let mut decided: Vec<&RfcOutcome> = rfcs.iter().collect();
        decided.sort_by_key(|r| r.decided_at);
        figures.rfcs_decided = decided.len();
        figures.rfcs_on_time = decided.iter().filter(|r| r.on_time).count();
        figures.rfc_cycles = decided
            .iter()
            .map(|r| (r.decided_at - r.opened_at).to_std().unwrap_or_default())
            .collect();
        figures.standup_expected = standups.iter().map(|s| s.expected).sum();
        figures.standup_answered = standups.iter().map(|s| s.answered.min(s.expected)).sum();
        figures.blockers_opened = blockers.opened;
        figures.blockers_cleared = blockers.cleared;
        figures
    }

    /// Met out of every answered or expired request, in percent.
    pub fn met_rate(&self) -> Option<f64> {
        let met: usize = self.tiers.iter().map(|t| t.met).sum();
        let missed: usize = self.tiers.iter().map(|t| t.missed).sum();
        rate(met, met + missed)
    }

    /// Share of answers that came by the second ladder step (before any nudge, after the
    /// thread mention, or after the DM), in percent.
    pub fn early_rate(&self) -> Option<f64> {
        let early: usize = self.answered_at_step.iter().take(3).sum();
        rate(early, self.answered)
    }

    pub fn standup_rate(&self) -> Option<f64> {
        rate(self.standup_answered, self.standup_expected)
    }

    pub fn rfc_median_cycle(&self) -> Option<Duration> {
        let mut cycles = self.rfc_cycles.clone();
        cycles.sort_unstable();
        percentile(&cycles, 50)
    }

    /// The median response of every tier together.
    pub fn tier(&self, tier: Tier) -> &TierFigures {
        &self.tiers[tier_index(tier)]
    }

    /// True when the period has nothing at all to show.
    pub fn is_empty(&self) -> bool {
        self.answered + self.expired + self.withdrawn == 0
            && self.rfcs_decided == 0
            && self.standup_expected == 0
            && self.blockers_opened + self.blockers_cleared == 0
    }
}

/// The tiers in the order the figures keep them.
pub const TIERS: [Tier; 3] = [Tier::Urgent, Tier::Normal, Tier::Low];

/// "Urgent", "Normal", "Low".
pub fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Urgent => "Urgent",
        Tier::Normal => "Normal",
        Tier::Low => "Low",
    }
}

fn tier_index(tier: Tier) -> usize {
    match tier {
        Tier::Urgent => 0,
        Tier::Normal => 1,
        Tier::Low => 2,
    }
}

/// `part` of `whole` in percent; `None` when `whole` is 0.
pub fn rate(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// The nearest-rank percentile `p` (0–100) of `sorted`: an element of it, never an
/// interpolation between two answers nobody gave.
pub fn percentile(sorted: &[Duration], p: u32) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100);
    let index = usize::try_from(rank).unwrap_or(usize::MAX).max(1) - 1;
    sorted.get(index.min(sorted.len() - 1)).copied()
}

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A Unicode sparkline of `values`, scaled from 0 to their maximum (a rate from 0 to 100 reads
/// best scaled to 100: pass `ceiling`). `None` (no data that day or week) shows as `·`.
pub fn sparkline(values: &[Option<f64>], ceiling: Option<f64>) -> String {
    let top = ceiling
        .or_else(|| values.iter().flatten().copied().reduce(f64::max))
        .filter(|t| *t > 0.0 && t.is_finite());
    values
        .iter()
        .map(|v| match (v, top) {
            (None, _) => '·',
            (Some(_), None) => BARS[0],
            (Some(v), Some(top)) => {
                let level = (v.clamp(0.0, top) / top * 7.0).round() as usize;
                BARS[level.min(7)]
            }
        })
        .collect()
}

/// Which way a figure moved against last period: "↗️", "↘️" or "→" (within `tolerance`), for
/// the weekly update. Whether up is good depends on the figure; the arrow shows only the
/// direction, and the text says the figure.
pub fn trend(now: Option<f64>, before: Option<f64>, tolerance: f64) -> &'static str {
    match (now, before) {
        (Some(n), Some(b)) if n > b + tolerance => "↗️",
        (Some(n), Some(b)) if n < b - tolerance => "↘️",
        (Some(_), Some(_)) => "→",
        _ => "",
    }
}

/// "87%", without decimals.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "–".to_owned(), |r| format!("{r:.0}%"))
}

/// A duration as a person would say it, rounded to what matters: "25 min", "3 h 10 min",
/// "2 d 4 h" (days of 24 hours).
pub fn short_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 2 * 86_400 {
        let (days, hours) = (secs / 86_400, (secs % 86_400 + 1_800) / 3_600);
        return if hours == 0 || hours == 24 {
            format!("{} d", days + u64::from(hours == 24))
        } else {
            format!("{days} d {hours} h")
        };
    }
    if secs >= 60 {
        // To the nearest minute: seconds say nothing at this size.
        return human_duration(Duration::from_secs((secs + 30) / 60 * 60));
    }
    human_duration(d)
}

/// The ladder's step names for "answered at step n": 0 is before any nudge, then each step's
/// own name ("thread mention", "DM", "call").
pub fn step_label(n: usize, steps: &[String]) -> String {
    match n {
        0 => "before any nudge".to_owned(),
        n => steps
            .get(n - 1)
            .map_or_else(|| format!("after step {n}"), |s| format!("after the {s}")),
    }
}

/// Mondays of the `weeks` weeks ending with the one holding `today`, oldest first.
pub fn week_starts(today: NaiveDate, weeks: u32) -> Vec<NaiveDate> {
    let monday = today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
    (0..weeks)
        .rev()
        .filter_map(|n| monday.checked_sub_days(chrono::Days::new(7 * u64::from(n))))
        .collect()
}

/// Standup answers by weekday, Monday first: (expected, answered) summed over the days given.
pub fn standup_by_weekday(standups: &[StandupTally]) -> [(usize, usize); 7] {
    let mut out = [(0, 0); 7];
    for s in standups {
        let slot = &mut out[s.date.weekday().num_days_from_monday() as usize];
        slot.0 += s.expected;
        slot.1 += s.answered.min(s.expected);
    }
    out
}

/// The weekdays in [`standup_by_weekday`]'s order.
pub const WEEKDAYS: [Weekday; 7] = crate::domain::calendar::WEEK;

/// What the figures say, as Slack text lines: response times by tier, the SLA met rate, where
/// answers came on the ladder, calls, RFCs, standups and blockers. Lines with nothing to say are
/// left out; `steps` names the ladder's steps.
pub fn describe(figures: &Figures, steps: &[String]) -> Vec<String> {
    let mut lines = Vec::new();
    for tier in TIERS {
        let t = figures.tier(tier);
        if t.answered + t.missed == 0 {
            continue;
        }
        let mut line = format!("• *{}*: {} answered", tier_name(tier), t.answered);
        if let (Some(median), Some(p90)) = (t.median, t.p90) {
            line.push_str(&format!(
                ", median {}, 90% within {}",
                short_duration(median),
                short_duration(p90)
            ));
        }
        line.push_str(&format!(" · {} within the SLA", percent(t.met_rate())));
        lines.push(line);
    }
    if figures.met_rate().is_some() {
        let mut line = format!(
            "• *SLA met*: {} of {} requests",
            percent(figures.met_rate()),
            figures.answered + figures.expired
        );
        if figures.expired > 0 {
            line.push_str(&format!(
                " ({} expired unanswered)",
                plural(figures.expired, "request", "requests")
            ));
        }
        lines.push(line);
    }
    if figures.answered > 0 {
        let spread: Vec<String> = figures
            .answered_at_step
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| format!("{} {n}", step_label(i, steps)))
            .collect();
        lines.push(format!(
            "• *Answered*: {} · {} by the second step",
            spread.join(" · "),
            percent(figures.early_rate())
        ));
    }
    if figures.calls > 0 {
        lines.push(format!(
            "• *Calls suggested*: {}",
            plural(figures.calls, "request", "requests")
        ));
    }
    if figures.rfcs_decided > 0 {
        let median = figures
            .rfc_median_cycle()
            .map(|d| format!(", median cycle {}", short_duration(d)))
            .unwrap_or_default();
        lines.push(format!(
            "• *RFCs*: {} decided, {} within their window{median}",
            figures.rfcs_decided, figures.rfcs_on_time
        ));
    }
    if figures.standup_expected > 0 {
        lines.push(format!(
            "• *Standups*: {} of {} answers ({})",
            figures.standup_answered,
            figures.standup_expected,
            percent(figures.standup_rate())
        ));
    }
    if figures.blockers_opened + figures.blockers_cleared > 0 {
        lines.push(format!(
            "• *Blockers*: {} opened, {} cleared",
            figures.blockers_opened, figures.blockers_cleared
        ));
    }
    lines
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap() + chrono::Duration::hours(h)
    }

    fn answered(tier: Tier, minutes: u64, met: bool, steps: usize) -> Outcome {
        Outcome {
            channel: "C1".into(),
            recipient: "U1".into(),
            tier,
            opened_at: at(0),
            closed_at: at(1),
            end: End::Answered,
            response: Some(Duration::from_secs(minutes * 60)),
            met,
            steps,
            reached_call: steps >= 3,
        }
    }

    #[test]
    fn percentiles_are_answers_somebody_gave() {
        let d = |m: u64| Duration::from_secs(m * 60);
        let sorted: Vec<Duration> = (1..=10).map(d).collect();
        assert_eq!(percentile(&sorted, 50), Some(d(5)));
        assert_eq!(percentile(&sorted, 90), Some(d(9)));
        assert_eq!(percentile(&sorted, 100), Some(d(10)));
        assert_eq!(percentile(&sorted, 0), Some(d(1)));
        assert_eq!(percentile(&[d(7)], 90), Some(d(7)));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn figures_count_each_ending_once() {
        let mut expired = answered(Tier::Normal, 0, false, 3);
        expired.end = End::Expired;
        expired.response = None;
        let mut withdrawn = answered(Tier::Low, 0, false, 0);
        withdrawn.end = End::Withdrawn;
        withdrawn.response = None;
        withdrawn.reached_call = false;
        let outcomes = vec![
            answered(Tier::Normal, 30, true, 0),
            answered(Tier::Normal, 90, true, 1),
            answered(Tier::Normal, 600, false, 2),
            answered(Tier::Urgent, 20, true, 0),
            expired,
            withdrawn,
        ];
        let rfc = RfcOutcome {
            channel: "C1".into(),
            opened_at: at(0),
            decided_at: at(50),
            on_time: true,
        };
        let late = RfcOutcome {
            decided_at: at(100),
            on_time: false,
            ..rfc.clone()
        };
        let standups = [
            StandupTally {
                date: NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
                expected: 4,
                answered: 3,
            },
            StandupTally {
                date: NaiveDate::from_ymd_opt(2026, 11, 17).unwrap(),
                expected: 4,
                answered: 4,
            },
        ];
        let f = Figures::compute(
            &outcomes,
            &[late, rfc],
            &standups,
            BlockerCounts {
                opened: 2,
                cleared: 1,
            },
        );
        assert_eq!((f.answered, f.expired, f.withdrawn), (4, 1, 1));
        let normal = f.tier(Tier::Normal);
        assert_eq!((normal.answered, normal.met, normal.missed), (3, 2, 2));
        assert_eq!(normal.median, Some(Duration::from_secs(90 * 60)));
        assert_eq!(normal.p90, Some(Duration::from_secs(600 * 60)));
        assert_eq!(f.answered_at_step, vec![2, 1, 1]);
        assert_eq!(f.calls, 1);
        // 3 met of 5 counted (the withdrawn one counts neither way).
        assert_eq!(f.met_rate(), Some(60.0));
        assert_eq!(f.early_rate(), Some(100.0));
        assert_eq!((f.rfcs_decided, f.rfcs_on_time), (2, 1));
        assert_eq!(
            f.rfc_cycles,
            vec![
                Duration::from_secs(50 * 3600),
                Duration::from_secs(100 * 3600)
            ]
        );
        assert_eq!(f.standup_rate(), Some(87.5));
        let text = describe(&f, &["thread mention".into(), "DM".into(), "call".into()]).join("\n");
        assert!(
            text.contains(
                "*Normal*: 3 answered, median 1 h 30 min, 90% within 10 h · 50% within the SLA"
            ),
            "{text}"
        );
        assert!(
            text.contains("*SLA met*: 60% of 5 requests (1 request expired unanswered)"),
            "{text}"
        );
        assert!(
            text.contains("before any nudge 2 · after the thread mention 1 · after the DM 1"),
            "{text}"
        );
        assert!(
            text.contains("*RFCs*: 2 decided, 1 within their window, median cycle 2 d 2 h"),
            "{text}"
        );
        assert!(text.contains("*Standups*: 7 of 8 answers (88%)"), "{text}");
        assert!(text.contains("*Blockers*: 2 opened, 1 cleared"), "{text}");
        assert!(!text.contains("U1"), "never names anyone: {text}");
    }

    #[test]
    fn an_empty_period_says_nothing() {
        let f = Figures::compute(&[], &[], &[], BlockerCounts::default());
        assert!(f.is_empty());
        assert!(describe(&f, &[]).is_empty());
        assert_eq!(f.met_rate(), None);
    }

    #[test]
    fn sparklines_scale_to_the_top() {
        assert_eq!(
            sparkline(&[Some(0.0), Some(50.0), Some(100.0), None], Some(100.0)),
            "▁▅█·"
        );
        assert_eq!(sparkline(&[Some(1.0), Some(2.0), Some(4.0)], None), "▃▅█");
        assert_eq!(sparkline(&[Some(0.0), Some(0.0)], None), "▁▁");
        assert_eq!(sparkline(&[], None), "");
    }

    #[test]
    fn trends_and_durations_read_as_people_say_them() {
        assert_eq!(trend(Some(90.0), Some(80.0), 1.0), "↗️");
        assert_eq!(trend(Some(70.0), Some(80.0), 1.0), "↘️");
        assert_eq!(trend(Some(80.5), Some(80.0), 1.0), "→");
        assert_eq!(trend(Some(80.0), None, 1.0), "");
        assert_eq!(short_duration(Duration::from_secs(25 * 60 + 10)), "25 min");
        assert_eq!(
            short_duration(Duration::from_secs(3 * 3600 + 610)),
            "3 h 10 min"
        );
        assert_eq!(short_duration(Duration::from_secs(50 * 3600)), "2 d 2 h");
        assert_eq!(short_duration(Duration::from_secs(3 * 86_400 + 60)), "3 d");
        assert_eq!(short_duration(Duration::from_secs(40)), "40 s");
    }

    #[test]
    fn weeks_start_on_mondays() {
        let sunday = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let weeks = week_starts(sunday, 3);
        assert_eq!(
            weeks,
            vec![
                NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
                NaiveDate::from_ymd_opt(2026, 11, 9).unwrap(),
                NaiveDate::from_ymd_opt(2026, 11, 16).unwrap(),
            ]
        );
    }

    proptest! {
        #[test]
        fn a_percentile_is_within_the_data(mut secs in proptest::collection::vec(0u64..1_000_000, 1..200), p in 0u32..=100) {
            secs.sort_unstable();
            let sorted: Vec<Duration> = secs.iter().map(|s| Duration::from_secs(*s)).collect();
            let v = percentile(&sorted, p).unwrap();
            prop_assert!(sorted.contains(&v));
            let below = sorted.iter().filter(|d| **d <= v).count();
            prop_assert!(below * 100 >= p as usize * sorted.len());
        }

        #[test]
        fn a_sparkline_has_one_bar_per_value(values in proptest::collection::vec(proptest::option::of(-10.0f64..1e6), 0..60)) {
            let line = sparkline(&values, None);
            prop_assert_eq!(line.chars().count(), values.len());
        }
    }
}
