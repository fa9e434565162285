//! Answers and questions told apart (issue 10, item 7): a question opens requests for everyone
//! it mentions and answers nobody outside its thread; a message that asks nothing and mentions
//! the asker answers them; a reply in a request's thread answers it, even when it asks back.

use asyncbot::domain::sla::{Answer, RequestState, SlaRequest};
use asyncbot::store::prelude::*;

use crate::inproc::*;

const BERLIN: &str = "Europe/Berlin";
const NY: &str = "America/New_York";

/// Open requests, as (author, recipient), sorted.
fn open_pairs(bot: &Bot) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for who in ["UALICE", "UBOB", "UCAROL", "UDAN"] {
        let theirs: Vec<SlaRequest> = bot
            .store
            .read(|rx| rx.open_requests_by_author(who))
            .unwrap();
        pairs.extend(theirs.into_iter().map(|r| (r.author, r.recipient)));
    }
    pairs.sort();
    pairs
}

fn pair(author: &str, recipient: &str) -> (String, String) {
    (author.to_owned(), recipient.to_owned())
}

/// How the requests of message `ts` ended, by recipient.
fn states(bot: &Bot, ts: &str) -> Vec<(String, RequestState)> {
    let mut requests: Vec<SlaRequest> = bot
        .store
        .read(|rx| rx.requests_for_message(CHANNEL, ts))
        .unwrap();
    requests.sort_by(|a, b| a.recipient.cmp(&b.recipient));
    requests
        .into_iter()
        .map(|r| (r.recipient, r.state))
        .collect()
}

fn answered_how(state: &RequestState) -> Option<&Answer> {
    match state {
        RequestState::Answered { how, .. } => Some(how),
        _ => None,
    }
}

/// The example: Alice asks Bob; Bob, instead of answering, asks Alice and Dan (Dan is
/// "dave" of the issue) who takes the on-call swap. Alice's request to Bob stays open and climbs
/// its ladder; Alice and Dan each get a request from Bob. In Latin, CJK and Arabic script alike.
#[tokio::test(start_paused = true)]
async fn a_new_question_to_the_asker_and_others_answers_nobody_and_asks_them_all() {
    for question in [
        "<@UALICE> <@UDAN> who takes the on-call swap?",
        "<@UALICE> <@UDAN> 誰がオンコールを交代しますか？",
        "<@UALICE> <@UDAN> من سيأخذ المناوبة؟",
    ] {
        let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
        let ask = bot
            .post(
                CHANNEL,
                "UALICE",
                "<@UBOB> can you take my on-call shift on Friday?",
            )
            .await;
        bot.run_for(hours(1)).await;
        bot.post(CHANNEL, "UBOB", question).await;
        assert_eq!(
            open_pairs(&bot),
            vec![
                pair("UALICE", "UBOB"),
                pair("UBOB", "UALICE"),
                pair("UBOB", "UDAN")
            ],
            "{question}"
        );
        // Alice's request is alive: Bob is nudged in its thread at his deadline.
        bot.run_until(at("2026-11-24 09:01", NY)).await;
        let nudges = bot.posts_in_thread(&ask);
        assert_eq!(nudges.len(), 1, "{}", bot.transcript(NY));
        assert!(nudges[0].text.contains("<@UBOB>, alice's request"));
    }
}

/// A top-level message that mentions only the asker and asks nothing answers them, and opens
/// nothing for them: "@alice done!" is an answer, not a question.
#[tokio::test(start_paused = true)]
async fn a_plain_answer_to_the_asker_closes_their_request() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let ask = bot
        .post(CHANNEL, "UALICE", "<@UBOB> can you take my on-call shift?")
        .await;
    bot.run_for(hours(1)).await;
    bot.post(CHANNEL, "UBOB", "<@UALICE> done, I'll take Friday.")
        .await;
    assert_eq!(open_pairs(&bot), vec![]);
    let ended = states(&bot, &ask);
    assert_eq!(answered_how(&ended[0].1), Some(&Answer::ChannelReply));
}

/// A question mark only in code or in a link asks nothing: the message is an answer.
#[tokio::test(start_paused = true)]
async fn a_question_mark_in_a_link_or_code_does_not_make_a_question() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let first = bot
        .post(CHANNEL, "UALICE", "<@UBOB> where is the CI run?")
        .await;
    bot.post(
        CHANNEL,
        "UBOB",
        "<@UALICE> here: <https://ci.example.test/runs?id=42|run 42>, fixed with `a?.b`",
    )
    .await;
    assert_eq!(open_pairs(&bot), vec![]);
    assert!(answered_how(&states(&bot, &first)[0].1).is_some());
}

/// Chosen: a top-level message that asks nothing and mentions the asker and others answers the
/// asker and opens requests for the others ("@alice @dan swapped: Dan takes Friday, please
/// confirm by Thursday." tells Alice and asks Dan). Had it asked something, it would answer
/// nobody (above).
#[tokio::test(start_paused = true)]
async fn a_statement_to_the_asker_and_others_answers_the_asker_and_asks_the_others() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let ask = bot
        .post(CHANNEL, "UALICE", "<@UBOB> can you take my on-call shift?")
        .await;
    bot.run_for(hours(1)).await;
    bot.post(
        CHANNEL,
        "UBOB",
        "<@UALICE> <@UDAN> swapped: Dan takes Friday, please confirm by Thursday.",
    )
    .await;
    assert_eq!(open_pairs(&bot), vec![pair("UBOB", "UDAN")]);
    assert_eq!(
        answered_how(&states(&bot, &ask)[0].1),
        Some(&Answer::ChannelReply)
    );
}

/// Chosen: a question in a request's thread answers that request (the recipient engaged, in the
/// place the asker watches) and asks everyone it mentions, the asker included: now Bob waits on
/// Alice and Dan. Carol, asked in the same message as Bob, still owes her answer.
#[tokio::test(start_paused = true)]
async fn a_question_in_the_thread_answers_it_and_asks_everyone_it_mentions() {
    let bot = Bot::start(at("2026-11-23 10:00", BERLIN), "").await;
    let ask = bot
        .post(
            CHANNEL,
            "UALICE",
            "<@UBOB> <@UCAROL> can you review the rollout plan?",
        )
        .await;
    bot.run_for(hours(1)).await;
    bot.reply(
        CHANNEL,
        "UBOB",
        &ask,
        "<@UALICE> <@UDAN> do you mean v2 or v3?",
    )
    .await;
    assert_eq!(
        open_pairs(&bot),
        vec![
            pair("UALICE", "UCAROL"),
            pair("UBOB", "UALICE"),
            pair("UBOB", "UDAN")
        ]
    );
    let ended = states(&bot, &ask);
    assert_eq!(ended[0].0, "UBOB");
    assert_eq!(answered_how(&ended[0].1), Some(&Answer::ThreadReply));
    // A statement in the thread answers as before and asks the asker nothing back.
    bot.reply(CHANNEL, "UCAROL", &ask, "<@UALICE> looks good to me.")
        .await;
    assert_eq!(
        open_pairs(&bot),
        vec![pair("UBOB", "UALICE"), pair("UBOB", "UDAN")]
    );
}
