//! Standups end to end: a schedule a few seconds ahead, the real binary and the fake Slack. A
//! prompt missed while the bot was down (kill -9) goes out once; the `/standup` commands work
//! over Socket Mode. The standup day itself (prompt, reminder, summary, late answer, holiday,
//! away, weekend) is tested in-process on virtual time in `tests/flows/standup.rs`.

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

/// Down at the prompt's time, back within the summary's offset: the prompt goes out once, late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_prompt_goes_out_once_after_a_restart() {
    let fake = team().await;
    // Seed the schedule while the bot runs, then stop it before the prompt's time.
    let (at, _) = at_in(3);
    let due = Instant::now() + Duration::from_secs(3);
    let mut app = TestApp::start(&fake, Mode::Http, &standup_config(&entry(TEAM, &at, ""))).await;
    app.kill9();
    // Down until just past the prompt's time (`at` drops the fraction: it is at most `due`).
    tokio::time::sleep_until((due + Duration::from_millis(500)).into()).await;
    assert!(prompts_to(&fake, TEAM).is_empty());
    app.restart(&fake).await;
    let prompt = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("channel").as_deref() == Some(TEAM) && c.arg("thread_ts").is_none()
        })
        .await;
    assert!(prompt.text().contains("*Async standup"));
    // A second prompt queued with the first would sit in the outbox behind the channel's 1 s
    // pacing: the outbox empties only once it is out too.
    app.wait_outbox_empty().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
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
