//! A person's own working time: the days and hours they work and their public-holiday region,
//! set with `/sla hours` or the Home tab. What they leave unset follows the team's calendar. Their
//! calendar ([`personal_calendar`]) is the team's with their settings applied and the time they
//! are away blocked; every clock that concerns them (deadlines, the ladder, reminders, whether a
//! message may go out now) is read on it.

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::calendar::{
    BusinessCalendar, WEEK as ALL_WEEK, WorkingHours, parse_weekday, start_of_day,
};
use super::holidays::Region;
use super::standup::Away;

/// The most working periods in one day (a split day has two or three).
pub const MAX_PERIODS: usize = 4;

/// What one person changed from the team's calendar. `None` fields follow the team.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkingTime {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Weekday>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Vec<WorkingHours>>,
    /// A public-holiday region code ("DE-BY"), or `Some("")`: none, even if the team has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

impl WorkingTime {
    /// Whether nothing is set: the person follows the team's calendar.
    pub fn is_default(&self) -> bool {
        self.days.is_none() && self.hours.is_none() && self.region.is_none()
    }

    /// These settings with `change`'s set fields applied over them.
    pub fn merged(&self, change: &WorkingTime) -> WorkingTime {
        WorkingTime {
            days: change.days.clone().or_else(|| self.days.clone()),
            hours: change.hours.clone().or_else(|| self.hours.clone()),
            region: change.region.clone().or_else(|| self.region.clone()),
        }
    }

    /// The team's calendar with this person's days and hours. Settings that no longer make a
    /// calendar (they were validated when set, so only a hand-edited store could hold them) are
    /// ignored rather than failing every clock of this person.
    pub fn apply(&self, team: &BusinessCalendar) -> BusinessCalendar {
        let mut calendar = team.clone();
        if let Some(days) = &self.days
            && let Ok(with) = calendar.with_days(days.iter().copied())
        {
            calendar = with;
        }
        if let Some(hours) = &self.hours
            && let Ok(with) = calendar.with_hours(hours.clone())
        {
            calendar = with;
        }
        match self.region.as_deref() {
            Some("") => calendar = calendar.with_region(None),
            Some(code) => {
                if let Ok(region) = Region::parse(code) {
                    calendar = calendar.with_region(Some(region));
                }
            }
            None => {}
        }
        calendar
    }
}

/// The whole local days of `away` in `tz`, as UTC intervals [start of first day, start of the
/// day after the last).
pub fn away_intervals(away: &[Away], tz: Tz) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    away.iter()
        .map(|a| {
            let after = a.to.succ_opt().unwrap_or(NaiveDate::MAX);
            (start_of_day(tz, a.from), start_of_day(tz, after))
        })
        .collect()
}

/// A person's calendar: the team's, with their own working time, and blocked while they are
/// away (their dates, in their zone) or out of office (`out`: UTC intervals from Slack).
pub fn personal_calendar(
    team: &BusinessCalendar,
    own: Option<&WorkingTime>,
    away: &[Away],
    tz: Tz,
    out: impl IntoIterator<Item = (DateTime<Utc>, DateTime<Utc>)>,
) -> BusinessCalendar {
    let base = match own {
        Some(own) => own.apply(team),
        None => team.clone(),
    };
    base.with_blocked(away_intervals(away, tz).into_iter().chain(out))
}

/// The answer to `/sla away` and `/standup away`.
pub fn away_reply(from: NaiveDate, to: NaiveDate) -> String {
    let when = if from == to {
        from.format("%a %-d %b").to_string()
    } else {
        format!("{} to {}", from.format("%a %-d %b"), to.format("%a %-d %b"))
    };
    format!(
        "You're away {when}: no nudges or standup reminders, the deadlines of requests waiting on you pause, and you won't be listed as missing. `/sla back` undoes it."
    )
}

/// The answer to `/sla back` and `/standup back`.
pub const BACK_REPLY: &str =
    "Welcome back: nudges, deadlines and today's standup count you in again.";

/// What `/sla hours …` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoursCommand {
    /// `/sla hours`: show it.
    Show,
    /// `/sla hours reset`: back to the team's calendar.
    Reset,
    /// Change the fields that are set, keep the others.
    Set(WorkingTime),
}

