//! Group commit: concurrent deliveries (events, replay keys of commands and interactions) share
//! one durable redb commit. Each is still durable before its ack and deduplicated by its key;
//! the fsync, which costs as much for one event as for a thousand, is paid once per batch.
//!
//! Callers hand an [`Arrival`] to [`GroupCommit::accept`] and wait. One writer thread takes
//! everything queued (up to [`MAX_BATCH`]), records it in one write transaction of the staging
//! file ([`Store::accept_events`]), commits, then answers every waiter; what arrives meanwhile
//! forms the next batch, so batches grow with the load by themselves (the writer never waits
//! for more: a batch that waited would only delay the acks it holds). The queue is bounded:
//! when it is full a delivery is refused at once ([`StoreError::Busy`]) and the transport does
//! not ack, so Slack retries. The writer stops once every handle is dropped, after answering
//! what was queued.

use std::sync::Arc;

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
    /// Starts the writer on a thread of its own. `on_queued` runs once per commit that queued
    /// at least one event (to wake the inbox worker once, not once per event). An error only
    /// when the system refuses a thread.
    pub fn start(store: Store, on_queued: impl Fn() + Send + Sync + 'static) -> Result<Self> {
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
    ) -> Result<Self> {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let weak = store.downgrade();
        std::thread::Builder::new()
            .name("asyncbot-ingest".into())
            .spawn(move || write_batches(weak, rx, commit, on_queued))
            .map_err(|e| StoreError::Task(format!("cannot start the group commit writer: {e}")))?;
        Ok(GroupCommit {
            queue,
            _store: store,
        })
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
        let stopped = || StoreError::Task("the group commit writer has stopped".into());
        // On a current-thread runtime (tests and tools, where a paused clock lives), the wait
        // is a blocking task: the paused clock must not jump ahead while the writer's thread
        // commits. The multi-thread runtime that `serve` runs on awaits the answer plainly.
        let on_one_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        let answer = if on_one_thread {
            tokio::task::spawn_blocking(move || answer.blocking_recv())
                .await
                .map_err(|_| stopped())?
        } else {
            answer.await
        };
        answer.map_err(|_| stopped())?
    }
}

