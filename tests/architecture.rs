//! The layout's rules, checked on the source: every module says what it owns in a `//!` line;
//! the domain is pure (no tokio, redb or slack-morphism, and nothing from the layers above it);
//! the engine, the store and delivery know no feature (features depend on them, not the reverse),
//! and the engine holds no feature's logic either (SLA tracking lives in `features/sla`).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_opens_with_a_line_saying_what_it_owns() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    assert!(files.len() > 20);
    let missing: Vec<_> = files
        .iter()
        .filter(|f| {
            !std::fs::read_to_string(f)
                .unwrap()
                .trim_start()
                .starts_with("//!")
        })
        .collect();
    assert!(missing.is_empty(), "no `//!` line: {missing:?}");
}

fn assert_no_use_of(folder: &str, forbidden: &[&str]) {
    let mut files = Vec::new();
    rust_files(&src().join(folder), &mut files);
    assert!(!files.is_empty(), "{folder} has no files");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for word in forbidden {
                assert!(
                    !line.contains(word),
                    "{} uses {word}: {line}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_engine_store_and_delivery_know_no_feature() {
    for folder in ["engine", "store", "delivery"] {
        assert_no_use_of(folder, &["crate::features"]);
    }
}

#[test]
fn the_engine_holds_no_sla_tracking() {
    // The engine hands events and timers to features; requests, their ladder and their timers
    // are the SLA feature's. Any of these in src/engine/ means tracking crept back in.
    assert_no_use_of(
        "engine",
        &[
            "domain::sla",
            "SlaRequest",
            "TimerKey::Sla",
            "settings.sla",
            "_request(",
            "requests_",
        ],
    );
}

#[test]
fn the_domain_is_pure() {
    let mut files = Vec::new();
    rust_files(&src().join("domain"), &mut files);
    assert!(!files.is_empty());
    let forbidden = [
        "tokio",
        "redb",
        "slack_morphism",
        "crate::features",
        "crate::engine",
        "crate::store",
        "crate::slack",
        "crate::delivery",
        "crate::app",
        "crate::cli",
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for word in forbidden {
                assert!(
                    !line.contains(word),
                    "{} uses {word}: {line}",
                    file.display()
                );
            }
        }
    }
}
