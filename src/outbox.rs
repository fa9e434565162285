//! Outgoing messages as data: where a message goes and what it says. They are written to the
//! store's outbox in the same transaction as the state change that caused them, and delivered by
//! [`crate::delivery`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum Destination {
    /// A top-level message in a channel.
    Channel { channel: String },
    /// A reply in a thread.
    Thread { channel: String, thread_ts: String },
    /// The bot's direct-message conversation with one person.
    DirectMessage { user: String },
    /// A group DM of the bot with several people.
    GroupMessage { users: Vec<String> },
    /// A new version of the message posted earlier with this tag (`chat.update`).
    Edit { channel: String, tag: String },
    /// A reply in the thread of the message posted earlier with this tag.
    ThreadOfTag { channel: String, tag: String },
}

impl Destination {
    /// The key outgoing messages are paced and ordered by: one conversation, one queue.
    pub fn pacing_key(&self) -> String {
        match self {
            Destination::Channel { channel }
            | Destination::Thread { channel, .. }
            | Destination::Edit { channel, .. }
            | Destination::ThreadOfTag { channel, .. } => channel.clone(),
            Destination::DirectMessage { user } => format!("dm:{user}"),
            Destination::GroupMessage { users } => format!("group:{}", users.join(",")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    pub destination: Destination,
    /// Slack mrkdwn; also the notification text when `blocks` are set.
    pub text: String,
    /// Block Kit blocks as JSON, when the message needs more than text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<serde_json::Value>,
    /// Names the posted message, so it can be found later (edits, replies in its thread,
    /// reactions to it): `rfc:12`, `sla:7:nudge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

impl OutgoingMessage {
    pub fn new(destination: Destination, text: impl Into<String>) -> Self {
        Self {
            destination,
            text: text.into(),
            blocks: None,
            tag: None,
        }
    }

    pub fn with_blocks(mut self, blocks: serde_json::Value) -> Self {
        self.blocks = Some(blocks);
        self
    }

    pub fn tagged(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxItem {
    pub id: u64,
    pub message: OutgoingMessage,
    pub created_at: DateTime<Utc>,
    /// Not to be sent before this (a Retry-After or a backoff).
    pub not_before: DateTime<Utc>,
    pub attempts: u32,
}
