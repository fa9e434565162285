//! Every kind of bad HTTP request is refused with a 4xx, changes no stored data, and leaves the
//! bot healthy; Slack's url_verification is answered.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const CHANNEL: &str = "CENG";

fn mention_payload() -> Vec<u8> {
    serde_json::to_vec(&event_callback(
        &new_event_id(),
        message(CHANNEL, "UALICE", &new_ts(), "<@UBOB> forged request", None),
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_and_change_nothing() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, &due_in_1s(FAST_NORMS)).await;
    let now = unix_now().to_string();

    // Unsigned.
    let r = app
        .post_raw(
            "/slack/events",
            "application/json",
            mention_payload(),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status(), 401, "unsigned");

    // Forged: signed with the wrong secret.
    let body = mention_payload();
    let r = app
        .post_raw(
            "/slack/events",
            "application/json",
            body,
            Some((&now, "v0=deadbeef")),
            &[],
        )
        .await;
    assert_eq!(r.status(), 401, "forged");

    // Signed, but the body was changed afterwards.
    let body = mention_payload();
    let sig = sign(&now, &body);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let r = app
        .post_raw(
            "/slack/events",
            "application/json",
            tampered,
            Some((&now, &sig)),
            &[],
        )
        .await;
    assert_eq!(r.status(), 401, "tampered");

    // Stale: correctly signed ten minutes ago (a replay).
    let old = (unix_now() - 600).to_string();
    let body = mention_payload();
    let sig = sign(&old, &body);
    let r = app
        .post_raw(
            "/slack/events",
            "application/json",
            body,
            Some((&old, &sig)),
            &[],
        )
        .await;
    assert_eq!(r.status(), 401, "stale");
    let r: Value = r.json().await.unwrap();
    assert_eq!(r["error"], "stale_or_bad_timestamp");

    // 8 MiB: refused before it is read. The server answers 413 and may close the connection
    // while the client is still writing, so this speaks HTTP over a raw socket.
    let huge = vec![b'a'; 8 * 1024 * 1024];
    let sig = sign(&now, &huge);
    let status = raw_post_status(&app.base_url, "/slack/events", &now, &sig, &huge).await;
    assert_eq!(status, 413, "8 MiB body");

    // Signed but malformed: not JSON, JSON of the wrong shape, a bad form, a bad interaction.
    for (path, content_type, body) in [
        ("/slack/events", "application/json", b"{not json".to_vec()),
        (
            "/slack/events",
            "application/json",
            br#"{"type":"event_callback"}"#.to_vec(),
        ),
        (
            "/slack/commands",
            "application/x-www-form-urlencoded",
            b"command=%2Fsla".to_vec(),
        ),
        (
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            b"payload=%7Bnope".to_vec(),
        ),
        (
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            b"nothing=here".to_vec(),
        ),
        ("/slack/events", "application/json", vec![0xff, 0xfe, 0x00]),
    ] {
        let r = app.post_signed(path, content_type, body.clone()).await;
        assert_eq!(
            r.status(),
            400,
            "{path} {:?}",
            String::from_utf8_lossy(&body)
        );
    }

    // A forged slash command gets nothing either.
    let r = app
        .post_raw(
            "/slack/commands",
            "application/x-www-form-urlencoded",
            b"command=%2Fsla&user_id=UBOB".to_vec(),
            Some((&now, "v0=00")),
            &[],
        )
        .await;
    assert_eq!(r.status(), 401);

    // Still healthy, nothing stored, nothing sent.
    let health = app.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["open_requests"], 0, "{health}");
    assert_eq!(health["outbox"], 0);
    assert!(posts(&fake).is_empty(), "{}", fake.describe_calls());

    // And a genuine request still works afterwards. The inbox is first in, first out, and every
    // forged mention came before it: had one been stored, it would be open beside it now, and
    // its nudge (due no later) would be posted beside this one.
    let real = new_ts();
    app.deliver(
        &fake,
        message(CHANNEL, "UALICE", &real, "<@UBOB> real one", None),
    )
    .await;
    let nudge = fake
        .wait_for("chat.postMessage", 1, Duration::from_secs(15))
        .await
        .remove(0);
    assert!(nudge.text().starts_with("<@UBOB>"));
    assert_eq!(nudge.arg("thread_ts").as_deref(), Some(real.as_str()));
    app.wait_outbox_empty().await;
    assert_eq!(app.health().await["open_requests"], 1);
    assert_eq!(posts(&fake).len(), 1, "{}", fake.describe_calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_is_answered() {
    let fake = fake_with_team().await;
    let app = TestApp::start(&fake, Mode::Http, FAST_NORMS).await;
    let body = serde_json::to_vec(&json!({
        "token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification"
    }))
    .unwrap();
    let r = app
        .post_signed("/slack/events", "application/json", body)
        .await;
    assert_eq!(r.status(), 200);
    let r: Value = r.json().await.unwrap();
    assert_eq!(
        r["challenge"],
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
}

/// Slack's own signing example verifies with the same code the server uses.
#[test]
fn slacks_documented_signature_example_verifies() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/slack/signature-vectors.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("{} not found; skipping", path.display());
        return;
    };
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap();
    for v in vectors {
        let secret = v["signing_secret"].as_str().unwrap();
        let verifier = slack_morphism::signature_verifier::SlackEventSignatureVerifier::new(
            &slack_morphism::prelude::SlackSigningSecret::new(secret.to_owned()),
        );
        // The example is from 2018: only the signature can be checked, not its age.
        let result = verifier.verify(
            v["signature"].as_str().unwrap(),
            v["body"].as_str().unwrap(),
            v["timestamp"].as_str().unwrap(),
        );
        match result {
            Ok(()) => panic!("a 2018 timestamp must be refused as stale"),
            Err(slack_morphism::signature_verifier::SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_)) => {}
            Err(other) => panic!("the documented signature did not verify: {other}"),
        }
    }
}

/// Sends a POST over a plain TCP socket, tolerating the server closing early; returns the status.
async fn raw_post_status(base_url: &str, path: &str, ts: &str, sig: &str, body: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Slack-Request-Timestamp: {ts}\r\nX-Slack-Signature: {sig}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may refuse before reading the body: a failed write is expected here.
    let _ = stream.write_all(body).await;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"))
}
