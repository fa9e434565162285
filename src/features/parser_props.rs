//! Property tests: every parser of user text gets arbitrary, hostile Unicode and must never
//! panic; where a property is cheap to state (round trips, substrings, bounds), it is checked.
//!
//! The text mixes any `char` with the pieces that broke or could break a parser: `İ` (its lower
//! case is 3 bytes), the Kelvin sign `K` (1 byte), `ß`, combining marks, RTL overrides, emoji,
//! NUL, line breaks, Slack's tokens (`<!channel>`, `<@U…|name>`, `<#C…|name>`), entities, and
//! the keywords each parser looks for. Sizes are capped so the whole file runs in seconds.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use proptest::prelude::*;

use crate::domain::format::{escape, excerpt, quote_slack, shorten, slack_to_plain, split_text};
use crate::domain::standup::{RemindMode, Schedule, StandupDay, blockers};
use crate::features::rfc::command::{self as rfc_command, OpenArgs, RfcCommand, Verdict};
use crate::features::standup::command as standup_command;

/// Pieces of hostile text: the characters and tokens that matter, plus keywords.
const FRAGMENTS: &[&str] = &[
    "İ",
    "\u{212A}",
    "ß",
    "ẞ",
    "\u{0301}",
    "\u{0307}",
    "\u{202E}",
    "\u{200F}",
    "\u{2060}",
    "שלום",
    "🙂",
    "👩🏽‍💻",
    "\0",
    "\n",
    "\r\n",
    "\t",
    " ",
    "<",
    ">",
    "&",
    "&amp;",
    "&lt;",
    "&gt;",
    "|",
    ":",
    "*",
    "`",
    "<!channel>",
    "<!here>",
    "<!HERE|here>",
    "<!everyone>",
    "<!subteam^S0ENG|@eng>",
    "<!date^1795512600^{date_short_pretty}|Tue>",
    "<@U0BOB0001|bob>",
    "<@U0BOB0001>",
    "<@W2>",
    "<#C0DEV|dev>",
    "<#C1>",
    "<https://example.com/a?b=1&amp;c=2|a link>",
    "<@U12",
    "Blockers:",
    "BLOC\u{212A}ERS",
    "blocked by",
    "Today:",
    "Done:",
    "*Planned today*",
    "3.",
    ":no_entry:",
    "none",
    "approver:",
    "contributors:",
    "informed:",
    "window:",
    "72h",
    "decide",
    "withdraw",
    "supersede",
    "with",
    "list",
    "RFC-12",
    "accept",
    "reject",
    "at",
    "09:30",
    "Europe/Berlin",
    "mon-fri",
    "skip",
    "away",
    "2026-11-24",
    "..",
    "urgent",
    "fyi",
    "not",
    "non-",
    ":rotating_light:",
];

/// Hostile text: up to `max` pieces, each a fragment or any char.
fn hostile(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(FRAGMENTS).prop_map(str::to_owned),
            2 => any::<char>().prop_map(String::from),
        ],
        0..max,
    )
    .prop_map(|pieces| pieces.concat())
}

/// Slack-shaped text: well-formed tokens and entities between words without brackets.
fn slack_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(
                &[
                    "<!channel>",
                    "<!here|here>",
                    "<!subteam^S1|@eng>",
                    "<@U0BOB0001|bob>",
                    "<@U0ALICE01>",
                    "<#C0DEV|dev>",
                    "<https://example.com/x|a doc>",
                    "&amp;",
                    "&lt;",
                    "&gt;",
                    " ",
                    "\n",
                ][..]
            )
            .prop_map(str::to_owned),
            "[^<>&]{1,12}",
        ],
        0..60,
    )
    .prop_map(|pieces| pieces.concat())
}

/// True when every `<` opens a token closed by a `>` before any other `<`.
fn tokens_whole(text: &str) -> bool {
    let mut open = false;
    for c in text.chars() {
        match c {
            '<' if open => return false,
            '<' => open = true,
            '>' => open = false,
            _ => {}
        }
    }
    !open
}

/// A broadcast token anywhere in `text` (dates are the one harmless `<!…>`).
fn has_broadcast(text: &str) -> bool {
    text.match_indices("<!").any(|(i, _)| {
        !text[i + 2..]
            .get(..5)
            .is_some_and(|w| w.eq_ignore_ascii_case("date^"))
    }) || text.contains("< !")
}

