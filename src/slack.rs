//! The narrow port to Slack's Web API: the few calls the bot makes, with errors sorted into
//! "retry later", "rate limited" and "permanent". The real implementation wraps slack-morphism;
//! `SLACK_API_URL` points it at a proxy or a local fake.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use slack_morphism::errors::*;
use slack_morphism::prelude::*;

use crate::config::Secret;

/// Who the bot is, from `auth.test`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotIdentity {
    pub user_id: String,
    pub team_id: String,
    /// `https://team.slack.com/`, for permalinks.
    pub team_url: String,
}

/// A person, from `users.info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub id: String,
    pub name: Option<String>,
    pub tz: Option<String>,
    pub is_bot: bool,
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429: try again after `retry_after` (Slack's `Retry-After`).
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, timeouts, connection errors, Slack's own `internal_error`: worth retrying.
    #[error("Slack is unavailable: {0}")]
    Transient(String),
    /// An error code retrying cannot fix (`channel_not_found`, `not_in_channel`, …).
    #[error("Slack refused the call: {0}")]
    Permanent(String),
}

/// Error codes that mean "try again later"; every other API error code is permanent.
const TRANSIENT_CODES: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
    "team_added_to_org",
];

impl SlackError {
    fn from_client(err: SlackClientError) -> Self {
        match err {
            SlackClientError::RateLimitError(e) => SlackError::RateLimited {
                retry_after: e.retry_after,
            },
            SlackClientError::ApiError(e) if TRANSIENT_CODES.contains(&e.code.as_str()) => {
                SlackError::Transient(e.code)
            }
            SlackClientError::ApiError(e) => SlackError::Permanent(e.code),
            SlackClientError::HttpError(e) if e.status_code.is_server_error() => {
                SlackError::Transient(format!("HTTP {}", e.status_code))
            }
            SlackClientError::HttpError(e) => {
                SlackError::Permanent(format!("HTTP {}", e.status_code))
            }
            other => SlackError::Transient(other.to_string()),
        }
    }
}

/// The calls the bot makes. Implemented by [`SlackWebApi`]; tests run it against a fake Slack.
#[async_trait]
pub trait SlackPort: Send + Sync {
    async fn auth_test(&self) -> Result<BotIdentity, SlackError>;
    async fn user_info(&self, user: &str) -> Result<UserProfile, SlackError>;
    /// Opens (or finds) the DM or group DM with these users; returns its channel id.
    async fn open_conversation(&self, users: &[String]) -> Result<String, SlackError>;
    /// Posts a message; returns its `ts`.
    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<String, SlackError>;
    /// Replaces the text (and blocks) of a message the bot posted.
    async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<(), SlackError>;
    /// A message only `user` sees, in `channel`.
    async fn post_ephemeral(&self, channel: &str, user: &str, text: &str)
    -> Result<(), SlackError>;
    /// Opens a modal (Block Kit view JSON) for the person who triggered `trigger_id`.
    async fn open_view(&self, trigger_id: &str, view: &serde_json::Value)
    -> Result<(), SlackError>;
    /// Everyone in a channel (all pages).
    async fn channel_members(&self, channel: &str) -> Result<Vec<String>, SlackError>;
    /// Shows `view` (Block Kit JSON) on `user`'s App Home tab.
    async fn publish_home(&self, user: &str, view: &serde_json::Value) -> Result<(), SlackError>;
}

fn parse_blocks(blocks: &serde_json::Value) -> Result<Vec<SlackBlock>, SlackError> {
    serde_json::from_value(blocks.clone())
        .map_err(|e| SlackError::Permanent(format!("invalid blocks: {e}")))
}

/// slack-morphism over hyper, with rustls (ring) and both `https` and plain `http` (for a local
/// fake or a proxy).
pub struct SlackWebApi {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    timeout: Duration,
}

/// Builds the slack-morphism client; `api_url` is the base without a trailing slash.
pub fn build_client(api_url: Option<&str>) -> std::io::Result<Arc<SlackHyperClient>> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()?
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .build();
    let mut connector = SlackClientHyperConnector::with_connector(https);
    if let Some(url) = api_url {
        connector = connector.with_slack_api_url(url.trim_end_matches('/'));
    }
    Ok(Arc::new(SlackClient::new(connector)))
}

impl SlackWebApi {
    pub fn new(client: Arc<SlackHyperClient>, bot_token: &Secret, timeout: Duration) -> Self {
        Self {
            client,
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.expose().to_owned())),
            timeout,
        }
    }

    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = ClientResult<T>>,
    ) -> Result<T, SlackError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result.map_err(SlackError::from_client),
            Err(_) => Err(SlackError::Transient(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }
}

#[async_trait]
impl SlackPort for SlackWebApi {
    async fn auth_test(&self) -> Result<BotIdentity, SlackError> {
        let session = self.client.open_session(&self.token);
        let res = self.timed(session.auth_test()).await?;
        Ok(BotIdentity {
            user_id: res.user_id.0,
            team_id: res.team_id.0,
            team_url: res.url.0.to_string(),
        })
    }

