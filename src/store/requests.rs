//! SLA requests and their indexes (by message, by thread, open ones by recipient and by author,
//! closed ones by when, for the pruner), and the requests' compact stored form
//! ([`encode_request`], [`decode_request`]).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;
use redb::{MultimapTableDefinition, ReadableMultimapTable, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use super::tables::{
    CLOSED_REQUESTS, OPEN_BY_AUTHOR, OPEN_BY_RECIPIENT, REQUESTS, REQUESTS_BY_MESSAGE,
    REQUESTS_BY_THREAD,
};
use super::timers::sla_timer_key;
use super::{Reads, Result, StoreError, Tx, from_json, message_key, ms};
use crate::domain::sla::{Answer, CancelReason, RequestState, Respite, SlaRequest, Tier};

// ---- the stored form -----------------------------------------------------------------------------
//
// A million open requests must fit a small store and a small cache, so a request is stored in
// postcard (varint integers, length-prefixed strings) behind a version byte, not as JSON with
// its field names and RFC 3339 dates: about a third of the bytes. Stores written before hold
// JSON records, which start with `{`: both are read, and a record is rewritten in the compact
// form the next time it changes. The layout is this file's own (`Packed`), not the domain
// type's serde shape, so renaming a domain field or reordering an enum never silently changes
// what old records mean: enums are mapped to fixed numbers below.

/// The first byte of a request in the compact form (version 1). JSON records start with `{`.
const PACKED_V1: u8 = 1;
/// Version 2: version 1's `Packed`, then a `PackedRespite` (an ETA or a snooze from the
/// buttons). Only requests with one are written so: the others stay version 1, byte for byte,
/// and a binary from before the buttons still reads them.
const PACKED_V2: u8 = 2;

/// What the buttons added to a request (see [`crate::domain::sla::Respite`]).
#[derive(Serialize, Deserialize)]
struct PackedRespite {
    eta: Option<Moment>,
    /// The recipient's local date, as days since 0001-01-01 (CE).
    snoozed_on: Option<i32>,
}

/// A moment, exact to the nanosecond (due times are recorded to the nanosecond).
#[derive(Serialize, Deserialize)]
pub(super) struct Moment(i64, u32);

impl Moment {
    pub(super) fn of(at: DateTime<Utc>) -> Self {
        Moment(at.timestamp(), at.timestamp_subsec_nanos())
    }

    pub(super) fn get(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.0, self.1)
    }
}

#[derive(Serialize, Deserialize)]
enum PackedState<'a> {
    Open,
    /// `how`: 0 a thread reply, 1 a channel reply, 2 a reaction (named `reaction`), 3 marked
    /// answered with the button.
    Answered {
        at: Moment,
        how: u8,
        reaction: &'a str,
    },
    /// `why`: 0 the mention was edited away, 1 the message deleted, 2 not a person, 3 expired
    /// (nobody answered for `sla.forget_after` after the last step), 4 "not for me" (the
    /// recipient's button), 5 a standup blocker cleared by its author.
    Cancelled {
        at: Moment,
        why: u8,
    },
}

#[derive(Serialize, Deserialize)]
struct Packed<'a> {
    id: u64,
    channel: &'a str,
    message_ts: &'a str,
    /// `None` when the thread root is the message itself (a top-level message: most are).
    thread_root: Option<&'a str>,
    author: &'a str,
    recipient: &'a str,
    /// The IANA name: stable across chrono-tz versions, unlike its enum's numbering.
    recipient_tz: &'a str,
    /// 0 urgent, 1 normal, 2 low.
    tier: u8,
    excerpt: &'a str,
    opened_at: Moment,
    deadline: Moment,
    steps_taken: u64,
    next_due: Option<Moment>,
    state: PackedState<'a>,
}

/// A tier's fixed number in the stored forms (requests, outcomes): 0 urgent, 1 normal, 2 low.
pub(super) fn tier_byte(tier: Tier) -> u8 {
    match tier {
        Tier::Urgent => 0,
        Tier::Normal => 1,
        Tier::Low => 2,
    }
}

/// The tier a stored number stands for ([`tier_byte`]).
pub(super) fn tier_of_byte(n: u8) -> std::result::Result<Tier, String> {
    match n {
        0 => Ok(Tier::Urgent),
        1 => Ok(Tier::Normal),
        2 => Ok(Tier::Low),
        n => Err(format!("unknown tier {n}")),
    }
}

