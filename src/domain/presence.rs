//! Presence: what Slack says about a person being out (an out-of-office status), focused (a
//! focus status) or in Do Not Disturb, as instants, and the questions the clocks ask of it ("out
//! at this moment? until when?"). Pure: the engine learns the raw status and DND answers from
//! Slack and stores what [`classify_status`] and [`Dnd::from_slack`] make of them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the bot knows of a person's presence, and when it learnt it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Presence {
    /// Out of office until then (the status's expiry); [`DateTime::<Utc>::MAX_UTC`] for a status
    /// with no expiry, which lasts until the person changes it.
    pub ooo_until: Option<DateTime<Utc>>,
    /// Focusing until then (same convention as `ooo_until`).
    pub focus_until: Option<DateTime<Utc>>,
    /// Slack's Do Not Disturb, as `dnd.info` reported it; `None` until it was learnt.
    pub dnd: Option<Dnd>,
    /// When the last of the above was learnt.
    pub learned_at: DateTime<Utc>,
}

/// A person's Do Not Disturb, as `dnd.info` (or a `dnd_updated_user` event) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dnd {
    /// Snoozed (DND turned on by hand) until then.
    pub snooze_until: Option<DateTime<Utc>>,
    /// The next (or current) scheduled DND window: from…
    pub next_dnd_start: Option<DateTime<Utc>>,
    /// …to. A window whose end has passed says nothing of the next one: it is learnt again.
    pub next_dnd_end: Option<DateTime<Utc>>,
}

/// Which statuses mean "out" and which "focused" (`respect.ooo_status`, `respect.focus_status`).
/// Each rule is an emoji code (`:palm_tree:`), an emoji itself (`🌴`), or words matched as whole
/// words, case-insensitively (`out of office`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRules {
    pub ooo: Vec<String>,
    pub focus: Vec<String>,
}

impl Dnd {
    /// `dnd.info`'s answer as instants: the schedule only when DND is enabled, the snooze only
    /// when snoozing. Seconds of 0 (or out of range) mean "none".
    pub fn from_slack(
        dnd_enabled: bool,
        next_start_ts: i64,
        next_end_ts: i64,
        snooze_enabled: bool,
        snooze_end_ts: i64,
    ) -> Self {
        let instant = |ts: i64| (ts > 0).then(|| DateTime::from_timestamp(ts, 0)).flatten();
        let (next_dnd_start, next_dnd_end) =
            match (dnd_enabled, instant(next_start_ts), instant(next_end_ts)) {
                (true, Some(start), Some(end)) if start < end => (Some(start), Some(end)),
                _ => (None, None),
            };
        Self {
            snooze_until: if snooze_enabled {
                instant(snooze_end_ts)
            } else {
                None
            },
            next_dnd_start,
            next_dnd_end,
        }
    }

    /// Whether DND holds at `at`: snoozed, or inside the scheduled window.
    pub fn active(&self, at: DateTime<Utc>) -> bool {
        self.snooze_until.is_some_and(|u| at < u) || self.window_holds(at)
    }

    fn window_holds(&self, at: DateTime<Utc>) -> bool {
        matches!((self.next_dnd_start, self.next_dnd_end), (Some(s), Some(e)) if s <= at && at < e)
    }
}

impl Presence {
    /// Nothing known yet but the moment.
    pub fn empty(learned_at: DateTime<Utc>) -> Self {
        Self {
            ooo_until: None,
            focus_until: None,
            dnd: None,
            learned_at,
        }
    }

    /// Out of office at `at`.
    pub fn is_out(&self, at: DateTime<Utc>) -> bool {
        self.out_until(at).is_some()
    }

