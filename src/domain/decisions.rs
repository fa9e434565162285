//! The decision log: every RFC's record, searchable, and exportable as Markdown or JSON. Pure.

use std::cmp::Reverse;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::format::{escape, excerpt, link, quote_slack, slack_date, slack_to_plain};
use crate::domain::rfc::{Rfc, RfcStatus, rfc_name};

/// Names for user ids when rendering outside Slack (the CLI export); missing ids print as the id.
pub type Names = std::collections::HashMap<String, String>;

/// A search hit.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    pub rfc: &'a Rfc,
    pub score: u32,
}

/// Words a query may contain that say nothing about which record is meant.
const STOP_WORDS: [&str; 11] = [
    "the", "a", "an", "and", "or", "of", "to", "in", "for", "on", "with",
];

const TITLE_WEIGHT: u32 = 3;
const CONTEXT_WEIGHT: u32 = 1;
const RATIONALE_WEIGHT: u32 = 2;
/// A query that names the record's id ("12", "RFC-12") points at it more surely than any word.
const ID_WEIGHT: u32 = 5;

/// How the rationale is quoted in the one-line Slack answer.
const RATIONALE_EXCERPT: usize = 80;
/// How the title is quoted in the one-line Slack answer.
const TITLE_EXCERPT: usize = 80;
/// The longest slug in a file name.
const SLUG_MAX: usize = 60;

/// The format of dates in exports: UTC, no Slack tokens.
const EXPORT_DATE: &str = "%Y-%m-%d %H:%M UTC";

/// One thing every hit must match.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    /// A word: a prefix of a word in the title, context or rationale, or the id itself.
    Word(String),
    /// An explicit id ("RFC-12", "rfc12"): matches that record only.
    Id(u64),
}

/// Lowercased runs of alphanumerics.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// "rfc12" → 12.
fn glued_id(word: &str) -> Option<u64> {
    let digits = word.strip_prefix("rfc")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The terms of a query: "RFC-12" / "rfc 12" / "rfc12" become an id; short words and stop words go.
fn terms(query: &str) -> Vec<Term> {
    let raw = words(query);
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        let word = &raw[i];
        if word == "rfc"
            && let Some(id) = raw.get(i + 1).and_then(|next| next.parse::<u64>().ok())
        {
            out.push(Term::Id(id));
            i += 2;
            continue;
        }
        if let Some(id) = glued_id(word) {
            out.push(Term::Id(id));
        } else if word.chars().count() >= 2 && !STOP_WORDS.contains(&word.as_str()) {
            out.push(Term::Word(word.clone()));
        }
        i += 1;
    }
    out.dedup();
    out
}

/// The searchable words of one record.
struct Indexed<'a> {
    rfc: &'a Rfc,
    title: Vec<String>,
    context: Vec<String>,
    rationale: Vec<String>,
}

impl<'a> Indexed<'a> {
    fn new(rfc: &'a Rfc) -> Self {
        Indexed {
            rfc,
            title: words(&rfc.title),
            // Context and rationale are Slack mrkdwn: search what a person reads (`&amp;` is
            // not the word "amp", `<@U1|bob>` is "bob").
            context: words(&slack_to_plain(&rfc.context)),
            rationale: words(&slack_to_plain(rfc.rationale.as_deref().unwrap_or(""))),
        }
    }

    /// The score of one term, or `None` when it matches nowhere.
    fn score(&self, term: &Term) -> Option<u32> {
        match term {
            Term::Id(id) => (*id == self.rfc.id).then_some(ID_WEIGHT),
            Term::Word(word) => {
                let has = |field: &[String]| field.iter().any(|w| w.starts_with(word.as_str()));
                let mut score = 0;
                let mut matched = false;
                for (field, weight) in [
                    (&self.title, TITLE_WEIGHT),
                    (&self.context, CONTEXT_WEIGHT),
                    (&self.rationale, RATIONALE_WEIGHT),
                ] {
                    if has(field) {
                        score += weight;
                        matched = true;
                    }
                }
                if word.parse::<u64>().ok() == Some(self.rfc.id) {
                    score += ID_WEIGHT;
                    matched = true;
                }
                // Every record is an RFC: "rfc" matches its name, without telling records apart.
                if "rfc".starts_with(word.as_str()) {
                    matched = true;
                }
                matched.then_some(score)
            }
        }
    }

    /// The total score when every term matches (AND).
    fn score_all(&self, terms: &[Term]) -> Option<u32> {
        terms
            .iter()
            .try_fold(0, |sum, term| Some(sum + self.score(term)?))
    }
}

