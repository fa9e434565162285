//! The Socket Mode transport: our own small client. It opens `N` WebSocket connections with the
//! app-level token, hands every envelope to the same [`Dispatcher`] as HTTP does, reconnects with
//! exponential backoff and full jitter, and reports its state in a [`SocketHealth`].
//!
//! Why not slack-morphism's listener: it logs the ticket URL (a credential) on connect and on a
//! failed connect, reconnects at a fixed interval, and cannot say whether it is connected. We keep
//! slack-morphism for `apps.connections.open` and for the typed payloads.
//!
//! Invariants: an `events_api` envelope is acked only once its event is recorded, so a failure makes
//! Slack redeliver; no log line carries the ticket URL or a token (only the connection number and the
//! host); a panic while handling one envelope is contained to that envelope.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::{FutureExt, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use crate::config::Secret;
use crate::engine::reply::UserError;
use crate::slack::dispatch::{Dispatcher, InteractionReply};
use crate::slack::socket_health::LiveGuard;
pub use crate::slack::socket_health::{SocketHealth, SocketStatus};

// ---- backoff -------------------------------------------------------------------------------------

/// Exponential backoff with full jitter: the n-th wait is uniform in `[0, min(cap, base * 2^n)]`,
/// so N connections (or many bots after a Slack outage) do not reconnect in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The upper bound of the next wait.
    pub fn ceiling(&self) -> Duration {
        // 2^20 × any sane base is far past any sane cap; stop doubling there to avoid overflow.
        let factor = 1u32 << self.attempt.min(20);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next wait, and one step further up the ladder.
    pub fn next_delay(&mut self, rng: &mut impl rand::Rng) -> Duration {
        use rand::RngExt;
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=millis))
    }

    /// After a healthy connection the next failure starts from the bottom again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

// ---- opening a connection ------------------------------------------------------------------------

/// Why `apps.connections.open` gave no URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Slack refused the token (`invalid_auth`, `not_allowed_token_type`, `token_revoked`, HTTP
    /// 401/403…): retrying will not help until someone fixes `SLACK_APP_TOKEN`.
    #[error("Slack refused the app-level token ({0})")]
    Refused(String),
    /// Slack could not be reached or answered 5xx, 429, a timeout: worth retrying.
    #[error("cannot open a Socket Mode connection: {0}")]
    Transient(String),
}

/// API error codes of `apps.connections.open` that mean "try again later".
const TRANSIENT_CODES: &[&str] = &[
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
];

impl OpenError {
    fn from_client(err: SlackClientError) -> Self {
        match err {
            SlackClientError::ApiError(e) if TRANSIENT_CODES.contains(&e.code.as_str()) => {
                Self::Transient(e.code)
            }
            SlackClientError::ApiError(e) => Self::Refused(e.code),
            SlackClientError::HttpError(e) if matches!(e.status_code.as_u16(), 401 | 403) => {
                Self::Refused(format!("HTTP {}", e.status_code))
            }
            SlackClientError::HttpError(e) => Self::Transient(format!("HTTP {}", e.status_code)),
            SlackClientError::RateLimitError(_) => Self::Transient("rate limited".into()),
            // An unreadable answer's text can quote the whole answer, ticket URL included.
            SlackClientError::ProtocolError(_) => {
                Self::Transient("an answer from Slack that could not be read".into())
            }
            // Network errors; their text names no token (tokens travel in a header).
            other => Self::Transient(other.to_string()),
        }
    }
}

/// Asks Slack for a fresh WebSocket URL (with its one-time ticket).
#[async_trait]
pub trait Opener: Send + Sync + 'static {
    async fn open(&self) -> Result<String, OpenError>;
}

/// `apps.connections.open` through slack-morphism, with the app-level token.
pub struct SlackOpener {
    client: Arc<SlackHyperClient>,
    token: SlackApiToken,
    timeout: Duration,
}

impl SlackOpener {
    pub fn new(client: Arc<SlackHyperClient>, app_token: &Secret) -> Self {
        Self {
            client,
            token: SlackApiToken::new(SlackApiTokenValue(app_token.expose().to_owned())),
            timeout: Duration::from_secs(10),
        }
    }
}