    /// Until when the person is out, if they are out at `at` ([`DateTime::<Utc>::MAX_UTC`]: until
    /// they change their status).
    pub fn out_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.ooo_until.filter(|until| at < *until)
    }

    /// Focusing at `at`.
    pub fn is_focused(&self, at: DateTime<Utc>) -> bool {
        self.focus_until.is_some_and(|until| at < until)
    }

    /// In Do Not Disturb at `at` (snoozed, or in the scheduled window).
    pub fn in_dnd(&self, at: DateTime<Utc>) -> bool {
        self.dnd.is_some_and(|d| d.active(at))
    }

    /// If the person is focused or in DND at `at`, the first moment when neither holds (a DM or
    /// a call waits until then); `None` if they are free at `at`. Overlapping spans are chained:
    /// a focus block that ends inside a DND window lasts to the window's end.
    pub fn dnd_or_focus_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::with_capacity(3);
        if let Some(until) = self.focus_until {
            spans.push((DateTime::<Utc>::MIN_UTC, until));
        }
        if let Some(dnd) = self.dnd {
            if let Some(until) = dnd.snooze_until {
                spans.push((DateTime::<Utc>::MIN_UTC, until));
            }
            if let (Some(start), Some(end)) = (dnd.next_dnd_start, dnd.next_dnd_end) {
                spans.push((start, end));
            }
        }
        let mut free_at = at;
        // Each pass moves past at least one span, so this ends after at most `spans.len()`.
        while let Some(&(_, end)) = spans
            .iter()
            .find(|(start, end)| *start <= free_at && free_at < *end)
        {
            free_at = end;
        }
        (free_at > at).then_some(free_at)
    }
}

/// What a profile status says: `(ooo_until, focus_until)`, at most one of them set. `expiration`
/// is Slack's `status_expiration` (unix seconds, 0 for none); a status already expired at `now`
/// says nothing (Slack clears it a little later). When a status matches both kinds of rule, out
/// of office wins: it is the one that holds more back.
pub fn classify_status(
    emoji: &str,
    text: &str,
    expiration: i64,
    now: DateTime<Utc>,
    rules: &StatusRules,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let until = if expiration > 0 {
        match DateTime::from_timestamp(expiration, 0) {
            Some(at) if at > now => at,
            Some(_) => return (None, None),
            None => DateTime::<Utc>::MAX_UTC,
        }
    } else {
        DateTime::<Utc>::MAX_UTC
    };
    let status = Status::new(emoji, text);
    if rules.ooo.iter().any(|rule| status.matches(rule)) {
        (Some(until), None)
    } else if rules.focus.iter().any(|rule| status.matches(rule)) {
        (None, Some(until))
    } else {
        (None, None)
    }
}

/// A status, prepared for matching rules against it.
struct Status {
    /// The emoji code, lowercased, without its skin tone (`:wave::skin-tone-2:` → `:wave:`).
    emoji: String,
    /// The text, lowercased.
    text: String,
    /// The text's words, lowercased: runs of letters and digits (any script).
    words: Vec<String>,
}

impl Status {
    fn new(emoji: &str, text: &str) -> Self {
        let emoji = emoji.trim().to_lowercase();
        let emoji = match emoji.split_once("::") {
            Some((base, _)) => format!("{base}:"),
            None => emoji,
        };
        let text = text.to_lowercase();
        let words = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect();
        Self { emoji, text, words }
    }

    fn matches(&self, rule: &str) -> bool {
        let rule = rule.trim().to_lowercase();
        if rule.is_empty() {
            return false;
        }
        if is_emoji_code(&rule) {
            // The status emoji, or the code typed into the text.
            return self.emoji == rule || self.text.contains(&rule);
        }
        let rule_words: Vec<&str> = rule
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if rule_words.is_empty() {
            // An emoji itself (no letters): found anywhere in the text.
            return self.text.contains(&rule);
        }
        self.words
            .windows(rule_words.len())
            .any(|window| window.iter().zip(&rule_words).all(|(w, r)| w == r))
    }
}

