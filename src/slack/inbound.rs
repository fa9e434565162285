//! What Slack tells us, in our own terms: both transports (HTTP Events API and Socket Mode)
//! convert Slack's payloads into these types at the edge and hand them to one dispatcher.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use slack_morphism::prelude::*;

use crate::domain::presence::Dnd;
use crate::slack::ProfileStatus;

/// An event the bot acts on. Anything else is acknowledged and ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Inbound {
    /// A person posted a message (top level, or a reply when `thread_ts` is set).
    MessagePosted {
        channel: String,
        channel_type: Option<String>,
        user: String,
        ts: String,
        thread_ts: Option<String>,
        text: String,
    },
    /// A person edited their message.
    MessageEdited {
        channel: String,
        user: String,
        ts: String,
        text: String,
    },
    MessageDeleted {
        channel: String,
        ts: String,
    },
    ReactionAdded {
        user: String,
        reaction: String,
        channel: String,
        ts: String,
    },
    MemberJoinedChannel {
        user: String,
        channel: String,
    },
    AppHomeOpened {
        user: String,
    },
    /// A person's profile changed (`user_change`): their custom status as it now is
    /// (`expiration`: unix seconds, 0 for none), for what the bot knows of their presence.
    StatusChanged {
        user: String,
        emoji: String,
        text: String,
        expiration: i64,
    },
    /// A person's Do Not Disturb changed (`dnd_updated_user`).
    DndChanged {
        user: String,
        dnd: Dnd,
    },
    /// Not from Slack: delivery reports that Slack refused the message posted with `tag` for
    /// good (`not_in_channel`, `is_archived`…), so the feature that owns it can tell its owner.
    PostDropped {
        tag: String,
        reason: String,
    },
}

impl Inbound {
    /// Its kind, for log lines (never its text).
    pub fn kind(&self) -> &'static str {
        match self {
            Inbound::MessagePosted { .. } => "message",
            Inbound::MessageEdited { .. } => "message_changed",
            Inbound::MessageDeleted { .. } => "message_deleted",
            Inbound::ReactionAdded { .. } => "reaction_added",
            Inbound::MemberJoinedChannel { .. } => "member_joined_channel",
            Inbound::AppHomeOpened { .. } => "app_home_opened",
            Inbound::StatusChanged { .. } => "user_change",
            Inbound::DndChanged { .. } => "dnd_updated_user",
            Inbound::PostDropped { .. } => "post_dropped",
        }
    }
}

/// A slash command, from either transport.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    pub command: String,
    pub text: String,
    pub user_id: String,
    pub channel_id: String,
    pub trigger_id: String,
    pub response_url: String,
}

/// `response_url` lets anyone post into the channel for 30 minutes, and `trigger_id` opens a
/// modal: neither may reach a log line through `{:?}`.
impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command")
            .field("command", &self.command)
            .field("text", &self.text)
            .field("user_id", &self.user_id)
            .field("channel_id", &self.channel_id)
            .field("trigger_id", &"[redacted]")
            .field("response_url", &"[redacted]")
            .finish()
    }
}

impl From<SlackCommandEvent> for Command {
    fn from(ev: SlackCommandEvent) -> Self {
        Command {
            command: ev.command.0,
            text: ev.text.unwrap_or_default(),
            user_id: ev.user_id.0,
            channel_id: ev.channel_id.0,
            trigger_id: ev.trigger_id.0,
            response_url: ev.response_url.0.to_string(),
        }
    }
}

/// Messages posted by bots (ours included) never open or close anything.
fn is_from_bot(sender: &SlackMessageSender, subtype: Option<&SlackMessageEventType>) -> bool {
    sender.bot_id.is_some() || matches!(subtype, Some(SlackMessageEventType::BotMessage))
}

