//! Group commit: concurrent deliveries (events, replay keys of commands and interactions) share
//! one durable redb commit. Each is still durable before its ack and deduplicated by its key;
//! the fsync, which costs as much for one event as for a thousand, is paid once per batch.
//!
//! Callers hand an [`Arrival`] to [`GroupCommit::accept`] and wait. One writer task takes
//! everything queued (up to [`MAX_BATCH`]), lets the senders on their way join it (`gather`),
//! records it in one write transaction of the staging file ([`Store::accept_events`]) off the
//! async threads, commits, then answers every waiter; what arrives meanwhile forms the next
//! batch. The queue is bounded: when it is full a delivery is refused at once
//! ([`StoreError::Busy`]) and the transport does not ack, so Slack retries. The writer stops
//! once every handle is dropped, after answering what was queued.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{Accepted, Arrival, Result, Store, StoreError, WeakStore};

/// Deliveries waiting for a commit before new ones are refused (about 4 s of Slack's busiest
/// workspaces, a few MB of memory).
pub const QUEUE: usize = 8192;

/// The most arrivals in one commit: enough to amortise the fsync at any rate the transports
/// can parse, small enough to keep one commit (and the redb writer lock) short.
pub const MAX_BATCH: usize = 2048;

/// How a batch is recorded: [`Store::accept_events`], or a stand-in in tests.
pub type CommitFn = Arc<dyn Fn(&Store, &[Arrival]) -> Result<Vec<Accepted>> + Send + Sync>;

struct Waiter {
    arrival: Arrival,
    reply: oneshot::Sender<Result<Accepted>>,
}

/// A handle on the writer; clones share it.
#[derive(Clone)]
pub struct GroupCommit {
    queue: mpsc::Sender<Waiter>,
    /// The handles keep the store open; the writer only refers to it (see [`WeakStore`]).
    _store: Store,
}

impl GroupCommit {
    /// Starts the writer on the current tokio runtime. `on_queued` runs once per commit that
    /// queued at least one event (to wake the inbox worker once, not once per event).
    pub fn start(store: Store, on_queued: impl Fn() + Send + Sync + 'static) -> Self {
        Self::start_with(
            store,
            QUEUE,
            Arc::new(|s: &Store, batch: &[Arrival]| s.accept_events(batch)),
            on_queued,
        )
    }

    /// As [`GroupCommit::start`], with the queue's bound and the batch's recording given.
    pub fn start_with(
        store: Store,
        capacity: usize,
        commit: CommitFn,
        on_queued: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        tokio::spawn(write_batches(store.downgrade(), rx, commit, on_queued));
        GroupCommit {
            queue,
            _store: store,
        }
    }

    /// Records `arrival` durably (with others arriving meanwhile) and says whether it was new.
    /// An error means it was not recorded: it must not be acked.
    pub async fn accept(&self, arrival: Arrival) -> Result<Accepted> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Waiter { arrival, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy,
                mpsc::error::TrySendError::Closed(_) => {
                    StoreError::Task("the group commit writer has stopped".into())
                }
            })?;
        answer
            .await
            .map_err(|_| StoreError::Task("the group commit writer has stopped".into()))?
    }
}

/// The longest a batch waits to gather, and never more than the last commit took.
const MAX_WAIT: Duration = Duration::from_millis(1);

/// A gathering batch goes once no delivery has arrived for this long: the senders that were
/// coming back have come.
const QUIET: Duration = Duration::from_micros(150);

/// How often a gathering batch looks at the queue.
const POLL: Duration = Duration::from_micros(20);

/// Lets a batch gather the deliveries that are on their way. Without this, busy senders split
/// into groups in lockstep: the writer answers one group and at once commits the few that
/// arrived meanwhile, while the group it just answered comes back a moment later and waits a
/// whole commit, so each ack costs two commits. So a batch waits for as many more deliveries
/// as the last commit answered (those senders are likely to send again), until none has come
/// for [`QUIET`], for one commit at most: the groups merge and share one. A lone delivery
/// after a lone delivery never waits.
///
/// It runs on the blocking thread that then commits, looking every [`POLL`] and sleeping
/// between looks: tokio's timers tick in milliseconds, a busy loop would take a runtime thread
/// from the very tasks it waits for, and a paused test clock does not move meanwhile.
fn gather(
    rx: &mut mpsc::Receiver<Waiter>,
    waiting: &mut Vec<Waiter>,
    last_batch: usize,
    last_commit: Duration,
) {
    if last_batch <= 1 {
        return;
    }
    let target = (waiting.len() + last_batch).min(MAX_BATCH);
    let limit = MAX_WAIT.min(last_commit);
    let started = std::time::Instant::now();
    let mut last_arrival = started;
    while waiting.len() < target {
        let before = waiting.len();
        while waiting.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => waiting.push(w),
                Err(_) => break,
            }
        }
        let now = std::time::Instant::now();
        if waiting.len() > before {
            last_arrival = now;
        }
        if waiting.len() >= target || now - started >= limit || now - last_arrival >= QUIET {
            break;
        }
        std::thread::sleep(POLL);
    }
}

