//! Slack text helpers: the `<!date^…>` token that renders in each reader's own time zone,
//! permalinks, mention tokens and human-readable durations.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// `<!date^UNIX^{date_short_pretty} at {time}|fallback>`: each reader sees their own local time.
pub fn slack_date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} at {{time}}|{}>",
        at.timestamp(),
        at.format("%Y-%m-%d %H:%M UTC")
    )
}

/// A user mention token (`<@U123>`): Slack renders it as the person's name.
pub fn mention(user: &str) -> String {
    format!("<@{user}>")
}

/// The permalink of a message, built from the workspace URL `auth.test` reports
/// (`https://team.slack.com/`). A reply links into its thread.
pub fn permalink(team_url: &str, channel: &str, ts: &str, thread_ts: Option<&str>) -> String {
    let base = team_url.trim_end_matches('/');
    let mut link = format!("{base}/archives/{channel}/p{}", ts.replace('.', ""));
    if let Some(root) = thread_ts.filter(|root| *root != ts) {
        link.push_str(&format!("?thread_ts={root}&cid={channel}"));
    }
    link
}

/// A link in Slack's mrkdwn: `<url|label>`.
pub fn link(url: &str, label: &str) -> String {
    format!("<{url}|{}>", escape(label))
}

/// Escapes the three characters Slack's mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// "4 s", "90 min", "24 h", "1 h 30 min": the units a person would say.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{secs} s");
    }
    if secs < 3600 {
        let (m, s) = (secs / 60, secs % 60);
        return if s == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {s} s")
        };
    }
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m} min")
    }
}

/// The first `max` characters of a message, on one line, for quoting it back.
pub fn excerpt(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let cut: String = one_line.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn date_token_has_the_unix_time_and_a_utc_fallback() {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 30, 0).unwrap();
        assert_eq!(
            slack_date(at),
            "<!date^1795512600^{date_short_pretty} at {time}|2026-11-24 09:30 UTC>"
        );
    }

    #[test]
    fn permalinks_point_at_the_message_and_its_thread() {
        assert_eq!(
            permalink("https://acme.slack.com/", "C1", "1700000000.000100", None),
            "https://acme.slack.com/archives/C1/p1700000000000100"
        );
        assert_eq!(
            permalink(
                "https://acme.slack.com/",
                "C1",
                "1700000001.000200",
                Some("1700000000.000100")
            ),
            "https://acme.slack.com/archives/C1/p1700000001000200?thread_ts=1700000000.000100&cid=C1"
        );
        // The root of a thread is linked without the thread parameter.
        assert_eq!(
            permalink("https://a.slack.com", "C1", "1.2", Some("1.2")),
            "https://a.slack.com/archives/C1/p12"
        );
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        let cases = [
            (4, "4 s"),
            (90, "1 min 30 s"),
            (900, "15 min"),
            (7200, "2 h"),
            (86400, "24 h"),
            (5400, "1 h 30 min"),
            (172800, "48 h"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn excerpts_are_one_line_and_bounded() {
        assert_eq!(excerpt("a\n b   c", 10), "a b c");
        assert_eq!(excerpt("abcdefghijkl", 6), "abcde…");
        assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
    }
}
