//! What an RFC looks like in Slack, as slack-morphism's typed Block Kit: the RFC card (posted,
//! then edited as the RFC moves on), the `/rfc` form and the approver's decision form. The
//! domain decides what is said and when; this module only lays it out. The block and action ids
//! are the ones [`crate::slack::dispatch`] reads submissions and button presses by.

use std::time::Duration;

use slack_morphism::prelude::*;

use crate::domain::format::{escape, excerpt, human_duration, mention, quote_slack, shorten};
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::rfc::{
    MAX_CONTRIBUTORS, MAX_INFORMED_CHANNELS, MAX_INFORMED_PEOPLE, Rfc, SECTION_TEXT_CHARS, Verdict,
    message_tag, rfc_name,
};
use crate::slack::block_kit;

/// Slack's limit for a header block's plain text.
const HEADER_CHARS: usize = 150;
/// What the forms accept in a free-text field; escaping may lengthen it, `shorten` bounds it.
const MODAL_TEXT_CHARS: usize = 2_500;

fn mrkdwn(text: impl Into<String>) -> SlackBlockText {
    SlackBlockText::MarkDown(SlackBlockMarkDownText::new(text.into()))
}

fn plain(text: impl Into<String>) -> SlackBlockPlainTextOnly {
    SlackBlockPlainText::new(text.into()).into()
}

fn note(text: impl Into<String>) -> SlackContextBlock {
    SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
        SlackBlockMarkDownText::new(text.into()),
    )])
}

fn button(action_id: &str, text: &str, value: &str) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(plain(text))
        .with_action_id(action_id.into())
        .with_value(value.to_owned())
}

/// The RFC message: title, status, roles, the template, and (while it is open) the buttons.
pub fn card(rfc: &Rfc) -> Vec<SlackBlock> {
    let people = |ids: &[String]| {
        if ids.is_empty() {
            "—".to_owned()
        } else {
            ids.iter().map(|u| mention(u)).collect::<Vec<_>>().join(" ")
        }
    };
    let informed: Vec<String> = rfc
        .informed_channels
        .iter()
        .map(|c| format!("<#{c}>"))
        .chain(rfc.informed_users.iter().map(|u| mention(u)))
        .collect();
    let informed = if informed.is_empty() {
        "—".to_owned()
    } else {
        informed.join(" ")
    };
    let context = if rfc.context.trim().is_empty() {
        "_The problem, and why now._".to_owned()
    } else {
        // Shortened after quoting: quoting escapes a stray `<` into four characters.
        shorten(&quote_slack(rfc.context.trim()), SECTION_TEXT_CHARS)
    };
    let id = rfc.id.to_string();
    slack_blocks![
        // A header holds at most 150 characters of plain text; the title alone may be 150.
        some_into(SlackHeaderBlock::new(plain(excerpt(
            &format!("{}: {}", rfc.name(), rfc.title),
            HEADER_CHARS
        )))),
        some_into(SlackSectionBlock::new().with_text(mrkdwn(rfc.status_line()))),
        some_into(SlackSectionBlock::new().with_fields(vec![
            mrkdwn(format!("*Driver*\n{}", mention(&rfc.driver))),
            mrkdwn(format!("*Approver*\n{}", mention(&rfc.approver))),
            mrkdwn(format!("*Contributors*\n{}", people(&rfc.contributors))),
            mrkdwn(format!("*Informed*\n{informed}")),
        ])),
        optionally_into(rfc.supersedes.is_some() => note(format!(
            "Supersedes {}.",
            rfc.supersedes.map(rfc_name).unwrap_or_default()
        ))),
        some_into(SlackSectionBlock::new().with_text(mrkdwn(format!(
            "*Context*\n{context}\n*Options considered*\n_Each option with its pros, cons, cost and effort._\n\
             *Decision*\n_The approver's call, and why._\n*Consequences*\n_What changes, and who must know._"
        )))),
        optionally_into(rfc.status.is_open() => note(
            "Comment in this thread. Contributors: comment, or press *No comments from me*. Contributors who stay silent do not block the decision."
        )),
        optionally_into(rfc.status.is_open() => SlackActionsBlock::new(vec![
            button("rfc_no_comments", "No comments from me", &id).into(),
            button("rfc_accept", "Accept", &id)
                .with_style(SlackBlockButtonStyle::Primary)
                .into(),
            button("rfc_reject", "Reject", &id)
                .with_style(SlackBlockButtonStyle::Danger)
                .into(),
        ])
        .with_block_id(format!("rfc_actions:{}", rfc.id).into()))
    ]
}

