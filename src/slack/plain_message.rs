//! The commonest delivery, read the short way: a person's plain message (a `message` event with
//! no subtype and no `bot_id`) in an Events API `event_callback`.
//!
//! slack-morphism's model reads every delivery into typed events whose enums are tagged and whose
//! message is three flattened structs: serde buffers the event several times over and builds
//! every block of its rich text: under the ack harness, 8 % of the bot's CPU and a sixth of its
//! HTTP threads' time went there (`perf`; see README, "Performance"). Here the envelope is read
//! with the same required fields and the same types as the full model, so a body the full parse
//! refuses is refused here too, and the event only for the six fields asyncbot keeps; its blocks
//! are skipped unread.
//!
//! Anything else (another event type, a subtype, a bot's message, a field missing or shaped
//! otherwise than expected) gives `None`, and the caller takes the full parse: this path never
//! decides anything the full one would not. For every body both read, both give the same event
//! (held by the tests below, on Slack's real payloads and on generated ones). One difference is
//! on purpose: a message whose *blocks* slack-morphism cannot model falls to its `Unknown`
//! event, which the full path ignores; here it is read, since asyncbot never reads blocks.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use slack_morphism::prelude::*;

use super::inbound::Inbound;

/// The envelope: the fields slack-morphism's `SlackPushEventCallback` requires or types, with
/// its types (unused here, read only so that what it refuses is refused).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    event_id: SlackEventId,
    #[serde(borrow)]
    event: &'a RawValue,
    #[serde(rename = "team_id")]
    _team_id: SlackTeamId,
    #[serde(rename = "api_app_id")]
    _api_app_id: SlackAppId,
    #[serde(rename = "event_time")]
    _event_time: SlackDateTime,
    #[serde(rename = "event_context")]
    _event_context: Option<SlackEventContext>,
    #[serde(rename = "authed_users")]
    _authed_users: Option<Vec<SlackUserId>>,
    #[serde(rename = "authorizations")]
    _authorizations: Option<Vec<SlackEventAuthorization>>,
}

/// The fields of a message event that decide whether it is a plain one, and what it says.
#[derive(Deserialize)]
struct Message {
    #[serde(rename = "type")]
    kind: String,
    subtype: Option<IgnoredAny>,
    bot_id: Option<IgnoredAny>,
    user: Option<String>,
    channel: Option<String>,
    channel_type: Option<String>,
    ts: String,
    thread_ts: Option<String>,
    text: Option<String>,
}

