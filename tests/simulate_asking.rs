//! `asyncbot simulate` on the scenarios of issue 10's items 7 and 8 (the real binary, no
//! environment): the report's numbers that prove a question is no answer
//! (`tests/scenarios/questions.toml`) and that a bare hello gets one tip a week, only when
//! coaching is on (`tests/scenarios/nohello.toml`).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn simulate(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_asyncbot"))
        .arg("simulate")
        .args(args)
        .arg("--json")
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
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
        .display()
        .to_string()
}

/// Alice asks Bob; Bob asks Alice and Dave who takes the on-call swap; Dave asks Alice, who
/// answers him with a statement. Four requests: Bob's question is two (answered in its thread),
/// Alice's request to Bob stays open and climbs the whole ladder (he never answers her), Dave's
/// is answered by Alice's statement, which opens nothing. Before item 7: three requests, all
/// "answered" (Bob's question closed Alice's request and asked her nothing).
#[test]
fn a_question_to_the_asker_is_no_answer() {
    let run = simulate(&["--scenario", &scenario("questions.toml")]);
    let normal = &run["report"]["requests"]["normal"];
    assert_eq!(normal["total"], 4, "{normal}");
    assert_eq!(normal["answered"], 3, "{normal}");
    assert_eq!(normal["never_answered"], 1, "{normal}");
    assert_eq!(normal["nudged"], 1, "{normal}");
    assert_eq!(normal["reached_call"], 1, "{normal}");
    assert_eq!(run["report"]["outside_working_time"], 0);
    // The one left open is Alice's, and its ladder reaches Bob (nobody else is nudged).
    let to_bob = run["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["to"].as_array().unwrap().iter().any(|p| p[0] == "Bob"))
        .count();
    assert_eq!(to_bob, 3, "thread nudge, DM, call: {}", run["transcript"]);
    assert_eq!(run["transcript"].as_array().unwrap().len(), 3);
}

/// Tips sent to their authors: the ephemeral lines of the transcript.
fn tips(run: &Value) -> Vec<(String, String)> {
    run["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            l["place"].as_str().unwrap().starts_with("only them")
                && l["text"].as_str().unwrap().contains("A small tip")
        })
        .map(|l| {
            (
                l["to"][0][0].as_str().unwrap().to_owned(),
                l["to"][0][1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Coaching on: four tips (Ana Monday and, a week and a minute later, the next Monday; Cleo and
/// Ben once each); none for the messages with content or within Ana's week. Off (the default):
/// none, and the requests are the same eight either way.
#[test]
fn a_bare_hello_gets_one_tip_a_week_only_when_coaching_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let on = dir.path().join("coach.toml");
    std::fs::write(&on, "[respect]\ncoach_nohello = true\n").unwrap();
    let coached = simulate(&[
        "--scenario",
        &scenario("nohello.toml"),
        "--config",
        on.to_str().unwrap(),
    ]);
    assert_eq!(
        tips(&coached),
        vec![
            ("Ana".to_owned(), "Mon 15:00".to_owned()),
            ("Cleo".to_owned(), "Tue 11:00".to_owned()),
            ("Ben".to_owned(), "Fri 10:00".to_owned()),
            ("Ana".to_owned(), "Mon 15:01".to_owned()),
        ]
    );
    let plain = simulate(&["--scenario", &scenario("nohello.toml")]);
    assert_eq!(tips(&plain), vec![]);
    assert!(plain["transcript"].as_array().unwrap().is_empty());
    for run in [&coached, &plain] {
        let normal = &run["report"]["requests"]["normal"];
        assert_eq!(normal["total"], 8, "{normal}");
        assert_eq!(normal["answered"], 8, "{normal}");
    }
}
