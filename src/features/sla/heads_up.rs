//! The heads-up to an asker: when someone asks a person whose next working time is far off (they
//! are away, out of office, on a holiday, or their day is over), the asker is told privately, once
//! a day per pair of people, when the request will be seen and when it is due.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::calendar::BusinessCalendar;
use crate::domain::format::{escape, slack_date};
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::sla::SlaRequest;
use crate::engine::Engine;
use crate::store::prelude::*;
use crate::store::{StoreError, Tx};

/// Why someone is not working at `at`, in a few words.
pub fn why_off(
    calendar: &BusinessCalendar,
    tz: Tz,
    away: bool,
    out_of_office: bool,
    at: DateTime<Utc>,
) -> String {
    let date = at.with_timezone(&tz).date_naive();
    if out_of_office {
        return "out of office".to_owned();
    }
    if away {
        return "away".to_owned();
    }
    if let Some(name) = calendar.region().and_then(|r| r.holiday_name(date)) {
        return format!("holiday: {name}");
    }
    if calendar.holidays().any(|d| *d == date) {
        return "holiday".to_owned();
    }
    if !calendar
        .working_days()
        .contains(&chrono::Datelike::weekday(&date))
    {
        return "not one of their working days".to_owned();
    }
    "outside their working hours".to_owned()
}

/// The heads-up's text, for the asker.
pub fn text(name: &str, back: DateTime<Utc>, tz: Tz, why: &str, due: DateTime<Utc>) -> String {
    format!(
        "{} is off until {} their time ({why}); your request is due {} your time. It waits for them: nothing for you to do.",
        escape(name),
        back.with_timezone(&tz).format("%a %-d %b %H:%M"),
        slack_date(due),
    )
}

/// After `request` opened on the recipient's `calendar`: tells its author if the recipient's
/// next working time is further than `respect.heads_up_after` away, once a day per pair.
pub(super) fn maybe(
    engine: &Engine,
    tx: &mut Tx<'_>,
    request: &SlaRequest,
    calendar: &BusinessCalendar,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let after = engine.settings.respect.heads_up_after;
    if after.is_zero() {
        return Ok(());
    }
    let tz = request.recipient_tz;
    let back = calendar.next_working_time(now, tz);
    if back - now <= chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX) {
        return Ok(());
    }
    // Once a day (the asker's) per pair of people.
    let author_tz = tx
        .user_tz(&request.author)?
        .unwrap_or(engine.settings.fallback_timezone);
    let pair = format!("headsup:{}>{}", request.author, request.recipient);
    let today = now.with_timezone(&author_tz).date_naive();
    if tx.nudges_on(&pair, today)? > 0 {
        return Ok(());
    }
    tx.count_nudge(&pair, today)?;
    let local = now.with_timezone(&tz).date_naive();
    let away = tx
        .away(&request.recipient)?
        .iter()
        .any(|a| a.from <= local && local <= a.to);
    let out = tx
        .presence(&request.recipient)?
        .is_some_and(|p| p.is_out(now));
    let why = why_off(calendar, tz, away, out, now);
    let name = tx
        .user_name(&request.recipient)?
        .unwrap_or_else(|| "They".to_owned());
    tracing::info!(request = request.id, %back, "the recipient is off for a while; the asker gets a heads-up");
    tx.enqueue(
        OutgoingMessage::new(
            Destination::Ephemeral {
                channel: request.channel.clone(),
                user: request.author.clone(),
            },
            text(&name, back, tz, &why, request.deadline),
        ),
        now,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_reason_names_what_keeps_them_off() {
        let tz = chrono_tz::America::New_York;
        let team = BusinessCalendar::office_hours();
        let thanksgiving = tz
            .with_ymd_and_hms(2026, 11, 26, 10, 0, 0)
            .unwrap()
            .to_utc();
        let us = team.with_region(Some(crate::domain::holidays::Region::parse("US").unwrap()));
        assert_eq!(
            why_off(&us, tz, false, false, thanksgiving),
            "holiday: Thanksgiving Day"
        );
        assert_eq!(why_off(&us, tz, true, false, thanksgiving), "away");
        assert_eq!(why_off(&us, tz, true, true, thanksgiving), "out of office");
        let saturday = tz
            .with_ymd_and_hms(2026, 11, 28, 10, 0, 0)
            .unwrap()
            .to_utc();
        assert_eq!(
            why_off(&team, tz, false, false, saturday),
            "not one of their working days"
        );
        let night = tz
            .with_ymd_and_hms(2026, 11, 24, 23, 0, 0)
            .unwrap()
            .to_utc();
        assert_eq!(
            why_off(&team, tz, false, false, night),
            "outside their working hours"
        );
        let back = tz.with_ymd_and_hms(2026, 11, 30, 9, 0, 0).unwrap().to_utc();
        let t = text("Ana <&>", back, tz, "holiday", back);
        assert!(t.starts_with("Ana &lt;&amp;&gt; is off until Mon 30 Nov 09:00 their time (holiday); your request is due <!date^"), "{t}");
    }
}