#[async_trait]
impl Opener for SlackOpener {
    async fn open(&self) -> Result<String, OpenError> {
        let session = self.client.open_session(&self.token);
        let request = SlackApiAppsConnectionOpenRequest::new();
        match tokio::time::timeout(self.timeout, session.apps_connections_open(&request)).await {
            Ok(Ok(response)) => Ok(response.url.0.to_string()),
            Ok(Err(e)) => Err(OpenError::from_client(e)),
            Err(_) => Err(OpenError::Transient(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }
}

/// Why the app-level token cannot be used, found before the bot starts serving.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppTokenError {
    /// Slack refused the token: the code says why (`invalid_auth`, `not_allowed_token_type`…).
    #[error("Slack refused the app-level token ({0})")]
    Refused(String),
    /// Slack stayed unreachable through every retry.
    #[error("{0}")]
    Unreachable(String),
}

/// The start-time check: one `apps.connections.open` with the app-level token. A refusal stops the
/// start; transient failures are retried a few times, as `auth.test` is.
pub async fn check_app_token(
    client: Arc<SlackHyperClient>,
    app_token: &Secret,
) -> Result<(), AppTokenError> {
    check_with(
        &SlackOpener::new(client, app_token),
        Duration::from_millis(500),
    )
    .await
}

async fn check_with(opener: &dyn Opener, first_wait: Duration) -> Result<(), AppTokenError> {
    const RETRIES: u32 = 5;
    let mut wait = first_wait;
    let mut attempts = 0;
    loop {
        // The URL is dropped unused: its ticket simply expires.
        match opener.open().await {
            Ok(_) => return Ok(()),
            Err(OpenError::Refused(code)) => return Err(AppTokenError::Refused(code)),
            Err(OpenError::Transient(e)) if attempts >= RETRIES => {
                return Err(AppTokenError::Unreachable(e));
            }
            Err(e) => {
                tracing::warn!(error = %e, "apps.connections.open failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
                attempts += 1;
            }
        }
    }
}

// ---- handling envelopes --------------------------------------------------------------------------

/// The envelope types the bot handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeKind {
    EventsApi,
    SlashCommands,
    Interactive,
}

impl EnvelopeKind {
    fn parse(kind: &str) -> Option<Self> {
        match kind {
            "events_api" => Some(Self::EventsApi),
            "slash_commands" => Some(Self::SlashCommands),
            "interactive" => Some(Self::Interactive),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::EventsApi => "events_api",
            Self::SlashCommands => "slash_commands",
            Self::Interactive => "interactive",
        }
    }
}

/// What to send back for one envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Ack {
    /// `{envelope_id}`.
    Empty,
    /// `{envelope_id, payload}`: a command's reply, a modal's errors.
    Payload(Value),
    /// No ack: Slack delivers the envelope again (the event could not be recorded).
    Withhold,
}

/// What a command reads when its handler broke: the central wording, not a Rust error.
fn sorry() -> Value {
    ephemeral(&UserError::Internal.text())
}

impl Ack {
    /// What a handler that panicked answers: a command still gets a visible reply; an event is
    /// left to Slack's redelivery.
    fn after_panic(kind: EnvelopeKind) -> Self {
        match kind {
            EnvelopeKind::EventsApi => Self::Withhold,
            EnvelopeKind::SlashCommands => Self::Payload(sorry()),
            EnvelopeKind::Interactive => Self::Empty,
        }
    }

    fn frame(self, envelope_id: &str) -> Option<Message> {
        match self {
            Self::Withhold => None,
            Self::Empty => Some(bare_ack(envelope_id)),
            Self::Payload(payload) => Some(Message::text(
                json!({ "envelope_id": envelope_id, "payload": payload }).to_string(),
            )),
        }
    }
}

fn bare_ack(envelope_id: &str) -> Message {
    Message::text(json!({ "envelope_id": envelope_id }).to_string())
}

fn ephemeral(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}

/// Handles one envelope's payload; [`Dispatcher`] is the real one.
#[async_trait]
pub trait EnvelopeHandler: Send + Sync + 'static {
    async fn handle(&self, kind: EnvelopeKind, payload: Value) -> Ack;
}

/// Says what was wrong with a payload without quoting it (it may hold a `response_url`).
fn malformed(kind: EnvelopeKind, e: &serde_json::Error) {
    tracing::warn!(
        envelope = kind.name(),
        problem = ?e.classify(),
        "malformed Socket Mode payload; acked and ignored"
    );
}

#[async_trait]
impl EnvelopeHandler for Dispatcher {
    async fn handle(&self, kind: EnvelopeKind, payload: Value) -> Ack {
        match kind {
            EnvelopeKind::EventsApi => match serde_json::from_value::<SlackPushEvent>(payload) {
                Ok(SlackPushEvent::EventCallback(callback)) => {
                    match self.accept_event(callback).await {
                        Ok(accepted) => {
                            crate::metrics::event_recorded(
                                "socket_mode",
                                accepted == crate::store::Accepted::Queued,
                            );
                            Ack::Empty
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "could not record an event; Slack will deliver it again");
                            Ack::Withhold
                        }
                    }
                }
                Ok(SlackPushEvent::AppRateLimited(e)) => {
                    tracing::warn!(team = %e.team_id, "Slack reports this app is rate limited (30,000 events per hour)");
                    Ack::Empty
                }
                Ok(SlackPushEvent::UrlVerification(_)) => Ack::Empty,
                Err(e) => {
                    malformed(kind, &e);
                    Ack::Empty
                }
            },
            EnvelopeKind::SlashCommands => {
                match serde_json::from_value::<SlackCommandEvent>(payload) {
                    Ok(command) => {
                        let reply = self.command(command.into()).await;
                        crate::metrics::command_handled("socket_mode");
                        // As over HTTP: an empty reply (a modal opened) posts nothing.
                        if reply.text.is_empty() {
                            Ack::Empty
                        } else {
                            Ack::Payload(ephemeral(&reply.text))
                        }
                    }
                    Err(e) => {
                        malformed(kind, &e);
                        Ack::Payload(sorry())
                    }
                }
            }
            EnvelopeKind::Interactive => {
                match serde_json::from_value::<SlackInteractionEvent>(payload) {
                    Ok(event) => {
                        let reply = self.interaction(&event).await;
                        crate::metrics::interaction_handled("socket_mode");
                        match reply {
                            InteractionReply::Ack => Ack::Empty,
                            InteractionReply::ViewErrors(errors) => Ack::Payload(
                                json!({ "response_action": "errors", "errors": errors }),
                            ),
                        }
                    }
                    Err(e) => {
                        malformed(kind, &e);
                        Ack::Empty
                    }
                }
            }
        }
    }
}

