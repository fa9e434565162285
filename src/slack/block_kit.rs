//! Block Kit as it goes out: typed blocks turned into the JSON the outbox stores, and a check of
//! that JSON against Slack's published limits, so tests catch what Slack would refuse before
//! Slack answers (`invalid_blocks` on a card edit drops it; on `views.open` the form never shows).

use serde_json::Value;
use slack_morphism::prelude::SlackBlock;

/// Typed blocks in the form the outbox stores (JSON, so stores written before stay readable).
pub fn to_json(blocks: &[SlackBlock]) -> Value {
    // Blocks hold only strings, numbers, booleans, lists and string-keyed maps: serializing them
    // into a `Value` cannot fail.
    serde_json::to_value(blocks).expect("Block Kit blocks serialize to JSON")
}

/// The most blocks in a message.
const MESSAGE_BLOCKS: usize = 50;
/// The most blocks in a modal or the Home tab.
const VIEW_BLOCKS: usize = 100;
const HEADER_TEXT: usize = 150;
const SECTION_TEXT: usize = 3_000;
const SECTION_FIELDS: usize = 10;
const FIELD_TEXT: usize = 2_000;
const CONTEXT_ELEMENTS: usize = 10;
const ACTIONS_ELEMENTS: usize = 25;
const BUTTON_TEXT: usize = 75;
const BUTTON_VALUE: usize = 2_000;
const ID_CHARS: usize = 255;
const MODAL_TITLE: usize = 24;
const MODAL_BUTTON: usize = 24;
const PRIVATE_METADATA: usize = 3_000;
const INPUT_LABEL: usize = 2_000;
const INPUT_HINT: usize = 2_000;
const PLACEHOLDER: usize = 150;
const TEXT_INPUT_MAX_LENGTH: u64 = 3_000;
const SELECT_MAX_ITEMS: u64 = 100;
const SELECT_OPTIONS: usize = 100;
const CHECKBOX_OPTIONS: usize = 10;
const OPTION_TEXT: usize = 75;
const OPTION_VALUE: usize = 150;

/// Checks a message's blocks (a JSON array) or a view (`{"type": "modal" | "home", …}`) against
/// Block Kit's limits: block counts, text lengths, ids, unique block and action ids. The error
/// names the block and the rule.
pub fn check_block_kit(value: &Value) -> Result<(), String> {
    match value {
        Value::Array(blocks) => check_blocks(blocks, MESSAGE_BLOCKS),
        Value::Object(view) => {
            let kind = view.get("type").and_then(Value::as_str).unwrap_or("");
            match kind {
                "modal" => {
                    text_object(&value["title"], "plain_text", 1, MODAL_TITLE, "modal title")?;
                    for button in ["submit", "close"] {
                        if let Some(text) = view.get(button) {
                            text_object(text, "plain_text", 1, MODAL_BUTTON, button)?;
                        }
                    }
                }
                "home" => {}
                other => return Err(format!("a view of type {other:?}")),
            }
            optional_len(view.get("callback_id"), ID_CHARS, "callback_id")?;
            optional_len(
                view.get("private_metadata"),
                PRIVATE_METADATA,
                "private_metadata",
            )?;
            let blocks = view
                .get("blocks")
                .and_then(Value::as_array)
                .ok_or("a view without blocks")?;
            check_blocks(blocks, VIEW_BLOCKS)
        }
        _ => Err("neither a list of blocks nor a view".into()),
    }
}

fn check_blocks(blocks: &[Value], max: usize) -> Result<(), String> {
    if blocks.len() > max {
        return Err(format!("{} blocks; at most {max}", blocks.len()));
    }
    let mut block_ids = std::collections::HashSet::new();
    for (i, block) in blocks.iter().enumerate() {
        let kind = block["type"].as_str().unwrap_or("");
        check_block(block, kind).map_err(|e| format!("block {i} ({kind}): {e}"))?;
        if let Some(id) = block.get("block_id").and_then(Value::as_str)
            && !block_ids.insert(id)
        {
            return Err(format!("block {i} ({kind}): block_id {id:?} is used twice"));
        }
    }
    Ok(())
}

