//! Wires the bot together: store, Slack client, engine, delivery, and one transport (Socket Mode
//! or HTTP), plus `/healthz` and `/metrics`. `Application::build` binds and connects;
//! `run_until_stopped` serves until SIGINT/SIGTERM, then stops gracefully within
//! `server.shutdown_grace`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Secrets, Settings, Transport};
use crate::delivery::Delivery;
use crate::engine::clock::{Now, system};
use crate::engine::health::{Health, supervise};
use crate::engine::{Engine, INBOX_WORKER, PEOPLE_WORKER, TIMER_WORKER, Wakers};
use crate::slack::dispatch::Dispatcher;
use crate::slack::http::{HttpState, router};
use crate::slack::socket::AppTokenError;
use crate::slack::{BotIdentity, SlackError, SlackPort, SlackWebApi, build_client};
use crate::store::Store;

/// What can stop the bot from starting, each with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("cannot listen on {addr}: {reason} (set [server] listen to a free address:port)")]
    Bind { addr: SocketAddr, reason: String },
    #[error("Slack refused the bot token ({0}): check SLACK_BOT_TOKEN")]
    Auth(String),
    #[error(
        "Slack refused the app-level token ({0}): check SLACK_APP_TOKEN. It must be an app-level token (xapp-…, from your app's Basic Information page) with the connections:write scope, not the bot token (xoxb-…)"
    )]
    AppToken(String),
    #[error("cannot reach Slack: {0}")]
    Unreachable(String),
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

pub struct Application {
    addr: SocketAddr,
    listener: TcpListener,
    settings: Arc<Settings>,
    secrets: Secrets,
    store: Store,
    slack: Arc<dyn SlackPort>,
    client: Arc<slack_morphism::prelude::SlackHyperClient>,
    identity: BotIdentity,
    /// Where the engine's workers run: the background runtime `serve` makes (see
    /// [`background_runtime`]), or the current one.
    workers: Option<tokio::runtime::Handle>,
    now: Now,
    /// Socket Mode's connection state; `None` over HTTP.
    socket_health: Option<crate::slack::socket::SocketHealth>,
}

