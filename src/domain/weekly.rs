//! The weekly update (NORMS §6): when a channel's update is due (`[[weekly]]`, `at = "fri
//! 15:00"` in its time zone), and its text in the seed's template: 🏆 wins, 📊 key metrics with
//! their direction against last week, 🎯 priorities, ❓ open questions (without naming who owes
//! an answer), 📝 decisions. Pure: the feature gathers the week from the store and sends this.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::{local_to_utc, parse_weekday};
use crate::domain::format::{escape, quote_slack};

/// One channel's weekly update: when, and who gets the draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklySchedule {
    pub channel: String,
    pub weekday: Weekday,
    pub at: NaiveTime,
    pub timezone: Tz,
    /// Gets the draft by DM an hour before, with *Post now* and *Skip this week*.
    pub owner: Option<String>,
}

/// The draft goes this long before the post.
pub const DRAFT_BEFORE: Duration = Duration::hours(1);

/// Reads `"fri 15:00"`: a weekday and a 24-hour time.
pub fn parse_at(text: &str) -> Result<(Weekday, NaiveTime), String> {
    let mut words = text.split_whitespace();
    let (Some(day), Some(time), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!(
            "`{}` is not a weekday and a time: write it like \"fri 15:00\"",
            escape(text)
        ));
    };
    let weekday = parse_weekday(day)
        .ok_or_else(|| format!("`{}` is not a weekday (mon … sun)", escape(day)))?;
    let time = crate::domain::standup::parse_time(time)
        .ok_or_else(|| format!("`{}` is not a time of day (HH:MM)", escape(time)))?;
    Ok((weekday, time))
}

impl WeeklySchedule {
    /// The next post strictly after `after`: its local date and instant.
    pub fn next_post(&self, after: DateTime<Utc>) -> (NaiveDate, DateTime<Utc>) {
        let today = after.with_timezone(&self.timezone).date_naive();
        let ahead =
            (7 + self.weekday.num_days_from_monday() - today.weekday().num_days_from_monday()) % 7;
        let mut date = today + chrono::Days::new(u64::from(ahead));
        loop {
            let at = local_to_utc(self.timezone, date, self.at);
            if at > after {
                return (date, at);
            }
            date = date + chrono::Days::new(7);
        }
    }

    /// What makes two schedules the same plan.
    pub fn key(&self) -> String {
        format!(
            "{} {} {} {}",
            self.weekday,
            self.at,
            self.timezone,
            self.owner.as_deref().unwrap_or("")
        )
    }

    pub fn describe(&self) -> String {
        let owner = match &self.owner {
            Some(u) => format!(", with a draft to <@{u}> an hour before"),
            None => String::new(),
        };
        format!(
            "The weekly update is posted in <#{}> every {} at {} ({}){owner}.",
            self.channel,
            self.weekday,
            self.at.format("%H:%M"),
            self.timezone
        )
    }
}

/// What the bot keeps of a channel's weekly update between weeks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyState {
    /// When the last update went out: the next one covers everything since.
    pub last_posted: Option<DateTime<Utc>>,
    /// The local date of the coming (or pending) post, when it is due, and what became of it.
    pub week: Option<NaiveDate>,
    pub post_at: Option<DateTime<Utc>>,
    pub draft_sent: bool,
    pub posted: bool,
    pub skipped: bool,
    /// When its timer is due (the draft or the post).
    pub next_due: Option<DateTime<Utc>>,
    /// The schedule this was planned for ([`WeeklySchedule::key`]): a changed schedule is
    /// planned again.
    #[serde(default)]
    pub planned_for: String,
}

/// A post the bot was down for is still made this long after its time; after that, the week
/// is missed and the next update covers it.
pub const LATE_POST_GRACE: Duration = Duration::hours(12);

