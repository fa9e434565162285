//! The command line: a bad configuration or a missing token stops the start with a message that
//! names the key (or variable) and the reason, and no Rust error or stack trace.

mod common;

use std::process::Command;

fn asyncbot(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_asyncbot"));
    cmd.args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_file(contents: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, contents).unwrap();
    (dir, path.display().to_string())
}

fn assert_user_facing(stderr: &str) {
    for rust_noise in [
        "panicked",
        "RUST_BACKTRACE",
        "called `Result::unwrap()`",
        "Error {",
    ] {
        assert!(
            !stderr.contains(rust_noise),
            "a user sees Rust internals: {stderr}"
        );
    }
}

#[test]
fn a_bad_value_names_the_key_and_the_reason() {
    let (_dir, path) = config_file("[sla.normal]\nwithin = \"banana\"\n");
    let (ok, _, stderr) = asyncbot(
        &["serve", "--config", &path],
        &[("SLACK_BOT_TOKEN", "xoxb-1"), ("SLACK_APP_TOKEN", "xapp-1")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("sla.normal.within: \"banana\" is not a duration"),
        "{stderr}"
    );
    assert_user_facing(&stderr);
}

#[test]
fn an_environment_override_is_checked_too() {
    let (ok, _, stderr) = asyncbot(
        &["check-config"],
        &[("ASYNCBOT_CALENDAR__FALLBACK_TIMEZONE", "Mars/Base")],
    );
    assert!(!ok);
    assert!(
        stderr.contains("calendar.fallback_timezone: \"Mars/Base\" is not an IANA time zone"),
        "{stderr}"
    );
}

#[test]
fn missing_tokens_name_the_variable() {
    let (ok, _, stderr) = asyncbot(&["serve"], &[]);
    assert!(!ok);
    assert!(stderr.contains("SLACK_BOT_TOKEN is not set"), "{stderr}");
    assert_user_facing(&stderr);

    let (ok, _, stderr) = asyncbot(&["serve"], &[("SLACK_BOT_TOKEN", "xoxb-1")]);
    assert!(!ok);
    assert!(stderr.contains("SLACK_APP_TOKEN is not set"), "{stderr}");
    assert!(stderr.contains("SLACK_SIGNING_SECRET"), "{stderr}");
}

#[test]
fn a_missing_config_file_is_named() {
    let (ok, _, stderr) = asyncbot(
        &["check-config", "--config", "/nonexistent/asyncbot.toml"],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/asyncbot.toml"), "{stderr}");
    assert_user_facing(&stderr);
}

#[test]
fn the_defaults_are_built_in_and_valid_from_any_directory() {
    let (ok, stdout, stderr) = asyncbot(&["check-config"], &[]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("configuration is valid"));
    assert!(stdout.contains("within 24 h"), "{stdout}");
    let (ok, stdout, _) = asyncbot(&["default-config"], &[]);
    assert!(ok);
    assert!(stdout.contains("[sla.normal]"));
}

/// Slack refuses the bot token: the start stops at once with a message that names the variable,
/// and neither the token nor the signing secret. (An unreachable Slack, retried for 15 s before
/// the start gives up, is tested on virtual time in `tests/flows/start.rs`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_is_reported_without_leaking_it() {
    let fake = common::FakeSlack::start().await;
    fake.fail_next(
        "auth.test",
        vec![common::Failure::ApiError("invalid_auth".into())],
    );
    let api = fake.api_base();
    let (ok, _, stderr) = tokio::task::spawn_blocking(move || {
        asyncbot(
            &["serve"],
            &[
                ("SLACK_BOT_TOKEN", "xoxb-very-secret-token"),
                ("SLACK_SIGNING_SECRET", "very-secret-signing"),
                ("SLACK_API_URL", &api),
            ],
        )
    })
    .await
    .unwrap();
    assert!(!ok);
    assert!(
        stderr.contains("Slack refused the bot token (invalid_auth)")
            && stderr.contains("SLACK_BOT_TOKEN"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("very-secret"),
        "a secret reached the log: {stderr}"
    );
    assert_user_facing(&stderr);
}
