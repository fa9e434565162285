//! What people do with RFCs, from `/rfc`, the buttons and the modals: open, respond, decide,
//! withdraw, supersede, list; and `/decisions`. Each change is one store transaction with the
//! messages it causes. Every refusal is a sentence for the person, and changes nothing.

use crate::domain::decisions;
use crate::domain::format::{escape, mention, slack_date};
use crate::domain::rfc::RfcContext;
use crate::domain::rfc::{NewRfc, Response, Rfc, RfcError, check_window, rfc_name};
use crate::engine::Engine;
use crate::engine::reply::UserError;
use crate::features::rfc::command::{OpenArgs, Verdict};
use crate::features::rfc::messages;
use crate::store::StoreError;
use crate::store::prelude::*;

/// A domain refusal, worded for the person: it changed nothing.
impl From<RfcError> for UserError {
    fn from(e: RfcError) -> Self {
        UserError::Refused(format!("{e} Nothing was changed."))
    }
}

fn unknown(id: u64) -> UserError {
    UserError::Refused(format!(
        "There is no {}. `/rfc list` shows the open RFCs in a channel; `/decisions` searches them all.",
        rfc_name(id)
    ))
}

/// An RFC's message could not be posted (not in the channel, archived…): the RFC is withdrawn,
/// so no reminder or ladder runs for a message nobody can see, and its driver is told why.
pub fn post_dropped(
    tx: &mut crate::store::Tx<'_>,
    tag: &str,
    reason: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    let Some(id) = crate::domain::rfc::rfc_of_tag(tag) else {
        return Ok(());
    };
    let Some(mut rfc) = tx.rfc(id)? else {
        return Ok(());
    };
    if !rfc.status.is_open() {
        return Ok(());
    }
    let driver = rfc.driver.clone();
    // The driver "withdraws" it: the only state in which nothing more is posted.
    if rfc.withdraw(&driver, now).is_err() {
        return Ok(());
    }
    let why = match reason {
        "not_in_channel" | "channel_not_found" => format!(
            "I'm not in <#{}>. Invite me there with `/invite @asyncbot`, then run `/rfc` again.",
            rfc.channel
        ),
        "is_archived" => format!("<#{}> is archived.", rfc.channel),
        other => format!("Slack answered `{other}`."),
    };
    tracing::warn!(rfc = id, reason, "the RFC could not be posted; withdrawn");
    tx.enqueue(
        crate::domain::outbox::OutgoingMessage::new(
            crate::domain::outbox::Destination::DirectMessage { user: driver },
            format!(
                "I could not post *{}: {}*: {why} Nothing else was sent.",
                rfc.name(),
                escape(&rfc.title)
            ),
        ),
        now,
    )?;
    tx.put_rfc(&rfc)
}

/// RFCs are discussed in a channel, not a DM.
pub fn needs_channel(channel: &str) -> Option<UserError> {
    channel.starts_with('D').then(|| {
        UserError::Refused("RFCs live in a channel, where their thread can be found later: run `/rfc` in the channel where the discussion should happen.".into())
    })
}

