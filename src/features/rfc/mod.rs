//! RFCs with DACI roles: the `/rfc` command, the flow from comment window to decision, and the
//! decision log's export.

pub mod answer;
pub mod command;
pub mod export;
pub mod flow;
pub mod messages;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use crate::domain::rfc::Response;
use crate::engine::reply::{InteractionReply, Reply, UserError};
use crate::engine::{Engine, Feature, Reaction, ThreadMessage};
use crate::slack::inbound::Command;
use crate::slack::interaction::{BlockAction, ViewSubmission};
use crate::store::{StoreError, TimerKey, Tx};

/// RFCs as the engine sees them: comments in their threads and ✅ on them are responses, their
/// refused posts withdraw them, their timers run the comment window and the decision ladder;
/// `/rfc`, `/decisions`, the RFC buttons and forms are answered in [`answer`].
pub struct Rfcs;

impl Feature for Rfcs {
    fn on_thread_message(
        &self,
        _engine: &Engine,
        tx: &mut Tx<'_>,
        message: &ThreadMessage<'_>,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        flow::record_rfc_response(
            tx,
            message.channel,
            message.root,
            message.user,
            Response::Commented,
        )
    }

    fn on_reaction(
        &self,
        _engine: &Engine,
        tx: &mut Tx<'_>,
        reaction: &Reaction<'_>,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if !flow::is_rfc_ack(reaction.name) {
            return Ok(());
        }
        flow::record_rfc_response(
            tx,
            reaction.channel,
            reaction.ts,
            reaction.user,
            Response::Acknowledged,
        )
    }

    fn on_post_dropped(
        &self,
        _engine: &Engine,
        tx: &mut Tx<'_>,
        tag: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if crate::domain::rfc::rfc_of_tag(tag).is_none() {
            return Ok(false);
        }
        flow::post_dropped(tx, tag, reason, now)?;
        Ok(true)
    }

    fn fire<'a>(
        &'a self,
        engine: &'a Engine,
        key: &'a TimerKey,
        now: DateTime<Utc>,
    ) -> Option<futures::future::BoxFuture<'a, Result<bool, StoreError>>> {
        let TimerKey::Rfc(id) = key else {
            return None;
        };
        let id = *id;
        Some(Box::pin(async move { engine.fire_rfc(id, now) }))
    }

    fn commands(&self) -> &'static [&'static str] {
        &["/rfc", "/decisions"]
    }

    fn people_in(&self, command: &Command) -> Vec<String> {
        answer::people_in(command)
    }

    fn on_command<'a>(
        &'a self,
        engine: &'a Arc<Engine>,
        command: &'a Command,
    ) -> BoxFuture<'a, Result<Reply, UserError>> {
        Box::pin(answer::command(engine, command))
    }

    fn actions(&self) -> &'static [&'static str] {
        &["rfc_"]
    }

    fn on_block_action<'a>(
        &'a self,
        engine: &'a Arc<Engine>,
        action: &'a BlockAction,
    ) -> BoxFuture<'a, Option<Result<String, UserError>>> {
        Box::pin(answer::block_action(engine, action))
    }

    fn views(&self) -> &'static [&'static str] {
        &["rfc_"]
    }

    fn on_view_submission<'a>(
        &'a self,
        engine: &'a Arc<Engine>,
        submission: &'a ViewSubmission,
    ) -> BoxFuture<'a, InteractionReply> {
        Box::pin(answer::view_submission(engine, submission))
    }
}
