//! The layout's rules, checked on the source: every module says what it owns in a `//!` line;
//! the domain is pure (no tokio, redb or slack-morphism, and nothing from the layers above it);
//! the engine, the store, delivery and slack know no feature (features depend on them, not the
//! reverse); the engine holds no feature's logic either (SLA tracking lives in `features/sla`);
//! and the modules import each other without cycles.

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

#[test]
fn slack_knows_no_feature() {
    // The dispatcher finds features through the engine's registry (`Feature::commands` and
    // friends); `app.rs` wires `features::all()` in.
    assert_no_use_of("slack", &["crate::features"]);
}

/// Where a file sits in the module graph: its top-level module, except under `src/slack/`,
/// which holds two layers: the port beneath the engine (the trait, inbound and interaction
/// types, the in-memory Slack) and the transports above it (dispatch, http, socket). Each of
/// its files is its own node. `None` for the wiring (`app.rs`, `lib.rs`, `main.rs`), which
/// may use everything.
fn node_of(relative: &Path) -> Option<String> {
    let parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let top = parts.first()?.clone();
    if ["app", "lib", "main"].contains(&top.as_str()) {
        return None;
    }
    match (top.as_str(), parts.get(1).map(String::as_str)) {
        ("slack", Some(file)) if file != "mod" => Some(format!("slack::{file}")),
        _ => Some(top),
    }
}

/// The node a `crate::a::b` path names, by the same rule as [`node_of`].
fn node_of_path(path: &str) -> Option<String> {
    let mut parts = path.split("::").skip(1);
    let top = parts.next()?;
    if ["app", "lib", "main"].contains(&top) {
        return None;
    }
    let slack_files = src().join("slack");
    match (top, parts.next()) {
        ("slack", Some(file)) if slack_files.join(format!("{file}.rs")).exists() => {
            Some(format!("slack::{file}"))
        }
        _ => Some(top.to_owned()),
    }
}

/// Each edge `from → to` between nodes, with one file that makes it.
fn module_edges() -> std::collections::BTreeMap<(String, String), PathBuf> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut edges = std::collections::BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src()).unwrap().to_path_buf();
        let Some(from) = node_of(&relative) else {
            continue;
        };
        let text = std::fs::read_to_string(&file).unwrap();
        // A file's unit tests (its `#[cfg(test)]` module, last in the file: clippy refuses items
        // after it) may use any module, e.g. the in-memory Slack in an engine test: that is not
        // a dependency of the product's code.
        let product = text
            .lines()
            .take_while(|l| l.trim() != "#[cfg(test)]")
            .filter(|l| !l.trim_start().starts_with("//"));
        for line in product {
            for (at, _) in line.match_indices("crate::") {
                let path: String = line[at..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                // The walk reads one module per `crate::`; a grouped import would hide edges.
                assert!(
                    !line[at..].starts_with("crate::{"),
                    "{}: write one `use crate::module::…` per module: {line}",
                    relative.display()
                );
                let Some(to) = node_of_path(&path) else {
                    continue;
                };
                if to != from {
                    edges
                        .entry((from.clone(), to))
                        .or_insert_with(|| relative.clone());
                }
            }
        }
    }
    edges
}

/// A cycle through `start`, as the list of nodes walked, if there is one.
fn cycle_through(
    start: &str,
    edges: &std::collections::BTreeMap<(String, String), PathBuf>,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![start.to_owned()]];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(walk) = stack.pop() {
        let last = walk.last().unwrap().clone();
        for (from, to) in edges.keys() {
            if *from != last {
                continue;
            }
            if to == start {
                let mut cycle = walk.clone();
                cycle.push(to.clone());
                return Some(cycle);
            }
            if seen.insert(to.clone()) {
                let mut next = walk.clone();
                next.push(to.clone());
                stack.push(next);
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_import_each_other_without_cycles() {
    let edges = module_edges();
    let nodes: std::collections::BTreeSet<&String> =
        edges.keys().flat_map(|(from, to)| [from, to]).collect();
    for expected in [
        "domain", "engine", "features", "store", "delivery", "cli", "config",
    ] {
        assert!(
            nodes.contains(&expected.to_owned()),
            "no edge to or from {expected}?"
        );
    }
    assert!(nodes.contains(&"slack::dispatch".to_owned()));
    let mut cycles = Vec::new();
    for node in nodes {
        if let Some(cycle) = cycle_through(node, &edges) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let file = &edges[&(w[0].clone(), w[1].clone())];
                    format!("{} → {} (in {})", w[0], w[1], file.display())
                })
                .collect();
            cycles.push(steps.join(", "));
        }
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let edge = |a: &str, b: &str| ((a.to_owned(), b.to_owned()), PathBuf::from("x.rs"));
    let edges = [
        edge("engine", "slack"),
        edge("slack", "features"),
        edge("features", "engine"),
    ]
    .into_iter()
    .collect();
    assert_eq!(
        cycle_through("engine", &edges),
        Some(vec![
            "engine".to_owned(),
            "slack".to_owned(),
            "features".to_owned(),
            "engine".to_owned()
        ])
    );
    let acyclic = [edge("features", "engine"), edge("engine", "store")]
        .into_iter()
        .collect();
    assert_eq!(cycle_through("features", &acyclic), None);
    assert_eq!(
        node_of(Path::new("slack/dispatch.rs")).as_deref(),
        Some("slack::dispatch")
    );
    assert_eq!(node_of(Path::new("slack/mod.rs")).as_deref(), Some("slack"));
    assert_eq!(
        node_of(Path::new("features/rfc/flow.rs")).as_deref(),
        Some("features")
    );
    assert_eq!(node_of(Path::new("app.rs")), None);
    assert_eq!(
        node_of_path("crate::slack::inbound::Command").as_deref(),
        Some("slack::inbound")
    );
    assert_eq!(
        node_of_path("crate::slack::SlackPort").as_deref(),
        Some("slack")
    );
}
