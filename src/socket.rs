//! The Socket Mode transport: slack-morphism keeps the WebSocket connections (and reconnects on
//! Slack's `disconnect` requests); every envelope goes to the same [`Dispatcher`] as HTTP does.
//! An envelope is acked only once its event is recorded, so a failure makes Slack redeliver.

use std::sync::Arc;

use slack_morphism::errors::*;
use slack_morphism::prelude::*;
use tokio_util::sync::CancellationToken;

use crate::config::Secret;
use crate::dispatch::{Dispatcher, InteractionReply};

async fn dispatcher(states: &SlackClientEventsUserState) -> Option<Arc<Dispatcher>> {
    states
        .read()
        .await
        .get_user_state::<Arc<Dispatcher>>()
        .cloned()
}

async fn on_push(
    event: SlackPushEventCallback,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let Some(d) = dispatcher(&states).await else {
        return Ok(());
    };
    d.accept_event(event).await?;
    Ok(())
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let text = match dispatcher(&states).await {
        Some(d) => d.command(event.into()).await.text,
        None => "asyncbot is starting; try again in a moment.".to_owned(),
    };
    Ok(
        SlackCommandEventResponse::new(SlackMessageContent::new().with_text(text))
            .with_response_type(SlackMessageResponseType::Ephemeral),
    )
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> UserCallbackResult<SlackInteractionResponse> {
    let Some(d) = dispatcher(&states).await else {
        return Ok(SlackInteractionResponse::Empty);
    };
    Ok(match d.interaction(&event).await {
        InteractionReply::Ack => SlackInteractionResponse::Empty,
        InteractionReply::ViewErrors(errors) => SlackInteractionResponse::ViewSubmission(
            SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors)),
        ),
    })
}

/// Errors from callbacks (the store could not record an event) and protocol errors. A non-2xx
/// answer leaves the envelope un-acked, so Slack delivers it again.
fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> http::StatusCode {
    tracing::error!(error = %err, "Socket Mode error");
    http::StatusCode::INTERNAL_SERVER_ERROR
}

/// Connects and serves until `shutdown`.
pub async fn run(
    dispatcher: Arc<Dispatcher>,
    client: Arc<SlackHyperClient>,
    app_token: &Secret,
    connections: u32,
    shutdown: CancellationToken,
) -> Result<(), SlackClientError> {
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_push_events(on_push)
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(on_error)
            .with_user_state(dispatcher),
    );
    let config = SlackClientSocketModeConfig::new().with_max_connections_count(connections);
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    let token = SlackApiToken::new(SlackApiTokenValue(app_token.expose().to_owned()));
    listener.listen_for(&token).await?;
    listener.start().await;
    tracing::info!(connections, "Socket Mode started");
    shutdown.cancelled().await;
    listener.shutdown().await;
    Ok(())
}
