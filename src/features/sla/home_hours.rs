//! The Home tab's *My working time*: a person's working time and coming absences with a button,
//! and the modal it opens to set their days, hours and holiday region, read with the same
//! parser and checks as `/sla hours`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use slack_morphism::prelude::*;

use crate::config::Settings;
use crate::domain::calendar::WEEK;
use crate::domain::calendar::{BusinessCalendar, parse_weekday};
use crate::domain::standup::Away;
use crate::domain::working_time::{HoursCommand, HoursError, WorkingTime, parse_hours};
use crate::domain::working_time::{MAX_PERIODS, parse_region_code};
use crate::engine::Engine;
use crate::engine::reply::{InteractionReply, UserError};
use crate::slack::interaction::{BlockAction, ViewSubmission, ViewValues};
use crate::store::prelude::*;
use crate::store::{Store, StoreError};

/// The Home tab's button.
pub const OPEN_ACTION: &str = "sla_hours_open";
/// The modal's `callback_id`.
pub const CALLBACK: &str = "sla_hours";
/// The absences listed on the Home tab; more are counted.
const MAX_ABSENCES: usize = 5;
/// The value of the modal's "use the team's calendar" option.
const TEAM: &str = "team";

fn plain(text: impl Into<String>) -> SlackBlockPlainTextOnly {
    SlackBlockPlainText::new(text.into()).into()
}

fn mrkdwn(text: impl Into<String>) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text.into()))
}

/// What the Home section and the modal show of one person.
#[derive(Debug, Clone)]
pub struct Current {
    /// What they set; `None`: the team's calendar.
    pub own: Option<WorkingTime>,
    /// Their calendar without absences: the team's with their own days and hours.
    pub calendar: BusinessCalendar,
    pub tz: Tz,
    pub away: Vec<Away>,
}

impl Current {
    pub fn read(store: &Store, settings: &Settings, user: &str) -> Result<Self, StoreError> {
        store.read(|rx| {
            let own = rx.working_time(user)?;
            let calendar = own.as_ref().map_or_else(
                || settings.calendar.clone(),
                |o| o.apply(&settings.calendar),
            );
            Ok(Current {
                own,
                calendar,
                tz: rx.user_tz(user)?.unwrap_or(settings.fallback_timezone),
                away: rx.away(user)?,
            })
        })
    }
}

/// "Tue 24 Nov", or "Thu 24 Dec to Fri 2 Jan".
fn absence(away: &Away) -> String {
    if away.from == away.to {
        away.from.format("%a %-d %b").to_string()
    } else {
        format!(
            "{} to {}",
            away.from.format("%a %-d %b"),
            away.to.format("%a %-d %b")
        )
    }
}

/// The *My working time* section: `working` (their working time in words, see
/// [`super::hours::show`]), the absences not over by `today`, and the button.
pub fn section(working: &str, away: &[Away], today: NaiveDate) -> SlackSectionBlock {
    let coming: Vec<&Away> = away.iter().filter(|a| a.to >= today).collect();
    let absences = if coming.is_empty() {
        "No absences coming up (`/sla away 2026-12-24..2027-01-02` adds one).".to_owned()
    } else {
        let mut listed: Vec<String> = coming
            .iter()
            .take(MAX_ABSENCES)
            .map(|a| absence(a))
            .collect();
        if coming.len() > MAX_ABSENCES {
            listed.push(format!("and {} more", coming.len() - MAX_ABSENCES));
        }
        format!("Away: {} (`/sla back` ends it).", listed.join("; "))
    };
    SlackSectionBlock::new()
        .with_block_id("sla_hours".into())
        .with_text(mrkdwn(format!("*My working time*\n{working}\n{absences}")))
        .with_accessory(
            SlackBlockButtonElement::new(plain("Change my working time"))
                .with_action_id(OPEN_ACTION.into())
                .into(),
        )
}

/// `user`'s *My working time* on the Home tab.
pub fn home_blocks(
    engine: &Engine,
    user: &str,
    now: DateTime<Utc>,
) -> Result<Vec<SlackBlock>, StoreError> {
    let working = super::hours::show(&engine.store, &engine.settings, user)?;
    let current = Current::read(&engine.store, &engine.settings, user)?;
    let today = now.with_timezone(&current.tz).date_naive();
    Ok(slack_blocks![
        some_into(SlackDividerBlock::new()),
        some_into(section(&working, &current.away, today))
    ])
}

