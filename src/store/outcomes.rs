//! What the team metrics count: one compact record per closed request ([`OUTCOMES`]), written
//! as the request closes and kept a year, and the reads the metrics make of it, by when the
//! request closed. Also the open requests past their deadline, for the weekly update's open
//! questions.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use redb::{ReadableMultimapTable, ReadableTable};
use serde::{Deserialize, Serialize};

use super::requests::{Moment, decode_request, tier_byte, tier_of_byte};
use super::tables::{CLOSED_REQUESTS, OPEN_BY_RECIPIENT, OUTCOMES, REQUESTS};
use super::{Reads, Result, StoreError, Tx, from_ms, ms};
use crate::domain::metrics::End;
use crate::domain::sla::{CancelReason, RequestState, SlaRequest, Tier};

/// A closed request as the metrics read it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedRecord {
    pub id: u64,
    pub channel: String,
    pub author: String,
    pub recipient: String,
    pub recipient_tz: Tz,
    pub tier: Tier,
    pub opened_at: DateTime<Utc>,
    pub closed_at: DateTime<Utc>,
    /// The deadline when it closed (an ETA the recipient promised replaced it).
    pub deadline: DateTime<Utc>,
    pub steps: usize,
    pub end: End,
}

/// Version 1 of the stored record, behind a version byte (the layout is this file's own, so
/// renaming a domain type never changes what old records mean).
const OUTCOME_V1: u8 = 1;

#[derive(Serialize, Deserialize)]
struct PackedOutcome<'a> {
    channel: &'a str,
    author: &'a str,
    recipient: &'a str,
    recipient_tz: &'a str,
    /// 0 urgent, 1 normal, 2 low.
    tier: u8,
    opened_at: Moment,
    deadline: Moment,
    steps: u32,
    /// 0 answered, 1 expired, 2 withdrawn.
    end: u8,
}

fn end_of(request: &SlaRequest) -> Option<End> {
    match &request.state {
        RequestState::Open => None,
        RequestState::Answered { .. } => Some(End::Answered),
        RequestState::Cancelled {
            why: CancelReason::Expired,
            ..
        } => Some(End::Expired),
        RequestState::Cancelled { .. } => Some(End::Withdrawn),
    }
}

fn encode(request: &SlaRequest, end: End) -> Vec<u8> {
    let packed = PackedOutcome {
        channel: &request.channel,
        author: &request.author,
        recipient: &request.recipient,
        recipient_tz: request.recipient_tz.name(),
        tier: tier_byte(request.tier),
        opened_at: Moment::of(request.opened_at),
        deadline: Moment::of(request.deadline),
        steps: u32::try_from(request.steps_taken).unwrap_or(u32::MAX),
        end: match end {
            End::Answered => 0,
            End::Expired => 1,
            End::Withdrawn => 2,
        },
    };
    postcard::to_extend(&packed, vec![OUTCOME_V1]).expect("an outcome encodes")
}

fn decode(closed_ms: i64, id: u64, bytes: &[u8]) -> Result<ClosedRecord> {
    let corrupt = |reason: String| StoreError::Corrupt {
        what: format!("request_outcomes/{id}"),
        reason,
    };
    let Some((&OUTCOME_V1, rest)) = bytes.split_first() else {
        return Err(corrupt(format!(
            "unknown record format {:?}",
            bytes.first()
        )));
    };
    let p: PackedOutcome<'_> = postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string()))?;
    let moment = |m: &Moment| m.get().ok_or_else(|| corrupt("a time out of range".into()));
    Ok(ClosedRecord {
        id,
        channel: p.channel.to_owned(),
        author: p.author.to_owned(),
        recipient: p.recipient.to_owned(),
        recipient_tz: p
            .recipient_tz
            .parse()
            .map_err(|_| corrupt(format!("unknown time zone {:?}", p.recipient_tz)))?,
        tier: tier_of_byte(p.tier).map_err(corrupt)?,
        opened_at: moment(&p.opened_at)?,
        closed_at: from_ms(closed_ms),
        deadline: moment(&p.deadline)?,
        steps: p.steps as usize,
        end: match p.end {
            0 => End::Answered,
            1 => End::Expired,
            2 => End::Withdrawn,
            n => return Err(corrupt(format!("unknown ending {n}"))),
        },
    })
}

