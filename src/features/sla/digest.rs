//! The digest: once a person's daily nudge budget is spent (`respect.max_nudges_per_day`), the
//! day's further SLA steps wait in their digest, sent as one direct message at the start of
//! their next working period ("3 requests are waiting on you: …"), for the requests still open.

use chrono::{DateTime, Utc};

use crate::domain::format::{escape, excerpt, link, mention, permalink, quote_slack, slack_date};
use crate::domain::outbox::{Destination, OutgoingMessage};
use crate::domain::sla::SlaRequest;
use crate::engine::Engine;
use crate::store::prelude::*;
use crate::store::{StoreError, Tx};

/// The most requests listed one by one; the rest are counted.
const MAX_LISTED: usize = 10;

/// The digest's text: one line per request still open, oldest first. `ack` is the first of
/// `sla.ack_reactions` (none configured: only a reply closes a request).
pub fn render(requests: &[SlaRequest], team_url: Option<&str>, ack: Option<&str>) -> String {
    let n = requests.len();
    let mut text = if n == 1 {
        "1 request is waiting on you:\n".to_owned()
    } else {
        format!("{n} requests are waiting on you:\n")
    };
    for r in requests.iter().take(MAX_LISTED) {
        let quote = quote_slack(&excerpt(&r.excerpt, 100));
        let open = match team_url {
            Some(url) => {
                let thread = (r.thread_root != r.message_ts).then_some(r.thread_root.as_str());
                format!(
                    " {}",
                    link(&permalink(url, &r.channel, &r.message_ts, thread), "open")
                )
            }
            None => String::new(),
        };
        text.push_str(&format!(
            "• from {} in <#{}>: “{quote}” ({} SLA, since {}){open}\n",
            mention(&r.author),
            escape(&r.channel),
            r.tier.as_str(),
            slack_date(r.opened_at),
        ));
    }
    if n > MAX_LISTED {
        text.push_str(&format!(
            "… and {} more: `/sla` lists them all.\n",
            n - MAX_LISTED
        ));
    }
    match ack {
        Some(reaction) => text.push_str(&format!(
            "A reply in each thread, or a :{reaction}: reaction there, lets them know you've seen it."
        )),
        None => text.push_str("A reply in each thread lets them know you've seen it."),
    }
    text.push_str(" (I bundle what's left once you've had a few messages from me in a day.)");
    text
}

/// `user`'s digest timer came due: one DM with the requests still open, inside their working
/// time, counted against the new day's budget. Returns whether a message was queued.
pub(super) fn fire_in(
    engine: &Engine,
    tx: &mut Tx<'_>,
    user: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let digest = tx.take_digest(user)?;
    let mut open = Vec::new();
    for id in digest.requests {
        if let Some(r) = tx.request(id)?
            && r.is_open()
        {
            open.push(r);
        }
    }
    let Some(first) = open.first() else {
        return Ok(false);
    };
    let tz = tx.user_tz(user)?.unwrap_or(first.recipient_tz);
    let message = OutgoingMessage::new(
        Destination::DirectMessage {
            user: user.to_owned(),
        },
        render(
            &open,
            Some(engine.identity.team_url.as_str()),
            engine
                .settings
                .sla
                .ack_reactions
                .first()
                .map(String::as_str),
        ),
    )
    .in_working_time_of(user.to_owned(), tz);
    tracing::info!(%user, requests = open.len(), "sending a digest of held-back nudges");
    tx.count_pings(&message, now)?;
    tx.enqueue(message, now)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sla::{RequestState, Tier};
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn request(id: u64, excerpt: &str) -> SlaRequest {
        let at = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        SlaRequest {
            id,
            channel: "C1".into(),
            message_ts: format!("1.{id}"),
            thread_root: format!("1.{id}"),
            author: "UALICE".into(),
            recipient: "UBOB".into(),
            recipient_tz: chrono_tz::UTC,
            tier: Tier::Normal,
            excerpt: excerpt.into(),
            opened_at: at,
            deadline: at,
            steps_taken: 1,
            next_due: None,
            state: RequestState::Open,
            respite: Default::default(),
        }
    }

    #[test]
    fn the_digest_lists_each_request_with_a_link() {
        let text = render(
            &[request(1, "budget?"), request(2, "<!channel> rota?")],
            Some("https://acme.slack.com/"),
            Some("eyes"),
        );
        assert!(
            text.starts_with("2 requests are waiting on you:\n"),
            "{text}"
        );
        assert!(
            text.contains("• from <@UALICE> in <#C1>: “budget?” (normal SLA, since <!date^"),
            "{text}"
        );
        assert!(text.contains("|open>"), "{text}");
        assert!(!text.contains("<!channel>"), "broadcasts go inert: {text}");
        let one = render(&[request(1, "x")], None, Some("eyes"));
        assert!(one.contains("a :eyes: reaction there"), "{one}");
        let none = render(&[request(1, "x")], None, None);
        assert!(
            none.contains("A reply in each thread lets them know"),
            "{none}"
        );
        let other = render(&[request(1, "x")], None, Some("ok_hand"));
        assert!(
            other.contains(":ok_hand:") && !other.contains(":eyes:"),
            "{other}"
        );
        assert!(one.starts_with("1 request is waiting on you:\n"), "{one}");
    }

    #[test]
    fn long_digests_are_cut_and_counted() {
        let many: Vec<_> = (0..25).map(|i| request(i, "q")).collect();
        let text = render(&many, None, Some("eyes"));
        assert_eq!(text.matches("• from").count(), MAX_LISTED);
        assert!(text.contains("… and 15 more"), "{text}");
    }

    proptest! {
        /// Whatever people wrote, the digest stays within what Slack shows in one message.
        #[test]
        fn any_excerpts_fit_one_message(texts in proptest::collection::vec("\\PC{0,400}", 1..40)) {
            let requests: Vec<_> = texts.iter().enumerate().map(|(i, t)| request(i as u64, t)).collect();
            let text = render(&requests, Some("https://acme.slack.com/"), Some("eyes"));
            prop_assert!(text.chars().count() < 4_000, "{}", text.chars().count());
        }
    }
}
