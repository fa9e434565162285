#![allow(dead_code)] // each test binary uses a subset of this module

//! A fake Slack Web API + Socket Mode server for end-to-end tests.
//!
//! * HTTP: `POST|GET http://127.0.0.1:PORT/api/<method>` (see [`FakeSlack::api_base`]).
//!   Query string and body (JSON, or `application/x-www-form-urlencoded`) are merged
//!   into one JSON object of args (body wins on duplicate keys; form/query values
//!   stay strings). Every call needs `Authorization: Bearer <token>`.
//! * Argument validation uses `../shared/slack/methods/<method>.json` (relative to
//!   `CARGO_MANIFEST_DIR`) when that directory exists: every `args.required` entry
//!   except `token` must be present, non-null and not an empty string.
//! * Socket Mode: `apps.connections.open` hands out a `ws://127.0.0.1:WSPORT/link/?ticket=N`
//!   URL served by a separate listener.
//!
//! Every HTTP call is recorded as a [`Call`]. `valid` says whether the request itself
//! was well-formed (authenticated, known method, required args present); `succeeded`
//! says whether it got an `"ok":true` answer. [`FakeSlack::calls`] returns everything;
//! [`FakeSlack::calls_to`] / [`FakeSlack::wait_for`] only count calls that are both
//! valid and succeeded.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, State as AxState};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::any;
use futures::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_tungstenite::tungstenite::Message;

pub const BOT_USER_ID: &str = "UBOT";
pub const BOT_ID: &str = "B0BOT";
pub const BOT_NAME: &str = "asyncbot";
pub const TEAM_ID: &str = "T0FAKE";
pub const APP_ID: &str = "A0FAKE";
pub const VIEW_ID: &str = "V123";

/// Methods the fake answers. Anything else gets `unknown_method` (recorded, `valid=false`).
const KNOWN_METHODS: &[&str] = &[
    "auth.test",
    "users.info",
    "users.profile.get",
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.delete",
    "conversations.open",
    "conversations.members",
    "conversations.info",
    "conversations.replies",
    "conversations.history",
    "views.open",
    "views.update",
    "views.publish",
    "reactions.add",
    "reactions.get",
    "dnd.info",
    "apps.connections.open",
];

/// Methods for which a channel id starting with `CARCHIVED` answers `is_archived`.
const ARCHIVE_SENSITIVE: &[&str] = &[
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "chat.delete",
    "reactions.add",
];

/// One recorded Web API call.
#[derive(Debug, Clone)]
pub struct Call {
    /// Slack method name, e.g. `chat.postMessage`.
    pub method: String,
    /// Query + body args merged into one JSON object.
    pub args: Value,
    /// When the request arrived.
    pub at: Instant,
    /// Authenticated, known method, all required args present.
    pub valid: bool,
    /// The call got an `"ok":true` answer (false for injected failures, `ok:false`
    /// answers, and while an injected `Hang` is still sleeping).
    pub succeeded: bool,
    /// `GET` / `POST`.
    pub http_method: String,
    /// The bearer token, if any.
    pub token: Option<String>,
    /// The JSON answer the fake gave, once it answered normally.
    pub response: Option<Value>,
}