/// Converts one Events API event. `None` means "nothing for us": acknowledge and move on.
pub fn from_event(body: &SlackEventCallbackBody) -> Option<Inbound> {
    match body {
        SlackEventCallbackBody::Message(m) => from_message(m),
        SlackEventCallbackBody::ReactionAdded(r) => match &r.item {
            SlackReactionsItem::Message(msg) => Some(Inbound::ReactionAdded {
                user: r.user.0.clone(),
                reaction: r.reaction.0.clone(),
                channel: msg.origin.channel.as_ref()?.0.clone(),
                ts: msg.origin.ts.0.clone(),
            }),
            SlackReactionsItem::File(_) => None,
        },
        SlackEventCallbackBody::MemberJoinedChannel(j) => Some(Inbound::MemberJoinedChannel {
            user: j.user.0.clone(),
            channel: j.channel.0.clone(),
        }),
        SlackEventCallbackBody::AppHomeOpened(h) => Some(Inbound::AppHomeOpened {
            user: h.user.0.clone(),
        }),
        SlackEventCallbackBody::UserChange(c) => status_changed(&c.user),
        SlackEventCallbackBody::UserStatusChanged(c) => status_changed(&c.user),
        SlackEventCallbackBody::Unknown(json) => {
            if let Some(known) = from_untyped(json) {
                return known;
            }
            tracing::info!(
                event_type = json.get("type").and_then(|t| t.as_str()).unwrap_or("?"),
                subtype = json.get("subtype").and_then(|t| t.as_str()).unwrap_or(""),
                "ignoring an event this version cannot read"
            );
            None
        }
        _ => None,
    }
}

/// A profile change, as a status change; bots' and profiles without one are not ours to track.
fn status_changed(user: &SlackUser) -> Option<Inbound> {
    if user.flags.is_bot.unwrap_or(false) {
        return None;
    }
    let status = ProfileStatus::from_profile(user.profile.as_ref()?);
    Some(Inbound::StatusChanged {
        user: user.id.0.clone(),
        emoji: status.emoji,
        text: status.text,
        expiration: status.expiration,
    })
}

/// Events slack-morphism does not model (`dnd_updated_user`), or whose payload did not match
/// its shape (a `user_change` without `cache_ts`), read from the raw JSON. `None`: not one of
/// these; `Some(None)`: one of these, but nothing to act on.
fn from_untyped(json: &Value) -> Option<Option<Inbound>> {
    let str_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let int_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_i64).unwrap_or(0);
    let bool_of = |v: &Value, key: &str| v.get(key).and_then(Value::as_bool).unwrap_or(false);
    match json.get("type").and_then(Value::as_str)? {
        "user_change" | "user_status_changed" => {
            let user = json.get("user")?;
            let profile = user.get("profile");
            Some(
                match (str_of(user, "id"), profile, bool_of(user, "is_bot")) {
                    (Some(id), Some(profile), false) => Some(Inbound::StatusChanged {
                        user: id,
                        emoji: str_of(profile, "status_emoji").unwrap_or_default(),
                        text: str_of(profile, "status_text").unwrap_or_default(),
                        expiration: int_of(profile, "status_expiration"),
                    }),
                    _ => None,
                },
            )
        }
        "dnd_updated_user" | "dnd_updated" => {
            let status = json.get("dnd_status");
            Some(match (str_of(json, "user"), status) {
                (Some(user), Some(d)) => Some(Inbound::DndChanged {
                    user,
                    dnd: Dnd::from_slack(
                        bool_of(d, "dnd_enabled"),
                        int_of(d, "next_dnd_start_ts"),
                        int_of(d, "next_dnd_end_ts"),
                        bool_of(d, "snooze_enabled"),
                        int_of(d, "snooze_endtime"),
                    ),
                }),
                _ => None,
            })
        }
        _ => None,
    }
}

