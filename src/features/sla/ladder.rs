//! The escalation ladder on the timer: when a request's `sla:{id}` timer comes due, its next
//! step (a nudge in the thread, a DM, a call) is queued, unless the recipient is away or it is
//! quiet hours for them, in which case the step waits. After the last step, the timer is the
//! request's expiry (`sla.forget_after`).

use chrono::{DateTime, Utc};

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
        // Nobody is nudged while away (`/standup away`, in their own dates): the ladder resumes
        // at the start of their first working period back. (An expiry, after the last step,
        // posts nothing: it does not wait.)
        let tz = request.recipient_tz;
        let today = now.with_timezone(&tz).date_naive();
        let away = tx.away(&request.recipient)?;
        if !request.ladder_done(&engine.settings.sla)
            && let Some(absence) = away.iter().find(|a| a.from <= today && today <= a.to)
        {
            if request.is_open() && request.next_due.is_some() {
                let back = absence.to.succ_opt().unwrap_or(absence.to);
                let resume = engine
                    .settings
                    .calendar
                    .next_working_time(crate::domain::calendar::start_of_day(tz, back), tz);
                tracing::info!(request = id, %resume, "recipient is away; the nudge waits");
                request.next_due = Some(resume);
                tx.put_request(&request)?;
            }
            return Ok(false);
        }
        // Due while the bot was down or behind, at 3 a.m. their time: it waits for the start of
        // their working day.
        if request.defer_out_of_quiet_hours(now, &ladder_context(engine)) {
            tracing::info!(request = id, next = ?request.next_due, "a late step falls in quiet hours; it waits");
            tx.put_request(&request)?;
            return Ok(false);
        }
        let mut messages = request.take_due_step(now, &ladder_context(engine));
        // The one-click answers (an ETA, a snooze, answered, not for me) on each message.
        let messages_ctx = super::recipient_context(engine, &request);
        messages = super::buttons::with_buttons(&request, messages, now, &messages_ctx);
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
        let any = !messages.is_empty();
        for m in messages {
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
