//! RFCs (the decision log, never pruned) and their index by channel.

use redb::{ReadableMultimapTable, ReadableTable};

use super::tables::{RFCS, RFCS_BY_CHANNEL};
use super::{Reads, Result, Tx, from_json, to_json};
use crate::domain::rfc::Rfc;

/// Reads of RFCs, inside a read or a write transaction.
pub trait RfcReads: Reads {
    fn rfc(&self, id: u64) -> Result<Option<Rfc>> {
        let table = self.table(RFCS)?;
        let found = table.get(id)?;
        match found {
            Some(v) => Ok(Some(from_json(|| format!("rfcs/{id}"), v.value())?)),
            None => Ok(None),
        }
    }

    /// Every RFC, oldest first.
    fn all_rfcs(&self) -> Result<Vec<Rfc>> {
        let table = self.table(RFCS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let id = k.value();
            out.push(from_json(|| format!("rfcs/{id}"), v.value())?);
        }
        Ok(out)
    }

    /// RFCs posted in `channel`, oldest first.
    fn rfcs_in_channel(&self, channel: &str) -> Result<Vec<Rfc>> {
        let index = self.multimap(RFCS_BY_CHANNEL)?;
        let mut out = Vec::new();
        for id in index.get(channel)? {
            if let Some(rfc) = self.rfc(id?.value())? {
                out.push(rfc);
            }
        }
        out.sort_by_key(|r| r.id);
        Ok(out)
    }
}

impl<T: Reads + ?Sized> RfcReads for T {}

impl Tx<'_> {
    /// Writes an RFC and keeps its channel index and its timer in step with it.
    pub fn put_rfc(&mut self, rfc: &Rfc) -> Result<()> {
        let old = self.rfc(rfc.id)?;
        self.move_timer(
            &format!("rfc:{}", rfc.id),
            old.as_ref().and_then(Rfc::next_due),
            rfc.next_due(),
        )?;
        if old.is_none() {
            self.txn
                .open_multimap_table(RFCS_BY_CHANNEL)?
                .insert(rfc.channel.as_str(), rfc.id)?;
        }
        self.txn
            .open_table(RFCS)?
            .insert(rfc.id, to_json(rfc).as_slice())?;
        Ok(())
    }
}
