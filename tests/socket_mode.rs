//! Socket Mode end to end: a refused app token stops the start with a clear message, an outage
//! at start is waited out, and after Slack drops or refreshes every connection the bot reconnects
//! and keeps working, without ever logging a ticket URL, a token or a `response_url`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// The bot's own process with its whole log (stderr) kept for inspection.
struct Bot {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Bot {
    fn spawn(fake: &FakeSlack, app_token: &str, rust_log: &str, config: &str) -> Bot {
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
        let mut child = Command::new(env!("CARGO_BIN_EXE_asyncbot"))
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_APP_TOKEN", app_token)
            .env("SLACK_API_URL", fake.api_base())
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start asyncbot");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[asyncbot] {line}");
                lines.lock().unwrap().push(line);
            }
        });
        Bot {
            child,
            log,
            reader: Some(reader),
            _dir: dir,
        }
    }

    /// Waits for the process to end on its own.
    async fn exit_status(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the bot is still running after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the process and returns its whole log.
    fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        self.log.lock().unwrap().join("\n")
    }

    fn log_contains(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Nothing secret in a log: no ticket, no token, no `response_url`, no `trigger_id`.
fn assert_no_secrets(log: &str, extra: &[&str]) {
    for secret in [
        "ticket=",
        APP_TOKEN,
        BOT_TOKEN,
        "hooks.slack.com",
        "123.456.abc",
    ]
    .iter()
    .chain(extra)
    {
        assert!(
            !log.contains(secret),
            "the log carries {secret:?}:\n{}",
            log.lines()
                .filter(|l| l.contains(secret))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// A wrong `SLACK_APP_TOKEN` (a revoked one, or the bot token pasted in its place) stops the
/// start with a message that names the variable and what it must be, and no token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_app_token_stops_the_start_with_a_clear_message() {
    let fake = fake_with_team().await;
    for (code, token) in [
        ("invalid_auth", "xapp-1-A0FAKE-revoked-secret"),
        ("not_allowed_token_type", BOT_TOKEN),
    ] {
        fake.fail_next(
            "apps.connections.open",
            vec![Failure::ApiError(code.to_owned())],
        );
        let mut bot = Bot::spawn(&fake, token, "warn,asyncbot=debug", FAST_NORMS);
        let status = bot.exit_status(Duration::from_secs(30)).await;
        let log = bot.stop();
        assert!(!status.success(), "{code}: exited with {status}");
        for expected in ["SLACK_APP_TOKEN", code, "xapp-", "connections:write"] {
            assert!(log.contains(expected), "{code}: no {expected:?} in:\n{log}");
        }
        assert!(!log.contains("listening on"), "{code}: it served:\n{log}");
        assert_no_secrets(&log, &[token]);
    }
    assert_eq!(fake.socket_connections(), 0);
}

/// Slack unreachable for a moment at start: the check retries, and the bot starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_at_start_is_waited_out() {
    let fake = fake_with_team().await;
    fake.fail_next(
        "apps.connections.open",
        vec![Failure::ServerError, Failure::ServerError],
    );
    let app = TestApp::start(&fake, Mode::SocketMode, FAST_NORMS).await;
    let (reply, _) = app.command(&fake, "/sla", "", "UBOB", "CENG").await;
    assert!(reply.contains("Our response-time norms"), "{reply}");
}

fn joined(channel: &str) -> Value {
    json!({
        "type": "member_joined_channel", "user": "UBOT", "channel": channel,
        "channel_type": "C", "team": "T0FAKE", "inviter": "UALICE"
    })
}

async fn deliver(fake: &FakeSlack, event: Value) {
    let ack = fake
        .socket_send(
            "events_api",
            event_callback(&new_event_id(), event),
            Duration::from_secs(10),
        )
        .await;
    assert!(ack.get("envelope_id").is_some(), "bad ack {ack}");
}

async fn sla_command(fake: &FakeSlack) -> String {
    let payload = json!({
        "token": "ignored", "team_id": "T0FAKE", "team_domain": "fake",
        "channel_id": "CENG", "channel_name": "eng", "user_id": "UBOB", "user_name": "bob",
        "command": "/sla", "text": "", "api_app_id": "A0FAKE",
        "response_url": "https://hooks.slack.com/commands/T0FAKE/1/abc",
        // A new action each time: a repeated trigger is a replay, acked and not run again.
        "trigger_id": format!("{}.trigger", new_event_id()),
    });
    let ack = fake
        .socket_send("slash_commands", payload, Duration::from_secs(10))
        .await;
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
    ack["payload"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Slack drops every connection without warning, then asks for a refresh: each time the bot
/// reconnects and events and commands still flow. Its log, at trace level for every library,
/// never carries a ticket URL, a token or a `response_url`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_reconnects_after_slack_drops_every_connection_and_logs_no_secret() {
    let fake = fake_with_team().await;
    let mut bot = Bot::spawn(&fake, APP_TOKEN, "trace", FAST_NORMS);
    fake.wait_socket_connections(2, Duration::from_secs(30))
        .await;
    assert!(sla_command(&fake).await.contains("Our response-time norms"));

    let before = fake.socket_connections();
    fake.socket_drop_all();
    fake.wait_socket_connections(before + 2, Duration::from_secs(30))
        .await;
    fake.wait_socket_connected(Duration::from_secs(10)).await;
    deliver(&fake, joined("CNEW1")).await;
    fake.wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
        c.arg("channel").as_deref() == Some("CNEW1")
    })
    .await;

    let before = fake.socket_connections();
    fake.socket_disconnect_all().await;
    fake.wait_socket_connections(before + 2, Duration::from_secs(30))
        .await;
    fake.wait_socket_connected(Duration::from_secs(10)).await;
    deliver(&fake, joined("CNEW2")).await;
    fake.wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
        c.arg("channel").as_deref() == Some("CNEW2")
    })
    .await;
    assert!(sla_command(&fake).await.contains("Our response-time norms"));

    assert!(bot.log_contains("Socket Mode connection lost; reconnecting"));
    assert!(bot.log_contains("Slack asks to reconnect"));
    let log = bot.stop();
    assert!(log.contains("host=127.0.0.1"), "{log}");
    assert_no_secrets(&log, &[]);
}
