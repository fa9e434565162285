//! Logging: human-readable lines by default, one JSON object per line on request. `RUST_LOG`,
//! when set, overrides the configured level. No token or secret is ever passed to a log macro.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

const NO_TICKETS: &str = "tungstenite=info";

/// Installs the global subscriber. Safe to call once per process.
pub fn init(format: LogFormat, level: &str) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        // Our own lines at the configured level; the libraries' chatter only when it matters.
        .unwrap_or_else(|| {
            EnvFilter::try_new(format!("warn,asyncbot={level}"))
                .unwrap_or_else(|_| EnvFilter::new("warn,asyncbot=info"))
        })
        // tungstenite traces the handshake request (its URL carries the Socket Mode ticket, a
        // credential) and every frame (commands carry a `response_url`): never let those lines
        // through, whatever RUST_LOG asks for.
        .add_directive(NO_TICKETS.parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Human => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
    // A panic is contained to the item it happened in (see `health::contained`); it is logged as
    // one line here, where its location is known, instead of the default multi-line stderr text.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = crate::engine::health::panic_message(info.payload());
        tracing::warn!(%location, %message, "panic (contained to the item being processed)");
    }));
}