/// Case-insensitive search over title (weight 3), context (1) and rationale (2); every query word
/// (split on whitespace/punctuation, words shorter than 2 chars ignored, a few English stop words
/// ignored: the, a, an, and, or, of, to, in, for, on, with) must match somewhere (AND), as a
/// prefix of a word in the text ("bill" matches "billing"), also matching "RFC-12"/"12" against the
/// id. Best score first, ties newest (opened_at) first. An empty/only-stopwords query returns the
/// latest records (newest first) with score 0. `limit` caps the result.
pub fn search<'a>(records: &'a [Rfc], query: &str, limit: usize) -> Vec<Hit<'a>> {
    // `/decisions` text comes from Slack: `R&amp;D` is searched as `R&D`, `<@U1|bob>` as `bob`.
    let terms = terms(&slack_to_plain(query));
    let mut hits: Vec<Hit<'a>> = if terms.is_empty() {
        records.iter().map(|rfc| Hit { rfc, score: 0 }).collect()
    } else {
        records
            .iter()
            .filter_map(|rfc| {
                let score = Indexed::new(rfc).score_all(&terms)?;
                Some(Hit { rfc, score })
            })
            .collect()
    };
    hits.sort_by_key(|h| {
        (
            Reverse(h.score),
            Reverse(h.rfc.opened_at),
            Reverse(h.rfc.id),
        )
    });
    hits.truncate(limit);
    hits
}

/// The status as a phrase: "Accepted", "Superseded by RFC-14".
fn status_phrase(rfc: &Rfc) -> String {
    match (rfc.status, rfc.superseded_by) {
        (RfcStatus::Superseded, Some(new)) => format!("Superseded by {}", rfc_name(new)),
        (status, _) => status.label().to_owned(),
    }
}

/// The rationale, when there is one worth showing.
fn rationale(rfc: &Rfc) -> Option<&str> {
    rfc.rationale
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
}

