//! Presence through the real binary: signed `user_change` and `dnd_updated_user` events are
//! accepted, and what they say ends up in the store, with the status the first lookup of a
//! mentioned person brings (read from the store once the bot is stopped).

mod common;

use std::time::Duration;

use asyncbot::domain::presence::Dnd;
use asyncbot::store::Store;
use asyncbot::store::prelude::*;
use chrono::{DateTime, Utc};
use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_dnd_events_are_stored() {
    let fake = fake_with_team().await;
    let now = unix_now() as i64;
    let (back, snooze) = (now + 5 * 86_400, now + 3_600);
    // Carol is away sick: the lookup when she is mentioned brings her status.
    fake.set_status("UCAROL", ":face_with_thermometer:", "Out sick", 0);
    let mut app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;

    app.deliver(
        &fake,
        json!({
            "type": "user_change",
            "user": {
                "id": "UBOB", "team_id": "T0FAKE", "name": "bob", "real_name": "bob",
                "deleted": false, "tz": "America/New_York", "is_bot": false,
                "profile": {
                    "real_name": "bob", "display_name": "bob",
                    "status_emoji": ":palm_tree:", "status_text": "🌴 OOO until Monday",
                    "status_expiration": back,
                },
            },
            "cache_ts": now,
            "event_ts": new_ts(),
        }),
    )
    .await;
    app.deliver(
        &fake,
        json!({
            "type": "dnd_updated_user",
            "user": "UALICE",
            "dnd_status": {
                "dnd_enabled": false, "next_dnd_start_ts": 0, "next_dnd_end_ts": 0,
                "snooze_enabled": true, "snooze_endtime": snooze,
            },
            "event_ts": new_ts(),
        }),
    )
    .await;
    // Events are applied in order: once the request this mention opens is counted, the events
    // before it are in the store too.
    app.deliver(
        &fake,
        message(
            "CENG",
            "UALICE",
            &new_ts(),
            "<@UCAROL> can you check the numbers?",
            None,
        ),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while app.health().await["open_requests"] != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the request was never opened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop();

    let store = Store::open(&app.store_dir().join("asyncbot.redb")).unwrap();
    let bob = store
        .read(|rx| rx.presence("UBOB"))
        .unwrap()
        .expect("Bob's status is stored");
    assert_eq!(bob.ooo_until, DateTime::from_timestamp(back, 0));
    let alice = store
        .read(|rx| rx.presence("UALICE"))
        .unwrap()
        .expect("Alice's DND is stored");
    assert_eq!(alice.dnd, Some(Dnd::from_slack(false, 0, 0, true, snooze)));
    let carol = store
        .read(|rx| rx.presence("UCAROL"))
        .unwrap()
        .expect("Carol's status came with her lookup");
    assert_eq!(carol.ooo_until, Some(DateTime::<Utc>::MAX_UTC));
    assert!(
        fake.calls_to("users.profile.get").is_empty(),
        "users.info's profile is enough"
    );
}
