//! The one dispatch path: HTTP and Socket Mode both hand what Slack sent to a [`Dispatcher`].
//! Events are only recorded (the engine works on them after the ack); commands and interactions
//! are answered within Slack's 3 seconds, their durable effects written to the store's outbox.
//! Each command, button and form goes to the feature that declares it (see
//! [`Feature::commands`]); this module knows no feature.

use std::sync::Arc;

use slack_morphism::prelude::*;

use crate::engine::reply::{Reply, UserError};
use crate::engine::{Engine, Feature};
use crate::slack::inbound::{self, Command, Inbound};
use crate::slack::interaction::{BlockAction, ViewSubmission};
use crate::store::{Accepted, Arrival, GroupCommit, Store, StoreError};

pub use crate::engine::reply::InteractionReply;

#[derive(Clone)]
pub struct Dispatcher {
    pub engine: Arc<Engine>,
    /// Where events and replay keys are made durable before their ack, many per commit.
    pub ingest: GroupCommit,
}

/// The first answer to a command whose real answer needs a person Slack has not described to
/// the bot yet: it is replaced through the command's `response_url` a moment later.
pub const ONE_MOMENT: &str = ":hourglass_flowing_sand: One moment…";

impl Dispatcher {
    pub fn store(&self) -> &Store {
        &self.engine.store
    }

    /// A dispatcher for `engine`, with its group-commit writer (a thread of its own; it stops
    /// when the last clone of the dispatcher is dropped).
    pub fn new(engine: Arc<Engine>) -> Result<Self, StoreError> {
        let inbox = engine.wakers.inbox.clone();
        let ingest = GroupCommit::start(engine.store.clone(), move || inbox.notify_one())?;
        Ok(Dispatcher { engine, ingest })
    }

    /// Records an Events API delivery for processing, durably and once per `event_id`, in a
    /// commit shared with the deliveries arriving at the same time. Errors mean "not recorded"
    /// ([`StoreError::Busy`] when too many wait already): the transport must not ack, so Slack
    /// retries.
    pub async fn accept_event(
        &self,
        callback: SlackPushEventCallback,
    ) -> Result<Accepted, StoreError> {
        let Some(event) = inbound::from_event(&callback.event) else {
            tracing::debug!(event_id = %callback.event_id, "event needs no action");
            return Ok(Accepted::Queued);
        };
        self.accept_inbound(callback.event_id.0, event).await
    }

    /// [`Dispatcher::accept_event`] for an event already read (see
    /// [`crate::slack::plain_message`]), under its delivery's `event_id`.
    pub async fn accept_inbound(
        &self,
        event_id: String,
        event: Inbound,
    ) -> Result<Accepted, StoreError> {
        let arrival = Arrival {
            key: Some(event_id.clone()),
            event: Some(event),
            at: (self.engine.now)(),
        };
        // The inbox worker is woken by the writer, once per commit.
        let accepted = self.ingest.accept(arrival).await?;
        if accepted == Accepted::Duplicate {
            tracing::info!(%event_id, "duplicate delivery (a Slack retry); ignored");
        }
        Ok(accepted)
    }

    /// Whether this is the first delivery of a command or an interaction known by `key` (its
    /// `trigger_id`, its signature). A replay is acked and not processed again. If the store
    /// cannot say, it is processed (a lost command is worse than a rare double).
    pub async fn first_delivery(&self, key: &str) -> bool {
        if key.is_empty() {
            return true;
        }
        let arrival = Arrival {
            key: Some(key.to_owned()),
            event: None,
            at: (self.engine.now)(),
        };
        match self.ingest.accept(arrival).await {
            Ok(accepted) => accepted == Accepted::Queued,
            Err(e) => {
                tracing::warn!(error = %e, "could not check for a replay");
                true
            }
        }
    }

