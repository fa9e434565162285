//! Slack text helpers: the `<!date^…>` token that renders in each reader's own time zone,
//! permalinks, mention tokens, human-readable durations, and the two ways user text enters a
//! post: [`quote_slack`] for text that came from Slack, [`escape`] for text typed into a modal.
//!
//! Slack's mrkdwn has two kinds of markup that matter here: `<…>` tokens (mentions, links,
//! broadcasts like `<!channel>`, dates) and the entities `&amp;`, `&lt;`, `&gt;` that stand for a
//! literal `&`, `<`, `>`. Every helper below treats a token or an entity as one indivisible
//! unit, so no cut or split ever leaves half a token behind.

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

/// Escapes the three characters Slack's mrkdwn treats as control characters: for raw text a
/// person typed into a modal (plain text, as `view_submission` delivers it). The result holds no
/// token at all, so no broadcast either.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text that came from Slack (message events, slash-command text sent with
/// `should_escape: true`), ready to be quoted in one of our posts: it is already mrkdwn, so user
/// and channel mentions, links and dates stay as they are and render as names and links. Only
/// broadcasts (`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^ID|@team>`, in any case, with
/// or without a label) are turned into inert text that reads the same and pings nobody. A stray
/// `<` or `>` that is not part of a token is escaped so the result is well-formed.
pub fn quote_slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for atom in atoms(text) {
        match atom {
            Atom::Token(token) => {
                let inner = &token[1..token.len() - 1];
                if is_broadcast(inner) {
                    out.push_str(&inert_broadcast(inner));
                } else {
                    out.push_str(token);
                }
            }
            Atom::Entity(entity) => out.push_str(entity),
            Atom::Char('<') => out.push_str("&lt;"),
            Atom::Char('>') => out.push_str("&gt;"),
            Atom::Char(c) => out.push(c),
        }
    }
    out
}

/// Slack text as a person reads it, for places that are not Slack (Markdown export, search):
/// entities decoded, `<@U1|bob>` as `@bob`, `<#C1|general>` as `#general`, `<url|label>` as
/// `label (url)`, a date as its fallback text, a broadcast as its name.
pub fn slack_to_plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for atom in atoms(text) {
        match atom {
            Atom::Token(token) => {
                let inner = &token[1..token.len() - 1];
                let (target, label) = match inner.split_once('|') {
                    Some((target, label)) => (target, Some(decode_entities(label))),
                    None => (inner, None),
                };
                let label = label.filter(|l| !l.trim().is_empty());
                if let Some(id) = target.strip_prefix('@') {
                    out.push('@');
                    out.push_str(label.as_deref().map_or(id, |l| l.trim_start_matches('@')));
                } else if let Some(id) = target.strip_prefix('#') {
                    out.push('#');
                    out.push_str(label.as_deref().map_or(id, |l| l.trim_start_matches('#')));
                } else if target.to_ascii_lowercase().starts_with("!date^") {
                    out.push_str(label.as_deref().unwrap_or(target));
                } else if target.starts_with('!') {
                    out.push('@');
                    out.push_str(&broadcast_name(inner));
                } else {
                    let url = decode_entities(target);
                    match label {
                        Some(label) if label != url => {
                            out.push_str(&format!("{label} ({url})"));
                        }
                        _ => out.push_str(&url),
                    }
                }
            }
            Atom::Entity(entity) => out.push_str(&decode_entities(entity)),
            Atom::Char(c) => out.push(c),
        }
    }
    out
}