impl Application {
    pub async fn build(settings: Settings, secrets: Secrets) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let store = Store::open_with_cache(&settings.store_path, settings.store_cache_bytes)?;
        let client =
            build_client(secrets.api_url.as_deref()).map_err(|e| StartError::Tls(e.to_string()))?;
        let slack: Arc<dyn SlackPort> = Arc::new(SlackWebApi::new(
            client.clone(),
            &secrets.bot_token,
            settings.delivery.request_timeout,
            secrets.api_url.as_deref(),
        ));
        let identity = who_am_i(slack.as_ref()).await?;
        tracing::info!(bot_user = %identity.user_id, team = %identity.team_id, "connected to Slack");
        let socket_health = match &secrets.transport {
            Transport::SocketMode { app_token } => {
                crate::slack::socket::check_app_token(client.clone(), app_token)
                    .await
                    .map_err(|e| match e {
                        AppTokenError::Refused(code) => StartError::AppToken(code),
                        AppTokenError::Unreachable(reason) => StartError::Unreachable(reason),
                    })?;
                Some(crate::slack::socket::SocketHealth::default())
            }
            Transport::Http { .. } => None,
        };
        // Offline tools (the decision log export) build permalinks from it.
        store.set_fact("team_url", &identity.team_url)?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|e| StartError::Bind {
                addr: settings.listen,
                reason: e.to_string(),
            })?;
        let addr = listener.local_addr().map_err(|e| StartError::Bind {
            addr: settings.listen,
            reason: e.to_string(),
        })?;
        Ok(Self {
            addr,
            listener,
            settings,
            secrets,
            store,
            slack,
            client,
            identity,
            now: system(),
            socket_health,
            workers: None,
        })
    }

    /// Runs the engine's workers (inbox, timers, people, delivery, pruning) on `runtime`
    /// rather than on the one that serves Slack: see [`background_runtime`].
    pub fn with_workers_on(mut self, runtime: tokio::runtime::Handle) -> Self {
        self.workers = Some(runtime);
        self
    }

    /// The bound HTTP address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Socket Mode's connection state (`None` over HTTP), for `/healthz`.
    pub fn socket_health(&self) -> Option<crate::slack::socket::SocketHealth> {
        self.socket_health.clone()
    }

    /// Serves until `shutdown` is cancelled, then stops taking work and lets the work in flight
    /// finish, for at most `server.shutdown_grace`: an error if it had to be cut short.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let core = Core::start_with(
            self.store.clone(),
            self.slack.clone(),
            self.settings.clone(),
            self.identity.clone(),
            self.now.clone(),
            shutdown.clone(),
            CoreOptions {
                workers: self.workers.clone(),
                ..CoreOptions::default()
            },
        )?;
        if let Some(socket) = &self.socket_health {
            core.health.watch_socket(socket.clone());
        }
        let Core {
            dispatcher,
            health,
            mut tasks,
            ..
        } = core;

        let (verifier, transport) = match &self.secrets.transport {
            Transport::Http { signing_secret } => (
                Some(Arc::new(SlackEventSignatureVerifier::new(
                    &SlackSigningSecret::new(signing_secret.expose().to_owned()),
                ))),
                "http",
            ),
            Transport::SocketMode { app_token } => {
                let token = app_token.clone();
                let d = dispatcher.clone();
                let client = self.client.clone();
                let connections = self.settings.socket_connections;
                let stop = shutdown.clone();
                let health = self.socket_health.clone().unwrap_or_default();
                tasks.spawn(async move {
                    crate::slack::socket::run(d, client, &token, connections, health, stop).await;
                });
                (None, "socket_mode")
            }
        };
        let app = router(
            HttpState {
                dispatcher,
                verifier,
                transport,
                health,
                metrics: self.settings.metrics,
                report: self.settings.report.enabled.then(|| {
                    let store = self.store.clone();
                    let settings = self.settings.clone();
                    crate::slack::http::ReportRoute {
                        page: Arc::new(move |channel: Option<String>, weeks: u32| {
                            crate::features::insights::report::page(
                                &store,
                                &settings,
                                channel.as_deref(),
                                weeks,
                                chrono::Utc::now(),
                            )
                            .map_err(|e| e.to_string())
                        }),
                        token: self.secrets.report_token.clone().map(Arc::new),
                        default_weeks: self.settings.report.weeks,
                    }
                }),
            },
            self.settings.max_body_bytes,
        );
        tracing::info!(transport, "listening on http://{}", self.addr);
        let stop = shutdown.clone();
        let mut server = Box::pin(
            axum::serve(
                self.listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .into_future(),
        );
        // Serve until told to stop (or until the server fails, which stops everything too).
        let failed = tokio::select! {
            result = &mut server => Some(result),
            _ = shutdown.cancelled() => None,
        };
        shutdown.cancel();
        let grace = self.settings.shutdown_grace;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "stopping: no new connections or events are taken; finishing the work in flight"
        );
        // The server finishes the requests it is answering (an event waiting for its commit is
        // acked once durable); Socket Mode acks what it holds and closes; each worker finishes
        // its item (a post to Slack and the commit of its outcome) and returns.
        let drained = tokio::time::timeout(grace, async {
            let served = match failed {
                Some(result) => result,
                None => server.await,
            };
            while tasks.join_next().await.is_some() {}
            served
        })
        .await;
        match drained {
            Ok(served) => {
                served?;
                tracing::info!("stopped cleanly: all work in flight finished");
                Ok(())
            }
            Err(_) => {
                tasks.abort_all();
                Err(anyhow::anyhow!(
                    "stopped after the shutdown grace ({}) with work still in flight; it is kept \
                     in the store and resumes at the next start (a post that may have gone out \
                     is looked for before it is sent again)",
                    humantime::format_duration(grace)
                ))
            }
        }
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down (a second signal stops at once)");
            trigger.cancel();
            // Impatience: redb is crash-safe, so stopping mid-commit loses nothing acked.
            wait_for_signal().await;
            tracing::warn!("a second signal: stopping at once");
            std::process::exit(130);
        });
        self.run(shutdown).await
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The bot without its transports: the engine's workers (inbox, timers, people), delivery and
/// the pruning, all supervised, and the dispatcher that takes what Slack sends. The caller
/// brings the clock and the Slack port: the real ones in `serve`, a virtual clock and the
/// in-memory Slack in `simulate` and in tests.
pub struct Core {
    pub dispatcher: Arc<Dispatcher>,
    pub engine: Arc<Engine>,
    pub health: Health,
    /// The workers; they stop when the `shutdown` given to [`Core::start`] is cancelled.
    pub tasks: tokio::task::JoinSet<()>,
}