/// Why `/sla hours …` was not understood; each says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error(
        "I don't understand `{0}` here. Give days like `mon-thu`, hours like `07:00-15:00` (two or three for a split day: `09:00-12:00 14:00-18:00`) and a holiday region like `region DE-BY`, e.g. `/sla hours mon-thu 07:00-15:00`."
    )]
    Unknown(String),
    #[error(
        "`{0}` is not a range of hours I understand; write it like `07:00-15:00` or `7-15` (24-hour clock; `24:00` ends the day)."
    )]
    BadHours(String),
    #[error("{0}")]
    Calendar(String),
    #[error("A day has at most {MAX_PERIODS} working periods.")]
    TooManyPeriods,
    #[error("Say which region after `region`, e.g. `region DE-BY`, `region US` or `region none`.")]
    MissingRegion,
    /// The holiday data's own explanation (what exists, what to write).
    #[error("{0} (Or `none` for no public holidays.)")]
    BadRegion(String),
}

/// Parses the arguments of `/sla hours`: days (`mon-thu`, `mon tue wed`, `weekdays`, `every
/// day`), periods (`07:00-15:00`, `9-12 13:30-17:30`), `region DE-BY` / `region none`, or
/// `reset`. Words may be separated by spaces or commas; `–` and `—` work as `-`.
pub fn parse_hours(args: &str) -> Result<HoursCommand, HoursError> {
    let normalized = args.replace(['–', '—'], "-").replace(',', " ");
    let tokens: Vec<&str> = normalized.split_whitespace().collect();
    match tokens.as_slice() {
        [] => return Ok(HoursCommand::Show),
        [one] if ["reset", "default", "team"].contains(&one.to_ascii_lowercase().as_str()) => {
            return Ok(HoursCommand::Reset);
        }
        _ => {}
    }
    let mut change = WorkingTime::default();
    let mut days: Vec<Weekday> = Vec::new();
    let mut hours: Vec<WorkingHours> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let lower = token.to_ascii_lowercase();
        i += 1;
        if lower == "region" || lower == "holidays" {
            let code = tokens.get(i).ok_or(HoursError::MissingRegion)?;
            i += 1;
            change.region = Some(parse_region_code(code)?);
        } else if let Some(code) = lower
            .strip_prefix("region:")
            .or_else(|| lower.strip_prefix("holidays:"))
        {
            change.region = Some(parse_region_code(code)?);
        } else if let Some(range) = parse_days(&lower) {
            days.extend(range);
        } else if lower == "every" && tokens.get(i).is_some_and(|t| t.eq_ignore_ascii_case("day")) {
            i += 1;
            days.extend(ALL_WEEK);
        } else if token.starts_with(|c: char| c.is_ascii_digit()) {
            if hours.len() == MAX_PERIODS {
                return Err(HoursError::TooManyPeriods);
            }
            hours.push(parse_period(token)?);
        } else {
            return Err(HoursError::Unknown(
                token.chars().take(40).collect::<String>(),
            ));
        }
    }
    let check = BusinessCalendar::always();
    if !days.is_empty() {
        days.sort_by_key(Weekday::num_days_from_monday);
        days.dedup();
        check
            .with_days(days.iter().copied())
            .map_err(|e| HoursError::Calendar(e.to_string()))?;
        change.days = Some(days);
    }
    if !hours.is_empty() {
        let calendar = check
            .with_hours(hours)
            .map_err(|e| HoursError::Calendar(format!("Those hours don't work: {e}.")))?;
        change.hours = Some(calendar.hours().to_vec());
    }
    Ok(HoursCommand::Set(change))
}

/// `mon`, `monday`, `mon-thu` (wrapping: `fri-mon`), `weekdays`, `daily`.
fn parse_days(token: &str) -> Option<Vec<Weekday>> {
    match token {
        "weekdays" => return Some(ALL_WEEK[..5].to_vec()),
        "daily" | "everyday" | "all" => return Some(ALL_WEEK.to_vec()),
        _ => {}
    }
    if let Some((from, to)) = token.split_once('-') {
        let (from, to) = (parse_weekday(from)?, parse_weekday(to)?);
        let mut days = vec![from];
        let mut day = from;
        while day != to {
            day = day.succ();
            days.push(day);
        }
        return Some(days);
    }
    parse_weekday(token).map(|d| vec![d])
}

