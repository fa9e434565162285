//! Hostile but ordinary user text, end to end (the real binary, the fake Slack, second-long
//! norms): standup answers with `İ` and the Kelvin sign are summarised and the bot keeps working;
//! broadcasts typed into `/rfc` never reach a post; an RFC cannot inform more than 50 people. A
//! summary split into parts and the DM's quoting of a request are tested in-process in
//! `tests/flows/hostile.rs`.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use serde_json::{Value, json};

const ARCH: &str = "CARCH";
const TEAM: &str = "CTEAM";

/// Everything the bot posted or edited, as the fake Slack received it.
fn posted_texts(fake: &FakeSlack) -> Vec<String> {
    fake.calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" || c.method == "chat.update")
        .map(|c| {
            // The text, and the raw blocks too: a token in any block counts.
            format!(
                "{}\n{}",
                c.text(),
                c.json_arg("blocks")
                    .map(|b| b.to_string())
                    .unwrap_or_default()
            )
        })
        .collect()
}

/// A broadcast token Slack would act on (dates are the one harmless `<!…>`).
fn broadcast_in(text: &str) -> Option<&'static str> {
    [
        "<!channel",
        "<!here",
        "<!everyone",
        "<!subteam",
        "<!HERE",
        "<!CHANNEL",
    ]
    .into_iter()
    .find(|token| text.contains(token))
}

fn rfc_norms() -> String {
    format!(
        "{FAST_NORMS}\n[rfc]\ndefault_window = \"1h\"\nmin_window = \"1s\"\nmax_window = \"1h\"\nremind_before = \"0s\"\nclock = \"wall\"\n"
    )
}

/// (b) A broadcast in an RFC's title and in the rationale of `/rfc decide` reaches no post: not
/// the RFC, not its thread, not the Informed channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standup_answers_with_dotted_i_and_kelvin_are_summarised_and_the_bot_keeps_working() {
    let fake = fake_with_team().await;
    fake.set_members(TEAM, &["UALICE", "UBOB", "UCAROL", "UBOT"]);
    let at = (Utc::now() + chrono::Duration::seconds(2))
        .format("%H:%M:%S")
        .to_string();
    let config = format!(
        "{FAST_NORMS}\n[[standups]]\nchannel = \"{TEAM}\"\nat = \"{at}\"\ntimezone = \"UTC\"\ndays = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nremind_after = \"1s\"\nsummary_after = \"2s\"\n"
    );
    let app = TestApp::start(&fake, Mode::Http, &config).await;
    let prompt = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(15), |c| {
            c.arg("channel").as_deref() == Some(TEAM) && c.arg("thread_ts").is_none()
        })
        .await;
    let root = prompt.response_ts().unwrap();

    app.deliver(
        &fake,
        message(
            TEAM,
            "UCAROL",
            &new_ts(),
            "Done: x\nBlockers: \u{212A}",
            Some(&root),
        ),
    )
    .await;
    let summary = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("thread_ts").as_deref() == Some(root.as_str())
                && c.text().contains("Standup summary")
        })
        .await;
    assert!(
        summary.text().contains("• carol: \u{212A}"),
        "{}",
        summary.text()
    );

    // Late, after the summary: the event worker renders the summary again.
    let dotted = "İİİİİİİİİİİİ";
    app.deliver(
        &fake,
        message(
            TEAM,
            "UBOB",
            &new_ts(),
            &format!("Blockers: {dotted}"),
            Some(&root),
        ),
    )
    .await;
    let update = fake
        .wait_for("chat.update", 1, Duration::from_secs(10))
        .await
        .remove(0);
    let text = update.text();
    assert!(text.contains(&format!("• bob: {dotted}")), "{text}");
    assert!(text.contains("• carol: \u{212A}"), "{text}");
    assert_eq!(update.arg("ts"), summary.response_ts(), "edited in place");

    // A request sent afterwards is still tracked: the nudge comes at the urgent SLA (2 s).
    let ts = new_ts();
    app.deliver(
        &fake,
        message(
            "CENG",
            "UALICE",
            &ts,
            "<@UBOB> urgent: can you check the İstanbul numbers?",
            None,
        ),
    )
    .await;
    let nudge = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(12), |c| {
            c.arg("thread_ts").as_deref() == Some(ts.as_str())
        })
        .await;
    assert!(nudge.text().contains("<@UBOB>"), "{}", nudge.text());
}