/// A request in its stored form: the version byte, then the postcard encoding of `Packed`.
pub(super) fn encode_request(r: &SlaRequest) -> Vec<u8> {
    let state = match &r.state {
        RequestState::Open => PackedState::Open,
        RequestState::Answered { at, how } => {
            let (how, reaction) = match how {
                Answer::ThreadReply => (0, ""),
                Answer::ChannelReply => (1, ""),
                Answer::Reaction { name } => (2, name.as_str()),
                Answer::MarkedAnswered => (3, ""),
            };
            PackedState::Answered {
                at: Moment::of(*at),
                how,
                reaction,
            }
        }
        RequestState::Cancelled { at, why } => PackedState::Cancelled {
            at: Moment::of(*at),
            why: match why {
                CancelReason::MentionEdited => 0,
                CancelReason::MessageDeleted => 1,
                CancelReason::NotAPerson => 2,
                CancelReason::Expired => 3,
                CancelReason::NotForMe => 4,
                CancelReason::BlockerCleared => 5,
            },
        },
    };
    let packed = Packed {
        id: r.id,
        channel: &r.channel,
        message_ts: &r.message_ts,
        thread_root: (r.thread_root != r.message_ts).then_some(r.thread_root.as_str()),
        author: &r.author,
        recipient: &r.recipient,
        recipient_tz: r.recipient_tz.name(),
        tier: tier_byte(r.tier),
        excerpt: &r.excerpt,
        opened_at: Moment::of(r.opened_at),
        deadline: Moment::of(r.deadline),
        steps_taken: r.steps_taken as u64,
        next_due: r.next_due.map(Moment::of),
        state,
    };
    // Strings, integers and options only: postcard cannot fail on them into a Vec.
    if r.respite.is_empty() {
        return postcard::to_extend(&packed, vec![PACKED_V1]).expect("a request encodes");
    }
    let bytes = postcard::to_extend(&packed, vec![PACKED_V2]).expect("a request encodes");
    let respite = PackedRespite {
        eta: r.respite.eta.map(Moment::of),
        snoozed_on: r.respite.snoozed_on.map(|d| d.num_days_from_ce()),
    };
    postcard::to_extend(&respite, bytes).expect("a respite encodes")
}

/// How many bytes `request` takes in the store (its record, without the indexes): for the
/// benchmarks.
pub fn request_record_len(request: &SlaRequest) -> usize {
    encode_request(request).len()
}

/// A stored request, in the compact form or (written by an older version) JSON.
pub(super) fn decode_request(id: u64, bytes: &[u8]) -> Result<SlaRequest> {
    let what = || format!("sla_requests/{id}");
    match bytes.first() {
        Some(b'{') => from_json(what, bytes),
        Some(&PACKED_V1) => postcard::from_bytes::<Packed<'_>>(&bytes[1..])
            .map_err(|e| e.to_string())
            .and_then(|p| unpack(&p, None))
            .map_err(|reason| StoreError::Corrupt {
                what: what(),
                reason,
            }),
        Some(&PACKED_V2) => postcard::take_from_bytes::<Packed<'_>>(&bytes[1..])
            .and_then(|(p, rest)| Ok((p, postcard::from_bytes::<PackedRespite>(rest)?)))
            .map_err(|e| e.to_string())
            .and_then(|(p, respite)| unpack(&p, Some(&respite)))
            .map_err(|reason| StoreError::Corrupt {
                what: what(),
                reason,
            }),
        other => Err(StoreError::Corrupt {
            what: what(),
            reason: format!("unknown record format {other:?}"),
        }),
    }
}