/// A person's plain message, with its delivery's `event_id`; `None` for anything else, which
/// the caller reads with the full parse.
pub fn read(body: &str) -> Option<(String, Inbound)> {
    let envelope: Envelope<'_> = serde_json::from_str(body).ok()?;
    if envelope.kind != "event_callback" {
        return None;
    }
    let message: Message = serde_json::from_str(envelope.event.get()).ok()?;
    if message.kind != "message" || message.subtype.is_some() || message.bot_id.is_some() {
        return None;
    }
    Some((
        envelope.event_id.0,
        Inbound::MessagePosted {
            channel: message.channel?,
            channel_type: message.channel_type,
            user: message.user?,
            ts: message.ts,
            thread_ts: message.thread_ts,
            text: message.text.unwrap_or_default(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::slack::inbound::from_event;

    /// What the full parse makes of `body`: `Err` when it refuses it, else the delivery's
    /// `event_id` and its event, if it is one asyncbot acts on.
    fn full(body: &str) -> Result<Option<(String, Option<Inbound>)>, ()> {
        match serde_json::from_str::<SlackPushEvent>(body).map_err(|_| ())? {
            SlackPushEvent::EventCallback(cb) => Ok(Some((cb.event_id.0, from_event(&cb.event)))),
            _ => Ok(None),
        }
    }

    /// The short way agrees with the full parse on `body`: whatever it reads, the full parse
    /// reads the same; `read_it` says whether it must read it at all.
    fn agrees(body: &str, read_it: bool) {
        let short = read(body);
        assert_eq!(short.is_some(), read_it, "read or not: {body}");
        if let Some((id, event)) = short {
            assert_eq!(full(body), Ok(Some((id, Some(event)))), "{body}");
        }
    }

    fn envelope(event: Value) -> Value {
        json!({
            "token": "x", "team_id": "T1", "context_team_id": "T1", "api_app_id": "A1",
            "event": event, "type": "event_callback", "event_id": "Ev1", "event_time": 1_700_000_000,
            "authorizations": [{"enterprise_id": null, "team_id": "T1", "user_id": "U9",
                "is_bot": true, "is_enterprise_install": false}],
            "is_ext_shared_channel": false, "event_context": "4-eyJldCI6Im1lc3NhZ2UifQ",
        })
    }

    fn plain(text: &str) -> Value {
        json!({
            "type": "message", "user": "U1", "channel": "C1", "channel_type": "channel",
            "ts": "1700000000.000100", "event_ts": "1700000000.000100", "text": text,
            "client_msg_id": "0d5f7c1e-4b7a-4c1e-9a1b-000000000001", "team": "T1",
            "blocks": [{"type": "rich_text", "block_id": "b1", "elements": [{
                "type": "rich_text_section", "elements": [
                    {"type": "user", "user_id": "U2"}, {"type": "text", "text": " can you review?"}]}]}],
        })
    }

    #[test]
    fn slacks_real_payloads_read_the_same_both_ways() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/slack/events");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("{} not found; skipping", dir.display());
            return;
        };
        let mut read_short = Vec::new();
        for entry in entries {
            let path = entry.unwrap().path();
            let body = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            // Everything read the short way is read the same the full way.
            if let Some((id, event)) = read(&body) {
                assert_eq!(full(&body), Ok(Some((id, Some(event)))), "{name}");
                read_short.push(name);
            }
        }
        read_short.sort();
        // The plain messages, and nothing else (no bot message, no edit, no deletion).
        assert_eq!(
            read_short,
            [
                "messageExample.json",
                "messageIm.json",
                "message_rich_text.json"
            ]
        );
    }

    #[test]
    fn the_plain_message_is_read_and_everything_else_goes_the_full_way() {
        agrees(&envelope(plain("<@U2> can you review?")).to_string(), true);
        let mut in_thread = plain("<@U2> and this?");
        in_thread["thread_ts"] = json!("1699999999.000100");
        agrees(&envelope(in_thread).to_string(), true);
        let mut no_text = plain("");
        no_text.as_object_mut().unwrap().remove("text");
        agrees(&envelope(no_text).to_string(), true);

        let with = |key: &str, value: Value| {
            let mut event = plain("<@U2> hi");
            event[key] = value;
            envelope(event).to_string()
        };
        // Not plain: the full parse decides.
        agrees(&with("subtype", json!("bot_message")), false);
        agrees(&with("subtype", json!("thread_broadcast")), false);
        agrees(&with("bot_id", json!("B1")), false);
        agrees(&with("type", json!("app_mention")), false);
        // Shaped otherwise than expected: the full parse decides.
        agrees(&with("user", json!(42)), false);
        agrees(&with("text", json!(["not", "text"])), false);
        let mut no_user = plain("hi");
        no_user.as_object_mut().unwrap().remove("user");
        agrees(&envelope(no_user).to_string(), false);
        // Null is absent, for both.
        agrees(&with("subtype", Value::Null), true);
        agrees(&with("bot_id", Value::Null), true);

        // An envelope the full parse refuses is refused here too.
        for missing in [
            "team_id",
            "api_app_id",
            "event_id",
            "event_time",
            "event",
            "type",
        ] {
            let mut body = envelope(plain("hi"));
            body.as_object_mut().unwrap().remove(missing);
            let body = body.to_string();
            assert_eq!(read(&body), None, "without {missing}");
            assert_eq!(full(&body), Err(()), "the full parse without {missing}");
        }
        let mut bad_time = envelope(plain("hi"));
        bad_time["event_time"] = json!("yesterday");
        assert_eq!(read(&bad_time.to_string()), None);
        assert_eq!(full(&bad_time.to_string()), Err(()));
        let mut url_verification = envelope(plain("hi"));
        url_verification["type"] = json!("url_verification");
        assert_eq!(read(&url_verification.to_string()), None);
        for junk in ["", "{", "null", "[]", "{\"type\":\"event_callback\"}"] {
            assert_eq!(read(junk), None, "{junk:?}");
        }
    }

    proptest! {
        /// Any text (any Unicode, escapes, Slack's `<!channel>` and mentions), in a thread or
        /// not, in any kind of conversation: both ways give the same event.
        #[test]
        fn any_plain_message_reads_the_same_both_ways(
            text in "\\PC{0,200}|(<@U[A-Z0-9]{1,10}>|<!channel>|<!here>|[ \"\\\\\\n\\t€😀a-z?]){0,40}",
            user in "[UW][A-Z0-9]{1,12}",
            channel in "[CDG][A-Z0-9]{1,12}",
            channel_type in proptest::option::of("channel|group|im|mpim"),
            thread in proptest::option::of("[0-9]{10}\\.[0-9]{6}"),
            blocks in any::<bool>(),
        ) {
            let mut event = plain(&text);
            event["user"] = json!(user);
            event["channel"] = json!(channel);
            match channel_type {
                Some(t) => event["channel_type"] = json!(t),
                None => { event.as_object_mut().unwrap().remove("channel_type"); }
            }
            if let Some(t) = thread {
                event["thread_ts"] = json!(t);
            }
            if !blocks {
                event.as_object_mut().unwrap().remove("blocks");
            }
            let body = envelope(event).to_string();
            let short = read(&body);
            prop_assert!(short.is_some());
            let (id, event) = short.unwrap();
            prop_assert_eq!(full(&body), Ok(Some((id, Some(event)))));
        }

        /// Whatever bytes arrive, the short way never panics, and reads nothing the full parse
        /// refuses.
        #[test]
        fn any_body_is_read_only_if_the_full_parse_reads_it(body in "\\PC{0,300}") {
            if read(&body).is_some() {
                prop_assert!(full(&body).is_ok());
            }
        }
    }
}
