//! Parsing `/standup` slash-command text into a typed command. Pure; the usage text lives here too.
//!
//! Conventions:
//! - The subcommand word is case-insensitive; empty text means `status` and `?` means `help`.
//! - Dates are written `YYYY-MM-DD`; `today` and `tomorrow` are relative to the `today` the
//!   caller passes in (the caller's local date). Nothing here reads the clock.
//! - Every [`StandupParseError`] displays as Slack mrkdwn: one sentence with an example. Text the
//!   user typed is echoed inside a code span (backticks removed, long text shortened), so it is
//!   safe to show. Callers append [`USAGE`] themselves.

use chrono::{Days, NaiveDate, NaiveTime, Weekday};
use chrono_tz::Tz;

/// Shared with the config's `[[standup]]` times, so it lives with the standup norms.
pub use crate::domain::standup::parse_time;

/// Slack mrkdwn help for `/standup`, one form per line.
pub const USAGE: &str = "*`/standup at 09:30 Europe/Berlin mon-fri`* sets (or changes) this channel's daily standup: the time in 24-hour `HH:MM`, then optionally a time zone and the days, in any order, e.g. `/standup at 9:30`, `/standup at 07:00 America/New_York mon,wed,fri`, `weekdays`, `daily` or `fri-mon`. Leave the time zone or the days out to keep the current ones.\n\
*`/standup off`* stops this channel's standup.\n\
*`/standup skip`* skips today's standup in this channel; `/standup skip 2026-12-24` skips that day instead.\n\
*`/standup away today`* (or `away tomorrow`, `away 2026-12-24`, `away 2026-12-24..2027-01-02`) tells me you're away, so I won't ask you for an update on those days.\n\
*`/standup back`* tells me you're back early.\n\
*`/standup cleared`* marks your blocker in this channel's latest standup cleared (as the summary's button does): the requests it opened to the people it named are closed.\n\
*`/standup status`* shows this channel's standup settings.\n\
*`/standup help`* shows this help.";

/// The example shown whenever `/standup at` needs one.
const AT_EXAMPLE: &str = "/standup at 09:30 Europe/Berlin mon-fri";

/// The example shown whenever `/standup away` needs one.
const AWAY_EXAMPLE: &str = "/standup away 2026-12-24..2027-01-02";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandupCommand {
    /// `/standup at 09:30 [Europe/Berlin] [mon-fri]` — create or change this channel's schedule.
    /// `timezone`/`days` are None when not given (the caller keeps the current value or a default).
    /// `days`, when given, is non-empty, sorted Monday-first and without duplicates.
    At {
        time: NaiveTime,
        timezone: Option<Tz>,
        days: Option<Vec<Weekday>>,
    },
    /// `/standup off`
    Off,
    /// `/standup skip` — skip today for the channel (`skip YYYY-MM-DD` skips that date).
    /// `skip today` is the same as plain `skip` (`date: None`, the channel's own today);
    /// `skip tomorrow` is the day after the caller's `today`. A given date is never before `today`.
    Skip { date: Option<NaiveDate> },
    /// `/standup away today|tomorrow|YYYY-MM-DD|YYYY-MM-DD..YYYY-MM-DD` — for the caller; inclusive range, from <= to.
    /// `to` is never before `today`; `from` may be (a range that has already started).
    Away { from: NaiveDate, to: NaiveDate },
    /// `/standup back`
    Back,
    /// `/standup cleared`: the caller's blocker in this channel's latest standup is cleared.
    Cleared,
    /// `/standup status` (also empty text)
    Status,
    /// `/standup help` (also `?`)
    Help,
}

