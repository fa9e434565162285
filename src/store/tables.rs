//! Every table of the store, in one place, with what it holds and how long (the retention rule).
//! The modules beside this one each own a group of these tables and the reads and writes on them.
//!
//! Each table's doc says what removes its rows. "The pruner" is `retention`: it runs at start
//! and every ten minutes on the engine's clock, in small chunks found through the `*_BY_*` time
//! indexes below, so it never walks a whole table (see README, "What the store keeps, and for
//! how long").

use redb::{MultimapTableDefinition, TableDefinition};

/// Counters (`next_request_id`, …). A fixed set of keys: nothing to remove.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Slack `event_id`s and command or interaction replay keys already accepted, with when (unix
/// ms): retries are processed once. Kept a day (Slack retries within minutes), then removed by
/// the pruner through [`SEEN_BY_TIME`].
pub(super) const SEEN_EVENTS: TableDefinition<&str, i64> = TableDefinition::new("seen_events");
/// (accepted unix ms, key) for each row of [`SEEN_EVENTS`]: the pruner's way to the old ones.
/// Written and removed with its row.
pub(super) const SEEN_BY_TIME: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("seen_events_by_time");
/// Accepted events not yet processed, in arrival order. An event is acked once it is durable in
/// the staging log beside the store (`staging`), and moved here by the engine before it is
/// processed. Removed when processed, or set aside as a dead letter after repeated failures.
pub(super) const INBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("inbox");
/// SLA requests by id, open and recently closed. An open request stays until it is answered or
/// cancelled, or expires `sla.forget_after` after its ladder's last step (its timer); a closed
/// one is deleted 30 days after it closed, by the pruner through [`CLOSED_REQUESTS`].
pub(super) const REQUESTS: TableDefinition<u64, &[u8]> = TableDefinition::new("sla_requests");
/// (closed unix ms, request id) for each closed request: the pruner's way to the old ones.
/// Written when the request closes, in the same transaction; removed with the request.
pub(super) const CLOSED_REQUESTS: TableDefinition<(i64, u64), ()> =
    TableDefinition::new("sla_closed_requests");
/// "channel:message_ts" → request ids of that message. Removed with the request.
pub(super) const REQUESTS_BY_MESSAGE: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_requests_by_message");
/// "channel:thread_root" → request ids living in that thread. Removed with the request.
pub(super) const REQUESTS_BY_THREAD: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_requests_by_thread");
/// recipient → ids of their *open* requests. Invariant: holds exactly the open requests, so an
/// entry goes when its request closes (answered, cancelled or expired).
pub(super) const OPEN_BY_RECIPIENT: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_open_by_recipient");
/// author → ids of *open* requests they are waiting on. Same invariant.
pub(super) const OPEN_BY_AUTHOR: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("sla_open_by_author");
/// (due unix ms, timer key) → (). Invariant: one entry per entity with a pending timer, at the
/// due time the entity itself records; it goes when the entity has nothing more to do.
pub(super) const TIMERS: TableDefinition<(i64, &str), ()> = TableDefinition::new("timers");
/// Messages to deliver, in order (JSON `OutboxItem`). Removed at delivery (in the transaction
/// that records where it went), when Slack refuses it for good, when its request closes
/// (a withdrawn nudge), or after `delivery.give_up_after` of failures (set aside as a dead
/// letter): nothing delivered stays.
pub(super) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
/// Facts learnt at start-up that offline tools need (`team_url`), and the retention backfill's
/// progress. A fixed set of keys.
pub(super) const FACTS: TableDefinition<&str, &str> = TableDefinition::new("facts");
/// RFCs by number (JSON `Rfc`): the decision log. Never pruned (a team writes a few a week).
pub(super) const RFCS: TableDefinition<u64, &[u8]> = TableDefinition::new("rfcs");
/// channel → RFC numbers posted there. Kept with the RFCs.
pub(super) const RFCS_BY_CHANNEL: MultimapTableDefinition<&str, u64> =
    MultimapTableDefinition::new("rfcs_by_channel");
/// channel → JSON `Schedule`. One per channel that has a standup; `/standup off` leaves it
/// inactive (it keeps its settings), so it is bounded by the channels.
pub(super) const STANDUP_SCHEDULES: TableDefinition<&str, &[u8]> =
    TableDefinition::new("standup_schedules");
/// "channel:YYYY-MM-DD" → JSON `StandupDay`. Kept 30 days after that date (a late answer still
/// finds its day), then removed by the pruner through [`STANDUP_DAYS_BY_DATE`], with the tags of
/// that day's messages.
pub(super) const STANDUP_DAYS: TableDefinition<&str, &[u8]> = TableDefinition::new("standup_days");
/// ("YYYY-MM-DD", channel) for each row of [`STANDUP_DAYS`]. Written and removed with its row.
pub(super) const STANDUP_DAYS_BY_DATE: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("standup_days_by_date");
/// user → JSON `Vec<Away>`. A range is dropped two days after its last day (by then it is over
/// in every time zone), by the pruner through [`AWAY_BY_END`]; a user with none left is removed.
pub(super) const AWAY: TableDefinition<&str, &[u8]> = TableDefinition::new("away");
/// ("YYYY-MM-DD" last day, user) for each range in [`AWAY`]. Kept in step by `put_away`.
pub(super) const AWAY_BY_END: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("away_by_end");
/// user → JSON `WorkingTime`: the days, hours and holiday region a person set for themselves.
/// One per person who set one, removed when they reset it (`/sla hours reset`): bounded by the
/// workspace's people, never pruned.
pub(super) const WORKING_TIME: TableDefinition<&str, &[u8]> = TableDefinition::new("working_time");
/// ("YYYY-MM-DD" local day, user) → how many messages asked something of that person that day
/// (the nudge budget, `respect.max_nudges_per_day`). Kept 3 days after the day, then removed by
/// the pruner (the key starts with the date, so a prune is a range).
pub(super) const NUDGES_BY_DAY: TableDefinition<(&str, &str), u32> =
    TableDefinition::new("nudges_by_day");
