//! End-to-end harness: starts the real `asyncbot` binary on a random port with a temp store
//! against the fake Slack, sends it signed requests (HTTP) or envelopes (Socket Mode).
#![allow(dead_code)] // each test binary uses a subset

pub mod fake_slack;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[allow(unused_imports)]
pub use fake_slack::{Call, Failure, FakeSlack};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const SIGNING_SECRET: &str = "e2e-signing-secret";
pub const BOT_TOKEN: &str = "xoxb-e2e-bot-token";
pub const APP_TOKEN: &str = "xapp-e2e-app-token";

/// The Done-when norms: normal 4 s, urgent 2 s, DM 3 s after the nudge, call 2 s after the DM,
/// every day and hour working time.
pub const FAST_NORMS: &str = r#"
[calendar]
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
working_hours = ["00:00", "24:00"]

[sla.urgent]
within = "2s"

[sla.normal]
within = "4s"

[sla.low]
within = "6s"

[escalation]
steps = [
  { after = "0s", action = "thread_mention" },
  { after = "3s", action = "direct_message" },
  { after = "2s", action = "suggest_call" },
]

[delivery]
request_timeout = "2s"
"#;

/// `norms` (e.g. [`FAST_NORMS`]) with a normal request due after 1 s: for tests of what happens
/// to a nudge (retries, duplicates, refusals), not of when it comes.
pub fn due_in_1s(norms: &str) -> String {
    let fast = "[sla.normal]\nwithin = \"4s\"";
    assert!(norms.contains(fast), "built on FAST_NORMS");
    norms.replace(fast, "[sla.normal]\nwithin = \"1s\"")
}

