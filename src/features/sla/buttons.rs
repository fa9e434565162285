//! One-click answers on the ladder's messages (the nudge in the thread, the DM, the call's group
//! DM): their Block Kit, as slack-morphism's typed blocks, and what a press does. *On it, by …*
//! sets an ETA that replaces the deadline and is told to the asker privately; *Snooze until
//! tomorrow* moves the next step to the recipient's next working day; *Already answered* and
//! *Not for me* close the request (the second tells the asker privately) and replace the buttons
//! with a line saying so. Only the recipient may press them; a press on a closed request changes
//! nothing; Slack's retries are dropped by the dispatcher (same trigger), and a second press of
//! the same choice finds nothing left to change.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use slack_morphism::prelude::*;

use crate::domain::format::{mention, shorten, slack_date};
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::sla::{
    Answer, CancelReason, EtaOutcome, LadderContext, RequestState, SlaRequest, SnoozeOutcome,
    eta_choices,
};
use crate::engine::Engine;
use crate::engine::reply::UserError;
use crate::slack::block_kit;
use crate::slack::interaction::BlockAction;
use crate::store::prelude::*;
use crate::store::{StoreError, Tx};

use super::ladder_context;

/// The prefix of every SLA button's `action_id` (what the dispatcher routes by).
pub const ACTION_PREFIX: &str = "sla_";
const ETA: &str = "sla_eta";
const SNOOZE: &str = "sla_snooze";
const ANSWERED: &str = "sla_answered";
const NOT_FOR_ME: &str = "sla_not_for_me";

/// Slack's limit for a section's text.
const SECTION_TEXT_CHARS: usize = 3_000;

fn mrkdwn(text: impl Into<String>) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text.into()))
}

fn plain(text: impl Into<String>) -> SlackBlockPlainTextOnly {
    SlackBlockPlainText::new(text.into()).into()
}

fn button(action_id: &str, text: &str, value: &str) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(plain(text))
        .with_action_id(action_id.into())
        .with_value(value.to_owned())
}

/// The buttons under a ladder message of `request`, with the ETAs offered at `now` on the
/// recipient's calendar.
fn actions(request: &SlaRequest, now: DateTime<Utc>, ctx: &LadderContext<'_>) -> SlackBlock {
    let id = request.id.to_string();
    let mut elements: Vec<SlackActionBlockElement> = Vec::new();
    let options: Vec<SlackBlockChoiceItem<SlackBlockPlainTextOnly>> =
        eta_choices(now, request.recipient_tz, ctx.calendar)
            .into_iter()
            .map(|c| SlackBlockChoiceItem::new(plain(c.label), eta_value(request.id, c.at)))
            .collect();
    if !options.is_empty() {
        elements.push(
            SlackBlockStaticSelectElement::new()
                .with_action_id(ETA.into())
                .with_placeholder(plain("On it, by …"))
                .with_options(options)
                .into(),
        );
    }
    elements.push(button(SNOOZE, "Snooze until tomorrow", &id).into());
    elements.push(
        button(ANSWERED, "Already answered", &id)
            .with_style(SlackBlockButtonStyle::Primary)
            .into(),
    );
    elements.push(button(NOT_FOR_ME, "Not for me", &id).into());
    SlackActionsBlock::new(elements)
        .with_block_id(format!("sla_actions:{}", request.id).into())
        .into()
}

/// An ETA option's value: the request and the moment, `7:1795600000`.
fn eta_value(id: u64, at: DateTime<Utc>) -> String {
    format!("{id}:{}", at.timestamp())
}

/// A ladder message's blocks: its text, then either the buttons or the line that replaced them.
pub fn message_blocks(
    text: &str,
    actions: Option<SlackBlock>,
    note: Option<&str>,
) -> Vec<SlackBlock> {
    let mut blocks: Vec<SlackBlock> = vec![
        SlackSectionBlock::new()
            .with_text(mrkdwn(shorten(text, SECTION_TEXT_CHARS)))
            .into(),
    ];
    if let Some(actions) = actions {
        blocks.push(actions);
    }
    if let Some(note) = note {
        blocks.push(
            SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
                SlackBlockMarkDownText::new(shorten(note, SECTION_TEXT_CHARS)),
            )])
            .into(),
        );
    }
    blocks
}

