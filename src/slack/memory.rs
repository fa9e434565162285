//! An in-memory Slack: a [`SlackPort`] that records every message the bot sends and answers
//! lookups from a directory it is given. It backs `asyncbot simulate` and in-process tests: the
//! real engine, store and delivery run against it on a virtual clock, with no network. It can
//! rate-limit posts per channel as Slack does (429 with `Retry-After`), counting its refusals,
//! for tests and `asyncbot bench delivery`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use slack_morphism::prelude::{SlackHomeView, SlackModalView, SlackView};

use crate::domain::presence::Dnd;
use crate::engine::clock::Now;
use crate::slack::{BotIdentity, ProfileStatus, SlackError, SlackPort, UserProfile};

/// One thing the bot did in Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// When (on the clock the port was given).
    pub at: DateTime<Utc>,
    pub kind: SentKind,
    /// The conversation: a channel id, or the DM/group DM id the port handed out.
    pub channel: String,
    /// For a post: its `ts`; for an edit: the `ts` it replaced.
    pub ts: String,
    pub thread_ts: Option<String>,
    /// For an ephemeral note: who sees it.
    pub only_for: Option<String>,
    pub text: String,
    /// The Block Kit blocks of a post or an edit, as sent.
    pub blocks: Option<Value>,
    pub outbox_id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentKind {
    Post,
    Edit,
    Ephemeral,
    /// A command's answer through its `response_url` (`channel` holds the URL's id).
    Response,
}

/// A person in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    /// IANA zone.
    pub tz: String,
    pub is_bot: bool,
}

#[derive(Default)]
struct State {
    people: BTreeMap<String, Person>,
    members: HashMap<String, Vec<String>>,
    /// Group and direct conversations handed out, by their id: who is in them.
    conversations: BTreeMap<String, Vec<String>>,
    sent: Vec<Sent>,
    last_ts_micros: i64,
    /// When set, at most one post per this interval per channel; more is answered 429.
    post_interval: Option<chrono::Duration>,
    /// The last post accepted in each channel (kept only with `post_interval`).
    last_post: HashMap<String, DateTime<Utc>>,
    /// Channels refused with 429 until a moment.
    refused_until: HashMap<String, DateTime<Utc>>,
    /// How many posts were answered 429.
    rate_limited: u64,
    /// Custom statuses people set (`users.info` returns them in the profile).
    statuses: HashMap<String, ProfileStatus>,
    /// Do Not Disturb per person, as `dnd.info` answers it (none set: DND off).
    dnd: HashMap<String, Dnd>,
    /// When set, `dnd.info` fails with this.
    dnd_error: Option<SlackError>,
    /// The people each `dnd_info` call asked about, in order.
    dnd_asked: Vec<Vec<String>>,
    /// Modals opened (`views.open`) and Home tabs published, as JSON: (trigger or user, view).
    views: Vec<(String, Value)>,
    homes: Vec<(String, Value)>,
}

impl State {
    /// Whether a post to `channel` at `at` is refused, and for how long (Slack's
    /// `Retry-After`: whole seconds, rounded up). An accepted post counts against the limit.
    fn refuse_post(&mut self, channel: &str, at: DateTime<Utc>) -> Option<std::time::Duration> {
        let mut until = self.refused_until.get(channel).copied().filter(|u| *u > at);
        if let Some(interval) = self.post_interval {
            match self.last_post.get(channel) {
                Some(last) if at - *last < interval => {
                    until = Some(until.map_or(*last + interval, |u| u.max(*last + interval)));
                }
                _ if until.is_none() => {
                    self.last_post.insert(channel.to_owned(), at);
                }
                _ => {}
            }
        }
        let wait = (until? - at).num_milliseconds().max(1);
        self.rate_limited += 1;
        let secs = u64::try_from((wait + 999) / 1000).unwrap_or(1);
        Some(std::time::Duration::from_secs(secs))
    }
}

/// The in-memory Slack. Cheap to clone; clones share what was sent.
#[derive(Clone)]
pub struct MemorySlack {
    state: Arc<Mutex<State>>,
    now: Now,
    identity: BotIdentity,
}

