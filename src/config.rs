//! Configuration: the embedded defaults, a user's file layered over them, environment overrides,
//! and the typed, validated [`Settings`] the rest of the bot reads. Secrets live in [`Secrets`] and
//! come from the environment only.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, Weekday};
use chrono_tz::Tz;
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::Deserialize;

use crate::domain::calendar::{BusinessCalendar, Clock, WorkingHours, parse_weekday};
use crate::domain::holidays::Region;
use crate::domain::rfc::RfcSettings;
use crate::domain::sla::{LadderStep, SlaPolicy, StepAction, Tier, TierRule};
use crate::domain::standup::{RemindMode, Schedule};

/// The defaults, compiled in: one source of truth for `serve`, the docs and the tests.
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// Prefix of environment overrides: `ASYNCBOT_SLA__NORMAL__WITHIN=8h`.
pub const ENV_PREFIX: &str = "ASYNCBOT_";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Syntax(String),
    #[error("{0} is not set: {1}")]
    MissingEnv(&'static str, &'static str),
}

fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        reason: reason.into(),
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub max_body_bytes: usize,
    pub store_path: PathBuf,
    /// Dead letters older than this are deleted (`store.dead_letters_keep`).
    pub dead_letters_keep: Duration,
    /// Bytes of redb's page cache (`store.cache_size`): most of the bot's resident memory.
    pub store_cache_bytes: usize,
    pub log_format: LogFormat,
    pub log_level: String,
    pub calendar: BusinessCalendar,
    /// `calendar.holiday_region`: the team's public-holiday region, `None` when empty. Kept out
    /// of [`BusinessCalendar`] until the calendar consults it.
    pub calendar_region: Option<Region>,
    pub fallback_timezone: Tz,
    pub sla: SlaPolicy,
    pub rfc: RfcSettings,
    pub standup: StandupDefaults,
    /// Schedules from `[[standups]]`.
    pub standups: Vec<Schedule>,
    /// `[report]`: whether `GET /report` is served, and how many weeks it shows by default.
    pub report: ReportSettings,
    /// `[[weekly]]`: each channel's weekly update.
    pub weekly: Vec<crate::domain::weekly::WeeklySchedule>,
    pub delivery: DeliverySettings,
    pub socket_connections: u32,
    pub health: HealthLimits,
    /// On SIGTERM or Ctrl-C, how long the work in flight (a store commit, a post to Slack)
    /// may take to finish before the bot exits anyway.
    pub shutdown_grace: Duration,
    /// How much lower the engine's workers run than the acks (`nice`, Linux; 0 to 19).
    pub workers_nice: i32,
    /// Whether `GET /metrics` (Prometheus) is served.
    pub metrics: bool,
    /// `[respect]`: how much the bot may ask of people.
    pub respect: Respect,
    /// What the bot learns from Slack about people being out or focused (`[respect]`).
    pub presence: PresenceSettings,
}

/// `[report]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSettings {
    /// Serve `GET /report` (to loopback, or with `ASYNCBOT_REPORT_TOKEN`).
    pub enabled: bool,
    /// Weeks shown when the request does not say (1 to 52).
    pub weeks: u32,
}

/// `[respect]`: the nudge budget, the heads-up to askers, and coaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respect {
    /// At most this many messages asking something of one person per day of theirs; the
    /// rest of the day's nudges go into one digest. 0: no budget.
    pub max_nudges_per_day: u32,
    /// An asker whose recipient's next working time is further away than this is told so,
    /// privately. Zero: never.
    pub heads_up_after: Duration,
    /// `respect.coach_nohello`: one private tip, at most weekly, to the author of a bare
    /// "hi @ana" (see `domain::asking`).
    pub coach_nohello: bool,
    /// `respect.metrics_min_group`: team figures are shown for a scope and period only when at
    /// least this many people were counted in them; fewer would point at someone.
    pub metrics_min_group: usize,
}

/// `respect.ooo_status`, `respect.focus_status`, `respect.presence_refresh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSettings {
    /// Which statuses mean out of office, and which focused.
    pub rules: crate::domain::presence::StatusRules,
    /// People with open requests have their status and Do Not Disturb asked again at most this
    /// often (events keep them current in between).
    pub refresh: Duration,
}

/// Thresholds for calling the bot unhealthy (`[health]`), read by `engine::health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthLimits {
    /// A worker on one item longer than this is stuck.
    pub stuck_after: Duration,
    /// Socket Mode without a live connection for longer than this is down.
    pub socket_down_after: Duration,
}

impl Default for HealthLimits {
    fn default() -> Self {
        Self {
            stuck_after: Duration::from_secs(120),
            socket_down_after: Duration::from_secs(120),
        }
    }
}

/// What a standup uses when its schedule does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandupDefaults {
    pub days: Vec<Weekday>,
    pub remind_after: Duration,
    pub summary_after: Duration,
    pub remind: RemindMode,
    pub questions: Vec<String>,
}

impl StandupDefaults {
    /// A schedule for `channel` with these defaults.
    pub fn schedule(&self, channel: &str, at: chrono::NaiveTime, timezone: Tz) -> Schedule {
        Schedule {
            channel: channel.to_owned(),
            at,
            timezone,
            days: self.days.clone(),
            holidays: Default::default(),
            skips: Default::default(),
            remind_after_secs: self.remind_after.as_secs(),
            summary_after_secs: self.summary_after.as_secs(),
            remind: self.remind,
            questions: self.questions.clone(),
            from_config: false,
            active: true,
            next_due: None,
            effective_from: None,
            open_day: None,
            set_by: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    pub per_channel_interval: Duration,
    pub max_backoff: Duration,
    /// A message Slack keeps failing with 5xx, timeouts or 429s is set aside (a dead letter)
    /// once it is this old. Workspace-wide refusals (a revoked token) never age a message out.
    pub give_up_after: Duration,
    pub request_timeout: Duration,
    /// Posts per second to the whole workspace, all conversations together (a token bucket
    /// that holds one second's worth, so short bursts go at once).
    pub workspace_rate: u32,
    /// How many messages (each to a different conversation) may be in flight at once.
    pub max_in_flight: usize,
}

// ---- the raw shape of the file: strings, parsed and checked below -----------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    store: RawStore,
    log: RawLog,
    calendar: RawCalendar,
    sla: RawSla,
    escalation: RawEscalation,
    rfc: RawRfc,
    standup: RawStandupDefaults,
    #[serde(default)]
    standups: Vec<RawStandup>,
    #[serde(default)]
    weekly: Vec<RawWeekly>,
    delivery: RawDelivery,
    socket_mode: RawSocketMode,
    health: RawHealth,
    respect: RawRespect,
    report: RawReport,
}

/// `[report]`: `GET /report`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    enabled: bool,
    weeks: u32,
}

