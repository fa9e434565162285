//! What `/rfc`, `/decisions`, an RFC's buttons and its two forms (open, decide) answer: the
//! routing from what Slack sent to the RFC flow, within Slack's 3 seconds. Modals are opened
//! just after the ack.

use std::sync::Arc;

use crate::domain::rfc::Response;
use crate::engine::Engine;
use crate::engine::reply::{InteractionReply, Reply, UserError};
use crate::features::rfc::command::{self as rfc_command, OpenArgs, RfcCommand, Verdict};
use crate::features::rfc::flow::needs_channel;
use crate::features::rfc::messages::{decide_modal, open_modal};
use crate::slack::inbound::Command;
use crate::slack::interaction::{BlockAction, ViewSubmission};
use crate::store::prelude::*;

/// The people whose time zone a command needs: an RFC's driver and its approver (its
/// deadlines are in their working time).
pub fn people_in(command: &Command) -> Vec<String> {
    match (command.command.as_str(), rfc_command::parse(&command.text)) {
        ("/rfc", Ok(RfcCommand::Open(args))) => vec![command.user_id.clone(), args.approver],
        _ => Vec::new(),
    }
}

/// `/rfc …` and `/decisions …`.
pub async fn command(engine: &Arc<Engine>, command: &Command) -> Result<Reply, UserError> {
    match command.command.as_str() {
        "/decisions" => Ok(engine.search_decisions(&command.text).into()),
        _ => rfc(engine, command).await,
    }
}

async fn rfc(engine: &Arc<Engine>, command: &Command) -> Result<Reply, UserError> {
    let (user, channel) = (command.user_id.as_str(), command.channel_id.as_str());
    let parsed = rfc_command::parse(&command.text).map_err(|e| UserError::BadInput {
        problem: e.to_string(),
        usage: rfc_command::USAGE,
    })?;
    match parsed {
        RfcCommand::Help => Ok(Reply::new(rfc_command::USAGE)),
        RfcCommand::OpenModal => {
            if let Some(refusal) = needs_channel(channel) {
                return Err(refusal);
            }
            let view = open_modal(channel, engine.settings.rfc.default_window);
            open_view_after_ack(
                engine,
                command.trigger_id.clone(),
                view,
                channel,
                user,
                format!("You can also type it:\n\n{}", rfc_command::USAGE),
            );
            Ok(Reply::none())
        }
        RfcCommand::Open(args) => {
            let id = engine.open_rfc(user, channel, args, String::new()).await?;
            Ok(Reply::new(format!(
                "RFC-{id} is being posted in this channel. If it does not appear, invite me with `/invite @asyncbot` and try again."
            )))
        }
        RfcCommand::Decide {
            id,
            verdict,
            rationale,
        } => Ok(engine
            .decide_rfc(user, id, verdict, &rationale)
            .await
            .into()),
        RfcCommand::Withdraw { id } => Ok(engine.withdraw_rfc(user, id).await.into()),
        RfcCommand::Supersede { old, new } => Ok(engine.supersede_rfc(user, old, new).await.into()),
        RfcCommand::List => match needs_channel(channel) {
            Some(refusal) => Err(refusal),
            None => Ok(engine.list_rfcs(channel).into()),
        },
    }
}

/// Opens a modal right after the ack (Slack requires `views.open` within 3 s of the trigger,
/// and the ack must not wait for it). If Slack refuses, `user` is told in `channel` that the
/// form could not open, and `instead` what to do.
fn open_view_after_ack(
    engine: &Arc<Engine>,
    trigger_id: String,
    view: slack_morphism::prelude::SlackModalView,
    channel: &str,
    user: &str,
    instead: String,
) {
    let engine = engine.clone();
    let (channel, user) = (channel.to_owned(), user.to_owned());
    tokio::spawn(async move {
        if let Err(e) = engine.slack.open_view(&trigger_id, &view).await {
            tracing::warn!(error = %e, "views.open failed");
            let failed = UserError::SlackFailed {
                what: "open the form",
                instead,
            };
            engine.tell(&channel, &user, failed.text());
        }
    });
}

