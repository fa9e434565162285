//! The business calendar: working days, working hours, holidays, and the clocks that count time on them, all in a given IANA time zone.
//!
//! Everything here is pure: the current time is always passed in, nothing
//! reads the system clock and nothing does I/O.
//!
//! Time is always counted in real (UTC) time. Local calendar concepts — a
//! date, "09:00", "end of day" — are turned into UTC instants with
//! [`local_to_utc`] and [`start_of_day`], which are exact across daylight
//! saving changes: a local day may last 23 or 25 hours, and a local time of
//! day may not exist (spring forward) or exist twice (fall back).

use std::collections::BTreeSet;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc, Weekday,
};
use chrono_tz::Tz;

use super::holidays::Region;

/// How far ahead (in local days, roughly 20 years) the calendar searches for
/// working time before giving up and counting the rest on the wall clock.
const SEARCH_DAYS: u32 = 366 * 20;

/// The seven weekdays, Monday first.
pub const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// How a duration is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Clock {
    /// Real elapsed time, regardless of days or hours.
    Wall,
    /// Every real hour of a working day counts (the whole local date, 23, 24
    /// or 25 hours long); non-working days and holidays are skipped.
    BusinessDays,
    /// Only time inside working hours on working days counts.
    WorkingHours,
}

impl Clock {
    /// Parses `"wall"`, `"business_days"` or `"working_hours"` (case-insensitive;
    /// `-` may stand for `_`).
    pub fn parse(s: &str) -> Option<Clock> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "wall" => Some(Clock::Wall),
            "business_days" => Some(Clock::BusinessDays),
            "working_hours" => Some(Clock::WorkingHours),
            _ => None,
        }
    }

    /// The canonical name, as accepted by [`Clock::parse`].
    pub fn as_str(&self) -> &'static str {
        match self {
            Clock::Wall => "wall",
            Clock::BusinessDays => "business_days",
            Clock::WorkingHours => "working_hours",
        }
    }
}

/// Daily working hours [start, end). `end == None` means 24:00 (end of day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkingHours {
    pub start: NaiveTime,
    pub end: Option<NaiveTime>,
}

impl WorkingHours {
    /// Parses ("09:00", "18:00"); "24:00" is accepted as an end only. Also "HH:MM:SS". Error if end <= start.
    pub fn parse(start: &str, end: &str) -> Result<WorkingHours, CalendarError> {
        if is_end_of_day(start) {
            return Err(CalendarError::EndOfDayStart);
        }
        let start = parse_time_of_day(start)?;
        let end = if is_end_of_day(end) {
            None
        } else {
            Some(parse_time_of_day(end)?)
        };
        let hours = WorkingHours { start, end };
        hours.validate()?;
        Ok(hours)
    }

    /// 00:00–24:00.
    pub fn all_day() -> WorkingHours {
        WorkingHours {
            start: NaiveTime::MIN,
            end: None,
        }
    }

    /// True for 00:00–24:00.
    pub fn is_all_day(&self) -> bool {
        self.start == NaiveTime::MIN && self.end.is_none()
    }

    /// True if the local time of day `t` is inside [start, end).
    pub fn contains(&self, t: NaiveTime) -> bool {
        t >= self.start && self.end.is_none_or(|end| t < end)
    }

    /// "09:00–18:00" ("24:00" for the end of the day).
    pub fn describe(&self) -> String {
        let end = self
            .end
            .map_or_else(|| "24:00".to_owned(), |e| e.format("%H:%M").to_string());
        format!("{}–{end}", self.start.format("%H:%M"))
    }

    /// Errors if the hours are empty (end at or before start).
    fn validate(&self) -> Result<(), CalendarError> {
        match self.end {
            Some(end) if end <= self.start => Err(CalendarError::EmptyHours),
            _ => Ok(()),
        }
    }
}

fn is_end_of_day(s: &str) -> bool {
    matches!(s.trim(), "24:00" | "24:00:00")
}

/// Parses "HH:MM" or "HH:MM:SS" (no leap seconds).
fn parse_time_of_day(s: &str) -> Result<NaiveTime, CalendarError> {
    let trimmed = s.trim();
    ["%H:%M", "%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveTime::parse_from_str(trimmed, format).ok())
        .filter(|t| t.nanosecond() < 1_000_000_000)
        .ok_or_else(|| CalendarError::BadTime(trimmed.to_string()))
}

/// Errors from building a calendar or parsing its parts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error("a calendar needs at least one working day")]
    NoWorkingDays,
    #[error("\"{0}\" is not a time of day (expected HH:MM)")]
    BadTime(String),
    #[error("working hours cannot start at 24:00")]
    EndOfDayStart,
    #[error("working hours end before they start")]
    EmptyHours,
    #[error("working hours overlap: {0} and {1}")]
    OverlappingHours(String, String),
}

/// Parses "mon".."sun", also full names, case-insensitive.
/// How a clock counts, in words for people.
pub fn describe_clock(clock: Clock) -> &'static str {
    match clock {
        Clock::Wall => "the wall clock (nights and weekends count)",
        Clock::BusinessDays => "business days (weekends and holidays don't count)",
        Clock::WorkingHours => "working hours only",
    }
}

pub fn parse_weekday(s: &str) -> Option<Weekday> {
    match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Some(Weekday::Mon),
        "tue" | "tues" | "tuesday" => Some(Weekday::Tue),
        "wed" | "wednesday" => Some(Weekday::Wed),
        "thu" | "thur" | "thurs" | "thursday" => Some(Weekday::Thu),
        "fri" | "friday" => Some(Weekday::Fri),
        "sat" | "saturday" => Some(Weekday::Sat),
        "sun" | "sunday" => Some(Weekday::Sun),
        _ => None,
    }
}

/// Working days, working hours and holidays. Time zone free: the zone is
/// supplied per call, so one calendar serves recipients everywhere, each on
/// their own clock.
///
/// The team's calendar is the default; a person's own calendar
/// ([`BusinessCalendar::personal`]) may have other days, hours (several periods a day: a split
/// day), and *blocked* time: instants when they are away or out of office, which no clock
/// counts (not even the wall clock) and in which nobody is nudged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessCalendar {
    /// Bit `n` set means the weekday with `num_days_from_monday() == n` is a working day.
    days: u8,
    /// The periods of each working day, in order, none overlapping; at least one.
    hours: Vec<WorkingHours>,
    holidays: BTreeSet<NaiveDate>,
    /// UTC intervals [from, to) that do not count: sorted, disjoint, none empty.
    blocked: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// Public holidays of a region (`calendar.holiday_region`, or a person's own): not working
    /// days, like `holidays`.
    region: Option<Region>,
}

/// One day's counted intervals: at most one per working period (a split day has two or three).
type DayIntervals = Vec<(DateTime<Utc>, DateTime<Utc>)>;

/// Sorts periods by start and errors if two overlap.
fn ordered_hours(mut hours: Vec<WorkingHours>) -> Result<Vec<WorkingHours>, CalendarError> {
    for h in &hours {
        h.validate()?;
    }
    hours.sort_by_key(|h| h.start);
    for pair in hours.windows(2) {
        if pair[0].end.is_none_or(|end| end > pair[1].start) {
            return Err(CalendarError::OverlappingHours(
                pair[0].describe(),
                pair[1].describe(),
            ));
        }
    }
    Ok(hours)
}

fn day_bit(day: Weekday) -> u8 {
    1 << day.num_days_from_monday()
}

const ALL_DAYS: u8 = 0b111_1111;

