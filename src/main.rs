//! The `asyncbot` command line: parses arguments and calls into the library.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A Slack bot that keeps your team's async norms: response-time SLAs on each person's own
/// clock, and a step-by-step escalation ladder when a request stalls.
#[derive(Parser)]
#[command(name = "asyncbot", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bot. Socket Mode when SLACK_APP_TOKEN is set, otherwise HTTP with SLACK_SIGNING_SECRET.
    Serve {
        /// A TOML file layered over the built-in defaults.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Check a configuration and print the norms it sets, without connecting to Slack.
    CheckConfig {
        /// A TOML file layered over the built-in defaults.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Print the built-in default configuration (a starting point for your own file).
    DefaultConfig,
    /// The decision log: every RFC's record. Reads the store while the bot is stopped.
    Decisions {
        #[command(subcommand)]
        action: DecisionsAction,
    },
    /// See a week of the bot in seconds, with no Slack: the real engine on a virtual clock against
    /// an in-memory Slack, driven by a scenario of people and traffic. Prints every message the
    /// bot sent (who got it, in their local time) and a report.
    Simulate {
        /// A scenario file (see `config/scenario.toml`, the built-in one, for the format).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// A TOML file layered over the built-in defaults, as for `serve`.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// Runs the same scenario under this configuration too, and prints both reports side by side.
        #[arg(long, value_name = "OTHER.toml")]
        compare: Option<PathBuf>,
        /// The first day (YYYY-MM-DD) instead of the scenario's; late March or October crosses a
        /// daylight-saving change.
        #[arg(long, value_name = "DATE")]
        start: Option<chrono::NaiveDate>,
        /// Prints the transcript and the report as JSON.
        #[arg(long)]
        json: bool,
        /// Only the report, no transcript.
        #[arg(long)]
        quiet: bool,
    },
    /// Work set aside after failing repeatedly (events, timers, messages). Run while the bot is
    /// stopped: list them, put one back to work once its cause is fixed, or discard it.
    DeadLetters {
        #[command(subcommand)]
        action: DeadLettersAction,
    },
}

#[derive(Subcommand)]
enum DeadLettersAction {
    /// Every dead letter: id, kind, when, attempts, the error, and the item itself.
    List {
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Puts a dead letter back to work (the bot picks it up when it next runs).
    Retry {
        id: u64,
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Deletes a dead letter for good.
    Discard {
        id: u64,
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DecisionsAction {
    /// List every decision record: number, status, date, title.
    List {
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Write every decision record to a directory, one file each.
    Export {
        /// `markdown` (the decision-record outline) or `json`.
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
        /// The directory to write to (created if needed).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A TOML file layered over the built-in defaults (for `store.path`).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Markdown,
    Json,
}

fn main() -> ExitCode {
    asyncbot::install_crypto_provider();
    let cli = Cli::parse();
    let env: Vec<(String, String)> = std::env::vars().collect();
    match cli.command {
        Command::DefaultConfig => {
            print!("{}", asyncbot::config::DEFAULT_CONFIG);
            ExitCode::SUCCESS
        }
        Command::CheckConfig { config } => match asyncbot::config::load(config.as_deref(), &env) {
            Ok(settings) => {
                println!("configuration is valid\n");
                println!("{}", asyncbot::features::sla::norms(&settings));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&format!("invalid configuration: {e}")),
        },
        Command::Decisions { action } => decisions(action, &env),
        Command::DeadLetters { action } => dead_letters(action, &env),
        Command::Simulate {
            scenario,
            config,
            compare,
            start,
            json,
            quiet,
        } => simulate(scenario, config, compare, start, json, quiet),
        Command::Serve { config } => {
            let settings = match asyncbot::config::load(config.as_deref(), &env) {
                Ok(s) => s,
                Err(e) => return fail(&format!("invalid configuration: {e}")),
            };
            let secrets = match asyncbot::config::Secrets::from_env(&env) {
                Ok(s) => s,
                Err(e) => return fail(&e.to_string()),
            };
            asyncbot::cli::telemetry::init(settings.log_format, &settings.log_level);
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
            };
            runtime.block_on(async {
                let app = match asyncbot::app::Application::build(settings, secrets).await {
                    Ok(app) => app,
                    Err(e) => return fail(&e.to_string()),
                };
                match app.run_until_stopped().await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => fail(&e.to_string()),
                }
            })
        }
    }
}

fn simulate(
    scenario: Option<PathBuf>,
    config: Option<PathBuf>,
    compare: Option<PathBuf>,
    start: Option<chrono::NaiveDate>,
    json: bool,
    quiet: bool,
) -> ExitCode {
    use asyncbot::cli::simulate;
    let text = match &scenario {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => return fail(&format!("cannot read the scenario {}: {e}", path.display())),
        },
        None => simulate::BUILT_IN.to_owned(),
    };
    let scenario = match simulate::Scenario::parse(&text, start) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    let run_with = |config: Option<&std::path::Path>| {
        simulate::settings(config).and_then(|settings| simulate::run(&scenario, settings))
    };
    let first = match run_with(config.as_deref()) {
        Ok(run) => run,
        Err(e) => return fail(&e.to_string()),
    };
    let Some(other) = compare else {
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&first).unwrap_or_default()
            );
        } else {
            if !quiet {
                println!("{}", simulate::print_transcript(&first));
            }
            print!("{}", simulate::print_report(&first.report));
        }
        return ExitCode::SUCCESS;
    };
    let second = match run_with(Some(&other)) {
        Ok(run) => run,
        Err(e) => return fail(&e.to_string()),
    };
    let name = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or_else(|| "defaults".to_owned(), |p| p.display().to_string())
    };
    if json {
        let both = serde_json::json!({ name(&config): first, other.display().to_string(): second });
        println!(
            "{}",
            serde_json::to_string_pretty(&both).unwrap_or_default()
        );
    } else {
        print!(
            "{}",
            simulate::print_comparison(
                &name(&config),
                &first.report,
                &other.display().to_string(),
                &second.report
            )
        );
    }
    ExitCode::SUCCESS
}