/// Why `/standup` text could not be understood. `Display` is one mrkdwn sentence for the user,
/// with an example. Fields holding user text (`word`, `token`, `text`, `extra`) keep it as Slack
/// sent it; `Display` shows it in a code span.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StandupParseError {
    /// The first word is not a subcommand. `word` is as typed.
    #[error("I don't know {}.", code(&format!("/standup {word}")))]
    UnknownSubcommand { word: String },
    /// `off`, `back` or `status` followed by more words.
    #[error(
        "`/standup {command}` doesn't take anything after it; drop {} and send just `/standup {command}`.",
        code(.extra)
    )]
    UnexpectedArguments {
        command: &'static str,
        extra: String,
    },
    /// `/standup at` with nothing after it.
    #[error("Tell me when the standup should happen, e.g. `{AT_EXAMPLE}`.")]
    MissingTime,
    /// The word after `at` is not a 24-hour `HH:MM` time.
    #[error(
        "{} isn't a time I understand; put the time right after `at`, in 24-hour `HH:MM`, e.g. `{AT_EXAMPLE}`.",
        code(.token)
    )]
    InvalidTime { token: String },
    /// A word that looks like a time zone (contains `/`, or is `UTC`/`GMT`) but is not one.
    #[error("{}", unknown_zone(.token, .suggestion.as_deref()))]
    UnknownTimeZone {
        token: String,
        /// The closest real zone name, if one is close enough to be worth suggesting.
        suggestion: Option<String>,
    },
    /// Two different time zones in one `/standup at`.
    #[error(
        "You gave two time zones, {} and {}; keep just one, e.g. `{AT_EXAMPLE}`.",
        code(.first),
        code(.second)
    )]
    TwoTimeZones { first: String, second: String },
    /// A word after the time of `/standup at` that is neither a time zone nor days.
    #[error("{}", unexpected_at_token(.token, .suggestion.as_deref()))]
    UnexpectedAtToken {
        token: String,
        /// A real zone whose city matches the word (e.g. `Europe/Berlin` for `Berlin`).
        suggestion: Option<String>,
    },
    /// Something after `skip` that is not a date.
    #[error(
        "{} isn't a date I understand; send `/standup skip` to skip today, or give a date, e.g. `/standup skip 2026-12-24`.",
        code(.token)
    )]
    InvalidSkipDate { token: String },
    /// More than one word after `skip`.
    #[error(
        "`/standup skip` takes at most one date, e.g. `/standup skip 2026-12-24`; I didn't understand {}.",
        code(.text)
    )]
    SkipTooManyDates { text: String },
    /// `skip` with a date before today.
    #[error(
        "{date} has already passed, so there is nothing to skip; give today or a later date, e.g. `/standup skip tomorrow`."
    )]
    SkipInPast { date: NaiveDate },
    /// `/standup away` with nothing after it.
    #[error(
        "Tell me when you'll be away, e.g. `/standup away today`, `/standup away tomorrow` or `{AWAY_EXAMPLE}`."
    )]
    MissingAway,
    /// The argument of `away` is not a day or a range of days.
    #[error(
        "{} isn't a day or a range of days I understand; say `today`, `tomorrow`, a date or a range, e.g. `/standup away 2026-12-24` or `{AWAY_EXAMPLE}`.",
        code(.text)
    )]
    InvalidAway { text: String },
    /// An `away` range whose end is before its start.
    #[error(
        "The range {from}..{to} ends before it starts; put the earlier date first, e.g. `/standup away {to}..{from}`."
    )]
    AwayReversed { from: NaiveDate, to: NaiveDate },
    /// An `away` day or range that is entirely before today.
    #[error(
        "{} is in the past; give today or a later date, e.g. `/standup away today` or `{AWAY_EXAMPLE}`.",
        day_or_range(*.from, *.to)
    )]
    AwayInPast { from: NaiveDate, to: NaiveDate },
    /// A well-formed `YYYY-MM-DD` that is not on the calendar (e.g. `2026-02-30`).
    #[error(
        "{} isn't a day on the calendar; check the month and day, e.g. `2026-12-24`.",
        code(.token)
    )]
    NotACalendarDate { token: String },
}

/// Shows user text as a code span: backticks replaced, long text shortened.
fn code(text: &str) -> String {
    const MAX: usize = 60;
    // Cut on atoms (never inside a `<…>` token) and keep a broadcast inert: the text came from
    // Slack, and a reply echoing `<!here>` must not mean it.
    let shown = crate::domain::format::excerpt(text, MAX + 1);
    format!(
        "`{}`",
        crate::domain::format::quote_slack(&shown).replace('`', "'")
    )
}

fn unknown_zone(token: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(zone) => format!(
            "{} is not a time zone I know; try `{zone}`, e.g. `/standup at 09:30 {zone}`.",
            code(token)
        ),
        None => format!(
            "{} is not a time zone I know; use a name from the tz database like `Europe/Berlin`, `America/New_York` or `UTC`, e.g. `{AT_EXAMPLE}`.",
            code(token)
        ),
    }
}

fn unexpected_at_token(token: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(zone) => format!(
            "I don't understand {}; time zones are written in full, like `{zone}`, e.g. `/standup at 09:30 {zone} mon-fri`.",
            code(token)
        ),
        None => format!(
            "I don't understand {}; after the time, give a time zone like `Europe/Berlin` and/or days like `mon-fri`, `mon,wed,fri` or `weekdays`, e.g. `{AT_EXAMPLE}`.",
            code(token)
        ),
    }
}

fn day_or_range(from: NaiveDate, to: NaiveDate) -> String {
    if from == to {
        from.to_string()
    } else {
        format!("{from}..{to}")
    }
}