impl WeeklyState {
    /// Moves on to the coming week once this one is done (posted, skipped, or missed), and sets
    /// when the timer is next due: the draft an hour before the post (at once if that hour has
    /// begun), or the post.
    pub fn plan(&mut self, schedule: &WeeklySchedule, now: DateTime<Utc>) {
        let key = schedule.key();
        let done = self.posted
            || self.skipped
            || self.planned_for != key
            || self.post_at.is_none_or(|p| p + LATE_POST_GRACE < now);
        if done {
            // After a week posted or skipped (even early, by a button), the next is the one
            // after its post time; after a missed or re-planned week, the next from now.
            let after = match self.post_at {
                Some(p) if self.planned_for == key && (self.posted || self.skipped) => p.max(now),
                _ => now,
            };
            let (date, at) = schedule.next_post(after);
            self.week = Some(date);
            self.post_at = Some(at);
            self.draft_sent = false;
            self.posted = false;
            self.skipped = false;
            self.planned_for = key;
        }
        let post_at = self.post_at.unwrap_or(now);
        self.next_due = Some(if schedule.owner.is_some() && !self.draft_sent {
            (post_at - DRAFT_BEFORE).max(now).min(post_at)
        } else {
            post_at.max(now)
        });
    }
}

/// One line of a section, with the person it is about (their name, never a ping) and a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub who: Option<String>,
    /// Slack text from people: quoted with broadcasts made inert when composed.
    pub text: String,
    pub link: Option<String>,
}

/// A figure this week and last week.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub label: String,
    pub now: String,
    pub before: String,
    pub arrow: &'static str,
}

/// Everything a weekly update says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeeklyInput {
    pub channel: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub wins: Vec<Item>,
    /// `None` when the team is too small for team figures (it says so).
    pub metrics: Option<Vec<Metric>>,
    pub priorities: Vec<Item>,
    pub questions: Vec<Item>,
    pub decisions: Vec<Item>,
}

/// The most items a section lists; the rest are counted.
pub const MAX_ITEMS: usize = 12;
/// The most characters of one item's text.
const ITEM_CHARS: usize = 200;

fn list(items: &[Item], empty: &str) -> String {
    if items.is_empty() {
        return format!("_{empty}_\n");
    }
    let mut out = String::new();
    for item in items.iter().take(MAX_ITEMS) {
        let text = quote_slack(&crate::domain::format::excerpt(&item.text, ITEM_CHARS));
        let who = item
            .who
            .as_deref()
            .map(|w| format!("*{}*: ", escape(w)))
            .unwrap_or_default();
        let link = item
            .link
            .as_deref()
            .map(|l| format!(" ({})", crate::domain::format::link(l, "thread")))
            .unwrap_or_default();
        out.push_str(&format!("• {who}{text}{link}\n"));
    }
    if items.len() > MAX_ITEMS {
        out.push_str(&format!("… and {} more.\n", items.len() - MAX_ITEMS));
    }
    out
}

/// The update's text, in the seed's template. Fits one Slack message: each section lists at
/// most [`MAX_ITEMS`] items of at most 200 characters.
pub fn compose(input: &WeeklyInput) -> String {
    let mut text = format!(
        "*Weekly update* for <#{}>, {} – {}\n\n",
        input.channel,
        input.from.format("%a %-d %b"),
        input.to.format("%a %-d %b")
    );
    text.push_str("*🏆 Wins*\n");
    text.push_str(&list(
        &input.wins,
        "No completed work was reported in the standups.",
    ));
    text.push_str("\n*📊 Key metrics* (against last week)\n");
    match &input.metrics {
        None => text.push_str(
            "_Too few people were counted here for team figures: they would be one person's own._\n",
        ),
        Some(metrics) if metrics.is_empty() => text.push_str("_Nothing to count this week._\n"),
        Some(metrics) => {
            for m in metrics {
                let arrow = if m.arrow.is_empty() {
                    String::new()
                } else {
                    format!(" {}", m.arrow)
                };
                text.push_str(&format!(
                    "• {}: {}{arrow} (last week {})\n",
                    m.label, m.now, m.before
                ));
            }
        }
    }
    text.push_str("\n*🎯 Priorities*\n");
    text.push_str(&list(
        &input.priorities,
        "No plans were reported in the standups.",
    ));
    text.push_str("\n*❓ Open questions*\n");
    text.push_str(&list(&input.questions, "Nothing is waiting past its SLA."));
    text.push_str("\n*📝 Decisions*\n");
    text.push_str(&list(&input.decisions, "No decisions this week."));
    text
}

