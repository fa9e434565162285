//! `asyncbot bench ingest`: N mention events acked into a temporary store (durable, as `serve`
//! keeps it: staged, each with its event id), turned into open requests by the real engine's
//! inbox worker against the in-memory Slack, which first takes them into the store's inbox; the
//! figure is events per second, from the first to the inbox empty.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{mb, print_table, resident_bytes, scratch, settings};
use crate::engine::health::Health;
use crate::engine::{Engine, Wakers};
use crate::slack::inbound::Inbound;
use crate::slack::memory::MemorySlack;
use crate::store::prelude::*;
use crate::store::{Arrival, Store};

/// People in the workspace (as many as the timer bench has): every event mentions one of them.
/// Fewer people would mean more open requests each, which a reply or a mention looks through.
const PEOPLE: u64 = 5_000;
/// Events acked per durable commit while filling the staging log.
const PUSH_CHUNK: u64 = 5_000;

pub fn run(events: u64, dir: Option<PathBuf>, as_json: bool) -> anyhow::Result<()> {
    let dir = scratch(dir.as_deref())?;
    let settings = Arc::new(settings(dir.path())?);
    let runtime = tokio::runtime::Runtime::new()?;
    let (elapsed, open, resident) = runtime.block_on(async {
        let store = Store::open_with_cache(&settings.store_path, settings.store_cache_bytes)?;
        let now = crate::engine::clock::system();
        let slack = MemorySlack::new(now.clone());
        for p in 0..PEOPLE {
            let zone =
                ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"][(p % 4) as usize];
            slack.add_person(&person(p), &format!("person{p}"), zone);
        }
        let mut pushed = 0;
        while pushed < events {
            let chunk = PUSH_CHUNK.min(events - pushed);
            let arrivals: Vec<Arrival> = (pushed..pushed + chunk)
                .map(|i| Arrival {
                    key: Some(format!("Ev{i:010}")),
                    event: Some(mention(i)),
                    at: now(),
                })
                .collect();
            store.accept_events(&arrivals)?;
            pushed += chunk;
        }
        let wakers = Wakers::default();
        let mut engine = Engine::new(
            store.clone(),
            Arc::new(slack.clone()),
            settings.clone(),
            slack.identity(),
            now.clone(),
            wakers.clone(),
            Health::new(settings.health, now.clone()),
        );
        engine.features = crate::features::all();
        let engine = Arc::new(engine);
        let shutdown = CancellationToken::new();
        let started = Instant::now();
        let worker = tokio::spawn(engine.run_inbox(shutdown.clone()));
        while store.inbox_len()? > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let elapsed = started.elapsed();
        shutdown.cancel();
        worker.await?;
        let open = store.read(|rx| rx.count_open_requests())?;
        anyhow::Ok((elapsed, open, resident_bytes()))
    })?;
    let rate = events as f64 / elapsed.as_secs_f64().max(1e-9);
    let file = std::fs::metadata(&settings.store_path)?.len();
    if as_json {
        println!(
            "{}",
            json!({
                "events": events,
                "secs": elapsed.as_secs_f64(),
                "events_per_sec": rate,
                "open_requests": open,
                "store_bytes": file,
                "resident_bytes": resident,
            })
        );
        return Ok(());
    }
    print_table(
        &format!("asyncbot bench ingest: {events} mention events, each opening one request"),
        &[
            (
                "processed",
                format!("{events} events in {:.2} s", elapsed.as_secs_f64()),
            ),
            ("engine rate", format!("{rate:.0} events/s")),
            ("open requests after", open.to_string()),
            ("store file", mb(file)),
            ("resident", mb(resident)),
        ],
    );
    Ok(())
}

fn person(p: u64) -> String {
    format!("U07{p:08X}")
}

/// The `i`th message: someone asks someone else something, top level, in one of 100 channels.
fn mention(i: u64) -> Inbound {
    let (author, recipient) = (i % PEOPLE, (i * 7 + 1) % PEOPLE);
    let recipient = if recipient == author {
        (recipient + 1) % PEOPLE
    } else {
        recipient
    };
    Inbound::MessagePosted {
        channel: format!("C07{:08X}", i % 100),
        channel_type: Some("channel".into()),
        user: person(author),
        ts: format!("17955{:05}.{:06}", i / 1_000_000, i % 1_000_000),
        thread_ts: None,
        text: format!(
            "<@{}> could you review the rollout plan for the billing migration before Thursday?",
            person(recipient)
        ),
    }
}
