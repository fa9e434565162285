//! `/rfc` on the real norms: a 48-business-hour comment window in the driver's zone, a reminder
//! a day before the close, then the approver's ladder on their clock.

use asyncbot::slack::memory::SentKind;

use crate::inproc::*;

const ARCH: &str = "CARCH";
const BERLIN: &str = "Europe/Berlin";
const NY: &str = "America/New_York";

const OPEN: &str = "Adopt Rust for the billing service approver:<@UBOB|bob> contributors:<@UCAROL|carol> <@UDAVE|dave> informed:<#CANN|announce>";

async fn rfc_bot() -> Bot {
    Bot::start_with(at("2026-11-23 10:00", BERLIN), "", |slack| {
        team(slack);
        slack.add_person("UDAVE", "dave", "America/Los_Angeles");
    })
    .await
}

/// Alice (Berlin) opens an RFC on Monday 10:00. Carol comments; Dave (Los Angeles) is reminded
/// at the start of his Tuesday, his first working time after the reminder falls due a day before
/// the close; the window closes Wednesday 10:00 (48 of Alice's business hours) with a summary
/// that names the contributors without pinging them and asks Bob to decide by the start of his
/// Thursday, sent in his working time. Only Bob decides;
/// the decision edits the RFC, tells the Informed, stops the ladder and lands in the decision
/// log, which the offline export reads once the bot is stopped.
#[tokio::test(start_paused = true)]
async fn an_rfc_runs_from_comments_to_an_accepted_decision() {
    let bot = rfc_bot().await;
    let reply = bot.command("/rfc", OPEN, "UALICE", ARCH).await;
    assert!(reply.contains("RFC-1"), "{reply}");
    bot.run_for(minutes(1)).await;
    let posts = bot.posts_to(ARCH);
    assert_eq!(posts.len(), 1, "{}", bot.transcript(BERLIN));
    let post = &posts[0];
    assert!(post.thread_ts.is_none());
    let text = shown(post);
    for expected in [
        "RFC-1: Adopt Rust for the billing service",
        "*Driver*\n<@UALICE>",
        "*Approver*\n<@UBOB>",
        "<@UCAROL> <@UDAVE>",
        "<#CANN>",
        "<!date^",
        "*Context*",
        "*Options considered*",
        "*Decision*",
        "*Consequences*",
        "Comment in this thread",
    ] {
        assert!(
            text.contains(expected),
            "the RFC shows {expected:?}: {text}"
        );
    }
    for button in ["No comments from me", "Accept", "Reject"] {
        assert!(text.contains(button), "{button}: {text}");
    }
    let root = post.ts.clone();

    bot.run_for(hours(1)).await;
    bot.reply(
        ARCH,
        "UCAROL",
        &root,
        "Looks good, one concern about hiring.",
    )
    .await;

    bot.run_until(at("2026-11-25 15:01", BERLIN)).await;
    let thread = bot.posts_in_thread(&root);
    assert_eq!(thread.len(), 2, "{}", bot.transcript(BERLIN));
    let reminder = &thread[0];
    assert_eq!(
        local(reminder.at, "America/Los_Angeles"),
        "Tue 2026-11-24 09:00",
        "due a day before the close (01:00 for Dave), sent at the start of his working day"
    );
    assert!(
        reminder.text.contains("We have not heard from you"),
        "{}",
        reminder.text
    );
    assert!(reminder.text.contains("<@UDAVE>"), "{}", reminder.text);
    assert!(
        !reminder.text.contains("UCAROL"),
        "Carol responded: {}",
        reminder.text
    );
    let close = &thread[1];
    assert_eq!(
        local(close.at, NY),
        "Wed 2026-11-25 09:00",
        "the window closed after 48 business hours (Wed 10:00 in Berlin); the summary asks Bob \
         to decide, so it waits for his working time"
    );
    assert!(close.text.contains("has closed"), "{}", close.text);
    assert!(
        close.text.contains("Responded: carol (commented)"),
        "{}",
        close.text
    );
    assert!(
        close
            .text
            .contains("No response: dave (silence does not block)"),
        "{}",
        close.text
    );
    assert!(
        close.text.contains("<@UBOB>, please decide by <!date^"),
        "{}",
        close.text
    );
    assert!(
        close.text.contains("|2026-11-26 14:00 UTC>"),
        "by the start of Bob's Thursday (09:00 in New York): {}",
        close.text
    );

    let refused = bot
        .command("/rfc", "decide RFC-1 accept I like it", "UCAROL", ARCH)
        .await;
    assert!(refused.contains("Only the approver of RFC-1"), "{refused}");
    assert!(refused.contains("Nothing was changed"), "{refused}");

    bot.run_until(at("2026-11-25 10:00", NY)).await;
    let decided = bot
        .command(
            "/rfc",
            "decide RFC-1 accept Safer and faster, and the team is ready.",
            "UBOB",
            ARCH,
        )
        .await;
    assert!(decided.contains("RFC-1 is now *Accepted*"), "{decided}");
    bot.run_for(minutes(1)).await;
    let update = bot
        .sent()
        .into_iter()
        .rfind(|s| s.kind == SentKind::Edit && s.ts == root)
        .expect("the RFC message is edited");
    let updated = shown(&update);
    assert!(updated.contains("*Accepted* by <@UBOB>"), "{updated}");
    assert!(updated.contains("Safer and faster"), "{updated}");
    assert!(
        !update
            .blocks
            .as_ref()
            .unwrap()
            .to_string()
            .contains("rfc_accept"),
        "no buttons once decided"
    );
    let announce = bot.posts_to("CANN");
    assert_eq!(announce.len(), 1, "{}", bot.transcript(BERLIN));
    assert!(
        announce[0].text.contains("was *accepted* by <@UBOB>"),
        "{}",
        announce[0].text
    );
    assert!(announce[0].text.contains("Safer and faster"));

    let twice = bot
        .command("/rfc", "decide RFC-1 reject changed my mind", "UBOB", ARCH)
        .await;
    assert!(twice.contains("already accepted"), "{twice}");

    // The ladder stopped: no DM to Bob (due Thursday 09:00), so no call either.
    bot.run_until(at("2026-11-26 09:05", NY)).await;
    let private: Vec<_> = bot
        .posts()
        .into_iter()
        .filter(|p| p.channel.starts_with('D') || p.channel.starts_with('G'))
        .collect();
    assert!(
        private.is_empty(),
        "no DM or call after the decision: {private:?}"
    );

    let found = bot
        .command("/decisions", "billing", "UDAVE", "CRANDOM")
        .await;
    assert!(
        found.contains("RFC-1") && found.contains("Accepted"),
        "{found}"
    );
    let nothing = bot
        .command("/decisions", "kubernetes", "UDAVE", "CRANDOM")
        .await;
    assert!(
        nothing.contains("Nothing in the decision log matches"),
        "{nothing}"
    );

    // The offline tools read the same store once the bot is stopped.
    let (_dir, config) = bot.stop().await;
    let out = tempfile::tempdir().unwrap();
    let export = std::process::Command::new(env!("CARGO_BIN_EXE_asyncbot"))
        .args(["decisions", "export", "--format", "markdown", "--out"])
        .arg(out.path())
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let files: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let md = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        md.starts_with("# RFC-1: Adopt Rust for the billing service"),
        "{md}"
    );
    assert!(
        md.contains("Safer and faster, and the team is ready."),
        "{md}"
    );
    assert!(
        md.contains("## Decision") && md.contains("## Context") && md.contains("## Consequences"),
        "{md}"
    );
    let list = std::process::Command::new(env!("CARGO_BIN_EXE_asyncbot"))
        .args(["decisions", "list", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("RFC-1") && listed.contains("Accepted"),
        "{listed}"
    );
}

