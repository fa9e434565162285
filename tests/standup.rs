//! Standups end to end: a schedule a few seconds ahead, second-long offsets, the real binary and
//! the fake Slack. The prompt comes on time with the three sections; the reminder names only
//! members who have not answered (not bots, not the away); the summary lists the blockers; a late
//! answer updates it; a holiday gets nothing; a prompt missed while the bot was down goes out once.

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;

const TEAM: &str = "CTEAM";

/// `HH:MM:SS` in UTC, `secs` from now, and that instant's date.
fn at_in(secs: i64) -> (String, String) {
    let t = Utc::now() + chrono::Duration::seconds(secs);
    (
        t.format("%H:%M:%S").to_string(),
        t.format("%Y-%m-%d").to_string(),
    )
}

fn standup_config(entries: &str) -> String {
    format!("{FAST_NORMS}\n{entries}")
}

fn entry(channel: &str, at: &str, extra: &str) -> String {
    format!(
        "[[standups]]\nchannel = \"{channel}\"\nat = \"{at}\"\ntimezone = \"UTC\"\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nremind_after = \"3s\"\nsummary_after = \"6s\"\n{extra}\n"
    )
}

async fn team() -> FakeSlack {
    let fake = fake_with_team().await;
    fake.add_user("UDAVE", "dave", "America/Los_Angeles");
    fake.set_members(
        TEAM,
        &["UALICE", "UBOB", "UCAROL", "UDAVE", "UOTHERBOT", "UBOT"],
    );
    fake
}

fn prompts_to(fake: &FakeSlack, channel: &str) -> Vec<Call> {
    posts(fake)
        .into_iter()
        .filter(|c| c.arg("channel").as_deref() == Some(channel) && c.arg("thread_ts").is_none())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standup_day_from_prompt_to_updated_summary() {
    let fake = team().await;
    fake.set_members("CHOLIDAY", &["UALICE", "UBOB"]);
    let (at, date) = at_in(5);
    let config = standup_config(&format!(
        "{}{}",
        entry(TEAM, &at, ""),
        entry("CHOLIDAY", &at, &format!("holidays = [\"{date}\"]"))
    ));
    let started = Instant::now();
    let app = TestApp::start(&fake, Mode::Http, &config).await;

    let (away, took) = app
        .command(&fake, "/standup", "away today", "UDAVE", TEAM)
        .await;
    assert!(took < Duration::from_secs(3));
    assert!(away.contains("You're away"), "{away}");

    let prompt = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(15), |c| {
            c.arg("channel").as_deref() == Some(TEAM) && c.arg("thread_ts").is_none()
        })
        .await;
    let when = started.elapsed();
    assert!(
        when >= Duration::from_millis(4000) && when < Duration::from_millis(7500),
        "prompt at {when:?}, due at 5 s"
    );
    let text = prompt.text();
    assert!(text.contains("*Async standup"), "{text}");
    for section in ["Completed yesterday", "Planned today", "Blockers"] {
        assert!(text.contains(section), "{section}: {text}");
    }
    let root = prompt.response_ts().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Alice answers, with a blocker; another bot chatters in the thread.
    app.deliver(
        &fake,
        message(
            TEAM,
            "UALICE",
            &new_ts(),
            "Done: API\nToday: tests\nBlockers: waiting for DB creds, Bob can help",
            Some(&root),
        ),
    )
    .await;
    let mut bot = message(TEAM, "UOTHERBOT", &new_ts(), "beep", Some(&root));
    bot["bot_id"] = serde_json::json!("B0OTHER");
    app.deliver(&fake, bot).await;

    // The reminder names only Bob and Carol.
    let reminder = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("thread_ts").as_deref() == Some(root.as_str()) && c.text().contains("reminder")
        })
        .await;
    let r = reminder.text();
    assert!(r.contains("<@UBOB>") && r.contains("<@UCAROL>"), "{r}");
    for not in ["UALICE", "UDAVE", "UOTHERBOT", "UBOT>"] {
        assert!(!r.contains(not), "{not} is not reminded: {r}");
    }

    // The summary: counts, names without pings, the blocker with its author.
    let summary = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("thread_ts").as_deref() == Some(root.as_str())
                && c.text().contains("Standup summary")
        })
        .await;
    let s = summary.text();
    assert!(s.contains("Answered: 1 of 3 (alice)"), "{s}");
    assert!(s.contains("Not yet: bob, carol"), "{s}");
    assert!(
        s.contains("• alice: waiting for DB creds, Bob can help"),
        "{s}"
    );
    assert!(!s.contains("<@"), "no @-ping in the summary: {s}");

    // Bob answers late: the summary is updated, not lost.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.deliver(
        &fake,
        message(
            TEAM,
            "UBOB",
            &new_ts(),
            "Completed: review\nBlockers: none",
            Some(&root),
        ),
    )
    .await;
    let update = fake
        .wait_for("chat.update", 1, Duration::from_secs(10))
        .await
        .remove(0);
    assert_eq!(
        update.arg("ts"),
        summary.response_ts(),
        "the summary itself is edited"
    );
    assert!(
        update.text().contains("Answered: 2 of 3 (alice, bob)"),
        "{}",
        update.text()
    );
    assert!(
        update.text().contains("Not yet: carol"),
        "{}",
        update.text()
    );

    let (status, took) = app
        .command(&fake, "/standup", "status", "UALICE", TEAM)
        .await;
    assert!(took < Duration::from_secs(3));
    assert!(status.contains("Standup at"), "{status}");
    assert!(status.contains("2 answer(s): alice, bob"), "{status}");
    assert!(status.contains("*Away today:* dave"), "{status}");

    // One prompt only, and nothing at all in the channel whose holiday is today.
    assert_eq!(
        prompts_to(&fake, TEAM).len(),
        1,
        "{}",
        fake.describe_calls()
    );
    assert!(
        prompts_to(&fake, "CHOLIDAY").is_empty(),
        "a holiday gets nothing"
    );
    assert!(
        !fake
            .calls()
            .iter()
            .any(|c| c.arg("channel").as_deref() == Some("CHOLIDAY")),
        "{}",
        fake.describe_calls()
    );
}