/// Opens the store of the configuration at `config`, for an offline tool.
fn open_store(
    config: Option<&std::path::Path>,
    env: &[(String, String)],
) -> Result<asyncbot::store::Store, ExitCode> {
    let settings = match asyncbot::config::load(config, env) {
        Ok(s) => s,
        Err(e) => return Err(fail(&format!("invalid configuration: {e}"))),
    };
    if !settings.store_path.exists() {
        return Err(fail(&format!(
            "there is no store at {}: run the bot first, or point --config at its configuration",
            settings.store_path.display()
        )));
    }
    asyncbot::store::Store::open(&settings.store_path).map_err(|e| fail(&e.to_string()))
}

fn dead_letters(action: DeadLettersAction, env: &[(String, String)]) -> ExitCode {
    let config = match &action {
        DeadLettersAction::List { config }
        | DeadLettersAction::Retry { config, .. }
        | DeadLettersAction::Discard { config, .. } => config.clone(),
    };
    let store = match open_store(config.as_deref(), env) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match action {
        DeadLettersAction::List { .. } => match store.dead_letters() {
            Ok(letters) if letters.is_empty() => {
                println!("no dead letters: nothing has failed repeatedly");
                ExitCode::SUCCESS
            }
            Ok(letters) => {
                for l in letters {
                    println!(
                        "#{} {} {} at {} after {} attempt(s)\n  error: {}\n  item: {}",
                        l.id,
                        l.kind.label(),
                        l.key,
                        l.at.to_rfc3339(),
                        l.attempts,
                        l.error,
                        l.payload
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        DeadLettersAction::Retry { id, .. } => {
            match store.retry_dead_letter(id, chrono::Utc::now()) {
                Ok(true) => {
                    println!(
                        "dead letter #{id} is back in the queue; the bot runs it when it next starts"
                    );
                    ExitCode::SUCCESS
                }
                Ok(false) => fail(&format!(
                    "there is no dead letter #{id} (`asyncbot dead-letters list` shows them)"
                )),
                Err(e) => fail(&e.to_string()),
            }
        }
        DeadLettersAction::Discard { id, .. } => match store.discard_dead_letter(id) {
            Ok(true) => {
                println!("dead letter #{id} discarded");
                ExitCode::SUCCESS
            }
            Ok(false) => fail(&format!(
                "there is no dead letter #{id} (`asyncbot dead-letters list` shows them)"
            )),
            Err(e) => fail(&e.to_string()),
        },
    }
}

fn decisions(action: DecisionsAction, env: &[(String, String)]) -> ExitCode {
    let config = match &action {
        DecisionsAction::List { config } | DecisionsAction::Export { config, .. } => config.clone(),
    };
    let store = match open_store(config.as_deref(), env) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match action {
        DecisionsAction::List { .. } => match asyncbot::features::rfc::export::list(&store) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        DecisionsAction::Export { format, out, .. } => {
            let format = match format {
                Format::Markdown => asyncbot::features::rfc::export::ExportFormat::Markdown,
                Format::Json => asyncbot::features::rfc::export::ExportFormat::Json,
            };
            match asyncbot::features::rfc::export::export(&store, format, &out) {
                Ok(n) => {
                    println!("wrote {n} decision record(s) to {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("asyncbot: {message}");
    ExitCode::FAILURE
}