/// An RFC's buttons: "no comments" is a response; accept and reject open the decision form
/// for its approver.
pub async fn block_action(
    engine: &Arc<Engine>,
    action: &BlockAction,
) -> Option<Result<String, UserError>> {
    let id = action.value.as_deref()?.parse::<u64>().ok()?;
    let user = action.user.as_str();
    let verdict = match action.action_id.as_str() {
        "rfc_no_comments" => {
            return Some(engine.respond_to_rfc(user, id, Response::NoComments).await);
        }
        "rfc_accept" => Verdict::Accept,
        "rfc_reject" => Verdict::Reject,
        _ => return None,
    };
    let rfc = match engine.store.read(|rx| rx.rfc(id)) {
        Ok(rfc) => rfc,
        Err(e) => return Some(Err(e.into())),
    };
    let refused = match rfc {
        None => format!("There is no RFC-{id}."),
        Some(rfc) if rfc.approver != user => format!(
            "Only the approver of {}, <@{}>, can decide it. Nothing was changed.",
            rfc.name(),
            rfc.approver
        ),
        Some(rfc) if !rfc.status.is_open() => format!(
            "{} is already {}. Nothing was changed.",
            rfc.name(),
            rfc.status.label().to_lowercase()
        ),
        Some(rfc) => {
            let view = decide_modal(id, verdict, &rfc.title);
            open_view_after_ack(
                engine,
                action.trigger_id.clone(),
                view,
                action.channel.as_deref().unwrap_or(user),
                user,
                format!(
                    "Decide with `/rfc decide {} {} <rationale>`.",
                    rfc.name(),
                    verdict.word()
                ),
            );
            return None;
        }
    };
    Some(Err(UserError::Refused(refused)))
}

/// The open and decide forms. A field filled wrong keeps the form open with the reason under
/// that field.
pub async fn view_submission(
    engine: &Arc<Engine>,
    submission: &ViewSubmission,
) -> InteractionReply {
    let errors = |block: &str, message: String| {
        InteractionReply::on_field(block, UserError::Refused(message))
    };
    let (user, values) = (submission.user.as_str(), &submission.values);
    let metadata = submission.private_metadata.as_str();
    match submission.callback_id.as_str() {
        "rfc_open" => {
            let title = values.text("title").unwrap_or_default();
            if title.trim().is_empty() {
                return errors("title", "Give the RFC a title.".into());
            }
            if title.chars().count() > rfc_command::MAX_TITLE_CHARS {
                return errors(
                    "title",
                    format!(
                        "Keep the title under {} characters.",
                        rfc_command::MAX_TITLE_CHARS
                    ),
                );
            }
            let Some(approver) = values.user("approver") else {
                return errors("approver", "Pick exactly one approver.".into());
            };
            let window = match values.text("window").filter(|w| !w.trim().is_empty()) {
                None => None,
                Some(w) => match humantime::parse_duration(w.trim()) {
                    Ok(d) => Some(d),
                    Err(_) => {
                        return errors(
                            "window",
                            format!("“{}” is not a duration: try 48h or 3d.", w.trim()),
                        );
                    }
                },
            };
            if let Some(Err(message)) =
                window.map(|w| crate::domain::rfc::check_window(w, &engine.settings.rfc))
            {
                return errors("window", message);
            }
            let mut contributors = values.users("contributors");
            contributors.retain(|c| *c != approver);
            let informed_users = values.users("informed_users");
            let informed_channels = values.users("informed_channels");
            for (block, crowd, count) in [
                (
                    "contributors",
                    rfc_command::Crowd::Contributors,
                    contributors.len(),
                ),
                (
                    "informed_users",
                    rfc_command::Crowd::InformedPeople,
                    informed_users.len(),
                ),
                (
                    "informed_channels",
                    rfc_command::Crowd::InformedChannels,
                    informed_channels.len(),
                ),
            ] {
                if count > crowd.max() {
                    return errors(block, crowd.too_many(count));
                }
            }
            let args = OpenArgs {
                // The title stays plain text (see `Rfc::title`), collapsed to one line like a
                // title typed after `/rfc`.
                title: title.split_whitespace().collect::<Vec<_>>().join(" "),
                approver,
                contributors,
                informed_users,
                informed_channels,
                window,
            };
            // A modal gives raw plain text; the RFC stores mrkdwn (see `Rfc::context`).
            let context =
                crate::domain::format::escape(&values.text("context").unwrap_or_default());
            match engine.open_rfc(user, metadata, args, context).await {
                Ok(_) => InteractionReply::Ack,
                Err(refusal) => InteractionReply::on_field("title", refusal),
            }
        }
        "rfc_decide" => {
            let Some((id, verdict)) = metadata.split_once(':').and_then(|(id, v)| {
                let verdict = match v {
                    "accept" => Verdict::Accept,
                    "reject" => Verdict::Reject,
                    _ => return None,
                };
                Some((id.parse::<u64>().ok()?, verdict))
            }) else {
                return InteractionReply::Ack;
            };
            let rationale = values.text("rationale").unwrap_or_default();
            if rationale.trim().is_empty() {
                return errors(
                    "rationale",
                    "Say why: the rationale is what the decision log keeps.".into(),
                );
            }
            // Raw plain text from the modal; the RFC stores mrkdwn (see `Rfc::rationale`).
            let rationale = crate::domain::format::escape(&rationale);
            match engine.decide_rfc(user, id, verdict, &rationale).await {
                Ok(_) => InteractionReply::Ack,
                Err(refusal) => InteractionReply::on_field("rationale", refusal),
            }
        }
        _ => InteractionReply::Ack,
    }
}