/// `07:00-15:00`, `7-15`, `7:30-15`, `9-24`.
fn parse_period(token: &str) -> Result<WorkingHours, HoursError> {
    let bad = || HoursError::BadHours(token.chars().take(40).collect());
    let (start, end) = token.split_once('-').ok_or_else(bad)?;
    let full = |s: &str| -> Option<String> {
        let (h, m) = s.split_once(':').unwrap_or((s, "00"));
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h <= 24 && m < 60 && h * 100 + m <= 2400 && !s.is_empty())
            .then(|| format!("{h:02}:{m:02}"))
    };
    let (start, end) = (full(start).ok_or_else(bad)?, full(end).ok_or_else(bad)?);
    WorkingHours::parse(&start, &end).map_err(|e| match e {
        super::calendar::CalendarError::EmptyHours => HoursError::Calendar(format!(
            "`{}` ends before it starts. Working hours can't cross midnight; split them into two periods, e.g. `20:00-24:00 00:00-02:00`.",
            token.chars().take(40).collect::<String>()
        )),
        _ => bad(),
    })
}

/// A holiday region (`US`, `DE-BY`, `IN-KA`, `GB-SCT`, any case), checked against the holiday
/// data; `none` clears it. Returns the canonical code, or `""` for none.
pub fn parse_region_code(code: &str) -> Result<String, HoursError> {
    let trimmed = code.trim();
    if trimmed.eq_ignore_ascii_case("none") || trimmed == "-" {
        return Ok(String::new());
    }
    Region::parse(trimmed)
        .map(|r| r.code().to_owned())
        .map_err(|e| HoursError::BadRegion(e.to_string()))
}

