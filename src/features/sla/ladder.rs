//! The escalation ladder on the timer: when a request's `sla:{id}` timer comes due, its next
//! step (a nudge in the thread, a DM, a call) is queued, unless it is outside the recipient's
//! own working time (their hours, holidays, absences), in which case the step waits. After the last step, the timer is the
//! request's expiry (`sla.forget_after`).

use chrono::{DateTime, Utc};

use crate::domain::calendar::start_of_day;
use crate::domain::outbox::Destination;
use crate::engine::Engine;
use crate::store::prelude::*;
use crate::store::{StoreError, Tx};

use super::ladder_context;

/// Takes request `id`'s due step, in its own transaction. Returns whether messages were queued.
pub(super) fn fire(engine: &Engine, id: u64, now: DateTime<Utc>) -> Result<bool, StoreError> {
    engine.store.write(|tx| fire_in(engine, tx, id, now))
}

/// Takes request `id`'s due step inside `tx` (which may hold other timers' steps too).
pub(super) fn fire_in(
    engine: &Engine,
    tx: &mut Tx<'_>,
    id: u64,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    {
        let Some(mut request) = tx.request(id)? else {
            tx.drop_timers_named(&format!("sla:{id}"))?;
            return Ok(false);
        };
        // Everything is read on the recipient's own calendar: their days and hours, and blocked
        // while they are away (`/sla away`) or out of office. A step due while they are away or
        // outside their working time (the bot was down or behind, or they went away after the
        // step was planned) waits for the start of their next working period. (An expiry, after
        // the last step, posts nothing: it does not wait.)
        let calendar = tx.calendar_of(
            &request.recipient,
            &engine.settings.calendar,
            request.recipient_tz,
        )?;
        let ctx = crate::domain::sla::LadderContext {
            author_name: tx.user_name(&request.author)?,
            ..ladder_context(engine, &calendar)
        };
        if request.defer_out_of_quiet_hours(now, &ctx) {
            tracing::info!(request = id, next = ?request.next_due, "the step falls outside the recipient's working time; it waits");
            tx.put_request(&request)?;
            return Ok(false);
        }
        let mut messages = request.take_due_step(now, &ctx);
        // The one-click answers (an ETA, a snooze, answered, not for me) on each message.
        messages = super::buttons::with_buttons(&request, messages, now, &ctx);
        // A call is for both: it waits for a moment that is working time for the asker too
        // (when their zone is known).
        if let Some(tz) = tx.user_tz(&request.author)? {
            for m in &mut messages {
                if matches!(m.destination, Destination::GroupMessage { .. }) {
                    *m = m.clone().in_working_time_of(request.author.clone(), tz);
                }
            }
        }
        if !request.is_open() {
            tracing::info!(
                request = id,
                recipient = %request.recipient,
                "nobody answered after the whole ladder; the request is forgotten"
            );
        }
        // Calls are merged per pair of people: one suggestion a day between the same two is
        // enough, whichever request it came from; the others have reached it too.
        if let Some(pair) = messages.iter().find_map(|m| match &m.destination {
            Destination::GroupMessage { users } => Some(format!("call:{}", users.join("+"))),
            _ => None,
        }) {
            let today = now.with_timezone(&request.recipient_tz).date_naive();
            if tx.nudges_on(&pair, today)? > 0 {
                tracing::info!(
                    request = id,
                    "a call between these two was suggested today; merged with it"
                );
                messages.clear();
                tx.put_request(&request)?;
                return Ok(false);
            }
            tx.count_nudge(&pair, today)?;
        }
        // The nudge budget: once the recipient's day has had its share of messages from the
        // bot, this step waits in their digest (the ladder goes on from it as if posted).
        let budget = engine.settings.respect.max_nudges_per_day;
        if budget > 0 && !messages.is_empty() {
            let tz = request.recipient_tz;
            let today = now.with_timezone(&tz).date_naive();
            if tx.nudges_on(&request.recipient, today)? >= budget {
                let tomorrow = today.succ_opt().unwrap_or(today);
                let due = calendar.next_working_time(start_of_day(tz, tomorrow), tz);
                tracing::info!(request = id, %due, "the recipient's nudges for today are spent; this step waits in their digest");
                tx.add_to_digest(&request.recipient, id, due)?;
                messages.clear();
                tx.put_request(&request)?;
                return Ok(false);
            }
        }
        let any = !messages.is_empty();
        for m in messages {
            tx.count_pings(&m, now)?;
            tracing::info!(
                request = id,
                step = request.steps_taken,
                recipient = %request.recipient,
                "escalating a stalled request"
            );
            tx.enqueue(m, now)?;
        }
        if !any && request.next_due.is_some_and(|d| d <= now) {
            // Nothing left to do for a due timer: clear it rather than spin.
            request.next_due = None;
        }
        tx.put_request(&request)?;
        Ok(any)
    }
}
