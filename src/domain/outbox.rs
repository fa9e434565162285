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
    /// A message only `user` sees, in `channel` (`chat.postEphemeral`): answers to button presses.
    Ephemeral { channel: String, user: String },
}

impl Destination {
    /// Whether delivering it posts a new message (which could be posted twice), as opposed to
    /// an edit (safe to repeat) or an ephemeral note.
    pub fn is_post(&self) -> bool {
        !matches!(
            self,
            Destination::Edit { .. } | Destination::Ephemeral { .. }
        )
    }

    /// The tag of the earlier message this one needs: the message it edits, or the one in whose
    /// thread it replies. If that message was dropped, this one is dropped with it.
    pub fn parent_tag(&self) -> Option<&str> {
        match self {
            Destination::Edit { tag, .. } | Destination::ThreadOfTag { tag, .. } => Some(tag),
            _ => None,
        }
    }

    /// The key outgoing messages are paced and ordered by: one conversation, one queue.
    pub fn pacing_key(&self) -> String {
        match self {
            Destination::Channel { channel }
            | Destination::Thread { channel, .. }
            | Destination::Edit { channel, .. }
            | Destination::ThreadOfTag { channel, .. }
            | Destination::Ephemeral { channel, .. } => channel.clone(),
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
    /// The people this message asks something of: it is only delivered when it is working time
    /// for all of them, checked when it goes out (it may have been due while the bot was down
    /// or behind).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quiet_for: Vec<QuietFor>,
}

/// Whose working time gates a message, and their time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietFor {
    pub user: String,
    pub tz: chrono_tz::Tz,
}

impl OutgoingMessage {
    pub fn new(destination: Destination, text: impl Into<String>) -> Self {
        Self {
            destination,
            text: text.into(),
            blocks: None,
            tag: None,
            quiet_for: Vec::new(),
        }
    }

    /// Delivered only inside `user`'s working time (in `tz`), and that of anyone added before.
    pub fn in_working_time_of(mut self, user: impl Into<String>, tz: chrono_tz::Tz) -> Self {
        let user = user.into();
        if !self.quiet_for.iter().any(|q| q.user == user) {
            self.quiet_for.push(QuietFor { user, tz });
        }
        self
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
    /// A post was attempted and its outcome is unknown (the bot was killed, or the call timed
    /// out): Slack may have accepted it. Before sending again, the conversation is searched for
    /// the post's metadata, so it is posted once.
    #[serde(default)]
    pub maybe_sent: bool,
    /// When Slack first failed it transiently (5xx, timeout, 429). A message is given up on a
    /// day after that, not a day after it was queued: time spent waiting for working hours or
    /// for a revoked token to be fixed does not count.
    #[serde(default)]
    pub first_failed_at: Option<DateTime<Utc>>,
}

impl OutboxItem {
    /// The conversation it is queued, paced and ordered in.
    pub fn conversation(&self) -> String {
        self.message.destination.pacing_key()
    }

    /// Whether a wait before it (`not_before`) is only for its recipients' working time: it
    /// was never attempted. Such a wait does not hold up the messages behind it in the same
    /// conversation (other people's messages go on); a retry's backoff does.
    pub fn waits_for_working_time(&self) -> bool {
        self.attempts == 0 && !self.message.quiet_for.is_empty()
    }
}