/// A summary with more blockers than one message holds is split into parts, none lost; a late
/// answer edits the parts in place and posts the part the summary grew into.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_typed_into_rfc_commands_never_reach_a_post() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, &rfc_norms()).await;
    let (reply, _) = app
        .command(
            &fake,
            "/rfc",
            "<!here> Adopt Rust &amp; <!subteam^S0ENG|@eng> approver:<@UBOB|bob> informed:<#CANN|announce> <@UCAROL|carol>",
            "UALICE",
            ARCH,
        )
        .await;
    assert!(reply.contains("RFC-1"), "{reply}");
    let post = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("channel").as_deref() == Some(ARCH) && c.arg("thread_ts").is_none()
        })
        .await;
    assert!(post.text().contains("Adopt Rust &amp;"), "{}", post.text());

    let (reply, _) = app
        .command(
            &fake,
            "/rfc",
            "decide RFC-1 accept <!channel> because <@UCAROL|carol> measured it",
            "UBOB",
            ARCH,
        )
        .await;
    assert!(broadcast_in(&reply).is_none(), "{reply}");
    let notice = fake
        .wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
            c.arg("channel").as_deref() == Some("CANN")
        })
        .await;
    let text = notice.text();
    assert!(
        text.contains("because <@UCAROL|carol> measured it"),
        "the rationale is quoted with its mention: {text}"
    );
    // Carol, informed, hears it by DM too; then nothing carries a broadcast.
    fake.wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
        c.arg("channel").as_deref() == Some("DUCAROL")
    })
    .await;
    // The RFC message is edited and its thread told (paced: one message a second per channel).
    fake.wait_for("chat.update", 1, Duration::from_secs(10))
        .await;
    let rfc_ts = post.response_ts().unwrap();
    fake.wait_for_match("chat.postMessage", Duration::from_secs(10), |c| {
        c.arg("thread_ts").as_deref() == Some(rfc_ts.as_str()) && c.text().contains("accepted")
    })
    .await;
    let texts = posted_texts(&fake);
    assert_eq!(texts.len(), 5, "{}", fake.describe_calls());
    for text in texts {
        assert!(broadcast_in(&text).is_none(), "a broadcast in {text}");
    }
}

/// (d) An RFC informing 51 people is refused with the sentence that says the cap, from `/rfc`
/// and from the modal; nothing is posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rfc_with_51_informed_people_is_refused() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, &rfc_norms()).await;
    let people: Vec<String> = (0..51).map(|i| format!("U{i:04}")).collect();
    let mentions = people
        .iter()
        .map(|id| format!("<@{id}|p{id}>"))
        .collect::<Vec<_>>()
        .join(" ");
    let (reply, took) = app
        .command(
            &fake,
            "/rfc",
            &format!("Move CI approver:<@UBOB|bob> informed:{mentions}"),
            "UALICE",
            ARCH,
        )
        .await;
    assert!(took < Duration::from_secs(3));
    assert!(
        reply.contains("An RFC can inform at most 50 people directly, and you listed 51"),
        "{reply}"
    );

    let values = json!({
        "title": {"value": {"type": "plain_text_input", "value": "Move CI"}},
        "approver": {"value": {"type": "users_select", "selected_user": "UBOB"}},
        "informed_users": {"value": {"type": "multi_users_select", "selected_users": people}},
    });
    let answer = app
        .interaction(&fake, &view_submission("UALICE", ARCH, values))
        .await;
    assert_eq!(answer["response_action"], "errors", "{answer}");
    assert!(
        answer["errors"]["informed_users"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 50 people"),
        "{answer}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(posts(&fake).is_empty(), "{}", fake.describe_calls());
}

fn view_submission(user: &str, metadata: &str, values: Value) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": "T0FAKE", "domain": "fake"},
        "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0FAKE"},
        "api_app_id": "A0FAKE",
        "token": "ignored",
        "trigger_id": "3333.4444.trigger",
        "view": {
            "id": "V0MODAL", "team_id": "T0FAKE", "type": "modal", "callback_id": "rfc_open",
            "private_metadata": metadata, "hash": "1700000000.abc",
            "title": {"type": "plain_text", "text": "Form"}, "blocks": [],
            "state": {"values": values}
        }
    })
}
