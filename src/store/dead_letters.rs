//! Dead letters: work that failed repeatedly, set aside for an operator (`asyncbot dead-letters`).

use chrono::{DateTime, Utc};
use redb::{ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::tables::{DEAD_LETTERS, INBOX, TIMERS};
use super::{Result, Store, StoreError, Tx, from_json, ms, to_json};
use crate::domain::outbox::OutboxItem;
use crate::slack::inbound::Inbound;

/// Which worker's item failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadKind {
    /// An accepted event from the inbox.
    Event,
    /// A timer (an SLA request's step, an RFC's, a standup channel's).
    Timer,
    /// An outgoing message.
    Message,
}

impl DeadKind {
    pub fn label(self) -> &'static str {
        match self {
            DeadKind::Event => "event",
            DeadKind::Timer => "timer",
            DeadKind::Message => "message",
        }
    }
}

/// An item that failed `attempts` times and was set aside so the work behind it goes on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: u64,
    pub kind: DeadKind,
    /// What it was: `inbox/12`, `timer sla:7`, `outbox/33`.
    pub key: String,
    /// The item itself (the event, the message, or the timer's key), to retry it later.
    pub payload: serde_json::Value,
    /// The last error or panic message.
    pub error: String,
    pub attempts: u32,
    pub at: DateTime<Utc>,
}

impl Store {
    /// Every dead letter, oldest first.
    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>> {
        self.read(|rx| {
            let table = rx.txn.open_table(DEAD_LETTERS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (k, v) = entry?;
                out.push(from_json(
                    || format!("dead_letters/{}", k.value()),
                    v.value(),
                )?);
            }
            Ok(out)
        })
    }

    pub fn count_dead_letters(&self) -> Result<u64> {
        self.read(|rx| Ok(rx.txn.open_table(DEAD_LETTERS)?.len()?))
    }

    /// Puts a dead letter back to work (after the cause was fixed): an event into the inbox, a
    /// message into the outbox (with a fresh age), a timer due now. Returns false if there is no
    /// such dead letter.
    pub fn retry_dead_letter(&self, id: u64, now: DateTime<Utc>) -> Result<bool> {
        self.write(|tx| {
            let Some(letter) = tx
                .txn
                .open_table(DEAD_LETTERS)?
                .remove(id)?
                .map(|v| from_json::<DeadLetter>(|| format!("dead_letters/{id}"), v.value()))
            else {
                return Ok(false);
            };
            let letter = letter?;
            let corrupt = |e: serde_json::Error| StoreError::Corrupt {
                what: format!("dead_letters/{id}"),
                reason: e.to_string(),
            };
            match letter.kind {
                DeadKind::Event => {
                    let event: Inbound = serde_json::from_value(letter.payload).map_err(corrupt)?;
                    tx.push_inbound(&event)?;
                }
                DeadKind::Message => {
                    let mut item: OutboxItem =
                        serde_json::from_value(letter.payload).map_err(corrupt)?;
                    // Back under its own id, with its `maybe_sent` mark: if it was posted after
                    // all, the look-up by metadata finds it instead of posting it twice.
                    item.attempts = 0;
                    item.first_failed_at = None;
                    item.not_before = now;
                    tx.requeue_outbox(&item)?;
                }
                DeadKind::Timer => {
                    let key = letter.payload.as_str().unwrap_or(&letter.key).to_owned();
                    tx.txn
                        .open_table(TIMERS)?
                        .insert((ms(now), key.as_str()), ())?;
                }
            }
            Ok(true)
        })
    }

    /// Deletes a dead letter for good. Returns false if there is no such dead letter.
    pub fn discard_dead_letter(&self, id: u64) -> Result<bool> {
        self.write(|tx| Ok(tx.txn.open_table(DEAD_LETTERS)?.remove(id)?.is_some()))
    }

    /// Sets the inbox event `seq` aside as a dead letter. Returns the dead letter's id.
    pub fn dead_letter_event(
        &self,
        seq: u64,
        error: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.write(|tx| {
            let payload = tx
                .txn
                .open_table(INBOX)?
                .remove(seq)?
                .map(|v| serde_json::from_slice(v.value()).unwrap_or(serde_json::Value::Null))
                .unwrap_or(serde_json::Value::Null);
            tx.dead_letter(
                DeadKind::Event,
                &format!("inbox/{seq}"),
                payload,
                error,
                attempts,
                now,
            )
        })
    }

    /// Sets a timer aside as a dead letter: its entries are removed so it stops firing.
    pub fn dead_letter_timer(
        &self,
        key: &str,
        error: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.write(|tx| {
            tx.drop_timers_named(key)?;
            tx.dead_letter(
                DeadKind::Timer,
                &format!("timer {key}"),
                serde_json::Value::String(key.to_owned()),
                error,
                attempts,
                now,
            )
        })
    }

    /// Sets an outgoing message aside as a dead letter.
    pub fn dead_letter_message(
        &self,
        item: &OutboxItem,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        self.write(|tx| {
            tx.remove_outbox(item.id)?;
            tx.dead_letter(
                DeadKind::Message,
                &format!("outbox/{}", item.id),
                serde_json::to_value(item).unwrap_or(serde_json::Value::Null),
                error,
                item.attempts,
                now,
            )
        })
    }
}

impl Tx<'_> {
    fn dead_letter(
        &mut self,
        kind: DeadKind,
        key: &str,
        payload: serde_json::Value,
        error: &str,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<u64> {
        let id = self.next_id("dead_letter")?;
        let letter = DeadLetter {
            id,
            kind,
            key: key.to_owned(),
            payload,
            error: error.to_owned(),
            attempts,
            at: now,
        };
        self.txn
            .open_table(DEAD_LETTERS)?
            .insert(id, to_json(&letter).as_slice())?;
        Ok(id)
    }
}
