//! Buttons and form submissions in our own terms: both transports hand the dispatcher Slack's
//! interaction payloads, and it gives features a [`BlockAction`] or a [`ViewSubmission`], so a
//! feature reads a click or a form without knowing slack-morphism's types.

use std::collections::HashMap;

use slack_morphism::prelude::*;

/// One button clicked in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAction {
    pub user: String,
    /// Where the message is; `None` for a button in a modal or on the Home tab.
    pub channel: Option<String>,
    pub action_id: String,
    /// A button's value, or the picked option's value for a select menu.
    pub value: Option<String>,
    /// Opens a modal within 3 s of the click.
    pub trigger_id: String,
}

impl BlockAction {
    /// Each action of a `block_actions` payload clicked by a person.
    pub fn all_in(event: &SlackInteractionBlockActionsEvent) -> Vec<BlockAction> {
        let Some(user) = event.user.as_ref().map(|u| u.id.0.clone()) else {
            return Vec::new();
        };
        let channel = event.channel.as_ref().map(|c| c.id.0.clone());
        event
            .actions
            .iter()
            .flatten()
            .map(|action| BlockAction {
                user: user.clone(),
                channel: channel.clone(),
                action_id: action.action_id.0.clone(),
                // A button's value, or the value of the option picked in a select menu.
                value: action.value.clone().or_else(|| {
                    action
                        .selected_option
                        .as_ref()
                        .map(|option| option.value.clone())
                }),
                trigger_id: event.trigger_id.0.clone(),
            })
            .collect()
    }
}

/// A modal's form, submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewSubmission {
    pub user: String,
    pub callback_id: String,
    /// What the bot put in the modal when it opened it (a channel, an RFC and a verdict…).
    pub private_metadata: String,
    pub values: ViewValues,
}

impl ViewSubmission {
    /// The submission of a modal; `None` for any other kind of view.
    pub fn from_event(event: &SlackInteractionViewSubmissionEvent) -> Option<Self> {
        let SlackView::Modal(modal) = &event.view.view else {
            return None;
        };
        let values = event
            .view
            .state_params
            .state
            .as_ref()
            .map(|s| ViewValues::from_state(&s.values))
            .unwrap_or_default();
        Some(Self {
            user: event.user.id.0.clone(),
            callback_id: modal
                .callback_id
                .as_ref()
                .map(|c| c.0.clone())
                .unwrap_or_default(),
            private_metadata: modal.private_metadata.clone().unwrap_or_default(),
            values,
        })
    }
}

/// One input of a submitted form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Field {
    text: Option<String>,
    user: Option<String>,
    /// Selected users, then selected conversations, without repeats.
    many: Vec<String>,
    /// The values of the checked options (checkboxes).
    options: Vec<String>,
}

/// A modal's submitted values by block id: each input's value (the input's action id is
/// `value`, as the bot's modals name it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewValues(HashMap<String, Field>);

impl ViewValues {
    pub fn from_state(
        state: &HashMap<SlackBlockId, HashMap<SlackActionId, SlackViewStateValue>>,
    ) -> Self {
        let value = SlackActionId("value".to_owned());
        let fields = state
            .iter()
            .filter_map(|(block, inputs)| {
                let input = inputs.get(&value)?;
                let mut many: Vec<String> = Vec::new();
                for id in input
                    .selected_users
                    .iter()
                    .flatten()
                    .map(|u| u.0.clone())
                    .chain(
                        input
                            .selected_conversations
                            .iter()
                            .flatten()
                            .map(|c| c.0.clone()),
                    )
                {
                    if !many.contains(&id) {
                        many.push(id);
                    }
                }
                let field = Field {
                    text: input.value.clone(),
                    user: input.selected_user.as_ref().map(|u| u.0.clone()),
                    many,
                    options: input
                        .selected_options
                        .iter()
                        .flatten()
                        .map(|o| o.value.clone())
                        .collect(),
                };
                Some((block.0.clone(), field))
            })
            .collect();
        Self(fields)
    }

    /// A text input's value.
    pub fn text(&self, block: &str) -> Option<String> {
        self.0.get(block)?.text.clone()
    }

    /// A single user picker's choice.
    pub fn user(&self, block: &str) -> Option<String> {
        self.0.get(block)?.user.clone()
    }

    /// Selected users, or selected conversations for a conversations picker.
    pub fn users(&self, block: &str) -> Vec<String> {
        self.0
            .get(block)
            .map(|f| f.many.clone())
            .unwrap_or_default()
    }
}

impl ViewValues {
    /// The values of the options checked in a checkboxes input (none if it is missing).
    pub fn options(&self, block: &str) -> Vec<String> {
        self.0
            .get(block)
            .map(|f| f.options.clone())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_read_by_block_without_repeats() {
        let state: HashMap<SlackBlockId, HashMap<SlackActionId, SlackViewStateValue>> =
            serde_json::from_value(serde_json::json!({
                "title": { "value": { "type": "plain_text_input", "value": "Move to Postgres" } },
                "approver": { "value": { "type": "users_select", "selected_user": "UBOB" } },
                "contributors": { "value": { "type": "multi_users_select",
                    "selected_users": ["UCAROL", "UDAVE", "UCAROL"] } },
                "informed_channels": { "value": { "type": "multi_conversations_select",
                    "selected_conversations": ["CGEN"] } },
                "days": { "value": { "type": "checkboxes", "selected_options": [
                    { "text": { "type": "plain_text", "text": "Mon" }, "value": "mon" },
                    { "text": { "type": "plain_text", "text": "Tue" }, "value": "tue" } ] } },
                "other": { "not_value": { "type": "plain_text_input", "value": "ignored" } }
            }))
            .unwrap();
        let values = ViewValues::from_state(&state);
        assert_eq!(values.text("title").as_deref(), Some("Move to Postgres"));
        assert_eq!(values.user("approver").as_deref(), Some("UBOB"));
        assert_eq!(values.users("contributors"), ["UCAROL", "UDAVE"]);
        assert_eq!(values.users("informed_channels"), ["CGEN"]);
        assert_eq!(values.text("other"), None);
        assert!(values.users("missing").is_empty());
        assert_eq!(values.options("days"), ["mon", "tue"]);
        assert!(values.options("title").is_empty() && values.options("missing").is_empty());
    }
}
