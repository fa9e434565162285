//! The HTTP transport: `POST /slack/events`, `/slack/commands`, `/slack/interactions` (signed by
//! Slack, verified here), `GET /healthz` and `GET /metrics` (Prometheus; both served in Socket
//! Mode too), and `GET /report` when enabled (loopback, or with the report token). Bodies over the configured limit are refused with
//! 413 before they are read; unsigned, forged or stale requests get 401; malformed ones 400. None
//! of those touch the store.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde_json::json;
use slack_morphism::prelude::*;
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};

use crate::slack::dispatch::{Dispatcher, InteractionReply};
use crate::store::Accepted;
use crate::store::StoreError;
use crate::store::prelude::*;

#[derive(Clone)]
pub struct HttpState {
    pub dispatcher: Arc<Dispatcher>,
    /// `None` in Socket Mode: the Slack routes are not served then.
    pub verifier: Option<Arc<SlackEventSignatureVerifier>>,
    pub transport: &'static str,
    pub health: crate::engine::health::Health,
    /// Whether `GET /metrics` is served (`server.metrics`).
    pub metrics: bool,
    /// `GET /report`, when `report.enabled`: draws the page for a channel (or the workspace)
    /// and a number of weeks (the transport knows no feature: the app hands it this).
    pub report: Option<ReportRoute>,
}

/// What `GET /report` needs: the page, and who may read it.
#[derive(Clone)]
pub struct ReportRoute {
    pub page: Arc<dyn Fn(Option<String>, u32) -> Result<String, String> + Send + Sync>,
    /// `ASYNCBOT_REPORT_TOKEN`: without it, only loopback peers are served.
    pub token: Option<Arc<crate::config::Secret>>,
    pub default_weeks: u32,
}

pub fn router(state: HttpState, max_body_bytes: usize) -> Router {
    let mut router = Router::new().route("/healthz", get(healthz));
    if state.metrics {
        router = router.route("/metrics", get(metrics));
    }
    if state.report.is_some() {
        router = router.route("/report", get(report));
    }
    if state.verifier.is_some() {
        router = router
            .route("/slack/events", post(events))
            .route("/slack/commands", post(commands))
            .route("/slack/interactions", post(interactions));
    }
    router
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            max_body_bytes,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

fn refuse(status: StatusCode, reason: &'static str) -> Response {
    tracing::warn!(%status, reason, "refused a request");
    (status, Json(json!({ "ok": false, "error": reason }))).into_response()
}

/// Checks Slack's signature and timestamp (5-minute window); returns the body as text.
#[allow(clippy::result_large_err)]
fn verified<'b>(
    state: &HttpState,
    headers: &HeaderMap,
    body: &'b Bytes,
) -> Result<&'b str, Response> {
    let Some(verifier) = &state.verifier else {
        return Err(refuse(StatusCode::NOT_FOUND, "not_served"));
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
        header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
    ) else {
        return Err(refuse(StatusCode::UNAUTHORIZED, "missing_signature"));
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(refuse(StatusCode::BAD_REQUEST, "body_not_utf8"));
    };
    match verifier.verify(signature, text, timestamp) {
        Ok(()) => Ok(text),
        Err(SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_)) => {
            Err(refuse(StatusCode::UNAUTHORIZED, "stale_or_bad_timestamp"))
        }
        Err(_) => Err(refuse(StatusCode::UNAUTHORIZED, "invalid_signature")),
    }
}

