//! The one dispatch path: HTTP and Socket Mode both hand what Slack sent to a [`Dispatcher`].
//! Events are only recorded (the engine works on them after the ack); commands and interactions
//! are answered within Slack's 3 seconds, their durable effects written to the store's outbox.

use std::collections::HashMap;
use std::sync::Arc;

use slack_morphism::prelude::*;

use crate::domain::rfc::Response;
use crate::engine::Engine;
use crate::features::rfc::command::{self as rfc_command, OpenArgs, RfcCommand, Verdict};
use crate::features::rfc::flow::{Refusal, needs_channel};
use crate::features::rfc::messages::{decide_modal, open_modal};
use crate::features::sla::{self as commands, Reply};
use crate::slack::inbound::{self, Command};
use crate::store::prelude::*;
use crate::store::{Accepted, Store, StoreError};

#[derive(Clone)]
pub struct Dispatcher {
    pub engine: Arc<Engine>,
}

/// The first answer to a command whose real answer needs a person Slack has not described to
/// the bot yet: it is replaced through the command's `response_url` a moment later.
pub const ONE_MOMENT: &str = ":hourglass_flowing_sand: One moment…";

/// What an interaction's ack carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteractionReply {
    /// A bare ack.
    Ack,
    /// A modal submission with errors shown on its fields (block id → message).
    ViewErrors(HashMap<String, String>),
}

impl Dispatcher {
    pub fn store(&self) -> &Store {
        &self.engine.store
    }

    /// Records an Events API delivery for processing. Errors mean "not recorded": the transport
    /// must not ack, so Slack retries.
    pub async fn accept_event(
        &self,
        callback: SlackPushEventCallback,
    ) -> Result<Accepted, StoreError> {
        let event_id = callback.event_id.0.clone();
        let Some(event) = inbound::from_event(&callback.event) else {
            tracing::debug!(%event_id, "event needs no action");
            return Ok(Accepted::Queued);
        };
        let now = (self.engine.now)();
        let id = event_id.clone();
        let accepted = self
            .store()
            .call(move |s| s.accept_event(Some(&id), &event, now))
            .await?;
        match accepted {
            Accepted::Queued => self.engine.wakers.inbox.notify_one(),
            Accepted::Duplicate => {
                tracing::info!(%event_id, "duplicate delivery (a Slack retry); ignored")
            }
        }
        Ok(accepted)
    }

