//! What a person reads back when they ask the bot something: the answer to a command
//! ([`Reply`]), to a button or a form ([`InteractionReply`]), and the one place where a failure
//! ([`UserError`], or an internal [`StoreError`] / [`SlackError`]) becomes a sentence. No Rust
//! error text reaches a person: internal errors are logged here and answered in plain words.

use std::collections::HashMap;

use crate::slack::SlackError;
use crate::store::StoreError;

/// An ephemeral answer to a slash command; empty text means "no visible answer" (a modal opened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
}

impl Reply {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into() }
    }

    pub fn none() -> Self {
        Self {
            text: String::new(),
        }
    }
}

impl From<Result<String, UserError>> for Reply {
    fn from(result: Result<String, UserError>) -> Self {
        match result {
            Ok(text) => Reply::new(text),
            Err(e) => Reply::new(e.text()),
        }
    }
}

impl From<UserError> for Reply {
    fn from(e: UserError) -> Self {
        Reply::new(e.text())
    }
}

/// What an interaction's ack carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractionReply {
    /// A bare ack.
    Ack,
    /// A modal submission with errors shown on its fields (block id → message).
    ViewErrors(HashMap<String, String>),
}

impl InteractionReply {
    /// `error`'s sentence, shown under the form's field `block`.
    pub fn on_field(block: &str, error: UserError) -> Self {
        Self::ViewErrors(HashMap::from([(block.to_owned(), error.text())]))
    }
}

/// Why the bot could not do what a person asked, as far as that person needs to know. Every
/// variant reads as a sentence through [`UserError::text`]; nothing here carries an internal
/// error's text, so none can leak.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserError {
    /// The feature refused, in its own words (not allowed, no such thing, not possible now):
    /// already a sentence for the person, and nothing was changed.
    Refused(String),
    /// What they typed could not be read: what was wrong, then how to write it.
    BadInput {
        problem: String,
        usage: &'static str,
    },
    /// A slash command no feature answers; `known` are the ones that are answered.
    UnknownCommand { command: String, known: Vec<String> },
    /// The store could not be read or written; a failed write changed nothing.
    StoreUnavailable,
    /// Slack would not do its part: `what` the bot could not do ("open the form"), and
    /// `instead`, what the person can do about it.
    SlackFailed { what: &'static str, instead: String },
    /// Something broke on the bot's side (a task panicked, a payload could not be read).
    Internal,
}

impl UserError {
    /// The sentence a person reads. The one function that words failures.
    pub fn text(&self) -> String {
        match self {
            UserError::Refused(sentence) => sentence.clone(),
            UserError::BadInput { problem, usage } => format!("{problem}\n\n{usage}"),
            UserError::UnknownCommand { command, known } => {
                let known: Vec<String> = known.iter().map(|c| format!("`{c}`")).collect();
                let list = match known.split_last() {
                    None => "no commands".to_owned(),
                    Some((last, [])) => last.clone(),
                    Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
                };
                format!(
                    "I don't know the command `{}`. I answer {list}.",
                    crate::domain::format::escape(command)
                )
            }
            UserError::StoreUnavailable => "Sorry, I could not reach my records just now, so nothing was changed. Please try again in a moment; if it keeps happening, ask whoever runs asyncbot to check its logs.".to_owned(),
            UserError::SlackFailed { what, instead } => {
                format!("I couldn't {what} just now. {instead}")
            }
            UserError::Internal => {
                "Sorry, something went wrong on my side. Please try again.".to_owned()
            }
        }
    }
}

/// A store failure is logged (for whoever runs the bot) and answered without its text.
impl From<StoreError> for UserError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "store error while answering a person");
        UserError::StoreUnavailable
    }
}