/// user → JSON `Digest`: requests whose step was held back once the day's budget was spent,
/// until their digest goes out (its `digest:{user}` timer), then removed.
pub(super) const DIGESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("digests");
/// tag → "channel ts" of the message posted with that tag. Kept as long as what the tag names:
/// `sla:{id}:…` goes with its request, `standup:{channel}:{date}…` with its standup day,
/// `rfc:{n}` stays with the decision log (its permalink).
pub(super) const TAGS: TableDefinition<&str, &str> = TableDefinition::new("message_tags");
/// "channel:ts" → tag: which of our messages a reply or a reaction is about. Removed with its
/// tag.
pub(super) const TAGGED_MESSAGES: TableDefinition<&str, &str> =
    TableDefinition::new("tagged_messages");
/// Cached `users.info` answers (JSON `CachedUser`). One per person the bot has met, refreshed in
/// place: bounded by the workspace's people, never pruned (exports read names from it).
pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
/// What Slack said of each person's presence (JSON: the domain's `Presence`, out of office and
/// focus from their status, Do Not Disturb from `dnd.info`, and when the bot last asked). One
/// per person who was out, focused or asked about, refreshed in place: bounded by the
/// workspace's people, like [`USERS`], and never pruned (a row is a few instants, and an old one
/// says nothing wrong: every answer carries its own end).
pub(super) const PRESENCE: TableDefinition<&str, &[u8]> = TableDefinition::new("presence");
/// People whose `users.info` lookup failed or was skipped (Slack slow): user → since (unix ms).
/// Their requests run on the fallback zone until a later lookup corrects them. Removed when the
/// lookup succeeds.
pub(super) const PENDING_LOOKUPS: TableDefinition<&str, i64> =
    TableDefinition::new("pending_lookups");
/// Work that failed repeatedly (JSON `DeadLetter`), kept for an operator: never retried on its
/// own, listed by `asyncbot dead-letters`. Removed by `retry` or `discard`, or by the pruner
/// `store.dead_letters_keep` after it was set aside (ids grow with time: the oldest come first).
pub(super) const DEAD_LETTERS: TableDefinition<u64, &[u8]> = TableDefinition::new("dead_letters");
/// Tags of messages Slack refused for good, with when (unix ms): whatever refers to them (an
/// edit, a reply in their thread) is dropped at once instead of waiting for a post that never
/// comes. Kept a day (what refers to a message is queued with it or soon after), then removed by
/// the pruner through [`DROPPED_BY_TIME`].
pub(super) const DROPPED_TAGS: TableDefinition<&str, i64> = TableDefinition::new("dropped_tags");
/// (dropped unix ms, tag) for each row of [`DROPPED_TAGS`]. Written and removed with its row.
pub(super) const DROPPED_BY_TIME: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("dropped_tags_by_time");
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
/// Coaching tips (`respect.coach_nohello`): author → when the last tip went to them (unix ms),
/// so each gets at most one a week. Kept a week after the tip (then the next one is allowed
/// anyway, and the row says nothing more), removed by the pruner through [`NOHELLO_TIPS_BY_TIME`].
pub(super) const NOHELLO_TIPS: TableDefinition<&str, i64> = TableDefinition::new("nohello_tips");
/// (tip unix ms, author) for each row of [`NOHELLO_TIPS`]. Written and removed with its row.
pub(super) const NOHELLO_TIPS_BY_TIME: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("nohello_tips_by_time");
/// (closed unix ms, request id) → compact record of how the request ended (`outcomes`): what
/// the team metrics (`/sla stats`, the Home tab, the weekly update, the report) count. Written
/// in the transaction that closes the request; kept a year ([`super::retention::OUTCOMES_KEEP`]),
/// well after the request itself is gone, then removed by the pruner (the key starts with the
/// time, so a prune is a range). A few dozen bytes each: no text of the message is kept.
pub(super) const OUTCOMES: TableDefinition<(i64, u64), &[u8]> =
    TableDefinition::new("request_outcomes");
/// channel → JSON `WeeklyState`: where that channel's weekly update stands (the coming post,
/// whether its draft went out, when the last one was posted). One per `[[weekly]]` channel:
/// bounded by the config; a channel no longer configured has its row removed when its timer
/// next fires.
pub(super) const WEEKLY: TableDefinition<&str, &[u8]> = TableDefinition::new("weekly");