impl Engine {
    /// The context an RFC's transitions need, with the own calendars and names of `people`
    /// (its driver, approver and contributors) read from the store.
    pub fn rfc_context(
        &self,
        rx: &impl crate::store::Reads,
        people: &[&str],
        permalink: Option<String>,
    ) -> Result<RfcContext<'_>, StoreError> {
        let mut known = std::collections::BTreeMap::new();
        for user in people {
            let Some(tz) = rx.user_tz(user)? else {
                continue;
            };
            known.insert(
                (*user).to_owned(),
                crate::domain::rfc::PersonClock {
                    calendar: rx.calendar_of(user, &self.settings.calendar, tz)?,
                    tz,
                    name: rx.user_name(user)?,
                },
            );
        }
        Ok(RfcContext {
            settings: &self.settings.rfc,
            calendar: &self.settings.calendar,
            ladder: &self.settings.sla.ladder,
            permalink,
            people: known,
        })
    }

    /// The permalink of an RFC's message, once it has been posted.
    pub fn permalink_of(
        &self,
        tx: &crate::store::Tx<'_>,
        id: u64,
    ) -> Result<Option<String>, StoreError> {
        Ok(tx
            .tagged(&crate::domain::rfc::message_tag(id))?
            .map(|(channel, ts)| {
                crate::domain::format::permalink(&self.identity.team_url, &channel, &ts, None)
            }))
    }

    /// An RFC's timer: its reminder, its close, the approver's ladder.
    pub(crate) fn fire_rfc(
        &self,
        id: u64,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        self.store.write(|tx| {
            let Some(mut rfc) = tx.rfc(id)? else {
                tx.drop_timers_named(&format!("rfc:{id}"))?;
                return Ok(false);
            };
            let permalink = self.permalink_of(tx, id)?;
            let ctx = self.rfc_context(tx, &rfc.people(), permalink)?;
            let fired = rfc.fire(now, &ctx);
            // Reminders and the approver's nudges count toward each person's daily budget (a
            // decision someone owns is never held back, so they are not folded).
            for m in &fired {
                tx.count_pings(m, now)?;
            }
            let messages = messages::with_card(&rfc, fired);
            let any = !messages.is_empty();
            if any {
                tracing::info!(rfc = id, status = rfc.status.label(), "RFC timer fired");
            }
            for m in messages {
                tx.enqueue(m, now)?;
            }
            if rfc.next_due().is_some_and(|d| d <= now) {
                // Nothing more can happen at this instant: never spin on it.
                rfc.next_step_at = None;
            }
            tx.put_rfc(&rfc)?;
            Ok(any)
        })
    }

    /// Opens an RFC in `channel`, driven by `driver`. Returns its number.
    pub async fn open_rfc(
        &self,
        driver: &str,
        channel: &str,
        args: OpenArgs,
        context: String,
    ) -> Result<u64, UserError> {
        if let Some(refusal) = needs_channel(channel) {
            return Err(refusal);
        }
        let window = args.window.unwrap_or(self.settings.rfc.default_window);
        check_window(window, &self.settings.rfc).map_err(UserError::Refused)?;
        if args.approver == self.identity.user_id {
            return Err(UserError::Refused(
                "I can't be the approver: pick a person.".into(),
            ));
        }
        // A command is answered within Slack's 3 seconds without waiting for Slack: people come
        // from the lookup cache; someone not cached yet starts on the fallback zone (and is
        // trusted to be a person) and is looked up later.
        let (driver_tz, driver_guessed) = self.zone_now(driver)?;
        let (approver_tz, approver_guessed) = self.zone_now(&args.approver).map_err(|_| {
            UserError::Refused(format!(
                "{} can't approve an RFC: pick a person (not a bot or a deactivated account).",
                mention(&args.approver)
            ))
        })?;
        let owed: Vec<String> = [
            (driver, driver_guessed),
            (args.approver.as_str(), approver_guessed),
        ]
        .into_iter()
        .filter(|(_, guessed)| *guessed)
        .map(|(u, _)| u.to_owned())
        .collect();
        if !owed.is_empty() {
            let now = (self.now)();
            self.store.write(|tx| {
                for user in &owed {
                    tx.want_lookup(user, now)?;
                }
                Ok(())
            })?;
            self.wakers.people.notify_one();
        }
        let now = (self.now)();
        let new = NewRfc {
            title: args.title,
            context,
            channel: channel.to_owned(),
            driver: driver.to_owned(),
            approver: args.approver,
            contributors: args.contributors,
            informed_users: args.informed_users,
            informed_channels: args.informed_channels,
            window,
            driver_tz,
            approver_tz,
        };
        let id = self.store.write(|tx| {
            let id = tx.next_id("rfc")?;
            let mut people = vec![new.driver.as_str(), new.approver.as_str()];
            people.extend(new.contributors.iter().map(String::as_str));
            // Contributors not met yet are looked up, so that their reminder follows their own
            // working time and the summary names them without a ping.
            for user in &people {
                if tx.user_tz(user)?.is_none() {
                    tx.want_lookup(user, now)?;
                }
            }
            let ctx = self.rfc_context(tx, &people, None)?;
            let (rfc, messages) = Rfc::open(id, new.clone(), now, &ctx);
            for m in messages::with_card(&rfc, messages) {
                tx.enqueue(m, now)?;
            }
            tx.put_rfc(&rfc)?;
            Ok(id)
        })?;
        tracing::info!(rfc = id, %channel, "RFC opened");
        self.wakers.people.notify_one();
        self.wake_workers();
        Ok(id)
    }

    /// Applies `change` to RFC `id` in one transaction; returns what `change` returned.
    fn change_rfc<T>(
        &self,
        id: u64,
        change: impl FnOnce(
            &mut Rfc,
            &crate::domain::rfc::RfcContext<'_>,
        )
            -> Result<(T, Vec<crate::domain::outbox::OutgoingMessage>), RfcError>,
    ) -> Result<T, UserError> {
        let now = (self.now)();
        let result = self.store.write(|tx| {
            let Some(mut rfc) = tx.rfc(id)? else {
                return Ok(Err(unknown(id)));
            };
            let permalink = self.permalink_of(tx, id)?;
            let ctx = self.rfc_context(tx, &rfc.people(), permalink)?;
            match change(&mut rfc, &ctx) {
                Ok((value, messages)) => {
                    for m in messages::with_card(&rfc, messages) {
                        tx.enqueue(m, now)?;
                    }
                    tx.put_rfc(&rfc)?;
                    Ok(Ok(value))
                }
                Err(e) => Ok(Err(UserError::from(e))),
            }
        })?;
        self.wake_workers();
        result
    }

    pub async fn decide_rfc(
        &self,
        user: &str,
        id: u64,
        verdict: Verdict,
        rationale: &str,
    ) -> Result<String, UserError> {
        let now = (self.now)();
        self.change_rfc(id, |rfc, ctx| {
            let out = rfc.decide(user, verdict, rationale, now, ctx)?;
            Ok((
                format!("{} is now *{}*. The Informed have been told, and the record is in the decision log.", rfc.name(), rfc.status.label()),
                out,
            ))
        })
    }

    pub async fn withdraw_rfc(&self, user: &str, id: u64) -> Result<String, UserError> {
        let now = (self.now)();
        self.change_rfc(id, |rfc, _| {
            let out = rfc.withdraw(user, now)?;
            Ok((format!("{} is withdrawn.", rfc.name()), out))
        })
    }

    pub async fn respond_to_rfc(
        &self,
        user: &str,
        id: u64,
        response: Response,
    ) -> Result<String, UserError> {
        self.change_rfc(id, |rfc, _| {
            rfc.respond(user, response)?;
            Ok((
                format!("Noted: {} on {}. Thank you.", response.label(), rfc.name()),
                Vec::new(),
            ))
        })
    }

    /// Marks `old` superseded by `new`, linking both records.
    pub async fn supersede_rfc(&self, user: &str, old: u64, new: u64) -> Result<String, UserError> {
        let now = (self.now)();
        let result = self.store.write(|tx| {
            let (Some(mut old_rfc), Some(mut new_rfc)) = (tx.rfc(old)?, tx.rfc(new)?) else {
                let missing = if tx.rfc(old)?.is_none() { old } else { new };
                return Ok(Err(unknown(missing)));
            };
            match old_rfc.supersede_with(&new_rfc, user, now) {
                Ok(messages) => {
                    for m in messages::with_card(&old_rfc, messages) {
                        tx.enqueue(m, now)?;
                    }
                    new_rfc.supersedes = Some(old);
                    tx.put_rfc(&old_rfc)?;
                    tx.put_rfc(&new_rfc)?;
                    Ok(Ok(format!(
                        "{} is marked superseded by {}.",
                        rfc_name(old),
                        rfc_name(new)
                    )))
                }
                Err(e) => Ok(Err(UserError::from(e))),
            }
        })?;
        self.wake_workers();
        result
    }

    /// The open RFCs of a channel, with their deadlines.
    pub fn list_rfcs(&self, channel: &str) -> Result<String, UserError> {
        let rfcs = self.store.read(|rx| rx.rfcs_in_channel(channel))?;
        let open: Vec<&Rfc> = rfcs.iter().filter(|r| r.status.is_open()).collect();
        if open.is_empty() {
            return Ok(
                "No open RFCs in this channel. Start one with `/rfc Title approver:@who`.".into(),
            );
        }
        let mut text = format!("*Open RFCs in <#{channel}> ({})*\n", open.len());
        for r in open {
            let when = match r.status {
                crate::domain::rfc::RfcStatus::Proposed => {
                    format!("comments until {}", slack_date(r.closes_at))
                }
                _ => format!(
                    "awaiting {}'s decision{}",
                    mention(&r.approver),
                    r.decide_by
                        .map(|at| format!(" by {}", slack_date(at)))
                        .unwrap_or_default()
                ),
            };
            text.push_str(&format!("• *{}: {}*: {when}\n", r.name(), escape(&r.title)));
        }
        Ok(text)
    }

    /// `/decisions [words]`: the best matches, or the latest records.
    pub fn search_decisions(&self, query: &str) -> Result<String, UserError> {
        let (records, links) = self.store.read(|rx| {
            let records = rx.all_rfcs()?;
            let mut links = std::collections::HashMap::new();
            for r in &records {
                if let Some((channel, ts)) = rx.tagged(&crate::domain::rfc::message_tag(r.id))? {
                    links.insert(
                        r.id,
                        crate::domain::format::permalink(
                            &self.identity.team_url,
                            &channel,
                            &ts,
                            None,
                        ),
                    );
                }
            }
            Ok((records, links))
        })?;
        if records.is_empty() {
            return Ok(
                "The decision log is empty so far. Every `/rfc` lands here once it is posted."
                    .into(),
            );
        }
        let hits = decisions::search(&records, query, 10);
        let heading = if query.trim().is_empty() {
            "*Latest decisions*".to_owned()
        } else if hits.is_empty() {
            return Ok(format!(
                "Nothing in the decision log matches “{}”. Try fewer or shorter words.",
                crate::domain::format::quote_slack(query.trim())
            ));
        } else {
            format!(
                "*Decisions matching “{}”*",
                crate::domain::format::quote_slack(query.trim())
            )
        };
        let lines = decisions::slack_lines(&hits, &|r: &Rfc| links.get(&r.id).cloned());
        Ok(format!("{heading}\n{lines}"))
    }

    /// A person's zone from the lookup cache, and whether it is a guess (not cached yet).
    /// `Err` if the cache knows they are not a person.
    pub(crate) fn zone_now(&self, user: &str) -> Result<(chrono_tz::Tz, bool), UserError> {
        match self.cached_person(user) {
            crate::engine::Person::Human { tz, .. } => Ok((tz, false)),
            crate::engine::Person::Guessed { tz } => Ok((tz, true)),
            crate::engine::Person::NotTracked => Err(UserError::Refused(format!(
                "{} is not a person (a bot or a deactivated account).",
                mention(user)
            ))),
        }
    }

    pub fn wake_workers(&self) {
        self.wakers.timers.notify_one();
        self.wakers.delivery.notify_one();
    }
}

/// ✅ on an RFC counts as a contributor's response.
pub(crate) fn is_rfc_ack(reaction: &str) -> bool {
    let base = reaction.split("::").next().unwrap_or(reaction);
    matches!(
        base,
        "white_check_mark" | "heavy_check_mark" | "ballot_box_with_check"
    )
}

/// Records a contributor's response if `channel`/`ts` is an RFC message.
pub(crate) fn record_rfc_response(
    tx: &mut crate::store::Tx<'_>,
    channel: &str,
    ts: &str,
    user: &str,
    response: crate::domain::rfc::Response,
) -> Result<(), StoreError> {
    let Some(id) = tx
        .tag_of(channel, ts)?
        .as_deref()
        .and_then(crate::domain::rfc::rfc_of_tag)
    else {
        return Ok(());
    };
    let Some(mut rfc) = tx.rfc(id)? else {
        return Ok(());
    };
    if let Ok(true) = rfc.respond(user, response) {
        tracing::info!(rfc = id, %user, response = response.label(), "RFC response recorded");
        tx.put_rfc(&rfc)?;
    }
    Ok(())
}
