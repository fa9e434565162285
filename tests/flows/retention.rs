//! Bounded growth on virtual time: a request nobody answers climbs its ladder, is forgotten
//! `sla.forget_after` (30 days) after its last step, leaves `/sla`, and is deleted from the store
//! 30 days after that; event ids are remembered a day, then forgotten.

use asyncbot::store::Accepted;
use asyncbot::store::prelude::*;

use crate::inproc::*;

const NY: &str = "America/New_York";
const BERLIN: &str = "Europe/Berlin";

/// Alice asks Bob on Monday; nobody answers. The ladder ends with the call suggestion on
/// Thursday 09:00 his time; 30 days later the request is forgotten (no message about it, and on
/// time although Bob is away then), and 30 days after that it is gone from the store, with the
/// tags of the bot's nudges about it; Bob's absence is gone by then too.
#[tokio::test(start_paused = true)]
async fn a_request_nobody_answers_is_forgotten_then_deleted() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let ts = bot
        .post(
            CHANNEL,
            "UALICE",
            "<@UBOB> can you review the Q3 budget doc?",
        )
        .await;
    bot.run_until(at("2026-11-27 09:00", NY)).await;
    let posts = bot.posts();
    assert_eq!(posts.len(), 3, "{}", bot.transcript(NY));
    let last_step = posts[2].at;
    assert_eq!(local(last_step, NY), "Thu 2026-11-26 09:00");
    let id = bot
        .store
        .read(|rx| rx.requests_for_message(CHANNEL, &ts))
        .unwrap()[0]
        .id;
    let nudge = bot
        .store
        .read(|rx| rx.tagged(&format!("sla:{id}:nudge")))
        .unwrap();
    assert!(
        nudge.is_some(),
        "the nudge's tag is kept while the request is"
    );
    // Bob is away over the expiry: a nudge would wait for his return, the expiry does not.
    let away = bot
        .command("/standup", "away 2026-12-20..2027-01-10", "UBOB", CHANNEL)
        .await;
    assert!(
        !bot.store.read(|rx| rx.away("UBOB")).unwrap().is_empty(),
        "{away}"
    );

    // An hour before its expiry it still waits on Bob.
    bot.run_until(last_step + chrono::Duration::days(30) - chrono::Duration::hours(1))
        .await;
    assert_eq!(bot.open_requests(), 1);
    let sla = bot.command("/sla", "", "UBOB", CHANNEL).await;
    assert!(sla.contains("*Waiting on you (1)*"), "{sla}");
    assert!(
        sla.contains("A request nobody answers is forgotten 30 days after the last step."),
        "{sla}"
    );

    // Then it is forgotten: closed as expired, gone from both people's lists, nothing posted.
    bot.run_until(last_step + chrono::Duration::days(30) + chrono::Duration::hours(1))
        .await;
    assert_eq!(bot.open_requests(), 0);
    let request = bot.store.read(|rx| rx.request(id)).unwrap().unwrap();
    let asyncbot::domain::sla::RequestState::Cancelled { at: expired, why } = request.state else {
        panic!("expired, not {:?}", request.state);
    };
    assert_eq!(why, asyncbot::domain::sla::CancelReason::Expired);
    let expiry = last_step + chrono::Duration::days(30);
    assert!(
        (expiry - chrono::Duration::minutes(1)..=expiry + chrono::Duration::minutes(1))
            .contains(&expired),
        "30 days after the last step: {expired}"
    );
    let bob = bot.command("/sla", "", "UBOB", CHANNEL).await;
    assert!(bob.contains("*Waiting on you (0)*"), "{bob}");
    let alice = bot.command("/sla", "", "UALICE", CHANNEL).await;
    assert!(alice.contains("*You are waiting on (0)*"), "{alice}");
    assert_eq!(bot.posts().len(), 3, "{}", bot.transcript(NY));

    // Closed requests are kept 30 days, then deleted with their indexes and tags.
    let closed = expired;
    bot.run_until(closed + chrono::Duration::days(30) - chrono::Duration::hours(1))
        .await;
    assert!(bot.store.read(|rx| rx.request(id)).unwrap().is_some());
    bot.run_until(closed + chrono::Duration::days(30) + chrono::Duration::minutes(11))
        .await;
    bot.store
        .read(|rx| {
            assert!(rx.request(id)?.is_none());
            assert!(rx.requests_for_message(CHANNEL, &ts)?.is_empty());
            assert_eq!(rx.tagged(&format!("sla:{id}:nudge"))?, None);
            assert_eq!(rx.tagged(&format!("sla:{id}:dm"))?, None);
            // Bob's absence ended on 2027-01-10: dropped two days later.
            assert!(rx.away("UBOB")?.is_empty());
            Ok(())
        })
        .unwrap();
}

/// Event ids are remembered a day: a Slack retry (within minutes) is a duplicate; after the day
/// the id is forgotten and the same id would be processed again. Slack never retries that late,
/// and over HTTP a request signed more than 5 minutes ago is refused before it gets here.
#[tokio::test(start_paused = true)]
async fn event_ids_are_remembered_a_day() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let event = asyncbot::slack::inbound::Inbound::MessageDeleted {
        channel: CHANNEL.into(),
        ts: "1.2".into(),
    };
    let accept = |bot: &Bot| {
        let (event, now) = (event.clone(), bot.now());
        let store = bot.store.clone();
        async move {
            store
                .call(move |s| s.accept_event(Some("Ev1"), &event, now))
                .await
                .unwrap()
        }
    };
    assert_eq!(accept(&bot).await, Accepted::Queued);
    bot.run_for(minutes(5)).await;
    assert_eq!(accept(&bot).await, Accepted::Duplicate, "a retry");
    bot.run_for(hours(23)).await;
    assert_eq!(
        accept(&bot).await,
        Accepted::Duplicate,
        "still within the day"
    );
    // The pruner's pass after the day is over (it runs every 10 minutes).
    bot.run_for(minutes(75)).await;
    assert_eq!(
        accept(&bot).await,
        Accepted::Queued,
        "forgotten after the day"
    );
}