impl MemorySlack {
    pub fn new(now: Now) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            now,
            identity: BotIdentity {
                user_id: "UASYNCBOT".into(),
                team_id: "TSIMULATED".into(),
                team_url: "https://simulated.slack.com/".into(),
            },
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    pub fn identity(&self) -> BotIdentity {
        self.identity.clone()
    }

    pub fn add_person(&self, id: &str, name: &str, tz: &str) {
        self.with(|s| {
            s.people.insert(
                id.to_owned(),
                Person {
                    name: name.to_owned(),
                    tz: tz.to_owned(),
                    is_bot: false,
                },
            )
        });
    }

    /// A bot user (another app): mentioning it asks nothing of anyone.
    pub fn add_bot(&self, id: &str, name: &str) {
        self.with(|s| {
            s.people.insert(
                id.to_owned(),
                Person {
                    name: name.to_owned(),
                    tz: "UTC".to_owned(),
                    is_bot: true,
                },
            )
        });
    }

    pub fn person(&self, id: &str) -> Option<Person> {
        self.with(|s| s.people.get(id).cloned())
    }

    pub fn set_members(&self, channel: &str, members: &[String]) {
        self.with(|s| s.members.insert(channel.to_owned(), members.to_vec()));
    }

    /// Answers posts beyond one per `interval` per channel with 429 and a `Retry-After`, as
    /// Slack does for `chat.postMessage` (about one per second per channel), on the clock the
    /// port was given.
    pub fn limit_posts_per_channel(&self, interval: std::time::Duration) {
        let interval = chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::MAX);
        self.with(|s| s.post_interval = Some(interval));
    }

    /// Answers every post to `channel` with 429 until `until` (a long `Retry-After`).
    pub fn refuse_posts_until(&self, channel: &str, until: DateTime<Utc>) {
        self.with(|s| s.refused_until.insert(channel.to_owned(), until));
    }

    /// Sets `user`'s custom status (`expiration`: unix seconds, 0 for none); `users.info`
    /// reports it from now on.
    pub fn set_status(&self, user: &str, emoji: &str, text: &str, expiration: i64) {
        let status = ProfileStatus {
            emoji: emoji.to_owned(),
            text: text.to_owned(),
            expiration,
        };
        self.with(|s| s.statuses.insert(user.to_owned(), status));
    }

    /// Sets `user`'s Do Not Disturb, as `dnd.info` reports it from now on.
    pub fn set_dnd(&self, user: &str, dnd: Dnd) {
        self.with(|s| s.dnd.insert(user.to_owned(), dnd));
    }

    /// Makes every `dnd.info` call fail with `error` (`None`: answer again).
    pub fn fail_dnd(&self, error: Option<SlackError>) {
        self.with(|s| s.dnd_error = error);
    }

    /// The people each `dnd_info` call asked about, in order.
    pub fn dnd_asked(&self) -> Vec<Vec<String>> {
        self.with(|s| s.dnd_asked.clone())
    }

    /// How many posts were answered 429.
    pub fn rate_limited(&self) -> u64 {
        self.with(|s| s.rate_limited)
    }

    /// How many posts were made (not counting those answered 429).
    pub fn posts_made(&self) -> usize {
        self.with(|s| s.sent.iter().filter(|m| m.kind == SentKind::Post).count())
    }

    /// The modals opened so far, in order: (trigger id, the view as Slack receives it).
    pub fn opened_views(&self) -> Vec<(String, Value)> {
        self.with(|s| s.views.clone())
    }

    /// The Home tabs published so far, in order: (user, the view as Slack receives it).
    pub fn published_homes(&self) -> Vec<(String, Value)> {
        self.with(|s| s.homes.clone())
    }

    /// Everything sent so far, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.with(|s| s.sent.clone())
    }

    /// The people in a conversation the port handed out (a DM or group DM).
    pub fn conversation_members(&self, id: &str) -> Option<Vec<String>> {
        self.with(|s| s.conversations.get(id).cloned())
    }

    /// A fresh `ts`, strictly increasing, from the clock.
    fn next_ts(&self, s: &mut State) -> String {
        let micros = (self.now)().timestamp_micros().max(s.last_ts_micros + 1);
        s.last_ts_micros = micros;
        format!(
            "{}.{:06}",
            micros.div_euclid(1_000_000),
            micros.rem_euclid(1_000_000)
        )
    }

    fn record(&self, mut sent: Sent) -> String {
        self.with(|s| {
            if sent.ts.is_empty() {
                sent.ts = self.next_ts(s);
            }
            let ts = sent.ts.clone();
            s.sent.push(sent);
            ts
        })
    }
}