fn check_block(block: &Value, kind: &str) -> Result<(), String> {
    optional_len(block.get("block_id"), ID_CHARS, "block_id")?;
    match kind {
        "header" => text_object(&block["text"], "plain_text", 1, HEADER_TEXT, "text"),
        "section" => {
            let text = block.get("text");
            let fields = block.get("fields").and_then(Value::as_array);
            if text.is_none() && fields.is_none() {
                return Err("neither text nor fields".into());
            }
            if let Some(text) = text {
                any_text(text, SECTION_TEXT, "text")?;
            }
            if let Some(accessory) = block.get("accessory") {
                check_element(accessory).map_err(|e| format!("accessory: {e}"))?;
            }
            if let Some(fields) = fields {
                if fields.len() > SECTION_FIELDS {
                    return Err(format!("{} fields; at most {SECTION_FIELDS}", fields.len()));
                }
                for (i, field) in fields.iter().enumerate() {
                    any_text(field, FIELD_TEXT, &format!("field {i}"))?;
                }
            }
            Ok(())
        }
        "context" => {
            let elements = elements(block)?;
            if elements.len() > CONTEXT_ELEMENTS {
                return Err(format!(
                    "{} elements; at most {CONTEXT_ELEMENTS}",
                    elements.len()
                ));
            }
            for (i, element) in elements.iter().enumerate() {
                any_text(element, SECTION_TEXT, &format!("element {i}"))?;
            }
            Ok(())
        }
        "actions" => {
            let elements = elements(block)?;
            if elements.len() > ACTIONS_ELEMENTS {
                return Err(format!(
                    "{} elements; at most {ACTIONS_ELEMENTS}",
                    elements.len()
                ));
            }
            let mut action_ids = std::collections::HashSet::new();
            for (i, element) in elements.iter().enumerate() {
                check_element(element).map_err(|e| format!("element {i}: {e}"))?;
                if let Some(id) = element.get("action_id").and_then(Value::as_str)
                    && !action_ids.insert(id)
                {
                    return Err(format!("action_id {id:?} is used twice"));
                }
            }
            Ok(())
        }
        "input" => {
            text_object(&block["label"], "plain_text", 1, INPUT_LABEL, "label")?;
            if let Some(hint) = block.get("hint") {
                text_object(hint, "plain_text", 1, INPUT_HINT, "hint")?;
            }
            check_element(&block["element"]).map_err(|e| format!("element: {e}"))
        }
        "divider" => Ok(()),
        other => Err(format!("unchecked block type {other:?}")),
    }
}

fn elements(block: &Value) -> Result<&Vec<Value>, String> {
    match block.get("elements").and_then(Value::as_array) {
        Some(elements) if !elements.is_empty() => Ok(elements),
        _ => Err("no elements".into()),
    }
}