fn schedule() -> Schedule {
    Schedule {
        channel: "CTEAM".into(),
        at: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        timezone: chrono_tz::UTC,
        days: vec![Weekday::Mon, Weekday::Tue],
        holidays: BTreeSet::new(),
        skips: BTreeSet::new(),
        remind_after_secs: 3600,
        summary_after_secs: 7200,
        remind: RemindMode::Thread,
        questions: vec!["Blockers".into()],
        from_config: false,
        active: true,
        next_due: None,
        effective_from: None,
        open_day: None,
        set_by: None,
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_blocker_is_always_a_piece_of_the_answer(answer in hostile(200)) {
        if let Some(found) = blockers(&answer) {
            for piece in found.split("; ") {
                prop_assert!(answer.contains(piece), "{piece:?} not in {answer:?}");
            }
        }
    }

    #[test]
    fn standup_summaries_fit_slack_and_never_broadcast(
        answers in prop::collection::vec(hostile(120), 0..12),
    ) {
        let s = schedule();
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        let mut day = StandupDay::new(&s, today(), at);
        for (i, text) in answers.iter().enumerate() {
            let user = format!("U{i:03}");
            day.names.insert(user.clone(), text.clone());
            day.record_answer(&user, text, at);
        }
        day.expected = day.answers.keys().cloned().collect();
        day.summarized = true;
        let posts = day.summary(&s);
        prop_assert!(!posts.is_empty());
        for post in &posts {
            prop_assert!(post.text.chars().count() <= 3_900);
            prop_assert!(!has_broadcast(&post.text), "{}", post.text);
        }
        for message in day.summary_update(&s) {
            prop_assert!(!has_broadcast(&message.text));
        }
    }

    #[test]
    fn quoted_slack_text_never_broadcasts(text in hostile(200)) {
        let quoted = quote_slack(&text);
        prop_assert!(!has_broadcast(&quoted), "{quoted:?}");
        prop_assert!(tokens_whole(&quoted), "{quoted:?}");
        prop_assert_eq!(quote_slack(&quoted), quoted.clone(), "quoting twice changes nothing");
        let _ = slack_to_plain(&text);
    }

    #[test]
    fn escaped_text_has_no_token_and_decodes_back(text in hostile(200)) {
        let escaped = escape(&text);
        prop_assert!(!escaped.contains('<') && !escaped.contains('>'));
        prop_assert_eq!(slack_to_plain(&escaped), text);
    }

    #[test]
    fn excerpts_are_bounded_and_keep_tokens_whole(text in slack_text(), max in 0usize..200) {
        let cut = excerpt(&text, max);
        prop_assert!(cut.chars().count() <= max, "{cut:?} longer than {max}");
        prop_assert!(tokens_whole(&cut), "{cut:?}");
        let short = shorten(&text, max);
        prop_assert!(short.chars().count() <= max);
        prop_assert!(tokens_whole(&short), "{short:?}");
    }

    #[test]
    fn excerpts_of_anything_are_bounded(text in hostile(300), max in 0usize..200) {
        prop_assert!(excerpt(&text, max).chars().count() <= max);
        prop_assert!(shorten(&text, max).chars().count() <= max);
    }

    #[test]
    fn split_text_is_bounded_and_loses_nothing(text in hostile(300), max in 1usize..120) {
        let pieces = split_text(&text, max);
        for piece in &pieces {
            prop_assert!(piece.chars().count() <= max, "{piece:?} longer than {max}");
        }
        let kept: String = pieces.concat().chars().filter(|c| *c != '\n').collect();
        let all: String = text.chars().filter(|c| *c != '\n').collect();
        prop_assert_eq!(kept, all);
    }

    #[test]
    fn split_slack_text_keeps_tokens_whole(text in slack_text(), max in 40usize..200) {
        for piece in split_text(&text, max) {
            prop_assert!(tokens_whole(&piece), "{piece:?}");
        }
    }

    #[test]
    fn rfc_commands_never_panic(text in hostile(200)) {
        if let Err(error) = rfc_command::parse(&text) {
            let message = error.to_string();
            prop_assert!(!message.is_empty());
            prop_assert!(!has_broadcast(&message), "{message}");
        }
        let _ = rfc_command::parse_rfc_id(&text);
        let _ = rfc_command::parse_user(&text);
        let _ = rfc_command::parse_channel(&text);
    }

    #[test]
    fn a_rendered_rfc_command_parses_back(
        title_words in prop::collection::vec("[a-zA-Z0-9İßéµ\u{212A}🙂]{1,10}", 1..8),
        approver in "U[A-Z0-9]{4,8}",
        contributors in prop::collection::btree_set("U[A-Z0-9]{4,8}", 0..5),
        informed_users in prop::collection::btree_set("W[A-Z0-9]{4,8}", 0..5),
        informed_channels in prop::collection::btree_set("C[A-Z0-9]{4,8}", 0..5),
        window_hours in prop::option::of(1u64..2000),
    ) {
        let title = title_words.join(" ");
        prop_assume!(!["decide", "withdraw", "supersede", "list", "help"]
            .iter()
            .any(|w| title_words[0].eq_ignore_ascii_case(w)));
        let people = |ids: &BTreeSet<String>, prefix: &str| {
            ids.iter().map(|id| format!("<{prefix}{id}|n {id}>")).collect::<Vec<_>>().join(" ")
        };
        let mut text = format!("{title} approver:<@{approver}|boss>");
        if !contributors.is_empty() {
            text.push_str(&format!(" contributors:{}", people(&contributors, "@")));
        }
        if !informed_users.is_empty() || !informed_channels.is_empty() {
            text.push_str(&format!(
                " informed:{} {}",
                people(&informed_channels, "#"),
                people(&informed_users, "@")
            ));
        }
        if let Some(hours) = window_hours {
            text.push_str(&format!(" window:{hours}h"));
        }
        let expected = OpenArgs {
            title,
            approver: approver.clone(),
            contributors: contributors.iter().filter(|c| **c != approver).cloned().collect(),
            informed_users: informed_users.into_iter().collect(),
            informed_channels: informed_channels.into_iter().collect(),
            window: window_hours.map(|h| Duration::from_secs(h * 3600)),
        };
        prop_assert_eq!(rfc_command::parse(&text), Ok(RfcCommand::Open(expected)));
    }

    #[test]
    fn a_decision_keeps_its_rationale_as_sent(id in 1u64..100_000, rationale in hostile(100)) {
        let parsed = rfc_command::parse(&format!("decide RFC-{id} reject {rationale}"));
        if rationale.trim().is_empty() {
            prop_assert_eq!(
                parsed,
                Err(rfc_command::RfcParseError::MissingRationale { id, verdict: Verdict::Reject })
            );
        } else {
            prop_assert_eq!(
                parsed,
                Ok(RfcCommand::Decide { id, verdict: Verdict::Reject, rationale: rationale.trim().to_owned() })
            );
        }
    }

    #[test]
    fn standup_commands_never_panic(text in hostile(120)) {
        if let Err(error) = standup_command::parse(&text, today()) {
            prop_assert!(!has_broadcast(&error.to_string()), "{error}");
        }
        let _ = standup_command::parse_days(&text);
        let _ = standup_command::parse_time(&text);
    }

    #[test]
    fn a_rendered_standup_time_parses_back(
        hour in 0u32..24,
        minute in 0u32..60,
        zone in prop::sample::select(
            chrono_tz::TZ_VARIANTS.iter().copied().filter(|z| z.name().contains('/')).collect::<Vec<_>>()
        ),
        days in prop::collection::btree_set(0u8..7, 1..7),
    ) {
        let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let text = format!(
            "at {hour:02}:{minute:02} {} {}",
            zone.name(),
            days.iter().map(|d| names[usize::from(*d)]).collect::<Vec<_>>().join(",")
        );
        let want: Vec<Weekday> = days.iter().map(|d| Weekday::try_from(*d).unwrap()).collect();
        prop_assert_eq!(
            standup_command::parse(&text, today()),
            Ok(standup_command::StandupCommand::At {
                time: NaiveTime::from_hms_opt(hour, minute, 0).unwrap(),
                timezone: Some(zone),
                days: Some(want),
            })
        );
    }

    #[test]
    fn tier_markers_and_mentions_never_panic(text in hostile(200)) {
        let policy = crate::domain::sla::SlaPolicy {
            max_recipients: 8,
            urgent: rule(&["urgent", "asap", ":rotating_light:", "İ", ""]),
            normal: rule(&[]),
            low: rule(&["fyi", "no rush", "\u{212A}"]),
            ack_reactions: vec!["eyes".into()],
            ladder: Vec::new(),
            forget_after: std::time::Duration::from_secs(30 * 24 * 3600),
        };
        let _ = policy.classify(&text);
        for user in crate::domain::sla::mentioned_users(&text) {
            prop_assert!(text.contains(&format!("<@{user}")), "{user} in {text:?}");
        }
    }

    #[test]
    fn durations_never_panic(text in hostile(40), secs in any::<u64>()) {
        let _ = crate::config::parse_duration("sla.urgent.within", &text);
        let _ = crate::domain::format::human_duration(Duration::from_secs(secs));
    }

    #[test]
    fn decision_search_and_exports_never_panic(
        title in hostile(60),
        context in hostile(100),
        rationale in hostile(100),
        query in hostile(60),
    ) {
        let rfc = decided_rfc(&title, &context, &rationale);
        let records = vec![rfc];
        let hits = crate::domain::decisions::search(&records, &query, 10);
        let lines = crate::domain::decisions::slack_lines(&hits, &|_: &crate::domain::rfc::Rfc| None);
        prop_assert!(!has_broadcast(&lines), "{lines}");
        let _ = crate::domain::decisions::file_name(&records[0], "md");
        let _ = crate::domain::decisions::markdown(&records[0], &Default::default(), None);
    }
}

fn rule(markers: &[&str]) -> crate::domain::sla::TierRule {
    crate::domain::sla::TierRule {
        within: Duration::from_secs(3600),
        clock: crate::domain::calendar::Clock::Wall,
        markers: markers.iter().map(|m| m.to_string()).collect(),
    }
}

fn decided_rfc(title: &str, context: &str, rationale: &str) -> crate::domain::rfc::Rfc {
    let settings = crate::domain::rfc::RfcSettings {
        default_window: Duration::from_secs(3600),
        min_window: Duration::from_secs(60),
        max_window: Duration::from_secs(86_400),
        remind_before: Duration::ZERO,
        clock: crate::domain::calendar::Clock::Wall,
    };
    let calendar = crate::domain::calendar::BusinessCalendar::always();
    let ctx = crate::domain::rfc::RfcContext {
        settings: &settings,
        calendar: &calendar,
        ladder: &[],
        permalink: None,
        people: Default::default(),
    };
    let new = crate::domain::rfc::NewRfc {
        title: title.to_owned(),
        context: context.to_owned(),
        channel: "C1".into(),
        driver: "UALICE".into(),
        approver: "UBOB".into(),
        contributors: Vec::new(),
        informed_users: Vec::new(),
        informed_channels: vec!["CANN".into()],
        window: Duration::from_secs(3600),
        driver_tz: chrono_tz::UTC,
        approver_tz: chrono_tz::UTC,
    };
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
    let (mut rfc, _) = crate::domain::rfc::Rfc::open(1, new, now, &ctx);
    if !rationale.trim().is_empty() {
        let out = rfc
            .decide("UBOB", Verdict::Accept, rationale, now, &ctx)
            .expect("the approver decides an open RFC");
        for message in out {
            assert!(!has_broadcast(&message.text), "{}", message.text);
        }
    }
    rfc
}

/// The inputs of the issue, at full size: a dozen `İ`, a Kelvin sign, and a very long answer.
#[test]
fn the_reported_answers_and_a_huge_one_do_not_panic() {
    let huge = format!("Blockers: {}\n", "İ\u{212A}ß<!here>".repeat(5_000)).repeat(4);
    for answer in [
        "Blockers: İİİİİİİİİİİİ",
        "Blockers: \u{212A}",
        "\u{212A}\u{212A}\u{212A} Blockers: x",
        huge.as_str(),
    ] {
        let _ = blockers(answer);
        let s = schedule();
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        let mut day = StandupDay::new(&s, today(), at);
        day.record_answer("UALICE", answer, at);
        day.names = BTreeMap::from([("UALICE".to_owned(), "Alice".to_owned())]);
        day.expected = vec!["UALICE".into()];
        for post in day.summary(&s) {
            assert!(post.text.chars().count() <= 3_900);
            assert!(!has_broadcast(&post.text));
        }
    }
    let _ = rfc_command::parse(&huge);
    let _ = standup_command::parse(&huge, today());
}