    async fn user_info(&self, user: &str) -> Result<UserProfile, SlackError> {
        let session = self.client.open_session(&self.token);
        let res = self
            .timed(session.users_info(&SlackApiUsersInfoRequest::new(SlackUserId(user.into()))))
            .await?;
        let name = res
            .user
            .real_name
            .clone()
            .filter(|n| !n.is_empty())
            .or_else(|| res.user.name.clone());
        Ok(UserProfile {
            id: res.user.id.0,
            name,
            tz: res.user.tz,
            is_bot: res.user.flags.is_bot.unwrap_or(false),
            deleted: res.user.deleted.unwrap_or(false),
        })
    }

    async fn open_conversation(&self, users: &[String]) -> Result<String, SlackError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsOpenRequest::new()
            .with_users(users.iter().map(|u| SlackUserId(u.clone())).collect());
        let res = self.timed(session.conversations_open(&req)).await?;
        Ok(res.channel.id.0)
    }

    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<String, SlackError> {
        let session = self.client.open_session(&self.token);
        let mut content = SlackMessageContent::new().with_text(text.to_owned());
        if let Some(blocks) = blocks {
            content = content.with_blocks(parse_blocks(blocks)?);
        }
        let mut req = SlackApiChatPostMessageRequest::new(SlackChannelId(channel.into()), content);
        if let Some(ts) = thread_ts {
            req = req.with_thread_ts(SlackTs(ts.into()));
        }
        // Mentions in our text are already `<@U…>` tokens; do not let Slack re-link names.
        req = req.with_unfurl_links(false);
        let res = self.timed(session.chat_post_message(&req)).await?;
        Ok(res.ts.0)
    }

    async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&serde_json::Value>,
    ) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let mut content = SlackMessageContent::new().with_text(text.to_owned());
        if let Some(blocks) = blocks {
            content = content.with_blocks(parse_blocks(blocks)?);
        }
        let req = SlackApiChatUpdateRequest::new(
            SlackChannelId(channel.into()),
            content,
            SlackTs(ts.into()),
        );
        self.timed(session.chat_update(&req)).await?;
        Ok(())
    }

    async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostEphemeralRequest::new(
            SlackChannelId(channel.into()),
            SlackUserId(user.into()),
            SlackMessageContent::new().with_text(text.to_owned()),
        );
        self.timed(session.chat_post_ephemeral(&req)).await?;
        Ok(())
    }

    async fn publish_home(&self, user: &str, view: &serde_json::Value) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let view: SlackView = serde_json::from_value(view.clone())
            .map_err(|e| SlackError::Permanent(format!("invalid view: {e}")))?;
        let req = SlackApiViewsPublishRequest::new(SlackUserId(user.into()), view);
        self.timed(session.views_publish(&req)).await?;
        Ok(())
    }

    async fn channel_members(&self, channel: &str) -> Result<Vec<String>, SlackError> {
        let session = self.client.open_session(&self.token);
        let mut members = Vec::new();
        let mut cursor: Option<SlackCursorId> = None;
        // Bounded: 50 pages of 200 is a 10,000-person channel.
        for _ in 0..50 {
            let mut req = SlackApiConversationsMembersRequest::new()
                .with_channel(SlackChannelId(channel.into()))
                .with_limit(200);
            if let Some(c) = cursor.take() {
                req = req.with_cursor(c);
            }
            let res = self.timed(session.conversations_members(&req)).await?;
            members.extend(res.members.into_iter().map(|u| u.0));
            match res.response_metadata.and_then(|m| m.next_cursor) {
                Some(next) if !next.0.is_empty() => cursor = Some(next),
                _ => break,
            }
        }
        Ok(members)
    }

    async fn open_view(
        &self,
        trigger_id: &str,
        view: &serde_json::Value,
    ) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let view: SlackView = serde_json::from_value(view.clone())
            .map_err(|e| SlackError::Permanent(format!("invalid view: {e}")))?;
        let req = SlackApiViewsOpenRequest::new(SlackTriggerId(trigger_id.into()), view);
        self.timed(session.views_open(&req)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_sorted_by_what_a_retry_can_fix() {
        let api =
            |code: &str| SlackClientError::ApiError(SlackClientApiError::new(code.to_string()));
        for code in [
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "user_not_found",
        ] {
            assert_eq!(
                SlackError::from_client(api(code)),
                SlackError::Permanent(code.into())
            );
        }
        assert_eq!(
            SlackError::from_client(api("internal_error")),
            SlackError::Transient("internal_error".into())
        );
        let rate = SlackClientError::RateLimitError(
            SlackRateLimitError::new().with_retry_after(Duration::from_secs(3)),
        );
        assert_eq!(
            SlackError::from_client(rate),
            SlackError::RateLimited {
                retry_after: Some(Duration::from_secs(3))
            }
        );
        let server =
            SlackClientError::HttpError(SlackClientHttpError::new(http::StatusCode::BAD_GATEWAY));
        assert!(matches!(
            SlackError::from_client(server),
            SlackError::Transient(_)
        ));
    }
}