impl BusinessCalendar {
    /// Errors if there is no working day or the hours are empty.
    pub fn new(
        working_days: impl IntoIterator<Item = Weekday>,
        hours: WorkingHours,
        holidays: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<Self, CalendarError> {
        let days = working_days.into_iter().fold(0, |acc, d| acc | day_bit(d));
        if days == 0 {
            return Err(CalendarError::NoWorkingDays);
        }
        hours.validate()?;
        Ok(BusinessCalendar {
            days,
            hours: vec![hours],
            holidays: holidays.into_iter().collect(),
            blocked: Vec::new(),
            region: None,
        })
    }

    /// Every day, all day, no holidays: "always working time".
    pub fn always() -> Self {
        BusinessCalendar {
            days: ALL_DAYS,
            hours: vec![WorkingHours::all_day()],
            holidays: BTreeSet::new(),
            blocked: Vec::new(),
            region: None,
        }
    }

    /// A copy whose public holidays are `region`'s (none: only the explicit dates).
    pub fn with_region(&self, region: Option<Region>) -> Self {
        BusinessCalendar {
            region,
            ..self.clone()
        }
    }

    /// The region whose public holidays count, if any.
    pub fn region(&self) -> Option<&Region> {
        self.region.as_ref()
    }

    /// A copy with other working days. Errors if there are none.
    pub fn with_days(
        &self,
        days: impl IntoIterator<Item = Weekday>,
    ) -> Result<Self, CalendarError> {
        let days = days.into_iter().fold(0, |acc, d| acc | day_bit(d));
        if days == 0 {
            return Err(CalendarError::NoWorkingDays);
        }
        Ok(BusinessCalendar {
            days,
            ..self.clone()
        })
    }

    /// A copy with other daily periods (one, or several for a split day). Errors if there are
    /// none, or if any is empty or two overlap.
    pub fn with_hours(&self, hours: Vec<WorkingHours>) -> Result<Self, CalendarError> {
        if hours.is_empty() {
            return Err(CalendarError::EmptyHours);
        }
        Ok(BusinessCalendar {
            hours: ordered_hours(hours)?,
            ..self.clone()
        })
    }

    /// A copy in which the intervals [from, to) do not count and are not working time (someone
    /// is away or out of office). Empty intervals are ignored; overlapping ones merge.
    pub fn with_blocked(
        &self,
        intervals: impl IntoIterator<Item = (DateTime<Utc>, DateTime<Utc>)>,
    ) -> Self {
        let mut all: Vec<_> = self
            .blocked
            .iter()
            .copied()
            .chain(intervals.into_iter().filter(|(from, to)| from < to))
            .collect();
        all.sort();
        let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(all.len());
        for (from, to) in all {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        BusinessCalendar {
            blocked: merged,
            ..self.clone()
        }
    }

    /// The blocked intervals (away, out of office), in order.
    pub fn blocked(&self) -> &[(DateTime<Utc>, DateTime<Utc>)] {
        &self.blocked
    }

    /// If `at` is blocked, the end of the blocked interval holding it.
    pub fn blocked_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.blocked
            .iter()
            .find(|(from, to)| *from <= at && at < *to)
            .map(|(_, to)| *to)
    }

    /// A copy with extra holidays added (used for per-channel holiday lists).
    pub fn with_extra_holidays(&self, extra: impl IntoIterator<Item = NaiveDate>) -> Self {
        let mut copy = self.clone();
        copy.holidays.extend(extra);
        copy
    }

    /// The working weekdays, Monday first.
    pub fn working_days(&self) -> Vec<Weekday> {
        WEEK.into_iter()
            .filter(|&d| self.days & day_bit(d) != 0)
            .collect()
    }

    /// The daily working periods, in order (one, or several for a split day).
    pub fn hours(&self) -> &[WorkingHours] {
        &self.hours
    }

    /// The working week in words: "Mon, Tue, Wed, Thu, Fri, 09:00–18:00" or
    /// "Mon, Tue, Wed, Thu, 07:00–11:00 and 13:00–17:00".
    pub fn describe_week(&self) -> String {
        let days = self
            .working_days()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let hours = self
            .hours
            .iter()
            .map(WorkingHours::describe)
            .collect::<Vec<_>>()
            .join(" and ");
        format!("{days}, {hours}")
    }

    /// The holidays, in date order.
    pub fn holidays(&self) -> impl Iterator<Item = &NaiveDate> {
        self.holidays.iter()
    }

    /// A working day is a configured weekday that is not a holiday.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.days & day_bit(date.weekday()) != 0
            && !self.holidays.contains(&date)
            && !self.region.as_ref().is_some_and(|r| r.is_holiday(date))
    }

    /// True if `at`, seen in `tz`, falls on a working day inside working hours.
    pub fn is_working_time(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        if self.counts_everything(Clock::WorkingHours) {
            return true;
        }
        local_naive(at, tz).is_some_and(|local| {
            self.counted_intervals(Clock::WorkingHours, tz, local.date())
                .iter()
                .any(|&(from, to)| from <= at && at < to)
        })
    }