// ---- [respect]: presence (out of office, focus, Do Not Disturb) ----
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRespect {
    coach_nohello: bool,
    metrics_min_group: u32,
    max_nudges_per_day: u32,
    heads_up_after: String,
    ooo_status: Vec<String>,
    focus_status: Vec<String>,
    presence_refresh: String,
}
// ---- end of presence's [respect] keys ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    stuck_after: String,
    socket_down_after: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    max_body_bytes: u64,
    shutdown_grace: String,
    workers_nice: i32,
    metrics: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: String,
    dead_letters_keep: String,
    cache_size: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    format: String,
    level: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    working_days: Vec<String>,
    working_hours: Vec<String>,
    holidays: Vec<String>,
    holiday_region: String,
    fallback_timezone: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSla {
    ack_reactions: Vec<String>,
    max_recipients: usize,
    forget_after: String,
    urgent: RawTier,
    normal: RawTier,
    low: RawTier,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTier {
    within: String,
    clock: String,
    #[serde(default)]
    markers: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    after: String,
    action: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRfc {
    default_window: String,
    min_window: String,
    max_window: String,
    remind_before: String,
    clock: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandupDefaults {
    days: Vec<String>,
    remind_after: String,
    summary_after: String,
    remind: String,
    questions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStandup {
    channel: String,
    at: String,
    timezone: Option<String>,
    days: Option<Vec<String>>,
    #[serde(default)]
    holidays: Vec<String>,
    remind_after: Option<String>,
    summary_after: Option<String>,
    remind: Option<String>,
}

/// One `[[weekly]]` entry: a channel's weekly update.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWeekly {
    channel: String,
    at: String,
    timezone: Option<String>,
    owner: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    per_channel_interval: String,
    max_backoff: String,
    give_up_after: String,
    request_timeout: String,
    workspace_rate: u32,
    max_in_flight: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSocketMode {
    connections: u32,
}

// ---- loading -----------------------------------------------------------------------------------

/// Loads the defaults, then `file` (if given), then `ASYNCBOT_*` variables from `env`, and checks
/// every value. `env` is passed in so tests need not touch the process environment.
/// The report's token: a secret, from the environment only.
pub const REPORT_TOKEN_ENV: &str = "ASYNCBOT_REPORT_TOKEN";

pub fn load(file: Option<&Path>, env: &[(String, String)]) -> Result<Settings, ConfigError> {
    let mut figment = Figment::from(Toml::string(DEFAULT_CONFIG));
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        // Parse first so a syntax error names the file rather than a figment internal.
        text.parse::<toml::Table>().map_err(|e| {
            ConfigError::Syntax(format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.message()
            ))
        })?;
        figment = figment.merge(Toml::string(&text));
    }
    for (name, value) in env {
        // A secret under the prefix is read by `Secrets::from_env`, never as configuration.
        if name == REPORT_TOKEN_ENV {
            continue;
        }
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        // ASYNCBOT_SLA__NORMAL__WITHIN -> sla.normal.within; values parse as TOML-like scalars or
        // arrays, as figment's own `Env` provider does.
        let key = rest.to_ascii_lowercase().replace("__", ".");
        let value: figment::value::Value = value.parse().unwrap_or_else(|e| match e {});
        figment = figment.merge(Serialized::default(&key, value));
    }
    let raw: RawConfig = figment.extract().map_err(describe_figment_error)?;
    Settings::from_raw(raw)
}

fn describe_figment_error(err: figment::Error) -> ConfigError {
    let mut messages = Vec::new();
    for e in err {
        let key = e.path.join(".");
        let detail = match &e.kind {
            figment::error::Kind::UnknownField(field, _) => {
                // figment's path already ends with the unknown field.
                let full = if key.ends_with(field.as_str()) {
                    key.clone()
                } else if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
                messages.push(format!("{full}: unknown key"));
                continue;
            }
            figment::error::Kind::MissingField(field) => {
                let full = if key.is_empty() {
                    field.to_string()
                } else {
                    format!("{key}.{field}")
                };
                messages.push(format!("{full}: missing"));
                continue;
            }
            other => other.to_string(),
        };
        if key.is_empty() {
            messages.push(detail);
        } else {
            messages.push(format!("{key}: {detail}"));
        }
    }
    ConfigError::Syntax(messages.join("; "))
}

/// Parses `"90s"`, `"2h"`, `"3d"`; `key` names the setting in the error.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value.trim()).map_err(|_| {
        invalid(
            key,
            format!("{value:?} is not a duration (try \"90s\", \"2h\" or \"3d\")"),
        )
    })
}

/// Parses a size in bytes: `"64MiB"`, `"512KiB"`, `"1GiB"` or a plain number of bytes; `key`
/// names the setting in the error.
pub fn parse_size(key: &str, value: &str) -> Result<usize, ConfigError> {
    let text = value.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| scale > 0)
        .and_then(|n| n.checked_mul(scale))
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            invalid(
                key,
                format!("{value:?} is not a size (try \"64MiB\", \"512KiB\" or \"1GiB\")"),
            )
        })
}

pub fn parse_timezone(key: &str, value: &str) -> Result<Tz, ConfigError> {
    value.trim().parse::<Tz>().map_err(|_| {
        invalid(
            key,
            format!("{value:?} is not an IANA time zone (try \"Europe/Berlin\" or \"UTC\")"),
        )
    })
}

