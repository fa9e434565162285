//! The offline tools: read or repair the store while the bot is stopped (the decision log, dead
//! letters).

use std::process::ExitCode;

use super::commands::{DeadLettersAction, DecisionsAction, Format, fail};

/// Opens the store of the configuration at `config`, for an offline tool.
fn open_store(
    config: Option<&std::path::Path>,
    env: &[(String, String)],
) -> Result<crate::store::Store, ExitCode> {
    let settings = match crate::config::load(config, env) {
        Ok(s) => s,
        Err(e) => return Err(fail(&format!("invalid configuration: {e}"))),
    };
    if !settings.store_path.exists() {
        return Err(fail(&format!(
            "there is no store at {}: run the bot first, or point --config at its configuration",
            settings.store_path.display()
        )));
    }
    crate::store::Store::open(&settings.store_path).map_err(|e| fail(&e.to_string()))
}

pub fn dead_letters(action: DeadLettersAction, env: &[(String, String)]) -> ExitCode {
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

pub fn decisions(action: DecisionsAction, env: &[(String, String)]) -> ExitCode {
    let config = match &action {
        DecisionsAction::List { config } | DecisionsAction::Export { config, .. } => config.clone(),
    };
    let store = match open_store(config.as_deref(), env) {
        Ok(store) => store,
        Err(code) => return code,
    };
    match action {
        DecisionsAction::List { .. } => match crate::features::rfc::export::list(&store) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e.to_string()),
        },
        DecisionsAction::Export { format, out, .. } => {
            let format = match format {
                Format::Markdown => crate::features::rfc::export::ExportFormat::Markdown,
                Format::Json => crate::features::rfc::export::ExportFormat::Json,
            };
            match crate::features::rfc::export::export(&store, format, &out) {
                Ok(n) => {
                    println!("wrote {n} decision record(s) to {}", out.display());
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e.to_string()),
            }
        }
    }
}

/// `asyncbot report --html FILE`: the team's report page, from the store.
pub fn report(
    html: &std::path::Path,
    weeks: u32,
    channel: Option<String>,
    config: Option<&std::path::Path>,
    env: &[(String, String)],
) -> ExitCode {
    let settings = match crate::config::load(config, env) {
        Ok(s) => s,
        Err(e) => return fail(&format!("invalid configuration: {e}")),
    };
    if let Some(c) = &channel
        && (c.is_empty() || !c.chars().all(|ch| ch.is_ascii_alphanumeric()))
    {
        return fail(&format!("{c:?} is not a channel id (like \"C0123456\")"));
    }
    let store = match open_store(config, env) {
        Ok(store) => store,
        Err(code) => return code,
    };
    let now = chrono::Utc::now();
    let page = match crate::features::insights::report::page(
        &store,
        &settings,
        channel.as_deref(),
        weeks,
        now,
    ) {
        Ok(page) => page,
        Err(e) => return fail(&e.to_string()),
    };
    let written = if html.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(page.as_bytes())
    } else {
        std::fs::write(html, page)
    };
    match written {
        Ok(()) => {
            if html.as_os_str() != "-" {
                eprintln!("wrote {}", html.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("cannot write {}: {e}", html.display())),
    }
}
