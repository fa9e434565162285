//! No item can kill a worker, driven in-process on a stepped clock against a Slack port that
//! panics on purpose: a poisonous event is retried, set aside as a dead letter, and the event
//! behind it is processed; a poisonous timer or message likewise, while the others go on. The
//! operator can put a dead letter back to work. Delivery also keeps quiet hours at send time and
//! gives up on a transient failure only when the message is a day old.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use slack_morphism::prelude::{SlackHomeView, SlackModalView};

use asyncbot::delivery::Delivery;
use asyncbot::domain::outbox::{Destination, OutgoingMessage};
use asyncbot::engine::clock::Now;
use asyncbot::engine::health::{Health, HealthLimits};
use asyncbot::engine::{Engine, MAX_ATTEMPTS, Wakers};
use asyncbot::slack::inbound::Inbound;
use asyncbot::slack::{BotIdentity, SlackError, SlackPort, UserProfile};
use asyncbot::store::prelude::*;
use asyncbot::store::{DeadKind, Store};

/// A Slack that answers everything, except that looking up `UPANIC` or listing `CPANIC`'s
/// members panics (a stand-in for any bug an input can trigger).
#[derive(Default)]
struct PanickySlack {
    posts: Mutex<Vec<(String, String)>>,
    /// Outbox ids posted to `CFLAKY` (whose first answer is lost).
    flaky_ids: Mutex<Vec<u64>>,
}

#[async_trait]
impl SlackPort for PanickySlack {
    async fn auth_test(&self) -> Result<BotIdentity, SlackError> {
        Ok(BotIdentity {
            user_id: "UBOT".into(),
            team_id: "T1".into(),
            team_url: "https://fake.slack.com/".into(),
        })
    }
    async fn user_info(&self, user: &str) -> Result<UserProfile, SlackError> {
        assert_ne!(user, "UPANIC", "a bug that panics on this person");
        Ok(UserProfile {
            id: user.into(),
            name: Some(user.to_lowercase()),
            tz: Some("UTC".into()),
            is_bot: false,
            deleted: false,
            status: None,
        })
    }
    async fn open_conversation(&self, users: &[String]) -> Result<String, SlackError> {
        Ok(format!("D{}", users.join("")))
    }
    async fn post_message(
        &self,
        channel: &str,
        _thread_ts: Option<&str>,
        text: &str,
        _blocks: Option<&Value>,
        outbox_id: u64,
    ) -> Result<String, SlackError> {
        assert_ne!(channel, "CPANIC", "a bug that panics on this message");
        if channel == "CDOWN" {
            return Err(SlackError::Transient("HTTP 503".into()));
        }
        if channel == "CRATE" {
            return Err(SlackError::RateLimited { retry_after: None });
        }
        if channel == "CFLAKY" {
            // Slack takes the post, but the first answer never arrives.
            let mut posts = self.posts.lock().unwrap();
            posts.push((channel.into(), text.into()));
            self.flaky_ids.lock().unwrap().push(outbox_id);
            if posts.iter().filter(|(c, _)| c == "CFLAKY").count() == 1 {
                return Err(SlackError::Transient("no answer within 10s".into()));
            }
            return Ok(format!("1700000000.{:06}", posts.len()));
        }
        let mut posts = self.posts.lock().unwrap();
        posts.push((channel.into(), text.into()));
        Ok(format!("1700000000.{:06}", posts.len()))
    }
    async fn find_posted(
        &self,
        _channel: &str,
        _thread_ts: Option<&str>,
        outbox_id: u64,
        _oldest: DateTime<Utc>,
    ) -> Result<Option<String>, SlackError> {
        let posted = self.flaky_ids.lock().unwrap().contains(&outbox_id);
        Ok(posted.then(|| "1700000000.000001".to_owned()))
    }
    async fn update_message(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: Option<&Value>,
    ) -> Result<(), SlackError> {
        Ok(())
    }
    async fn post_ephemeral(&self, _: &str, _: &str, _: &str) -> Result<(), SlackError> {
        Ok(())
    }
    async fn open_view(&self, _: &str, _: &SlackModalView) -> Result<(), SlackError> {
        Ok(())
    }
    async fn channel_members(&self, channel: &str) -> Result<Vec<String>, SlackError> {
        assert_ne!(channel, "CPANIC", "a bug that panics on this channel");
        Ok(vec!["UBOB".into()])
    }
    async fn publish_home(&self, _: &str, _: &SlackHomeView) -> Result<(), SlackError> {
        Ok(())
    }
    async fn respond(&self, _: &str, _: &str) -> Result<(), SlackError> {
        Ok(())
    }
    async fn dnd_info(
        &self,
        _: &[String],
    ) -> Result<Vec<(String, asyncbot::domain::presence::Dnd)>, SlackError> {
        Ok(Vec::new())
    }
}