#[async_trait]
impl SlackPort for MemorySlack {
    async fn auth_test(&self) -> Result<BotIdentity, SlackError> {
        Ok(self.identity.clone())
    }

    async fn user_info(&self, user: &str) -> Result<UserProfile, SlackError> {
        match self.person(user) {
            Some(p) => Ok(UserProfile {
                id: user.to_owned(),
                name: Some(p.name),
                tz: Some(p.tz),
                is_bot: p.is_bot,
                deleted: false,
                status: Some(self.with(|s| s.statuses.get(user).cloned().unwrap_or_default())),
            }),
            None if user == self.identity.user_id => Ok(UserProfile {
                id: user.to_owned(),
                name: Some("asyncbot".into()),
                tz: None,
                is_bot: true,
                deleted: false,
                status: None,
            }),
            None => Err(SlackError::Permanent("user_not_found".into())),
        }
    }

    async fn open_conversation(&self, users: &[String]) -> Result<String, SlackError> {
        let id = match users {
            [one] => format!("D{one}"),
            many => format!("G{}", many.join("")),
        };
        self.with(|s| s.conversations.insert(id.clone(), users.to_vec()));
        Ok(id)
    }

    async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        blocks: Option<&Value>,
        outbox_id: u64,
    ) -> Result<String, SlackError> {
        // The `ts` comes from the moment and the outbox id, not from the order of concurrent
        // sends: the same run gives the same timestamps (and permalinks).
        let at = (self.now)();
        if let Some(retry_after) = self.with(|s| s.refuse_post(channel, at)) {
            return Err(SlackError::RateLimited {
                retry_after: Some(retry_after),
            });
        }
        Ok(self.record(Sent {
            at,
            kind: SentKind::Post,
            channel: channel.to_owned(),
            ts: format!("{}.{:06}", at.timestamp(), outbox_id % 1_000_000),
            thread_ts: thread_ts.map(str::to_owned),
            only_for: None,
            text: text.to_owned(),
            blocks: blocks.cloned(),
            outbox_id: Some(outbox_id),
        }))
    }

    async fn find_posted(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        outbox_id: u64,
        _oldest: DateTime<Utc>,
    ) -> Result<Option<String>, SlackError> {
        Ok(self.with(|s| {
            s.sent
                .iter()
                .find(|m| {
                    m.kind == SentKind::Post
                        && m.channel == channel
                        && m.thread_ts.as_deref() == thread_ts
                        && m.outbox_id == Some(outbox_id)
                })
                .map(|m| m.ts.clone())
        }))
    }

    async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: Option<&Value>,
    ) -> Result<(), SlackError> {
        self.record(Sent {
            at: (self.now)(),
            kind: SentKind::Edit,
            channel: channel.to_owned(),
            ts: ts.to_owned(),
            thread_ts: None,
            only_for: None,
            text: text.to_owned(),
            blocks: blocks.cloned(),
            outbox_id: None,
        });
        Ok(())
    }

    async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<(), SlackError> {
        self.record(Sent {
            at: (self.now)(),
            kind: SentKind::Ephemeral,
            channel: channel.to_owned(),
            ts: String::new(),
            thread_ts: None,
            only_for: Some(user.to_owned()),
            text: text.to_owned(),
            blocks: None,
            outbox_id: None,
        });
        Ok(())
    }

    async fn open_view(&self, trigger_id: &str, view: &SlackModalView) -> Result<(), SlackError> {
        let json = serde_json::to_value(SlackView::Modal(view.clone())).unwrap_or_default();
        self.with(|s| s.views.push((trigger_id.to_owned(), json)));
        Ok(())
    }

    async fn channel_members(&self, channel: &str) -> Result<Vec<String>, SlackError> {
        Ok(self.with(|s| s.members.get(channel).cloned().unwrap_or_default()))
    }

    async fn publish_home(&self, user: &str, view: &SlackHomeView) -> Result<(), SlackError> {
        let json = serde_json::to_value(SlackView::Home(view.clone())).unwrap_or_default();
        self.with(|s| s.homes.push((user.to_owned(), json)));
        Ok(())
    }

    async fn dnd_info(&self, users: &[String]) -> Result<Vec<(String, Dnd)>, SlackError> {
        self.with(|s| {
            s.dnd_asked.push(users.to_vec());
            if let Some(e) = &s.dnd_error {
                return Err(e.clone());
            }
            Ok(users
                .iter()
                .filter(|u| s.people.contains_key(*u))
                .map(|u| {
                    let off = Dnd::from_slack(false, 0, 0, false, 0);
                    (u.clone(), s.dnd.get(u).copied().unwrap_or(off))
                })
                .collect())
        })
    }

    async fn respond(&self, response_url: &str, text: &str) -> Result<(), SlackError> {
        self.record(Sent {
            at: (self.now)(),
            kind: SentKind::Response,
            channel: response_url.to_owned(),
            ts: String::new(),
            thread_ts: None,
            only_for: None,
            text: text.to_owned(),
            blocks: None,
            outbox_id: None,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_records_posts_hands_out_conversations_and_finds_posts_by_outbox_id() {
        let slack = MemorySlack::new(crate::engine::clock::system());
        slack.add_person("UANA", "Ana", "Europe/Berlin");
        assert_eq!(
            slack.user_info("UANA").await.unwrap().tz.as_deref(),
            Some("Europe/Berlin")
        );
        assert!(matches!(
            slack.user_info("UNOBODY").await,
            Err(SlackError::Permanent(_))
        ));
        let dm = slack.open_conversation(&["UANA".into()]).await.unwrap();
        let ts = slack.post_message(&dm, None, "hi", None, 7).await.unwrap();
        let again = slack.post_message(&dm, None, "hi", None, 8).await.unwrap();
        assert!(again > ts, "timestamps increase");
        assert_eq!(
            slack.find_posted(&dm, None, 7, Utc::now()).await.unwrap(),
            Some(ts)
        );
        assert_eq!(
            slack.find_posted(&dm, None, 9, Utc::now()).await.unwrap(),
            None
        );
        assert_eq!(slack.conversation_members(&dm), Some(vec!["UANA".into()]));
        assert_eq!(slack.sent().len(), 2);
    }

    #[tokio::test]
    async fn it_answers_429_beyond_one_post_per_second_per_channel() {
        let clock = Arc::new(Mutex::new(
            "2026-11-23T10:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        ));
        let read = clock.clone();
        let slack = MemorySlack::new(Arc::new(move || *read.lock().unwrap()));
        slack.limit_posts_per_channel(std::time::Duration::from_secs(1));
        let advance = |ms: i64| *clock.lock().unwrap() += chrono::Duration::milliseconds(ms);
        assert!(slack.post_message("C1", None, "a", None, 1).await.is_ok());
        // Another channel is not held up.
        assert!(slack.post_message("C2", None, "b", None, 2).await.is_ok());
        advance(300);
        assert_eq!(
            slack.post_message("C1", None, "c", None, 3).await,
            Err(SlackError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(1))
            })
        );
        advance(700);
        assert!(slack.post_message("C1", None, "c", None, 3).await.is_ok());
        // A long refusal for one channel.
        let until = *clock.lock().unwrap() + chrono::Duration::seconds(60);
        slack.refuse_posts_until("C2", until);
        assert_eq!(
            slack.post_message("C2", None, "d", None, 4).await,
            Err(SlackError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(60))
            })
        );
        advance(60_000);
        assert!(slack.post_message("C2", None, "d", None, 4).await.is_ok());
        assert_eq!(slack.rate_limited(), 2);
        assert_eq!(slack.posts_made(), 4);
    }
}
