//! The in-process rig: the whole bot without its transports (`Core`: dispatch, store, timers,
//! people, delivery) on a temp store, against the in-memory Slack, on tokio's virtual clock.
//! Tests run on a paused current-thread runtime, so `bot.run_for(days(3))` walks three days of
//! timers in milliseconds, and every post carries the virtual instant it was sent at.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;
use tokio_util::sync::{CancellationToken, DropGuard};

use asyncbot::app::{Core, CoreOptions};
use asyncbot::engine::clock::{Now, tokio_clock};
use asyncbot::slack::dispatch::ONE_MOMENT;
use asyncbot::slack::inbound::{Command, Inbound};
use asyncbot::slack::memory::{MemorySlack, Sent, SentKind};
use asyncbot::store::Store;
use asyncbot::store::prelude::*;

pub const CHANNEL: &str = "CENG";
/// The bot's own user id in the in-memory Slack.
pub const BOT: &str = "UASYNCBOT";

pub fn hours(h: u64) -> Duration {
    Duration::from_secs(h * 3600)
}

pub fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// An instant written in a zone's local time, e.g. `at("2026-11-23 10:00", "Europe/Berlin")`.
pub fn at(local: &str, tz: &str) -> DateTime<Utc> {
    let tz: Tz = tz.parse().expect("an IANA zone");
    let naive = chrono::NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M").expect("a time");
    naive
        .and_local_timezone(tz)
        .single()
        .expect("an unambiguous local time")
        .with_timezone(&Utc)
}

/// `instant` as a reader in `tz` sees it: "Mon 2026-11-23 10:00".
pub fn local(instant: DateTime<Utc>, tz: &str) -> String {
    let tz: Tz = tz.parse().expect("an IANA zone");
    instant
        .with_timezone(&tz)
        .format("%a %Y-%m-%d %H:%M")
        .to_string()
}

/// The bot, running. Dropping it stops its workers.
pub struct Bot {
    pub slack: MemorySlack,
    pub core: Core,
    pub store: Store,
    now: Now,
    shutdown: CancellationToken,
    /// Stops the workers when the test ends.
    _stop_on_drop: DropGuard,
    counter: AtomicU64,
    _dir: tempfile::TempDir,
}

/// The team: Alice in Berlin, Bob in New York, Carol in Kolkata, Dan in Sydney, and another
/// app's bot user.
pub fn team(slack: &MemorySlack) {
    slack.add_person("UALICE", "alice", "Europe/Berlin");
    slack.add_person("UBOB", "bob", "America/New_York");
    slack.add_person("UCAROL", "carol", "Asia/Kolkata");
    slack.add_person("UDAN", "dan", "Australia/Sydney");
    slack.add_bot("UOTHERBOT", "otherbot");
}

impl Bot {
    /// Starts the bot at `start` with `config` (TOML layered over the built-in defaults, which
    /// are the real norms: 24 business hours, Mon–Fri 09:00–18:00, the default ladder) and the
    /// team of [`team`]. Must run on a paused runtime: `#[tokio::test(start_paused = true)]`.
    pub async fn start(start: DateTime<Utc>, config: &str) -> Bot {
        Self::start_with(start, config, team).await
    }