struct Rig {
    _dir: tempfile::TempDir,
    store: Store,
    engine: Arc<Engine>,
    clock: Arc<Mutex<DateTime<Utc>>>,
    slack: Arc<PanickySlack>,
    settings: Arc<asyncbot::config::Settings>,
}

impl Rig {
    fn new() -> Rig {
        Self::with_hours("00:00", "24:00")
    }

    fn with_hours(start: &str, end: &str) -> Rig {
        asyncbot::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("asyncbot.toml");
        std::fs::write(
            &config,
            format!(
                "[store]\npath = {:?}\n[calendar]\nworking_days = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nworking_hours = [{start:?}, {end:?}]\n[sla.normal]\nwithin = \"1s\"\nclock = \"wall\"\n",
                dir.path().join("s.redb").display().to_string()
            ),
        )
        .unwrap();
        let settings = Arc::new(asyncbot::config::load(Some(&config), &[]).unwrap());
        let store = Store::open(&settings.store_path).unwrap();
        let clock = Arc::new(Mutex::new(
            "2026-11-23T10:00:00Z".parse::<DateTime<Utc>>().unwrap(),
        ));
        let read = clock.clone();
        let now: Now = Arc::new(move || *read.lock().unwrap());
        let slack = Arc::new(PanickySlack::default());
        let mut engine = Engine::new(
            store.clone(),
            slack.clone(),
            settings.clone(),
            BotIdentity {
                user_id: "UBOT".into(),
                team_id: "T1".into(),
                team_url: "https://fake.slack.com/".into(),
            },
            now.clone(),
            Wakers::default(),
            Health::new(HealthLimits::default(), now),
        );
        engine.features = asyncbot::features::all();
        let engine = Arc::new(engine);
        Rig {
            _dir: dir,
            store,
            engine,
            clock,
            slack,
            settings,
        }
    }

    fn delivery(&self) -> Delivery {
        let read = self.clock.clone();
        let now: Now = Arc::new(move || *read.lock().unwrap());
        Delivery::new(
            self.store.clone(),
            self.slack.clone(),
            self.settings.clone(),
            now.clone(),
            Wakers::default(),
            Health::new(HealthLimits::default(), now),
        )
    }

    fn enqueue(&self, message: OutgoingMessage) {
        let now = self.now();
        self.store.write(|tx| tx.enqueue(message, now)).unwrap();
    }