/// Nobody decides: the close summary is the approver's thread mention; the DM comes a business
/// day of Bob's later (his Thursday 09:00), the call suggestion 12 h after that, in his Friday
/// morning; `/rfc list` shows what it waits on.
#[tokio::test(start_paused = true)]
async fn an_undecided_rfc_reaches_the_dm_and_the_call() {
    let bot = rfc_bot().await;
    let reply = bot
        .command(
            "/rfc",
            "Pick a logging vendor approver:<@UBOB>",
            "UALICE",
            ARCH,
        )
        .await;
    assert!(reply.contains("RFC-1"), "{reply}");
    bot.run_until(at("2026-11-27 12:00", NY)).await;
    let close = bot
        .posts()
        .into_iter()
        .find(|p| p.text.contains("has closed"))
        .unwrap_or_else(|| panic!("{}", bot.transcript(NY)));
    assert_eq!(
        local(close.at, NY),
        "Wed 2026-11-25 09:00",
        "Bob's working time"
    );
    assert!(
        close.text.contains("<@UBOB>, please decide by"),
        "{}",
        close.text
    );
    let dm = bot.posts_to("DUBOB");
    assert_eq!(dm.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(dm[0].at, NY), "Thu 2026-11-26 09:00");
    assert!(
        dm[0].text.contains("RFC-1 is waiting for your decision"),
        "{}",
        dm[0].text
    );
    let call = bot.posts_to("GUALICEUBOB");
    assert_eq!(call.len(), 1, "{}", bot.transcript(NY));
    assert_eq!(local(call[0].at, NY), "Fri 2026-11-27 09:00");
    assert!(call[0].text.contains("15-minute call"), "{}", call[0].text);
    assert!(
        call[0].text.contains("/rfc decide RFC-1 accept|reject"),
        "{}",
        call[0].text
    );
    let list = bot.command("/rfc", "list", "UALICE", ARCH).await;
    assert!(
        list.contains("RFC-1") && list.contains("awaiting <@UBOB>"),
        "{list}"
    );
}