/// The working time in words, for `/sla hours` and the Home tab: "Mon, Tue, Wed, Thu, 07:00–15:00
/// (Europe/Berlin), public holidays of DE-BY".
pub fn describe(calendar: &BusinessCalendar, tz: Tz, region: Option<&str>) -> String {
    let holidays = match region {
        Some(code) if !code.is_empty() => format!(", public holidays of {code}"),
        _ => String::new(),
    };
    format!("{} ({tz}){holidays}", calendar.describe_week())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn set(args: &str) -> WorkingTime {
        match parse_hours(args) {
            Ok(HoursCommand::Set(change)) => change,
            other => panic!("{args}: {other:?}"),
        }
    }

    fn hours(s: &str, e: &str) -> WorkingHours {
        WorkingHours::parse(s, e).unwrap()
    }

    #[test]
    fn days_hours_and_regions_parse() {
        use Weekday::*;
        assert_eq!(parse_hours("").unwrap(), HoursCommand::Show);
        assert_eq!(parse_hours("  Reset ").unwrap(), HoursCommand::Reset);
        let four = set("mon-thu 07:00-15:00");
        assert_eq!(four.days, Some(vec![Mon, Tue, Wed, Thu]));
        assert_eq!(four.hours, Some(vec![hours("07:00", "15:00")]));
        assert_eq!(four.region, None);
        // A split day, in any order, with en dashes and commas.
        let split = set("Mon, Wed, Fri 14:00–18:00, 9-12");
        assert_eq!(split.days, Some(vec![Mon, Wed, Fri]));
        assert_eq!(
            split.hours,
            Some(vec![hours("09:00", "12:00"), hours("14:00", "18:00")])
        );
        assert_eq!(set("fri-mon").days, Some(vec![Mon, Fri, Sat, Sun]));
        assert_eq!(set("weekdays").days.unwrap().len(), 5);
        assert_eq!(set("every day").days.unwrap().len(), 7);
        assert_eq!(set("region de-by").region.as_deref(), Some("DE-BY"));
        assert_eq!(set("holidays:IN-KA").region.as_deref(), Some("IN-KA"));
        assert_eq!(set("region none").region.as_deref(), Some(""));
        assert_eq!(
            set("18:00-24:00").hours,
            Some(vec![hours("18:00", "24:00")])
        );
        assert_eq!(set("7:30-15").hours, Some(vec![hours("07:30", "15:00")]));
    }

    #[test]
    fn what_is_not_understood_says_what_to_write() {
        let cases = [
            ("mon-thu soon", "I don't understand `soon`"),
            ("25:00-26:00", "`25:00-26:00` is not a range of hours"),
            ("9", "`9` is not a range of hours"),
            ("15-07", "can't cross midnight"),
            ("09:00-13:00 12:00-18:00", "overlap"),
            ("region", "Say which region"),
            (
                "region Bavaria",
                "`Bavaria` is not a region code; use an ISO 3166 code such as `US`, `DE-BY`",
            ),
            ("1-2 3-4 5-6 7-8 9-10", "at most 4"),
        ];
        for (args, expected) in cases {
            let e = parse_hours(args).unwrap_err().to_string();
            assert!(e.contains(expected), "{args}: {e}");
        }
    }

    #[test]
    fn a_change_keeps_what_it_does_not_mention() {
        let before = set("mon-thu 07:00-15:00 region DE-BY");
        let after = before.merged(&set("9-17"));
        assert_eq!(after.days, before.days);
        assert_eq!(after.hours, Some(vec![hours("09:00", "17:00")]));
        assert_eq!(after.region.as_deref(), Some("DE-BY"));
        assert!(WorkingTime::default().is_default());
        assert!(!after.is_default());
    }

    #[test]
    fn the_personal_calendar_is_the_teams_with_their_settings_and_absences() {
        let team = BusinessCalendar::office_hours();
        let tz = chrono_tz::Asia::Kolkata;
        let own = set("mon-thu 07:00-15:00");
        let away = [Away {
            from: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
        }];
        let cal = personal_calendar(&team, Some(&own), &away, tz, []);
        let local = |d: u32, h: u32| tz.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap().to_utc();
        assert!(cal.is_working_time(local(23, 7), tz));
        assert!(!cal.is_working_time(local(23, 16), tz), "after their day");
        assert!(!cal.is_working_time(local(24, 10), tz), "away");
        assert!(!cal.is_working_time(local(27, 10), tz), "a Friday off");
        assert_eq!(cal.next_working_time(local(23, 15), tz), local(25, 7));
        assert_eq!(
            describe(&cal, tz, Some("IN-KA")),
            "Mon, Tue, Wed, Thu, 07:00–15:00 (Asia/Kolkata), public holidays of IN-KA"
        );
        // Out of office from Slack blocks too.
        let out = (local(25, 0), local(26, 12));
        let cal = personal_calendar(&team, None, &[], tz, [out]);
        assert_eq!(cal.next_working_time(local(25, 9), tz), local(26, 12));
    }

    #[test]
    fn stored_settings_round_trip_and_old_records_read() {
        let own = set("mon-thu 09:00-12:00 13:00-17:00 region US");
        let json = serde_json::to_string(&own).unwrap();
        assert_eq!(serde_json::from_str::<WorkingTime>(&json).unwrap(), own);
        assert_eq!(
            serde_json::from_str::<WorkingTime>("{}").unwrap(),
            WorkingTime::default()
        );
    }

    proptest! {
        /// Any text: a clear answer or a clear error, never a panic, and whatever is accepted
        /// builds a calendar.
        #[test]
        fn any_text_parses_or_errors(text in "\\PC{0,200}") {
            if let Ok(HoursCommand::Set(change)) = parse_hours(&text) {
                let team = BusinessCalendar::office_hours();
                prop_assert!(change.days.as_ref().is_none_or(|d| !d.is_empty()));
                if let Some(h) = &change.hours {
                    prop_assert!(team.with_hours(h.clone()).is_ok());
                }
            }
        }

        #[test]
        fn day_and_hour_words_parse(
            from in 0u32..7, to in 0u32..7, s in 0u32..23, len in 1u32..9,
        ) {
            let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
            let end = (s + len).min(24);
            let args = format!("{}-{} {s}-{end}", names[from as usize], names[to as usize]);
            let change = set(&args);
            prop_assert!(!change.days.unwrap().is_empty());
            prop_assert_eq!(change.hours.unwrap().len(), 1);
        }
    }
}