impl Settings {
    fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let listen = raw.server.listen.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "server.listen",
                format!(
                    "{:?} is not an address:port (try \"127.0.0.1:3000\")",
                    raw.server.listen
                ),
            )
        })?;
        if raw.server.max_body_bytes == 0 {
            return Err(invalid("server.max_body_bytes", "must be more than 0"));
        }
        if !(0..=19).contains(&raw.server.workers_nice) {
            return Err(invalid(
                "server.workers_nice",
                "must be from 0 (the same priority as the acks) to 19 (the lowest)",
            ));
        }
        if raw.store.path.trim().is_empty() {
            return Err(invalid("store.path", "must not be empty"));
        }
        let dead_letters_keep =
            parse_duration("store.dead_letters_keep", &raw.store.dead_letters_keep)?;
        if dead_letters_keep < Duration::from_secs(24 * 3600) {
            return Err(invalid(
                "store.dead_letters_keep",
                "must be at least 1d (an operator needs time to look at them)",
            ));
        }
        let store_cache_bytes = parse_size("store.cache_size", &raw.store.cache_size)?;
        if store_cache_bytes < 1024 * 1024 {
            return Err(invalid(
                "store.cache_size",
                "must be at least 1MiB (the store reads every page through it)",
            ));
        }
        let log_format = match raw.log.format.as_str() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "log.format",
                    format!("{other:?} is not a log format (use \"human\" or \"json\")"),
                ));
            }
        };
        tracing_subscriber::EnvFilter::try_new(&raw.log.level).map_err(|_| {
            invalid(
                "log.level",
                format!(
                    "{:?} is not a log level (try \"info\" or \"debug\")",
                    raw.log.level
                ),
            )
        })?;

        let calendar = parse_calendar(&raw.calendar)?;
        let calendar_region = parse_holiday_region(&raw.calendar.holiday_region)?;
        // The team's calendar counts the region's public holidays; a person may set their own.
        let calendar = calendar.with_region(calendar_region.clone());
        let fallback_timezone = parse_timezone(
            "calendar.fallback_timezone",
            &raw.calendar.fallback_timezone,
        )?;
        let sla = parse_sla(&raw.sla, &raw.escalation)?;
        let rfc = parse_rfc(&raw.rfc)?;
        let standup = parse_standup_defaults(&raw.standup)?;
        let standups = raw
            .standups
            .iter()
            .enumerate()
            .map(|(i, entry)| parse_standup(i, entry, &standup, fallback_timezone))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::HashSet::new();
        for (i, s) in standups.iter().enumerate() {
            if !seen.insert(s.channel.clone()) {
                return Err(invalid(
                    format!("standups[{i}].channel"),
                    format!("{:?} has two schedules", s.channel),
                ));
            }
        }

        if !(1..=52).contains(&raw.report.weeks) {
            return Err(invalid("report.weeks", "must be between 1 and 52"));
        }
        let report = ReportSettings {
            enabled: raw.report.enabled,
            weeks: raw.report.weeks,
        };
        let weekly = raw
            .weekly
            .iter()
            .enumerate()
            .map(|(i, entry)| parse_weekly(i, entry, fallback_timezone))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = std::collections::HashSet::new();
        for (i, w) in weekly.iter().enumerate() {
            if !seen.insert(w.channel.clone()) {
                return Err(invalid(
                    format!("weekly[{i}].channel"),
                    format!("{:?} has two weekly updates", w.channel),
                ));
            }
        }

        let delivery = DeliverySettings {
            per_channel_interval: parse_duration(
                "delivery.per_channel_interval",
                &raw.delivery.per_channel_interval,
            )?,
            max_backoff: parse_duration("delivery.max_backoff", &raw.delivery.max_backoff)?,
            give_up_after: parse_duration("delivery.give_up_after", &raw.delivery.give_up_after)?,
            request_timeout: parse_duration(
                "delivery.request_timeout",
                &raw.delivery.request_timeout,
            )?,
            workspace_rate: raw.delivery.workspace_rate,
            max_in_flight: raw.delivery.max_in_flight as usize,
        };
        if !(1..=100_000).contains(&delivery.workspace_rate) {
            return Err(invalid(
                "delivery.workspace_rate",
                format!(
                    "{} is out of range (1 to 100000 messages per second)",
                    delivery.workspace_rate
                ),
            ));
        }
        if !(1..=256).contains(&delivery.max_in_flight) {
            return Err(invalid(
                "delivery.max_in_flight",
                format!("{} is out of range (1 to 256)", delivery.max_in_flight),
            ));
        }
        if delivery.give_up_after < Duration::from_secs(60) {
            return Err(invalid(
                "delivery.give_up_after",
                "must be at least 1m (Slack outages last longer than that)",
            ));
        }
        let health = HealthLimits {
            stuck_after: parse_duration("health.stuck_after", &raw.health.stuck_after)?,
            socket_down_after: parse_duration(
                "health.socket_down_after",
                &raw.health.socket_down_after,
            )?,
        };
        if health.stuck_after.is_zero() {
            return Err(invalid("health.stuck_after", "must be more than 0s"));
        }
        if delivery.request_timeout.is_zero() {
            return Err(invalid("delivery.request_timeout", "must be more than 0s"));
        }
        if delivery.max_backoff.is_zero() {
            return Err(invalid("delivery.max_backoff", "must be more than 0s"));
        }
        let shutdown_grace = parse_duration("server.shutdown_grace", &raw.server.shutdown_grace)?;
        if shutdown_grace.is_zero() {
            return Err(invalid(
                "server.shutdown_grace",
                "must be more than 0s (the work in flight needs a moment to finish)",
            ));
        }
        if shutdown_grace > Duration::from_secs(600) {
            return Err(invalid(
                "server.shutdown_grace",
                "must be at most 10m (a service manager gives up on a stop long before that)",
            ));
        }
        if !(1..=10).contains(&raw.socket_mode.connections) {
            return Err(invalid(
                "socket_mode.connections",
                format!("{} is out of range (1 to 10)", raw.socket_mode.connections),
            ));
        }

        let respect = Respect {
            max_nudges_per_day: raw.respect.max_nudges_per_day,
            heads_up_after: parse_duration("respect.heads_up_after", &raw.respect.heads_up_after)?,
            coach_nohello: raw.respect.coach_nohello,
            metrics_min_group: raw.respect.metrics_min_group as usize,
        };
        if !(1..=50).contains(&raw.respect.metrics_min_group) {
            return Err(invalid(
                "respect.metrics_min_group",
                "must be between 1 and 50 (1 shows every team's figures, however small)",
            ));
        }
        if respect.max_nudges_per_day > 100 {
            return Err(invalid(
                "respect.max_nudges_per_day",
                "must be at most 100 (0 turns the budget off)",
            ));
        }

        Ok(Settings {
            listen,
            max_body_bytes: usize::try_from(raw.server.max_body_bytes).unwrap_or(usize::MAX),
            store_path: PathBuf::from(raw.store.path),
            dead_letters_keep,
            store_cache_bytes,
            log_format,
            log_level: raw.log.level,
            calendar,
            calendar_region,
            fallback_timezone,
            sla,
            rfc,
            standup,
            standups,
            weekly,
            report,
            delivery,
            socket_connections: raw.socket_mode.connections,
            health,
            shutdown_grace,
            workers_nice: raw.server.workers_nice,
            metrics: raw.server.metrics,
            respect,
            presence: parse_presence(&raw.respect)?,
        })
    }
}