/// Puts the card on the messages that are the RFC's message (its post, tagged with the RFC, and
/// its edits), drawn from `rfc` as it is after the change that caused them. The domain leaves
/// them as text: how the card looks is this module's business.
pub fn with_card(rfc: &Rfc, messages: Vec<OutgoingMessage>) -> Vec<OutgoingMessage> {
    let tag = message_tag(rfc.id);
    messages
        .into_iter()
        .map(|m| {
            let is_card = m.tag.as_deref() == Some(tag.as_str())
                || matches!(&m.destination, Destination::Edit { tag: t, .. } if *t == tag);
            if is_card {
                m.with_blocks(block_kit::to_json(&card(rfc)))
            } else {
                m
            }
        })
        .collect()
}

fn input(
    block_id: &str,
    label: &str,
    element: impl Into<SlackInputBlockElement>,
) -> SlackInputBlock {
    SlackInputBlock::new(plain(label), element.into()).with_block_id(block_id.into())
}

fn text_input() -> SlackBlockPlainTextInputElement {
    SlackBlockPlainTextInputElement::new().with_action_id("value".into())
}

/// The modal `/rfc` alone opens. `channel` travels in `private_metadata`.
pub fn open_modal(channel: &str, default_window: Duration) -> SlackModalView {
    let multi_users = |max: usize| {
        SlackBlockMultiUsersSelectElement::new()
            .with_action_id("value".into())
            .with_max_selected_items(max as u64)
    };
    SlackModalView::new(
        plain("New RFC"),
        slack_blocks![
            some_into(input(
                "title",
                "Title",
                text_input()
                    .with_max_length(150)
                    .with_placeholder(plain("Adopt Rust for the billing service")),
            )),
            some_into(
                input(
                    "context",
                    "Context: the problem, and why now",
                    text_input()
                        .with_multiline(true)
                        .with_max_length(MODAL_TEXT_CHARS as u64),
                )
                .with_optional(true)
            ),
            some_into(input(
                "approver",
                "Approver (exactly one)",
                SlackBlockUsersSelectElement::new().with_action_id("value".into()),
            )),
            some_into(
                input(
                    "contributors",
                    "Contributors",
                    multi_users(MAX_CONTRIBUTORS)
                )
                .with_optional(true)
            ),
            some_into(
                input(
                    "informed_channels",
                    "Informed channels",
                    SlackBlockMultiConversationsSelectElement::new()
                        .with_action_id("value".into())
                        .with_max_selected_items(MAX_INFORMED_CHANNELS as u64)
                        .with_filter(SlackBlockConversationFilter::new().with_include(vec![
                            SlackConversationFilterInclude::Public,
                            SlackConversationFilterInclude::Private,
                        ])),
                )
                .with_optional(true)
            ),
            some_into(
                input(
                    "informed_users",
                    "Informed people",
                    multi_users(MAX_INFORMED_PEOPLE)
                )
                .with_optional(true)
            ),
            some_into(
                input(
                    "window",
                    "Comment window",
                    text_input().with_placeholder(plain(
                        humantime::format_duration(default_window).to_string()
                    )),
                )
                .with_optional(true)
                .with_hint(plain(format!(
                    "Like 48h or 3d. Default: {}.",
                    human_duration(default_window)
                )))
            )
        ],
    )
    .with_callback_id("rfc_open".into())
    .with_private_metadata(channel.to_owned())
    .with_submit(plain("Post RFC"))
    .with_close(plain("Cancel"))
}