impl Core {
    pub fn start(
        store: Store,
        slack: Arc<dyn SlackPort>,
        settings: Arc<Settings>,
        identity: BotIdentity,
        now: Now,
        shutdown: CancellationToken,
    ) -> Result<Core, StartError> {
        Self::start_with(
            store,
            slack,
            settings,
            identity,
            now,
            shutdown,
            CoreOptions::default(),
        )
    }

    /// As [`Core::start`], with `options`.
    pub fn start_with(
        store: Store,
        slack: Arc<dyn SlackPort>,
        settings: Arc<Settings>,
        identity: BotIdentity,
        now: Now,
        shutdown: CancellationToken,
        options: CoreOptions,
    ) -> Result<Core, StartError> {
        let CoreOptions {
            idle_recheck,
            workers,
        } = options;
        let runtime = workers.unwrap_or_else(tokio::runtime::Handle::current);
        let wakers = Wakers::default();
        let health = Health::new(settings.health, now.clone());
        let mut engine = Engine::new(
            store.clone(),
            slack.clone(),
            settings.clone(),
            identity,
            now.clone(),
            wakers.clone(),
            health.clone(),
        );
        if let Some(every) = idle_recheck {
            engine.idle_recheck = every;
        }
        engine.features = crate::features::all();
        let engine = Arc::new(engine);
        let dispatcher = Arc::new(Dispatcher::new(engine.clone())?);
        engine.seed_standups()?;
        crate::features::weekly::seed(&engine)?;
        let mut tasks = tokio::task::JoinSet::new();
        // Every worker is supervised: one that stops (a panic its per-item containment did not
        // catch) is restarted with a backoff, and /healthz says so meanwhile.
        type Run = fn(Arc<Engine>, CancellationToken) -> futures::future::BoxFuture<'static, ()>;
        let workers: [(&'static str, Run); 3] = [
            (INBOX_WORKER, |e, stop| Box::pin(e.run_inbox(stop))),
            (TIMER_WORKER, |e, stop| Box::pin(e.run_timers(stop))),
            (PEOPLE_WORKER, |e, stop| Box::pin(e.run_people(stop))),
        ];
        for (name, run) in workers {
            let (e, stop) = (engine.clone(), shutdown.clone());
            tasks.spawn_on(
                supervise(name, health.clone(), shutdown.clone(), move || {
                    run(e.clone(), stop.clone())
                }),
                &runtime,
            );
        }
        {
            let (store, slack, settings, now, wakers, h, stop) = (
                store.clone(),
                slack.clone(),
                settings.clone(),
                now.clone(),
                wakers.clone(),
                health.clone(),
                shutdown.clone(),
            );
            let delivery = supervise(
                crate::delivery::WORKER,
                health.clone(),
                shutdown.clone(),
                move || {
                    let mut delivery = Delivery::new(
                        store.clone(),
                        slack.clone(),
                        settings.clone(),
                        now.clone(),
                        wakers.clone(),
                        h.clone(),
                    );
                    if let Some(every) = idle_recheck {
                        delivery.idle_recheck = every;
                    }
                    delivery.run(stop.clone())
                },
            );
            tasks.spawn_on(delivery, &runtime);
        }
        tasks.spawn_on(prune_periodically(store, settings, now, shutdown), &runtime);
        Ok(Core {
            dispatcher,
            engine,
            health,
            tasks,
        })
    }
}

/// How [`Core::start_with`] starts the core; the default is [`Core::start`]'s.
#[derive(Default)]
pub struct CoreOptions {
    /// How often idle workers look again on their own (see [`Engine::idle_recheck`]).
    pub idle_recheck: Option<Duration>,
    /// The runtime the workers run on: the current one by default.
    pub workers: Option<tokio::runtime::Handle>,
}

/// The runtime `serve` runs the engine's workers on, apart from the one that acks Slack's
/// deliveries. An ack is owed within 3 seconds and each is durable before it is sent; the
/// processing that follows has no such deadline. On their own runtime, at a lower CPU
/// priority (each thread's `nice` raised by `nice`, `server.workers_nice`, on Linux), the
/// workers never hold a thread that an ack is waiting for, and in a burst they take the CPU
/// the acks leave: the deliveries wait in the staging log meanwhile, and are processed right
/// after. On an idle machine the priority changes nothing. Its threads (blocking ones too) are
/// named `asyncbot-engine`.
pub fn background_runtime(nice: i32) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("asyncbot-engine")
        .on_thread_start(move || lower_priority(nice))
        .enable_all()
        .build()
}

