//! Daily async standups: the `/standup` command and the flow (prompt, reminder, summary, answers).

pub mod command;
pub mod flow;

use chrono::{DateTime, Utc};

use crate::engine::{Engine, Feature, ThreadMessage};
use crate::store::{StoreError, TimerKey, Tx};

/// Standups as the engine sees them: messages in a day's thread are answers, a refused prompt
/// is told to whoever set the standup, and each channel's timer runs its day.
pub struct Standups;

impl Feature for Standups {
    fn on_thread_message(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        message: &ThreadMessage<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        flow::record_answer(
            tx,
            &engine.team_holidays(),
            message.channel,
            message.root,
            message.user,
            message.text,
            now,
        )
    }

    fn on_post_dropped(
        &self,
        engine: &Engine,
        tx: &mut Tx<'_>,
        tag: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if !tag.starts_with("standup:") {
            return Ok(false);
        }
        flow::prompt_dropped(tx, tag, reason, now, &engine.team_holidays())?;
        Ok(true)
    }

    fn fire<'a>(
        &'a self,
        engine: &'a Engine,
        key: &'a TimerKey,
        now: DateTime<Utc>,
    ) -> Option<futures::future::BoxFuture<'a, Result<bool, StoreError>>> {
        let TimerKey::Standup(channel) = key else {
            return None;
        };
        Some(Box::pin(engine.fire_standup(channel, now)))
    }
}