    /// Whether this is the first delivery of a command or an interaction known by `key` (its
    /// `trigger_id`, its signature). A replay is acked and not processed again. If the store
    /// cannot say, it is processed (a lost command is worse than a rare double).
    pub async fn first_delivery(&self, key: &str) -> bool {
        if key.is_empty() {
            return true;
        }
        let now = (self.engine.now)();
        let key = key.to_owned();
        match self
            .store()
            .call(move |s| s.first_delivery(&key, now))
            .await
        {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, "could not check for a replay");
                true
            }
        }
    }

    /// Answers a slash command. Nothing here waits for Slack: commands read and write the store
    /// only; a modal is opened just after the ack.
    pub async fn command(&self, command: Command) -> Reply {
        tracing::info!(command = %command.command, user = %command.user_id, "slash command");
        if !self
            .first_delivery(&format!("trigger:{}", command.trigger_id))
            .await
        {
            tracing::info!(command = %command.command, "a replayed command; acked, not run again");
            return Reply::none();
        }
        // A command whose meaning depends on someone's time zone ("away today", "at 09:30",
        // an RFC's deadlines) waits for that person's lookup, but the ack does not: it says
        // "one moment" and the answer follows through the response_url.
        let unknown: Vec<String> = self
            .people_in(&command)
            .into_iter()
            .filter(|u| !matches!(self.engine.store.cached_user(u), Ok(Some(_))))
            .collect();
        if !unknown.is_empty() {
            let this = self.clone();
            tokio::spawn(async move {
                this.engine
                    .quick_people(unknown, std::time::Duration::from_secs(10))
                    .await;
                let reply = this.run_command(command.clone()).await;
                if reply.text.is_empty() {
                    return;
                }
                if let Err(e) = this
                    .engine
                    .slack
                    .respond(&command.response_url, &reply.text)
                    .await
                {
                    tracing::warn!(command = %command.command, error = %e, "could not send a command's answer");
                }
            });
            return Reply::new(ONE_MOMENT);
        }
        self.run_command(command).await
    }

    /// The people whose time zone a command needs: its caller for `/standup` and an RFC, and
    /// the approver an RFC names.
    fn people_in(&self, command: &Command) -> Vec<String> {
        match command.command.as_str() {
            // Only what is read in the caller's zone: a time without a zone, "away today",
            // "back". Help, status, skip and off answer at once.
            "/standup" => {
                let verb = command
                    .text
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_lowercase();
                if matches!(verb.as_str(), "at" | "away" | "back") {
                    vec![command.user_id.clone()]
                } else {
                    Vec::new()
                }
            }
            "/rfc" => match rfc_command::parse(&command.text) {
                Ok(RfcCommand::Open(args)) => vec![command.user_id.clone(), args.approver],
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    async fn run_command(&self, command: Command) -> Reply {
        match command.command.as_str() {
            "/rfc" => self.rfc(&command).await,
            "/decisions" => reply(self.engine.search_decisions(&command.text)),
            "/standup" => Reply::new(
                self.engine
                    .standup_command(&command.user_id, &command.channel_id, &command.text)
                    .await,
            ),
            _ => {
                let engine = self.engine.clone();
                let now = (engine.now)();
                tokio::task::spawn_blocking(move || {
                    commands::answer(
                        &command,
                        &engine.store,
                        &engine.settings,
                        Some(&engine.identity.team_url),
                        now,
                    )
                })
                .await
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "command task failed");
                    Reply::new("Sorry, something went wrong on my side. Please try again.")
                })
            }
        }
    }

    async fn rfc(&self, command: &Command) -> Reply {
        let engine = &self.engine;
        let (user, channel) = (command.user_id.as_str(), command.channel_id.as_str());
        let parsed = match rfc_command::parse(&command.text) {
            Ok(parsed) => parsed,
            Err(e) => return Reply::new(format!("{e}\n\n{}", rfc_command::USAGE)),
        };
        match parsed {
            RfcCommand::Help => Reply::new(rfc_command::USAGE),
            RfcCommand::OpenModal => {
                if let Some(refusal) = needs_channel(channel) {
                    return Reply::new(refusal.0);
                }
                let view = open_modal(channel, engine.settings.rfc.default_window);
                self.open_view_after_ack(
                    command.trigger_id.clone(),
                    view,
                    channel,
                    user,
                    format!(
                        "I couldn't open the form just now. You can also type it:\n\n{}",
                        rfc_command::USAGE
                    ),
                );
                Reply::none()
            }
            RfcCommand::Open(args) => {
                match engine.open_rfc(user, channel, args, String::new()).await {
                    Ok(id) => Reply::new(format!(
                        "RFC-{id} is being posted in this channel. If it does not appear, invite me with `/invite @asyncbot` and try again."
                    )),
                    Err(refusal) => Reply::new(refusal.0),
                }
            }
            RfcCommand::Decide {
                id,
                verdict,
                rationale,
            } => reply(engine.decide_rfc(user, id, verdict, &rationale).await),
            RfcCommand::Withdraw { id } => reply(engine.withdraw_rfc(user, id).await),
            RfcCommand::Supersede { old, new } => reply(engine.supersede_rfc(user, old, new).await),
            RfcCommand::List => match needs_channel(channel) {
                Some(refusal) => Reply::new(refusal.0),
                None => reply(engine.list_rfcs(channel)),
            },
        }
    }

    /// Opens a modal right after the ack (Slack requires `views.open` within 3 s of the
    /// trigger, and the ack must not wait for it). If Slack refuses, `user` gets `fallback` as
    /// an ephemeral note in `channel`.
    fn open_view_after_ack(
        &self,
        trigger_id: String,
        view: SlackModalView,
        channel: &str,
        user: &str,
        fallback: String,
    ) {
        let engine = self.engine.clone();
        let (channel, user) = (channel.to_owned(), user.to_owned());
        tokio::spawn(async move {
            if let Err(e) = engine.slack.open_view(&trigger_id, &view).await {
                tracing::warn!(error = %e, "views.open failed");
                engine.tell(&channel, &user, fallback);
            }
        });
    }

    /// Buttons and modals.
    pub async fn interaction(&self, event: &SlackInteractionEvent) -> InteractionReply {
        let trigger = match event {
            SlackInteractionEvent::BlockActions(e) => Some(e.trigger_id.0.as_str()),
            SlackInteractionEvent::ViewSubmission(e) => e.trigger_id.as_ref().map(|t| t.0.as_str()),
            _ => None,
        };
        if let Some(trigger) = trigger
            && !self.first_delivery(&format!("trigger:{trigger}")).await
        {
            tracing::info!("a replayed interaction; acked, not run again");
            return InteractionReply::Ack;
        }
        match event {
            SlackInteractionEvent::BlockActions(e) => {
                self.block_actions(e).await;
                InteractionReply::Ack
            }
            SlackInteractionEvent::ViewSubmission(e) => self.view_submission(e).await,
            _ => {
                tracing::debug!("interaction needs no action");
                InteractionReply::Ack
            }
        }
    }

    async fn block_actions(&self, e: &SlackInteractionBlockActionsEvent) {
        let engine = &self.engine;
        let Some(user) = e.user.as_ref().map(|u| u.id.0.clone()) else {
            return;
        };
        let channel = e.channel.as_ref().map(|c| c.id.0.clone());
        for action in e.actions.iter().flatten() {
            let Some(id) = action.value.as_deref().and_then(|v| v.parse::<u64>().ok()) else {
                continue;
            };
            let answer = match action.action_id.0.as_str() {
                "rfc_no_comments" => {
                    Some(engine.respond_to_rfc(&user, id, Response::NoComments).await)
                }
                verb @ ("rfc_accept" | "rfc_reject") => {
                    let verdict = if verb == "rfc_accept" {
                        Verdict::Accept
                    } else {
                        Verdict::Reject
                    };
                    let rfc = engine.store.read(|rx| rx.rfc(id)).ok().flatten();
                    match rfc {
                        None => Some(Err(Refusal(format!("There is no RFC-{id}.")))),
                        Some(rfc) if rfc.approver != user => Some(Err(Refusal(format!(
                            "Only the approver of {}, <@{}>, can decide it. Nothing was changed.",
                            rfc.name(),
                            rfc.approver
                        )))),
                        Some(rfc) if !rfc.status.is_open() => Some(Err(Refusal(format!(
                            "{} is already {}. Nothing was changed.",
                            rfc.name(),
                            rfc.status.label().to_lowercase()
                        )))),
                        Some(rfc) => {
                            let view = decide_modal(id, verdict, &rfc.title);
                            self.open_view_after_ack(
                                e.trigger_id.0.clone(),
                                view,
                                channel.as_deref().unwrap_or(&user),
                                &user,
                                format!(
                                    "I couldn't open the form. Decide with `/rfc decide {} {} <rationale>`.",
                                    rfc.name(),
                                    verdict.word()
                                ),
                            );
                            None
                        }
                    }
                }
                _ => None,
            };
            let text = match answer {
                None => continue,
                Some(Ok(text)) | Some(Err(Refusal(text))) => text,
            };
            let Some(channel) = &channel else { continue };
            // Through the outbox: durable, paced, and never awaited before the ack.
            engine.tell(channel, &user, text);
        }
    }

    async fn view_submission(&self, e: &SlackInteractionViewSubmissionEvent) -> InteractionReply {
        let user = e.user.id.0.clone();
        let SlackView::Modal(modal) = &e.view.view else {
            return InteractionReply::Ack;
        };
        let values = ViewValues(e.view.state_params.state.as_ref().map(|s| &s.values));
        let metadata = modal.private_metadata.clone().unwrap_or_default();
        let errors = |block: &str, message: String| {
            InteractionReply::ViewErrors(HashMap::from([(block.to_owned(), message)]))
        };
        match modal.callback_id.as_ref().map(|c| c.0.as_str()) {
            Some("rfc_open") => {
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
                    window.map(|w| crate::domain::rfc::check_window(w, &self.engine.settings.rfc))
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
                    // The title stays plain text (see `Rfc::title`), collapsed to one line
                    // like a title typed after `/rfc`.
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
                match self.engine.open_rfc(&user, &metadata, args, context).await {
                    Ok(_) => InteractionReply::Ack,
                    Err(refusal) => errors("title", refusal.0),
                }
            }
            Some("rfc_decide") => {
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
                match self.engine.decide_rfc(&user, id, verdict, &rationale).await {
                    Ok(_) => InteractionReply::Ack,
                    Err(refusal) => errors("rationale", refusal.0),
                }
            }
            _ => InteractionReply::Ack,
        }
    }
}

