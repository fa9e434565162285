//! `asyncbot serve` and `asyncbot check-config`: load the configuration and the secrets, then
//! run the bot until it is stopped.

use std::path::Path;
use std::process::ExitCode;

use super::commands::fail;

/// Checks a configuration and prints the norms it sets, without connecting to Slack.
pub fn check_config(config: Option<&Path>, env: &[(String, String)]) -> ExitCode {
    match crate::config::load(config, env) {
        Ok(settings) => {
            println!("configuration is valid\n");
            println!("{}", crate::features::sla::norms(&settings));
            println!("{}", holiday_region_line(settings.calendar_region.as_ref()));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("invalid configuration: {e}")),
    }
}

/// `calendar.holiday_region` as check-config reports it.
fn holiday_region_line(region: Option<&crate::domain::holidays::Region>) -> String {
    let years = crate::domain::holidays::YEARS;
    match region {
        Some(region) => format!(
            "Public holidays: {region} (built-in python-holidays data, {}–{})",
            years.start(),
            years.end()
        ),
        None => String::from("Public holidays: none by region (calendar.holiday_region is empty)"),
    }
}

/// Runs the bot: Socket Mode when `SLACK_APP_TOKEN` is set, otherwise HTTP.
pub fn serve(config: Option<&Path>, env: &[(String, String)]) -> ExitCode {
    let settings = match crate::config::load(config, env) {
        Ok(s) => s,
        Err(e) => return fail(&format!("invalid configuration: {e}")),
    };
    let secrets = match crate::config::Secrets::from_env(env) {
        Ok(s) => s,
        Err(e) => return fail(&e.to_string()),
    };
    super::telemetry::init(settings.log_format, &settings.log_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let workers = match crate::app::background_runtime(settings.workers_nice) {
        Ok(rt) => rt,
        Err(e) => return fail(&format!("cannot start the async runtime: {e}")),
    };
    let code = runtime.block_on(async {
        let app = match crate::app::Application::build(settings, secrets).await {
            Ok(app) => app.with_workers_on(workers.handle().clone()),
            Err(e) => return fail(&e.to_string()),
        };
        match app.run_until_stopped().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        }
    });
    // The workers have stopped (or were cut short at the grace): nothing of theirs is left
    // to wait for.
    workers.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}
