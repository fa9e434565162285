//! The narrow port to Slack's Web API: the few calls the bot makes, with errors sorted into
//! "retry later", "rate limited" and "permanent". The real implementation wraps slack-morphism;
//! `SLACK_API_URL` points it at a proxy or a local fake.

pub mod block_kit;
pub mod dispatch;
pub mod http;
pub mod inbound;
pub mod interaction;
pub mod memory;
pub mod plain_message;
pub mod socket;
pub mod socket_health;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use slack_morphism::errors::*;
use slack_morphism::prelude::*;

use crate::config::Secret;
use crate::domain::presence::Dnd;

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
    /// The profile's custom status (`profile.status_*`), which `users.info` returns with the rest:
    /// no extra call. `None` when the answer carried no profile.
    pub status: Option<ProfileStatus>,
}

/// A person's custom status: `status_emoji`, `status_text`, `status_expiration` (unix seconds,
/// 0 for none). Classified by [`crate::domain::presence::classify_status`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileStatus {
    pub emoji: String,
    pub text: String,
    pub expiration: i64,
}

impl ProfileStatus {
    /// The status in slack-morphism's profile (from `users.info` or a `user_change` event).
    pub fn from_profile(profile: &SlackUserProfile) -> Self {
        Self {
            emoji: profile
                .status_emoji
                .as_ref()
                .map(|e| e.0.clone())
                .unwrap_or_default(),
            text: profile.status_text.clone().unwrap_or_default(),
            expiration: profile
                .status_expiration
                .as_ref()
                .map_or(0, |at| at.0.as_second()),
        }
    }
}

/// What went wrong with a Web API call, sorted by what can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    /// HTTP 429: try again after `retry_after` (Slack's `Retry-After`).
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// 5xx, timeouts, connection errors, Slack's own `internal_error`: worth retrying. Slack
    /// may or may not have acted on the call.
    #[error("Slack is unavailable: {0}")]
    Transient(String),
    /// The whole workspace refuses us (`invalid_auth`, `token_revoked`, `missing_scope`, HTTP
    /// 401/403…): no call will succeed until an admin fixes the token, the scopes or the proxy.
    /// Nothing is wrong with the message itself: keep it and retry.
    #[error("Slack refuses the bot's credentials: {0}")]
    Workspace(String),
    /// An error code retrying cannot fix for this one call (`channel_not_found`,
    /// `not_in_channel`, `msg_too_long`…).
    #[error("Slack refused the call: {0}")]
    Permanent(String),
}

impl SlackError {
    /// What an admin should do about a workspace-wide refusal.
    pub fn workspace_fix(code: &str) -> &'static str {
        match code {
            "missing_scope" | "no_permission" => {
                "the app lacks a scope it needs: add the scopes in manifest.yml to the app and reinstall it"
            }
            "token_revoked" | "token_expired" | "account_inactive" | "app_uninstalled" => {
                "the app was uninstalled or its token revoked: reinstall it and set the new SLACK_BOT_TOKEN"
            }
            c if c.starts_with("HTTP") => {
                "a proxy or firewall in front of Slack refuses the calls: check SLACK_API_URL and the proxy"
            }
            _ => "check SLACK_BOT_TOKEN (an xoxb- bot token of this app) and restart the bot",
        }
    }
}