/// Down at the prompt's time, back within the summary's offset: the prompt goes out once, late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_prompt_goes_out_once_after_a_restart() {
    let fake = team().await;
    // Seed the schedule while the bot runs, then stop it before the prompt's time.
    let (at, _) = at_in(3);
    let mut app = TestApp::start(&fake, Mode::Http, &standup_config(&entry(TEAM, &at, ""))).await;
    app.kill9();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(prompts_to(&fake, TEAM).is_empty());
    app.restart(&fake).await;
    let prompt = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("channel").as_deref() == Some(TEAM) && c.arg("thread_ts").is_none()
        })
        .await;
    assert!(prompt.text().contains("*Async standup"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        prompts_to(&fake, TEAM).len(),
        1,
        "never twice: {}",
        fake.describe_calls()
    );
}

/// Schedules from Slack: `/standup at`, `skip`, `off`, `away`/`back`, `help`, and mistakes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standup_commands_over_socket_mode() {
    let fake = team().await;
    fake.set_members("CSOCK", &["UALICE", "UBOB"]);
    let app = TestApp::start(&fake, Mode::SocketMode, FAST_NORMS).await;
    let (status, _) = app.command(&fake, "/standup", "", "UALICE", "CSOCK").await;
    assert!(
        status.contains("There is no standup in this channel"),
        "{status}"
    );

    let (at, _) = at_in(4);
    let (set, took) = app
        .command(
            &fake,
            "/standup",
            &format!("at {at} UTC daily"),
            "UALICE",
            "CSOCK",
        )
        .await;
    assert!(took < Duration::from_secs(3));
    assert!(set.contains("Standup at") && set.contains("UTC"), "{set}");
    let prompt = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(12), |c| {
            c.arg("channel").as_deref() == Some("CSOCK") && c.arg("thread_ts").is_none()
        })
        .await;
    assert!(prompt.text().contains("*Async standup"));
    let (skip, _) = app
        .command(&fake, "/standup", "skip", "UALICE", "CSOCK")
        .await;
    assert!(skip.contains("already posted"), "{skip}");
    let (off, _) = app
        .command(&fake, "/standup", "off", "UALICE", "CSOCK")
        .await;
    assert!(off.contains("is off"), "{off}");

    let (back, _) = app
        .command(&fake, "/standup", "back", "UBOB", "CSOCK")
        .await;
    assert!(back.contains("Welcome back"), "{back}");
    for (text, expected) in [
        ("at 25:00", "25:00"),
        ("at 09:30 Mars/Olympus", "Mars/Olympus"),
        ("away 2001-01-01", "past"),
        ("dance", "dance"),
    ] {
        let (reply, _) = app
            .command(&fake, "/standup", text, "UALICE", "CSOCK")
            .await;
        assert!(reply.contains(expected), "/standup {text}: {reply}");
        assert!(
            reply.contains("/standup at"),
            "usage follows a mistake: {reply}"
        );
    }
    let (dm, _) = app
        .command(&fake, "/standup", "at 09:30", "UALICE", "DALICE")
        .await;
    assert!(dm.contains("belong to a channel"), "{dm}");
    let (help, _) = app
        .command(&fake, "/standup", "help", "UALICE", "CSOCK")
        .await;
    assert!(help.contains("/standup away"), "{help}");
}