    /// `at` itself if it is working time; otherwise the first instant of the recipient's next working period (start of working hours on the next working day, in `tz`). This is how nudges wait out quiet hours.
    ///
    /// If no working time is found within about 20 years (e.g. every day is a
    /// holiday), returns `at`.
    pub fn next_working_time(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        if self.counts_everything(Clock::WorkingHours) {
            return at;
        }
        let Some(mut date) = local_naive(at, tz).map(|l| l.date()) else {
            return at;
        };
        for _ in 0..SEARCH_DAYS {
            if let Some(&(from, _)) = self
                .counted_intervals(Clock::WorkingHours, tz, date)
                .iter()
                .find(|&&(_, to)| to > at)
            {
                return from.max(at);
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        at
    }

    /// The instant at which `duration` has elapsed from `start` on `clock`:
    ///   Wall: start + duration.
    ///   BusinessDays: counts every real hour that falls on a working day (all 24 — or 23/25 on DST days — hours of that local date), skipping weekends/non-working days and holidays entirely. E.g. 24h from Fri 10:00 local = Mon 10:00 local; from Sat 15:00 = Tue 00:00 local (Monday counted whole).
    ///   WorkingHours: counts only time inside working hours on working days. E.g. hours 09–18, 9h from Mon 17:00 = Tue 17:00.
    ///
    /// Zero duration returns start unchanged for all clocks. A negative duration
    /// goes backwards on the wall clock and returns `start` on the counted
    /// clocks. A duration that ends exactly at the end of a counted period
    /// returns that end (9h from Mon 09:00 with hours 09–18 is Mon 18:00).
    /// The search is bounded (about 20 years of local days); whatever is left
    /// after that is counted on the wall clock. Never panics on overflow: the
    /// result saturates at the ends of the representable range.
    pub fn add(
        &self,
        clock: Clock,
        start: DateTime<Utc>,
        tz: Tz,
        duration: Duration,
    ) -> DateTime<Utc> {
        if duration.is_zero() {
            return start;
        }
        if self.counts_everything(clock) || (clock == Clock::Wall && duration < Duration::zero()) {
            return saturating_add(start, duration);
        }
        if duration < Duration::zero() {
            return start;
        }
        let Some(mut date) = local_naive(start, tz).map(|l| l.date()) else {
            return saturating_add(start, duration);
        };
        let mut cursor = start;
        let mut remaining = duration;
        for _ in 0..SEARCH_DAYS {
            for (from, to) in self.counted_intervals(clock, tz, date) {
                let from = from.max(cursor);
                if from < to {
                    let available = to - from;
                    if remaining <= available {
                        return from + remaining;
                    }
                    remaining -= available;
                    cursor = to;
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        saturating_add(cursor, remaining)
    }

    /// How much of [`from`, `to`) `clock` counts: the inverse of [`BusinessCalendar::add`]
    /// (`add(clock, from, tz, elapsed(clock, from, to, tz)) == to` whenever `to` is counted
    /// time). Zero when `to` is not after `from`. This is how long someone took to answer "on
    /// their own clock": a question asked on Friday evening and answered on Monday at 10:00
    /// took one working hour, not sixty. The walk is bounded like `add`'s: past about 20
    /// years of local days, the rest counts on the wall clock.
    pub fn elapsed(
        &self,
        clock: Clock,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        tz: Tz,
    ) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if self.counts_everything(clock) {
            return to - from;
        }
        let Some(mut date) = local_naive(from, tz).map(|l| l.date()) else {
            return to - from;
        };
        let mut total = Duration::zero();
        for _ in 0..SEARCH_DAYS {
            for (start, end) in self.counted_intervals(clock, tz, date) {
                let (start, end) = (start.max(from), end.min(to));
                if start < end {
                    total += end - start;
                }
            }
            match date.succ_opt() {
                Some(next) if start_of_day(tz, next) < to => date = next,
                _ => return total,
            }
        }
        let rest_from = date
            .succ_opt()
            .map_or(to, |next| start_of_day(tz, next).max(from));
        total + (to - rest_from).max(Duration::zero())
    }

    /// True if `clock` counts every instant on this calendar, i.e. it is
    /// equivalent to the wall clock.
    fn counts_everything(&self, clock: Clock) -> bool {
        self.blocked.is_empty()
            && match clock {
                Clock::Wall => true,
                Clock::BusinessDays => {
                    self.days == ALL_DAYS && self.holidays.is_empty() && self.region.is_none()
                }
                Clock::WorkingHours => {
                    self.days == ALL_DAYS
                        && self.holidays.is_empty()
                        && self.region.is_none()
                        && matches!(self.hours.as_slice(), [h] if h.is_all_day())
                }
            }
    }

    /// The UTC intervals of local `date` that `clock` counts, in order: none on a non-working
    /// day or holiday (except on the wall clock), one per working period on the working-hours
    /// clock (a period swallowed by a DST gap counts nothing), the whole day otherwise; minus
    /// blocked time.
    ///
    /// Intervals of successive dates never overlap and lie within
    /// [start_of_day(date), start_of_day(date + 1)), so an instant whose
    /// local date is `d` can only be inside an interval of `d`.
    fn counted_intervals(&self, clock: Clock, tz: Tz, date: NaiveDate) -> DayIntervals {
        let mut out = DayIntervals::new();
        if clock != Clock::Wall && !self.is_working_day(date) {
            return out;
        }
        let Some(next) = date.succ_opt() else {
            return out;
        };
        match clock {
            Clock::Wall | Clock::BusinessDays => {
                if let (Some(from), Some(to)) =
                    (try_start_of_day(tz, date), try_start_of_day(tz, next))
                {
                    out.push((from, to));
                }
            }
            Clock::WorkingHours => {
                for period in &self.hours {
                    let from = try_local_to_utc(tz, date, period.start);
                    let to = match period.end {
                        Some(end) => try_local_to_utc(tz, date, end),
                        None => try_start_of_day(tz, next),
                    };
                    if let (Some(from), Some(to)) = (from, to) {
                        out.push((from, to));
                    }
                }
            }
        }
        out.retain(|(from, to)| from < to);
        if !self.blocked.is_empty() {
            out = subtract(out, &self.blocked);
        }
        out
    }
}

/// `intervals` (sorted, disjoint) minus `blocked` (sorted, disjoint).
fn subtract(intervals: DayIntervals, blocked: &[(DateTime<Utc>, DateTime<Utc>)]) -> DayIntervals {
    let mut out = DayIntervals::new();
    for (mut from, to) in intervals {
        // Only the blocked intervals that end after `from` can cut this one.
        let first = blocked.partition_point(|&(_, b_to)| b_to <= from);
        for &(b_from, b_to) in &blocked[first..] {
            if b_from >= to {
                break;
            }
            if b_from > from {
                out.push((from, b_from));
            }
            from = from.max(b_to);
            if from >= to {
                break;
            }
        }
        if from < to {
            out.push((from, to));
        }
    }
    out
}

/// The UTC instant of local `date` at `time` in `tz`, exact across DST:
/// a local time that does not exist (spring-forward gap) resolves to the first valid instant after the gap (e.g. 02:30 on the spring-forward day in Europe/Berlin -> 03:00 CEST == 01:00 UTC);
/// an ambiguous time (fall-back) resolves to the earlier instant.
pub fn local_to_utc(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    // Only out-of-range dates (near NaiveDate::MIN/MAX) fail; read them as UTC.
    try_local_to_utc(tz, date, time).unwrap_or_else(|| date.and_time(time).and_utc())
}

/// Start of the local date in tz (handles zones whose DST change happens at midnight, e.g. America/Santiago, America/Havana).
pub fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_to_utc(tz, date, NaiveTime::MIN)
}

fn try_start_of_day(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    try_local_to_utc(tz, date, NaiveTime::MIN)
}

fn try_local_to_utc(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) => Some(dt.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.with_timezone(&Utc).min(b.with_timezone(&Utc))),
        LocalResult::None => first_instant_showing_at_least(tz, local),
    }
}

/// The first instant whose local time in `tz` is at or after `target`, found
/// by bisection over whole seconds (tz transitions fall on whole seconds).
/// Used for local times in a DST gap, where it yields the transition itself.
fn first_instant_showing_at_least(tz: Tz, target: NaiveDateTime) -> Option<DateTime<Utc>> {
    // UTC offsets stay well within ±26 hours, so these bracket the answer.
    const MARGIN: i64 = 27 * 3600;
    let base = target.and_utc().timestamp();
    let shows = |ts: i64| DateTime::from_timestamp(ts, 0).and_then(|at| local_naive(at, tz));
    let mut lo = base.checked_sub(MARGIN)?;
    let mut hi = base.checked_add(MARGIN)?;
    if shows(lo)? >= target || shows(hi)? < target {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if shows(mid)? >= target {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// The local wall-clock reading of `at` in `tz`, or `None` if it falls
/// outside chrono's representable range.
fn local_naive(at: DateTime<Utc>, tz: Tz) -> Option<NaiveDateTime> {
    let utc = at.naive_utc();
    let offset = tz.offset_from_utc_datetime(&utc).fix().local_minus_utc();
    utc.checked_add_signed(Duration::seconds(i64::from(offset)))
}

fn saturating_add(at: DateTime<Utc>, duration: Duration) -> DateTime<Utc> {
    at.checked_add_signed(duration)
        .unwrap_or(if duration < Duration::zero() {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

#[cfg(test)]
impl BusinessCalendar {
    /// Mon–Fri, 09:00–18:00, no holidays: the calendar the other modules' tests use.
    pub(crate) fn office_hours() -> Self {
        BusinessCalendar::new(
            [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ],
            WorkingHours::parse("09:00", "18:00").unwrap(),
            [],
        )
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;
    use chrono_tz::{America, Asia, Australia, Europe};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    /// "2026-03-27 10:00" read in `tz` (earlier instant if ambiguous), or
    /// "2026-10-25 02:00 +01:00" for an exact instant.
    fn at(tz: Tz, s: &str) -> DateTime<Utc> {
        if let Ok(exact) = DateTime::<FixedOffset>::parse_from_str(s, "%Y-%m-%d %H:%M %:z") {
            return exact.with_timezone(&Utc);
        }
        let (date, time) = s.split_once(' ').unwrap();
        local_to_utc(tz, d(date), t(time))
    }

    fn utc(s: &str) -> DateTime<Utc> {
        at(Tz::UTC, s)
    }

    fn show(tz: Tz, instant: DateTime<Utc>) -> String {
        format!(
            "{} ({})",
            instant.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z %:z"),
            instant.format("%Y-%m-%d %H:%M UTC")
        )
    }

    fn weekdays() -> BusinessCalendar {
        BusinessCalendar::office_hours()
    }

    /// Mon–Fri, 09:00–18:00, Christmas Day and New Year's Day off.
    fn xmas() -> BusinessCalendar {
        weekdays().with_extra_holidays([d("2026-12-25"), d("2027-01-01")])
    }

    /// Every day of the week, 09:00–18:00 — so Sundays (DST days) count.
    fn seven() -> BusinessCalendar {
        BusinessCalendar::new(WEEK, WorkingHours::parse("09:00", "18:00").unwrap(), []).unwrap()
    }

    /// Saturday and Sunday only (weekend on-call): the DST Sunday is followed by
    /// non-working days, so its true length (23/25h) decides the answer.
    fn weekend() -> BusinessCalendar {
        BusinessCalendar::new(
            [Weekday::Sat, Weekday::Sun],
            WorkingHours::parse("09:00", "18:00").unwrap(),
            [],
        )
        .unwrap()
    }

    /// Every day, 01:00–04:00: working hours that straddle the DST changes.
    fn night() -> BusinessCalendar {
        BusinessCalendar::new(WEEK, WorkingHours::parse("01:00", "04:00").unwrap(), []).unwrap()
    }

    struct Case {
        name: &'static str,
        cal: BusinessCalendar,
        tz: Tz,
        start_local: &'static str,
        clock: Clock,
        duration_hours: i64,
        expect_local: &'static str,
    }

    #[test]
    fn add_table() {
        use Clock::{BusinessDays as BD, Wall, WorkingHours as WH};
        let cases = [
            // --- business days, plain weeks (Europe/Berlin, CET +1 / CEST +2) ---
            Case {
                name: "mon to tue",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-23 10:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-03-24 10:00",
            },
            Case {
                name: "fri to mon over the weekend (and over the 23h DST Sunday)",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-27 10:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-03-30 10:00",
            },
            Case {
                name: "48h from friday",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-20 10:00",
                clock: BD,
                duration_hours: 48,
                expect_local: "2026-03-24 10:00",
            },
            Case {
                name: "start on saturday counts monday whole",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-21 15:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-03-24 00:00",
            },
            Case {
                name: "christmas day friday and the weekend are skipped",
                cal: xmas(),
                tz: Europe::Berlin,
                start_local: "2026-12-24 10:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-12-28 10:00",
            },
            Case {
                name: "year end: thu 31st, new year holiday, weekend",
                cal: xmas(),
                tz: Europe::Berlin,
                start_local: "2026-12-31 10:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2027-01-04 10:00",
            },
            Case {
                name: "start on the new year holiday",
                cal: xmas(),
                tz: Europe::Berlin,
                start_local: "2027-01-01 12:00",
                clock: BD,
                duration_hours: 8,
                expect_local: "2027-01-04 08:00",
            },
            Case {
                name: "30 business days are six weeks",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-02 10:00",
                clock: BD,
                duration_hours: 30 * 24,
                expect_local: "2026-04-13 10:00",
            },
            // --- Europe/Berlin spring forward: Sun 2026-03-29 is 23 hours ---
            Case {
                name: "berlin spring: sunday counts 23h",
                cal: seven(),
                tz: Europe::Berlin,
                start_local: "2026-03-29 00:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-03-30 01:00",
            },
            Case {
                name: "berlin spring: 23h is the whole sunday",
                cal: seven(),
                tz: Europe::Berlin,
                start_local: "2026-03-29 00:00",
                clock: BD,
                duration_hours: 23,
                expect_local: "2026-03-30 00:00",
            },
            Case {
                name: "berlin spring: from saturday noon",
                cal: seven(),
                tz: Europe::Berlin,
                start_local: "2026-03-28 12:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-03-29 13:00",
            },
            Case {
                name: "berlin spring: wall clock",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-28 12:00",
                clock: Wall,
                duration_hours: 24,
                expect_local: "2026-03-29 13:00",
            },
            Case {
                name: "berlin spring: night shift 01-04 is 2h on sunday",
                cal: night(),
                tz: Europe::Berlin,
                start_local: "2026-03-29 01:00",
                clock: WH,
                duration_hours: 2,
                expect_local: "2026-03-29 04:00",
            },
            Case {
                name: "berlin spring: night shift spills into monday",
                cal: night(),
                tz: Europe::Berlin,
                start_local: "2026-03-29 01:00",
                clock: WH,
                duration_hours: 3,
                expect_local: "2026-03-30 02:00",
            },
            Case {
                name: "berlin spring weekend: sat 12h + sun 23h + 1h of next saturday",
                cal: weekend(),
                tz: Europe::Berlin,
                start_local: "2026-03-28 12:00",
                clock: BD,
                duration_hours: 36,
                expect_local: "2026-04-04 01:00",
            },
            Case {
                name: "berlin spring weekend: sat 12h + sun 23h ends at sunday midnight",
                cal: weekend(),
                tz: Europe::Berlin,
                start_local: "2026-03-28 12:00",
                clock: BD,
                duration_hours: 35,
                expect_local: "2026-03-30 00:00",
            },
            // --- Europe/Berlin fall back: Sun 2026-10-25 is 25 hours ---
            Case {
                name: "berlin fall: 24h of sunday ends at 23:00",
                cal: seven(),
                tz: Europe::Berlin,
                start_local: "2026-10-25 00:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-10-25 23:00",
            },
            Case {
                name: "berlin fall: 25h is the whole sunday",
                cal: seven(),
                tz: Europe::Berlin,
                start_local: "2026-10-25 00:00",
                clock: BD,
                duration_hours: 25,
                expect_local: "2026-10-26 00:00",
            },
            Case {
                name: "berlin fall: 26h reaches monday 01:00",
                cal: seven(),
                tz: Europe::Berlin,
                start_local: "2026-10-25 00:00",
                clock: BD,
                duration_hours: 26,
                expect_local: "2026-10-26 01:00",
            },
            Case {
                name: "berlin fall: weekdays skip the long sunday",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-10-23 10:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-10-26 10:00",
            },
            Case {
                name: "berlin fall: wall clock",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-10-24 12:00",
                clock: Wall,
                duration_hours: 24,
                expect_local: "2026-10-25 11:00",
            },
            Case {
                name: "berlin fall: night shift lands in the repeated hour",
                cal: night(),
                tz: Europe::Berlin,
                start_local: "2026-10-25 01:00",
                clock: WH,
                duration_hours: 2,
                expect_local: "2026-10-25 02:00 +01:00",
            },
            Case {
                name: "berlin fall: night shift 01-04 is 4h on sunday",
                cal: night(),
                tz: Europe::Berlin,
                start_local: "2026-10-25 01:00",
                clock: WH,
                duration_hours: 4,
                expect_local: "2026-10-25 04:00",
            },
            Case {
                name: "berlin fall weekend: 24h into the 25h sunday",
                cal: weekend(),
                tz: Europe::Berlin,
                start_local: "2026-10-24 12:00",
                clock: BD,
                duration_hours: 36,
                expect_local: "2026-10-25 23:00",
            },
            Case {
                name: "berlin fall weekend: sat 12h + sun 25h + 1h of next saturday",
                cal: weekend(),
                tz: Europe::Berlin,
                start_local: "2026-10-24 12:00",
                clock: BD,
                duration_hours: 38,
                expect_local: "2026-10-31 01:00",
            },
            // --- America/New_York (EST -5 / EDT -4) ---
            Case {
                name: "new york spring: sunday 2026-03-08 is 23h",
                cal: seven(),
                tz: America::New_York,
                start_local: "2026-03-08 00:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-03-09 01:00",
            },
            Case {
                name: "new york spring: saturday evening into sunday",
                cal: seven(),
                tz: America::New_York,
                start_local: "2026-03-07 20:00",
                clock: BD,
                duration_hours: 12,
                expect_local: "2026-03-08 09:00",
            },
            Case {
                name: "new york fall: sunday 2026-11-01 is 25h",
                cal: seven(),
                tz: America::New_York,
                start_local: "2026-11-01 00:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-11-01 23:00",
            },
            Case {
                name: "new york fall: wall clock",
                cal: weekdays(),
                tz: America::New_York,
                start_local: "2026-10-31 12:00",
                clock: Wall,
                duration_hours: 24,
                expect_local: "2026-11-01 11:00",
            },
            Case {
                name: "new york spring: working hours over the DST weekend",
                cal: weekdays(),
                tz: America::New_York,
                start_local: "2026-03-06 17:00",
                clock: WH,
                duration_hours: 2,
                expect_local: "2026-03-09 10:00",
            },
            Case {
                name: "new york spring weekend: sat 12h + sun 23h + 1h",
                cal: weekend(),
                tz: America::New_York,
                start_local: "2026-03-07 12:00",
                clock: BD,
                duration_hours: 36,
                expect_local: "2026-03-14 01:00",
            },
            Case {
                name: "new york fall weekend: sat 12h + sun 25h + 1h",
                cal: weekend(),
                tz: America::New_York,
                start_local: "2026-10-31 12:00",
                clock: BD,
                duration_hours: 38,
                expect_local: "2026-11-07 01:00",
            },
            // --- Australia/Sydney (AEST +10 / AEDT +11) ---
            Case {
                name: "sydney autumn: sunday 2026-04-05 is 25h",
                cal: seven(),
                tz: Australia::Sydney,
                start_local: "2026-04-05 00:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-04-05 23:00",
            },
            Case {
                name: "sydney spring: sunday 2026-10-04 is 23h",
                cal: seven(),
                tz: Australia::Sydney,
                start_local: "2026-10-04 00:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-10-05 01:00",
            },
            Case {
                name: "sydney: fri to mon over the DST-end weekend",
                cal: weekdays(),
                tz: Australia::Sydney,
                start_local: "2026-04-03 10:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-04-06 10:00",
            },
            Case {
                name: "sydney spring: working hours saturday into sunday",
                cal: seven(),
                tz: Australia::Sydney,
                start_local: "2026-10-03 17:00",
                clock: WH,
                duration_hours: 3,
                expect_local: "2026-10-04 11:00",
            },
            Case {
                name: "sydney autumn weekend: sat 12h + sun 25h + 1h",
                cal: weekend(),
                tz: Australia::Sydney,
                start_local: "2026-04-04 12:00",
                clock: BD,
                duration_hours: 38,
                expect_local: "2026-04-11 01:00",
            },
            Case {
                name: "sydney spring weekend: sat 12h + sun 23h + 1h",
                cal: weekend(),
                tz: Australia::Sydney,
                start_local: "2026-10-03 12:00",
                clock: BD,
                duration_hours: 36,
                expect_local: "2026-10-10 01:00",
            },
            // --- America/Santiago: DST starts at midnight (2026-09-06 00:00 -> 01:00) ---
            Case {
                name: "santiago: sunday starts at 01:00",
                cal: seven(),
                tz: America::Santiago,
                start_local: "2026-09-05 12:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-09-06 13:00",
            },
            // --- Asia/Kolkata (+5:30) ---
            Case {
                name: "kolkata: mon to tue",
                cal: weekdays(),
                tz: Asia::Kolkata,
                start_local: "2026-03-23 10:00",
                clock: BD,
                duration_hours: 24,
                expect_local: "2026-03-24 10:00",
            },
            Case {
                name: "kolkata: working hours friday to monday",
                cal: weekdays(),
                tz: Asia::Kolkata,
                start_local: "2026-03-27 16:00",
                clock: WH,
                duration_hours: 3,
                expect_local: "2026-03-30 10:00",
            },
            // --- working hours clock (09:00-18:00, Mon-Fri, Berlin) ---
            Case {
                name: "working hours: mon 17:00 + 9h = tue 17:00",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-23 17:00",
                clock: WH,
                duration_hours: 9,
                expect_local: "2026-03-24 17:00",
            },
            Case {
                name: "working hours: a full day ends at 18:00 the same day",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-23 09:00",
                clock: WH,
                duration_hours: 9,
                expect_local: "2026-03-23 18:00",
            },
            Case {
                name: "working hours: from before opening",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-23 06:00",
                clock: WH,
                duration_hours: 1,
                expect_local: "2026-03-23 10:00",
            },
            Case {
                name: "working hours: from after closing",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-23 20:00",
                clock: WH,
                duration_hours: 1,
                expect_local: "2026-03-24 10:00",
            },
            Case {
                name: "working hours: thu 15:00 + 20h crosses nights and the DST weekend",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-26 15:00",
                clock: WH,
                duration_hours: 20,
                expect_local: "2026-03-30 17:00",
            },
            Case {
                name: "working hours: from saturday",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-28 12:00",
                clock: WH,
                duration_hours: 1,
                expect_local: "2026-03-30 10:00",
            },
            Case {
                name: "working hours: a working week",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-23 09:00",
                clock: WH,
                duration_hours: 45,
                expect_local: "2026-03-27 18:00",
            },
            Case {
                name: "working hours: over christmas and new year",
                cal: xmas(),
                tz: Europe::Berlin,
                start_local: "2026-12-24 17:00",
                clock: WH,
                duration_hours: 1 + 4 * 9 + 1,
                expect_local: "2027-01-04 10:00",
            },
            // --- zero durations and the always-calendar ---
            Case {
                name: "zero business days on a saturday is unchanged",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-28 12:00",
                clock: BD,
                duration_hours: 0,
                expect_local: "2026-03-28 12:00",
            },
            Case {
                name: "zero working hours at night is unchanged",
                cal: weekdays(),
                tz: Europe::Berlin,
                start_local: "2026-03-24 03:00",
                clock: WH,
                duration_hours: 0,
                expect_local: "2026-03-24 03:00",
            },
            Case {
                name: "always: working hours are wall time",
                cal: BusinessCalendar::always(),
                tz: Europe::Berlin,
                start_local: "2026-03-28 12:00",
                clock: WH,
                duration_hours: 1000,
                expect_local: "2026-05-09 05:00",
            },
        ];
        let mut failures = Vec::new();
        for case in &cases {
            let start = at(case.tz, case.start_local);
            let expect = at(case.tz, case.expect_local);
            let got = case.cal.add(
                case.clock,
                start,
                case.tz,
                Duration::hours(case.duration_hours),
            );
            if got != expect {
                failures.push(format!(
                    "{}: {} + {}h on {:?}: expected {}, got {}",
                    case.name,
                    show(case.tz, start),
                    case.duration_hours,
                    case.clock,
                    show(case.tz, expect),
                    show(case.tz, got)
                ));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    struct NextCase {
        name: &'static str,
        cal: BusinessCalendar,
        tz: Tz,
        at_local: &'static str,
        expect_local: &'static str,
    }

    #[test]
    fn next_working_time_table() {
        let cases = [
            NextCase {
                name: "03:00 waits for 09:00 the same day",
                cal: weekdays(),
                tz: Europe::Berlin,
                at_local: "2026-03-24 03:00",
                expect_local: "2026-03-24 09:00",
            },
            NextCase {
                name: "friday 19:00 waits for monday 09:00 (across DST)",
                cal: weekdays(),
                tz: Europe::Berlin,
                at_local: "2026-03-27 19:00",
                expect_local: "2026-03-30 09:00",
            },
            NextCase {
                name: "inside hours is unchanged",
                cal: weekdays(),
                tz: Europe::Berlin,
                at_local: "2026-03-25 11:17",
                expect_local: "2026-03-25 11:17",
            },
            NextCase {
                name: "exactly 09:00 is unchanged",
                cal: weekdays(),
                tz: Europe::Berlin,
                at_local: "2026-03-25 09:00",
                expect_local: "2026-03-25 09:00",
            },
            NextCase {
                name: "exactly end of hours goes to the next day",
                cal: weekdays(),
                tz: Europe::Berlin,
                at_local: "2026-03-25 18:00",
                expect_local: "2026-03-26 09:00",
            },
            NextCase {
                name: "on christmas day",
                cal: xmas(),
                tz: Europe::Berlin,
                at_local: "2026-12-25 10:00",
                expect_local: "2026-12-28 09:00",
            },
            NextCase {
                name: "new year's eve evening",
                cal: xmas(),
                tz: Europe::Berlin,
                at_local: "2026-12-31 18:30",
                expect_local: "2027-01-04 09:00",
            },
            NextCase {
                name: "kolkata: 03:00 UTC is 08:30 IST, opens 03:30 UTC",
                cal: weekdays(),
                tz: Asia::Kolkata,
                at_local: "2026-03-23 03:00 +00:00",
                expect_local: "2026-03-23 03:30 +00:00",
            },
            NextCase {
                name: "kolkata: 03:30 UTC is 09:00 IST, unchanged",
                cal: weekdays(),
                tz: Asia::Kolkata,
                at_local: "2026-03-23 03:30 +00:00",
                expect_local: "2026-03-23 03:30 +00:00",
            },
            NextCase {
                name: "kolkata: 12:30 UTC is 18:00 IST, next morning",
                cal: weekdays(),
                tz: Asia::Kolkata,
                at_local: "2026-03-23 12:30 +00:00",
                expect_local: "2026-03-24 03:30 +00:00",
            },
            NextCase {
                name: "kolkata: saturday 20:00 UTC is sunday 01:30 IST, monday",
                cal: weekdays(),
                tz: Asia::Kolkata,
                at_local: "2026-03-28 20:00 +00:00",
                expect_local: "2026-03-30 03:30 +00:00",
            },
            NextCase {
                name: "sydney: friday evening AEDT to monday 09:00 AEST",
                cal: weekdays(),
                tz: Australia::Sydney,
                at_local: "2026-04-03 20:00",
                expect_local: "2026-04-05 23:00 +00:00",
            },
            NextCase {
                name: "new york: saturday EST to monday 09:00 EDT",
                cal: weekdays(),
                tz: America::New_York,
                at_local: "2026-03-07 12:00",
                expect_local: "2026-03-09 13:00 +00:00",
            },
            NextCase {
                name: "always: unchanged at 03:00 on a sunday",
                cal: BusinessCalendar::always(),
                tz: Europe::Berlin,
                at_local: "2026-03-29 03:00",
                expect_local: "2026-03-29 03:00",
            },
        ];
        let mut failures = Vec::new();
        for case in &cases {
            let from = at(case.tz, case.at_local);
            let expect = at(case.tz, case.expect_local);
            let got = case.cal.next_working_time(from, case.tz);
            if got != expect {
                failures.push(format!(
                    "{}: from {}: expected {}, got {}",
                    case.name,
                    show(case.tz, from),
                    show(case.tz, expect),
                    show(case.tz, got)
                ));
            }
            // Whatever it returns is working time, and it never goes back.
            assert!(got >= from, "{}", case.name);
            assert!(case.cal.is_working_time(got, case.tz), "{}", case.name);
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn is_working_time_edges() {
        let cal = xmas();
        let tz = Europe::Berlin;
        let check = |local: &str, expect: bool| {
            assert_eq!(cal.is_working_time(at(tz, local), tz), expect, "{local}");
        };
        check("2026-03-25 08:59", false);
        check("2026-03-25 09:00", true);
        check("2026-03-25 17:59", true);
        check("2026-03-25 18:00", false);
        check("2026-03-28 12:00", false); // Saturday
        check("2026-12-25 12:00", false); // holiday
        check("2026-12-24 12:00", true);
        assert!(cal.is_working_time(utc("2026-03-25 16:59"), tz)); // 17:59 CET
        assert!(!cal.is_working_time(utc("2026-03-25 17:00"), tz)); // 18:00 CET
        assert!(BusinessCalendar::always().is_working_time(utc("2026-03-29 01:30"), tz));
    }

    #[test]
    fn local_to_utc_across_dst() {
        let cases = [
            // Berlin spring forward: 02:00-03:00 does not exist.
            (Europe::Berlin, "2026-03-29", "02:30", "2026-03-29 01:00"),
            (Europe::Berlin, "2026-03-29", "01:59", "2026-03-29 00:59"),
            (Europe::Berlin, "2026-03-29", "03:00", "2026-03-29 01:00"),
            // Berlin fall back: 02:00-03:00 happens twice; take CEST.
            (Europe::Berlin, "2026-10-25", "02:30", "2026-10-25 00:30"),
            (Europe::Berlin, "2026-10-25", "03:00", "2026-10-25 02:00"),
            // New York.
            (America::New_York, "2026-03-08", "02:30", "2026-03-08 07:00"),
            (America::New_York, "2026-11-01", "01:30", "2026-11-01 05:30"),
            // Sydney: DST ends 03:00 -> 02:00, starts 02:00 -> 03:00.
            (Australia::Sydney, "2026-04-05", "02:30", "2026-04-04 15:30"),
            (Australia::Sydney, "2026-10-04", "02:15", "2026-10-03 16:00"),
            // Kolkata: +5:30, no DST.
            (Asia::Kolkata, "2026-03-23", "09:00", "2026-03-23 03:30"),
            (Asia::Kolkata, "2026-12-31", "23:45", "2026-12-31 18:15"),
        ];
        for (tz, date, time, expect) in cases {
            assert_eq!(
                local_to_utc(tz, d(date), t(time)),
                utc(expect),
                "{tz} {date} {time}"
            );
        }
    }

    #[test]
    fn start_of_day_with_midnight_transitions() {
        let cases = [
            // Santiago springs forward at midnight: the day starts at 01:00 -03.
            (America::Santiago, "2026-09-06", "2026-09-06 04:00"),
            (America::Santiago, "2026-09-05", "2026-09-05 04:00"),
            // Santiago falls back at 24:00 Saturday: Sunday 00:00 -04 is unique.
            (America::Santiago, "2026-04-05", "2026-04-05 04:00"),
            // Havana springs forward at midnight: the day starts at 01:00 CDT.
            (America::Havana, "2026-03-08", "2026-03-08 05:00"),
            // Havana falls back 01:00 -> 00:00: midnight is ambiguous, take CDT.
            (America::Havana, "2026-11-01", "2026-11-01 04:00"),
            (Asia::Kolkata, "2027-01-01", "2026-12-31 18:30"),
            (Europe::Berlin, "2026-03-29", "2026-03-28 23:00"),
            (Europe::Berlin, "2026-03-30", "2026-03-29 22:00"),
        ];
        for (tz, date, expect) in cases {
            assert_eq!(start_of_day(tz, d(date)), utc(expect), "{tz} {date}");
        }
    }

    #[test]
    fn always_calendar_is_the_wall_clock() {
        let always = BusinessCalendar::always();
        assert_eq!(always.working_days(), WEEK.to_vec());
        assert_eq!(always.hours(), &[WorkingHours::all_day()]);
        assert_eq!(always.holidays().count(), 0);
        // A far-off holiday forces the general (day-walking) path; it must agree.
        let built =
            BusinessCalendar::new(WEEK, WorkingHours::all_day(), [d("2199-01-01")]).unwrap();
        let starts = [
            (Europe::Berlin, "2026-03-28 21:30"),
            (Europe::Berlin, "2026-10-24 23:10"),
            (America::Santiago, "2026-09-05 22:00"),
            (America::Havana, "2026-10-31 23:00"),
            (Asia::Kolkata, "2026-12-31 20:00"),
        ];
        for (tz, local) in starts {
            let start = at(tz, local);
            assert_eq!(always.next_working_time(start, tz), start);
            assert_eq!(built.next_working_time(start, tz), start);
            for hours in [1, 5, 25, 49, 24 * 400] {
                let dur = Duration::hours(hours) + Duration::minutes(7);
                let wall = start + dur;
                for clock in [Clock::Wall, Clock::BusinessDays, Clock::WorkingHours] {
                    assert_eq!(always.add(clock, start, tz, dur), wall, "{tz} {local}");
                    assert_eq!(built.add(clock, start, tz, dur), wall, "{tz} {local}");
                }
            }
        }
    }

    #[test]
    fn zero_and_negative_durations() {
        let cal = weekdays();
        let tz = Europe::Berlin;
        let start = at(tz, "2026-03-28 12:00");
        for clock in [Clock::Wall, Clock::BusinessDays, Clock::WorkingHours] {
            assert_eq!(cal.add(clock, start, tz, Duration::zero()), start);
        }
        assert_eq!(
            cal.add(Clock::Wall, start, tz, Duration::hours(-1)),
            start - Duration::hours(1)
        );
        assert_eq!(
            cal.add(Clock::WorkingHours, start, tz, Duration::hours(-1)),
            start
        );
    }

    #[test]
    fn long_and_absurd_durations_terminate() {
        let cal = xmas();
        let tz = Europe::Berlin;
        let start = at(tz, "2026-03-02 10:00");
        let began = std::time::Instant::now();
        let got = cal.add(Clock::BusinessDays, start, tz, Duration::days(30));
        assert_eq!(got, at(tz, "2026-04-13 10:00"));
        // A couple of working years on the working-hours clock.
        let got = cal.add(Clock::WorkingHours, start, tz, Duration::hours(9 * 500));
        assert!(got > start);
        assert!(began.elapsed() < std::time::Duration::from_secs(2));

        // Far more than the search bound: finishes, later than the bound,
        // and never panics, even at the edges of time.
        let huge = Duration::days(365 * 1000);
        for clock in [Clock::BusinessDays, Clock::WorkingHours] {
            let got = cal.add(clock, start, tz, huge);
            assert!(got > start + Duration::days(365 * 20), "{clock:?}");
        }
        for clock in [Clock::Wall, Clock::BusinessDays, Clock::WorkingHours] {
            assert_eq!(
                cal.add(clock, start, tz, Duration::MAX),
                DateTime::<Utc>::MAX_UTC
            );
            assert_eq!(
                cal.add(clock, DateTime::<Utc>::MAX_UTC, tz, Duration::hours(1)),
                DateTime::<Utc>::MAX_UTC
            );
        }
        let _ = cal.next_working_time(DateTime::<Utc>::MAX_UTC, Australia::Sydney);
        let _ = cal.next_working_time(DateTime::<Utc>::MIN_UTC, America::New_York);
        let _ = cal.is_working_time(DateTime::<Utc>::MAX_UTC, Australia::Sydney);

        // Every weekday a holiday for 30 years: next_working_time gives up.
        let mut all = BTreeSet::new();
        let mut day = d("2026-01-01");
        while day < d("2056-01-01") {
            all.insert(day);
            day = day.succ_opt().unwrap();
        }
        let closed = cal.with_extra_holidays(all);
        let from = at(tz, "2026-03-02 10:00");
        assert_eq!(closed.next_working_time(from, tz), from);
        let got = closed.add(Clock::WorkingHours, from, tz, Duration::hours(1));
        assert!(got > from);
    }

    #[test]
    fn calendar_construction() {
        assert_eq!(
            BusinessCalendar::new([], WorkingHours::all_day(), []),
            Err(CalendarError::NoWorkingDays)
        );
        assert_eq!(
            CalendarError::NoWorkingDays.to_string(),
            "a calendar needs at least one working day"
        );
        let backwards = WorkingHours {
            start: t("18:00"),
            end: Some(t("09:00")),
        };
        assert_eq!(
            BusinessCalendar::new([Weekday::Mon], backwards, []),
            Err(CalendarError::EmptyHours)
        );

        // Days come back Monday-first and deduplicated, whatever the input order.
        let cal = BusinessCalendar::new(
            [Weekday::Sun, Weekday::Wed, Weekday::Mon, Weekday::Wed],
            WorkingHours::parse("08:30", "24:00").unwrap(),
            [d("2026-05-01"), d("2026-01-01")],
        )
        .unwrap();
        assert_eq!(
            cal.working_days(),
            vec![Weekday::Mon, Weekday::Wed, Weekday::Sun]
        );
        assert_eq!(
            cal.holidays().copied().collect::<Vec<_>>(),
            vec![d("2026-01-01"), d("2026-05-01")]
        );
        assert!(cal.is_working_day(d("2026-03-29"))); // Sunday
        assert!(!cal.is_working_day(d("2026-03-28"))); // Saturday
        assert!(!cal.is_working_day(d("2026-01-01"))); // Thursday, but not a working day anyway
        assert!(cal.is_working_day(d("2026-03-23"))); // Monday

        // Extra holidays make a copy; the original is untouched.
        let extra = cal.with_extra_holidays([d("2026-03-23")]);
        assert!(!extra.is_working_day(d("2026-03-23")));
        assert!(cal.is_working_day(d("2026-03-23")));
        assert_eq!(extra.holidays().count(), 3);
    }

    #[test]
    fn working_hours_parsing() {
        let h = WorkingHours::parse("09:00", "18:00").unwrap();
        assert_eq!((h.start, h.end), (t("09:00"), Some(t("18:00"))));
        let h = WorkingHours::parse("09:00", "24:00").unwrap();
        assert_eq!((h.start, h.end), (t("09:00"), None));
        assert_eq!(
            WorkingHours::parse("00:00", "24:00:00").unwrap(),
            WorkingHours::all_day()
        );
        let h = WorkingHours::parse("08:30:15", "17:45:00").unwrap();
        assert_eq!(h.start, NaiveTime::from_hms_opt(8, 30, 15).unwrap());
        assert_eq!(h.end, Some(t("17:45")));
        assert_eq!(
            WorkingHours::parse("9am", "18:00"),
            Err(CalendarError::BadTime("9am".to_string()))
        );
        assert_eq!(
            CalendarError::BadTime("9am".to_string()).to_string(),
            "\"9am\" is not a time of day (expected HH:MM)"
        );
        assert_eq!(
            WorkingHours::parse("09:00", "25:00"),
            Err(CalendarError::BadTime("25:00".to_string()))
        );
        assert_eq!(
            WorkingHours::parse("09:00", "23:59:60"),
            Err(CalendarError::BadTime("23:59:60".to_string()))
        );
        assert_eq!(
            WorkingHours::parse("18:00", "09:00"),
            Err(CalendarError::EmptyHours)
        );
        assert_eq!(
            WorkingHours::parse("09:00", "09:00"),
            Err(CalendarError::EmptyHours)
        );
        assert_eq!(
            CalendarError::EmptyHours.to_string(),
            "working hours end before they start"
        );
        assert_eq!(
            WorkingHours::parse("24:00", "24:00"),
            Err(CalendarError::EndOfDayStart)
        );
        assert!(h.contains(t("08:31")) && !h.contains(t("17:45")));
        assert!(WorkingHours::all_day().contains(t("23:59")));
    }

    #[test]
    fn clock_and_weekday_names() {
        for clock in [Clock::Wall, Clock::BusinessDays, Clock::WorkingHours] {
            assert_eq!(Clock::parse(clock.as_str()), Some(clock));
        }
        assert_eq!(Clock::parse("Working_Hours"), Some(Clock::WorkingHours));
        assert_eq!(Clock::parse("business-days"), Some(Clock::BusinessDays));
        assert_eq!(Clock::parse("hours"), None);

        for (i, day) in WEEK.into_iter().enumerate() {
            let short = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][i];
            let long = [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ][i];
            assert_eq!(parse_weekday(short), Some(day));
            assert_eq!(parse_weekday(long), Some(day));
            assert_eq!(parse_weekday(&long.to_uppercase()), Some(day));
        }
        assert_eq!(parse_weekday("funday"), None);
        assert_eq!(parse_weekday(""), None);
    }

    /// Mon–Thu, 07:00–11:00 and 13:00–16:00: a four-day week with a split day.
    fn split() -> BusinessCalendar {
        weekdays()
            .with_days([Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu])
            .unwrap()
            .with_hours(vec![
                WorkingHours::parse("13:00", "16:00").unwrap(),
                WorkingHours::parse("07:00", "11:00").unwrap(),
            ])
            .unwrap()
    }

    #[test]
    fn a_split_day_counts_only_its_periods() {
        let tz = Europe::Berlin;
        let cal = split();
        assert_eq!(
            cal.describe_week(),
            "Mon, Tue, Wed, Thu, 07:00–11:00 and 13:00–16:00"
        );
        // The lunch gap is not working time, and the next period starts after it.
        assert!(cal.is_working_time(at(tz, "2026-03-23 10:59"), tz));
        assert!(!cal.is_working_time(at(tz, "2026-03-23 11:00"), tz));
        assert!(!cal.is_working_time(at(tz, "2026-03-23 12:30"), tz));
        assert!(cal.is_working_time(at(tz, "2026-03-23 13:00"), tz));
        assert_eq!(
            show(tz, cal.next_working_time(at(tz, "2026-03-23 11:30"), tz)),
            show(tz, at(tz, "2026-03-23 13:00"))
        );
        // Thursday 16:00 is the end of the week: Friday is not a working day.
        assert_eq!(
            show(tz, cal.next_working_time(at(tz, "2026-03-26 16:00"), tz)),
            show(tz, at(tz, "2026-03-30 07:00"))
        );
        // 7 working hours a day: 8h from Mon 10:00 is 1h (10–11) + 3h (13–16) + 4h (Tue 07–11).
        assert_eq!(
            show(
                tz,
                cal.add(
                    Clock::WorkingHours,
                    at(tz, "2026-03-23 10:00"),
                    tz,
                    Duration::hours(8)
                )
            ),
            show(tz, at(tz, "2026-03-24 11:00"))
        );
        // A period ending exactly where the duration ends returns that end.
        assert_eq!(
            cal.add(
                Clock::WorkingHours,
                at(tz, "2026-03-23 07:00"),
                tz,
                Duration::hours(4)
            ),
            at(tz, "2026-03-23 11:00")
        );
        // Business days: Friday does not count for a four-day week.
        assert_eq!(
            show(
                tz,
                cal.add(
                    Clock::BusinessDays,
                    at(tz, "2026-03-26 12:00"),
                    tz,
                    Duration::hours(24)
                )
            ),
            show(tz, at(tz, "2026-03-30 12:00"))
        );
    }

    #[test]
    fn overlapping_or_empty_periods_are_refused() {
        let overlap = weekdays().with_hours(vec![
            WorkingHours::parse("09:00", "13:00").unwrap(),
            WorkingHours::parse("12:00", "18:00").unwrap(),
        ]);
        assert_eq!(
            overlap,
            Err(CalendarError::OverlappingHours(
                "09:00–13:00".into(),
                "12:00–18:00".into()
            ))
        );
        // Touching periods are fine.
        assert!(
            weekdays()
                .with_hours(vec![
                    WorkingHours::parse("09:00", "12:00").unwrap(),
                    WorkingHours::parse("12:00", "24:00").unwrap(),
                ])
                .is_ok()
        );
        assert_eq!(
            weekdays().with_hours(vec![]),
            Err(CalendarError::EmptyHours)
        );
        assert_eq!(weekdays().with_days([]), Err(CalendarError::NoWorkingDays));
    }

    #[test]
    fn blocked_time_pauses_every_clock() {
        let tz = Europe::Berlin;
        // Away Tuesday and Wednesday (whole local days).
        let away = (
            start_of_day(tz, d("2026-03-24")),
            start_of_day(tz, d("2026-03-26")),
        );
        let cal = weekdays().with_blocked([away]);
        assert!(!cal.is_working_time(at(tz, "2026-03-24 10:00"), tz));
        assert_eq!(cal.blocked_until(at(tz, "2026-03-24 10:00")), Some(away.1));
        assert_eq!(cal.blocked_until(at(tz, "2026-03-26 10:00")), None);
        assert_eq!(
            show(tz, cal.next_working_time(at(tz, "2026-03-23 18:30"), tz)),
            show(tz, at(tz, "2026-03-26 09:00"))
        );
        // 24 business hours from Monday 10:00 skip the two days away.
        assert_eq!(
            show(
                tz,
                cal.add(
                    Clock::BusinessDays,
                    at(tz, "2026-03-23 10:00"),
                    tz,
                    Duration::hours(24)
                )
            ),
            show(tz, at(tz, "2026-03-26 10:00"))
        );
        // Even the wall clock stops while someone is away.
        assert_eq!(
            show(
                tz,
                cal.add(
                    Clock::Wall,
                    at(tz, "2026-03-23 22:00"),
                    tz,
                    Duration::hours(4)
                )
            ),
            show(tz, at(tz, "2026-03-26 02:00"))
        );
        // ... but goes backwards as before.
        assert_eq!(
            cal.add(
                Clock::Wall,
                at(tz, "2026-03-23 22:00"),
                tz,
                Duration::hours(-1)
            ),
            at(tz, "2026-03-23 21:00")
        );
        // An interval blocked in the middle of a working day cuts it in two.
        let ooo = (at(tz, "2026-03-23 11:00"), at(tz, "2026-03-23 15:00"));
        let cal = weekdays().with_blocked([ooo]);
        assert_eq!(
            show(
                tz,
                cal.add(
                    Clock::WorkingHours,
                    at(tz, "2026-03-23 10:00"),
                    tz,
                    Duration::hours(2)
                )
            ),
            show(tz, at(tz, "2026-03-23 16:00"))
        );
    }

    #[test]
    fn blocked_intervals_merge_and_ignore_empty_ones() {
        let a = utc("2026-03-23 10:00");
        let b = utc("2026-03-23 12:00");
        let c = utc("2026-03-23 14:00");
        let cal = BusinessCalendar::always().with_blocked([(b, c), (a, b), (c, c), (c, a)]);
        assert_eq!(cal.blocked(), &[(a, c)]);
        // `always` with blocked time is no longer the wall clock.
        assert_eq!(
            cal.add(
                Clock::Wall,
                a - Duration::hours(1),
                Tz::UTC,
                Duration::hours(2)
            ),
            c + Duration::hours(1)
        );
        assert!(!cal.is_working_time(b, Tz::UTC));
        assert_eq!(cal.next_working_time(b, Tz::UTC), c);
    }

    proptest::proptest! {
        /// Whatever is blocked, working time found is never blocked, `add` never lands inside
        /// blocked time with a positive duration left, and it never goes backwards.
        #[test]
        fn blocked_time_is_never_working_time(
            start_h in 0i64..400,
            spans in proptest::collection::vec((0i64..400, 0i64..60), 0..6),
            hours in 1i64..100,
        ) {
            let base = utc("2026-03-23 00:00");
            let blocked: Vec<_> = spans
                .iter()
                .map(|&(s, len)| (base + Duration::hours(s), base + Duration::hours(s + len)))
                .collect();
            let cal = split().with_blocked(blocked);
            let tz = Europe::Berlin;
            let start = base + Duration::hours(start_h);
            let next = cal.next_working_time(start, tz);
            proptest::prop_assert!(next >= start);
            if next != start || cal.is_working_time(start, tz) {
                proptest::prop_assert!(cal.blocked_until(next).is_none());
                proptest::prop_assert!(cal.is_working_time(next, tz));
            }
            let end = cal.add(Clock::WorkingHours, start, tz, Duration::hours(hours));
            proptest::prop_assert!(end > start);
        }
    }

    #[test]
    fn elapsed_counts_only_what_the_clock_counts() {
        let cal = BusinessCalendar::office_hours();
        let tz = Europe::Berlin;
        // Friday 17:00 to Monday 10:00: one hour on Friday, one on Monday.
        let fri = at(tz, "2026-11-20 17:00");
        let mon = at(tz, "2026-11-23 10:00");
        assert_eq!(
            cal.elapsed(Clock::WorkingHours, fri, mon, tz),
            Duration::hours(2)
        );
        // Business days: Friday's last 7 hours and Monday's first 10.
        assert_eq!(
            cal.elapsed(Clock::BusinessDays, fri, mon, tz),
            Duration::hours(17)
        );
        assert_eq!(cal.elapsed(Clock::Wall, fri, mon, tz), mon - fri);
        // Nothing counted backwards or on an empty interval.
        assert_eq!(
            cal.elapsed(Clock::WorkingHours, mon, fri, tz),
            Duration::zero()
        );
        assert_eq!(
            cal.elapsed(Clock::WorkingHours, mon, mon, tz),
            Duration::zero()
        );
        // Saturday to Sunday: no working time at all.
        let sat = at(tz, "2026-11-21 10:00");
        let sun = at(tz, "2026-11-22 20:00");
        assert_eq!(
            cal.elapsed(Clock::BusinessDays, sat, sun, tz),
            Duration::zero()
        );
    }

    #[test]
    fn elapsed_skips_blocked_time() {
        let tz = Europe::Berlin;
        let mon = at(tz, "2026-11-23 09:00");
        let tue_noon = at(tz, "2026-11-24 12:00");
        let cal = BusinessCalendar::office_hours().with_blocked(vec![(
            at(tz, "2026-11-23 12:00"),
            at(tz, "2026-11-24 10:00"),
        )]);
        // Monday 09–12 and Tuesday 10–12.
        assert_eq!(
            cal.elapsed(Clock::WorkingHours, mon, tue_noon, tz),
            Duration::hours(5)
        );
        // Blocked time stops even the wall clock.
        assert_eq!(
            cal.elapsed(Clock::Wall, mon, tue_noon, tz),
            Duration::hours(5)
        );
    }

    proptest::proptest! {
        /// `elapsed` undoes `add`: adding a duration and measuring it back gives the duration.
        #[test]
        fn elapsed_inverts_add(
            start_min in 0i64..(60 * 24 * 400),
            minutes in 0i64..(60 * 24 * 30),
            clock in proptest::sample::select(vec![Clock::Wall, Clock::BusinessDays, Clock::WorkingHours]),
            tz in proptest::sample::select(vec![Europe::Berlin, America::New_York, Asia::Kolkata, Australia::Sydney]),
        ) {
            let cal = BusinessCalendar::office_hours();
            let start = at(Europe::Berlin, "2026-01-01 00:00") + Duration::minutes(start_min);
            let duration = Duration::minutes(minutes);
            let end = cal.add(clock, start, tz, duration);
            proptest::prop_assert_eq!(cal.elapsed(clock, start, end, tz), duration);
        }
    }
}