/// Reads of the metrics' records, inside a read or a write transaction.
pub trait OutcomeReads: Reads {
    /// Requests closed in [`from`, `to`), in order of closing. A range of the table's key:
    /// a week's worth costs what a week holds, whatever the store holds.
    fn outcomes_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ClosedRecord>> {
        let table = self.table(OUTCOMES)?;
        let mut out = Vec::new();
        if to <= from {
            return Ok(out);
        }
        for entry in table.range((ms(from), 0)..(ms(to), 0))? {
            let (k, v) = entry?;
            let (at, id) = k.value();
            out.push(decode(at, id, v.value())?);
        }
        Ok(out)
    }

    /// Open requests whose deadline passed before `now` (in `channel` when given), oldest
    /// first: the weekly update's open questions. Walks the open requests (the index of open
    /// ones, not every request): for a weekly post or a command, never on a tick.
    fn overdue_requests(
        &self,
        channel: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<SlaRequest>> {
        let index = self.multimap(OPEN_BY_RECIPIENT)?;
        let requests = self.table(REQUESTS)?;
        let mut out = Vec::new();
        for entry in index.iter()? {
            let (_, ids) = entry?;
            for id in ids {
                let id = id?.value();
                let Some(bytes) = requests.get(id)? else {
                    continue;
                };
                let request = decode_request(id, bytes.value())?;
                if request.is_open()
                    && request.deadline < now
                    && channel.is_none_or(|c| c == request.channel)
                {
                    out.push(request);
                }
            }
        }
        out.sort_by_key(|r| (r.opened_at, r.id));
        Ok(out)
    }
}

impl<T: Reads + ?Sized> OutcomeReads for T {}

impl Tx<'_> {
    /// Records how `request` ended, if it is closed: called in the transaction that closes it.
    pub(super) fn record_outcome(&mut self, request: &SlaRequest) -> Result<()> {
        let (Some(end), Some(closed_at)) = (end_of(request), request.closed_at()) else {
            return Ok(());
        };
        self.txn
            .open_table(OUTCOMES)?
            .insert((ms(closed_at), request.id), encode(request, end).as_slice())?;
        Ok(())
    }

    /// Removes at most `limit` records of requests closed before `cutoff` (unix ms).
    pub(super) fn prune_outcomes(&mut self, cutoff: i64, limit: usize) -> Result<usize> {
        let stale: Vec<(i64, u64)> = {
            let table = self.txn.open_table(OUTCOMES)?;
            let mut stale = Vec::new();
            for entry in table.range(..(cutoff, 0))?.take(limit) {
                stale.push(entry?.0.value());
            }
            stale
        };
        let mut table = self.txn.open_table(OUTCOMES)?;
        for key in &stale {
            table.remove(*key)?;
        }
        Ok(stale.len())
    }