/// Interactive elements: buttons, text inputs and the user and conversation pickers we use.
fn check_element(element: &Value) -> Result<(), String> {
    optional_len(element.get("action_id"), ID_CHARS, "action_id")?;
    if let Some(placeholder) = element.get("placeholder") {
        text_object(placeholder, "plain_text", 1, PLACEHOLDER, "placeholder")?;
    }
    match element["type"].as_str().unwrap_or("") {
        "button" => {
            text_object(
                &element["text"],
                "plain_text",
                1,
                BUTTON_TEXT,
                "button text",
            )?;
            optional_len(element.get("value"), BUTTON_VALUE, "button value")
        }
        "plain_text_input" => {
            let max = match element.get("max_length").map(Value::as_u64) {
                Some(Some(n)) if n == 0 || n > TEXT_INPUT_MAX_LENGTH => {
                    return Err(format!(
                        "max_length {n}; between 1 and {TEXT_INPUT_MAX_LENGTH}"
                    ));
                }
                Some(None) => return Err("max_length is not a number".into()),
                Some(Some(n)) => n,
                None => TEXT_INPUT_MAX_LENGTH,
            };
            optional_len(element.get("initial_value"), max as usize, "initial_value")
        }
        "checkboxes" => {
            let options = element["options"].as_array().ok_or("no options")?;
            if options.is_empty() || options.len() > CHECKBOX_OPTIONS {
                return Err(format!(
                    "{} options; 1 to {CHECKBOX_OPTIONS}",
                    options.len()
                ));
            }
            for (i, option) in options.iter().enumerate() {
                any_text(&option["text"], OPTION_TEXT, &format!("option {i}"))?;
                optional_len(option.get("value"), OPTION_VALUE, "option value")?;
            }
            // Slack refuses a checked option that is not exactly one of the options.
            for initial in element["initial_options"].as_array().into_iter().flatten() {
                if !options.contains(initial) {
                    return Err(format!("initial option {initial} is not an option"));
                }
            }
            Ok(())
        }
        "users_select" => Ok(()),
        "static_select" => {
            let options = match element.get("options").and_then(Value::as_array) {
                Some(options) if !options.is_empty() => options,
                _ => return Err("a static_select without options".into()),
            };
            if options.len() > SELECT_OPTIONS {
                return Err(format!(
                    "{} options; at most {SELECT_OPTIONS}",
                    options.len()
                ));
            }
            for option in options {
                text_object(&option["text"], "plain_text", 1, OPTION_TEXT, "option text")?;
                match option["value"].as_str() {
                    Some(v) if !v.is_empty() && v.chars().count() <= OPTION_VALUE => {}
                    _ => return Err(format!("an option value; 1 to {OPTION_VALUE} characters")),
                }
            }
            Ok(())
        }
        "multi_users_select" | "multi_conversations_select" => {
            match element.get("max_selected_items").map(Value::as_u64) {
                Some(Some(n)) if n == 0 || n > SELECT_MAX_ITEMS => Err(format!(
                    "max_selected_items {n}; between 1 and {SELECT_MAX_ITEMS}"
                )),
                Some(None) => Err("max_selected_items is not a number".into()),
                _ => Ok(()),
            }
        }
        other => Err(format!("unchecked element type {other:?}")),
    }
}

/// A text object of either kind (sections, fields and context take both).
fn any_text(text: &Value, max: usize, what: &str) -> Result<(), String> {
    let kind = text["type"].as_str().unwrap_or("");
    if kind != "mrkdwn" && kind != "plain_text" {
        return Err(format!("{what} is not a text object"));
    }
    text_object(text, kind, 1, max, what)
}

fn text_object(text: &Value, kind: &str, min: usize, max: usize, what: &str) -> Result<(), String> {
    if text["type"] != kind {
        return Err(format!("{what} is not {kind}"));
    }
    let Some(s) = text["text"].as_str() else {
        return Err(format!("{what} has no text"));
    };
    let n = s.chars().count();
    if n < min || n > max {
        return Err(format!("{what} is {n} characters; {min} to {max}"));
    }
    Ok(())
}

