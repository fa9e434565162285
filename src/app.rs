//! Wires the bot together: store, Slack client, engine, delivery, and one transport (Socket Mode
//! or HTTP), plus `/healthz`. `Application::build` binds and connects; `run_until_stopped` serves
//! until SIGINT/SIGTERM.

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
    now: Now,
    /// Socket Mode's connection state; `None` over HTTP.
    socket_health: Option<crate::slack::socket::SocketHealth>,
}

impl Application {
    pub async fn build(settings: Settings, secrets: Secrets) -> Result<Self, StartError> {
        let settings = Arc::new(settings);
        let store = Store::open(&settings.store_path)?;
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
        })
    }

    /// The bound HTTP address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Socket Mode's connection state (`None` over HTTP), for `/healthz`.
    pub fn socket_health(&self) -> Option<crate::slack::socket::SocketHealth> {
        self.socket_health.clone()
    }

    /// Serves until `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let core = Core::start(
            self.store.clone(),
            self.slack.clone(),
            self.settings.clone(),
            self.identity.clone(),
            self.now.clone(),
            shutdown.clone(),
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
            },
            self.settings.max_body_bytes,
        );
        tracing::info!(transport, "listening on http://{}", self.addr);
        let stop = shutdown.clone();
        axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await?;
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        tracing::info!("stopped");
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let shutdown = CancellationToken::new();
        let trigger = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down");
            trigger.cancel();
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
        Self::start_with(store, slack, settings, identity, now, shutdown, None)
    }

    /// As [`Core::start`]; `idle_recheck` overrides how often idle workers look again on their
    /// own (see [`Engine::idle_recheck`]).
    pub fn start_with(
        store: Store,
        slack: Arc<dyn SlackPort>,
        settings: Arc<Settings>,
        identity: BotIdentity,
        now: Now,
        shutdown: CancellationToken,
        idle_recheck: Option<std::time::Duration>,
    ) -> Result<Core, StartError> {
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
        let dispatcher = Arc::new(Dispatcher::new(engine.clone()));
        engine.seed_standups()?;
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
            tasks.spawn(supervise(
                name,
                health.clone(),
                shutdown.clone(),
                move || run(e.clone(), stop.clone()),
            ));
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
            tasks.spawn(supervise(
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
            ));
        }
        tasks.spawn(prune_periodically(store, now, shutdown));
        Ok(Core {
            dispatcher,
            engine,
            health,
            tasks,
        })
    }
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

/// Forgets old event ids (Slack retries within minutes) and requests closed a month ago.
async fn prune_periodically(store: Store, now: Now, shutdown: CancellationToken) {
    loop {
        let at = now();
        let result = store
            .call(move |s| {
                s.prune(
                    at - chrono::Duration::hours(24),
                    at - chrono::Duration::days(30),
                )
            })
            .await;
        match result {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "pruned old records"),
            Err(e) => tracing::warn!(error = %e, "pruning failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
    }
}