/// Puts the buttons on `request`'s ladder messages (those tagged `sla:{id}:…`), the ETAs
/// computed at `now`. The text stays as it was: it is the notification and the fallback.
pub fn with_buttons(
    request: &SlaRequest,
    messages: Vec<OutgoingMessage>,
    now: DateTime<Utc>,
    ctx: &LadderContext<'_>,
) -> Vec<OutgoingMessage> {
    let prefix = format!("sla:{}:", request.id);
    messages
        .into_iter()
        .map(|m| {
            if m.tag.as_deref().is_some_and(|t| t.starts_with(&prefix)) {
                let blocks = message_blocks(&m.text, Some(actions(request, now, ctx)), None);
                m.with_blocks(block_kit::to_json(&blocks))
            } else {
                m
            }
        })
        .collect()
}

/// The edits that replace the buttons on `request`'s posted ladder messages with the line
/// saying how a button closed it. A message still queued needs none: closing withdrew it.
fn closed_edits(
    tx: &Tx<'_>,
    request: &SlaRequest,
    ctx: &LadderContext<'_>,
) -> Result<Vec<OutgoingMessage>, StoreError> {
    let Some(note) = request.closed_by_button_note() else {
        return Ok(Vec::new());
    };
    let mut edits = Vec::new();
    for (action, tag) in request.posted_steps(ctx.policy) {
        let Some((channel, _ts)) = tx.tagged(&tag)? else {
            continue;
        };
        let text = request.render(action, ctx).text;
        let blocks = message_blocks(&text, None, Some(&note));
        edits.push(
            OutgoingMessage::new(Destination::Edit { channel, tag }, text)
                .with_blocks(block_kit::to_json(&blocks)),
        );
    }
    Ok(edits)
}

/// What was pressed, read from the action id and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Press {
    Eta(u64, DateTime<Utc>),
    Snooze(u64),
    Answered(u64),
    NotForMe(u64),
}

impl Press {
    fn parse(action_id: &str, value: &str) -> Option<Press> {
        let id = |v: &str| v.parse::<u64>().ok();
        Some(match action_id {
            ETA => {
                let (request, at) = value.split_once(':')?;
                Press::Eta(id(request)?, DateTime::from_timestamp(at.parse().ok()?, 0)?)
            }
            SNOOZE => Press::Snooze(id(value)?),
            ANSWERED => Press::Answered(id(value)?),
            NOT_FOR_ME => Press::NotForMe(id(value)?),
            _ => return None,
        })
    }

    fn request(self) -> u64 {
        match self {
            Press::Eta(id, _) | Press::Snooze(id) | Press::Answered(id) | Press::NotForMe(id) => id,
        }
    }
}

/// A press on one of the buttons: the change is made in one transaction, off the async
/// workers; what it returns is told to the presser privately.
pub async fn block_action(
    engine: &Arc<Engine>,
    action: &BlockAction,
) -> Option<Result<String, UserError>> {
    let press = Press::parse(&action.action_id, action.value.as_deref()?)?;
    let now = (engine.now)();
    let (shared, user) = (engine.clone(), action.user.clone());
    let result = engine
        .store
        .call(move |store| store.write(|tx| press_in(&shared, tx, &user, press, now)))
        .await;
    engine.wakers.timers.notify_one();
    engine.wakers.delivery.notify_one();
    Some(match result {
        Ok(answer) => answer,
        Err(e) => Err(e.into()),
    })
}

/// Why nothing changed: the request was closed before this press.
fn already_closed(request: &SlaRequest) -> String {
    let how = match &request.state {
        RequestState::Answered {
            how: Answer::MarkedAnswered,
            ..
        } => "was marked answered",
        RequestState::Answered { .. } => "was answered",
        RequestState::Cancelled {
            why: CancelReason::NotForMe,
            ..
        } => "was marked not for you",
        RequestState::Cancelled {
            why: CancelReason::Expired,
            ..
        } => "was forgotten after its last reminder",
        RequestState::Cancelled { .. } => "is no longer tracked",
        RequestState::Open => "is open",
    };
    format!(
        "Thanks — this request from {} {how} already, so there is nothing more to do. Nothing was changed.",
        mention(&request.author)
    )
}