impl Call {
    /// The arg as a string: string values verbatim, other values JSON-encoded;
    /// `None` when absent or null.
    pub fn arg(&self, key: &str) -> Option<String> {
        match self.args.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// The arg as JSON; a string that itself holds JSON (form-encoded `blocks`,
    /// `view`, ...) is parsed.
    /// The `ts` the fake gave a posted message.
    pub fn response_ts(&self) -> Option<String> {
        self.response
            .as_ref()?
            .get("ts")?
            .as_str()
            .map(str::to_owned)
    }

    pub fn json_arg(&self, key: &str) -> Option<Value> {
        match self.args.get(key)? {
            Value::Null => None,
            Value::String(s) => Some(serde_json::from_str(s).unwrap_or(Value::String(s.clone()))),
            other => Some(other.clone()),
        }
    }

    /// `args.text` plus every text found in `blocks`, `attachments` and `view`
    /// (section text and fields, context elements, headers, button labels, rich
    /// text, ...), joined by `"\n"`.
    pub fn text(&self) -> String {
        let mut parts = Vec::new();
        if let Some(t) = self.args.get("text").and_then(Value::as_str)
            && !t.is_empty()
        {
            parts.push(t.to_string());
        }
        for key in ["blocks", "attachments", "view"] {
            if let Some(v) = self.json_arg(key) {
                collect_texts(&v, &mut parts);
            }
        }
        parts.join("\n")
    }

    fn describe(&self) -> String {
        let mut args = self.args.to_string();
        if args.len() > 400 {
            let mut cut = 400;
            while !args.is_char_boundary(cut) {
                cut -= 1;
            }
            args.truncate(cut);
            args.push_str("...");
        }
        format!(
            "{} {} valid={} succeeded={} args={}",
            self.http_method, self.method, self.valid, self.succeeded, args
        )
    }
}

/// Recursively collects every string under a `"text"`, `"title"` or `"pretext"` key
/// in reading order (title, text, fields, elements, ... then any other key), so the
/// result does not depend on serde_json's map ordering.
fn collect_texts(v: &Value, out: &mut Vec<String>) {
    const FIRST: &[&str] = &[
        "title",
        "pretext",
        "text",
        "fields",
        "elements",
        "accessory",
        "blocks",
    ];
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_texts(i, out)),
        Value::Object(map) => {
            let rest = map.keys().filter(|k| !FIRST.contains(&k.as_str()));
            for key in FIRST.iter().copied().chain(rest.map(String::as_str)) {
                match map.get(key) {
                    Some(Value::String(s))
                        if matches!(key, "text" | "title" | "pretext") && !s.is_empty() =>
                    {
                        out.push(s.clone());
                    }
                    Some(val @ (Value::Array(_) | Value::Object(_))) => collect_texts(val, out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// An injected failure for [`FakeSlack::fail_next`].
#[derive(Debug, Clone)]
pub enum Failure {
    /// HTTP 429, `Retry-After: <secs>`, body `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500 with a text body.
    ServerError,
    /// HTTP 200 `{"ok":false,"error":code}`.
    ApiError(String),
    /// Sleep, then answer normally.
    Hang(Duration),
    /// Act on the call (a post is posted), then sleep before answering: the answer is lost to
    /// a client that times out first, as when the bot is killed mid-call.
    AcceptThenHang(Duration),
    /// This HTTP status with a text body (401/403 from a proxy, 502…).
    Status(u16),
}

struct UserRec {
    name: String,
    tz: String,
    is_bot: bool,
}

struct WsConn {
    id: u64,
    tx: mpsc::UnboundedSender<Message>,
    /// Sent a `disconnect`; no longer a target for `socket_send`.
    retired: bool,
}

struct State {
    calls: Vec<Call>,
    users: HashMap<String, UserRec>,
    members: HashMap<String, Vec<String>>,
    failures: HashMap<String, VecDeque<Failure>>,
    replies: HashMap<(String, String), Vec<Value>>,
    /// Every message the bot posted, in order: (channel, message as Slack stores it, with
    /// `metadata` when it was given).
    posted: Vec<(String, Value)>,
    /// Bodies posted to `/response/{id}` (a slash command's `response_url`), by id.
    responses: HashMap<String, Vec<Value>>,
    reactions: HashMap<(String, String), Vec<Value>>,
    dnd: HashMap<String, (bool, bool)>,
    /// Custom statuses (emoji, text, expiration), returned in `users.info`'s profile.
    statuses: HashMap<String, (String, String, i64)>,
    /// The next scheduled DND window (start, end unix seconds) `dnd.info` reports.
    dnd_windows: HashMap<String, (i64, i64)>,
    last_ts_micros: u64,
    methods_dir: Option<PathBuf>,
    schemas: HashMap<String, Option<Vec<String>>>,
    ws_conns: Vec<WsConn>,
    ws_total: usize,
    next_ws_id: u64,
    ack_waiters: HashMap<String, oneshot::Sender<Value>>,
    socket_frames: Vec<Value>,
    envelope_counter: u64,
    ticket_counter: u64,
    conn_tasks: Vec<AbortHandle>,
}

struct Shared {
    state: Mutex<State>,
    ws_port: u16,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fake server. Dropping it stops the listeners and open WebSocket connections.
pub struct FakeSlack {
    shared: Arc<Shared>,
    http_addr: SocketAddr,
    ws_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        for h in self.shared.lock().conn_tasks.drain(..) {
            h.abort();
        }
    }
}

fn default_methods_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/slack/methods");
    dir.is_dir().then_some(dir)
}

impl FakeSlack {
    /// Starts the fake with argument validation from `../shared/slack/methods`
    /// (skipped if that directory does not exist).
    pub async fn start() -> FakeSlack {
        Self::start_with_methods_dir(default_methods_dir()).await
    }

    /// Starts the fake validating against the given schema directory (`None`: no validation).
    pub async fn start_with_methods_dir(methods_dir: Option<PathBuf>) -> FakeSlack {
        let http = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake slack: bind HTTP listener");
        let ws = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake slack: bind WebSocket listener");
        let http_addr = http.local_addr().expect("fake slack: http addr");
        let ws_addr = ws.local_addr().expect("fake slack: ws addr");

        let mut users = HashMap::new();
        users.insert(
            BOT_USER_ID.to_string(),
            UserRec {
                name: BOT_NAME.to_string(),
                tz: "UTC".to_string(),
                is_bot: true,
            },
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                calls: Vec::new(),
                users,
                members: HashMap::new(),
                failures: HashMap::new(),
                replies: HashMap::new(),
                posted: Vec::new(),
                responses: HashMap::new(),
                reactions: HashMap::new(),
                dnd: HashMap::new(),
                statuses: HashMap::new(),
                dnd_windows: HashMap::new(),
                last_ts_micros: 0,
                methods_dir,
                schemas: HashMap::new(),
                ws_conns: Vec::new(),
                ws_total: 0,
                next_ws_id: 0,
                ack_waiters: HashMap::new(),
                socket_frames: Vec::new(),
                envelope_counter: 0,
                ticket_counter: 0,
                conn_tasks: Vec::new(),
            }),
            ws_port: ws_addr.port(),
        });

        let router = Router::new()
            .route("/api/{method}", any(handle_api))
            .route("/response/{id}", any(handle_response))
            .with_state(shared.clone());
        let http_task = tokio::spawn(async move {
            if let Err(e) = axum::serve(http, router).await {
                eprintln!("fake slack: HTTP server stopped: {e}");
            }
        });
        let ws_task = tokio::spawn(ws_accept_loop(ws, shared.clone()));

        FakeSlack {
            shared,
            http_addr,
            ws_addr,
            tasks: vec![http_task, ws_task],
        }
    }

    /// `http://127.0.0.1:PORT/api` (no trailing slash).
    pub fn api_base(&self) -> String {
        format!("http://{}/api", self.http_addr)
    }

    /// `ws://127.0.0.1:WSPORT/link/` (what `apps.connections.open` points at, minus the ticket).
    pub fn ws_url(&self) -> String {
        format!("ws://{}/link/", self.ws_addr)
    }

    pub fn bot_user_id(&self) -> &'static str {
        BOT_USER_ID
    }

