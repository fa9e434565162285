//! The start on virtual time: an unreachable Slack is retried with a growing wait (half a second
//! doubling to 8 s, five times) before the start gives up, and the message names no secret.

use std::time::Duration;

use asyncbot::app::Application;
use asyncbot::config::{Secrets, load};

#[tokio::test(start_paused = true)]
async fn an_unreachable_slack_is_retried_then_reported_without_the_token() {
    asyncbot::install_crypto_provider();
    let env: Vec<(String, String)> = [
        ("SLACK_BOT_TOKEN", "xoxb-very-secret-token"),
        ("SLACK_SIGNING_SECRET", "very-secret-signing"),
        // Nothing listens on port 9.
        ("SLACK_API_URL", "http://127.0.0.1:9/api"),
        ("ASYNCBOT_DELIVERY__REQUEST_TIMEOUT", "1s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = load(None, &env).unwrap();
    let secrets = Secrets::from_env(&env).unwrap();
    let started = tokio::time::Instant::now();
    let Err(error) = Application::build(settings, secrets).await else {
        panic!("the start must fail while Slack is unreachable");
    };
    let message = error.to_string();
    assert!(message.contains("cannot reach Slack"), "{message}");
    assert!(!message.contains("very-secret"), "a secret in: {message}");
    // 0.5 + 1 + 2 + 4 + 8 s of waits between six attempts.
    assert!(
        started.elapsed() >= Duration::from_millis(15_500),
        "gave up after {:?}",
        started.elapsed()
    );
}