/// Error codes that mean the bot's token, scopes or workspace are refused as a whole.
const WORKSPACE_CODES: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "missing_scope",
    "no_permission",
    "app_uninstalled",
    "team_access_not_granted",
    "ekm_access_denied",
    "not_allowed_token_type",
];

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
            SlackClientError::RateLimitError(e) => {
                crate::metrics::slack_rate_limited();
                SlackError::RateLimited {
                    retry_after: e.retry_after,
                }
            }
            SlackClientError::ApiError(e) if TRANSIENT_CODES.contains(&e.code.as_str()) => {
                SlackError::Transient(e.code)
            }
            SlackClientError::ApiError(e) if WORKSPACE_CODES.contains(&e.code.as_str()) => {
                SlackError::Workspace(e.code)
            }
            SlackClientError::ApiError(e) => SlackError::Permanent(e.code),
            SlackClientError::HttpError(e) if e.status_code.is_server_error() => {
                SlackError::Transient(format!("HTTP {}", e.status_code))
            }
            SlackClientError::HttpError(e)
                if e.status_code == ::http::StatusCode::UNAUTHORIZED
                    || e.status_code == ::http::StatusCode::FORBIDDEN =>
            {
                SlackError::Workspace(format!("HTTP {}", e.status_code.as_u16()))
            }
            SlackClientError::HttpError(e)
                if e.status_code == ::http::StatusCode::REQUEST_TIMEOUT =>
            {
                SlackError::Transient(format!("HTTP {}", e.status_code))
            }
            SlackClientError::HttpError(e) => {
                SlackError::Permanent(format!("HTTP {}", e.status_code))
            }
            // Its text can quote the whole answer (message texts, a ticket URL): never logged.
            SlackClientError::ProtocolError(_) => {
                SlackError::Transient("an answer from Slack that could not be read".into())
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
    /// Posts a message; returns its `ts`. `outbox_id` goes into the message's metadata
    /// ([`OUTBOX_EVENT_TYPE`]), so that after a crash the post can be recognised
    /// ([`SlackPort::find_posted`]) instead of being sent twice.
    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&serde_json::Value>,
        outbox_id: u64,
    ) -> Result<String, SlackError>;
    /// The `ts` of the bot's message carrying `outbox_id` in its metadata, posted in `channel`
    /// (in the thread `thread_ts`, if given) since `oldest`; `None` if there is none.
    async fn find_posted(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        outbox_id: u64,
        oldest: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, SlackError>;
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
    /// Opens a modal for the person who triggered `trigger_id`.
    async fn open_view(&self, trigger_id: &str, view: &SlackModalView) -> Result<(), SlackError>;
    /// Everyone in a channel (all pages).
    async fn channel_members(&self, channel: &str) -> Result<Vec<String>, SlackError>;
    /// Shows `view` on `user`'s App Home tab.
    async fn publish_home(&self, user: &str, view: &SlackHomeView) -> Result<(), SlackError>;
    /// Answers a slash command later through its `response_url`, replacing the first answer.
    async fn respond(&self, response_url: &str, text: &str) -> Result<(), SlackError>;
    /// These people's Do Not Disturb (`dnd.info`, one call each: `dnd.teamInfo`, which batches
    /// them, is not among the methods this bot is checked against). People Slack does not know
    /// are left out; an error that concerns the whole call (rate limit, token, Slack down)
    /// fails it.
    async fn dnd_info(&self, users: &[String]) -> Result<Vec<(String, Dnd)>, SlackError>;
}

/// `dnd.info`'s answer (every field optional: a proxy or an older Slack may leave some out).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct DndInfoResponse {
    dnd_enabled: bool,
    next_dnd_start_ts: i64,
    next_dnd_end_ts: i64,
    snooze_enabled: bool,
    snooze_endtime: i64,
}

/// How many `dnd.info` calls are in flight at once (Tier 3: about 50 a minute).
const DND_CONCURRENCY: usize = 4;

/// The metadata `event_type` of every message the bot posts from its outbox.
pub const OUTBOX_EVENT_TYPE: &str = "asyncbot_outbox";

fn outbox_metadata(outbox_id: u64) -> SlackMessageMetadata {
    SlackMessageMetadata {
        event_type: OUTBOX_EVENT_TYPE.to_owned(),
        event_payload: Some(std::collections::HashMap::from([(
            "outbox_id".to_owned(),
            outbox_id.to_string(),
        )])),
    }
}

/// Whether a message read back from Slack is the post of `outbox_id`.
fn carries_outbox_id(content: &SlackMessageContent, outbox_id: u64) -> bool {
    content.metadata.as_ref().is_some_and(|m| {
        m.event_type == OUTBOX_EVENT_TYPE
            && m.event_payload
                .as_ref()
                .and_then(|p| p.get("outbox_id"))
                .is_some_and(|id| *id == outbox_id.to_string())
    })
}