fn unpack(
    p: &Packed<'_>,
    respite: Option<&PackedRespite>,
) -> std::result::Result<SlaRequest, String> {
    let moment = |m: &Moment| {
        m.get()
            .ok_or_else(|| format!("a time out of range ({})", m.0))
    };
    let state = match &p.state {
        PackedState::Open => RequestState::Open,
        PackedState::Answered { at, how, reaction } => RequestState::Answered {
            at: moment(at)?,
            how: match how {
                0 => Answer::ThreadReply,
                1 => Answer::ChannelReply,
                2 => Answer::Reaction {
                    name: (*reaction).to_owned(),
                },
                3 => Answer::MarkedAnswered,
                n => return Err(format!("unknown answer {n}")),
            },
        },
        PackedState::Cancelled { at, why } => RequestState::Cancelled {
            at: moment(at)?,
            why: match why {
                0 => CancelReason::MentionEdited,
                1 => CancelReason::MessageDeleted,
                2 => CancelReason::NotAPerson,
                3 => CancelReason::Expired,
                4 => CancelReason::NotForMe,
                5 => CancelReason::BlockerCleared,
                n => return Err(format!("unknown cancel reason {n}")),
            },
        },
    };
    Ok(SlaRequest {
        id: p.id,
        channel: p.channel.to_owned(),
        message_ts: p.message_ts.to_owned(),
        thread_root: p.thread_root.unwrap_or(p.message_ts).to_owned(),
        author: p.author.to_owned(),
        recipient: p.recipient.to_owned(),
        recipient_tz: p
            .recipient_tz
            .parse::<Tz>()
            .map_err(|_| format!("unknown time zone {:?}", p.recipient_tz))?,
        tier: tier_of_byte(p.tier)?,
        excerpt: p.excerpt.to_owned(),
        opened_at: moment(&p.opened_at)?,
        deadline: moment(&p.deadline)?,
        steps_taken: usize::try_from(p.steps_taken).map_err(|e| e.to_string())?,
        next_due: p.next_due.as_ref().map(moment).transpose()?,
        state,
        respite: match respite {
            None => Respite::default(),
            Some(r) => Respite {
                eta: r.eta.as_ref().map(moment).transpose()?,
                snoozed_on: r
                    .snoozed_on
                    .map(|days| {
                        NaiveDate::from_num_days_from_ce_opt(days)
                            .ok_or_else(|| format!("a snooze date out of range ({days})"))
                    })
                    .transpose()?,
            },
        },
    })
}

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
            out.push(decode_request(id, v.value())?);
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
            Some(v) => Ok(Some(decode_request(id, v.value())?)),
            None => Ok(None),
        }
    }

    /// Every request (open and recently closed), oldest first: a scan, for the simulator's
    /// report only; never on a tick, at start or for `/healthz`.
    fn all_requests(&self) -> Result<Vec<SlaRequest>> {
        let table = self.table(REQUESTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (k, v) = entry?;
            let id = k.value();
            out.push(decode_request(id, v.value())?);
        }
        Ok(out)
    }

    /// How many requests are open (for `/healthz`). O(1): redb keeps each table's and each
    /// multimap's length in its header (checked in redb 4.5), nothing is walked.
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
            // The team metrics keep what they count of it for a year.
            self.record_outcome(request)?;
        }
        self.txn
            .open_table(REQUESTS)?
            .insert(request.id, encode_request(request).as_slice())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn sample() -> SlaRequest {
        SlaRequest {
            id: 42,
            channel: "C0123ABCD".into(),
            message_ts: "1795512600.123456".into(),
            thread_root: "1795512600.123456".into(),
            author: "U0ALICE01".into(),
            recipient: "U0BOB0001".into(),
            recipient_tz: chrono_tz::Europe::Berlin,
            tier: Tier::Normal,
            excerpt: "<@U0BOB0001|bob> can you review the deploy plan before Friday? It touches the billing cron".into(),
            opened_at: Utc.timestamp_opt(1_795_512_600, 123_456_789).unwrap(),
            deadline: Utc.timestamp_opt(1_795_599_000, 0).unwrap(),
            steps_taken: 0,
            next_due: Some(Utc.timestamp_opt(1_795_599_000, 1).unwrap()),
            state: RequestState::Open,
            respite: Respite::default(),
        }
    }

    #[test]
    fn an_eta_or_a_snooze_is_kept_in_version_2_and_version_1_records_still_read() {
        let v1 = sample();
        let v1_bytes = encode_request(&v1);
        assert_eq!(
            v1_bytes[0], PACKED_V1,
            "no respite: the old form, unchanged"
        );
        let mut r = sample();
        r.respite = Respite {
            eta: Some(Utc.timestamp_opt(1_795_620_000, 0).unwrap()),
            snoozed_on: Some(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()),
        };
        let v2_bytes = encode_request(&r);
        assert_eq!(v2_bytes[0], PACKED_V2);
        assert_eq!(decode_request(42, &v2_bytes).unwrap(), r);
        // Version 2 is version 1's body plus the respite: a few bytes, not a new layout.
        assert_eq!(v2_bytes[1..v1_bytes.len()], v1_bytes[1..]);
        assert!(v2_bytes.len() <= v1_bytes.len() + 16, "{}", v2_bytes.len());
        assert_eq!(decode_request(42, &v1_bytes).unwrap(), v1);
        // The new ways to close round-trip, in both forms.
        for state in [
            RequestState::Answered {
                at: r.deadline,
                how: Answer::MarkedAnswered,
            },
            RequestState::Cancelled {
                at: r.deadline,
                why: CancelReason::NotForMe,
            },
        ] {
            for respite in [Respite::default(), r.respite.clone()] {
                let closed = SlaRequest {
                    state: state.clone(),
                    respite,
                    ..sample()
                };
                assert_eq!(
                    decode_request(42, &encode_request(&closed)).unwrap(),
                    closed
                );
            }
        }
        // A damaged respite is an error, not a panic or a silent default.
        for cut in v1_bytes.len()..v2_bytes.len() {
            assert!(
                decode_request(42, &v2_bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_json_record_without_a_respite_reads_with_none() {
        let json = r#"{"id":7,"channel":"C1","message_ts":"1.2","thread_root":"1.2","author":"U1","recipient":"U2","recipient_tz":"UTC","tier":"normal","excerpt":"x","opened_at":"2026-11-20T10:00:00Z","deadline":"2026-11-20T12:00:00Z","steps_taken":0,"next_due":null,"state":{"state":"open"}}"#;
        assert_eq!(
            decode_request(7, json.as_bytes()).unwrap().respite,
            Respite::default()
        );
    }

    #[test]
    fn a_request_round_trips_and_is_much_smaller_than_json() {
        let r = sample();
        let packed = encode_request(&r);
        assert_eq!(packed[0], PACKED_V1);
        assert_eq!(decode_request(r.id, &packed).unwrap(), r);
        let json = serde_json::to_vec(&r).unwrap();
        assert!(
            packed.len() * 2 < json.len(),
            "{} bytes packed, {} as JSON",
            packed.len(),
            json.len()
        );
    }

    #[test]
    fn a_json_record_from_an_older_store_is_still_read() {
        // As version 0.1 wrote it: the domain type's serde shape.
        let json = r#"{"id":7,"channel":"C1","message_ts":"1.2","thread_root":"1.0","author":"U1","recipient":"U2","recipient_tz":"America/New_York","tier":"urgent","excerpt":"asap please","opened_at":"2026-11-20T10:00:00.5Z","deadline":"2026-11-20T12:00:00Z","steps_taken":1,"next_due":null,"state":{"state":"answered","at":"2026-11-20T13:00:00Z","how":{"kind":"reaction","name":"eyes"}}}"#;
        let r = decode_request(7, json.as_bytes()).unwrap();
        assert_eq!(r.thread_root, "1.0");
        assert_eq!(r.recipient_tz, chrono_tz::America::New_York);
        assert_eq!(r.tier, Tier::Urgent);
        assert_eq!(
            r.state,
            RequestState::Answered {
                at: "2026-11-20T13:00:00Z".parse().unwrap(),
                how: Answer::Reaction {
                    name: "eyes".into()
                },
            }
        );
        // Written back, it takes the compact form and reads the same.
        let packed = encode_request(&r);
        assert_eq!(packed[0], PACKED_V1);
        assert_eq!(decode_request(7, &packed).unwrap(), r);
    }

    #[test]
    fn a_stored_json_request_is_rewritten_compactly_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("s.redb")).unwrap();
        let mut r = sample();
        store
            .write(|tx| {
                tx.put_request(&r)?;
                // As an older version left it.
                let json = serde_json::to_vec(&r).unwrap();
                tx.txn.open_table(REQUESTS)?.insert(r.id, json.as_slice())?;
                Ok(())
            })
            .unwrap();
        assert_eq!(store.read(|rx| rx.request(42)).unwrap(), Some(r.clone()));
        assert_eq!(store.read(|rx| rx.count_open_requests()).unwrap(), 1);
        r.answer(Answer::ThreadReply, r.deadline);
        store.write(|tx| tx.put_request(&r)).unwrap();
        let raw = store
            .read(|rx| Ok(rx.table(REQUESTS)?.get(42)?.unwrap().value().to_vec()))
            .unwrap();
        assert_eq!(raw[0], PACKED_V1);
        assert_eq!(store.read(|rx| rx.request(42)).unwrap(), Some(r));
        assert_eq!(store.read(|rx| rx.count_open_requests()).unwrap(), 0);
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let packed = encode_request(&sample());
        for cut in 0..packed.len() {
            assert!(decode_request(42, &packed[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_request(42, &[9, 1, 2]).is_err());
        let mut bad_tz = sample();
        bad_tz.recipient_tz = chrono_tz::UTC;
        let mut bytes = encode_request(&bad_tz);
        let at = bytes.windows(3).position(|w| w == b"UTC").unwrap();
        bytes[at..at + 3].copy_from_slice(b"XYZ");
        let err = decode_request(42, &bytes).unwrap_err().to_string();
        assert!(
            err.contains("sla_requests/42") && err.contains("XYZ"),
            "{err}"
        );
    }

    fn moment() -> impl Strategy<Value = DateTime<Utc>> {
        // Years -1200 to 5100, to the nanosecond.
        (-100_000_000_000i64..100_000_000_000, 0u32..1_000_000_000)
            .prop_map(|(s, n)| Utc.timestamp_opt(s, n).unwrap())
    }

    fn state() -> impl Strategy<Value = RequestState> {
        prop_oneof![
            Just(RequestState::Open),
            (moment(), 0..4u8, "\\PC{0,20}").prop_map(|(at, how, name)| RequestState::Answered {
                at,
                how: match how {
                    0 => Answer::ThreadReply,
                    1 => Answer::ChannelReply,
                    2 => Answer::MarkedAnswered,
                    _ => Answer::Reaction { name },
                },
            }),
            (moment(), 0..6u8).prop_map(|(at, why)| RequestState::Cancelled {
                at,
                why: [
                    CancelReason::MentionEdited,
                    CancelReason::MessageDeleted,
                    CancelReason::NotAPerson,
                    CancelReason::Expired,
                    CancelReason::NotForMe,
                    CancelReason::BlockerCleared,
                ][why as usize],
            }),
        ]
    }

    fn request() -> impl Strategy<Value = SlaRequest> {
        let ids = (
            any::<u64>(),
            "\\PC{0,12}",
            "\\PC{0,20}",
            proptest::option::of("\\PC{0,20}"),
        );
        let people = (
            "\\PC{0,12}",
            "\\PC{0,12}",
            0..chrono_tz::TZ_VARIANTS.len(),
            0..3u8,
        );
        let text = ("\\PC{0,160}", moment(), moment(), any::<usize>());
        let respite = (
            proptest::option::of(moment()),
            proptest::option::of(-700_000i32..3_000_000),
        )
            .prop_map(|(eta, days)| Respite {
                eta,
                snoozed_on: days.and_then(NaiveDate::from_num_days_from_ce_opt),
            });
        let rest = (proptest::option::of(moment()), state(), respite);
        (ids, people, text, rest).prop_map(
            |(
                (id, channel, message_ts, root),
                (author, recipient, tz, tier),
                (excerpt, opened_at, deadline, steps_taken),
                (next_due, state, respite),
            )| SlaRequest {
                id,
                thread_root: root.unwrap_or_else(|| message_ts.clone()),
                channel,
                message_ts,
                author,
                recipient,
                recipient_tz: chrono_tz::TZ_VARIANTS[tz],
                tier: [Tier::Urgent, Tier::Normal, Tier::Low][tier as usize],
                excerpt,
                opened_at,
                deadline,
                steps_taken,
                next_due,
                state,
                respite,
            },
        )
    }

    proptest! {
        #[test]
        fn any_request_round_trips(r in request()) {
            let packed = encode_request(&r);
            prop_assert_eq!(decode_request(r.id, &packed).unwrap(), r.clone());
            // And the JSON an older version wrote reads as the same request.
            let json = serde_json::to_vec(&r).unwrap();
            prop_assert_eq!(decode_request(r.id, &json).unwrap(), r);
        }
    }
}