/// The periods as the modal's text field shows them: "09:00-12:00 14:00-18:00".
fn periods_text(calendar: &BusinessCalendar) -> String {
    calendar
        .hours()
        .iter()
        .map(|h| h.describe().replace('–', "-"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn day_option(day: Weekday) -> SlackBlockChoiceItem<SlackBlockText> {
    SlackBlockChoiceItem::new(
        SlackBlockText::Plain(SlackBlockPlainText::new(day.to_string())),
        day.to_string().to_ascii_lowercase(),
    )
}

fn input(
    block_id: &str,
    label: &str,
    element: impl Into<SlackInputBlockElement>,
) -> SlackInputBlock {
    SlackInputBlock::new(plain(label), element.into()).with_block_id(block_id.into())
}

/// The modal the button opens, filled with what `current` is; `team` is the team's calendar
/// (named in the reset option).
pub fn modal(current: &Current, team: &BusinessCalendar) -> SlackModalView {
    let checked: Vec<_> = current
        .calendar
        .working_days()
        .into_iter()
        .map(day_option)
        .collect();
    let mut days = SlackBlockCheckboxesElement::new(WEEK.into_iter().map(day_option).collect())
        .with_action_id("value".into());
    if !checked.is_empty() {
        days = days.with_initial_options(checked);
    }
    let region = match current.own.as_ref().and_then(|o| o.region.as_deref()) {
        Some("") => "none".to_owned(),
        Some(code) => code.to_owned(),
        None => String::new(),
    };
    let mut region_input = SlackBlockPlainTextInputElement::new()
        .with_action_id("value".into())
        .with_max_length(10)
        .with_placeholder(plain("DE-BY"));
    if !region.is_empty() {
        region_input = region_input.with_initial_value(region);
    }
    SlackModalView::new(
        plain("My working time"),
        slack_blocks![
            some_into(SlackSectionBlock::new().with_text(mrkdwn(format!(
                "Deadlines, nudges and reminders follow your working time, in your Slack time zone ({}).",
                current.tz
            )))),
            some_into(input("days", "Working days", days)),
            some_into(
                input(
                    "hours",
                    "Working hours",
                    SlackBlockPlainTextInputElement::new()
                        .with_action_id("value".into())
                        .with_max_length(100)
                        .with_initial_value(periods_text(&current.calendar)),
                )
                .with_hint(plain(format!(
                    "Like 07:00-15:00; a split day has several periods (at most {MAX_PERIODS}): 09:00-12:00 14:00-18:00."
                )))
            ),
            some_into(
                input("region", "Public holidays of", region_input)
                    .with_optional(true)
                    .with_hint(plain(
                        "A country, optionally with its region: US, DE-BY, IN-KA; none for no public holidays. Empty: the team's."
                    ))
            ),
            some_into(
                input(
                    TEAM,
                    "Or",
                    SlackBlockCheckboxesElement::new(vec![SlackBlockChoiceItem::new(
                        SlackBlockText::Plain(SlackBlockPlainText::new(
                            "Use the team's calendar instead".into()
                        )),
                        TEAM.to_owned(),
                    )])
                    .with_action_id("value".into()),
                )
                .with_optional(true)
                .with_hint(plain(format!(
                    "The team's: {}.",
                    team.describe_week()
                )))
            )
        ],
    )
    .with_callback_id(CALLBACK.into())
    .with_submit(plain("Save"))
    .with_close(plain("Cancel"))
}

/// What the form asks for, checked like `/sla hours`: the working time to store, or a message
/// for each field filled wrong (block id → message). Days and hours equal to the team's are
/// left unset, so that they follow the team's if it changes.
pub fn read_form(
    values: &ViewValues,
    team: &BusinessCalendar,
) -> Result<WorkingTime, HashMap<String, String>> {
    if values.options(TEAM).iter().any(|o| o == TEAM) {
        return Ok(WorkingTime::default());
    }
    let mut errors = HashMap::new();
    let mut days: Vec<Weekday> = values
        .options("days")
        .iter()
        .filter_map(|d| parse_weekday(d))
        .collect();
    days.sort_by_key(Weekday::num_days_from_monday);
    days.dedup();
    if days.is_empty() {
        errors.insert(
            "days".to_owned(),
            "Pick at least one working day.".to_owned(),
        );
    }
    let hours_text = values.text("hours").unwrap_or_default();
    let example = "Give your hours like 07:00-15:00, or two or three periods for a split day: 09:00-12:00 14:00-18:00.";
    let hours = match parse_hours(&hours_text) {
        Ok(HoursCommand::Set(WorkingTime {
            days: None,
            hours: Some(hours),
            region: None,
        })) => Some(hours),
        Ok(_) | Err(HoursError::Unknown(_)) | Err(HoursError::MissingRegion) => {
            errors.insert("hours".to_owned(), example.to_owned());
            None
        }
        Err(e) => {
            errors.insert("hours".to_owned(), e.to_string());
            None
        }
    };
    let region = match values.text("region").map(|r| r.trim().to_owned()) {
        None => None,
        Some(r) if r.is_empty() => None,
        Some(r) => match parse_region_code(&r) {
            Ok(code) => Some(code),
            Err(e) => {
                errors.insert("region".to_owned(), e.to_string());
                None
            }
        },
    };
    let Some(hours) = hours.filter(|_| errors.is_empty()) else {
        return Err(errors);
    };
    Ok(WorkingTime {
        days: (days != team.working_days()).then_some(days),
        hours: (hours != team.hours()).then_some(hours),
        region,
    })
}

/// The button: opens the modal, filled with the person's working time, just after the ack.
pub async fn block_action(
    engine: &Arc<Engine>,
    action: &BlockAction,
) -> Option<Result<String, UserError>> {
    if action.action_id != OPEN_ACTION {
        return None;
    }
    let (engine, trigger) = (engine.clone(), action.trigger_id.clone());
    let user = action.user.clone();
    let channel = action.channel.clone().unwrap_or_else(|| user.clone());
    // Slack wants `views.open` within 3 s of the click, and the ack must not wait for it.
    tokio::spawn(async move {
        // The modal names their zone: learn it first if it is not known yet (briefly).
        engine
            .quick_people(vec![user.clone()], std::time::Duration::from_millis(1500))
            .await;
        let read = {
            let engine = engine.clone();
            let user = user.clone();
            // redb reads block: off the async workers.
            tokio::task::spawn_blocking(move || {
                Current::read(&engine.store, &engine.settings, &user)
                    .map(|current| modal(&current, &engine.settings.calendar))
            })
            .await
        };
        let opened = match read {
            Ok(Ok(view)) => match engine.slack.open_view(&trigger, &view).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "views.open failed");
                    false
                }
            },
            Ok(Err(e)) => {
                tracing::error!(error = %e, "could not read a working time");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "the working-time form's task failed");
                false
            }
        };
        if !opened {
            let failed = UserError::SlackFailed {
                what: "open the form",
                instead: "Set it with `/sla hours mon-thu 07:00-15:00` instead.".to_owned(),
            };
            engine.tell(&channel, &user, failed.text());
        }
    });
    None
}