/// Parses the text of `/standup` (everything after the command).
///
/// `today` is the caller's local date (used for `away today`, `away tomorrow`, and to refuse
/// away ranges entirely in the past).
pub fn parse(text: &str, today: NaiveDate) -> Result<StandupCommand, StandupParseError> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let Some((&first, args)) = tokens.split_first() else {
        return Ok(StandupCommand::Status);
    };
    match first.to_lowercase().as_str() {
        "at" => parse_at(args),
        "off" => no_arguments("off", args).map(|()| StandupCommand::Off),
        "skip" => parse_skip(args, today),
        "away" => parse_away(args, today),
        "back" => no_arguments("back", args).map(|()| StandupCommand::Back),
        "cleared" | "unblocked" => no_arguments("cleared", args).map(|()| StandupCommand::Cleared),
        "status" => no_arguments("status", args).map(|()| StandupCommand::Status),
        "help" | "?" => Ok(StandupCommand::Help),
        _ => Err(StandupParseError::UnknownSubcommand {
            word: first.to_string(),
        }),
    }
}

fn no_arguments(command: &'static str, args: &[&str]) -> Result<(), StandupParseError> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(StandupParseError::UnexpectedArguments {
            command,
            extra: args.join(" "),
        })
    }
}

fn parse_at(args: &[&str]) -> Result<StandupCommand, StandupParseError> {
    let Some((&time_token, rest)) = args.split_first() else {
        return Err(StandupParseError::MissingTime);
    };
    let time = parse_time(time_token).ok_or_else(|| StandupParseError::InvalidTime {
        token: time_token.to_string(),
    })?;

    let mut timezone: Option<(Tz, &str)> = None;
    let mut day_tokens: Vec<&str> = Vec::new();
    for &token in rest {
        // `mon/wed` is days, not a zone; no zone name parses as days.
        if !looks_like_zone(token) || parse_days(token).is_some() {
            day_tokens.push(token);
            continue;
        }
        let zone = parse_zone(token).ok_or_else(|| StandupParseError::UnknownTimeZone {
            token: token.to_string(),
            suggestion: suggest_zone(token).map(str::to_string),
        })?;
        match timezone {
            Some((previous, first)) if previous != zone => {
                return Err(StandupParseError::TwoTimeZones {
                    first: first.to_string(),
                    second: token.to_string(),
                });
            }
            Some(_) => {}
            None => timezone = Some((zone, token)),
        }
    }

    let days = if day_tokens.is_empty() {
        None
    } else {
        // Joined, so that `mon - fri` or `mon to fri` spread over several words still works.
        match parse_days(&day_tokens.join(" ")) {
            Some(days) => Some(days),
            None => {
                let token = day_tokens
                    .iter()
                    .find(|t| !is_day_connector(t) && parse_days(t).is_none())
                    .map_or_else(|| day_tokens.join(" "), |t| t.to_string());
                let suggestion = zone_for_city(&token).map(str::to_string);
                return Err(StandupParseError::UnexpectedAtToken { token, suggestion });
            }
        }
    };

    Ok(StandupCommand::At {
        time,
        timezone: timezone.map(|(zone, _)| zone),
        days,
    })
}

fn parse_skip(args: &[&str], today: NaiveDate) -> Result<StandupCommand, StandupParseError> {
    match args {
        [] => Ok(StandupCommand::Skip { date: None }),
        [token] if token.eq_ignore_ascii_case("today") => Ok(StandupCommand::Skip { date: None }),
        [token] => {
            let date = parse_day(token, today).map_err(|e| match e {
                DayError::NotADate => StandupParseError::InvalidSkipDate {
                    token: token.to_string(),
                },
                DayError::NotOnCalendar => StandupParseError::NotACalendarDate {
                    token: token.to_string(),
                },
            })?;
            if date < today {
                return Err(StandupParseError::SkipInPast { date });
            }
            Ok(StandupCommand::Skip { date: Some(date) })
        }
        _ => Err(StandupParseError::SkipTooManyDates {
            text: args.join(" "),
        }),
    }
}

fn parse_away(args: &[&str], today: NaiveDate) -> Result<StandupCommand, StandupParseError> {
    let (from_text, to_text) = match args {
        [] => return Err(StandupParseError::MissingAway),
        [one] => one.split_once("..").unwrap_or((one, one)),
        [from, middle, to] if middle.eq_ignore_ascii_case("to") || *middle == ".." => (*from, *to),
        _ => {
            return Err(StandupParseError::InvalidAway {
                text: args.join(" "),
            });
        }
    };
    let day = |token: &str| {
        parse_day(token, today).map_err(|e| match e {
            DayError::NotADate => StandupParseError::InvalidAway {
                text: args.join(" "),
            },
            DayError::NotOnCalendar => StandupParseError::NotACalendarDate {
                token: token.to_string(),
            },
        })
    };
    let from = day(from_text)?;
    let to = day(to_text)?;
    if from > to {
        return Err(StandupParseError::AwayReversed { from, to });
    }
    if to < today {
        return Err(StandupParseError::AwayInPast { from, to });
    }
    Ok(StandupCommand::Away { from, to })
}