/// `[respect]`'s presence keys: every rule a non-empty emoji code, emoji or words; a refresh
/// between a minute and a day (more often would spend Slack's rate limits on nothing new).
fn parse_presence(raw: &RawRespect) -> Result<PresenceSettings, ConfigError> {
    let rules = |key: &str, values: &[String]| -> Result<Vec<String>, ConfigError> {
        values
            .iter()
            .map(|rule| {
                let rule = rule.trim();
                if rule.is_empty() {
                    return Err(invalid(key, "an entry is empty"));
                }
                if rule.contains(':') && !crate::domain::presence::is_emoji_code(rule) {
                    return Err(invalid(
                        key,
                        format!(
                            "{rule:?} is neither an emoji code (\":palm_tree:\") nor words (\"out of office\")"
                        ),
                    ));
                }
                Ok(rule.to_owned())
            })
            .collect()
    };
    let refresh = parse_duration("respect.presence_refresh", &raw.presence_refresh)?;
    if refresh < Duration::from_secs(60) || refresh > Duration::from_secs(86_400) {
        return Err(invalid(
            "respect.presence_refresh",
            format!("{:?} is out of range (1m to 24h)", raw.presence_refresh),
        ));
    }
    Ok(PresenceSettings {
        rules: crate::domain::presence::StatusRules {
            ooo: rules("respect.ooo_status", &raw.ooo_status)?,
            focus: rules("respect.focus_status", &raw.focus_status)?,
        },
        refresh,
    })
}

fn parse_calendar(raw: &RawCalendar) -> Result<BusinessCalendar, ConfigError> {
    let mut days = Vec::new();
    for (i, day) in raw.working_days.iter().enumerate() {
        let weekday = parse_weekday(day).ok_or_else(|| {
            invalid(
                format!("calendar.working_days[{i}]"),
                format!("{day:?} is not a day of the week (use \"mon\" … \"sun\")"),
            )
        })?;
        days.push(weekday);
    }
    if days.is_empty() {
        return Err(invalid("calendar.working_days", "needs at least one day"));
    }
    let [start, end] = raw.working_hours.as_slice() else {
        return Err(invalid(
            "calendar.working_hours",
            "must be two times, [start, end], like [\"09:00\", \"18:00\"]",
        ));
    };
    let hours = WorkingHours::parse(start, end)
        .map_err(|e| invalid("calendar.working_hours", e.to_string()))?;
    let holidays = parse_dates("calendar.holidays", &raw.holidays)?;
    BusinessCalendar::new(days, hours, holidays).map_err(|e| invalid("calendar", e.to_string()))
}

/// `calendar.holiday_region`: "" is none; anything else must be a region the data set knows.
fn parse_holiday_region(value: &str) -> Result<Option<Region>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    Region::parse(value)
        .map(Some)
        .map_err(|e| invalid("calendar.holiday_region", e.to_string()))
}

fn parse_clock(key: &str, value: &str) -> Result<Clock, ConfigError> {
    Clock::parse(value).ok_or_else(|| {
        invalid(
            key,
            format!(
                "{value:?} is not a clock (use \"wall\", \"business_days\" or \"working_hours\")"
            ),
        )
    })
}

fn parse_rfc(raw: &RawRfc) -> Result<RfcSettings, ConfigError> {
    let settings = RfcSettings {
        default_window: parse_duration("rfc.default_window", &raw.default_window)?,
        min_window: parse_duration("rfc.min_window", &raw.min_window)?,
        max_window: parse_duration("rfc.max_window", &raw.max_window)?,
        remind_before: parse_duration("rfc.remind_before", &raw.remind_before)?,
        clock: parse_clock("rfc.clock", &raw.clock)?,
    };
    if settings.min_window.is_zero() {
        return Err(invalid("rfc.min_window", "must be more than 0s"));
    }
    if settings.min_window > settings.max_window {
        return Err(invalid(
            "rfc.max_window",
            "must not be less than rfc.min_window",
        ));
    }
    if settings.default_window < settings.min_window
        || settings.default_window > settings.max_window
    {
        return Err(invalid(
            "rfc.default_window",
            "must lie between rfc.min_window and rfc.max_window",
        ));
    }
    Ok(settings)
}

fn parse_days(key: &str, values: &[String]) -> Result<Vec<Weekday>, ConfigError> {
    let mut days = Vec::new();
    for (i, day) in values.iter().enumerate() {
        let weekday = parse_weekday(day).ok_or_else(|| {
            invalid(
                format!("{key}[{i}]"),
                format!("{day:?} is not a day of the week (use \"mon\" … \"sun\")"),
            )
        })?;
        if !days.contains(&weekday) {
            days.push(weekday);
        }
    }
    if days.is_empty() {
        return Err(invalid(key, "needs at least one day"));
    }
    days.sort_by_key(|d| d.num_days_from_monday());
    Ok(days)
}