    fn posted_to(&self, channel: &str) -> usize {
        self.slack
            .posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| c == channel)
            .count()
    }

    /// A standup in `CPANIC` whose day needs the channel's members (which panics), due now.
    fn poisonous_standup_due_now(&self) {
        let settings = asyncbot::config::load(None, &[]).unwrap();
        let now = self.now();
        let mut schedule =
            settings
                .standup
                .schedule("CPANIC", chrono::NaiveTime::MIN, chrono_tz::UTC);
        let date = now.date_naive();
        let mut day = asyncbot::domain::standup::StandupDay::new(&schedule, date, now);
        day.remind_at = now;
        day.summary_at = now;
        schedule.open_day = Some(date);
        schedule.next_due = Some(now);
        self.store
            .write(|tx| {
                tx.put_standup_day(&day)?;
                tx.put_standup_schedule(&schedule)
            })
            .unwrap();
    }

    fn advance(&self, secs: i64) {
        *self.clock.lock().unwrap() += chrono::Duration::seconds(secs);
    }

    fn now(&self) -> DateTime<Utc> {
        *self.clock.lock().unwrap()
    }

    fn mention(&self, event_id: &str, ts: &str, who: &str) {
        let event = Inbound::MessagePosted {
            channel: "CENG".into(),
            channel_type: Some("channel".into()),
            user: "UALICE".into(),
            ts: ts.into(),
            thread_ts: None,
            text: format!("<@{who}> can you look?"),
        };
        self.store
            .accept_event(Some(event_id), &event, self.now())
            .unwrap();
    }
}

#[tokio::test]
async fn a_poisonous_event_is_set_aside_and_the_next_one_is_processed() {
    let rig = Rig::new();
    rig.mention("Ev1", "1.1", "UPANIC");
    rig.mention("Ev2", "1.2", "UBOB");
    let mut failures = HashMap::new();
    let mut rounds = 0;
    while rig
        .engine
        .process_next(&mut failures)
        .await
        .unwrap()
        .is_some()
    {
        rounds += 1;
        assert!(rounds < 10, "the inbox never drained");
    }
    // Three tries of the poisonous event, then the good one.
    assert_eq!(rounds, MAX_ATTEMPTS as usize + 1);
    let letters = rig.store.dead_letters().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].kind, DeadKind::Event);
    assert_eq!(letters[0].attempts, MAX_ATTEMPTS);
    assert!(
        letters[0]
            .error
            .contains("a bug that panics on this person"),
        "{}",
        letters[0].error
    );
    let open = rig
        .store
        .read(|rx| rx.open_requests_for_recipient("UBOB"))
        .unwrap();
    assert_eq!(open.len(), 1, "the event behind it was processed");

    // Put back to work, it fails again the same way (the bug is still there), and is set aside
    // again: a retry never loops forever.
    assert!(
        rig.store
            .retry_dead_letter(letters[0].id, rig.now())
            .unwrap()
    );
    while rig
        .engine
        .process_next(&mut failures)
        .await
        .unwrap()
        .is_some()
    {}
    assert_eq!(rig.store.dead_letters().unwrap().len(), 1);
}

#[tokio::test]
async fn a_poisonous_timer_is_set_aside_and_the_other_timers_keep_firing() {
    let rig = Rig::new();
    rig.poisonous_standup_due_now();
    // And an ordinary request, due in a second.
    rig.mention("Ev1", "1.1", "UBOB");
    let mut inbox_failures = HashMap::new();
    while rig
        .engine
        .process_next(&mut inbox_failures)
        .await
        .unwrap()
        .is_some()
    {}

    let mut failures = HashMap::new();
    rig.advance(2);
    rig.engine.fire_due(&mut failures).await.unwrap();
    let nudges = rig.store.outbox_len().unwrap();
    assert_eq!(
        nudges, 1,
        "the request's nudge fired beside the failing timer"
    );
    for _ in 1..MAX_ATTEMPTS {
        rig.advance(4);
        rig.engine.fire_due(&mut failures).await.unwrap();
    }
    let letters = rig.store.dead_letters().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].kind, DeadKind::Timer);
    assert_eq!(letters[0].key, "timer standup:CPANIC");
    // Set aside: it no longer fires, and nothing spins on it.
    rig.advance(60);
    let next = rig.engine.fire_due(&mut failures).await.unwrap();
    assert!(
        next.is_none_or(|at| at > rig.now()),
        "nothing is due at once: {next:?}"
    );
    assert_eq!(rig.store.dead_letters().unwrap().len(), 1);
}

