//! Daily async standups: the `/standup` command and the flow (prompt, reminder, summary, answers).

pub mod blockers;
pub mod command;
pub mod flow;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::engine::reply::{Reply, UserError};
use crate::engine::{Engine, Feature, ThreadMessage};
use crate::slack::inbound::Command;
use crate::store::{StoreError, TimerKey, Tx};

/// Standups as the engine sees them: messages in a day's thread are answers, a refused prompt
/// is told to whoever set the standup, and each channel's timer runs its day.
pub struct Standups;

impl Feature for Standups {
    fn commands(&self) -> &'static [&'static str] {
        &["/standup"]
    }

    fn actions(&self) -> &'static [&'static str] {
        &[crate::domain::standup::CLEARED_ACTION]
    }

    fn on_block_action<'a>(
        &'a self,
        engine: &'a Arc<Engine>,
        action: &'a crate::slack::interaction::BlockAction,
    ) -> BoxFuture<'a, Option<Result<String, UserError>>> {
        Box::pin(blockers::block_action(engine, action))
    }

    /// Only what is read in the caller's zone: a time without a zone, "away today", "back".
    /// Help, status, skip and off answer at once.
    fn people_in(&self, command: &Command) -> Vec<String> {
        let verb = command
            .text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if matches!(verb.as_str(), "at" | "away" | "back") {
            vec![command.user_id.clone()]
        } else {
            Vec::new()
        }
    }

    fn on_command<'a>(
        &'a self,
        engine: &'a Arc<Engine>,
        command: &'a Command,
    ) -> BoxFuture<'a, Result<Reply, UserError>> {
        Box::pin(async move {
            Ok(Reply::new(
                engine
                    .standup_command(&command.user_id, &command.channel_id, &command.text)
                    .await,
            ))
        })
    }

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