enum DayError {
    /// Not `today`, `tomorrow` or `YYYY-MM-DD` at all.
    NotADate,
    /// Shaped like `YYYY-MM-DD` but not a real day.
    NotOnCalendar,
}

/// `today`, `tomorrow` (any case) or a strict `YYYY-MM-DD`.
fn parse_day(token: &str, today: NaiveDate) -> Result<NaiveDate, DayError> {
    if token.eq_ignore_ascii_case("today") {
        return Ok(today);
    }
    if token.eq_ignore_ascii_case("tomorrow") {
        return today
            .checked_add_days(Days::new(1))
            .ok_or(DayError::NotOnCalendar);
    }
    let b = token.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(DayError::NotADate);
    }
    let number = |range: std::ops::Range<usize>| token[range].parse::<u32>().ok();
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return Err(DayError::NotADate);
    };
    let year = i32::try_from(year).map_err(|_| DayError::NotADate)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DayError::NotOnCalendar)
}

/// Whether a word in `/standup at` should be read as a time zone.
fn looks_like_zone(token: &str) -> bool {
    token.contains('/') || token.eq_ignore_ascii_case("UTC") || token.eq_ignore_ascii_case("GMT")
}

/// An IANA zone name, exactly (`Tz::from_str`) or ignoring ASCII case (`europe/berlin`).
fn parse_zone(token: &str) -> Option<Tz> {
    token.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|zone| zone.name().eq_ignore_ascii_case(token))
    })
}

/// The zone to suggest for a zone-looking word that is not a zone: the closest name by edit
/// distance if it is close, else a zone whose city matches the last part (`Germany/Berlin`).
fn suggest_zone(token: &str) -> Option<&'static str> {
    // No zone name is this long; comparing a long paste with every zone would cost seconds.
    if token.chars().count() > 64 {
        return None;
    }
    let wanted = token.to_ascii_lowercase();
    let max_distance = (wanted.chars().count() / 4).clamp(1, 3);
    let closest = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| {
            let distance = edit_distance(&wanted, &zone.name().to_ascii_lowercase());
            (distance, zone.name())
        })
        .min_by_key(|&(distance, _)| distance)
        .filter(|&(distance, _)| distance <= max_distance)
        .map(|(_, name)| name);
    closest.or_else(|| zone_for_city(token.rsplit('/').next().unwrap_or(token)))
}

