//! Team metrics end to end (issue 11, item 1): the real binary over HTTP (signed requests)
//! against the fake Slack. Alice asks Bob and Carol; Bob answers in the thread; then `/sla stats`
//! and the Home tab show Bob's figures to Bob alone: to anyone else, a "team" of one person
//! answering shows nothing (`respect.metrics_min_group`, 3 by default), and with the guard at 1
//! the team's figures name nobody. The figures themselves are checked on the virtual clock
//! (`tests/flows/stats.rs`).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

const CHANNEL: &str = "CPLAN";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_of_one_shows_nothing_but_your_own() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    bob_answers_carol_does_not(&fake, &app).await;

    // One person answered: "the team's" figures would be Bob's, so nobody else sees them.
    let (carols, _) = app
        .command(&fake, "/sla", "stats here 1w", "UCAROL", CHANNEL)
        .await;
    let (team, own) = carols.split_once("*Your own*").expect(&carols);
    assert!(
        team.contains("Fewer than 3 people were counted here"),
        "{carols}"
    );
    assert!(!team.contains("answered"), "{carols}");
    assert!(
        own.contains("Nothing yet"),
        "Carol has answered nothing: {carols}"
    );
    // Bob sees his own.
    let (bobs, _) = app.command(&fake, "/sla", "stats", "UBOB", CHANNEL).await;
    let own = bobs.split_once("*Your own*").expect(&bobs).1;
    assert!(own.contains("*Normal*: 1 answered"), "{bobs}");
    let (refused, _) = app
        .command(&fake, "/sla", "stats <@UBOB|bob>", "UCAROL", CHANNEL)
        .await;
    assert!(refused.contains("never per person"), "{refused}");
    let week = home_week(&fake, &app, "UCAROL").await;
    assert!(week.contains("Fewer than 3 people"), "{week}");
    assert!(!week.contains("answered"), "{week}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_guard_at_one_the_teams_figures_name_nobody() {
    let fake = fake_with_team().await;
    let norms = format!("{FAST_NORMS}\n[respect]\nmetrics_min_group = 1\n");
    let app = TestApp::start(&fake, Mode::Http, &norms).await;
    bob_answers_carol_does_not(&fake, &app).await;

    let (carols, _) = app
        .command(&fake, "/sla", "stats here 1w", "UCAROL", CHANNEL)
        .await;
    let (team, own) = carols.split_once("*Your own*").expect(&carols);
    assert!(team.contains("in <#CPLAN>, the last week"), "{carols}");
    assert!(team.contains("*Normal*: 1 answered"), "{carols}");
    assert!(team.contains("100% within the SLA"), "{carols}");
    for who in ["UBOB", "bob", "UALICE", "alice", "<@"] {
        assert!(!team.contains(who), "{who} in the team's figures: {carols}");
    }
    assert!(
        own.contains("Nothing yet"),
        "Carol has answered nothing: {carols}"
    );
    let week = home_week(&fake, &app, "UCAROL").await;
    assert!(week.starts_with("*The team's week*"), "{week}");
    assert!(week.contains("*Normal*: 1 answered"), "{week}");
    assert!(
        !week.contains("*Your week*"),
        "Carol answered nothing: {week}"
    );
    assert!(!week.contains("bob") && !week.contains("UBOB"), "{week}");
}

/// Alice asks Bob and Carol; Bob answers in the thread; Carol's request stays open.
async fn bob_answers_carol_does_not(fake: &FakeSlack, app: &TestApp) {
    let asked = new_ts();
    for (ts, text) in [
        (asked.clone(), "<@UBOB> can you review the plan?"),
        (new_ts(), "<@UCAROL> and the budget?"),
    ] {
        app.deliver(fake, message(CHANNEL, "UALICE", &ts, text, None))
            .await;
    }
    open_requests(app, 2).await;
    app.deliver(
        fake,
        message(CHANNEL, "UBOB", &new_ts(), "looks good", Some(&asked)),
    )
    .await;
    open_requests(app, 1).await;
}

/// Waits until the bot has `n` open requests.
async fn open_requests(app: &TestApp, n: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let health = app.health().await;
        if health["open_requests"] == n {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `user` opens the Home tab (the first published); returns its team week section.
async fn home_week(fake: &FakeSlack, app: &TestApp, user: &str) -> String {
    app.deliver(
        fake,
        json!({"type": "app_home_opened", "user": user, "channel": format!("D{user}"),
            "tab": "home", "event_ts": new_ts()}),
    )
    .await;
    let published = fake
        .wait_for("views.publish", 1, Duration::from_secs(10))
        .await;
    assert_eq!(published[0].arg("user_id").as_deref(), Some(user));
    let view = published[0].json_arg("view").unwrap();
    view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["block_id"] == "insights_week")
        .and_then(|b| b["text"]["text"].as_str())
        .unwrap_or_else(|| panic!("no team week: {view}"))
        .to_owned()
}

/// `GET /report`: not served unless enabled; enabled, served to this machine with the team's
/// page; a bad `weeks` gets a sentence, not a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_is_served_on_this_machine_when_enabled() {
    let fake = fake_with_team().await;
    let off = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let status = off
        .http
        .get(format!("{}/report", off.base_url))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 404);
    drop(off);

    let fake = fake_with_team().await;
    let norms = format!("{FAST_NORMS}\n[report]\nenabled = true\nweeks = 4\n");
    let app = TestApp::start(&fake, Mode::Http, &norms).await;
    bob_answers_carol_does_not(&fake, &app).await;
    let page = app
        .http
        .get(format!("{}/report?channel={CHANNEL}", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>asyncbot: how the team keeps its norms</title>"));
    assert!(html.contains("Channel CPLAN · the 4 weeks to"), "{html}");
    // One person answered: no team figures (`respect.metrics_min_group`).
    assert!(html.contains("Fewer than 3 people were counted"), "{html}");
    let bad = app
        .http
        .get(format!("{}/report?weeks=99", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("from 1 to 52"));
}