fn decode_entities(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// `!channel`, ` !here|here`, `!subteam^S1|@eng`: anything Slack could read as a special
/// mention. Dates (`!date^…`) are the one `!` command that notifies nobody, so they stay.
fn is_broadcast(inner: &str) -> bool {
    inner.trim_start().strip_prefix('!').is_some_and(|command| {
        !command
            .get(..5)
            .is_some_and(|word| word.eq_ignore_ascii_case("date^"))
    })
}

/// The name a broadcast token shows: its label (`@eng`) or its command (`channel`), without `@`.
fn broadcast_name(inner: &str) -> String {
    let (command, label) = match inner.split_once('|') {
        Some((command, label)) => (command, Some(label)),
        None => (inner, None),
    };
    let name = match label.map(|l| l.trim().trim_start_matches('@')) {
        Some(label) if !label.is_empty() => label.to_owned(),
        _ => {
            let command = command.trim().trim_start_matches('!');
            if command.to_ascii_lowercase().starts_with("subteam^") {
                "team".to_owned()
            } else {
                command.to_owned()
            }
        }
    };
    // The name is shown as text, so it must not bring back a control character.
    name.replace(['<', '>'], "")
}

/// `@channel` with a WORD JOINER (U+2060) after the `@`: it reads as the name people typed, and
/// no Slack parser (not even `link_names`) can turn it back into a broadcast.
fn inert_broadcast(inner: &str) -> String {
    format!("@\u{2060}{}", broadcast_name(inner))
}

/// One indivisible unit of Slack text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom<'a> {
    /// A whole `<…>` token, brackets included: no `<` inside, closed by the first `>`.
    Token(&'a str),
    /// `&amp;`, `&lt;` or `&gt;`.
    Entity(&'a str),
    Char(char),
}

impl Atom<'_> {
    fn as_str_len(&self) -> usize {
        match self {
            Atom::Token(s) | Atom::Entity(s) => s.len(),
            Atom::Char(c) => c.len_utf8(),
        }
    }

    fn chars(&self) -> usize {
        match self {
            Atom::Token(s) | Atom::Entity(s) => s.chars().count(),
            Atom::Char(_) => 1,
        }
    }
}

/// Splits Slack text into atoms. Every index used here comes from `text` itself, so every slice
/// is on a char boundary.
fn atoms(text: &str) -> impl Iterator<Item = Atom<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let rest = &text[at..];
        let c = rest.chars().next()?;
        let atom = if c == '<' {
            match rest[1..].find(['<', '>']) {
                Some(i) if rest.as_bytes()[1 + i] == b'>' && i > 0 => Atom::Token(&rest[..i + 2]),
                _ => Atom::Char(c),
            }
        } else if c == '&' {
            ["&amp;", "&lt;", "&gt;"]
                .into_iter()
                .find(|e| rest.starts_with(e))
                .map_or(Atom::Char(c), |e| Atom::Entity(&rest[..e.len()]))
        } else {
            Atom::Char(c)
        };
        at += atom.as_str_len();
        Some(atom)
    })
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

/// At most `max` characters of a message, on one line, for quoting it back; `…` marks a cut.
/// A cut never falls inside a `<…>` token or an entity: a token that does not fit is left out
/// whole (an excerpt ending in `<@U12` would break the message it is quoted in).
pub fn excerpt(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    if max == 0 {
        return String::new();
    }
    let budget = max - 1;
    let mut cut = String::new();
    let mut used = 0;
    for atom in atoms(&one_line) {
        if used + atom.chars() > budget {
            break;
        }
        used += atom.chars();
        match atom {
            Atom::Token(s) | Atom::Entity(s) => cut.push_str(s),
            Atom::Char(c) => cut.push(c),
        }
    }
    format!("{}…", cut.trim_end())
}

/// At most `max` characters of a multi-line text (line breaks kept), `…` marking a cut that
/// never falls inside a token or an entity: for long free text in a section (Slack allows 3,000
/// characters) where splitting makes no sense.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut cut = String::new();
    let mut used = 0;
    for atom in atoms(text) {
        if used + atom.chars() > max - 1 {
            break;
        }
        used += atom.chars();
        match atom {
            Atom::Token(s) | Atom::Entity(s) => cut.push_str(s),
            Atom::Char(c) => cut.push(c),
        }
    }
    format!("{}…", cut.trim_end())
}

