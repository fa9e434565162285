//! `asyncbot simulate` on the scenarios of issue 10's "nudges people welcome": the real binary,
//! each scenario's report checked against what it proves, with the behaviour on and off.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
        .display()
        .to_string()
}

/// Runs `asyncbot simulate --json` on `scenario` with `config` (TOML, may be empty).
fn simulate(scenario: &str, config: &str) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_asyncbot"))
        .args(["simulate", "--json", "--scenario", scenario, "--config"])
        .arg(&path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .output()
        .expect("run asyncbot simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn per_day(run: &Value, name: &str) -> Vec<u64> {
    run["report"]["received_per_day"][name]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect()
}

/// Six requests to Bob that nobody answers: with the default budget (3) he gets at most three
/// messages a day, the rest in a digest at the start of his next day, one call per pair a day;
/// without a budget, six at once.
#[test]
fn the_nudge_budget_caps_each_day_and_sends_the_rest_as_a_digest() {
    let with = simulate(&scenario("budget.toml"), "");
    let bob = per_day(&with, "Bob");
    assert_eq!(bob, vec![0, 3, 3, 3, 0, 0, 0], "{}", with["report"]);
    assert_eq!(with["report"]["days_over_budget"], 0);
    assert_eq!(with["report"]["outside_working_time"], 0);
    let transcript = with["transcript"].as_array().unwrap();
    let digests: Vec<&Value> = transcript
        .iter()
        .filter(|l| {
            l["text"]
                .as_str()
                .unwrap()
                .contains("requests are waiting on you")
        })
        .collect();
    assert_eq!(digests.len(), 2, "{transcript:#?}");
    assert_eq!(digests[0]["to"], serde_json::json!([["Bob", "Wed 09:00"]]));
    assert!(
        digests[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("3 requests are waiting on you"),
        "{}",
        digests[0]["text"]
    );
    // One call a day per pair: Ana–Bob and Cleo–Bob, not six.
    let calls = transcript
        .iter()
        .filter(|l| l["place"] == "group DM")
        .count();
    assert_eq!(calls, 2, "{transcript:#?}");

    let without = simulate(
        &scenario("budget.toml"),
        "[respect]\nmax_nudges_per_day = 0\n",
    );
    let bob = per_day(&without, "Bob");
    assert_eq!(bob.iter().max(), Some(&6), "{bob:?}");
    assert!(
        !without["transcript"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["text"].as_str().unwrap().contains("waiting on you:")),
        "no digest without a budget"
    );
}