    /// Adds (or replaces) a human user; `users.info` returns it.
    pub fn add_user(&self, id: &str, name: &str, tz: &str) {
        self.shared.lock().users.insert(
            id.to_string(),
            UserRec {
                name: name.to_string(),
                tz: tz.to_string(),
                is_bot: false,
            },
        );
    }

    /// Adds (or replaces) a bot user (`is_bot: true`, tz `UTC`).
    pub fn add_bot_user(&self, id: &str, name: &str) {
        self.shared.lock().users.insert(
            id.to_string(),
            UserRec {
                name: name.to_string(),
                tz: "UTC".to_string(),
                is_bot: true,
            },
        );
    }

    /// What `conversations.members` returns for `channel` (default: empty).
    pub fn set_members(&self, channel: &str, members: &[&str]) {
        self.shared.lock().members.insert(
            channel.to_string(),
            members.iter().map(|m| m.to_string()).collect(),
        );
    }

    /// What `conversations.replies` returns for (`channel`, `ts`) (default: empty list).
    /// Each message is a JSON object such as `{"ts":"..","user":"U1","text":".."}`.
    pub fn set_replies(&self, channel: &str, ts: &str, messages: Vec<Value>) {
        self.shared
            .lock()
            .replies
            .insert((channel.to_string(), ts.to_string()), messages);
    }

    /// What `reactions.get` returns for (`channel`, `timestamp`), e.g.
    /// `[{"name":"eyes","users":["U1"],"count":1}]` (default: none).
    pub fn set_reactions(&self, channel: &str, ts: &str, reactions: Vec<Value>) {
        self.shared
            .lock()
            .reactions
            .insert((channel.to_string(), ts.to_string()), reactions);
    }

    /// What `dnd.info` returns for `user` (default: both false).
    pub fn set_dnd(&self, user: &str, dnd_enabled: bool, snooze_enabled: bool) {
        self.shared
            .lock()
            .dnd
            .insert(user.to_string(), (dnd_enabled, snooze_enabled));
    }

    /// `user`'s custom status (`expiration`: unix seconds, 0 for none), in the profile that
    /// `users.info` and `users.profile.get` return.
    pub fn set_status(&self, user: &str, emoji: &str, text: &str, expiration: i64) {
        self.shared.lock().statuses.insert(
            user.to_string(),
            (emoji.to_string(), text.to_string(), expiration),
        );
    }

    /// The next scheduled DND window `dnd.info` reports for `user` (unix seconds).
    pub fn set_dnd_window(&self, user: &str, start: i64, end: i64) {
        self.shared
            .lock()
            .dnd_windows
            .insert(user.to_string(), (start, end));
    }

    /// The next `failures.len()` valid calls of `method` get these failures, in order;
    /// later calls are answered normally. Appends to any failures still queued.
    pub fn fail_next(&self, method: &str, failures: Vec<Failure>) {
        self.shared
            .lock()
            .failures
            .entry(method.to_string())
            .or_default()
            .extend(failures);
    }

    /// The `response_url` of a command with this `id`: `http://127.0.0.1:PORT/response/{id}`.
    pub fn response_url(&self, id: &str) -> String {
        format!("{}/response/{id}", self.api_base().trim_end_matches("/api"))
    }