/// The writer: a thread of its own (not a runtime task). It sleeps until a delivery comes,
/// takes what is queued, commits and answers, with no handoff between threads on the way: a
/// commit costs one wake-up of this thread at most, and none while deliveries keep coming.
fn write_batches(
    store: WeakStore,
    mut rx: mpsc::Receiver<Waiter>,
    commit: CommitFn,
    on_queued: impl Fn(),
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    // Ends when every handle is dropped and the queue is empty.
    while let Some(first) = rx.blocking_recv() {
        waiting.push(first);
        while waiting.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => waiting.push(w),
                Err(_) => break,
            }
        }
        // Callers wait with a handle, which keeps the store open; closed, none is waiting.
        let Some(s) = store.upgrade() else {
            for w in waiting.drain(..) {
                let _ = w
                    .reply
                    .send(Err(StoreError::Task("the store is closed".into())));
            }
            continue;
        };
        let (arrivals, replies): (Vec<Arrival>, Vec<_>) =
            waiting.drain(..).map(|w| (w.arrival, w.reply)).unzip();
        let started = std::time::Instant::now();
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commit(&s, &arrivals)))
                .unwrap_or_else(|_| Err(StoreError::Task("the commit panicked".into())));
        // Let go of the store before anyone is answered: a caller that closes it after its
        // last ack finds no reference left here.
        drop(s);
        let took = started.elapsed();
        let count = replies.len();
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
                // A replay key alone (a command's) gives the inbox nothing to do.
                let events_queued = arrivals
                    .iter()
                    .zip(&answers)
                    .any(|(a, answer)| a.event.is_some() && *answer == Accepted::Queued);
                if events_queued {
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

    /// Holds the writer's first commit until [`Held::release`]: what is queued meanwhile
    /// forms the next batch, whatever the threads' timing.
    struct Held {
        /// Told (from the writer's thread) when the first commit is held.
        started: Option<oneshot::Receiver<()>>,
        release: std::sync::mpsc::Sender<()>,
    }

    fn held_first(inner: CommitFn) -> (CommitFn, Held) {
        let (started_tx, started) = oneshot::channel::<()>();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started_tx, released) = (Mutex::new(Some(started_tx)), Mutex::new(released));
        let commit: CommitFn = Arc::new(move |s: &Store, batch: &[Arrival]| {
            // Only the first commit finds the sender.
            if let Some(started) = started_tx.lock().unwrap().take() {
                started.send(()).unwrap();
                released.lock().unwrap().recv().unwrap();
            }
            inner(s, batch)
        });
        let held = Held {
            started: Some(started),
            release,
        };
        (commit, held)
    }

    impl Held {
        /// Sends a first delivery, `plug`, and returns once the writer holds it in its commit.
        async fn plug(
            &mut self,
            gc: &GroupCommit,
            plug: Arrival,
        ) -> tokio::task::JoinHandle<Result<Accepted>> {
            let first = tokio::spawn({
                let gc = gc.clone();
                async move { gc.accept(plug).await }
            });
            let started = self.started.take().expect("one plug per held commit");
            started.await.unwrap();
            first
        }

        fn release(&self) {
            self.release.send(()).unwrap();
        }
    }

    #[tokio::test]
    async fn concurrent_deliveries_share_one_commit_and_are_each_answered() {
        let (_dir, s) = store();
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let (commit, mut held) = held_first(counting(sizes.clone()));
        let gc = GroupCommit::start_with(s.clone(), QUEUE, commit, move || {
            w.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        let plug = held.plug(&gc, arrival(Some("plug"), None)).await;
        // 100 deliveries of 60 distinct event ids, all queued while the writer commits.
        let ids: Vec<String> = (0..100).map(|i| format!("Ev{}", i % 60)).collect();
        let mut all = Box::pin(futures::future::join_all(
            ids.iter().map(|id| gc.accept(arrival(Some(id), Some(id)))),
        ));
        assert!(futures::poll!(&mut all).is_pending());
        held.release();
        let answers: Vec<Accepted> = all.await.into_iter().map(Result::unwrap).collect();
        assert_eq!(plug.await.unwrap().unwrap(), Accepted::Queued);
        assert_eq!(*sizes.lock().unwrap(), [1, 100], "one commit for all");
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
        // The first commit (a replay key, held) goes through; the second fails.
        let commit: CommitFn = Arc::new(move |s: &Store, batch: &[Arrival]| {
            s.stage(batch, || {
                if batch.len() == 1 || f.swap(true, Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err(StoreError::Task("disk full".into()))
                }
            })
        });
        let (commit, mut held) = held_first(commit);
        let woken = Arc::new(AtomicBool::new(false));
        let w = woken.clone();
        let gc = GroupCommit::start_with(s.clone(), QUEUE, commit, move || {
            w.store(true, Ordering::SeqCst)
        })
        .unwrap();
        let plug = held.plug(&gc, arrival(Some("trigger:T0"), None)).await;
        let keys = ["Ev1", "Ev2", "Ev1", "trigger:T1"];
        let mut all = Box::pin(futures::future::join_all(keys.iter().map(|k| {
            let ts = k.starts_with("Ev").then_some(*k);
            gc.accept(arrival(Some(k), ts))
        })));
        assert!(futures::poll!(&mut all).is_pending());
        held.release();
        let answers = all.await;
        assert_eq!(plug.await.unwrap().unwrap(), Accepted::Queued);
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
        let (commit, mut held) = held_first(Arc::new(|s: &Store, batch: &[Arrival]| {
            s.accept_events(batch)
        }));
        let gc = GroupCommit::start_with(s.clone(), 1, commit, || {}).unwrap();
        let first = held.plug(&gc, arrival(Some("Ev1"), Some("1"))).await;
        let mut second = Box::pin(gc.accept(arrival(Some("Ev2"), Some("2"))));
        assert!(
            futures::poll!(&mut second).is_pending(),
            "Ev2 fills the queue"
        );
        let third = gc.accept(arrival(Some("Ev3"), Some("3"))).await;
        assert!(matches!(third, Err(StoreError::Busy)), "{third:?}");

        held.release();
        assert_eq!(first.await.unwrap().unwrap(), Accepted::Queued);
        assert_eq!(second.await.unwrap(), Accepted::Queued);
        assert!(!s.was_seen("Ev3").unwrap());
        assert_eq!(s.events_queued().unwrap(), 2);
    }
}