/// One line per hit for an ephemeral Slack answer (mrkdwn): "• *RFC-12: Adopt Rust…* — Accepted <!date…> — <link|thread>"
/// with the status, the date of its latest status change (`slack_date`), and a link when
/// `permalink(rfc)` returns Some. For decided records, add the rationale excerpt (80 chars).
/// No hits, no lines: the caller says that nothing matched.
pub fn slack_lines(hits: &[Hit<'_>], permalink: &dyn Fn(&Rfc) -> Option<String>) -> String {
    hits.iter()
        .map(|hit| {
            let rfc = hit.rfc;
            let mut line = format!(
                "• *{}: {}* — {} {}",
                rfc.name(),
                escape(&excerpt(&rfc.title, TITLE_EXCERPT)),
                status_phrase(rfc),
                slack_date(status_date(rfc))
            );
            if !rfc.status.is_open()
                && let Some(why) = rationale(rfc)
            {
                // Mrkdwn from Slack or the modal: quoted as it is, broadcasts made inert.
                let _ = write!(
                    line,
                    " — “{}”",
                    quote_slack(&excerpt(why, RATIONALE_EXCERPT))
                );
            }
            if let Some(url) = permalink(rfc) {
                let _ = write!(line, " — {}", link(&url, "thread"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The date of the record's latest status change.
pub fn status_date(rfc: &Rfc) -> DateTime<Utc> {
    rfc.history.last().map_or(rfc.opened_at, |change| change.at)
}

/// Latin letters with diacritics, spelled in ASCII for file names.
fn ascii_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'ř' | 'ŕ' => "r",
        'ś' | 'š' | 'ş' | 'ș' => "s",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        _ => return None,
    })
}

/// Lowercase ASCII alphanumerics joined by '-', at most 60 chars, cut at a word boundary when
/// one is near, no leading or trailing '-'. Common accented letters are folded ("é" → "e").
fn slug(title: &str) -> String {
    let mut slug = String::new();
    let mut pending_dash = false;
    for c in title.chars().flat_map(char::to_lowercase) {
        let piece: Option<std::borrow::Cow<'static, str>> = if c.is_ascii_alphanumeric() {
            Some(c.to_string().into())
        } else {
            ascii_fold(c).map(Into::into)
        };
        match piece {
            Some(piece) => {
                if pending_dash && !slug.is_empty() {
                    slug.push('-');
                }
                pending_dash = false;
                slug.push_str(&piece);
            }
            None => pending_dash = true,
        }
    }
    if slug.len() > SLUG_MAX {
        // All ASCII: byte indices are char indices.
        let mid_word = slug.as_bytes()[SLUG_MAX] != b'-';
        slug.truncate(SLUG_MAX);
        if mid_word && let Some(last_dash) = slug.rfind('-') {
            slug.truncate(last_dash);
        }
    }
    slug.trim_matches('-').to_owned()
}

/// A file name: "RFC-12-adopt-rust-for-the-billing-service.md" (slug: lowercase ascii
/// alphanumerics joined by '-', at most 60 chars, no leading/trailing '-'); `ext` is "md" or "json".
/// A title with nothing to slug gives "RFC-12.md".
pub fn file_name(rfc: &Rfc, ext: &str) -> String {
    let ext = ext.trim_start_matches('.');
    let slug = slug(&rfc.title);
    if slug.is_empty() {
        format!("{}.{ext}", rfc.name())
    } else {
        format!("{}-{slug}.{ext}", rfc.name())
    }
}

fn date(at: DateTime<Utc>) -> String {
    at.format(EXPORT_DATE).to_string()
}

/// "Bob (U0BOB)" when the name is known, else "U0BOB".
fn person(id: &str, names: &Names) -> String {
    match names.get(id).map(|n| n.trim()).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} ({id})"),
        None => id.to_owned(),
    }
}

/// Text on one line (for headings and list items).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The decision itself (Accepted or Rejected), from the history, even once superseded: the
/// verdict, when, and by whom (when recorded).
fn decision(rfc: &Rfc) -> Option<(RfcStatus, DateTime<Utc>, Option<&str>)> {
    let decided = |s: RfcStatus| matches!(s, RfcStatus::Accepted | RfcStatus::Rejected);
    match rfc.history.iter().rev().find(|c| decided(c.status)) {
        Some(c) => Some((c.status, rfc.decided_at.unwrap_or(c.at), c.by.as_deref())),
        None => rfc
            .decided_at
            .filter(|_| decided(rfc.status))
            .map(|at| (rfc.status, at, None)),
    }
}

/// The record as Markdown, following the decision-record outline:
/// "# RFC-12: Title", a metadata list (Status with date; "Superseded by RFC-n" / "Supersedes RFC-n"
/// when set; Proposed date; Decided date; Driver/author, Approver, Contributors (with how each
/// responded: commented / no comments / acknowledged / no response), Informed (users and channels as
/// `#C123`); Discussion: the permalink when given), then sections "## Context" (the context, or
/// "_Not recorded._"), "## Options considered", "## Decision" ("Accepted by Bob (U0BOB) on
/// 2026-11-24 10:00 UTC." then the rationale as a paragraph; for open records "_Not decided yet
/// (Proposed)._"; withdrawn: "_Withdrawn by the driver._"), "## Consequences", "## Status history"
/// (a list: "- 2026-11-21 09:00 UTC: Proposed", "- …: Accepted by Bob (U0BOB)"). Dates are UTC,
/// "%Y-%m-%d %H:%M UTC" (no Slack tokens in exports). People as their name from `names`, falling
/// back to the id.
pub fn markdown(rfc: &Rfc, names: &Names, permalink: Option<&str>) -> String {
    let who = |id: &str| person(id, names);
    let mut md = String::new();

    let _ = writeln!(md, "# {}: {}\n", rfc.name(), one_line(&rfc.title));

    // Metadata.
    let _ = writeln!(
        md,
        "- Status: {} ({})",
        status_phrase(rfc),
        date(status_date(rfc))
    );
    if let Some(new) = rfc.superseded_by
        && rfc.status != RfcStatus::Superseded
    {
        let _ = writeln!(md, "- Superseded by {}", rfc_name(new));
    }
    if let Some(old) = rfc.supersedes {
        let _ = writeln!(md, "- Supersedes {}", rfc_name(old));
    }
    let _ = writeln!(md, "- Proposed: {}", date(rfc.opened_at));
    let _ = writeln!(md, "- Comment window: until {}", date(rfc.closes_at));
    if let Some((_, at, _)) = decision(rfc) {
        let _ = writeln!(md, "- Decided: {}", date(at));
    }
    let _ = writeln!(md, "- Driver (author): {}", who(&rfc.driver));
    let _ = writeln!(md, "- Approver: {}", who(&rfc.approver));
    if rfc.contributors.is_empty() {
        let _ = writeln!(md, "- Contributors: none");
    } else {
        let _ = writeln!(md, "- Contributors:");
        for c in &rfc.contributors {
            let response = rfc.responses.get(c).map_or("no response", |r| r.label());
            let _ = writeln!(md, "  - {}: {response}", who(c));
        }
    }
    let informed: Vec<String> = rfc
        .informed_channels
        .iter()
        .map(|c| format!("#{c}"))
        .chain(rfc.informed_users.iter().map(|u| who(u)))
        .collect();
    let informed = if informed.is_empty() {
        "none".to_owned()
    } else {
        informed.join(", ")
    };
    let _ = writeln!(md, "- Informed: {informed}");
    match permalink {
        Some(url) => {
            let _ = writeln!(md, "- Discussion: {url}");
        }
        None => {
            let _ = writeln!(md, "- Discussion: the RFC's thread in #{}", rfc.channel);
        }
    }

    // Context.
    // Markdown is not Slack: the stored mrkdwn is written as a person reads it.
    let context = slack_to_plain(rfc.context.trim());
    let context = if context.is_empty() {
        "_Not recorded._"
    } else {
        context.as_str()
    };
    let _ = writeln!(md, "\n## Context\n\n{context}");

    let _ = writeln!(
        md,
        "\n## Options considered\n\n_See the discussion thread._"
    );

    // Decision.
    let _ = writeln!(md, "\n## Decision\n");
    match (rfc.status, decision(rfc)) {
        (RfcStatus::Withdrawn, _) => {
            let _ = writeln!(
                md,
                "_Withdrawn by the driver on {}._",
                date(status_date(rfc))
            );
        }
        (status, _) if status.is_open() => {
            let _ = writeln!(md, "_Not decided yet ({})._", status.label());
        }
        (_, Some((verdict, at, by))) => {
            let by = who(by.unwrap_or(&rfc.approver));
            let _ = writeln!(md, "{} by {by} on {}.\n", verdict.label(), date(at));
            let _ = writeln!(
                md,
                "{}",
                rationale(rfc)
                    .map(slack_to_plain)
                    .as_deref()
                    .unwrap_or("_No rationale recorded._")
            );
        }
        (_, None) => {
            let _ = writeln!(md, "_No decision recorded._");
        }
    }
    if rfc.status == RfcStatus::Superseded {
        let new = rfc
            .superseded_by
            .map(rfc_name)
            .unwrap_or_else(|| "a later RFC".to_owned());
        let _ = writeln!(md, "\n_Superseded by {new} on {}._", date(status_date(rfc)));
    }

    let _ = writeln!(
        md,
        "\n## Consequences\n\n_See the rationale and the discussion._"
    );

    // History.
    let _ = writeln!(md, "\n## Status history\n");
    for change in &rfc.history {
        let what = match (change.status, rfc.superseded_by) {
            (RfcStatus::Superseded, Some(new)) => format!("Superseded by {}", rfc_name(new)),
            (status, _) => status.label().to_owned(),
        };
        let _ = match (change.status, change.by.as_deref()) {
            (RfcStatus::Superseded, Some(by)) => {
                writeln!(md, "- {}: {what} (marked by {})", date(change.at), who(by))
            }
            (_, Some(by)) => writeln!(md, "- {}: {what} by {}", date(change.at), who(by)),
            (_, None) => writeln!(md, "- {}: {what}", date(change.at)),
        };
    }
    md
}

/// The record as pretty JSON: the Rfc's fields plus "name": "RFC-12", "permalink" (or null),
/// and "status_label".
pub fn json(rfc: &Rfc, permalink: Option<&str>) -> Value {
    let mut value = serde_json::to_value(rfc).unwrap_or_else(|_| Value::Object(Default::default()));
    if let Value::Object(map) = &mut value {
        map.insert("name".into(), Value::String(rfc.name()));
        map.insert(
            "permalink".into(),
            permalink.map_or(Value::Null, |url| Value::String(url.to_owned())),
        );
        map.insert(
            "status_label".into(),
            Value::String(rfc.status.label().to_owned()),
        );
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use chrono::TimeZone;

    use crate::domain::calendar::{BusinessCalendar, Clock};
    use crate::domain::rfc::Verdict;
    use crate::domain::rfc::{NewRfc, Response, RfcContext, RfcSettings};
    use crate::domain::sla::{LadderStep, StepAction};

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    /// An RFC opened on `day` at 09:00 UTC; decided (accepted by UBOB) a day later when a
    /// rationale is given.
    fn record(id: u64, title: &str, context: &str, rationale: Option<&str>, day: u32) -> Rfc {
        let settings = RfcSettings {
            default_window: Duration::from_secs(48 * 3600),
            min_window: Duration::from_secs(3600),
            max_window: Duration::from_secs(14 * 24 * 3600),
            remind_before: Duration::from_secs(24 * 3600),
            clock: Clock::Wall,
        };
        let calendar = BusinessCalendar::always();
        let ladder = vec![LadderStep {
            after: Duration::ZERO,
            action: StepAction::ThreadMention,
        }];
        let ctx = RfcContext {
            settings: &settings,
            calendar: &calendar,
            ladder: &ladder,
            permalink: None,
            people: Default::default(),
        };
        let new = NewRfc {
            title: title.into(),
            context: context.into(),
            channel: "CARCH".into(),
            driver: "UALICE".into(),
            approver: "U0BOB".into(),
            contributors: vec!["UCAROL".into(), "UDAVE".into(), "UERIN".into()],
            informed_users: vec!["UFRANK".into()],
            informed_channels: vec!["CANN".into()],
            window: Duration::from_secs(48 * 3600),
            driver_tz: chrono_tz::UTC,
            approver_tz: chrono_tz::UTC,
        };
        let (mut rfc, _) = Rfc::open(id, new, at(day, 9), &ctx);
        if let Some(why) = rationale {
            rfc.decide("U0BOB", Verdict::Accept, why, at(day + 1, 10), &ctx)
                .unwrap();
        }
        rfc
    }

    fn log() -> Vec<Rfc> {
        vec![
            record(
                12,
                "Adopt Rust for the billing service",
                "Invoices fail under load.",
                Some("Safer and faster than the current stack."),
                10,
            ),
            record(
                13,
                "Move standups to async",
                "Four time zones.",
                Some("Billing team tried it and liked it."),
                12,
            ),
            record(14, "Rename the main branch", "", None, 14),
            record(120, "Retire the legacy invoice queue", "", None, 15),
        ]
    }

    fn ids(hits: &[Hit<'_>]) -> Vec<u64> {
        hits.iter().map(|h| h.rfc.id).collect()
    }

    #[test]
    fn search_matches_word_prefixes_in_the_title_and_the_rationale() {
        let log = log();
        let hits = search(&log, "bill", 10);
        // The title hit outranks the rationale-only hit, though that one is newer.
        assert_eq!(ids(&hits), vec![12, 13]);
        assert!(hits[0].score > hits[1].score);
        assert_eq!(hits[0].score, TITLE_WEIGHT);
        assert_eq!(hits[1].score, RATIONALE_WEIGHT);

        assert_eq!(
            ids(&search(&log, "SAFER", 10)),
            vec![12],
            "case-insensitive, rationale"
        );
        assert_eq!(ids(&search(&log, "time zones", 10)), vec![13], "context");
        assert!(
            search(&log, "illing", 10).is_empty(),
            "prefixes, not substrings"
        );
    }

    #[test]
    fn every_word_must_match_somewhere() {
        let log = log();
        assert_eq!(ids(&search(&log, "billing rust", 10)), vec![12]);
        assert_eq!(ids(&search(&log, "billing liked", 10)), vec![13]);
        assert!(search(&log, "billing branch", 10).is_empty());
        // Words in different fields still count as one record's match.
        assert_eq!(ids(&search(&log, "invoices safer", 10)), vec![12]);
    }

    #[test]
    fn search_finds_records_by_id() {
        let log = log();
        assert_eq!(ids(&search(&log, "RFC-12", 10)), vec![12]);
        assert_eq!(ids(&search(&log, "rfc 12", 10)), vec![12]);
        assert_eq!(ids(&search(&log, "rfc12", 10)), vec![12]);
        assert_eq!(ids(&search(&log, "12", 10)), vec![12], "not RFC-120");
        assert_eq!(ids(&search(&log, "RFC-120", 10)), vec![120]);
        assert!(
            search(&log, "RFC-12 branch", 10).is_empty(),
            "the id is one more AND term"
        );
        assert_eq!(ids(&search(&log, "RFC-12 rust", 10)), vec![12]);
        assert!(search(&log, "RFC-99", 10).is_empty());
        assert!(
            search(&log, "rfc-1", 10).is_empty(),
            "single digits are ids too, when named"
        );
    }

    #[test]
    fn stop_words_and_short_words_are_ignored() {
        let log = log();
        assert_eq!(
            ids(&search(&log, "the billing", 10)),
            ids(&search(&log, "billing", 10))
        );
        assert_eq!(ids(&search(&log, "rust for a billing x", 10)), vec![12]);
        // Only stop words: the latest records.
        let hits = search(&log, "the of and", 10);
        assert_eq!(ids(&hits), vec![120, 14, 13, 12]);
    }

    #[test]
    fn an_empty_query_lists_the_latest_records_up_to_the_limit() {
        let log = log();
        let hits = search(&log, "  ", 2);
        assert_eq!(ids(&hits), vec![120, 14]);
        assert!(hits.iter().all(|h| h.score == 0));
        assert_eq!(search(&log, "", 0).len(), 0);
        assert_eq!(search(&log, "the", 10).len(), 4);
        assert_eq!(search(&log, "bill", 1).len(), 1);
        assert_eq!(ids(&search(&log, "bill", 1)), vec![12]);
    }

    #[test]
    fn equal_scores_list_the_newest_first() {
        let log = log();
        // "the" is a stop word; "rfc" names every record without telling them apart.
        assert_eq!(ids(&search(&log, "rfc", 10)), vec![120, 14, 13, 12]);
        let log = vec![
            record(1, "Billing A", "", None, 3),
            record(2, "Billing B", "", None, 5),
        ];
        assert_eq!(ids(&search(&log, "billing", 10)), vec![2, 1]);
    }

    #[test]
    fn slack_text_in_records_is_quoted_in_slack_and_read_plainly_elsewhere() {
        let rfc = record(
            7,
            "R&D <budget>",
            "Costs &amp; risks, ask <@U0CAROL|carol> in <#C1|dev>",
            Some("<!channel> <@U0CAROL|carol> measured it &lt;3"),
            3,
        );
        let log = vec![rfc];
        // The line in Slack: title escaped, rationale quoted with the broadcast made inert.
        let text = slack_lines(&search(&log, "", 10), &|_: &Rfc| None);
        assert!(text.contains("R&amp;D &lt;budget&gt;"), "{text}");
        assert!(
            text.contains("<@U0CAROL|carol> measured it &lt;3"),
            "{text}"
        );
        assert!(!text.contains("<!channel>"), "{text}");
        assert!(!text.contains("&amp;lt;"), "not escaped twice: {text}");
        // Search reads what a person sees: the mention's name, not "amp" or the id.
        assert_eq!(ids(&search(&log, "carol", 10)), vec![7]);
        assert!(search(&log, "amp", 10).is_empty());
        // A `/decisions` query arrives as Slack text too.
        assert_eq!(ids(&search(&log, "<@U0CAROL|carol>", 10)), vec![7]);
        // Markdown is not Slack.
        let md = markdown(&log[0], &Names::new(), None);
        assert!(md.contains("Costs & risks, ask @carol in #dev"), "{md}");
        assert!(md.contains("@channel @carol measured it <3"), "{md}");
    }

    #[test]
    fn slack_lines_show_status_date_rationale_and_link() {
        let log = log();
        let hits = search(&log, "", 10);
        let text = slack_lines(&hits, &|rfc: &Rfc| {
            (rfc.id == 12).then(|| "https://a.slack.com/archives/CARCH/p1".to_owned())
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        let twelve = lines[3];
        assert!(
            twelve.starts_with("• *RFC-12: Adopt Rust for the billing service* — Accepted <!date^"),
            "{twelve}"
        );
        assert!(twelve.contains(&slack_date(at(11, 10))), "{twelve}");
        assert!(twelve.contains("Safer and faster than the current stack."));
        assert!(
            twelve.ends_with("<https://a.slack.com/archives/CARCH/p1|thread>"),
            "{twelve}"
        );
        let open = lines[1];
        assert!(
            open.starts_with("• *RFC-14: Rename the main branch* — Proposed <!date^"),
            "{open}"
        );
        assert!(open.contains(&slack_date(at(14, 9))));
        assert!(!open.contains("thread>"));
        assert_eq!(slack_lines(&[], &|_: &Rfc| None), "");
    }

    #[test]
    fn slack_lines_escape_and_shorten() {
        let long = "x".repeat(200);
        let log = vec![record(7, "Use <b> & co", "", Some(&long), 3)];
        let text = slack_lines(&search(&log, "", 1), &|_: &Rfc| None);
        assert!(text.contains("Use &lt;b&gt; &amp; co"), "{text}");
        assert!(text.contains(&format!("{}…", "x".repeat(79))), "{text}");
        assert!(!text.contains(&"x".repeat(81)));
    }

    #[test]
    fn status_date_is_the_latest_change() {
        let log = log();
        assert_eq!(status_date(&log[0]), at(11, 10));
        assert_eq!(status_date(&log[2]), at(14, 9));
    }

    #[test]
    fn file_names_are_slugged() {
        let rfc = record(12, "Adopt Rust for the billing service", "", None, 3);
        assert_eq!(
            file_name(&rfc, "md"),
            "RFC-12-adopt-rust-for-the-billing-service.md"
        );
        assert_eq!(
            file_name(&rfc, "json"),
            "RFC-12-adopt-rust-for-the-billing-service.json"
        );

        let mut rfc = rfc;
        rfc.title = "  --Café: über-fast (v2.0)?! 日本語 OK--  ".into();
        assert_eq!(file_name(&rfc, "md"), "RFC-12-cafe-uber-fast-v2-0-ok.md");
        rfc.title = "日本語".into();
        assert_eq!(file_name(&rfc, "md"), "RFC-12.md");
        rfc.title = "Straße".into();
        assert_eq!(file_name(&rfc, ".md"), "RFC-12-strasse.md");

        rfc.title =
            "Consolidate the observability pipeline onto one vendor across all regions and teams"
                .into();
        let name = file_name(&rfc, "md");
        let slug = name
            .strip_prefix("RFC-12-")
            .unwrap()
            .strip_suffix(".md")
            .unwrap();
        assert!(slug.len() <= 60, "{slug}");
        assert_eq!(
            slug,
            "consolidate-the-observability-pipeline-onto-one-vendor"
        );
        assert!(!slug.starts_with('-') && !slug.ends_with('-'));

        rfc.title = "a".repeat(100);
        assert_eq!(
            file_name(&rfc, "md"),
            format!("RFC-12-{}.md", "a".repeat(60))
        );
        // A word that ends exactly at the limit is kept whole.
        rfc.title = format!("{} {}", "b".repeat(60), "c".repeat(10));
        assert_eq!(
            file_name(&rfc, "md"),
            format!("RFC-12-{}.md", "b".repeat(60))
        );
    }

    fn names() -> Names {
        [("U0BOB", "Bob"), ("UALICE", "Alice"), ("UCAROL", "Carol")]
            .into_iter()
            .map(|(id, name)| (id.to_owned(), name.to_owned()))
            .collect()
    }

    #[test]
    fn markdown_follows_the_decision_record_outline() {
        let mut rfc = record(
            12,
            "Adopt Rust for the billing service",
            "Invoices fail under load.",
            None,
            21,
        );
        rfc.responses.insert("UCAROL".into(), Response::Commented);
        rfc.responses.insert("UDAVE".into(), Response::NoComments);
        rfc.supersedes = Some(3);
        let settings = RfcSettings {
            default_window: Duration::from_secs(48 * 3600),
            min_window: Duration::from_secs(3600),
            max_window: Duration::from_secs(14 * 24 * 3600),
            remind_before: Duration::ZERO,
            clock: Clock::Wall,
        };
        let calendar = BusinessCalendar::always();
        let ctx = RfcContext {
            settings: &settings,
            calendar: &calendar,
            ladder: &[],
            permalink: None,
            people: Default::default(),
        };
        rfc.fire(rfc.closes_at, &ctx);
        rfc.decide(
            "U0BOB",
            Verdict::Accept,
            "Safer and faster.\n\nThe team knows it.",
            at(24, 10),
            &ctx,
        )
        .unwrap();

        let md = markdown(
            &rfc,
            &names(),
            Some("https://a.slack.com/archives/CARCH/p1"),
        );
        assert!(
            md.starts_with("# RFC-12: Adopt Rust for the billing service\n"),
            "{md}"
        );
        assert!(
            md.contains("- Status: Accepted (2026-11-24 10:00 UTC)"),
            "{md}"
        );
        assert!(md.contains("- Supersedes RFC-3"));
        assert!(md.contains("- Proposed: 2026-11-21 09:00 UTC"));
        assert!(md.contains("- Decided: 2026-11-24 10:00 UTC"));
        assert!(md.contains("- Driver (author): Alice (UALICE)"));
        assert!(md.contains("- Approver: Bob (U0BOB)"));
        assert!(md.contains("  - Carol (UCAROL): commented"));
        assert!(md.contains("  - UDAVE: no comments"));
        assert!(md.contains("  - UERIN: no response"));
        assert!(md.contains("- Informed: #CANN, UFRANK"));
        assert!(md.contains("- Discussion: https://a.slack.com/archives/CARCH/p1"));
        assert!(md.contains("## Context\n\nInvoices fail under load.\n"));
        assert!(md.contains("## Options considered\n\n_See the discussion thread._"));
        let decision = md.split("## Decision\n").nth(1).unwrap();
        let decision = decision.split("\n## ").next().unwrap();
        assert!(
            decision.contains("Accepted by Bob (U0BOB) on 2026-11-24 10:00 UTC."),
            "{decision}"
        );
        assert!(
            decision.contains("Safer and faster.\n\nThe team knows it."),
            "{decision}"
        );
        assert!(md.contains("## Consequences\n\n_See the rationale and the discussion._"));
        let history = md.split("## Status history\n").nth(1).unwrap();
        assert_eq!(
            history.trim(),
            "- 2026-11-21 09:00 UTC: Proposed\n\
             - 2026-11-23 09:00 UTC: Awaiting decision\n\
             - 2026-11-24 10:00 UTC: Accepted by Bob (U0BOB)"
        );
        assert!(!md.contains("<!date"), "no Slack tokens in exports");
        // The sections come in the outline's order.
        let order = [
            "## Context",
            "## Options considered",
            "## Decision",
            "## Consequences",
            "## Status history",
        ];
        let positions: Vec<usize> = order.iter().map(|s| md.find(s).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn markdown_for_open_withdrawn_and_superseded_records() {
        let open = record(14, "Rename the main branch", "", None, 14);
        let md = markdown(&open, &Names::new(), None);
        assert!(md.contains("## Context\n\n_Not recorded._"));
        assert!(md.contains("_Not decided yet (Proposed)._"));
        assert!(
            md.contains("- Driver (author): UALICE"),
            "ids when names are unknown"
        );
        assert!(md.contains("- Discussion: the RFC's thread in #CARCH"));
        assert!(!md.contains("- Decided:"));

        let mut withdrawn = open.clone();
        withdrawn.withdraw("UALICE", at(15, 8)).unwrap();
        let md = markdown(&withdrawn, &names(), None);
        assert!(md.contains("- Status: Withdrawn (2026-11-15 08:00 UTC)"));
        assert!(md.contains("_Withdrawn by the driver"));
        assert!(md.contains("- 2026-11-15 08:00 UTC: Withdrawn by Alice (UALICE)"));

        let mut old = record(3, "Use Python for billing", "", Some("Fast to write."), 2);
        let new = record(12, "Adopt Rust for the billing service", "", None, 10);
        old.supersede_with(&new, "UALICE", at(10, 9)).unwrap();
        let md = markdown(&old, &names(), None);
        assert!(
            md.contains("- Status: Superseded by RFC-12 (2026-11-10 09:00 UTC)"),
            "{md}"
        );
        assert!(
            md.contains("Accepted by Bob (U0BOB) on 2026-11-03 10:00 UTC."),
            "{md}"
        );
        assert!(md.contains("Fast to write."));
        assert!(md.contains("_Superseded by RFC-12 on 2026-11-10 09:00 UTC._"));
        assert!(
            md.contains("- 2026-11-10 09:00 UTC: Superseded by RFC-12 (marked by Alice (UALICE))")
        );
    }

    #[test]
    fn json_adds_name_permalink_and_status_label() {
        let log = log();
        let value = json(&log[0], Some("https://a.slack.com/archives/CARCH/p1"));
        assert_eq!(value["name"], "RFC-12");
        assert_eq!(value["permalink"], "https://a.slack.com/archives/CARCH/p1");
        assert_eq!(value["status_label"], "Accepted");
        assert_eq!(value["status"], "accepted");
        assert_eq!(value["id"], 12);
        assert_eq!(value["title"], "Adopt Rust for the billing service");
        assert_eq!(
            value["rationale"],
            "Safer and faster than the current stack."
        );

        let value = json(&log[2], None);
        assert!(value["permalink"].is_null());
        assert_eq!(value["status_label"], "Proposed");
        // The export reads back as the record.
        let back: Rfc = serde_json::from_value(value).unwrap();
        assert_eq!(back, log[2]);
        assert!(
            serde_json::to_string_pretty(&json(&log[0], None))
                .unwrap()
                .contains("\n  \"name\"")
        );
    }
}
