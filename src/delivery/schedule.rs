//! The delivery worker's timetable, in memory: when each conversation is next looked at, when
//! it may next be posted to (its own pace, its own `Retry-After`), which ones have a message in
//! flight; and the workspace-wide token bucket. The store holds the queues; this only says when
//! to read them, so a deep queue or a long `Retry-After` in one conversation delays no other.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Default)]
pub struct Timetable {
    /// Conversations with queued messages, by when to look at them next.
    due: BTreeSet<(DateTime<Utc>, String)>,
    /// The other way round: each conversation's place in `due`.
    looks: HashMap<String, DateTime<Utc>>,
    /// When each conversation may next be posted to: one message per interval, or Slack's
    /// `Retry-After` for that conversation alone.
    next_allowed: HashMap<String, DateTime<Utc>>,
    /// Conversations with a message being sent: one at a time each, so order is kept.
    in_flight: HashSet<String>,
}

impl Timetable {
    /// Looks at `conversation` at `at` (what its queue said), or later if its pace says so.
    pub fn look_at(&mut self, conversation: &str, at: DateTime<Utc>) {
        self.unschedule(conversation);
        let at = self.paced(conversation, at);
        self.looks.insert(conversation.to_owned(), at);
        self.due.insert((at, conversation.to_owned()));
    }

    /// Looks at `conversation` no later than `at` (something was queued in it). One with a
    /// message in flight is looked at anyway once that message's outcome is recorded.
    pub fn look_by(&mut self, conversation: &str, at: DateTime<Utc>) {
        if self.in_flight.contains(conversation) {
            return;
        }
        let at = self.paced(conversation, at);
        match self.looks.get(conversation) {
            Some(&when) if when <= at => {}
            _ => self.look_at(conversation, at),
        }
    }

    /// Nothing is queued in `conversation`: not looked at until something is.
    pub fn forget(&mut self, conversation: &str) {
        self.unschedule(conversation);
    }

    /// `conversation` may not be posted to before `until`.
    pub fn pace(&mut self, conversation: &str, until: DateTime<Utc>) {
        self.next_allowed.insert(conversation.to_owned(), until);
    }

    /// Up to `n` conversations due at `now` (none in flight), earliest first, taken out of the
    /// timetable: each must then be started, looked at again later, or forgotten.
    pub fn take_due(&mut self, now: DateTime<Utc>, n: usize) -> Vec<String> {
        let mut taken = Vec::new();
        while taken.len() < n {
            let Some((at, _)) = self.due.first() else {
                break;
            };
            if *at > now {
                break;
            }
            let (_, conversation) = self.due.pop_first().expect("just seen");
            self.looks.remove(&conversation);
            taken.push(conversation);
        }
        taken
    }

    /// A message of `conversation` is on its way.
    pub fn start(&mut self, conversation: &str) {
        self.in_flight.insert(conversation.to_owned());
    }

    /// Its outcome is recorded: look at the conversation again as soon as its pace allows.
    pub fn finish(&mut self, conversation: &str, now: DateTime<Utc>) {
        self.in_flight.remove(conversation);
        self.look_at(conversation, now);
    }

    /// When the next conversation falls due.
    pub fn next_look(&self) -> Option<DateTime<Utc>> {
        self.due.first().map(|(at, _)| *at)
    }

    /// How many conversations have messages queued (as far as this timetable knows).
    pub fn conversations(&self) -> usize {
        self.looks.len() + self.in_flight.len()
    }

    /// Forgets paces that ended, so the map does not grow with every conversation ever seen.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        self.next_allowed.retain(|_, until| *until > now);
    }

    fn paced(&self, conversation: &str, at: DateTime<Utc>) -> DateTime<Utc> {
        self.next_allowed
            .get(conversation)
            .map_or(at, |allowed| at.max(*allowed))
    }

    fn unschedule(&mut self, conversation: &str) {
        if let Some(at) = self.looks.remove(conversation) {
            self.due.remove(&(at, conversation.to_owned()));
        }
    }
}

/// The workspace-wide send rate: a token bucket holding one second's worth of sends (GCRA:
/// one "theoretical arrival time" instead of a token count), on the worker's clock, so it runs
/// the same on the real clock and on a virtual one.
#[derive(Debug)]
pub struct Bucket {
    /// Time one send costs: a second divided by the rate.
    cost: Duration,
    /// How far ahead of now the bucket may be booked: one second's worth, less one send.
    slack: Duration,
    /// When the bucket would be empty again at the rate, after the sends so far.
    booked_until: DateTime<Utc>,
}

impl Bucket {
    pub fn per_second(rate: u32) -> Self {
        let cost = Duration::nanoseconds(1_000_000_000 / i64::from(rate.max(1)));
        Self {
            cost,
            slack: Duration::seconds(1) - cost,
            booked_until: DateTime::<Utc>::MIN_UTC,
        }
    }

    /// Takes one send at `now`, or says from when one may be taken.
    pub fn take(&mut self, now: DateTime<Utc>) -> Result<(), DateTime<Utc>> {
        let booked = self.booked_until.max(now);
        if booked - now > self.slack {
            return Err(booked - self.slack);
        }
        self.booked_until = booked + self.cost;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn a_paced_conversation_falls_due_only_when_its_pace_allows() {
        let mut tt = Timetable::default();
        tt.look_by("C1", t(0));
        tt.look_by("C2", t(0));
        assert_eq!(tt.take_due(t(0), 10), vec!["C1", "C2"]);
        tt.start("C1");
        tt.start("C2");
        // C1 was posted to: once a second. C2 was answered 429 with a minute's Retry-After.
        tt.pace("C1", t(1000));
        tt.pace("C2", t(60_000));
        tt.finish("C1", t(5));
        tt.finish("C2", t(5));
        // Something new queued in C2 does not jump its Retry-After.
        tt.look_by("C2", t(10));
        assert!(tt.take_due(t(999), 10).is_empty());
        assert_eq!(tt.next_look(), Some(t(1000)));
        assert_eq!(tt.take_due(t(1000), 10), vec!["C1"]);
        tt.forget("C1");
        assert_eq!(tt.take_due(t(59_999), 10), Vec::<String>::new());
        assert_eq!(tt.take_due(t(60_000), 10), vec!["C2"]);
        assert_eq!(tt.conversations(), 0);
    }

    #[test]
    fn a_conversation_in_flight_is_not_taken_twice_and_earlier_looks_win() {
        let mut tt = Timetable::default();
        tt.look_at("C1", t(500));
        tt.look_by("C1", t(100));
        tt.look_by("C1", t(300));
        assert_eq!(tt.next_look(), Some(t(100)));
        assert_eq!(tt.take_due(t(100), 1), vec!["C1"]);
        tt.start("C1");
        tt.look_by("C1", t(100));
        assert!(tt.take_due(t(100), 10).is_empty());
        assert_eq!(tt.conversations(), 1);
    }

    #[test]
    fn the_bucket_lets_one_seconds_worth_through_then_paces() {
        let mut bucket = Bucket::per_second(4);
        for _ in 0..4 {
            assert_eq!(bucket.take(t(0)), Ok(()));
        }
        assert_eq!(bucket.take(t(0)), Err(t(250)));
        assert_eq!(bucket.take(t(250)), Ok(()));
        assert_eq!(bucket.take(t(250)), Err(t(500)));
        // Idle for a while: a full second's worth again, no more.
        let sent = (0..10).filter(|_| bucket.take(t(10_000)).is_ok()).count();
        assert_eq!(sent, 4);
    }
}