/// A Slack failure is logged and answered without its text (error codes mean nothing to a
/// person); the caller who knows a way around it says so with [`UserError::SlackFailed`].
impl From<SlackError> for UserError {
    fn from(e: SlackError) -> Self {
        tracing::warn!(error = %e, "Slack error while answering a person");
        UserError::SlackFailed {
            what: "reach Slack",
            instead: "Please try again in a moment.".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant, built the ways the bot builds them.
    fn all() -> Vec<UserError> {
        vec![
            UserError::Refused("Only the approver can decide it. Nothing was changed.".into()),
            UserError::BadInput {
                problem: "“25:00” is not a time.".into(),
                usage: "*`/standup at 09:30`* sets the time.",
            },
            UserError::UnknownCommand {
                command: "/weather".into(),
                known: vec!["/rfc".into(), "/decisions".into(), "/sla".into()],
            },
            UserError::from(StoreError::Corrupt {
                what: "sla_requests/0x3f".into(),
                reason: "table page checksum mismatch".into(),
            }),
            UserError::from(SlackError::Permanent("channel_not_found".into())),
            UserError::from(SlackError::Workspace("invalid_auth".into())),
            UserError::SlackFailed {
                what: "open the form",
                instead: "You can also type it: `/rfc Title approver:@who`.".into(),
            },
            UserError::Internal,
        ]
    }

    #[test]
    fn every_failure_reads_as_a_sentence() {
        for e in all() {
            let text = e.text();
            let first = text.chars().next().unwrap();
            // A capital, or a quote of what was typed, or a bold heading.
            assert!(
                first.is_uppercase() || "*“`".contains(first),
                "{e:?}: {text}"
            );
            assert!(
                text.trim_end().ends_with(['.', '`', '*']),
                "not a finished sentence: {text}"
            );
        }
    }

    #[test]
    fn no_internal_error_text_reaches_a_person() {
        let leaks = [
            "table",
            "sla_requests",
            "0x3f",
            "channel_not_found",
            "invalid_auth",
            "Error",
            "error",
            "Db(",
            "Permanent",
            "Some(",
            "{",
            "panicked",
        ];
        for e in all() {
            let text = e.text();
            for leak in leaks {
                assert!(!text.contains(leak), "{e:?} says {leak:?}: {text}");
            }
        }
    }

    #[test]
    fn store_and_slack_failures_have_their_own_words() {
        let store = UserError::from(StoreError::Task("join error".into())).text();
        assert!(store.contains("could not reach my records"), "{store}");
        assert!(store.contains("nothing was changed"), "{store}");
        let slack = UserError::from(SlackError::Transient("HTTP 502".into())).text();
        assert_eq!(
            slack,
            "I couldn't reach Slack just now. Please try again in a moment."
        );
        assert!(!slack.contains("502"), "{slack}");
    }

    #[test]
    fn an_unknown_command_lists_the_known_ones_and_is_inert() {
        let text = UserError::UnknownCommand {
            command: "/x<!channel>".into(),
            known: vec!["/rfc".into(), "/decisions".into(), "/sla".into()],
        }
        .text();
        assert_eq!(
            text,
            "I don't know the command `/x&lt;!channel&gt;`. I answer `/rfc`, `/decisions` and `/sla`."
        );
        let one = UserError::UnknownCommand {
            command: "/x".into(),
            known: vec!["/sla".into()],
        };
        assert!(one.text().ends_with("I answer `/sla`."), "{}", one.text());
    }

    #[test]
    fn a_refusal_and_bad_input_keep_the_features_words() {
        assert_eq!(
            UserError::Refused("There is no RFC-9.".into()).text(),
            "There is no RFC-9."
        );
        assert_eq!(
            UserError::BadInput {
                problem: "Missing approver.".into(),
                usage: "USAGE"
            }
            .text(),
            "Missing approver.\n\nUSAGE"
        );
    }

    #[test]
    fn a_form_error_lands_on_its_field() {
        assert_eq!(
            InteractionReply::on_field("title", UserError::Refused("Give it a title.".into())),
            InteractionReply::ViewErrors(HashMap::from([(
                "title".to_owned(),
                "Give it a title.".to_owned()
            )]))
        );
    }
}