    /// Answers a slash command through the feature that declares it. Nothing here waits for
    /// Slack: commands read and write the store only; a modal is opened just after the ack.
    pub async fn command(&self, command: Command) -> Reply {
        tracing::info!(command = %command.command, user = %command.user_id, "slash command");
        if !self
            .first_delivery(&format!("trigger:{}", command.trigger_id))
            .await
        {
            tracing::info!(command = %command.command, "a replayed command; acked, not run again");
            return Reply::none();
        }
        let Some(feature) = self.feature(|f| f.commands().contains(&command.command.as_str()))
        else {
            let known = self
                .engine
                .features
                .iter()
                .flat_map(|f| f.commands().iter().map(|c| c.to_string()))
                .collect();
            return UserError::UnknownCommand {
                command: command.command,
                known,
            }
            .into();
        };
        // A command whose meaning depends on someone's time zone ("away today", "at 09:30",
        // an RFC's deadlines) waits for that person's lookup, but the ack does not: it says
        // "one moment" and the answer follows through the response_url.
        let unknown: Vec<String> = feature
            .people_in(&command)
            .into_iter()
            .filter(|u| !matches!(self.engine.store.cached_user(u), Ok(Some(_))))
            .collect();
        if !unknown.is_empty() {
            let engine = self.engine.clone();
            tokio::spawn(async move {
                engine
                    .quick_people(unknown, std::time::Duration::from_secs(10))
                    .await;
                let reply = run(&engine, feature.as_ref(), &command).await;
                if reply.text.is_empty() {
                    return;
                }
                if let Err(e) = engine
                    .slack
                    .respond(&command.response_url, &reply.text)
                    .await
                {
                    tracing::warn!(command = %command.command, error = %e, "could not send a command's answer");
                }
            });
            return Reply::new(ONE_MOMENT);
        }
        run(&self.engine, feature.as_ref(), &command).await
    }

    /// The first feature `owns` picks, in registration order.
    fn feature(&self, owns: impl Fn(&dyn Feature) -> bool) -> Option<Arc<dyn Feature>> {
        self.engine
            .features
            .iter()
            .find(|f| owns(f.as_ref()))
            .cloned()
    }

    /// Buttons and modals, each to the feature whose `action_id` or `callback_id` prefix it is.
    pub async fn interaction(&self, event: &SlackInteractionEvent) -> InteractionReply {
        let trigger = match event {
            SlackInteractionEvent::BlockActions(e) => Some(e.trigger_id.0.as_str()),
            SlackInteractionEvent::ViewSubmission(e) => e.trigger_id.as_ref().map(|t| t.0.as_str()),
            _ => None,
        };
        if let Some(trigger) = trigger
            && !self.first_delivery(&format!("trigger:{trigger}")).await
        {
            tracing::info!("a replayed interaction; acked, not run again");
            return InteractionReply::Ack;
        }
        match event {
            SlackInteractionEvent::BlockActions(e) => {
                for action in BlockAction::all_in(e) {
                    self.block_action(&action).await;
                }
                InteractionReply::Ack
            }
            SlackInteractionEvent::ViewSubmission(e) => {
                let Some(submission) = ViewSubmission::from_event(e) else {
                    return InteractionReply::Ack;
                };
                let id = submission.callback_id.as_str();
                match self.feature(|f| f.views().iter().any(|p| id.starts_with(p))) {
                    Some(feature) => feature.on_view_submission(&self.engine, &submission).await,
                    None => {
                        tracing::debug!(callback_id = id, "a form no feature owns");
                        InteractionReply::Ack
                    }
                }
            }
            _ => {
                tracing::debug!("interaction needs no action");
                InteractionReply::Ack
            }
        }
    }

    async fn block_action(&self, action: &BlockAction) {
        let id = action.action_id.as_str();
        let Some(feature) = self.feature(|f| f.actions().iter().any(|p| id.starts_with(p))) else {
            tracing::debug!(action_id = id, "a button no feature owns");
            return;
        };
        let Some(answer) = feature.on_block_action(&self.engine, action).await else {
            return;
        };
        let Some(channel) = &action.channel else {
            return;
        };
        // Through the outbox: durable, paced, and never awaited before the ack.
        self.engine
            .tell(channel, &action.user, Reply::from(answer).text);
    }
}

/// Runs a command through its feature; a failure becomes the sentence the person reads.
async fn run(engine: &Arc<Engine>, feature: &dyn Feature, command: &Command) -> Reply {
    feature
        .on_command(engine, command)
        .await
        .unwrap_or_else(Reply::from)
}
