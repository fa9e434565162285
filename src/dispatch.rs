//! The one dispatch path: HTTP and Socket Mode both hand what Slack sent to a [`Dispatcher`].
//! It only records (events) or reads (commands), so the transport can ack within milliseconds;
//! the work happens afterwards in the engine.

use std::sync::Arc;

use slack_morphism::prelude::*;

use crate::commands::{self, Reply};
use crate::config::Settings;
use crate::engine::Wakers;
use crate::inbound::{self, Command};
use crate::slack::BotIdentity;
use crate::store::{Accepted, Store, StoreError};
use crate::time::Now;

pub struct Dispatcher {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub identity: BotIdentity,
    pub wakers: Wakers,
    pub now: Now,
}

impl Dispatcher {
    /// Records an Events API delivery for processing. Errors mean "not recorded": the transport
    /// must not ack, so Slack retries.
    pub async fn accept_event(
        &self,
        callback: SlackPushEventCallback,
    ) -> Result<Accepted, StoreError> {
        let event_id = callback.event_id.0.clone();
        let Some(event) = inbound::from_event(&callback.event) else {
            tracing::debug!(%event_id, "event needs no action");
            return Ok(Accepted::Queued);
        };
        let now = (self.now)();
        let id = event_id.clone();
        let accepted = self
            .store
            .call(move |s| s.accept_event(Some(&id), &event, now))
            .await?;
        match accepted {
            Accepted::Queued => self.wakers.inbox.notify_one(),
            Accepted::Duplicate => {
                tracing::info!(%event_id, "duplicate delivery (a Slack retry); ignored")
            }
        }
        Ok(accepted)
    }

    /// Answers a slash command.
    pub async fn command(&self, command: Command) -> Reply {
        tracing::info!(command = %command.command, user = %command.user_id, "slash command");
        let store = self.store.clone();
        let settings = self.settings.clone();
        let team_url = self.identity.team_url.clone();
        let now = (self.now)();
        let cmd = command.clone();
        tokio::task::spawn_blocking(move || {
            commands::answer(&cmd, &store, &settings, Some(&team_url), now)
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "command task failed");
            Reply {
                text: "Sorry, something went wrong on my side. Please try again.".into(),
            }
        })
    }

    /// Interactive payloads (buttons, modals). Nothing in this version posts any; they are
    /// acknowledged and logged.
    pub async fn interaction(&self, event: &SlackInteractionEvent) {
        let kind = match event {
            SlackInteractionEvent::BlockActions(_) => "block_actions",
            SlackInteractionEvent::ViewSubmission(_) => "view_submission",
            SlackInteractionEvent::ViewClosed(_) => "view_closed",
            SlackInteractionEvent::Shortcut(_) => "shortcut",
            SlackInteractionEvent::MessageAction(_) => "message_action",
            _ => "other",
        };
        tracing::info!(kind, "interaction received; nothing to do");
    }
}