/// `ok` or `degraded` (200), `unhealthy` (503: a worker stuck or restarting, Socket Mode down
/// for long), with each worker's state and the queues' sizes.
/// `GET /report`: the team's report page, to a loopback peer or with the token.
async fn report(
    State(state): State<HttpState>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    request: axum::extract::Request,
) -> Response {
    let Some(route) = state.report.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let loopback = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    let presented = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
        .or_else(|| query.get("token").cloned());
    let token = route.token.as_deref().map(crate::config::Secret::expose);
    if !report_allowed(loopback, token, presented.as_deref()) {
        return (
            StatusCode::FORBIDDEN,
            "The report is served to this machine, or with the token set in ASYNCBOT_REPORT_TOKEN (Authorization: Bearer …).\n",
        )
            .into_response();
    }
    let weeks = match query.get("weeks").map(|w| w.trim().parse::<u32>()) {
        None => route.default_weeks,
        Some(Ok(w)) if (1..=52).contains(&w) => w,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "weeks must be a number from 1 to 52.\n",
            )
                .into_response();
        }
    };
    let channel = match query.get("channel").map(|c| c.trim()) {
        None | Some("") => None,
        Some(c) if c.chars().all(|ch| ch.is_ascii_alphanumeric()) => Some(c.to_owned()),
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "channel must be a channel id, like C0123456.\n",
            )
                .into_response();
        }
    };
    let page = route.page.clone();
    match tokio::task::spawn_blocking(move || page(channel, weeks)).await {
        Ok(Ok(html)) => (
            [
                (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (axum::http::header::CACHE_CONTROL, "no-store"),
            ],
            html,
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "the report cannot be drawn");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The report cannot be drawn right now; see the bot's log.\n",
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "the report task failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Who may read the report: a peer on this machine, or anyone presenting the token (when one
/// is set; an empty one never matches).
fn report_allowed(loopback: bool, token: Option<&str>, presented: Option<&str>) -> bool {
    if loopback {
        return true;
    }
    match (token, presented) {
        (Some(token), Some(given)) if !token.is_empty() => {
            constant_time_eq(token.as_bytes(), given.trim().as_bytes())
        }
        _ => false,
    }
}

/// Compares two secrets without leaking where they differ through timing.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz(State(state): State<HttpState>) -> Response {
    let store = state.dispatcher.store().clone();
    match store
        .call(|s| {
            let open = s.read(|rx| rx.count_open_requests())?;
            Ok((
                open,
                s.outbox_len()?,
                s.count_dead_letters()?,
                s.ingest_failure(),
            ))
        })
        .await
    {
        Ok((open, outbox, dead_letters, ingest_failure)) => {
            let (mut verdict, mut report) = state.health.report();
            if let Some(why) = ingest_failure {
                // No delivery can be acked until a restart: one is what fixes it.
                verdict = crate::engine::health::Verdict::Unhealthy;
                report["status"] = json!(verdict.label());
                report["ingest_log"] = json!(format!(
                    "a write failed ({why}); restart asyncbot to recover"
                ));
            }
            report["transport"] = json!(state.transport);
            report["open_requests"] = json!(open);
            report["outbox"] = json!(outbox);
            report["dead_letters"] = json!(dead_letters);
            let status = if verdict == crate::engine::health::Verdict::Unhealthy {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::OK
            };
            (status, Json(report)).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "health check cannot read the store");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "store_unavailable" })),
            )
                .into_response()
        }
    }
}

/// Prometheus' scrape: the counters, and the queues and workers as they are now. Only cheap
/// reads: table lengths and the health report `/healthz` shows.
async fn metrics(State(state): State<HttpState>) -> Response {
    let store = state.dispatcher.store().clone();
    let stats = match store.call(|s| s.stats()).await {
        Ok(stats) => stats,
        Err(e) => {
            tracing::error!(error = %e, "metrics cannot read the store");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let (_, report) = state.health.report();
    let workers = report["workers"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, w)| {
            let worker_state = crate::metrics::WorkerState::from_health(w["state"].as_str()?)?;
            Some((
                name.clone(),
                worker_state,
                w["restarts"].as_u64().unwrap_or(0),
            ))
        })
        .collect();
    let snapshot = crate::metrics::Snapshot {
        inbox_queued: stats.inbox_queued,
        inbox_oldest_seq: stats.inbox_oldest_seq,
        inbox_last_seq: stats.inbox_last_seq,
        timers_pending: stats.timers_pending,
        outbox_depth: stats.outbox_depth,
        dead_letters: stats.dead_letters,
        workers,
        socket_live_connections: report["socket_mode"]["live_connections"].as_u64(),
        delivery_paused: report["delivery"]["state"] == "paused",
    };
    (
        [(
            axum::http::header::CONTENT_TYPE,
            crate::metrics::CONTENT_TYPE,
        )],
        crate::metrics::render(&snapshot),
    )
        .into_response()
}

/// This transport's name in the metrics.
const TRANSPORT: &str = "http";

async fn events(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match verified(&state, &headers, &body) {
        Ok(text) => text,
        Err(response) => return response,
    };
    if let Some(retry) = headers
        .get("x-slack-retry-num")
        .and_then(|v| v.to_str().ok())
    {
        tracing::info!(
            retry,
            reason = headers
                .get("x-slack-retry-reason")
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
            "Slack is retrying a delivery"
        );
    }
    // A person's plain message, most of what Slack sends, is read without the full model.
    if let Some((event_id, event)) = crate::slack::plain_message::read(text) {
        return recorded(state.dispatcher.accept_inbound(event_id, event).await);
    }
    let event: SlackPushEvent = match serde_json::from_str(text) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "malformed Events API payload");
            return refuse(StatusCode::BAD_REQUEST, "malformed_payload");
        }
    };
    match event {
        SlackPushEvent::UrlVerification(v) => {
            Json(json!({ "challenge": v.challenge })).into_response()
        }
        SlackPushEvent::EventCallback(callback) => {
            recorded(state.dispatcher.accept_event(callback).await)
        }
        SlackPushEvent::AppRateLimited(e) => {
            tracing::warn!(team = %e.team_id, "Slack reports this app is rate limited (30,000 events per hour)");
            StatusCode::OK.into_response()
        }
    }
}