fn to_channel(channel: &str, text: &str) -> OutgoingMessage {
    OutgoingMessage::new(
        Destination::Channel {
            channel: channel.into(),
        },
        text,
    )
}

#[tokio::test]
async fn a_message_that_panics_the_sender_is_set_aside_and_the_others_are_delivered() {
    let rig = Rig::new();
    rig.enqueue(to_channel("CPANIC", "poison"));
    rig.enqueue(to_channel("CENG", "hello"));
    let mut delivery = rig.delivery();
    for _ in 0..6 {
        delivery.pass().await.unwrap();
        rig.advance(10);
    }
    assert_eq!(rig.posted_to("CENG"), 1);
    let letters = rig.store.dead_letters().unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].kind, DeadKind::Message);
    assert!(
        letters[0].error.contains("panics on this message"),
        "{}",
        letters[0].error
    );
    assert_eq!(rig.store.outbox_len().unwrap(), 0);
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_the_message_is_a_day_old() {
    let rig = Rig::new();
    rig.enqueue(to_channel("CDOWN", "patience"));
    let mut delivery = rig.delivery();
    // Far more than the old limit of 12 attempts, over 23 hours: still queued.
    for _ in 0..40 {
        delivery.pass().await.unwrap();
        rig.advance(23 * 3600 / 40);
    }
    assert_eq!(
        rig.store.outbox_len().unwrap(),
        1,
        "kept while under a day old"
    );
    assert!(rig.store.dead_letters().unwrap().is_empty());
    rig.advance(3600);
    delivery.pass().await.unwrap();
    assert_eq!(rig.store.outbox_len().unwrap(), 0);
    let letters = rig.store.dead_letters().unwrap();
    assert_eq!(
        letters.len(),
        1,
        "a day old: set aside, not silently dropped"
    );
    assert!(letters[0].error.contains("503"), "{}", letters[0].error);
}

#[tokio::test]
async fn a_nudge_that_falls_due_at_night_waits_for_the_recipients_morning() {
    // Working time 09:00-17:00; the clock says 10:00 UTC, which is 02:00 in Los Angeles.
    let rig = Rig::with_hours("09:00", "17:00");
    rig.enqueue(
        to_channel("CENG", "<@UDAVE>, a request waits")
            .in_working_time_of("UDAVE", chrono_tz::America::Los_Angeles),
    );
    rig.enqueue(
        to_channel("CENG", "for someone in Berlin")
            .in_working_time_of("UALICE", chrono_tz::Europe::Berlin),
    );
    let mut delivery = rig.delivery();
    let next = delivery.pass().await.unwrap();
    delivery.pass().await.unwrap();
    let texts: Vec<String> = rig
        .slack
        .posts
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.clone())
        .collect();
    assert_eq!(
        texts,
        vec!["for someone in Berlin".to_owned()],
        "only Berlin is at work"
    );
    assert!(next.is_some());
    // 09:00 in Los Angeles is 17:00 UTC.
    rig.advance(6 * 3600 + 59 * 60);
    delivery.pass().await.unwrap();
    assert_eq!(
        rig.posted_to("CENG"),
        1,
        "still night in Los Angeles at 16:59 UTC"
    );
    rig.advance(60);
    for _ in 0..3 {
        delivery.pass().await.unwrap();
    }
    assert_eq!(
        rig.posted_to("CENG"),
        2,
        "delivered at the start of Dave's day"
    );
}

#[tokio::test]
async fn a_failing_timer_that_goes_away_does_not_keep_the_worker_awake() {
    let rig = Rig::new();
    rig.poisonous_standup_due_now();
    let mut failures = HashMap::new();
    rig.engine.fire_due(&mut failures).await.unwrap();
    // Its timer goes away before the retry (the standup was moved, the request answered).
    rig.store
        .write(|tx| tx.drop_timers_named("standup:CPANIC"))
        .unwrap();
    rig.advance(5);
    for _ in 0..3 {
        let next = rig.engine.fire_due(&mut failures).await.unwrap();
        assert!(
            next.is_none_or(|at| at > rig.now()),
            "the next wake-up {next:?} is in the past: the worker would spin"
        );
    }
}