/// Lowers the calling thread's CPU priority by `nice` (Linux, where `nice` is per thread; 19
/// at most). Failing leaves it as it is: only the order of work in a burst changes.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice > 0 {
        use rustix::process::{getpriority_process, setpriority_process};
        let me = Some(rustix::thread::gettid());
        let lowered =
            getpriority_process(me).and_then(|now| setpriority_process(me, (now + nice).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "cannot lower a background thread's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// `auth.test`, retried while Slack is unreachable; a refused token stops the start.
async fn who_am_i(slack: &dyn SlackPort) -> Result<BotIdentity, StartError> {
    let mut wait = Duration::from_millis(500);
    let mut attempts = 0;
    loop {
        match slack.auth_test().await {
            Ok(identity) => return Ok(identity),
            Err(SlackError::Permanent(code) | SlackError::Workspace(code)) => {
                return Err(StartError::Auth(code));
            }
            Err(e) if attempts >= 5 => return Err(StartError::Unreachable(e.to_string())),
            Err(e) => {
                tracing::warn!(error = %e, "auth.test failed; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
                attempts += 1;
            }
        }
    }
}

/// How often the pruner looks for rows past their time (on the engine's clock).
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);

/// The pruner (`store::retention`): first, in the background, the one-time backfill of the
/// retention indexes (a no-op once done), then a pass at start and every ten minutes. Each
/// pass removes what is past its time in chunks of at most [`CHUNK`] rows, one write
/// transaction each, yielding between them, so the inbox and the timers are never held up for
/// long. It is a plain task rather than a supervised worker: it handles no item that can
/// panic, a failed pass is logged and tried again at the next, and it has no state that
/// `/healthz` should report.
///
/// [`CHUNK`]: crate::store::retention::CHUNK
async fn prune_periodically(
    store: Store,
    settings: Arc<Settings>,
    now: Now,
    shutdown: CancellationToken,
) {
    use crate::store::retention::{CHUNK, Rules};
    let rules = Rules::new(settings.dead_letters_keep, settings.sla.forget_after);
    let work = async {
        match store.backfill(rules, now(), CHUNK).await {
            Ok(r) if r.chunks > 1 => tracing::info!(
                rows = r.rows,
                chunks = r.chunks,
                longest_ms = r.longest.as_millis() as u64,
                "indexed the store for retention"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "indexing the store for retention failed"),
        }
        loop {
            match store.prune_pass(rules, now(), CHUNK).await {
                Ok(r) if r.rows > 0 => tracing::debug!(
                    removed = r.rows,
                    chunks = r.chunks,
                    longest_ms = r.longest.as_millis() as u64,
                    "pruned old records"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning failed"),
            }
            tokio::time::sleep(PRUNE_EVERY).await;
        }
    };
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = work => {}
    }
}
