//! SLA requests and their indexes (by message, by thread, open ones by recipient and by author,
//! closed ones by when, for the pruner).

use redb::{MultimapTableDefinition, ReadableMultimapTable, ReadableTable, ReadableTableMetadata};

use super::tables::{
    CLOSED_REQUESTS, OPEN_BY_AUTHOR, OPEN_BY_RECIPIENT, REQUESTS, REQUESTS_BY_MESSAGE,
    REQUESTS_BY_THREAD,
};
use super::timers::sla_timer_key;
use super::{Reads, Result, Tx, from_json, message_key, ms, to_json};
use crate::domain::sla::SlaRequest;

/// The requests an index lists under `key`, oldest first.
fn load_requests(
    index: &impl ReadableMultimapTable<&'static str, u64>,
    requests: &impl ReadableTable<u64, &'static [u8]>,
    key: &str,
) -> Result<Vec<SlaRequest>> {
    let mut out = Vec::new();
    for id in index.get(key)? {
        let id = id?.value();
        if let Some(v) = requests.get(id)? {
            out.push(from_json(|| format!("sla_requests/{id}"), v.value())?);
        }
    }
    out.sort_by_key(|r: &SlaRequest| r.id);
    Ok(out)
}

/// Reads of SLA requests, inside a read or a write transaction.
pub trait RequestReads: Reads {
    fn requests_in(
        &self,
        index: MultimapTableDefinition<&str, u64>,
        key: &str,
    ) -> Result<Vec<SlaRequest>> {
        load_requests(&self.multimap(index)?, &self.table(REQUESTS)?, key)
    }

    /// Open requests waiting on `user`, oldest first.
    fn open_requests_for_recipient(&self, user: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(OPEN_BY_RECIPIENT, user)
    }

    /// Open requests `user` is waiting on, oldest first.
    fn open_requests_by_author(&self, user: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(OPEN_BY_AUTHOR, user)
    }

    fn request(&self, id: u64) -> Result<Option<SlaRequest>> {
        let table = self.table(REQUESTS)?;
        match table.get(id)? {
            Some(v) => Ok(Some(from_json(|| format!("sla_requests/{id}"), v.value())?)),
            None => Ok(None),
        }
    }

    /// Every request (open and recently closed), oldest first.
    fn all_requests(&self) -> Result<Vec<SlaRequest>> {
        let table = self.table(REQUESTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let id = k.value();
            out.push(from_json(|| format!("sla_requests/{id}"), v.value())?);
        }
        Ok(out)
    }

    fn count_open_requests(&self) -> Result<u64> {
        Ok(self.multimap(OPEN_BY_RECIPIENT)?.len()?)
    }

    /// Every request (open or closed) opened by the message `channel`/`ts`.
    fn requests_for_message(&self, channel: &str, ts: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(REQUESTS_BY_MESSAGE, &message_key(channel, ts))
    }

    /// Every request living in the thread rooted at `channel`/`root`.
    fn requests_in_thread(&self, channel: &str, root: &str) -> Result<Vec<SlaRequest>> {
        self.requests_in(REQUESTS_BY_THREAD, &message_key(channel, root))
    }
}

impl<T: Reads + ?Sized> RequestReads for T {}

impl Tx<'_> {
    /// Writes a request and keeps its indexes and its timer in step with it.
    pub fn put_request(&mut self, request: &SlaRequest) -> Result<()> {
        let old = self.request(request.id)?;
        self.move_timer(
            &sla_timer_key(request.id),
            old.as_ref().and_then(|o| o.next_due),
            request.next_due,
        )?;
        if old.is_none() {
            self.txn.open_multimap_table(REQUESTS_BY_MESSAGE)?.insert(
                message_key(&request.channel, &request.message_ts).as_str(),
                request.id,
            )?;
            self.txn.open_multimap_table(REQUESTS_BY_THREAD)?.insert(
                message_key(&request.channel, &request.thread_root).as_str(),
                request.id,
            )?;
        }
        let was_open = old.as_ref().is_some_and(SlaRequest::is_open);
        if was_open != request.is_open() {
            let mut by_recipient = self.txn.open_multimap_table(OPEN_BY_RECIPIENT)?;
            let mut by_author = self.txn.open_multimap_table(OPEN_BY_AUTHOR)?;
            if request.is_open() {
                by_recipient.insert(request.recipient.as_str(), request.id)?;
                by_author.insert(request.author.as_str(), request.id)?;
            } else {
                by_recipient.remove(request.recipient.as_str(), request.id)?;
                by_author.remove(request.author.as_str(), request.id)?;
            }
        }
        if was_open && !request.is_open() {
            // Answered or cancelled: a nudge still queued (waiting for working hours, or for
            // a revoked token to be fixed) would nag someone who already replied.
            let prefix = format!("sla:{}:", request.id);
            let removed = self.withdraw_outbox_tagged(&prefix)?;
            if removed > 0 {
                tracing::info!(
                    request = request.id,
                    removed,
                    "the request closed; its queued nudges were withdrawn"
                );
            }
        }
        // Retention: a request that closes is listed by when, so the pruner (`retention`) finds
        // it 30 days later without walking every request.
        if (was_open || old.is_none())
            && let Some(closed_at) = request.closed_at()
        {
            self.txn
                .open_table(CLOSED_REQUESTS)?
                .insert((ms(closed_at), request.id), ())?;
        }
        self.txn
            .open_table(REQUESTS)?
            .insert(request.id, to_json(request).as_slice())?;
        Ok(())
    }
}