// ---- the connections -----------------------------------------------------------------------------

/// Timings and limits of the client. The defaults suit Slack; tests shorten them.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Envelopes handled at once per connection; reading pauses while all are busy.
    pub max_in_flight: usize,
    /// How often we ping Slack, so a silent connection is noticed.
    pub ping_every: Duration,
    /// A connection that sends nothing (not even a pong) for this long is dead.
    pub silent_limit: Duration,
    /// For the WebSocket handshake and, after it, for Slack's `hello`.
    pub connect_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// A connection that lasted this long was healthy: the backoff starts over.
    pub healthy_after: Duration,
    /// How long an old or closing connection may take to ack what it is still handling.
    pub drain_limit: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            max_in_flight: 64,
            ping_every: Duration::from_secs(10),
            silent_limit: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            healthy_after: Duration::from_secs(30),
            drain_limit: Duration::from_secs(5),
        }
    }
}

/// Connects and serves until `shutdown`: `connections` parallel WebSocket connections, each
/// reconnecting on its own. Keeps `health` current.
pub async fn run(
    dispatcher: Arc<Dispatcher>,
    client: Arc<SlackHyperClient>,
    app_token: &Secret,
    connections: u32,
    health: SocketHealth,
    shutdown: CancellationToken,
) {
    let opener = SlackOpener::new(client, app_token);
    serve(
        dispatcher,
        opener,
        connections,
        Tuning::default(),
        health,
        shutdown,
    )
    .await;
}

/// [`run`] with any handler and opener (tests use fakes of both).
pub async fn serve<H: EnvelopeHandler, O: Opener>(
    handler: Arc<H>,
    opener: O,
    connections: u32,
    tuning: Tuning,
    health: SocketHealth,
    shutdown: CancellationToken,
) {
    let ctx = Arc::new(Ctx {
        handler,
        opener,
        tuning,
        health,
        shutdown,
    });
    let mut slots = tokio::task::JoinSet::new();
    let mut slot_of = std::collections::HashMap::new();
    for slot in 1..=connections.max(1) {
        let task = slots.spawn(run_slot(slot, ctx.clone()));
        slot_of.insert(task.id(), slot);
    }
    tracing::info!(connections, "Socket Mode started");
    while let Some(done) = slots.join_next_with_id().await {
        let Err(e) = done else { continue };
        let Some(slot) = slot_of.remove(&e.id()) else {
            continue;
        };
        if !e.is_panic() || ctx.shutdown.is_cancelled() {
            continue;
        }
        // A bug in our connection code must not leave the bot with fewer connections, or none.
        tracing::error!(
            connection = slot,
            "a Socket Mode connection task panicked; restarting it"
        );
        let ctx = ctx.clone();
        let task = slots.spawn(async move {
            let pause = ctx.tuning.backoff_base;
            if !sleep_or_shutdown(pause, &ctx.shutdown).await {
                run_slot(slot, ctx).await;
            }
        });
        slot_of.insert(task.id(), slot);
    }
    tracing::info!("Socket Mode stopped");
}

struct Ctx<H, O> {
    handler: Arc<H>,
    opener: O,
    tuning: Tuning,
    health: SocketHealth,
    shutdown: CancellationToken,
}

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A connection that said `hello`, counted live while it exists.
struct Live {
    ws: Ws,
    host: String,
    _live: LiveGuard,
}

/// How serving one connection ended.
enum End {
    Shutdown,
    /// Slack asked to reconnect, and the new connection is already up.
    Replaced(Box<Live>),
    Lost(String),
}

#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("WebSocket to {host} failed: {reason}")]
    WebSocket { host: String, reason: String },
}