    /// Waits for the first body posted to [`FakeSlack::response_url`] `id`.
    pub async fn wait_response(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = self
                .shared
                .lock()
                .responses
                .get(id)
                .and_then(|r| r.first().cloned())
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "fake slack: no answer on response_url {id} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every message the bot posted (channel, message), in order, including those whose answer
    /// was lost (`AcceptThenHang`).
    pub fn posted(&self) -> Vec<(String, Value)> {
        self.shared.lock().posted.clone()
    }

    /// How many posted messages carry each outbox id in their metadata (asyncbot's posted-once
    /// marker).
    pub fn posts_by_outbox_id(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (_, m) in self.posted() {
            if let Some(id) = m["metadata"]["event_payload"]["outbox_id"].as_str() {
                *counts.entry(id.to_owned()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// All recorded calls (valid or not, succeeded or not), in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    /// Valid calls of `method` that got an `"ok":true` answer, in arrival order.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == method && c.valid && c.succeeded)
            .cloned()
            .collect()
    }

    /// Every call of `method` (including failed/injected-failure ones); attempt counting.
    pub fn attempts_to(&self, method: &str) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .cloned()
            .collect()
    }

    /// Calls that were not valid (no auth, unknown method, missing args, bad body).
    pub fn invalid_calls(&self) -> Vec<Call> {
        self.shared
            .lock()
            .calls
            .iter()
            .filter(|c| !c.valid)
            .cloned()
            .collect()
    }

    /// Forgets all recorded calls.
    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// A printable list of every recorded call (for assertion messages).
    pub fn describe_calls(&self) -> String {
        let calls = self.calls();
        if calls.is_empty() {
            return "  (no calls at all)".to_string();
        }
        calls
            .iter()
            .enumerate()
            .map(|(i, c)| format!("  #{i} {}", c.describe()))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until at least `n` valid, succeeded calls of `method` have arrived;
    /// returns all of them. Panics after `timeout` listing every call seen.
    pub async fn wait_for(&self, method: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls_to(method);
            if calls.len() >= n {
                return calls;
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake slack: timed out after {timeout:?} waiting for {n} successful call(s) to {method} (got {}). All calls:\n{}",
                    calls.len(),
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until some valid, succeeded call of `method` satisfies `pred`.
    /// Panics after `timeout` listing every call seen.
    pub async fn wait_for_match(
        &self,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Call) -> bool,
    ) -> Call {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.calls_to(method).into_iter().find(|c| pred(c)) {
                return c;
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake slack: timed out after {timeout:?} waiting for a matching successful call to {method}. All calls:\n{}",
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until a live Socket Mode client is connected (and got `hello`) that has
    /// not been sent a `disconnect`. Panics after `timeout`.
    pub async fn wait_socket_connected(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.has_live_socket() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake slack: no Socket Mode client connected within {timeout:?} ({} connection(s) accepted in total). Web API calls:\n{}",
                    self.socket_connections(),
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until at least `n` WebSocket connections have been accepted in total.
    pub async fn wait_socket_connections(&self, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let have = self.socket_connections();
            if have >= n {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake slack: only {have} Socket Mode connection(s) after {timeout:?}, wanted {n}. Web API calls:\n{}",
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn has_live_socket(&self) -> bool {
        let mut st = self.shared.lock();
        st.ws_conns.retain(|c| !c.tx.is_closed());
        st.ws_conns.iter().any(|c| !c.retired)
    }

    /// Sends one Socket Mode envelope of type `kind` to the most recently connected
    /// live client and waits for the ack frame carrying its `envelope_id`; returns
    /// the whole ack JSON. If no client is connected yet it waits for one, within the
    /// same `timeout`. Panics when no client connects or no ack arrives in time.
    pub async fn socket_send(&self, kind: &str, payload: Value, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        let (envelope_id, ack_rx) = loop {
            {
                let mut guard = self.shared.lock();
                let st = &mut *guard;
                st.ws_conns.retain(|c| !c.tx.is_closed());
                if let Some(conn) = st.ws_conns.iter().rev().find(|c| !c.retired) {
                    st.envelope_counter += 1;
                    let envelope_id = make_envelope_id(st.envelope_counter);
                    let envelope = json!({
                        "envelope_id": envelope_id,
                        "type": kind,
                        "payload": payload,
                        "accepts_response_payload": kind != "events_api",
                        "retry_attempt": 0,
                        "retry_reason": "",
                    });
                    let (ack_tx, ack_rx) = oneshot::channel();
                    st.ack_waiters.insert(envelope_id.clone(), ack_tx);
                    if conn.tx.send(Message::text(envelope.to_string())).is_err() {
                        st.ack_waiters.remove(&envelope_id);
                        panic!(
                            "fake slack: Socket Mode connection closed while sending a {kind} envelope"
                        );
                    }
                    break (envelope_id, ack_rx);
                }
            }
            if Instant::now() >= deadline {
                panic!(
                    "fake slack: socket_send({kind}): no Socket Mode client connected within {timeout:?} ({} connection(s) accepted in total). Web API calls:\n{}",
                    self.socket_connections(),
                    self.describe_calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };

        match tokio::time::timeout_at(deadline.into(), ack_rx).await {
            Ok(Ok(ack)) => ack,
            _ => {
                let frames = {
                    let mut st = self.shared.lock();
                    st.ack_waiters.remove(&envelope_id);
                    st.socket_frames
                        .iter()
                        .map(|f| format!("  {f}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                };
                panic!(
                    "fake slack: socket_send({kind}): no ack for envelope {envelope_id} within {timeout:?}. Frames received from clients:\n{}\nWeb API calls:\n{}",
                    if frames.is_empty() {
                        "  (none)"
                    } else {
                        &frames
                    },
                    self.describe_calls()
                );
            }
        }
    }

    /// Sends `{"type":"disconnect","reason":"refresh_requested",...}` to every live
    /// client and stops targeting them with `socket_send` (the client is expected to
    /// reconnect; wait with [`FakeSlack::wait_socket_connected`] or
    /// [`FakeSlack::wait_socket_connections`]).
    pub async fn socket_disconnect_all(&self) {
        let frame = json!({
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": {"host": "fake"},
        })
        .to_string();
        let mut st = self.shared.lock();
        st.ws_conns.retain(|c| !c.tx.is_closed());
        for conn in st.ws_conns.iter_mut().filter(|c| !c.retired) {
            let _ = conn.tx.send(Message::text(frame.clone()));
            conn.retired = true;
        }
    }

    /// Closes every live connection without a `disconnect` message first, as a network fault
    /// or a restart on Slack's side would. The client is expected to notice and reconnect.
    pub fn socket_drop_all(&self) {
        // Dropping a connection's sender ends its writer, which closes the WebSocket.
        self.shared.lock().ws_conns.clear();
    }

    /// How many WebSocket connections have been accepted (and sent `hello`) in total.
    pub fn socket_connections(&self) -> usize {
        self.shared.lock().ws_total
    }

    /// Every JSON text frame received from Socket Mode clients (acks etc.), in order.
    pub fn socket_received(&self) -> Vec<Value> {
        self.shared.lock().socket_frames.clone()
    }
}

fn make_envelope_id(counter: u64) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mix = nanos ^ counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (mix >> 32) as u32,
        (mix >> 16) as u16,
        (counter >> 12) & 0xfff,
        counter & 0xfff,
        mix & 0xffff_ffff_ffff
    )
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
        .expect("fake slack: build response")
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_string())
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_form_into(s: &str, into: &mut Map<String, Value>) {
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        into.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
}

/// Merges query string and body into one object. `Err` carries a Slack error code.
fn parse_args(
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> (Map<String, Value>, Option<&'static str>) {
    let mut args = Map::new();
    if let Some(q) = query {
        parse_form_into(q, &mut args);
    }
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return (args, None);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let body_str = String::from_utf8_lossy(body);
    let as_json = |args: &mut Map<String, Value>| match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => {
            args.extend(map);
            true
        }
        _ => false,
    };
    if content_type.starts_with("application/json") {
        if !as_json(&mut args) {
            return (args, Some("invalid_json"));
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        parse_form_into(&body_str, &mut args);
    } else if content_type.starts_with("multipart/") {
        return (args, Some("invalid_form_data"));
    } else if !as_json(&mut args) {
        parse_form_into(&body_str, &mut args);
    }
    (args, None)
}

fn arg_str(args: &Map<String, Value>, key: &str) -> Option<String> {
    match args.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// A list arg: a JSON array of strings (what slack-morphism sends) or a
/// comma-separated string (form/query encoding).
fn list_arg(args: &Map<String, Value>, key: &str) -> Vec<String> {
    let items: Vec<String> = match args.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn is_missing(args: &Map<String, Value>, key: &str) -> bool {
    match args.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(_) => false,
    }
}

impl State {
    fn required_args(&mut self, method: &str) -> Option<Vec<String>> {
        let dir = self.methods_dir.clone()?;
        if let Some(cached) = self.schemas.get(method) {
            return cached.clone();
        }
        let path = dir.join(format!("{method}.json"));
        let loaded = if path.is_file() {
            match std::fs::read_to_string(&path)
                .ok()
                .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            {
                Some(schema) => Some(
                    schema
                        .pointer("/args/required")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .filter(|k| *k != "token")
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
                None => {
                    eprintln!("fake slack: cannot read schema {}", path.display());
                    None
                }
            }
        } else {
            None
        };
        self.schemas.insert(method.to_string(), loaded.clone());
        loaded
    }

    fn next_ts(&mut self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as u64)
            .unwrap_or(0);
        let micros = now.max(self.last_ts_micros + 1);
        self.last_ts_micros = micros;
        format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
    }

    fn user_json(&self, id: &str) -> Option<Value> {
        let u = self.users.get(id)?;
        Some(json!({
            "id": id,
            "team_id": TEAM_ID,
            "name": u.name,
            "real_name": u.name,
            "deleted": false,
            "tz": u.tz,
            "tz_label": u.tz,
            "tz_offset": 0,
            "is_bot": u.is_bot,
            "is_app_user": false,
            "updated": 1_700_000_000,
            "profile": self.profile_json(id),
        }))
    }

    /// A user's profile as Slack returns it, with their custom status when one is set.
    fn profile_json(&self, id: &str) -> Value {
        let name = self
            .users
            .get(id)
            .map(|u| u.name.clone())
            .unwrap_or_default();
        let mut profile = json!({"real_name": name, "display_name": name});
        if let Some((emoji, text, expiration)) = self.statuses.get(id) {
            profile["status_emoji"] = json!(emoji);
            profile["status_text"] = json!(text);
            profile["status_expiration"] = json!(expiration);
        }
        profile
    }

    /// The normal (non-injected) answer for a valid call of a known method.
    fn respond(&mut self, method: &str, args: &Map<String, Value>, ws_port: u16) -> Value {
        let channel = arg_str(args, "channel").unwrap_or_default();
        if channel.starts_with("CNOTFOUND") {
            return json!({"ok": false, "error": "channel_not_found"});
        }
        if channel.starts_with("CARCHIVED") && ARCHIVE_SENSITIVE.contains(&method) {
            return json!({"ok": false, "error": "is_archived"});
        }
        match method {
            "auth.test" => json!({
                "ok": true,
                "url": "https://fake.slack.com/",
                "team": "Fake",
                "user": BOT_NAME,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
            }),
            "users.info" => {
                let id = arg_str(args, "user").unwrap_or_default();
                match self.user_json(&id) {
                    Some(user) => json!({"ok": true, "user": user}),
                    None => json!({"ok": false, "error": "user_not_found"}),
                }
            }
            "users.profile.get" => {
                let id = arg_str(args, "user").unwrap_or_else(|| BOT_USER_ID.to_string());
                match self.users.get(&id) {
                    Some(_) => json!({"ok": true, "profile": self.profile_json(&id)}),
                    None => json!({"ok": false, "error": "user_not_found"}),
                }
            }
            "chat.postMessage" => {
                let ts = self.next_ts();
                let mut message = json!({
                    "type": "message",
                    "user": BOT_USER_ID,
                    "bot_id": BOT_ID,
                    "ts": ts,
                });
                if let Some(text) = arg_str(args, "text") {
                    message["text"] = Value::String(text);
                }
                if let Some(thread_ts) = arg_str(args, "thread_ts") {
                    message["thread_ts"] = Value::String(thread_ts);
                }
                if let Some(metadata) = json_value(args, "metadata") {
                    message["metadata"] = metadata;
                }
                self.posted.push((channel.clone(), message.clone()));
                json!({"ok": true, "channel": channel, "ts": ts, "message": message})
            }
            "chat.update" => {
                let ts = arg_str(args, "ts").unwrap_or_default();
                let text = arg_str(args, "text").unwrap_or_default();
                json!({
                    "ok": true,
                    "channel": channel,
                    "ts": ts,
                    "text": text,
                    "message": {"text": text, "user": BOT_USER_ID, "bot_id": BOT_ID},
                })
            }
            "chat.postEphemeral" => {
                let ts = self.next_ts();
                json!({"ok": true, "message_ts": ts})
            }
            "chat.delete" => {
                let ts = arg_str(args, "ts").unwrap_or_default();
                json!({"ok": true, "channel": channel, "ts": ts})
            }
            "conversations.open" => {
                let users = list_arg(args, "users");
                let id = match users.len() {
                    0 if !channel.is_empty() => channel,
                    0 => return json!({"ok": false, "error": "users_list_not_supplied"}),
                    1 => format!("D{}", users[0]),
                    _ => format!("G{}", users.concat()),
                };
                json!({"ok": true, "channel": {"id": id}})
            }
            "conversations.members" => {
                let members = self.members.get(&channel).cloned().unwrap_or_default();
                json!({
                    "ok": true,
                    "members": members,
                    "response_metadata": {"next_cursor": ""},
                })
            }
            "conversations.info" => {
                let num_members = self.members.get(&channel).map_or(0, Vec::len);
                let is_im = channel.starts_with('D');
                json!({
                    "ok": true,
                    "channel": {
                        "id": channel,
                        "created": 1_700_000_000,
                        "name": channel.to_ascii_lowercase(),
                        "is_channel": !is_im,
                        "is_im": is_im,
                        "is_private": channel.starts_with('G'),
                        "is_archived": channel.starts_with("CARCHIVED"),
                        "is_member": true,
                        "num_members": num_members,
                    },
                })
            }
            "conversations.replies" => {
                let ts = arg_str(args, "ts").unwrap_or_default();
                let with_metadata =
                    arg_str(args, "include_all_metadata").as_deref() == Some("true");
                let mut messages = self
                    .replies
                    .get(&(channel.clone(), ts.clone()))
                    .cloned()
                    .unwrap_or_default();
                messages.extend(
                    self.posted
                        .iter()
                        .filter(|(c, m)| *c == channel && m["thread_ts"].as_str() == Some(&ts))
                        .map(|(_, m)| strip_metadata(m, with_metadata)),
                );
                json!({
                    "ok": true,
                    "messages": messages,
                    "has_more": false,
                    "response_metadata": {"next_cursor": ""},
                })
            }
            "conversations.history" => {
                let with_metadata =
                    arg_str(args, "include_all_metadata").as_deref() == Some("true");
                let oldest: f64 = arg_str(args, "oldest")
                    .and_then(|o| o.parse().ok())
                    .unwrap_or(0.0);
                // Newest first, as Slack answers; top-level messages only.
                let messages: Vec<Value> = self
                    .posted
                    .iter()
                    .rev()
                    .filter(|(c, m)| {
                        *c == channel
                            && m["thread_ts"].is_null()
                            && m["ts"]
                                .as_str()
                                .and_then(|t| t.parse::<f64>().ok())
                                .unwrap_or(0.0)
                                >= oldest
                    })
                    .map(|(_, m)| strip_metadata(m, with_metadata))
                    .collect();
                json!({
                    "ok": true,
                    "messages": messages,
                    "has_more": false,
                    "response_metadata": {"next_cursor": ""},
                })
            }
            "views.open" | "views.update" | "views.publish" => {
                let mut view = match args.get("view") {
                    Some(Value::Object(m)) => m.clone(),
                    Some(Value::String(s)) => match serde_json::from_str(s) {
                        Ok(Value::Object(m)) => m,
                        _ => Map::new(),
                    },
                    _ => Map::new(),
                };
                let default_type = if method == "views.publish" {
                    "home"
                } else {
                    "modal"
                };
                view.entry("type").or_insert_with(|| json!(default_type));
                if view.get("type") == Some(&json!("modal")) {
                    view.entry("title")
                        .or_insert_with(|| json!({"type": "plain_text", "text": "Fake"}));
                }
                view.entry("blocks").or_insert_with(|| json!([]));
                let id = arg_str(args, "view_id").unwrap_or_else(|| VIEW_ID.to_string());
                view.insert("id".into(), json!(id));
                view.insert("team_id".into(), json!(TEAM_ID));
                view.insert("hash".into(), json!("fakehash"));
                view.insert("state".into(), json!({"values": {}}));
                view.insert("app_id".into(), json!(APP_ID));
                view.insert("bot_id".into(), json!(BOT_ID));
                json!({"ok": true, "view": view})
            }
            "reactions.add" => json!({"ok": true}),
            "reactions.get" => {
                let ts = arg_str(args, "timestamp").unwrap_or_default();
                let reactions = self
                    .reactions
                    .get(&(channel.clone(), ts.clone()))
                    .cloned()
                    .unwrap_or_default();
                json!({
                    "ok": true,
                    "type": "message",
                    "channel": channel,
                    "message": {"type": "message", "ts": ts, "reactions": reactions},
                })
            }
            "dnd.info" => {
                let user = arg_str(args, "user").unwrap_or_default();
                let (dnd, snooze) = self.dnd.get(&user).copied().unwrap_or((false, false));
                let mut answer = json!({"ok": true, "dnd_enabled": dnd, "snooze_enabled": snooze});
                if let Some((start, end)) = self.dnd_windows.get(&user) {
                    answer["next_dnd_start_ts"] = json!(start);
                    answer["next_dnd_end_ts"] = json!(end);
                }
                answer
            }
            "apps.connections.open" => {
                self.ticket_counter += 1;
                json!({
                    "ok": true,
                    "url": format!("ws://127.0.0.1:{ws_port}/link/?ticket={}", self.ticket_counter),
                })
            }
            _ => json!({"ok": false, "error": "unknown_method"}),
        }
    }
}

/// A slash command's `response_url`: records the JSON body and answers like Slack (`ok`).
async fn handle_response(
    AxState(shared): AxState<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    body: Bytes,
) -> Response {
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.lock().responses.entry(id).or_default().push(value);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("ok"))
        .expect("fake slack: build response")
}

/// A message as `conversations.history`/`replies` return it: `metadata` only when asked for.
fn strip_metadata(message: &Value, with_metadata: bool) -> Value {
    let mut m = message.clone();
    if !with_metadata && let Some(o) = m.as_object_mut() {
        o.remove("metadata");
    }
    m
}

/// An argument that holds JSON, given as JSON or as a JSON string (form encoding).
fn json_value(args: &Map<String, Value>, key: &str) -> Option<Value> {
    match args.get(key)? {
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Null => None,
        other => Some(other.clone()),
    }
}

/// What the synchronous part of request handling decided.
enum Step {
    /// Answer right away.
    Done(Response),
    /// Sleep (injected `Hang`), then answer normally.
    Hang(Duration, usize),
    /// Answer normally, but only after sleeping (injected `AcceptThenHang`).
    AcceptThenHang(Duration, usize),
    /// Answer normally.
    Normal(usize),
}

async fn handle_api(
    AxState(shared): AxState<Arc<Shared>>,
    UrlPath(method): UrlPath<String>,
    http_method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = Instant::now();
    let token = bearer_token(&headers);
    let (args, parse_error) = parse_args(query.as_deref(), &headers, &body);
    let call = Call {
        method: method.clone(),
        args: Value::Object(args.clone()),
        at,
        valid: false,
        succeeded: false,
        http_method: http_method.to_string(),
        token,
        response: None,
    };
    let index = match admit(&shared, call, parse_error, &args) {
        Step::Done(response) => return response,
        Step::Hang(d, index) => {
            tokio::time::sleep(d).await;
            index
        }
        Step::AcceptThenHang(d, _index) => {
            let answer = shared.lock().respond(&method, &args, shared.ws_port);
            tokio::time::sleep(d).await;
            return json_response(StatusCode::OK, &answer);
        }
        Step::Normal(index) => index,
    };

    let mut st = shared.lock();
    let answer = st.respond(&method, &args, shared.ws_port);
    let ok = answer.get("ok") == Some(&Value::Bool(true));
    // `clear_calls` may have run while a Hang slept; only touch our own entry.
    if let Some(c) = st.calls.get_mut(index)
        && c.at == at
        && c.method == method
    {
        c.succeeded = ok;
        c.response = Some(answer.clone());
    }
    json_response(StatusCode::OK, &answer)
}

/// Auth / parse / method / argument checks, failure injection and recording.
fn admit(
    shared: &Shared,
    mut call: Call,
    parse_error: Option<&'static str>,
    args: &Map<String, Value>,
) -> Step {
    let mut st = shared.lock();
    let method = call.method.clone();
    let rejection = if call.token.is_none() {
        Some(json!({"ok": false, "error": "not_authed"}))
    } else if let Some(code) = parse_error {
        Some(json!({"ok": false, "error": code}))
    } else if !KNOWN_METHODS.contains(&method.as_str()) {
        Some(json!({"ok": false, "error": "unknown_method"}))
    } else {
        let missing: Vec<String> = st
            .required_args(&method)
            .unwrap_or_default()
            .into_iter()
            .filter(|k| is_missing(args, k))
            .collect();
        (!missing.is_empty())
            .then(|| json!({"ok": false, "error": "invalid_arguments", "missing": missing}))
    };
    if let Some(answer) = rejection {
        st.calls.push(call);
        return Step::Done(json_response(StatusCode::OK, &answer));
    }

    call.valid = true;
    let failure = st.failures.get_mut(&method).and_then(VecDeque::pop_front);
    let index = st.calls.len();
    st.calls.push(call);

    match failure {
        None => Step::Normal(index),
        Some(Failure::Hang(d)) => Step::Hang(d, index),
        Some(Failure::AcceptThenHang(d)) => Step::AcceptThenHang(d, index),
        Some(Failure::Status(code)) => Step::Done(
            Response::builder()
                .status(StatusCode::from_u16(code).unwrap_or(StatusCode::FORBIDDEN))
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from("refused by the proxy"))
                .expect("fake slack: build status"),
        ),
        Some(Failure::RateLimited { retry_after_secs }) => Step::Done(
            Response::builder()
                .status(StatusCode::TOO_MANY_REQUESTS)
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .header(header::RETRY_AFTER, retry_after_secs.to_string())
                .body(Body::from(
                    json!({"ok": false, "error": "ratelimited"}).to_string(),
                ))
                .expect("fake slack: build 429"),
        ),
        Some(Failure::ServerError) => Step::Done(
            Response::builder()
                .status(StatusCode::INTERNAL_SERVER_ERROR)
                .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Body::from("internal error"))
                .expect("fake slack: build 500"),
        ),
        Some(Failure::ApiError(code)) => Step::Done(json_response(
            StatusCode::OK,
            &json!({"ok": false, "error": code}),
        )),
    }
}

// ---------------------------------------------------------------------------
// WebSocket (Socket Mode)
// ---------------------------------------------------------------------------

async fn ws_accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                eprintln!("fake slack: WebSocket accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let task = tokio::spawn(ws_connection(stream, shared.clone()));
        shared.lock().conn_tasks.push(task.abort_handle());
    }
}

async fn ws_connection(stream: TcpStream, shared: Arc<Shared>) {
    let ws = match tokio_tungstenite::accept_async(stream).await {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("fake slack: WebSocket handshake failed: {e}");
            return;
        }
    };
    let (mut sink, mut source) = ws.split();
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "debug_info": {"host": "fake", "build_number": 1, "approximate_connection_time": 18060},
        "connection_info": {"app_id": APP_ID},
    });
    if sink.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }

    let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
    let id = {
        let mut st = shared.lock();
        st.next_ws_id += 1;
        st.ws_total += 1;
        let id = st.next_ws_id;
        st.ws_conns.push(WsConn {
            id,
            tx,
            retired: false,
        });
        id
    };

    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            if sink.send(msg).await.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });

    while let Some(msg) = source.next().await {
        match msg {
            Ok(Message::Text(text)) => {
                let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                    eprintln!("fake slack: non-JSON Socket Mode frame: {}", text.as_str());
                    continue;
                };
                let mut st = shared.lock();
                st.socket_frames.push(frame.clone());
                if let Some(envelope_id) = frame.get("envelope_id").and_then(Value::as_str)
                    && let Some(waiter) = st.ack_waiters.remove(envelope_id)
                {
                    let _ = waiter.send(frame);
                }
            }
            Ok(Message::Close(_)) | Err(_) => break,
            // Pings are answered by tungstenite itself while we keep reading.
            Ok(_) => {}
        }
    }

    shared.lock().ws_conns.retain(|c| c.id != id);
    writer.abort();
}