fn reply(result: Result<String, Refusal>) -> Reply {
    match result {
        Ok(text) | Err(Refusal(text)) => Reply::new(text),
    }
}

/// A modal's submitted values: block id → the input's value (action id `value`).
struct ViewValues<'a>(
    Option<&'a HashMap<SlackBlockId, HashMap<SlackActionId, SlackViewStateValue>>>,
);

impl ViewValues<'_> {
    fn get(&self, block: &str) -> Option<&SlackViewStateValue> {
        self.0?
            .get(&SlackBlockId(block.to_owned()))?
            .get(&SlackActionId("value".to_owned()))
    }

    fn text(&self, block: &str) -> Option<String> {
        self.get(block)?.value.clone()
    }

    fn user(&self, block: &str) -> Option<String> {
        self.get(block)?.selected_user.as_ref().map(|u| u.0.clone())
    }

    /// Selected users, or selected conversations for a conversations picker.
    fn users(&self, block: &str) -> Vec<String> {
        let Some(value) = self.get(block) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        for id in value
            .selected_users
            .iter()
            .flatten()
            .map(|u| u.0.clone())
            .chain(
                value
                    .selected_conversations
                    .iter()
                    .flatten()
                    .map(|c| c.0.clone()),
            )
        {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        out
    }
}
