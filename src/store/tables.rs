//! Every table of the store, in one place, with what it holds and how long (the retention rule).
//! The modules beside this one each own a group of these tables and the reads and writes on them.

use redb::{MultimapTableDefinition, TableDefinition};

/// Counters (`next_request_id`, …).
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Slack `event_id`s already accepted, with when (unix ms): retries are processed once.
pub(super) const SEEN_EVENTS: TableDefinition<&str, i64> = TableDefinition::new("seen_events");
/// Accepted events not yet processed, in arrival order. Acked to Slack only once written here.
pub(super) const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("inbox");
/// SLA requests by id (JSON `SlaRequest`), open and recently closed.
pub(super) const REQUESTS: TableDefinition<u64, &[u8]> = TableDefinition::new("sla_requests");
/// "channel:message_ts" → request ids of that message.
pub(super) const REQUESTS_BY_MESSAGE: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_requests_by_message");
/// "channel:thread_root" → request ids living in that thread.
pub(super) const REQUESTS_BY_THREAD: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_requests_by_thread");
/// recipient → ids of their *open* requests. Invariant: holds exactly the open requests.
pub(super) const OPEN_BY_RECIPIENT: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_open_by_recipient");
/// author → ids of *open* requests they are waiting on. Same invariant.
pub(super) const OPEN_BY_AUTHOR: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_open_by_author");
/// (due unix ms, timer key) → (). Invariant: one entry per entity with a pending timer, at the
/// due time the entity itself records.
pub(super) const TIMERS: TableDefinition<(i64, &str), ()> = TableDefinition::new("timers");
/// Messages to deliver, in order (JSON `OutboxItem`).
pub(super) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
/// Facts learnt at start-up that offline tools need (`team_url`).
pub(super) const FACTS: TableDefinition<&str, &str> = TableDefinition::new("facts");
/// RFCs by number (JSON `Rfc`): the decision log. Never pruned.
pub(super) const RFCS: TableDefinition<u64, &[u8]> = TableDefinition::new("rfcs");
/// channel → RFC numbers posted there.
pub(super) const RFCS_BY_CHANNEL: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("rfcs_by_channel");
/// channel → JSON `Schedule`.
pub(super) const STANDUP_SCHEDULES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("standup_schedules");
/// "channel:YYYY-MM-DD" → JSON `StandupDay`.
pub(super) const STANDUP_DAYS: TableDefinition<&str, &[u8]> = TableDefinition::new("standup_days");
/// user → JSON `Vec<Away>`.
pub(super) const AWAY: TableDefinition<&str, &[u8]> = TableDefinition::new("away");
/// tag → "channel ts" of the message posted with that tag.
pub(super) const TAGS: TableDefinition<&str, &str> = TableDefinition::new("message_tags");
/// "channel:ts" → tag: which of our messages a reply or a reaction is about.
pub(super) const TAGGED_MESSAGES: TableDefinition<&str, &str> =
    TableDefinition::new("tagged_messages");
/// Cached `users.info` answers (JSON `CachedUser`).
pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// People whose `users.info` lookup failed or was skipped (Slack slow): user → since (unix ms).
/// Their requests run on the fallback zone until a later lookup corrects them.
pub(super) const PENDING_LOOKUPS: TableDefinition<&str, i64> =
    TableDefinition::new("pending_lookups");
/// Work that failed repeatedly (JSON `DeadLetter`), kept for an operator: never retried on its
/// own, listed by `asyncbot dead-letters`.
pub(super) const DEAD_LETTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
/// Tags of messages Slack refused for good, with when (unix ms): whatever refers to them (an
/// edit, a reply in their thread) is dropped at once instead of waiting for a post that never
/// comes.
pub(super) const DROPPED_TAGS: TableDefinition<&str, i64> = TableDefinition::new("dropped_tags");
/// (conversation, outbox id) → (): each conversation's queue in order, the conversation being
/// [`crate::domain::outbox::Destination::pacing_key`]. Invariant: exactly one entry per OUTBOX
/// entry, written and removed in the same transactions; built once from OUTBOX when a store
/// from before it is opened. Retention: that of the outbox.
pub(super) const OUTBOX_QUEUES: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("outbox_queues");
/// parent tag → ids of queued messages that need it (edits of it, replies in its thread), so a
/// dropped message takes its dependants without a scan. Same invariant and retention.
pub(super) const OUTBOX_BY_PARENT: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("outbox_by_parent_tag");
/// (tag, outbox id) → (): queued messages by their own tag, so a request's queued nudges are
/// withdrawn by tag prefix without a scan. Same invariant and retention.
pub(super) const OUTBOX_BY_TAG: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("outbox_by_tag");