/// The modal, submitted: stored and the Home tab redrawn, or the errors on their fields and
/// nothing changed.
pub async fn view_submission(
    engine: &Arc<Engine>,
    submission: &ViewSubmission,
) -> InteractionReply {
    if submission.callback_id != CALLBACK {
        return InteractionReply::Ack;
    }
    let own = match read_form(&submission.values, &engine.settings.calendar) {
        Ok(own) => own,
        Err(errors) => return InteractionReply::ViewErrors(errors),
    };
    let (engine, user) = (engine.clone(), submission.user.clone());
    // redb writes block: off the async workers.
    let stored = tokio::task::spawn_blocking(move || {
        engine.store.write(|tx| tx.put_working_time(&user, &own))?;
        // Stored: a Home tab that cannot be redrawn now is redrawn when it next opens.
        if let Err(e) = engine.publish_home(&user, (engine.now)()) {
            tracing::warn!(%user, error = %e, "could not redraw the Home tab");
        }
        Ok::<(), StoreError>(())
    })
    .await;
    match stored {
        Ok(Ok(())) => InteractionReply::Ack,
        Ok(Err(e)) => InteractionReply::on_field("hours", e.into()),
        Err(e) => {
            tracing::error!(error = %e, "the working-time form's task failed");
            InteractionReply::on_field("hours", UserError::Internal)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::block_kit::check_block_kit;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn form(days: &[&str], hours: &str, region: &str, team: bool) -> ViewValues {
        let option = |v: &str| json!({"text": {"type": "plain_text", "text": v}, "value": v});
        let state = json!({
            "days": {"value": {"type": "checkboxes",
                "selected_options": days.iter().map(|d| option(d)).collect::<Vec<_>>()}},
            "hours": {"value": {"type": "plain_text_input", "value": hours}},
            "region": {"value": {"type": "plain_text_input", "value": region}},
            "team": {"value": {"type": "checkboxes",
                "selected_options": if team { vec![option("team")] } else { vec![] }}}
        });
        ViewValues::from_state(&serde_json::from_value(state).unwrap())
    }

    fn team() -> BusinessCalendar {
        BusinessCalendar::office_hours()
    }

    fn errors(values: &ViewValues) -> HashMap<String, String> {
        read_form(values, &team()).expect_err("errors")
    }

    #[test]
    fn a_four_day_week_with_a_split_day_and_a_region() {
        let own = read_form(
            &form(
                &["mon", "tue", "wed", "thu"],
                "14:00-18:00 09:00-12:00",
                "de-by",
                false,
            ),
            &team(),
        )
        .unwrap();
        assert_eq!(
            own.days,
            Some(vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu])
        );
        let calendar = own.apply(&team());
        assert_eq!(periods_text(&calendar), "09:00-12:00 14:00-18:00");
        assert_eq!(own.region.as_deref(), Some("DE-BY"));
    }

    /// The form as it opens for someone on the team's calendar, saved unchanged, sets nothing:
    /// they keep following the team's.
    #[test]
    fn the_teams_days_and_hours_stay_the_teams() {
        let current = Current {
            own: None,
            calendar: team(),
            tz: chrono_tz::UTC,
            away: Vec::new(),
        };
        let hours = periods_text(&current.calendar);
        let own = read_form(
            &form(&["mon", "tue", "wed", "thu", "fri"], &hours, "", false),
            &team(),
        );
        assert_eq!(own, Ok(WorkingTime::default()));
        let reset = read_form(&form(&["sat"], "nonsense", "??", true), &team());
        assert_eq!(
            reset,
            Ok(WorkingTime::default()),
            "the team's calendar wins"
        );
    }

    #[test]
    fn each_field_filled_wrong_says_so_on_that_field() {
        let overlap = errors(&form(&["mon"], "09:00-13:00 12:00-18:00", "", false));
        assert_eq!(overlap.len(), 1, "{overlap:?}");
        assert!(
            overlap["hours"].starts_with("Those hours don't work"),
            "{overlap:?}"
        );
        let all = errors(&form(&[], "mon-thu", "Bavaria", false));
        assert_eq!(all["days"], "Pick at least one working day.");
        assert!(all["hours"].starts_with("Give your hours like"), "{all:?}");
        assert!(
            all["region"].contains("`Bavaria` is not a region code"),
            "{all:?}"
        );
        let empty = errors(&form(&["mon"], "  ", "", false));
        assert!(
            empty["hours"].starts_with("Give your hours like"),
            "{empty:?}"
        );
        let backwards = errors(&form(&["mon"], "18:00-09:00", "", false));
        assert!(
            backwards["hours"].contains("ends before it starts"),
            "{backwards:?}"
        );
        let five = errors(&form(&["mon"], "1-2 3-4 5-6 7-8 9-10", "", false));
        assert_eq!(five["hours"], HoursError::TooManyPeriods.to_string());
    }

    fn golden(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn ana() -> Current {
        let own = read_form(
            &form(
                &["mon", "tue", "wed", "thu"],
                "09:00-12:00 14:00-18:00",
                "DE-BY",
                false,
            ),
            &team(),
        )
        .unwrap();
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        Current {
            calendar: own.apply(&team()),
            own: Some(own),
            tz: chrono_tz::Europe::Berlin,
            away: vec![
                Away {
                    from: day(1),
                    to: day(1),
                },
                Away {
                    from: day(3),
                    to: day(3),
                },
                Away {
                    from: day(24),
                    to: day(31),
                },
            ],
        }
    }

    /// The section and the modal as Slack receives them (compared as JSON values).
    #[test]
    fn the_section_and_the_modal_are_the_golden_json() {
        let ana = ana();
        let working = "Your working time (your own): Mon, Tue, Wed, Thu, 09:00–12:00 and 14:00–18:00 (Europe/Berlin), public holidays of DE-BY. Deadlines, nudges and reminders follow it.";
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let section =
            serde_json::to_value(SlackBlock::from(section(working, &ana.away, today))).unwrap();
        assert_eq!(
            section,
            golden(include_str!("testdata/home_hours_section.json"))
        );
        let modal = serde_json::to_value(SlackView::Modal(modal(&ana, &team()))).unwrap();
        assert_eq!(
            modal,
            golden(include_str!("testdata/home_hours_modal.json"))
        );
        check_block_kit(&modal).unwrap();
    }

    #[test]
    fn absences_over_are_not_listed_and_many_are_counted() {
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
        let away: Vec<Away> = (1..=9)
            .map(|d| Away {
                from: day(d),
                to: day(d),
            })
            .collect();
        let text = serde_json::to_value(SlackBlock::from(section("x", &away, day(2))))
            .unwrap()["text"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!text.contains("Tue 1 Dec"), "{text}");
        assert!(text.contains("Wed 2 Dec; Thu 3 Dec"), "{text}");
        assert!(text.contains("and 3 more"), "{text}");
        let none = serde_json::to_value(SlackBlock::from(section("x", &away, day(10)))).unwrap();
        assert!(none.to_string().contains("No absences coming up"), "{none}");
    }

    proptest! {
        /// Whatever a person types in the form, it is refused or stored as something the Home
        /// section and the modal (which show it back) draw within Block Kit's limits.
        #[test]
        fn whatever_is_typed_is_refused_or_drawn_within_limits(
            hours in prop_oneof![
                // Periods as people write them, often valid: "7-15", "09:30-12:00 13-18:45".
                proptest::collection::vec((0u32..26, 0u32..61, 0u32..26, 0u32..61), 0..6).prop_map(|ps| ps
                    .iter()
                    .map(|(a, b, c, d)| format!("{a}:{b:02}-{c}:{d:02}"))
                    .collect::<Vec<_>>()
                    .join(" ")),
                "[0-9:\\-–, a-z]{0,60}",
            ],
            region in prop_oneof!["[a-zA-Z]{2}(-[a-zA-Z0-9]{1,3})?", "\\PC{0,20}"],
            days in proptest::sample::subsequence(vec!["mon", "tue", "wed", "thu", "fri", "sat", "sun"], 0..=7),
        ) {
            if let Ok(own) = read_form(&form(&days, &hours, &region, false), &team()) {
                let current = Current {
                    calendar: own.apply(&team()),
                    own: Some(own.clone()),
                    tz: chrono_tz::Asia::Kolkata,
                    away: Vec::new(),
                };
                let modal = serde_json::to_value(SlackView::Modal(modal(&current, &team()))).unwrap();
                prop_assert!(check_block_kit(&modal).is_ok(), "{:?}", check_block_kit(&modal));
                let working = crate::domain::working_time::describe(
                    &current.calendar, current.tz, own.region.as_deref());
                let home = serde_json::to_value(vec![
                    SlackBlock::from(section(&working, &[], NaiveDate::MIN)),
                ]).unwrap();
                prop_assert!(check_block_kit(&home).is_ok(), "{:?}", check_block_kit(&home));
                // What the modal shows reads back as the same working time.
                let again = read_form(&form(&days, &periods_text(&current.calendar),
                    own.region.as_deref().map(|r| if r.is_empty() { "none" } else { r }).unwrap_or(""),
                    false), &team());
                prop_assert_eq!(again, Ok(own));
            }
        }
    }
}