fn optional_len(value: Option<&Value>, max: usize, what: &str) -> Result<(), String> {
    let Some(value) = value else {
        return Ok(());
    };
    let Some(s) = value.as_str() else {
        return Err(format!("{what} is not a string"));
    };
    let n = s.chars().count();
    if n > max {
        return Err(format!("{what} is {n} characters; at most {max}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn section(text: &str) -> Value {
        json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    }

    #[test]
    fn limits_are_enforced_where_slack_enforces_them() {
        assert!(check_block_kit(&json!([section("ok")])).is_ok());
        let long = "x".repeat(3_001);
        assert!(
            check_block_kit(&json!([section(&long)]))
                .unwrap_err()
                .contains("3001 characters")
        );
        assert!(
            check_block_kit(&json!([section("")])).is_err(),
            "empty text"
        );
        let header =
            json!([{"type": "header", "text": {"type": "plain_text", "text": "é".repeat(151)}}]);
        assert!(check_block_kit(&header).is_err());
        let mrkdwn_header = json!([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]);
        assert!(check_block_kit(&mrkdwn_header).is_err());
        let many: Vec<Value> = (0..51).map(|_| section("s")).collect();
        assert!(check_block_kit(&Value::Array(many.clone())).is_err());
        let home = json!({"type": "home", "blocks": many});
        assert!(check_block_kit(&home).is_ok(), "a view holds 100");
        let fields: Vec<Value> = (0..11)
            .map(|_| json!({"type": "mrkdwn", "text": "f"}))
            .collect();
        assert!(check_block_kit(&json!([{"type": "section", "fields": fields}])).is_err());
        let field =
            json!([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f".repeat(2_001)}]}]);
        assert!(check_block_kit(&field).is_err());
    }

    #[test]
    fn checkboxes_accessories_and_initial_values_are_checked() {
        let option = |v: &str| json!({"text": {"type": "plain_text", "text": v}, "value": v});
        let input = |element: Value| json!([{"type": "input", "label": {"type": "plain_text", "text": "L"}, "element": element}]);
        let boxes = |options: Vec<Value>, initial: Vec<Value>| {
            input(json!({"type": "checkboxes", "options": options, "initial_options": initial}))
        };
        assert!(check_block_kit(&boxes(vec![option("mon")], vec![option("mon")])).is_ok());
        assert!(check_block_kit(&boxes(vec![option("mon")], vec![option("tue")])).is_err());
        assert!(check_block_kit(&boxes(vec![], vec![])).is_err());
        assert!(
            check_block_kit(&boxes(
                (0..11).map(|i| option(&i.to_string())).collect(),
                vec![]
            ))
            .is_err()
        );
        assert!(check_block_kit(&boxes(vec![option(&"x".repeat(76))], vec![])).is_err());
        let text_input = |initial: &str| {
            input(json!({"type": "plain_text_input", "max_length": 5, "initial_value": initial}))
        };
        assert!(check_block_kit(&text_input("12345")).is_ok());
        assert!(check_block_kit(&text_input("123456")).is_err());
        let accessory = |text: &str| {
            json!([{"type": "section", "text": {"type": "mrkdwn", "text": "s"},
            "accessory": {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": text}}}])
        };
        assert!(check_block_kit(&accessory("Change")).is_ok());
        assert!(check_block_kit(&accessory(&"x".repeat(76))).is_err());
    }

    #[test]
    fn ids_are_bounded_and_unique() {
        let button = |id: &str, text: &str| json!({"type": "button", "action_id": id, "text": {"type": "plain_text", "text": text}});
        let actions = |elements: Vec<Value>| json!([{"type": "actions", "elements": elements}]);
        assert!(check_block_kit(&actions(vec![button("a", "A"), button("b", "B")])).is_ok());
        assert!(
            check_block_kit(&actions(vec![button("a", "A"), button("a", "B")]))
                .unwrap_err()
                .contains("used twice")
        );
        assert!(check_block_kit(&actions(vec![button(&"a".repeat(256), "A")])).is_err());
        assert!(check_block_kit(&actions(vec![button("a", &"A".repeat(76))])).is_err());
        let twice = json!([
            {"type": "section", "block_id": "b", "text": {"type": "mrkdwn", "text": "1"}},
            {"type": "section", "block_id": "b", "text": {"type": "mrkdwn", "text": "2"}},
        ]);
        assert!(check_block_kit(&twice).is_err());
    }

    #[test]
    fn modals_have_short_titles_and_known_elements() {
        let modal = |title: &str| {
            json!({"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [
                {"type": "input", "block_id": "t", "label": {"type": "plain_text", "text": "T"},
                 "element": {"type": "plain_text_input", "action_id": "value", "max_length": 150}}
            ]})
        };
        assert!(check_block_kit(&modal("New RFC")).is_ok());
        assert!(check_block_kit(&modal(&"x".repeat(25))).is_err());
        let unknown = json!([{"type": "rich_text", "elements": []}]);
        assert!(check_block_kit(&unknown).unwrap_err().contains("unchecked"));
    }
}