/// `:name:` with no spaces: Slack's emoji code.
pub fn is_emoji_code(rule: &str) -> bool {
    rule.len() > 2
        && rule.starts_with(':')
        && rule.ends_with(':')
        && !rule[1..rule.len() - 1].contains([':', ' '])
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn rules() -> StatusRules {
        StatusRules {
            ooo: [
                ":palm_tree:",
                "🌴",
                "ooo",
                "out of office",
                "vacation",
                "holiday",
                "out sick",
                "sick",
                ":face_with_thermometer:",
                ":airplane:",
            ]
            .map(String::from)
            .to_vec(),
            focus: [":brain:", "deep work", "focus", "focusing", ":headphones:"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap()
    }

    fn at(h: i64) -> DateTime<Utc> {
        now() + chrono::Duration::hours(h)
    }

    #[test]
    fn statuses_are_classified_by_their_emoji_and_words() {
        let monday = at(96).timestamp();
        let r = rules();
        assert_eq!(
            classify_status(":palm_tree:", "🌴 OOO until Monday", monday, now(), &r),
            (Some(at(96)), None)
        );
        assert_eq!(
            classify_status("", "Out sick", 0, now(), &r),
            (Some(DateTime::<Utc>::MAX_UTC), None)
        );
        assert_eq!(
            classify_status(":calendar:", "In a meeting", 0, now(), &r),
            (None, None)
        );
        assert_eq!(
            classify_status("", "Deep Work", at(2).timestamp(), now(), &r),
            (None, Some(at(2)))
        );
        // The emoji alone, with a skin tone or a typed code, is enough.
        assert_eq!(
            classify_status(":AIRPLANE:", "", 0, now(), &r).0,
            Some(DateTime::<Utc>::MAX_UTC)
        );
        assert!(
            classify_status(":brain::skin-tone-3:", "", 0, now(), &r)
                .1
                .is_some()
        );
        assert!(
            classify_status("", "back soon :palm_tree:", 0, now(), &r)
                .0
                .is_some()
        );
        assert!(classify_status("", "🌴🌴", 0, now(), &r).0.is_some());
    }

    #[test]
    fn words_match_whole_words_only() {
        let r = rules();
        // "ooo" is not in "Zoooom", "sick" not in "sickle", "focus" not in "refocused".
        for text in [
            "Zoooom",
            "sickle sharpening",
            "refocused",
            "holidays planning",
        ] {
            assert_eq!(
                classify_status("", text, 0, now(), &r),
                (None, None),
                "{text}"
            );
        }
        // Any script's punctuation separates words.
        assert!(classify_status("", "¡OOO!", 0, now(), &r).0.is_some());
        assert!(
            classify_status("", "Vacation—back Tue", 0, now(), &r)
                .0
                .is_some()
        );
        assert!(classify_status("", "DEEP  WORK", 0, now(), &r).1.is_some());
        assert_eq!(
            classify_status("", "deep thoughts at work", 0, now(), &r),
            (None, None)
        );
    }

    #[test]
    fn out_of_office_wins_over_focus_and_an_expired_status_says_nothing() {
        let r = rules();
        assert_eq!(
            classify_status(":brain:", "out sick", 0, now(), &r),
            (Some(DateTime::<Utc>::MAX_UTC), None)
        );
        assert_eq!(
            classify_status(":palm_tree:", "OOO", at(-1).timestamp(), now(), &r),
            (None, None)
        );
        assert_eq!(
            classify_status(":palm_tree:", "OOO", now().timestamp(), now(), &r),
            (None, None)
        );
    }

    #[test]
    fn presence_answers_at_a_moment() {
        let p = Presence {
            ooo_until: Some(at(48)),
            focus_until: None,
            dnd: None,
            learned_at: now(),
        };
        assert!(p.is_out(now()) && p.is_out(at(47)));
        assert!(!p.is_out(at(48)));
        assert_eq!(p.out_until(at(1)), Some(at(48)));
        assert_eq!(p.out_until(at(49)), None);
        assert!(!p.is_focused(now()) && !p.in_dnd(now()));
        assert_eq!(p.dnd_or_focus_until(now()), None);
    }

    #[test]
    fn focus_and_dnd_chain_into_one_wait() {
        let p = Presence {
            ooo_until: None,
            focus_until: Some(at(2)),
            dnd: Some(Dnd {
                snooze_until: None,
                next_dnd_start: Some(at(1)),
                next_dnd_end: Some(at(5)),
            }),
            learned_at: now(),
        };
        assert!(p.is_focused(now()) && !p.in_dnd(now()));
        assert!(p.in_dnd(at(1)) && !p.in_dnd(at(5)));
        // Focus to 12:00 runs into the DND window to 15:00.
        assert_eq!(p.dnd_or_focus_until(now()), Some(at(5)));
        assert_eq!(p.dnd_or_focus_until(at(3)), Some(at(5)));
        assert_eq!(p.dnd_or_focus_until(at(5)), None);
        let snoozed = Presence {
            focus_until: None,
            dnd: Some(Dnd {
                snooze_until: Some(at(1)),
                next_dnd_start: None,
                next_dnd_end: None,
            }),
            ..p
        };
        assert!(snoozed.in_dnd(now()));
        assert_eq!(snoozed.dnd_or_focus_until(now()), Some(at(1)));
    }

    #[test]
    fn dnd_info_becomes_instants_only_when_enabled() {
        let (s, e) = (at(8).timestamp(), at(16).timestamp());
        let on = Dnd::from_slack(true, s, e, false, 0);
        assert_eq!(
            (on.next_dnd_start, on.next_dnd_end),
            (Some(at(8)), Some(at(16)))
        );
        assert_eq!(on.snooze_until, None);
        let off = Dnd::from_slack(false, s, e, true, at(1).timestamp());
        assert_eq!((off.next_dnd_start, off.next_dnd_end), (None, None));
        assert_eq!(off.snooze_until, Some(at(1)));
        // A window that ends before it starts, or zero seconds, is no window.
        assert_eq!(Dnd::from_slack(true, e, s, false, 0).next_dnd_start, None);
        assert_eq!(
            Dnd::from_slack(true, 0, 0, true, 0),
            Dnd {
                snooze_until: None,
                next_dnd_start: None,
                next_dnd_end: None
            }
        );
        assert_eq!(
            Dnd::from_slack(true, i64::MAX, i64::MAX, true, i64::MIN).snooze_until,
            None
        );
    }

    fn moment() -> impl Strategy<Value = Option<DateTime<Utc>>> {
        proptest::option::of((-1000i64..1000).prop_map(at))
    }

    proptest! {
        #[test]
        fn any_status_text_is_classified_without_panicking(
            emoji in "\\PC{0,12}",
            text in "\\PC{0,80}",
            expiration in any::<i64>(),
            rule in "\\PC{0,12}",
        ) {
            let mut r = rules();
            r.ooo.push(rule.clone());
            r.focus.push(rule);
            let (ooo, focus) = classify_status(&emoji, &text, expiration, now(), &r);
            prop_assert!(ooo.is_none() || focus.is_none());
            for until in ooo.into_iter().chain(focus) {
                prop_assert!(until > now());
            }
        }

        #[test]
        fn the_wait_ends_when_neither_focus_nor_dnd_holds(
            focus in moment(),
            snooze in moment(),
            start in moment(),
            end in moment(),
            probe in -1000i64..1000,
        ) {
            let p = Presence {
                ooo_until: None,
                focus_until: focus,
                dnd: Some(Dnd { snooze_until: snooze, next_dnd_start: start, next_dnd_end: end }),
                learned_at: now(),
            };
            let t = at(probe);
            match p.dnd_or_focus_until(t) {
                None => prop_assert!(!p.is_focused(t) && !p.in_dnd(t)),
                Some(free) => {
                    prop_assert!(free > t);
                    prop_assert!(p.is_focused(t) || p.in_dnd(t));
                    prop_assert!(!p.is_focused(free) && !p.in_dnd(free));
                }
            }
        }
    }
}