/// Splits a message into pieces of at most `max` characters (`max` ≥ 1), at line ends where it
/// can, else between atoms; only a single token longer than `max` is cut inside. Nothing is
/// lost: the pieces hold every character of `text` except the line breaks they were split at.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut current_chars = 0;
    let mut flush = |current: &mut String, current_chars: &mut usize| {
        if !current.is_empty() {
            pieces.push(std::mem::take(current));
        }
        *current_chars = 0;
    };
    for (i, line) in text.split('\n').enumerate() {
        let line_chars = line.chars().count();
        // The line break before this line, if it stays inside the current piece.
        let sep = usize::from(i > 0 && current_chars > 0);
        if current_chars + sep + line_chars <= max {
            if sep == 1 {
                current.push('\n');
            }
            current.push_str(line);
            current_chars += sep + line_chars;
            continue;
        }
        flush(&mut current, &mut current_chars);
        for atom in atoms(line) {
            let text = match atom {
                Atom::Token(s) | Atom::Entity(s) => s.to_owned(),
                Atom::Char(c) => c.to_string(),
            };
            let chars = atom.chars();
            if current_chars + chars > max {
                flush(&mut current, &mut current_chars);
            }
            if chars > max {
                // A token longer than a whole piece: cut it on char boundaries.
                for c in text.chars() {
                    if current_chars == max {
                        flush(&mut current, &mut current_chars);
                    }
                    current.push(c);
                    current_chars += 1;
                }
            } else {
                current.push_str(&text);
                current_chars += chars;
            }
        }
    }
    flush(&mut current, &mut current_chars);
    pieces
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

    #[test]
    fn excerpts_never_cut_a_token_or_an_entity() {
        // The mention would be cut after `<@U12`: it is left out whole.
        assert_eq!(excerpt("hi <@U123456|bob> there", 8), "hi…");
        assert_eq!(excerpt("a &amp; b and more", 4), "a…");
        assert_eq!(excerpt("a &amp; b and more", 8), "a &amp;…");
        assert_eq!(excerpt("İİİİİİ", 3), "İİ…");
        assert_eq!(excerpt("anything", 0), "");
    }

    #[test]
    fn slack_text_keeps_mentions_and_links_but_not_broadcasts() {
        // Mentions, channels, links, dates and entities pass through untouched.
        let kept = "<@U0BOB0001|bob> can you review <#C1|dev> and <https://x.io/a?b=1&amp;c|the doc> &lt;3 <!date^1795512600^{date}|Tue>";
        assert_eq!(quote_slack(kept), kept);
        let cases = [
            ("<!channel> look", "@\u{2060}channel look"),
            ("<!here|here> now", "@\u{2060}here now"),
            ("<!HERE>", "@\u{2060}HERE"),
            ("<!everyone>", "@\u{2060}everyone"),
            ("<!subteam^S0ENG|@eng> help", "@\u{2060}eng help"),
            ("<!subteam^S0ENG>", "@\u{2060}team"),
            ("< !channel>", "@\u{2060}channel"),
            // A stray bracket cannot open a token around a broadcast.
            ("a < b <!channel>", "a &lt; b @\u{2060}channel"),
            ("<<!here>>", "&lt;@\u{2060}here&gt;"),
            ("x > y", "x &gt; y"),
        ];
        for (input, want) in cases {
            let got = quote_slack(input);
            assert_eq!(got, want, "{input:?}");
            assert!(!got.contains("<!"), "{got:?}");
        }
    }

    #[test]
    fn slack_text_reads_plainly_outside_slack() {
        assert_eq!(
            slack_to_plain(
                "<@U1|bob> &amp; <#C1|dev>: <https://x.io|doc>, <https://y.io>, <!here>, <@U2>"
            ),
            "@bob & #dev: doc (https://x.io), https://y.io, @here, @U2"
        );
        assert_eq!(slack_to_plain("<!date^1^{date}|Tue 24>"), "Tue 24");
        assert_eq!(slack_to_plain("<!subteam^S1|@eng>"), "@eng");
    }

    #[test]
    fn shortened_text_keeps_its_lines_and_its_tokens() {
        assert_eq!(shorten("a\nb", 10), "a\nb");
        assert_eq!(shorten("line one\nline two", 12), "line one\nli…");
        assert_eq!(shorten("see <https://x.io|doc> now", 10), "see…");
        assert_eq!(shorten("abc", 0), "");
    }

    #[test]
    fn long_text_splits_at_lines_and_loses_nothing() {
        let text = "aaaa\nbbbb\ncccc";
        assert_eq!(split_text(text, 9), vec!["aaaa\nbbbb", "cccc"]);
        assert_eq!(split_text(text, 100), vec![text]);
        // A long line is split between atoms, never inside a token.
        assert_eq!(
            split_text("ab <@U1|x> cd", 8),
            vec!["ab ", "<@U1|x> ", "cd"]
        );
        // Only a token longer than a whole piece is cut.
        assert_eq!(split_text("<@U1|abc>", 4), vec!["<@U1", "|abc", ">"]);
    }
}