/// A request's words without who it asks (`<@U…>` mentions taken out): an open question is
/// listed without blaming anyone.
pub fn without_mentions(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        out.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(end) => {
                rest = rest[start + end + 1..]
                    .trim_start()
                    .trim_start_matches([',', ':'])
                    .trim_start();
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    let trimmed = out.trim().trim_start_matches([',', ':', ' ']).trim();
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn berlin() -> Tz {
        chrono_tz::Europe::Berlin
    }

    #[test]
    fn fri_1500_is_read_and_nonsense_is_explained() {
        assert_eq!(
            parse_at("fri 15:00").unwrap(),
            (Weekday::Fri, NaiveTime::from_hms_opt(15, 0, 0).unwrap())
        );
        assert_eq!(parse_at(" Monday 9:30 ").unwrap().0, Weekday::Mon);
        assert!(parse_at("friday").unwrap_err().contains("fri 15:00"));
        assert!(
            parse_at("funday 15:00")
                .unwrap_err()
                .contains("not a weekday")
        );
        assert!(parse_at("fri 25:00").unwrap_err().contains("not a time"));
        assert!(
            parse_at("<!channel> 15:00")
                .unwrap_err()
                .contains("&lt;!channel&gt;")
        );
    }

    #[test]
    fn the_next_post_is_the_next_such_weekday_and_time() {
        let s = WeeklySchedule {
            channel: "C1".into(),
            weekday: Weekday::Fri,
            at: NaiveTime::from_hms_opt(15, 0, 0).unwrap(),
            timezone: berlin(),
            owner: None,
        };
        let thu = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let (date, at) = s.next_post(thu);
        assert_eq!(date, NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
        assert_eq!(at, Utc.with_ymd_and_hms(2026, 11, 27, 14, 0, 0).unwrap());
        // At the post itself: the next week's.
        assert_eq!(
            s.next_post(at).0,
            NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
        );
        assert!(s.describe().contains("every Fri at 15:00 (Europe/Berlin)"));
    }

    #[test]
    fn a_week_skipped_before_its_post_moves_on_to_the_next() {
        let s = WeeklySchedule {
            channel: "C1".into(),
            weekday: Weekday::Fri,
            at: NaiveTime::from_hms_opt(15, 0, 0).unwrap(),
            timezone: berlin(),
            owner: Some("UALICE".into()),
        };
        let thu = Utc.with_ymd_and_hms(2026, 11, 26, 12, 0, 0).unwrap();
        let mut state = WeeklyState::default();
        state.plan(&s, thu);
        assert_eq!(state.week, NaiveDate::from_ymd_opt(2026, 11, 27));
        // The draft an hour before the post.
        assert_eq!(
            state.next_due,
            Some(Utc.with_ymd_and_hms(2026, 11, 27, 13, 0, 0).unwrap())
        );
        // Skipped at the draft (14:00 Berlin): next Friday, not this Friday's 15:00 again.
        let draft = state.next_due.unwrap();
        state.skipped = true;
        state.plan(&s, draft);
        assert_eq!(state.week, NaiveDate::from_ymd_opt(2026, 12, 4));
        assert!(!state.skipped && !state.draft_sent);
        // Down for two days past a post: that week is missed, the next is planned.
        let mut late = WeeklyState::default();
        late.plan(&s, thu);
        late.plan(&s, thu + Duration::days(3));
        assert_eq!(late.week, NaiveDate::from_ymd_opt(2026, 12, 4));
        // A post up to 12 hours late still goes out.
        let mut soon = WeeklyState::default();
        soon.plan(&s, thu);
        soon.draft_sent = true;
        soon.plan(&s, Utc.with_ymd_and_hms(2026, 11, 27, 20, 0, 0).unwrap());
        assert_eq!(soon.week, NaiveDate::from_ymd_opt(2026, 11, 27));
    }

    #[test]
    fn the_update_has_every_section_and_quotes_people_safely() {
        let from = Utc.with_ymd_and_hms(2026, 11, 20, 14, 0, 0).unwrap();
        let input = WeeklyInput {
            channel: "CTEAM".into(),
            from,
            to: from + Duration::days(7),
            wins: vec![Item {
                who: Some("Alice <3".into()),
                text: "shipped the API <!channel>".into(),
                link: Some("https://x.slack.com/archives/C/p1".into()),
            }],
            metrics: Some(vec![Metric {
                label: "SLA met".into(),
                now: "80%".into(),
                before: "60%".into(),
                arrow: "↗️",
            }]),
            priorities: Vec::new(),
            questions: (0..20)
                .map(|i| Item {
                    who: None,
                    text: format!("question {i}"),
                    link: None,
                })
                .collect(),
            decisions: Vec::new(),
        };
        let text = compose(&input);
        assert!(
            text.starts_with("*Weekly update* for <#CTEAM>, Fri 20 Nov – Fri 27 Nov"),
            "{text}"
        );
        assert!(text.contains("• *Alice &lt;3*: shipped the API"), "{text}");
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(
            text.contains("<https://x.slack.com/archives/C/p1|thread>"),
            "{text}"
        );
        assert!(text.contains("• SLA met: 80% ↗️ (last week 60%)"), "{text}");
        assert!(
            text.contains("_No plans were reported in the standups._"),
            "{text}"
        );
        assert!(text.contains("• question 11\n… and 8 more."), "{text}");
        assert!(text.contains("_No decisions this week._"), "{text}");
        for heading in [
            "🏆 Wins",
            "📊 Key metrics",
            "🎯 Priorities",
            "❓ Open questions",
            "📝 Decisions",
        ] {
            assert!(text.contains(heading), "{heading}: {text}");
        }
        let small = compose(&WeeklyInput {
            metrics: None,
            ..input
        });
        assert!(small.contains("Too few people"), "{small}");
    }

    #[test]
    fn open_questions_name_nobody() {
        assert_eq!(without_mentions("<@UBOB> can you check?"), "can you check?");
        assert_eq!(
            without_mentions("hey <@UBOB|bob>, <@UCAROL> the deploy?"),
            "hey the deploy?"
        );
        assert_eq!(without_mentions("<@UBOB"), "<@UBOB");
    }

    proptest! {
        #[test]
        fn any_at_text_is_read_or_explained(text in "\\PC{0,80}") {
            match parse_at(&text) {
                Ok(_) => {}
                Err(e) => prop_assert!(!e.contains("<!")),
            }
        }

        #[test]
        fn any_update_fits_one_message(
            texts in proptest::collection::vec("\\PC{0,400}", 0..40),
        ) {
            let items: Vec<Item> = texts.iter().map(|t| Item { who: Some(t.clone()), text: t.clone(), link: None }).collect();
            let input = WeeklyInput {
                channel: "C1".into(),
                wins: items.clone(),
                priorities: items.clone(),
                questions: items.clone(),
                decisions: items,
                ..Default::default()
            };
            let text = compose(&input);
            prop_assert!(text.chars().count() < 40_000);
            prop_assert!(!text.contains("<!channel>") && !text.contains("<!here>"));
        }

        #[test]
        fn without_mentions_never_panics(text in "\\PC{0,200}") {
            let _ = without_mentions(&text);
        }
    }
}