fn press_in(
    engine: &Engine,
    tx: &mut Tx<'_>,
    user: &str,
    press: Press,
    now: DateTime<Utc>,
) -> Result<Result<String, UserError>, StoreError> {
    let refuse = |s: String| Ok(Err(UserError::Refused(s)));
    let Some(mut request) = tx.request(press.request())? else {
        return refuse("This request is no longer tracked. Nothing was changed.".into());
    };
    if request.recipient != user {
        return refuse(format!(
            "Only {} can answer this one. Nothing was changed.",
            mention(&request.recipient)
        ));
    }
    if !request.is_open() {
        return Ok(Ok(already_closed(&request)));
    }
    // The ETAs and the snooze are read on the recipient's own calendar.
    let calendar = tx.calendar_of(
        &request.recipient,
        &engine.settings.calendar,
        request.recipient_tz,
    )?;
    let ctx = ladder_context(engine, &calendar);
    let author = mention(&request.author);
    let reply = match press {
        Press::Eta(_, eta) => match request.promise_eta(eta, now, &ctx) {
            EtaOutcome::Set => {
                tx.put_request(&request)?;
                tx.enqueue(
                    OutgoingMessage::new(
                        Destination::Ephemeral {
                            channel: request.channel.clone(),
                            user: request.author.clone(),
                        },
                        request.eta_note_for_asker(eta, &ctx),
                    ),
                    now,
                )?;
                format!(
                    "Noted: you expect to answer by {}. {author} was told; if it is still open then, the reminders go on from where they were.",
                    slack_date(eta)
                )
            }
            EtaOutcome::Unchanged => format!(
                "You already said {}; {author} knows. Nothing was changed.",
                slack_date(eta)
            ),
            EtaOutcome::Passed => {
                return refuse(
                    "That time has already passed: pick a later one. Nothing was changed.".into(),
                );
            }
            EtaOutcome::Closed => already_closed(&request),
        },
        Press::Snooze(_) => match request.snooze(now, &ctx) {
            SnoozeOutcome::Snoozed(until) => {
                tx.put_request(&request)?;
                format!(
                    "Snoozed: the next reminder waits until {}.",
                    slack_date(until)
                )
            }
            SnoozeOutcome::AlreadyToday(due) => format!(
                "You snoozed this one today already; the next reminder comes {}. Nothing was changed.",
                due.map_or_else(|| "later".to_owned(), slack_date)
            ),
            SnoozeOutcome::NothingLeft => {
                "No more reminders are coming for this request. Nothing was changed.".into()
            }
            SnoozeOutcome::Closed => already_closed(&request),
        },
        Press::Answered(_) => {
            request.answer(Answer::MarkedAnswered, now);
            tx.put_request(&request)?;
            for edit in closed_edits(tx, &request, &ctx)? {
                tx.enqueue(edit, now)?;
            }
            format!("Marked answered: no more reminders about {author}'s request.")
        }
        Press::NotForMe(_) => {
            request.cancel(CancelReason::NotForMe, now);
            tx.put_request(&request)?;
            tx.enqueue(
                OutgoingMessage::new(
                    Destination::Ephemeral {
                        channel: request.channel.clone(),
                        user: request.author.clone(),
                    },
                    request.not_for_me_note_for_asker(&ctx),
                ),
                now,
            )?;
            for edit in closed_edits(tx, &request, &ctx)? {
                tx.enqueue(edit, now)?;
            }
            format!(
                "Noted: not for you. {author} was told privately, and no more reminders will come."
            )
        }
    };
    tracing::info!(request = request.id, ?press, "an SLA button was pressed");
    Ok(Ok(reply))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::BusinessCalendar;
    use crate::domain::sla::tests::{new_request, policy};
    use crate::domain::sla::{SlaPolicy, StepAction};
    use crate::slack::block_kit::check_block_kit;
    use chrono::TimeZone;
    use serde_json::Value;

    fn now() -> DateTime<Utc> {
        // Tuesday 2026-11-24 10:00 in New York.
        Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap()
    }

    fn ctx<'a>(policy: &'a SlaPolicy, calendar: &'a BusinessCalendar) -> LadderContext<'a> {
        LadderContext {
            policy,
            calendar,
            team_url: Some("https://acme.slack.com/"),
            author_name: None,
        }
    }

    /// A request for Bob opened a day before `now`, its first step due at `now`.
    fn request(text: &str) -> SlaRequest {
        let (p, cal) = (policy(), BusinessCalendar::office_hours());
        let opened = now() - chrono::Duration::hours(24);
        let mut r = SlaRequest::open(
            7,
            new_request(chrono_tz::America::New_York, text),
            opened,
            &ctx(&p, &cal),
        );
        r.next_due = Some(now());
        r
    }

    /// Every ladder message of `request` with its buttons, as the ladder queues them.
    fn ladder_messages(r: &SlaRequest) -> Vec<OutgoingMessage> {
        let (p, cal) = (policy(), BusinessCalendar::office_hours());
        let ctx = ctx(&p, &cal);
        [
            StepAction::ThreadMention,
            StepAction::DirectMessage,
            StepAction::SuggestCall,
        ]
        .into_iter()
        .flat_map(|action| with_buttons(r, vec![r.render(action, &ctx)], now(), &ctx))
        .collect()
    }

    fn golden(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn the_nudge_and_the_closed_note_are_the_golden_blocks() {
        let r = request("<@UBOB> can you review the Q3 budget doc?");
        let nudge = ladder_messages(&r).remove(0);
        assert_eq!(
            nudge.blocks,
            Some(golden(include_str!("testdata/nudge_buttons.json")))
        );
        let mut closed = r.clone();
        closed.answer(Answer::MarkedAnswered, now());
        let note = closed.closed_by_button_note().unwrap();
        assert_eq!(
            block_kit::to_json(&message_blocks(&nudge.text, None, Some(&note))),
            golden(include_str!("testdata/nudge_answered.json"))
        );
    }

    #[test]
    fn every_ladder_message_gets_the_four_answers_and_other_messages_none() {
        let r = request("<@UBOB> budget?");
        for m in ladder_messages(&r) {
            let blocks = m.blocks.as_ref().expect("buttons").to_string();
            for id in [ETA, SNOOZE, ANSWERED, NOT_FOR_ME] {
                assert!(blocks.contains(id), "{id} in {blocks}");
            }
            check_block_kit(m.blocks.as_ref().unwrap()).unwrap();
        }
        let other = OutgoingMessage::new(
            Destination::Channel {
                channel: "C1".into(),
            },
            "hi",
        )
        .tagged("sla:8:nudge");
        let (p, cal) = (policy(), BusinessCalendar::office_hours());
        let out = with_buttons(&r, vec![other], now(), &ctx(&p, &cal));
        assert!(out[0].blocks.is_none(), "another request's message");
    }

    #[test]
    fn presses_are_read_from_their_action_and_value() {
        let at = DateTime::from_timestamp(1_795_600_000, 0).unwrap();
        assert_eq!(
            Press::parse(ETA, &eta_value(7, at)),
            Some(Press::Eta(7, at))
        );
        assert_eq!(Press::parse(SNOOZE, "7"), Some(Press::Snooze(7)));
        assert_eq!(Press::parse(ANSWERED, "7"), Some(Press::Answered(7)));
        assert_eq!(Press::parse(NOT_FOR_ME, "7"), Some(Press::NotForMe(7)));
        for (action, value) in [
            (ETA, "7"),
            (ETA, "7:x"),
            (ETA, "x:1"),
            (SNOOZE, "-1"),
            (ANSWERED, ""),
            ("sla_other", "7"),
            (ETA, "7:99999999999999999"),
        ] {
            assert_eq!(Press::parse(action, value), None, "{action} {value}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever a person writes in the message that opened a request, every ladder message
        /// and its closed form fit Block Kit, and no broadcast leaks into the blocks.
        #[test]
        fn hostile_requests_still_fit_block_kit(
            text in proptest::prelude::any::<String>(),
            long in 0usize..5_000,
        ) {
            let text = format!("<@UBOB> <!channel> {text} {}", "&<>".repeat(long));
            let r = request(&text);
            for m in ladder_messages(&r) {
                let blocks = m.blocks.as_ref().unwrap();
                proptest::prop_assert!(check_block_kit(blocks).is_ok(), "{:?}", check_block_kit(blocks));
                let shown = blocks.to_string();
                proptest::prop_assert!(!shown.contains("<!channel"), "{}", shown);
                let mut closed = r.clone();
                closed.cancel(CancelReason::NotForMe, now());
                let note = closed.closed_by_button_note().unwrap();
                let edit = block_kit::to_json(&message_blocks(&m.text, None, Some(&note)));
                proptest::prop_assert!(check_block_kit(&edit).is_ok());
            }
        }
    }
}