    /// Records the requests closed after `after` (the closed-requests index's key) that a store
    /// from before the metrics has no record of, at most `limit`: the last 30 days' figures
    /// are there from the first start of a version with metrics. Returns the keys looked at.
    pub(super) fn backfill_outcomes(
        &mut self,
        after: Option<(i64, u64)>,
        limit: usize,
    ) -> Result<Vec<(i64, u64)>> {
        let keys: Vec<(i64, u64)> = {
            let index = self.txn.open_table(CLOSED_REQUESTS)?;
            let range = match after {
                Some(key) => {
                    index.range((std::ops::Bound::Excluded(key), std::ops::Bound::Unbounded))?
                }
                None => index.range::<(i64, u64)>(..)?,
            };
            let mut keys = Vec::new();
            for entry in range.take(limit) {
                keys.push(entry?.0.value());
            }
            keys
        };
        for &(at, id) in &keys {
            let known = self.txn.open_table(OUTCOMES)?.get((at, id))?.is_some();
            if known {
                continue;
            }
            let bytes = self
                .txn
                .open_table(REQUESTS)?
                .get(id)?
                .map(|v| v.value().to_vec());
            if let Some(bytes) = bytes {
                let request = decode_request(id, &bytes)?;
                self.record_outcome(&request)?;
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sla::Answer;
    use crate::store::Store;
    use chrono::TimeZone;

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 16, 9, 0, 0).unwrap() + chrono::Duration::hours(h)
    }

    fn request(id: u64, channel: &str) -> SlaRequest {
        SlaRequest {
            id,
            channel: channel.into(),
            message_ts: format!("{id}.000100"),
            thread_root: format!("{id}.000100"),
            author: "UALICE".into(),
            recipient: "UBOB".into(),
            recipient_tz: chrono_tz::Asia::Kolkata,
            tier: Tier::Urgent,
            excerpt: "can you look? <!channel>".into(),
            opened_at: at(0),
            deadline: at(2),
            steps_taken: 0,
            next_due: Some(at(2)),
            state: RequestState::Open,
            respite: Default::default(),
        }
    }

    #[test]
    fn a_closing_request_leaves_its_record_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_scratch(&dir.path().join("s.redb")).unwrap();
        let open = request(7, "C1");
        let answered = SlaRequest {
            state: RequestState::Answered {
                at: at(3),
                how: Answer::Reaction {
                    name: "eyes".into(),
                },
            },
            steps_taken: 1,
            next_due: None,
            ..open.clone()
        };
        let expired = SlaRequest {
            id: 8,
            channel: "C2".into(),
            state: RequestState::Cancelled {
                at: at(5),
                why: CancelReason::Expired,
            },
            steps_taken: 3,
            next_due: None,
            ..open.clone()
        };
        let withdrawn = SlaRequest {
            id: 9,
            state: RequestState::Cancelled {
                at: at(6),
                why: CancelReason::NotForMe,
            },
            next_due: None,
            ..open.clone()
        };
        store
            .write(|tx| {
                tx.put_request(&open)?;
                tx.put_request(&answered)?;
                // Written again while closed (a later edit): no second record.
                tx.put_request(&answered)?;
                tx.put_request(&expired)?;
                tx.put_request(&withdrawn)
            })
            .unwrap();
        let all = store
            .read(|rx| rx.outcomes_between(at(0), at(100)))
            .unwrap();
        let ends: Vec<(u64, End, usize)> = all.iter().map(|o| (o.id, o.end, o.steps)).collect();
        assert_eq!(
            ends,
            vec![
                (7, End::Answered, 1),
                (8, End::Expired, 3),
                (9, End::Withdrawn, 0)
            ]
        );
        let first = &all[0];
        assert_eq!(first.closed_at, at(3));
        assert_eq!(first.opened_at, at(0));
        assert_eq!(first.deadline, at(2));
        assert_eq!(first.recipient_tz, chrono_tz::Asia::Kolkata);
        assert_eq!(first.tier, Tier::Urgent);
        // The range is [from, to) by closing time.
        let window = store.read(|rx| rx.outcomes_between(at(3), at(5))).unwrap();
        assert_eq!(window.iter().map(|o| o.id).collect::<Vec<_>>(), vec![7]);
        assert!(
            store
                .read(|rx| rx.outcomes_between(at(9), at(1)))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn overdue_requests_are_the_open_ones_past_their_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_scratch(&dir.path().join("s.redb")).unwrap();
        store
            .write(|tx| {
                tx.put_request(&request(1, "C1"))?;
                tx.put_request(&SlaRequest {
                    deadline: at(50),
                    ..request(2, "C1")
                })?;
                tx.put_request(&request(3, "C2"))
            })
            .unwrap();
        let ids = |channel: Option<&str>| {
            store
                .read(|rx| rx.overdue_requests(channel, at(10)))
                .unwrap()
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(Some("C1")), vec![1]);
        assert_eq!(ids(None), vec![1, 3]);
        assert_eq!(ids(Some("C9")), Vec::<u64>::new());
    }

    #[test]
    fn an_unknown_record_is_an_error_not_a_panic() {
        assert!(decode(0, 1, &[]).is_err());
        assert!(decode(0, 1, &[9, 1, 2]).is_err());
        assert!(decode(0, 1, &[OUTCOME_V1, 0xff]).is_err());
    }
}