fn parse_remind(key: &str, value: &str) -> Result<RemindMode, ConfigError> {
    RemindMode::parse(value).ok_or_else(|| {
        invalid(
            key,
            format!("{value:?} is not a reminder mode (use \"thread\" or \"dm\")"),
        )
    })
}

fn check_standup_offsets(
    key: &str,
    remind: Duration,
    summary: Duration,
) -> Result<(), ConfigError> {
    if summary.is_zero() {
        return Err(invalid(
            format!("{key}.summary_after"),
            "must be more than 0s",
        ));
    }
    if remind >= summary {
        return Err(invalid(
            format!("{key}.summary_after"),
            "must be later than remind_after (the reminder comes before the summary)",
        ));
    }
    if summary >= Duration::from_secs(24 * 3600) {
        return Err(invalid(
            format!("{key}.summary_after"),
            "must be less than 24h (one standup a day)",
        ));
    }
    Ok(())
}

fn parse_standup_defaults(raw: &RawStandupDefaults) -> Result<StandupDefaults, ConfigError> {
    let defaults = StandupDefaults {
        days: parse_days("standup.days", &raw.days)?,
        remind_after: parse_duration("standup.remind_after", &raw.remind_after)?,
        summary_after: parse_duration("standup.summary_after", &raw.summary_after)?,
        remind: parse_remind("standup.remind", &raw.remind)?,
        questions: raw.questions.iter().map(|q| q.trim().to_owned()).collect(),
    };
    check_standup_offsets("standup", defaults.remind_after, defaults.summary_after)?;
    if defaults.questions.is_empty() || defaults.questions.iter().any(String::is_empty) {
        return Err(invalid(
            "standup.questions",
            "needs at least one question, none empty",
        ));
    }
    Ok(defaults)
}

/// A `[[weekly]]` entry: a channel id, `at = "fri 15:00"`, a zone (default the fallback), and
/// optionally the owner (a user id) who gets the draft.
fn parse_weekly(
    i: usize,
    raw: &RawWeekly,
    fallback: Tz,
) -> Result<crate::domain::weekly::WeeklySchedule, ConfigError> {
    let key = format!("weekly[{i}]");
    let channel = raw.channel.trim();
    if channel.is_empty() || !channel.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            format!("{key}.channel"),
            format!("{:?} is not a channel id (like \"C0123456\")", raw.channel),
        ));
    }
    let (weekday, at) = crate::domain::weekly::parse_at(&raw.at)
        .map_err(|why| invalid(format!("{key}.at"), why.replace('`', "\"")))?;
    let timezone = match &raw.timezone {
        Some(tz) => parse_timezone(&format!("{key}.timezone"), tz)?,
        None => fallback,
    };
    let owner = match raw.owner.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u)
            if (u.starts_with('U') || u.starts_with('W'))
                && u.len() >= 2
                && u.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Some(u.to_owned())
        }
        Some(u) => {
            return Err(invalid(
                format!("{key}.owner"),
                format!(
                    "{u:?} is not a user id (like \"U0123456\"; in Slack: profile → ⋯ → Copy member ID)"
                ),
            ));
        }
    };
    Ok(crate::domain::weekly::WeeklySchedule {
        channel: channel.to_owned(),
        weekday,
        at,
        timezone,
        owner,
    })
}

fn parse_standup(
    i: usize,
    raw: &RawStandup,
    defaults: &StandupDefaults,
    fallback: Tz,
) -> Result<Schedule, ConfigError> {
    let key = format!("standups[{i}]");
    let channel = raw.channel.trim();
    if channel.is_empty() || !channel.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(invalid(
            format!("{key}.channel"),
            format!("{:?} is not a channel id (like \"C0123456\")", raw.channel),
        ));
    }
    let at = crate::domain::standup::parse_time(&raw.at).ok_or_else(|| {
        invalid(
            format!("{key}.at"),
            format!(
                "{:?} is not a time of day (use \"09:30\" or \"09:30:00\")",
                raw.at
            ),
        )
    })?;
    let timezone = match &raw.timezone {
        Some(tz) => parse_timezone(&format!("{key}.timezone"), tz)?,
        None => fallback,
    };
    let mut schedule = defaults.schedule(channel, at, timezone);
    if let Some(days) = &raw.days {
        schedule.days = parse_days(&format!("{key}.days"), days)?;
    }
    schedule.holidays = parse_dates(&format!("{key}.holidays"), &raw.holidays)?
        .into_iter()
        .collect();
    let remind_after = match &raw.remind_after {
        Some(v) => parse_duration(&format!("{key}.remind_after"), v)?,
        None => defaults.remind_after,
    };
    let summary_after = match &raw.summary_after {
        Some(v) => parse_duration(&format!("{key}.summary_after"), v)?,
        None => defaults.summary_after,
    };
    check_standup_offsets(&key, remind_after, summary_after)?;
    schedule.remind_after_secs = remind_after.as_secs();
    schedule.summary_after_secs = summary_after.as_secs();
    if let Some(mode) = &raw.remind {
        schedule.remind = parse_remind(&format!("{key}.remind"), mode)?;
    }
    schedule.from_config = true;
    Ok(schedule)
}

/// Parses a list of `YYYY-MM-DD` dates; errors name `key[i]`.
pub fn parse_dates(key: &str, values: &[String]) -> Result<Vec<NaiveDate>, ConfigError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").map_err(|_| {
                invalid(
                    format!("{key}[{i}]"),
                    format!("{v:?} is not a date (use YYYY-MM-DD)"),
                )
            })
        })
        .collect()
}