/// The host of a WebSocket URL, the only part of it fit for a log line (the query is a ticket).
fn host_of(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.host().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

async fn run_slot<H: EnvelopeHandler, O: Opener>(slot: u32, ctx: Arc<Ctx<H, O>>) {
    let t = &ctx.tuning;
    let mut backoff = Backoff::new(t.backoff_base, t.backoff_cap);
    let mut ready: Option<Live> = None;
    loop {
        let live = match ready.take() {
            Some(live) => live,
            None => {
                let attempt = tokio::select! {
                    _ = ctx.shutdown.cancelled() => return,
                    attempt = establish(slot, &ctx) => attempt,
                };
                match attempt {
                    Ok(live) => live,
                    Err(e) => {
                        let wait = backoff.next_delay(&mut rand::rng());
                        match &e {
                            ConnectError::Open(OpenError::Refused(_)) => tracing::error!(
                                connection = slot, error = %e, retry_in = ?wait,
                                "check SLACK_APP_TOKEN: an app-level token (xapp-…) with connections:write"
                            ),
                            _ => tracing::warn!(
                                connection = slot, error = %e, retry_in = ?wait,
                                "cannot connect to Socket Mode; retrying"
                            ),
                        }
                        if sleep_or_shutdown(wait, &ctx.shutdown).await {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let started = Instant::now();
        match serve_connection(slot, live, &ctx).await {
            End::Shutdown => return,
            End::Replaced(next) => {
                backoff.reset();
                ready = Some(*next);
            }
            End::Lost(reason) => {
                if started.elapsed() >= t.healthy_after {
                    backoff.reset();
                }
                let wait = backoff.next_delay(&mut rand::rng());
                tracing::warn!(connection = slot, reason, retry_in = ?wait, "Socket Mode connection lost; reconnecting");
                if sleep_or_shutdown(wait, &ctx.shutdown).await {
                    return;
                }
            }
        }
    }
}

/// Sleeps; `true` when shutdown came first.
async fn sleep_or_shutdown(wait: Duration, shutdown: &CancellationToken) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}

/// Opens a URL, connects, and waits for Slack's `hello`.
async fn establish<H, O: Opener>(slot: u32, ctx: &Ctx<H, O>) -> Result<Live, ConnectError> {
    let url = ctx.opener.open().await?;
    let host = host_of(&url);
    let failed = |reason: String| ConnectError::WebSocket {
        host: host.clone(),
        reason,
    };
    let limit = ctx.tuning.connect_timeout;
    let deadline = Instant::now() + limit;
    // tungstenite's errors (IO, TLS, HTTP status) do not quote the request URL.
    let (mut ws, _) = tokio::time::timeout_at(deadline, tokio_tungstenite::connect_async(url))
        .await
        .map_err(|_| failed(format!("no handshake within {limit:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| failed(format!("no hello within {limit:?}")))?;
        match frame {
            None => return Err(failed("closed before hello".into())),
            Some(Err(e)) => return Err(failed(e.to_string())),
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<Frame>(&text) {
                Ok(frame) if frame.kind == "hello" => break,
                // Anything before `hello` is left un-acked: Slack delivers it again.
                _ => tracing::debug!(connection = slot, "a frame before hello; ignored"),
            },
            Some(Ok(_)) => {}
        }
    }
    tracing::info!(connection = slot, %host, "Socket Mode connected");
    Ok(Live {
        ws,
        _live: ctx.health.connected(Instant::now()),
        host,
    })
}

/// What Slack sends on the WebSocket: `hello`, `disconnect`, or an envelope.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    envelope_id: Option<String>,
    payload: Option<Value>,
    reason: Option<String>,
    /// Above 0 when Slack delivers an envelope again (it was not acked in time). Optional, so
    /// that an odd value (null) cannot make the whole envelope unreadable.
    retry_attempt: Option<Value>,
    retry_reason: Option<Value>,
}

type Replacement<'a> = Pin<Box<dyn Future<Output = Result<Live, ConnectError>> + Send + 'a>>;

/// Reads one connection until shutdown, loss, or its replacement is up. Envelopes are handled
/// concurrently (bounded); their acks come back through a channel and go out on this connection.
async fn serve_connection<H: EnvelopeHandler, O: Opener>(
    slot: u32,
    live: Live,
    ctx: &Ctx<H, O>,
) -> End {
    let t = &ctx.tuning;
    let Live { ws, host, _live } = live;
    let (mut sink, mut stream) = ws.split();
    let (ack_tx, mut ack_rx) = mpsc::channel::<Message>(t.max_in_flight.max(1));
    let in_flight = Arc::new(Semaphore::new(t.max_in_flight.max(1)));
    let mut replacement: Option<Replacement<'_>> = None;
    let mut replacement_failed = false;
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval_at(Instant::now() + t.ping_every, t.ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let end = loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => break End::Shutdown,
            Some(ack) = ack_rx.recv() => {
                if let Err(e) = sink.send(ack).await {
                    break End::Lost(format!("cannot send an ack: {e}"));
                }
            }
            next = async { replacement.as_mut().expect("guarded by the branch condition").await },
                if replacement.is_some() =>
            {
                replacement = None;
                match next {
                    Ok(next) => break End::Replaced(Box::new(next)),
                    Err(e) => {
                        // Keep serving this one until Slack closes it; then the slot backs off.
                        replacement_failed = true;
                        tracing::warn!(connection = slot, error = %e, "cannot open the replacement connection");
                    }
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= t.silent_limit {
                    break End::Lost(format!("silent for {:?}", t.silent_limit));
                }
                if let Err(e) = sink.send(Message::Ping(Default::default())).await {
                    break End::Lost(format!("cannot ping: {e}"));
                }
            }
            frame = stream.next() => {
                last_heard = Instant::now();
                let text = match frame {
                    None => break End::Lost("closed by the server".into()),
                    Some(Err(e)) => break End::Lost(e.to_string()),
                    Some(Ok(Message::Text(text))) => text,
                    // Pings are answered by tungstenite as we read; a Close is followed by `None`.
                    Some(Ok(_)) => continue,
                };
                let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
                    tracing::warn!(connection = slot, "a Socket Mode frame that is not JSON; ignored");
                    continue;
                };
                match frame.kind.as_str() {
                    "hello" => {}
                    "disconnect" => {
                        tracing::info!(
                            connection = slot,
                            reason = frame.reason.as_deref().unwrap_or(""),
                            "Slack asks to reconnect; connecting a new one first"
                        );
                        if replacement.is_none() && !replacement_failed {
                            replacement = Some(Box::pin(establish(slot, ctx)));
                        }
                    }
                    kind => {
                        let Some(envelope_id) = frame.envelope_id else {
                            tracing::debug!(connection = slot, kind, "a frame without envelope_id; ignored");
                            continue;
                        };
                        let Some(kind) = EnvelopeKind::parse(kind) else {
                            tracing::debug!(connection = slot, kind, "an envelope type this version does not handle; acked");
                            // A full channel drops this ack: Slack delivers it again, acked then.
                            let _ = ack_tx.try_send(bare_ack(&envelope_id));
                            continue;
                        };
                        let permit = tokio::select! {
                            _ = ctx.shutdown.cancelled() => break End::Shutdown,
                            permit = in_flight.clone().acquire_owned() => permit,
                        };
                        let Ok(permit) = permit else { continue };
                        // We did not read while every handler was busy: that was not Slack's silence.
                        last_heard = Instant::now();
                        let retry = frame.retry_attempt.as_ref().and_then(Value::as_u64).unwrap_or(0);
                        if retry > 0 {
                            let reason = frame.retry_reason.as_ref().and_then(Value::as_str).unwrap_or("");
                            tracing::info!(connection = slot, retry, reason, "Slack is retrying a delivery");
                        }
                        let payload = frame.payload.unwrap_or(Value::Null);
                        let handler = ctx.handler.clone();
                        let acks = ack_tx.clone();
                        tokio::spawn(async move {
                            let ack = match AssertUnwindSafe(handler.handle(kind, payload)).catch_unwind().await {
                                Ok(ack) => ack,
                                Err(_) => {
                                    tracing::error!(connection = slot, envelope = kind.name(), "handling an envelope panicked; the connection keeps serving");
                                    Ack::after_panic(kind)
                                }
                            };
                            // The slot is free once the work is done, before the ack is queued:
                            // a read loop waiting for a slot must never wait on an ack queue that
                            // only it drains.
                            drop(permit);
                            if let Some(frame) = ack.frame(&envelope_id) {
                                // The connection may be gone; an un-acked envelope is redelivered.
                                let _ = acks.send(frame).await;
                            }
                        });
                    }
                }
            }
        }
    };
    // This connection no longer counts as live (its replacement, if any, already does).
    drop(_live);
    drop(replacement);
    drop(ack_tx);
    match &end {
        End::Lost(_) => {}
        End::Shutdown => drain(slot, sink, stream, ack_rx, t.drain_limit).await,
        End::Replaced(_) => {
            tracing::debug!(connection = slot, %host, "closing the old connection once it has acked");
            tokio::spawn(drain(slot, sink, stream, ack_rx, t.drain_limit));
        }
    }
    end
}

/// Sends the acks of envelopes still being handled (within `limit`), then closes the connection.
/// Envelopes arriving meanwhile are not handled: un-acked, Slack delivers them again.
async fn drain(
    slot: u32,
    mut sink: futures::stream::SplitSink<Ws, Message>,
    mut stream: futures::stream::SplitStream<Ws>,
    mut acks: mpsc::Receiver<Message>,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!(connection = slot, "envelopes still in flight when the connection closed; Slack will deliver them again");
                break;
            }
            ack = acks.recv() => match ack {
                Some(ack) => if sink.send(ack).await.is_err() { return },
                // Every handler has finished.
                None => break,
            },
            frame = stream.next() => if frame.is_none_or(|f| f.is_err()) { return },
        }
    }
    let _ = sink.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::collections::VecDeque;
    use std::net::SocketAddr;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::TcpListener;

    type ServerWs = WebSocketStream<TcpStream>;

    /// A tiny Socket Mode server: every accepted connection gets `hello` and is handed to the test.
    async fn fake_server() -> (SocketAddr, mpsc::UnboundedReceiver<ServerWs>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await {
                        let hello = json!({"type": "hello", "num_connections": 1});
                        let _ = ws.send(Message::text(hello.to_string())).await;
                        let _ = tx.send(ws);
                    }
                });
            }
        });
        (addr, rx)
    }

    /// Hands out ticket URLs to [`fake_server`], after the scripted failures.
    struct ScriptedOpener {
        addr: SocketAddr,
        failures: Mutex<VecDeque<OpenError>>,
        opened: Arc<AtomicUsize>,
    }

    impl ScriptedOpener {
        fn new(addr: SocketAddr, failures: Vec<OpenError>) -> (Self, Arc<AtomicUsize>) {
            let opened = Arc::new(AtomicUsize::new(0));
            let opener = Self {
                addr,
                failures: Mutex::new(failures.into()),
                opened: opened.clone(),
            };
            (opener, opened)
        }
    }

    #[async_trait]
    impl Opener for ScriptedOpener {
        async fn open(&self) -> Result<String, OpenError> {
            let n = self.opened.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(failure) = self.failures.lock().unwrap().pop_front() {
                return Err(failure);
            }
            Ok(format!("ws://{}/link/?ticket={n}", self.addr))
        }
    }

    /// Does what the payload's `do` says: `slow`, `panic`, `withhold`, or echo at once.
    struct ScriptedHandler;

    #[async_trait]
    impl EnvelopeHandler for ScriptedHandler {
        async fn handle(&self, _kind: EnvelopeKind, payload: Value) -> Ack {
            match payload["do"].as_str() {
                Some("panic") => panic!("a handler bug"),
                Some("withhold") => Ack::Withhold,
                Some("slow") => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Ack::Payload(payload)
                }
                _ => Ack::Payload(payload),
            }
        }
    }

    fn fast() -> Tuning {
        Tuning {
            max_in_flight: 8,
            ping_every: Duration::from_millis(50),
            silent_limit: Duration::from_millis(300),
            connect_timeout: Duration::from_secs(2),
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            healthy_after: Duration::from_secs(30),
            drain_limit: Duration::from_secs(2),
        }
    }

    fn patient() -> Tuning {
        Tuning {
            silent_limit: Duration::from_secs(10),
            ..fast()
        }
    }

    struct Running {
        health: SocketHealth,
        shutdown: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    }

    fn start(opener: ScriptedOpener, tuning: Tuning) -> Running {
        let health = SocketHealth::default();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(
            Arc::new(ScriptedHandler),
            opener,
            1,
            tuning,
            health.clone(),
            shutdown.clone(),
        ));
        Running {
            health,
            shutdown,
            task,
        }
    }

    async fn accepted(conns: &mut mpsc::UnboundedReceiver<ServerWs>) -> ServerWs {
        tokio::time::timeout(Duration::from_secs(5), conns.recv())
            .await
            .expect("the client connects")
            .expect("the server runs")
    }

    async fn send_envelope(ws: &mut ServerWs, id: &str, kind: &str, payload: Value) {
        let envelope = json!({"envelope_id": id, "type": kind, "payload": payload});
        ws.send(Message::text(envelope.to_string())).await.unwrap();
    }

    /// The next JSON frame from the client; `None` once the connection closes.
    async fn next_json(ws: &mut ServerWs) -> Option<Value> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("a frame within 5 s");
            match frame? {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    async fn wait_live(health: &SocketHealth, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while health.live_connections() != n {
            assert!(Instant::now() < deadline, "never {n} live connection(s)");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn envelopes_are_handled_concurrently_and_a_panic_is_contained() {
        let (addr, mut conns) = fake_server().await;
        let (opener, _) = ScriptedOpener::new(addr, vec![]);
        // The panic hook (printing a backtrace) can stall this one-thread runtime for a while.
        let bot = start(opener, patient());
        let mut ws = accepted(&mut conns).await;
        wait_live(&bot.health, 1).await;
        assert_eq!(bot.health.disconnected_for(Instant::now()), None);

        send_envelope(&mut ws, "e1", "slash_commands", json!({"do": "slow"})).await;
        send_envelope(&mut ws, "e2", "events_api", json!({"do": "panic"})).await;
        send_envelope(&mut ws, "e3", "events_api", json!({"do": "withhold"})).await;
        send_envelope(&mut ws, "e4", "interactive", json!({"n": 4})).await;
        let first = next_json(&mut ws).await.unwrap();
        let second = next_json(&mut ws).await.unwrap();
        // The quick one is not held up by the slow one; the panicked and withheld are not acked.
        assert_eq!(first, json!({"envelope_id": "e4", "payload": {"n": 4}}));
        assert_eq!(
            second,
            json!({"envelope_id": "e1", "payload": {"do": "slow"}})
        );
        send_envelope(&mut ws, "e5", "events_api", json!({"n": 5})).await;
        assert_eq!(next_json(&mut ws).await.unwrap()["envelope_id"], "e5");
        // A redelivery, even with odd retry fields, is still an envelope.
        let retried = json!({"envelope_id": "e7", "type": "events_api", "payload": {},
            "retry_attempt": null, "retry_reason": 3});
        ws.send(Message::text(retried.to_string())).await.unwrap();
        assert_eq!(next_json(&mut ws).await.unwrap()["envelope_id"], "e7");
        // Types this version does not know are acked and ignored.
        send_envelope(&mut ws, "e6", "something_new", json!({})).await;
        assert_eq!(
            next_json(&mut ws).await.unwrap(),
            json!({"envelope_id": "e6"})
        );

        bot.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), bot.task)
            .await
            .expect("serve stops on shutdown")
            .unwrap();
        assert_eq!(next_json(&mut ws).await, None, "the connection is closed");
        assert!(bot.health.disconnected_for(Instant::now()).is_some());
    }

    #[tokio::test]
    async fn a_disconnect_request_connects_the_new_one_before_closing_the_old() {
        let (addr, mut conns) = fake_server().await;
        let (opener, opened) = ScriptedOpener::new(addr, vec![]);
        // This test reads one connection at a time: the other must not be judged silent meanwhile.
        let bot = start(opener, patient());
        let mut old = accepted(&mut conns).await;
        wait_live(&bot.health, 1).await;

        send_envelope(&mut old, "e1", "events_api", json!({"do": "slow"})).await;
        let disconnect = json!({"type": "disconnect", "reason": "refresh_requested"});
        old.send(Message::text(disconnect.to_string()))
            .await
            .unwrap();
        let mut new = accepted(&mut conns).await;
        assert_eq!(opened.load(Ordering::SeqCst), 2);
        // The envelope in flight on the old connection is acked there, then it closes.
        assert_eq!(next_json(&mut old).await.unwrap()["envelope_id"], "e1");
        assert_eq!(next_json(&mut old).await, None);

        send_envelope(&mut new, "e2", "events_api", json!({})).await;
        assert_eq!(next_json(&mut new).await.unwrap()["envelope_id"], "e2");
        assert_eq!(bot.health.live_connections(), 1);
        bot.shutdown.cancel();
    }

    #[tokio::test]
    async fn a_silent_or_closed_connection_is_replaced() {
        let (addr, mut conns) = fake_server().await;
        let (opener, opened) = ScriptedOpener::new(addr, vec![]);
        let bot = start(opener, fast());
        // Never read: pings go unanswered, as on a dead network path.
        let silent = accepted(&mut conns).await;
        let mut second = accepted(&mut conns).await;
        assert_eq!(opened.load(Ordering::SeqCst), 2);
        drop(silent);
        // Closed by the server without a `disconnect`.
        second.close(None).await.unwrap();
        let mut third = accepted(&mut conns).await;
        send_envelope(&mut third, "e1", "events_api", json!({})).await;
        assert_eq!(next_json(&mut third).await.unwrap()["envelope_id"], "e1");
        wait_live(&bot.health, 1).await;
        bot.shutdown.cancel();
    }

    #[tokio::test]
    async fn refusals_and_outages_are_retried_and_health_says_down_meanwhile() {
        let (addr, mut conns) = fake_server().await;
        let failures = vec![
            OpenError::Refused("invalid_auth".into()),
            OpenError::Transient("HTTP 503".into()),
            OpenError::Refused("token_revoked".into()),
        ];
        let (opener, opened) = ScriptedOpener::new(addr, failures);
        let health = SocketHealth::default();
        assert!(health.disconnected_for(Instant::now()).is_some());
        let shutdown = CancellationToken::new();
        tokio::spawn(serve(
            Arc::new(ScriptedHandler),
            opener,
            1,
            fast(),
            health.clone(),
            shutdown.clone(),
        ));
        let _ws = accepted(&mut conns).await;
        assert_eq!(opened.load(Ordering::SeqCst), 4);
        wait_live(&health, 1).await;
        assert_eq!(health.disconnected_for(Instant::now()), None);
        shutdown.cancel();
    }

    /// Panics on its first call: a bug in the connection code, not in an envelope's handler.
    struct PanicsOnce(ScriptedOpener, std::sync::atomic::AtomicBool);

    #[async_trait]
    impl Opener for PanicsOnce {
        async fn open(&self) -> Result<String, OpenError> {
            if !self.1.swap(true, Ordering::SeqCst) {
                panic!("a connection bug");
            }
            self.0.open().await
        }
    }

    #[tokio::test]
    async fn a_connection_task_that_panics_is_restarted() {
        let (addr, mut conns) = fake_server().await;
        let (opener, _) = ScriptedOpener::new(addr, vec![]);
        let health = SocketHealth::default();
        let shutdown = CancellationToken::new();
        tokio::spawn(serve(
            Arc::new(ScriptedHandler),
            PanicsOnce(opener, Default::default()),
            1,
            fast(),
            health.clone(),
            shutdown.clone(),
        ));
        let mut ws = accepted(&mut conns).await;
        send_envelope(&mut ws, "e1", "events_api", json!({})).await;
        assert_eq!(next_json(&mut ws).await.unwrap()["envelope_id"], "e1");
        shutdown.cancel();
    }

    #[tokio::test]
    async fn the_start_check_stops_at_a_refusal_and_retries_an_outage() {
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let (refusing, calls) = ScriptedOpener::new(
            addr,
            vec![OpenError::Refused("not_allowed_token_type".into())],
        );
        assert_eq!(
            check_with(&refusing, Duration::from_millis(1)).await,
            Err(AppTokenError::Refused("not_allowed_token_type".into()))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a refusal is not retried");

        let outage = vec![OpenError::Transient("HTTP 500".into()); 2];
        let (flaky, calls) = ScriptedOpener::new(addr, outage);
        assert_eq!(check_with(&flaky, Duration::from_millis(1)).await, Ok(()));
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let (down, _) =
            ScriptedOpener::new(addr, vec![OpenError::Transient("HTTP 500".into()); 10]);
        assert!(matches!(
            check_with(&down, Duration::from_millis(1)).await,
            Err(AppTokenError::Unreachable(_))
        ));
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_never_exceeds_the_ceiling() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let expected = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for ceiling in expected {
            assert_eq!(b.ceiling(), Duration::from_secs(ceiling));
            let wait = b.next_delay(&mut rng);
            assert!(
                wait <= Duration::from_secs(ceiling),
                "{wait:?} > {ceiling}s"
            );
        }
        // Far up the ladder it neither overflows nor passes the cap.
        for _ in 0..200 {
            assert!(b.next_delay(&mut rng) <= Duration::from_secs(60));
        }
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn backoff_jitter_spreads_over_the_whole_range() {
        let mut rng = StdRng::seed_from_u64(42);
        let waits: Vec<Duration> = (0..1000)
            .map(|_| {
                let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
                for _ in 0..6 {
                    b.next_delay(&mut rng);
                }
                // The 7th wait: ceiling 60 s.
                b.next_delay(&mut rng)
            })
            .collect();
        let low = waits
            .iter()
            .filter(|w| **w < Duration::from_secs(20))
            .count();
        let high = waits
            .iter()
            .filter(|w| **w > Duration::from_secs(40))
            .count();
        // Uniform over [0, 60 s]: about a third in each; lockstep values would fail this.
        assert!((200..=470).contains(&low), "{low} below 20 s");
        assert!((200..=470).contains(&high), "{high} above 40 s");
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(
            distinct.len() > 900,
            "only {} distinct waits",
            distinct.len()
        );
    }

    #[test]
    fn health_counts_live_connections_and_the_down_time() {
        let start = Instant::now();
        let health = SocketHealth::new(start);
        let later = start + Duration::from_secs(5);
        assert_eq!(health.disconnected_for(later), Some(Duration::from_secs(5)));
        assert_eq!(health.last_connected(), None);

        let first = health.connected(later);
        let second = health.connected(later);
        assert_eq!(health.live_connections(), 2);
        assert_eq!(health.disconnected_for(later), None);
        assert_eq!(health.last_connected(), Some(later));
        drop(first);
        assert_eq!(
            health.disconnected_for(Instant::now()),
            None,
            "one is still live"
        );
        drop(second);
        assert_eq!(health.live_connections(), 0);
        let down = health
            .disconnected_for(Instant::now() + Duration::from_secs(3))
            .expect("down");
        assert!(down >= Duration::from_secs(3), "{down:?}");
        let status = health.status(later + Duration::from_secs(1));
        assert_eq!(status.live_connections, 0);
        assert_eq!(status.last_connected_secs_ago, Some(1));
    }

    #[test]
    fn only_the_host_of_a_ticket_url_is_kept() {
        assert_eq!(
            host_of("wss://wss-primary.slack.com/link/?ticket=secret-123&app_id=A1"),
            "wss-primary.slack.com"
        );
        assert_eq!(host_of("not a url ?ticket=x"), "?");
    }

    #[test]
    fn acks_carry_the_envelope_id_and_payload() {
        let text = |m: Message| m.into_text().unwrap().to_string();
        assert_eq!(
            text(Ack::Empty.frame("e1").unwrap()),
            r#"{"envelope_id":"e1"}"#
        );
        let with = Ack::Payload(ephemeral("hi")).frame("e2").unwrap();
        let v: Value = serde_json::from_str(&text(with)).unwrap();
        assert_eq!(v["envelope_id"], "e2");
        assert_eq!(v["payload"]["text"], "hi");
        assert!(Ack::Withhold.frame("e3").is_none());
        assert_eq!(
            Ack::after_panic(EnvelopeKind::EventsApi),
            Ack::Withhold,
            "an event whose handling panicked is left to Slack's redelivery"
        );
    }
}