    pub async fn start_with(
        start: DateTime<Utc>,
        config: &str,
        people: impl FnOnce(&MemorySlack),
    ) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("asyncbot.toml");
        std::fs::write(
            &path,
            format!(
                "[store]\npath = {:?}\n\n{config}",
                dir.path().join("asyncbot.redb").display().to_string()
            ),
        )
        .unwrap();
        let settings = Arc::new(asyncbot::config::load(Some(&path), &[]).expect("a valid config"));
        let store = Store::open(&settings.store_path).unwrap();
        let now = tokio_clock(start);
        let slack = MemorySlack::new(now.clone());
        people(&slack);
        let shutdown = CancellationToken::new();
        // Idle workers look again hourly, not every minute: on the virtual clock every wake-up
        // costs real time, and nothing may depend on that safety net (wake-ups are by notify or
        // by the next due time), so a missed wake-up shows here as a failing test.
        let core = Core::start_with(
            store.clone(),
            Arc::new(slack.clone()),
            settings,
            slack.identity(),
            now.clone(),
            shutdown.clone(),
            CoreOptions {
                idle_recheck: Some(std::time::Duration::from_secs(3600)),
                ..CoreOptions::default()
            },
        )
        .expect("the core starts");
        // The workers take their first step at the test's first await, still at `start`.
        Bot {
            slack,
            core,
            store,
            now,
            _stop_on_drop: shutdown.clone().drop_guard(),
            shutdown,
            counter: AtomicU64::new(1),
            _dir: dir,
        }
    }

    /// Stops the bot and closes its store, so that the offline tools (`asyncbot decisions …`)
    /// may open it; returns its directory (kept alive) and config file.
    pub async fn stop(self) -> (tempfile::TempDir, std::path::PathBuf) {
        self.shutdown.cancel();
        let Bot {
            core,
            store,
            _dir: dir,
            ..
        } = self;
        let Core {
            dispatcher,
            engine,
            mut tasks,
            ..
        } = core;
        while tasks.join_next().await.is_some() {}
        drop((dispatcher, engine, store));
        let config = dir.path().join("asyncbot.toml");
        (dir, config)
    }

    /// The virtual time now.
    pub fn now(&self) -> DateTime<Utc> {
        (self.now)()
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh Slack `ts` at the virtual time now, unique within the test.
    pub fn new_ts(&self) -> String {
        format!("{}.{:06}", self.now().timestamp(), self.next())
    }

    /// Lets every task run what it can without time passing (a store call, a post).
    pub async fn settle(&self) {
        // Each yield lets the workers take one step; store calls run on blocking threads, and
        // a tiny virtual sleep waits for them (tokio does not advance while they run).
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Lets `d` of virtual time pass: every timer due meanwhile fires at its instant.
    pub async fn run_for(&self, d: Duration) {
        tokio::time::sleep(d).await;
        self.settle().await;
    }

    /// Lets virtual time pass until `instant`.
    pub async fn run_until(&self, instant: DateTime<Utc>) {
        let left = (instant - self.now())
            .to_std()
            .expect("an instant in the future");
        self.run_for(left).await;
    }

    /// Delivers an event, already converted, under a given `event_id` (a Slack retry reuses it).
    pub async fn event_with_id(&self, event_id: &str, event: Inbound) {
        let now = self.now();
        let id = event_id.to_owned();
        self.store
            .call(move |s| s.accept_event(Some(&id), &event, now))
            .await
            .unwrap();
        self.core.engine.wakers.inbox.notify_one();
        self.settle().await;
    }

    /// Delivers an Events API `event` (Slack's JSON) through the dispatcher, as both transports
    /// do: the conversion at the edge (bots, subtypes) is part of what is tested.
    pub async fn deliver(&self, event: serde_json::Value) {
        let callback = json!({
            "token": "ignored",
            "team_id": "TSIMULATED",
            "api_app_id": "A0FAKE",
            "event": event,
            "type": "event_callback",
            "event_id": format!("Ev{:010}", self.next()),
            "event_time": self.now().timestamp(),
        });
        let callback = serde_json::from_value(callback).expect("an event Slack could send");
        self.core.dispatcher.accept_event(callback).await.unwrap();
        self.settle().await;
    }

    /// A person posts in a channel (a `D…` channel is a DM to the bot); returns its `ts`.
    pub async fn post(&self, channel: &str, user: &str, text: &str) -> String {
        let ts = self.new_ts();
        let channel_type = if channel.starts_with('D') {
            "im"
        } else {
            "channel"
        };
        self.deliver(json!({
            "type": "message", "channel": channel, "channel_type": channel_type,
            "user": user, "text": text, "ts": ts, "event_ts": ts,
            "client_msg_id": format!("msg-{ts}"),
        }))
        .await;
        ts
    }

    /// A person replies in a thread; returns the reply's `ts`.
    pub async fn reply(&self, channel: &str, user: &str, thread: &str, text: &str) -> String {
        let ts = self.new_ts();
        self.deliver(json!({
            "type": "message", "channel": channel, "channel_type": "channel",
            "user": user, "text": text, "ts": ts, "event_ts": ts, "thread_ts": thread,
            "client_msg_id": format!("msg-{ts}"),
        }))
        .await;
        ts
    }

    pub async fn react(&self, user: &str, reaction: &str, channel: &str, ts: &str) {
        self.deliver(json!({
            "type": "reaction_added", "user": user, "reaction": reaction,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": self.new_ts(),
        }))
        .await;
    }

    /// `user` edits their message `ts` to read `text`.
    pub async fn edit(&self, channel: &str, user: &str, ts: &str, old: &str, text: &str) {
        self.deliver(json!({
            "type": "message", "subtype": "message_changed", "hidden": true,
            "channel": channel, "channel_type": "channel",
            "ts": self.new_ts(), "event_ts": self.new_ts(),
            "message": {"type": "message", "user": user, "text": text, "ts": ts,
                        "edited": {"user": user, "ts": self.new_ts()}},
            "previous_message": {"type": "message", "user": user, "text": old, "ts": ts},
        }))
        .await;
    }

    /// `user`'s message `ts` is deleted.
    pub async fn delete(&self, channel: &str, user: &str, ts: &str, old: &str) {
        self.deliver(json!({
            "type": "message", "subtype": "message_deleted", "hidden": true,
            "channel": channel, "channel_type": "channel", "deleted_ts": ts,
            "ts": self.new_ts(), "event_ts": self.new_ts(),
            "previous_message": {"type": "message", "user": user, "text": old, "ts": ts},
        }))
        .await;
    }

    /// Runs a slash command as `user` in `channel`; returns what the user reads: the ephemeral
    /// answer, or, when the bot first had to look someone up, the answer that replaced its
    /// "one moment" through the `response_url`.
    pub async fn command(&self, command: &str, text: &str, user: &str, channel: &str) -> String {
        let n = self.next();
        let response_url = format!("https://hooks.slack.test/commands/{n}");
        let reply = self
            .core
            .dispatcher
            .command(Command {
                command: command.into(),
                text: text.into(),
                user_id: user.into(),
                channel_id: channel.into(),
                trigger_id: format!("{n}.trigger"),
                response_url: response_url.clone(),
            })
            .await;
        self.settle().await;
        if reply.text != ONE_MOMENT {
            return reply.text;
        }
        for _ in 0..100 {
            if let Some(answer) = self
                .slack
                .sent()
                .into_iter()
                .find(|s| s.kind == SentKind::Response && s.channel == response_url)
            {
                return answer.text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{command} {text:?}: the answer after \"one moment\" never came");
    }

    /// `user` presses a button (`value`) in a message the bot posted in `channel`, as Slack
    /// sends it, through the dispatcher; with `option`, picks that option's value in a select
    /// menu instead. Each press has its own trigger; returns it, so a test can replay it as
    /// Slack's retry does.
    pub async fn click(&self, user: &str, channel: &str, action_id: &str, value: &str) -> String {
        let trigger = format!("{}.trigger", self.next());
        self.click_with_trigger(user, channel, action_id, value, &trigger)
            .await;
        trigger
    }

    /// [`Bot::click`] with a given trigger (a replay reuses the first press's).
    pub async fn click_with_trigger(
        &self,
        user: &str,
        channel: &str,
        action_id: &str,
        value: &str,
        trigger: &str,
    ) {
        // A select menu's press carries the picked option; a button's its value.
        let action = if action_id.ends_with("_eta") {
            json!({
                "type": "static_select", "action_id": action_id, "block_id": "actions",
                "selected_option": {"text": {"type": "plain_text", "text": "choice"}, "value": value},
                "action_ts": self.new_ts(),
            })
        } else {
            json!({
                "type": "button", "action_id": action_id, "block_id": "actions",
                "value": value, "action_ts": self.new_ts(),
                "text": {"type": "plain_text", "text": "button"},
            })
        };
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "TSIMULATED", "domain": "sim"},
            "user": {"id": user, "username": user.to_lowercase(), "team_id": "TSIMULATED"},
            "api_app_id": "A0FAKE",
            "token": "ignored",
            "container": {"type": "message", "message_ts": self.new_ts(), "channel_id": channel, "is_ephemeral": false},
            "trigger_id": trigger,
            "channel": {"id": channel, "name": channel.to_lowercase()},
            "response_url": "https://hooks.slack.test/actions/1",
            "actions": [action],
        });
        let event = serde_json::from_value(payload).expect("an interaction Slack could send");
        self.core.dispatcher.interaction(&event).await;
        // A press may queue several messages to one conversation (the answer to the presser,
        // a note to the asker, an edit): they go out paced, a second apart.
        self.run_for(Duration::from_secs(5)).await;
    }

    /// The ephemeral notes `user` was shown, in order.
    pub fn notes_for(&self, user: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| s.kind == SentKind::Ephemeral && s.only_for.as_deref() == Some(user))
            .collect()
    }

    /// Everything the bot sent, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.slack.sent()
    }

    /// The bot's posts (not edits, ephemerals or command answers), in order.
    pub fn posts(&self) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|s| s.kind == SentKind::Post)
            .collect()
    }

    /// Posts in the thread of `ts`.
    pub fn posts_in_thread(&self, ts: &str) -> Vec<Sent> {
        self.posts()
            .into_iter()
            .filter(|s| s.thread_ts.as_deref() == Some(ts))
            .collect()
    }

    /// Posts to a conversation (a channel, `D{user}`, `G{users}`).
    pub fn posts_to(&self, channel: &str) -> Vec<Sent> {
        self.posts()
            .into_iter()
            .filter(|s| s.channel == channel)
            .collect()
    }

    /// Requests still waiting for an answer (what `/healthz` reports as `open_requests`).
    pub fn open_requests(&self) -> u64 {
        self.store.read(|rx| rx.count_open_requests()).unwrap()
    }

    /// What was sent, one line each, with the time in `tz`: for failure messages.
    pub fn transcript(&self, tz: &str) -> String {
        self.sent()
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} {}{} {}",
                    local(s.at, tz),
                    s.kind,
                    s.channel,
                    s.thread_ts
                        .as_deref()
                        .map(|t| format!(" (thread {t})"))
                        .unwrap_or_default(),
                    s.text.replace('\n', " / ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What a reader sees of a post or an edit: its text, then every text in its blocks.
pub fn shown(sent: &Sent) -> String {
    fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match value {
                        serde_json::Value::String(t) if key == "text" => out.push(t.clone()),
                        other => collect(other, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
            _ => {}
        }
    }
    let mut parts = vec![sent.text.clone()];
    if let Some(blocks) = &sent.blocks {
        collect(blocks, &mut parts);
    }
    parts.join("\n")
}