/// A Slack `ts` ("seconds.micros") for a moment.
fn slack_ts(at: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}.{:06}", at.timestamp(), at.timestamp_subsec_micros())
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
    /// Where `response_url`s may point besides `https://hooks.slack.com/`: the origin of
    /// `SLACK_API_URL`, when set (a proxy, or a local fake in tests). Anything else is refused,
    /// so a forged URL cannot make the bot post elsewhere.
    response_origin: Option<String>,
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
    pub fn new(
        client: Arc<SlackHyperClient>,
        bot_token: &Secret,
        timeout: Duration,
        api_url: Option<&str>,
    ) -> Self {
        let response_origin = api_url
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| u.origin().ascii_serialization());
        Self {
            client,
            token: SlackApiToken::new(SlackApiTokenValue(bot_token.expose().to_owned())),
            timeout,
            response_origin,
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
            status: res.user.profile.as_ref().map(ProfileStatus::from_profile),
        })
    }

    async fn dnd_info(&self, users: &[String]) -> Result<Vec<(String, Dnd)>, SlackError> {
        use futures::StreamExt;
        let answers: Vec<(String, Result<DndInfoResponse, SlackError>)> =
            futures::stream::iter(users.iter().cloned())
                .map(|user| async move {
                    let session = self.client.open_session(&self.token);
                    let params = vec![("user", Some(user.clone()))];
                    let res = self
                        .timed(session.http_session_api.http_get("dnd.info", &params, None))
                        .await;
                    (user, res)
                })
                .buffer_unordered(DND_CONCURRENCY)
                .collect()
                .await;
        let mut out = Vec::with_capacity(answers.len());
        for (user, answer) in answers {
            match answer {
                Ok(r) => out.push((
                    user,
                    Dnd::from_slack(
                        r.dnd_enabled,
                        r.next_dnd_start_ts,
                        r.next_dnd_end_ts,
                        r.snooze_enabled,
                        r.snooze_endtime,
                    ),
                )),
                // This one person (`user_not_found`, `user_not_visible`…): the others stand.
                Err(SlackError::Permanent(code)) => {
                    tracing::debug!(%user, %code, "dnd.info refused this person")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
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
        outbox_id: u64,
    ) -> Result<String, SlackError> {
        let session = self.client.open_session(&self.token);
        let mut content = SlackMessageContent::new()
            .with_text(text.to_owned())
            .with_metadata(outbox_metadata(outbox_id));
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

    async fn find_posted(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        outbox_id: u64,
        oldest: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, SlackError> {
        let session = self.client.open_session(&self.token);
        let oldest = slack_ts(oldest);
        // Bounded: the bot looks back over the few minutes since the attempt, not the archive.
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let messages = match thread_ts {
                None => {
                    let mut req = SlackApiConversationsHistoryRequest::new()
                        .with_channel(SlackChannelId(channel.into()))
                        .with_oldest(SlackTs(oldest.clone()))
                        .with_include_all_metadata(true)
                        .with_limit(200);
                    if let Some(c) = cursor.take() {
                        req = req.with_cursor(SlackCursorId(c));
                    }
                    let res = self.timed(session.conversations_history(&req)).await?;
                    cursor = res
                        .response_metadata
                        .and_then(|m| m.next_cursor)
                        .map(|c| c.0)
                        .filter(|c| !c.is_empty());
                    res.messages
                }
                Some(root) => {
                    // slack-morphism's replies request has no `include_all_metadata`: ask directly.
                    let limit = "200".to_owned();
                    let truthy = "true".to_owned();
                    let params = vec![
                        ("channel", Some(channel.to_owned())),
                        ("ts", Some(root.to_owned())),
                        ("oldest", Some(oldest.clone())),
                        ("limit", Some(limit)),
                        ("include_all_metadata", Some(truthy)),
                        ("cursor", cursor.take()),
                    ];
                    let res: SlackApiConversationsRepliesResponse = self
                        .timed(session.http_session_api.http_get(
                            "conversations.replies",
                            &params,
                            None,
                        ))
                        .await?;
                    cursor = res
                        .response_metadata
                        .and_then(|m| m.next_cursor)
                        .map(|c| c.0)
                        .filter(|c| !c.is_empty());
                    res.messages
                }
            };
            if let Some(found) = messages
                .iter()
                .find(|m| carries_outbox_id(&m.content, outbox_id))
            {
                return Ok(Some(found.origin.ts.0.clone()));
            }
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
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

    async fn publish_home(&self, user: &str, view: &SlackHomeView) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsPublishRequest::new(
            SlackUserId(user.into()),
            SlackView::Home(view.clone()),
        );
        self.timed(session.views_publish(&req)).await?;
        Ok(())
    }

    async fn respond(&self, response_url: &str, text: &str) -> Result<(), SlackError> {
        let url = url::Url::parse(response_url)
            .map_err(|_| SlackError::Permanent("invalid response_url".into()))?;
        let origin = url.origin().ascii_serialization();
        if origin != "https://hooks.slack.com" && Some(&origin) != self.response_origin.as_ref() {
            return Err(SlackError::Permanent(
                "response_url does not point at Slack".into(),
            ));
        }
        let req = SlackApiPostWebhookMessageRequest::new(
            SlackMessageContent::new().with_text(text.to_owned()),
        )
        .with_replace_original(true);
        self.timed(self.client.respond_to_event(&SlackResponseUrl(url), &req))
            .await?;
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

    async fn open_view(&self, trigger_id: &str, view: &SlackModalView) -> Result<(), SlackError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsOpenRequest::new(
            SlackTriggerId(trigger_id.into()),
            SlackView::Modal(view.clone()),
        );
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
            "msg_too_long",
        ] {
            assert_eq!(
                SlackError::from_client(api(code)),
                SlackError::Permanent(code.into())
            );
        }
        for code in [
            "invalid_auth",
            "token_revoked",
            "missing_scope",
            "account_inactive",
        ] {
            assert_eq!(
                SlackError::from_client(api(code)),
                SlackError::Workspace(code.into())
            );
        }
        let forbidden =
            SlackClientError::HttpError(SlackClientHttpError::new(::http::StatusCode::FORBIDDEN));
        assert_eq!(
            SlackError::from_client(forbidden),
            SlackError::Workspace("HTTP 403".into())
        );
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
            SlackClientError::HttpError(SlackClientHttpError::new(::http::StatusCode::BAD_GATEWAY));
        assert!(matches!(
            SlackError::from_client(server),
            SlackError::Transient(_)
        ));
    }
}
