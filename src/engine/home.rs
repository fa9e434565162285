//! The App Home tab as slack-morphism's typed Block Kit: the text a feature draws, split into
//! sections Slack accepts, then the blocks features add (a section with a button).

use slack_morphism::prelude::*;

/// Slack's limit for a section's text is 3,000 characters; chunks stay a little under it.
const CHUNK_CHARS: usize = 2_900;
/// Slack shows at most 100 blocks on the Home tab: the header, the sections, the commands line.
const MAX_SECTIONS: usize = 98;

fn section(text: String) -> SlackSectionBlock {
    SlackSectionBlock::new().with_text(SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text)))
}

/// The App Home: the overview in sections of at most 3,000 characters (Slack's limit), cut at
/// line ends. An overview too long for 100 blocks loses its end (features list a bounded number
/// of items, so this only guards against a bug). `extra` (the features' own blocks) follows the
/// text and keeps its place: the text gives way first.
pub fn view(text: &str, mut extra: Vec<SlackBlock>) -> SlackHomeView {
    extra.truncate(MAX_SECTIONS);
    let mut sections: Vec<SlackSectionBlock> = Vec::new();
    let mut chunk = String::new();
    for line in text.lines() {
        if chunk.len() + line.len() + 1 > CHUNK_CHARS && !chunk.is_empty() {
            sections.push(section(std::mem::take(&mut chunk)));
        }
        let line: String = line.chars().take(CHUNK_CHARS).collect();
        chunk.push_str(&line);
        chunk.push('\n');
    }
    if !chunk.trim().is_empty() {
        sections.push(section(chunk));
    }
    sections.truncate(MAX_SECTIONS - extra.len());
    SlackHomeView::new(slack_blocks![
        some_into(SlackHeaderBlock::new(
            SlackBlockPlainText::new("asyncbot".into()).into()
        )),
        ..sections,
        ..extra,
        some_into(SlackContextBlock::new(vec![
            SlackContextBlockElement::MarkDown(SlackBlockMarkDownText::new(
                "Commands: `/sla`, `/rfc help`, `/decisions`, `/standup help`.".into()
            ))
        ]))
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::block_kit::check_block_kit;

    fn json(view: SlackHomeView) -> serde_json::Value {
        serde_json::to_value(SlackView::Home(view)).unwrap()
    }

    /// The JSON the engine built by hand before the view was typed: the same view goes out.
    #[test]
    fn the_typed_view_is_the_json_sent_before() {
        let text = "*Waiting on you (1)*\n• <@UALICE>: “review?”";
        let commands = serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn",
            "text": "Commands: `/sla`, `/rfc help`, `/decisions`, `/standup help`."}]});
        let header = serde_json::json!({"type": "header", "text": {"type": "plain_text", "text": "asyncbot"}});
        let section = |text: &str| serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
        assert_eq!(
            json(view(text, Vec::new())),
            serde_json::json!({"type": "home", "blocks": [header, section(&format!("{text}\n")), commands]})
        );
        // Cut at line ends, under 3,000 characters a section.
        let (a, b) = ("a".repeat(2_000), "b".repeat(2_000));
        let two = format!("{a}\n{b}\nend");
        assert_eq!(
            json(view(&two, Vec::new())),
            serde_json::json!({"type": "home", "blocks": [
                header, section(&format!("{a}\n")), section(&format!("{b}\nend\n")), commands
            ]})
        );
    }

    /// A feature's own blocks come after the text and stay when a long text is cut.
    #[test]
    fn features_blocks_follow_the_text_and_are_kept() {
        let divider = || SlackBlock::from(SlackDividerBlock::new());
        let short = json(view("text", vec![divider()]));
        assert_eq!(short["blocks"][2]["type"], "divider");
        let long = "a line of text\n".repeat(100_000);
        let value = json(view(&long, vec![divider(), divider()]));
        let blocks = value["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 100);
        assert_eq!(blocks[97]["type"], "divider");
        assert_eq!(blocks[98]["type"], "divider");
        assert_eq!(blocks[99]["type"], "context");
        check_block_kit(&value).unwrap();
    }

    #[test]
    fn any_overview_fits_the_home_tab() {
        let long_line = "x".repeat(10_000);
        let emoji = "🦀👩‍👩‍👧‍👦 <!channel> ".repeat(3_000);
        let many_lines = "a line of text\n".repeat(100_000);
        for text in ["", &long_line, &emoji, &many_lines] {
            let value = json(view(text, Vec::new()));
            if let Err(e) = check_block_kit(&value) {
                panic!("{e}");
            }
        }
    }
}