fn parse_sla(raw: &RawSla, escalation: &RawEscalation) -> Result<SlaPolicy, ConfigError> {
    let tier = |name: &str, raw: &RawTier| -> Result<TierRule, ConfigError> {
        let key = format!("sla.{name}");
        let within = parse_duration(&format!("{key}.within"), &raw.within)?;
        if within.is_zero() {
            return Err(invalid(format!("{key}.within"), "must be more than 0s"));
        }
        let clock = parse_clock(&format!("{key}.clock"), &raw.clock)?;
        for (i, m) in raw.markers.iter().enumerate() {
            if m.trim().is_empty() {
                return Err(invalid(format!("{key}.markers[{i}]"), "must not be empty"));
            }
        }
        Ok(TierRule {
            within,
            clock,
            markers: raw
                .markers
                .iter()
                .map(|m| m.trim().to_lowercase())
                .collect(),
        })
    };
    let mut ladder = Vec::new();
    for (i, step) in escalation.steps.iter().enumerate() {
        let key = format!("escalation.steps[{i}]");
        let after = parse_duration(&format!("{key}.after"), &step.after)?;
        let action = StepAction::parse(&step.action).ok_or_else(|| {
            invalid(
                format!("{key}.action"),
                format!(
                    "{:?} is not an action (use \"thread_mention\", \"direct_message\" or \"suggest_call\")",
                    step.action
                ),
            )
        })?;
        ladder.push(LadderStep { after, action });
    }
    for (i, r) in raw.ack_reactions.iter().enumerate() {
        if r.trim().trim_matches(':').is_empty() {
            return Err(invalid(
                format!("sla.ack_reactions[{i}]"),
                "must not be empty",
            ));
        }
    }
    let forget_after = parse_duration("sla.forget_after", &raw.forget_after)?;
    if forget_after < Duration::from_secs(3600) {
        return Err(invalid(
            "sla.forget_after",
            "must be at least 1h (it counts from the ladder's last step)",
        ));
    }
    if raw.max_recipients == 0 {
        return Err(invalid(
            "sla.max_recipients",
            "must be at least 1 (a message mentioning more people is an announcement)",
        ));
    }
    Ok(SlaPolicy {
        max_recipients: raw.max_recipients,
        urgent: tier(Tier::Urgent.as_str(), &raw.urgent)?,
        normal: tier(Tier::Normal.as_str(), &raw.normal)?,
        low: tier(Tier::Low.as_str(), &raw.low)?,
        ack_reactions: raw
            .ack_reactions
            .iter()
            .map(|r| r.trim().trim_matches(':').to_owned())
            .collect(),
        ladder,
        forget_after,
    })
}

// ---- secrets -----------------------------------------------------------------------------------

/// A secret value: printable only as `[redacted]`, so it cannot leak through `{:?}` or a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How the bot talks to Slack: decided by which tokens are present.
#[derive(Debug, Clone)]
pub enum Transport {
    /// `SLACK_APP_TOKEN` is set: Slack pushes over a WebSocket; no public URL needed.
    SocketMode { app_token: Secret },
    /// Slack POSTs signed requests to our HTTP endpoints.
    Http { signing_secret: Secret },
}

#[derive(Debug, Clone)]
pub struct Secrets {
    pub bot_token: Secret,
    pub transport: Transport,
    /// `SLACK_API_URL`: the Web API base, without a trailing slash.
    pub api_url: Option<String>,
    /// `ASYNCBOT_REPORT_TOKEN`: lets `GET /report` be read from other machines.
    pub report_token: Option<Secret>,
}