/// The modal the Accept / Reject buttons open, asking the approver for the rationale.
pub fn decide_modal(id: u64, verdict: Verdict, title: &str) -> SlackModalView {
    let word = match verdict {
        Verdict::Accept => "Accept",
        Verdict::Reject => "Reject",
    };
    SlackModalView::new(
        plain(format!("{word} {}", rfc_name(id))),
        slack_blocks![
            // Titles are at most 150 characters when they come in; bounded here all the same,
            // since escaping lengthens them and a section holds 3,000.
            some_into(SlackSectionBlock::new().with_text(mrkdwn(format!(
                "*{}: {}*",
                rfc_name(id),
                shorten(&escape(title), SECTION_TEXT_CHARS)
            )))),
            some_into(input(
                "rationale",
                "Rationale: why this decision",
                text_input()
                    .with_multiline(true)
                    .with_max_length(MODAL_TEXT_CHARS as u64),
            ))
        ],
    )
    .with_callback_id("rfc_decide".into())
    .with_private_metadata(format!("{id}:{}", verdict.word()))
    .with_submit(plain(word))
    .with_close(plain("Cancel"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::calendar::BusinessCalendar;
    use crate::domain::rfc::tests::settings;
    use crate::domain::rfc::{NewRfc, RfcContext};
    use crate::domain::sla::{LadderStep, StepAction};
    use crate::slack::block_kit::check_block_kit;
    use chrono::TimeZone;
    use serde_json::Value;

    fn ladder() -> Vec<LadderStep> {
        vec![LadderStep {
            after: Duration::ZERO,
            action: StepAction::ThreadMention,
        }]
    }

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap()
    }

    fn new_rfc() -> NewRfc {
        NewRfc {
            title: "Adopt Rust for the billing service".into(),
            context:
                "Billing crashes weekly; <@UCAROL|carol> measured it. <!channel> see\nline two"
                    .into(),
            channel: "CARCH".into(),
            driver: "UALICE".into(),
            approver: "UBOB".into(),
            contributors: vec!["UCAROL".into(), "UDAVE".into()],
            informed_users: vec!["UERIN".into()],
            informed_channels: vec!["CANN".into()],
            window: Duration::from_secs(72 * 3600),
            driver_tz: chrono_tz::Europe::Berlin,
            approver_tz: chrono_tz::Europe::Berlin,
        }
    }

    /// Opens `new` as RFC `id`; returns it and its first post, as the flow enqueues it.
    fn open(id: u64, new: NewRfc) -> (Rfc, OutgoingMessage) {
        let (s, cal, ladder) = (settings(), BusinessCalendar::always(), ladder());
        let ctx = RfcContext {
            settings: &s,
            calendar: &cal,
            ladder: &ladder,
            permalink: None,
            people: Default::default(),
        };
        let (rfc, out) = Rfc::open(id, new, now(), &ctx);
        let post = with_card(&rfc, out).remove(0);
        (rfc, post)
    }

    fn decide(rfc: &mut Rfc, rationale: &str) -> Vec<OutgoingMessage> {
        let (s, cal, ladder) = (settings(), BusinessCalendar::always(), ladder());
        let ctx = RfcContext {
            settings: &s,
            calendar: &cal,
            ladder: &ladder,
            permalink: Some("https://acme.slack.com/archives/CARCH/p1".into()),
            people: Default::default(),
        };
        let out = rfc
            .decide("UBOB", Verdict::Accept, rationale, now(), &ctx)
            .unwrap();
        with_card(rfc, out)
    }

    fn modal_json(view: SlackModalView) -> Value {
        serde_json::to_value(SlackView::Modal(view)).unwrap()
    }

    fn golden(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// The JSON the domain built by hand before the blocks were typed: the same blocks, ids and
    /// texts go out (compared as JSON values, so key order does not matter).
    #[test]
    fn the_typed_blocks_are_the_json_sent_before() {
        let (open_rfc, post) = open(12, new_rfc());
        assert_eq!(
            post.blocks,
            Some(golden(include_str!("testdata/card_open.json")))
        );
        let mut decided = open_rfc.clone();
        let out = decide(&mut decided, "Safer <and> faster.\n<!here> second");
        assert_eq!(
            out[0].blocks,
            Some(golden(include_str!("testdata/card_accepted.json")))
        );
        let bare = NewRfc {
            title: "Use <Postgres> & more".into(),
            context: String::new(),
            contributors: vec![],
            informed_users: vec![],
            informed_channels: vec![],
            ..new_rfc()
        };
        let (mut superseding, _) = open(13, bare);
        superseding.supersedes = Some(12);
        assert_eq!(
            block_kit::to_json(&card(&superseding)),
            golden(include_str!("testdata/card_superseding.json"))
        );
        assert_eq!(
            modal_json(open_modal("CARCH", Duration::from_secs(48 * 3600))),
            golden(include_str!("testdata/open_modal.json"))
        );
        assert_eq!(
            modal_json(decide_modal(12, Verdict::Reject, "Use <Postgres> & more")),
            golden(include_str!("testdata/decide_modal.json"))
        );
    }

    #[test]
    fn only_the_rfc_message_gets_the_card() {
        let (mut rfc, post) = open(12, new_rfc());
        assert_eq!(post.tag.as_deref(), Some("rfc:12"));
        let blocks = post.blocks.unwrap().to_string();
        assert!(blocks.contains("RFC-12: Adopt Rust for the billing service"));
        assert!(blocks.contains("<!date^"));
        assert!(blocks.contains("rfc_no_comments") && blocks.contains("rfc_accept"));
        let out = decide(&mut rfc, "Safer and faster.");
        assert!(matches!(&out[0].destination, Destination::Edit { tag, .. } if tag == "rfc:12"));
        let card = out[0].blocks.as_ref().unwrap().to_string();
        assert!(card.contains("Accepted"));
        assert!(!card.contains("rfc_accept"), "no buttons once decided");
        assert!(
            out[1..].iter().all(|m| m.blocks.is_none()),
            "the thread note and the notices to the Informed are text"
        );
    }

    /// Every mrkdwn text in blocks, except the header, whose plain_text Slack shows literally
    /// (a title typed as `<!here>` reads `<!here>` and pings nobody).
    fn all_mrkdwn(messages: &[OutgoingMessage]) -> String {
        let mut out = String::new();
        for m in messages {
            out.push_str(&m.text);
            for block in m
                .blocks
                .iter()
                .flat_map(|b| b.as_array().cloned().unwrap_or_default())
            {
                if block["type"] != "header" {
                    out.push_str(&block.to_string());
                }
            }
        }
        out
    }

    #[test]
    fn user_text_never_broadcasts_and_fits_slack() {
        let mut new = new_rfc();
        // A title is plain text: whatever it holds is escaped on the way out.
        new.title = format!("<!here> {}", "t".repeat(142));
        // The context is mrkdwn (escaped from the modal, or as Slack sent it).
        new.context = format!("<!channel> see <@UCAROL|carol> {}", "c".repeat(5_000));
        let (mut rfc, post) = open(12, new);
        check_block_kit(post.blocks.as_ref().unwrap()).unwrap();
        let rationale =
            "<!channel> because <@UCAROL|carol> measured it\nsecond line <!subteam^S1|@eng>";
        let mut out = vec![post];
        out.extend(decide(&mut rfc, rationale));
        check_block_kit(out[1].blocks.as_ref().unwrap()).unwrap();
        let everything = all_mrkdwn(&out);
        for broadcast in ["<!here", "<!channel", "<!everyone", "<!subteam"] {
            assert!(
                !everything.contains(broadcast),
                "{broadcast} in {everything}"
            );
        }
        assert!(
            everything.contains("<@UCAROL|carol> measured it"),
            "mentions stay mentions"
        );
    }

    /// What a hostile or unlucky person can put in an RFC, in every state the card has, and in
    /// the forms: all of it within Block Kit's limits.
    fn check_everything(title: &str, context: &str, rationale: &str, people: usize) {
        let user = |i: usize| format!("U{i:010}");
        let mut new = new_rfc();
        new.title = title.to_owned();
        new.context = context.to_owned();
        new.contributors = (0..people.min(MAX_CONTRIBUTORS)).map(user).collect();
        new.informed_users = (0..people.min(MAX_INFORMED_PEOPLE)).map(user).collect();
        new.informed_channels = (0..people.min(MAX_INFORMED_CHANNELS))
            .map(|i| format!("C{i:010}"))
            .collect();
        let (mut rfc, post) = open(987_654_321, new);
        let check = |what: &str, value: &Value| {
            if let Err(e) = check_block_kit(value) {
                panic!("{what}: {e}\n{value:#}");
            }
        };
        check("the posted card", post.blocks.as_ref().unwrap());
        let mut superseding = rfc.clone();
        superseding.supersedes = Some(u64::from(u32::MAX));
        check(
            "a superseding card",
            &block_kit::to_json(&card(&superseding)),
        );
        for verdict in [Verdict::Accept, Verdict::Reject] {
            check(
                "the decide form",
                &modal_json(decide_modal(rfc.id, verdict, title)),
            );
        }
        let out = decide(&mut rfc, rationale);
        check("the decided card", out[0].blocks.as_ref().unwrap());
        check(
            "the /rfc form",
            &modal_json(open_modal(
                "C0123456789",
                Duration::from_secs(14 * 24 * 3600),
            )),
        );
    }

    #[test]
    fn hostile_text_stays_within_block_kit_limits() {
        let long = "x".repeat(10_000);
        check_everything(&long, &long, &long, 100);
        let emoji = "🦀👩‍👩‍👧‍👦 ".repeat(2_000);
        check_everything(&emoji, &emoji, &emoji, 0);
        let broadcast = "<!channel> <!here|here> ".repeat(500);
        check_everything(&broadcast, &broadcast, &broadcast, 3);
        // Raw text from a modal is not escaped by Slack: every `<` becomes `&lt;`.
        let angles = "<".repeat(2_500);
        check_everything(&angles, &angles, &angles, 1);
        let amps = "&".repeat(10_000);
        check_everything(&amps, &amps, &amps, 1);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_title_text_and_roles_fit_block_kit(
            title in proptest::prelude::any::<String>(),
            context in "(\\PC|<|>|&|<!channel>|\n){0,600}",
            rationale in "(\\PC|<|>|&|<!here>|\n){0,600}",
            people in 0usize..120,
        ) {
            check_everything(&title, &context, &rationale, people);
        }
    }
}