async fn write_batches(
    store: WeakStore,
    mut rx: mpsc::Receiver<Waiter>,
    commit: CommitFn,
    on_queued: impl Fn() + Send + Sync + 'static,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    let (mut last_batch, mut last_commit) = (1, Duration::ZERO);
    // Ends when every handle is dropped and the queue is empty.
    while rx.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        // Callers wait with a handle, which keeps the store open; closed, none is waiting.
        let Some(s) = store.upgrade() else {
            for w in waiting.drain(..) {
                let _ = w
                    .reply
                    .send(Err(StoreError::Task("the store is closed".into())));
            }
            continue;
        };
        let commit = commit.clone();
        // The queue goes to the blocking thread for the gathering, and comes back.
        let job = tokio::task::spawn_blocking(move || {
            gather(&mut rx, &mut waiting, last_batch, last_commit);
            let (arrivals, replies): (Vec<Arrival>, Vec<_>) =
                waiting.drain(..).map(|w| (w.arrival, w.reply)).unzip();
            let started = std::time::Instant::now();
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(&s, &arrivals)))
                    .unwrap_or_else(|_| Err(StoreError::Task("the commit panicked".into())));
            (rx, waiting, replies, result, started.elapsed())
        });
        // Fails only when the runtime shuts down: nobody is left to answer.
        let Ok((queue, buffer, replies, result, took)) = job.await else {
            return;
        };
        (rx, waiting, last_commit) = (queue, buffer, took);
        let count = replies.len();
        last_batch = count;
        let result = result.and_then(|answers| {
            if answers.len() == count {
                Ok(answers)
            } else {
                Err(StoreError::Task(format!(
                    "a batch of {count} got {} answers",
                    answers.len()
                )))
            }
        });
        match result {
            Ok(answers) => {
                tracing::trace!(count, took_us = took.as_micros() as u64, "group commit");
                if answers.contains(&Accepted::Queued) {
                    on_queued();
                }
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A waiter that gave up (its connection closed) is told nothing: its
                    // delivery is recorded all the same, and Slack's retry is a duplicate.
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, count, "a group commit failed; none of its deliveries is acked");
                let reason = e.to_string();
                for reply in replies {
                    let _ = reply.send(Err(StoreError::GroupCommit(reason.clone())));
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use chrono::Utc;

    use super::*;
    use crate::slack::inbound::Inbound;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("asyncbot.redb")).unwrap();
        (dir, store)
    }

    /// A delivery's event, told apart by `ts` (shared with the staging tests).
    pub(in crate::store) fn event(ts: &str) -> Inbound {
        Inbound::MessageDeleted {
            channel: "C1".into(),
            ts: ts.into(),
        }
    }

    /// A delivery under `key`, with the event `ts` if any.
    pub(in crate::store) fn arrival(key: Option<&str>, ts: Option<&str>) -> Arrival {
        Arrival {
            key: key.map(str::to_owned),
            event: ts.map(event),
            at: Utc::now(),
        }
    }

    /// The inbox's events, oldest first (consumed).
    fn drain_inbox(s: &Store) -> Vec<Inbound> {
        let mut events = Vec::new();
        while let Some((seq, e)) = s.next_inbound().unwrap() {
            s.write(|tx| tx.finish_inbound(seq)).unwrap();
            events.push(e);
        }
        events
    }

    #[test]
    fn a_batch_deduplicates_within_itself_and_against_earlier_batches() {
        let (_dir, s) = store();
        let answers = s
            .accept_events(&[
                arrival(Some("Ev1"), Some("1")),
                arrival(Some("Ev2"), Some("2")),
                arrival(Some("Ev1"), Some("1-again")),
                arrival(None, Some("3")),
                arrival(Some("trigger:T1"), None),
                arrival(Some("trigger:T1"), None),
            ])
            .unwrap();
        use Accepted::{Duplicate as D, Queued as Q};
        assert_eq!(answers, [Q, Q, D, Q, Q, D]);
        let answers = s
            .accept_events(&[
                arrival(Some("Ev2"), Some("2")),
                arrival(Some("trigger:T1"), None),
                arrival(Some("Ev4"), Some("4")),
            ])
            .unwrap();
        assert_eq!(answers, [D, D, Q]);
        assert_eq!(s.events_queued().unwrap(), 4);
        assert!(s.was_seen("Ev4").unwrap() && s.was_seen("trigger:T1").unwrap());
        assert_eq!(
            drain_inbox(&s),
            [event("1"), event("2"), event("3"), event("4")]
        );
        // The single-event API shares the counter and the keys.
        assert_eq!(
            s.accept_event(Some("Ev4"), &event("4"), Utc::now())
                .unwrap(),
            D
        );
        assert!(!s.first_delivery("trigger:T1", Utc::now()).unwrap());
        assert_eq!(
            s.accept_event(Some("Ev5"), &event("5"), Utc::now())
                .unwrap(),
            Q
        );
        assert_eq!(s.events_queued().unwrap(), 5);
    }

    /// Records the batches' sizes.
    fn counting(sizes: Arc<Mutex<Vec<usize>>>) -> CommitFn {
        Arc::new(move |s: &Store, batch: &[Arrival]| {
            sizes.lock().unwrap().push(batch.len());
            s.accept_events(batch)
        })
    }

    #[tokio::test]
    async fn concurrent_deliveries_share_one_commit_and_are_each_answered() {
        let (_dir, s) = store();
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let gc = GroupCommit::start_with(s.clone(), QUEUE, counting(sizes.clone()), move || {
            w.fetch_add(1, Ordering::SeqCst);
        });
        // 100 deliveries of 60 distinct event ids, all queued before the writer runs (one
        // thread: join_all polls each once before the writer task gets a turn).
        let ids: Vec<String> = (0..100).map(|i| format!("Ev{}", i % 60)).collect();
        let answers =
            futures::future::join_all(ids.iter().map(|id| gc.accept(arrival(Some(id), Some(id)))))
                .await;
        let answers: Vec<Accepted> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(*sizes.lock().unwrap(), [100], "one commit for all");
        assert_eq!(wakes.load(Ordering::SeqCst), 1, "the inbox woken once");
        for (i, answer) in answers.iter().enumerate() {
            let expected = if i < 60 {
                Accepted::Queued
            } else {
                Accepted::Duplicate
            };
            assert_eq!(*answer, expected, "delivery {i}");
        }
        assert_eq!(s.events_queued().unwrap(), 60);
        assert_eq!(drain_inbox(&s).len(), 60);

        // Only duplicates: nothing queued, nobody woken.
        let again = gc.accept(arrival(Some("Ev1"), Some("Ev1"))).await.unwrap();
        assert_eq!(again, Accepted::Duplicate);
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_commit_answers_every_waiter_with_an_error_and_records_none() {
        let (_dir, s) = store();
        let failed_once = Arc::new(AtomicBool::new(false));
        let f = failed_once.clone();
        // The batch is written, then the transaction fails before its commit (a full disk).
        let commit: CommitFn = Arc::new(move |s: &Store, batch: &[Arrival]| {
            s.stage(batch, || {
                if f.swap(true, Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err(StoreError::Task("disk full".into()))
                }
            })
        });
        let woken = Arc::new(AtomicBool::new(false));
        let w = woken.clone();
        let gc = GroupCommit::start_with(s.clone(), QUEUE, commit, move || {
            w.store(true, Ordering::SeqCst)
        });
        let keys = ["Ev1", "Ev2", "Ev1", "trigger:T1"];
        let answers = futures::future::join_all(keys.iter().map(|k| {
            let ts = k.starts_with("Ev").then_some(*k);
            gc.accept(arrival(Some(k), ts))
        }))
        .await;
        for answer in &answers {
            assert!(
                matches!(answer, Err(StoreError::GroupCommit(reason)) if reason.contains("disk full")),
                "{answer:?}"
            );
        }
        assert!(!woken.load(Ordering::SeqCst));
        assert_eq!(s.events_queued().unwrap(), 0);
        assert!(!s.was_seen("Ev1").unwrap() && !s.was_seen("trigger:T1").unwrap());
        assert!(drain_inbox(&s).is_empty());

        // The writer goes on; Slack's retry of the same event is new, not a duplicate.
        let retry = gc.accept(arrival(Some("Ev1"), Some("Ev1"))).await.unwrap();
        assert_eq!(retry, Accepted::Queued);
        assert!(woken.load(Ordering::SeqCst));
        assert_eq!(drain_inbox(&s), [event("Ev1")]);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_instead_of_acking() {
        let (_dir, s) = store();
        // The first commit is held until the test lets it go.
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started_tx, released) = (Mutex::new(started_tx), Mutex::new(released));
        let commit: CommitFn = Arc::new(move |s: &Store, batch: &[Arrival]| {
            // Only the first commit is watched; later ones find no listener.
            let _ = started_tx.lock().unwrap().send(());
            released.lock().unwrap().recv().unwrap();
            s.accept_events(batch)
        });
        let gc = GroupCommit::start_with(s.clone(), 1, commit, || {});
        let first = tokio::spawn({
            let gc = gc.clone();
            async move { gc.accept(arrival(Some("Ev1"), Some("1"))).await }
        });
        // Wait (off the runtime's thread) until the writer holds Ev1 in its commit.
        tokio::task::spawn_blocking(move || started.recv().unwrap())
            .await
            .unwrap();
        let mut second = Box::pin(gc.accept(arrival(Some("Ev2"), Some("2"))));
        assert!(
            futures::poll!(&mut second).is_pending(),
            "Ev2 fills the queue"
        );
        let third = gc.accept(arrival(Some("Ev3"), Some("3"))).await;
        assert!(matches!(third, Err(StoreError::Busy)), "{third:?}");

        release.send(()).unwrap();
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), Accepted::Queued);
        assert_eq!(second.await.unwrap(), Accepted::Queued);
        assert!(!s.was_seen("Ev3").unwrap());
        assert_eq!(s.events_queued().unwrap(), 2);
    }
}
