//! `asyncbot bench` runs end to end on a small size and prints every figure of the Performance
//! table. Only that the figures are there is checked, never their values: a benchmark is not a
//! timed test.

use std::process::Command;

fn bench(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_asyncbot"))
        .arg("bench")
        .args(args)
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The temporary store is removed afterwards.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    stdout
}

#[test]
fn bench_timers_prints_its_figures() {
    let out = bench(&[
        "timers",
        "--pending",
        "2000",
        "--due",
        "200",
        "--window",
        "0.5",
    ]);
    for figure in [
        "2000 open requests",
        "store file",
        "B/request",
        "request record",
        "resident after filling",
        "restart to ready",
        "resident after restart",
        "timer lateness p50/p99/max",
        "(200 fired)",
    ] {
        assert!(out.contains(figure), "{figure:?} missing in:\n{out}");
    }
}

#[test]
fn bench_timers_speaks_json_too() {
    let out = bench(&[
        "timers",
        "--pending",
        "300",
        "--due",
        "30",
        "--window",
        "0.2",
        "--json",
    ]);
    let figures: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    for key in [
        "store_bytes_per_request",
        "record_bytes",
        "resident_after_restart_bytes",
        "ready_secs",
        "lateness_p99_ms",
    ] {
        assert!(figures.get(key).is_some(), "{key} missing in {figures}");
    }
    assert_eq!(figures["fired"], 30);
}

#[test]
fn bench_ingest_prints_its_figures() {
    let out = bench(&["ingest", "--events", "500"]);
    for figure in [
        "500 mention events",
        "engine rate",
        "events/s",
        "open requests after  500",
    ] {
        assert!(out.contains(figure), "{figure:?} missing in:\n{out}");
    }
}