/// [`FAST_NORMS`] with another escalation ladder (a TOML array of steps).
pub fn fast_norms_with_steps(steps: &str) -> String {
    let start = FAST_NORMS.find("steps = [").unwrap();
    let end = start + FAST_NORMS[start..].find("]\n").unwrap() + 2;
    format!(
        "{}steps = {steps}\n{}",
        &FAST_NORMS[..start],
        &FAST_NORMS[end..]
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Http,
    SocketMode,
}

pub struct TestApp {
    pub mode: Mode,
    pub base_url: String,
    child: Child,
    dir: tempfile::TempDir,
    api_base: String,
    pub http: reqwest::Client,
}

static COUNTER: AtomicU64 = AtomicU64::new(1);

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A fresh, unique Slack message timestamp ("1700000000.000123").
pub fn new_ts() -> String {
    format!(
        "{}.{:06}",
        unix_now(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn new_event_id() -> String {
    format!("Ev{:010}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub fn sign(timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

impl TestApp {
    /// Starts the binary with `config` (TOML layered over the defaults) against `fake`.
    pub async fn start(fake: &FakeSlack, mode: Mode, config: &str) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("asyncbot.toml");
        let store = dir.path().join("store/asyncbot.redb");
        std::fs::write(
            &config_path,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\n\n[store]\npath = {:?}\n\n{config}",
                store.display().to_string()
            ),
        )
        .unwrap();
        let (child, base_url) = spawn(&config_path, mode, &fake.api_base()).await;
        let app = TestApp {
            mode,
            base_url,
            child,
            dir,
            api_base: fake.api_base(),
            http: reqwest::Client::new(),
        };
        if mode == Mode::SocketMode {
            fake.wait_socket_connected(Duration::from_secs(20)).await;
        }
        app.wait_healthy().await;
        app
    }

    /// Stops the bot (as `kill -9` would) so that offline tools may open its store.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends an interactive payload (button press, modal submission); returns the ack's body
    /// (HTTP) or the ack's `payload` (Socket Mode), `Value::Null` when empty.
    pub async fn interaction(&self, fake: &FakeSlack, payload: &Value) -> Value {
        match self.mode {
            Mode::Http => {
                let body = format!("payload={}", urlencode(&payload.to_string()));
                let r = self
                    .post_signed(
                        "/slack/interactions",
                        "application/x-www-form-urlencoded",
                        body.into_bytes(),
                    )
                    .await;
                assert_eq!(r.status(), 200, "interaction refused");
                let text = r.text().await.unwrap();
                if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&text).unwrap()
                }
            }
            Mode::SocketMode => {
                let ack = fake
                    .socket_send("interactive", payload.clone(), Duration::from_secs(5))
                    .await;
                ack.get("payload").cloned().unwrap_or(Value::Null)
            }
        }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("asyncbot.toml")
    }

    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The bot's process id (to signal it while others hold the app).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no shutdown, no flush beyond what was committed.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts the binary again on the same config and store.
    pub async fn restart(&mut self, fake: &FakeSlack) {
        let before = fake.socket_connections();
        let (child, base_url) = spawn(&self.config_path(), self.mode, &self.api_base).await;
        self.child = child;
        self.base_url = base_url;
        if self.mode == Mode::SocketMode {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            while fake.socket_connections() <= before {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no Socket Mode reconnect after restart"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        self.wait_healthy().await;
    }

    pub async fn wait_healthy(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let response = self
                .http
                .get(format!("{}/healthz", self.base_url))
                .send()
                .await;
            if response.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until nothing is queued to be sent (`/healthz`'s `outbox` is 0): a message posted
    /// once and not queued again cannot be posted twice, so no fixed wait has to prove it.
    pub async fn wait_outbox_empty(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.health().await["outbox"] != 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the outbox never emptied"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn health(&self) -> Value {
        self.http
            .get(format!("{}/healthz", self.base_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// POSTs a body signed now with the right secret.
    pub async fn post_signed(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let ts = unix_now().to_string();
        let sig = sign(&ts, &body);
        self.post_raw(path, content_type, body, Some((&ts, &sig)), &[])
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        signature: Option<(&str, &str)>,
        extra_headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", content_type)
            .body(body);
        if let Some((ts, sig)) = signature {
            req = req
                .header("x-slack-request-timestamp", ts)
                .header("x-slack-signature", sig);
        }
        for (k, v) in extra_headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    /// Delivers an Events API payload the way this app's transport receives it.
    pub async fn send_event(&self, fake: &FakeSlack, payload: &Value) {
        match self.mode {
            Mode::Http => {
                let r = self
                    .post_signed(
                        "/slack/events",
                        "application/json",
                        serde_json::to_vec(payload).unwrap(),
                    )
                    .await;
                assert_eq!(
                    r.status(),
                    200,
                    "event refused: {}",
                    r.text().await.unwrap_or_default()
                );
            }
            Mode::SocketMode => {
                let ack = fake
                    .socket_send("events_api", payload.clone(), Duration::from_secs(5))
                    .await;
                assert!(ack.get("envelope_id").is_some(), "bad ack {ack}");
            }
        }
    }

    /// Delivers one event (a `message(…)`, `reaction(…)`, …) under a fresh `event_id`.
    pub async fn deliver(&self, fake: &FakeSlack, event: Value) {
        self.send_event(fake, &event_callback(&new_event_id(), event))
            .await;
    }

    /// Runs a slash command; returns the ephemeral reply's text and how long it took.
    pub async fn command(
        &self,
        fake: &FakeSlack,
        command: &str,
        text: &str,
        user: &str,
        channel: &str,
    ) -> (String, Duration) {
        let (reply, took) = self.command_raw(fake, command, text, user, channel).await;
        let text = reply
            .as_str()
            .unwrap_or_else(|| panic!("{command} {text:?} gave no visible answer"))
            .to_owned();
        (text, took)
    }

    /// Runs a slash command; returns the ephemeral reply's text (`Value::Null` when the command
    /// answered with no message, e.g. because it opened a modal) and how long it took.
    pub async fn command_raw(
        &self,
        fake: &FakeSlack,
        command: &str,
        text: &str,
        user: &str,
        channel: &str,
    ) -> (Value, Duration) {
        let started = std::time::Instant::now();
        // Each command is a new user action with its own trigger (a repeated one is a replay).
        let trigger = format!(
            "{}.{}.trigger",
            unix_now(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let response_url = fake.response_url(&trigger);
        let form = [
            ("token", "ignored"),
            ("team_id", "T0FAKE"),
            ("team_domain", "fake"),
            ("channel_id", channel),
            ("channel_name", "eng"),
            ("user_id", user),
            ("user_name", "someone"),
            ("command", command),
            ("text", text),
            ("api_app_id", "A0FAKE"),
            ("response_url", response_url.as_str()),
            ("trigger_id", trigger.as_str()),
        ];
        let reply = match self.mode {
            Mode::Http => {
                let body = serde_urlencoded_encode(&form);
                let r = self
                    .post_signed(
                        "/slack/commands",
                        "application/x-www-form-urlencoded",
                        body.into_bytes(),
                    )
                    .await;
                assert_eq!(r.status(), 200);
                let body = r.text().await.unwrap();
                if body.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(&body).unwrap()
                }
            }
            Mode::SocketMode => {
                let payload: serde_json::Map<String, Value> = form
                    .iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect();
                let ack = fake
                    .socket_send(
                        "slash_commands",
                        Value::Object(payload),
                        Duration::from_secs(5),
                    )
                    .await;
                ack.get("payload").cloned().unwrap_or(Value::Null)
            }
        };
        let took = started.elapsed();
        match reply.get("text") {
            // The bot first had to look someone up: the answer follows on the response_url.
            Some(text) if text.as_str().is_some_and(|t| t.contains("One moment")) => {
                assert_eq!(reply["response_type"], "ephemeral", "{reply}");
                let later = fake.wait_response(&trigger, Duration::from_secs(15)).await;
                assert_eq!(later["replace_original"], true, "{later}");
                (later["text"].clone(), took)
            }
            Some(text) => {
                assert_eq!(reply["response_type"], "ephemeral", "{reply}");
                (text.clone(), took)
            }
            None => (Value::Null, took),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serde_urlencoded_encode(form: &[(&str, &str)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Spawns the binary and waits for its "listening on http://…" line.
async fn spawn(config: &std::path::Path, mode: Mode, api_base: &str) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asyncbot"));
    cmd.arg("serve")
        .arg("--config")
        .arg(config)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_API_URL", api_base)
        .env("RUST_LOG", "warn,asyncbot=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    match mode {
        Mode::Http => {
            cmd.env("SLACK_SIGNING_SECRET", SIGNING_SECRET);
        }
        Mode::SocketMode => {
            cmd.env("SLACK_APP_TOKEN", APP_TOKEN);
        }
    }
    let mut child = cmd.spawn().expect("start asyncbot");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            // Keep the bot's log visible in a failing test's output.
            eprintln!("[asyncbot] {line}");
            if let Some(rest) = line.split("listening on http://").nth(1).filter(|_| !sent) {
                let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                let _ = tx.send(format!("http://{addr}"));
                sent = true;
            }
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match rx.try_recv() {
            Ok(base) => return (child, base),
            Err(std::sync::mpsc::TryRecvError::Empty) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => panic!("asyncbot did not report its address (see its log above)"),
        }
    }
}

// ---- payloads --------------------------------------------------------------------------------

pub fn event_callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "ignored",
        "team_id": "T0FAKE",
        "api_app_id": "A0FAKE",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": unix_now(),
        "authorizations": [{"enterprise_id": null, "team_id": "T0FAKE", "user_id": "UBOT", "is_bot": true, "is_enterprise_install": false}],
        "is_ext_shared_channel": false
    })
}

/// A person's message in a channel; `thread_ts` makes it a reply.
pub fn message(channel: &str, user: &str, ts: &str, text: &str, thread_ts: Option<&str>) -> Value {
    let mut event = json!({
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "channel_type": "channel",
        "client_msg_id": format!("msg-{ts}"),
    });
    if let Some(root) = thread_ts {
        event["thread_ts"] = json!(root);
        event["parent_user_id"] = json!("UALICE");
    }
    event
}

pub fn reaction(user: &str, name: &str, channel: &str, ts: &str) -> Value {
    json!({
        "type": "reaction_added",
        "user": user,
        "reaction": name,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "item_user": "UALICE",
        "event_ts": new_ts()
    })
}

pub fn edited(channel: &str, user: &str, ts: &str, old_text: &str, new_text: &str) -> Value {
    json!({
        "type": "message",
        "subtype": "message_changed",
        "hidden": true,
        "channel": channel,
        "channel_type": "channel",
        "ts": new_ts(),
        "event_ts": new_ts(),
        "message": {"type": "message", "user": user, "text": new_text, "ts": ts, "edited": {"user": user, "ts": new_ts()}},
        "previous_message": {"type": "message", "user": user, "text": old_text, "ts": ts}
    })
}

pub fn deleted(channel: &str, user: &str, ts: &str, old_text: &str) -> Value {
    json!({
        "type": "message",
        "subtype": "message_deleted",
        "hidden": true,
        "channel": channel,
        "channel_type": "channel",
        "deleted_ts": ts,
        "ts": new_ts(),
        "event_ts": new_ts(),
        "previous_message": {"type": "message", "user": user, "text": old_text, "ts": ts}
    })
}

/// The fake Slack with Alice (Berlin), Bob (New York), Carol (Kolkata) and a bot user.
pub async fn fake_with_team() -> FakeSlack {
    let fake = FakeSlack::start().await;
    fake.add_user("UALICE", "alice", "Europe/Berlin");
    fake.add_user("UBOB", "bob", "America/New_York");
    fake.add_user("UCAROL", "carol", "Asia/Kolkata");
    fake.add_bot_user("UOTHERBOT", "otherbot");
    fake
}

/// Posts made with `chat.postMessage` so far (successful ones).
pub fn posts(fake: &FakeSlack) -> Vec<Call> {
    fake.calls_to("chat.postMessage")
}