/// The answer to a delivery the dispatcher recorded, or could not: only a recorded one is acked.
fn recorded(result: Result<Accepted, StoreError>) -> Response {
    match result {
        Ok(accepted) => {
            crate::metrics::event_recorded(TRANSPORT, accepted == Accepted::Queued);
            StatusCode::OK.into_response()
        }
        Err(StoreError::Busy) => {
            // Not acked: too many deliveries wait for a commit; Slack will retry.
            tracing::warn!("refused an event: the store's queue is full");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
        Err(e) => {
            // Not acked: Slack will retry, and nothing was half-written.
            tracing::error!(error = %e, "could not record an event");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The same signed request again (same body and timestamp, hence the same signature) within
/// the 5-minute window: acked, not processed twice.
async fn is_replay(state: &HttpState, headers: &HeaderMap) -> bool {
    let Some(signature) = headers
        .get(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let first = state
        .dispatcher
        .first_delivery(&format!("sig:{signature}"))
        .await;
    if !first {
        tracing::info!("a replayed signed request; acked, not run again");
    }
    !first
}

async fn commands(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match verified(&state, &headers, &body) {
        Ok(text) => text,
        Err(response) => return response,
    };
    let command: SlackCommandEvent = match serde_urlencoded::from_str(text) {
        Ok(command) => command,
        Err(e) => {
            tracing::warn!(error = %e, "malformed slash command payload");
            return refuse(StatusCode::BAD_REQUEST, "malformed_payload");
        }
    };
    if is_replay(&state, &headers).await {
        return StatusCode::OK.into_response();
    }
    let reply = state.dispatcher.command(command.into()).await;
    crate::metrics::command_handled(TRANSPORT);
    if reply.text.is_empty() {
        // A modal opened: no message in the channel.
        return StatusCode::OK.into_response();
    }
    Json(json!({ "response_type": "ephemeral", "text": reply.text })).into_response()
}

async fn interactions(State(state): State<HttpState>, headers: HeaderMap, body: Bytes) -> Response {
    let text = match verified(&state, &headers, &body) {
        Ok(text) => text,
        Err(response) => return response,
    };
    let form: HashMap<String, String> = match serde_urlencoded::from_str(text) {
        Ok(form) => form,
        Err(_) => return refuse(StatusCode::BAD_REQUEST, "malformed_payload"),
    };
    let Some(payload) = form.get("payload") else {
        return refuse(StatusCode::BAD_REQUEST, "missing_payload");
    };
    match serde_json::from_str::<SlackInteractionEvent>(payload) {
        Ok(_) if is_replay(&state, &headers).await => StatusCode::OK.into_response(),
        Ok(event) => {
            let reply = state.dispatcher.interaction(&event).await;
            crate::metrics::interaction_handled(TRANSPORT);
            match reply {
                InteractionReply::Ack => StatusCode::OK.into_response(),
                InteractionReply::ViewErrors(errors) => {
                    Json(json!({ "response_action": "errors", "errors": errors })).into_response()
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "malformed interaction payload");
            refuse(StatusCode::BAD_REQUEST, "malformed_payload")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_for_this_machine_or_the_token() {
        assert!(report_allowed(true, None, None));
        assert!(!report_allowed(false, None, None));
        assert!(!report_allowed(false, None, Some("anything")));
        assert!(report_allowed(false, Some("s3cret"), Some("s3cret")));
        assert!(report_allowed(false, Some("s3cret"), Some(" s3cret ")));
        assert!(!report_allowed(false, Some("s3cret"), Some("s3creT")));
        assert!(!report_allowed(false, Some("s3cret"), Some("s3cre")));
        assert!(!report_allowed(false, Some(""), Some("")));
    }
}