#[tokio::test]
async fn a_post_in_doubt_stays_in_doubt_across_a_quiet_hours_wait() {
    let rig = Rig::with_hours("09:00", "17:00");
    rig.enqueue(to_channel("CFLAKY", "nudge").in_working_time_of("UDAVE", chrono_tz::UTC));
    let mut delivery = rig.delivery();
    delivery.pass().await.unwrap(); // 10:00: posted, but the answer is lost
    rig.advance(7 * 3600 + 60); // 17:01: the retry falls after hours
    delivery.pass().await.unwrap();
    rig.advance(16 * 3600); // the next morning
    for _ in 0..3 {
        delivery.pass().await.unwrap();
        rig.advance(2);
    }
    assert_eq!(
        rig.posted_to("CFLAKY"),
        1,
        "found by its metadata, not posted twice"
    );
    assert_eq!(rig.store.outbox_len().unwrap(), 0);
}

#[tokio::test]
async fn a_message_that_waited_a_day_is_not_set_aside_on_its_first_429() {
    let rig = Rig::new();
    rig.enqueue(to_channel("CRATE", "after a long pause"));
    rig.advance(25 * 3600);
    let mut delivery = rig.delivery();
    delivery.pass().await.unwrap();
    assert!(
        rig.store.dead_letters().unwrap().is_empty(),
        "the day counts from the first failure, not from when it was queued"
    );
    assert_eq!(rig.store.outbox_len().unwrap(), 1);
}

#[tokio::test]
async fn a_queued_nudge_is_withdrawn_when_the_request_is_answered() {
    let rig = Rig::with_hours("09:00", "17:00");
    // 10:00 UTC: the request's nudge is due at 10:00:01, but Dave is in Los Angeles (02:00).
    rig.store
        .write(|tx| {
            tx.cache_user(&asyncbot::store::CachedUser {
                id: "UDAVE".into(),
                name: Some("Dave".into()),
                tz: Some("America/Los_Angeles".into()),
                is_bot: false,
                deleted: false,
                fetched_at: rig.now(),
            })
        })
        .unwrap();
    rig.mention("Ev1", "1.1", "UDAVE");
    let mut inbox = HashMap::new();
    while rig.engine.process_next(&mut inbox).await.unwrap().is_some() {}
    let open = rig
        .store
        .read(|rx| rx.open_requests_for_recipient("UDAVE"))
        .unwrap();
    assert_eq!(open.len(), 1);
    // Queue the nudge as if the step had been taken (a timer fired just before the night).
    let mut request = open[0].clone();
    request.steps_taken = 0;
    rig.enqueue(
        to_channel("CENG", "<@UDAVE>, a request waits")
            .tagged(format!("sla:{}:nudge", request.id))
            .in_working_time_of("UDAVE", chrono_tz::America::Los_Angeles),
    );
    assert_eq!(rig.store.outbox_len().unwrap(), 1);
    // Dave answers in the thread before his morning.
    rig.store
        .accept_event(
            Some("Ev2"),
            &Inbound::MessagePosted {
                channel: "CENG".into(),
                channel_type: Some("channel".into()),
                user: "UDAVE".into(),
                ts: "1.2".into(),
                thread_ts: Some("1.1".into()),
                text: "on it".into(),
            },
            rig.now(),
        )
        .unwrap();
    while rig.engine.process_next(&mut inbox).await.unwrap().is_some() {}
    assert_eq!(
        rig.store.outbox_len().unwrap(),
        0,
        "nobody is nudged about a request they answered"
    );
}
