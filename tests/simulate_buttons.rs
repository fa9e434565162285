//! Issue 10, item 5 in `asyncbot simulate`: `tests/scenarios/buttons.toml` presses the SLA
//! buttons (Already answered, Not for me, On it by the end of the week) on three of four
//! unanswered requests; the same scenario without the presses is the "before". The report shows
//! the ladder stopping where a button was pressed, and only there.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn simulate(scenario: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_asyncbot"))
        .args(["simulate", "--scenario", scenario, "--json"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run asyncbot simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn scenario() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/buttons.toml"),
    )
    .unwrap()
}

#[test]
fn the_buttons_stop_the_ladder_where_they_are_pressed() {
    let dir = tempfile::tempdir().unwrap();
    let with = dir.path().join("buttons.toml");
    let without = dir.path().join("no-presses.toml");
    std::fs::write(&with, scenario()).unwrap();
    let no_presses: String = scenario()
        .lines()
        .filter(|l| !l.starts_with("press ="))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(no_presses, scenario(), "the scenario presses buttons");
    std::fs::write(&without, no_presses).unwrap();

    let before = simulate(without.to_str().unwrap());
    let normal = &before["report"]["requests"]["normal"];
    assert_eq!(
        (normal["total"].as_u64(), normal["nudged"].as_u64()),
        (Some(4), Some(4))
    );
    assert_eq!(normal["reached_dm"], 4, "{normal}");
    assert_eq!(normal["reached_call"], 4);
    assert_eq!(normal["answered"], 0);
    assert_eq!(normal["never_answered"], 4);

    let after = simulate(with.to_str().unwrap());
    let report = &after["report"];
    let normal = &report["requests"]["normal"];
    assert_eq!(normal["nudged"], 4, "each press is on a nudge: {normal}");
    // Only the request nobody pressed anything on goes on to the DM and the call.
    assert_eq!(normal["reached_dm"], 1, "{normal}");
    assert_eq!(normal["reached_call"], 1);
    // *Already answered* is an answer, after one step; *Not for me* is not (neither answered
    // nor open); *On it* keeps it open, its DM waiting for the ETA (after the run).
    assert_eq!(normal["answered"], 1);
    assert_eq!(report["resolved_at_step"], serde_json::json!([0, 1, 0, 0]));
    assert_eq!(normal["never_answered"], 2);
    assert_eq!(report["outside_working_time"], 0);

    let transcript = after["transcript"].as_array().unwrap();
    let text = |l: &Value| l["text"].as_str().unwrap_or_default().to_owned();
    let to = |l: &Value, who: &str| {
        l["to"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p[0].as_str() == Some(who))
    };
    // The askers are told privately: Cleo that it isn't for Eve, Dev that Ben is on it.
    assert!(
        transcript
            .iter()
            .any(|l| to(l, "Cleo") && text(l).contains("@Eve says your request isn't for them"))
    );
    assert!(
        transcript
            .iter()
            .any(|l| to(l, "Dev") && text(l).contains("@Ben is on it and expects to answer by"))
    );
    // Closing with a button edits the nudge (twice: answered, not for me).
    let edits = transcript
        .iter()
        .filter(|l| l["place"].as_str().is_some_and(|p| p.starts_with("edit")))
        .count();
    assert_eq!(edits, 2);
}

#[test]
fn an_unknown_button_is_named_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        scenario().replacen("button = \"answered\"", "button = \"maybe\"", 1),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_asyncbot"))
        .args(["simulate", "--scenario", bad.to_str().unwrap()])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("requests[0].press.button") && err.contains("\"maybe\""),
        "{err}"
    );
}