/// A zone whose last part is `city`, ignoring case and treating spaces as `_`; the shortest
/// name wins (`America/Buenos_Aires` over `America/Argentina/Buenos_Aires`).
fn zone_for_city(city: &str) -> Option<&'static str> {
    let city = city.replace(' ', "_");
    if city.is_empty() {
        return None;
    }
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|zone| zone.name())
        .filter(|name| {
            name.rsplit_once('/')
                .is_some_and(|(_, last)| last.eq_ignore_ascii_case(&city))
        })
        .min_by_key(|name| name.len())
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Words that only join days (`mon - fri`, `mon to fri`, `mon and wed`), never days themselves.
fn is_day_connector(token: &str) -> bool {
    matches!(
        token.to_lowercase().as_str(),
        "-" | "–" | "—" | "," | "/" | "to" | "through" | "thru" | "and" | "every"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayPiece<'a> {
    Word(&'a str),
    Dash,
}

/// "mon-fri" (ranges wrap: "fri-mon" = fri,sat,sun,mon), "mon,wed,fri", "mon wed fri" (as separate tokens), "weekdays" (mon-fri), "daily"/"everyday" (all 7), "mon-sun". Full names and case-insensitive ("Monday"). Result sorted Monday-first, no duplicates; None if unparseable.
///
/// Also accepted: days separated by `/` or `and`, ranges written `mon - fri`, `mon to fri` or
/// `mon–fri` (en dash), `weekends` (sat, sun), `every day`, plurals (`mondays`) and short forms
/// (`tue`, `tues`, `thu`, `thurs`, `mo`, `tu`, …). A range whose ends are the same day is that
/// one day. Never returns an empty list.
pub fn parse_days(s: &str) -> Option<Vec<Weekday>> {
    let lower = s.to_lowercase();
    let mut pieces = Vec::new();
    let mut word_start: Option<usize> = None;
    for (i, c) in lower.char_indices() {
        if c.is_alphabetic() {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(start) = word_start.take() {
            pieces.push(DayPiece::Word(&lower[start..i]));
        }
        match c {
            '-' | '–' | '—' => pieces.push(DayPiece::Dash),
            ',' | '/' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    if let Some(start) = word_start {
        pieces.push(DayPiece::Word(&lower[start..]));
    }
    let pieces: Vec<DayPiece<'_>> = pieces
        .into_iter()
        .filter(|piece| *piece != DayPiece::Word("and"))
        .map(|piece| match piece {
            DayPiece::Word("to" | "through" | "thru") => DayPiece::Dash,
            other => other,
        })
        .collect();

    let mut chosen = [false; 7];
    let mut i = 0;
    while i < pieces.len() {
        let DayPiece::Word(word) = pieces[i] else {
            return None;
        };
        if let Some(DayPiece::Dash) = pieces.get(i + 1) {
            let Some(&DayPiece::Word(end)) = pieces.get(i + 2) else {
                return None;
            };
            let (mut day, end) = (weekday(word)?, weekday(end)?);
            loop {
                chosen[day.num_days_from_monday() as usize] = true;
                if day == end {
                    break;
                }
                day = day.succ();
            }
            i += 3;
            continue;
        }
        if word == "every" {
            // `every day`, or a filler before a day: `every monday`.
            if let Some(DayPiece::Word("day")) = pieces.get(i + 1) {
                chosen = [true; 7];
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        match word {
            "weekdays" | "weekday" | "workdays" => chosen[..5].fill(true),
            "weekends" | "weekend" => chosen[5..].fill(true),
            "daily" | "everyday" => chosen = [true; 7],
            _ => chosen[weekday(word)?.num_days_from_monday() as usize] = true,
        }
        i += 1;
    }

    let days: Vec<Weekday> = (0..7u8)
        .filter(|&n| chosen[usize::from(n)])
        .filter_map(|n| Weekday::try_from(n).ok())
        .collect();
    (!days.is_empty()).then_some(days)
}

/// One day name, lowercase: full, plural, or a common short form.
fn weekday(word: &str) -> Option<Weekday> {
    let day = match word {
        "mo" | "mon" | "monday" | "mondays" => Weekday::Mon,
        "tu" | "tue" | "tues" | "tuesday" | "tuesdays" => Weekday::Tue,
        "we" | "wed" | "weds" | "wednesday" | "wednesdays" => Weekday::Wed,
        "th" | "thu" | "thur" | "thurs" | "thursday" | "thursdays" => Weekday::Thu,
        "fr" | "fri" | "friday" | "fridays" => Weekday::Fri,
        "sa" | "sat" | "saturday" | "saturdays" => Weekday::Sat,
        "su" | "sun" | "sunday" | "sundays" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use StandupCommand as C;
    use StandupParseError as E;
    use Weekday::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn time(h: u32, m: u32, s: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, s).unwrap()
    }

    /// A Wednesday.
    fn today() -> NaiveDate {
        date("2026-03-04")
    }

    fn err(text: &str) -> E {
        match parse(text, today()) {
            Err(e) => e,
            Ok(command) => panic!("{text:?} parsed as {command:?}"),
        }
    }

    const WEEKDAYS: [Weekday; 5] = [Mon, Tue, Wed, Thu, Fri];
    const ALL: [Weekday; 7] = [Mon, Tue, Wed, Thu, Fri, Sat, Sun];

    #[test]
    fn parses_every_form() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        let new_york: Tz = "America/New_York".parse().unwrap();
        let cases: Vec<(&str, StandupCommand)> = vec![
            ("", C::Status),
            ("   ", C::Status),
            ("status", C::Status),
            ("STATUS", C::Status),
            ("help", C::Help),
            ("Help me please", C::Help),
            ("?", C::Help),
            ("off", C::Off),
            ("Off", C::Off),
            ("back", C::Back),
            (
                "at 09:30",
                C::At {
                    time: time(9, 30, 0),
                    timezone: None,
                    days: None,
                },
            ),
            (
                "AT 9:30 Europe/Berlin mon-fri",
                C::At {
                    time: time(9, 30, 0),
                    timezone: Some(berlin),
                    days: Some(WEEKDAYS.to_vec()),
                },
            ),
            (
                "at 07:00:30 mon wed fri America/New_York",
                C::At {
                    time: time(7, 0, 30),
                    timezone: Some(new_york),
                    days: Some(vec![Mon, Wed, Fri]),
                },
            ),
            (
                "at 18:05 weekdays",
                C::At {
                    time: time(18, 5, 0),
                    timezone: None,
                    days: Some(WEEKDAYS.to_vec()),
                },
            ),
            (
                "at 00:00 UTC",
                C::At {
                    time: time(0, 0, 0),
                    timezone: Some(Tz::UTC),
                    days: None,
                },
            ),
            (
                "at 23:59 utc daily",
                C::At {
                    time: time(23, 59, 0),
                    timezone: Some(Tz::UTC),
                    days: Some(ALL.to_vec()),
                },
            ),
            (
                "at 09:30 GMT",
                C::At {
                    time: time(9, 30, 0),
                    timezone: Some(Tz::GMT),
                    days: None,
                },
            ),
            (
                "at 09:30 europe/berlin",
                C::At {
                    time: time(9, 30, 0),
                    timezone: Some(berlin),
                    days: None,
                },
            ),
            (
                "at 09:30 mon - thu Europe/Berlin Europe/Berlin",
                C::At {
                    time: time(9, 30, 0),
                    timezone: Some(berlin),
                    days: Some(vec![Mon, Tue, Wed, Thu]),
                },
            ),
            (
                "at 09:30 fri-mon",
                C::At {
                    time: time(9, 30, 0),
                    timezone: None,
                    days: Some(vec![Mon, Fri, Sat, Sun]),
                },
            ),
            (
                "at 09:30 mon/wed",
                C::At {
                    time: time(9, 30, 0),
                    timezone: None,
                    days: Some(vec![Mon, Wed]),
                },
            ),
            ("skip", C::Skip { date: None }),
            ("skip today", C::Skip { date: None }),
            (
                "skip tomorrow",
                C::Skip {
                    date: Some(date("2026-03-05")),
                },
            ),
            (
                "skip 2026-03-04",
                C::Skip {
                    date: Some(date("2026-03-04")),
                },
            ),
            (
                "Skip 2026-12-24",
                C::Skip {
                    date: Some(date("2026-12-24")),
                },
            ),
            (
                "away today",
                C::Away {
                    from: today(),
                    to: today(),
                },
            ),
            (
                "away Tomorrow",
                C::Away {
                    from: date("2026-03-05"),
                    to: date("2026-03-05"),
                },
            ),
            (
                "away 2026-12-24",
                C::Away {
                    from: date("2026-12-24"),
                    to: date("2026-12-24"),
                },
            ),
            (
                "away 2026-12-24..2027-01-02",
                C::Away {
                    from: date("2026-12-24"),
                    to: date("2027-01-02"),
                },
            ),
            (
                "away 2026-12-24 to 2027-01-02",
                C::Away {
                    from: date("2026-12-24"),
                    to: date("2027-01-02"),
                },
            ),
            (
                "away 2026-12-24 .. 2027-01-02",
                C::Away {
                    from: date("2026-12-24"),
                    to: date("2027-01-02"),
                },
            ),
            (
                "away today..2026-03-10",
                C::Away {
                    from: today(),
                    to: date("2026-03-10"),
                },
            ),
            // Already started, not over: kept as given.
            (
                "away 2026-03-01..2026-03-04",
                C::Away {
                    from: date("2026-03-01"),
                    to: today(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text, today()), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn reports_errors() {
        let cases: Vec<(&str, StandupParseError)> = vec![
            (
                "dance",
                E::UnknownSubcommand {
                    word: "dance".into(),
                },
            ),
            ("at", E::MissingTime),
            (
                "at 25:00",
                E::InvalidTime {
                    token: "25:00".into(),
                },
            ),
            (
                "at 24:00",
                E::InvalidTime {
                    token: "24:00".into(),
                },
            ),
            (
                "at 9am",
                E::InvalidTime {
                    token: "9am".into(),
                },
            ),
            (
                "at Europe/Berlin 09:30",
                E::InvalidTime {
                    token: "Europe/Berlin".into(),
                },
            ),
            (
                "at 09:30 Mars/Olympus",
                E::UnknownTimeZone {
                    token: "Mars/Olympus".into(),
                    suggestion: None,
                },
            ),
            (
                "at 09:30 Europe/Berlim",
                E::UnknownTimeZone {
                    token: "Europe/Berlim".into(),
                    suggestion: Some("Europe/Berlin".into()),
                },
            ),
            (
                "at 09:30 Germany/Berlin",
                E::UnknownTimeZone {
                    token: "Germany/Berlin".into(),
                    suggestion: Some("Europe/Berlin".into()),
                },
            ),
            (
                "at 09:30 Europe/Berlin America/New_York",
                E::TwoTimeZones {
                    first: "Europe/Berlin".into(),
                    second: "America/New_York".into(),
                },
            ),
            (
                "at 09:30 funday",
                E::UnexpectedAtToken {
                    token: "funday".into(),
                    suggestion: None,
                },
            ),
            (
                "at 09:30 mon funday fri",
                E::UnexpectedAtToken {
                    token: "funday".into(),
                    suggestion: None,
                },
            ),
            (
                "at 09:30 Berlin",
                E::UnexpectedAtToken {
                    token: "Berlin".into(),
                    suggestion: Some("Europe/Berlin".into()),
                },
            ),
            (
                "at 09:30 10:00",
                E::UnexpectedAtToken {
                    token: "10:00".into(),
                    suggestion: None,
                },
            ),
            (
                "at 09:30 mon -",
                E::UnexpectedAtToken {
                    token: "mon -".into(),
                    suggestion: None,
                },
            ),
            (
                "off now",
                E::UnexpectedArguments {
                    command: "off",
                    extra: "now".into(),
                },
            ),
            (
                "back again soon",
                E::UnexpectedArguments {
                    command: "back",
                    extra: "again soon".into(),
                },
            ),
            (
                "status please",
                E::UnexpectedArguments {
                    command: "status",
                    extra: "please".into(),
                },
            ),
            (
                "skip friday",
                E::InvalidSkipDate {
                    token: "friday".into(),
                },
            ),
            (
                "skip 2026-3-5",
                E::InvalidSkipDate {
                    token: "2026-3-5".into(),
                },
            ),
            (
                "skip 2026-03-03",
                E::SkipInPast {
                    date: date("2026-03-03"),
                },
            ),
            (
                "skip 2026-02-30",
                E::NotACalendarDate {
                    token: "2026-02-30".into(),
                },
            ),
            (
                "skip 2026-12-24 2026-12-25",
                E::SkipTooManyDates {
                    text: "2026-12-24 2026-12-25".into(),
                },
            ),
            ("away", E::MissingAway),
            (
                "away soon",
                E::InvalidAway {
                    text: "soon".into(),
                },
            ),
            (
                "away 2026-12-24..",
                E::InvalidAway {
                    text: "2026-12-24..".into(),
                },
            ),
            (
                "away 2026-12-24 2027-01-02",
                E::InvalidAway {
                    text: "2026-12-24 2027-01-02".into(),
                },
            ),
            (
                "away 2026-12-24 until 2027-01-02",
                E::InvalidAway {
                    text: "2026-12-24 until 2027-01-02".into(),
                },
            ),
            (
                "away 2027-01-02..2026-12-24",
                E::AwayReversed {
                    from: date("2027-01-02"),
                    to: date("2026-12-24"),
                },
            ),
            (
                "away 2027-01-02 to 2026-12-24",
                E::AwayReversed {
                    from: date("2027-01-02"),
                    to: date("2026-12-24"),
                },
            ),
            (
                "away 2026-03-03",
                E::AwayInPast {
                    from: date("2026-03-03"),
                    to: date("2026-03-03"),
                },
            ),
            (
                "away 2026-02-01..2026-03-03",
                E::AwayInPast {
                    from: date("2026-02-01"),
                    to: date("2026-03-03"),
                },
            ),
            (
                "away 2026-12-24..2026-13-01",
                E::NotACalendarDate {
                    token: "2026-13-01".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(err(text), expected, "{text:?}");
        }
    }

    #[test]
    fn error_messages_are_sentences_with_examples() {
        let cases: Vec<(&str, &str)> = vec![
            ("dance", "I don't know `/standup dance`."),
            (
                "at 09:30 Europe/Berlim",
                "`Europe/Berlim` is not a time zone I know; try `Europe/Berlin`, e.g. `/standup at 09:30 Europe/Berlin`.",
            ),
            (
                "at",
                "Tell me when the standup should happen, e.g. `/standup at 09:30 Europe/Berlin mon-fri`.",
            ),
            (
                "at 25:00",
                "`25:00` isn't a time I understand; put the time right after `at`, in 24-hour `HH:MM`, e.g. `/standup at 09:30 Europe/Berlin mon-fri`.",
            ),
            (
                "away 2026-03-03",
                "2026-03-03 is in the past; give today or a later date, e.g. `/standup away today` or `/standup away 2026-12-24..2027-01-02`.",
            ),
            (
                "away 2027-01-02..2026-12-24",
                "The range 2027-01-02..2026-12-24 ends before it starts; put the earlier date first, e.g. `/standup away 2026-12-24..2027-01-02`.",
            ),
            (
                "off now",
                "`/standup off` doesn't take anything after it; drop `now` and send just `/standup off`.",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(err(text).to_string(), expected, "{text:?}");
        }
        // Every message is one sentence ending in a full stop, without backticks from the user.
        for text in [
            "at 09:30 Mars/Olympus",
            "at 09:30 funday",
            "at 09:30 Berlin",
            "at 09:30 UTC Europe/Berlin",
            "skip x`y",
            "skip 2026-03-03",
            "skip a b",
            "away",
            "away x",
            "skip 2026-02-30",
        ] {
            let message = err(text).to_string();
            assert!(message.ends_with('.'), "{text:?}: {message}");
            assert!(!message.contains("x`y"), "{text:?}: {message}");
            assert!(message.contains("e.g."), "{text:?}: {message}");
        }
        let long = format!("skip {}", "x".repeat(200));
        assert!(err(&long).to_string().contains("x…`"));
    }

    #[test]
    fn parses_days() {
        let cases: Vec<(&str, Option<Vec<Weekday>>)> = vec![
            ("mon-fri", Some(WEEKDAYS.to_vec())),
            ("Monday-Friday", Some(WEEKDAYS.to_vec())),
            ("MON-FRI", Some(WEEKDAYS.to_vec())),
            ("mon–fri", Some(WEEKDAYS.to_vec())),
            ("mon - fri", Some(WEEKDAYS.to_vec())),
            ("mon to fri", Some(WEEKDAYS.to_vec())),
            ("weekdays", Some(WEEKDAYS.to_vec())),
            ("Weekdays", Some(WEEKDAYS.to_vec())),
            ("daily", Some(ALL.to_vec())),
            ("everyday", Some(ALL.to_vec())),
            ("every day", Some(ALL.to_vec())),
            ("mon-sun", Some(ALL.to_vec())),
            ("weekends", Some(vec![Sat, Sun])),
            ("fri-mon", Some(vec![Mon, Fri, Sat, Sun])),
            ("sat-tue", Some(vec![Mon, Tue, Sat, Sun])),
            ("sun-sat", Some(ALL.to_vec())),
            ("tue-mon", Some(ALL.to_vec())),
            ("wed-wed", Some(vec![Wed])),
            ("mon,wed,fri", Some(vec![Mon, Wed, Fri])),
            ("fri,wed,mon", Some(vec![Mon, Wed, Fri])),
            ("mon, wed, fri", Some(vec![Mon, Wed, Fri])),
            ("mon wed fri", Some(vec![Mon, Wed, Fri])),
            ("mon and thursday", Some(vec![Mon, Thu])),
            ("mondays", Some(vec![Mon])),
            ("Monday", Some(vec![Mon])),
            ("tues,thurs", Some(vec![Tue, Thu])),
            ("mon,mon,monday", Some(vec![Mon])),
            ("mon-wed,tue-thu", Some(vec![Mon, Tue, Wed, Thu])),
            ("weekdays,sat", Some(vec![Mon, Tue, Wed, Thu, Fri, Sat])),
            ("mon/wed", Some(vec![Mon, Wed])),
            ("", None),
            (" ", None),
            (",", None),
            ("-", None),
            ("funday", None),
            ("mon-", None),
            ("-fri", None),
            ("mon--fri", None),
            ("mon-fri-sat", None),
            ("mon-weekdays", None),
            ("mon1", None),
            ("and", None),
            ("every", None),
            ("09:30", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_days(text), expected, "{text:?}");
        }
    }

    #[test]
    fn parses_times() {
        let cases: Vec<(&str, Option<NaiveTime>)> = vec![
            ("09:30", Some(time(9, 30, 0))),
            ("9:30", Some(time(9, 30, 0))),
            ("09:30:15", Some(time(9, 30, 15))),
            ("00:00", Some(time(0, 0, 0))),
            ("23:59:59", Some(time(23, 59, 59))),
            (" 7:05 ", Some(time(7, 5, 0))),
            ("24:00", None),
            ("25:00", None),
            ("09:60", None),
            ("09:30:60", None),
            ("9:5", None),
            ("930", None),
            ("09", None),
            ("009:30", None),
            ("09:30:15:00", None),
            ("+9:30", None),
            ("9:30am", None),
            ("09:30:", None),
            (":30", None),
            ("", None),
            ("٠٩:٣٠", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_time(text), expected, "{text:?}");
        }
    }

    #[test]
    fn usage_lists_every_form() {
        for form in [
            "`/standup at 09:30 Europe/Berlin mon-fri`",
            "`/standup off`",
            "`/standup skip`",
            "`/standup away today`",
            "away 2026-12-24..2027-01-02",
            "`/standup back`",
            "`/standup status`",
            "`/standup help`",
        ] {
            assert!(USAGE.contains(form), "{form}");
        }
        for line in USAGE.lines() {
            assert!(line.starts_with("*`/standup "), "{line}");
        }
    }
}