fn from_message(m: &SlackMessageEvent) -> Option<Inbound> {
    let channel = m.origin.channel.as_ref()?.0.clone();
    match &m.subtype {
        None
        | Some(SlackMessageEventType::ThreadBroadcast)
        | Some(SlackMessageEventType::FileShare)
        | Some(SlackMessageEventType::MeMessage) => {
            if is_from_bot(&m.sender, m.subtype.as_ref()) {
                return None;
            }
            Some(Inbound::MessagePosted {
                channel,
                channel_type: m.origin.channel_type.as_ref().map(|t| t.0.clone()),
                user: m.sender.user.as_ref()?.0.clone(),
                ts: m.origin.ts.0.clone(),
                thread_ts: m.origin.thread_ts.as_ref().map(|t| t.0.clone()),
                text: m
                    .content
                    .as_ref()
                    .and_then(|c| c.text.clone())
                    .unwrap_or_default(),
            })
        }
        Some(SlackMessageEventType::MessageChanged) => {
            let edited = m.message.as_ref()?;
            if is_from_bot(&edited.sender, None) {
                return None;
            }
            Some(Inbound::MessageEdited {
                channel,
                user: edited.sender.user.as_ref()?.0.clone(),
                ts: edited.ts.0.clone(),
                text: edited
                    .content
                    .as_ref()
                    .and_then(|c| c.text.clone())
                    .unwrap_or_default(),
            })
        }
        Some(SlackMessageEventType::MessageDeleted) => Some(Inbound::MessageDeleted {
            channel,
            ts: m
                .deleted_ts
                .as_ref()
                .or(m.previous_message.as_ref().map(|p| &p.ts))?
                .0
                .clone(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_prints_without_its_response_url_or_trigger_id() {
        let command = Command {
            command: "/rfc".into(),
            text: "help".into(),
            user_id: "U1".into(),
            channel_id: "C1".into(),
            trigger_id: "123.456.secret-trigger".into(),
            response_url: "https://hooks.slack.com/commands/T1/2/secret-hook".into(),
        };
        let printed = format!("{command:?}");
        assert!(
            printed.contains("/rfc") && printed.contains("U1"),
            "{printed}"
        );
        assert!(
            !printed.contains("secret") && !printed.contains("hooks.slack.com"),
            "{printed}"
        );
    }
    use std::path::PathBuf;

    /// Real payloads from `../shared/slack/events/`, read in place.
    fn payload(name: &str) -> Option<SlackPushEvent> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/slack/events")
            .join(name);
        let text = std::fs::read_to_string(&path).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}")))
    }

    fn convert(name: &str) -> Option<Option<Inbound>> {
        match payload(name)? {
            SlackPushEvent::EventCallback(cb) => Some(from_event(&cb.event)),
            other => panic!("{name}: not an event callback: {other:?}"),
        }
    }

    #[test]
    fn real_payloads_convert() {
        let Some(plain) = convert("messageExample.json") else {
            eprintln!("../shared/slack/events not found; skipping");
            return;
        };
        assert_eq!(
            plain,
            Some(Inbound::MessagePosted {
                channel: "C043YJGBY49".into(),
                channel_type: Some("channel".into()),
                user: "U043H11ES4V".into(),
                ts: "1663966382.046509".into(),
                thread_ts: None,
                text: "dgsfklsdgf".into(),
            })
        );
        assert_eq!(
            convert("message_deleted.json").unwrap(),
            Some(Inbound::MessageDeleted {
                channel: "C043YJGBY49".into(),
                ts: "1663966382.046509".into()
            })
        );
        assert!(matches!(
            convert("messageChange.json").unwrap(),
            Some(Inbound::MessageEdited { ref ts, .. }) if ts == "1663969333.524439"
        ));
        assert_eq!(
            convert("reaction_added.json").unwrap(),
            Some(Inbound::ReactionAdded {
                user: "W111".into(),
                reaction: "heart_eyes".into(),
                channel: "C111".into(),
                ts: "1599529504.000400".into()
            })
        );
        // Bot messages, with and without a subtype, are never ours to track.
        assert_eq!(convert("botMessage.json").unwrap(), None);
        assert_eq!(convert("message_subtype_bot_message.json").unwrap(), None);
        assert!(matches!(
            convert("app_home_opened_home.json").unwrap(),
            Some(Inbound::AppHomeOpened { .. })
        ));
        // A DM is a message too; the engine decides it tracks nothing there.
        assert!(matches!(
            convert("messageIm.json").unwrap(),
            Some(Inbound::MessagePosted { channel_type: Some(ref t), .. }) if t == "im"
        ));
    }

    /// An Events API envelope around `event`, as Slack sends it.
    fn callback(event: serde_json::Value) -> Option<Inbound> {
        let body = serde_json::json!({
            "token": "x", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": "Ev1", "event_time": 1_700_000_000, "event": event,
        });
        match serde_json::from_value::<SlackPushEvent>(body).unwrap() {
            SlackPushEvent::EventCallback(cb) => from_event(&cb.event),
            other => panic!("not an event callback: {other:?}"),
        }
    }

    fn user_change(with_cache_ts: bool, is_bot: bool) -> serde_json::Value {
        // The shape of Slack's documented `user_change` payload.
        let mut event = serde_json::json!({
            "type": "user_change",
            "user": {
                "id": "U1", "team_id": "T1", "name": "ana", "deleted": false,
                "real_name": "Ana", "tz": "Europe/Berlin", "tz_label": "CET", "tz_offset": 3600,
                "is_bot": is_bot, "updated": 1_700_000_000,
                "profile": {
                    "real_name": "Ana", "display_name": "ana",
                    "status_text": "🌴 OOO until Monday", "status_emoji": ":palm_tree:",
                    "status_expiration": 1_700_600_000,
                },
            },
            "event_ts": "1700000000.000100",
        });
        if with_cache_ts {
            event["cache_ts"] = serde_json::json!(1_700_000_000);
        }
        event
    }

    #[test]
    fn a_profile_change_is_a_status_change_whatever_its_shape() {
        let expected = Some(Inbound::StatusChanged {
            user: "U1".into(),
            emoji: ":palm_tree:".into(),
            text: "🌴 OOO until Monday".into(),
            expiration: 1_700_600_000,
        });
        // slack-morphism's typed event, and its raw fallback when a field it wants is missing.
        assert_eq!(callback(user_change(true, false)), expected);
        assert_eq!(callback(user_change(false, false)), expected);
        assert_eq!(callback(user_change(true, true)), None);
        assert_eq!(callback(user_change(false, true)), None);
        let mut cleared = user_change(true, false);
        cleared["user"]["profile"] =
            serde_json::json!({"status_text": "", "status_emoji": "", "status_expiration": 0});
        assert!(matches!(
            callback(cleared),
            Some(Inbound::StatusChanged { ref text, expiration: 0, .. }) if text.is_empty()
        ));
    }

    #[test]
    fn a_dnd_change_carries_its_window() {
        let event = serde_json::json!({
            "type": "dnd_updated_user",
            "user": "U1",
            "dnd_status": {
                "dnd_enabled": true,
                "next_dnd_start_ts": 1_700_060_000,
                "next_dnd_end_ts": 1_700_090_000,
            },
            "event_ts": "1700000000.000200",
        });
        let Some(Inbound::DndChanged { user, dnd }) = callback(event) else {
            panic!("not a DND change");
        };
        assert_eq!(user, "U1");
        assert_eq!(
            dnd,
            Dnd::from_slack(true, 1_700_060_000, 1_700_090_000, false, 0)
        );
        // Without the user or the status there is nothing to act on.
        let bare = serde_json::json!({"type": "dnd_updated_user", "event_ts": "1.2"});
        assert_eq!(callback(bare), None);
        // Round trip through the inbox's encoding.
        let stored = Inbound::DndChanged { user, dnd };
        let json = serde_json::to_string(&stored).unwrap();
        assert_eq!(serde_json::from_str::<Inbound>(&json).unwrap(), stored);
    }
}