impl Secrets {
    /// Reads `SLACK_BOT_TOKEN`, then `SLACK_APP_TOKEN` (Socket Mode) or `SLACK_SIGNING_SECRET` (HTTP).
    pub fn from_env(env: &[(String, String)]) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            env.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let bot_token = get("SLACK_BOT_TOKEN").ok_or(ConfigError::MissingEnv(
            "SLACK_BOT_TOKEN",
            "set it to the app's Bot User OAuth Token (xoxb-…)",
        ))?;
        let transport = if let Some(app_token) = get("SLACK_APP_TOKEN") {
            Transport::SocketMode {
                app_token: Secret::new(app_token),
            }
        } else if let Some(secret) = get("SLACK_SIGNING_SECRET") {
            Transport::Http {
                signing_secret: Secret::new(secret),
            }
        } else {
            return Err(ConfigError::MissingEnv(
                "SLACK_APP_TOKEN",
                "set it to an app-level token (xapp-…) for Socket Mode, or set SLACK_SIGNING_SECRET to serve HTTP request URLs",
            ));
        };
        let api_url = get("SLACK_API_URL").map(|u| u.trim_end_matches('/').to_owned());
        Ok(Secrets {
            bot_token: Secret::new(bot_token),
            transport,
            api_url,
            report_token: get(REPORT_TOKEN_ENV).map(Secret::new),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_with_file(contents: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("asyncbot.toml");
        std::fs::write(&path, contents).unwrap();
        load(Some(&path), &[])
    }

    #[test]
    fn defaults_load_and_match_the_norms() {
        let s = load(None, &[]).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(s.sla.urgent.within, Duration::from_secs(2 * 3600));
        assert_eq!(s.sla.urgent.clock, Clock::Wall);
        assert_eq!(s.sla.normal.within, Duration::from_secs(24 * 3600));
        assert_eq!(s.sla.normal.clock, Clock::BusinessDays);
        assert_eq!(s.sla.low.within, Duration::from_secs(48 * 3600));
        assert_eq!(s.sla.forget_after, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(s.dead_letters_keep, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(s.sla.ack_reactions, vec!["eyes", "white_check_mark"]);
        let actions: Vec<_> = s.sla.ladder.iter().map(|s| s.action).collect();
        assert_eq!(
            actions,
            vec![
                StepAction::ThreadMention,
                StepAction::DirectMessage,
                StepAction::SuggestCall
            ]
        );
        assert_eq!(s.sla.ladder[1].after, Duration::from_secs(24 * 3600));
        assert_eq!(s.sla.ladder[2].after, Duration::from_secs(12 * 3600));
        assert_eq!(s.max_body_bytes, 1024 * 1024);
        assert_eq!(s.delivery.per_channel_interval, Duration::from_secs(1));
        assert_eq!(s.shutdown_grace, Duration::from_secs(10));
        assert_eq!(s.workers_nice, 5);
        assert!(s.metrics);
        assert_eq!(s.delivery.workspace_rate, 5);
        assert_eq!(s.delivery.max_in_flight, 32);
        assert_eq!(s.store_cache_bytes, 64 * 1024 * 1024);
        assert!(
            !s.respect.coach_nohello,
            "coaching is off until a team turns it on"
        );
    }

    #[test]
    fn the_report_token_is_a_secret_not_a_setting() {
        let env = vec![
            ("ASYNCBOT_REPORT_TOKEN".to_owned(), "t0ken".to_owned()),
            ("ASYNCBOT_REPORT__ENABLED".to_owned(), "true".to_owned()),
            ("SLACK_BOT_TOKEN".to_owned(), "xoxb-1".to_owned()),
            ("SLACK_SIGNING_SECRET".to_owned(), "shh".to_owned()),
        ];
        let settings = load(None, &env).unwrap();
        assert!(settings.report.enabled);
        let secrets = Secrets::from_env(&env).unwrap();
        assert_eq!(
            secrets.report_token.as_ref().map(Secret::expose),
            Some("t0ken")
        );
        assert!(
            !format!("{secrets:?}").contains("t0ken"),
            "never in a log line"
        );
    }

    #[test]
    fn weekly_updates_are_checked() {
        let ok = load_with_file(
            "[[weekly]]\nchannel = \"C1\"\nat = \"fri 15:00\"\ntimezone = \"Asia/Kolkata\"\nowner = \"U1\"\n",
        )
        .unwrap();
        assert_eq!(ok.weekly[0].weekday, chrono::Weekday::Fri);
        assert_eq!(ok.weekly[0].owner.as_deref(), Some("U1"));
        for (entry, key, why) in [
            (
                "channel = \"#general\"\nat = \"fri 15:00\"",
                "weekly[0].channel",
                "not a channel id",
            ),
            (
                "channel = \"C1\"\nat = \"friday\"",
                "weekly[0].at",
                "fri 15:00",
            ),
            (
                "channel = \"C1\"\nat = \"fri 15:00\"\ntimezone = \"Mars/Base\"",
                "weekly[0].timezone",
                "IANA",
            ),
            (
                "channel = \"C1\"\nat = \"fri 15:00\"\nowner = \"alice\"",
                "weekly[0].owner",
                "not a user id",
            ),
        ] {
            let err = load_with_file(&format!("[[weekly]]\n{entry}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key) && err.contains(why), "{err}");
        }
        let twice = load_with_file(
            "[[weekly]]\nchannel = \"C1\"\nat = \"fri 15:00\"\n[[weekly]]\nchannel = \"C1\"\nat = \"mon 09:00\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(twice.contains("two weekly updates"), "{twice}");
    }

    #[test]
    fn coaching_is_a_switch() {
        assert_eq!(
            load_with_file("").unwrap().respect.metrics_min_group,
            3,
            "team figures need three people by default"
        );
        let err = load_with_file("[respect]\nmetrics_min_group = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("respect.metrics_min_group"), "{err}");
        let on = load_with_file("[respect]\ncoach_nohello = true\n").unwrap();
        assert!(on.respect.coach_nohello);
        let env_on = load(None, &env(&[("ASYNCBOT_RESPECT__COACH_NOHELLO", "true")])).unwrap();
        assert!(env_on.respect.coach_nohello);
        let err = load_with_file("[respect]\ncoach_nohello = \"sometimes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("respect.coach_nohello"), "{err}");
    }

    #[test]
    fn presence_keys_load_and_bad_ones_are_named() {
        let s = load(None, &[]).unwrap();
        assert_eq!(s.presence.refresh, Duration::from_secs(15 * 60));
        assert!(s.presence.rules.ooo.iter().any(|r| r == "out of office"));
        assert!(s.presence.rules.focus.iter().any(|r| r == ":brain:"));
        let s = load_with_file("[respect]\nooo_status = [\"gone fishing\"]\n").unwrap();
        assert_eq!(s.presence.rules.ooo, vec!["gone fishing"]);
        for (file, key, reason) in [
            (
                "[respect]\npresence_refresh = \"10s\"\n",
                "respect.presence_refresh",
                "1m to 24h",
            ),
            (
                "[respect]\npresence_refresh = \"soon\"\n",
                "respect.presence_refresh",
                "",
            ),
            (
                "[respect]\nooo_status = [\" \"]\n",
                "respect.ooo_status",
                "empty",
            ),
            (
                "[respect]\nfocus_status = [\"brain:\"]\n",
                "respect.focus_status",
                "emoji code",
            ),
        ] {
            let err = load_with_file(file).unwrap_err().to_string();
            assert!(err.contains(key) && err.contains(reason), "{file}: {err}");
        }
    }

    #[test]
    fn the_store_cache_is_a_size() {
        assert_eq!(parse_size("k", "64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("k", " 512 KiB "), Ok(512 << 10));
        assert_eq!(parse_size("k", "1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("k", "4096"), Ok(4096));
        for bad in [
            "",
            "MiB",
            "64MB",
            "-1MiB",
            "1.5GiB",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size("k", bad).is_err(), "{bad:?}");
        }
        let err = load_with_file("[store]\ncache_size = \"64kB\"\n").unwrap_err();
        assert!(err.to_string().contains("store.cache_size"), "{err}");
        let err = load_with_file("[store]\ncache_size = \"4KiB\"\n").unwrap_err();
        assert!(err.to_string().contains("at least 1MiB"), "{err}");
    }

    #[test]
    fn a_file_is_layered_over_the_defaults() {
        let s = load_with_file("[sla.normal]\nwithin = \"4s\"\n").unwrap();
        assert_eq!(s.sla.normal.within, Duration::from_secs(4));
        // Keys the file does not name keep their defaults.
        assert_eq!(s.sla.normal.clock, Clock::BusinessDays);
        assert_eq!(s.sla.urgent.within, Duration::from_secs(7200));
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[sla.normal]\nwithin = \"4s\"\n").unwrap();
        let s = load(
            Some(&path),
            &env(&[
                ("ASYNCBOT_SLA__NORMAL__WITHIN", "8h"),
                ("ASYNCBOT_SERVER__LISTEN", "0.0.0.0:8080"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(s.sla.normal.within, Duration::from_secs(8 * 3600));
        assert_eq!(s.listen.to_string(), "0.0.0.0:8080");
    }

    #[test]
    fn bad_values_name_the_key_and_the_reason() {
        let cases: &[(&str, &str)] = &[
            (
                "[sla.normal]\nwithin = \"banana\"\n",
                "sla.normal.within: \"banana\" is not a duration",
            ),
            (
                "[sla.urgent]\nclock = \"sundial\"\n",
                "sla.urgent.clock: \"sundial\" is not a clock",
            ),
            (
                "[calendar]\nfallback_timezone = \"Mars/Olympus\"\n",
                "calendar.fallback_timezone: \"Mars/Olympus\" is not an IANA time zone",
            ),
            (
                "[calendar]\nworking_days = [\"mon\", \"funday\"]\n",
                "calendar.working_days[1]: \"funday\" is not a day of the week",
            ),
            (
                "[calendar]\nworking_days = []\n",
                "calendar.working_days: needs at least one day",
            ),
            (
                "[calendar]\nholidays = [\"2026-13-01\"]\n",
                "calendar.holidays[0]: \"2026-13-01\" is not a date",
            ),
            (
                "[calendar]\nworking_hours = [\"09:00\"]\n",
                "calendar.working_hours: must be two times",
            ),
            (
                "[server]\nlisten = \"nowhere\"\n",
                "server.listen: \"nowhere\" is not an address:port",
            ),
            (
                "[escalation]\nsteps = [{ after = \"1h\", action = \"carrier_pigeon\" }]\n",
                "escalation.steps[0].action: \"carrier_pigeon\" is not an action",
            ),
            (
                "[escalation]\nsteps = [{ after = \"soon\", action = \"direct_message\" }]\n",
                "escalation.steps[0].after: \"soon\" is not a duration",
            ),
            (
                "[sla.low]\nwithin = \"0s\"\n",
                "sla.low.within: must be more than 0s",
            ),
            (
                "[sla]\nforget_after = \"10m\"\n",
                "sla.forget_after: must be at least 1h",
            ),
            (
                "[store]\ndead_letters_keep = \"12h\"\n",
                "store.dead_letters_keep: must be at least 1d",
            ),
            (
                "[log]\nformat = \"xml\"\n",
                "log.format: \"xml\" is not a log format",
            ),
            (
                "[delivery]\nworkspace_rate = 0\n",
                "delivery.workspace_rate: 0 is out of range",
            ),
            (
                "[delivery]\nmax_in_flight = 1000\n",
                "delivery.max_in_flight: 1000 is out of range",
            ),
            (
                "[sla.normal]\nwithn = \"1h\"\n",
                "sla.normal.withn: unknown key",
            ),
            ("[sla.normal]\nwithin = 5\n", "sla.normal.within"),
            ("this is = not toml [", "is not valid TOML"),
            (
                "[server]\nshutdown_grace = \"0s\"\n",
                "server.shutdown_grace: must be more than 0s",
            ),
            (
                "[server]\nshutdown_grace = \"1h\"\n",
                "server.shutdown_grace: must be at most 10m",
            ),
            (
                "[server]\nworkers_nice = 20\n",
                "server.workers_nice: must be from 0",
            ),
            (
                "[server]\nworkers_nice = -5\n",
                "server.workers_nice: must be from 0",
            ),
        ];
        for (file, expected) in cases {
            let err = load_with_file(file).expect_err(file).to_string();
            assert!(
                err.contains(expected),
                "config {file:?}: error {err:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn always_working_time_is_accepted() {
        let s = load_with_file(
            "[calendar]\nworking_days = [\"mon\",\"tue\",\"wed\",\"thu\",\"fri\",\"sat\",\"sun\"]\nworking_hours = [\"00:00\", \"24:00\"]\n",
        )
        .unwrap();
        let now = chrono::Utc::now();
        assert!(s.calendar.is_working_time(now, chrono_tz::Asia::Kolkata));
    }

    #[test]
    fn holiday_region_is_read_and_checked() {
        // The team default: none.
        assert_eq!(load_with_file("").unwrap().calendar_region, None);
        let s = load_with_file("[calendar]\nholiday_region = \"de-by\"\n").unwrap();
        let region = s.calendar_region.unwrap();
        assert_eq!(region.code(), "DE-BY");
        assert!(region.is_holiday(NaiveDate::from_ymd_opt(2027, 1, 6).unwrap()));
        let s = load(
            None,
            &env(&[("ASYNCBOT_CALENDAR__HOLIDAY_REGION", "IN-KA")]),
        )
        .unwrap();
        assert_eq!(s.calendar_region.unwrap().code(), "IN-KA");

        let err = load_with_file("[calendar]\nholiday_region = \"XX\"\n").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("calendar.holiday_region: `XX` is not a country code I know"),
            "{err}"
        );
        let err = load_with_file("[calendar]\nholiday_region = \"DE-XY\"\n").unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("calendar.holiday_region: `DE-XY`"),
            "{text}"
        );
        assert!(text.contains("DE-BY"), "{text}");
    }

    #[test]
    fn missing_file_is_reported_with_its_path() {
        let err = load(Some(Path::new("/nonexistent/asyncbot.toml")), &[]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/asyncbot.toml"));
    }

    #[test]
    fn secrets_pick_the_transport_and_name_what_is_missing() {
        let err = Secrets::from_env(&[]).unwrap_err();
        assert!(err.to_string().starts_with("SLACK_BOT_TOKEN is not set"));
        let err = Secrets::from_env(&env(&[("SLACK_BOT_TOKEN", "xoxb-1")])).unwrap_err();
        assert!(err.to_string().contains("SLACK_APP_TOKEN"));
        assert!(err.to_string().contains("SLACK_SIGNING_SECRET"));
        let s = Secrets::from_env(&env(&[
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_APP_TOKEN", "xapp-1"),
            ("SLACK_API_URL", "http://127.0.0.1:9/api/"),
        ]))
        .unwrap();
        assert!(matches!(s.transport, Transport::SocketMode { .. }));
        assert_eq!(s.api_url.as_deref(), Some("http://127.0.0.1:9/api"));
        let s = Secrets::from_env(&env(&[
            ("SLACK_BOT_TOKEN", "xoxb-1"),
            ("SLACK_SIGNING_SECRET", "shh"),
        ]))
        .unwrap();
        assert!(matches!(s.transport, Transport::Http { .. }));
        // Secrets never print.
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("xoxb-1") && !printed.contains("shh"),
            "{printed}"
        );
    }
}
